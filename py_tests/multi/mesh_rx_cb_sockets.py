# rx_cb with several sockets: node 0 (leader) opens three sockets on ports 2001, 2002, 2003 and
# registers one handler for them (Pycom's way: the handler looks at every socket); node 1 sends
# a datagram to each port in turn (2002 first, then 2003, then 2001). Each datagram must come
# out of the socket bound to its port, the handler must run once per datagram, and the answer
# ("ack <port>") goes back to the sender's address and port as recvfrom reported them.
# Two nodes 1.5 km apart, SF7/BW500 (see README.md here for how run-multitests.py syncs).
import time
import socket
from meshtest import all_routes, start, wait

PORTS = (2001, 2002, 2003)


def instance0():
    lora, mesh = start()
    print("leader:", wait(lambda: mesh.state() == 4, 30))
    sockets = []
    for p in PORTS:
        s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
        s.bind(p)
        sockets.append(s)
    calls = [0]
    got = []  # (port of the socket it came out of, data), in arrival order, duplicates kept

    def on_rx(socks):
        calls[0] += 1
        for i, s in enumerate(socks):
            while True:
                data, addr = s.recvfrom(64)
                if not data:
                    break
                got.append((PORTS[i], data))
                try:
                    s.sendto(b"ack %d" % PORTS[i], addr)
                except OSError:
                    pass  # no route back yet: node 1 sends again

    print("rx_cb:", mesh.rx_cb(on_rx, sockets))
    multitest.globals(leader_rloc=mesh.rloc())
    multitest.next()
    # Node 1 attaches as a child, then becomes a router (new RLOC16): answers go to the address
    # a datagram came from, so both wait for the final topology before any datagram.
    print("two routers, both reachable:", wait(lambda: all_routes(mesh, 2), 50))

    def unique():
        # Retransmissions (if any) are answered too; each datagram once, in arrival order.
        seen = []
        for g in got:
            if g not in seen:
                seen.append(g)
        return seen

    # Scheduled callbacks run while the VM runs (here: in time.sleep_ms), not while it blocks
    # reading stdin in multitest.wait: poll until the three datagrams are in.
    for k in range(1, 4):
        print("datagram %d:" % k, wait(lambda: len(unique()) >= k, 50) and unique()[k - 1])
    time.sleep_ms(500)
    print("handler runs per datagram:", calls[0] == len(got), calls[0] >= 3)
    multitest.wait("sent all")
    for s in sockets:
        s.close()
    mesh.deinit()


def instance1():
    lora, mesh = start()
    print("attached:", wait(lambda: mesh.state() in (2, 3), 30))
    print("router:", wait(lambda: mesh.state() == 3, 30))
    print("two routers, both reachable:", wait(lambda: all_routes(mesh, 2), 50))
    # Every instance calls next() once, the last one too: until it does, run-multitests.py
    # reads its output as start-up and does not pass its broadcasts on.
    multitest.next()
    s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    s.bind(4321)
    leader = "fdde:ad00:beef:0:0:ff:fe00:%x" % leader_rloc
    for port in (2002, 2003, 2001):
        msg = b"for %d" % port
        answer = b""
        # Up to 4 tries, 8 s each: a datagram or its answer may be lost on the air.
        for _ in range(4):
            s.sendto(msg, (leader, port))
            if wait(lambda: s.recvfrom(64)[0] == b"ack %d" % port, 8):
                answer = b"ack %d" % port
                break
        print(port, "answered:", answer)
    multitest.broadcast("sent all")
    s.close()
    mesh.deinit()
