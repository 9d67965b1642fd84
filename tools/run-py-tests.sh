#!/usr/bin/env bash
# MicroPython tests of the unix firmware, in MicroPython's own format (.py + .exp), run by its
# tests/run-tests.py. Tests run one at a time on a medium of their own, so nodes of one test
# never hear another's.
set -euo pipefail
fw=$(realpath "$1")
mpy=$(realpath "$2")
root=$(realpath "$(dirname "$0")/..")
export PYMESH_AIR="pytest-$$"
cd "$mpy/tests"
MICROPY_MICROPYTHON="$fw" python3 ./run-tests.py -j 1 --result-dir "$root/build/py-results" -d "$root/py_tests/unix"
bash "$root/tools/test-medium.sh" "$fw"
bash "$root/tools/test-udp.sh" "$fw"
