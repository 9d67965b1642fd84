# pymesh: Thread 1.1 mesh over LoRa for MicroPython (a Pymesh replacement).
#
#   make deps     install what the build needs (Debian packages, rustup targets, MicroPython source)
#   make          build the unix firmware: build/unix/micropython (simulated LoRa medium)
#   make run      start a node's REPL on the simulated mesh
#   make test     run every test (Rust, simulator, MicroPython unix, qemu smoke test, fuzz smoke, OpenThread interop)
#   make qemu     build the qemu firmware: build/qemu/firmware.elf (Cortex-M3, mps2-an385)
#   make size     size report of the Rust library (thumbv7em) and of the module in the qemu image
#   make bench    convergence time and control airtime vs node count, in the simulator (build/bench.txt)
#   make bench-seeds  how many of seeds 1-32 (BENCH_SEEDS) converge to one partition (grid 36, random 36 and 50)
#   make check-targets  build the core for every bare-metal target (no std, no alloc)
#   make ot       build OpenThread's simulated node: build/ot/ot-cli-ftd (source from the openthread-sys crate)
#   make ot-vt    the same node built with virtual time: build/ot-vt/ot-cli-ftd (for the co-simulator)
#   make test-interop  OpenThread simulation nodes and ours: in virtual time in our simulator
#                 (sim/tests/ot_virtual.rs), then in real time on OpenThread's medium
#                 (pymesh-ot-node and the unix firmware; docs/interop.md)

MPY_VERSION := 1.26.1
BUILD := $(CURDIR)/build
MPY_DIR := $(BUILD)/micropython-$(MPY_VERSION)
export CARGO_TARGET_DIR := $(BUILD)/cargo
INCLUDE_DIR := $(BUILD)/include
FFI_HEADER := $(INCLUDE_DIR)/pymesh_ffi.h
JOBS ?= $(shell nproc)

RUST_SOURCES := $(shell find src emu/src sim/src boards/unix/src boards/qemu/src ffi -type f) Cargo.toml build.rs emu/Cargo.toml sim/Cargo.toml boards/unix/Cargo.toml boards/qemu/Cargo.toml
SHIM_SOURCES := $(wildcard mpy_module/*.c mpy_module/*.h mpy_module/*.mk mpy_module/frozen/*.py)

UNIX_RUST_LIB := $(CARGO_TARGET_DIR)/release/libpymesh_unix.a
QEMU_TARGET := thumbv7m-none-eabi
QEMU_CARGO_LIB := $(CARGO_TARGET_DIR)/$(QEMU_TARGET)/release/libpymesh_qemu.a
QEMU_RUST_LIB := $(BUILD)/qemu-rust/libpymesh_qemu.a
UNIX_FW := $(BUILD)/unix/micropython
QEMU_FW := $(BUILD)/qemu/firmware.elf
MPY_CROSS := $(MPY_DIR)/mpy-cross/build/mpy-cross

# The +ds source tarball has no lib/ submodules: leave out what needs them.
UNIX_MAKE_ARGS := MICROPY_PY_BTREE=0 MICROPY_SSL_AXTLS=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 \
	MPY_LIB_DIR=$(CURDIR)/mpy_module MICROPY_MANIFEST_PYMESH_DIR=$(CURDIR)
QEMU_CC_FLAGS := -mthumb -mcpu=cortex-m3 -mfloat-abi=soft
LIBGCC_ARM = $(shell arm-none-eabi-gcc $(QEMU_CC_FLAGS) -print-libgcc-file-name)

.PHONY: all deps run test test-rust test-py test-multi test-qemu test-fuzz test-interop ot ot-vt qemu size bench bench-seeds check-targets clean fmt

all: $(UNIX_FW)

# The firmware by its path from the project root (the rules' targets are absolute paths): without
# this, `make build/unix/micropython` found the file and rebuilt nothing, however stale.
build/unix/micropython: $(UNIX_FW)

deps: $(MPY_DIR)/.ready

$(MPY_DIR)/.ready: tools/deps.sh tools/micropython.sha256
	BUILD=$(BUILD) bash tools/deps.sh
	touch $@

$(MPY_CROSS): $(MPY_DIR)/.ready
	$(MAKE) -C $(MPY_DIR)/mpy-cross -j$(JOBS)

$(UNIX_RUST_LIB) $(FFI_HEADER): $(RUST_SOURCES) $(MPY_DIR)/.ready
	PYMESH_FFI_HEADER=$(FFI_HEADER) cargo build --release -p pymesh-unix
	touch $(FFI_HEADER)

$(UNIX_FW): $(UNIX_RUST_LIB) $(FFI_HEADER) $(SHIM_SOURCES) boards/unix/manifest.py $(MPY_CROSS)
	$(MAKE) -C $(MPY_DIR)/ports/unix -j$(JOBS) $(UNIX_MAKE_ARGS) \
		BUILD=$(BUILD)/unix PROG=micropython \
		USER_C_MODULES=$(CURDIR) PYMESH_INCLUDE=$(INCLUDE_DIR) \
		PYMESH_LDLIBS="$(UNIX_RUST_LIB) -lpthread -ldl -lm" \
		FROZEN_MANIFEST=$(CURDIR)/boards/unix/manifest.py
	@test -x $@

# MicroPython's linker script has no .ARM.exidx output section; with panic = "abort" nothing
# unwinds, so the Rust library's unwind index sections are removed rather than placed.
$(QEMU_RUST_LIB): $(RUST_SOURCES) $(MPY_DIR)/.ready
	PYMESH_FFI_HEADER=$(FFI_HEADER) cargo build --release -p pymesh-qemu --target $(QEMU_TARGET)
	mkdir -p $(dir $@)
	arm-none-eabi-objcopy --remove-section='.ARM.exidx*' --remove-section='.rel.ARM.exidx*' $(QEMU_CARGO_LIB) $@

qemu: $(QEMU_FW)

# The port's makefile relinks only when its own objects change, not when the Rust library
# (in LIBS) does: remove the image so a new library is linked in.
$(QEMU_FW): $(QEMU_RUST_LIB) $(SHIM_SOURCES) boards/qemu/manifest.py boards/qemu/hooks.h boards/qemu/mps2.ld $(MPY_CROSS)
	rm -f $@
	$(MAKE) -C $(MPY_DIR)/ports/qemu -j$(JOBS) BOARD=MPS2_AN385 \
		BUILD=$(BUILD)/qemu MPY_LIB_DIR=$(CURDIR)/mpy_module MICROPY_MANIFEST_PYMESH_DIR=$(CURDIR) \
		USER_C_MODULES=$(CURDIR) PYMESH_INCLUDE=$(INCLUDE_DIR) \
		CFLAGS_EXTRA="-include $(CURDIR)/boards/qemu/hooks.h" \
		LIBS="$(QEMU_RUST_LIB) $(LIBGCC_ARM)" \
		LDSCRIPT=$(CURDIR)/boards/qemu/mps2.ld \
		FROZEN_MANIFEST=$(CURDIR)/boards/qemu/manifest.py
	@test -f $@

run: $(UNIX_FW)
	@bash tools/run-node.sh $(UNIX_FW)

test: test-rust test-py test-multi test-qemu test-fuzz test-interop

test-rust: $(MPY_DIR)/.ready
	cargo test --workspace --exclude pymesh-qemu
	$(MAKE) check-targets

test-py: $(UNIX_FW)
	bash tools/run-py-tests.sh $(UNIX_FW) $(MPY_DIR)

# Several unix firmware processes on one simulated medium (MicroPython's run-multitests.py).
test-multi: $(UNIX_FW)
	bash tools/run-multi-tests.sh $(UNIX_FW) $(MPY_DIR)

test-qemu: $(QEMU_FW)
	bash tools/run-qemu-tests.sh $(QEMU_FW) $(MPY_DIR)

# Every parser's fuzz target for a few seconds (docs/fuzzing.md has the long-run commands).
test-fuzz: $(MPY_DIR)/.ready
	FUZZ_SECONDS=$${FUZZ_SECONDS:-5} bash tools/fuzz-smoke.sh

check-targets: $(MPY_DIR)/.ready
	cargo build --release -p pymesh --lib --target thumbv7m-none-eabi
	cargo build --release -p pymesh --lib --target thumbv7em-none-eabihf
	cargo build --release -p pymesh --lib --target riscv32imc-unknown-none-elf
# LoPy4/FiPy board crates: their ESP32 (Xtensa) toolchain cannot be installed here, so they
# are built for these two bare-metal targets as stand-ins.
	cargo build --release -p pymesh-board-lopy4 -p pymesh-board-fipy --lib --target thumbv7m-none-eabi
	cargo build --release -p pymesh-board-lopy4 -p pymesh-board-fipy --lib --target riscv32imc-unknown-none-elf

size: $(QEMU_FW)
	bash tools/size-report.sh $(MPY_DIR) $(BUILD)

# Convergence and control airtime vs node count, in virtual time (build/bench.txt).
# BENCH_NODES=10,36 for a quick run; the default includes 1000 nodes (about a minute).
# A second table: delivery ratio and latency per hop over lines of 1-8 hops, 0-20 % loss.
bench: $(MPY_DIR)/.ready
	cargo run --release -p pymesh-sim --bin pymesh-bench -- --nodes $${BENCH_NODES:-10,36,50,100,300,1000} --out $(BUILD)/bench.txt

# How many of seeds 1-8 converge (grid 36, random 36 and 50): judge MLE changes on this.
bench-seeds: $(MPY_DIR)/.ready
	cargo run --release -p pymesh-sim --bin pymesh-bench -- --nodes 10 --hops 1 --seeds $${BENCH_SEEDS:-32} --out $(BUILD)/bench-seeds.txt

# OpenThread's simulated Thread 1.1 CLI node, for the interop tests (tools/build-ot.sh).
OT_CLI := $(BUILD)/ot/ot-cli-ftd
OT_NODE := $(CARGO_TARGET_DIR)/release/pymesh-ot-node

ot: $(OT_CLI)

$(OT_CLI): tools/build-ot.sh tools/openthread-sys.sha256
	BUILD=$(BUILD) JOBS=$(JOBS) bash tools/build-ot.sh
	@test -x $@

$(OT_NODE): $(RUST_SOURCES) $(MPY_DIR)/.ready
	cargo build --release -p pymesh-sim --bin pymesh-ot-node

# The same node with OpenThread's virtual time, dispatched by sim/src/ot_virtual.rs; its
# entropy comes from OT_VT_SEED (tools/ot-vt-entropy.c), so co-simulations repeat.
OT_VT_CLI := $(BUILD)/ot-vt/ot-cli-ftd

ot-vt: $(OT_VT_CLI)

$(OT_VT_CLI): tools/build-ot.sh tools/openthread-sys.sha256 tools/ot-vt-entropy.c
	BUILD=$(BUILD) JOBS=$(JOBS) bash tools/build-ot.sh --virtual-time
	@test -x $@

# Virtual time first (seconds), then real time (pymesh-ot-node and the unix firmware).
# PYMESH_REQUIRE_OT_VT: a missing virtual-time node fails the co-simulation tests instead of
# skipping them.
test-interop: $(OT_CLI) $(OT_NODE) $(OT_VT_CLI) $(UNIX_FW)
	PYMESH_REQUIRE_OT_VT=1 PYMESH_OT_VT_CLI=$(OT_VT_CLI) \
		cargo test --release -p pymesh-sim --test ot_virtual -- --nocapture
	python3 tools/test-interop.py $(OT_CLI) $(OT_NODE) --firmware $(UNIX_FW)

fmt:
	cargo fmt --all

clean:
	rm -rf $(BUILD)/unix $(BUILD)/qemu $(BUILD)/cargo $(BUILD)/include
