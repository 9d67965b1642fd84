//! Thread Network Data: the TLVs the leader distributes in MLE Network Data TLVs and the TMF
//! Thread Network Data TLV (OpenThread `network_data_tlvs.hpp`).
//!
//! Each TLV's type byte carries the type in bits 7-1 and the *stable* flag in bit 0. Prefix and
//! Service TLVs nest sub-TLVs (Has Route, Border Router, 6LoWPAN Context; Server), read with the
//! same iterator. Variable-length parts borrow the buffer, so parse → emit is byte-exact.
//! [`NetworkData::new_checked`] validates a whole block once; iterating it afterwards cannot fail.

use super::mle::{fixed, TlvIter, Writer};
use super::{Error, Ipv6Address, Result, ShortAddress};

/// Network Data TLV type numbers (before the shift that makes room for the stable bit).
pub mod tlv_type {
    pub const HAS_ROUTE: u8 = 0;
    pub const PREFIX: u8 = 1;
    pub const BORDER_ROUTER: u8 = 2;
    /// 6LoWPAN ID / Context TLV.
    pub const CONTEXT: u8 = 3;
    pub const COMMISSIONING_DATA: u8 = 4;
    pub const SERVICE: u8 = 5;
    pub const SERVER: u8 = 6;
}

/// IANA enterprise number of the Thread Group; Service TLVs with the T bit set imply it.
pub const THREAD_ENTERPRISE_NUMBER: u32 = 44970;

/// Route preference in bits 7-6 of a flags byte: 1 high, 0 medium, -1 low, -2 reserved.
fn preference(bits: u8) -> i8 {
    (bits as i8) >> 6
}

/// A block of Network Data TLVs, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkData<'a> {
    bytes: &'a [u8],
    /// Inside a Prefix or Service TLV: nested Prefix/Service TLVs are not interpreted there.
    nested: bool,
}

impl<'a> NetworkData<'a> {
    /// Validate a top-level block (every TLV and sub-TLV).
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self> {
        Self::checked(bytes, false)
    }

    fn checked(bytes: &'a [u8], nested: bool) -> Result<Self> {
        let data = NetworkData { bytes, nested };
        for raw in TlvIter::new(bytes) {
            let raw = raw?;
            NetworkDataTlv::parse_raw(raw.tlv_type, raw.value, nested)?;
        }
        Ok(data)
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// TLVs in order. Validated at construction, so nothing is skipped.
    pub fn iter(&self) -> impl Iterator<Item = NetworkDataTlv<'a>> + 'a {
        let nested = self.nested;
        TlvIter::new(self.bytes).filter_map(move |raw| {
            let raw = raw.ok()?;
            NetworkDataTlv::parse_raw(raw.tlv_type, raw.value, nested).ok()
        })
    }

    /// Write `tlvs` one after the other (to build a Network Data block or a sub-TLV list).
    pub fn emit_tlvs(tlvs: &[NetworkDataTlv], out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out);
        for t in tlvs {
            t.emit_to(&mut w)?;
        }
        Ok(w.pos())
    }
}

/// One Network Data TLV with its stable flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkDataTlv<'a> {
    pub stable: bool,
    pub value: NetworkDataValue<'a>,
}

/// The typed value of a Network Data TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkDataValue<'a> {
    HasRoute(HasRoute<'a>),
    Prefix(Prefix<'a>),
    BorderRouter(BorderRouter<'a>),
    Context(Context),
    /// MeshCoP TLVs (commissioner session id, border agent locator...), kept raw.
    CommissioningData(&'a [u8]),
    Service(Service<'a>),
    Server(Server<'a>),
    /// Any other type (7-bit type number), kept raw.
    Unknown {
        tlv_type: u8,
        value: &'a [u8],
    },
}

impl<'a> NetworkDataTlv<'a> {
    /// Parse one top-level TLV from the start of `bytes`; returns it and the bytes consumed.
    pub fn parse(bytes: &'a [u8]) -> Result<(Self, usize)> {
        let raw = TlvIter::new(bytes).next().ok_or(Error::Truncated)??;
        let tlv = Self::parse_raw(raw.tlv_type, raw.value, false)?;
        Ok((tlv, 2 + raw.value.len()))
    }

    fn parse_raw(type_byte: u8, v: &'a [u8], nested: bool) -> Result<Self> {
        use tlv_type as t;
        let stable = type_byte & 1 != 0;
        let value = match type_byte >> 1 {
            t::HAS_ROUTE => NetworkDataValue::HasRoute(HasRoute::parse(v)?),
            t::PREFIX if !nested => NetworkDataValue::Prefix(Prefix::parse(v)?),
            t::BORDER_ROUTER => NetworkDataValue::BorderRouter(BorderRouter::parse(v)?),
            t::CONTEXT => NetworkDataValue::Context(Context::parse(v)?),
            t::COMMISSIONING_DATA => NetworkDataValue::CommissioningData(v),
            t::SERVICE if !nested => NetworkDataValue::Service(Service::parse(v)?),
            t::SERVER => NetworkDataValue::Server(Server::parse(v)?),
            other => NetworkDataValue::Unknown {
                tlv_type: other,
                value: v,
            },
        };
        Ok(NetworkDataTlv { stable, value })
    }

    /// The 7-bit type number.
    pub fn tlv_type(&self) -> u8 {
        use tlv_type as t;
        match self.value {
            NetworkDataValue::HasRoute(_) => t::HAS_ROUTE,
            NetworkDataValue::Prefix(_) => t::PREFIX,
            NetworkDataValue::BorderRouter(_) => t::BORDER_ROUTER,
            NetworkDataValue::Context(_) => t::CONTEXT,
            NetworkDataValue::CommissioningData(_) => t::COMMISSIONING_DATA,
            NetworkDataValue::Service(_) => t::SERVICE,
            NetworkDataValue::Server(_) => t::SERVER,
            NetworkDataValue::Unknown { tlv_type, .. } => tlv_type,
        }
    }

    fn value_len(&self) -> usize {
        match &self.value {
            NetworkDataValue::HasRoute(h) => h.0.len(),
            NetworkDataValue::Prefix(p) => 2 + p.prefix.len() + p.sub_tlvs.bytes.len(),
            NetworkDataValue::BorderRouter(b) => b.0.len(),
            NetworkDataValue::Context(_) => 2,
            NetworkDataValue::CommissioningData(v) | NetworkDataValue::Unknown { value: v, .. } => {
                v.len()
            }
            NetworkDataValue::Service(s) => {
                2 + if s.enterprise_number.is_some() { 4 } else { 0 }
                    + s.service_data.len()
                    + s.sub_tlvs.bytes.len()
            }
            NetworkDataValue::Server(s) => 2 + s.server_data.len(),
        }
    }

    pub fn buffer_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Write the TLV into `out`; returns bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out);
        self.emit_to(&mut w)?;
        Ok(w.pos())
    }

    fn emit_to(&self, w: &mut Writer) -> Result<()> {
        if self.tlv_type() > 0x7f {
            return Err(Error::Malformed);
        }
        w.tlv_header(
            (self.tlv_type() << 1) | u8::from(self.stable),
            self.value_len(),
        )?;
        match &self.value {
            NetworkDataValue::HasRoute(h) => {
                if !h.0.len().is_multiple_of(3) {
                    return Err(Error::Malformed);
                }
                w.put(h.0)
            }
            NetworkDataValue::BorderRouter(b) => {
                if !b.0.len().is_multiple_of(4) {
                    return Err(Error::Malformed);
                }
                w.put(b.0)
            }
            NetworkDataValue::Prefix(p) => {
                if p.prefix.len() != prefix_bytes(p.prefix_length)? {
                    return Err(Error::Malformed);
                }
                w.put(&[p.domain_id, p.prefix_length])?;
                w.put(p.prefix)?;
                w.put(p.sub_tlvs.bytes)
            }
            NetworkDataValue::Context(c) => w.put(&[c.flags, c.context_length]),
            NetworkDataValue::CommissioningData(v) | NetworkDataValue::Unknown { value: v, .. } => {
                w.put(v)
            }
            NetworkDataValue::Service(s) => {
                // T bit set exactly when the enterprise number is left out.
                if (s.flags & Service::THREAD_ENTERPRISE != 0) != s.enterprise_number.is_none() {
                    return Err(Error::Malformed);
                }
                w.u8(s.flags)?;
                if let Some(e) = s.enterprise_number {
                    w.u32(e)?;
                }
                let len = u8::try_from(s.service_data.len()).map_err(|_| Error::Oversized)?;
                w.u8(len)?;
                w.put(s.service_data)?;
                w.put(s.sub_tlvs.bytes)
            }
            NetworkDataValue::Server(s) => {
                w.u16(s.rloc16.0)?;
                w.put(s.server_data)
            }
        }
    }
}

/// Has Route TLV: entries of RLOC16 + flags byte, kept as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasRoute<'a>(pub &'a [u8]);

/// One Has Route entry: a border router offering an external route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HasRouteEntry {
    pub rloc16: ShortAddress,
    /// Preference in bits 7-6; the rest reserved (kept).
    pub flags: u8,
}

impl HasRouteEntry {
    pub fn preference(&self) -> i8 {
        preference(self.flags)
    }
    pub fn to_bytes(&self) -> [u8; 3] {
        let r = self.rloc16.0.to_be_bytes();
        [r[0], r[1], self.flags]
    }
}

impl<'a> HasRoute<'a> {
    fn parse(v: &'a [u8]) -> Result<Self> {
        if !v.len().is_multiple_of(3) {
            return Err(Error::Malformed);
        }
        Ok(HasRoute(v))
    }

    pub fn entries(&self) -> impl Iterator<Item = HasRouteEntry> + 'a {
        self.0.chunks_exact(3).map(|c| HasRouteEntry {
            rloc16: ShortAddress(u16::from_be_bytes([c[0], c[1]])),
            flags: c[2],
        })
    }
}

/// Border Router TLV: entries of RLOC16 + 16 flag bits, kept as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorderRouter<'a>(pub &'a [u8]);

/// One Border Router entry: a router serving the enclosing prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BorderRouterEntry {
    pub rloc16: ShortAddress,
    pub flags: u16,
}

impl BorderRouterEntry {
    pub const PREFERRED: u16 = 1 << 13;
    pub const SLAAC: u16 = 1 << 12;
    pub const DHCP: u16 = 1 << 11;
    pub const CONFIGURE: u16 = 1 << 10;
    pub const DEFAULT_ROUTE: u16 = 1 << 9;
    pub const ON_MESH: u16 = 1 << 8;
    pub const ND_DNS: u16 = 1 << 7;
    /// Domain prefix (Thread 1.2; zero in 1.1).
    pub const DP: u16 = 1 << 6;

    /// P_preference: 1 high, 0 medium, -1 low.
    pub fn preference(&self) -> i8 {
        preference((self.flags >> 8) as u8)
    }
    /// Flags word carrying `preference` (clamped to -2..=1) in bits 15-14.
    pub fn preference_flags(preference: i8) -> u16 {
        u16::from((preference.clamp(-2, 1) as u8) & 3) << 14
    }
    pub fn preferred(&self) -> bool {
        self.flags & Self::PREFERRED != 0
    }
    pub fn slaac(&self) -> bool {
        self.flags & Self::SLAAC != 0
    }
    pub fn dhcp(&self) -> bool {
        self.flags & Self::DHCP != 0
    }
    pub fn configure(&self) -> bool {
        self.flags & Self::CONFIGURE != 0
    }
    pub fn default_route(&self) -> bool {
        self.flags & Self::DEFAULT_ROUTE != 0
    }
    pub fn on_mesh(&self) -> bool {
        self.flags & Self::ON_MESH != 0
    }
    pub fn nd_dns(&self) -> bool {
        self.flags & Self::ND_DNS != 0
    }
    pub fn to_bytes(&self) -> [u8; 4] {
        let r = self.rloc16.0.to_be_bytes();
        let f = self.flags.to_be_bytes();
        [r[0], r[1], f[0], f[1]]
    }
}

impl<'a> BorderRouter<'a> {
    fn parse(v: &'a [u8]) -> Result<Self> {
        if !v.len().is_multiple_of(4) {
            return Err(Error::Malformed);
        }
        Ok(BorderRouter(v))
    }

    pub fn entries(&self) -> impl Iterator<Item = BorderRouterEntry> + 'a {
        self.0.chunks_exact(4).map(|c| BorderRouterEntry {
            rloc16: ShortAddress(u16::from_be_bytes([c[0], c[1]])),
            flags: u16::from_be_bytes([c[2], c[3]]),
        })
    }
}

/// Bytes needed for a prefix of `bits` bits; `Malformed` above 128.
fn prefix_bytes(bits: u8) -> Result<usize> {
    if bits > 128 {
        return Err(Error::Malformed);
    }
    Ok(usize::from(bits).div_ceil(8))
}

/// Prefix TLV: an on-mesh or external prefix, with sub-TLVs describing who serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix<'a> {
    pub domain_id: u8,
    /// In bits.
    pub prefix_length: u8,
    /// `ceil(prefix_length / 8)` bytes.
    pub prefix: &'a [u8],
    pub sub_tlvs: NetworkData<'a>,
}

impl<'a> Prefix<'a> {
    fn parse(v: &'a [u8]) -> Result<Self> {
        match v {
            [domain_id, prefix_length, rest @ ..] => {
                let n = prefix_bytes(*prefix_length)?;
                if rest.len() < n {
                    return Err(Error::Malformed);
                }
                let (prefix, sub) = rest.split_at(n);
                Ok(Prefix {
                    domain_id: *domain_id,
                    prefix_length: *prefix_length,
                    prefix,
                    sub_tlvs: NetworkData::checked(sub, true)?,
                })
            }
            _ => Err(Error::Malformed),
        }
    }

    /// Build with `sub_tlvs` bytes (e.g. from [`NetworkData::emit_tlvs`]); validates them.
    pub fn new(
        domain_id: u8,
        prefix_length: u8,
        prefix: &'a [u8],
        sub_tlvs: &'a [u8],
    ) -> Result<Self> {
        if prefix.len() != prefix_bytes(prefix_length)? {
            return Err(Error::Malformed);
        }
        Ok(Prefix {
            domain_id,
            prefix_length,
            prefix,
            sub_tlvs: NetworkData::checked(sub_tlvs, true)?,
        })
    }

    /// The prefix as an address, zero beyond the carried bytes.
    pub fn address(&self) -> Ipv6Address {
        let mut a = [0u8; 16];
        for (d, s) in a.iter_mut().zip(self.prefix) {
            *d = *s;
        }
        Ipv6Address(a)
    }

    /// First Border Router sub-TLV.
    pub fn border_router(&self) -> Option<(bool, BorderRouter<'a>)> {
        self.sub_tlvs.iter().find_map(|t| match t.value {
            NetworkDataValue::BorderRouter(b) => Some((t.stable, b)),
            _ => None,
        })
    }

    /// First 6LoWPAN Context sub-TLV.
    pub fn context(&self) -> Option<(bool, Context)> {
        self.sub_tlvs.iter().find_map(|t| match t.value {
            NetworkDataValue::Context(c) => Some((t.stable, c)),
            _ => None,
        })
    }

    /// First Has Route sub-TLV.
    pub fn has_route(&self) -> Option<(bool, HasRoute<'a>)> {
        self.sub_tlvs.iter().find_map(|t| match t.value {
            NetworkDataValue::HasRoute(h) => Some((t.stable, h)),
            _ => None,
        })
    }
}

/// 6LoWPAN ID / Context TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Context {
    /// C flag (bit 4) and context id (bits 3-0); bits 7-5 reserved (kept).
    pub flags: u8,
    /// Context prefix length in bits.
    pub context_length: u8,
}

impl Context {
    pub const COMPRESS: u8 = 1 << 4;

    /// Values past their field width are masked.
    pub fn new(compress: bool, context_id: u8, context_length: u8) -> Self {
        let c = if compress { Self::COMPRESS } else { 0 };
        Context {
            flags: c | (context_id & 0x0f),
            context_length,
        }
    }
    pub fn compress(&self) -> bool {
        self.flags & Self::COMPRESS != 0
    }
    pub fn context_id(&self) -> u8 {
        self.flags & 0x0f
    }

    fn parse(v: &[u8]) -> Result<Self> {
        let [flags, context_length] = fixed::<2>(v)?;
        Ok(Context {
            flags,
            context_length,
        })
    }
}

/// Service TLV: a service (e.g. a Thread backbone/DNS/SRP service) and its Server sub-TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service<'a> {
    /// T bit (7, Thread enterprise) and S_id (bits 3-0); bits 6-4 reserved (kept).
    pub flags: u8,
    /// Present exactly when the T bit is clear.
    pub enterprise_number: Option<u32>,
    pub service_data: &'a [u8],
    pub sub_tlvs: NetworkData<'a>,
}

impl<'a> Service<'a> {
    pub const THREAD_ENTERPRISE: u8 = 1 << 7;

    pub fn service_id(&self) -> u8 {
        self.flags & 0x0f
    }

    pub fn enterprise(&self) -> u32 {
        self.enterprise_number.unwrap_or(THREAD_ENTERPRISE_NUMBER)
    }

    fn parse(v: &'a [u8]) -> Result<Self> {
        let (&flags, rest) = v.split_first().ok_or(Error::Malformed)?;
        let (enterprise_number, rest) = if flags & Self::THREAD_ENTERPRISE != 0 {
            (None, rest)
        } else {
            match rest {
                [a, b, c, d, tail @ ..] => (Some(u32::from_be_bytes([*a, *b, *c, *d])), tail),
                _ => return Err(Error::Malformed),
            }
        };
        let (&data_len, rest) = rest.split_first().ok_or(Error::Malformed)?;
        if rest.len() < usize::from(data_len) {
            return Err(Error::Malformed);
        }
        let (service_data, sub) = rest.split_at(usize::from(data_len));
        Ok(Service {
            flags,
            enterprise_number,
            service_data,
            sub_tlvs: NetworkData::checked(sub, true)?,
        })
    }

    /// Build with `sub_tlvs` bytes (Server TLVs); the T bit follows `enterprise_number`.
    pub fn new(
        service_id: u8,
        enterprise_number: Option<u32>,
        service_data: &'a [u8],
        sub_tlvs: &'a [u8],
    ) -> Result<Self> {
        let t = if enterprise_number.is_none() {
            Self::THREAD_ENTERPRISE
        } else {
            0
        };
        Ok(Service {
            flags: t | (service_id & 0x0f),
            enterprise_number,
            service_data,
            sub_tlvs: NetworkData::checked(sub_tlvs, true)?,
        })
    }
}

/// Server TLV: one server of the enclosing service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server<'a> {
    pub rloc16: ShortAddress,
    pub server_data: &'a [u8],
}

impl<'a> Server<'a> {
    fn parse(v: &'a [u8]) -> Result<Self> {
        match v {
            [r0, r1, server_data @ ..] => Ok(Server {
                rloc16: ShortAddress(u16::from_be_bytes([*r0, *r1])),
                server_data,
            }),
            _ => Err(Error::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Value of the MLE Network Data TLV in thread11.pcap frame 44 (leader's Data Response after
    // `prefix add 2001:cafe:cafe:cafe::/64 paros` / `netdata register`); the same bytes appear in
    // thread11-line.pcap frame 79 with leader 0xc000 instead of 0x3c00.
    const NETDATA_BR_PREFIX: &str = "08040b0298c5031400402001cafecafecafe05043c00330007021140";
    // thread11.pcap frame 12 (Child ID Response): commissioning data only.
    const NETDATA_COMMISSIONING_ONLY: &str = "08040b0298c5";

    fn round_trip(bytes: &[u8]) -> Vec<NetworkDataTlv<'_>> {
        let nd = NetworkData::new_checked(bytes).unwrap();
        let tlvs: Vec<_> = nd.iter().collect();
        let mut out = [0u8; 256];
        let n = NetworkData::emit_tlvs(&tlvs, &mut out).unwrap();
        assert_eq!(&out[..n], bytes);
        assert_eq!(
            tlvs.iter().map(NetworkDataTlv::buffer_len).sum::<usize>(),
            bytes.len()
        );
        tlvs
    }

    #[test]
    fn border_router_prefix() {
        let b = hex(NETDATA_BR_PREFIX);
        let tlvs = round_trip(&b);
        assert_eq!(tlvs.len(), 2);
        // Commissioning Data (temporary), Commissioner Session ID TLV 0x98c5 inside.
        assert!(!tlvs[0].stable);
        assert_eq!(
            tlvs[0].value,
            NetworkDataValue::CommissioningData(&hex("0b0298c5"))
        );
        assert!(tlvs[1].stable);
        let NetworkDataValue::Prefix(p) = tlvs[1].value else {
            panic!("not a prefix")
        };
        assert_eq!(p.domain_id, 0);
        assert_eq!(p.prefix_length, 64);
        assert_eq!(
            p.address(),
            Ipv6Address::parse("2001:cafe:cafe:cafe::").unwrap()
        );
        let (br_stable, br) = p.border_router().unwrap();
        assert!(br_stable);
        let entries: Vec<_> = br.entries().collect();
        assert_eq!(entries.len(), 1);
        let e = entries[0];
        assert_eq!(e.rloc16, ShortAddress(0x3c00));
        assert_eq!(e.preference(), 0);
        assert!(e.preferred() && e.slaac() && e.default_route() && e.on_mesh());
        assert!(!e.dhcp() && !e.configure() && !e.nd_dns());
        let (ctx_stable, ctx) = p.context().unwrap();
        assert!(ctx_stable);
        assert!(ctx.compress());
        assert_eq!(ctx.context_id(), 1);
        assert_eq!(ctx.context_length, 64);
        assert!(p.has_route().is_none());
    }

    #[test]
    fn build_border_router_prefix() {
        let entry = BorderRouterEntry {
            rloc16: ShortAddress(0x3c00),
            flags: BorderRouterEntry::preference_flags(0)
                | BorderRouterEntry::PREFERRED
                | BorderRouterEntry::SLAAC
                | BorderRouterEntry::DEFAULT_ROUTE
                | BorderRouterEntry::ON_MESH,
        }
        .to_bytes();
        let mut sub = [0u8; 32];
        let n = NetworkData::emit_tlvs(
            &[
                NetworkDataTlv {
                    stable: true,
                    value: NetworkDataValue::BorderRouter(BorderRouter(&entry)),
                },
                NetworkDataTlv {
                    stable: true,
                    value: NetworkDataValue::Context(Context::new(true, 1, 64)),
                },
            ],
            &mut sub,
        )
        .unwrap();
        let prefix_bytes = hex("2001cafecafecafe");
        let prefix = Prefix::new(0, 64, &prefix_bytes, &sub[..n]).unwrap();
        let commissioning = hex("0b0298c5");
        let mut out = [0u8; 64];
        let n = NetworkData::emit_tlvs(
            &[
                NetworkDataTlv {
                    stable: false,
                    value: NetworkDataValue::CommissioningData(&commissioning),
                },
                NetworkDataTlv {
                    stable: true,
                    value: NetworkDataValue::Prefix(prefix),
                },
            ],
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..n], &hex(NETDATA_BR_PREFIX)[..]);
    }

    #[test]
    fn commissioning_only() {
        let b = hex(NETDATA_COMMISSIONING_ONLY);
        assert_eq!(round_trip(&b).len(), 1);
        assert!(NetworkData::new_checked(&[]).unwrap().is_empty());
    }

    #[test]
    fn has_route_service_server_round_trip() {
        // Has Route (stable) inside a prefix with an external-route entry; a service with a
        // server, T bit clear (explicit enterprise number); a Thread-enterprise service.
        let b = hex(concat!(
            "030d",
            "00",
            "30",
            "fd0011220000",
            "0103",
            "5000",
            "40",
            "0b0f",
            "01",
            "00000001",
            "02",
            "abcd",
            "0d05",
            "5000",
            "0102ff",
            "0b08",
            "81",
            "01",
            "5c",
            "0d03",
            "7800",
            "09",
        ));
        let tlvs = round_trip(&b);
        let NetworkDataValue::Prefix(p) = tlvs[0].value else {
            panic!()
        };
        assert_eq!(p.prefix_length, 48);
        let (stable, hr) = p.has_route().unwrap();
        assert!(stable);
        let e: Vec<_> = hr.entries().collect();
        assert_eq!(
            e,
            [HasRouteEntry {
                rloc16: ShortAddress(0x5000),
                flags: 0x40
            }]
        );
        assert_eq!(e[0].preference(), 1);
        let NetworkDataValue::Service(s) = tlvs[1].value else {
            panic!()
        };
        assert_eq!((s.service_id(), s.enterprise()), (1, 1));
        assert_eq!(s.service_data, &[0xab, 0xcd]);
        let servers: Vec<_> = s.sub_tlvs.iter().collect();
        assert_eq!(
            servers[0].value,
            NetworkDataValue::Server(Server {
                rloc16: ShortAddress(0x5000),
                server_data: &[1, 2, 0xff]
            })
        );
        let NetworkDataValue::Service(s) = tlvs[2].value else {
            panic!()
        };
        assert_eq!(s.enterprise_number, None);
        assert_eq!(s.enterprise(), THREAD_ENTERPRISE_NUMBER);
        assert_eq!(s.service_id(), 1);
        let server = hex("0d03780009");
        let built = Service::new(1, None, &[0x5c], &server).unwrap();
        assert_eq!(built, s);
    }

    #[test]
    fn unknown_and_nested_kept() {
        // Type 9 (unknown, stable); inside a Prefix, a nested Prefix TLV is not interpreted
        // (OpenThread ignores it there) but kept raw.
        let b = hex("1302aabb03080008fd02030008aa");
        let tlvs = round_trip(&b);
        assert_eq!(
            tlvs[0].value,
            NetworkDataValue::Unknown {
                tlv_type: 9,
                value: &[0xaa, 0xbb]
            }
        );
        let NetworkDataValue::Prefix(p) = tlvs[1].value else {
            panic!()
        };
        let inner: Vec<_> = p.sub_tlvs.iter().collect();
        assert_eq!(
            inner[0].value,
            NetworkDataValue::Unknown {
                tlv_type: 1,
                value: &hex("0008aa")
            }
        );
    }

    #[test]
    fn malformed_and_truncated() {
        let b = hex(NETDATA_BR_PREFIX);
        for n in 0..b.len() {
            let r = NetworkData::new_checked(&b[..n]);
            match n {
                0 | 6 => assert!(r.is_ok()),
                // Cut inside the Prefix TLV: the outer TLV is truncated.
                _ => assert_eq!(r.err(), Some(Error::Truncated), "cut at {n}"),
            }
        }
        // Border Router entry of 3 bytes.
        assert_eq!(
            NetworkData::new_checked(&hex("0503000033")),
            Err(Error::Malformed)
        );
        // Has Route of 2 bytes.
        assert_eq!(
            NetworkData::new_checked(&hex("00020000")),
            Err(Error::Malformed)
        );
        // Prefix length 129.
        assert_eq!(
            NetworkData::new_checked(&hex("03020081")),
            Err(Error::Malformed)
        );
        // Context with 3 bytes.
        assert_eq!(
            NetworkData::new_checked(&hex("0703114000")),
            Err(Error::Malformed)
        );
        // Service with T clear but no enterprise number.
        assert_eq!(
            NetworkData::new_checked(&hex("0b020100")),
            Err(Error::Malformed)
        );
        // Service data length past the end.
        assert_eq!(
            NetworkData::new_checked(&hex("0b028105")),
            Err(Error::Malformed)
        );
        // Server without RLOC16.
        assert_eq!(
            NetworkData::new_checked(&hex("0d0150")),
            Err(Error::Malformed)
        );
        // Sub-TLV overrunning its Prefix.
        assert_eq!(
            NetworkData::new_checked(&hex("030400000505")),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn emit_checks() {
        let mut out = [0u8; 8];
        let bad = NetworkDataTlv {
            stable: false,
            value: NetworkDataValue::BorderRouter(BorderRouter(&[1, 2, 3])),
        };
        assert_eq!(bad.emit(&mut out), Err(Error::Malformed));
        let s = Service {
            flags: 0x80,
            enterprise_number: Some(5),
            service_data: &[],
            sub_tlvs: NetworkData::default(),
        };
        let t = NetworkDataTlv {
            stable: true,
            value: NetworkDataValue::Service(s),
        };
        assert_eq!(t.emit(&mut [0u8; 16]), Err(Error::Malformed));
        let b = hex(NETDATA_BR_PREFIX);
        let (tlv, used) = NetworkDataTlv::parse(&b[6..]).unwrap();
        assert_eq!(used, 22);
        assert_eq!(tlv.emit(&mut out), Err(Error::BufferTooSmall));
    }

    #[test]
    fn fuzz_never_panics() {
        let mut x: u32 = 0x9e37_79b9;
        let mut buf = [0u8; 64];
        for _ in 0..30000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 64) as usize;
            for b in buf.iter_mut().take(len) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Small values make plausible types and lengths.
                *b = (x % 24) as u8;
            }
            if let Ok(nd) = NetworkData::new_checked(&buf[..len]) {
                let tlvs: Vec<_> = nd.iter().collect();
                let mut out = [0u8; 64];
                let n = NetworkData::emit_tlvs(&tlvs, &mut out).unwrap();
                assert_eq!(&out[..n], &buf[..len]);
            }
        }
    }
}
