//! The node's IPv6 service: everything above 6LoWPAN that is not MLE or TMF.
//!
//! [`Net`] owns the mesh UDP [`sockets`] the Python `socket` module uses, the border-router
//! delivery of Pycom's Pymesh (a datagram to an address inside one of this node's border-router
//! prefixes is queued with a 19-byte header), ICMPv6 echo (answering pings, matching replies
//! to the CLI's pings in [`ping`]) and the receive counters. The node hands [`Net::deliver`]
//! every IPv6 datagram addressed to it, reassembled and decompressed; the datagrams this node
//! originates are built by [`build`] (with [`select_source`] choosing the source address as
//! OpenThread does). Nothing here sends: built datagrams go back to the node.

pub mod build;
pub mod mpl;
pub mod ping;
pub mod sockets;

use heapless::Vec;

pub use build::{
    build_echo_reply, build_echo_request, build_echo_request_mpl, build_udp, build_udp_mpl,
    needs_mpl, MplTag, DEFAULT_HOP_LIMIT,
};
pub use ping::{Ping, PingReply, PingRequest};
pub use sockets::{Binding, SocketId, Sockets, MAX_SOCKETS, QUEUE_LEN};

use crate::time::Instant;
use crate::wire::icmpv6::{self, Icmpv6Repr};
use crate::wire::ipv6::{
    self, next_header, HopByHopPacket, HopByHopRepr, Ipv6OptionRepr, Ipv6Repr,
};
use crate::wire::udp::{self, UdpRepr};
use crate::wire::{mle_security, tmf, Error, Ipv6Address};

/// Border-router prefixes a node can hold (its own `border_router()` entries).
pub const MAX_BORDER_ROUTER_PREFIXES: usize = 4;
/// Anycast locators (ALOCs) a node can answer to (leader, and a few service ALOCs).
pub const MAX_ALOCS: usize = 4;

/// Why a socket or send operation failed; each maps to the errno the Python side raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetError {
    /// A 4th mesh socket: EMFILE.
    TooManySockets,
    /// Port outside 1024..=63535: EINVAL.
    InvalidPort,
    /// Closed socket, second bind, multicast bind address, bad arguments: EINVAL.
    InvalidArgument,
    /// Port (and address) already bound, or reserved by the stack (MLE, TMF): EADDRINUSE.
    AddressInUse,
    /// No source address or route for the destination: EHOSTUNREACH.
    HostUnreachable,
    /// Not an IPv6 address: EAFNOSUPPORT (the shim raises it for unparsable addresses).
    AddressFamily,
    /// Datagram over 1280 bytes, or larger than the output buffer: EMSGSIZE.
    MessageTooLong,
    /// The radio's transmit queue has no room for the datagram's frames now: ENOBUFS.
    NoBuffers,
}

impl NetError {
    /// The Linux/newlib errno number (what MicroPython's `OSError` carries on the ports).
    pub const fn errno(self) -> i32 {
        match self {
            NetError::TooManySockets => 24,
            NetError::NoBuffers => 105,
            NetError::InvalidPort | NetError::InvalidArgument => 22,
            NetError::AddressInUse => 98,
            NetError::HostUnreachable => 113,
            NetError::AddressFamily => 97,
            NetError::MessageTooLong => 90,
        }
    }
}

/// Which addresses are this node's: the node answers, `deliver` asks.
pub trait AddressFilter {
    /// One of the node's unicast or anycast addresses (link-local, RLOC, ALOC, ML-EID, SLAAC).
    fn is_unicast(&self, addr: &Ipv6Address) -> bool;
    /// A multicast group the node listens to.
    fn is_subscribed(&self, group: &Ipv6Address) -> bool;
}

/// The node's addresses, for source selection and as an [`AddressFilter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddresses {
    pub mesh_local_prefix: [u8; 8],
    pub link_local: Ipv6Address,
    pub ml_eid: Ipv6Address,
    /// RLOC16 while attached.
    pub rloc16: Option<u16>,
    /// ALOC16s the node answers to (0xfc00 on the leader).
    pub aloc16s: Vec<u16, MAX_ALOCS>,
    /// SLAAC addresses formed from border-router prefixes.
    pub slaac: Vec<Ipv6Address, MAX_BORDER_ROUTER_PREFIXES>,
    /// Subscribed to ff02::2 and ff03::2: every attached FTD (router, leader, and a child, as
    /// OpenThread), which all our nodes are.
    pub is_router: bool,
}

impl NodeAddresses {
    /// Mesh-local address for a 16-bit locator: `ML-prefix:0:ff:fe00:xxxx`.
    pub fn locator(&self, locator16: u16) -> Ipv6Address {
        let [hi, lo] = locator16.to_be_bytes();
        Ipv6Address::from_prefix_iid(self.mesh_local_prefix, [0, 0, 0, 0xff, 0xfe, 0, hi, lo])
    }

    pub fn rloc(&self) -> Option<Ipv6Address> {
        self.rloc16.map(|r| self.locator(r))
    }

    /// Unicast-prefix-based "all Thread nodes" group (RFC 3306) of the mesh-local prefix,
    /// scope 2 or 3: ff32:40:<prefix>:0:1 / ff33:40:<prefix>:0:1, which OpenThread joins.
    fn all_thread_nodes(&self, scope: u8) -> Ipv6Address {
        let mut a = [0u8; 16];
        a[0] = 0xff;
        a[1] = 0x30 | scope;
        a[3] = 0x40;
        a[4..12].copy_from_slice(&self.mesh_local_prefix);
        a[15] = 1;
        Ipv6Address(a)
    }
}

impl NodeAddresses {
    /// The multicast groups [`AddressFilter::is_subscribed`] accepts, in the order OpenThread's
    /// `ipmaddr` lists them (the all-Thread-nodes groups first, then the all-routers groups of
    /// a router, then the all-nodes groups).
    pub fn multicast_groups(&self) -> Vec<Ipv6Address, 6> {
        let mut groups = Vec::new();
        let _ = groups.push(self.all_thread_nodes(3));
        let _ = groups.push(self.all_thread_nodes(2));
        if self.is_router {
            let _ = groups.push(Ipv6Address::LINK_LOCAL_ALL_ROUTERS);
            let _ = groups.push(Ipv6Address::REALM_LOCAL_ALL_ROUTERS);
        }
        let _ = groups.push(Ipv6Address::LINK_LOCAL_ALL_NODES);
        let _ = groups.push(Ipv6Address::REALM_LOCAL_ALL_NODES);
        groups
    }
}

impl AddressFilter for NodeAddresses {
    fn is_unicast(&self, addr: &Ipv6Address) -> bool {
        *addr == self.link_local
            || *addr == self.ml_eid
            || self.rloc() == Some(*addr)
            || self.aloc16s.iter().any(|a| self.locator(*a) == *addr)
            || self.slaac.contains(addr)
    }

    fn is_subscribed(&self, group: &Ipv6Address) -> bool {
        *group == Ipv6Address::LINK_LOCAL_ALL_NODES
            || *group == Ipv6Address::REALM_LOCAL_ALL_NODES
            || *group == self.all_thread_nodes(2)
            || *group == self.all_thread_nodes(3)
            || (self.is_router
                && (*group == Ipv6Address::LINK_LOCAL_ALL_ROUTERS
                    || *group == Ipv6Address::REALM_LOCAL_ALL_ROUTERS))
    }
}

/// True if the first `len` bits of `addr` and `prefix` agree (`len` above 128 never matches).
pub fn prefix_matches(addr: &Ipv6Address, prefix: &Ipv6Address, len: u8) -> bool {
    len <= 128 && common_prefix_bits(addr, prefix) >= u32::from(len)
}

fn common_prefix_bits(a: &Ipv6Address, b: &Ipv6Address) -> u32 {
    for (i, (x, y)) in a.0.iter().zip(b.0.iter()).enumerate() {
        let diff = x ^ y;
        if diff != 0 {
            return i as u32 * 8 + diff.leading_zeros();
        }
    }
    128
}

/// `ML-prefix:0:ff:fe00:xxxx` with xxxx below 0xfc00 (an RLOC, not an ALOC).
fn is_rloc_form(addr: &Ipv6Address, mesh_local_prefix: &[u8; 8]) -> bool {
    addr.prefix64() == *mesh_local_prefix
        && addr.0[8..14] == [0, 0, 0, 0xff, 0xfe, 0]
        && u16::from_be_bytes([addr.0[14], addr.0[15]]) < 0xfc00
}

/// The source address OpenThread picks for `dst` (RFC 6724 as `Ip6::SelectSourceAddress`
/// applies it): link-local for link-local destinations and ff02 multicast; for mesh-local
/// destinations the RLOC when the destination is an RLOC, else the ML-EID (an ALOC is never a
/// source, and an ALOC destination gets the ML-EID: thread11.pcap frame 52); realm-local
/// multicast the ML-EID; other destinations the address sharing the longest prefix (a SLAAC
/// address inside a border-router prefix), the ML-EID on a tie.
pub fn select_source(dst: &Ipv6Address, addrs: &NodeAddresses) -> Result<Ipv6Address, NetError> {
    if dst.is_unspecified() || dst.0 == Ipv6Address::from_segments([0, 0, 0, 0, 0, 0, 0, 1]).0 {
        return Err(NetError::HostUnreachable);
    }
    if dst.is_multicast() {
        return Ok(match dst.0[1] & 0x0f {
            0..=2 => addrs.link_local,
            _ => addrs.ml_eid,
        });
    }
    if dst.is_link_local() {
        return Ok(addrs.link_local);
    }
    if dst.prefix64() == addrs.mesh_local_prefix {
        return Ok(match addrs.rloc() {
            Some(rloc) if is_rloc_form(dst, &addrs.mesh_local_prefix) => rloc,
            _ => addrs.ml_eid,
        });
    }
    let mut best = addrs.ml_eid;
    let mut best_bits = common_prefix_bits(dst, &best).min(64);
    for a in &addrs.slaac {
        let bits = common_prefix_bits(dst, a).min(64);
        if bits > best_bits {
            best = *a;
            best_bits = bits;
        }
    }
    Ok(best)
}

/// A received UDP datagram the stack handles itself (MLE, TMF): where its payload lies in the
/// datagram given to [`Net::deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpMeta {
    pub src: Ipv6Address,
    pub dst: Ipv6Address,
    pub src_port: u16,
    pub dst_port: u16,
    pub hop_limit: u8,
    pub payload_offset: usize,
    pub payload_len: usize,
}

/// An echo request to answer with [`build_echo_reply`] (from the same datagram bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRequest {
    pub src: Ipv6Address,
    pub dst: Ipv6Address,
    pub ident: u16,
    pub seq: u16,
    /// Echo data: `datagram[data_offset..data_offset + data_len]`.
    pub data_offset: usize,
    pub data_len: usize,
}

/// Why `deliver` dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Truncated, bad version or lengths, bad extension header.
    Malformed,
    /// UDP or ICMPv6 checksum wrong (or a zero UDP checksum).
    Checksum,
    /// Not addressed to this node nor inside its border-router prefixes.
    NotForUs,
    /// UDP to a port no socket is bound to.
    NoSocket,
    /// Next header or option this node does not handle.
    Unsupported,
    /// Larger than a socket can queue.
    Oversized,
    /// Echo reply that matches no outstanding ping.
    UnmatchedEchoReply,
}

/// What became of a datagram handed to [`Net::deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued on a socket (rx_cb is due); `border_router` when it carries the 19-byte header.
    Socket {
        socket: SocketId,
        border_router: bool,
    },
    /// MLE message (UDP port 19788) for the MLE layer.
    Mle(UdpMeta),
    /// TMF/CoAP message (UDP port 61631).
    Tmf(UdpMeta),
    /// Echo request: the node should send [`build_echo_reply`]'s datagram.
    EchoRequest(EchoRequest),
    /// Echo reply to one of our pings: the CLI line.
    PingReply(PingReply),
    /// Another ICMPv6 message (destination unreachable...), counted and otherwise ignored.
    Icmp {
        msg_type: u8,
        code: u8,
    },
    Dropped(DropReason),
}

/// Receive counters of the IPv6 service (queue losses are in [`sockets::SocketCounters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// Every datagram given to `deliver`.
    pub rx_datagrams: u32,
    /// Queued on a socket (border-router ones included).
    pub rx_socket: u32,
    pub rx_border_router: u32,
    pub rx_mle: u32,
    pub rx_tmf: u32,
    pub rx_echo_requests: u32,
    pub rx_echo_replies: u32,
    pub rx_icmp_other: u32,
    pub dropped_malformed: u32,
    pub dropped_checksum: u32,
    pub dropped_not_for_us: u32,
    pub dropped_no_socket: u32,
    pub dropped_unsupported: u32,
    pub dropped_oversized: u32,
    pub dropped_unmatched_reply: u32,
}

/// Extension headers followed before giving up (Hop-by-Hop, then Destination Options).
const MAX_EXTENSION_HEADERS: usize = 4;

pub struct Net {
    pub sockets: Sockets,
    pub ping: Ping,
    border_router_prefixes: Vec<(Ipv6Address, u8), MAX_BORDER_ROUTER_PREFIXES>,
    /// Sequence of the next MPL option this node seeds (OpenThread starts at 0).
    mpl_sequence: u8,
    counters: NetCounters,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    pub const fn new() -> Self {
        Net {
            sockets: Sockets::new(),
            ping: Ping::new(),
            border_router_prefixes: Vec::new(),
            mpl_sequence: 0,
            counters: NetCounters {
                rx_datagrams: 0,
                rx_socket: 0,
                rx_border_router: 0,
                rx_mle: 0,
                rx_tmf: 0,
                rx_echo_requests: 0,
                rx_echo_replies: 0,
                rx_icmp_other: 0,
                dropped_malformed: 0,
                dropped_checksum: 0,
                dropped_not_for_us: 0,
                dropped_no_socket: 0,
                dropped_unsupported: 0,
                dropped_oversized: 0,
                dropped_unmatched_reply: 0,
            },
        }
    }

    pub fn counters(&self) -> &NetCounters {
        &self.counters
    }

    /// This node's border-router prefixes (its own `border_router()` entries); beyond
    /// [`MAX_BORDER_ROUTER_PREFIXES`], and lengths over 128, are ignored.
    pub fn set_border_router_prefixes(&mut self, prefixes: &[(Ipv6Address, u8)]) {
        self.border_router_prefixes.clear();
        for p in prefixes.iter().filter(|(_, len)| *len <= 128) {
            if self.border_router_prefixes.push(*p).is_err() {
                break;
            }
        }
    }

    pub fn border_router_prefixes(&self) -> &[(Ipv6Address, u8)] {
        &self.border_router_prefixes
    }

    /// `sendto`: builds the datagram socket `id` sends to `dst`:`dst_port` into `out`. The
    /// source is the socket's bound address, else [`select_source`]'s; an unbound socket is
    /// bound to the next ephemeral port first.
    pub fn sendto(
        &mut self,
        id: SocketId,
        dst: &Ipv6Address,
        dst_port: u16,
        payload: &[u8],
        addrs: &NodeAddresses,
        out: &mut [u8],
    ) -> Result<usize, NetError> {
        let binding = self.sockets.binding(id).ok_or(NetError::InvalidArgument)?;
        if dst_port == 0 {
            return Err(NetError::InvalidArgument);
        }
        if payload.len() > sockets::MAX_UDP_PAYLOAD {
            return Err(NetError::MessageTooLong);
        }
        let src = match binding {
            Binding::Address { addr, .. } => addr,
            _ => select_source(dst, addrs)?,
        };
        let src_port = self.sockets.source_port(id)?;
        let mpl = self.mpl_tag(dst, addrs);
        build_udp_mpl(
            &src,
            dst,
            src_port,
            dst_port,
            payload,
            DEFAULT_HOP_LIMIT,
            mpl,
            out,
        )
    }

    /// The MPL option for a datagram this node originates to `dst`, taking a sequence number.
    pub(crate) fn mpl_tag(&mut self, dst: &Ipv6Address, addrs: &NodeAddresses) -> Option<MplTag> {
        if !needs_mpl(dst) {
            return None;
        }
        let sequence = self.mpl_sequence;
        self.mpl_sequence = self.mpl_sequence.wrapping_add(1);
        Some(MplTag {
            seed: addrs.rloc16,
            sequence,
        })
    }

    /// The CLI's `ping`: builds an echo request to `dst` into `out` and remembers it.
    #[allow(clippy::too_many_arguments)]
    pub fn ping(
        &mut self,
        now: Instant,
        dst: &Ipv6Address,
        ident: u16,
        seq: u16,
        size: u16,
        hop_limit: u8,
        addrs: &NodeAddresses,
        out: &mut [u8],
    ) -> Result<usize, NetError> {
        let src = select_source(dst, addrs)?;
        let mpl = self.mpl_tag(dst, addrs);
        let n = build_echo_request_mpl(&src, dst, ident, seq, size, hop_limit, now, mpl, out)?;
        self.ping.record(PingRequest {
            dst: *dst,
            ident,
            seq,
            sent: now,
            size,
            hop_limit,
        });
        Ok(n)
    }

    fn drop(&mut self, reason: DropReason) -> Delivery {
        let c = &mut self.counters;
        match reason {
            DropReason::Malformed => c.dropped_malformed += 1,
            DropReason::Checksum => c.dropped_checksum += 1,
            DropReason::NotForUs => c.dropped_not_for_us += 1,
            DropReason::NoSocket => c.dropped_no_socket += 1,
            DropReason::Unsupported => c.dropped_unsupported += 1,
            DropReason::Oversized => c.dropped_oversized += 1,
            DropReason::UnmatchedEchoReply => c.dropped_unmatched_reply += 1,
        }
        Delivery::Dropped(reason)
    }

    /// Handles one IPv6 datagram addressed to this node (or routed to it as border router).
    /// Never panics; every datagram not handled is counted under its [`DropReason`].
    pub fn deliver(
        &mut self,
        now: Instant,
        datagram: &[u8],
        our_addresses: &dyn AddressFilter,
    ) -> Delivery {
        self.counters.rx_datagrams += 1;
        let Ok(packet) = ipv6::Packet::new_checked(datagram) else {
            return self.drop(DropReason::Malformed);
        };
        let Ok(ip) = Ipv6Repr::parse(&packet) else {
            return self.drop(DropReason::Malformed);
        };
        if ip.src_addr.is_multicast() {
            return self.drop(DropReason::Malformed);
        }
        let end = ipv6::HEADER_LEN + usize::from(ip.payload_len);
        let (upper, offset) = match skip_extension_headers(ip.next_header, datagram, end) {
            Ok(v) => v,
            Err(Error::Unsupported) => return self.drop(DropReason::Unsupported),
            Err(_) => return self.drop(DropReason::Malformed),
        };
        let dst = ip.dst_addr;
        let for_us = if dst.is_multicast() {
            our_addresses.is_subscribed(&dst)
        } else {
            our_addresses.is_unicast(&dst)
        };
        match upper {
            next_header::UDP => self.deliver_udp(&ip, datagram, offset, end, for_us),
            next_header::ICMPV6 if for_us => self.deliver_icmp(now, &ip, datagram, offset, end),
            next_header::ICMPV6 => self.drop(DropReason::NotForUs),
            _ => self.drop(DropReason::Unsupported),
        }
    }

    fn deliver_udp(
        &mut self,
        ip: &Ipv6Repr,
        datagram: &[u8],
        offset: usize,
        end: usize,
        for_us: bool,
    ) -> Delivery {
        let Ok(packet) = udp::Packet::new_checked(&datagram[offset..end]) else {
            return self.drop(DropReason::Malformed);
        };
        let Ok(u) = UdpRepr::parse(&packet, &ip.src_addr, &ip.dst_addr) else {
            return self.drop(DropReason::Checksum);
        };
        let payload = packet.payload();
        let dst = ip.dst_addr;
        if !for_us {
            let prefix = self
                .border_router_prefixes
                .iter()
                .find(|(p, len)| !dst.is_multicast() && prefix_matches(&dst, p, *len))
                .copied();
            let Some((prefix, len)) = prefix else {
                return self.drop(DropReason::NotForUs);
            };
            let Some(socket) = self
                .sockets
                .find_border_router_receiver(&prefix, len, u.dst_port)
            else {
                return self.drop(DropReason::NoSocket);
            };
            // pycom-behaviour.md "Border router": 0xBB, destination, destination port.
            let mut head = [0u8; sockets::BORDER_ROUTER_HEADER_LEN];
            head[0] = sockets::BORDER_ROUTER_MAGIC;
            head[1..17].copy_from_slice(&dst.0);
            head[17..19].copy_from_slice(&u.dst_port.to_be_bytes());
            return match self
                .sockets
                .enqueue(socket, ip.src_addr, u.src_port, &head, payload)
            {
                Ok(()) => {
                    self.counters.rx_socket += 1;
                    self.counters.rx_border_router += 1;
                    Delivery::Socket {
                        socket,
                        border_router: true,
                    }
                }
                Err(_) => self.drop(DropReason::Oversized),
            };
        }
        let meta = UdpMeta {
            src: ip.src_addr,
            dst,
            src_port: u.src_port,
            dst_port: u.dst_port,
            hop_limit: ip.hop_limit,
            payload_offset: offset + udp::HEADER_LEN,
            payload_len: payload.len(),
        };
        match u.dst_port {
            mle_security::UDP_PORT => {
                self.counters.rx_mle += 1;
                return Delivery::Mle(meta);
            }
            tmf::TMF_PORT => {
                self.counters.rx_tmf += 1;
                return Delivery::Tmf(meta);
            }
            _ => {}
        }
        let Some(socket) = self.sockets.find_receiver(&dst, u.dst_port) else {
            return self.drop(DropReason::NoSocket);
        };
        match self
            .sockets
            .enqueue(socket, ip.src_addr, u.src_port, &[], payload)
        {
            Ok(()) => {
                self.counters.rx_socket += 1;
                Delivery::Socket {
                    socket,
                    border_router: false,
                }
            }
            Err(_) => self.drop(DropReason::Oversized),
        }
    }

    fn deliver_icmp(
        &mut self,
        now: Instant,
        ip: &Ipv6Repr,
        datagram: &[u8],
        offset: usize,
        end: usize,
    ) -> Delivery {
        let msg = &datagram[offset..end];
        let Ok(packet) = icmpv6::Packet::new_checked(msg) else {
            return self.drop(DropReason::Malformed);
        };
        let repr = match Icmpv6Repr::parse(&packet, &ip.src_addr, &ip.dst_addr) {
            Ok(r) => r,
            Err(Error::Malformed) => return self.drop(DropReason::Checksum),
            Err(_) => return self.drop(DropReason::Malformed),
        };
        match repr {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                self.counters.rx_echo_requests += 1;
                Delivery::EchoRequest(EchoRequest {
                    src: ip.src_addr,
                    dst: ip.dst_addr,
                    ident,
                    seq: seq_no,
                    data_offset: offset + 8,
                    data_len: data.len(),
                })
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                self.counters.rx_echo_replies += 1;
                match self
                    .ping
                    .on_reply(now, ip.src_addr, ident, seq_no, msg.len(), ip.hop_limit)
                {
                    Some(reply) => Delivery::PingReply(reply),
                    None => self.drop(DropReason::UnmatchedEchoReply),
                }
            }
            _ => {
                self.counters.rx_icmp_other += 1;
                Delivery::Icmp {
                    msg_type: packet.msg_type(),
                    code: packet.msg_code(),
                }
            }
        }
    }
}

/// Follows Hop-by-Hop (first only) and Destination Options headers from the fixed header;
/// returns the upper-layer protocol and its offset. Options the node does not know and that
/// RFC 8200 says not to skip (action bits set) make the datagram `Unsupported`.
fn skip_extension_headers(first: u8, datagram: &[u8], end: usize) -> Result<(u8, usize), Error> {
    let mut nh = first;
    let mut offset = ipv6::HEADER_LEN;
    for i in 0..MAX_EXTENSION_HEADERS {
        let hop_by_hop = nh == next_header::HOP_BY_HOP && i == 0;
        if !hop_by_hop && nh != next_header::DST_OPTS {
            return Ok((nh, offset));
        }
        let area = datagram.get(offset..end).ok_or(Error::Truncated)?;
        let packet = HopByHopPacket::new_checked(area)?;
        let repr = HopByHopRepr::parse(&packet)?;
        for option in repr.options() {
            if let Ok(Ipv6OptionRepr::Unknown { option_type, .. }) = option {
                if option_type >> 6 != 0 {
                    return Err(Error::Unsupported);
                }
            }
        }
        nh = repr.next_header;
        offset += packet.header_len();
    }
    Err(Error::Unsupported)
}

#[cfg(test)]
mod tests;
