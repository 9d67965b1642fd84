#!/usr/bin/env bash
# `make run`: a pymesh node's REPL on the simulated LoRa medium.
set -euo pipefail
fw=$1
cat <<'HINT'
pymesh node on the simulated LoRa medium (MicroPython unix port). Try:

    from network import LoRa
    lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=863000000, bandwidth=LoRa.BW_125KHZ, sf=7)
    pymesh = lora.Mesh()
    pymesh.state()        # 1 detached, then 4 (leader) within half a minute when alone
    pymesh.cli("leaderdata"); pymesh.border_router("2001:db8:1::/64", 0)
    pymesh.ipaddr(); pymesh.leader(); pymesh.routers()

Run `make run` in another terminal for a second node on the same air (PYMESH_AIR names the
medium, PYMESH_MAC=<16 hex digits> sets a node's MAC). Ctrl-D leaves.
HINT
exec "$fw"
