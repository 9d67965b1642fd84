# socket.AF_LORA sockets on a single node: creation rules, bind's port range, the 3-socket limit
# (errno 24 EMFILE on the 4th), non-blocking recvfrom, bad addresses (97 EAFNOSUPPORT),
# unroutable destinations (113 EHOSTUNREACH), settimeout (110 ETIMEDOUT), select.poll, close,
# deinit (9 EBADF). Linux errno numbers.
import socket
import time
from network import LoRa

print(socket.AF_LORA, socket.SOCK_RAW)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("built-in socket still works:", type(s).__name__)
s.close()


def err(f, *a):
    try:
        r = f(*a)
        print("ok", r)
    except OSError as e:
        print("OSError", e.errno if isinstance(e.errno, int) else e)
    except Exception as e:
        print(type(e).__name__, e)


err(socket.socket, socket.AF_LORA, socket.SOCK_RAW)  # no mesh yet
lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=863000000, sf=7)
mesh = lora.Mesh()
err(socket.socket, socket.AF_LORA, socket.SOCK_DGRAM)  # SOCK_RAW only
a = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
b = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
c = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
err(socket.socket, socket.AF_LORA, socket.SOCK_RAW)  # 4th
err(a.bind, 1023)
err(a.bind, 63536)
err(a.bind, 19788)  # MLE's port
err(a.bind, 1234)
err(b.bind, 1234)  # taken
err(b.bind, ("fdde:ad00:beef::1", 1235))
err(c.bind, ("not an address", 1236))
print("recvfrom with nothing queued:", a.recvfrom(128))
err(a.sendto, b"x", ("zz::zz::", 1234))
err(a.sendto, b"x", ("fdde:ad00:beef:0:0:ff:fe00:abcd", 1234))  # nobody there
err(a.settimeout, 0.2)
err(a.recvfrom, 10)  # waits 0.2 s, then ETIMEDOUT
a.setblocking(False)
print("non-blocking again:", a.recvfrom(10))
import select
p = select.poll()
p.register(a, select.POLLIN)
print("poll with nothing queued:", p.poll(0))
p.unregister(a)
c.close()
c.close()  # idempotent
err(c.recvfrom, 10)
d = socket.socket(socket.AF_LORA, socket.SOCK_RAW)  # a slot is free again
print("after close a new socket:", type(d).__name__)
mesh.deinit()
err(a.recvfrom, 10)
err(a.sendto, b"x", ("fdde:ad00:beef:0:0:ff:fe00:fc00", 1234))
a.close()
