# socket.AF_LORA is Pymesh's address family (160); the built-in socket module keeps working.
import socket

print(socket.AF_LORA, socket.SOCK_RAW)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(type(s).__name__)
s.close()
try:
    socket.socket(socket.AF_LORA, socket.SOCK_RAW)
except NotImplementedError:
    print("AF_LORA sockets: NotImplementedError")
