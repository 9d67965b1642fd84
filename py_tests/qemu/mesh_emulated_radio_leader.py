# qemu (mps2-an385, Cortex-M3): the firmware boots, `import network` works, and a node alone on
# the air of its emulated SX1276 becomes leader of its own partition, its frames going through
# the SX127x driver and the chip's FIFO (the board has no other radio). The qemu port has no
# `time` module, so the wait is a bounded loop; the mesh runs from the VM's poll hook.
import network
from network import LoRa

lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=863000000, bandwidth=LoRa.BW_125KHZ, sf=7)
print(len(lora.mac()))
pymesh = lora.Mesh()
print("detached", pymesh.state())
n = 0
while pymesh.state() != 4 and n < 20000000:
    n += 1
print("leader", pymesh.state() == 4)
print("single", pymesh.single())
rloc = pymesh.rloc()
print("router rloc16", rloc & 0x1FF == 0)
print("leader is me", pymesh.leader().rloc16 == rloc)

# MAC counters (OpenThread's "counters mac" text): frames were handed to the radio and each
# got its TxDone from the chip.
mac = {}
for line in pymesh.cli("counters mac").split("\n"):
    kv = line.strip().split(": ")
    if len(kv) == 2:
        mac[kv[0]] = int(kv[1])
print("frames sent", mac["TxTotal"] > 0, "aborted", mac["TxErrAbort"])
a = pymesh.ipaddr()
print(len(a), a[0], a[1] == "fdde:ad00:beef:0:0:ff:fe00:%x" % rloc, a[3].startswith("fe80:0:0:0:"))
print("deinit", pymesh.deinit(), pymesh.state())
