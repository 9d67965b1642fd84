//! Duty-cycle limits per region and sub-band, their enforcement before every transmission, and
//! the listen-before-talk decision Pycom made before sending.
//!
//! This module owns three things:
//!
//! - **Limits**: [`DutyCycleLimit`] (parts per million of on-air time in any one hour), the EU868
//!   sub-band table of ETSI EN 300 220 as LoRaMac-node `RegionEU868` uses it
//!   ([`EU868_SUB_BANDS`], [`eu868_limit`]), and the limit plus dwell time of the other regions
//!   ([`DutyCycleRegion`], [`regional_limits`]).
//! - **Enforcement**: [`DutyCycle`], a per-node tracker of past transmissions over a sliding
//!   one-hour window, answering when a frame of a given airtime may start so that no one-hour
//!   window, wherever it starts, holds more than the budget.
//! - **Listen-before-talk**: [`ListenBeforeTalk`], sample the channel RSSI, and back off by a
//!   random multiple of the frame's airtime while it is above the threshold (-85 dBm in Pycom's
//!   firmware).
//!
//! Time is milliseconds ([`crate::time`]); airtimes should come from
//! [`super::airtime::LoRaModulation::time_on_air`], which rounds up so budgets never
//! under-count.

use crate::time::{Duration, Instant};
use heapless::Vec;

/// ETSI EN 300 220 measures duty cycle as on-air time over one hour.
pub const DUTY_CYCLE_WINDOW: Duration = Duration::from_secs(3600);

const PPM: u64 = 1_000_000;

/// A duty-cycle limit: the share of any one-hour window a transmitter may spend on air, in
/// parts per million. Smaller is stricter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DutyCycleLimit(u32);

impl DutyCycleLimit {
    /// No duty-cycle limit (100 %).
    pub const UNLIMITED: Self = Self(1_000_000);
    /// 10 % (EU868 g3, 869.4-869.65 MHz).
    pub const PERCENT_10: Self = Self(100_000);
    /// 1 %.
    pub const PERCENT_1: Self = Self(10_000);
    /// 0.1 %.
    pub const PERMILLE_1: Self = Self(1_000);

    /// A limit in parts per million, capped at 100 %.
    pub const fn from_ppm(ppm: u32) -> Self {
        if ppm > PPM as u32 {
            Self::UNLIMITED
        } else {
            Self(ppm)
        }
    }

    /// A limit in permille (10 = 1 %), capped at 100 %.
    pub const fn from_permille(permille: u16) -> Self {
        Self::from_ppm(permille as u32 * 1000)
    }

    pub const fn ppm(self) -> u32 {
        self.0
    }

    pub const fn is_unlimited(self) -> bool {
        self.0 as u64 >= PPM
    }

    /// Airtime allowed in any one-hour window, rounded down to whole milliseconds.
    pub const fn budget(self) -> Duration {
        Duration(DUTY_CYCLE_WINDOW.millis() * self.0 as u64 / PPM)
    }

    /// The stricter of two limits.
    pub const fn stricter(self, other: Self) -> Self {
        if other.0 < self.0 {
            other
        } else {
            self
        }
    }
}

/// A frequency range with one duty-cycle limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubBand {
    pub name: &'static str,
    /// Lowest frequency, inclusive.
    pub low_hz: u32,
    /// Highest frequency, exclusive.
    pub high_hz: u32,
    pub limit: DutyCycleLimit,
}

impl SubBand {
    const fn new(name: &'static str, low_hz: u32, high_hz: u32, limit: DutyCycleLimit) -> Self {
        SubBand {
            name,
            low_hz,
            high_hz,
            limit,
        }
    }

    /// Whether any part of `[low_hz, high_hz)` lies in this sub-band.
    const fn overlaps(&self, low_hz: u32, high_hz: u32) -> bool {
        low_hz < self.high_hz && self.low_hz < high_hz
    }
}

/// The EU868 sub-bands of ETSI EN 300 220 that LoRaMac-node `RegionEU868` (bands 0..5) and the
/// reference use. Transmit power limits are the region code's business.
pub const EU868_SUB_BANDS: [SubBand; 6] = [
    SubBand::new(
        "863.0-865.0 MHz",
        863_000_000,
        865_000_000,
        DutyCycleLimit::PERMILLE_1,
    ),
    SubBand::new(
        "865.0-868.0 MHz",
        865_000_000,
        868_000_000,
        DutyCycleLimit::PERCENT_1,
    ),
    SubBand::new("g1", 868_000_000, 868_600_000, DutyCycleLimit::PERCENT_1),
    SubBand::new("g2", 868_700_000, 869_200_000, DutyCycleLimit::PERMILLE_1),
    SubBand::new("g3", 869_400_000, 869_650_000, DutyCycleLimit::PERCENT_10),
    SubBand::new("g4", 869_700_000, 870_000_000, DutyCycleLimit::PERCENT_1),
];

/// The gaps between the EU868 sub-bands, each with its strictest neighbour's limit.
/// LoRaMac-node refuses these frequencies outright (`VerifyRfFreq`); a mesh configured by hand
/// may still land a channel edge in one, so it gets the limit that is safe on either side.
pub const EU868_GAPS: [SubBand; 3] = [
    SubBand::new(
        "gap 868.6-868.7 MHz",
        868_600_000,
        868_700_000,
        DutyCycleLimit::PERMILLE_1,
    ),
    SubBand::new(
        "gap 869.2-869.4 MHz",
        869_200_000,
        869_400_000,
        DutyCycleLimit::PERMILLE_1,
    ),
    SubBand::new(
        "gap 869.65-869.7 MHz",
        869_650_000,
        869_700_000,
        DutyCycleLimit::PERCENT_1,
    ),
];

/// Lower edge of the EU868 band.
pub const EU868_LOW_HZ: u32 = 863_000_000;
/// Upper edge of the EU868 band.
pub const EU868_HIGH_HZ: u32 = 870_000_000;

/// The EU868 sub-band containing `frequency_hz`, `None` in a gap or outside 863-870 MHz.
pub fn eu868_sub_band(frequency_hz: u32) -> Option<&'static SubBand> {
    EU868_SUB_BANDS
        .iter()
        .find(|b| b.low_hz <= frequency_hz && frequency_hz < b.high_hz)
}

/// The duty-cycle limit for an EU868 channel centred on `center_hz` occupying `bandwidth_hz`.
///
/// The whole occupied bandwidth must obey the limit, so this is the strictest limit of every
/// sub-band or gap the channel touches ([`EU868_GAPS`] take their strictest neighbour's). A
/// channel reaching outside 863-870 MHz is not allowed in EU868 at all (the region code should
/// reject it); here it gets the band's strictest limit, 0.1 %, so a misconfiguration is never
/// under-protected.
pub fn eu868_limit(center_hz: u32, bandwidth_hz: u32) -> DutyCycleLimit {
    let half = bandwidth_hz / 2;
    let low = center_hz.saturating_sub(half);
    // Half-open [low, high): a channel whose edge sits exactly on a boundary does not touch the
    // neighbour. A zero bandwidth still occupies its centre frequency.
    let high = center_hz.saturating_add(half).max(low.saturating_add(1));
    let mut limit = if low < EU868_LOW_HZ || high > EU868_HIGH_HZ {
        DutyCycleLimit::PERMILLE_1
    } else {
        DutyCycleLimit::UNLIMITED
    };
    for band in EU868_SUB_BANDS.iter().chain(EU868_GAPS.iter()) {
        if band.overlaps(low, high) {
            limit = limit.stricter(band.limit);
        }
    }
    limit
}

/// The LoRa regions whose transmit limits this module knows; the public region type maps onto
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DutyCycleRegion {
    /// Europe 863-870 MHz: per sub-band limits (ETSI EN 300 220), see [`eu868_limit`].
    Eu868,
    /// Europe 433 MHz: 1 %, as LoRaMac-node `EU433_BAND0`. (ERC 70-03 allows 10 % at 10 mW
    /// in 433.05-434.79 MHz; we keep LoRaMac-node's stricter figure.)
    Eu433,
    /// USA 902-928 MHz: no duty cycle (LoRaMac-node `US915_BAND0` is 100 %); FCC part 15
    /// limits dwell time to 400 ms per channel instead.
    Us915,
    /// Australia 915-928 MHz: no duty cycle (`AU915_BAND0` 100 %); uplink dwell time 400 ms
    /// (`AU915_DEFAULT_UPLINK_DWELL_TIME` 1).
    Au915,
    /// Asia 923 MHz: `AS923_BAND0` is 1 %, though LoRaMac-node ships with
    /// `AS923_DUTY_CYCLE_ENABLED` 0; we enforce the 1 % (conservative). Dwell time 400 ms
    /// (`AS923_DEFAULT_UPLINK_DWELL_TIME` 1).
    As923,
    /// China 470-510 MHz: no duty cycle (`CN470_BAND0` 100 %).
    Cn470,
    /// India 865-867 MHz: no duty cycle (`IN865_BAND0` 100 %).
    In865,
}

/// What a region allows one transmitter on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionalLimits {
    pub duty_cycle: DutyCycleLimit,
    /// Longest single transmission allowed, if the region limits it.
    pub max_dwell_time: Option<Duration>,
}

impl RegionalLimits {
    /// Whether a single frame of `airtime` respects the dwell time.
    pub const fn allows_frame(&self, airtime: Duration) -> bool {
        match self.max_dwell_time {
            Some(dwell) => airtime.millis() <= dwell.millis(),
            None => true,
        }
    }
}

/// 400 ms: the dwell time of US915 (FCC), AU915 and AS923.
pub const DWELL_TIME_400_MS: Duration = Duration::from_millis(400);

/// The limits for a channel centred on `center_hz` with `bandwidth_hz` in `region`. Only EU868
/// depends on the frequency; checking that the frequency belongs to the region is the region
/// code's job.
pub fn regional_limits(
    region: DutyCycleRegion,
    center_hz: u32,
    bandwidth_hz: u32,
) -> RegionalLimits {
    let (duty_cycle, max_dwell_time) = match region {
        DutyCycleRegion::Eu868 => (eu868_limit(center_hz, bandwidth_hz), None),
        DutyCycleRegion::Eu433 => (DutyCycleLimit::PERCENT_1, None),
        DutyCycleRegion::Us915 => (DutyCycleLimit::UNLIMITED, Some(DWELL_TIME_400_MS)),
        DutyCycleRegion::Au915 => (DutyCycleLimit::UNLIMITED, Some(DWELL_TIME_400_MS)),
        DutyCycleRegion::As923 => (DutyCycleLimit::PERCENT_1, Some(DWELL_TIME_400_MS)),
        DutyCycleRegion::Cn470 => (DutyCycleLimit::UNLIMITED, None),
        DutyCycleRegion::In865 => (DutyCycleLimit::UNLIMITED, None),
    };
    RegionalLimits {
        duty_cycle,
        max_dwell_time,
    }
}

/// Airtime ending at `end`; after aggregation it stands for several frames, all ended by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OnAir {
    end: Instant,
    airtime: Duration,
}

/// What a [`DutyCycle`] tracker has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DutyCycleStats {
    /// Transmissions recorded.
    pub frames: u32,
    /// Their total airtime.
    pub total_airtime: Duration,
    /// Frames that started later than they were queued (see [`DutyCycle::record_queued`]).
    pub delayed_frames: u32,
    /// Sum of those delays.
    pub total_delay: Duration,
}

/// Duty-cycle enforcement for one transmitter on one sub-band: the past hour of transmissions,
/// and the earliest moment the next frame may start.
///
/// Guarantee: if every transmission starts no earlier than [`DutyCycle::earliest_start`] said
/// and is then passed to [`DutyCycle::record`], no one-hour window, wherever it starts, holds
/// more on-air time than the limit's budget. It holds because the check covers the hour ending
/// with each new frame, and any window's on-air time is at most that of the hour ending with
/// the last frame it touches.
///
/// History is kept in `N` entries (default 32, at least 2). When they are full, the adjacent
/// pair whose merge costs least is aggregated into one entry with the later end and the summed
/// airtime: it then stays counted at least as long as either frame would have, so aggregation
/// can delay transmissions a little but never lets the budget be exceeded.
#[derive(Debug, Clone)]
pub struct DutyCycle<const N: usize = 32> {
    limit: DutyCycleLimit,
    /// Ascending by `end`.
    on_air: Vec<OnAir, N>,
    /// End of the latest transmission: the radio is half-duplex, nothing starts before it.
    last_end: Instant,
    stats: DutyCycleStats,
}

impl<const N: usize> DutyCycle<N> {
    const CAPACITY_CHECK: () = assert!(N >= 2, "DutyCycle needs room for at least 2 entries");

    pub const fn new(limit: DutyCycleLimit) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CAPACITY_CHECK;
        DutyCycle {
            limit,
            on_air: Vec::new(),
            last_end: Instant::ZERO,
            stats: DutyCycleStats {
                frames: 0,
                total_airtime: Duration::ZERO,
                delayed_frames: 0,
                total_delay: Duration::ZERO,
            },
        }
    }

    pub const fn limit(&self) -> DutyCycleLimit {
        self.limit
    }

    /// Changes the limit (e.g. a new channel) and keeps the history, which can only make the
    /// tracker stricter than a fresh one.
    pub fn set_limit(&mut self, limit: DutyCycleLimit) {
        self.limit = limit;
    }

    pub const fn stats(&self) -> DutyCycleStats {
        self.stats
    }

    /// The earliest instant, not before `now` nor before the end of the last recorded
    /// transmission, at which a frame of `airtime` may start without any one-hour window
    /// exceeding the budget. `None` if the frame alone exceeds the budget: it can never be sent
    /// under this limit.
    pub fn earliest_start(&self, now: Instant, airtime: Duration) -> Option<Instant> {
        let earliest = now.max(self.last_end);
        if self.limit.is_unlimited() {
            return Some(earliest);
        }
        let budget = self.limit.budget().millis();
        let airtime = airtime.millis();
        if airtime > budget {
            return None;
        }
        let window = DUTY_CYCLE_WINDOW.millis();
        // The hour that ends when a frame started at `start` ends.
        let window_start = earliest
            .millis()
            .saturating_add(airtime)
            .saturating_sub(window);
        let mut start = earliest.millis();
        let counted = || self.on_air.iter().filter(|r| r.end.millis() > window_start);
        let mut used = counted()
            .map(|r| r.airtime.millis())
            .fold(0u64, u64::saturating_add);
        if used.saturating_add(airtime) <= budget {
            return Some(earliest);
        }
        // Let the oldest entries slide out of the hour one by one until the frame fits.
        for r in counted() {
            // r leaves the hour ending with the new frame once start + airtime - window >= r.end.
            start = start.max(
                r.end
                    .millis()
                    .saturating_add(window)
                    .saturating_sub(airtime),
            );
            used = used.saturating_sub(r.airtime.millis());
            if used.saturating_add(airtime) <= budget {
                break;
            }
        }
        Some(Instant(start))
    }

    /// Whether a frame of `airtime` may start at `now`.
    pub fn may_transmit(&self, now: Instant, airtime: Duration) -> bool {
        self.earliest_start(now, airtime) == Some(now)
    }

    /// Records a transmission of `airtime` that started at `start`.
    ///
    /// Transmissions are expected in order and without overlap (the radio is half-duplex). One
    /// that claims to end before an earlier one is kept until the later end, which only
    /// over-counts.
    pub fn record(&mut self, start: Instant, airtime: Duration) {
        self.stats.frames = self.stats.frames.saturating_add(1);
        self.stats.total_airtime = self.stats.total_airtime + airtime;
        let end = (start + airtime).max(self.last_end);
        self.last_end = end;
        self.forget_before(start);
        if airtime == Duration::ZERO {
            return;
        }
        self.push(OnAir { end, airtime });
    }

    /// Like [`DutyCycle::record`], for a frame that was queued at `queued_at`; a later start
    /// counts as a delayed frame.
    pub fn record_queued(&mut self, queued_at: Instant, start: Instant, airtime: Duration) {
        if start > queued_at {
            self.stats.delayed_frames = self.stats.delayed_frames.saturating_add(1);
            self.stats.total_delay = self.stats.total_delay + start.since(queued_at);
        }
        self.record(start, airtime);
    }

    /// On-air time counted against the hour ending at `now` (an upper bound once entries have
    /// been aggregated).
    pub fn airtime_in_window(&self, now: Instant) -> Duration {
        let window_start = now.millis().saturating_sub(DUTY_CYCLE_WINDOW.millis());
        let ms = self
            .on_air
            .iter()
            .filter(|r| r.end.millis() > window_start)
            .map(|r| r.airtime.millis())
            .fold(0u64, u64::saturating_add);
        Duration(ms)
    }

    /// Drops entries no future check can see: the next frame starts at or after `start`, so
    /// its hour begins after `start - window`.
    fn forget_before(&mut self, start: Instant) {
        let horizon = start.millis().saturating_sub(DUTY_CYCLE_WINDOW.millis());
        self.on_air.retain(|r| r.end.millis() > horizon);
    }

    fn push(&mut self, entry: OnAir) {
        if self.on_air.is_full() {
            self.aggregate(entry);
        } else if let Err(entry) = self.on_air.push(entry) {
            self.aggregate(entry);
        }
    }

    /// Makes room for `entry` in a full history by merging the adjacent pair (the new entry
    /// included) whose merge costs least: the earlier entry's airtime times how much longer it
    /// stays counted.
    fn aggregate(&mut self, entry: OnAir) {
        let cost = |earlier: &OnAir, later: &OnAir| {
            earlier
                .airtime
                .millis()
                .saturating_mul(later.end.millis().saturating_sub(earlier.end.millis()))
        };
        let Some(last) = self.on_air.last() else {
            // Cannot happen with N >= 2, but never drop airtime silently.
            let _ = self.on_air.push(entry);
            return;
        };
        let mut best: Option<(usize, u64)> = None;
        for (i, pair) in self.on_air.windows(2).enumerate() {
            if let [a, b] = pair {
                let c = cost(a, b);
                if best.is_none_or(|(_, bc)| c < bc) {
                    best = Some((i, c));
                }
            }
        }
        let new_cost = cost(last, &entry);
        match best {
            Some((i, c)) if c < new_cost => {
                if let Some(&b) = self.on_air.get(i + 1) {
                    if let Some(a) = self.on_air.get_mut(i) {
                        a.end = b.end;
                        a.airtime = a.airtime + b.airtime;
                    }
                    self.on_air.remove(i + 1);
                }
                if let Err(entry) = self.on_air.push(entry) {
                    self.merge_into_last(entry);
                }
            }
            _ => self.merge_into_last(entry),
        }
    }

    fn merge_into_last(&mut self, entry: OnAir) {
        if let Some(last) = self.on_air.last_mut() {
            last.end = last.end.max(entry.end);
            last.airtime = last.airtime + entry.airtime;
        }
    }
}

/// What listen-before-talk decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbtDecision {
    /// The channel is clear.
    TransmitNow,
    /// The channel is busy; sample it again at this instant.
    BackOffUntil(Instant),
}

/// Listen-before-talk: sample the channel RSSI before sending and wait while it is above a
/// threshold, as Pycom's Pymesh did at -85 dBm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenBeforeTalk {
    /// The channel is busy when the sampled RSSI is above this.
    pub threshold_dbm: i16,
    /// The random part of the back-off, in airtimes of the waiting frame: a busy channel
    /// defers the frame by one airtime plus a uniform `0..=backoff_airtimes` airtimes.
    pub backoff_airtimes: u8,
}

impl Default for ListenBeforeTalk {
    fn default() -> Self {
        Self::PYCOM
    }
}

impl ListenBeforeTalk {
    /// Pycom's threshold, -85 dBm, with a back-off of 1 to 5 airtimes.
    pub const PYCOM: ListenBeforeTalk = ListenBeforeTalk {
        threshold_dbm: -85,
        backoff_airtimes: 4,
    };

    pub const fn channel_busy(&self, rssi_dbm: i16) -> bool {
        rssi_dbm > self.threshold_dbm
    }

    /// Decides from the RSSI sampled at `now`. `random` is a uniformly random `u32` supplied by
    /// the caller; `airtime` is the waiting frame's. The wait is at least one airtime, because
    /// whoever holds the channel is most likely sending a frame of similar length, plus a random
    /// share so that the nodes that heard the same frame do not all resample at once.
    pub fn decide(
        &self,
        now: Instant,
        rssi_dbm: i16,
        random: u32,
        airtime: Duration,
    ) -> LbtDecision {
        if !self.channel_busy(rssi_dbm) {
            return LbtDecision::TransmitNow;
        }
        let airtime = airtime.millis().max(1);
        let spread = airtime.saturating_mul(self.backoff_airtimes as u64);
        // Uniform in 0..=spread: random / 2^32 * (spread + 1), without floats.
        let extra = ((random as u128 * (spread as u128 + 1)) >> 32) as u64;
        LbtDecision::BackOffUntil(now + Duration(airtime.saturating_add(extra)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::airtime::LoRaModulation;
    use std::vec::Vec;

    const HOUR: u64 = 3_600_000;

    /// (start, airtime) in ms, ascending and non-overlapping.
    type Log = Vec<(u64, u64)>;

    /// The largest on-air time in any one-hour window, by brute force. The on-air time of a
    /// window is piecewise linear in its start, so its maximum is at a window that starts at a
    /// frame start or ends at a frame end; both families are checked.
    fn max_window_airtime(log: &Log) -> u64 {
        let mut best = 0;
        let starts = log.iter().map(|&(s, _)| s);
        let ends = log.iter().map(|&(s, a)| (s + a).saturating_sub(HOUR));
        for w in starts.chain(ends) {
            let first = log.partition_point(|&(s, a)| s + a <= w);
            let mut sum = 0;
            for &(s, a) in &log[first..] {
                if s >= w + HOUR {
                    break;
                }
                sum += (s + a).min(w + HOUR) - s.max(w);
            }
            best = best.max(sum);
        }
        best
    }

    /// A node that transmits frames of `frame` ms whenever it is allowed, for `hours`.
    fn saturate<const N: usize>(
        limit: DutyCycleLimit,
        frame: u64,
        hours: u64,
    ) -> (Log, DutyCycle<N>) {
        let mut dc: DutyCycle<N> = DutyCycle::new(limit);
        let mut log = Log::new();
        let mut now = 0;
        loop {
            let start = dc.earliest_start(Instant(now), Duration(frame)).unwrap();
            assert!(start.millis() >= now);
            if start.millis() >= hours * HOUR {
                break;
            }
            dc.record_queued(Instant(now), start, Duration(frame));
            log.push((start.millis(), frame));
            now = start.millis() + frame;
        }
        (log, dc)
    }

    fn check_saturation<const N: usize>(limit: DutyCycleLimit, frame: u64, hours: u64) {
        let (log, dc) = saturate::<N>(limit, frame, hours);
        let budget = limit.budget().millis();
        let max = max_window_airtime(&log);
        assert!(
            max <= budget,
            "{limit:?}: {max} ms on air in one hour > {budget} ms"
        );
        // Not trivially conservative: over the run the node used at least 90 % of its budget,
        // and so did every whole hour after the first.
        let total: u64 = log.iter().map(|&(_, a)| a).sum();
        assert!(
            total * 10 >= hours * budget * 9,
            "{limit:?} N={N}: {total} ms in {hours} h, budget {budget} ms/h"
        );
        for h in 0..hours {
            let in_hour: u64 = log
                .iter()
                .filter(|&&(s, _)| s >= h * HOUR && s < (h + 1) * HOUR)
                .map(|&(_, a)| a)
                .sum();
            assert!(
                in_hour * 10 >= budget * 9,
                "{limit:?} N={N}: hour {h} used {in_hour} of {budget} ms"
            );
        }
        let stats = dc.stats();
        assert_eq!(stats.frames as usize, log.len());
        assert_eq!(stats.total_airtime.millis(), total);
        assert!(stats.delayed_frames > 0 && stats.total_delay.millis() > 0);
    }

    /// A 127-byte frame at SF7/BW125: 210.2 ms, counted as 211.
    fn frame_127() -> u64 {
        LoRaModulation::PYMESH_DEFAULT.time_on_air(127).millis()
    }

    #[test]
    fn saturating_node_respects_g1_one_percent() {
        let g1 = eu868_limit(868_100_000, 125_000);
        assert_eq!(g1, DutyCycleLimit::PERCENT_1);
        check_saturation::<32>(g1, frame_127(), 5);
        check_saturation::<4>(g1, frame_127(), 5);
    }

    #[test]
    fn saturating_node_respects_g2_one_permille() {
        let g2 = eu868_limit(868_950_000, 125_000);
        assert_eq!(g2, DutyCycleLimit::PERMILLE_1);
        check_saturation::<32>(g2, frame_127(), 6);
        check_saturation::<2>(g2, frame_127(), 6);
    }

    #[test]
    fn saturating_node_respects_g3_ten_percent() {
        let g3 = eu868_limit(869_525_000, 125_000);
        assert_eq!(g3, DutyCycleLimit::PERCENT_10);
        // ~1700 frames an hour through 32 entries: aggregation is exercised hard.
        check_saturation::<32>(g3, frame_127(), 4);
        check_saturation::<8>(g3, frame_127(), 4);
    }

    #[test]
    fn irregular_traffic_never_exceeds_the_budget() {
        // Frames of 20..2000 ms at pseudo-random moments, through a tiny history.
        let limit = DutyCycleLimit::PERCENT_1;
        let mut dc: DutyCycle<3> = DutyCycle::new(limit);
        let mut log = Log::new();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        let mut now = 0;
        while now < 8 * HOUR {
            let frame = 20 + next() % 1980;
            now += next() % 60_000;
            let start = dc.earliest_start(Instant(now), Duration(frame)).unwrap();
            dc.record(start, Duration(frame));
            log.push((start.millis(), frame));
            now = start.millis() + frame;
        }
        assert!(log.len() > 100);
        assert!(max_window_airtime(&log) <= limit.budget().millis());
    }

    #[test]
    fn first_frames_go_immediately_then_wait_for_the_oldest_to_age_out() {
        // 0.1 %: 3600 ms an hour, so three 1000 ms frames fit and a fourth waits until the
        // first has left the hour that would end with it.
        let mut dc: DutyCycle = DutyCycle::new(DutyCycleLimit::PERMILLE_1);
        let a = Duration(1000);
        for t in [0, 5_000, 10_000] {
            assert!(dc.may_transmit(Instant(t), a));
            dc.record(Instant(t), a);
        }
        assert_eq!(dc.airtime_in_window(Instant(11_000)), Duration(3000));
        // 600 ms fits beside them; 1000 ms must wait until [0, 1000) is out: start + 1000 -
        // 3600000 >= 1000.
        assert_eq!(
            dc.earliest_start(Instant(20_000), Duration(600)),
            Some(Instant(20_000))
        );
        assert_eq!(dc.earliest_start(Instant(20_000), a), Some(Instant(HOUR)));
        // Not before the previous transmission has ended, whatever `now` says.
        assert_eq!(
            dc.earliest_start(Instant(10_500), Duration(1)),
            Some(Instant(11_000))
        );
    }

    #[test]
    fn a_frame_longer_than_the_budget_can_never_be_sent() {
        // SF12/BW125 255 B: 9.02 s, over g2's 3.6 s an hour.
        let m = LoRaModulation::new(
            crate::radio::airtime::SpreadingFactor::Sf12,
            crate::radio::airtime::Bandwidth::Khz125,
            crate::radio::airtime::CodingRate::Cr4_5,
        );
        let dc: DutyCycle = DutyCycle::new(DutyCycleLimit::PERMILLE_1);
        assert_eq!(dc.earliest_start(Instant(0), m.time_on_air(255)), None);
        assert_eq!(
            dc.earliest_start(Instant(0), Duration(3600)),
            Some(Instant(0))
        );
        let unlimited: DutyCycle = DutyCycle::new(DutyCycleLimit::UNLIMITED);
        assert_eq!(
            unlimited.earliest_start(Instant(7), m.time_on_air(255)),
            Some(Instant(7))
        );
    }

    #[test]
    fn unlimited_only_serialises_frames() {
        let mut dc: DutyCycle<2> = DutyCycle::new(DutyCycleLimit::UNLIMITED);
        for i in 0..100u64 {
            let s = dc.earliest_start(Instant(i), Duration(500)).unwrap();
            dc.record(s, Duration(500));
        }
        assert_eq!(
            dc.earliest_start(Instant(0), Duration(1)),
            Some(Instant(50_000))
        );
    }

    #[test]
    fn misuse_does_not_panic_and_stays_conservative() {
        let mut dc: DutyCycle<2> = DutyCycle::new(DutyCycleLimit::PERCENT_1);
        // Overlapping, out of order, zero-length, huge and over-budget records.
        dc.record(Instant(1_000), Duration(40_000));
        dc.record(Instant(500), Duration(10));
        dc.record(Instant(0), Duration::ZERO);
        dc.record(Instant(u64::MAX - 5), Duration(u64::MAX));
        dc.record(Instant(u64::MAX), Duration(1));
        let _ = dc.earliest_start(Instant(u64::MAX), Duration(1));
        let _ = dc.airtime_in_window(Instant(u64::MAX));
        // A forced over-budget transmission pushes the next one out beyond the hour.
        let mut dc: DutyCycle<2> = DutyCycle::new(DutyCycleLimit::PERCENT_1);
        dc.record(Instant(0), Duration(40_000));
        let next = dc.earliest_start(Instant(40_000), Duration(1)).unwrap();
        assert_eq!(next, Instant(40_000 + HOUR - 1));
        let zero: DutyCycle = DutyCycle::new(DutyCycleLimit::from_ppm(0));
        assert_eq!(zero.earliest_start(Instant(0), Duration(1)), None);
    }

    #[test]
    fn stats_count_delays() {
        let mut dc: DutyCycle = DutyCycle::new(DutyCycleLimit::PERCENT_1);
        dc.record_queued(Instant(0), Instant(0), Duration(100));
        dc.record_queued(Instant(100), Instant(350), Duration(100));
        dc.record_queued(Instant(500), Instant(600), Duration(100));
        let s = dc.stats();
        assert_eq!(s.frames, 3);
        assert_eq!(s.total_airtime, Duration(300));
        assert_eq!(s.delayed_frames, 2);
        assert_eq!(s.total_delay, Duration(350));
    }

    #[test]
    fn eu868_sub_bands_and_gaps() {
        use DutyCycleLimit as L;
        let cases = [
            // (centre, bandwidth, limit)
            (863_500_000, 125_000, L::PERMILLE_1),
            (866_000_000, 125_000, L::PERCENT_1),
            (868_100_000, 125_000, L::PERCENT_1),
            (868_300_000, 125_000, L::PERCENT_1),
            (868_500_000, 125_000, L::PERCENT_1),
            (868_950_000, 125_000, L::PERMILLE_1),
            (869_525_000, 125_000, L::PERCENT_10),
            (869_850_000, 125_000, L::PERCENT_1),
            // Straddling 865.0 MHz: the 0.1 % side wins.
            (865_000_000, 125_000, L::PERMILLE_1),
            // Straddling 868.0 MHz: 1 % on both sides.
            (868_000_000, 125_000, L::PERCENT_1),
            // The upper edge of g1 reaching into the 868.6-868.7 gap: 0.1 %.
            (868_550_000, 125_000, L::PERMILLE_1),
            // Gaps, as points: strictest neighbour.
            (868_650_000, 0, L::PERMILLE_1),
            (869_300_000, 0, L::PERMILLE_1),
            (869_675_000, 0, L::PERCENT_1),
            // g3 is exactly 250 kHz wide: a centred 250 kHz channel fits; shifted, it spills
            // into the gap above (1 %) or below (0.1 %).
            (869_525_000, 250_000, L::PERCENT_10),
            (869_550_000, 250_000, L::PERCENT_1),
            (869_500_000, 250_000, L::PERMILLE_1),
            // Pycom's EU868 default, 869 MHz at 500 kHz: g2 and a gap, 0.1 %.
            (869_000_000, 500_000, L::PERMILLE_1),
            // Outside the band, or reaching out of it: strictest.
            (862_000_000, 125_000, L::PERMILLE_1),
            (870_000_000, 125_000, L::PERMILLE_1),
            (869_937_500, 125_000, L::PERCENT_1),
            (0, u32::MAX, L::PERMILLE_1),
            (u32::MAX, u32::MAX, L::PERMILLE_1),
        ];
        for (center, bw, limit) in cases {
            assert_eq!(eu868_limit(center, bw), limit, "{center} Hz, {bw} Hz wide");
        }
        assert_eq!(eu868_sub_band(868_100_000).map(|b| b.name), Some("g1"));
        assert_eq!(eu868_sub_band(869_525_000).map(|b| b.name), Some("g3"));
        assert_eq!(eu868_sub_band(868_650_000), None);
        assert_eq!(eu868_sub_band(870_000_000), None);
        // The gaps and sub-bands tile 863-870 MHz exactly.
        let mut edges: Vec<(u32, u32)> = EU868_SUB_BANDS
            .iter()
            .chain(EU868_GAPS.iter())
            .map(|b| (b.low_hz, b.high_hz))
            .collect();
        edges.sort();
        assert_eq!(edges.first().map(|e| e.0), Some(EU868_LOW_HZ));
        assert_eq!(edges.last().map(|e| e.1), Some(EU868_HIGH_HZ));
        for pair in edges.windows(2) {
            assert_eq!(pair[0].1, pair[1].0);
        }
    }

    #[test]
    fn budgets_and_regions() {
        assert_eq!(DutyCycleLimit::PERCENT_1.budget(), Duration(36_000));
        assert_eq!(DutyCycleLimit::PERMILLE_1.budget(), Duration(3_600));
        assert_eq!(DutyCycleLimit::PERCENT_10.budget(), Duration(360_000));
        assert_eq!(DutyCycleLimit::from_permille(10), DutyCycleLimit::PERCENT_1);
        assert_eq!(
            DutyCycleLimit::from_ppm(u32::MAX),
            DutyCycleLimit::UNLIMITED
        );
        assert_eq!(
            DutyCycleLimit::from_permille(u16::MAX),
            DutyCycleLimit::UNLIMITED
        );
        // The reference: 1 % is about 171 frames of 127 bytes at SF7/BW125.
        assert_eq!(
            DutyCycleLimit::PERCENT_1.budget().millis() / frame_127(),
            170
        );
        assert_eq!(
            DutyCycleLimit::PERCENT_1.budget().millis() * 1000 / 210_176,
            171
        );

        use DutyCycleRegion::*;
        let r = regional_limits(Eu868, 869_525_000, 125_000);
        assert_eq!(r.duty_cycle, DutyCycleLimit::PERCENT_10);
        assert_eq!(r.max_dwell_time, None);
        assert_eq!(
            regional_limits(Eu433, 433_175_000, 125_000).duty_cycle,
            DutyCycleLimit::PERCENT_1
        );
        for region in [Us915, Au915] {
            let r = regional_limits(region, 915_000_000, 125_000);
            assert!(r.duty_cycle.is_unlimited());
            assert!(r.allows_frame(Duration(400)));
            assert!(!r.allows_frame(Duration(401)));
        }
        assert_eq!(
            regional_limits(As923, 923_200_000, 125_000).duty_cycle,
            DutyCycleLimit::PERCENT_1
        );
        assert!(regional_limits(Cn470, 470_300_000, 125_000)
            .duty_cycle
            .is_unlimited());
        assert!(regional_limits(In865, 865_062_500, 125_000)
            .duty_cycle
            .is_unlimited());
        assert!(regional_limits(In865, 865_062_500, 125_000).allows_frame(Duration(u64::MAX)));
    }

    #[test]
    fn listen_before_talk() {
        let lbt = ListenBeforeTalk::PYCOM;
        let now = Instant(10_000);
        let a = Duration(211);
        assert_eq!(lbt.decide(now, -120, 0, a), LbtDecision::TransmitNow);
        assert_eq!(lbt.decide(now, -85, u32::MAX, a), LbtDecision::TransmitNow);
        // Busy: one airtime plus a share of 4 airtimes scaled by the random value.
        assert_eq!(
            lbt.decide(now, -84, 0, a),
            LbtDecision::BackOffUntil(Instant(10_211))
        );
        assert_eq!(
            lbt.decide(now, -30, u32::MAX, a),
            LbtDecision::BackOffUntil(Instant(10_000 + 211 + 844))
        );
        assert_eq!(
            lbt.decide(now, -30, 1 << 31, a),
            LbtDecision::BackOffUntil(Instant(10_000 + 211 + 422))
        );
        // Never an immediate retry, even for a zero airtime; no overflow at the extremes.
        assert_eq!(
            lbt.decide(now, i16::MAX, 0, Duration::ZERO),
            LbtDecision::BackOffUntil(Instant(10_001))
        );
        let far = ListenBeforeTalk {
            threshold_dbm: i16::MIN,
            backoff_airtimes: u8::MAX,
        };
        assert_eq!(
            far.decide(Instant(u64::MAX), 0, u32::MAX, Duration(u64::MAX)),
            LbtDecision::BackOffUntil(Instant(u64::MAX))
        );
        assert_eq!(ListenBeforeTalk::default(), lbt);
    }
}
