//! The LoRa channel model: what a receiver hears of a transmission.
//!
//! - Path loss: log-distance, `PL(d) = PL(1 m) + 10 n log10(d)`, with PL(1 m) = 40 dB
//!   (free space near 868 MHz: 31 dB, plus antenna and body losses) and n = 2.7 (suburban).
//! - Noise floor: -174 dBm/Hz + 10 log10(BW) + 6 dB receiver noise figure (SX127x).
//! - Demodulation: SNR at or above the spreading factor's floor (SX1276 datasheet table:
//!   SF7 -7.5 dB ... SF12 -20 dB).
//! - Collisions: frames on the same frequency, SF and bandwidth that overlap in time at a
//!   receiver destroy each other unless one is at least 6 dB stronger (capture effect).
//! - Half-duplex: a node hears nothing while it transmits.

use pymesh::radio::airtime::{time_on_air_us, LoRaModulation};
use pymesh::radio::LoRaConfig;

/// The physical parameters a transmission is sent with; receivers must match them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phy {
    pub frequency: u32,
    pub sf: u8,
    pub bandwidth_hz: u32,
    pub coding_rate: u8,
    pub preamble: u16,
    pub tx_power_dbm: i8,
    pub sync_word: u8,
}

impl Phy {
    pub fn from_config(c: &LoRaConfig) -> Self {
        Phy {
            frequency: c.frequency,
            sf: c.sf,
            bandwidth_hz: c.bandwidth.hz(),
            coding_rate: c.coding_rate as u8,
            preamble: c.preamble,
            tx_power_dbm: c.tx_power,
            sync_word: c.sync_word(),
        }
    }

    /// The modulation for airtime; parameters outside LoRa's range (only possible from a
    /// corrupt datagram) fall back to Pymesh's default.
    pub fn modulation(&self) -> LoRaModulation {
        LoRaModulation::from_raw(self.sf, self.bandwidth_hz, self.coding_rate)
            .unwrap_or(LoRaModulation::PYMESH_DEFAULT)
            .with_preamble_len(self.preamble)
    }

    /// Time on air of a `len`-byte packet, in microseconds.
    pub fn airtime_us(&self, len: usize) -> u64 {
        time_on_air_us(&self.modulation(), len)
    }

    /// Whether a receiver tuned to `self` demodulates a transmission sent with `tx`.
    pub fn hears(&self, tx: &Phy) -> bool {
        self.frequency == tx.frequency
            && self.sf == tx.sf
            && self.bandwidth_hz == tx.bandwidth_hz
            && self.sync_word == tx.sync_word
    }
}

/// Path loss at 1 m, dB.
pub const PATH_LOSS_1M_DB: f64 = 40.0;
/// Path-loss exponent.
pub const PATH_LOSS_EXPONENT: f64 = 2.7;
/// Receiver noise figure, dB.
pub const NOISE_FIGURE_DB: f64 = 6.0;
/// Capture threshold: the stronger of two overlapping frames survives with this margin.
pub const CAPTURE_THRESHOLD_DB: f64 = 6.0;

pub fn path_loss_db(distance_m: f64) -> f64 {
    PATH_LOSS_1M_DB + 10.0 * PATH_LOSS_EXPONENT * distance_m.max(1.0).log10()
}

pub fn noise_floor_dbm(bandwidth_hz: u32) -> f64 {
    -174.0 + 10.0 * (bandwidth_hz as f64).log10() + NOISE_FIGURE_DB
}

/// Lowest SNR at which the SX127x demodulates each spreading factor.
pub fn snr_floor_db(sf: u8) -> f64 {
    match sf {
        6 => -5.0,
        7 => -7.5,
        8 => -10.0,
        9 => -12.5,
        10 => -15.0,
        11 => -17.5,
        _ => -20.0,
    }
}

/// RSSI and SNR of a transmission at a receiver `distance_m` away.
pub fn link_budget(tx: &Phy, distance_m: f64) -> (f64, f64) {
    let rssi = tx.tx_power_dbm as f64 - path_loss_db(distance_m);
    (rssi, rssi - noise_floor_dbm(tx.bandwidth_hz))
}

/// Distance between two positions in metres.
pub fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// One transmission as a receiver perceives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Start and end on the receiver's clock, microseconds.
    pub start_us: u64,
    pub end_us: u64,
    pub phy: Phy,
    pub rssi_dbm: f64,
    pub snr_db: f64,
}

/// Why a frame was not received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Tuned to another frequency, spreading factor, bandwidth or sync word.
    NotTuned,
    /// Below the demodulation floor.
    TooWeak,
    /// Destroyed by an overlapping frame without enough capture margin.
    Collision,
    /// The receiver was transmitting.
    HalfDuplex,
    /// Random loss configured on the link.
    Random,
}

/// Decides the fate of `frame` at a receiver tuned to `rx_phy`, given the other arrivals that
/// overlap it and the receiver's own transmissions (start, end) in microseconds.
pub fn receive(
    rx_phy: &Phy,
    frame: &Arrival,
    others: &[Arrival],
    own_transmissions: &[(u64, u64)],
) -> Result<(), Loss> {
    if !rx_phy.hears(&frame.phy) {
        return Err(Loss::NotTuned);
    }
    if frame.snr_db < snr_floor_db(frame.phy.sf) {
        return Err(Loss::TooWeak);
    }
    if own_transmissions
        .iter()
        .any(|&(s, e)| s < frame.end_us && frame.start_us < e)
    {
        return Err(Loss::HalfDuplex);
    }
    let collides = others.iter().any(|o| {
        o.start_us < frame.end_us
            && frame.start_us < o.end_us
            && o.phy.frequency == frame.phy.frequency
            && o.phy.sf == frame.phy.sf
            && frame.rssi_dbm - o.rssi_dbm < CAPTURE_THRESHOLD_DB
    });
    if collides {
        return Err(Loss::Collision);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phy() -> Phy {
        Phy {
            frequency: 868_100_000,
            sf: 7,
            bandwidth_hz: 125_000,
            coding_rate: 1,
            preamble: 8,
            tx_power_dbm: 14,
            sync_word: 0x34,
        }
    }

    fn arrival(start: u64, end: u64, rssi: f64) -> Arrival {
        Arrival {
            start_us: start,
            end_us: end,
            phy: phy(),
            rssi_dbm: rssi,
            snr_db: rssi - noise_floor_dbm(125_000),
        }
    }

    #[test]
    fn range_ends_at_the_demodulation_floor() {
        let (_, near) = link_budget(&phy(), 100.0);
        assert!(near > 0.0);
        // 14 dBm, SF7 floor -7.5 dB over a -117 dBm noise floor: range a few km at n = 2.7.
        let (_, far) = link_budget(&phy(), 20_000.0);
        assert!(far < snr_floor_db(7));
        assert_eq!(
            receive(&phy(), &arrival(0, 10, -130.0), &[], &[]),
            Err(Loss::TooWeak)
        );
    }

    #[test]
    fn collisions_capture_and_half_duplex() {
        let f = arrival(100, 200, -80.0);
        assert_eq!(
            receive(&phy(), &f, &[arrival(150, 250, -82.0)], &[]),
            Err(Loss::Collision)
        );
        assert_eq!(
            receive(&phy(), &f, &[arrival(150, 250, -90.0)], &[]),
            Ok(()),
            "captured"
        );
        assert_eq!(
            receive(&phy(), &f, &[arrival(200, 300, -80.0)], &[]),
            Ok(()),
            "no overlap"
        );
        assert_eq!(
            receive(&phy(), &f, &[], &[(50, 120)]),
            Err(Loss::HalfDuplex)
        );
        let other_sf = Phy { sf: 9, ..phy() };
        assert_eq!(receive(&other_sf, &f, &[], &[]), Err(Loss::NotTuned));
    }
}
