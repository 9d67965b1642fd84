//! Time on air of a LoRa packet, per Semtech AN1200.13 ("LoRa Modem Designer's Guide") and the
//! SX1272/SX1276 datasheets.
//!
//! This module owns the LoRa modulation parameters that decide how long a packet occupies the
//! channel ([`LoRaModulation`]) and the arithmetic that turns them into a symbol time and a time
//! on air. Everything is integer arithmetic and exact: every LoRa bandwidth is 500 kHz divided by
//! an integer, so the symbol time `2^SF / BW` is a whole number of microseconds, and the
//! preamble's quarter symbol (`Npre + 4.25`) divides it evenly because `2^SF >= 64`.
//!
//! ```text
//! Tsym     = 2^SF / BW
//! Tpreamble = (Npreamble + 4.25) Tsym
//! Npayload = 8 + max(ceil((8 PL - 4 SF + 28 + 16 CRC - 20 IH) / (4 (SF - 2 DE))) (CR + 4), 0)
//! Tpacket  = Tpreamble + Npayload Tsym
//! ```
//!
//! `IH` is 1 for implicit header mode, `DE` 1 when low-data-rate optimisation is on, `CR` 1..4
//! for coding rates 4/5..4/8.

use crate::time::Duration;

/// Largest payload an SX127x can send in one LoRa packet (its FIFO is 256 bytes, the payload
/// length register 8 bits).
pub const MAX_PAYLOAD_LEN: usize = 255;

/// Semtech mandates low-data-rate optimisation when a symbol lasts longer than this.
pub const LOW_DATA_RATE_SYMBOL_TIME_US: u64 = 16_000;

/// LoRa spreading factor: each symbol carries SF bits and lasts `2^SF` chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SpreadingFactor {
    /// SF6: SX127x support it in implicit header mode only.
    Sf6 = 6,
    Sf7 = 7,
    Sf8 = 8,
    Sf9 = 9,
    Sf10 = 10,
    Sf11 = 11,
    Sf12 = 12,
}

impl SpreadingFactor {
    /// The spreading factor for `sf` in 6..=12, `None` otherwise.
    pub const fn from_u8(sf: u8) -> Option<Self> {
        match sf {
            6 => Some(Self::Sf6),
            7 => Some(Self::Sf7),
            8 => Some(Self::Sf8),
            9 => Some(Self::Sf9),
            10 => Some(Self::Sf10),
            11 => Some(Self::Sf11),
            12 => Some(Self::Sf12),
            _ => None,
        }
    }

    /// The numeric spreading factor, 6..=12.
    pub const fn value(self) -> u8 {
        self as u8
    }
}

/// LoRa signal bandwidth, as the SX127x `RegModemConfig1` offers it.
///
/// The sub-125 kHz bandwidths are not round numbers: each is 500 kHz divided by an integer
/// (7.8 kHz is 7812.5 Hz), which is what keeps the airtime arithmetic exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bandwidth {
    /// 7.8 kHz (500 kHz / 64).
    Khz7_8,
    /// 10.4 kHz (500 kHz / 48).
    Khz10_4,
    /// 15.6 kHz (500 kHz / 32).
    Khz15_6,
    /// 20.8 kHz (500 kHz / 24).
    Khz20_8,
    /// 31.25 kHz (500 kHz / 16).
    Khz31_25,
    /// 41.7 kHz (500 kHz / 12).
    Khz41_7,
    /// 62.5 kHz (500 kHz / 8).
    Khz62_5,
    Khz125,
    Khz250,
    Khz500,
}

impl Bandwidth {
    const ALL: [Bandwidth; 10] = [
        Bandwidth::Khz7_8,
        Bandwidth::Khz10_4,
        Bandwidth::Khz15_6,
        Bandwidth::Khz20_8,
        Bandwidth::Khz31_25,
        Bandwidth::Khz41_7,
        Bandwidth::Khz62_5,
        Bandwidth::Khz125,
        Bandwidth::Khz250,
        Bandwidth::Khz500,
    ];

    /// 500 kHz divided by this bandwidth.
    const fn divisor_of_500khz(self) -> u64 {
        match self {
            Bandwidth::Khz7_8 => 64,
            Bandwidth::Khz10_4 => 48,
            Bandwidth::Khz15_6 => 32,
            Bandwidth::Khz20_8 => 24,
            Bandwidth::Khz31_25 => 16,
            Bandwidth::Khz41_7 => 12,
            Bandwidth::Khz62_5 => 8,
            Bandwidth::Khz125 => 4,
            Bandwidth::Khz250 => 2,
            Bandwidth::Khz500 => 1,
        }
    }

    /// The bandwidth in hertz, rounded down (7.8 kHz is 7812 Hz).
    pub const fn hz(self) -> u32 {
        // The divisor is at most 64, so the cast cannot truncate.
        500_000 / self.divisor_of_500khz() as u32
    }

    /// The bandwidth closest to `hz`, accepting either the exact value (7812) or the rounded
    /// one datasheets and drivers write (7800): anything within 1 % of a LoRa bandwidth.
    pub const fn from_hz(hz: u32) -> Option<Self> {
        let mut i = 0;
        while i < Self::ALL.len() {
            let bw = Self::ALL[i];
            // |hz - 500 kHz / d| <= 1 % of 500 kHz / d, multiplied through by d * 100.
            let scaled = hz as u64 * bw.divisor_of_500khz();
            let diff = scaled.abs_diff(500_000);
            if diff * 100 <= 500_000 {
                return Some(bw);
            }
            i += 1;
        }
        None
    }
}

/// Forward error correction coding rate, numbered as Semtech's `CR` (1..4 for 4/5..4/8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum CodingRate {
    Cr4_5 = 1,
    Cr4_6 = 2,
    Cr4_7 = 3,
    Cr4_8 = 4,
}

impl CodingRate {
    /// The coding rate for Semtech's `CR` value 1..=4, `None` otherwise.
    pub const fn from_cr(cr: u8) -> Option<Self> {
        match cr {
            1 => Some(Self::Cr4_5),
            2 => Some(Self::Cr4_6),
            3 => Some(Self::Cr4_7),
            4 => Some(Self::Cr4_8),
            _ => None,
        }
    }

    /// Semtech's `CR`, 1..=4.
    pub const fn cr(self) -> u8 {
        self as u8
    }

    /// Coded bits per 4 data bits: 5..=8.
    pub const fn denominator(self) -> u8 {
        self as u8 + 4
    }
}

/// A combination the SX127x cannot transmit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModulationError {
    /// SF6 works in implicit header mode only (SX1276 datasheet, 4.1.1.2).
    Sf6RequiresImplicitHeader,
    /// The preamble register accepts 6..=65535 symbols.
    PreambleTooShort,
}

/// The LoRa parameters that determine a packet's time on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoRaModulation {
    pub spreading_factor: SpreadingFactor,
    pub bandwidth: Bandwidth,
    pub coding_rate: CodingRate,
    /// Programmed preamble length in symbols; the modem adds 4.25 symbols of sync word and
    /// start-of-frame delimiter.
    pub preamble_len: u16,
    /// Explicit header mode: the packet carries a PHY header with length, coding rate and CRC
    /// presence.
    pub explicit_header: bool,
    /// Payload CRC (16 bits) present.
    pub crc_on: bool,
    /// Low-data-rate optimisation: `None` lets it follow Semtech's rule (on when a symbol lasts
    /// longer than 16 ms), `Some` forces it.
    pub low_data_rate_optimize: Option<bool>,
}

impl Default for LoRaModulation {
    fn default() -> Self {
        Self::PYMESH_DEFAULT
    }
}

impl LoRaModulation {
    /// Pymesh's LoRa defaults: SF7, BW 125 kHz, CR 4/5, 8-symbol preamble, explicit header,
    /// CRC on, low-data-rate optimisation automatic.
    pub const PYMESH_DEFAULT: LoRaModulation =
        LoRaModulation::new(SpreadingFactor::Sf7, Bandwidth::Khz125, CodingRate::Cr4_5);

    /// A modulation with the Pymesh defaults for everything but SF, bandwidth and coding rate.
    /// SF6 gets implicit header mode, the only one the SX127x supports at SF6.
    pub const fn new(
        spreading_factor: SpreadingFactor,
        bandwidth: Bandwidth,
        coding_rate: CodingRate,
    ) -> Self {
        LoRaModulation {
            spreading_factor,
            bandwidth,
            coding_rate,
            preamble_len: 8,
            explicit_header: !matches!(spreading_factor, SpreadingFactor::Sf6),
            crc_on: true,
            low_data_rate_optimize: None,
        }
    }

    /// Like [`LoRaModulation::new`] from raw numbers: SF 6..=12, bandwidth in Hz (see
    /// [`Bandwidth::from_hz`]), coding rate 1..=4 for 4/5..4/8.
    pub const fn from_raw(sf: u8, bandwidth_hz: u32, coding_rate: u8) -> Option<Self> {
        let (Some(sf), Some(bw), Some(cr)) = (
            SpreadingFactor::from_u8(sf),
            Bandwidth::from_hz(bandwidth_hz),
            CodingRate::from_cr(coding_rate),
        ) else {
            return None;
        };
        Some(Self::new(sf, bw, cr))
    }

    pub const fn with_preamble_len(mut self, preamble_len: u16) -> Self {
        self.preamble_len = preamble_len;
        self
    }

    pub const fn with_explicit_header(mut self, explicit_header: bool) -> Self {
        self.explicit_header = explicit_header;
        self
    }

    pub const fn with_crc(mut self, crc_on: bool) -> Self {
        self.crc_on = crc_on;
        self
    }

    pub const fn with_low_data_rate_optimize(mut self, ldro: Option<bool>) -> Self {
        self.low_data_rate_optimize = ldro;
        self
    }

    /// Whether an SX127x can transmit with these parameters. The airtime functions compute
    /// the formula regardless.
    pub const fn validate(&self) -> Result<(), ModulationError> {
        if matches!(self.spreading_factor, SpreadingFactor::Sf6) && self.explicit_header {
            return Err(ModulationError::Sf6RequiresImplicitHeader);
        }
        if self.preamble_len < 6 {
            return Err(ModulationError::PreambleTooShort);
        }
        Ok(())
    }

    /// Symbol time `2^SF / BW` in microseconds (exact).
    pub const fn symbol_time_us(&self) -> u64 {
        // 2^SF / (500 kHz / d) seconds = 2^SF * d * 2 microseconds.
        (1u64 << self.spreading_factor.value()) * self.bandwidth.divisor_of_500khz() * 2
    }

    /// Whether low-data-rate optimisation is in effect: the override if set, otherwise on when
    /// the symbol time exceeds 16 ms (SF11/SF12 at 125 kHz, SF12 at 250 kHz, ...).
    pub const fn low_data_rate_optimize_enabled(&self) -> bool {
        match self.low_data_rate_optimize {
            Some(on) => on,
            None => self.symbol_time_us() > LOW_DATA_RATE_SYMBOL_TIME_US,
        }
    }

    /// Preamble duration `(Npreamble + 4.25) Tsym` in microseconds (exact).
    pub const fn preamble_time_us(&self) -> u64 {
        (4 * self.preamble_len as u64 + 17) * (self.symbol_time_us() / 4)
    }

    /// Number of symbols after the preamble (header and payload) for `payload_len` bytes.
    pub const fn payload_symbols(&self, payload_len: usize) -> u64 {
        let sf = self.spreading_factor.value() as u64;
        let de = self.low_data_rate_optimize_enabled() as u64;
        // Payloads beyond 255 bytes cannot be sent; clamping far above that keeps the
        // arithmetic in range for any usize while still answering for oversized inputs.
        let pl = if payload_len > u32::MAX as usize {
            u32::MAX as u64
        } else {
            payload_len as u64
        };
        let positive = 8 * pl + 28 + 16 * (self.crc_on as u64);
        let negative = 4 * sf + 20 * (!self.explicit_header as u64);
        // sf - 2 de >= 4, so the divisor is never zero.
        let divisor = 4 * (sf - 2 * de);
        let blocks = if positive > negative {
            (positive - negative).div_ceil(divisor)
        } else {
            0
        };
        8 + blocks * self.coding_rate.denominator() as u64
    }

    /// Time on air of a packet with `payload_len` payload bytes, in microseconds (exact).
    pub const fn time_on_air_us(&self, payload_len: usize) -> u64 {
        let payload_us = self
            .payload_symbols(payload_len)
            .saturating_mul(self.symbol_time_us());
        self.preamble_time_us().saturating_add(payload_us)
    }

    /// Time on air in whole milliseconds, rounded up, so budgets built on it never
    /// under-count.
    pub const fn time_on_air(&self, payload_len: usize) -> Duration {
        Duration(self.time_on_air_us(payload_len).div_ceil(1000))
    }
}

/// Time on air of a packet with `payload_len` payload bytes under `m`, in microseconds.
pub const fn time_on_air_us(m: &LoRaModulation, payload_len: usize) -> u64 {
    m.time_on_air_us(payload_len)
}

/// Symbol time of `m` in microseconds.
pub const fn symbol_time_us(m: &LoRaModulation) -> u64 {
    m.symbol_time_us()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modulation(sf: SpreadingFactor, bw: Bandwidth) -> LoRaModulation {
        LoRaModulation::new(sf, bw, CodingRate::Cr4_5)
    }

    /// Asserts `actual_us` rounds to `shown` (in units of `unit_us`), as the reference table
    /// prints it.
    fn assert_rounds_to(actual_us: u64, shown: u64, unit_us: u64, what: &str) {
        let expected_us = shown * unit_us;
        assert!(
            actual_us.abs_diff(expected_us) * 2 <= unit_us,
            "{what}: computed {actual_us} us, table says {expected_us} us (+- {} us)",
            unit_us / 2
        );
    }

    #[test]
    fn every_cell_of_the_reference_airtime_table() {
        use Bandwidth::*;
        use SpreadingFactor::*;
        // (payload bytes, SF, BW, value as the table prints it, unit of its last digit in us)
        let table: [(usize, SpreadingFactor, Bandwidth, u64, u64); 16] = [
            (20, Sf7, Khz125, 566, 100),
            (20, Sf7, Khz250, 283, 100),
            (20, Sf7, Khz500, 141, 100),
            (20, Sf9, Khz125, 185, 1000),
            (20, Sf12, Khz125, 1319, 1000),
            (64, Sf7, Khz125, 1180, 100),
            (127, Sf7, Khz125, 2102, 100),
            (127, Sf7, Khz250, 1051, 100),
            (127, Sf7, Khz500, 525, 100),
            (127, Sf9, Khz125, 677, 1000),
            (127, Sf12, Khz125, 4923, 1000),
            (255, Sf7, Khz125, 3996, 100),
            (255, Sf7, Khz250, 1998, 100),
            (255, Sf7, Khz500, 999, 100),
            (255, Sf9, Khz125, 1250, 1000),
            (255, Sf12, Khz125, 9019, 1000),
        ];
        for (pl, sf, bw, shown, unit) in table {
            let m = modulation(sf, bw);
            assert_eq!(m.validate(), Ok(()));
            assert_rounds_to(
                time_on_air_us(&m, pl),
                shown,
                unit,
                &std::format!("{pl} B {sf:?} {bw:?}"),
            );
        }
        // The table's footnote: LDRO on at SF12/BW125. With it forced off the cell would differ,
        // so the automatic rule is what produced the table.
        let no_ldro = modulation(Sf12, Khz125).with_low_data_rate_optimize(Some(false));
        assert_ne!(no_ldro.time_on_air_us(255).div_ceil(1000), 9019);
    }

    #[test]
    fn exact_values_of_reference_cells() {
        // 20 B at SF7/BW125: 12.25 preamble + 43 payload symbols of 1.024 ms.
        let m = LoRaModulation::PYMESH_DEFAULT;
        assert_eq!(m.symbol_time_us(), 1024);
        assert_eq!(m.preamble_time_us(), 12_544);
        assert_eq!(m.payload_symbols(20), 43);
        assert_eq!(m.time_on_air_us(20), 56_576);
        assert_eq!(m.time_on_air(20), Duration(57));
        assert_eq!(m.time_on_air_us(127), 210_176);
        assert_eq!(m.time_on_air(127), Duration(211));
        // SF12/BW125 255 B: 275.25 symbols of 32.768 ms.
        let m = modulation(SpreadingFactor::Sf12, Bandwidth::Khz125);
        assert_eq!(m.time_on_air_us(255), 9_019_392);
    }

    #[test]
    fn hand_computed_sf6_implicit_header() {
        // SF6/BW125, implicit header, CRC on, 10 B: Tsym = 512 us;
        // ceil((80 - 24 + 28 + 16 - 20) / 24) = 4 blocks * 5 + 8 = 28 symbols; 40.25 * 512.
        let m = modulation(SpreadingFactor::Sf6, Bandwidth::Khz125);
        assert!(!m.explicit_header, "SF6 defaults to implicit header");
        assert_eq!(m.validate(), Ok(()));
        assert_eq!(m.symbol_time_us(), 512);
        assert_eq!(m.payload_symbols(10), 28);
        assert_eq!(m.time_on_air_us(10), 20_608);
        assert_eq!(
            m.with_explicit_header(true).validate(),
            Err(ModulationError::Sf6RequiresImplicitHeader)
        );
    }

    #[test]
    fn hand_computed_implicit_header_empty_payload_floors_at_eight_symbols() {
        // SF7/BW125 implicit, no CRC, 0 B: (0 - 28 + 28 - 20) < 0 so only the 8 fixed symbols.
        let m = LoRaModulation::PYMESH_DEFAULT
            .with_explicit_header(false)
            .with_crc(false);
        assert_eq!(m.payload_symbols(0), 8);
        assert_eq!(m.time_on_air_us(0), 20_736);
        // Explicit header and CRC on, 0 B: ceil(16 / 28) = 1 block of 5.
        assert_eq!(LoRaModulation::PYMESH_DEFAULT.payload_symbols(0), 13);
    }

    #[test]
    fn hand_computed_coding_rate_4_8() {
        // SF7/BW125 CR4/8, 20 B: 7 blocks * 8 + 8 = 64 symbols; 76.25 * 1024 us.
        let m = LoRaModulation::new(SpreadingFactor::Sf7, Bandwidth::Khz125, CodingRate::Cr4_8);
        assert_eq!(m.payload_symbols(20), 64);
        assert_eq!(m.time_on_air_us(20), 78_080);
        // Each coding rate step adds one symbol per block of 7.
        for (cr, symbols) in [(1, 43), (2, 50), (3, 57), (4, 64)] {
            let m = LoRaModulation::from_raw(7, 125_000, cr).unwrap();
            assert_eq!(m.payload_symbols(20), symbols);
        }
    }

    #[test]
    fn hand_computed_preamble_length() {
        // 16-symbol preamble: 20.25 symbols instead of 12.25.
        let m = LoRaModulation::PYMESH_DEFAULT.with_preamble_len(16);
        assert_eq!(m.preamble_time_us(), 20_736);
        assert_eq!(m.time_on_air_us(20), 56_576 + 8 * 1024);
        assert_eq!(
            m.with_preamble_len(5).validate(),
            Err(ModulationError::PreambleTooShort)
        );
    }

    #[test]
    fn low_data_rate_optimisation_follows_the_16_ms_rule() {
        use Bandwidth::*;
        use SpreadingFactor::*;
        let on = [
            (Sf11, Khz125),
            (Sf12, Khz125),
            (Sf12, Khz250),
            (Sf10, Khz62_5),
        ];
        let off = [
            (Sf10, Khz125),
            (Sf11, Khz250),
            (Sf12, Khz500),
            (Sf7, Khz125),
            (Sf9, Khz62_5),
        ];
        for (sf, bw) in on {
            assert!(
                modulation(sf, bw).low_data_rate_optimize_enabled(),
                "{sf:?} {bw:?}"
            );
        }
        for (sf, bw) in off {
            assert!(
                !modulation(sf, bw).low_data_rate_optimize_enabled(),
                "{sf:?} {bw:?}"
            );
        }
        // Override both ways. SF10/BW125 20 B: ceil(164 / 40) = 5 blocks without DE,
        // ceil(164 / 32) = 6 with; Tsym 8.192 ms.
        let m = modulation(Sf10, Khz125);
        assert_eq!(m.time_on_air_us(20), 370_688);
        let forced = m.with_low_data_rate_optimize(Some(true));
        assert!(forced.low_data_rate_optimize_enabled());
        assert_eq!(forced.time_on_air_us(20), 411_648);
        let off = modulation(Sf12, Khz125).with_low_data_rate_optimize(Some(false));
        assert!(!off.low_data_rate_optimize_enabled());
    }

    #[test]
    fn narrow_bandwidths_have_exact_symbol_times() {
        use Bandwidth::*;
        // 2^SF / BW for SF7, in us: 128 / 7812.5 Hz = 16384 us, etc.
        let expected = [
            (Khz7_8, 16_384),
            (Khz10_4, 12_288),
            (Khz15_6, 8_192),
            (Khz20_8, 6_144),
            (Khz31_25, 4_096),
            (Khz41_7, 3_072),
            (Khz62_5, 2_048),
            (Khz125, 1_024),
            (Khz250, 512),
            (Khz500, 256),
        ];
        for (bw, us) in expected {
            assert_eq!(modulation(SpreadingFactor::Sf7, bw).symbol_time_us(), us);
        }
        // SF12 at 7.8 kHz: 524.288 ms symbols, LDRO on.
        let slow = modulation(SpreadingFactor::Sf12, Khz7_8);
        assert_eq!(slow.symbol_time_us(), 524_288);
        assert!(slow.low_data_rate_optimize_enabled());
    }

    #[test]
    fn bandwidth_from_hz_accepts_nominal_and_exact_values() {
        use Bandwidth::*;
        assert_eq!(Bandwidth::from_hz(7_800), Some(Khz7_8));
        assert_eq!(Bandwidth::from_hz(7_812), Some(Khz7_8));
        assert_eq!(Bandwidth::from_hz(10_400), Some(Khz10_4));
        assert_eq!(Bandwidth::from_hz(41_700), Some(Khz41_7));
        assert_eq!(Bandwidth::from_hz(125_000), Some(Khz125));
        assert_eq!(Bandwidth::from_hz(500_000), Some(Khz500));
        assert_eq!(Bandwidth::from_hz(0), None);
        assert_eq!(Bandwidth::from_hz(100_000), None);
        assert_eq!(Bandwidth::from_hz(u32::MAX), None);
        for bw in Bandwidth::ALL {
            assert_eq!(Bandwidth::from_hz(bw.hz()), Some(bw));
        }
        assert_eq!(LoRaModulation::from_raw(5, 125_000, 1), None);
        assert_eq!(LoRaModulation::from_raw(13, 125_000, 1), None);
        assert_eq!(LoRaModulation::from_raw(7, 125_000, 0), None);
        assert_eq!(LoRaModulation::from_raw(7, 125_000, 5), None);
    }

    #[test]
    fn every_combination_is_monotonic_and_never_panics() {
        // Longer payloads never take less time; nothing overflows, even for absurd lengths.
        for sf in 6..=12 {
            for bw in Bandwidth::ALL {
                for cr in 1..=4 {
                    let base = LoRaModulation::from_raw(sf, bw.hz(), cr).unwrap();
                    for (ih, crc, ldro) in [
                        (false, false, None),
                        (true, true, None),
                        (true, false, Some(true)),
                        (false, true, Some(false)),
                    ] {
                        let m = base
                            .with_explicit_header(ih)
                            .with_crc(crc)
                            .with_low_data_rate_optimize(ldro)
                            .with_preamble_len(u16::MAX);
                        let mut last = 0;
                        for pl in 0..=MAX_PAYLOAD_LEN {
                            let t = m.time_on_air_us(pl);
                            assert!(t >= last);
                            last = t;
                        }
                        assert!(m.time_on_air_us(usize::MAX) >= last);
                    }
                }
            }
        }
    }
}
