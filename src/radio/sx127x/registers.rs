//! The SX127x LoRa-mode register map shared by the SX1276 and SX1272: addresses and bit fields
//! with their Semtech datasheet names (SX1276/77/78/79 datasheet rev. 4 section 6.4, "LoRa Mode
//! Register Map"; SX1272/73 datasheet rev. 2 section 6.4). What differs between the two chips
//! (modem configuration bit layout, PA, RSSI offset, reset polarity, RegPaDac address) is in
//! [`super::chip`], not here.

/// SPI address byte: bit 7 set for a write (`wnr`), clear for a read.
pub const SPI_WRITE: u8 = 0x80;

pub const REG_FIFO: u8 = 0x00;
pub const REG_OP_MODE: u8 = 0x01;
pub const REG_FRF_MSB: u8 = 0x06;
pub const REG_FRF_MID: u8 = 0x07;
pub const REG_FRF_LSB: u8 = 0x08;
pub const REG_PA_CONFIG: u8 = 0x09;
pub const REG_PA_RAMP: u8 = 0x0A;
pub const REG_OCP: u8 = 0x0B;
pub const REG_LNA: u8 = 0x0C;
pub const REG_FIFO_ADDR_PTR: u8 = 0x0D;
pub const REG_FIFO_TX_BASE_ADDR: u8 = 0x0E;
pub const REG_FIFO_RX_BASE_ADDR: u8 = 0x0F;
pub const REG_FIFO_RX_CURRENT_ADDR: u8 = 0x10;
pub const REG_IRQ_FLAGS_MASK: u8 = 0x11;
pub const REG_IRQ_FLAGS: u8 = 0x12;
pub const REG_RX_NB_BYTES: u8 = 0x13;
pub const REG_RX_HEADER_CNT_VALUE_MSB: u8 = 0x14;
pub const REG_RX_PACKET_CNT_VALUE_MSB: u8 = 0x16;
pub const REG_MODEM_STAT: u8 = 0x18;
pub const REG_PKT_SNR_VALUE: u8 = 0x19;
pub const REG_PKT_RSSI_VALUE: u8 = 0x1A;
pub const REG_RSSI_VALUE: u8 = 0x1B;
pub const REG_HOP_CHANNEL: u8 = 0x1C;
pub const REG_MODEM_CONFIG1: u8 = 0x1D;
pub const REG_MODEM_CONFIG2: u8 = 0x1E;
pub const REG_SYMB_TIMEOUT_LSB: u8 = 0x1F;
pub const REG_PREAMBLE_MSB: u8 = 0x20;
pub const REG_PREAMBLE_LSB: u8 = 0x21;
pub const REG_PAYLOAD_LENGTH: u8 = 0x22;
pub const REG_MAX_PAYLOAD_LENGTH: u8 = 0x23;
pub const REG_HOP_PERIOD: u8 = 0x24;
pub const REG_FIFO_RX_BYTE_ADDR: u8 = 0x25;
/// SX1276 only (reserved on the SX1272, whose LDRO and AGC bits live in RegModemConfig1/2).
pub const REG_MODEM_CONFIG3: u8 = 0x26;
pub const REG_DETECT_OPTIMIZE: u8 = 0x31;
pub const REG_INVERT_IQ: u8 = 0x33;
pub const REG_DETECTION_THRESHOLD: u8 = 0x37;
pub const REG_SYNC_WORD: u8 = 0x39;
/// Not in the datasheets' tables; Semtech's I/Q inversion note and LoRaMac-node set it.
pub const REG_INVERT_IQ2: u8 = 0x3B;
pub const REG_DIO_MAPPING1: u8 = 0x40;
pub const REG_DIO_MAPPING2: u8 = 0x41;
pub const REG_VERSION: u8 = 0x42;

/// RegOpMode bit 7: LoRa (1) or FSK/OOK (0); writable in Sleep mode only.
pub const OP_MODE_LONG_RANGE: u8 = 0x80;
/// RegOpMode bit 3 (SX1276 only): LowFrequencyModeOn, access to the LF test registers.
pub const OP_MODE_LOW_FREQUENCY: u8 = 0x08;
/// RegOpMode bits 2-0.
pub const MODE_MASK: u8 = 0x07;
pub const MODE_SLEEP: u8 = 0x00;
pub const MODE_STDBY: u8 = 0x01;
pub const MODE_FSTX: u8 = 0x02;
pub const MODE_TX: u8 = 0x03;
pub const MODE_FSRX: u8 = 0x04;
pub const MODE_RX_CONTINUOUS: u8 = 0x05;
pub const MODE_RX_SINGLE: u8 = 0x06;
pub const MODE_CAD: u8 = 0x07;

/// RegIrqFlags bits (write 1 to clear).
pub const IRQ_RX_TIMEOUT: u8 = 0x80;
pub const IRQ_RX_DONE: u8 = 0x40;
pub const IRQ_PAYLOAD_CRC_ERROR: u8 = 0x20;
pub const IRQ_VALID_HEADER: u8 = 0x10;
pub const IRQ_TX_DONE: u8 = 0x08;
pub const IRQ_CAD_DONE: u8 = 0x04;
pub const IRQ_FHSS_CHANGE_CHANNEL: u8 = 0x02;
pub const IRQ_CAD_DETECTED: u8 = 0x01;

/// RegHopChannel bit 6: the received header announced a payload CRC (explicit header only).
pub const HOP_CHANNEL_CRC_ON_PAYLOAD: u8 = 0x40;

/// RegDioMapping1 bits 7-6: Dio0Mapping. In LoRa mode 00 = RxDone, 01 = TxDone, 10 = CadDone.
pub const DIO0_MASK: u8 = 0xC0;
pub const DIO0_RX_DONE: u8 = 0x00;
pub const DIO0_TX_DONE: u8 = 0x40;
pub const DIO0_CAD_DONE: u8 = 0x80;

/// RegDetectOptimize bits 2-0: DetectionOptimize, 0x5 for SF6, 0x3 for SF7..12.
pub const DETECT_OPTIMIZE_MASK: u8 = 0x07;
pub const DETECT_OPTIMIZE_SF6: u8 = 0x05;
pub const DETECT_OPTIMIZE_SF7_TO_12: u8 = 0x03;
/// RegDetectionThreshold: 0x0C for SF6, 0x0A for SF7..12.
pub const DETECTION_THRESHOLD_SF6: u8 = 0x0C;
pub const DETECTION_THRESHOLD_SF7_TO_12: u8 = 0x0A;

/// RegInvertIQ bit 6: InvertIQ on the receive path.
pub const INVERT_IQ_RX: u8 = 0x40;
/// RegInvertIQ bit 0: set means the transmit path is *not* inverted (reset 1).
pub const INVERT_IQ_TX_OFF: u8 = 0x01;
/// RegInvertIQ reset value; bits other than 6 and 0 are kept.
pub const INVERT_IQ_RESET: u8 = 0x27;
/// RegInvertIQ2 with I/Q inverted, and its reset (normal) value.
pub const INVERT_IQ2_ON: u8 = 0x19;
pub const INVERT_IQ2_OFF: u8 = 0x1D;

/// RegPaConfig bit 7: PaSelect, PA_BOOST (1) or RFO (0).
pub const PA_SELECT_BOOST: u8 = 0x80;
/// RegPaDac: 0x84 default, 0x87 enables +20 dBm on PA_BOOST (datasheet 5.4.3).
pub const PA_DAC_DEFAULT: u8 = 0x84;
pub const PA_DAC_20DBM: u8 = 0x87;
/// RegOcp: OcpOn | OcpTrim. 100 mA (reset) and 140 mA for +20 dBm operation
/// (Imax = -30 + 10 * OcpTrim mA for OcpTrim 16..27).
pub const OCP_100_MA: u8 = 0x2B;
pub const OCP_140_MA: u8 = 0x31;
/// RegLna: LnaGain G1 (reset 0x20) with LnaBoost (bits 1-0 = 11, 150 % LNA current; HF only).
pub const LNA_G1: u8 = 0x20;
pub const LNA_BOOST_HF: u8 = 0x03;

/// The modem's crystal: FXOSC = 32 MHz, so Fstep = FXOSC / 2^19 = 61.035 Hz.
pub const FXOSC_HZ: u64 = 32_000_000;

/// RegFrf (24 bits) for a carrier frequency: `Frf = f / Fstep`, rounded to the nearest step.
pub const fn frf_from_hz(hz: u32) -> u32 {
    // f < 2^32 Hz, so f * 2^19 fits in 51 bits and the quotient in 24.
    ((((hz as u64) << 19) + FXOSC_HZ / 2) / FXOSC_HZ) as u32
}

/// The carrier frequency in Hz for a RegFrf value, rounded to the nearest hertz.
pub const fn hz_from_frf(frf: u32) -> u32 {
    (((frf as u64) * FXOSC_HZ + (1 << 18)) >> 19) as u32
}
