//! Addresses shared by every layer: 802.15.4 extended/short addresses, PAN ID, IPv6 address.

use core::fmt;

/// IEEE 802.15.4 extended address (EUI-64), most significant byte first as Thread writes it
/// (`extaddr` in OpenThread's CLI). In frames it is carried little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ExtAddress(pub [u8; 8]);

impl ExtAddress {
    pub const fn from_u64(v: u64) -> Self {
        ExtAddress(v.to_be_bytes())
    }
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }
    /// Interface identifier for link-local addressing: the address with the
    /// universal/local bit (0x02 of the first byte) flipped (RFC 4944 section 6).
    pub const fn to_iid(self) -> [u8; 8] {
        let mut b = self.0;
        b[0] ^= 0x02;
        b
    }
    pub const fn from_iid(iid: [u8; 8]) -> Self {
        let mut b = iid;
        b[0] ^= 0x02;
        ExtAddress(b)
    }
}

impl fmt::Display for ExtAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{:02x}", b)?;
        }
        Ok(())
    }
}

/// IEEE 802.15.4 short address; in Thread, the RLOC16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ShortAddress(pub u16);

impl ShortAddress {
    pub const BROADCAST: ShortAddress = ShortAddress(0xffff);
    /// "No short address" (802.15.4 macShortAddress 0xfffe): a detached Thread node.
    pub const INVALID: ShortAddress = ShortAddress(0xfffe);
}

/// IEEE 802.15.4 PAN identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PanId(pub u16);

/// IPv6 address, network byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ipv6Address(pub [u8; 16]);

impl Ipv6Address {
    pub const UNSPECIFIED: Ipv6Address = Ipv6Address([0; 16]);
    /// ff02::1, link-local all nodes.
    pub const LINK_LOCAL_ALL_NODES: Ipv6Address =
        Ipv6Address::from_segments([0xff02, 0, 0, 0, 0, 0, 0, 1]);
    /// ff02::2, link-local all routers (Thread: all routers and REEDs' parent requests).
    pub const LINK_LOCAL_ALL_ROUTERS: Ipv6Address =
        Ipv6Address::from_segments([0xff02, 0, 0, 0, 0, 0, 0, 2]);
    /// ff03::1, realm-local (mesh) all nodes.
    pub const REALM_LOCAL_ALL_NODES: Ipv6Address =
        Ipv6Address::from_segments([0xff03, 0, 0, 0, 0, 0, 0, 1]);
    /// ff03::2, realm-local (mesh) all routers.
    pub const REALM_LOCAL_ALL_ROUTERS: Ipv6Address =
        Ipv6Address::from_segments([0xff03, 0, 0, 0, 0, 0, 0, 2]);

    pub const fn from_segments(s: [u16; 8]) -> Self {
        let mut b = [0u8; 16];
        let mut i = 0;
        while i < 8 {
            b[2 * i] = (s[i] >> 8) as u8;
            b[2 * i + 1] = s[i] as u8;
            i += 1;
        }
        Ipv6Address(b)
    }
    pub fn segments(&self) -> [u16; 8] {
        let mut s = [0u16; 8];
        for (i, seg) in s.iter_mut().enumerate() {
            *seg = u16::from_be_bytes([self.0[2 * i], self.0[2 * i + 1]]);
        }
        s
    }
    /// Prefix (first 8 bytes) and interface identifier (last 8 bytes).
    pub fn from_prefix_iid(prefix: [u8; 8], iid: [u8; 8]) -> Self {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&prefix);
        b[8..].copy_from_slice(&iid);
        Ipv6Address(b)
    }
    pub fn prefix64(&self) -> [u8; 8] {
        let mut p = [0u8; 8];
        p.copy_from_slice(&self.0[..8]);
        p
    }
    pub fn iid(&self) -> [u8; 8] {
        let mut p = [0u8; 8];
        p.copy_from_slice(&self.0[8..]);
        p
    }
    pub fn is_multicast(&self) -> bool {
        self.0[0] == 0xff
    }
    pub fn is_link_local(&self) -> bool {
        self.0[0] == 0xfe && (self.0[1] & 0xc0) == 0x80
    }
    pub fn is_unspecified(&self) -> bool {
        self.0 == [0; 16]
    }
    /// Parse the textual form: full, `::`-compressed, case-insensitive. No zone, no IPv4 tail.
    pub fn parse(s: &str) -> Option<Self> {
        let (head, tail) = match s.find("::") {
            Some(i) => (&s[..i], Some(&s[i + 2..])),
            None => (s, None),
        };
        let mut segs = [0u16; 8];
        let parse_part = |part: &str, out: &mut [u16; 8], at: usize| -> Option<usize> {
            if part.is_empty() {
                return Some(0);
            }
            let mut n = 0;
            for g in part.split(':') {
                if g.is_empty() || g.len() > 4 || at + n >= 8 {
                    return None;
                }
                out[at + n] = u16::from_str_radix(g, 16).ok()?;
                n += 1;
            }
            Some(n)
        };
        let nh = parse_part(head, &mut segs, 0)?;
        match tail {
            None => {
                if nh != 8 {
                    return None;
                }
            }
            Some(t) => {
                if t.contains("::") {
                    return None;
                }
                let mut tail_segs = [0u16; 8];
                let nt = parse_part(t, &mut tail_segs, 0)?;
                if nh + nt > 7 {
                    return None;
                }
                segs[8 - nt..].copy_from_slice(&tail_segs[..nt]);
            }
        }
        Some(Ipv6Address::from_segments(segs))
    }
}

/// Pycom's and OpenThread's CLI format: eight groups of lower-case hex without leading zeros,
/// never `::`-compressed (`fdde:ad00:beef:0:0:ff:fe00:fc00`).
impl fmt::Display for Ipv6Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.segments();
        write!(
            f,
            "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
        )
    }
}

impl fmt::Debug for Ipv6Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn link_local_iid_flips_universal_local_bit() {
        // pycom-behaviour.md: mac 0101010101010104 -> fe80:0:0:0:301:101:101:104
        let mac = ExtAddress::from_u64(0x0101010101010104);
        let a = Ipv6Address::from_prefix_iid([0xfe, 0x80, 0, 0, 0, 0, 0, 0], mac.to_iid());
        assert_eq!(a.to_string(), "fe80:0:0:0:301:101:101:104");
        assert_eq!(ExtAddress::from_iid(a.iid()), mac);
    }

    #[test]
    fn parse_and_display() {
        let a = Ipv6Address::parse("fdde:ad00:beef::ff:fe00:fc00").unwrap();
        assert_eq!(a.to_string(), "fdde:ad00:beef:0:0:ff:fe00:fc00");
        assert_eq!(Ipv6Address::parse("::").unwrap(), Ipv6Address::UNSPECIFIED);
        assert_eq!(
            Ipv6Address::parse("ff02::1").unwrap(),
            Ipv6Address::LINK_LOCAL_ALL_NODES
        );
        assert_eq!(
            Ipv6Address::parse("1:2:3:4:5:6:7:8").unwrap().segments(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        for bad in [
            "",
            "1:2",
            "1::2::3",
            "12345::",
            "g::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4::5:6:7:8",
            ":::",
        ] {
            assert_eq!(Ipv6Address::parse(bad), None, "{bad}");
        }
    }
}
