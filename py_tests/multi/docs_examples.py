# The documentation's examples (examples/, copied from pymesh-api.txt), run unchanged on a
# two-node mesh:
#   pymesh_init.py         Pymesh initialisation (both nodes)
#   border_router.txt      the REPL session setting a border router (node 0)
#   rx_callback.py         the rx_cb receive loop (node 0), answering node 1's datagrams, one of
#                          them to an address inside the border-router prefix (0xBB header)
#   border_router_del.txt  the REPL session removing a border router (node 0)
# The .py examples run with exec() in a namespace holding what the docs take from their
# surroundings (struct, BORDER_ROUTER_MAGIC_BYTE and _HEADER_FORMAT, `mesh` as pycom-libraries'
# object with the Mesh as `.mesh`); the .txt sessions are replayed line by line as the REPL
# does. What the examples print is recorded (their `print` is the recorder) and shown with
# addresses that differ per run replaced by labels (<RLOC>, <ML-EID>, ...).
#
# The initialisation example configures 863 MHz / BW 125 kHz, a 0.1 % duty-cycle sub-band
# where forming a mesh takes minutes: after it ran, both nodes restart the mesh at 869.525 MHz
# / BW 500 kHz (10 %) as the other multi-node tests do.
import os
import socket
import struct
import time
from network import LoRa
from meshtest import ML_PREFIX as ML, all_routes, wait

EXAMPLES = os.getenv("PYMESH_EXAMPLES")


class PycomLibMesh:
    # pycom-libraries' mesh object as the docs use it: `mesh.mesh` is the LoRa.Mesh.
    def __init__(self, mesh):
        self.mesh = mesh

    def __getattr__(self, name):
        return getattr(self.mesh, name)


def recorder(g):
    lines = []

    def rec(*args, sep=" ", end="\n"):
        lines.append(sep.join(str(a) for a in args))

    g["print"] = rec
    return lines


def run_example(name, g):
    # examples/<name> unchanged, in namespace g; returns what it printed (and prints later).
    lines = recorder(g)
    with open(EXAMPLES + "/" + name) as f:
        exec(f.read(), g)
    return lines


def replay(name, g):
    # A REPL session: each ">>> " line runs, an expression's value is shown as the REPL does.
    lines = recorder(g)
    with open(EXAMPLES + "/" + name) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.startswith(">>> "):
                continue
            lines.append(line)
            try:
                try:
                    value = eval(line[4:], g)
                    if value is not None:
                        lines.append(repr(value))
                except SyntaxError:
                    exec(line[4:], g)
            except Exception as e:
                lines.append("%s: %s" % (type(e).__name__, e))
            OWN.extend(g["pymesh"].ipaddr())
    return lines


OWN = []  # every address this node had while an example ran (SLAAC ones come and go)


def label(tok, mesh):
    # An address that differs from run to run -> its label; others unchanged.
    if tok.count(":") != 7 or "::" in tok:
        return tok
    own = OWN + mesh.ipaddr()
    if tok == ML + "fc00":
        return tok
    if tok == ML + "%x" % mesh.rloc():
        return "<RLOC>"
    if tok.startswith(ML):
        return "<RLOC of the other node>"
    if tok in own:
        if tok.startswith("fe80:"):
            return "<link-local>"
        if tok.startswith("fdde:"):
            return "<ML-EID>"
        return "<SLAAC address in %s::/64>" % ":".join(tok.split(":")[:4])
    if tok.startswith("fdde:"):
        return "<ML-EID of the other node>"
    return tok


def show(lines, mesh):
    for line in lines:
        out, tok = "", ""
        for ch in line + "\n":
            if ch in "0123456789abcdef:":
                tok += ch
            else:
                out += label(tok, mesh) + ch
                tok = ""
        print(out[:-1])


def fast_mesh(g):
    # The same mesh at 869.525 MHz / BW 500 kHz (see the top of this file).
    g["pymesh"].deinit()
    g["lora"] = LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=869525000, bandwidth=LoRa.BW_500KHZ, sf=7)
    g["pymesh"] = g["lora"].Mesh()
    g["pymesh"].cli("routerselectionjitter 1")
    g["mesh"] = PycomLibMesh(g["pymesh"])
    g["struct"] = struct
    g["BORDER_ROUTER_MAGIC_BYTE"] = 0xBB
    g["BORDER_ROUTER_HEADER_FORMAT"] = "!BHHHHHHHHH"
    return g["pymesh"]


def instance0():
    g = {}
    show(run_example("pymesh_init.py", g), g["pymesh"])
    pymesh = fast_mesh(g)
    print("leader:", wait(lambda: pymesh.state() == 4, 30))
    multitest.globals(leader_rloc=pymesh.rloc())
    multitest.next()
    print("two routers, both reachable:", wait(lambda: all_routes(pymesh, 2), 50))
    show(replay("border_router.txt", g), pymesh)
    received = run_example("rx_callback.py", g)
    s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    s.bind(1234)
    g["sockets"].append(s)
    multitest.broadcast("listening")
    # The handler runs from the scheduler: keep the VM running (sleep_ms) until the
    # border-router datagram (node 1's second) was answered, then show each line once (a
    # datagram sent again because an ACK was lost is answered again).
    br_line = "IP dest: 2001:cafe:cafe:cafe:0:0:0:1 (port 5555)"
    print("both answered:", wait(lambda: br_line in received and received[-1] == "Sent ACK back", 55))
    unique = []
    for line in received:
        if line not in unique:
            unique.append(line)
    show(unique, pymesh)
    multitest.wait("acked")
    # The removal session starts from one entry, 2001:dead:beef:caff::/64 with preference 1.
    pymesh.border_router_del("2001:cafe:cafe:cafe::/64")
    pymesh.border_router("2001:dead:beef:caff::/64", 1)
    show(replay("border_router_del.txt", g), pymesh)
    s.close()
    pymesh.deinit()


def instance1():
    g = {}
    show(run_example("pymesh_init.py", g), g["pymesh"])
    pymesh = fast_mesh(g)
    print("router:", wait(lambda: pymesh.state() == 3, 40))
    print("two routers, both reachable:", wait(lambda: all_routes(pymesh, 2), 50))
    multitest.next()
    multitest.wait("listening")
    print("SLAAC address:", wait(lambda: pymesh.ipaddr()[0].startswith("2001:cafe:cafe:cafe:"), 50))
    s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    # Bound to the RLOC, so the answer to a datagram for the border-router prefix comes back
    # to an address the border router can route to (an answer to a SLAAC address would need
    # address query).
    s.bind((ML + "%x" % pymesh.rloc(), 4321))

    def exchange(msg, dst):
        # Up to 4 tries, 10 s each (a frame may be lost on the air).
        for _ in range(4):
            s.sendto(msg, dst)
            if wait(lambda: s.recvfrom(16)[0] == b"ACK", 10):
                return b"ACK"
        return None

    print("hello:", exchange(b"Hello Pymesh", (ML + "%x" % leader_rloc, 1234)))
    print("to the cloud:", exchange(b"to the cloud", ("2001:cafe:cafe:cafe::1", 5555)))
    multitest.broadcast("acked")
    s.close()
    pymesh.deinit()
