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
print(repr(cli("frobnicate")))
print(repr(cli("router bogus")))
m.deinit()
print(repr(cli("state")))
