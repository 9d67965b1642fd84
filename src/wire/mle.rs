//! Plaintext MLE (Mesh Link Establishment) messages: one command byte followed by TLVs.
//!
//! This is what remains of an MLE datagram (UDP port 19788) after `mle_security` has stripped
//! the security suite byte and auxiliary header and decrypted the payload. The module owns:
//! the MLE [`Command`] codes, the MLE TLVs ([`MleTlv`], after OpenThread's `mle_tlvs.hpp`),
//! and the message representation [`MleRepr`] that keeps TLV order and every byte so that
//! parse → emit reproduces what OpenThread sent.
//!
//! It also owns the plain one-byte-type / one-byte-length TLV machinery ([`Tlv`], [`TlvIter`])
//! that the TMF (`tmf`) and Network Data (`netdata`) TLVs share.

use heapless::Vec;

use super::netdata::NetworkData;
use super::{Error, Ipv6Address, PanId, Result, ShortAddress};

/// Most TLVs an [`MleRepr`] holds (OpenThread's largest MLE messages carry about ten).
pub const MAX_TLVS: usize = 24;

/// Version TLV value for Thread 1.1.
pub const THREAD_VERSION_1_1: u16 = 2;

// ---------------------------------------------------------------------------------------------
// Generic TLVs (shared with tmf and netdata)
// ---------------------------------------------------------------------------------------------

/// A checked view of one type-length-value element: type byte, length byte, value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tlv<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Tlv { buffer }
    }

    /// Wrap `buffer` and check that it holds the whole TLV it announces.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let tlv = Self::new_unchecked(buffer);
        tlv.check_len()?;
        Ok(tlv)
    }

    pub fn check_len(&self) -> Result<()> {
        match self.buffer.as_ref() {
            [_, len, value @ ..] if value.len() >= usize::from(*len) => Ok(()),
            _ => Err(Error::Truncated),
        }
    }

    pub fn tlv_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn length(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Type, length and value bytes.
    pub fn total_len(&self) -> usize {
        2 + usize::from(self.length())
    }

    pub fn value(&self) -> &[u8] {
        &self.buffer.as_ref()[2..self.total_len()]
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tlv<T> {
    pub fn set_tlv_type(&mut self, value: u8) {
        self.buffer.as_mut()[0] = value;
    }

    pub fn set_length(&mut self, value: u8) {
        self.buffer.as_mut()[1] = value;
    }

    pub fn value_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[2..end]
    }
}

/// One TLV as it sits in a buffer, type byte untouched (Network Data keeps its stable bit there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTlv<'a> {
    pub tlv_type: u8,
    pub value: &'a [u8],
}

/// Iterates over consecutive TLVs in a byte slice. Yields `Err(Error::Truncated)` once if the
/// last TLV runs past the end of the slice, then stops. Never panics.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
}

impl<'a> TlvIter<'a> {
    pub const fn new(data: &'a [u8]) -> Self {
        TlvIter { rest: data }
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<RawTlv<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest {
            [tlv_type, len, tail @ ..] if tail.len() >= usize::from(*len) => {
                let (value, rest) = tail.split_at(usize::from(*len));
                self.rest = rest;
                Some(Ok(RawTlv {
                    tlv_type: *tlv_type,
                    value,
                }))
            }
            _ => {
                self.rest = &[];
                Some(Err(Error::Truncated))
            }
        }
    }
}

/// Bounds-checked cursor over an output buffer; every write fails with `BufferTooSmall`
/// instead of panicking.
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<()> {
        self.put(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    /// Type and length bytes of a TLV whose value is `len` bytes long.
    pub(crate) fn tlv_header(&mut self, tlv_type: u8, len: usize) -> Result<()> {
        let len = u8::try_from(len).map_err(|_| Error::Oversized)?;
        self.put(&[tlv_type, len])
    }
}

/// Read a fixed-size value, `Malformed` when the TLV length differs.
pub(crate) fn fixed<const N: usize>(value: &[u8]) -> Result<[u8; N]> {
    <[u8; N]>::try_from(value).map_err(|_| Error::Malformed)
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// MLE command byte (Thread 1.1; 5 and 6 are the retired Update commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    LinkRequest,
    LinkAccept,
    LinkAcceptAndRequest,
    LinkReject,
    Advertisement,
    DataRequest,
    DataResponse,
    ParentRequest,
    ParentResponse,
    ChildIdRequest,
    ChildIdResponse,
    ChildUpdateRequest,
    ChildUpdateResponse,
    Announce,
    DiscoveryRequest,
    DiscoveryResponse,
    Unknown(u8),
}

impl From<u8> for Command {
    fn from(v: u8) -> Self {
        match v {
            0 => Command::LinkRequest,
            1 => Command::LinkAccept,
            2 => Command::LinkAcceptAndRequest,
            3 => Command::LinkReject,
            4 => Command::Advertisement,
            7 => Command::DataRequest,
            8 => Command::DataResponse,
            9 => Command::ParentRequest,
            10 => Command::ParentResponse,
            11 => Command::ChildIdRequest,
            12 => Command::ChildIdResponse,
            13 => Command::ChildUpdateRequest,
            14 => Command::ChildUpdateResponse,
            15 => Command::Announce,
            16 => Command::DiscoveryRequest,
            17 => Command::DiscoveryResponse,
            other => Command::Unknown(other),
        }
    }
}

impl From<Command> for u8 {
    fn from(c: Command) -> u8 {
        match c {
            Command::LinkRequest => 0,
            Command::LinkAccept => 1,
            Command::LinkAcceptAndRequest => 2,
            Command::LinkReject => 3,
            Command::Advertisement => 4,
            Command::DataRequest => 7,
            Command::DataResponse => 8,
            Command::ParentRequest => 9,
            Command::ParentResponse => 10,
            Command::ChildIdRequest => 11,
            Command::ChildIdResponse => 12,
            Command::ChildUpdateRequest => 13,
            Command::ChildUpdateResponse => 14,
            Command::Announce => 15,
            Command::DiscoveryRequest => 16,
            Command::DiscoveryResponse => 17,
            Command::Unknown(v) => v,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TLV value types
// ---------------------------------------------------------------------------------------------

/// MLE TLV type numbers (OpenThread `Mle::Tlv::Type`).
pub mod tlv_type {
    pub const SOURCE_ADDRESS: u8 = 0;
    pub const MODE: u8 = 1;
    pub const TIMEOUT: u8 = 2;
    pub const CHALLENGE: u8 = 3;
    pub const RESPONSE: u8 = 4;
    pub const LINK_FRAME_COUNTER: u8 = 5;
    pub const LINK_QUALITY: u8 = 6;
    pub const NETWORK_PARAMETER: u8 = 7;
    pub const MLE_FRAME_COUNTER: u8 = 8;
    pub const ROUTE64: u8 = 9;
    pub const ADDRESS16: u8 = 10;
    pub const LEADER_DATA: u8 = 11;
    pub const NETWORK_DATA: u8 = 12;
    pub const TLV_REQUEST: u8 = 13;
    pub const SCAN_MASK: u8 = 14;
    pub const CONNECTIVITY: u8 = 15;
    pub const LINK_MARGIN: u8 = 16;
    pub const STATUS: u8 = 17;
    pub const VERSION: u8 = 18;
    pub const ADDRESS_REGISTRATION: u8 = 19;
    pub const CHANNEL: u8 = 20;
    pub const PAN_ID: u8 = 21;
    pub const ACTIVE_TIMESTAMP: u8 = 22;
    pub const PENDING_TIMESTAMP: u8 = 23;
    pub const ACTIVE_DATASET: u8 = 24;
    pub const PENDING_DATASET: u8 = 25;
    pub const DISCOVERY: u8 = 26;
}

/// Mode TLV bits: what kind of device the sender is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mode(pub u8);

impl Mode {
    pub const RX_ON_WHEN_IDLE: u8 = 1 << 3;
    pub const SECURE_DATA_REQUESTS: u8 = 1 << 2;
    pub const FULL_THREAD_DEVICE: u8 = 1 << 1;
    pub const FULL_NETWORK_DATA: u8 = 1 << 0;

    pub fn rx_on_when_idle(self) -> bool {
        self.0 & Self::RX_ON_WHEN_IDLE != 0
    }
    pub fn secure_data_requests(self) -> bool {
        self.0 & Self::SECURE_DATA_REQUESTS != 0
    }
    pub fn full_thread_device(self) -> bool {
        self.0 & Self::FULL_THREAD_DEVICE != 0
    }
    pub fn full_network_data(self) -> bool {
        self.0 & Self::FULL_NETWORK_DATA != 0
    }
}

/// Scan Mask TLV: which devices should answer a Parent Request / Discovery Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScanMask(pub u8);

impl ScanMask {
    pub const ROUTER: u8 = 1 << 7;
    pub const END_DEVICE: u8 = 1 << 6;

    pub fn routers(self) -> bool {
        self.0 & Self::ROUTER != 0
    }
    pub fn end_devices(self) -> bool {
        self.0 & Self::END_DEVICE != 0
    }
}

/// Set of router ids 0..=63 as Thread carries it: 8 bytes, router 0 is the top bit of byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouterIdSet(pub [u8; 8]);

impl RouterIdSet {
    pub fn contains(&self, id: u8) -> bool {
        match self.0.get(usize::from(id / 8)) {
            Some(b) => b & (0x80 >> (id % 8)) != 0,
            None => false,
        }
    }
    /// Ids above 63 are ignored.
    pub fn insert(&mut self, id: u8) {
        if let Some(b) = self.0.get_mut(usize::from(id / 8)) {
            *b |= 0x80 >> (id % 8);
        }
    }
    pub fn remove(&mut self, id: u8) {
        if let Some(b) = self.0.get_mut(usize::from(id / 8)) {
            *b &= !(0x80 >> (id % 8));
        }
    }
    /// Number of ids in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 8]
    }
    /// Ids in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0u8..64).filter(move |id| self.contains(*id))
    }
}

/// One Route64 route byte: link quality out (bits 7-6), in (5-4), route cost (3-0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RouteData(pub u8);

impl RouteData {
    /// Values above their field width are masked.
    pub fn new(link_quality_out: u8, link_quality_in: u8, route_cost: u8) -> Self {
        RouteData(
            ((link_quality_out & 3) << 6) | ((link_quality_in & 3) << 4) | (route_cost & 0x0f),
        )
    }
    pub fn link_quality_out(self) -> u8 {
        self.0 >> 6
    }
    pub fn link_quality_in(self) -> u8 {
        (self.0 >> 4) & 3
    }
    pub fn route_cost(self) -> u8 {
        self.0 & 0x0f
    }
}

/// Route64 TLV: router id sequence, allocated router ids, one route byte per allocated id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route64<'a> {
    pub id_sequence: u8,
    pub router_mask: RouterIdSet,
    /// One [`RouteData`] byte per id in `router_mask`, in increasing id order.
    pub route_data: &'a [u8],
}

impl<'a> Route64<'a> {
    fn parse(value: &'a [u8]) -> Result<Self> {
        match value {
            [id_sequence, rest @ ..] if rest.len() >= 8 => {
                let (mask, route_data) = rest.split_at(8);
                let router_mask = RouterIdSet(fixed(mask)?);
                // One route byte for each allocated router id, no more, no less.
                if route_data.len() != router_mask.len() {
                    return Err(Error::Malformed);
                }
                Ok(Route64 {
                    id_sequence: *id_sequence,
                    router_mask,
                    route_data,
                })
            }
            _ => Err(Error::Malformed),
        }
    }

    /// `(router id, route byte)` for every allocated router.
    pub fn routes(&self) -> impl Iterator<Item = (u8, RouteData)> + 'a {
        let mask = self.router_mask;
        (0u8..64)
            .filter(move |id| mask.contains(*id))
            .zip(self.route_data.iter().map(|b| RouteData(*b)))
    }

    /// Route byte for `router_id`, if allocated.
    pub fn route(&self, router_id: u8) -> Option<RouteData> {
        self.routes()
            .find(|(id, _)| *id == router_id)
            .map(|(_, r)| r)
    }

    fn value_len(&self) -> usize {
        9 + self.route_data.len()
    }

    fn emit_value(&self, w: &mut Writer) -> Result<()> {
        if self.route_data.len() != self.router_mask.len() {
            return Err(Error::Malformed);
        }
        w.u8(self.id_sequence)?;
        w.put(&self.router_mask.0)?;
        w.put(self.route_data)
    }
}

/// Leader Data TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LeaderData {
    pub partition_id: u32,
    pub weighting: u8,
    pub data_version: u8,
    pub stable_data_version: u8,
    pub leader_router_id: u8,
}

impl LeaderData {
    fn parse(value: &[u8]) -> Result<Self> {
        let [p0, p1, p2, p3, weighting, data_version, stable_data_version, leader_router_id] =
            fixed::<8>(value)?;
        Ok(LeaderData {
            partition_id: u32::from_be_bytes([p0, p1, p2, p3]),
            weighting,
            data_version,
            stable_data_version,
            leader_router_id,
        })
    }

    fn emit_value(&self, w: &mut Writer) -> Result<()> {
        w.u32(self.partition_id)?;
        w.put(&[
            self.weighting,
            self.data_version,
            self.stable_data_version,
            self.leader_router_id,
        ])
    }
}

/// The optional tail of a Connectivity TLV: what a parent can buffer for sleepy children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SedBuffering {
    pub buffer_size: u16,
    pub datagram_count: u8,
}

/// Connectivity TLV (sent by a prospective parent in Parent Response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Connectivity {
    /// Whole first byte: parent priority in bits 7-6, the rest reserved (kept for byte-exactness).
    pub flags: u8,
    pub link_quality_3: u8,
    pub link_quality_2: u8,
    pub link_quality_1: u8,
    pub leader_cost: u8,
    pub id_sequence: u8,
    pub active_routers: u8,
    pub sed_buffering: Option<SedBuffering>,
}

impl Connectivity {
    /// Parent priority: 1 high, 0 medium, -1 low, -2 the reserved encoding.
    pub fn parent_priority(&self) -> i8 {
        // Two-bit two's complement in the top bits.
        (self.flags as i8) >> 6
    }

    /// First byte carrying `priority` (clamped to -2..=1) and zero reserved bits.
    pub fn flags_for_priority(priority: i8) -> u8 {
        ((priority.clamp(-2, 1) as u8) & 3) << 6
    }

    fn parse(value: &[u8]) -> Result<Self> {
        match value {
            [flags, lq3, lq2, lq1, leader_cost, id_sequence, active_routers, tail @ ..] => {
                let sed_buffering = match tail {
                    [] => None,
                    [s0, s1, count] => Some(SedBuffering {
                        buffer_size: u16::from_be_bytes([*s0, *s1]),
                        datagram_count: *count,
                    }),
                    _ => return Err(Error::Malformed),
                };
                Ok(Connectivity {
                    flags: *flags,
                    link_quality_3: *lq3,
                    link_quality_2: *lq2,
                    link_quality_1: *lq1,
                    leader_cost: *leader_cost,
                    id_sequence: *id_sequence,
                    active_routers: *active_routers,
                    sed_buffering,
                })
            }
            _ => Err(Error::Malformed),
        }
    }

    fn value_len(&self) -> usize {
        if self.sed_buffering.is_some() {
            10
        } else {
            7
        }
    }

    fn emit_value(&self, w: &mut Writer) -> Result<()> {
        w.put(&[
            self.flags,
            self.link_quality_3,
            self.link_quality_2,
            self.link_quality_1,
            self.leader_cost,
            self.id_sequence,
            self.active_routers,
        ])?;
        if let Some(s) = self.sed_buffering {
            w.u16(s.buffer_size)?;
            w.u8(s.datagram_count)?;
        }
        Ok(())
    }
}

/// One entry of an Address Registration TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressRegistrationEntry {
    /// Prefix given by 6LoWPAN context `context_id`, then the interface identifier.
    Compressed {
        context_id: u8,
        iid: [u8; 8],
    },
    Uncompressed(Ipv6Address),
}

impl AddressRegistrationEntry {
    const COMPRESSED: u8 = 0x80;

    pub fn buffer_len(&self) -> usize {
        match self {
            AddressRegistrationEntry::Compressed { .. } => 9,
            AddressRegistrationEntry::Uncompressed(_) => 17,
        }
    }

    /// Write the entry (control byte with reserved bits zero) into `out`; returns bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out);
        match self {
            AddressRegistrationEntry::Compressed { context_id, iid } => {
                if *context_id > 0x0f {
                    return Err(Error::Malformed);
                }
                w.u8(Self::COMPRESSED | context_id)?;
                w.put(iid)?;
            }
            AddressRegistrationEntry::Uncompressed(addr) => {
                w.u8(0)?;
                w.put(&addr.0)?;
            }
        }
        Ok(w.pos())
    }
}

/// Address Registration TLV, kept as its bytes (so reserved control bits survive a round trip);
/// parse has checked that [`entries`](Self::entries) walks it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRegistration<'a>(pub &'a [u8]);

impl<'a> AddressRegistration<'a> {
    fn parse(value: &'a [u8]) -> Result<Self> {
        let mut entries = AddressRegistrationIter { rest: value };
        for e in &mut entries {
            e?;
        }
        Ok(AddressRegistration(value))
    }

    pub fn entries(&self) -> AddressRegistrationIter<'a> {
        AddressRegistrationIter { rest: self.0 }
    }
}

/// Iterator over Address Registration entries; yields `Err(Truncated)` once on a cut entry.
#[derive(Debug, Clone)]
pub struct AddressRegistrationIter<'a> {
    rest: &'a [u8],
}

impl Iterator for AddressRegistrationIter<'_> {
    type Item = Result<AddressRegistrationEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&control, tail) = self.rest.split_first()?;
        let compressed = control & AddressRegistrationEntry::COMPRESSED != 0;
        let need = if compressed { 8 } else { 16 };
        if tail.len() < need {
            self.rest = &[];
            return Some(Err(Error::Truncated));
        }
        let (addr, rest) = tail.split_at(need);
        self.rest = rest;
        let entry = if compressed {
            fixed::<8>(addr).map(|iid| AddressRegistrationEntry::Compressed {
                context_id: control & 0x0f,
                iid,
            })
        } else {
            fixed::<16>(addr).map(|a| AddressRegistrationEntry::Uncompressed(Ipv6Address(a)))
        };
        Some(entry)
    }
}

/// Active / Pending Timestamp TLV (MeshCoP timestamp): 48-bit seconds, 15-bit ticks, U bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Timestamp {
    pub seconds: u64,
    pub ticks: u16,
    pub authoritative: bool,
}

impl Timestamp {
    fn parse(value: &[u8]) -> Result<Self> {
        let [s0, s1, s2, s3, s4, s5, t0, t1] = fixed::<8>(value)?;
        let low = u16::from_be_bytes([t0, t1]);
        Ok(Timestamp {
            seconds: u64::from_be_bytes([0, 0, s0, s1, s2, s3, s4, s5]),
            ticks: low >> 1,
            authoritative: low & 1 != 0,
        })
    }

    fn emit_value(&self, w: &mut Writer) -> Result<()> {
        if self.seconds >> 48 != 0 || self.ticks >> 15 != 0 {
            return Err(Error::Malformed);
        }
        let s = self.seconds.to_be_bytes();
        w.put(s.get(2..).ok_or(Error::Malformed)?)?;
        w.u16((self.ticks << 1) | u16::from(self.authoritative))
    }
}

// ---------------------------------------------------------------------------------------------
// The typed TLV
// ---------------------------------------------------------------------------------------------

/// One MLE TLV, parsed. Variable-length values borrow the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MleTlv<'a> {
    SourceAddress(ShortAddress),
    Mode(Mode),
    /// Child timeout, seconds.
    Timeout(u32),
    /// 4 to 8 random bytes (OpenThread sends 8).
    Challenge(&'a [u8]),
    /// The peer's Challenge echoed, 4 to 8 bytes.
    Response(&'a [u8]),
    LinkFrameCounter(u32),
    MleFrameCounter(u32),
    Route64(Route64<'a>),
    Address16(ShortAddress),
    LeaderData(LeaderData),
    NetworkData(NetworkData<'a>),
    /// Requested TLV types, one byte each.
    TlvRequest(&'a [u8]),
    ScanMask(ScanMask),
    Connectivity(Connectivity),
    LinkMargin(u8),
    Status(u8),
    Version(u16),
    AddressRegistration(AddressRegistration<'a>),
    Channel {
        page: u8,
        channel: u16,
    },
    PanId(PanId),
    ActiveTimestamp(Timestamp),
    PendingTimestamp(Timestamp),
    /// Any other type (Link Quality, Network Parameter, datasets, Discovery...), kept raw.
    Unknown {
        tlv_type: u8,
        value: &'a [u8],
    },
}

impl<'a> MleTlv<'a> {
    /// Parse one TLV value of type `tlv_type`. Known types with a wrong length are `Malformed`.
    pub fn parse(raw: RawTlv<'a>) -> Result<Self> {
        use tlv_type as t;
        let v = raw.value;
        let u16v = |v: &[u8]| fixed::<2>(v).map(u16::from_be_bytes);
        let u32v = |v: &[u8]| fixed::<4>(v).map(u32::from_be_bytes);
        let u8v = |v: &[u8]| fixed::<1>(v).map(|[b]| b);
        let challenge = |v: &'a [u8]| {
            if (4..=8).contains(&v.len()) {
                Ok(v)
            } else {
                Err(Error::Malformed)
            }
        };
        Ok(match raw.tlv_type {
            t::SOURCE_ADDRESS => MleTlv::SourceAddress(ShortAddress(u16v(v)?)),
            t::MODE => MleTlv::Mode(Mode(u8v(v)?)),
            t::TIMEOUT => MleTlv::Timeout(u32v(v)?),
            t::CHALLENGE => MleTlv::Challenge(challenge(v)?),
            t::RESPONSE => MleTlv::Response(challenge(v)?),
            t::LINK_FRAME_COUNTER => MleTlv::LinkFrameCounter(u32v(v)?),
            t::MLE_FRAME_COUNTER => MleTlv::MleFrameCounter(u32v(v)?),
            t::ROUTE64 => MleTlv::Route64(Route64::parse(v)?),
            t::ADDRESS16 => MleTlv::Address16(ShortAddress(u16v(v)?)),
            t::LEADER_DATA => MleTlv::LeaderData(LeaderData::parse(v)?),
            t::NETWORK_DATA => MleTlv::NetworkData(NetworkData::new_checked(v)?),
            t::TLV_REQUEST => MleTlv::TlvRequest(v),
            t::SCAN_MASK => MleTlv::ScanMask(ScanMask(u8v(v)?)),
            t::CONNECTIVITY => MleTlv::Connectivity(Connectivity::parse(v)?),
            t::LINK_MARGIN => MleTlv::LinkMargin(u8v(v)?),
            t::STATUS => MleTlv::Status(u8v(v)?),
            t::VERSION => MleTlv::Version(u16v(v)?),
            t::ADDRESS_REGISTRATION => MleTlv::AddressRegistration(AddressRegistration::parse(v)?),
            t::CHANNEL => {
                let [page, c0, c1] = fixed::<3>(v)?;
                MleTlv::Channel {
                    page,
                    channel: u16::from_be_bytes([c0, c1]),
                }
            }
            t::PAN_ID => MleTlv::PanId(PanId(u16v(v)?)),
            t::ACTIVE_TIMESTAMP => MleTlv::ActiveTimestamp(Timestamp::parse(v)?),
            t::PENDING_TIMESTAMP => MleTlv::PendingTimestamp(Timestamp::parse(v)?),
            other => MleTlv::Unknown {
                tlv_type: other,
                value: v,
            },
        })
    }

    pub fn tlv_type(&self) -> u8 {
        use tlv_type as t;
        match self {
            MleTlv::SourceAddress(_) => t::SOURCE_ADDRESS,
            MleTlv::Mode(_) => t::MODE,
            MleTlv::Timeout(_) => t::TIMEOUT,
            MleTlv::Challenge(_) => t::CHALLENGE,
            MleTlv::Response(_) => t::RESPONSE,
            MleTlv::LinkFrameCounter(_) => t::LINK_FRAME_COUNTER,
            MleTlv::MleFrameCounter(_) => t::MLE_FRAME_COUNTER,
            MleTlv::Route64(_) => t::ROUTE64,
            MleTlv::Address16(_) => t::ADDRESS16,
            MleTlv::LeaderData(_) => t::LEADER_DATA,
            MleTlv::NetworkData(_) => t::NETWORK_DATA,
            MleTlv::TlvRequest(_) => t::TLV_REQUEST,
            MleTlv::ScanMask(_) => t::SCAN_MASK,
            MleTlv::Connectivity(_) => t::CONNECTIVITY,
            MleTlv::LinkMargin(_) => t::LINK_MARGIN,
            MleTlv::Status(_) => t::STATUS,
            MleTlv::Version(_) => t::VERSION,
            MleTlv::AddressRegistration(_) => t::ADDRESS_REGISTRATION,
            MleTlv::Channel { .. } => t::CHANNEL,
            MleTlv::PanId(_) => t::PAN_ID,
            MleTlv::ActiveTimestamp(_) => t::ACTIVE_TIMESTAMP,
            MleTlv::PendingTimestamp(_) => t::PENDING_TIMESTAMP,
            MleTlv::Unknown { tlv_type, .. } => *tlv_type,
        }
    }

    /// Length of the value (without type and length bytes).
    pub fn value_len(&self) -> usize {
        match self {
            MleTlv::Mode(_) | MleTlv::ScanMask(_) | MleTlv::LinkMargin(_) | MleTlv::Status(_) => 1,
            MleTlv::SourceAddress(_)
            | MleTlv::Address16(_)
            | MleTlv::Version(_)
            | MleTlv::PanId(_) => 2,
            MleTlv::Channel { .. } => 3,
            MleTlv::Timeout(_) | MleTlv::LinkFrameCounter(_) | MleTlv::MleFrameCounter(_) => 4,
            MleTlv::LeaderData(_) | MleTlv::ActiveTimestamp(_) | MleTlv::PendingTimestamp(_) => 8,
            MleTlv::Challenge(v) | MleTlv::Response(v) | MleTlv::TlvRequest(v) => v.len(),
            MleTlv::Unknown { value, .. } => value.len(),
            MleTlv::Route64(r) => r.value_len(),
            MleTlv::NetworkData(n) => n.as_bytes().len(),
            MleTlv::Connectivity(c) => c.value_len(),
            MleTlv::AddressRegistration(a) => a.0.len(),
        }
    }

    /// Type, length and value bytes.
    pub fn buffer_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Write the whole TLV into `out`; returns bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out);
        self.emit_to(&mut w)?;
        Ok(w.pos())
    }

    fn emit_to(&self, w: &mut Writer) -> Result<()> {
        w.tlv_header(self.tlv_type(), self.value_len())?;
        match self {
            MleTlv::SourceAddress(a) | MleTlv::Address16(a) => w.u16(a.0),
            MleTlv::Mode(m) => w.u8(m.0),
            MleTlv::ScanMask(m) => w.u8(m.0),
            MleTlv::LinkMargin(v) | MleTlv::Status(v) => w.u8(*v),
            MleTlv::Version(v) => w.u16(*v),
            MleTlv::PanId(p) => w.u16(p.0),
            MleTlv::Channel { page, channel } => {
                w.u8(*page)?;
                w.u16(*channel)
            }
            MleTlv::Timeout(v) | MleTlv::LinkFrameCounter(v) | MleTlv::MleFrameCounter(v) => {
                w.u32(*v)
            }
            MleTlv::Challenge(v) | MleTlv::Response(v) => {
                if !(4..=8).contains(&v.len()) {
                    return Err(Error::Malformed);
                }
                w.put(v)
            }
            MleTlv::TlvRequest(v) => w.put(v),
            MleTlv::Unknown { value, .. } => w.put(value),
            MleTlv::Route64(r) => r.emit_value(w),
            MleTlv::LeaderData(l) => l.emit_value(w),
            MleTlv::NetworkData(n) => w.put(n.as_bytes()),
            MleTlv::Connectivity(c) => c.emit_value(w),
            MleTlv::AddressRegistration(a) => w.put(a.0),
            MleTlv::ActiveTimestamp(t) | MleTlv::PendingTimestamp(t) => t.emit_value(w),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The message
// ---------------------------------------------------------------------------------------------

/// Checked view of a plaintext MLE message: command byte, then TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// At least the command byte. TLV lengths are checked while iterating.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().is_empty() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn command(&self) -> Command {
        Command::from(self.buffer.as_ref()[0])
    }

    /// The TLV bytes after the command.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[1..]
    }

    pub fn tlvs(&self) -> TlvIter<'_> {
        TlvIter::new(self.payload())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_command(&mut self, command: Command) {
        self.buffer.as_mut()[0] = command.into();
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[1..]
    }
}

/// A plaintext MLE message: command and TLVs in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MleRepr<'a> {
    pub command: Command,
    pub tlvs: Vec<MleTlv<'a>, MAX_TLVS>,
}

macro_rules! getter {
    ($(#[$m:meta])* $name:ident, $variant:ident, $ty:ty) => {
        $(#[$m])*
        pub fn $name(&self) -> Option<$ty> {
            self.tlvs.iter().find_map(|t| match t {
                MleTlv::$variant(v) => Some(*v),
                _ => None,
            })
        }
    };
}

impl<'a> MleRepr<'a> {
    pub fn new(command: Command) -> Self {
        MleRepr {
            command,
            tlvs: Vec::new(),
        }
    }

    /// Parse a plaintext MLE message (command byte + TLVs).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let packet = Packet::new_checked(bytes)?;
        let mut tlvs = Vec::new();
        for raw in TlvIter::new(&bytes[1..]) {
            tlvs.push(MleTlv::parse(raw?)?)
                .map_err(|_| Error::Oversized)?;
        }
        Ok(MleRepr {
            command: packet.command(),
            tlvs,
        })
    }

    /// Append a TLV (builder style); `Oversized` past [`MAX_TLVS`].
    pub fn push(&mut self, tlv: MleTlv<'a>) -> Result<()> {
        self.tlvs.push(tlv).map_err(|_| Error::Oversized)
    }

    /// Builder: `self` with `tlv` appended.
    pub fn with(mut self, tlv: MleTlv<'a>) -> Result<Self> {
        self.push(tlv)?;
        Ok(self)
    }

    pub fn buffer_len(&self) -> usize {
        1 + self.tlvs.iter().map(MleTlv::buffer_len).sum::<usize>()
    }

    /// Write the message into `out`; returns bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out);
        w.u8(self.command.into())?;
        for tlv in &self.tlvs {
            tlv.emit_to(&mut w)?;
        }
        Ok(w.pos())
    }

    /// First TLV of type `tlv_type`.
    pub fn find(&self, tlv_type: u8) -> Option<&MleTlv<'a>> {
        self.tlvs.iter().find(|t| t.tlv_type() == tlv_type)
    }

    getter!(source_address, SourceAddress, ShortAddress);
    getter!(mode, Mode, Mode);
    getter!(timeout, Timeout, u32);
    getter!(challenge, Challenge, &'a [u8]);
    getter!(response, Response, &'a [u8]);
    getter!(link_frame_counter, LinkFrameCounter, u32);
    getter!(mle_frame_counter, MleFrameCounter, u32);
    getter!(route64, Route64, Route64<'a>);
    getter!(address16, Address16, ShortAddress);
    getter!(leader_data, LeaderData, LeaderData);
    getter!(network_data, NetworkData, NetworkData<'a>);
    getter!(tlv_request, TlvRequest, &'a [u8]);
    getter!(scan_mask, ScanMask, ScanMask);
    getter!(connectivity, Connectivity, Connectivity);
    getter!(link_margin, LinkMargin, u8);
    getter!(status, Status, u8);
    getter!(version, Version, u16);
    getter!(
        address_registration,
        AddressRegistration,
        AddressRegistration<'a>
    );
    getter!(active_timestamp, ActiveTimestamp, Timestamp);
    getter!(pending_timestamp, PendingTimestamp, Timestamp);

    /// Parent Request as OpenThread sends it: Mode, Challenge, Scan Mask, Version.
    pub fn parent_request(
        mode: Mode,
        challenge: &'a [u8],
        scan_mask: ScanMask,
        version: u16,
    ) -> Result<Self> {
        MleRepr::new(Command::ParentRequest)
            .with(MleTlv::Mode(mode))?
            .with(MleTlv::Challenge(challenge))?
            .with(MleTlv::ScanMask(scan_mask))?
            .with(MleTlv::Version(version))
    }

    /// Advertisement as OpenThread sends it: Source Address, Leader Data, Route64.
    pub fn advertisement(
        source: ShortAddress,
        leader_data: LeaderData,
        route64: Route64<'a>,
    ) -> Result<Self> {
        Self::reed_advertisement(source, leader_data)?.with(MleTlv::Route64(route64))
    }

    /// A REED's Advertisement (OpenThread's `SendAdvertisement` as a child): Source Address
    /// and Leader Data, no Route64.
    pub fn reed_advertisement(source: ShortAddress, leader_data: LeaderData) -> Result<Self> {
        MleRepr::new(Command::Advertisement)
            .with(MleTlv::SourceAddress(source))?
            .with(MleTlv::LeaderData(leader_data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec as StdVec;

    fn hex(s: &str) -> StdVec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn round_trip(bytes: &[u8]) -> MleRepr<'_> {
        let repr = MleRepr::parse(bytes).unwrap();
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = [0u8; 256];
        let n = repr.emit(&mut out).unwrap();
        assert_eq!(&out[..n], bytes);
        repr
    }

    // Decrypted MLE payloads ("Decrypted MLE payload" tab of `tshark -x`).
    // thread11.pcap frame 1: Parent Request from node 1.
    const PARENT_REQUEST: &str = "0901010f03089d8af1df467be9bb0e018012020002";
    // thread11.pcap frame 8: Parent Response from the leader 0x3c00 to node 2.
    const PARENT_RESPONSE: &str = "0a00023c000b083eb81d774069e40f0504000000000804000000060408560e95ce6e04a1d10308369d64bbb4cc57bc1001500f0a0000000000f50105000112020002";
    // thread11.pcap frame 38: Child ID Request from node 3 (mode rn) with Address Registration.
    const CHILD_ID_REQUEST: &str = "0b0408044de1f98fefbc8a05040000000008040000000101010d0204000000f012020002130980fcb311ab067035620d020a0c16080000000000010000";
    // thread11.pcap frame 12: Child ID Response to node 2 (Address16 0x3c01, Network Data, Route64).
    const CHILD_ID_RESPONSE: &str = "0c00023c000b083eb81d774069e40f160800000000000100000a023c010c0608040b0298c5090af5000100000000000001";
    // thread11.pcap frame 18: Link Request from node 2, now router 0x7800.
    const LINK_REQUEST: &str = "00120200020d0110000278000b083eb81d774069e40f0308141f22140f910a5c";
    // thread11.pcap frame 21: Link Accept and Request from the leader.
    const LINK_ACCEPT_AND_REQUEST: &str = "021202000200023c000408141f22140f910a5c0504000000010804000000081001500b083eb81d774069e40f03085b454f6d4222fd540d0110";
    // thread11.pcap frame 23: Link Accept from node 2.
    const LINK_ACCEPT: &str =
        "01120200020002780004085b454f6d4222fd540504000000010804000000041001500b083eb81d774069e40f";
    // thread11-line.pcap frame 176: Advertisement from router 0xc000 knowing routers 20, 30, 48.
    const ADVERTISEMENT_3_ROUTERS: &str =
        "040002c0000b087803c589403ebe30090c90000008020000800002f101";
    // thread11.pcap frame 44: Data Response with the border-router prefix 2001:cafe:cafe:cafe::/64.
    const DATA_RESPONSE: &str = "0800023c000b083eb81d77406ae50f160800000000000100000c1c08040b0298c5031400402001cafecafecafe05043c00330007021140";
    // thread11.pcap frame 45: Child Update Request from node 3.
    const CHILD_UPDATE_REQUEST: &str =
        "0d01010d00023c020b083eb81d77406ae50f0204000000f0131280fcb311ab067035628178a71dfd4d0b4226";
    // thread11.pcap frame 47: Child Update Response.
    const CHILD_UPDATE_RESPONSE: &str =
        "0e00023c0001010d1001500b083eb81d77406ae50f13098178a71dfd4d0b42260204000000f0";

    const ALL: &[&str] = &[
        PARENT_REQUEST,
        PARENT_RESPONSE,
        CHILD_ID_REQUEST,
        CHILD_ID_RESPONSE,
        LINK_REQUEST,
        LINK_ACCEPT_AND_REQUEST,
        LINK_ACCEPT,
        ADVERTISEMENT_3_ROUTERS,
        DATA_RESPONSE,
        CHILD_UPDATE_REQUEST,
        CHILD_UPDATE_RESPONSE,
    ];

    const LEADER: LeaderData = LeaderData {
        partition_id: 0x3eb8_1d77,
        weighting: 64,
        data_version: 105,
        stable_data_version: 228,
        leader_router_id: 15,
    };

    #[test]
    fn parent_request() {
        let b = hex(PARENT_REQUEST);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::ParentRequest);
        assert_eq!(r.tlvs.len(), 4);
        let mode = r.mode().unwrap();
        assert_eq!(mode, Mode(0x0f));
        assert!(mode.rx_on_when_idle() && mode.secure_data_requests());
        assert!(mode.full_thread_device() && mode.full_network_data());
        assert_eq!(r.challenge().unwrap(), &hex("9d8af1df467be9bb")[..]);
        let mask = r.scan_mask().unwrap();
        assert!(mask.routers() && !mask.end_devices());
        assert_eq!(r.version(), Some(THREAD_VERSION_1_1));
    }

    #[test]
    fn build_parent_request_matches_openthread() {
        let challenge = hex("9d8af1df467be9bb");
        let r = MleRepr::parent_request(
            Mode(0x0f),
            &challenge,
            ScanMask(ScanMask::ROUTER),
            THREAD_VERSION_1_1,
        )
        .unwrap();
        let mut out = [0u8; 64];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &hex(PARENT_REQUEST)[..]);
    }

    #[test]
    fn parent_response() {
        let b = hex(PARENT_RESPONSE);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::ParentResponse);
        assert_eq!(r.source_address(), Some(ShortAddress(0x3c00)));
        assert_eq!(r.leader_data(), Some(LEADER));
        assert_eq!(r.link_frame_counter(), Some(0));
        assert_eq!(r.mle_frame_counter(), Some(6));
        assert_eq!(r.response().unwrap(), &hex("560e95ce6e04a1d1")[..]);
        assert_eq!(r.challenge().unwrap(), &hex("369d64bbb4cc57bc")[..]);
        assert_eq!(r.link_margin(), Some(80));
        let c = r.connectivity().unwrap();
        assert_eq!(c.parent_priority(), 0);
        assert_eq!(
            (c.link_quality_3, c.link_quality_2, c.link_quality_1),
            (0, 0, 0)
        );
        assert_eq!(c.leader_cost, 0);
        assert_eq!(c.id_sequence, 245);
        assert_eq!(c.active_routers, 1);
        assert_eq!(
            c.sed_buffering,
            Some(SedBuffering {
                buffer_size: 1280,
                datagram_count: 1
            })
        );
        assert_eq!(r.version(), Some(2));
    }

    #[test]
    fn child_id_request() {
        let b = hex(CHILD_ID_REQUEST);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::ChildIdRequest);
        assert_eq!(r.mode(), Some(Mode(0x0d)));
        assert!(!r.mode().unwrap().full_thread_device());
        assert_eq!(r.timeout(), Some(240));
        let regs: StdVec<_> = r
            .address_registration()
            .unwrap()
            .entries()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(
            regs,
            [AddressRegistrationEntry::Compressed {
                context_id: 0,
                iid: hex("fcb311ab06703562").try_into().unwrap()
            }]
        );
        assert_eq!(
            r.tlv_request(),
            Some(&[tlv_type::ADDRESS16, tlv_type::NETWORK_DATA][..])
        );
        assert_eq!(
            r.active_timestamp(),
            Some(Timestamp {
                seconds: 1,
                ticks: 0,
                authoritative: false
            })
        );
    }

    #[test]
    fn child_id_response() {
        let b = hex(CHILD_ID_RESPONSE);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::ChildIdResponse);
        assert_eq!(r.address16(), Some(ShortAddress(0x3c01)));
        assert_eq!(
            r.network_data().unwrap().as_bytes(),
            &hex("08040b0298c5")[..]
        );
        let route = r.route64().unwrap();
        assert_eq!(route.id_sequence, 245);
        assert_eq!(route.router_mask.iter().collect::<StdVec<_>>(), [15]);
    }

    #[test]
    fn link_request_accept() {
        let b = hex(LINK_REQUEST);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::LinkRequest);
        assert_eq!(r.source_address(), Some(ShortAddress(0x7800)));
        assert_eq!(r.tlv_request(), Some(&[tlv_type::LINK_MARGIN][..]));
        let b = hex(LINK_ACCEPT_AND_REQUEST);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::LinkAcceptAndRequest);
        assert_eq!(r.response().unwrap(), &hex("141f22140f910a5c")[..]);
        assert_eq!(r.mle_frame_counter(), Some(8));
        let b = hex(LINK_ACCEPT);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::LinkAccept);
        assert_eq!(r.link_margin(), Some(80));
        assert_eq!(r.challenge(), None);
    }

    #[test]
    fn advertisement_route64_several_routers() {
        let b = hex(ADVERTISEMENT_3_ROUTERS);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::Advertisement);
        assert_eq!(r.source_address(), Some(ShortAddress(0xc000)));
        let route = r.route64().unwrap();
        assert_eq!(route.id_sequence, 0x90);
        let routes: StdVec<_> = route
            .routes()
            .map(|(id, d)| {
                (
                    id,
                    d.link_quality_out(),
                    d.link_quality_in(),
                    d.route_cost(),
                )
            })
            .collect();
        assert_eq!(routes, [(20, 0, 0, 2), (30, 3, 3, 1), (48, 0, 0, 1)]);
        assert_eq!(route.route(30), Some(RouteData::new(3, 3, 1)));
        assert_eq!(route.route(21), None);

        // The same bytes from the builder.
        let mut mask = RouterIdSet::default();
        for id in [20, 30, 48] {
            mask.insert(id);
        }
        let data = [
            RouteData::new(0, 0, 2).0,
            RouteData::new(3, 3, 1).0,
            RouteData::new(0, 0, 1).0,
        ];
        let leader = r.leader_data().unwrap();
        let built = MleRepr::advertisement(
            ShortAddress(0xc000),
            leader,
            Route64 {
                id_sequence: 0x90,
                router_mask: mask,
                route_data: &data,
            },
        )
        .unwrap();
        let mut out = [0u8; 64];
        let n = built.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &b[..]);
    }

    #[test]
    fn data_response_with_border_router_prefix() {
        let b = hex(DATA_RESPONSE);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::DataResponse);
        assert_eq!(r.leader_data().unwrap().data_version, 106);
        assert_eq!(r.leader_data().unwrap().stable_data_version, 229);
        let nd = r.network_data().unwrap();
        assert_eq!(nd.as_bytes().len(), 28);
        assert_eq!(nd.iter().count(), 2);
    }

    #[test]
    fn child_update() {
        let b = hex(CHILD_UPDATE_REQUEST);
        let r = round_trip(&b);
        assert_eq!(r.command, Command::ChildUpdateRequest);
        let regs: StdVec<_> = r
            .address_registration()
            .unwrap()
            .entries()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(regs.len(), 2);
        assert_eq!(
            regs[1],
            AddressRegistrationEntry::Compressed {
                context_id: 1,
                iid: hex("78a71dfd4d0b4226").try_into().unwrap()
            }
        );
        let b = hex(CHILD_UPDATE_RESPONSE);
        assert_eq!(round_trip(&b).command, Command::ChildUpdateResponse);
    }

    #[test]
    fn uncompressed_address_registration_round_trip() {
        let addr = Ipv6Address::parse("2001:cafe:cafe:cafe::1").unwrap();
        let mut v = [0u8; 17];
        assert_eq!(
            AddressRegistrationEntry::Uncompressed(addr).emit(&mut v),
            Ok(17)
        );
        let r = MleRepr::new(Command::ChildUpdateRequest)
            .with(MleTlv::AddressRegistration(AddressRegistration(&v)))
            .unwrap();
        let mut out = [0u8; 32];
        let n = r.emit(&mut out).unwrap();
        let back = MleRepr::parse(&out[..n]).unwrap();
        let e = back
            .address_registration()
            .unwrap()
            .entries()
            .next()
            .unwrap();
        assert_eq!(e, Ok(AddressRegistrationEntry::Uncompressed(addr)));
    }

    #[test]
    fn unknown_tlvs_and_commands_kept() {
        // Link Quality TLV (6) is not typed; command 5 is retired.
        let b = [5u8, 6, 3, 1, 2, 3, 0x30, 0];
        let r = round_trip(&b);
        assert_eq!(r.command, Command::Unknown(5));
        assert_eq!(
            r.tlvs[0],
            MleTlv::Unknown {
                tlv_type: 6,
                value: &[1, 2, 3]
            }
        );
        assert_eq!(
            r.tlvs[1],
            MleTlv::Unknown {
                tlv_type: 0x30,
                value: &[]
            }
        );
        for c in 0..=255u8 {
            assert_eq!(u8::from(Command::from(c)), c);
        }
    }

    #[test]
    fn every_prefix_of_real_messages_is_rejected_or_parses() {
        for m in ALL {
            let b = hex(m);
            for n in 0..b.len() {
                // Cutting inside a TLV must say Truncated; between TLVs it is a shorter valid message.
                match MleRepr::parse(&b[..n]) {
                    Ok(r) => assert_eq!(r.buffer_len(), n),
                    Err(e) => assert_eq!(e, Error::Truncated, "{m} cut at {n}"),
                }
            }
        }
        assert_eq!(MleRepr::parse(&[]), Err(Error::Truncated));
    }

    #[test]
    fn malformed_values() {
        // Source Address with 3 bytes.
        assert_eq!(MleRepr::parse(&[4, 0, 3, 1, 2, 3]), Err(Error::Malformed));
        // Challenge of 3 bytes.
        assert_eq!(MleRepr::parse(&[9, 3, 3, 1, 2, 3]), Err(Error::Malformed));
        // Route64 mask announces 2 routers, one route byte.
        assert_eq!(
            MleRepr::parse(&hex("04090a01c00000000000000001")),
            Err(Error::Malformed)
        );
        // Connectivity with 8 bytes.
        assert_eq!(
            MleRepr::parse(&hex("0a0f080000000000000000")),
            Err(Error::Malformed)
        );
        // Address Registration cut inside an entry.
        assert_eq!(
            MleRepr::parse(&hex("0d13058001020304")),
            Err(Error::Truncated)
        );
        // Network Data whose inner TLV overruns.
        assert_eq!(MleRepr::parse(&hex("080c0203050a")), Err(Error::Truncated));
    }

    #[test]
    fn emit_errors() {
        let b = hex(PARENT_RESPONSE);
        let r = MleRepr::parse(&b).unwrap();
        let mut small = [0u8; 20];
        assert_eq!(r.emit(&mut small), Err(Error::BufferTooSmall));
        let big = [0u8; 300];
        let r = MleRepr::new(Command::DataResponse)
            .with(MleTlv::Unknown {
                tlv_type: 99,
                value: &big,
            })
            .unwrap();
        let mut out = [0u8; 400];
        assert_eq!(r.emit(&mut out), Err(Error::Oversized));
        let mut r = MleRepr::new(Command::DataResponse);
        for _ in 0..MAX_TLVS {
            r.push(MleTlv::Status(0)).unwrap();
        }
        assert_eq!(r.push(MleTlv::Status(0)), Err(Error::Oversized));
    }

    #[test]
    fn fuzz_never_panics() {
        // Deterministic pseudo-random inputs, plus bit flips of real messages.
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut buf = [0u8; 96];
        for _ in 0..20000 {
            let len = (next() % 96) as usize;
            for b in buf.iter_mut().take(len) {
                *b = next() as u8;
            }
            if let Ok(r) = MleRepr::parse(&buf[..len]) {
                let mut out = [0u8; 128];
                let n = r.emit(&mut out).unwrap();
                assert_eq!(&out[..n], &buf[..len]);
            }
        }
        for m in ALL {
            let orig = hex(m);
            for i in 0..orig.len() * 8 {
                let mut b = orig.clone();
                b[i / 8] ^= 1 << (i % 8);
                let parsed = MleRepr::parse(&b);
                if let Ok(r) = parsed {
                    let mut out = [0u8; 256];
                    let n = r.emit(&mut out).unwrap();
                    assert_eq!(&out[..n], &b[..]);
                }
            }
        }
    }

    #[test]
    fn tlv_view() {
        let b = hex(PARENT_REQUEST);
        let t = Tlv::new_checked(&b[1..]).unwrap();
        assert_eq!((t.tlv_type(), t.length(), t.value()), (1, 1, &[0x0f][..]));
        assert_eq!(Tlv::new_checked(&b[4..8]).err(), Some(Error::Truncated));
        let mut m = [0u8; 3];
        let mut t = Tlv::new_unchecked(&mut m[..]);
        t.set_tlv_type(1);
        t.set_length(1);
        t.value_mut()[0] = 0x0d;
        assert_eq!(m, [1, 1, 0x0d]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.command(), Command::ParentRequest);
        assert_eq!(p.tlvs().count(), 4);
    }
}
