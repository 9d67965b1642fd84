# A lone node: detached, Parent Requests unanswered, leader of its own partition within a minute
# at SF7/BW125; every getter in Pycom's format; deinit and a second Mesh() do not crash.
import time
from network import LoRa

lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=863000000, bandwidth=LoRa.BW_125KHZ, sf=7)
mac = int.from_bytes(lora.mac(), "big")
pymesh = lora.Mesh()
print("state at start", pymesh.state())
print("single while detached", pymesh.single())

t0 = time.ticks_ms()
while pymesh.state() != 4 and time.ticks_diff(time.ticks_ms(), t0) < 60000:
    time.sleep_ms(100)
print("leader within a minute", pymesh.state() == 4)
print("single", pymesh.single())

rloc = pymesh.rloc()
print("router rloc16", rloc & 0x1FF == 0 and rloc >> 10 <= 62)
leader = pymesh.leader()
print("leader fields", leader.part_id == leader[0], leader.mac == leader[1], leader.rloc16 == leader[2])
print("leader is me", leader.mac == mac, leader.rloc16 == rloc, 0 <= leader.part_id < 2**32)

routers = pymesh.routers()
print("routers", len(routers))
r = routers[0]
print("router is me", r.mac == mac, r.rloc16 == rloc, r.id == rloc >> 10, r.path_cost, r.age)
print("neighbors", pymesh.neighbors())

addrs = pymesh.ipaddr()
print("addresses", len(addrs))
aloc, rloc_addr, ml_eid, link_local = addrs
print("leader ALOC", aloc == "fdde:ad00:beef:0:0:ff:fe00:fc00")
print("RLOC", rloc_addr == "fdde:ad00:beef:0:0:ff:fe00:%x" % rloc)
print("ML-EID", ml_eid.startswith("fdde:ad00:beef:0:") and ml_eid not in (aloc, rloc_addr))
iid = mac ^ (0x02 << 56)
expected_ll = "fe80:0:0:0:%x:%x:%x:%x" % ((iid >> 48) & 0xFFFF, (iid >> 32) & 0xFFFF, (iid >> 16) & 0xFFFF, iid & 0xFFFF)
print("link-local", link_local == expected_ll)
print("eight groups, no ::", all(len(a.split(":")) == 8 and "::" not in a for a in addrs))

print("deinit", pymesh.deinit())
print("after deinit", pymesh.state(), pymesh.single(), pymesh.rloc(), pymesh.ipaddr(), pymesh.neighbors(), pymesh.routers(), pymesh.leader())
print("deinit twice", pymesh.deinit())

again = lora.Mesh()
print("new mesh detached", again.state())
print("Mesh() twice returns the running mesh", lora.Mesh() is again, again.state() in (1, 4))
again.deinit()
