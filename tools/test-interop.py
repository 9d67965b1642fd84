#!/usr/bin/env python3
"""Interop tests between OpenThread simulation nodes (build/ot/ot-cli-ftd) and ours.

    python3 tools/test-interop.py OT_CLI [OUR_NODE] [--firmware UNIX_FW] [test ...]

OUR_NODE is pymesh-ot-node; UNIX_FW the MicroPython unix firmware (build/unix/micropython), for
the test that runs it on OpenThread's medium. Each test runs on its own PORT_OFFSET (its own
multicast port), so tests do not hear each other; logs go to build/interop/<test>.log. Exit
status 1 when any test fails.
"""

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from otcli import MicroPythonNode, OtNode, OtError, PymeshNode  # noqa: E402

LOG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'interop')


def test_ot_pair(ot_cli, our_node, port_offset, log):
    """Two OpenThread nodes: the first forms a partition, the second attaches to it."""
    with OtNode(ot_cli, 1, port_offset, log_path=log) as a, \
            OtNode(ot_cli, 2, port_offset, log_path=log) as b:
        a.form()
        a.wait_state('leader', 15)
        dataset = a.value('dataset active -x')
        b.cmd(f'dataset set active {dataset}')
        b.cmd('ifconfig up')
        b.cmd('thread start')
        b.wait_state(('child', 'router'), 15)
        ext_b = b.value('extaddr')
        children = a.cmd('child table')
        routers = a.cmd('router table')
        if not any(ext_b in line for line in children + routers):
            raise OtError(f'leader does not list {ext_b}: child table {children!r}, '
                          f'router table {routers!r}')
        if a.value('partitionid') != b.value('partitionid'):
            raise OtError('two partitions')


# Our node's network (NetworkIdentity::pymesh with Pymesh's default key), as an OpenThread
# dataset: the OpenThread node must be configured with the same identity to be in it.
PYMESH_DATASET = dict(
    network_key='1234c0de1ab51234c0de1ab5ca1a110f',
    panid=0x1234,
    channel=11,
    extpanid='dead00beef00cafe',
    mesh_local_prefix='fdde:ad00:beef:0::',
    network_name='Pymesh',
)


def pymesh_node(our_node, node_id, port_offset, log, allow=None):
    if not our_node:
        raise OtError('needs the pymesh-ot-node binary (second argument)')
    pcap = os.path.splitext(log)[0] + f'-pm{node_id}.pcap'
    extra = ['--pcap', pcap]
    if allow:
        extra += ['--allow', ','.join(str(n) for n in allow)]
    return PymeshNode(our_node, node_id, port_offset, log_path=log, extra_args=extra)


def same_partition(a, b):
    pa, pb = a.value('partitionid'), b.value('partitionid')
    if int(pa) != int(pb):
        raise OtError(f'partition ids differ: {pa} and {pb}')


def test_ot_leader_pymesh_child(ot_cli, our_node, port_offset, log):
    """An OpenThread leader; our node attaches as its child."""
    with OtNode(ot_cli, 1, port_offset, log_path=log) as ot:
        ot.form(**PYMESH_DATASET)
        ot.wait_state('leader', 15)
        with pymesh_node(our_node, 2, port_offset, log) as pm:
            ext = pm.value('extaddr')
            pm.wait_state('child', 15)
            children = ot.cmd('child table')
            rows = [line for line in children if ext in line]
            if len(rows) != 1:
                raise OtError(f'OpenThread child table does not list {ext}: {children!r}')
            # Our RLOC16 is a child id under the leader's router id, as OpenThread assigned it.
            rloc16 = int(pm.value('rloc16'), 16)
            if f'0x{rloc16:04x}' not in rows[0]:
                raise OtError(f'our rloc16 {rloc16:04x} is not in {rows[0]!r}')
            same_partition(ot, pm)


def test_pymesh_leader_ot_child(ot_cli, our_node, port_offset, log):
    """Our node leads a partition; an OpenThread node attaches as its child."""
    with pymesh_node(our_node, 1, port_offset, log) as pm:
        pm.wait_state('leader', 15)
        with OtNode(ot_cli, 2, port_offset, log_path=log) as ot:
            ot.form(**PYMESH_DATASET)
            ot.wait_state('child', 15)
            ext = ot.value('extaddr')
            children = pm.cmd('child table')
            if not any(ext in line for line in children):
                raise OtError(f'our child table does not list {ext}: {children!r}')
            same_partition(ot, pm)


def assert_role_history(node, child, leader):
    """`counters mle` (OpenThread's format, ours too): was the node ever child / leader?"""
    counters = {}
    for line in node.cmd('counters mle'):
        k, _, v = line.partition(':')
        counters[k.strip()] = v.strip()
    for role, expected in (('Child', child), ('Leader', leader)):
        n = int(counters.get(f'Role {role}', '-1'))
        if n < 0 or (n > 0) != expected:
            raise OtError(f'node {node.node_id}: Role {role}: {n} (expected '
                          f'{"some" if expected else "none"})')


def routed_router_ids(node):
    """The router ids a node has a route to, from its `router table` (OpenThread's format,
    ours too): itself, its linked neighbours (Link 1) and routers with a next hop (not 63)."""
    own = int(node.value('rloc16'), 16) >> 10
    ids = {own}
    for line in node.cmd('router table'):
        cells = [c.strip() for c in line.strip('|').split('|')]
        # | ID | RLOC16 | Next Hop | Path Cost | LQ In | LQ Out | Age | Extended MAC | Link |
        if cells and cells[0].isdigit() and (cells[-1] == '1' or cells[2] != '63'):
            ids.add(int(cells[0]))
    return ids


def link_to(node, router_id):
    """`None` when `node` has a two-way link to router `router_id`, else why not."""
    rows = [line for line in node.cmd('router table')
            if line.strip('| ').split('|')[0].strip() == str(router_id)]
    if len(rows) != 1:
        return f'node {node.node_id} does not list router {router_id}'
    cells = [c.strip() for c in rows[0].strip('|').split('|')]
    # | ID | RLOC16 | Next Hop | Path Cost | LQ In | LQ Out | Age | Extended MAC | Link |
    if cells[-1] != '1' or cells[4] == '0' or cells[5] == '0':
        return f'node {node.node_id}: no two-way link to router {router_id}: {rows[0]!r}'
    return None


def wait_linked_routers(a, b, timeout=15):
    """Each lists the other's router id in its router table, with a two-way link (link
    quality in and out), within `timeout` seconds."""
    ra, rb = int(a.value('rloc16'), 16) >> 10, int(b.value('rloc16'), 16) >> 10
    why = []

    def linked():
        why[:] = [w for w in (link_to(a, rb), link_to(b, ra)) if w]
        return not why
    try:
        a.wait_until(linked, timeout, interval=0.5, what='two-way router link')
    except OtError as e:
        raise OtError(f'{e}: {why}') from None


def test_ot_child_becomes_router_under_pymesh_leader(ot_cli, our_node, port_offset, log):
    """Our leader; an OpenThread node attaches as child, asks for a router id (Address
    Solicit to our leader) and becomes a router linked with ours."""
    with pymesh_node(our_node, 1, port_offset, log) as pm:
        pm.wait_state('leader', 15)
        with OtNode(ot_cli, 2, port_offset, log_path=log) as ot:
            ot.cmd('routerselectionjitter 1')
            ot.form(**PYMESH_DATASET)
            ot.wait_state('router', 30)
            assert_role_history(ot, child=True, leader=False)
            same_partition(ot, pm)
            wait_linked_routers(pm, ot)


def test_pymesh_child_becomes_router_under_ot_leader(ot_cli, our_node, port_offset, log):
    """An OpenThread leader; our node attaches as child, asks for a router id and becomes a
    router linked with OpenThread's."""
    with OtNode(ot_cli, 1, port_offset, log_path=log) as ot:
        ot.form(**PYMESH_DATASET)
        ot.wait_state('leader', 15)
        with pymesh_node(our_node, 2, port_offset, log) as pm:
            pm.cmd('routerselectionjitter 1')
            pm.wait_state('router', 30)
            assert_role_history(pm, child=True, leader=False)
            same_partition(ot, pm)
            wait_linked_routers(ot, pm)


def ping(src, dst_addr, tries=1):
    """One echo request from `src` to `dst_addr` (up to `tries`, a second apart); raises
    unless a reply came back."""
    for attempt in range(tries):
        out = src.cmd(f'ping {dst_addr}', timeout=10)
        if any('1 packets received' in line for line in out):
            return
        if attempt + 1 < tries:
            time.sleep(1)
    raise OtError(f'node {src.node_id}: ping {dst_addr}: {out!r}')


def addresses(node):
    """A node's RLOC, ML-EID and link-local address, from `ipaddr`."""
    found = {}
    for a in node.cmd('ipaddr'):
        if a.startswith('fe80:'):
            found['link-local'] = a
        elif a.startswith('fdde:ad00:beef:0:0:ff:fe00:'):
            if not a.endswith(':fc00'):
                found['rloc'] = a
        elif a.startswith('fdde:ad00:beef:0:'):
            found['ml-eid'] = a
    if len(found) != 3:
        raise OtError(f'node {node.node_id}: ipaddr {found!r}')
    return found


def ping_both_ways(ot, pm):
    """Pings OpenThread -> ours and ours -> OpenThread at every address of the other node."""
    ot_addrs, pm_addrs = addresses(ot), addresses(pm)
    # Ours first: OpenThread's ML-EID was never heard from, so our node resolves it with an
    # Address Query (a/aq to ff03::2 with MPL) and OpenThread answers with a/an.
    ping(pm, ot_addrs['ml-eid'])
    # OpenThread resolves our ML-EID the same way; our node answers whether child or leader.
    ping(ot, pm_addrs['ml-eid'])
    for kind in ('rloc', 'link-local'):
        ping(ot, pm_addrs[kind])
    for kind in ('rloc', 'link-local'):
        ping(pm, ot_addrs[kind])


def test_ping_child_and_parent(ot_cli, our_node, port_offset, log):
    """ICMPv6 echo both ways between a parent and its child, in both arrangements (our child
    of an OpenThread leader, an OpenThread child of our leader), to the RLOC, the ML-EID (found
    by OpenThread's Address Query, answered by ours) and the link-local address, and to the
    leader's ALOC."""
    with OtNode(ot_cli, 1, port_offset, log_path=log) as ot:
        ot.form(**PYMESH_DATASET)
        ot.wait_state('leader', 15)
        with pymesh_node(our_node, 2, port_offset, log) as pm:
            try:
                pm.wait_state('child', 15)
                ping_both_ways(ot, pm)
                ping(pm, 'fdde:ad00:beef:0:0:ff:fe00:fc00')
            finally:
                pm.cmd('pymesh counters')
    with pymesh_node(our_node, 3, port_offset, log) as pm:
        pm.wait_state('leader', 15)
        with OtNode(ot_cli, 4, port_offset, log_path=log) as ot:
            try:
                ot.form(**PYMESH_DATASET)
                ot.wait_state('child', 15)
                ping_both_ways(ot, pm)
                ping(ot, 'fdde:ad00:beef:0:0:ff:fe00:fc00')
            finally:
                pm.cmd('pymesh counters')


def slaac_in(node, prefix):
    """The node's addresses inside `prefix` (a /64 given as 'fd00:7::'), from `ipaddr`."""
    head = prefix.rstrip(':').split(':')
    found = []
    for a in node.cmd('ipaddr'):
        parts = a.split(':')
        if parts[:len(head)] == head and not a.startswith('fdde:ad00:beef:'):
            found.append(a)
    return found


def test_border_router_prefixes_both_ways(ot_cli, our_node, port_offset, log):
    """A border-router prefix set on an OpenThread leader gives our child a SLAAC address in
    it; one set on our child (Server Data to the OpenThread leader) gives OpenThread one; both
    answer pings there. Then the same with our node leading and an OpenThread child."""
    for ours_lead in (False, True):
        ot_id, pm_id = (2, 1) if ours_lead else (1, 2)
        # The leader first, alone; then the other node.
        pm = ot = None
        try:
            if ours_lead:
                pm = pymesh_node(our_node, pm_id, port_offset, log)
                pm.wait_state('leader', 15)
                ot = OtNode(ot_cli, ot_id, port_offset, log_path=log)
                ot.form(**PYMESH_DATASET)
                ot.wait_state('child', 15)
            else:
                ot = OtNode(ot_cli, ot_id, port_offset, log_path=log)
                ot.form(**PYMESH_DATASET)
                ot.wait_state('leader', 15)
                pm = pymesh_node(our_node, pm_id, port_offset, log)
                pm.wait_state('child', 15)
            ot.cmd('prefix add fd00:7::/64 paros med')
            ot.cmd('netdata register')
            pm.cmd('prefix add fd00:8::/64 paros med')
            pm.cmd('netdata register')
            for node, prefix in ((pm, 'fd00:7::'), (ot, 'fd00:8::'), (pm, 'fd00:8::'),
                                 (ot, 'fd00:7::')):
                node.wait_until(lambda: len(slaac_in(node, prefix)) == 1, 15,
                                what=f'one SLAAC address in {prefix}/64')
            ping(ot, slaac_in(pm, 'fd00:7::')[0])
            ping(ot, slaac_in(pm, 'fd00:8::')[0])
            netdata = ' '.join(ot.cmd('netdata show'))
            for prefix in ('fd00:7:0:0::/64', 'fd00:8:0:0::/64'):
                if prefix not in netdata:
                    raise OtError(f'OpenThread network data lacks {prefix}: {netdata}')
        finally:
            if pm:
                try:
                    pm.cmd('pymesh counters')
                except OtError:
                    pass
                pm.close()
            if ot:
                ot.close()


def test_mixed_line_of_four(ot_cli, our_node, port_offset, log):
    """A line ours(1) - OpenThread(2) - ours(3) - OpenThread(4), each hearing only its
    neighbours (node id allowlists on both sides): one partition, all four routers; pings (RLOC
    and ML-EID) and UDP (ML-EID and RLOC) between the two ends in both directions, three hops
    through both implementations."""
    neighbours = {1: [2], 2: [1, 3], 3: [2, 4], 4: [3]}
    nodes = {}
    try:
        ot2 = nodes[2] = OtNode(ot_cli, 2, port_offset, log_path=log)
        for n in neighbours[2]:
            ot2.cmd(f'nodeidfilter allow {n}')
        ot2.cmd('routerselectionjitter 1')
        ot2.form(**PYMESH_DATASET)
        ot2.wait_state('leader', 15)
        for n in (1, 3):
            pm = nodes[n] = pymesh_node(our_node, n, port_offset, log,
                                        allow=neighbours[n])
            pm.cmd('routerselectionjitter 1')
        # Node 4 attaches through node 3, which must be a router first.
        nodes[3].wait_state('router', 30)
        ot4 = nodes[4] = OtNode(ot_cli, 4, port_offset, log_path=log)
        for n in neighbours[4]:
            ot4.cmd(f'nodeidfilter allow {n}')
        ot4.cmd('routerselectionjitter 1')
        ot4.form(**PYMESH_DATASET)
        for n, node in nodes.items():
            node.wait_state(('router', 'leader'), 40)
        # Routes to every router, from the Route64 of the Advertisements relayed hop by hop.
        ids = {n: int(node.value('rloc16'), 16) >> 10 for n, node in nodes.items()}
        for n, node in nodes.items():
            node.wait_until(lambda: routed_router_ids(node) >= set(ids.values()), 60,
                            interval=1, what=f'routes to routers {sorted(ids.values())}')
        partitions = {n: int(node.value('partitionid')) for n, node in nodes.items()}
        if len(set(partitions.values())) != 1:
            raise OtError(f'partition ids {partitions}')
        addrs = {n: addresses(node) for n, node in nodes.items()}
        rloc = {n: a['rloc'] for n, a in addrs.items()}
        ping(nodes[1], rloc[4])
        ping(nodes[4], rloc[1])
        ping(nodes[3], rloc[1])
        ping(nodes[1], rloc[3])
        # ML-EIDs end to end: each end resolves the other's with an Address Query flooded by
        # MPL through both implementations' routers (ours forward OpenThread's and the
        # reverse), answered with an Address Notification routed back.
        eid = {n: a['ml-eid'] for n, a in addrs.items()}
        ping(nodes[1], eid[4])
        ping(nodes[4], eid[1])
        # UDP end to end, both directions, ML-EID and RLOC.
        for n in (1, 4):
            nodes[n].cmd('udp open')
            nodes[n].cmd('udp bind :: 1234')
        udp_exchange(nodes[1], nodes[4], eid[1], eid[4], 'line-from-pymesh')
        udp_exchange(nodes[4], nodes[1], eid[4], eid[1], 'line-from-openthread')
        udp_exchange(nodes[1], nodes[4], rloc[1], rloc[4], 'rloc-from-pymesh')
        udp_exchange(nodes[4], nodes[1], rloc[4], rloc[1], 'rloc-from-openthread')
        for n in (1, 4):
            nodes[n].cmd('udp close')
    finally:
        for n, node in nodes.items():
            try:
                node.cmd('router table')  # into the log, for the reader of a failure
                if isinstance(node, PymeshNode):
                    node.cmd('pymesh counters')
            except OtError:
                pass
            node.close()


def udp_exchange(a, b, a_addr, b_addr, text):
    """`a` sends `text` to `b_addr` port 1234 from its port 1234; `b` prints it (OpenThread's
    `N bytes from ADDR PORT TEXT`) with `a_addr` as the source."""
    a.cmd(f'udp send {b_addr} 1234 {text}')
    line = b.wait_line(lambda l: l.endswith(f' {text}') and 'bytes from' in l, 10)
    expected = f'{len(text)} bytes from {a_addr} 1234 {text}'
    if line != expected:
        raise OtError(f'node {b.node_id} printed {line!r}, expected {expected!r}')


def test_udp_both_ways(ot_cli, our_node, port_offset, log):
    """UDP datagrams both ways between our child and an OpenThread leader, from and to the
    ML-EIDs (OpenThread's Address Query answered by ours; ours reaches OpenThread's ML-EID
    once it heard from it) and the link-local addresses."""
    with OtNode(ot_cli, 1, port_offset, log_path=log) as ot:
        ot.form(**PYMESH_DATASET)
        ot.wait_state('leader', 15)
        with pymesh_node(our_node, 2, port_offset, log) as pm:
            pm.wait_state('child', 15)
            ot_addrs, pm_addrs = addresses(ot), addresses(pm)
            for node in (ot, pm):
                node.cmd('udp open')
                node.cmd('udp bind :: 1234')
            udp_exchange(ot, pm, ot_addrs['ml-eid'], pm_addrs['ml-eid'], 'hello-from-openthread')
            udp_exchange(pm, ot, pm_addrs['ml-eid'], ot_addrs['ml-eid'], 'hello-from-pymesh')
            udp_exchange(ot, pm, ot_addrs['link-local'], pm_addrs['link-local'], 'll-from-ot')
            udp_exchange(pm, ot, pm_addrs['link-local'], ot_addrs['link-local'], 'll-from-pm')
            for node in (ot, pm):
                node.cmd('udp close')


def test_partitions_merge(ot_cli, our_node, port_offset, log):
    """An OpenThread partition and one of ours, out of range of each other, come into range:
    they merge into one partition (one leader), and ping each other."""
    with OtNode(ot_cli, 1, port_offset, log_path=log) as ot, \
            pymesh_node(our_node, 2, port_offset, log, allow=[3]) as pm:
        ot.cmd('nodeidfilter deny 2')
        for node in (ot, pm):
            node.cmd('routerselectionjitter 1')
        ot.form(**PYMESH_DATASET)
        ot.wait_state('leader', 15)
        pm.wait_state('leader', 15)
        before = (int(ot.value('partitionid')), int(pm.value('partitionid')))
        if before[0] == before[1]:
            raise OtError(f'one partition before they met: {before}')
        ot.cmd('nodeidfilter clear')
        pm.cmd('pymesh allow all')

        def merged():
            return int(ot.value('partitionid')) == int(pm.value('partitionid'))
        ot.wait_until(merged, 120, interval=1, what='one partition')
        states = sorted([ot.state(), pm.state()])
        if states not in (['child', 'leader'], ['leader', 'router']):
            raise OtError(f'after the merge: {states}')
        after = int(ot.value('partitionid'))
        winner = 'OpenThread' if after == before[0] else 'ours' if after == before[1] else '?'
        with open(log, 'a') as f:
            f.write(f'partitions {before} merged into {after} ({winner}), states {states}\n')
        # The node that moved is a child at first and becomes a router a moment later
        # (router selection jitter 1 s), which changes its RLOC: the echo of a ping to the
        # child's RLOC went unanswered, then "NoRoute" (CI, session 6). So: both routers
        # first, then their RLOCs. Up to three tries each way.
        pm.wait_until(lambda: sorted([ot.state(), pm.state()]) == ['leader', 'router'], 30,
                      interval=1, what='the moved node a router')
        ping(ot, addresses(pm)['rloc'], tries=3)
        ping(pm, addresses(ot)['rloc'], tries=3)


OTHER_KEY = '00112233445566778899aabbccddeeff'


def test_other_key_no_attach(ot_cli, our_node, port_offset, log):
    """Another network key: neither side attaches to the other, in either direction; each
    forms its own partition."""
    # An OpenThread leader with another key; our node (Pymesh's key) starts next to it.
    with OtNode(ot_cli, 1, port_offset, log_path=log) as ot:
        ot.form(**dict(PYMESH_DATASET, network_key=OTHER_KEY))
        ot.wait_state('leader', 15)
        with pymesh_node(our_node, 2, port_offset, log) as pm:
            ext = pm.value('extaddr')
            # Thread's profile: two Parent Requests (0.75 s + 1.25 s), then it leads alone.
            pm.wait_state('leader', 15)
            if any(ext in line for line in ot.cmd('child table') + ot.cmd('router table')):
                raise OtError(f'OpenThread (other key) lists our node {ext}')
            if int(ot.value('partitionid')) == int(pm.value('partitionid')):
                raise OtError('one partition despite different keys')
    # The reverse: our leader, an OpenThread node with another key starts next to it.
    with pymesh_node(our_node, 1, port_offset, log) as pm:
        pm.wait_state('leader', 15)
        with OtNode(ot_cli, 2, port_offset, log_path=log) as ot:
            ot.form(**dict(PYMESH_DATASET, network_key=OTHER_KEY))
            ot.wait_state('leader', 30)
            ext = ot.value('extaddr')
            if any(ext in line for line in pm.cmd('child table') + pm.cmd('router table')):
                raise OtError(f'our node lists OpenThread (other key) {ext}')
            if int(ot.value('partitionid')) == int(pm.value('partitionid')):
                raise OtError('one partition despite different keys')


# Pycom's mesh.state() numbering.
PYCOM_STATE = {0: 'disabled', 1: 'detached', 2: 'child', 3: 'router', 4: 'leader'}


def mp_states_until(mp, wanted, timeout):
    """Polls Pycom's `mesh.state()` every 50 ms until it is `wanted`, at most `timeout`
    seconds; returns the states seen, in order, without repeats."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        state = mp.eval('mesh.state()')
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == wanted:
            return seen
        if time.monotonic() >= deadline:
            raise OtError(f'node {mp.node_id}: mesh.state() not {wanted} in {timeout} s '
                          f'(states {seen})')
        time.sleep(0.05)


def mp_recv(mp, sock, timeout):
    """Polls `sock.recvfrom(128)` (non-blocking, Pycom's default) until a datagram is there;
    returns (data, (address, port))."""
    deadline = time.monotonic() + timeout
    while True:
        data, addr = mp.eval(f'{sock}.recvfrom(128)')
        if data:
            return data, addr
        if time.monotonic() >= deadline:
            raise OtError(f'node {mp.node_id}: no datagram on {sock} in {timeout} s')
        time.sleep(0.05)


def mp_ping(mp, addr):
    """`mesh.cli('ping ADDR')` in the firmware: OpenThread's reply line, then its statistics
    line with the one echo answered."""
    lines = mp.eval(f"mesh.cli('ping {addr}')", timeout=10).split('\r\n')
    if not (lines[0].startswith(f'16 bytes from {addr}: icmp_seq=')
            and lines[1].startswith('1 packets transmitted, 1 packets received.')):
        raise OtError(f'node {mp.node_id}: ping {addr}: {lines!r}')


# The test's channel: not Pymesh's default (11), so that a node left on its LoRa identity's
# channel label, or on the default of PYMESH_OT_CHANNEL, could not be in the network.
UNIX_OT_CHANNEL = 15


def test_unix_firmware_on_openthread_medium(ot_cli, our_node, port_offset, log):
    """The MicroPython unix firmware, on OpenThread's medium through PYMESH_OT_MEDIUM and
    driven only through Pycom's API, next to an OpenThread leader: it attaches as child and
    becomes a router linked with OpenThread's, runs Thread's timing profile on the medium's
    channel, exchanges UDP both ways (AF_LORA socket, OpenThread's `udp` CLI) to and from the
    ML-EIDs and the RLOCs, and pings both ways (OpenThread's `ping`, `mesh.cli('ping ...')`)."""
    if not UNIX_FIRMWARE:
        raise OtError('needs the unix firmware (--firmware build/unix/micropython)')
    pcap = os.path.splitext(log)[0] + '-mp2.pcap'
    with OtNode(ot_cli, 1, port_offset, log_path=log) as ot:
        ot.form(**dict(PYMESH_DATASET, channel=UNIX_OT_CHANNEL))
        ot.wait_state('leader', 15)
        with MicroPythonNode(UNIX_FIRMWARE, 2, port_offset, log_path=log,
                             channel=UNIX_OT_CHANNEL, pcap=pcap) as mp:
            try:
                unix_firmware_checks(ot, mp)
            finally:
                try:
                    ot.cmd('router table')  # into the log, for the reader of a failure
                    mp.cmd('counters mac')
                except OtError:
                    pass


def unix_firmware_checks(ot, mp):
    # Pycom's API only: LoRa as on a LoPy4 in Europe, the mesh with Pymesh's default key.
    mp.py('from network import LoRa')
    mp.py('import socket')
    mp.py('lora = LoRa(mode=LoRa.LORA, region=LoRa.EU868)')
    mp.py('mesh = lora.Mesh()')
    # Router-ineligible at first, so that the child phase lasts until the test has looked at
    # it: with the role enabled a child asks for a router id after a random delay of up to
    # routerselectionjitter seconds, and mesh.state() was seen to go from 1 to 3.
    mp.py("mesh.cli('routerrole disable')")
    mp.py("mesh.cli('routerselectionjitter 1')")

    # (a) Detached (Pycom: 1), then OpenThread's child (2), listed in its child table with the
    # RLOC16 it gave.
    states = mp_states_until(mp, 2, 10)
    if set(states) - {0, 1, 2}:
        raise OtError(f'mesh.state() went {[PYCOM_STATE.get(s, s) for s in states]}')
    rloc16 = mp.eval('mesh.rloc()')
    ext = ''.join(f'{b:02x}' for b in mp.eval('lora.mac()'))
    rows = [line for line in ot.cmd('child table') if ext in line]
    if len(rows) != 1 or f'0x{rloc16:04x}' not in rows[0]:
        raise OtError(f'OpenThread child table has no row with {ext} and 0x{rloc16:04x}: '
                      f'{rows!r}')
    same_partition(ot, mp)
    # Then a router (3) with a router id from OpenThread's leader (Address Solicit), straight
    # from child, never leader.
    mp.py("mesh.cli('routerrole enable')")
    states = mp_states_until(mp, 3, 10)
    if states[0] != 2 or set(states) - {2, 3}:
        raise OtError(f'mesh.state() went {[PYCOM_STATE.get(s, s) for s in states]}')
    assert_role_history(mp, child=True, leader=False)
    if mp.eval('mesh.single()') is not False:
        raise OtError('mesh.single() is not False with an OpenThread leader next to it')
    # Thread's timing profile on the medium's channel (with the LoRa profile a node's child
    # timeout is over 1200 s at SF7/BW125, its channel Pymesh's 11).
    channel, child_timeout = mp.value('channel'), mp.value('childtimeout')
    if (channel, child_timeout) != (str(UNIX_OT_CHANNEL), '240'):
        raise OtError(f"channel {channel}, child timeout {child_timeout}: not Thread's "
                      f'profile on channel {UNIX_OT_CHANNEL}')
    same_partition(ot, mp)
    rloc16 = mp.eval('mesh.rloc()')
    rows = [line for line in ot.cmd('router table') if ext in line]
    if len(rows) != 1 or f'0x{rloc16:04x}' not in rows[0]:
        raise OtError(f'OpenThread router table has no row with {ext} and 0x{rloc16:04x}: '
                      f'{rows!r}')
    wait_linked_routers(ot, mp)

    # Pycom's ipaddr(): RLOC, ML-EID and link-local, as the CLI lists them.
    mp_addrs = addresses(mp)
    ipaddr = mp.eval('mesh.ipaddr()')
    if sorted(ipaddr) != sorted(mp_addrs.values()):
        raise OtError(f'mesh.ipaddr() {ipaddr} against cli ipaddr {mp_addrs}')
    if mp_addrs['rloc'] != f'fdde:ad00:beef:0:0:ff:fe00:{rloc16:x}':
        raise OtError(f'RLOC {mp_addrs["rloc"]} is not that of mesh.rloc() {rloc16:#x}')
    ot_addrs = addresses(ot)

    # (b) UDP both ways: an AF_LORA socket on port 1234, OpenThread's `udp` example socket.
    mp.py('s = socket.socket(socket.AF_LORA, socket.SOCK_RAW)')
    mp.py('s.bind(1234)')
    ot.cmd('udp open')
    ot.cmd('udp bind :: 1234')
    for kind in ('ml-eid', 'rloc'):
        text = f'{kind}-from-openthread'
        # OpenThread finds our ML-EID with an Address Query that the firmware's node answers.
        ot.cmd(f'udp send {mp_addrs[kind]} 1234 {text}')
        got = mp_recv(mp, 's', 10)
        if got != (text.encode(), (ot_addrs[kind], 1234)):
            raise OtError(f'recvfrom gave {got!r}, expected {text!r} from '
                          f'{ot_addrs[kind]} port 1234')
        text = f'{kind}-from-micropython'
        sent = mp.eval(f"s.sendto(b'{text}', ('{ot_addrs[kind]}', 1234))")
        if sent != len(text):
            raise OtError(f'sendto returned {sent!r}')
        line = ot.wait_line(lambda l: l.endswith(f' {text}') and 'bytes from' in l, 10)
        expected = f'{len(text)} bytes from {mp_addrs[kind]} 1234 {text}'
        if line != expected:
            raise OtError(f'OpenThread printed {line!r}, expected {expected!r}')
    ot.cmd('udp close')
    mp.py('s.close()')

    # (c) Pings both ways: OpenThread's `ping`, and `mesh.cli('ping ...')` in the firmware.
    for kind in ('ml-eid', 'rloc', 'link-local'):
        ping(ot, mp_addrs[kind])
        mp_ping(mp, ot_addrs[kind])
    mp_ping(mp, 'fdde:ad00:beef:0:0:ff:fe00:fc00')  # the leader ALOC
    if mp.eval('mesh.state()') != 3:
        raise OtError('no longer a router at the end')

    # Acks in time: OpenThread waits 16 ms for the ack of a frame, then sends it again, and
    # our MAC counts the copies (RxDuplicated). A mesh thread that slept through arrivals
    # (woken only by its own deadlines) still got every frame through OpenThread's retries,
    # with about two copies per frame; a scheduling hiccup on a loaded machine may cost one.
    counters = {}
    for line in mp.cmd('counters mac'):
        k, _, v = line.partition(':')
        counters[k.strip()] = int(v)
    if counters['RxDuplicated'] * 4 > counters['RxUnicast']:
        raise OtError(f"acks too late: {counters['RxDuplicated']} frames received again "
                      f"of {counters['RxUnicast']} unicast frames")


TESTS = [test_ot_pair, test_ot_leader_pymesh_child, test_pymesh_leader_ot_child,
         test_other_key_no_attach, test_ot_child_becomes_router_under_pymesh_leader,
         test_pymesh_child_becomes_router_under_ot_leader, test_ping_child_and_parent,
         test_border_router_prefixes_both_ways, test_mixed_line_of_four, test_udp_both_ways,
         test_partitions_merge, test_unix_firmware_on_openthread_medium]

# The unix firmware (--firmware), for test_unix_firmware_on_openthread_medium.
UNIX_FIRMWARE = None


def main():
    global UNIX_FIRMWARE
    args = sys.argv[1:]
    if '--firmware' in args:
        i = args.index('--firmware')
        UNIX_FIRMWARE = args[i + 1] if i + 1 < len(args) else None
        del args[i:i + 2]
        if not UNIX_FIRMWARE:
            print(__doc__)
            return 2
    if not args:
        print(__doc__)
        return 2
    ot_cli = args[0]
    our_node = args[1] if len(args) > 1 and not args[1].startswith('test_') else None
    wanted = [a for a in args[1:] if a.startswith('test_')]
    os.makedirs(LOG_DIR, exist_ok=True)
    failed = 0
    # PORT_OFFSET 20+ keeps clear of a developer's hand-started nodes (offset 0).
    for i, test in enumerate(TESTS):
        if wanted and test.__name__ not in wanted:
            continue
        log = os.path.join(LOG_DIR, test.__name__ + '.log')
        if os.path.exists(log):
            os.remove(log)
        start = time.monotonic()
        try:
            test(ot_cli, our_node, 20 + i, log)
            print(f'pass {test.__name__} ({time.monotonic() - start:.1f} s)')
        except Exception:
            failed += 1
            print(f'FAIL {test.__name__} ({time.monotonic() - start:.1f} s), log {log}')
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
