# Three nodes in a line, 1.5 km apart (the ends out of each other's range), SF7/BW500: one
# partition forms (a leader and two routers), every node sees its neighbours, UDP crosses two
# hops, rx_cb fires for the right socket, cli('ping ...') answers across the mesh, and a node
# can deinit and start a new Mesh while the others keep running.
# Run by tools/run-multi-tests.sh: instance i sits at (1500 * i, 0) on a medium of its own.
#
# run-multitests.py starts instance i+1 when instance i prints its first NEXT (globals set
# before that are passed on); after that the instances run freely and meet only through
# multitest.broadcast/wait, so each instance calls next() exactly once.
import time
import socket
from meshtest import ML_PREFIX, all_routes, start, wait


def instance0():
    # The first node up leads.
    lora, mesh = start()
    print("leader:", wait(lambda: mesh.state() == 4, 30))
    multitest.globals(leader_rloc=mesh.rloc())
    multitest.next()
    multitest.wait("far node attached")
    # A new router's id reaches the leader at once (Address Solicit), the route to it with
    # the middle node's next Advertisement: wait for both.
    print("three routers, all reachable:", wait(lambda: all_routes(mesh, 3), 30))
    print("one neighbour (the middle node):", wait(lambda: len(mesh.neighbors()) == 1, 30))
    s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    s.bind(1234)
    got = []
    mesh.rx_cb(lambda sock: got.append(sock.recvfrom(64)), s)
    multitest.broadcast("listening")
    print("datagram over two hops:", wait(lambda: len(got) >= 1, 30))
    data, addr = got[0]
    print(data, addr[1])
    s.sendto(b"back " + data, addr)
    multitest.wait("restarted")
    print("still leader:", mesh.state() == 4)
    s.close()
    mesh.deinit()


def instance1():
    lora, mesh = start()
    print("attached:", wait(lambda: mesh.state() in (2, 3), 30))
    print("router:", wait(lambda: mesh.state() == 3, 30))
    multitest.next()
    multitest.wait("far node attached")
    print("two neighbours:", wait(lambda: len(mesh.neighbors()) == 2, 30))
    multitest.wait("answer received")
    # deinit and a new Mesh while the others keep running.
    mesh.deinit()
    print("after deinit:", mesh.state())
    mesh = lora.Mesh()
    print("back in the partition:", wait(lambda: mesh.state() in (2, 3), 30))
    multitest.broadcast("restarted")
    time.sleep(1)
    mesh.deinit()


def instance2():
    lora, mesh = start()
    print("attached:", wait(lambda: mesh.state() in (2, 3), 30))
    print("router:", wait(lambda: mesh.state() == 3, 30))
    print("one neighbour (the middle node):", wait(lambda: len(mesh.neighbors()) == 1, 30))
    print("three routers, all reachable:", wait(lambda: all_routes(mesh, 3), 30))
    multitest.next()
    multitest.broadcast("far node attached")
    multitest.wait("listening")
    s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    s.bind(4321)
    leader = ML_PREFIX + "%x" % leader_rloc
    print("sent:", s.sendto(b"two hops", (leader, 1234)))
    print("answer:", wait(lambda: s.recvfrom(64)[0] == b"back two hops", 30))
    ping = mesh.cli("ping " + leader)
    lines = ping.split("\r\n")
    print("ping:", lines[0].startswith("16 bytes from " + leader + ": icmp_seq="))
    print("ping statistics:", lines[1].startswith("1 packets transmitted, 1 packets received. Packet loss = 0.0%."))
    multitest.broadcast("answer received")
    multitest.wait("restarted")
    s.close()
    mesh.deinit()
