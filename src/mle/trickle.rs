//! Trickle timer (RFC 6206) as Thread uses it for MLE Advertisements: interval doubling from
//! Imin to Imax, one transmission at a random point in the second half of each interval, reset
//! to Imin when the routing topology changes (the MLE skips that reset on a node short of
//! duty-cycle budget: `Mle::set_duty_pressure`). Thread sets no redundancy suppression (k = inf).

use crate::rand::Rng;
use crate::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trickle {
    imin: Duration,
    imax: Duration,
    interval: Duration,
    interval_start: Instant,
    /// When this interval's transmission is due; `None` once it has happened.
    fire_at: Option<Instant>,
    running: bool,
}

impl Trickle {
    pub const fn new(imin: Duration, imax: Duration) -> Self {
        Trickle {
            imin,
            imax,
            interval: imin,
            interval_start: Instant::ZERO,
            fire_at: None,
            running: false,
        }
    }

    /// Starts (or resets) with the smallest interval.
    pub fn start(&mut self, now: Instant, rng: &mut Rng) {
        self.running = true;
        self.interval = self.imin;
        self.begin_interval(now, rng);
    }

    pub const fn is_running(&self) -> bool {
        self.running
    }

    pub fn stop(&mut self) {
        self.running = false;
    }

    fn begin_interval(&mut self, now: Instant, rng: &mut Rng) {
        self.interval_start = now;
        let i = self.interval.millis();
        let t = rng.range_u32((i / 2) as u32, i.saturating_sub(1) as u32) as u64;
        self.fire_at = Some(now + Duration::from_millis(t));
    }

    pub fn poll_at(&self) -> Instant {
        if !self.running {
            return Instant(u64::MAX);
        }
        self.fire_at.unwrap_or(self.interval_start + self.interval)
    }

    /// Advances the timer; true when a transmission is due now.
    pub fn poll(&mut self, now: Instant, rng: &mut Rng) -> bool {
        if !self.running {
            return false;
        }
        let mut fire = false;
        if let Some(at) = self.fire_at {
            if now >= at {
                self.fire_at = None;
                fire = true;
            }
        }
        if self.fire_at.is_none() && now >= self.interval_start + self.interval {
            let doubled = self.interval.millis().saturating_mul(2);
            self.interval = Duration::from_millis(doubled.min(self.imax.millis()));
            self.begin_interval(now, rng);
        }
        fire
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn fires_once_per_interval_in_its_second_half_and_doubles_to_imax() {
        let mut t = Trickle::new(Duration::from_secs(1), Duration::from_secs(32));
        let mut rng = Rng::new(3);
        t.start(Instant::ZERO, &mut rng);
        let mut fires = Vec::new();
        let mut now = Instant::ZERO;
        while now < Instant::from_millis(200_000) {
            now = t.poll_at();
            if t.poll(now, &mut rng) {
                fires.push(now.millis());
            }
        }
        // Intervals 1,2,4,8,16,32,32,... s: first fire within [0.5 s, 1 s).
        assert!((500..1000).contains(&fires[0]), "{fires:?}");
        let gaps: Vec<u64> = fires.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g <= 64_000), "{gaps:?}");
        let late: Vec<_> = gaps.iter().skip(6).collect();
        assert!(
            late.iter().all(|g| **g >= 16_000),
            "at Imax, fires are 16..64 s apart: {gaps:?}"
        );
        t.start(now, &mut rng);
        assert!(t.poll_at() < now + Duration::from_secs(1));
    }
}
