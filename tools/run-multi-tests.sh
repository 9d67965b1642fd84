#!/usr/bin/env bash
# Multi-node MicroPython tests (py_tests/multi) with MicroPython's run-multitests.py: one unix
# firmware process per node on a medium of this run, node i at (1500 * i, 0) metres.
# LoRa is slow: an instance may stay silent for longer than run-multitests.py's 10 s read
# timeout while the mesh forms, so the runner is loaded with a 60 s timeout instead.
set -euo pipefail
fw=$(realpath "$1")
mpy=$(realpath "$2")
root=$(realpath "$(dirname "$0")/..")
# Further arguments: the tests to run (default: every py_tests/multi/*.py).
tests=()
for t in "${@:3}"; do tests+=("$(realpath "$t")"); done
[ ${#tests[@]} -gt 0 ] || tests=("$root"/py_tests/multi/*.py)
air="multi-$$"
cd "$mpy/tests"
results="$root/build/multi-results"
mkdir -p "$results"
args=(--result-dir "$results")
# MULTI_TRACE=1 prints every instance's output as it comes, with times.
[ "${MULTI_TRACE:-0}" = 1 ] && args+=(--trace-output)
# Each node writes what it hears to build/multi-results/node<i>.pcap (tools/tshark-thread.sh).
for i in 0 1 2; do
  # MICROPYPATH: the frozen modules (socket) and the tests' shared helpers (meshtest).
  args+=(-i "micropython,PYMESH_AIR=$air,PYMESH_POS=$((1500 * i)):0,PYMESH_PCAP=$results/node$i.pcap,PYMESH_EXAMPLES=$root/examples,MICROPYPATH=.frozen:$root/py_tests/multi/lib")
done
MICROPY_MICROPYTHON="$fw" python3 - "${args[@]}" "${tests[@]}" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("run_multitests", "run-multitests.py")
m = importlib.util.module_from_spec(spec)
sys.argv = ["run-multitests.py"] + sys.argv[1:]
spec.loader.exec_module(m)
m.INSTANCE_READ_TIMEOUT_S = 60
# A test with fewer instances than given (-i) leaves the others unstarted (or holding the
# previous test's finished process): its broadcasts go to the running ones only.
_write = m.PyInstanceSubProcess.write
def _write_if_running(self, data):
    if self.popen is not None and self.popen.poll() is None:
        _write(self, data)
m.PyInstanceSubProcess.write = _write_if_running
m.main()
PY
