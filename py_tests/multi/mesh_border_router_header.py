# The border router across the mesh: node 0 (leader) calls border_router("2001:cafe:cafe:cafe::/64",
# 0) and binds a socket on port 1234; node 2, two hops away, gets its SLAAC address in the prefix,
# then sends b"to the cloud" to [2001:cafe:cafe:cafe::abcd]:8080. The datagram must arrive on the
# border router's socket with Pycom's 19-byte header (0xBB, the IPv6 destination, the
# destination port) before the payload, recvfrom reporting node 2's SLAAC address and port.
# Node 0 tells node 2 what it saw (to its ML-EID, learnt from a first datagram), so node 2 can
# compare with its own address. Three nodes in a line, 1.5 km apart, SF7/BW500.
import errno
import struct
import time
import socket
from meshtest import ML_PREFIX, all_routes, start, wait

BR_PREFIX = "2001:cafe:cafe:cafe::/64"
BORDER_ROUTER_HEADER_FORMAT = "!BHHHHHHHHH"  # Pycom's documentation


def instance0():
    lora, mesh = start()
    print("leader:", wait(lambda: mesh.state() == 4, 30))
    print("border_router:", mesh.border_router(BR_PREFIX, 0))
    s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    s.bind(1234)
    multitest.globals(leader_rloc=mesh.rloc())
    multitest.next()
    # Answers go back through the mesh: wait for a route to every router first.
    print("three routers, all reachable:", wait(lambda: all_routes(mesh, 3), 90))
    hello_from = None
    reported = False
    t0 = time.ticks_ms()
    # Serve until node 2 says "bye" (at most 150 s): answer "hello" (to learn node 2's ML-EID),
    # report the border-router datagram (again if node 2 sends it again: an answer was lost).
    while time.ticks_diff(time.ticks_ms(), t0) < 150000:
        data, addr = s.recvfrom(512)
        if not data:
            time.sleep_ms(50)
        elif data == b"bye":
            break
        elif data == b"hello":
            hello_from = addr
            try:
                s.sendto(b"welcome", addr)
            except OSError as e:
                print("welcome not sent:", e)
        elif data[0] == 0xBB and hello_from:
            if not reported:
                h = struct.unpack(BORDER_ROUTER_HEADER_FORMAT, data[:19])
                print("magic: 0x%x" % h[0])
                print("IP dest: %x:%x:%x:%x:%x:%x:%x:%x (port %d)" % h[1:])
                print("payload:", data[19:])
                print("sender port:", addr[1])
                reported = True
            try:
                s.sendto(("%s %d" % addr).encode(), hello_from)
            except OSError as e:
                print("report not sent:", e)
    print("reported:", reported)
    multitest.wait("done")
    s.close()
    mesh.deinit()


def instance1():
    lora, mesh = start()
    print("router:", wait(lambda: mesh.state() == 3, 60))
    multitest.next()
    multitest.wait("done")
    mesh.deinit()


def instance2():
    lora, mesh = start()
    print("router:", wait(lambda: mesh.state() == 3, 60))
    print("three routers, all reachable:", wait(lambda: all_routes(mesh, 3), 60))
    # The prefix reached this node through the network data: a SLAAC address in it.
    print("SLAAC address:", wait(lambda: mesh.ipaddr()[0].startswith("2001:cafe:cafe:cafe:"), 60))
    multitest.next()
    s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    s.bind(4321)
    leader = ML_PREFIX + "%x" % leader_rloc

    def exchange(msg, dst, check):
        # Up to 4 tries, 10 s each (a frame can be lost on the air); the last answer.
        for _ in range(4):
            try:
                s.sendto(msg, dst)
            except OSError as e:
                # No route at this moment (sendto's contract): a lost Advertisement can take a
                # route away until the next one. Seen once in CI; wait for it as for a loss.
                if e.errno != errno.EHOSTUNREACH:
                    raise
                wait(lambda: all_routes(mesh, 3), 10)
                continue
            answer = [b""]

            def got():
                answer[0] = s.recvfrom(128)[0]
                return check(answer[0])

            if wait(got, 10):
                return answer[0]
        return None

    print("welcome:", exchange(b"hello", (leader, 1234), lambda a: a == b"welcome"))
    seen = exchange(b"to the cloud", ("2001:cafe:cafe:cafe::abcd", 8080), lambda a: a.startswith(b"2001:"))
    mine = [a for a in mesh.ipaddr() if a.startswith("2001:cafe:cafe:cafe:")][0]
    print("border router saw my SLAAC address and port:", seen == ("%s 4321" % mine).encode())
    for _ in range(3):
        try:
            s.sendto(b"bye", (leader, 1234))
        except OSError:
            pass  # no route this moment: node 0 stops after 150 s anyway
        time.sleep_ms(300)
    multitest.broadcast("done")
    s.close()
    mesh.deinit()
