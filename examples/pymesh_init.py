from network import LoRa
# initialise LoRa
# the LoRa parameters (frecq, sf, bandwidth) has to be the same for all
# nodes in the same Pymesh
lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868,
frequency = 863000000, bandwidth=LoRa.BW_125KHZ, sf=7)
print("Enable Pymesh")
pymesh = lora.Mesh()
# check node state inside Pymesh
# PYMESH_ROLE_DISABLED = 0, ///< The Pymesh stack is disabled.
# PYMESH_ROLE_DETACHED = 1, ///< Not currently participating in a Pymesh.
# PYMESH_ROLE_CHILD = 2, ///< The Pymesh Child role.
# PYMESH_ROLE_ROUTER = 3, ///< The Pymesh Router role.
# PYMESH_ROLE_LEADER = 4, ///< The Pymesh Leader role.
print("Pymesh node role: %d"%pymesh.state())
print("IPv6 unicast addresses: %s"%pymesh.ipaddr())
