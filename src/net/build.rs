//! Datagrams this node originates: UDP (sockets' `sendto`), ICMPv6 echo request (the CLI's
//! `ping`) and echo reply, each a complete IPv6 datagram with its checksum, ready for 6LoWPAN.

use super::{select_source, EchoRequest, NetError, NodeAddresses};
use crate::time::Instant;
use crate::wire::icmpv6::{self, Icmpv6Repr};
use crate::wire::ipv6::{self, next_header, Ipv6Repr};
use crate::wire::udp::{self, UdpRepr};
use crate::wire::Ipv6Address;

/// OpenThread's default hop limit for the datagrams it originates (`kDefaultHopLimit`),
/// seen in every echo and UDP datagram of the captures.
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// The MPL option (RFC 7731) OpenThread puts in a Hop-by-Hop header on the multicast
/// datagrams of realm-local or larger scope it originates, so MPL forwarders flood them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplTag {
    /// Seed id: the RLOC16 (S=1); `None` elides it (S=0, the source address is the seed).
    pub seed: Option<u16>,
    pub sequence: u8,
}

/// Length of the Hop-by-Hop header carrying the MPL option (either seed form fits in 8).
const MPL_HOP_BY_HOP_LEN: usize = 8;

/// Whether OpenThread adds the MPL option for `dst`: multicast of scope 3 (realm) or larger.
pub fn needs_mpl(dst: &Ipv6Address) -> bool {
    dst.is_multicast() && (dst.0[1] & 0x0f) >= 3
}

/// Writes the IPv6 header (and the Hop-by-Hop MPL header when `mpl` is given); returns the
/// datagram's total length and where the upper-layer message starts.
fn emit_header(
    src: &Ipv6Address,
    dst: &Ipv6Address,
    upper_protocol: u8,
    upper_len: usize,
    hop_limit: u8,
    mpl: Option<MplTag>,
    out: &mut [u8],
) -> Result<(usize, usize), NetError> {
    let ext_len = if mpl.is_some() { MPL_HOP_BY_HOP_LEN } else { 0 };
    let offset = ipv6::HEADER_LEN + ext_len;
    let total = offset + upper_len;
    if total > ipv6::MIN_MTU || out.len() < total {
        return Err(NetError::MessageTooLong);
    }
    let repr = Ipv6Repr {
        traffic_class: 0,
        flow_label: 0,
        // total <= 1280 above.
        payload_len: (ext_len + upper_len) as u16,
        next_header: if mpl.is_some() {
            next_header::HOP_BY_HOP
        } else {
            upper_protocol
        },
        hop_limit,
        src_addr: *src,
        dst_addr: *dst,
    };
    repr.emit(out).map_err(|_| NetError::MessageTooLong)?;
    if let Some(tag) = mpl {
        let h = &mut out[ipv6::HEADER_LEN..offset];
        // Next header, Hdr Ext Len 0 (8 bytes), MPL option type; then the option data.
        h[..3].copy_from_slice(&[upper_protocol, 0, ipv6::option_type::MPL]);
        match tag.seed {
            // Length 4: flags S=1, sequence, 16-bit seed (thread11-line.pcap frame 133).
            Some(seed) => {
                h[3..6].copy_from_slice(&[4, 0x40, tag.sequence]);
                h[6..8].copy_from_slice(&seed.to_be_bytes());
            }
            // Length 2: flags S=0, sequence; PadN of no data fills the 8 bytes.
            None => h[3..8].copy_from_slice(&[2, 0x00, tag.sequence, ipv6::option_type::PADN, 0]),
        }
    }
    Ok((total, offset))
}

/// Builds a UDP datagram into `out`; returns its length. `MessageTooLong` (EMSGSIZE) when it
/// would exceed 1280 bytes or `out`.
#[allow(clippy::too_many_arguments)]
pub fn build_udp(
    src: &Ipv6Address,
    dst: &Ipv6Address,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    hop_limit: u8,
    out: &mut [u8],
) -> Result<usize, NetError> {
    build_udp_mpl(src, dst, src_port, dst_port, payload, hop_limit, None, out)
}

/// [`build_udp`] with an optional MPL Hop-by-Hop header (see [`needs_mpl`]).
#[allow(clippy::too_many_arguments)]
pub fn build_udp_mpl(
    src: &Ipv6Address,
    dst: &Ipv6Address,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    hop_limit: u8,
    mpl: Option<MplTag>,
    out: &mut [u8],
) -> Result<usize, NetError> {
    let upper = udp::HEADER_LEN + payload.len();
    let (total, offset) = emit_header(src, dst, next_header::UDP, upper, hop_limit, mpl, out)?;
    UdpRepr { src_port, dst_port }
        .emit(&mut out[offset..total], payload, src, dst)
        .map_err(|_| NetError::MessageTooLong)?;
    Ok(total)
}

/// Builds an echo request with `payload_size` data bytes as OpenThread's CLI does: the first
/// four carry `now` in milliseconds (big-endian, truncated to 32 bits), the rest are zero.
#[allow(clippy::too_many_arguments)]
pub fn build_echo_request(
    src: &Ipv6Address,
    dst: &Ipv6Address,
    ident: u16,
    seq: u16,
    payload_size: u16,
    hop_limit: u8,
    now: Instant,
    out: &mut [u8],
) -> Result<usize, NetError> {
    build_echo_request_mpl(
        src,
        dst,
        ident,
        seq,
        payload_size,
        hop_limit,
        now,
        None,
        out,
    )
}

/// [`build_echo_request`] with an optional MPL Hop-by-Hop header (see [`needs_mpl`]).
#[allow(clippy::too_many_arguments)]
pub fn build_echo_request_mpl(
    src: &Ipv6Address,
    dst: &Ipv6Address,
    ident: u16,
    seq: u16,
    payload_size: u16,
    hop_limit: u8,
    now: Instant,
    mpl: Option<MplTag>,
    out: &mut [u8],
) -> Result<usize, NetError> {
    let upper = 8 + usize::from(payload_size);
    let (total, offset) = emit_header(src, dst, next_header::ICMPV6, upper, hop_limit, mpl, out)?;
    let msg = &mut out[offset..total];
    msg[4..6].copy_from_slice(&ident.to_be_bytes());
    msg[6..8].copy_from_slice(&seq.to_be_bytes());
    let data = &mut msg[8..];
    data.fill(0);
    let stamp = (now.millis() as u32).to_be_bytes();
    let n = data.len().min(4);
    data[..n].copy_from_slice(&stamp[..n]);
    let mut p = icmpv6::Packet::new_unchecked(msg);
    p.set_msg_type(icmpv6::message_type::ECHO_REQUEST);
    p.set_msg_code(0);
    p.fill_checksum(src, dst);
    Ok(total)
}

/// Builds the reply to an echo request [`super::Net::deliver`] reported, from the datagram it
/// was given. Source: the address the request was sent to, or for a multicast request the
/// address [`select_source`] picks for the requester (as OpenThread does: thread11-line.pcap
/// frame 137). Unicast, so no MPL.
pub fn build_echo_reply(
    datagram: &[u8],
    request: &EchoRequest,
    addrs: &NodeAddresses,
    out: &mut [u8],
) -> Result<usize, NetError> {
    let data = request
        .data_offset
        .checked_add(request.data_len)
        .and_then(|end| datagram.get(request.data_offset..end))
        .ok_or(NetError::InvalidArgument)?;
    let src = if request.dst.is_multicast() {
        select_source(&request.src, addrs)?
    } else {
        request.dst
    };
    let repr = Icmpv6Repr::EchoReply {
        ident: request.ident,
        seq_no: request.seq,
        data,
    };
    let (total, offset) = emit_header(
        &src,
        &request.src,
        next_header::ICMPV6,
        repr.buffer_len(),
        DEFAULT_HOP_LIMIT,
        None,
        out,
    )?;
    repr.emit(&mut out[offset..total], &src, &request.src)
        .map_err(|_| NetError::MessageTooLong)?;
    Ok(total)
}
