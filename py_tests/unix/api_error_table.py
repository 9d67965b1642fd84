# Every method of the Python API on one node, and every error case, in ONE table: each row is
# (call as the user writes it, the call, what it must give). The rows run in order (some change
# the state: Mesh(), deinit(), close()); each prints "<call> -> <outcome>" and a row whose
# outcome differs from its expectation also prints MISMATCH, so the .exp catches it twice.
#
# Outcomes: "= <repr of the result>" or "<ExceptionType>: <args>" (OSError args are the errno
# alone when the core gave one: Linux numbers, 2 ENOENT, 9 EBADF, 22 EINVAL, 24 EMFILE,
# 90 EMSGSIZE, 97 EAFNOSUPPORT, 98 EADDRINUSE, 110 ETIMEDOUT, 113 EHOSTUNREACH).
#
# Datagrams to the node's own addresses loop back (as in OpenThread), so sendto/recvfrom,
# the 5-datagram queue, rx_cb and select.poll are exercised on a single node.
import gc
import select
import socket
import time
from network import LoRa

G = {}  # state shared between rows


def wait(cond, ms):
    t0 = time.ticks_ms()
    while not cond():
        if time.ticks_diff(time.ticks_ms(), t0) > ms:
            return False
        time.sleep_ms(20)
    return True


def lora():
    return LoRa(mode=LoRa.LORA, region=LoRa.EU868, frequency=869525000, bandwidth=LoRa.BW_500KHZ, sf=7)


def mesh():
    return G["mesh"]


def own(locator):
    return "fdde:ad00:beef:0:0:ff:fe00:%x" % locator


def new_socket(name):
    G[name] = socket.socket(socket.AF_LORA, socket.SOCK_RAW)
    return type(G[name]).__name__


def recv_from_self(s, n):
    data, addr = s.recvfrom(n)
    return data, addr[0] in mesh().ipaddr(), addr[1]


def loop_six():
    # Six datagrams to ourselves on a socket that queues five: the oldest is dropped.
    s = G["a"]
    for i in range(6):
        s.sendto(b"d%d" % i, (own(mesh().rloc()), 1234))
    got = []
    while True:
        data, addr = s.recvfrom(16)
        if not data:
            return got
        got.append(data)


def rx_cb_counts():
    # rx_cb fires once per queued datagram, on the scheduler (not inside sendto).
    calls = []
    mesh().rx_cb(lambda arg: calls.append(arg), "arg")
    G["b"].sendto(b"one", (own(mesh().rloc()), 1234))
    G["b"].sendto(b"two", (own(mesh().rloc()), 1234))
    inside = len(calls)
    wait(lambda: len(calls) >= 2, 5000)
    time.sleep_ms(200)
    mesh().rx_cb(None, None)
    while G["a"].recvfrom(16)[0]:
        pass
    return inside, calls


def poll_readable():
    p = select.poll()
    p.register(G["a"], select.POLLIN)
    before = p.poll(0)
    G["b"].sendto(b"x", (own(mesh().rloc()), 1234))
    after = [(o is G["a"], e) for o, e in p.poll(0)]
    G["a"].recvfrom(16)
    p.unregister(G["a"])
    return before, after


def gc_closes():
    # Three sockets open (a, b, c): c forgotten is closed by the garbage collector, so a new
    # one can be made.
    G["c"] = None
    gc.collect()
    return new_socket("c")


TABLE = [
    # --- before the mesh runs
    ("socket.socket(AF_LORA, SOCK_RAW) without a mesh", lambda: socket.socket(socket.AF_LORA, socket.SOCK_RAW), "OSError: ('the mesh is not running: call LoRa.Mesh() first',)"),
    ("LoRa(region='EU868')", lambda: LoRa(region="EU868"), 'TypeError: ("can\'t convert str to int",)'),
    ("LoRa(region=LoRa.EU868, sf=13)", lambda: LoRa(region=LoRa.EU868, sf=13), "ValueError: ('sf must be within 6..12',)"),
    ("LoRa(1, region=LoRa.EU868)", lambda: LoRa(1, region=LoRa.EU868), "OSError: ('id must be 0 (one LoRa radio)',)"),
    ("LoRa(...EU868, 869.525 MHz, BW500, SF7)", lambda: type(lora()).__name__, "= 'LoRa'"),
    ("lora.mac()", lambda: (type(lora().mac()).__name__, len(lora().mac())), "= ('bytes', 8)"),
    ("lora.Mesh(key=bytes(17))", lambda: lora().Mesh(key=bytes(17)), "ValueError: ('key must be at most 16 bytes',)"),
    ("lora.Mesh(key=1234)", lambda: lora().Mesh(key=1234), "TypeError: ('object with buffer protocol required',)"),
    ("lora.Mesh(b'\\x11\\x22\\x33')", lambda: lora().Mesh(b"\x11\x22\x33"), "TypeError: ('extra positional arguments given',)"),
    ("lora.Mesh(key=b'\\x11\\x22\\x33') (zero-padded)", lambda: lora().Mesh(key=b"\x11\x22\x33").cli("masterkey"), "= '11223300000000000000000000000000\\r\\n'"),
    ("mesh.deinit()", lambda: lora().Mesh().deinit(), "= True"),
    ("G['mesh'] = lora.Mesh()", lambda: G.update(mesh=lora().Mesh()), "= None"),
    ("mesh.cli('masterkey') (default key)", lambda: mesh().cli("masterkey"), "= '1234c0de1ab51234c0de1ab5ca1a110f\\r\\n'"),
    ("lora.Mesh() is mesh (second Mesh())", lambda: lora().Mesh() is mesh(), "= True"),
    ("mesh.state() while detached", lambda: mesh().state(), "= 1"),
    ("leader within 60 s", lambda: wait(lambda: mesh().state() == 4, 60000), "= True"),
    # --- the getters
    ("mesh.state()", lambda: mesh().state(), "= 4"),
    ("mesh.single()", lambda: mesh().single(), "= True"),
    ("mesh.rloc() is a router's RLOC16", lambda: mesh().rloc() & 0x3FF == 0 and mesh().rloc() >> 10 <= 62, "= True"),
    ("mesh.ipaddr(): ALOC, RLOC, ML-EID, link-local", lambda: [a.split(":")[0] for a in mesh().ipaddr()], "= ['fdde', 'fdde', 'fdde', 'fe80']"),
    ("mesh.ipaddr(): 8 groups, no ::", lambda: all(len(a.split(":")) == 8 and "::" not in a for a in mesh().ipaddr()), "= True"),
    ("mesh.leader() names this node", lambda: (mesh().leader().mac == int.from_bytes(lora().mac(), "big"), mesh().leader().rloc16 == mesh().rloc()), "= (True, True)"),
    ("mesh.routers()", lambda: [(r.rloc16 == mesh().rloc(), r.path_cost) for r in mesh().routers()], "= [(True, 0)]"),
    ("mesh.neighbors()", lambda: mesh().neighbors(), "= []"),
    ("mesh.border_router()", lambda: mesh().border_router(), "= []"),
    # --- border_router: bad input
    ("mesh.border_router('2001:cafe::', 0)", lambda: mesh().border_router("2001:cafe::", 0), "ValueError: (\"net must be an IPv6 prefix like '2001:db8::/64' and preference -1, 0 or 1\",)"),
    ("mesh.border_router('2001:cafe::/129', 0)", lambda: mesh().border_router("2001:cafe::/129", 0), "ValueError: (\"net must be an IPv6 prefix like '2001:db8::/64' and preference -1, 0 or 1\",)"),
    ("mesh.border_router('zz::/64', 0)", lambda: mesh().border_router("zz::/64", 0), "ValueError: (\"net must be an IPv6 prefix like '2001:db8::/64' and preference -1, 0 or 1\",)"),
    ("mesh.border_router('2001:cafe::/64', 2)", lambda: mesh().border_router("2001:cafe::/64", 2), "ValueError: (\"net must be an IPv6 prefix like '2001:db8::/64' and preference -1, 0 or 1\",)"),
    ("mesh.border_router('ff05::/64', 0) (multicast)", lambda: mesh().border_router("ff05::/64", 0), "ValueError: (\"net must be an IPv6 prefix like '2001:db8::/64' and preference -1, 0 or 1\",)"),
    ("mesh.border_router(2001, 0)", lambda: mesh().border_router(2001, 0), "TypeError: (\"can't convert 'int' object to str implicitly\",)"),
    ("mesh.border_router('2001:cafe::/64', 'high')", lambda: mesh().border_router("2001:cafe::/64", "high"), 'TypeError: ("can\'t convert str to int",)'),
    ("mesh.border_router('2001:cafe::/64')", lambda: mesh().border_router("2001:cafe::/64"), "TypeError: ('border_router() or border_router(net, preference)',)"),
    ("mesh.border_router_del('2001:1::/64') (not ours)", lambda: mesh().border_router_del("2001:1::/64"), "OSError: (2,)"),
    ("mesh.border_router_del('2001:1::')", lambda: mesh().border_router_del("2001:1::"), "ValueError: (\"net must be an IPv6 prefix like '2001:db8::/64'\",)"),
    ("mesh.border_router_del(None)", lambda: mesh().border_router_del(None), "TypeError: (\"can't convert 'NoneType' object to str implicitly\",)"),
    # --- border_router: works
    ("mesh.border_router('2001:cafe:cafe:cafe::/64', 0)", lambda: mesh().border_router("2001:cafe:cafe:cafe::/64", 0), "= 0"),
    ("mesh.border_router('2001:dead:beef:caff::/64', -1)", lambda: mesh().border_router("2001:dead:beef:caff::/64", -1), "= 0"),
    ("mesh.border_router() lists both", lambda: sorted(mesh().border_router()), "= [(net='2001:cafe:cafe:cafe::/64', preference=0), (net='2001:dead:beef:caff::/64', preference=-1)]"),
    ("SLAAC addresses first in ipaddr()", lambda: sorted(a.split(":")[0] + ":" + a.split(":")[1] for a in mesh().ipaddr()[:2]), "= ['2001:cafe', '2001:dead']"),
    ("mesh.border_router_del('2001:dead:beef:caff::/64')", lambda: mesh().border_router_del("2001:dead:beef:caff::/64"), "= 0"),
    ("its SLAAC address is gone", lambda: [a for a in mesh().ipaddr() if a.startswith("2001:dead:")], "= []"),
    # --- cli
    ("mesh.cli('state')", lambda: mesh().cli("state"), "= 'leader\\r\\n'"),
    ("mesh.cli('help') lists every command", lambda: mesh().cli("help").split("\r\n")[:-1] == sorted(mesh().cli("help").split("\r\n")[:-1]) and len(mesh().cli("help").split("\r\n")) - 1, "= 28"),
    ("mesh.cli('')", lambda: mesh().cli(""), "= ''"),
    ("mesh.cli('frobnicate')", lambda: mesh().cli("frobnicate"), "= 'Error 35: InvalidCommand\\r\\n'"),
    ("mesh.cli('router bogus')", lambda: mesh().cli("router bogus"), "= 'Error 7: InvalidArgs\\r\\n'"),
    ("mesh.cli('ping zz')", lambda: mesh().cli("ping zz"), "= 'Error 7: InvalidArgs\\r\\n'"),
    ("mesh.cli('ping <nobody> ')", lambda: mesh().cli("ping " + own(0xABCD)), "= 'Error 4: NoRoute\\r\\n'"),
    ("mesh.cli('ping <own RLOC>')", lambda: mesh().cli("ping " + own(mesh().rloc())).split("\r\n")[1][:60], "= '1 packets transmitted, 1 packets received. Packet loss = 0.0'"),
    ("mesh.cli(5)", lambda: mesh().cli(5), "TypeError: (\"can't convert 'int' object to str implicitly\",)"),
    ("mesh.cli(b'state')", lambda: mesh().cli(b"state"), "= 'leader\\r\\n'"),
    # --- rx_cb: bad input
    ("mesh.rx_cb(5, None)", lambda: mesh().rx_cb(5, None), "TypeError: ('rx_cb handler must be callable or None',)"),
    ("mesh.rx_cb(print)", lambda: mesh().rx_cb(print), "TypeError: ('function takes 3 positional arguments but 2 were given',)"),
    # --- sockets: creation and bind
    ("socket.socket(AF_LORA, SOCK_DGRAM)", lambda: socket.socket(socket.AF_LORA, socket.SOCK_DGRAM), "OSError: (22,)"),
    ("a = socket.socket(AF_LORA, SOCK_RAW)", lambda: new_socket("a"), "= 'MeshSocket'"),
    ("b = socket.socket(AF_LORA, SOCK_RAW)", lambda: new_socket("b"), "= 'MeshSocket'"),
    ("c = socket.socket(AF_LORA, SOCK_RAW)", lambda: new_socket("c"), "= 'MeshSocket'"),
    ("a 4th socket", lambda: new_socket("d"), "OSError: (24,)"),
    ("a.bind(1023)", lambda: G["a"].bind(1023), "OSError: (22,)"),
    ("a.bind(63536)", lambda: G["a"].bind(63536), "OSError: (22,)"),
    ("a.bind(-1)", lambda: G["a"].bind(-1), "OSError: (22,)"),
    ("a.bind(2**40)", lambda: G["a"].bind(2**40), "OSError: (22,)"),
    ("a.bind(19788) (MLE's port)", lambda: G["a"].bind(19788), "OSError: (98,)"),
    ("a.bind('1234')", lambda: G["a"].bind("1234"), "TypeError: (\"object 'str' isn't a tuple or list\",)"),
    ("a.bind(('::', 1234, 0))", lambda: G["a"].bind(("::", 1234, 0)), "ValueError: ('requested length 2 but object has length 3',)"),
    ("a.bind(('not an address', 1234))", lambda: G["a"].bind(("not an address", 1234)), "OSError: (97,)"),
    ("a.bind(('ff03::1', 1234)) (multicast)", lambda: G["a"].bind(("ff03::1", 1234)), "OSError: (22,)"),
    ("a.bind((1234, 1234))", lambda: G["a"].bind((1234, 1234)), "TypeError: (\"can't convert 'int' object to str implicitly\",)"),
    ("a.bind(('::', 'x'))", lambda: G["a"].bind(("::", "x")), 'TypeError: ("can\'t convert str to int",)'),
    ("a.bind(1234)", lambda: G["a"].bind(1234), "= None"),
    ("a.bind(1235) (already bound)", lambda: G["a"].bind(1235), "OSError: (22,)"),
    ("b.bind(1234) (port taken)", lambda: G["b"].bind(1234), "OSError: (98,)"),
    ("b.bind(('::', 1235))", lambda: G["b"].bind(("::", 1235)), "= None"),
    ("c.bind((<own RLOC>, 63535))", lambda: G["c"].bind((own(mesh().rloc()), 63535)), "= None"),
    # --- recvfrom / sendto: bad input
    ("a.recvfrom(128) with nothing queued", lambda: G["a"].recvfrom(128), "= (b'', None)"),
    ("a.recvfrom(-1)", lambda: G["a"].recvfrom(-1), "ValueError: ('recvfrom size must be >= 0',)"),
    ("a.recvfrom('x')", lambda: G["a"].recvfrom("x"), 'TypeError: ("can\'t convert str to int",)'),
    ("a.sendto(b'x', ('zz::zz::', 1234))", lambda: G["a"].sendto(b"x", ("zz::zz::", 1234)), "OSError: (97,)"),
    ("a.sendto(b'x', ('', 1234))", lambda: G["a"].sendto(b"x", ("", 1234)), "OSError: (97,)"),
    ("a.sendto(b'x', (<nobody>, 1234))", lambda: G["a"].sendto(b"x", (own(0xABCD), 1234)), "OSError: (113,)"),
    ("a.sendto(b'x', ('ff03::1', 1234)) (MPL)", lambda: G["a"].sendto(b"x", ("ff03::1", 1234)), "= 1"),
    ("a.sendto(b'x', (<unknown ML-EID>, 1234)) (held for its Address Query)", lambda: G["a"].sendto(b"x", ("fdde:ad00:beef:0:1234:5678:9abc:def0", 1234)), "= 1"),
    ("a.sendto(b'x', (<another unknown ML-EID>, 1234)) while that query runs", lambda: G["a"].sendto(b"x", ("fdde:ad00:beef:0:1234:5678:9abc:def1", 1234)), "OSError: (113,)"),
    ("a.sendto(b'x', (<own RLOC>, 0))", lambda: G["a"].sendto(b"x", (own(mesh().rloc()), 0)), "OSError: (22,)"),
    ("a.sendto(b'x', (<own RLOC>, 65536))", lambda: G["a"].sendto(b"x", (own(mesh().rloc()), 65536)), "OSError: (22,)"),
    ("a.sendto(b'x', (<own RLOC>, -5))", lambda: G["a"].sendto(b"x", (own(mesh().rloc()), -5)), "OSError: (22,)"),
    ("a.sendto(1234, (<own RLOC>, 1234))", lambda: G["a"].sendto(1234, (own(mesh().rloc()), 1234)), "TypeError: ('object with buffer protocol required',)"),
    ("a.sendto(b'x', <own RLOC>)", lambda: G["a"].sendto(b"x", own(mesh().rloc())), "TypeError: (\"object 'str' isn't a tuple or list\",)"),
    ("a.sendto(b'x', (<own RLOC>,))", lambda: G["a"].sendto(b"x", (own(mesh().rloc()),)), "ValueError: ('requested length 2 but object has length 1',)"),
    ("a.sendto(b'x', (<own RLOC>, '1234'))", lambda: G["a"].sendto(b"x", (own(mesh().rloc()), "1234")), 'TypeError: ("can\'t convert str to int",)'),
    ("a.sendto(bytes(1233), ...) (over the IPv6 MTU)", lambda: G["a"].sendto(bytes(1233), (own(mesh().rloc()), 1234)), "OSError: (90,)"),
    # --- sendto / recvfrom: works (looped back)
    ("b.sendto(b'Hello World!', (<own RLOC>, 1234))", lambda: G["b"].sendto(b"Hello World!", (own(mesh().rloc()), 1234)), "= 12"),
    ("a.recvfrom(512): data, sender (b on our RLOC, port 1235)", lambda: recv_from_self(G["a"], 512), "= (b'Hello World!', True, 1235)"),
    ("a.recvfrom(512) again: nothing queued", lambda: G["a"].recvfrom(512), "= (b'', None)"),
    ("b.sendto('str payload', ...)", lambda: G["b"].sendto("str payload", (own(mesh().rloc()), 1234)), "= 11"),
    ("a.recvfrom(3) truncates", lambda: G["a"].recvfrom(3)[0], "= b'str'"),
    ("b.sendto(bytes(1232), (<leader ALOC>, 1234))", lambda: G["b"].sendto(bytes(1232), (own(0xFC00), 1234)), "= 1232"),
    ("a.recvfrom(10**9): the whole 1232 bytes (no 1 GB buffer)", lambda: len(G["a"].recvfrom(10**9)[0]), "= 1232"),
    ("b.sendto(b'', ...) (empty datagram)", lambda: G["b"].sendto(b"", (own(mesh().rloc()), 1234)), "= 0"),
    ("a.recvfrom(8) of an empty datagram", lambda: G["a"].recvfrom(8)[1][1], "= 1235"),
    ("b.sendto(b'z', (<own RLOC>, 63535)) to c's address", lambda: G["b"].sendto(b"z", (own(mesh().rloc()), 63535)), "= 1"),
    ("c.recvfrom(8)", lambda: G["c"].recvfrom(8)[0], "= b'z'"),
    ("6 datagrams on a 5-datagram queue: the oldest dropped", loop_six, "= [b'd1', b'd2', b'd3', b'd4', b'd5']"),
    # --- rx_cb and select.poll
    ("rx_cb(handler, 'arg'): calls inside sendto, then after", rx_cb_counts, "= (0, ['arg', 'arg'])"),
    ("select.poll: readable once a datagram is queued", poll_readable, "= ([], [(True, 1)])"),
    # --- timeouts
    ("a.settimeout(-1)", lambda: G["a"].settimeout(-1), "ValueError: ('timeout must be >= 0 or None',)"),
    ("a.settimeout('x')", lambda: G["a"].settimeout("x"), 'TypeError: ("can\'t convert str to float",)'),
    ("a.settimeout(0.2); a.recvfrom(8)", lambda: (G["a"].settimeout(0.2), G["a"].recvfrom(8)), "OSError: (110,)"),
    ("a.settimeout(None); b.sendto(...); a.recvfrom(8)", lambda: (G["a"].settimeout(None), G["b"].sendto(b"w", (own(mesh().rloc()), 1234)), G["a"].recvfrom(8)[0]), "= (None, 1, b'w')"),
    ("a.setblocking(True); b.sendto(...); a.recvfrom(8)", lambda: (G["a"].setblocking(True), G["b"].sendto(b"v", (own(mesh().rloc()), 1234)), G["a"].recvfrom(8)[0]), "= (None, 1, b'v')"),
    ("a.setblocking(False); a.recvfrom(8)", lambda: (G["a"].setblocking(False), G["a"].recvfrom(8)), "= (None, (b'', None))"),
    # --- close
    ("c = None; gc.collect() closes it (a 3rd socket again)", gc_closes, "= 'MeshSocket'"),
    ("c.close()", lambda: G["c"].close(), "= None"),
    ("c.close() again", lambda: G["c"].close(), "= None"),
    ("c.recvfrom(8) after close", lambda: G["c"].recvfrom(8), "OSError: (9,)"),
    ("c.sendto(b'x', ...) after close", lambda: G["c"].sendto(b"x", (own(mesh().rloc()), 1234)), "OSError: (9,)"),
    ("c.bind(2000) after close", lambda: G["c"].bind(2000), "OSError: (9,)"),
    ("c.settimeout(1) after close", lambda: G["c"].settimeout(1), "OSError: (9,)"),
    # --- after deinit
    ("mesh.deinit()", lambda: mesh().deinit(), "= True"),
    ("mesh.deinit() again", lambda: mesh().deinit(), "= True"),
    ("mesh.state() after deinit", lambda: mesh().state(), "= -1"),
    ("mesh.single() after deinit", lambda: mesh().single(), "= True"),
    ("mesh.rloc() after deinit", lambda: mesh().rloc(), "= -1"),
    ("mesh.ipaddr() after deinit", lambda: mesh().ipaddr(), "= []"),
    ("mesh.leader() after deinit", lambda: mesh().leader(), "= None"),
    ("mesh.routers() after deinit", lambda: mesh().routers(), "= []"),
    ("mesh.neighbors() after deinit", lambda: mesh().neighbors(), "= []"),
    ("mesh.border_router() after deinit", lambda: mesh().border_router(), "= []"),
    ("mesh.border_router(net, 0) after deinit", lambda: mesh().border_router("2001:cafe::/64", 0), "OSError: (9,)"),
    ("mesh.border_router_del(net) after deinit", lambda: mesh().border_router_del("2001:cafe::/64"), "OSError: (9,)"),
    ("mesh.cli('state') after deinit", lambda: mesh().cli("state"), "= 'disabled\\r\\n'"),
    ("mesh.cli('rloc16') after deinit", lambda: mesh().cli("rloc16"), "= 'Error 13: InvalidState\\r\\n'"),
    ("mesh.cli('ping ...') after deinit", lambda: mesh().cli("ping " + own(0xFC00)), "= 'Error 13: InvalidState\\r\\n'"),
    ("mesh.rx_cb(handler, None) after deinit", lambda: mesh().rx_cb(lambda a: None, None), "= 0"),
    ("mesh.rx_cb(None, None)", lambda: mesh().rx_cb(None, None), "= 0"),
    ("a.recvfrom(8) after deinit (sockets closed)", lambda: G["a"].recvfrom(8), "OSError: (9,)"),
    ("a.sendto(b'x', ...) after deinit", lambda: G["a"].sendto(b"x", (own(0xFC00), 1234)), "OSError: (9,)"),
    ("a.close() after deinit", lambda: G["a"].close(), "= None"),
    ("socket.socket(AF_LORA, SOCK_RAW) after deinit", lambda: socket.socket(socket.AF_LORA, socket.SOCK_RAW), "OSError: ('the mesh is not running: call LoRa.Mesh() first',)"),
    ("lora.Mesh() again, then deinit()", lambda: (lora().Mesh() is mesh(), mesh().state() in (1, 4), mesh().deinit()), "= (True, True, True)"),
]


def outcome(call):
    try:
        return "= " + repr(call())
    except Exception as e:
        return "%s: %r" % (type(e).__name__, e.args)


mismatches = 0
for name, call, expected in TABLE:
    got = outcome(call)
    print(name, "->", got)
    if got != expected:
        mismatches += 1
        print("MISMATCH, expected", expected)
print(len(TABLE), "rows,", mismatches, "mismatches")
