//! Fragmentation as OpenThread's `MeshForwarder::PrepareDataFrame` does it: the first frame
//! carries [mesh header] FRAG1 + the compressed IPv6 headers + as much payload as fits,
//! rounded down to a multiple of 8 bytes; the following frames carry [mesh header] FRAGN +
//! the next slice (a multiple of 8 bytes except the last). A datagram that fits in one frame
//! is sent without a fragment header.

use super::MAX_DATAGRAM_SIZE;
use crate::wire::sixlowpan::{
    self, CompressedIpv6Repr, ContextLookup, FragmentHeaderRepr, LinkAddress, MeshHeaderRepr,
};
use crate::wire::{Error, Result};

/// Produces the 6LoWPAN frame payloads (MAC payloads, before MAC security) for one datagram.
#[derive(Debug)]
pub struct Fragmenter<'a> {
    datagram: &'a [u8],
    header: CompressedIpv6Repr<'a>,
    /// Bytes of the uncompressed datagram the compressed header stands for.
    header_consumed: usize,
    mesh: Option<MeshHeaderRepr>,
    tag: u16,
    max_payload: usize,
    fragmented: bool,
    /// Next uncompressed offset to send; `None` before the first frame.
    next_offset: Option<usize>,
}

impl<'a> Fragmenter<'a> {
    /// Prepare to send `datagram` (a whole IPv6 datagram, at most 1280 bytes).
    ///
    /// `mac_src`/`mac_dst` are the frame's 802.15.4 addresses (IIDs derivable from them are
    /// elided); with a `mesh` header, its originator/final destination are used instead, as
    /// OpenThread does. `tag` is the datagram tag (OpenThread: a per-node counter skipping 0).
    /// `max_payload` is the room for 6LoWPAN bytes in one frame (127 minus MAC header,
    /// auxiliary security header, MIC and FCS).
    pub fn new(
        datagram: &'a [u8],
        mac_src: &LinkAddress,
        mac_dst: &LinkAddress,
        mesh: Option<MeshHeaderRepr>,
        ctx: &dyn ContextLookup,
        tag: u16,
        max_payload: usize,
    ) -> Result<Self> {
        let (src, dst) = match &mesh {
            Some(m) => (m.originator, m.final_destination),
            None => (*mac_src, *mac_dst),
        };
        let (header, header_consumed) = sixlowpan::compress(datagram, &src, &dst, ctx)?;
        // `compress` validated the IPv6 header; only the announced length is the datagram.
        let total = crate::wire::ipv6::HEADER_LEN
            + usize::from(crate::wire::ipv6::Packet::new_unchecked(datagram).payload_len());
        if total > MAX_DATAGRAM_SIZE {
            return Err(Error::Oversized);
        }
        let datagram = datagram.get(..total).ok_or(Error::Truncated)?;
        let mesh_len = mesh.map_or(0, |m| m.buffer_len());
        let whole = mesh_len + header.buffer_len() + (total - header_consumed);
        Ok(Fragmenter {
            datagram,
            header,
            header_consumed,
            mesh,
            tag,
            max_payload,
            fragmented: whole > max_payload,
            next_offset: None,
        })
    }

    /// Whether the datagram needs fragment headers.
    pub fn is_fragmented(&self) -> bool {
        self.fragmented
    }

    /// All frames produced.
    pub fn is_done(&self) -> bool {
        self.next_offset.is_some_and(|o| o >= self.datagram.len())
    }

    /// Write the next frame's 6LoWPAN bytes into `out`; `Ok(None)` when all are sent.
    /// `Error::BufferTooSmall` if `max_payload` cannot hold even one 8-byte block.
    pub fn next_frame(&mut self, out: &mut [u8]) -> Result<Option<usize>> {
        if self.is_done() {
            return Ok(None);
        }
        let limit = self.max_payload.min(out.len());
        let out = &mut out[..limit];
        let mut pos = match &self.mesh {
            Some(m) => m.emit(out)?,
            None => 0,
        };
        let size = u16::try_from(self.datagram.len()).map_err(|_| Error::Oversized)?;
        let offset = match self.next_offset {
            None => {
                if self.fragmented {
                    let f = FragmentHeaderRepr::First {
                        datagram_size: size,
                        datagram_tag: self.tag,
                    };
                    pos += f.emit(out.get_mut(pos..).ok_or(Error::BufferTooSmall)?)?;
                }
                pos += self
                    .header
                    .emit(out.get_mut(pos..).ok_or(Error::BufferTooSmall)?)?;
                self.header_consumed
            }
            Some(o) => {
                let f = FragmentHeaderRepr::Next {
                    datagram_size: size,
                    datagram_tag: self.tag,
                    datagram_offset: u8::try_from(o / 8).map_err(|_| Error::Oversized)?,
                };
                pos += f.emit(out.get_mut(pos..).ok_or(Error::BufferTooSmall)?)?;
                o
            }
        };
        let rest = self.datagram.len() - offset;
        let room = limit.checked_sub(pos).ok_or(Error::BufferTooSmall)?;
        let n = if rest <= room {
            rest
        } else {
            // Not the last fragment: it must end on an 8-byte boundary of the datagram.
            let n = room & !7;
            if n == 0 || (offset + n) % 8 != 0 {
                return Err(Error::BufferTooSmall);
            }
            n
        };
        if !self.fragmented && n != rest {
            return Err(Error::BufferTooSmall);
        }
        out[pos..pos + n].copy_from_slice(&self.datagram[offset..offset + n]);
        self.next_offset = Some(offset + n);
        Ok(Some(pos + n))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::ipv6::tests::hex;
    use crate::wire::sixlowpan::ContextTable;
    use crate::wire::ShortAddress;
    use std::vec::Vec;

    pub(crate) const ML_PREFIX: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00];

    /// thread11-line.pcap frame 101, tshark's "Reassembled 6LoWPAN" tab: 48 bytes of IPv6 +
    /// UDP header (node 4's ML-EID -> leader ALOC, 49153 -> 1234), then 295 bytes of 0xab.
    pub(crate) fn line_udp_295(hop_limit: u8) -> Vec<u8> {
        let mut d = hex(
            "60000000012f1140fddead00beef0000090c98e294fd18cdfddead00beef0000000000fffe00fc00\
             c00104d2012fdbcf",
        );
        d[7] = hop_limit;
        d.extend(core::iter::repeat_n(0xab, 295));
        d
    }

    /// The decrypted 6LoWPAN payloads of thread11-line.pcap frames 95, 97, 99, 101 (node 4,
    /// 0x5001, to its parent 0x5000; tag 0x4b67): header bytes as tshark shows them, followed
    /// by the 0xab filler (80, 96, 96 and 23 bytes).
    pub(crate) fn line_frames_95_to_101() -> Vec<Vec<u8>> {
        let f = |h: &str, n: usize| {
            let mut v = hex(h);
            v.extend(core::iter::repeat_n(0xab, n));
            v
        };
        std::vec![
            f("c1574b677e56090c98e294fd18cdfc00f0c00104d2dbcf", 80),
            f("e1574b6710", 96),
            f("e1574b671c", 96),
            f("e1574b6728", 23),
        ]
    }

    fn all_frames(mut f: Fragmenter<'_>) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut buf = [0u8; 127];
        while let Some(n) = f.next_frame(&mut buf).unwrap() {
            v.push(buf[..n].to_vec());
        }
        assert!(f.is_done());
        v
    }

    #[test]
    fn reproduces_openthread_fragments() {
        // 127 - MAC header (9) - aux security header (6) - MIC (4) - FCS (2) = 106.
        let c = ContextTable::with_mesh_local_prefix(ML_PREFIX);
        let d = line_udp_295(64);
        let s = LinkAddress::Short(ShortAddress(0x5001));
        let t = LinkAddress::Short(ShortAddress(0x5000));
        let f = Fragmenter::new(&d, &s, &t, None, &c, 0x4b67, 106).unwrap();
        assert!(f.is_fragmented());
        assert_eq!(all_frames(f), line_frames_95_to_101());
    }

    #[test]
    fn reproduces_openthread_mesh_fragments() {
        // thread11-line.pcap frames 103 and 107: node 3 (0x5000) re-sends the datagram
        // (hop limit 63) to the leader 0xc000 through 0x7800, mesh header 19 hops left,
        // tag 0xddaf: FRAG1 with 72 payload bytes, then FRAGN offset 15 with 88.
        let c = ContextTable::with_mesh_local_prefix(ML_PREFIX);
        let d = line_udp_295(63);
        let mesh = MeshHeaderRepr::new(
            0x13,
            LinkAddress::Short(ShortAddress(0x5000)),
            LinkAddress::Short(ShortAddress(0xc000)),
        );
        let s = LinkAddress::Short(ShortAddress(0x5000));
        let t = LinkAddress::Short(ShortAddress(0x7800));
        let frames = all_frames(Fragmenter::new(&d, &s, &t, Some(mesh), &c, 0xddaf, 106).unwrap());
        let mut f103 = hex("bf135000c000c157ddaf7c563f090c98e294fd18cdfc00f0c00104d2dbcf");
        f103.extend(core::iter::repeat_n(0xab, 72));
        let mut f107 = hex("bf135000c000e157ddaf0f");
        f107.extend(core::iter::repeat_n(0xab, 88));
        assert_eq!(frames[0], f103);
        assert_eq!(frames[1], f107);
        // The remaining 295 - 72 - 88 = 135 bytes in two more frames.
        assert_eq!(frames.len(), 4);
        assert_eq!(
            frames.iter().skip(2).map(|f| f.len() - 11).sum::<usize>(),
            135
        );
    }

    #[test]
    fn small_datagram_needs_no_fragment_header() {
        // thread11.pcap frame 52 ("HelloWorld") goes out as one frame, exactly as sent.
        let c = ContextTable::with_mesh_local_prefix(ML_PREFIX);
        let d = hex(
            "6000000000121140fddead00beef0000fcb311ab06703562fddead00beef0000000000fffe00fc00\
             c00104d20012222648656c6c6f576f726c64",
        );
        let s = LinkAddress::Short(ShortAddress(0x3c02));
        let t = LinkAddress::Short(ShortAddress(0x3c00));
        let f = Fragmenter::new(&d, &s, &t, None, &c, 1, 106).unwrap();
        assert!(!f.is_fragmented());
        assert_eq!(
            all_frames(f),
            std::vec![hex(
                "7e56fcb311ab06703562fc00f0c00104d2222648656c6c6f576f726c64"
            )]
        );
    }

    #[test]
    fn rejects_bad_inputs() {
        let c = ContextTable::with_mesh_local_prefix(ML_PREFIX);
        let s = LinkAddress::Short(ShortAddress(1));
        let d = line_udp_295(64);
        assert_eq!(
            Fragmenter::new(&d[..100], &s, &s, None, &c, 1, 106).err(),
            Some(Error::Truncated)
        );
        let mut big = d.clone();
        big.resize(1300, 0);
        big[4..6].copy_from_slice(&(1260u16).to_be_bytes());
        assert_eq!(
            Fragmenter::new(&big, &s, &s, None, &c, 1, 106).err(),
            Some(Error::Oversized)
        );
        let mut f = Fragmenter::new(&d, &s, &s, None, &c, 1, 20).unwrap();
        let mut buf = [0u8; 127];
        assert_eq!(f.next_frame(&mut buf), Err(Error::BufferTooSmall));
    }
}
