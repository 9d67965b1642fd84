# border_router(net, pref) / border_router() / border_router_del(net) on a lone leader: the
# prefix lands in the network data, this node forms a SLAAC address in it (listed first, as in
# Pycom's documentation), and withdrawing it removes both. Bad input raises.
import time
from network import LoRa

lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=869525000, bandwidth=LoRa.BW_500KHZ, sf=7)
m = lora.Mesh()
t0 = time.ticks_ms()
while m.state() != 4 and time.ticks_diff(time.ticks_ms(), t0) < 60000:
    time.sleep_ms(50)
print("border routers at first:", m.border_router())
before = m.ipaddr()
print(m.border_router("2001:cafe:cafe:cafe::/64", 0))
print(m.border_router())
after = m.ipaddr()
print(len(after) == len(before) + 1, after[0].startswith("2001:cafe:cafe:cafe:"), after[1:] == before)
print("netdata version moved:", m.cli("leaderdata") != "")
print(m.border_router("2001:dead:beef:caff::/64", 1))
print(sorted(m.border_router()))
print(m.border_router_del("2001:cafe:cafe:cafe::/64"))
print(m.border_router())
print([a for a in m.ipaddr() if a.startswith("2001:")][0].startswith("2001:dead:beef:caff:"))
print(m.border_router_del("2001:dead:beef:caff::/64"), m.border_router(), m.ipaddr() == before)
for bad in [("2001:cafe::", 0), ("2001:cafe::/64", 2), ("nonsense/64", 0), ("2001:cafe::/129", 0)]:
    try:
        m.border_router(*bad)
    except ValueError:
        print("ValueError", bad)
try:
    m.border_router_del("2001:1::/64")
except OSError as e:
    print("OSError", e.errno)
m.deinit()
try:
    m.border_router("2001:cafe:cafe:cafe::/64", 0)
except OSError as e:
    print("after deinit: OSError", e.errno)
print(m.border_router())
