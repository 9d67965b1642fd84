# Mesh(key=...): 16 bytes; shorter keys are zero-padded (Pycom documented it); longer or
# non-bytes keys are refused with a clear exception.
from network import LoRa

lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=863000000, sf=7)
try:
    lora.Mesh(key=bytes(17))
except ValueError as e:
    print("ValueError:", e)
try:
    lora.Mesh(key=1234)
except TypeError:
    print("TypeError for an int key")
m = lora.Mesh(key=b"\x11\x22\x33")
print("short key accepted", m.state())
m.deinit()
m = lora.Mesh(key=bytes(range(16)))
print("16-byte key accepted", m.state())
m.deinit()
m = lora.Mesh()
print("default key", m.state())
m.deinit()
