//! IPv6 (RFC 8200): the fixed 40-byte header, the Hop-by-Hop Options header with the MPL
//! option (RFC 7731, used by OpenThread to flood realm-local multicast), and the
//! Internet checksum over the IPv6 pseudo-header shared by UDP and ICMPv6.

use super::{Error, Ipv6Address, Result};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// The IPv6 minimum MTU; also the largest datagram this stack reassembles.
pub const MIN_MTU: usize = 1280;

/// Next Header values this stack knows by name.
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const UDP: u8 = 17;
    pub const IPV6: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT_HEADER: u8 = 59;
    pub const DST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
}

/// Internet checksum (RFC 1071) helpers. Sums are kept unfolded in a `u32` so pieces can be
/// added; `finish` folds and complements.
pub mod checksum {
    use super::Ipv6Address;

    /// One's-complement sum of `data` (odd length padded with a zero byte), unfolded.
    pub fn sum(data: &[u8]) -> u32 {
        let mut acc: u32 = 0;
        let mut chunks = data.chunks_exact(2);
        for c in &mut chunks {
            acc = fold_add(acc, u32::from(u16::from_be_bytes([c[0], c[1]])));
        }
        if let [last] = chunks.remainder() {
            acc = fold_add(acc, u32::from(*last) << 8);
        }
        acc
    }

    /// Add two partial sums without overflow (end-around carry).
    pub fn fold_add(a: u32, b: u32) -> u32 {
        let (s, carry) = a.overflowing_add(b);
        let s = if carry { s.wrapping_add(1) } else { s };
        // Keep the value small so callers can keep adding.
        (s & 0xffff) + (s >> 16)
    }

    /// Sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
    pub fn pseudo_header(
        src: &Ipv6Address,
        dst: &Ipv6Address,
        next_header: u8,
        upper_len: u32,
    ) -> u32 {
        let mut acc = sum(&src.0);
        acc = fold_add(acc, sum(&dst.0));
        acc = fold_add(acc, upper_len >> 16);
        acc = fold_add(acc, upper_len & 0xffff);
        fold_add(acc, u32::from(next_header))
    }

    /// Fold to 16 bits and complement: the value carried in the checksum field.
    pub fn finish(mut acc: u32) -> u16 {
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    /// Checksum of an upper-layer message (checksum field included as it is in `message`).
    /// A message whose checksum field is correct yields 0.
    pub fn upper_layer(
        src: &Ipv6Address,
        dst: &Ipv6Address,
        next_header: u8,
        message: &[u8],
    ) -> u16 {
        let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
        finish(fold_add(
            pseudo_header(src, dst, next_header, len),
            sum(message),
        ))
    }
}

/// A read/write view of an IPv6 header at the start of `buffer`.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap `buffer` after checking it holds the fixed header and the announced payload.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b.len() < HEADER_LEN + usize::from(self.payload_len()) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }
    pub fn traffic_class(&self) -> u8 {
        let b = self.buffer.as_ref();
        (b[0] << 4) | (b[1] >> 4)
    }
    pub fn flow_label(&self) -> u32 {
        let b = self.buffer.as_ref();
        (u32::from(b[1] & 0x0f) << 16) | (u32::from(b[2]) << 8) | u32::from(b[3])
    }
    pub fn payload_len(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[4], b[5]])
    }
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[6]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[7]
    }
    pub fn src_addr(&self) -> Ipv6Address {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[8..24]);
        Ipv6Address(a)
    }
    pub fn dst_addr(&self) -> Ipv6Address {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[24..40]);
        Ipv6Address(a)
    }
    /// The payload as announced by the Payload Length field.
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let b = self.buffer.as_mut();
        b[0] = 0x60 | (traffic_class >> 4);
        b[1] = (traffic_class << 4) | ((flow_label >> 16) as u8 & 0x0f);
        b[2] = (flow_label >> 8) as u8;
        b[3] = flow_label as u8;
    }
    pub fn set_payload_len(&mut self, len: u16) {
        self.buffer.as_mut()[4..6].copy_from_slice(&len.to_be_bytes());
    }
    pub fn set_next_header(&mut self, nh: u8) {
        self.buffer.as_mut()[6] = nh;
    }
    pub fn set_hop_limit(&mut self, hl: u8) {
        self.buffer.as_mut()[7] = hl;
    }
    pub fn set_src_addr(&mut self, a: &Ipv6Address) {
        self.buffer.as_mut()[8..24].copy_from_slice(&a.0);
    }
    pub fn set_dst_addr(&mut self, a: &Ipv6Address) {
        self.buffer.as_mut()[24..40].copy_from_slice(&a.0);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The fixed IPv6 header, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub traffic_class: u8,
    pub flow_label: u32,
    pub payload_len: u16,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src_addr: Ipv6Address,
    pub dst_addr: Ipv6Address,
}

impl Ipv6Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Ipv6Repr {
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
            payload_len: p.payload_len(),
            next_header: p.next_header(),
            hop_limit: p.hop_limit(),
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the 40-byte header into `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        if out.len() < HEADER_LEN || self.flow_label > 0xf_ffff {
            return Err(if out.len() < HEADER_LEN {
                Error::BufferTooSmall
            } else {
                Error::Malformed
            });
        }
        let mut p = Packet::new_unchecked(&mut out[..HEADER_LEN]);
        p.set_version_tc_flow(self.traffic_class, self.flow_label);
        p.set_payload_len(self.payload_len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(&self.src_addr);
        p.set_dst_addr(&self.dst_addr);
        Ok(HEADER_LEN)
    }
}

/// IPv6 option types carried in Hop-by-Hop / Destination Options headers.
pub mod option_type {
    pub const PAD1: u8 = 0x00;
    pub const PADN: u8 = 0x01;
    /// MPL option (RFC 7731): "skip if unknown, may change en route".
    pub const MPL: u8 = 0x6d;
}

/// A Hop-by-Hop (or Destination) Options header view: next header, length in 8-octet units
/// beyond the first, then options.
#[derive(Debug, Clone)]
pub struct HopByHopPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> HopByHopPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        HopByHopPacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = HopByHopPacket { buffer };
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < 2 || b.len() < self.header_len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    /// Hdr Ext Len field: length in 8-octet units, not counting the first 8 octets.
    pub fn header_ext_len(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// Total length of the header in bytes.
    pub fn header_len(&self) -> usize {
        (usize::from(self.buffer.as_ref().get(1).copied().unwrap_or(0)) + 1) * 8
    }
    /// The options area (everything after the first two bytes).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[2..self.header_len()]
    }
}

/// The MPL option (RFC 7731 section 6.1): S (seed-id length), M, V flags, sequence, seed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplOptionRepr {
    /// Flags byte exactly as carried (S in bits 7-6, M bit 5, V bit 4, reserved bits kept).
    pub flags: u8,
    pub sequence: u8,
    /// Seed ID: none (S=0, the IPv6 source is the seed), 16 bits (S=1), 64 or 128 bits.
    pub seed_id: MplSeedId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MplSeedId {
    None,
    Short(u16),
    Long([u8; 8]),
    Full([u8; 16]),
}

impl MplOptionRepr {
    /// Parse the option data (after the type and length bytes).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let (&flags, rest) = data.split_first().ok_or(Error::Truncated)?;
        let (&sequence, seed) = rest.split_first().ok_or(Error::Truncated)?;
        let seed_id = match (flags >> 6, seed.len()) {
            (0, 0) => MplSeedId::None,
            (1, 2) => MplSeedId::Short(u16::from_be_bytes([seed[0], seed[1]])),
            (2, 8) => {
                let mut s = [0u8; 8];
                s.copy_from_slice(seed);
                MplSeedId::Long(s)
            }
            (3, 16) => {
                let mut s = [0u8; 16];
                s.copy_from_slice(seed);
                MplSeedId::Full(s)
            }
            (s, n) if n < [0, 2, 8, 16][usize::from(s)] => return Err(Error::Truncated),
            _ => return Err(Error::Malformed),
        };
        Ok(MplOptionRepr {
            flags,
            sequence,
            seed_id,
        })
    }

    /// Length of the option data (without type and length bytes).
    pub fn data_len(&self) -> usize {
        2 + match self.seed_id {
            MplSeedId::None => 0,
            MplSeedId::Short(_) => 2,
            MplSeedId::Long(_) => 8,
            MplSeedId::Full(_) => 16,
        }
    }

    /// Emit type, length and data; returns bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let n = self.data_len();
        let out = out.get_mut(..n + 2).ok_or(Error::BufferTooSmall)?;
        let s_bits = match self.seed_id {
            MplSeedId::None => 0,
            MplSeedId::Short(_) => 1,
            MplSeedId::Long(_) => 2,
            MplSeedId::Full(_) => 3,
        };
        out[0] = option_type::MPL;
        out[1] = n as u8;
        out[2] = (self.flags & 0x3f) | (s_bits << 6);
        out[3] = self.sequence;
        match self.seed_id {
            MplSeedId::None => {}
            MplSeedId::Short(s) => out[4..6].copy_from_slice(&s.to_be_bytes()),
            MplSeedId::Long(s) => out[4..12].copy_from_slice(&s),
            MplSeedId::Full(s) => out[4..20].copy_from_slice(&s),
        }
        Ok(n + 2)
    }
}

/// One option inside a Hop-by-Hop / Destination Options header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6OptionRepr<'a> {
    Pad1,
    /// PadN with this many bytes of data (kept as carried for byte-exact re-emission).
    PadN(&'a [u8]),
    Mpl(MplOptionRepr),
    Unknown {
        option_type: u8,
        data: &'a [u8],
    },
}

impl<'a> Ipv6OptionRepr<'a> {
    pub fn buffer_len(&self) -> usize {
        match self {
            Ipv6OptionRepr::Pad1 => 1,
            Ipv6OptionRepr::PadN(d) => 2 + d.len(),
            Ipv6OptionRepr::Mpl(m) => 2 + m.data_len(),
            Ipv6OptionRepr::Unknown { data, .. } => 2 + data.len(),
        }
    }

    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        let out = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        match self {
            Ipv6OptionRepr::Pad1 => out[0] = option_type::PAD1,
            Ipv6OptionRepr::PadN(d) => {
                out[0] = option_type::PADN;
                out[1] = u8::try_from(d.len()).map_err(|_| Error::Oversized)?;
                out[2..].copy_from_slice(d);
            }
            Ipv6OptionRepr::Mpl(m) => {
                m.emit(out)?;
            }
            Ipv6OptionRepr::Unknown { option_type, data } => {
                out[0] = *option_type;
                out[1] = u8::try_from(data.len()).map_err(|_| Error::Oversized)?;
                out[2..].copy_from_slice(data);
            }
        }
        Ok(n)
    }
}

/// Iterator over the options of an options area; yields `Err` once and stops on bad input.
#[derive(Debug, Clone)]
pub struct Ipv6OptionsIter<'a> {
    data: &'a [u8],
    failed: bool,
}

impl<'a> Ipv6OptionsIter<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Ipv6OptionsIter {
            data,
            failed: false,
        }
    }
}

impl<'a> Iterator for Ipv6OptionsIter<'a> {
    type Item = Result<Ipv6OptionRepr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let (&t, rest) = self.data.split_first()?;
        if t == option_type::PAD1 {
            self.data = rest;
            return Some(Ok(Ipv6OptionRepr::Pad1));
        }
        let Some((&len, rest)) = rest.split_first() else {
            self.failed = true;
            return Some(Err(Error::Truncated));
        };
        let len = usize::from(len);
        if rest.len() < len {
            self.failed = true;
            return Some(Err(Error::Truncated));
        }
        let (data, rest) = rest.split_at(len);
        self.data = rest;
        Some(match t {
            option_type::PADN => Ok(Ipv6OptionRepr::PadN(data)),
            option_type::MPL => match MplOptionRepr::parse(data) {
                Ok(m) => Ok(Ipv6OptionRepr::Mpl(m)),
                Err(e) => {
                    self.failed = true;
                    Err(e)
                }
            },
            _ => Ok(Ipv6OptionRepr::Unknown {
                option_type: t,
                data,
            }),
        })
    }
}

/// A Hop-by-Hop Options header, parsed: next header and the raw options area (iterate it with
/// [`HopByHopRepr::options`]). Keeping the raw area makes re-emission byte-exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopByHopRepr<'a> {
    pub next_header: u8,
    /// Options area, length a multiple of 8 minus 2.
    pub options: &'a [u8],
}

impl<'a> HopByHopRepr<'a> {
    pub fn parse<T: AsRef<[u8]> + ?Sized>(p: &'a HopByHopPacket<&'a T>) -> Result<Self> {
        p.check_len()?;
        let options = p.options();
        // Validate the options so that iterating later cannot surprise the caller.
        for o in Ipv6OptionsIter::new(options) {
            o?;
        }
        Ok(HopByHopRepr {
            next_header: p.next_header(),
            options,
        })
    }

    pub fn options(&self) -> Ipv6OptionsIter<'a> {
        Ipv6OptionsIter::new(self.options)
    }

    /// The MPL option, if present.
    pub fn mpl_option(&self) -> Option<MplOptionRepr> {
        self.options().find_map(|o| match o {
            Ok(Ipv6OptionRepr::Mpl(m)) => Some(m),
            _ => None,
        })
    }

    pub fn buffer_len(&self) -> usize {
        2 + self.options.len()
    }

    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let n = self.buffer_len();
        if !n.is_multiple_of(8) {
            return Err(Error::Malformed);
        }
        let out = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        out[0] = self.next_header;
        out[1] = u8::try_from(n / 8 - 1).map_err(|_| Error::Oversized)?;
        out[2..].copy_from_slice(self.options);
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // thread11-line.pcap frame 133 (ping to ff03::1 from node 4's ML-EID), the IPv6 datagram as
    // tshark decompresses it ("Decompressed 6LoWPAN IPHC" tab): header, Hop-by-Hop with MPL
    // option (seed 0xc000, sequence 0), ICMPv6 echo request.
    const FRAME133_DATAGRAM: &str =
        "6000000000180040fddead00beef000053bb4796907200a4ff030000000000000000000000000001\
        3a006d044000c00080004e420001000100199c1b00000000";

    pub(crate) fn hex(s: &str) -> std::vec::Vec<u8> {
        let s: std::string::String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn parse_and_emit_real_header() {
        let d = hex(FRAME133_DATAGRAM);
        let p = Packet::new_checked(&d[..]).unwrap();
        let r = Ipv6Repr::parse(&p).unwrap();
        assert_eq!(
            r.src_addr,
            Ipv6Address::parse("fdde:ad00:beef:0:53bb:4796:9072:a4").unwrap()
        );
        assert_eq!(r.dst_addr, Ipv6Address::REALM_LOCAL_ALL_NODES);
        assert_eq!(r.next_header, next_header::HOP_BY_HOP);
        assert_eq!(r.hop_limit, 64);
        assert_eq!(r.payload_len, 24);
        let mut out = [0u8; 40];
        assert_eq!(r.emit(&mut out).unwrap(), 40);
        assert_eq!(&out[..], &d[..40]);
    }

    #[test]
    fn hop_by_hop_mpl_option() {
        let d = hex(FRAME133_DATAGRAM);
        let hbh = HopByHopPacket::new_checked(&d[40..]).unwrap();
        let r = HopByHopRepr::parse(&hbh).unwrap();
        assert_eq!(r.next_header, next_header::ICMPV6);
        let mpl = r.mpl_option().unwrap();
        assert_eq!(mpl.seed_id, MplSeedId::Short(0xc000));
        assert_eq!(mpl.sequence, 0);
        assert_eq!(mpl.flags, 0x40);
        let mut out = [0u8; 8];
        assert_eq!(r.emit(&mut out).unwrap(), 8);
        assert_eq!(&out[..], &d[40..48]);
        let mut o2 = [0u8; 6];
        assert_eq!(mpl.emit(&mut o2).unwrap(), 6);
        assert_eq!(&o2[..], &d[42..48]);
    }

    #[test]
    fn real_icmpv6_checksum_verifies() {
        let d = hex(FRAME133_DATAGRAM);
        let p = Packet::new_checked(&d[..]).unwrap();
        let icmp = &d[48..];
        assert_eq!(
            checksum::upper_layer(&p.src_addr(), &p.dst_addr(), next_header::ICMPV6, icmp),
            0
        );
    }

    #[test]
    fn truncated_inputs_are_errors() {
        let d = hex(FRAME133_DATAGRAM);
        for n in 0..d.len() {
            assert_eq!(
                Packet::new_checked(&d[..n]).err(),
                Some(Error::Truncated),
                "len {n}"
            );
        }
        assert_eq!(
            HopByHopPacket::new_checked(&d[40..45]).err(),
            Some(Error::Truncated)
        );
        let mut bad = d.clone();
        bad[0] = 0x40;
        assert_eq!(
            Ipv6Repr::parse(&Packet::new_unchecked(&bad[..])).err(),
            Some(Error::Malformed)
        );
        // MPL option whose S field announces a longer seed than carried.
        let bad_opts = [0x6d, 0x02, 0x40, 0x00, 0x01, 0x00];
        assert!(Ipv6OptionsIter::new(&bad_opts).any(|o| o.is_err()));
        // Option length beyond the area.
        let bad_opts = [0x6d, 0x09, 0x40, 0x00];
        assert_eq!(
            Ipv6OptionsIter::new(&bad_opts).next(),
            Some(Err(Error::Truncated))
        );
    }
}
