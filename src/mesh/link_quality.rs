//! Link quality of one neighbour, as OpenThread's `link_quality.cpp` keeps it.
//!
//! The module owns: the running averages of link margin and RSSI (OpenThread's `RssAverager`:
//! arithmetic mean over the first 8 samples, then an exponential average with weight 1/8), the link quality 0..3 derived from the averaged link margin with 2 dB
//! hysteresis, and the link quality → link cost table that route costs are made of.
//!
//! On 802.15.4 OpenThread's link margin is RSS minus the noise floor. On LoRa it is the SNR
//! minus the spreading factor's demodulation floor (`thread-over-lora.md`); the MAC computes it
//! and hands it in as `link_margin_db`, so this module never sees the radio.

/// Largest route cost; a path or link with this cost is unusable (OpenThread's
/// `kMaxRouteCost`).
pub const MAX_ROUTE_COST: u8 = 16;

/// Link margin thresholds (dB) for link quality 1, 2, 3: quality n needs a margin above
/// `LINK_QUALITY_THRESHOLDS[n - 1]`.
pub const LINK_QUALITY_THRESHOLDS: [u8; 3] = [2, 10, 20];

/// Extra margin (dB) needed to climb above the current link quality, so that a margin hovering
/// at a threshold does not flip the quality (and the route costs) at every frame.
pub const HYSTERESIS_DB: u8 = 2;

/// Cost of one link of quality `link_quality` (3→1, 2→2, 1→4, 0 or anything else→16).
pub const fn link_cost(link_quality: u8) -> u8 {
    match link_quality {
        3 => 1,
        2 => 2,
        1 => 4,
        _ => MAX_ROUTE_COST,
    }
}

/// Link quality for a link margin. `last` is the current quality (thresholds above it are
/// raised by [`HYSTERESIS_DB`]), `None` when there is no previous value (OpenThread's
/// `kNoLinkQuality`: plain thresholds, as used for a Link Margin TLV).
pub const fn link_quality_for_margin(margin_db: u8, last: Option<u8>) -> u8 {
    let [mut t1, mut t2, mut t3] = LINK_QUALITY_THRESHOLDS;
    // Falls through like OpenThread's switch: from quality 0 every higher threshold is raised.
    if let Some(last) = last {
        if last == 0 {
            t1 += HYSTERESIS_DB;
        }
        if last <= 1 {
            t2 += HYSTERESIS_DB;
        }
        if last <= 2 {
            t3 += HYSTERESIS_DB;
        }
    }
    if margin_db > t3 {
        3
    } else if margin_db > t2 {
        2
    } else if margin_db > t1 {
        1
    } else {
        0
    }
}

/// OpenThread's `RssAverager` on a non-negative magnitude: arithmetic mean of the first 8
/// samples, then weight 1/8 per sample.
///
/// Kept in 1/64 units with rounded division where OpenThread keeps 1/8 and truncates: with
/// 1/8 and truncation the average of a constant 21 dB stays at 20.1 dB for ever, one link
/// quality too low at a threshold; here it settles within 1/16 dB of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Averager {
    average_64ths: u32,
    count: u8,
}

impl Averager {
    const MAX_COUNT: u8 = 8;

    fn add(&mut self, magnitude: u8) {
        let value = u32::from(magnitude) << 6;
        if self.count < Self::MAX_COUNT {
            self.count += 1;
        }
        let n = u32::from(self.count);
        self.average_64ths = (self.average_64ths * (n - 1) + value + n / 2) / n;
    }

    fn average_eighths(&self) -> Option<u16> {
        // At most 255 * 8: fits.
        (self.count != 0).then_some(((self.average_64ths + 4) >> 3) as u16)
    }

    /// Average rounded to the nearest whole unit, halves away from zero (OpenThread rounds
    /// -71.5 dBm to -72).
    fn rounded(&self) -> Option<u16> {
        (self.count != 0).then_some(((self.average_64ths + 32) >> 6) as u16)
    }
}

/// What a node knows about the link from one neighbour to itself (the "in" direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkQualityInfo {
    margin: Averager,
    /// Magnitude of the (non-positive) RSSI.
    rss: Averager,
    last_rssi: Option<i16>,
    link_quality: u8,
}

impl LinkQualityInfo {
    pub const fn new() -> Self {
        LinkQualityInfo {
            margin: Averager {
                average_64ths: 0,
                count: 0,
            },
            rss: Averager {
                average_64ths: 0,
                count: 0,
            },
            last_rssi: None,
            link_quality: 0,
        }
    }

    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Adds one received frame: its RSSI (dBm) and its link margin (dB, SNR minus the SF's
    /// demodulation floor on LoRa). Negative margins count as 0 and margins above 255 dB as
    /// 255, RSSI is clamped to -128..=0 dBm as OpenThread does.
    pub fn add_sample(&mut self, rssi_dbm: i16, link_margin_db: i16) {
        let had_average = self.margin.average_eighths().is_some();
        self.last_rssi = Some(rssi_dbm.clamp(-128, 0));
        self.rss.add(rssi_dbm.clamp(-128, 0).unsigned_abs() as u8);
        self.margin.add(link_margin_db.clamp(0, 255) as u8);
        let last = if had_average {
            Some(self.link_quality)
        } else {
            None
        };
        self.link_quality = link_quality_for_margin(self.link_margin(), last);
    }

    /// True once a frame has been added.
    pub fn has_samples(&self) -> bool {
        self.margin.average_eighths().is_some()
    }

    /// Averaged link margin in whole dB (0 without samples, as OpenThread reports an unknown
    /// margin).
    pub fn link_margin(&self) -> u8 {
        match self.margin.rounded() {
            Some(m) => m.min(255) as u8,
            None => 0,
        }
    }

    /// Averaged link margin in 1/8 dB.
    pub fn link_margin_eighths(&self) -> Option<u16> {
        self.margin.average_eighths()
    }

    /// Link quality in, 0..=3.
    pub fn link_quality(&self) -> u8 {
        self.link_quality
    }

    /// Average RSSI in whole dBm (`Avg RSSI` of OpenThread's `neighbor table`).
    pub fn average_rssi(&self) -> Option<i16> {
        self.rss.rounded().map(|m| -(m as i16))
    }

    /// RSSI of the last frame (`Last RSSI`).
    pub fn last_rssi(&self) -> Option<i16> {
        self.last_rssi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_cost_table() {
        assert_eq!([0u8, 1, 2, 3, 4, 255].map(link_cost), [16, 4, 2, 1, 16, 16]);
    }

    #[test]
    fn thresholds_without_history() {
        let cases = [
            (0, 0),
            (2, 0),
            (3, 1),
            (10, 1),
            (11, 2),
            (20, 2),
            (21, 3),
            (80, 3),
        ];
        for (margin, lq) in cases {
            assert_eq!(link_quality_for_margin(margin, None), lq, "margin {margin}");
        }
    }

    #[test]
    fn hysteresis_raises_only_thresholds_above_the_current_quality() {
        // Climbing needs 2 dB more than the plain threshold.
        assert_eq!(link_quality_for_margin(21, Some(2)), 2);
        assert_eq!(link_quality_for_margin(22, Some(2)), 2);
        assert_eq!(link_quality_for_margin(23, Some(2)), 3);
        assert_eq!(link_quality_for_margin(4, Some(0)), 0);
        assert_eq!(link_quality_for_margin(5, Some(0)), 1);
        // From 0 every threshold is raised: 13 dB is 2 only if the climb clears 12.
        assert_eq!(link_quality_for_margin(12, Some(0)), 1);
        assert_eq!(link_quality_for_margin(13, Some(0)), 2);
        // Falling happens at the plain threshold.
        assert_eq!(link_quality_for_margin(21, Some(3)), 3);
        assert_eq!(link_quality_for_margin(20, Some(3)), 2);
        assert_eq!(link_quality_for_margin(11, Some(2)), 2);
        assert_eq!(link_quality_for_margin(10, Some(2)), 1);
    }

    #[test]
    fn first_sample_sets_quality_without_hysteresis() {
        let mut l = LinkQualityInfo::new();
        assert!(!l.has_samples());
        assert_eq!((l.link_margin(), l.link_quality()), (0, 0));
        assert_eq!(l.average_rssi(), None);
        l.add_sample(-90, 21);
        assert_eq!((l.link_margin(), l.link_quality()), (21, 3));
        assert_eq!((l.average_rssi(), l.last_rssi()), (Some(-90), Some(-90)));
    }

    #[test]
    fn average_is_mean_of_first_eight_then_exponential() {
        let mut l = LinkQualityInfo::new();
        l.add_sample(-80, 30);
        l.add_sample(-90, 10);
        // Mean of 30 and 10.
        assert_eq!(l.link_margin_eighths(), Some(20 * 8));
        assert_eq!(l.average_rssi(), Some(-85));
        assert_eq!(l.last_rssi(), Some(-90));
        for _ in 0..6 {
            l.add_sample(-85, 20);
        }
        assert_eq!(l.link_margin_eighths(), Some(160));
        // Ninth and later samples weigh 1/8: (160 * 7 + 0) / 8 = 140.
        l.add_sample(-85, 0);
        assert_eq!(l.link_margin_eighths(), Some(140));
        // 17.5 dB rounds to 18.
        assert_eq!(l.link_margin(), 18);
    }

    #[test]
    fn quality_follows_average_with_hysteresis() {
        let mut l = LinkQualityInfo::new();
        l.add_sample(-60, 15);
        assert_eq!(l.link_quality(), 2);
        // The average creeps to 21 dB: not enough to climb past 20 + 2.
        for _ in 0..40 {
            l.add_sample(-60, 21);
        }
        assert_eq!((l.link_margin(), l.link_quality()), (21, 2));
        for _ in 0..40 {
            l.add_sample(-60, 23);
        }
        assert_eq!((l.link_margin(), l.link_quality()), (23, 3));
        // Back to 21: stays 3 until the margin is 20 or less.
        for _ in 0..40 {
            l.add_sample(-60, 21);
        }
        assert_eq!(l.link_quality(), 3);
        for _ in 0..40 {
            l.add_sample(-60, 20);
        }
        assert_eq!(l.link_quality(), 2);
    }

    #[test]
    fn out_of_range_inputs_are_clamped() {
        let mut l = LinkQualityInfo::new();
        l.add_sample(5, -12);
        assert_eq!((l.link_margin(), l.link_quality()), (0, 0));
        assert_eq!(l.average_rssi(), Some(0));
        l.clear();
        for _ in 0..20 {
            l.add_sample(i16::MIN, i16::MAX);
        }
        assert_eq!(l.link_margin(), 255);
        assert_eq!(l.average_rssi(), Some(-128));
        assert_eq!(l.last_rssi(), Some(-128));
    }
}
