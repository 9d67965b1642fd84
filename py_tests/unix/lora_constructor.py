# network.LoRa: Pycom's constants, defaults and argument validation (pycom-behaviour.md).
from network import LoRa

for name in ("LORA", "LORAWAN", "OTAA", "ABP", "ALWAYS_ON", "TX_ONLY", "SLEEP", "BW_125KHZ", "BW_250KHZ",
             "BW_500KHZ", "CODING_4_5", "CODING_4_6", "CODING_4_7", "CODING_4_8", "RX_PACKET_EVENT",
             "TX_PACKET_EVENT", "TX_FAILED_EVENT", "CLASS_A", "CLASS_C", "AS923", "AU915", "CN470", "EU433",
             "EU868", "IN865", "US915"):
    print(name, getattr(LoRa, name))

lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=863000000, bandwidth=LoRa.BW_125KHZ, sf=7)
print(type(lora).__name__)
mac = lora.mac()
print(type(mac).__name__, len(mac))
print(LoRa(mode=LoRa.LORAWAN, region=LoRa.EU868) is lora)

def bad(**kw):
    try:
        LoRa(**kw)
        print("accepted", sorted(kw))
    except ValueError as e:
        print("ValueError:", e)
    except OSError as e:
        print("OSError:", e)

bad(mode=LoRa.LORA)
bad(region=3)
bad(region=LoRa.EU868, frequency=915000000)
bad(region=LoRa.US915, frequency=868000000)
bad(region=LoRa.EU868, tx_power=21)
bad(region=LoRa.EU868, tx_power=1)
bad(region=LoRa.EU868, sf=5)
bad(region=LoRa.EU868, sf=13)
bad(region=LoRa.EU868, bandwidth=3)
bad(region=LoRa.EU868, coding_rate=0)
bad(region=LoRa.EU868, coding_rate=5)
bad(region=LoRa.EU868, power_mode=3)
bad(region=LoRa.EU868, mode=2)
bad(region=LoRa.EU868, device_class=1)
bad(region=LoRa.EU868, preamble=2)
bad(region=LoRa.EU868, tx_retries=-1)
bad(region=LoRa.EU433, frequency=433175000)
bad(region=LoRa.EU868, frequency=870000000, sf=12, bandwidth=LoRa.BW_500KHZ, coding_rate=LoRa.CODING_4_8)
try:
    LoRa(1, region=LoRa.EU868)
except OSError:
    print("OSError for id 1")
try:
    LoRa(region="EU868")
except TypeError:
    print("TypeError for a str region")
