#!/usr/bin/env bash
# Two unix firmware processes on one simulated medium: node B captures what it receives
# (PYMESH_PCAP) while node A attaches; tshark must find A's MLE Parent Request in B's capture,
# decrypted and with its MIC verified, and nothing malformed.
set -euo pipefail
fw=$(realpath "$1")
root=$(realpath "$(dirname "$0")/..")
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
export PYMESH_AIR="medium-test-$$"
node='
import time
from network import LoRa
lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=863000000, bandwidth=LoRa.BW_500KHZ, sf=7)
mesh = lora.Mesh()
time.sleep(SECONDS)
mesh.deinit()
'
PYMESH_MAC=00000000000000b0 PYMESH_PCAP="$tmp/b.pcap" "$fw" -c "${node/SECONDS/5}" &
b=$!
sleep 0.5
PYMESH_MAC=00000000000000a0 "$fw" -c "${node/SECONDS/3}"
wait $b

fields=$(HOME="$tmp" "$root/tools/tshark-thread.sh" -r "$tmp/b.pcap" -T fields -e wpan.src64 -e mle.cmd)
bad=$(HOME="$tmp" "$root/tools/tshark-thread.sh" -r "$tmp/b.pcap" -Y "_ws.malformed || _ws.expert.severity == error")
echo "frames node B received:"
echo "$fields" | sed 's/^/    /'
if ! echo "$fields" | grep -qE '^00:00:00:00:00:00:00:a0[[:space:]]+9\b'; then
  echo "FAIL: node B did not receive node A's MLE Parent Request"
  exit 1
fi
if [ -n "$bad" ]; then
  echo "FAIL: tshark reports malformed frames or errors:"; echo "$bad"
  exit 1
fi
echo "medium: 1 passed, 0 failed"
