# pymesh.cli(cmd): OpenThread's CLI text (lines end in \r\n, no final "Done"), compared with
# the node's own getters and with the headers of OpenThread's tables (vectors/cli-*.txt).
import time
from network import LoRa

lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=869525000, bandwidth=LoRa.BW_500KHZ, sf=7)
mac = lora.mac()
m = lora.Mesh()
t0 = time.ticks_ms()
while m.state() != 4 and time.ticks_diff(time.ticks_ms(), t0) < 60000:
    time.sleep_ms(50)


def cli(c):
    return m.cli(c)


print(repr(cli("state")))
print(cli("rloc16") == "%04x\r\n" % m.rloc())
print(cli("extaddr") == "".join("%02x" % b for b in mac) + "\r\n")
print(repr(cli("panid")), repr(cli("channel")), repr(cli("networkname")))
print(repr(cli("masterkey")))
print(repr(cli("extpanid")), repr(cli("leaderweight")), repr(cli("mode")), repr(cli("childtimeout")))
ld = m.leader()
print(cli("leaderdata").split("\r\n")[0] == "Partition ID: %d" % ld.part_id)
print(cli("partitionid") == "%d\r\n" % ld.part_id)
print(cli("leaderdata").split("\r\n")[4] == "Leader Router ID: %d" % (ld.rloc16 >> 10))
print(cli("ipaddr").split("\r\n")[:-1] == m.ipaddr())
print(cli("router list") == "%d\r\n" % (m.rloc() >> 10))
print(cli("router table").split("\r\n")[0])
print(cli("neighbor table").split("\r\n")[0])
print(cli("child table").split("\r\n")[0])
print(cli("counters mle").split("\r\n")[:2])
print(cli("counters mac").split("\r\n")[0].startswith("TxTotal: "))
print(repr(cli("routerselectionjitter")), repr(cli("routerselectionjitter 5")), repr(cli("routerselectionjitter")))
print(repr(cli("routerselectionjitter 0")))
print(cli("netdata show").split("\r\n")[0])
m.border_router("2001:cafe:cafe:cafe::/64", 0)
print([l for l in cli("netdata show").split("\r\n") if l.startswith("2001:cafe:cafe:cafe::/64 paros")] == ["2001:cafe:cafe:cafe::/64 paros med %04x" % m.rloc()])
print(cli("version").startswith("PYMESH/"))
# ipmaddr: the groups a leader listens to, in OpenThread's text.
print(cli("ipmaddr").split("\r\n"))
print(repr(cli("routerrole")), repr(cli("routerrole enable")))
print(repr(cli("routerupgradethreshold")), repr(cli("routerupgradethreshold 3")), repr(cli("routerupgradethreshold")), repr(cli("routerupgradethreshold 33")), repr(cli("routerupgradethreshold 16")))
# prefix add stores a local prefix (border_router() lists it); netdata register sends it.
print(repr(cli("prefix add fd00:1:2:3::/64 paros high")), repr(cli("prefix")))
print([b.net for b in m.border_router()])
print(len([l for l in cli("netdata show").split("\r\n") if l.startswith("fd00:1:2:3::/64")]))
print(repr(cli("netdata register")))
t0 = time.ticks_ms()
while not any(a.startswith("fd00:1:2:3:") for a in m.ipaddr()) and time.ticks_diff(time.ticks_ms(), t0) < 10000:
    time.sleep_ms(50)
print([l for l in cli("netdata show").split("\r\n") if l.startswith("fd00:1:2:3::/64 paros")] == ["fd00:1:2:3::/64 paros high %04x" % m.rloc()])
print(any(a.startswith("fd00:1:2:3:") for a in m.ipaddr()))
print(repr(cli("prefix remove fd00:1:2:3::/64")), repr(cli("prefix remove fd00:1:2:3::/64")), repr(cli("netdata register")))
print(repr(cli("prefix add fd00::/129")), repr(cli("prefix add fd00::/64 xyz")))
# ping to this node's own RLOC: looped back, reply and OpenThread's statistics line.
p = cli("ping " + m.ipaddr()[[a.endswith(":ff:fe00:%x" % m.rloc()) for a in m.ipaddr()].index(True)]).split("\r\n")
print(p[0].startswith("16 bytes from fdde:ad00:beef:0:0:ff:fe00:"), p[1].startswith("1 packets transmitted, 1 packets received. Packet loss = 0.0%. Round-trip min/avg/max = "), p[2:])
print(repr(cli("ping fdde:ad00:beef:0:0:ff:fe00:abcd")))
print(repr(cli("frobnicate")))
print(repr(cli("router bogus")))
# A leader that may no longer be a router gives its partition up and attaches as a child.
print(repr(cli("routerrole disable")), repr(cli("routerrole")), repr(cli("state")))
m.deinit()
print(repr(cli("state")))
