//! CoAP (RFC 7252), the subset Thread's management framework (TMF, UDP port 61631) uses:
//! the 4-byte header, a token of 0..8 bytes, options with delta/length encoding (including the
//! 13/14 extended forms), the 0xFF payload marker and the payload.
//!
//! The encoding is canonical (each delta and length has one encoding, a marker only before a
//! non-empty payload), so [`Repr`] re-emits what it parsed byte for byte. Uri-Path helpers turn
//! `"a/as"` into the two Uri-Path options `"a"` and `"as"` and back.

use core::fmt;

use heapless::Vec;

use super::mle::Writer;
use super::{Error, Result};

pub const VERSION: u8 = 1;
pub const PAYLOAD_MARKER: u8 = 0xff;
pub const MAX_TOKEN_LEN: usize = 8;
/// Most options a [`Repr`] holds (TMF messages carry two or three).
pub const MAX_OPTIONS: usize = 12;
const HEADER_LEN: usize = 4;

/// Message type (T field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Confirmable,
    NonConfirmable,
    Acknowledgement,
    Reset,
}

impl MessageType {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => MessageType::Confirmable,
            1 => MessageType::NonConfirmable,
            2 => MessageType::Acknowledgement,
            _ => MessageType::Reset,
        }
    }

    fn bits(self) -> u8 {
        match self {
            MessageType::Confirmable => 0,
            MessageType::NonConfirmable => 1,
            MessageType::Acknowledgement => 2,
            MessageType::Reset => 3,
        }
    }
}

/// Code: class (3 bits) . detail (5 bits), printed `c.dd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Code(pub u8);

impl Code {
    pub const EMPTY: Code = Code(0x00);
    pub const GET: Code = Code(0x01);
    pub const POST: Code = Code(0x02);
    pub const PUT: Code = Code(0x03);
    pub const DELETE: Code = Code(0x04);
    pub const CREATED: Code = Code(0x41);
    pub const DELETED: Code = Code(0x42);
    pub const VALID: Code = Code(0x43);
    pub const CHANGED: Code = Code(0x44);
    pub const CONTENT: Code = Code(0x45);
    pub const BAD_REQUEST: Code = Code(0x80);
    pub const UNAUTHORIZED: Code = Code(0x81);
    pub const BAD_OPTION: Code = Code(0x82);
    pub const FORBIDDEN: Code = Code(0x83);
    pub const NOT_FOUND: Code = Code(0x84);
    pub const METHOD_NOT_ALLOWED: Code = Code(0x85);
    pub const INTERNAL_SERVER_ERROR: Code = Code(0xa0);

    /// Values past their field width are masked.
    pub const fn new(class: u8, detail: u8) -> Self {
        Code(((class & 7) << 5) | (detail & 0x1f))
    }
    pub const fn class(self) -> u8 {
        self.0 >> 5
    }
    pub const fn detail(self) -> u8 {
        self.0 & 0x1f
    }
    pub const fn is_request(self) -> bool {
        self.class() == 0 && self.0 != 0
    }
    pub const fn is_response(self) -> bool {
        self.class() >= 2
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.class(), self.detail())
    }
}

/// Option numbers (RFC 7252 section 5.10, RFC 7959 block options).
pub mod option {
    pub const IF_MATCH: u16 = 1;
    pub const URI_HOST: u16 = 3;
    pub const ETAG: u16 = 4;
    pub const IF_NONE_MATCH: u16 = 5;
    pub const OBSERVE: u16 = 6;
    pub const URI_PORT: u16 = 7;
    pub const LOCATION_PATH: u16 = 8;
    pub const URI_PATH: u16 = 11;
    pub const CONTENT_FORMAT: u16 = 12;
    pub const MAX_AGE: u16 = 14;
    pub const URI_QUERY: u16 = 15;
    pub const ACCEPT: u16 = 17;
    pub const LOCATION_QUERY: u16 = 20;
    pub const BLOCK2: u16 = 23;
    pub const BLOCK1: u16 = 27;
    pub const SIZE2: u16 = 28;
    pub const PROXY_URI: u16 = 35;
    pub const PROXY_SCHEME: u16 = 39;
    pub const SIZE1: u16 = 60;
}

/// One option: number (absolute, deltas resolved) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CoapOption<'a> {
    pub number: u16,
    pub value: &'a [u8],
}

impl CoapOption<'_> {
    /// The value read as an unsigned integer (0..4 bytes, big-endian), as uint options are.
    pub fn uint_value(&self) -> Option<u32> {
        if self.value.len() > 4 {
            return None;
        }
        Some(
            self.value
                .iter()
                .fold(0u32, |acc, b| (acc << 8) | u32::from(*b)),
        )
    }
}

/// Minimal big-endian bytes of `v` for a uint option (0 is the empty value).
pub fn uint_option_bytes(v: u32) -> ([u8; 4], usize) {
    let b = v.to_be_bytes();
    let skip = (v.leading_zeros() / 8) as usize;
    let mut out = [0u8; 4];
    let n = 4 - skip;
    out[..n].copy_from_slice(&b[skip..]);
    (out, n)
}

/// Read the extension of a delta/length nibble.
fn read_ext(nibble: u8, rest: &[u8]) -> Result<(u32, usize)> {
    match nibble {
        0..=12 => Ok((u32::from(nibble), 0)),
        13 => match rest {
            [b, ..] => Ok((13 + u32::from(*b), 1)),
            _ => Err(Error::Truncated),
        },
        14 => match rest {
            [b0, b1, ..] => Ok((269 + u32::from(u16::from_be_bytes([*b0, *b1])), 2)),
            _ => Err(Error::Truncated),
        },
        // 15 is reserved outside the payload marker.
        _ => Err(Error::Malformed),
    }
}

/// Nibble and extension bytes for `v`.
fn ext_for(v: usize) -> Result<(u8, [u8; 2], usize)> {
    if v < 13 {
        Ok((v as u8, [0; 2], 0))
    } else if v < 269 {
        Ok((13, [(v - 13) as u8, 0], 1))
    } else {
        let e = u16::try_from(v - 269).map_err(|_| Error::Oversized)?;
        Ok((14, e.to_be_bytes(), 2))
    }
}

/// Iterates over the options; stops at the payload marker or the end. Yields one error then
/// stops. [`payload`](Self::payload) gives what follows the marker once iteration is over.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
    number: u32,
    payload: Option<&'a [u8]>,
}

impl<'a> OptionIter<'a> {
    pub fn new(options_and_payload: &'a [u8]) -> Self {
        OptionIter {
            rest: options_and_payload,
            number: 0,
            payload: None,
        }
    }

    /// Payload after the marker (empty if none). Meaningful after the iterator returned `None`.
    pub fn payload(&self) -> &'a [u8] {
        self.payload.unwrap_or(&[])
    }

    fn step(&mut self) -> Result<Option<CoapOption<'a>>> {
        let (&first, tail) = match self.rest.split_first() {
            None => return Ok(None),
            Some(x) => x,
        };
        if first == PAYLOAD_MARKER {
            // A marker must be followed by a payload (RFC 7252 section 3).
            if tail.is_empty() {
                return Err(Error::Malformed);
            }
            self.payload = Some(tail);
            self.rest = &[];
            return Ok(None);
        }
        let (delta, n1) = read_ext(first >> 4, tail)?;
        let tail = tail.get(n1..).ok_or(Error::Truncated)?;
        let (len, n2) = read_ext(first & 0x0f, tail)?;
        let tail = tail.get(n2..).ok_or(Error::Truncated)?;
        let len = len as usize;
        if tail.len() < len {
            return Err(Error::Truncated);
        }
        let (value, rest) = tail.split_at(len);
        self.number += delta;
        let number = u16::try_from(self.number).map_err(|_| Error::Malformed)?;
        self.rest = rest;
        Ok(Some(CoapOption { number, value }))
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<CoapOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(o)) => Some(Ok(o)),
            Ok(None) => None,
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Checked view of a CoAP message.
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

    /// Header and token present; token length 9..15 is `Malformed`.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let first = *b.first().ok_or(Error::Truncated)?;
        let tkl = usize::from(first & 0x0f);
        if tkl > MAX_TOKEN_LEN {
            return Err(Error::Malformed);
        }
        if b.len() < HEADER_LEN + tkl {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 6
    }
    pub fn msg_type(&self) -> MessageType {
        MessageType::from_bits(self.buffer.as_ref()[0] >> 4)
    }
    pub fn token_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f)
    }
    pub fn code(&self) -> Code {
        Code(self.buffer.as_ref()[1])
    }
    pub fn message_id(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }
    pub fn token(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.token_len()]
    }
    /// Options, marker and payload.
    pub fn options_and_payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN + self.token_len()..]
    }
    pub fn options(&self) -> OptionIter<'_> {
        OptionIter::new(self.options_and_payload())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Version, type and token length byte.
    pub fn set_header(&mut self, msg_type: MessageType, token_len: u8) {
        self.buffer.as_mut()[0] = (VERSION << 6) | (msg_type.bits() << 4) | (token_len & 0x0f);
    }
    pub fn set_code(&mut self, code: Code) {
        self.buffer.as_mut()[1] = code.0;
    }
    pub fn set_message_id(&mut self, id: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&id.to_be_bytes());
    }
    pub fn token_mut(&mut self) -> &mut [u8] {
        let n = self.token_len();
        &mut self.buffer.as_mut()[HEADER_LEN..HEADER_LEN + n]
    }
}

/// A parsed CoAP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    pub msg_type: MessageType,
    pub code: Code,
    pub message_id: u16,
    /// 0..=8 bytes.
    pub token: &'a [u8],
    /// In wire order (non-decreasing option numbers; repeated Uri-Path in path order).
    pub options: Vec<CoapOption<'a>, MAX_OPTIONS>,
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let packet = Packet::new_checked(bytes)?;
        if packet.version() != VERSION {
            return Err(Error::Unsupported);
        }
        let tkl = packet.token_len();
        let rest = bytes.get(HEADER_LEN + tkl..).ok_or(Error::Truncated)?;
        let mut iter = OptionIter::new(rest);
        let mut options = Vec::new();
        for o in &mut iter {
            options.push(o?).map_err(|_| Error::Oversized)?;
        }
        Ok(Repr {
            msg_type: packet.msg_type(),
            code: packet.code(),
            message_id: packet.message_id(),
            token: bytes
                .get(HEADER_LEN..HEADER_LEN + tkl)
                .ok_or(Error::Truncated)?,
            options,
            payload: iter.payload(),
        })
    }

    /// A request to `uri_path` ("a/as"), no payload yet.
    pub fn request(
        msg_type: MessageType,
        code: Code,
        message_id: u16,
        token: &'a [u8],
        uri_path: &'a str,
    ) -> Result<Self> {
        let mut r = Repr {
            msg_type,
            code,
            message_id,
            token,
            options: Vec::new(),
            payload: &[],
        };
        r.push_uri_path(uri_path)?;
        Ok(r)
    }

    /// Piggybacked response to `request`: Acknowledgement with its message id and token.
    pub fn ack(request: &Repr<'a>, code: Code) -> Self {
        Repr {
            msg_type: MessageType::Acknowledgement,
            code,
            message_id: request.message_id,
            token: request.token,
            options: Vec::new(),
            payload: &[],
        }
    }

    /// Insert an option after every option with a number not above its own.
    pub fn push_option(&mut self, option: CoapOption<'a>) -> Result<()> {
        let at = self
            .options
            .iter()
            .position(|o| o.number > option.number)
            .unwrap_or(self.options.len());
        self.options
            .insert(at, option)
            .map_err(|_| Error::Oversized)
    }

    /// Add `path` as Uri-Path options, one per `/`-separated segment (leading `/` ignored).
    pub fn push_uri_path(&mut self, path: &'a str) -> Result<()> {
        let path = path.strip_prefix('/').unwrap_or(path);
        if path.is_empty() {
            return Ok(());
        }
        for segment in path.split('/') {
            self.push_option(CoapOption {
                number: option::URI_PATH,
                value: segment.as_bytes(),
            })?;
        }
        Ok(())
    }

    /// Uri-Path segments in order.
    pub fn uri_path(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.options
            .iter()
            .filter(|o| o.number == option::URI_PATH)
            .map(|o| o.value)
    }

    /// Whether the Uri-Path options spell `path` ("a/as"; a leading `/` is ignored).
    pub fn uri_path_is(&self, path: &str) -> bool {
        let path = path.strip_prefix('/').unwrap_or(path);
        let mut mine = self.uri_path();
        if path.is_empty() {
            return mine.next().is_none();
        }
        let mut theirs = path.split('/');
        loop {
            match (mine.next(), theirs.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a == b.as_bytes() => {}
                _ => return false,
            }
        }
    }

    /// First option with `number`.
    pub fn option(&self, number: u16) -> Option<CoapOption<'a>> {
        self.options.iter().find(|o| o.number == number).copied()
    }

    pub fn content_format(&self) -> Option<u32> {
        self.option(option::CONTENT_FORMAT)
            .and_then(|o| o.uint_value())
    }

    pub fn buffer_len(&self) -> usize {
        let mut len = HEADER_LEN + self.token.len();
        let mut prev = 0u16;
        for o in &self.options {
            let delta = usize::from(o.number.wrapping_sub(prev));
            len += 1 + ext_len(delta) + ext_len(o.value.len()) + o.value.len();
            prev = o.number;
        }
        if !self.payload.is_empty() {
            len += 1 + self.payload.len();
        }
        len
    }

    /// Write the message into `out`; returns bytes written. Options out of order or a token
    /// longer than 8 bytes are `Malformed`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        if self.token.len() > MAX_TOKEN_LEN {
            return Err(Error::Malformed);
        }
        let mut w = Writer::new(out);
        w.u8((VERSION << 6) | (self.msg_type.bits() << 4) | self.token.len() as u8)?;
        w.u8(self.code.0)?;
        w.u16(self.message_id)?;
        w.put(self.token)?;
        let mut prev = 0u16;
        for o in &self.options {
            let delta = o.number.checked_sub(prev).ok_or(Error::Malformed)?;
            let (dn, de, dl) = ext_for(usize::from(delta))?;
            let (ln, le, ll) = ext_for(o.value.len())?;
            w.u8((dn << 4) | ln)?;
            w.put(&de[..dl])?;
            w.put(&le[..ll])?;
            w.put(o.value)?;
            prev = o.number;
        }
        if !self.payload.is_empty() {
            w.u8(PAYLOAD_MARKER)?;
            w.put(self.payload)?;
        }
        Ok(w.pos())
    }
}

fn ext_len(v: usize) -> usize {
    if v < 13 {
        0
    } else if v < 269 {
        1
    } else {
        2
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

    // UDP payloads (port 61631) of MAC-decrypted frames, from tshark's "Decompressed 6LoWPAN
    // IPHC" tab. thread11.pcap frame 14: node 2 (0x3c01) asks the leader for a router id.
    const ADDRESS_SOLICIT: &str = "420252549fc5b161026173ff01080202020202020202040102";
    // thread11.pcap frame 16: the leader's piggybacked 2.04 answer (router id 30, 0x7800).
    const ADDRESS_SOLICIT_ACK: &str = "624452549fc5ff040100020278000709f60001000200000000";
    // thread11-line.pcap frame 134: NON address query to ff03::2.
    const ADDRESS_QUERY: &str = "52029c62a6a4b161026171ff0010fddead00beef000053bb4796907200a4";
    // thread11-line.pcap frame 135: address notify.
    const ADDRESS_NOTIFY: &str =
        "4202a078a09bb16102616eff0010fddead00beef000053bb4796907200a4030853bb4796907200a40202c000";
    // thread11-line.pcap frame 139: empty 2.04 ACK to the notify.
    const ADDRESS_NOTIFY_ACK: &str = "6244a078a09b";

    fn round_trip(b: &[u8]) -> Repr<'_> {
        let r = Repr::parse(b).unwrap();
        assert_eq!(r.buffer_len(), b.len());
        let mut out = [0u8; 512];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(&out[..n], b);
        r
    }

    #[test]
    fn address_solicit_request_and_ack() {
        let b = hex(ADDRESS_SOLICIT);
        let r = round_trip(&b);
        assert_eq!(r.msg_type, MessageType::Confirmable);
        assert_eq!(r.code, Code::POST);
        assert_eq!(r.message_id, 0x5254);
        assert_eq!(r.token, &[0x9f, 0xc5]);
        assert!(r.uri_path_is("a/as"));
        assert!(r.uri_path_is("/a/as"));
        assert!(!r.uri_path_is("a/a"));
        assert!(!r.uri_path_is("a/as/x"));
        assert_eq!(r.uri_path().collect::<StdVec<_>>(), [&b"a"[..], &b"as"[..]]);
        assert_eq!(r.payload, &hex("01080202020202020202040102")[..]);

        let b2 = hex(ADDRESS_SOLICIT_ACK);
        let a = round_trip(&b2);
        assert_eq!(a.msg_type, MessageType::Acknowledgement);
        assert_eq!(a.code, Code::CHANGED);
        assert_eq!(std::format!("{}", a.code), "2.04");
        assert_eq!((a.message_id, a.token), (r.message_id, r.token));
        assert!(a.options.is_empty());

        // Built from parts.
        let payload = hex("01080202020202020202040102");
        let mut built = Repr::request(
            MessageType::Confirmable,
            Code::POST,
            0x5254,
            &[0x9f, 0xc5],
            "a/as",
        )
        .unwrap();
        built.payload = &payload;
        let mut out = [0u8; 64];
        let n = built.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &b[..]);
        let mut ack = Repr::ack(&built, Code::CHANGED);
        let ack_payload = &b2[7..];
        ack.payload = ack_payload;
        let n = ack.emit(&mut out).unwrap();
        assert_eq!(&out[..n], &b2[..]);
    }

    #[test]
    fn address_query_notify() {
        let b = hex(ADDRESS_QUERY);
        let r = round_trip(&b);
        assert_eq!(r.msg_type, MessageType::NonConfirmable);
        assert!(r.uri_path_is("a/aq"));
        let b = hex(ADDRESS_NOTIFY);
        let r = round_trip(&b);
        assert_eq!(r.msg_type, MessageType::Confirmable);
        assert!(r.uri_path_is("a/an"));
        assert_eq!(r.payload.len(), 32);
        let b = hex(ADDRESS_NOTIFY_ACK);
        let r = round_trip(&b);
        assert_eq!(
            (r.msg_type, r.code, r.message_id),
            (MessageType::Acknowledgement, Code::CHANGED, 0xa078)
        );
        assert!(r.payload.is_empty());
    }

    #[test]
    fn extended_option_forms() {
        // Uri-Path "n", "sd", Content-Format 42 (delta 1), an option 300 (delta 288: 14-form),
        // a 20-byte value (13-form length), a 300-byte value (14-form length), payload.
        let long = [0x61u8; 300];
        let (cf, cf_len) = uint_option_bytes(42);
        let mut r = Repr::request(MessageType::Confirmable, Code::POST, 1, &[], "n/sd").unwrap();
        r.push_option(CoapOption {
            number: option::CONTENT_FORMAT,
            value: &cf[..cf_len],
        })
        .unwrap();
        r.push_option(CoapOption {
            number: 300,
            value: &long,
        })
        .unwrap();
        r.push_option(CoapOption {
            number: option::MAX_AGE,
            value: &long[..20],
        })
        .unwrap();
        r.payload = b"x";
        let mut out = [0u8; 512];
        let n = r.emit(&mut out).unwrap();
        assert_eq!(n, r.buffer_len());
        let b = &out[..n];
        // Header, then "n": 0xb1 'n', "sd": 0x02, Content-Format: 0x11 42,
        // Max-Age (delta 2, len 20 -> 13 + 7): 0x2d 07 ..., option 300 (delta 286 -> 14, 17; len 300 -> 14, 31).
        assert_eq!(&b[..4], &[0x40, 0x02, 0x00, 0x01]);
        assert_eq!(&b[4..11], &[0xb1, b'n', 0x02, b's', b'd', 0x11, 42]);
        assert_eq!(&b[11..13], &[0x2d, 7]);
        assert_eq!(&b[33..38], &[0xee, 0x00, 17, 0x00, 31]); // 286 - 269, 300 - 269
        let back = round_trip(b);
        assert_eq!(back.content_format(), Some(42));
        assert_eq!(back.option(300).unwrap().value.len(), 300);
        assert!(back.uri_path_is("n/sd"));
        assert_eq!(back.payload, b"x");
        // Out-of-order options refuse to emit.
        let mut bad = back.clone();
        bad.options.swap(0, 2);
        assert_eq!(bad.emit(&mut [0u8; 512]), Err(Error::Malformed));
    }

    #[test]
    fn uint_options() {
        assert_eq!(uint_option_bytes(0).1, 0);
        assert_eq!(uint_option_bytes(0x1234), ([0x12, 0x34, 0, 0], 2));
        assert_eq!(
            CoapOption {
                number: 12,
                value: &[]
            }
            .uint_value(),
            Some(0)
        );
        assert_eq!(
            CoapOption {
                number: 12,
                value: &[1, 2, 3, 4, 5]
            }
            .uint_value(),
            None
        );
    }

    #[test]
    fn truncated_and_malformed() {
        let b = hex(ADDRESS_SOLICIT);
        for n in 0..b.len() {
            match Repr::parse(&b[..n]) {
                // Cut between options, or exactly after the marker (empty payload): handled.
                Ok(r) => assert_eq!(r.buffer_len(), n),
                Err(e) => assert!(
                    e == Error::Truncated || (n == 12 && e == Error::Malformed),
                    "cut at {n}: {e}"
                ),
            }
        }
        // Version 2.
        assert_eq!(Repr::parse(&hex("80020000")), Err(Error::Unsupported));
        // Token length 9.
        assert_eq!(
            Repr::parse(&hex("4902000001020304050607080900")),
            Err(Error::Malformed)
        );
        // Delta nibble 15 that is not the marker.
        assert_eq!(Repr::parse(&hex("40020000f1")), Err(Error::Malformed));
        // Length nibble 15.
        assert_eq!(Repr::parse(&hex("400200001f")), Err(Error::Malformed));
        // Marker with no payload.
        assert_eq!(Repr::parse(&hex("40020000ff")), Err(Error::Malformed));
        // Extended delta byte missing.
        assert_eq!(Repr::parse(&hex("40020000d0")), Err(Error::Truncated));
        // Option numbers past 65535.
        assert_eq!(
            Repr::parse(&hex("40020000e0fffe e0fffe".replace(' ', "").as_str())),
            Err(Error::Malformed)
        );
        // Token cut.
        assert_eq!(Repr::parse(&hex("42020000aa")), Err(Error::Truncated));
    }

    #[test]
    fn fuzz_never_panics() {
        let mut x: u32 = 0x0bad_cafe;
        let mut buf = [0u8; 48];
        for _ in 0..30000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 48) as usize;
            for b in buf.iter_mut().take(len) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            buf[0] = (buf[0] & 0x3f) | 0x40;
            if let Ok(r) = Repr::parse(&buf[..len]) {
                let mut out = [0u8; 64];
                let n = r.emit(&mut out).unwrap();
                assert_eq!(&out[..n], &buf[..len]);
            }
        }
    }
}
