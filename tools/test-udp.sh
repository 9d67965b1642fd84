#!/usr/bin/env bash
# Two unix firmware processes on one simulated medium exchange UDP over the mesh with Pycom's
# socket API: B leads, A attaches, A sends to the leader ALOC, B answers to the sender's
# address (B receives through rx_cb, whose first call raises: later calls still run); both print
# what they got. SF7/BW500 at 869.525 MHz (10 % duty-cycle sub-band) keeps
# it quick in real time.
set -euo pipefail
fw=$(realpath "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PYMESH_AIR="udp-test-$$"
common='
import time, socket
from network import LoRa
lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=869525000, bandwidth=LoRa.BW_500KHZ, sf=7)
mesh = lora.Mesh()
def wait(cond, s):
    t0 = time.ticks_ms()
    while not cond() and time.ticks_diff(time.ticks_ms(), t0) < s * 1000:
        time.sleep_ms(50)
    return cond()
'
leader="$common"'
print("B leader:", wait(lambda: mesh.state() == 4, 60))
s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
s.bind(1234)
got = []
calls = [0]
def on_rx(sock):
    calls[0] += 1
    data, addr = sock.recvfrom(128)
    got.append((data, addr))
    if calls[0] == 1:
        raise ValueError("handler error")
print("B rx_cb:", mesh.rx_cb(on_rx, s))
print("B border router:", mesh.border_router("2001:cafe:cafe:cafe::/64", 0), mesh.border_router())
wait(lambda: len(got) >= 1, 60)
data, addr = got[0]
print("B received:", data)
print("B neighbors:", [n.mac == 0xa1 and n.role in (2, 3) and n.rssi < 0 for n in mesh.neighbors()])
s.sendto(b"pong " + data, addr)
wait(lambda: len(got) >= 3, 40)
print("B got:", [d for d, a in got][:2], "calls:", calls[0])
import struct
if len(got) >= 3:
    d = got[2][0]
    h = struct.unpack("!BHHHHHHHHH", d[:19])
    print("B border-router datagram:", hex(h[0]), "%x:%x:%x:%x:%x:%x:%x:%x" % h[1:9], h[9], d[19:])
# Up for A'"'"'s pings until A says bye: B used to leave 3 s after "out", and in CI all three
# pings went unanswered once (A'"'"'s frames still queued behind "again" and "out").
wait(lambda: any(d == b"bye" for d, a in got), 60)
mesh.deinit()
'
child="$common"'
print("A attached:", wait(lambda: mesh.state() in (2, 3), 60))
s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
s.bind(4321)
print("A sent:", s.sendto(b"ping", ("fdde:ad00:beef:0:0:ff:fe00:fc00", 1234)))
t0 = time.ticks_ms()
data = b""
while len(data) == 0 and time.ticks_diff(time.ticks_ms(), t0) < 30000:
    data, addr = s.recvfrom(128)
    time.sleep_ms(20)
print("A received:", data, "from port", addr[1] if addr else None)
print("A neighbors:", [(n.mac, n.role, n.rloc16 == mesh.leader().rloc16) for n in mesh.neighbors()])
print("A slaac:", wait(lambda: mesh.ipaddr()[0].startswith("2001:cafe:cafe:cafe:"), 30))
s.sendto(b"again", ("fdde:ad00:beef:0:0:ff:fe00:fc00", 1234))
print("A sent outside:", s.sendto(b"out", ("2001:cafe:cafe:cafe::1", 5555)))
# Up to three pings: one was lost once in CI (1 packets transmitted, 0 received; the cause
# was not found, and 14 local runs passed); the output of the one answered is checked.
for _ in range(3):
    p = mesh.cli("ping fdde:ad00:beef:0:0:ff:fe00:fc00")
    if "1 packets received" in p:
        break
lines = p.split("\r\n")
print("A ping:", len(lines) == 3 and lines[0].startswith("16 bytes from fdde:ad00:beef:0:0:ff:fe00:fc00: icmp_seq=1 hlim=64 time=") and lines[0].endswith("ms") and lines[1].startswith("1 packets transmitted, 1 packets received. Packet loss = 0.0%. Round-trip min/avg/max = ") and lines[2] == "", repr(p))
for _ in range(3):
    s.sendto(b"bye", ("fdde:ad00:beef:0:0:ff:fe00:fc00", 1234))
    time.sleep_ms(300)
time.sleep(5)
mesh.deinit()
'
PYMESH_MAC=00000000000000b1 "$fw" -c "$leader" > "$tmp/b.out" 2>&1 &
b=$!
sleep 12
PYMESH_MAC=00000000000000a1 "$fw" -c "$child" > "$tmp/a.out" 2>&1 || true
wait $b || true
cat "$tmp/b.out" "$tmp/a.out" | sed 's/^/    /'
want_b=("B leader: True" "B rx_cb: 1" "B received: b'ping'" "B neighbors: [True]"
        "B border router: 0 [(net='2001:cafe:cafe:cafe::/64', preference=0)]"
        "rx_cb handler raised an exception:" "ValueError: handler error"
        "B got: [b'ping', b'again'] calls: 3"
        "B border-router datagram: 0xbb 2001:cafe:cafe:cafe:0:0:0:1 5555 b'out'")
want_a=("A attached: True" "A sent: 4" "A received: b'pong ping' from port 1234"
        "A neighbors: [(177, 3, True)]" "A slaac: True" "A sent outside: 3")
want_a_prefix="A ping: True"
ok=1
for line in "${want_b[@]}"; do grep -qxF "$line" "$tmp/b.out" || { echo "missing in B: $line"; ok=0; }; done
for line in "${want_a[@]}"; do grep -qxF "$line" "$tmp/a.out" || { echo "missing in A: $line"; ok=0; }; done
grep -q "^$want_a_prefix " "$tmp/a.out" || { echo "missing in A: $want_a_prefix"; ok=0; }
if [ $ok = 1 ]; then
  echo "udp: 1 passed, 0 failed"
else
  echo "udp: 0 passed, 1 failed"
  exit 1
fi
