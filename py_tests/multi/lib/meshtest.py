# Helpers shared by the multi-node tests (py_tests/multi/*.py): tools/run-multi-tests.sh puts
# this folder on every instance's MICROPYPATH. Not a test itself.
import time
from network import LoRa

# Mesh-local RLOC addresses: ML_PREFIX + "%x" % rloc16.
ML_PREFIX = "fdde:ad00:beef:0:0:ff:fe00:"


def start():
    # SF7/BW500 in the 869.4-869.65 MHz sub-band (10 % duty cycle): quick real-time tests.
    lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=869525000, bandwidth=LoRa.BW_500KHZ, sf=7)
    mesh = lora.Mesh()
    mesh.cli("routerselectionjitter 1")
    return lora, mesh


def wait(cond, seconds):
    # cond is called once per turn (it may consume a datagram); its last answer is returned.
    t0 = time.ticks_ms()
    while True:
        ok = cond()
        if ok or time.ticks_diff(time.ticks_ms(), t0) >= seconds * 1000:
            return ok
        time.sleep_ms(50)


def all_routes(mesh, n):
    # n routers known, each with a route (path cost 16 is Thread's "unreachable").
    rs = mesh.routers()
    return len(rs) == n and all(r.path_cost < 16 for r in rs)
