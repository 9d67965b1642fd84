#!/usr/bin/env bash
# `make size`: what the mesh costs in flash and RAM.
#  1. The Rust core for thumbv7em-none-eabihf (release, opt-level "s", LTO), linked on its own
#     with --gc-sections from its exported C API: the text/data/bss a firmware pays for it.
#  2. The growth of the qemu firmware (mps2-an385) with the module, against the same port
#     built without it.
# Writes build/size-report.txt and prints it.
set -euo pipefail
mpy=$(realpath "$1")
build=$(realpath "$2")
root=$(realpath "$(dirname "$0")/..")
cd "$root"
target=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="$build/cargo"
cargo build --release -p pymesh --lib --target $target >/dev/null 2>&1
lib="$CARGO_TARGET_DIR/$target/release/libpymesh.a"
work="$build/size"
mkdir -p "$work"
# What the platform supplies: a panic hook and a critical-section implementation (a board's).
cat > "$work/board_stub.c" <<'C'
void pymesh_board_panic(const unsigned char *m, unsigned int n) { (void)m; (void)n; for (;;) {} }
void pymesh_board_init(void) {}
unsigned char _critical_section_1_0_acquire(void) { return 0; }
void _critical_section_1_0_release(unsigned char s) { (void)s; }
C
roots=$(arm-none-eabi-nm -g --defined-only "$lib" 2>/dev/null | awk '$2 == "T" && $3 ~ /^pymesh_/ {print "-Wl,--undefined=" $3}' | sort -u)
cflags="-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Os -Wa,--noexecstack"
arm-none-eabi-gcc $cflags -c "$work/board_stub.c" -o "$work/board_stub.o"
arm-none-eabi-gcc $cflags -nostartfiles -nostdlib -Wl,--gc-sections -Wl,-e,pymesh_poll $roots \
  "$work/board_stub.o" "$lib" -lgcc -o "$work/pymesh-core.elf"
read -r ctext cdata cbss _ < <(arm-none-eabi-size "$work/pymesh-core.elf" | tail -1)

# qemu firmware without the module (same port, same board), built once.
base="$build/qemu-baseline"
if [ ! -f "$base/firmware.elf" ]; then
  echo "# empty" > "$work/empty_manifest.py"
  make -C "$mpy/ports/qemu" -j"$(nproc)" BOARD=MPS2_AN385 BUILD="$base" \
    MPY_LIB_DIR="$root/mpy_module" FROZEN_MANIFEST="$work/empty_manifest.py" >/dev/null
fi
read -r btext bdata bbss _ < <(arm-none-eabi-size "$base/firmware.elf" | tail -1)
read -r qtext qdata qbss _ < <(arm-none-eabi-size "$build/qemu/firmware.elf" | tail -1)

report="$build/size-report.txt"
{
  echo "pymesh size report ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
  echo
  echo "Rust core, $target, release (opt-level s, LTO), linked alone with --gc-sections"
  echo "from its exported C API:"
  printf "  %-28s %8s %8s %8s\n" "" text data bss
  printf "  %-28s %8d %8d %8d\n" "libpymesh (core + crypto)" "$ctext" "$cdata" "$cbss"
  echo
  echo "qemu firmware (MicroPython $(basename "$mpy" | sed 's/micropython-//'), mps2-an385, thumbv7m):"
  printf "  %-28s %8s %8s %8s\n" "" text data bss
  printf "  %-28s %8d %8d %8d\n" "without the module" "$btext" "$bdata" "$bbss"
  printf "  %-28s %8d %8d %8d\n" "with network.LoRa.Mesh" "$qtext" "$qdata" "$qbss"
  printf "  %-28s %+8d %+8d %+8d\n" "growth" $((qtext - btext)) $((qdata - bdata)) $((qbss - bbss))
  echo
  echo "The node's state (tables, queues) is a static in .data/.bss; MicroPython's heap is in .bss."
} | tee "$report"
