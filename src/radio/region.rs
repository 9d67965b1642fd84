//! LoRa regions as Pycom numbered them, their frequency bands and defaults, and validation of
//! the `network.LoRa(...)` parameters (`pycom-behaviour.md`). The C shim passes raw integers;
//! the decisions, and the error messages users see, are made here.

/// A LoRa region, with Pycom's numbering (`LoRa.EU868 == 5`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Region {
    As923 = 0,
    Au915 = 1,
    Cn470 = 2,
    Eu433 = 4,
    Eu868 = 5,
    In865 = 7,
    Us915 = 8,
}

impl Region {
    pub const ALL: [Region; 7] = [
        Region::As923,
        Region::Au915,
        Region::Cn470,
        Region::Eu433,
        Region::Eu868,
        Region::In865,
        Region::Us915,
    ];

    pub fn from_pycom(v: i32) -> Option<Region> {
        Region::ALL.into_iter().find(|r| *r as i32 == v)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Region::As923 => "AS923",
            Region::Au915 => "AU915",
            Region::Cn470 => "CN470",
            Region::Eu433 => "EU433",
            Region::Eu868 => "EU868",
            Region::In865 => "IN865",
            Region::Us915 => "US915",
        }
    }

    /// The region's frequency band in Hz, inclusive (LoRaMac-node's RegionXX.h bands).
    pub const fn band(self) -> (u32, u32) {
        match self {
            Region::As923 => (915_000_000, 928_000_000),
            Region::Au915 => (915_000_000, 928_000_000),
            Region::Cn470 => (470_000_000, 510_000_000),
            Region::Eu433 => (433_175_000, 434_665_000),
            Region::Eu868 => (863_000_000, 870_000_000),
            Region::In865 => (865_000_000, 867_000_000),
            Region::Us915 => (902_000_000, 928_000_000),
        }
    }

    /// Pycom's default frequency. (The original fell through to 865 MHz for CN470: fixed here.)
    pub const fn default_frequency(self) -> u32 {
        match self {
            Region::Eu868 => 868_000_000,
            Region::Us915 | Region::Au915 => 915_000_000,
            Region::As923 => 923_000_000,
            Region::Eu433 => 433_175_000,
            Region::In865 => 865_000_000,
            Region::Cn470 => 470_000_000,
        }
    }

    /// Pycom's default transmit power in dBm.
    pub const fn default_tx_power(self) -> i8 {
        match self {
            Region::Eu868 | Region::Cn470 => 14,
            Region::Eu433 => 12,
            _ => 20,
        }
    }

    /// The message users see when a frequency is outside the band.
    const fn frequency_error(self) -> &'static str {
        match self {
            Region::As923 => "frequency out of range for AS923 (915000000..928000000 Hz)",
            Region::Au915 => "frequency out of range for AU915 (915000000..928000000 Hz)",
            Region::Cn470 => "frequency out of range for CN470 (470000000..510000000 Hz)",
            Region::Eu433 => "frequency out of range for EU433 (433175000..434665000 Hz)",
            Region::Eu868 => "frequency out of range for EU868 (863000000..870000000 Hz)",
            Region::In865 => "frequency out of range for IN865 (865000000..867000000 Hz)",
            Region::Us915 => "frequency out of range for US915 (902000000..928000000 Hz)",
        }
    }
}

/// LoRa bandwidth, Pycom's numbering (`LoRa.BW_125KHZ == 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Bandwidth {
    Khz125 = 0,
    Khz250 = 1,
    Khz500 = 2,
}

impl Bandwidth {
    pub const fn hz(self) -> u32 {
        match self {
            Bandwidth::Khz125 => 125_000,
            Bandwidth::Khz250 => 250_000,
            Bandwidth::Khz500 => 500_000,
        }
    }
}

/// LoRa coding rate; Pycom's numbering (`LoRa.CODING_4_5 == 1` .. `CODING_4_8 == 4`) is the
/// airtime module's.
pub use super::airtime::CodingRate;

/// `LoRa.ALWAYS_ON`, `TX_ONLY`, `SLEEP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PowerMode {
    AlwaysOn = 0,
    TxOnly = 1,
    Sleep = 2,
}

/// `LoRa.LORA` (raw LoRa: what the mesh uses) or `LoRa.LORAWAN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Mode {
    LoRa = 0,
    LoRaWan = 1,
}

/// `LoRa.CLASS_A`, `LoRa.CLASS_C`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DeviceClass {
    A = 0,
    C = 2,
}

/// The arguments of `network.LoRa(...)` exactly as the user gave them (`None` = not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoRaParams {
    pub id: i32,
    pub mode: i32,
    pub region: Option<i32>,
    pub frequency: Option<i64>,
    pub tx_power: Option<i32>,
    pub bandwidth: i32,
    pub sf: i32,
    pub preamble: i32,
    pub coding_rate: i32,
    pub power_mode: i32,
    pub tx_iq: bool,
    pub rx_iq: bool,
    pub adr: bool,
    pub public: bool,
    pub tx_retries: i32,
    pub device_class: i32,
}

impl LoRaParams {
    /// Pycom's defaults; `region` has none and must be given.
    pub const fn pycom_defaults() -> Self {
        LoRaParams {
            id: 0,
            mode: Mode::LoRa as i32,
            region: None,
            frequency: None,
            tx_power: None,
            bandwidth: Bandwidth::Khz125 as i32,
            sf: 7,
            preamble: 8,
            coding_rate: CodingRate::Cr4_5 as i32,
            power_mode: PowerMode::AlwaysOn as i32,
            tx_iq: false,
            rx_iq: false,
            adr: false,
            public: true,
            tx_retries: 2,
            device_class: DeviceClass::A as i32,
        }
    }
}

/// Why `network.LoRa(...)` refused its arguments: the argument's name and a message that names
/// the allowed range. `kind` says which Python exception the shim raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamError {
    pub kind: ParamErrorKind,
    pub argument: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamErrorKind {
    /// ValueError.
    Value,
    /// OSError (Pycom raised it for `id != 0`: there is one LoRa radio).
    Os,
}

/// A validated LoRa configuration: what the radio and the mesh run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoRaConfig {
    pub mode: Mode,
    pub region: Region,
    pub frequency: u32,
    pub tx_power: i8,
    pub bandwidth: Bandwidth,
    pub sf: u8,
    pub preamble: u16,
    pub coding_rate: CodingRate,
    pub power_mode: PowerMode,
    pub tx_iq: bool,
    pub rx_iq: bool,
    pub adr: bool,
    pub public: bool,
    pub tx_retries: u8,
    pub device_class: DeviceClass,
}

impl LoRaConfig {
    /// The modulation for airtime calculations: explicit header, CRC on (Pymesh's framing),
    /// low-data-rate optimisation as the SX127x needs it.
    pub fn modulation(&self) -> super::airtime::LoRaModulation {
        let sf = super::airtime::SpreadingFactor::from_u8(self.sf)
            .unwrap_or(super::airtime::SpreadingFactor::Sf12);
        let bw = match self.bandwidth {
            Bandwidth::Khz125 => super::airtime::Bandwidth::Khz125,
            Bandwidth::Khz250 => super::airtime::Bandwidth::Khz250,
            Bandwidth::Khz500 => super::airtime::Bandwidth::Khz500,
        };
        super::airtime::LoRaModulation::new(sf, bw, self.coding_rate)
            .with_preamble_len(self.preamble)
    }

    /// Airtime of a maximum-size 802.15.4 PSDU (127 bytes): the unit the LoRa timing profile
    /// scales Thread's timers by.
    pub fn frame_time(&self) -> crate::time::Duration {
        self.modulation().time_on_air(127)
    }

    /// LoRa sync word: 0x34 for public networks, 0x12 for private ones (Pycom's `public=`).
    pub const fn sync_word(&self) -> u8 {
        if self.public {
            0x34
        } else {
            0x12
        }
    }
}

const fn value_err(argument: &'static str, message: &'static str) -> ParamError {
    ParamError {
        kind: ParamErrorKind::Value,
        argument,
        message,
    }
}

impl LoRaParams {
    /// Checks every argument against Pycom's rules and fills in the region's defaults.
    pub fn validate(&self) -> Result<LoRaConfig, ParamError> {
        if self.id != 0 {
            return Err(ParamError {
                kind: ParamErrorKind::Os,
                argument: "id",
                message: "id must be 0 (one LoRa radio)",
            });
        }
        let mode = match self.mode {
            0 => Mode::LoRa,
            1 => Mode::LoRaWan,
            _ => {
                return Err(value_err(
                    "mode",
                    "mode must be LoRa.LORA (0) or LoRa.LORAWAN (1)",
                ))
            }
        };
        let region = match self.region {
            None => return Err(value_err("region", "region is required (LoRa.AS923, AU915, CN470, EU433, EU868, IN865 or US915)")),
            Some(r) => match Region::from_pycom(r) {
                Some(r) => r,
                None => return Err(value_err("region", "region must be one of LoRa.AS923 (0), AU915 (1), CN470 (2), EU433 (4), EU868 (5), IN865 (7), US915 (8)")),
            },
        };
        let frequency = match self.frequency {
            None => region.default_frequency(),
            Some(f) => {
                let (lo, hi) = region.band();
                if f < lo as i64 || f > hi as i64 {
                    return Err(value_err("frequency", region.frequency_error()));
                }
                f as u32
            }
        };
        let tx_power = match self.tx_power {
            None => region.default_tx_power(),
            Some(p) if (2..=20).contains(&p) => p as i8,
            Some(_) => return Err(value_err("tx_power", "tx_power must be within 2..20 dBm")),
        };
        let bandwidth = match self.bandwidth {
            0 => Bandwidth::Khz125,
            1 => Bandwidth::Khz250,
            2 => Bandwidth::Khz500,
            _ => {
                return Err(value_err(
                    "bandwidth",
                    "bandwidth must be within 0..2 (LoRa.BW_125KHZ, BW_250KHZ, BW_500KHZ)",
                ))
            }
        };
        if !(6..=12).contains(&self.sf) {
            return Err(value_err("sf", "sf must be within 6..12"));
        }
        if !(6..=65535).contains(&self.preamble) {
            return Err(value_err(
                "preamble",
                "preamble must be within 6..65535 symbols",
            ));
        }
        let coding_rate = match self.coding_rate {
            1 => CodingRate::Cr4_5,
            2 => CodingRate::Cr4_6,
            3 => CodingRate::Cr4_7,
            4 => CodingRate::Cr4_8,
            _ => {
                return Err(value_err(
                    "coding_rate",
                    "coding_rate must be within 1..4 (LoRa.CODING_4_5 .. CODING_4_8)",
                ))
            }
        };
        let power_mode = match self.power_mode {
            0 => PowerMode::AlwaysOn,
            1 => PowerMode::TxOnly,
            2 => PowerMode::Sleep,
            _ => {
                return Err(value_err(
                    "power_mode",
                    "power_mode must be within 0..2 (LoRa.ALWAYS_ON, TX_ONLY, SLEEP)",
                ))
            }
        };
        if !(0..=255).contains(&self.tx_retries) {
            return Err(value_err("tx_retries", "tx_retries must be within 0..255"));
        }
        let device_class = match self.device_class {
            0 => DeviceClass::A,
            2 => DeviceClass::C,
            _ => {
                return Err(value_err(
                    "device_class",
                    "device_class must be LoRa.CLASS_A (0) or LoRa.CLASS_C (2)",
                ))
            }
        };
        Ok(LoRaConfig {
            mode,
            region,
            frequency,
            tx_power,
            bandwidth,
            sf: self.sf as u8,
            preamble: self.preamble as u16,
            coding_rate,
            power_mode,
            tx_iq: self.tx_iq,
            rx_iq: self.rx_iq,
            adr: self.adr,
            public: self.public,
            tx_retries: self.tx_retries as u8,
            device_class,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eu868() -> LoRaParams {
        LoRaParams {
            region: Some(5),
            ..LoRaParams::pycom_defaults()
        }
    }

    #[test]
    fn defaults_follow_the_region() {
        let c = eu868().validate().unwrap();
        assert_eq!(
            (c.frequency, c.tx_power, c.sf, c.sync_word()),
            (868_000_000, 14, 7, 0x34)
        );
        for (r, f, p) in [
            (0, 923_000_000, 20),
            (1, 915_000_000, 20),
            (2, 470_000_000, 14),
            (4, 433_175_000, 12),
            (7, 865_000_000, 20),
            (8, 915_000_000, 20),
        ] {
            let c = LoRaParams {
                region: Some(r),
                ..LoRaParams::pycom_defaults()
            }
            .validate()
            .unwrap();
            assert_eq!((c.frequency, c.tx_power), (f, p), "region {r}");
        }
    }

    #[test]
    fn each_bad_argument_is_named() {
        let cases: [(LoRaParams, &str); 9] = [
            (
                LoRaParams {
                    region: None,
                    ..eu868()
                },
                "region",
            ),
            (
                LoRaParams {
                    region: Some(3),
                    ..eu868()
                },
                "region",
            ),
            (
                LoRaParams {
                    frequency: Some(915_000_000),
                    ..eu868()
                },
                "frequency",
            ),
            (
                LoRaParams {
                    tx_power: Some(21),
                    ..eu868()
                },
                "tx_power",
            ),
            (
                LoRaParams {
                    tx_power: Some(1),
                    ..eu868()
                },
                "tx_power",
            ),
            (LoRaParams { sf: 13, ..eu868() }, "sf"),
            (
                LoRaParams {
                    bandwidth: 3,
                    ..eu868()
                },
                "bandwidth",
            ),
            (
                LoRaParams {
                    coding_rate: 0,
                    ..eu868()
                },
                "coding_rate",
            ),
            (
                LoRaParams {
                    power_mode: 3,
                    ..eu868()
                },
                "power_mode",
            ),
        ];
        for (p, arg) in cases {
            let e = p.validate().unwrap_err();
            assert_eq!(e.argument, arg);
            assert_eq!(e.kind, ParamErrorKind::Value);
            assert!(e.message.contains(arg), "{}", e.message);
        }
        let e = LoRaParams { id: 1, ..eu868() }.validate().unwrap_err();
        assert_eq!(e.kind, ParamErrorKind::Os);
    }

    #[test]
    fn band_edges_are_inclusive() {
        assert!(LoRaParams {
            frequency: Some(863_000_000),
            ..eu868()
        }
        .validate()
        .is_ok());
        assert!(LoRaParams {
            frequency: Some(870_000_000),
            ..eu868()
        }
        .validate()
        .is_ok());
        assert!(LoRaParams {
            frequency: Some(862_999_999),
            ..eu868()
        }
        .validate()
        .is_err());
        assert!(LoRaParams {
            frequency: Some(-1),
            ..eu868()
        }
        .validate()
        .is_err());
    }
}
