//! Tests of the IPv6 service against OpenThread's datagrams: the "Decompressed 6LoWPAN IPHC"
//! tab of `tools/tshark-thread.sh -r <pcap> -x` for the frames named.

use super::*;
use crate::time::Instant;
use crate::wire::ipv6::tests::hex;
use std::string::ToString;

/// thread11.pcap frame 52: node 3 (ML-EID) sends "HelloWorld" from port 49153 to the leader
/// ALOC port 1234.
const FRAME52_UDP: &str = "6000000000121140fddead00beef0000fcb311ab06703562fddead00beef0000\
    000000fffe00fc00c00104d20012222648656c6c6f576f726c64";
/// thread11.pcap frame 54: node 3 pings the leader ALOC (id 1, seq 1, 8 data bytes).
const FRAME54_ECHO_REQUEST: &str = "6000000000103a40fddead00beef0000fcb311ab06703562\
    fddead00beef0000000000fffe00fc0080008a9e00010001001adc2900000000";
/// thread11.pcap frame 56: the leader's reply, from the ALOC.
const FRAME56_ECHO_REPLY: &str = "6000000000103a40fddead00beef0000000000fffe00fc00\
    fddead00beef0000fcb311ab067035628100899e00010001001adc2900000000";
/// thread11-line.pcap frame 133: node 1 (leader, RLOC16 0xc000) pings ff03::1; Hop-by-Hop
/// header with the MPL option (seed 0xc000, sequence 0).
const LINE133_MULTICAST_REQUEST: &str = "6000000000180040fddead00beef000053bb4796907200a4\
    ff030000000000000000000000000001\
    3a006d044000c00080004e420001000100199c1b00000000";
/// thread11-line.pcap frame 137: node 2's reply to it, from its ML-EID.
const LINE137_MULTICAST_REPLY: &str = "6000000000103a40fddead00beef00002b1e3034847a2755\
    fddead00beef000053bb4796907200a48100db550001000100199c1b00000000";

fn addr(s: &str) -> Ipv6Address {
    Ipv6Address::parse(s).unwrap()
}

const ML_PREFIX: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0, 0];

fn node(link_local: &str, ml_eid: &str, rloc16: u16) -> NodeAddresses {
    NodeAddresses {
        mesh_local_prefix: ML_PREFIX,
        link_local: addr(link_local),
        ml_eid: addr(ml_eid),
        rloc16: Some(rloc16),
        aloc16s: Vec::new(),
        slaac: Vec::new(),
        is_router: false,
    }
}

/// thread11.pcap's leader (node 1): answers to the leader ALOC. Its ML-EID is not in the
/// capture; any other one will do.
fn leader() -> NodeAddresses {
    let mut n = node(
        "fe80::301:101:101:101",
        "fdde:ad00:beef:0:1111:2222:3333:4444",
        0x0400,
    );
    n.aloc16s.push(0xfc00).unwrap();
    n.is_router = true;
    n
}

/// thread11.pcap's node 3, a child.
fn node3() -> NodeAddresses {
    node(
        "fe80::303:303:303:303",
        "fdde:ad00:beef:0:fcb3:11ab:670:3562",
        0x0401,
    )
}

#[test]
fn real_udp_datagram_reaches_the_socket_bound_to_its_port() {
    let mut net = Net::new();
    let s = net.sockets.open().unwrap();
    net.sockets.bind(s, 1234).unwrap();
    let d = hex(FRAME52_UDP);
    assert_eq!(
        net.deliver(Instant(0), &d, &leader()),
        Delivery::Socket {
            socket: s,
            border_router: false
        }
    );
    assert_eq!(net.sockets.pending(s), 1);
    assert_eq!(net.sockets.take_notifications(), 1 << s.0);
    let mut buf = [0u8; 64];
    let (n, from, port) = net.sockets.recv(s, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"HelloWorld");
    assert_eq!(from, node3().ml_eid);
    assert_eq!(port, 49153);
    assert_eq!(net.counters().rx_socket, 1);
    // The same datagram with no socket on 1234, or to a node without the ALOC.
    assert_eq!(
        net.deliver(Instant(0), &d, &leader()),
        Delivery::Socket {
            socket: s,
            border_router: false
        }
    );
    net.sockets.close(s);
    assert_eq!(
        net.deliver(Instant(0), &d, &leader()),
        Delivery::Dropped(DropReason::NoSocket)
    );
    assert_eq!(
        net.deliver(Instant(0), &d, &node3()),
        Delivery::Dropped(DropReason::NotForUs)
    );
    assert_eq!(net.counters().dropped_no_socket, 1);
    assert_eq!(net.counters().dropped_not_for_us, 1);
}

#[test]
fn sendto_from_an_unbound_socket_is_openthreads_datagram() {
    let mut net = Net::new();
    let s = net.sockets.open().unwrap();
    let aloc = addr("fdde:ad00:beef::ff:fe00:fc00");
    let mut out = [0u8; 1280];
    let n = net
        .sendto(s, &aloc, 1234, b"HelloWorld", &node3(), &mut out)
        .unwrap();
    assert_eq!(&out[..n], &hex(FRAME52_UDP)[..]);
    assert_eq!(
        net.sockets.binding(s),
        Some(Binding::AnyAddress { port: 49153 })
    );
    let too_big = [0u8; sockets::MAX_UDP_PAYLOAD + 1];
    assert_eq!(
        net.sendto(s, &aloc, 1234, &too_big, &node3(), &mut out),
        Err(NetError::MessageTooLong)
    );
    assert_eq!(
        net.sendto(s, &aloc, 1234, b"x", &node3(), &mut out[..48]),
        Err(NetError::MessageTooLong)
    );
    net.sockets.close(s);
    assert_eq!(
        net.sendto(s, &aloc, 1234, b"x", &node3(), &mut out),
        Err(NetError::InvalidArgument)
    );
}

#[test]
fn build_udp_and_echo_request_are_byte_exact() {
    let src = node3().ml_eid;
    let aloc = addr("fdde:ad00:beef::ff:fe00:fc00");
    let mut out = [0u8; 128];
    let n = build_udp(&src, &aloc, 49153, 1234, b"HelloWorld", 64, &mut out).unwrap();
    assert_eq!(&out[..n], &hex(FRAME52_UDP)[..]);
    // The request's first data bytes are OpenThread's millisecond clock: 0x001adc29.
    let n = build_echo_request(&src, &aloc, 1, 1, 8, 64, Instant(0x001a_dc29), &mut out).unwrap();
    assert_eq!(&out[..n], &hex(FRAME54_ECHO_REQUEST)[..]);
    assert_eq!(
        build_udp(&src, &aloc, 1, 2, &[0; 1233], 64, &mut [0u8; 2000]),
        Err(NetError::MessageTooLong)
    );
}

#[test]
fn echo_request_is_answered_with_openthreads_reply() {
    let mut net = Net::new();
    let d = hex(FRAME54_ECHO_REQUEST);
    let Delivery::EchoRequest(req) = net.deliver(Instant(0), &d, &leader()) else {
        panic!("not an echo request");
    };
    assert_eq!((req.ident, req.seq, req.data_len), (1, 1, 8));
    let mut out = [0u8; 128];
    let n = build_echo_reply(&d, &req, &leader(), &mut out).unwrap();
    assert_eq!(&out[..n], &hex(FRAME56_ECHO_REPLY)[..]);
    assert_eq!(net.counters().rx_echo_requests, 1);
    // A request the caller mangled is refused, not a panic.
    let bad = EchoRequest {
        data_offset: usize::MAX,
        ..req
    };
    assert_eq!(
        build_echo_reply(&d, &bad, &leader(), &mut out),
        Err(NetError::InvalidArgument)
    );
}

#[test]
fn ping_and_its_reply_make_the_cli_line() {
    let mut net = Net::new();
    let aloc = addr("fdde:ad00:beef::ff:fe00:fc00");
    let sent = Instant(0x001a_dc29);
    let mut out = [0u8; 128];
    let n = net
        .ping(sent, &aloc, 1, 1, 8, 64, &node3(), &mut out)
        .unwrap();
    assert_eq!(&out[..n], &hex(FRAME54_ECHO_REQUEST)[..]);
    let reply = hex(FRAME56_ECHO_REPLY);
    let Delivery::PingReply(r) = net.deliver(Instant(sent.0 + 2), &reply, &node3()) else {
        panic!("reply not matched");
    };
    // cli-node3.txt, line 80.
    assert_eq!(
        r.to_string(),
        "16 bytes from fdde:ad00:beef:0:0:ff:fe00:fc00: icmp_seq=1 hlim=64 time=2ms"
    );
    // Without an outstanding ping the same reply is dropped and counted.
    let mut other = Net::new();
    assert_eq!(
        other.deliver(Instant(0), &reply, &node3()),
        Delivery::Dropped(DropReason::UnmatchedEchoReply)
    );
    assert_eq!(other.counters().dropped_unmatched_reply, 1);
}

#[test]
fn multicast_ping_carries_mpl_and_is_answered_from_the_ml_eid() {
    let line_node1 = node(
        "fe80::301:101:101:101",
        "fdde:ad00:beef:0:53bb:4796:9072:a4",
        0xc000,
    );
    let line_node2 = node(
        "fe80::302:202:202:202",
        "fdde:ad00:beef:0:2b1e:3034:847a:2755",
        0x0400,
    );
    let mut net1 = Net::new();
    let sent = Instant(0x0019_9c1b);
    let mut out = [0u8; 128];
    let n = net1
        .ping(
            sent,
            &Ipv6Address::REALM_LOCAL_ALL_NODES,
            1,
            1,
            8,
            64,
            &line_node1,
            &mut out,
        )
        .unwrap();
    let request = hex(LINE133_MULTICAST_REQUEST);
    assert_eq!(&out[..n], &request[..]);

    let mut net2 = Net::new();
    let Delivery::EchoRequest(req) = net2.deliver(Instant(0), &request, &line_node2) else {
        panic!("multicast request not accepted");
    };
    let n = build_echo_reply(&request, &req, &line_node2, &mut out).unwrap();
    let reply = hex(LINE137_MULTICAST_REPLY);
    assert_eq!(&out[..n], &reply[..]);

    let Delivery::PingReply(r) = net1.deliver(Instant(sent.0 + 5), &reply, &line_node1) else {
        panic!("reply not matched");
    };
    // cli-line-node1.txt, line 46.
    assert_eq!(
        r.to_string(),
        "16 bytes from fdde:ad00:beef:0:2b1e:3034:847a:2755: icmp_seq=1 hlim=64 time=5ms"
    );
}

#[test]
fn hop_by_hop_options_are_skipped_unless_rfc8200_says_drop() {
    let line_node2 = node(
        "fe80::302:202:202:202",
        "fdde:ad00:beef:0:2b1e:3034:847a:2755",
        0x0400,
    );
    let mut net = Net::new();
    let mut d = hex(LINE133_MULTICAST_REQUEST);
    // An unknown option whose action bits are 00 is skipped (the checksum does not cover it).
    d[42] = 0x0d;
    assert!(matches!(
        net.deliver(Instant(0), &d, &line_node2),
        Delivery::EchoRequest(_)
    ));
    // Action 01: discard.
    d[42] = 0x4d;
    assert_eq!(
        net.deliver(Instant(0), &d, &line_node2),
        Delivery::Dropped(DropReason::Unsupported)
    );
    // Hdr Ext Len beyond the datagram.
    let mut d = hex(LINE133_MULTICAST_REQUEST);
    d[41] = 3;
    assert_eq!(
        net.deliver(Instant(0), &d, &line_node2),
        Delivery::Dropped(DropReason::Malformed)
    );
    assert_eq!(net.counters().dropped_unsupported, 1);
    assert_eq!(net.counters().dropped_malformed, 1);
}

#[test]
fn multicast_reaches_subscribed_groups_only() {
    let ll_peer = addr("fe80::302:202:202:202");
    let ml_peer = addr("fdde:ad00:beef:0:2b1e:3034:847a:2755");
    let mut me = node3();
    let mut net = Net::new();
    let any = net.sockets.open().unwrap();
    net.sockets.bind(any, 1234).unwrap();
    let one = net.sockets.open().unwrap();
    net.sockets.bind_addr(one, me.ml_eid, 1235).unwrap();
    let mut out = [0u8; 128];
    let mut send = |net: &mut Net, me: &NodeAddresses, group: &str, port: u16| {
        let g = addr(group);
        let src = if g.0[1] & 0x0f == 2 { ll_peer } else { ml_peer };
        let n = build_udp(&src, &g, 5000, port, b"m", 64, &mut out).unwrap();
        net.deliver(Instant(0), &out[..n], me)
    };
    let queued = Delivery::Socket {
        socket: any,
        border_router: false,
    };
    let not_for_us = Delivery::Dropped(DropReason::NotForUs);
    assert_eq!(send(&mut net, &me, "ff02::1", 1234), queued);
    assert_eq!(send(&mut net, &me, "ff03::1", 1234), queued);
    assert_eq!(
        send(&mut net, &me, "ff33:40:fdde:ad00:beef:0:0:1", 1234),
        queued
    );
    assert_eq!(send(&mut net, &me, "ff02::2", 1234), not_for_us);
    assert_eq!(send(&mut net, &me, "ff03::2", 1234), not_for_us);
    assert_eq!(send(&mut net, &me, "ff05::1", 1234), not_for_us);
    me.is_router = true;
    assert_eq!(send(&mut net, &me, "ff02::2", 1234), queued);
    assert_eq!(send(&mut net, &me, "ff03::2", 1234), queued);
    // A socket bound to one unicast address hears no multicast.
    assert_eq!(
        send(&mut net, &me, "ff03::1", 1235),
        Delivery::Dropped(DropReason::NoSocket)
    );
    assert_eq!(net.sockets.pending(any), QUEUE_LEN);
    assert_eq!(net.sockets.counters().queue_overflows, 0);
    assert_eq!(net.counters().dropped_not_for_us, 3);
}

#[test]
fn stack_ports_go_to_mle_and_tmf_with_payload_offsets() {
    let me = node3();
    let mut net = Net::new();
    let src = addr("fe80::301:101:101:101");
    let mut out = [0u8; 128];
    let n = build_udp(
        &src,
        &Ipv6Address::LINK_LOCAL_ALL_NODES,
        19788,
        19788,
        b"\xffmle",
        255,
        &mut out,
    )
    .unwrap();
    let Delivery::Mle(m) = net.deliver(Instant(0), &out[..n], &me) else {
        panic!("not MLE");
    };
    assert_eq!(
        &out[m.payload_offset..m.payload_offset + m.payload_len],
        b"\xffmle"
    );
    assert_eq!((m.src, m.src_port, m.hop_limit), (src, 19788, 255));
    let n = build_udp(&src, &me.link_local, 61631, 61631, b"coap", 64, &mut out).unwrap();
    let Delivery::Tmf(t) = net.deliver(Instant(0), &out[..n], &me) else {
        panic!("not TMF");
    };
    assert_eq!(
        &out[t.payload_offset..t.payload_offset + t.payload_len],
        b"coap"
    );
    assert_eq!((net.counters().rx_mle, net.counters().rx_tmf), (1, 1));
}

#[test]
fn border_router_datagrams_get_the_pymesh_header() {
    let mut me = leader();
    let slaac = addr("2001:cafe:cafe:cafe:a5d2:6934:9acd:66b3");
    me.slaac.push(slaac).unwrap();
    let prefix = addr("2001:cafe:cafe:cafe::");
    let mut net = Net::new();
    net.set_border_router_prefixes(&[(prefix, 64)]);
    let any = net.sockets.open().unwrap();
    net.sockets.bind(any, 1234).unwrap();
    let inside = net.sockets.open().unwrap();
    net.sockets.bind_addr(inside, slaac, 1235).unwrap();

    let sender = addr("2001:cafe:cafe:cafe:1:2:3:4");
    let external = addr("2001:cafe:cafe:cafe::99");
    let mut out = [0u8; 128];
    let n = build_udp(&sender, &external, 49160, 5683, b"abc", 64, &mut out).unwrap();
    assert_eq!(
        net.deliver(Instant(0), &out[..n], &me),
        Delivery::Socket {
            socket: inside,
            border_router: true
        }
    );
    let mut buf = [0u8; 64];
    let (len, from, port) = net.sockets.recv(inside, &mut buf).unwrap();
    // pycom-behaviour.md: 0xBB, 16-byte destination, big-endian destination port, payload.
    let mut expected = std::vec![0xBB];
    expected.extend_from_slice(&external.0);
    expected.extend_from_slice(&5683u16.to_be_bytes());
    expected.extend_from_slice(b"abc");
    assert_eq!(&buf[..len], &expected[..]);
    assert_eq!((from, port), (sender, 49160));

    // Our own SLAAC address is ours: plain delivery, no header.
    let n = build_udp(&sender, &slaac, 49160, 1235, b"abc", 64, &mut out).unwrap();
    assert_eq!(
        net.deliver(Instant(0), &out[..n], &me),
        Delivery::Socket {
            socket: inside,
            border_router: false
        }
    );
    // Without a socket inside the prefix: the socket bound to the destination port, else
    // any bound socket.
    net.sockets.close(inside);
    let n = build_udp(&sender, &external, 49160, 1234, b"abc", 64, &mut out).unwrap();
    let third = net.sockets.open().unwrap();
    net.sockets.bind(third, 1234 + 1).unwrap();
    assert_eq!(
        net.deliver(Instant(0), &out[..n], &me),
        Delivery::Socket {
            socket: any,
            border_router: true
        }
    );
    net.sockets.close(any);
    assert_eq!(
        net.deliver(Instant(0), &out[..n], &me),
        Delivery::Socket {
            socket: third,
            border_router: true
        }
    );
    // Outside every prefix: not ours.
    let n = build_udp(
        &sender,
        &addr("2001:dead::1"),
        1,
        1234,
        b"abc",
        64,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        net.deliver(Instant(0), &out[..n], &me),
        Delivery::Dropped(DropReason::NotForUs)
    );
    assert_eq!(net.counters().rx_border_router, 3);
    net.set_border_router_prefixes(&[]);
    let n = build_udp(&sender, &external, 49160, 1234, b"abc", 64, &mut out).unwrap();
    assert_eq!(
        net.deliver(Instant(0), &out[..n], &me),
        Delivery::Dropped(DropReason::NotForUs)
    );
}

#[test]
fn maximal_border_router_datagram_fits_a_socket() {
    let me = leader();
    let mut net = Net::new();
    net.set_border_router_prefixes(&[(addr("2001:cafe::"), 32)]);
    let s = net.sockets.open().unwrap();
    net.sockets.bind(s, 2000).unwrap();
    let payload = [0x5a; sockets::MAX_UDP_PAYLOAD];
    let mut out = [0u8; 1280];
    let n = build_udp(
        &addr("2001:cafe::1"),
        &addr("2001:cafe::2"),
        1,
        2,
        &payload,
        64,
        &mut out,
    )
    .unwrap();
    assert_eq!(n, 1280);
    assert!(matches!(
        net.deliver(Instant(0), &out[..n], &me),
        Delivery::Socket {
            border_router: true,
            ..
        }
    ));
    let mut buf = [0u8; 2000];
    let (len, _, _) = net.sockets.recv(s, &mut buf).unwrap();
    assert_eq!(len, sockets::MAX_QUEUED_LEN);
    assert_eq!(&buf[19..len], &payload[..]);
}

#[test]
fn bad_datagrams_are_counted_never_a_panic() {
    let me = leader();
    let mut net = Net::new();
    let s = net.sockets.open().unwrap();
    net.sockets.bind(s, 1234).unwrap();
    let d = hex(FRAME52_UDP);
    for n in 0..d.len() {
        assert_eq!(
            net.deliver(Instant(0), &d[..n], &me),
            Delivery::Dropped(DropReason::Malformed),
            "len {n}"
        );
    }
    assert_eq!(net.counters().dropped_malformed, d.len() as u32);
    let mut bad = d.clone();
    bad[50] ^= 1; // a payload byte
    assert_eq!(
        net.deliver(Instant(0), &bad, &me),
        Delivery::Dropped(DropReason::Checksum)
    );
    let mut bad = d.clone();
    bad[5] = 10; // IPv6 payload shorter than the UDP Length
    assert_eq!(
        net.deliver(Instant(0), &bad, &me),
        Delivery::Dropped(DropReason::Malformed)
    );
    let mut bad = hex(FRAME54_ECHO_REQUEST);
    bad[50] ^= 1;
    assert_eq!(
        net.deliver(Instant(0), &bad, &me),
        Delivery::Dropped(DropReason::Checksum)
    );
    let mut bad = d.clone();
    bad[6] = 6; // TCP
    assert_eq!(
        net.deliver(Instant(0), &bad, &me),
        Delivery::Dropped(DropReason::Unsupported)
    );
    assert_eq!(net.counters().dropped_checksum, 2);
    assert_eq!(net.sockets.pending(s), 0);

    // Every single-byte corruption of every vector, and a pseudo-random sweep: no panic.
    let vectors = [
        hex(FRAME52_UDP),
        hex(FRAME54_ECHO_REQUEST),
        hex(FRAME56_ECHO_REPLY),
        hex(LINE133_MULTICAST_REQUEST),
    ];
    let mut x: u32 = 0x1234_5678;
    let before = net.counters().rx_datagrams;
    let mut calls = 0;
    for v in &vectors {
        for i in 0..v.len() {
            for delta in [1u8, 0x80, 0xff] {
                let mut m = v.clone();
                m[i] = m[i].wrapping_add(delta);
                let _ = net.deliver(Instant(0), &m, &me);
                calls += 1;
            }
        }
        for _ in 0..2000 {
            let mut m = v.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = (x as usize) % m.len();
                m[i] = (x >> 8) as u8;
            }
            let _ = net.deliver(Instant(0), &m, &me);
            calls += 1;
        }
    }
    // Every datagram is counted once, whatever became of it.
    assert_eq!(net.counters().rx_datagrams - before, calls);
}

#[test]
fn source_selection_follows_openthread() {
    let mut me = node3();
    let ll = me.link_local;
    let ml = me.ml_eid;
    let rloc = me.rloc().unwrap();
    let pick = |me: &NodeAddresses, dst: &str| select_source(&addr(dst), me).unwrap();
    assert_eq!(pick(&me, "fe80::301:101:101:101"), ll);
    assert_eq!(pick(&me, "ff02::1"), ll);
    assert_eq!(pick(&me, "ff03::1"), ml);
    assert_eq!(pick(&me, "fdde:ad00:beef::ff:fe00:d800"), rloc);
    // ALOC destination: the ML-EID (thread11.pcap frame 52).
    assert_eq!(pick(&me, "fdde:ad00:beef::ff:fe00:fc00"), ml);
    assert_eq!(pick(&me, "fdde:ad00:beef:0:86c3:6130:98cc:6633"), ml);
    assert_eq!(pick(&me, "2001:cafe:cafe:cafe::1"), ml);
    let slaac = addr("2001:cafe:cafe:cafe:a5d2:6934:9acd:66b3");
    me.slaac.push(slaac).unwrap();
    assert_eq!(pick(&me, "2001:cafe:cafe:cafe::1"), slaac);
    assert_eq!(pick(&me, "2001:db8::1"), slaac);
    assert_eq!(pick(&me, "fdde:ad00:beef::ff:fe00:d800"), rloc);
    me.rloc16 = None;
    assert_eq!(pick(&me, "fdde:ad00:beef::ff:fe00:d800"), ml);
    assert_eq!(
        select_source(&Ipv6Address::UNSPECIFIED, &me),
        Err(NetError::HostUnreachable)
    );
}

#[test]
fn errno_values_are_distinct_where_python_distinguishes_them() {
    let all = [
        NetError::TooManySockets,
        NetError::InvalidPort,
        NetError::AddressInUse,
        NetError::HostUnreachable,
        NetError::AddressFamily,
        NetError::MessageTooLong,
    ];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a.errno(), b.errno(), "{a:?} {b:?}");
        }
    }
    assert_eq!(
        NetError::InvalidArgument.errno(),
        NetError::InvalidPort.errno()
    );
}
