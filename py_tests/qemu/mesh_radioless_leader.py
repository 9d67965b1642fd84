# qemu (mps2-an385, Cortex-M3): the firmware boots, `import network` works, and a node without
# a radio becomes leader of its own partition. The qemu port has no `time` module, so the wait
# is a bounded loop; the mesh runs from the VM's poll hook while this loop runs.
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
a = pymesh.ipaddr()
print(len(a), a[0], a[1] == "fdde:ad00:beef:0:0:ff:fe00:%x" % rloc, a[3].startswith("fe80:0:0:0:"))
print("deinit", pymesh.deinit(), pymesh.state())
