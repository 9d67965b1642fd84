//! Everything that differs between the SX1276 and the SX1272, in one place.
//!
//! | what | SX1276 (datasheet rev. 4) | SX1272 (datasheet rev. 2) |
//! | --- | --- | --- |
//! | RegVersion (0x42) | 0x12 | 0x22 |
//! | reset pin (7.2.2) | NRESET, active low | RESET, active high |
//! | RegModemConfig1 (0x1D) | Bw 7-4 (7/8/9 = 125/250/500 kHz), CodingRate 3-1, ImplicitHeaderModeOn 0 | Bw 7-6 (0/1/2), CodingRate 5-3, ImplicitHeaderModeOn 2, RxPayloadCrcOn 1, LowDataRateOptimize 0 |
//! | RegModemConfig2 (0x1E) | SpreadingFactor 7-4, TxContinuousMode 3, RxPayloadCrcOn 2, SymbTimeout(9:8) 1-0 | SpreadingFactor 7-4, TxContinuousMode 3, AgcAutoOn 2, SymbTimeout(9:8) 1-0 |
//! | RegModemConfig3 (0x26) | LowDataRateOptimize 3, AgcAutoOn 2 | reserved |
//! | RegPaConfig (0x09) | PaSelect 7, MaxPower 6-4, OutputPower 3-0: RFO Pout = 10.8 + 0.6 MaxPower - (15 - OutputPower), PA_BOOST Pout = 2 + OutputPower | PaSelect 7, OutputPower 3-0: RFO Pout = -1 + OutputPower, PA_BOOST Pout = 2 + OutputPower |
//! | RegPaDac (+20 dBm, 5.4.3 / 5.4.3) | 0x4D | 0x5A |
//! | RSSI offset (5.5.5) | -157 dBm HF port, -164 dBm LF port | -139 dBm |
//! | RegOpMode bit 3 | LowFrequencyModeOn | reserved (0) |
//!
//! This is also why the `sx127x_lora` crate cannot drive the SX1272: it hard-codes the SX1276
//! layout of RegModemConfig1/2/3 and rejects any RegVersion but 0x12.

use super::registers::*;
use crate::radio::airtime::CodingRate;
use crate::radio::region::Bandwidth;

/// Which Semtech chip is on the board: the SX1276 (LoPy4 and most LoRa boards) or the SX1272
/// (the FiPy's and the original LoPy's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chip {
    Sx1276,
    Sx1272,
}

/// Which power amplifier output the board routes to the antenna: a property of the board, not
/// of the configuration (the wrong one transmits almost nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaPin {
    /// RFO pin: up to +14 dBm.
    Rfo,
    /// PA_BOOST pin: +2 to +17 dBm, +20 dBm with the high-power DAC.
    PaBoost,
}

/// Below this carrier frequency the SX1276 uses its low-frequency (LF) RF port (bands 2 and 3,
/// 137..525 MHz); LoRaMac-node's RF_MID_BAND_THRESH.
pub const SX1276_LF_BAND_MAX_HZ: u32 = 525_000_000;

/// The PA registers for one output power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaSetting {
    pub pa_config: u8,
    pub pa_dac: u8,
    pub ocp: u8,
}

impl Chip {
    /// RegVersion's value on this chip.
    pub const fn version(self) -> u8 {
        match self {
            Chip::Sx1276 => 0x12,
            Chip::Sx1272 => 0x22,
        }
    }

    /// The level of the reset pin that holds the chip in reset (`true` = high).
    pub const fn reset_active_high(self) -> bool {
        matches!(self, Chip::Sx1272)
    }

    /// Address of RegPaDac.
    pub const fn reg_pa_dac(self) -> u8 {
        match self {
            Chip::Sx1276 => 0x4D,
            Chip::Sx1272 => 0x5A,
        }
    }

    /// RegOpMode bits other than LongRangeMode and Mode for a carrier frequency: the SX1276's
    /// LowFrequencyModeOn follows the RF port in use; the SX1272 has no such bit.
    pub const fn op_mode_extra(self, frequency_hz: u32) -> u8 {
        match self {
            Chip::Sx1276 if frequency_hz < SX1276_LF_BAND_MAX_HZ => OP_MODE_LOW_FREQUENCY,
            _ => 0,
        }
    }

    /// RSSI offset in dBm (datasheet 5.5.5): `RSSI = offset + RegRssiValue`.
    pub const fn rssi_offset(self, frequency_hz: u32) -> i16 {
        match self {
            Chip::Sx1276 if frequency_hz < SX1276_LF_BAND_MAX_HZ => -164,
            Chip::Sx1276 => -157,
            Chip::Sx1272 => -139,
        }
    }

    /// Packet RSSI in dBm from RegPktRssiValue and RegPktSnrValue (datasheet 5.5.5):
    /// `offset + PacketRssi`, plus `PacketSnr / 4` when the SNR is negative (the packet is
    /// below the noise floor, so the RSSI register measures mostly noise).
    pub const fn packet_rssi(self, frequency_hz: u32, pkt_rssi: u8, pkt_snr: u8) -> i16 {
        let base = self.rssi_offset(frequency_hz) + pkt_rssi as i16;
        if (pkt_snr as i8) < 0 {
            base + snr_db(pkt_snr) as i16
        } else {
            base
        }
    }

    /// RegModemConfig1, RegModemConfig2 and (SX1276 only) RegModemConfig3.
    /// AgcAutoOn is set on both chips: the LNA gain then follows the signal.
    pub const fn modem_config(
        self,
        bandwidth: Bandwidth,
        coding_rate: CodingRate,
        sf: u8,
        implicit_header: bool,
        crc_on: bool,
        low_data_rate_optimize: bool,
    ) -> (u8, u8, Option<u8>) {
        let cr = coding_rate.cr(); // 1..=4
        let sf = (sf & 0x0F) << 4;
        match self {
            Chip::Sx1276 => {
                let bw: u8 = match bandwidth {
                    Bandwidth::Khz125 => 7,
                    Bandwidth::Khz250 => 8,
                    Bandwidth::Khz500 => 9,
                };
                let c1 = (bw << 4) | (cr << 1) | implicit_header as u8;
                let c2 = sf | ((crc_on as u8) << 2);
                let c3 = ((low_data_rate_optimize as u8) << 3) | 0x04;
                (c1, c2, Some(c3))
            }
            Chip::Sx1272 => {
                let bw: u8 = match bandwidth {
                    Bandwidth::Khz125 => 0,
                    Bandwidth::Khz250 => 1,
                    Bandwidth::Khz500 => 2,
                };
                let c1 = (bw << 6)
                    | (cr << 3)
                    | ((implicit_header as u8) << 2)
                    | ((crc_on as u8) << 1)
                    | low_data_rate_optimize as u8;
                let c2 = sf | 0x04;
                (c1, c2, None)
            }
        }
    }

    /// The PA registers for `dbm` on `pin`, clamped to what the pin can deliver
    /// (RFO: SX1276 0..14 dBm, SX1272 -1..14 dBm; PA_BOOST: 2..20 dBm on both).
    pub const fn pa_setting(self, pin: PaPin, dbm: i8) -> PaSetting {
        match pin {
            PaPin::Rfo => match self {
                // MaxPower = 7: Pmax = 10.8 + 0.6 * 7 = 15 dBm, so Pout = OutputPower.
                Chip::Sx1276 => normal(0x70 | clamp(dbm, 0, 14) as u8),
                // Pout = -1 + OutputPower.
                Chip::Sx1272 => normal((clamp(dbm, -1, 14) + 1) as u8),
            },
            PaPin::PaBoost => {
                // MaxPower is not used on PA_BOOST; the SX1276 keeps it at 7 as LoRaMac-node does,
                // the SX1272 has no such field.
                let max_power = match self {
                    Chip::Sx1276 => 0x70,
                    Chip::Sx1272 => 0x00,
                };
                let p = clamp(dbm, 2, 20);
                if p > 17 {
                    // High-power DAC: Pout = 5 + OutputPower, 18..20 dBm; raise the current limit.
                    PaSetting {
                        pa_config: PA_SELECT_BOOST | max_power | (p - 5) as u8,
                        pa_dac: PA_DAC_20DBM,
                        ocp: OCP_140_MA,
                    }
                } else {
                    normal(PA_SELECT_BOOST | max_power | (p - 2) as u8)
                }
            }
        }
    }
}

/// SNR in dB from RegPktSnrValue (two's complement, quarter dB), rounded to the nearest dB.
pub const fn snr_db(pkt_snr: u8) -> i8 {
    // Arithmetic shift floors; adding 2 quarter-dB first rounds half up.
    ((pkt_snr as i8 as i16 + 2) >> 2) as i8
}

/// A setting without the high-power DAC, at the reset current limit.
const fn normal(pa_config: u8) -> PaSetting {
    PaSetting {
        pa_config,
        pa_dac: PA_DAC_DEFAULT,
        ocp: OCP_100_MA,
    }
}

const fn clamp(v: i8, lo: i8, hi: i8) -> i8 {
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snr_rounds_quarter_db_to_nearest() {
        assert_eq!(snr_db(28), 7);
        assert_eq!(snr_db(30), 8); // 7.5 rounds up
        assert_eq!(snr_db(29), 7); // 7.25
        assert_eq!((-20i8) as u8, 0xEC);
        assert_eq!(snr_db(0xEC), -5);
        assert_eq!(snr_db((-21i8) as u8), -5); // -5.25
        assert_eq!(snr_db(0x80), -32);
    }

    #[test]
    fn packet_rssi_adds_negative_snr_only() {
        assert_eq!(Chip::Sx1276.packet_rssi(868_000_000, 67, 40), -90);
        assert_eq!(Chip::Sx1276.packet_rssi(433_175_000, 67, 40), -97);
        assert_eq!(
            Chip::Sx1276.packet_rssi(868_000_000, 52, (-20i8) as u8),
            -110
        );
        assert_eq!(Chip::Sx1272.packet_rssi(868_000_000, 49, 40), -90);
    }

    #[test]
    fn pa_settings_follow_the_datasheet_formulas() {
        let s = Chip::Sx1276.pa_setting(PaPin::PaBoost, 14);
        assert_eq!((s.pa_config, s.pa_dac), (0xFC, 0x84));
        let s = Chip::Sx1276.pa_setting(PaPin::PaBoost, 20);
        assert_eq!((s.pa_config, s.pa_dac, s.ocp), (0xFF, 0x87, 0x31));
        let s = Chip::Sx1272.pa_setting(PaPin::Rfo, 14);
        assert_eq!(s.pa_config, 0x0F);
        let s = Chip::Sx1272.pa_setting(PaPin::PaBoost, 30);
        assert_eq!((s.pa_config, s.pa_dac), (0x8F, 0x87));
        let s = Chip::Sx1276.pa_setting(PaPin::Rfo, 20);
        assert_eq!(s.pa_config, 0x7E);
    }
}
