//! UDP (RFC 768) over IPv6: the 8-byte header and its checksum over the IPv6 pseudo-header
//! (mandatory in IPv6, RFC 8200 section 8.1).

use super::ipv6::{checksum, next_header};
use super::{Error, Ipv6Address, Result};

pub const HEADER_LEN: usize = 8;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap `buffer` after checking the header is present and the Length field is sane
    /// (at least 8, at most the buffer).
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
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > b.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }
    pub fn dst_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }
    /// The Length field: header plus payload.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[4], b[5]])
    }
    pub fn checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[6], b[7]])
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// True if the checksum over the pseudo-header and the datagram (Length bytes) is right.
    /// A zero checksum is invalid over IPv6.
    pub fn verify_checksum(&self, src: &Ipv6Address, dst: &Ipv6Address) -> bool {
        if self.checksum() == 0 {
            return false;
        }
        let b = &self.buffer.as_ref()[..usize::from(self.len())];
        checksum::upper_layer(src, dst, next_header::UDP, b) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[0..2].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[4..6].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[6..8].copy_from_slice(&v.to_be_bytes());
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
    /// Compute and store the checksum (Length must already be set and in range).
    pub fn fill_checksum(&mut self, src: &Ipv6Address, dst: &Ipv6Address) {
        self.set_checksum(0);
        let end = usize::from(self.len());
        let mut c = checksum::upper_layer(src, dst, next_header::UDP, &self.buffer.as_ref()[..end]);
        // RFC 8200: a computed zero is sent as 0xffff.
        if c == 0 {
            c = 0xffff;
        }
        self.set_checksum(c);
    }
}

/// A UDP header, parsed. The checksum is verified on parse and recomputed on emit, so a
/// datagram with a correct checksum re-emits byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
}

impl UdpRepr {
    /// Parse and check the checksum (`Error::Malformed` if wrong or zero).
    pub fn parse<T: AsRef<[u8]>>(
        p: &Packet<T>,
        src: &Ipv6Address,
        dst: &Ipv6Address,
    ) -> Result<Self> {
        p.check_len()?;
        if !p.verify_checksum(src, dst) {
            return Err(Error::Malformed);
        }
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Bytes `emit` writes for a payload of `payload_len` bytes.
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// Write header and `payload` into `out`, with the checksum; returns bytes written.
    pub fn emit(
        &self,
        out: &mut [u8],
        payload: &[u8],
        src: &Ipv6Address,
        dst: &Ipv6Address,
    ) -> Result<usize> {
        let n = HEADER_LEN
            .checked_add(payload.len())
            .ok_or(Error::Oversized)?;
        let len = u16::try_from(n).map_err(|_| Error::Oversized)?;
        let out = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let mut p = Packet::new_unchecked(out);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len);
        p.payload_mut().copy_from_slice(payload);
        p.fill_checksum(src, dst);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6::tests::hex;

    // thread11.pcap frame 52: node 3 sends "HelloWorld" to the leader ALOC port 1234; the UDP
    // part of tshark's "Decompressed 6LoWPAN IPHC" tab.
    const SRC: &str = "fdde:ad00:beef:0:fcb3:11ab:670:3562";
    const DST: &str = "fdde:ad00:beef::ff:fe00:fc00";
    const HELLO: &str = "c00104d20012222648656c6c6f576f726c64";

    #[test]
    fn parse_and_emit_real_datagram() {
        let src = Ipv6Address::parse(SRC).unwrap();
        let dst = Ipv6Address::parse(DST).unwrap();
        let d = hex(HELLO);
        let p = Packet::new_checked(&d[..]).unwrap();
        let r = UdpRepr::parse(&p, &src, &dst).unwrap();
        assert_eq!((r.src_port, r.dst_port), (49153, 1234));
        assert_eq!(p.payload(), b"HelloWorld");
        let mut out = [0u8; 64];
        let n = r.emit(&mut out, p.payload(), &src, &dst).unwrap();
        assert_eq!(&out[..n], &d[..]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let src = Ipv6Address::parse(SRC).unwrap();
        let dst = Ipv6Address::parse(DST).unwrap();
        let d = hex(HELLO);
        for n in 0..d.len() {
            assert_eq!(
                Packet::new_checked(&d[..n]).err(),
                Some(Error::Truncated),
                "len {n}"
            );
        }
        let mut bad = d.clone();
        bad[7] ^= 1;
        assert_eq!(
            UdpRepr::parse(&Packet::new_unchecked(&bad[..]), &src, &dst),
            Err(Error::Malformed)
        );
        let mut bad = d.clone();
        bad[5] = 4; // Length below the header size
        assert_eq!(Packet::new_checked(&bad[..]).err(), Some(Error::Malformed));
        let mut small = [0u8; 12];
        assert_eq!(
            UdpRepr {
                src_port: 1,
                dst_port: 2
            }
            .emit(&mut small, b"HelloWorld", &src, &dst),
            Err(Error::BufferTooSmall)
        );
    }
}
