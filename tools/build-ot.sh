#!/usr/bin/env bash
# Builds OpenThread's simulated Thread 1.1 CLI node, build/ot/ot-cli-ftd, for the interop tests.
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
OT_BUILD=$BUILD/ot
JOBS=${JOBS:-1}

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

mkdir -p "$OT_BUILD/src-dl"
if [ ! -f "$OT_BUILD/src-dl/$CRATE" ]; then
  curl -sSfL -o "$OT_BUILD/src-dl/$CRATE.tmp" "https://static.crates.io/crates/openthread-sys/$CRATE"
  mv "$OT_BUILD/src-dl/$CRATE.tmp" "$OT_BUILD/src-dl/$CRATE"
fi
( cd "$OT_BUILD/src-dl" && sha256sum -c "$repo/tools/openthread-sys.sha256" >/dev/null )

src=$OT_BUILD/src-dl/openthread-sys-$OT_CRATE_VERSION/openthread
if [ ! -f "$src/CMakeLists.txt" ]; then
  tar -xzf "$OT_BUILD/src-dl/$CRATE" -C "$OT_BUILD/src-dl"
fi

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
# Reconfigure from scratch when the arguments change (they are recorded beside the build).
if [ ! -f "$cmake_dir/build.ninja" ] || [ "$(cat "$cmake_dir/.args" 2>/dev/null)" != "${cmake_args[*]}" ]; then
  rm -rf "$cmake_dir"
  cmake -S "$src" -B "$cmake_dir" "${cmake_args[@]}" >"$OT_BUILD/cmake.log" 2>&1 || { tail -40 "$OT_BUILD/cmake.log"; exit 1; }
  echo "${cmake_args[*]}" >"$cmake_dir/.args"
fi
ninja -C "$cmake_dir" -j"$JOBS" ot-cli-ftd >"$OT_BUILD/ninja.log" 2>&1 || { tail -40 "$OT_BUILD/ninja.log"; exit 1; }
cp "$cmake_dir/examples/apps/cli/ot-cli-ftd" "$OT_BUILD/ot-cli-ftd.tmp"
mv "$OT_BUILD/ot-cli-ftd.tmp" "$OT_BUILD/ot-cli-ftd"
echo "build-ot: ok ($OT_BUILD/ot-cli-ftd, OpenThread from openthread-sys $OT_CRATE_VERSION)"
