//! Thread Network Data as a node holds and uses it (OpenThread `network_data*.cpp`,
//! `network_data_leader_ftd.cpp`, `network_data_local.cpp`, `utils/slaac.cpp`).
//!
//! This module owns:
//! - [`NetworkData`]: the fixed-capacity (254-byte) image of the partition's Network Data with
//!   its version and stable version, as every node keeps it (the copy from the leader's MLE
//!   Network Data TLV), with typed iterators (on-mesh prefixes, external routes, 6LoWPAN
//!   contexts), the stable subset sent to children that ask only for stable data, border-router
//!   selection and the `netdata show` text.
//! - [`leader::Leader`]: the leader's store (server-data registration, context ids, versions).
//! - [`local::Local`]: the prefixes this node announces as border router (server data payload).
//! - [`slaac::Slaac`]: the SLAAC addresses a node configures from on-mesh prefixes.
//!
//! Pure data structures: no I/O, time passed in. The bytes are parsed with
//! [`crate::wire::netdata`]; an image is validated when it is set, so reading it cannot fail.

pub mod leader;
pub mod local;
pub mod slaac;

use core::fmt;

use heapless::Vec;

use crate::wire::netdata::{
    tlv_type, BorderRouterEntry, HasRouteEntry, NetworkData as NetworkDataView, NetworkDataValue,
};
use crate::wire::{Error, Ipv6Address, Result, ShortAddress};

/// Largest Network Data image: a Thread TLV carries at most 254 bytes of Network Data
/// (OpenThread `NetworkData::kMaxSize`).
pub const MAX_SIZE: usize = 254;

/// The image type every store here uses.
pub type Bytes = Vec<u8, MAX_SIZE>;

/// MeshCoP TLV types found inside Commissioning Data (OpenThread `meshcop_tlvs.hpp`).
mod meshcop {
    pub const STEERING_DATA: u8 = 8;
    pub const BORDER_AGENT_LOCATOR: u8 = 9;
    pub const COMMISSIONER_SESSION_ID: u8 = 11;
    pub const JOINER_UDP_PORT: u8 = 18;
}

/// Route preference from its 2-bit field; the reserved value counts as medium, as OpenThread
/// reads it.
fn normalize_preference(p: i8) -> i8 {
    if p == -2 {
        0
    } else {
        p
    }
}

/// The prefix bits of `prefix` (first `ceil(length/8)` bytes) match `addr`.
pub(crate) fn prefix_matches(addr: &Ipv6Address, prefix: &[u8], length: u8) -> bool {
    let full = usize::from(length / 8);
    let rem = length % 8;
    if length > 128 || prefix.len() < full + usize::from(rem != 0) {
        return false;
    }
    if addr.0[..full] != prefix[..full] {
        return false;
    }
    if rem == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    (addr.0[full] & mask) == (prefix[full] & mask)
}

/// One border router serving an on-mesh prefix (a Border Router entry in a Prefix TLV),
/// as OpenThread's `otBorderRouterConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnMeshPrefix {
    /// The prefix, zero past `length`.
    pub prefix: Ipv6Address,
    pub length: u8,
    /// The Border Router sub-TLV's stable flag.
    pub stable: bool,
    pub entry: BorderRouterEntry,
}

impl OnMeshPrefix {
    pub fn rloc16(&self) -> ShortAddress {
        self.entry.rloc16
    }
    /// 1 high, 0 medium, -1 low.
    pub fn preference(&self) -> i8 {
        normalize_preference(self.entry.preference())
    }
}

/// One border router offering an external route (a Has Route entry in a Prefix TLV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalRoute {
    pub prefix: Ipv6Address,
    pub length: u8,
    pub stable: bool,
    pub entry: HasRouteEntry,
}

impl ExternalRoute {
    pub fn rloc16(&self) -> ShortAddress {
        self.entry.rloc16
    }
    pub fn preference(&self) -> i8 {
        normalize_preference(self.entry.preference())
    }
}

/// A 6LoWPAN context from a 6LoWPAN ID sub-TLV (context 0, the mesh-local prefix, is not in
/// Network Data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowpanContext {
    /// The enclosing prefix, zero past `length`.
    pub prefix: Ipv6Address,
    /// Context length in bits.
    pub length: u8,
    pub context_id: u8,
    pub compress: bool,
    pub stable: bool,
}

/// The Commissioning Data fields `netdata show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommissioningDataset<'a> {
    pub session_id: Option<u16>,
    pub border_agent_locator: Option<u16>,
    pub joiner_udp_port: Option<u16>,
    pub steering_data: Option<&'a [u8]>,
    /// Some other MeshCoP TLV is present.
    pub has_extra_tlv: bool,
}

/// The partition's Network Data: image, version and stable version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkData {
    bytes: Bytes,
    version: u8,
    stable_version: u8,
}

impl NetworkData {
    pub const fn new() -> Self {
        NetworkData {
            bytes: Vec::new(),
            version: 0,
            stable_version: 0,
        }
    }

    /// Replace the image (from a Network Data TLV) and the versions (from the Leader Data
    /// TLV). The bytes are validated; on error nothing changes.
    pub fn set(&mut self, version: u8, stable_version: u8, bytes: &[u8]) -> Result<()> {
        NetworkDataView::new_checked(bytes)?;
        self.bytes = Vec::from_slice(bytes).map_err(|_| Error::Oversized)?;
        self.version = version;
        self.stable_version = stable_version;
        Ok(())
    }

    /// Build from parts; see [`NetworkData::set`].
    pub fn from_bytes(version: u8, stable_version: u8, bytes: &[u8]) -> Result<Self> {
        let mut nd = NetworkData::new();
        nd.set(version, stable_version, bytes)?;
        Ok(nd)
    }

    pub fn version(&self) -> u8 {
        self.version
    }

    pub fn stable_version(&self) -> u8 {
        self.stable_version
    }

    /// The image, as the MLE Network Data TLV carries it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Typed view of the image (validated when set, so this cannot fail).
    pub fn view(&self) -> NetworkDataView<'_> {
        NetworkDataView::new_checked(&self.bytes).unwrap_or_default()
    }

    /// Every (prefix, border router) pair in TLV order, as OpenThread's
    /// `GetNextOnMeshPrefix`.
    pub fn on_mesh_prefixes(&self) -> impl Iterator<Item = OnMeshPrefix> + '_ {
        self.view().iter().flat_map(|t| {
            let p = match t.value {
                NetworkDataValue::Prefix(p) => Some(p),
                _ => None,
            };
            p.into_iter().flat_map(|p| {
                let (prefix, length) = (p.address(), p.prefix_length);
                p.sub_tlvs.iter().flat_map(move |s| {
                    let br = match s.value {
                        NetworkDataValue::BorderRouter(b) => Some((s.stable, b)),
                        _ => None,
                    };
                    br.into_iter().flat_map(move |(stable, b)| {
                        b.entries().map(move |entry| OnMeshPrefix {
                            prefix,
                            length,
                            stable,
                            entry,
                        })
                    })
                })
            })
        })
    }

    /// Every (prefix, Has Route entry) pair in TLV order (`GetNextExternalRoute`).
    pub fn external_routes(&self) -> impl Iterator<Item = ExternalRoute> + '_ {
        self.view().iter().flat_map(|t| {
            let p = match t.value {
                NetworkDataValue::Prefix(p) => Some(p),
                _ => None,
            };
            p.into_iter().flat_map(|p| {
                let (prefix, length) = (p.address(), p.prefix_length);
                p.sub_tlvs.iter().flat_map(move |s| {
                    let hr = match s.value {
                        NetworkDataValue::HasRoute(h) => Some((s.stable, h)),
                        _ => None,
                    };
                    hr.into_iter().flat_map(move |(stable, h)| {
                        h.entries().map(move |entry| ExternalRoute {
                            prefix,
                            length,
                            stable,
                            entry,
                        })
                    })
                })
            })
        })
    }

    /// 6LoWPAN contexts in TLV order (`GetNextLowpanContextInfo`).
    pub fn contexts(&self) -> impl Iterator<Item = LowpanContext> + '_ {
        self.view().iter().flat_map(|t| {
            let p = match t.value {
                NetworkDataValue::Prefix(p) => Some(p),
                _ => None,
            };
            p.into_iter().flat_map(|p| {
                let prefix = p.address();
                p.sub_tlvs.iter().filter_map(move |s| match s.value {
                    NetworkDataValue::Context(c) => Some(LowpanContext {
                        prefix: mask_prefix(prefix, c.context_length),
                        length: c.context_length,
                        context_id: c.context_id(),
                        compress: c.compress(),
                        stable: s.stable,
                    }),
                    _ => None,
                })
            })
        })
    }

    /// The context with this id (for 6LoWPAN decompression).
    pub fn context_by_id(&self, context_id: u8) -> Option<LowpanContext> {
        self.contexts().find(|c| c.context_id == context_id)
    }

    /// The longest compressing context covering `addr` (for 6LoWPAN compression).
    pub fn context_for_address(&self, addr: &Ipv6Address) -> Option<LowpanContext> {
        self.contexts()
            .filter(|c| c.compress && prefix_matches(addr, &c.prefix.0, c.length))
            .fold(None, |best: Option<LowpanContext>, c| match best {
                Some(b) if b.length >= c.length => Some(b),
                _ => Some(c),
            })
    }

    /// Value of the Commissioning Data TLV (MeshCoP TLVs).
    pub fn commissioning_data(&self) -> Option<&[u8]> {
        self.view().iter().find_map(|t| match t.value {
            NetworkDataValue::CommissioningData(v) => Some(v),
            _ => None,
        })
    }

    /// The Commissioning Data fields (`otNetDataGetCommissioningDataset`).
    pub fn commissioning_dataset(&self) -> CommissioningDataset<'_> {
        let mut ds = CommissioningDataset::default();
        let Some(v) = self.commissioning_data() else {
            return ds;
        };
        let u16_of = |v: &[u8]| <[u8; 2]>::try_from(v).ok().map(u16::from_be_bytes);
        for raw in crate::wire::mle::TlvIter::new(v) {
            let Ok(raw) = raw else { break };
            match raw.tlv_type {
                meshcop::COMMISSIONER_SESSION_ID => ds.session_id = u16_of(raw.value),
                meshcop::BORDER_AGENT_LOCATOR => ds.border_agent_locator = u16_of(raw.value),
                meshcop::JOINER_UDP_PORT => ds.joiner_udp_port = u16_of(raw.value),
                meshcop::STEERING_DATA => ds.steering_data = Some(raw.value),
                _ => ds.has_extra_tlv = true,
            }
        }
        ds
    }

    /// Whether any entry (Border Router, Has Route, Server) names `rloc16`.
    pub fn contains_rloc16(&self, rloc16: ShortAddress) -> bool {
        self.on_mesh_prefixes().any(|p| p.rloc16() == rloc16)
            || self.external_routes().any(|r| r.rloc16() == rloc16)
            || self.view().iter().any(|t| match t.value {
                NetworkDataValue::Service(s) => s.sub_tlvs.iter().any(
                    |st| matches!(st.value, NetworkDataValue::Server(sv) if sv.rloc16 == rloc16),
                ),
                _ => false,
            })
    }

    /// The stable subset for children that do not ask for full Network Data (OpenThread
    /// `RemoveTemporaryData`): temporary TLVs and sub-TLVs dropped, prefixes and services left
    /// without sub-TLVs dropped, and in Border Router entries the RLOC16 replaced by
    /// 0xfc00 | context id (DHCP or configure flag, context present) or 0xfffe, in Has Route
    /// entries by 0xfffe. Versions unchanged.
    pub fn stable_subset(&self) -> NetworkData {
        let mut out = NetworkData {
            bytes: Vec::new(),
            version: self.version,
            stable_version: self.stable_version,
        };
        // The subset is never longer than the image, so the pushes below cannot fail.
        let b = &self.bytes;
        for (off, ty, len) in tlv_offsets(b, 0, b.len()) {
            let end = off + 2 + len;
            match ty >> 1 {
                tlv_type::PREFIX | tlv_type::SERVICE => {
                    let sub_start = sub_tlvs_start(b, off);
                    let head = out.bytes.len();
                    let _ = out.bytes.extend_from_slice(&b[off..sub_start]);
                    let context_id = if ty >> 1 == tlv_type::PREFIX {
                        find_sub(b, off, tlv_type::CONTEXT, None).map(|c| b[c + 2] & 0x0f)
                    } else {
                        None
                    };
                    for (s, sty, slen) in tlv_offsets(b, sub_start, end) {
                        if sty & 1 == 0 {
                            continue;
                        }
                        let at = out.bytes.len();
                        let _ = out.bytes.extend_from_slice(&b[s..s + 2 + slen]);
                        let entry_area = &mut out.bytes[at + 2..];
                        if ty >> 1 == tlv_type::PREFIX && sty >> 1 == tlv_type::BORDER_ROUTER {
                            for e in entry_area.chunks_exact_mut(4) {
                                let flags = u16::from_be_bytes([e[2], e[3]]);
                                let dhcp = flags
                                    & (BorderRouterEntry::DHCP | BorderRouterEntry::CONFIGURE)
                                    != 0;
                                let r = match context_id {
                                    Some(id) if dhcp => 0xfc00 | u16::from(id),
                                    _ => 0xfffe,
                                };
                                e[..2].copy_from_slice(&r.to_be_bytes());
                            }
                        } else if ty >> 1 == tlv_type::PREFIX && sty >> 1 == tlv_type::HAS_ROUTE {
                            for e in entry_area.chunks_exact_mut(3) {
                                e[..2].copy_from_slice(&0xfffeu16.to_be_bytes());
                            }
                        }
                    }
                    if out.bytes.len() == head + (sub_start - off) {
                        out.bytes.truncate(head);
                    } else {
                        out.bytes[head + 1] = (out.bytes.len() - head - 2) as u8;
                    }
                }
                _ => {
                    if ty & 1 != 0 {
                        let _ = out.bytes.extend_from_slice(&b[off..end]);
                    }
                }
            }
        }
        out
    }

    /// The border router for a packet to `dst`: among on-mesh prefixes (Border Router entries)
    /// and external routes (Has Route entries) covering `dst`, the longest prefix, then the
    /// highest preference, then the lowest path cost (`path_cost(rloc16)`, from the node's
    /// routing table); on a full tie the first in Network Data order. Returns its RLOC16 and
    /// preference.
    pub fn border_router_for(
        &self,
        dst: &Ipv6Address,
        mut path_cost: impl FnMut(ShortAddress) -> u8,
    ) -> Option<(ShortAddress, i8)> {
        let candidates = self
            .on_mesh_prefixes()
            .map(|p| (p.prefix, p.length, p.rloc16(), p.preference()))
            .chain(
                self.external_routes()
                    .map(|r| (r.prefix, r.length, r.rloc16(), r.preference())),
            );
        let mut best: Option<(u8, i8, u8, ShortAddress)> = None;
        for (prefix, length, rloc16, pref) in candidates {
            if !prefix_matches(dst, &prefix.0, length) {
                continue;
            }
            let cost = path_cost(rloc16);
            let better = match best {
                None => true,
                Some((bl, bp, bc, _)) => {
                    length > bl || (length == bl && (pref > bp || (pref == bp && cost < bc)))
                }
            };
            if better {
                best = Some((length, pref, cost, rloc16));
            }
        }
        best.map(|(_, pref, _, rloc16)| (rloc16, pref))
    }

    /// `netdata show` as OpenThread's CLI prints it, without the final `Done`; lines end with
    /// `\n` (the caller adds its own line discipline).
    pub fn show(&self, w: &mut impl fmt::Write) -> fmt::Result {
        w.write_str("Prefixes:\n")?;
        for p in self.on_mesh_prefixes() {
            write_prefix(w, &p.prefix, p.length)?;
            let mut flags: Vec<u8, 9> = Vec::new();
            let e = p.entry;
            for (on, c) in [
                (e.preferred(), b'p'),
                (e.slaac(), b'a'),
                (e.dhcp(), b'd'),
                (e.configure(), b'c'),
                (e.default_route(), b'r'),
                (e.on_mesh(), b'o'),
                (p.stable, b's'),
                (e.nd_dns(), b'n'),
                (e.flags & BorderRouterEntry::DP != 0, b'D'),
            ] {
                if on {
                    let _ = flags.push(c);
                }
            }
            if !flags.is_empty() {
                w.write_char(' ')?;
                w.write_str(core::str::from_utf8(&flags).unwrap_or(""))?;
            }
            writeln!(
                w,
                " {} {:04x}",
                preference_str(p.preference()),
                p.rloc16().0
            )?;
        }
        w.write_str("Routes:\n")?;
        for r in self.external_routes() {
            write_prefix(w, &r.prefix, r.length)?;
            let mut flags: Vec<u8, 3> = Vec::new();
            for (on, c) in [
                (r.stable, b's'),
                (r.entry.flags & ROUTE_NAT64 != 0, b'n'),
                (r.entry.flags & ROUTE_ADV_PIO != 0, b'a'),
            ] {
                if on {
                    let _ = flags.push(c);
                }
            }
            if !flags.is_empty() {
                w.write_char(' ')?;
                w.write_str(core::str::from_utf8(&flags).unwrap_or(""))?;
            }
            writeln!(
                w,
                " {} {:04x}",
                preference_str(r.preference()),
                r.rloc16().0
            )?;
        }
        w.write_str("Services:\n")?;
        for t in self.view().iter() {
            let NetworkDataValue::Service(s) = t.value else {
                continue;
            };
            for st in s.sub_tlvs.iter() {
                let NetworkDataValue::Server(sv) = st.value else {
                    continue;
                };
                write!(w, "{} ", s.enterprise())?;
                write_hex(w, s.service_data)?;
                w.write_char(' ')?;
                write_hex(w, sv.server_data)?;
                if st.stable {
                    w.write_str(" s")?;
                }
                writeln!(w, " {:04x} {}", sv.rloc16.0, s.service_id())?;
            }
        }
        w.write_str("Contexts:\n")?;
        for c in self.contexts() {
            write_prefix(w, &c.prefix, c.length)?;
            write!(w, " {} ", c.context_id)?;
            // "sc" in the vectors: stable, then compress; "-" when neither (our reading).
            if c.stable {
                w.write_char('s')?;
            }
            if c.compress {
                w.write_char('c')?;
            }
            if !c.stable && !c.compress {
                w.write_char('-')?;
            }
            w.write_char('\n')?;
        }
        w.write_str("Commissioning:\n")?;
        let ds = self.commissioning_dataset();
        match ds.session_id {
            Some(v) => write!(w, "{} ", v)?,
            None => w.write_str("- ")?,
        }
        match ds.border_agent_locator {
            Some(v) => write!(w, "{:04x} ", v)?,
            None => w.write_str("- ")?,
        }
        match ds.joiner_udp_port {
            Some(v) => write!(w, "{} ", v)?,
            None => w.write_str("- ")?,
        }
        match ds.steering_data {
            Some(v) => write_hex(w, v)?,
            None => w.write_char('-')?,
        }
        if ds.has_extra_tlv {
            w.write_str(" e")?;
        }
        w.write_char('\n')
    }
}

/// Has Route entry flags after the preference (Thread 1.3; zero in 1.1).
const ROUTE_NAT64: u8 = 1 << 5;
const ROUTE_ADV_PIO: u8 = 1 << 4;

fn preference_str(p: i8) -> &'static str {
    match p {
        1 => "high",
        -1 => "low",
        _ => "med",
    }
}

fn write_hex(w: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(w, "{:02x}", b)?;
    }
    Ok(())
}

/// OpenThread's `Ip6::Prefix::ToString`: the prefix's 16-bit words (as many as its bytes
/// cover) in `%x`, then `::` unless the prefix covers the whole address, then `/length`.
pub fn write_prefix(w: &mut impl fmt::Write, prefix: &Ipv6Address, length: u8) -> fmt::Result {
    let length = length.min(128);
    let bytes = usize::from(length).div_ceil(8);
    let masked = mask_prefix(*prefix, length);
    let seg = masked.segments();
    for (i, s) in seg.iter().take(bytes.div_ceil(2)).enumerate() {
        if i > 0 {
            w.write_char(':')?;
        }
        write!(w, "{:x}", s)?;
    }
    if bytes < 15 {
        w.write_str("::")?;
    }
    write!(w, "/{}", length)
}

/// `prefix` with the bits past `length` cleared.
pub(crate) fn mask_prefix(prefix: Ipv6Address, length: u8) -> Ipv6Address {
    let mut a = prefix.0;
    for (i, b) in a.iter_mut().enumerate() {
        let keep = usize::from(length.min(128)).saturating_sub(i * 8).min(8);
        *b &= !(0xffu16 >> keep) as u8;
    }
    Ipv6Address(a)
}

// ---------------------------------------------------------------------------------------------
// Offset helpers over a validated image (shared by the leader's in-place editing).
// ---------------------------------------------------------------------------------------------

/// `(offset, type byte, value length)` of each TLV in `b[start..end]`; stops at the first TLV
/// that does not fit (never the case in a validated image).
pub(crate) fn tlv_offsets(
    b: &[u8],
    start: usize,
    end: usize,
) -> impl Iterator<Item = (usize, u8, usize)> + '_ {
    let end = end.min(b.len());
    let mut off = start;
    core::iter::from_fn(move || {
        if off + 2 > end {
            return None;
        }
        let (ty, len) = (b[off], usize::from(b[off + 1]));
        if off + 2 + len > end {
            return None;
        }
        let at = off;
        off += 2 + len;
        Some((at, ty, len))
    })
}

/// End (exclusive) of the TLV at `off`.
pub(crate) fn tlv_end(b: &[u8], off: usize) -> usize {
    off + 2 + usize::from(b.get(off + 1).copied().unwrap_or(0))
}

/// Start of the sub-TLVs of the Prefix or Service TLV at `off`.
pub(crate) fn sub_tlvs_start(b: &[u8], off: usize) -> usize {
    let get = |i: usize| usize::from(b.get(i).copied().unwrap_or(0));
    let end = tlv_end(b, off);
    let start = if b.get(off).map(|t| t >> 1) == Some(tlv_type::PREFIX) {
        off + 4 + get(off + 3).div_ceil(8)
    } else {
        // Service: flags, [enterprise number], service data length, service data.
        let t_bit = get(off + 2) & 0x80 != 0;
        let len_at = off + 3 + if t_bit { 0 } else { 4 };
        len_at + 1 + get(len_at)
    };
    start.min(end)
}

/// First sub-TLV of `ty` (and stable flag, if given) in the Prefix/Service TLV at `off`.
pub(crate) fn find_sub(b: &[u8], off: usize, ty: u8, stable: Option<bool>) -> Option<usize> {
    tlv_offsets(b, sub_tlvs_start(b, off), tlv_end(b, off))
        .find(|&(_, t, _)| t >> 1 == ty && stable.is_none_or(|s| (t & 1 != 0) == s))
        .map(|(s, _, _)| s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec as StdVec;

    pub fn hex(s: &str) -> StdVec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Decrypted MLE Data Response, thread11.pcap frame 44 (leader 0x3c00 after
    /// `prefix add 2001:cafe:cafe:cafe::/64 paros med`, `netdata register`).
    pub const MLE_FRAME44: &str =
        "0800023c000b083eb81d77406ae50f160800000000000100000c1c08040b0298c5\
                                   031400402001cafecafecafe05043c00330007021140";
    /// thread11.pcap frame 3: the leader's first Data Response, commissioning data only.
    pub const MLE_FRAME3: &str =
        "0800023c000b083eb81d774069e40f160800000000000100000c0608040b0298c5";
    /// thread11-line.pcap frame 79: same prefix, leader 0xc000, session id 0x228c.
    pub const MLE_LINE_FRAME79: &str = "080002c0000b087803c589403ebe30160800000000000100000c1c\
                                        08040b02228c031400402001cafecafecafe0504c000330007021140";

    /// Network Data, version and stable version of a decrypted MLE message.
    pub fn from_mle(mle_hex: &str) -> NetworkData {
        let bytes = hex(mle_hex);
        let repr = crate::wire::mle::MleRepr::parse(&bytes).unwrap();
        let ld = repr.leader_data().unwrap();
        let nd = repr.network_data().unwrap();
        NetworkData::from_bytes(ld.data_version, ld.stable_data_version, nd.as_bytes()).unwrap()
    }

    fn show(nd: &NetworkData) -> String {
        let mut s = String::new();
        nd.show(&mut s).unwrap();
        s
    }

    /// The `netdata show` block of a CLI log (between the command and `Done`).
    pub fn cli_block(log: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in log.lines() {
            if line.starts_with("> netdata show") {
                inside = true;
                continue;
            }
            if inside {
                if line == "Done" {
                    break;
                }
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    fn vector(name: &str) -> String {
        std::fs::read_to_string(std::format!(
            "{}/sim/tests/data/vectors/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn frame44_typed_view() {
        let nd = from_mle(MLE_FRAME44);
        assert_eq!((nd.version(), nd.stable_version()), (106, 229));
        let p: StdVec<_> = nd.on_mesh_prefixes().collect();
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].prefix,
            Ipv6Address::parse("2001:cafe:cafe:cafe::").unwrap()
        );
        assert_eq!(p[0].length, 64);
        assert_eq!(p[0].rloc16(), ShortAddress(0x3c00));
        assert_eq!(p[0].preference(), 0);
        assert!(p[0].stable);
        let e = p[0].entry;
        assert!(e.preferred() && e.slaac() && e.default_route() && e.on_mesh());
        assert!(!e.dhcp() && !e.configure() && !e.nd_dns());
        assert_eq!(nd.external_routes().count(), 0);
        let c: StdVec<_> = nd.contexts().collect();
        assert_eq!(
            c,
            [LowpanContext {
                prefix: Ipv6Address::parse("2001:cafe:cafe:cafe::").unwrap(),
                length: 64,
                context_id: 1,
                compress: true,
                stable: true
            }]
        );
        let a = Ipv6Address::parse("2001:cafe:cafe:cafe:1:2:3:4").unwrap();
        assert_eq!(nd.context_for_address(&a).unwrap().context_id, 1);
        assert!(nd
            .context_for_address(&Ipv6Address::parse("2001:cafe::1").unwrap())
            .is_none());
        assert_eq!(nd.context_by_id(1).unwrap().length, 64);
        assert_eq!(nd.commissioning_dataset().session_id, Some(39109));
        assert!(nd.contains_rloc16(ShortAddress(0x3c00)));
        assert!(!nd.contains_rloc16(ShortAddress(0x7800)));
    }

    #[test]
    fn show_equals_cli_logs() {
        for (mle, log) in [
            (MLE_FRAME44, "cli-node1.txt"),
            (MLE_FRAME44, "cli-node2.txt"),
            (MLE_LINE_FRAME79, "cli-line-node1.txt"),
            (MLE_LINE_FRAME79, "cli-line-node4.txt"),
        ] {
            let expected = cli_block(&vector(log));
            assert!(expected.starts_with("Prefixes:\n"), "{log}");
            assert_eq!(show(&from_mle(mle)), expected, "{log}");
        }
        // Before the prefix: only the commissioning line has content.
        assert_eq!(
            show(&from_mle(MLE_FRAME3)),
            "Prefixes:\nRoutes:\nServices:\nContexts:\nCommissioning:\n39109 - - -\n"
        );
    }

    #[test]
    fn show_routes_services_and_other_flags() {
        // Prefix fd00:1122::/32: temporary BR entry 0x5000 "dc" low, stable Has Route 0x5000
        // high, temporary context 2 without compress; a Thread service with a stable server;
        // commissioning data with locator, joiner port, steering data and an extra TLV.
        let b = hex(concat!(
            "0315",
            "0020fd001122",
            "0404",
            "5000cc00",
            "0103",
            "500040",
            "0602",
            "0220",
            "0b08",
            "81",
            "01",
            "5c",
            "0d03",
            "780009",
            "0811",
            "0b020001",
            "09025000",
            "1202",
            "4d4c",
            "0801",
            "ff",
            "3000",
        ));
        let nd = NetworkData::from_bytes(1, 2, &b).unwrap();
        assert_eq!(
            show(&nd),
            "Prefixes:\nfd00:1122::/32 dc low 5000\nRoutes:\nfd00:1122::/32 s high 5000\n\
             Services:\n44970 5c 09 s 7800 1\nContexts:\nfd00:1122::/32 2 -\n\
             Commissioning:\n1 5000 19788 ff e\n"
        );
    }

    #[test]
    fn prefix_text() {
        let p = Ipv6Address::parse("fd00:1234:5678:9abc:1::").unwrap();
        let f = |len| {
            let mut s = String::new();
            write_prefix(&mut s, &p, len).unwrap();
            s
        };
        assert_eq!(f(64), "fd00:1234:5678:9abc::/64");
        assert_eq!(f(48), "fd00:1234:5678::/48");
        assert_eq!(f(12), "fd00::/12");
        assert_eq!(f(0), "::/0");
        assert_eq!(f(128), "fd00:1234:5678:9abc:1:0:0:0/128");
    }

    #[test]
    fn stable_subset_rules() {
        // Prefix A (stable BR 0x5000 paros + temporary BR 0x7800 + stable context 1);
        // prefix B only temporary (dropped); stable Has Route in prefix C; a DHCP entry in
        // prefix D with context 3 → 0xfc03; temporary commissioning data dropped.
        let b = hex(concat!(
            "08040b0298c5",
            "031a",
            "0040fd00000000000001",
            "0504",
            "50003300",
            "0404",
            "78003100",
            "07021140",
            "0310",
            "0040fd00000000000002",
            "0404",
            "78003100",
            "030d",
            "0030fd0000000003",
            "0103",
            "500040",
            "0314",
            "0040fd00000000000004",
            "0504",
            "50000800",
            "07021340",
        ));
        let nd = NetworkData::from_bytes(7, 9, &b).unwrap();
        let s = nd.stable_subset();
        assert_eq!((s.version(), s.stable_version()), (7, 9));
        let expected = hex(concat!(
            "0314",
            "0040fd00000000000001",
            "0504",
            "fffe3300",
            "07021140",
            "030d",
            "0030fd0000000003",
            "0103",
            "fffe40",
            "0314",
            "0040fd00000000000004",
            "0504",
            "fc030800",
            "07021340",
        ));
        assert_eq!(s.as_bytes(), &expected[..]);
        // The vector's data: commissioning (temporary) goes, the prefix stays with 0xfffe.
        let s = from_mle(MLE_FRAME44).stable_subset();
        assert_eq!(
            s.as_bytes(),
            &hex("031400402001cafecafecafe0504fffe330007021140")[..]
        );
    }

    #[test]
    fn border_router_selection() {
        // fd00::/16 served by 0x0400 (high) and fd00:1::/32 by 0x0800 (low) and 0x0c00 (low),
        // a Has Route ::/0 by 0x1000 (high).
        let b = hex(concat!(
            "030a",
            "0010fd00",
            "0504",
            "04007300",
            "0310",
            "0020fd000001",
            "0508",
            "0800f300",
            "0c00f300",
            "0307",
            "0000",
            "0103",
            "100040",
        ));
        let nd = NetworkData::from_bytes(0, 0, &b).unwrap();
        let cost = |r: ShortAddress| match r.0 {
            0x0800 => 5,
            0x0c00 => 2,
            _ => 1,
        };
        let a = |s| Ipv6Address::parse(s).unwrap();
        // Longest prefix wins over preference.
        assert_eq!(
            nd.border_router_for(&a("fd00:1::5"), cost),
            Some((ShortAddress(0x0c00), -1))
        );
        // Same prefix, same preference: lowest path cost.
        assert_eq!(
            nd.border_router_for(&a("fd00:1::5"), |r| if r.0 == 0x0800 { 1 } else { 9 }),
            Some((ShortAddress(0x0800), -1))
        );
        // /16 beats the /0 route.
        assert_eq!(
            nd.border_router_for(&a("fd00:2::1"), cost),
            Some((ShortAddress(0x0400), 1))
        );
        // Only the default route covers 2001::1.
        assert_eq!(
            nd.border_router_for(&a("2001::1"), cost),
            Some((ShortAddress(0x1000), 1))
        );
        assert_eq!(
            NetworkData::new().border_router_for(&a("2001::1"), cost),
            None
        );
    }

    #[test]
    fn preference_beats_cost_on_same_prefix() {
        let b = hex(concat!(
            "0314",
            "0040fd00000000000001",
            "0508",
            "08003300",
            "0c007300",
        ));
        let nd = NetworkData::from_bytes(0, 0, &b).unwrap();
        let dst = Ipv6Address::parse("fd00::1:0:0:0:9").unwrap();
        assert_eq!(
            nd.border_router_for(&dst, |r| if r.0 == 0x0800 { 1 } else { 10 }),
            Some((ShortAddress(0x0c00), 1))
        );
    }

    #[test]
    fn rejects_bad_images() {
        let mut nd = from_mle(MLE_FRAME44);
        let before = nd.clone();
        assert_eq!(nd.set(1, 1, &hex("0503000033")), Err(Error::Malformed));
        assert_eq!(nd.set(1, 1, &[0u8; 256]), Err(Error::Oversized));
        assert_eq!(nd, before);
    }

    #[test]
    fn random_images_never_panic() {
        let mut rng = crate::rand::Rng::new(7);
        let mut leader = leader::Leader::new(0, 0);
        let mut buf = [0u8; 96];
        let dst = Ipv6Address::parse("fd00::1").unwrap();
        for i in 0..20000u32 {
            let len = rng.range_u32(0, buf.len() as u32) as usize;
            for b in buf.iter_mut().take(len) {
                // Small values make plausible types and lengths.
                *b = rng.range_u32(0, 24) as u8;
            }
            if let Ok(nd) = NetworkData::from_bytes(1, 2, &buf[..len]) {
                let mut s = String::new();
                nd.show(&mut s).unwrap();
                let sub = nd.stable_subset();
                NetworkData::from_bytes(1, 2, sub.as_bytes()).unwrap();
                let _ = nd.border_router_for(&dst, |_| 1);
                let _ = nd.context_for_address(&dst);
            }
            let rloc = ShortAddress((i % 4) as u16 * 0x400);
            let _ = leader.register_server_data(rloc, &buf[..len], crate::time::Instant(0));
            NetworkData::from_bytes(0, 0, leader.network_data().as_bytes()).unwrap();
        }
    }
}
