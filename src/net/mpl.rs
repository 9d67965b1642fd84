//! MPL (RFC 7731) as Thread 1.1 uses it to flood realm-local multicast (ff03::1, ff03::2 and
//! the Address Queries sent there) across the mesh: the seed set that recognises a copy
//! already seen, and the choice of what a forwarder retransmits.
//!
//! As OpenThread's `Ip6::Mpl`: every datagram of realm-local or larger scope carries an MPL
//! option in a Hop-by-Hop header (seed id = the originator's RLOC16, a sequence number per
//! seed); routers retransmit a datagram the first time they see its (seed, sequence) and drop
//! later copies; other nodes only receive. OpenThread's routers retransmit a new datagram
//! up to twice within 64 ms (`kDataMessageInterval`); on LoRa one retransmission a few frame
//! times later (the delay is the node's) keeps the flood within the duty cycle: every
//! retransmission is heard by all the forwarder's neighbours.

use heapless::Vec;

use crate::time::{Duration, Instant};
use crate::wire::ipv6::{self, next_header, HopByHopPacket, HopByHopRepr, Ipv6OptionRepr};
use crate::wire::ipv6::{MplOptionRepr, MplSeedId};
use crate::wire::Ipv6Address;

/// Seed set entries kept (OpenThread's `kNumSeedEntries` is 32).
pub const SEED_SET_ENTRIES: usize = 32;

/// Who originated an MPL datagram: its seed id as carried, or its IPv6 source when the option
/// elides it (S=0), as one 16-byte key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplSeed(pub [u8; 16]);

impl MplSeed {
    fn from_option(option: &MplOptionRepr, src: &Ipv6Address) -> Self {
        let mut key = [0u8; 16];
        match option.seed_id {
            MplSeedId::None => key = src.0,
            MplSeedId::Short(s) => key[14..].copy_from_slice(&s.to_be_bytes()),
            MplSeedId::Long(l) => key[8..].copy_from_slice(&l),
            MplSeedId::Full(f) => key = f,
        }
        MplSeed(key)
    }
}

/// The MPL option of an IPv6 datagram (in its Hop-by-Hop header): who seeded it and its
/// sequence number. `None` when the datagram has no Hop-by-Hop header or no MPL option in it.
pub fn mpl_of(datagram: &[u8]) -> Option<(MplSeed, u8)> {
    let p = ipv6::Packet::new_checked(datagram).ok()?;
    if p.next_header() != next_header::HOP_BY_HOP {
        return None;
    }
    let src = p.src_addr();
    let hbh = HopByHopPacket::new_checked(p.payload()).ok()?;
    let repr = HopByHopRepr::parse(&hbh).ok()?;
    let found = repr.options().find_map(|o| match o {
        Ok(Ipv6OptionRepr::Mpl(m)) => Some(m),
        _ => None,
    });
    found.map(|m| (MplSeed::from_option(&m, &src), m.sequence))
}

/// The datagrams seen lately, by (seed, sequence): a copy of one of them is not delivered or
/// forwarded again.
#[derive(Debug, Default)]
pub struct SeedSet {
    entries: Vec<(MplSeed, u8, Instant), SEED_SET_ENTRIES>,
}

impl SeedSet {
    pub const fn new() -> Self {
        SeedSet {
            entries: Vec::new(),
        }
    }

    /// Records (seed, sequence) for `lifetime`; `false` when it was already there (a copy).
    /// When full, the entry closest to expiry makes room.
    pub fn insert(
        &mut self,
        now: Instant,
        seed: MplSeed,
        sequence: u8,
        lifetime: Duration,
    ) -> bool {
        self.entries.retain(|(_, _, expires)| now < *expires);
        if self
            .entries
            .iter()
            .any(|(s, q, _)| *s == seed && *q == sequence)
        {
            return false;
        }
        if self.entries.is_full() {
            if let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, _, t))| *t)
                .map(|(i, _)| i)
            {
                self.entries.swap_remove(oldest);
            }
        }
        let _ = self.entries.push((seed, sequence, now + lifetime));
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// thread11-line.pcap frame 133 as decompressed: node 1 (RLOC16 0xc000) pings ff03::1,
    /// MPL option with S=1, sequence 0, seed 0xc000.
    fn ping_ff03_1() -> std::vec::Vec<u8> {
        let mut d = std::vec::Vec::new();
        d.extend_from_slice(&[0x60, 0, 0, 0, 0, 16, next_header::HOP_BY_HOP, 64]);
        d.extend_from_slice(&[
            0xfd, 0xde, 0xad, 0, 0xbe, 0xef, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0xc0, 0,
        ]);
        d.extend_from_slice(&[0xff, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        d.extend_from_slice(&[58, 0, 0x6d, 4, 0x40, 0, 0xc0, 0]);
        d.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
        d
    }

    #[test]
    fn the_mpl_option_names_seed_and_sequence() {
        let d = ping_ff03_1();
        let (seed, seq) = mpl_of(&d).unwrap();
        let mut key = [0u8; 16];
        key[14] = 0xc0;
        assert_eq!(seed, MplSeed(key));
        assert_eq!(seq, 0);
        // No Hop-by-Hop header: no MPL.
        let mut plain = d.clone();
        plain[6] = 58;
        assert_eq!(mpl_of(&plain), None);
        // Truncated anywhere: no panic, no MPL.
        for n in 0..d.len() {
            let _ = mpl_of(&d[..n]);
        }
    }

    #[test]
    fn a_copy_is_recognised_until_its_entry_expires() {
        let mut set = SeedSet::new();
        let (seed, seq) = mpl_of(&ping_ff03_1()).unwrap();
        let life = Duration::from_secs(5);
        let t0 = Instant::from_millis(1000);
        assert!(set.insert(t0, seed, seq, life));
        assert!(!set.insert(t0 + Duration::from_secs(1), seed, seq, life));
        assert!(set.insert(t0, seed, seq.wrapping_add(1), life));
        assert!(set.insert(t0 + life, seed, seq, life), "expired: new again");
    }

    #[test]
    fn a_full_set_forgets_the_oldest() {
        let mut set = SeedSet::new();
        let life = Duration::from_secs(60);
        for i in 0..SEED_SET_ENTRIES as u8 {
            assert!(set.insert(Instant::from_millis(i as u64), MplSeed([i; 16]), 0, life));
        }
        assert!(set.insert(Instant::from_millis(100), MplSeed([0xff; 16]), 0, life));
        assert_eq!(set.len(), SEED_SET_ENTRIES);
        // Seed 0 (the oldest) was dropped; seed 1 is still known.
        assert!(!set.insert(Instant::from_millis(101), MplSeed([1; 16]), 0, life));
        assert!(set.insert(Instant::from_millis(101), MplSeed([0; 16]), 0, life));
    }
}
