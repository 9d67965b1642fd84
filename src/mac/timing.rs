//! The MAC's LoRa arithmetic: how long to wait for an acknowledgment, the link margin Thread's
//! link quality comes from, and which duty-cycle region a LoRa region falls under.
//!
//! Acknowledgment timing. An 802.15.4 radio answers within 12 symbols (192 us) and OpenThread
//! waits for the ack a few hundred microseconds; Pycom's Pymesh waited a flat 2000 ms on LoRa.
//! Here the wait follows the airtime of the configured modulation:
//!
//! ```text
//! sender:    |== data frame ==| TxDone ......................... ack timeout expires
//!                             |<------------ ack_timeout --------------------->|
//! receiver:                   | Received --ACK_TURNAROUND--> |= ack (3 B) =| ... ACK_WAIT_MARGIN
//!
//! ack_timeout = ACK_TURNAROUND + time_on_air(3 bytes) + ACK_WAIT_MARGIN
//! ```
//!
//! The clock starts at the sender's `TxDone`, which is also when the receiver's `Received`
//! arrives (the same end of the same packet). The turnaround gives the sender's radio time to
//! return to receive; the margin absorbs poll latency and the receiver's decryption. With an
//! 8-symbol preamble and CR 4/5, a 3-byte ack takes 31 ms at SF7/BW125 (wait 101 ms) and 828 ms
//! at SF12/BW125 (wait 898 ms).

use crate::radio::airtime::LoRaModulation;
use crate::radio::duty_cycle::DutyCycleRegion;
use crate::radio::region::Region;
use crate::time::Duration;

/// Length of an immediate acknowledgment: frame control (2) + sequence number (1), no FCS.
pub const ACK_FRAME_LEN: usize = 3;

/// Delay between the end of a received ack-requested frame and the start of its ack: time for
/// the sender's radio to switch from transmit to receive after its `TxDone`.
pub const ACK_TURNAROUND: Duration = Duration::from_millis(20);

/// Slack on top of turnaround and ack airtime: poll latency of both nodes and the receiver's
/// frame processing (CCM* of a 125-byte frame is well under a millisecond on a Cortex-M).
pub const ACK_WAIT_MARGIN: Duration = Duration::from_millis(50);

/// How long a sender waits, from its `TxDone`, for the ack of a frame (see the module docs).
pub fn ack_timeout(modulation: &LoRaModulation) -> Duration {
    ACK_TURNAROUND + modulation.time_on_air(ACK_FRAME_LEN) + ACK_WAIT_MARGIN
}

/// Demodulation SNR floor of a spreading factor in half dB (SX127x datasheets: SF7 -7.5 dB,
/// SF8 -10, SF9 -12.5, SF10 -15, SF11 -17.5, SF12 -20). Out-of-range factors take SF12's.
pub const fn snr_floor_half_db(sf: u8) -> i16 {
    match sf {
        ..=7 => -15,
        8 => -20,
        9 => -25,
        10 => -30,
        11 => -35,
        _ => -40,
    }
}

/// Link margin for Thread's link quality: the SNR above the spreading factor's demodulation
/// floor, in whole dB rounded down, clamped at 0 (an 802.15.4 radio uses RSS minus noise floor;
/// on LoRa packets are decoded below the noise, so the SNR floor is the meaningful zero).
pub fn link_margin_db(snr_db: i8, sf: u8) -> u8 {
    let half = 2 * snr_db as i16 - snr_floor_half_db(sf);
    if half <= 0 {
        0
    } else {
        (half / 2).min(u8::MAX as i16) as u8
    }
}

/// The duty-cycle rules that apply to a LoRa region.
pub const fn duty_cycle_region(region: Region) -> DutyCycleRegion {
    match region {
        Region::As923 => DutyCycleRegion::As923,
        Region::Au915 => DutyCycleRegion::Au915,
        Region::Cn470 => DutyCycleRegion::Cn470,
        Region::Eu433 => DutyCycleRegion::Eu433,
        Region::Eu868 => DutyCycleRegion::Eu868,
        Region::In865 => DutyCycleRegion::In865,
        Region::Us915 => DutyCycleRegion::Us915,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::airtime::LoRaModulation;

    #[test]
    fn link_margin_is_snr_above_the_sf_floor() {
        // SF7 floor -7.5 dB: SNR -7 dB is 0.5 dB above, rounded down to 0.
        assert_eq!(link_margin_db(-7, 7), 0);
        assert_eq!(link_margin_db(-8, 7), 0);
        assert_eq!(link_margin_db(-6, 7), 1);
        assert_eq!(link_margin_db(10, 7), 17);
        // SF12 floor -20 dB.
        assert_eq!(link_margin_db(-20, 12), 0);
        assert_eq!(link_margin_db(0, 12), 20);
        assert_eq!(link_margin_db(-5, 9), 7);
        assert_eq!(link_margin_db(i8::MIN, 12), 0);
        assert_eq!(link_margin_db(i8::MAX, 12), 147);
    }

    #[test]
    fn ack_timeout_follows_the_ack_airtime() {
        let sf7 = LoRaModulation::PYMESH_DEFAULT;
        let t7 = ack_timeout(&sf7);
        assert_eq!(
            t7,
            ACK_TURNAROUND + sf7.time_on_air(ACK_FRAME_LEN) + ACK_WAIT_MARGIN
        );
        // Far below Pycom's 2000 ms at SF7, still above the ack's own airtime at SF12.
        assert!(t7.millis() < 200, "{t7:?}");
        let sf12 = LoRaModulation::from_raw(12, 125_000, 1).unwrap();
        assert!(ack_timeout(&sf12) > sf12.time_on_air(ACK_FRAME_LEN));
        assert!(ack_timeout(&sf12) > t7);
    }
}
