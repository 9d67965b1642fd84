#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian machine:
# Debian packages, rustup targets, and MicroPython's pinned source (Debian source package).
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

MPY_VERSION=1.26.1
MPY_DEB_VERSION=1.26.1+ds-1
MPY_ORIG=micropython_${MPY_VERSION}+ds.orig.tar.xz
MPY_ORIG_SHA256_FILE=tools/micropython.sha256
BUILD=${BUILD:-build}

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

apt_pkgs="build-essential pkg-config python3 dpkg-dev xz-utils gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm tshark"
missing=""
for p in $apt_pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

# MicroPython 1.26.1 is in trixie; bookworm's apt needs a deb-src entry for it (source only, no binaries).
src_list=/etc/apt/sources.list.d/pymesh-micropython-src.sources
need_update=""
if [ ! -f "$src_list" ]; then
  $SUDO tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi
if [ -n "$missing" ] || [ -n "$need_update" ]; then
  $SUDO apt-get update -qq
fi
if [ -n "$missing" ]; then
  echo "deps: installing$missing"
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# MicroPython's run-tests.py drives the qemu firmware through a pty with pyserial.
python3 -c 'import serial' 2>/dev/null || python3 -m pip install -q pyserial

# Rust targets for the bare-metal builds of the core.
for t in thumbv7m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf; do
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done

# MicroPython source, pinned and verified.
mpy_dir=$BUILD/micropython-$MPY_VERSION
if [ ! -f "$mpy_dir/py/mpconfig.h" ]; then
  mkdir -p "$BUILD/src-dl"
  ( cd "$BUILD/src-dl" && [ -f "$MPY_ORIG" ] || apt-get source --download-only "micropython=$MPY_DEB_VERSION" )
  ( cd "$BUILD/src-dl" && sha256sum -c "../../$MPY_ORIG_SHA256_FILE" )
  rm -rf "$mpy_dir.tmp" && mkdir -p "$mpy_dir.tmp"
  tar -xf "$BUILD/src-dl/$MPY_ORIG" -C "$mpy_dir.tmp" --strip-components=1
  mv "$mpy_dir.tmp" "$mpy_dir"
fi
echo "deps: ok (MicroPython $MPY_VERSION in $mpy_dir)"
