//! MLE and TMF messages as Thread 1.1 bytes: what [`super::Mle`] decides to send becomes an
//! IPv6/UDP datagram (MLE secured with the MLE key on port 19788, or TMF CoAP on port 61631),
//! compressed with 6LoWPAN into the payload of one 802.15.4 data frame, with the MAC
//! addressing the frame needs. TLVs go in the order OpenThread 1.1 writes them (checked
//! against `thread11.pcap` in the tests), so a frame we send is a frame OpenThread would send.
//!
//! Received frames go the other way: [`parse_lowpan`] decompresses a MAC payload into an IPv6
//! datagram, [`open_mle`] verifies and decrypts an MLE message.

use heapless::Vec;

use crate::node::NetworkIdentity;
use crate::wire::coap::{self, Code, MessageType};
use crate::wire::ieee802154::Address;
use crate::wire::mle::{
    Command, MleRepr, MleTlv, Mode, Route64, ScanMask, Timestamp, THREAD_VERSION_1_1,
};
use crate::wire::mle_security::{self, UDP_PORT as MLE_PORT};
use crate::wire::security::{KeyManager, OutgoingFrameCounter};
use crate::wire::sixlowpan::{self, ContextTable, FramePayload, LinkAddress};
use crate::wire::tmf::{self, TmfRepr, TMF_PORT};
use crate::wire::{ipv6, udp, Error, ExtAddress, Ipv6Address, ShortAddress};

use super::{Mle, MleCommand};

/// Largest IPv6 datagram a control message needs (one unfragmented frame's worth, decompressed).
pub const MAX_CONTROL_DATAGRAM: usize = 320;
/// Largest MAC payload: a 125-byte frame less the shortest data-frame header and a MIC.
pub const MAX_MAC_PAYLOAD: usize = 127;

/// Keys, counters and 6LoWPAN contexts of a node.
#[derive(Debug, Clone)]
pub struct Security {
    pub keys: KeyManager,
    pub mle_frame_counter: OutgoingFrameCounter,
    pub contexts: ContextTable,
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

/// What a message needs from the node besides the MLE state.
pub struct Context<'a> {
    pub ext_addr: ExtAddress,
    pub identity: &'a NetworkIdentity,
    /// The MAC's next outgoing frame counter (Link-layer Frame Counter TLV).
    pub mac_frame_counter: u32,
    /// The leader's network data TLVs (Network Data TLV of Child ID / Data Response).
    pub network_data: &'a [u8],
}

/// What [`build`] produced: an MLE frame for a neighbour or a link-local group, or an IPv6
/// datagram (TMF) for the node to route through the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Built {
    Frame(Outgoing),
    Datagram(Vec<u8, MAX_CONTROL_DATAGRAM>),
}

/// One frame to hand to the MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub dst: Address,
    /// Source address mode: our RLOC16 (data frames inside the mesh) or our extended address.
    pub src_short: bool,
    /// MAC security (key id mode 1): on for data frames, off for MLE (secured at MLE).
    pub secure: bool,
    pub payload: Vec<u8, MAX_MAC_PAYLOAD>,
}

/// Mode TLV of a full Thread device that keeps its receiver on (rx-on-when-idle, secure data
/// requests, FTD, full network data): OpenThread's 0x0f.
const MODE_FTD: Mode = Mode(0x0f);
/// Scan Mask: routers (0x80), routers and REEDs (0xc0).
const SCAN_MASK_ROUTERS: ScanMask = ScanMask(0x80);
const SCAN_MASK_ROUTERS_AND_REEDS: ScanMask = ScanMask(0xc0);
/// The active timestamp of Pymesh's dataset (the vectors' `dataset activetimestamp 1`).
const ACTIVE_TIMESTAMP: Timestamp = Timestamp {
    seconds: 1,
    ticks: 0,
    authoritative: false,
};
/// MLE TLV types a child asks for in Child ID Request: Address16, Network Data, Route64.
const CHILD_ID_TLV_REQUEST: [u8; 3] = [10, 12, 9];
/// Link Margin only (OpenThread's `kRouterTlvs`): Link Accept And Request, and Link Requests to
/// routers heard advertising.
const LINK_TLV_REQUEST: [u8; 1] = [16];
/// A Data Request asks for the Network Data TLV.
const DATA_TLV_REQUEST: [u8; 1] = [12];
/// A new router's Link Request to its former parent also asks for Route64 (OpenThread's
/// `validNeighborTlvs`): the answer gives it its routes at once.
const LINK_REQUEST_TLV_REQUEST: [u8; 2] = [16, 9];
/// Traffic class OpenThread gives TMF messages (network-control priority).
const TMF_TRAFFIC_CLASS: u8 = 0x1c;

pub fn link_local(ext: ExtAddress) -> Ipv6Address {
    Ipv6Address::from_prefix_iid([0xfe, 0x80, 0, 0, 0, 0, 0, 0], ext.to_iid())
}

fn rloc_address(identity: &NetworkIdentity, rloc16: u16) -> Ipv6Address {
    let [hi, lo] = rloc16.to_be_bytes();
    Ipv6Address::from_prefix_iid(identity.mesh_local_prefix, [0, 0, 0, 0xff, 0xfe, 0, hi, lo])
}

/// Builds the frame for `command`.
pub fn build(
    ctx: &Context,
    sec: &mut Security,
    mle: &Mle,
    command: &MleCommand,
) -> Result<Built, Error> {
    let leader_data = mle.leader_data().map(crate::wire::mle::LeaderData::from);
    let need_leader = || leader_data.ok_or(Error::Malformed);
    let source = mle.rloc16();
    let mle_fc = sec.mle_frame_counter.0;
    let (mask, route_bytes) = mle.route64();
    let route64 = Route64 {
        id_sequence: mle.router_id_sequence(),
        router_mask: mask,
        route_data: &route_bytes,
    };
    let m;
    let dst: Option<ExtAddress>;
    match command {
        MleCommand::ParentRequest {
            to_reeds,
            challenge,
        } => {
            let scan = if *to_reeds {
                SCAN_MASK_ROUTERS_AND_REEDS
            } else {
                SCAN_MASK_ROUTERS
            };
            m = MleRepr::parent_request(MODE_FTD, challenge, scan, THREAD_VERSION_1_1)?;
            return secure_mle(ctx, sec, &m, None, Ipv6Address::LINK_LOCAL_ALL_ROUTERS)
                .map(Built::Frame);
        }
        MleCommand::Advertisement => {
            m = MleRepr::advertisement(source, need_leader()?, route64)?;
            dst = None;
        }
        MleCommand::ReedAdvertisement => {
            m = MleRepr::reed_advertisement(source, need_leader()?)?;
            dst = None;
        }
        MleCommand::DataResponse | MleCommand::DataResponseTo { .. } => {
            m = MleRepr::new(Command::DataResponse)
                .with(MleTlv::SourceAddress(source))?
                .with(MleTlv::LeaderData(need_leader()?))?
                .with(MleTlv::ActiveTimestamp(ACTIVE_TIMESTAMP))?
                .with(MleTlv::NetworkData(
                    crate::wire::netdata::NetworkData::new_checked(ctx.network_data)?,
                ))?;
            dst = match command {
                MleCommand::DataResponseTo { to } => Some(*to),
                _ => None,
            };
        }
        MleCommand::ChildUpdateRequest { to } => {
            // OpenThread's rx-on child: Mode, Source Address, Leader Data, Timeout (an FTD
            // registers no addresses).
            m = MleRepr::new(Command::ChildUpdateRequest)
                .with(MleTlv::Mode(MODE_FTD))?
                .with(MleTlv::SourceAddress(source))?
                .with(MleTlv::LeaderData(need_leader()?))?
                .with(MleTlv::Timeout(mle.timing().child_timeout_s))?;
            dst = Some(*to);
        }
        MleCommand::ChildUpdateResponse {
            to,
            known,
            link_margin,
            timeout_s,
        } => {
            // As OpenThread answers: Source Address, Mode, Link Margin, Leader Data, Timeout;
            // to a child it does not know, Status 1 (error) first.
            m = if *known {
                MleRepr::new(Command::ChildUpdateResponse)
                    .with(MleTlv::SourceAddress(source))?
                    .with(MleTlv::Mode(MODE_FTD))?
                    .with(MleTlv::LinkMargin(*link_margin))?
                    .with(MleTlv::LeaderData(need_leader()?))?
                    .with(MleTlv::Timeout(*timeout_s))?
            } else {
                let mut r = MleRepr::new(Command::ChildUpdateResponse)
                    .with(MleTlv::Status(1))?
                    .with(MleTlv::SourceAddress(source))?;
                if let Some(ld) = leader_data {
                    r = r.with(MleTlv::LeaderData(ld))?;
                }
                r
            };
            dst = Some(*to);
        }
        MleCommand::DataRequest { to } => {
            // OpenThread's Data Request: TLV Request (Network Data), Active Timestamp.
            m = MleRepr::new(Command::DataRequest)
                .with(MleTlv::TlvRequest(&DATA_TLV_REQUEST))?
                .with(MleTlv::ActiveTimestamp(ACTIVE_TIMESTAMP))?;
            dst = Some(*to);
        }
        MleCommand::ParentResponse {
            to,
            response,
            challenge,
            link_margin,
        } => {
            m = MleRepr::new(Command::ParentResponse)
                .with(MleTlv::SourceAddress(source))?
                .with(MleTlv::LeaderData(need_leader()?))?
                .with(MleTlv::LinkFrameCounter(ctx.mac_frame_counter))?
                .with(MleTlv::MleFrameCounter(mle_fc))?
                .with(MleTlv::Response(response))?
                .with(MleTlv::Challenge(challenge))?
                .with(MleTlv::LinkMargin(*link_margin))?
                .with(MleTlv::Connectivity(mle.connectivity()))?
                .with(MleTlv::Version(THREAD_VERSION_1_1))?;
            dst = Some(*to);
        }
        MleCommand::ChildIdRequest { to, response } => {
            m = MleRepr::new(Command::ChildIdRequest)
                .with(MleTlv::Response(response))?
                .with(MleTlv::LinkFrameCounter(ctx.mac_frame_counter))?
                .with(MleTlv::MleFrameCounter(mle_fc))?
                .with(MleTlv::Mode(MODE_FTD))?
                .with(MleTlv::Timeout(mle.timing().child_timeout_s))?
                .with(MleTlv::Version(THREAD_VERSION_1_1))?
                .with(MleTlv::TlvRequest(&CHILD_ID_TLV_REQUEST))?
                .with(MleTlv::ActiveTimestamp(ACTIVE_TIMESTAMP))?;
            dst = Some(*to);
        }
        MleCommand::ChildIdResponse { to, child_rloc16 } => {
            m = MleRepr::new(Command::ChildIdResponse)
                .with(MleTlv::SourceAddress(source))?
                .with(MleTlv::LeaderData(need_leader()?))?
                .with(MleTlv::ActiveTimestamp(ACTIVE_TIMESTAMP))?
                .with(MleTlv::Address16(ShortAddress(*child_rloc16)))?
                .with(MleTlv::NetworkData(
                    crate::wire::netdata::NetworkData::new_checked(ctx.network_data)?,
                ))?
                .with(MleTlv::Route64(route64))?;
            dst = Some(*to);
        }
        MleCommand::LinkRequest {
            to,
            challenge,
            route,
        } => {
            let request: &[u8] = if *route {
                &LINK_REQUEST_TLV_REQUEST
            } else {
                &LINK_TLV_REQUEST
            };
            m = MleRepr::new(Command::LinkRequest)
                .with(MleTlv::Version(THREAD_VERSION_1_1))?
                .with(MleTlv::TlvRequest(request))?
                .with(MleTlv::SourceAddress(source))?
                .with(MleTlv::LeaderData(need_leader()?))?
                .with(MleTlv::Challenge(challenge))?;
            dst = Some(*to);
        }
        MleCommand::LinkAcceptAndRequest {
            to,
            response,
            challenge,
            link_margin,
            route,
        } => {
            let mut a = MleRepr::new(Command::LinkAcceptAndRequest)
                .with(MleTlv::Version(THREAD_VERSION_1_1))?
                .with(MleTlv::SourceAddress(source))?
                .with(MleTlv::Response(response))?
                .with(MleTlv::LinkFrameCounter(ctx.mac_frame_counter))?
                .with(MleTlv::MleFrameCounter(mle_fc))?
                .with(MleTlv::LinkMargin(*link_margin))?
                .with(MleTlv::LeaderData(need_leader()?))?;
            if *route {
                a = a.with(MleTlv::Route64(route64))?;
            }
            m = a
                .with(MleTlv::Challenge(challenge))?
                .with(MleTlv::TlvRequest(&LINK_TLV_REQUEST))?;
            dst = Some(*to);
        }
        MleCommand::LinkAccept {
            to,
            response,
            link_margin,
            route,
        } => {
            let a = MleRepr::new(Command::LinkAccept)
                .with(MleTlv::Version(THREAD_VERSION_1_1))?
                .with(MleTlv::SourceAddress(source))?
                .with(MleTlv::Response(response))?
                .with(MleTlv::LinkFrameCounter(ctx.mac_frame_counter))?
                .with(MleTlv::MleFrameCounter(mle_fc))?
                .with(MleTlv::LinkMargin(*link_margin))?
                .with(MleTlv::LeaderData(need_leader()?))?;
            m = if *route {
                a.with(MleTlv::Route64(route64))?
            } else {
                a
            };
            dst = Some(*to);
        }
        MleCommand::AddressSolicit {
            leader_rloc16,
            message_id,
            token,
            reason,
        } => {
            let payload = TmfRepr::address_solicit(ctx.ext_addr, *reason, None)?;
            let coap = CoapHeader {
                msg_type: MessageType::Confirmable,
                code: Code::POST,
                message_id: *message_id,
                token,
                uri: Some(tmf::uri::ADDRESS_SOLICIT),
            };
            return tmf_datagram(ctx, mle, &coap, &payload, *leader_rloc16).map(Built::Datagram);
        }
        MleCommand::ServerData {
            leader_rloc16,
            message_id,
            token,
            data,
            old_rloc16,
        } => {
            let payload = TmfRepr::server_data(
                crate::wire::netdata::NetworkData::new_checked(data)?,
                old_rloc16.map(ShortAddress),
            )?;
            let coap = CoapHeader {
                msg_type: MessageType::Confirmable,
                code: Code::POST,
                message_id: *message_id,
                token,
                uri: Some(tmf::uri::SERVER_DATA),
            };
            return tmf_datagram(ctx, mle, &coap, &payload, *leader_rloc16).map(Built::Datagram);
        }
        MleCommand::AddressSolicitResponse {
            to_rloc16,
            message_id,
            token,
            assigned,
            status,
        } => {
            let assigned = assigned.map(|id| {
                (
                    ShortAddress(super::router_rloc16(id)),
                    mle.router_id_sequence(),
                    mle.route64().0,
                )
            });
            let payload = TmfRepr::address_solicit_response(*status, assigned)?;
            let coap = CoapHeader::changed(*message_id, token);
            return tmf_datagram(ctx, mle, &coap, &payload, *to_rloc16).map(Built::Datagram);
        }
        MleCommand::AddressRelease {
            leader_rloc16,
            rloc16,
            message_id,
            token,
        } => {
            let payload = TmfRepr::address_release(ShortAddress(*rloc16), ctx.ext_addr)?;
            let coap = CoapHeader {
                msg_type: MessageType::Confirmable,
                code: Code::POST,
                message_id: *message_id,
                token,
                uri: Some(tmf::uri::ADDRESS_RELEASE),
            };
            return tmf_datagram(ctx, mle, &coap, &payload, *leader_rloc16).map(Built::Datagram);
        }
        MleCommand::TmfAck {
            to_rloc16,
            message_id,
            token,
        } => {
            let coap = CoapHeader::changed(*message_id, token);
            return tmf_datagram(ctx, mle, &coap, &TmfRepr::new(), *to_rloc16).map(Built::Datagram);
        }
        MleCommand::AddressNotify {
            to_rloc16,
            message_id,
            token,
            target,
            ml_eid_iid,
        } => {
            let payload = TmfRepr::address_notify(*target, *ml_eid_iid, mle.rloc16(), None)?;
            let coap = CoapHeader {
                msg_type: MessageType::Confirmable,
                code: Code::POST,
                message_id: *message_id,
                token,
                uri: Some(tmf::uri::ADDRESS_NOTIFY),
            };
            return tmf_datagram(ctx, mle, &coap, &payload, *to_rloc16).map(Built::Datagram);
        }
    }
    let dst_ip = match dst {
        Some(e) => link_local(e),
        None => Ipv6Address::LINK_LOCAL_ALL_NODES,
    };
    secure_mle(ctx, sec, &m, dst, dst_ip).map(Built::Frame)
}

/// Secures an MLE message from our link-local address and frames it: to `dst` (its
/// link-local address) or to a link-local multicast group.
fn secure_mle(
    ctx: &Context,
    sec: &mut Security,
    m: &MleRepr,
    dst: Option<ExtAddress>,
    dst_ip: Ipv6Address,
) -> Result<Outgoing, Error> {
    let mut plain = [0u8; 200];
    let n = m.emit(&mut plain)?;
    let src = link_local(ctx.ext_addr);
    // Every MLE message OpenThread 1.1 sent in the vectors uses key id mode 2.
    let aux = mle_security::aux_security_header(
        2,
        sec.keys.key_sequence(),
        sec.mle_frame_counter.allocate()?,
    )?;
    let mut secured = [0u8; 240];
    let len = mle_security::secure(
        &aux,
        sec.keys.mle_key(),
        &ctx.ext_addr,
        &src,
        &dst_ip,
        &plain[..n],
        &mut secured,
    )?;
    let mac_dst = match dst {
        Some(e) => Address::Extended(e),
        None => Address::Short(ShortAddress::BROADCAST),
    };
    let link_src = LinkAddress::Extended(ctx.ext_addr);
    let link_dst = match dst {
        Some(e) => LinkAddress::Extended(e),
        None => LinkAddress::Short(ShortAddress::BROADCAST),
    };
    let payload = udp_lowpan(
        &sec.contexts,
        0,
        255,
        src,
        dst_ip,
        MLE_PORT,
        MLE_PORT,
        &secured[..len],
        &link_src,
        &link_dst,
    )?;
    Ok(Outgoing {
        dst: mac_dst,
        src_short: false,
        secure: false,
        payload,
    })
}

/// The CoAP header of a TMF message.
struct CoapHeader<'a> {
    msg_type: MessageType,
    code: Code,
    message_id: u16,
    token: &'a [u8],
    uri: Option<&'a str>,
}

impl<'a> CoapHeader<'a> {
    /// The piggybacked acknowledgement (2.04 Changed) of a confirmable request.
    fn changed(message_id: u16, token: &'a [u8]) -> Self {
        CoapHeader {
            msg_type: MessageType::Acknowledgement,
            code: Code::CHANGED,
            message_id,
            token,
            uri: None,
        }
    }
}

/// A TMF message from our RLOC to `to_rloc16`'s RLOC (the node routes it, MAC-secured).
fn tmf_datagram(
    ctx: &Context,
    mle: &Mle,
    h: &CoapHeader,
    tlvs: &TmfRepr,
    to_rloc16: u16,
) -> Result<Vec<u8, MAX_CONTROL_DATAGRAM>, Error> {
    let mut payload = [0u8; 96];
    let n = tlvs.emit(&mut payload)?;
    let mut req = coap::Repr {
        msg_type: h.msg_type,
        code: h.code,
        message_id: h.message_id,
        token: h.token,
        options: heapless::Vec::new(),
        payload: &payload[..n],
    };
    if let Some(uri) = h.uri {
        req.push_uri_path(uri)?;
    }
    let mut msg = [0u8; 128];
    let len = req.emit(&mut msg)?;
    let src = rloc_address(ctx.identity, mle.rloc16().0);
    let dst = rloc_address(ctx.identity, to_rloc16);
    let mut out = [0u8; MAX_CONTROL_DATAGRAM];
    let n = udp_datagram(
        TMF_TRAFFIC_CLASS,
        64,
        src,
        dst,
        TMF_PORT,
        TMF_PORT,
        &msg[..len],
        &mut out,
    )?;
    Vec::from_slice(&out[..n]).map_err(|_| Error::Oversized)
}

/// An IPv6/UDP datagram with its checksum, written into `out`; returns its length.
#[allow(clippy::too_many_arguments)]
pub fn udp_datagram(
    traffic_class: u8,
    hop_limit: u8,
    src: Ipv6Address,
    dst: Ipv6Address,
    sport: u16,
    dport: u16,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, Error> {
    let udp_start = ipv6::HEADER_LEN;
    let udp_len = udp::HEADER_LEN + payload.len();
    let total = udp_start + udp_len;
    if total > out.len() || udp_len > u16::MAX as usize {
        return Err(Error::Oversized);
    }
    ipv6::Ipv6Repr {
        traffic_class,
        flow_label: 0,
        payload_len: udp_len as u16,
        next_header: ipv6::next_header::UDP,
        hop_limit,
        src_addr: src,
        dst_addr: dst,
    }
    .emit(out)?;
    out[udp_start + udp::HEADER_LEN..total].copy_from_slice(payload);
    let mut u = udp::Packet::new_unchecked(&mut out[udp_start..total]);
    u.set_src_port(sport);
    u.set_dst_port(dport);
    u.set_len(udp_len as u16);
    u.set_checksum(0);
    u.fill_checksum(&src, &dst);
    Ok(total)
}

/// An IPv6/UDP datagram compressed as OpenThread compresses it.
#[allow(clippy::too_many_arguments)]
fn udp_lowpan(
    contexts: &ContextTable,
    traffic_class: u8,
    hop_limit: u8,
    src: Ipv6Address,
    dst: Ipv6Address,
    sport: u16,
    dport: u16,
    payload: &[u8],
    link_src: &LinkAddress,
    link_dst: &LinkAddress,
) -> Result<Vec<u8, MAX_MAC_PAYLOAD>, Error> {
    let mut datagram = [0u8; MAX_CONTROL_DATAGRAM];
    let n = udp_datagram(
        traffic_class,
        hop_limit,
        src,
        dst,
        sport,
        dport,
        payload,
        &mut datagram,
    )?;
    let datagram = &datagram[..n];
    let (compressed, consumed) = sixlowpan::compress(datagram, link_src, link_dst, contexts)?;
    let mut out = [0u8; MAX_MAC_PAYLOAD];
    let mut pos = compressed.emit(&mut out)?;
    let rest = datagram.get(consumed..).ok_or(Error::Malformed)?;
    out.get_mut(pos..pos + rest.len())
        .ok_or(Error::Oversized)?
        .copy_from_slice(rest);
    pos += rest.len();
    Vec::from_slice(&out[..pos]).map_err(|_| Error::Oversized)
}

/// An IPv6 datagram decompressed from one unfragmented frame.
pub struct Datagram {
    pub bytes: Vec<u8, MAX_CONTROL_DATAGRAM>,
    pub src: Ipv6Address,
    pub dst: Ipv6Address,
    /// UDP ports and where the UDP payload starts, for UDP datagrams.
    pub udp: Option<(u16, u16, usize)>,
}

/// Why a received frame was dropped above the MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxError {
    /// Wrong key, bad MIC, replayed counter.
    Security,
    /// Not a frame we can parse.
    Malformed,
    /// Valid, but not for this layer (fragments, mesh-header frames, other next headers).
    NotHandled,
}

fn to_link(a: Address) -> LinkAddress {
    match a {
        Address::Short(s) => LinkAddress::Short(s),
        Address::Extended(e) => LinkAddress::Extended(e),
    }
}

/// Decompresses the 6LoWPAN payload of an unfragmented frame (with or without a mesh header).
pub fn parse_lowpan(
    contexts: &ContextTable,
    mac_src: Address,
    mac_dst: Address,
    payload: &[u8],
) -> Result<Datagram, RxError> {
    let lowpan =
        sixlowpan::FrameRepr::parse(payload, &to_link(mac_src), &to_link(mac_dst), contexts)
            .map_err(|_| RxError::Malformed)?;
    if lowpan.fragment.is_some() {
        return Err(RxError::NotHandled);
    }
    let FramePayload::Iphc {
        header: ip,
        payload,
    } = lowpan.payload
    else {
        return Err(RxError::NotHandled);
    };
    let mut buf = [0u8; MAX_CONTROL_DATAGRAM];
    let n = ip
        .decompress(payload, None, &mut buf)
        .map_err(|_| RxError::Malformed)?;
    Datagram::from_ipv6(&buf[..n])
}

impl Datagram {
    /// Reads the IPv6 and UDP headers of a whole datagram (control-sized: larger ones are
    /// for the IPv6 service, not here).
    pub fn from_ipv6(bytes: &[u8]) -> Result<Datagram, RxError> {
        let p = ipv6::Packet::new_checked(bytes).map_err(|_| RxError::Malformed)?;
        let ip = ipv6::Ipv6Repr::parse(&p).map_err(|_| RxError::Malformed)?;
        let udp = if ip.next_header == ipv6::next_header::UDP {
            let u = udp::Packet::new_checked(p.payload()).map_err(|_| RxError::Malformed)?;
            if !u.verify_checksum(&ip.src_addr, &ip.dst_addr) {
                return Err(RxError::Malformed);
            }
            Some((
                u.src_port(),
                u.dst_port(),
                ipv6::HEADER_LEN + udp::HEADER_LEN,
            ))
        } else {
            None
        };
        let bytes = Vec::from_slice(bytes).map_err(|_| RxError::NotHandled)?;
        Ok(Datagram {
            bytes,
            src: ip.src_addr,
            dst: ip.dst_addr,
            udp,
        })
    }
}

/// A verified, decrypted MLE message.
pub struct OpenedMle {
    pub sender: ExtAddress,
    pub frame_counter: u32,
    pub plain: Vec<u8, 256>,
}

/// Verifies and decrypts the MLE message in `d` (UDP port 19788).
pub fn open_mle(keys: &KeyManager, d: &Datagram) -> Result<OpenedMle, RxError> {
    let Some((_, MLE_PORT, start)) = d.udp else {
        return Err(RxError::NotHandled);
    };
    let udp_payload = d.bytes.get(start..).ok_or(RxError::Malformed)?;
    let mut plain = [0u8; 256];
    let un = mle_security::unsecure(udp_payload, &d.src, &d.dst, keys, &mut plain).map_err(
        |e| match e {
            Error::AuthenticationFailed | Error::UnknownKey | Error::Replayed => RxError::Security,
            _ => RxError::Malformed,
        },
    )?;
    if un.security.is_none() {
        // Thread accepts only secured MLE (suite 0), bar discovery, which we do not handle.
        return Err(RxError::Security);
    }
    let frame_counter = un.security.map(|s| s.frame_counter).unwrap_or(0);
    Ok(OpenedMle {
        sender: un.sender,
        frame_counter,
        plain: Vec::from_slice(&plain[..un.len]).map_err(|_| RxError::Malformed)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mle::{Challenge, Mle, Role, Timing};
    use crate::rand::Rng;
    use crate::time::Instant;
    use crate::wire::ieee802154::{FrameRepr, FrameType, FrameVersion};

    /// thread11.pcap frame 1 (FCS removed): node 0101010101010101's first Parent Request,
    /// MAC sequence 247, MLE frame counter 0, challenge 9d8af1df467be9bb.
    const OT_PARENT_REQUEST: &str = "41d8f73412ffff01010101010101017f3b02f04d4c4d4c0afd0015000000000000000001131adf753a6de8abb317e6be240ba323a4db6956db1e64559e";

    fn hex(s: &str) -> std::vec::Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A broadcast MLE frame as the MAC will write it (no security, no ack request).
    fn mac_frame(seq: u8, src: ExtAddress, o: &Outgoing) -> std::vec::Vec<u8> {
        let header = FrameRepr {
            frame_type: FrameType::Data,
            frame_pending: false,
            ack_request: false,
            pan_id_compression: true,
            frame_version: FrameVersion::Ieee2006,
            sequence_number: seq,
            dst_pan_id: Some(crate::wire::PanId(0x1234)),
            dst_addr: Some(o.dst),
            src_pan_id: None,
            src_addr: Some(Address::Extended(src)),
            security: None,
        };
        let mut out = [0u8; 127];
        let n = header.emit(&mut out).unwrap();
        let mut v = out[..n].to_vec();
        v.extend_from_slice(&o.payload);
        v
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
            mac_frame_counter: 0,
            network_data: &[],
        };
        let challenge = [0x9d, 0x8a, 0xf1, 0xdf, 0x46, 0x7b, 0xe9, 0xbb];
        let Built::Frame(o) = build(
            &ctx,
            &mut sec,
            &mle,
            &MleCommand::ParentRequest {
                to_reeds: false,
                challenge,
            },
        )
        .unwrap() else {
            panic!("a Parent Request is a frame")
        };
        assert_eq!(o.dst, Address::Short(ShortAddress::BROADCAST));
        assert!(!o.secure);
        assert_eq!(mac_frame(247, ext, &o), hex(OT_PARENT_REQUEST));
    }

    /// The messages a leader sends that carry its Route64 or network data (Link Accept without
    /// Route64, as OpenThread sends it when not asked), to `peer` answering challenge `c`.
    fn answers(mle: &Mle, peer: ExtAddress, c: &Challenge) -> [(MleCommand, Command); 6] {
        [
            (MleCommand::Advertisement, Command::Advertisement),
            (MleCommand::DataResponse, Command::DataResponse),
            (
                MleCommand::ParentResponse {
                    to: peer,
                    response: c.clone(),
                    challenge: [9; 8],
                    link_margin: 30,
                },
                Command::ParentResponse,
            ),
            (
                MleCommand::ChildIdResponse {
                    to: peer,
                    child_rloc16: mle.rloc16().0 | 1,
                },
                Command::ChildIdResponse,
            ),
            (
                MleCommand::LinkAcceptAndRequest {
                    to: peer,
                    response: c.clone(),
                    challenge: [4; 8],
                    link_margin: 20,
                    route: true,
                },
                Command::LinkAcceptAndRequest,
            ),
            (
                MleCommand::LinkAccept {
                    to: peer,
                    response: c.clone(),
                    link_margin: 20,
                    route: false,
                },
                Command::LinkAccept,
            ),
        ]
    }

    fn leader(seed: u64) -> (Mle, Rng) {
        let mut mle = Mle::new(ExtAddress::from_u64(0xa0), Timing::thread());
        let mut rng = Rng::new(seed);
        mle.start(Instant::ZERO, &mut rng);
        while mle.role() != Role::Leader {
            let t = mle.poll_at().unwrap();
            mle.poll(t, &mut rng, &mut |_| {});
        }
        (mle, rng)
    }

    #[test]
    fn every_mle_message_opens_with_the_key_and_not_without() {
        let identity = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
        let (mle, _) = leader(9);
        let ext = mle.ext_addr();
        let peer = ExtAddress::from_u64(0xb0);
        let c: Challenge = Vec::from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let mut commands = std::vec![
            (
                MleCommand::ParentRequest {
                    to_reeds: true,
                    challenge: [7; 8],
                },
                Command::ParentRequest,
            ),
            (
                MleCommand::DataResponseTo { to: peer },
                Command::DataResponse,
            ),
            (MleCommand::DataRequest { to: peer }, Command::DataRequest),
            (
                MleCommand::ChildIdRequest {
                    to: peer,
                    response: c.clone(),
                },
                Command::ChildIdRequest,
            ),
            (
                MleCommand::LinkRequest {
                    to: peer,
                    challenge: [3; 8],
                    route: true,
                },
                Command::LinkRequest,
            ),
        ];
        commands.extend(answers(&mle, peer, &c));
        let mut sec = Security::new(&identity);
        for (cmd, expected) in commands {
            let ctx = Context {
                ext_addr: ext,
                identity: &identity,
                mac_frame_counter: 5,
                network_data: &[],
            };
            let Built::Frame(o) = build(&ctx, &mut sec, &mle, &cmd).unwrap() else {
                panic!()
            };
            let mac_src = Address::Extended(ext);
            let d = parse_lowpan(&sec.contexts, mac_src, o.dst, &o.payload).unwrap();
            let rx = Security::new(&identity);
            let opened = open_mle(&rx.keys, &d).unwrap();
            assert_eq!(opened.sender, ext);
            let repr = MleRepr::parse(&opened.plain).unwrap();
            assert_eq!(repr.command, expected);
            // TLV order of OpenThread's captures (vectors/thread11.pcap frames 21 and 23), with
            // Route64 after Leader Data when the Link Request asked for it.
            let types: std::vec::Vec<u8> = repr.tlvs.iter().map(|t| t.tlv_type()).collect();
            match expected {
                Command::LinkRequest => assert_eq!(types, [18, 13, 0, 11, 3]),
                Command::LinkAcceptAndRequest => {
                    assert_eq!(types, [18, 0, 4, 5, 8, 16, 11, 9, 3, 13])
                }
                Command::LinkAccept => assert_eq!(types, [18, 0, 4, 5, 8, 16, 11]),
                _ => {}
            }
            if expected == Command::LinkRequest {
                assert_eq!(repr.tlv_request(), Some(&[16u8, 9][..]));
            }
            let other = NetworkIdentity::pymesh([0x55; 16]);
            assert!(matches!(
                open_mle(&Security::new(&other).keys, &d),
                Err(RxError::Security)
            ));
        }
    }

    #[test]
    fn an_address_solicit_carries_its_reason_and_the_answer_its_status() {
        use crate::wire::tmf::status;
        let identity = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
        let (mle, _) = leader(9);
        let mut sec = Security::new(&identity);
        // The TMF payload of `cmd`'s datagram (IPv6, UDP, CoAP).
        let mut tmf_status = |cmd: &MleCommand| {
            let ctx = Context {
                ext_addr: mle.ext_addr(),
                identity: &identity,
                mac_frame_counter: 5,
                network_data: &[],
            };
            let Built::Datagram(d) = build(&ctx, &mut sec, &mle, cmd).unwrap() else {
                panic!("TMF goes as a datagram")
            };
            let ip = crate::wire::ipv6::Packet::new_checked(&d[..]).unwrap();
            let udp = crate::wire::udp::Packet::new_checked(ip.payload()).unwrap();
            let coap = crate::wire::coap::Repr::parse(udp.payload()).unwrap();
            let status = TmfRepr::parse(coap.payload).unwrap().status();
            status
        };
        for reason in [
            status::TOO_FEW_ROUTERS,
            status::HAVE_CHILD_ID_REQUEST,
            status::PARENT_PARTITION_CHANGE,
        ] {
            let solicit = MleCommand::AddressSolicit {
                leader_rloc16: 0x0400,
                message_id: 1,
                token: [1, 2],
                reason,
            };
            assert_eq!(tmf_status(&solicit), Some(reason));
        }
        let refusal = MleCommand::AddressSolicitResponse {
            to_rloc16: 0x0401,
            message_id: 1,
            token: [1, 2],
            assigned: None,
            status: status::UNRECOGNIZED_STATUS,
        };
        assert_eq!(tmf_status(&refusal), Some(status::UNRECOGNIZED_STATUS));
    }

    /// A LoRa leader with `routers` router ids allocated (itself one of them), and the network
    /// data of a partition with one border router's SLAAC prefix.
    fn lora_leader_with_routers(routers: usize) -> (Mle, crate::netdata::NetworkData) {
        let mut mle = Mle::new(
            ExtAddress::from_u64(0xa0),
            crate::mle::Timing::lora(crate::time::Duration::from_millis(210)),
        );
        let mut rng = Rng::new(4);
        mle.start(Instant::ZERO, &mut rng);
        while mle.role() != Role::Leader {
            let t = mle.poll_at().unwrap();
            mle.poll(t, &mut rng, &mut |_| {});
        }
        let own = mle.router_id().unwrap();
        for id in (0..=crate::mle::MAX_ROUTER_ID).filter(|&id| id != own) {
            if mle.routers.len() >= routers {
                break;
            }
            let entry = crate::mle::RouterEntry::unreachable(id, None, Instant::ZERO);
            mle.routers.push(entry).unwrap();
        }
        mle.routers.sort_unstable_by_key(|r| r.router_id);
        let mut local = crate::netdata::local::Local::new();
        let prefix = Ipv6Address([0xfd, 0, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let flags = crate::netdata::local::parse_prefix_flags("paosr").unwrap();
        local
            .add_on_mesh_prefix(prefix, 64, 0, flags.0, flags.1)
            .unwrap();
        let mut leader = crate::netdata::leader::Leader::new(1, 1);
        let server_data = local.server_data(ShortAddress(0x0400)).unwrap();
        leader
            .register_server_data(ShortAddress(0x0400), &server_data, Instant::ZERO)
            .unwrap();
        (mle, leader.network_data().clone())
    }

    /// The leader's answers (Route64, network data), from a leader of `routers` routers:
    /// whether each was built into one frame.
    fn route64_messages_fit(routers: usize) -> std::vec::Vec<(Command, bool)> {
        let identity = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
        let (mle, netdata) = lora_leader_with_routers(routers);
        assert_eq!(mle.route64().0.len(), routers);
        let peer = ExtAddress::from_u64(0xb0);
        let c: Challenge = Vec::from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let commands = answers(&mle, peer, &c);
        let mut sec = Security::new(&identity);
        commands
            .into_iter()
            .map(|(cmd, command)| {
                let ctx = Context {
                    ext_addr: mle.ext_addr(),
                    identity: &identity,
                    mac_frame_counter: 5,
                    network_data: netdata.as_bytes(),
                };
                (
                    command,
                    matches!(build(&ctx, &mut sec, &mle, &cmd), Ok(Built::Frame(_))),
                )
            })
            .collect()
    }

    #[test]
    fn the_most_routers_on_lora_still_fit_every_route64_message_in_one_frame() {
        let max = crate::mle::Timing::lora(crate::time::Duration::from_millis(210)).max_routers;
        assert_eq!(max, 35);
        for (command, fits) in route64_messages_fit(max as usize) {
            assert!(fits, "{command:?} with {max} routers");
        }
        // One more and Link Accept And Request no longer fits: the limit is the frame's.
        let over = route64_messages_fit(max as usize + 1);
        assert!(
            over.contains(&(Command::LinkAcceptAndRequest, false)),
            "{over:?}"
        );
    }

    #[test]
    fn openthreads_parent_request_is_understood() {
        let identity = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
        let sec = Security::new(&identity);
        let f = hex(OT_PARENT_REQUEST);
        let header_len = 15;
        let d = parse_lowpan(
            &sec.contexts,
            Address::Extended(ExtAddress::from_u64(0x0101010101010101)),
            Address::Short(ShortAddress::BROADCAST),
            &f[header_len..],
        )
        .unwrap();
        let opened = open_mle(&sec.keys, &d).unwrap();
        assert_eq!(
            MleRepr::parse(&opened.plain).unwrap().command,
            Command::ParentRequest
        );
    }
}
