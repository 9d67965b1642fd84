# socket, extended with Pymesh's AF_LORA (frozen into the firmware).
#
# MicroPython lets a Python module extend a built-in one of the same name; clearing sys.path
# while importing makes `from socket import *` find the built-in (ports without one, like
# qemu, get only what is defined here).
import sys

_path = sys.path
sys.path = ()
try:
    from socket import *  # noqa: F401,F403
    from socket import socket as _builtin_socket
except ImportError:
    _builtin_socket = None
finally:
    sys.path = _path
    del _path

AF_LORA = 160
SOCK_RAW = 3


def socket(af=2, type=1, proto=0):
    if af == AF_LORA:
        if type != SOCK_RAW:
            raise OSError(22)  # EINVAL: Pycom's mesh sockets are SOCK_RAW only
        import network

        return network._MeshSocket()
    if _builtin_socket is None:
        raise OSError(97)  # EAFNOSUPPORT: this port has no other socket family
    return _builtin_socket(af, type, proto)
