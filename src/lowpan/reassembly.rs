//! Reassembly of FRAG1/FRAGN fragments (RFC 4944 section 5.3) in a fixed number of slots of
//! 1280 bytes each, keyed by (link source, datagram tag, datagram size). Fragments may arrive
//! in any order; exact duplicates (MAC retransmissions) are ignored; a fragment that partly
//! overlaps what is already held discards it and starts over (RFC 4944). A datagram not
//! complete `timeout` after its first fragment arrived is dropped.

use super::MAX_DATAGRAM_SIZE;
use crate::time::{Duration, Instant};
use crate::wire::ipv6;
use crate::wire::sixlowpan::{FragmentHeaderRepr, FramePayload, FrameRepr, LinkAddress};
use crate::wire::{Error, Result};

/// 8-byte blocks in the largest datagram.
const BLOCKS: usize = MAX_DATAGRAM_SIZE.div_ceil(8);

/// OpenThread's reassembly timeout (`OPENTHREAD_CONFIG_6LOWPAN_REASSEMBLY_TIMEOUT`, 2 s). Over
/// LoRa a fragment takes far longer on air: `Timing::reassembly_timeout` scales it.
pub const OPENTHREAD_REASSEMBLY_TIMEOUT: Duration = Duration::from_secs(2);

/// What identifies the fragments of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentKey {
    /// MAC source, or the mesh originator for mesh-header frames.
    pub src: LinkAddress,
    pub tag: u16,
    pub size: u16,
}

/// What happened to fragments, for `counters`-style diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblyCounters {
    /// Datagrams delivered whole.
    pub completed: u32,
    /// Datagrams dropped because they were not complete in time.
    pub timed_out: u32,
    /// Fragments dropped because every slot was busy with another datagram.
    pub dropped_no_slot: u32,
    /// Fragments dropped as invalid (sizes, offsets, undecodable FRAG1).
    pub dropped_invalid: u32,
    /// Fragments ignored because they carried only bytes already held.
    pub duplicates: u32,
    /// Partial datagrams discarded because a fragment overlapped them inconsistently.
    pub overlaps: u32,
}

#[derive(Debug, Clone)]
struct Slot {
    key: Option<FragmentKey>,
    deadline: Instant,
    /// One bit per 8-byte block received.
    received: [u8; BLOCKS.div_ceil(8)],
    received_bytes: usize,
    buffer: [u8; MAX_DATAGRAM_SIZE],
}

impl Slot {
    fn new() -> Self {
        Slot {
            key: None,
            deadline: Instant::ZERO,
            received: [0; BLOCKS.div_ceil(8)],
            received_bytes: 0,
            buffer: [0; MAX_DATAGRAM_SIZE],
        }
    }
    fn start(&mut self, key: FragmentKey, deadline: Instant) {
        self.key = Some(key);
        self.deadline = deadline;
        self.received = [0; BLOCKS.div_ceil(8)];
        self.received_bytes = 0;
    }
    fn has(&self, block: usize) -> bool {
        self.received
            .get(block / 8)
            .is_some_and(|b| b & (1 << (block % 8)) != 0)
    }
    /// (blocks already held, blocks in the range)
    fn coverage(&self, first: usize, end: usize) -> (usize, usize) {
        ((first..end).filter(|b| self.has(*b)).count(), end - first)
    }
    fn mark(&mut self, first: usize, end: usize, size: usize) {
        for b in first..end {
            if !self.has(b) {
                if let Some(byte) = self.received.get_mut(b / 8) {
                    *byte |= 1 << (b % 8);
                }
                let lo = b * 8;
                self.received_bytes += (lo + 8).min(size) - lo;
            }
        }
    }
}

/// Reassembles fragmented datagrams in `SLOTS` fixed buffers of 1280 bytes.
#[derive(Debug, Clone)]
pub struct Reassembler<const SLOTS: usize = 2> {
    slots: [Slot; SLOTS],
    timeout: Duration,
    counters: ReassemblyCounters,
}

impl<const SLOTS: usize> Reassembler<SLOTS> {
    pub fn new(timeout: Duration) -> Self {
        Reassembler {
            slots: core::array::from_fn(|_| Slot::new()),
            timeout,
            counters: ReassemblyCounters::default(),
        }
    }

    pub fn counters(&self) -> &ReassemblyCounters {
        &self.counters
    }

    /// Datagrams being reassembled.
    pub fn in_progress(&self) -> usize {
        self.slots.iter().filter(|s| s.key.is_some()).count()
    }

    /// Drop datagrams whose time is up.
    pub fn poll(&mut self, now: Instant) {
        for s in self.slots.iter_mut() {
            if s.key.is_some() && now >= s.deadline {
                s.key = None;
                self.counters.timed_out += 1;
            }
        }
    }

    /// When `poll` next has something to do.
    pub fn poll_at(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|s| s.key.is_some())
            .map(|s| s.deadline)
            .min()
    }

    /// Take one received fragment. `mac_src` is the frame's MAC source; a mesh header's
    /// originator replaces it in the key. Returns the whole IPv6 datagram once the last
    /// missing fragment arrives (the slot is free again after this call).
    ///
    /// Errors: `Malformed` for a frame without fragment header or an inconsistent fragment,
    /// `Oversized` for a datagram above 1280 bytes or when no slot is free; errors from
    /// decompressing a FRAG1. Duplicates give `Ok(None)`.
    pub fn process(
        &mut self,
        now: Instant,
        mac_src: &LinkAddress,
        frame: &FrameRepr<'_>,
    ) -> Result<Option<&[u8]>> {
        self.poll(now);
        let frag = frame.fragment.ok_or(Error::Malformed)?;
        let size = usize::from(frag.datagram_size());
        if size > MAX_DATAGRAM_SIZE {
            self.counters.dropped_invalid += 1;
            return Err(Error::Oversized);
        }
        if size < ipv6::HEADER_LEN {
            self.counters.dropped_invalid += 1;
            return Err(Error::Malformed);
        }
        let offset = frag.offset_bytes();
        let len = match (&frag, &frame.payload) {
            (FragmentHeaderRepr::First { .. }, FramePayload::Iphc { header, payload }) => {
                header.uncompressed_len() + payload.len()
            }
            (FragmentHeaderRepr::Next { .. }, FramePayload::FragmentData(d)) => d.len(),
            _ => {
                self.counters.dropped_invalid += 1;
                return Err(Error::Malformed);
            }
        };
        let end = offset + len;
        // Every fragment but the last ends on an 8-byte boundary; none runs past the size.
        if end > size || len == 0 || (end % 8 != 0 && end != size) {
            self.counters.dropped_invalid += 1;
            return Err(Error::Malformed);
        }
        let key = FragmentKey {
            src: frame.mesh.map_or(*mac_src, |m| m.originator),
            tag: frag.datagram_tag(),
            size: frag.datagram_size(),
        };

        let idx = match self.slots.iter().position(|s| s.key == Some(key)) {
            Some(i) => i,
            None => match self.slots.iter().position(|s| s.key.is_none()) {
                Some(i) => {
                    self.slots[i].start(key, now + self.timeout);
                    i
                }
                None => {
                    self.counters.dropped_no_slot += 1;
                    return Err(Error::Oversized);
                }
            },
        };
        let (first_block, end_block) = (offset / 8, end.div_ceil(8));
        let slot = &mut self.slots[idx];
        match slot.coverage(first_block, end_block) {
            (0, _) => {}
            (held, all) if held == all => {
                self.counters.duplicates += 1;
                return Ok(None);
            }
            _ => {
                self.counters.overlaps += 1;
                slot.start(key, now + self.timeout);
            }
        }

        let written = match &frame.payload {
            FramePayload::Iphc { header, payload } => {
                header.decompress(payload, Some(size), &mut slot.buffer[..end])
            }
            FramePayload::FragmentData(d) => {
                slot.buffer[offset..end].copy_from_slice(d);
                Ok(len)
            }
        };
        if let Err(e) = written {
            // A FRAG1 we cannot decompress makes the datagram useless.
            slot.key = None;
            self.counters.dropped_invalid += 1;
            return Err(e);
        }
        slot.mark(first_block, end_block, size);
        if slot.received_bytes < size {
            return Ok(None);
        }
        slot.key = None;
        self.counters.completed += 1;
        Ok(Some(&self.slots[idx].buffer[..size]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lowpan::fragmentation::tests::{line_frames_95_to_101, line_udp_295, ML_PREFIX};
    use crate::lowpan::Fragmenter;
    use crate::wire::sixlowpan::{ContextTable, MeshHeaderRepr};
    use crate::wire::{udp, ExtAddress, Ipv6Address, ShortAddress};
    use std::vec::Vec;

    const N4: LinkAddress = LinkAddress::Short(ShortAddress(0x5001));
    const N3: LinkAddress = LinkAddress::Short(ShortAddress(0x5000));

    fn ctx() -> ContextTable {
        ContextTable::with_mesh_local_prefix(ML_PREFIX)
    }

    fn udp_checksum_ok(d: &[u8]) -> bool {
        let ip = ipv6::Packet::new_checked(d).unwrap();
        let u = udp::Packet::new_checked(ip.payload()).unwrap();
        u.verify_checksum(&ip.src_addr(), &ip.dst_addr())
    }

    #[test]
    fn reassembles_real_fragments_with_valid_udp_checksum() {
        let c = ctx();
        let frames = line_frames_95_to_101();
        let mut r: Reassembler = Reassembler::new(Duration::from_secs(10));
        let t0 = Instant::from_millis(100_006);
        let mut out = None;
        for (i, f) in frames.iter().enumerate() {
            let fr = FrameRepr::parse(f, &N4, &N3, &c).unwrap();
            let res = r.process(t0, &N4, &fr).unwrap().map(|d| d.to_vec());
            assert_eq!(res.is_some(), i == frames.len() - 1);
            out = res;
        }
        let d = out.unwrap();
        // tshark's "Reassembled 6LoWPAN" tab of frame 101.
        assert_eq!(d, line_udp_295(64));
        assert!(udp_checksum_ok(&d));
        let ip = ipv6::Packet::new_checked(&d[..]).unwrap();
        assert_eq!(
            ip.src_addr(),
            Ipv6Address::parse("fdde:ad00:beef:0:90c:98e2:94fd:18cd").unwrap()
        );
        assert_eq!(r.counters().completed, 1);
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn out_of_order_and_duplicate_fragments() {
        let c = ctx();
        let frames = line_frames_95_to_101();
        let mut r: Reassembler = Reassembler::new(Duration::from_secs(10));
        let now = Instant::from_millis(5);
        let order = [3, 1, 1, 0, 0, 2];
        let mut done = None;
        for &i in &order {
            let fr = FrameRepr::parse(&frames[i], &N4, &N3, &c).unwrap();
            if let Some(d) = r.process(now, &N4, &fr).unwrap() {
                done = Some(d.to_vec());
            }
        }
        assert_eq!(done.unwrap(), line_udp_295(64));
        assert_eq!(r.counters().duplicates, 2);
    }

    #[test]
    fn overlapping_fragment_restarts_the_datagram() {
        let c = ctx();
        let frames = line_frames_95_to_101();
        let mut r: Reassembler = Reassembler::new(Duration::from_secs(10));
        let now = Instant::ZERO;
        let f1 = FrameRepr::parse(&frames[1], &N4, &N3, &c).unwrap();
        assert_eq!(r.process(now, &N4, &f1).unwrap(), None);
        // A FRAGN at offset 120 (15 * 8) overlapping blocks 16..: partial overlap.
        let mut bad = frames[1].clone();
        bad[4] = 15;
        let fb = FrameRepr::parse(&bad, &N4, &N3, &c).unwrap();
        assert_eq!(r.process(now, &N4, &fb).unwrap(), None);
        assert_eq!(r.counters().overlaps, 1);
        // The restarted slot no longer holds frame 97's data, so the real ones do not finish it.
        for i in [0, 2, 3] {
            let fr = FrameRepr::parse(&frames[i], &N4, &N3, &c).unwrap();
            let res = r.process(now, &N4, &fr);
            assert!(!matches!(res, Ok(Some(_))));
        }
    }

    #[test]
    fn timeout_frees_the_slot() {
        let c = ctx();
        let frames = line_frames_95_to_101();
        let mut r: Reassembler<1> = Reassembler::new(Duration::from_secs(2));
        let f0 = FrameRepr::parse(&frames[0], &N4, &N3, &c).unwrap();
        assert_eq!(
            r.process(Instant::from_millis(1000), &N4, &f0).unwrap(),
            None
        );
        assert_eq!(r.poll_at(), Some(Instant::from_millis(3000)));
        // Another sender's datagram finds no free slot.
        let other = LinkAddress::Extended(ExtAddress([4; 8]));
        assert_eq!(
            r.process(Instant::from_millis(2000), &other, &f0),
            Err(Error::Oversized)
        );
        assert_eq!(r.counters().dropped_no_slot, 1);
        r.poll(Instant::from_millis(2999));
        assert_eq!(r.in_progress(), 1);
        r.poll(Instant::from_millis(3000));
        assert_eq!(r.in_progress(), 0);
        assert_eq!(r.counters().timed_out, 1);
        assert_eq!(r.poll_at(), None);
        // The slot is usable again, and the late fragments alone do not complete anything.
        assert_eq!(
            r.process(Instant::from_millis(3001), &other, &f0).unwrap(),
            None
        );
        assert_eq!(r.in_progress(), 1);
    }

    #[test]
    fn fragment_and_reassemble_1280_bytes() {
        let c = ctx();
        let src = Ipv6Address::parse("fdde:ad00:beef:0:90c:98e2:94fd:18cd").unwrap();
        let dst = Ipv6Address::parse("fdde:ad00:beef::ff:fe00:fc00").unwrap();
        let payload: Vec<u8> = (0..1280 - 48).map(|i| (i * 7 + 3) as u8).collect();
        let mut d = std::vec![0u8; 1280];
        ipv6::Ipv6Repr {
            traffic_class: 0,
            flow_label: 0,
            payload_len: 1240,
            next_header: ipv6::next_header::UDP,
            hop_limit: 64,
            src_addr: src,
            dst_addr: dst,
        }
        .emit(&mut d)
        .unwrap();
        udp::UdpRepr {
            src_port: 49153,
            dst_port: 1234,
        }
        .emit(&mut d[40..], &payload, &src, &dst)
        .unwrap();
        for mesh in [
            None,
            Some(MeshHeaderRepr::new(
                20,
                N3,
                LinkAddress::Short(ShortAddress(0xc000)),
            )),
        ] {
            let mut f = Fragmenter::new(&d, &N4, &N3, mesh, &c, 0x1234, 106).unwrap();
            let mut frames = Vec::new();
            let mut buf = [0u8; 127];
            while let Some(n) = f.next_frame(&mut buf).unwrap() {
                assert!(n <= 106);
                frames.push(buf[..n].to_vec());
            }
            assert!(frames.len() >= 13);
            let mut r: Reassembler<4> = Reassembler::new(Duration::from_secs(30));
            let mut got = None;
            // Deliver in reverse order to exercise the bitmap.
            for fr in frames.iter().rev() {
                let p = FrameRepr::parse(fr, &N4, &N3, &c).unwrap();
                if let Some(x) = r.process(Instant::ZERO, &N4, &p).unwrap() {
                    got = Some(x.to_vec());
                }
            }
            let got = got.unwrap();
            assert_eq!(got, d);
            assert!(udp_checksum_ok(&got));
        }
    }

    #[test]
    fn invalid_fragments_are_typed_errors() {
        let c = ctx();
        let frames = line_frames_95_to_101();
        let mut r: Reassembler = Reassembler::new(Duration::from_secs(2));
        // Not a fragment.
        let b = crate::wire::ipv6::tests::hex(
            "7e56fcb311ab06703562fc00f0c00104d2222648656c6c6f576f726c64",
        );
        let f = FrameRepr::parse(&b, &N4, &N3, &c).unwrap();
        assert_eq!(r.process(Instant::ZERO, &N4, &f), Err(Error::Malformed));
        // FRAGN running past the datagram size.
        let mut bad = frames[3].clone();
        bad[4] = 0x29;
        let f = FrameRepr::parse(&bad, &N4, &N3, &c).unwrap();
        assert_eq!(r.process(Instant::ZERO, &N4, &f), Err(Error::Malformed));
        // Non-final FRAGN not ending on an 8-byte boundary.
        let mut bad = frames[1].clone();
        bad.pop();
        let f = FrameRepr::parse(&bad, &N4, &N3, &c).unwrap();
        assert_eq!(r.process(Instant::ZERO, &N4, &f), Err(Error::Malformed));
        // Size above 1280.
        let mut bad = frames[1].clone();
        bad[0] = 0xe5;
        let f = FrameRepr::parse(&bad, &N4, &N3, &c).unwrap();
        assert_eq!(r.process(Instant::ZERO, &N4, &f), Err(Error::Oversized));
        // Truncated fragment headers never reach the reassembler: the parser refuses them.
        for n in 0..5 {
            assert_eq!(
                FrameRepr::parse(&frames[1][..n], &N4, &N3, &c).err(),
                Some(Error::Truncated)
            );
        }
        assert_eq!(r.in_progress(), 0);
        assert_eq!(r.counters().dropped_invalid, 3); // the unfragmented frame is not a dropped fragment
    }
}
