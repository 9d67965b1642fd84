//! MLE messages as Thread 1.1 frames: what [`super::Mle`] decides to send becomes an 802.15.4
//! data frame carrying a 6LoWPAN-compressed IPv6/UDP datagram to port 19788 with an MLE
//! message secured by the MLE key (as OpenThread sends it, byte for byte: see the tests);
//! received frames go the other way.

use crate::node::NetworkIdentity;
use crate::wire::ieee802154::{Address, Frame, FrameRepr, FrameType, FrameVersion};
use crate::wire::mle::{
    Command, MleRepr, MleTlv, Mode, RouteData, RouterIdSet, ScanMask, THREAD_VERSION_1_1,
};
use crate::wire::mle_security::{self, UDP_PORT as MLE_PORT};
use crate::wire::security::{KeyManager, OutgoingFrameCounter};
use crate::wire::sixlowpan::{self, ContextTable, FramePayload, LinkAddress};
use crate::wire::{ipv6, udp, Error, ExtAddress, Ipv6Address, ShortAddress};

use super::{LeaderData, Mle, MleCommand};

/// Largest IPv6 datagram an MLE message needs here (one unfragmented frame's worth).
const MAX_DATAGRAM: usize = 256;

/// Keys and counters of the MLE layer.
#[derive(Debug, Clone)]
pub struct Security {
    pub keys: KeyManager,
    pub mle_frame_counter: OutgoingFrameCounter,
    contexts: ContextTable,
}

impl Security {
    pub fn new(identity: &NetworkIdentity) -> Self {
        Security {
            keys: KeyManager::new(identity.network_key, identity.key_sequence),
            mle_frame_counter: OutgoingFrameCounter::default(),
            contexts: ContextTable::with_mesh_local_prefix(identity.mesh_local_prefix),
        }
    }
}

/// What an outgoing frame needs from the node.
pub struct Context<'a> {
    pub ext_addr: ExtAddress,
    pub identity: &'a NetworkIdentity,
    pub mac_sequence: u8,
}

/// Mode TLV of a full Thread device that keeps its receiver on (rx-on-when-idle, FTD, full
/// network data): OpenThread's 0x0f for a router-eligible node.
const MODE_FTD: Mode = Mode(0x0f);
/// Scan Mask: routers (0x80), routers and REEDs (0xc0).
const SCAN_MASK_ROUTERS: ScanMask = ScanMask(0x80);
const SCAN_MASK_ROUTERS_AND_REEDS: ScanMask = ScanMask(0xc0);

fn link_local(ext: ExtAddress) -> Ipv6Address {
    Ipv6Address::from_prefix_iid([0xfe, 0x80, 0, 0, 0, 0, 0, 0], ext.to_iid())
}

/// Emits the frame for `command` into `out`; returns its length.
pub fn emit_mle(
    ctx: &Context,
    sec: &mut Security,
    mle: &Mle,
    command: MleCommand,
    out: &mut [u8],
) -> Result<usize, Error> {
    let mut route_data = [0u8; 64];
    let (message, dst, key_id_mode) = match command {
        MleCommand::ParentRequest {
            to_reeds,
            challenge,
        } => {
            let scan = if to_reeds {
                SCAN_MASK_ROUTERS_AND_REEDS
            } else {
                SCAN_MASK_ROUTERS
            };
            let mut m = MleRepr::new(Command::ParentRequest);
            m.push(MleTlv::Mode(MODE_FTD))?;
            m.push(MleTlv::Challenge(&[]))?;
            m.push(MleTlv::ScanMask(scan))?;
            m.push(MleTlv::Version(THREAD_VERSION_1_1))?;
            // The challenge borrows a local; put it in place now that the order is fixed.
            m.tlvs[1] = MleTlv::Challenge(&challenge);
            let mut plain = [0u8; 64];
            let n = m.emit(&mut plain)?;
            return secure_and_frame(
                ctx,
                sec,
                &plain[..n],
                Ipv6Address::LINK_LOCAL_ALL_ROUTERS,
                2,
                out,
            );
        }
        MleCommand::Advertisement => {
            let ld = mle.leader_data().ok_or(Error::Malformed)?;
            let (mask, n_routes) = route64(mle, &mut route_data);
            let mut m = MleRepr::new(Command::Advertisement);
            m.push(MleTlv::SourceAddress(mle.rloc16()))?;
            m.push(MleTlv::LeaderData(to_wire_leader_data(ld)))?;
            m.push(MleTlv::Route64(crate::wire::mle::Route64 {
                id_sequence: mle.router_id_sequence(),
                router_mask: mask,
                route_data: &route_data[..n_routes],
            }))?;
            (m, Ipv6Address::LINK_LOCAL_ALL_NODES, 2u8)
        }
    };
    let mut plain = [0u8; 128];
    let n = message.emit(&mut plain)?;
    secure_and_frame(ctx, sec, &plain[..n], dst, key_id_mode, out)
}

fn to_wire_leader_data(ld: LeaderData) -> crate::wire::mle::LeaderData {
    crate::wire::mle::LeaderData {
        partition_id: ld.partition_id,
        weighting: ld.weighting,
        data_version: ld.data_version,
        stable_data_version: ld.stable_data_version,
        leader_router_id: ld.leader_router_id,
    }
}

/// Router mask and one route byte per router, in id order. Our own entry carries route cost 1
/// and link qualities 0, as OpenThread writes it.
fn route64(mle: &Mle, out: &mut [u8; 64]) -> (RouterIdSet, usize) {
    let mut mask = RouterIdSet::default();
    for r in mle.routers() {
        mask.insert(r.router_id);
    }
    let mut n = 0;
    for id in mask.iter() {
        let Some(r) = mle.routers().iter().find(|r| r.router_id == id) else {
            continue;
        };
        let own =
            Some(r.router_id) == mle.leader_data().map(|l| l.leader_router_id) && r.path_cost == 0;
        out[n] = if own {
            RouteData::new(0, 0, 1).0
        } else {
            RouteData::new(0, 0, r.path_cost.min(15)).0
        };
        n += 1;
    }
    (mask, n)
}

/// Secures `plain` (command + TLVs) as an MLE message from our link-local address to `dst`,
/// wraps it in IPv6/UDP, compresses it and frames it for broadcast.
fn secure_and_frame(
    ctx: &Context,
    sec: &mut Security,
    plain: &[u8],
    dst: Ipv6Address,
    key_id_mode: u8,
    out: &mut [u8],
) -> Result<usize, Error> {
    let src = link_local(ctx.ext_addr);
    let aux = mle_security::aux_security_header(
        key_id_mode,
        sec.keys.key_sequence(),
        sec.mle_frame_counter.allocate()?,
    )?;

    // IPv6 header | UDP header | secured MLE message.
    let mut datagram = [0u8; MAX_DATAGRAM];
    let udp_start = ipv6::HEADER_LEN;
    let mle_start = udp_start + udp::HEADER_LEN;
    let mle_len = mle_security::secure(
        &aux,
        sec.keys.mle_key(),
        &ctx.ext_addr,
        &src,
        &dst,
        plain,
        datagram.get_mut(mle_start..).ok_or(Error::BufferTooSmall)?,
    )?;
    let udp_len = udp::HEADER_LEN + mle_len;
    ipv6::Ipv6Repr {
        traffic_class: 0,
        flow_label: 0,
        payload_len: udp_len as u16,
        next_header: ipv6::next_header::UDP,
        hop_limit: 255,
        src_addr: src,
        dst_addr: dst,
    }
    .emit(&mut datagram)?;
    {
        let mut u = udp::Packet::new_unchecked(&mut datagram[udp_start..udp_start + udp_len]);
        u.set_src_port(MLE_PORT);
        u.set_dst_port(MLE_PORT);
        u.set_len(udp_len as u16);
        u.set_checksum(0);
        u.fill_checksum(&src, &dst);
    }
    let datagram = &datagram[..udp_start + udp_len];

    let link_src = LinkAddress::Extended(ctx.ext_addr);
    let link_dst = LinkAddress::Short(ShortAddress::BROADCAST);
    let (compressed, consumed) =
        sixlowpan::compress(datagram, &link_src, &link_dst, &sec.contexts)?;

    let header = FrameRepr {
        frame_type: FrameType::Data,
        frame_pending: false,
        ack_request: false,
        pan_id_compression: true,
        frame_version: FrameVersion::Ieee2006,
        sequence_number: ctx.mac_sequence,
        dst_pan_id: Some(ctx.identity.pan_id),
        dst_addr: Some(Address::Short(ShortAddress::BROADCAST)),
        src_pan_id: None,
        src_addr: Some(Address::Extended(ctx.ext_addr)),
        security: None,
    };
    let mut pos = header.emit(out)?;
    pos += compressed.emit(out.get_mut(pos..).ok_or(Error::BufferTooSmall)?)?;
    let rest = &datagram[consumed..];
    out.get_mut(pos..pos + rest.len())
        .ok_or(Error::BufferTooSmall)?
        .copy_from_slice(rest);
    Ok(pos + rest.len())
}

/// What a received frame turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming {
    /// An MLE message whose MIC verified: command number and sender.
    Mle { command: u8, sender: ExtAddress },
    /// Anything this node does not handle yet (MAC-secured data, acks, other UDP ports).
    Other,
}

/// Why a received frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxError {
    /// Wrong key, bad MIC, replayed counter.
    Security,
    /// Not a frame we can parse.
    Malformed,
}

/// Parses a received frame up to the MLE command.
pub fn parse_incoming(
    _identity: &NetworkIdentity,
    sec: &mut Security,
    bytes: &[u8],
) -> Result<Incoming, RxError> {
    let frame = Frame::new_checked(bytes).map_err(|_| RxError::Malformed)?;
    let header = FrameRepr::parse(&frame).map_err(|_| RxError::Malformed)?;
    if header.frame_type != FrameType::Data || header.security.is_some() {
        return Ok(Incoming::Other);
    }
    let to_link = |a: Option<Address>| match a {
        Some(Address::Short(s)) => Some(LinkAddress::Short(s)),
        Some(Address::Extended(e)) => Some(LinkAddress::Extended(e)),
        None => None,
    };
    let (Some(src), Some(dst)) = (to_link(header.src_addr), to_link(header.dst_addr)) else {
        return Err(RxError::Malformed);
    };
    let lowpan = sixlowpan::FrameRepr::parse(frame.payload(), &src, &dst, &sec.contexts)
        .map_err(|_| RxError::Malformed)?;
    let FramePayload::Iphc {
        header: ip,
        payload,
    } = lowpan.payload
    else {
        return Ok(Incoming::Other);
    };
    if lowpan.fragment.is_some() {
        return Ok(Incoming::Other);
    }
    let mut datagram = [0u8; MAX_DATAGRAM];
    let n = ip
        .decompress(payload, None, &mut datagram)
        .map_err(|_| RxError::Malformed)?;
    let datagram = &datagram[..n];
    let Some(u) = ip.udp else {
        return Ok(Incoming::Other);
    };
    if u.dst_port != MLE_PORT {
        return Ok(Incoming::Other);
    }
    let udp_payload = datagram
        .get(ip.uncompressed_len()..)
        .ok_or(RxError::Malformed)?;
    let mut plain = [0u8; MAX_DATAGRAM];
    let un = mle_security::unsecure(
        udp_payload,
        &ip.iphc.src_addr,
        &ip.iphc.dst_addr,
        &sec.keys,
        &mut plain,
    )
    .map_err(|_| RxError::Security)?;
    let message = MleRepr::parse(&plain[..un.len]).map_err(|_| RxError::Malformed)?;
    Ok(Incoming::Mle {
        command: message.command.into(),
        sender: un.sender,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mle::{Mle, Timing};
    use crate::rand::Rng;
    use crate::time::Instant;

    /// thread11.pcap frame 1 (FCS removed): node 0101010101010101's first Parent Request,
    /// MAC sequence 247, MLE frame counter 0, challenge 9d8af1df467be9bb.
    const OT_PARENT_REQUEST: &str = "41d8f73412ffff01010101010101017f3b02f04d4c4d4c0afd00150000000000000000011 31adf753a6de8abb317e6be240ba323a4db6956db1e64559e";

    fn hex(s: &str) -> std::vec::Vec<u8> {
        let s: std::string::String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn parent_request_is_byte_for_byte_openthreads() {
        let identity = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
        let mut sec = Security::new(&identity);
        let ext = ExtAddress::from_u64(0x0101010101010101);
        let mle = Mle::new(ext, Timing::thread());
        let ctx = Context {
            ext_addr: ext,
            identity: &identity,
            mac_sequence: 247,
        };
        let challenge = [0x9d, 0x8a, 0xf1, 0xdf, 0x46, 0x7b, 0xe9, 0xbb];
        let mut out = [0u8; 127];
        let n = emit_mle(
            &ctx,
            &mut sec,
            &mle,
            MleCommand::ParentRequest {
                to_reeds: false,
                challenge,
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..n], &hex(OT_PARENT_REQUEST)[..]);
    }

    #[test]
    fn our_frames_parse_back_and_wrong_keys_are_rejected() {
        let identity = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
        let mut sec = Security::new(&identity);
        let ext = ExtAddress::from_u64(0x00000000000000a0);
        let mut mle = Mle::new(ext, Timing::thread());
        let mut rng = Rng::new(9);
        mle.start(Instant::ZERO, &mut rng);
        let mut t = Instant::ZERO;
        while mle.role() != crate::mle::Role::Leader {
            t = mle.poll_at().unwrap();
            mle.poll(t, &mut rng, &mut |_| {});
        }
        let ctx = Context {
            ext_addr: ext,
            identity: &identity,
            mac_sequence: 1,
        };
        let mut out = [0u8; 127];
        for (cmd, number) in [
            (
                MleCommand::ParentRequest {
                    to_reeds: true,
                    challenge: [7; 8],
                },
                9,
            ),
            (MleCommand::Advertisement, 4),
        ] {
            let n = emit_mle(&ctx, &mut sec, &mle, cmd, &mut out).unwrap();
            let mut rx = Security::new(&identity);
            assert_eq!(
                parse_incoming(&identity, &mut rx, &out[..n]),
                Ok(Incoming::Mle {
                    command: number,
                    sender: ext
                })
            );
            let other = NetworkIdentity::pymesh([0x55; 16]);
            let mut wrong = Security::new(&other);
            assert_eq!(
                parse_incoming(&other, &mut wrong, &out[..n]),
                Err(RxError::Security)
            );
            for cut in 0..n {
                assert!(parse_incoming(&identity, &mut rx, &out[..cut]).is_err() || cut >= n);
            }
        }
    }

    #[test]
    fn openthreads_parent_request_is_understood() {
        let identity = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
        let mut sec = Security::new(&identity);
        assert_eq!(
            parse_incoming(&identity, &mut sec, &hex(OT_PARENT_REQUEST)),
            Ok(Incoming::Mle {
                command: 9,
                sender: ExtAddress::from_u64(0x0101010101010101)
            })
        );
    }
}
