#!/usr/bin/env bash
# Builds OpenThread's simulated Thread 1.1 CLI node, build/ot/ot-cli-ftd, for the interop tests.
#
#   bash tools/build-ot.sh                  real time: build/ot/ot-cli-ftd (tools/test-interop.py)
#   bash tools/build-ot.sh --virtual-time   virtual time: build/ot-vt/ot-cli-ftd, the node the
#                                           co-simulator (sim/src/ot_virtual.rs) dispatches
#
# The virtual-time node reads no clock and no stdin: it exchanges events (alarms, radio frames,
# UART bytes) with a dispatcher over a socket, UDP on loopback or (OT_VT_USE_UNIX_SOCKET=1, as
# the co-simulator runs it) a Unix socket in its working directory (OpenThread's
# OT_SIMULATION_VIRTUAL_TIME and OT_SIMULATION_VIRTUAL_TIME_UART). It is built from the same source in its own cmake
# directory, with one addition: tools/ot-vt-entropy.c wraps otPlatEntropyGet (the platform
# reads /dev/urandom) so that OT_VT_SEED makes a node's randomness, and so the co-simulation,
# repeatable. The real-time build is not affected.
#
# OpenThread's source comes from the crates.io crate openthread-sys 0.4.0, which vendors the whole
# tree (examples/platforms/simulation and the CLI app included); only crates.io, PyPI and Debian
# downloads are allowed on CI machines, and this is one of them. The .crate is checked against
# tools/openthread-sys.sha256. cmake and ninja come from Debian.
#
# Idempotent: download, unpack, configure and build are each skipped when their result is there.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

OT_CRATE_VERSION=0.4.0
CRATE=openthread-sys-$OT_CRATE_VERSION.crate
BUILD=${BUILD:-build}
JOBS=${JOBS:-1}
VIRTUAL_TIME=0
case "${1:-}" in
  "") ;;
  --virtual-time) VIRTUAL_TIME=1 ;;
  *) echo "usage: $0 [--virtual-time]" >&2; exit 2 ;;
esac
# The download and the unpacked source are shared; each build has its own directory.
DL=$BUILD/ot/src-dl
if [ "$VIRTUAL_TIME" = 1 ]; then OT_BUILD=$BUILD/ot-vt; else OT_BUILD=$BUILD/ot; fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

missing=""
for p in cmake ninja-build; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "build-ot: installing$missing"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

mkdir -p "$DL" "$OT_BUILD"
# Both builds share the download: one script at a time fetches and unpacks it.
exec 9>"$DL/.lock"
flock 9
if [ ! -f "$DL/$CRATE" ]; then
  curl -sSfL -o "$DL/$CRATE.tmp" "https://static.crates.io/crates/openthread-sys/$CRATE"
  mv "$DL/$CRATE.tmp" "$DL/$CRATE"
fi
( cd "$DL" && sha256sum -c "$repo/tools/openthread-sys.sha256" >/dev/null )

src=$DL/openthread-sys-$OT_CRATE_VERSION/openthread
if [ ! -f "$src/CMakeLists.txt" ]; then
  tar -xzf "$DL/$CRATE" -C "$DL"
fi
flock -u 9

# OT_THREAD_VERSION=1.1: the version this project implements. OT_MAC_FILTER: the allowlists
# the multi-hop interop tests build their lines with. OT_BORDER_ROUTER: `prefix add` and
# `netdata register`, for the border-router prefix tests. The simulation platform's radio is UDP
# multicast on loopback (see sim/src/ot_medium.rs for the frame format).
cmake_dir=$OT_BUILD/cmake
cmake_args=(
  -G Ninja
  -DCMAKE_BUILD_TYPE=Release
  -DOT_PACKAGE_VERSION=openthread-sys-$OT_CRATE_VERSION
  -DOT_PLATFORM=simulation
  -DOT_FTD=ON -DOT_MTD=OFF -DOT_RCP=OFF
  -DOT_APP_NCP=OFF -DOT_APP_RCP=OFF
  -DOT_THREAD_VERSION=1.1
  -DOT_MAC_FILTER=ON
  -DOT_BORDER_ROUTER=ON
  -DBUILD_TESTING=OFF
)
if [ "$VIRTUAL_TIME" = 1 ]; then
  # The entropy wrapper (see the top): compiled here, linked into every executable of this
  # build. It references nothing of OpenThread's, so cmake's own test links succeed with it.
  entropy_obj=$(cd "$OT_BUILD" && pwd)/ot-vt-entropy.o
  cc -O2 -Wall -Werror -I"$src/include" -c "$repo/tools/ot-vt-entropy.c" -o "$entropy_obj.tmp"
  if ! cmp -s "$entropy_obj.tmp" "$entropy_obj"; then mv "$entropy_obj.tmp" "$entropy_obj"; else rm "$entropy_obj.tmp"; fi
  cmake_args+=(
    -DOT_SIMULATION_VIRTUAL_TIME=ON
    -DOT_SIMULATION_VIRTUAL_TIME_UART=ON
    "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--wrap=otPlatEntropyGet $entropy_obj"
  )
fi
# Reconfigure from scratch when the arguments change (they are recorded beside the build).
if [ ! -f "$cmake_dir/build.ninja" ] || [ "$(cat "$cmake_dir/.args" 2>/dev/null)" != "${cmake_args[*]}" ]; then
  rm -rf "$cmake_dir"
  cmake -S "$src" -B "$cmake_dir" "${cmake_args[@]}" >"$OT_BUILD/cmake.log" 2>&1 || { tail -40 "$OT_BUILD/cmake.log"; exit 1; }
  echo "${cmake_args[*]}" >"$cmake_dir/.args"
fi
# The wrapper object is a link input cmake does not know of: relink when it changed.
if [ "$VIRTUAL_TIME" = 1 ] && [ "$entropy_obj" -nt "$cmake_dir/examples/apps/cli/ot-cli-ftd" ]; then
  rm -f "$cmake_dir/examples/apps/cli/ot-cli-ftd"
fi
ninja -C "$cmake_dir" -j"$JOBS" ot-cli-ftd >"$OT_BUILD/ninja.log" 2>&1 || { tail -40 "$OT_BUILD/ninja.log"; exit 1; }
if [ "$VIRTUAL_TIME" = 1 ]; then
  # The wrapper must be in (sim/tests/ot_virtual.rs checks that two runs are identical).
  symbols=$(nm "$cmake_dir/examples/apps/cli/ot-cli-ftd")
  grep -q ' T __wrap_otPlatEntropyGet$' <<<"$symbols" || { echo "build-ot: entropy wrapper missing"; exit 1; }
fi
cp "$cmake_dir/examples/apps/cli/ot-cli-ftd" "$OT_BUILD/ot-cli-ftd.tmp"
mv "$OT_BUILD/ot-cli-ftd.tmp" "$OT_BUILD/ot-cli-ftd"
echo "build-ot: ok ($OT_BUILD/ot-cli-ftd, OpenThread from openthread-sys $OT_CRATE_VERSION$([ "$VIRTUAL_TIME" = 1 ] && echo ', virtual time'))"
