//! ICMPv6 (RFC 4443): echo request/reply (Thread's `ping`), destination unreachable, and a
//! raw form for every other message type; checksum over the IPv6 pseudo-header.

use super::ipv6::{checksum, next_header};
use super::{Error, Ipv6Address, Result};

pub const HEADER_LEN: usize = 4;

/// ICMPv6 message types this module names.
pub mod message_type {
    pub const DST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAM_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
}

/// Destination Unreachable codes (RFC 4443 section 3.1).
pub mod dst_unreachable_code {
    pub const NO_ROUTE: u8 = 0;
    pub const ADMIN_PROHIBITED: u8 = 1;
    pub const BEYOND_SCOPE: u8 = 2;
    pub const ADDRESS_UNREACHABLE: u8 = 3;
    pub const PORT_UNREACHABLE: u8 = 4;
}

/// A read/write view of an ICMPv6 message (the whole buffer is the message).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Checks the 4-byte header plus the fixed 4 bytes that echo and error messages carry.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        let need = match self.buffer.as_ref().first() {
            None => HEADER_LEN,
            // Echo: identifier + sequence; errors: 4 bytes unused/MTU/pointer.
            Some(t)
                if *t < 128
                    || *t == message_type::ECHO_REQUEST
                    || *t == message_type::ECHO_REPLY =>
            {
                8
            }
            Some(_) => HEADER_LEN,
        };
        if len < need {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    pub fn checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }
    /// Echo identifier (echo messages only; needs 8 bytes, see `new_checked`).
    pub fn echo_ident(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[4], b[5]])
    }
    pub fn echo_seq_no(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[6], b[7]])
    }
    /// The 4 bytes after the checksum as a word (unused / MTU / pointer for error messages).
    pub fn word(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
    /// Bytes after the first 8 (echo data, or the invoking packet of an error message).
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(8..).unwrap_or(&[])
    }
    /// Bytes after the 4-byte header.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    pub fn verify_checksum(&self, src: &Ipv6Address, dst: &Ipv6Address) -> bool {
        checksum::upper_layer(src, dst, next_header::ICMPV6, self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[0] = v;
    }
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[1] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&v.to_be_bytes());
    }
    pub fn fill_checksum(&mut self, src: &Ipv6Address, dst: &Ipv6Address) {
        self.set_checksum(0);
        let c = checksum::upper_layer(src, dst, next_header::ICMPV6, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// An ICMPv6 message, parsed. The checksum is verified on parse and recomputed on emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    /// `code` as in [`dst_unreachable_code`]; `unused` kept for byte-exactness (should be 0);
    /// `data` is as much of the invoking packet as was carried.
    DstUnreachable {
        code: u8,
        unused: u32,
        data: &'a [u8],
    },
    /// Any other message: type, code and the bytes after the checksum, as carried.
    Other {
        msg_type: u8,
        code: u8,
        body: &'a [u8],
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parse, checking the checksum (`Error::Malformed` if wrong).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        p: &Packet<&'a T>,
        src: &Ipv6Address,
        dst: &Ipv6Address,
    ) -> Result<Self> {
        p.check_len()?;
        if !p.verify_checksum(src, dst) {
            return Err(Error::Malformed);
        }
        let buf: &'a [u8] = p.buffer.as_ref();
        let data = buf.get(8..).unwrap_or(&[]);
        Ok(match p.msg_type() {
            message_type::ECHO_REQUEST if p.msg_code() == 0 => Icmpv6Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            },
            message_type::ECHO_REPLY if p.msg_code() == 0 => Icmpv6Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            },
            message_type::DST_UNREACHABLE => Icmpv6Repr::DstUnreachable {
                code: p.msg_code(),
                unused: p.word(),
                data,
            },
            t => Icmpv6Repr::Other {
                msg_type: t,
                code: p.msg_code(),
                body: buf.get(HEADER_LEN..).unwrap_or(&[]),
            },
        })
    }

    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::EchoRequest { data, .. }
            | Icmpv6Repr::EchoReply { data, .. }
            | Icmpv6Repr::DstUnreachable { data, .. } => 8 + data.len(),
            Icmpv6Repr::Other { body, .. } => HEADER_LEN + body.len(),
        }
    }

    /// Write the message with its checksum into `out`; returns bytes written.
    pub fn emit(&self, out: &mut [u8], src: &Ipv6Address, dst: &Ipv6Address) -> Result<usize> {
        let n = self.buffer_len();
        let out = out.get_mut(..n).ok_or(Error::BufferTooSmall)?;
        let (t, code) = match self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                out[4..6].copy_from_slice(&ident.to_be_bytes());
                out[6..8].copy_from_slice(&seq_no.to_be_bytes());
                out[8..].copy_from_slice(data);
                let t = if matches!(self, Icmpv6Repr::EchoRequest { .. }) {
                    message_type::ECHO_REQUEST
                } else {
                    message_type::ECHO_REPLY
                };
                (t, 0)
            }
            Icmpv6Repr::DstUnreachable { code, unused, data } => {
                out[4..8].copy_from_slice(&unused.to_be_bytes());
                out[8..].copy_from_slice(data);
                (message_type::DST_UNREACHABLE, *code)
            }
            Icmpv6Repr::Other {
                msg_type,
                code,
                body,
            } => {
                out[HEADER_LEN..].copy_from_slice(body);
                (*msg_type, *code)
            }
        };
        let mut p = Packet::new_unchecked(out);
        p.set_msg_type(t);
        p.set_msg_code(code);
        p.fill_checksum(src, dst);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6::tests::hex;

    // thread11.pcap frame 54 (echo request node 3 -> leader ALOC) and 56 (the reply), ICMPv6
    // part of tshark's "Decompressed 6LoWPAN IPHC" tab.
    const NODE3: &str = "fdde:ad00:beef:0:fcb3:11ab:670:3562";
    const ALOC: &str = "fdde:ad00:beef::ff:fe00:fc00";
    const REQUEST: &str = "80008a9e00010001001adc2900000000";
    const REPLY: &str = "8100899e00010001001adc2900000000";

    #[test]
    fn parse_and_emit_real_echo() {
        let n3 = Ipv6Address::parse(NODE3).unwrap();
        let aloc = Ipv6Address::parse(ALOC).unwrap();
        for (bytes, src, dst, req) in [(REQUEST, n3, aloc, true), (REPLY, aloc, n3, false)] {
            let d = hex(bytes);
            let p = Packet::new_checked(&d[..]).unwrap();
            let r = Icmpv6Repr::parse(&p, &src, &dst).unwrap();
            match r {
                Icmpv6Repr::EchoRequest {
                    ident,
                    seq_no,
                    data,
                } if req => {
                    assert_eq!((ident, seq_no, data.len()), (1, 1, 8))
                }
                Icmpv6Repr::EchoReply { ident, seq_no, .. } if !req => {
                    assert_eq!((ident, seq_no), (1, 1))
                }
                other => panic!("unexpected {other:?}"),
            }
            let mut out = [0u8; 32];
            let n = r.emit(&mut out, &src, &dst).unwrap();
            assert_eq!(&out[..n], &d[..]);
        }
    }

    #[test]
    fn destination_unreachable_round_trip() {
        let a = Ipv6Address::parse(NODE3).unwrap();
        let b = Ipv6Address::parse(ALOC).unwrap();
        let invoking = hex("6000000000121140");
        let r = Icmpv6Repr::DstUnreachable {
            code: dst_unreachable_code::ADDRESS_UNREACHABLE,
            unused: 0,
            data: &invoking,
        };
        let mut out = [0u8; 32];
        let n = r.emit(&mut out, &a, &b).unwrap();
        assert_eq!(n, 16);
        assert_eq!(
            Icmpv6Repr::parse(&Packet::new_checked(&out[..n]).unwrap(), &a, &b),
            Ok(r)
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let n3 = Ipv6Address::parse(NODE3).unwrap();
        let aloc = Ipv6Address::parse(ALOC).unwrap();
        let d = hex(REQUEST);
        for n in 0..8 {
            assert_eq!(
                Packet::new_checked(&d[..n]).err(),
                Some(Error::Truncated),
                "len {n}"
            );
        }
        let mut bad = d.clone();
        bad[9] ^= 0x40;
        assert_eq!(
            Icmpv6Repr::parse(&Packet::new_unchecked(&bad[..]), &n3, &aloc),
            Err(Error::Malformed)
        );
        // Right bytes, another destination: the pseudo-header makes the checksum fail.
        let other = Ipv6Address::parse("fdde:ad00:beef::ff:fe00:fc01").unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&Packet::new_unchecked(&d[..]), &n3, &other),
            Err(Error::Malformed)
        );
    }
}
