//! Pseudo-random numbers for protocol choices (jitter, partition id, ML-EID, challenges).
//! The platform seeds it (`Node::new` takes the seed), so simulations are reproducible and a
//! device seeds from its hardware RNG.
//!
//! xoshiro128++ (Blackman & Vigna): small, fast, good statistical quality; not a CSPRNG. The
//! network key, not these numbers, carries Thread's security.

#[derive(Debug, Clone)]
pub struct Rng {
    s: [u32; 4],
}

impl Rng {
    /// Seeds the state with SplitMix64 so that any seed, even 0, gives a usable state.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let a = next();
        let b = next();
        Rng {
            s: [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32],
        }
    }

    pub fn next_u32(&mut self) -> u32 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
        let t = s[1] << 9;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(11);
        result
    }

    pub fn next_u64(&mut self) -> u64 {
        ((self.next_u32() as u64) << 32) | self.next_u32() as u64
    }

    /// Uniform in `[lo, hi]` (inclusive); `lo` when the range is empty.
    pub fn range_u32(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        // Lemire's multiply-shift; the bias is < span / 2^32, negligible for our spans.
        lo + ((self.next_u32() as u64 * span) >> 32) as u32
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let v = self.next_u32().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_ranges_hold() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let mut c = Rng::new(8);
        let va: [u32; 4] = core::array::from_fn(|_| a.next_u32());
        let vb: [u32; 4] = core::array::from_fn(|_| b.next_u32());
        let vc: [u32; 4] = core::array::from_fn(|_| c.next_u32());
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = a.range_u32(10, 14);
            assert!((10..=14).contains(&v));
            seen[(v - 10) as usize] = true;
        }
        assert!(
            seen.iter().all(|s| *s),
            "every value of a small range appears"
        );
    }
}
