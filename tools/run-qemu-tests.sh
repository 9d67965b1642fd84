#!/usr/bin/env bash
# Smoke tests of the qemu firmware (mps2-an385, Cortex-M3) through MicroPython's run-tests.py.
set -euo pipefail
fw=$(realpath "$1")
mpy=$(realpath "$2")
root=$(realpath "$(dirname "$0")/..")
cd "$mpy/tests"
python3 ./run-tests.py --result-dir "$root/build/qemu-results" \
  -t execpty:"qemu-system-arm -machine mps2-an385 -nographic -monitor null -semihosting -serial pty -kernel $fw" \
  -d "$root/py_tests/qemu"
