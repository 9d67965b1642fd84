//! An SX1276 / SX1272 at register level, behind `embedded-hal` 1.0 traits, so the real driver
//! (`pymesh::radio::sx127x::Sx127x`) runs unchanged against it: the driver path used on hardware
//! is the one every test and the unix firmware exercise.
//!
//! What it models (Semtech SX1276 datasheet rev. 4 and SX1272 datasheet rev. 2, section 4.1
//! "LoRa Modem" and section 6 "Registers"):
//! - the register file with the datasheets' reset values, LoRa page and common registers; the
//!   FSK page (0x0D..0x3F with LongRangeMode clear) is storage only, reset to zero;
//! - SPI framing: address byte with the `wnr` bit, burst access with address auto-increment,
//!   RegFifo (0x00) reading/writing the 256-byte FIFO at RegFifoAddrPtr, which increments;
//! - RegOpMode: LongRangeMode changes only in Sleep (a change in another mode is ignored, as on
//!   the chip, and recorded as a violation); the LoRa FIFO is cleared in Sleep and not
//!   accessible there; TX sends RegPayloadLength bytes from RegFifoTxBaseAddr and returns to
//!   standby with TxDone once the time on air has passed; RX continuous and RX single write
//!   received frames from RegFifoRxBaseAddr on (RegFifoRxCurrentAddr, RegRxNbBytes,
//!   RegFifoRxByteAddr, RegPktSnrValue, RegPktRssiValue, RegHopChannel CrcOnPayload);
//! - RegIrqFlags (write 1 to clear) and RegIrqFlagsMask; DIO0 per RegDioMapping1 (RxDone,
//!   TxDone, CadDone) with rising-edge notification;
//! - the reset pin (active low on the SX1276, high on the SX1272) and the 5 ms before the chip
//!   answers after reset.
//!
//! Its RF side is the owner's: an [`RfSide`] is told of each transmission with the settings
//! decoded from the registers ([`ModemSettings`], so a wrong register shows up as a wrong
//! frequency/SF/power on the air), and the owner puts frames into the receiver with
//! [`Sx127xEmulator::deliver`] (or returns them from [`RfSide::poll`]). [`RadioRf`] plugs in any
//! other [`Radio`] (the unix board's `medium::MediumRadio`) as the RF side.
//!
//! Time is the emulator's: either advanced by the owner ([`Sx127xEmulator::advance_to`], tests)
//! or read from a clock ([`Sx127xEmulator::set_clock`], the unix board).
//!
//! Every register write is recorded ([`Sx127xEmulator::writes`]) so tests can check that a
//! setting writes what the datasheet says.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{self, InputPin, OutputPin};
use embedded_hal::spi::{self, Operation, SpiDevice};

use pymesh::radio::airtime::LoRaModulation;
use pymesh::radio::region::Bandwidth;
use pymesh::radio::sx127x::chip::{snr_db, Chip};
use pymesh::radio::sx127x::registers::*;
use pymesh::radio::{LoRaConfig, Radio, RadioEvent};
use pymesh::time::Instant;

use crate::air::Phy;

pub const FIFO_LEN: usize = 256;
/// Datasheet 7.2: the chip answers 5 ms after its reset is released.
pub const RESET_READY_US: u64 = 5_000;

/// Reset values of the common registers and the LoRa page (datasheet register tables, "Reset"
/// column of the LoRa mode map; common registers 0x01..0x0C and 0x40.. from the FSK map).
pub fn reset_registers(chip: Chip) -> [u8; 128] {
    let mut r = [0u8; 128];
    match chip {
        Chip::Sx1276 => {
            r[0x01] = 0x09; // RegOpMode: FSK, LowFrequencyModeOn, Stdby
            r[0x06] = 0x6C; // RegFrf: 434 MHz
            r[0x07] = 0x80;
            r[0x08] = 0x00;
            r[0x09] = 0x4F; // RegPaConfig: RFO, MaxPower 4, OutputPower 15
            r[0x0A] = 0x09; // RegPaRamp: 40 us
            r[0x1D] = 0x72; // RegModemConfig1: 125 kHz, 4/5, explicit header
            r[0x1E] = 0x70; // RegModemConfig2: SF7, CRC off
            r[0x26] = 0x04; // RegModemConfig3: AgcAutoOn
            r[0x4B] = 0x09; // RegTcxo
            r[0x4D] = 0x84; // RegPaDac
        }
        Chip::Sx1272 => {
            r[0x01] = 0x01; // RegOpMode: FSK, Stdby
            r[0x06] = 0xE4; // RegFrf: 915 MHz
            r[0x07] = 0xC0;
            r[0x08] = 0x00;
            r[0x09] = 0x0F; // RegPaConfig: RFO, OutputPower 15
            r[0x0A] = 0x19; // RegPaRamp: LowPnTxPllOff, 40 us
            r[0x1D] = 0x08; // RegModemConfig1: 125 kHz, 4/5, explicit, CRC off, LDRO off
            r[0x1E] = 0x74; // RegModemConfig2: SF7, AgcAutoOn
            r[0x58] = 0x09; // RegTcxo
            r[0x5A] = 0x84; // RegPaDac
        }
    }
    r[0x0B] = 0x2B; // RegOcp: on, 100 mA
    r[0x0C] = 0x20; // RegLna: G1
    r[0x0E] = 0x80; // RegFifoTxBaseAddr
    r[0x18] = 0x10; // RegModemStat: ModemClear
    r[0x1F] = 0x64; // RegSymbTimeoutLsb
    r[0x21] = 0x08; // RegPreambleLsb
    r[0x22] = 0x01; // RegPayloadLength
    r[0x23] = 0xFF; // RegMaxPayloadLength
    r[0x31] = 0xC3; // RegDetectOptimize
    r[0x33] = 0x27; // RegInvertIQ
    r[0x37] = 0x0A; // RegDetectionThreshold
    r[0x39] = 0x12; // RegSyncWord
    r[0x3B] = 0x1D; // RegInvertIQ2
    r[0x42] = chip.version();
    r
}

/// The modem settings a transmission was made with, or a receiver is tuned to, decoded from
/// the registers (per chip layout) independently of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModemSettings {
    pub chip: Chip,
    /// RegFrfMsb/Mid/Lsb.
    pub frf: u32,
    /// `frf * Fstep`, rounded to the nearest 100 Hz: channel plans are whole multiples of
    /// 100 Hz and Fstep is 61 Hz, so this is the channel the driver meant.
    pub frequency: u32,
    pub sf: u8,
    /// 0 for a reserved bandwidth code.
    pub bandwidth_hz: u32,
    /// Semtech's CR, 1..4 for 4/5..4/8.
    pub coding_rate: u8,
    pub implicit_header: bool,
    pub crc_on: bool,
    pub low_data_rate_optimize: bool,
    pub preamble: u16,
    pub sync_word: u8,
    pub tx_power_dbm: i8,
    pub pa_boost: bool,
    pub invert_iq_tx: bool,
    pub invert_iq_rx: bool,
    pub payload_length: u8,
}

impl ModemSettings {
    /// The settings as the air model and the medium know them.
    pub fn phy(&self) -> Phy {
        Phy {
            frequency: self.frequency,
            sf: self.sf,
            bandwidth_hz: self.bandwidth_hz,
            coding_rate: self.coding_rate,
            preamble: self.preamble,
            tx_power_dbm: self.tx_power_dbm,
            sync_word: self.sync_word,
        }
    }

    /// The modulation exactly as programmed (header, CRC and LDRO from the registers).
    pub fn modulation(&self) -> Option<LoRaModulation> {
        Some(
            LoRaModulation::from_raw(self.sf, self.bandwidth_hz, self.coding_rate)?
                .with_preamble_len(self.preamble)
                .with_explicit_header(!self.implicit_header)
                .with_crc(self.crc_on)
                .with_low_data_rate_optimize(Some(self.low_data_rate_optimize)),
        )
    }

    /// Time on air of `len` bytes; reserved register values give the longest LoRa frame
    /// time rather than none, so a misconfigured TX still ends.
    pub fn airtime_us(&self, len: usize) -> u64 {
        match self.modulation() {
            Some(m) => m.time_on_air_us(len),
            None => LoRaModulation::from_raw(12, 125_000, 4)
                .map(|m| m.time_on_air_us(255))
                .unwrap_or(10_000_000),
        }
    }

    /// Whether a receiver with `self` demodulates a transmission made with `tx`: same
    /// channel, SF, bandwidth, sync word, header mode, and matching I/Q polarity.
    pub fn hears(&self, tx: &ModemSettings) -> bool {
        self.phy().hears(&tx.phy())
            && self.implicit_header == tx.implicit_header
            && self.invert_iq_rx == tx.invert_iq_tx
    }

    fn decode(chip: Chip, r: &[u8; 128]) -> ModemSettings {
        let frf = (r[0x06] as u32) << 16 | (r[0x07] as u32) << 8 | r[0x08] as u32;
        let exact_hz = hz_from_frf(frf);
        let frequency = (exact_hz + 50) / 100 * 100;
        let c1 = r[REG_MODEM_CONFIG1 as usize];
        let c2 = r[REG_MODEM_CONFIG2 as usize];
        let c3 = r[REG_MODEM_CONFIG3 as usize];
        const SX1276_BW: [u32; 10] = [
            7_800, 10_400, 15_600, 20_800, 31_250, 41_700, 62_500, 125_000, 250_000, 500_000,
        ];
        let (bandwidth_hz, coding_rate, implicit_header, crc_on, ldro) = match chip {
            Chip::Sx1276 => (
                SX1276_BW.get((c1 >> 4) as usize).copied().unwrap_or(0),
                (c1 >> 1) & 0x07,
                c1 & 0x01 != 0,
                c2 & 0x04 != 0,
                c3 & 0x08 != 0,
            ),
            Chip::Sx1272 => (
                [125_000, 250_000, 500_000, 0][(c1 >> 6) as usize],
                (c1 >> 3) & 0x07,
                c1 & 0x04 != 0,
                c1 & 0x02 != 0,
                c1 & 0x01 != 0,
            ),
        };
        let pa_config = r[REG_PA_CONFIG as usize];
        let pa_dac = r[chip.reg_pa_dac() as usize];
        let output_power = (pa_config & 0x0F) as i8;
        let pa_boost = pa_config & PA_SELECT_BOOST != 0;
        let tx_power_dbm = if pa_boost {
            // Pout = 17 - (15 - OutputPower); +3 dB with the high-power DAC (5.4.3).
            if pa_dac & 0x07 == 0x07 {
                5 + output_power
            } else {
                2 + output_power
            }
        } else {
            match chip {
                Chip::Sx1276 => {
                    // Pout = Pmax - (15 - OutputPower), Pmax = 10.8 + 0.6 MaxPower.
                    let max_power = ((pa_config >> 4) & 0x07) as f64;
                    (10.8 + 0.6 * max_power - (15 - output_power) as f64).round() as i8
                }
                Chip::Sx1272 => output_power - 1,
            }
        };
        let iq = r[REG_INVERT_IQ as usize];
        ModemSettings {
            chip,
            frf,
            frequency,
            sf: c2 >> 4,
            bandwidth_hz,
            coding_rate,
            implicit_header,
            crc_on,
            low_data_rate_optimize: ldro,
            preamble: (r[REG_PREAMBLE_MSB as usize] as u16) << 8
                | r[REG_PREAMBLE_LSB as usize] as u16,
            sync_word: r[REG_SYNC_WORD as usize],
            tx_power_dbm,
            pa_boost,
            invert_iq_tx: iq & INVERT_IQ_TX_OFF == 0,
            invert_iq_rx: iq & INVERT_IQ_RX != 0,
            payload_length: r[REG_PAYLOAD_LENGTH as usize],
        }
    }
}

/// A frame for the receiver, from [`RfSide::poll`].
#[derive(Debug, Clone, PartialEq)]
pub struct RfArrival {
    pub frame: Vec<u8>,
    pub rssi_dbm: f64,
    pub snr_db: f64,
}

/// The emulator's antenna, as the owner provides it.
pub trait RfSide: Send {
    /// A frame started to leave the antenna at `start_us` (emulator clock) with `settings`; it
    /// is on the air for `settings.airtime_us(frame.len())`.
    fn transmit(&mut self, start_us: u64, settings: &ModemSettings, frame: &[u8]);
    /// Frames that have finished arriving by `now_us` and that a receiver tuned to `rx`
    /// demodulates. Called on every access to the chip; by default none (the owner calls
    /// [`Sx127xEmulator::deliver`] itself).
    fn poll(&mut self, _now_us: u64, _rx: &ModemSettings) -> Vec<RfArrival> {
        Vec::new()
    }
    /// DIO0 went high (the board's interrupt line).
    fn dio0_rise(&mut self) {}
    /// When the RF side next has something for the receiver, emulator clock.
    fn next_event_us(&self) -> Option<u64> {
        None
    }
}

impl<F: FnMut(u64, &ModemSettings, &[u8]) + Send> RfSide for F {
    fn transmit(&mut self, start_us: u64, settings: &ModemSettings, frame: &[u8]) {
        self(start_us, settings, frame)
    }
}

/// What became of a delivered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the FIFO, RxDone raised.
    Received,
    /// In the FIFO, RxDone and PayloadCrcError raised.
    CrcError,
    /// The receiver was not on (sleep, standby, transmitting, FSK mode, in reset).
    NotReceiving,
    /// Sent with settings this receiver does not demodulate.
    NotTuned,
    /// Empty or longer than 255 bytes: no LoRa packet.
    Invalid,
}

/// One transmission the chip made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission {
    pub start_us: u64,
    pub end_us: u64,
    pub settings: ModemSettings,
    pub frame: Vec<u8>,
}

struct Core {
    chip: Chip,
    regs: [u8; 128],
    fsk_page: [u8; 128],
    fifo: [u8; FIFO_LEN],
    manual_now_us: u64,
    clock: Option<Box<dyn Fn() -> u64 + Send>>,
    in_reset: bool,
    ready_at_us: u64,
    tx: Option<Transmission>,
    rx_write_ptr: u8,
    writes: Vec<(u8, u8)>,
    transmissions: Vec<Transmission>,
    outbox: Vec<Transmission>,
    dio0_level: bool,
    dio0_rises: u32,
    rises_pending: u32,
    spi_fail: bool,
    stall_tx: bool,
    version_override: Option<u8>,
    violations: Vec<String>,
}

/// SPI transaction state: the address byte comes first, then data.
struct Burst {
    reg: Option<u8>,
    write: bool,
}

impl Core {
    fn new(chip: Chip) -> Self {
        Core {
            chip,
            regs: reset_registers(chip),
            fsk_page: [0; 128],
            fifo: [0; FIFO_LEN],
            manual_now_us: 0,
            clock: None,
            in_reset: false,
            ready_at_us: 0,
            tx: None,
            rx_write_ptr: 0,
            writes: Vec::new(),
            transmissions: Vec::new(),
            outbox: Vec::new(),
            dio0_level: false,
            dio0_rises: 0,
            rises_pending: 0,
            spi_fail: false,
            stall_tx: false,
            version_override: None,
            violations: Vec::new(),
        }
    }

    fn now(&self) -> u64 {
        match &self.clock {
            Some(c) => c(),
            None => self.manual_now_us,
        }
    }

    fn lora(&self) -> bool {
        self.regs[REG_OP_MODE as usize] & OP_MODE_LONG_RANGE != 0
    }

    fn mode(&self) -> u8 {
        self.regs[REG_OP_MODE as usize] & MODE_MASK
    }

    fn settings(&self) -> ModemSettings {
        ModemSettings::decode(self.chip, &self.regs)
    }

    fn paged(&self, addr: u8) -> bool {
        !self.lora() && (0x0D..=0x3F).contains(&addr)
    }

    fn power_on_reset(&mut self) {
        let chip = self.chip;
        self.regs = reset_registers(chip);
        if let Some(v) = self.version_override {
            self.regs[REG_VERSION as usize] = v;
        }
        self.fsk_page = [0; 128];
        self.fifo = [0; FIFO_LEN];
        self.tx = None;
        self.rx_write_ptr = 0;
        self.update_dio0();
    }

    fn set_mode_bits(&mut self, mode: u8) {
        let r = &mut self.regs[REG_OP_MODE as usize];
        *r = (*r & !MODE_MASK) | mode;
    }

    /// Completes a transmission whose time on air has passed.
    fn update(&mut self) {
        let now = self.now();
        if let Some(tx) = &self.tx {
            if now >= tx.end_us && !self.stall_tx {
                self.tx = None;
                self.set_mode_bits(MODE_STDBY);
                self.raise(IRQ_TX_DONE);
            }
        }
    }

    fn raise(&mut self, flags: u8) {
        let unmasked = flags & !self.regs[REG_IRQ_FLAGS_MASK as usize];
        self.regs[REG_IRQ_FLAGS as usize] |= unmasked;
        self.update_dio0();
    }

    fn update_dio0(&mut self) {
        let level = self.lora() && {
            let flag = match self.regs[REG_DIO_MAPPING1 as usize] & DIO0_MASK {
                DIO0_RX_DONE => IRQ_RX_DONE,
                DIO0_TX_DONE => IRQ_TX_DONE,
                DIO0_CAD_DONE => IRQ_CAD_DONE,
                _ => 0,
            };
            self.regs[REG_IRQ_FLAGS as usize] & flag != 0
        };
        if level && !self.dio0_level {
            self.dio0_rises += 1;
            self.rises_pending += 1;
        }
        self.dio0_level = level;
    }

    fn accessible(&mut self) -> bool {
        if self.in_reset || self.now() < self.ready_at_us {
            self.violations
                .push("SPI access while the chip is in reset or starting".into());
            return false;
        }
        true
    }

    fn clock_byte(&mut self, burst: &mut Burst, mosi: u8) -> u8 {
        let Some(reg) = burst.reg else {
            burst.write = mosi & SPI_WRITE != 0;
            burst.reg = Some(mosi & !SPI_WRITE);
            return 0;
        };
        let miso = if burst.write {
            self.write(reg, mosi);
            0
        } else {
            self.read(reg)
        };
        if reg != REG_FIFO {
            burst.reg = Some((reg + 1) & 0x7F);
        }
        miso
    }

    fn fifo_ptr(&mut self) -> Option<usize> {
        if self.mode() == MODE_SLEEP {
            self.violations
                .push("LoRa FIFO accessed in Sleep mode".into());
            return None;
        }
        let p = &mut self.regs[REG_FIFO_ADDR_PTR as usize];
        let at = *p as usize;
        *p = p.wrapping_add(1);
        Some(at)
    }

    fn read(&mut self, reg: u8) -> u8 {
        if reg == REG_FIFO && self.lora() {
            return match self.fifo_ptr() {
                Some(at) => self.fifo[at],
                None => 0,
            };
        }
        if self.paged(reg) {
            self.fsk_page[reg as usize]
        } else {
            self.regs[reg as usize]
        }
    }

    fn write(&mut self, reg: u8, v: u8) {
        self.writes.push((reg, v));
        if reg == REG_OP_MODE {
            return self.write_op_mode(v);
        }
        if self.paged(reg) {
            self.fsk_page[reg as usize] = v;
            return;
        }
        match reg {
            REG_FIFO if self.lora() => {
                if let Some(at) = self.fifo_ptr() {
                    self.fifo[at] = v;
                }
            }
            REG_IRQ_FLAGS => {
                self.regs[reg as usize] &= !v;
                self.update_dio0();
            }
            // Read-only in LoRa mode.
            REG_FIFO_RX_CURRENT_ADDR
            | REG_RX_NB_BYTES..=REG_HOP_CHANNEL
            | REG_FIFO_RX_BYTE_ADDR
            | REG_VERSION => {}
            _ => {
                self.regs[reg as usize] = v;
                if reg == REG_DIO_MAPPING1 {
                    self.update_dio0();
                }
            }
        }
    }

    fn write_op_mode(&mut self, v: u8) {
        let old = self.regs[REG_OP_MODE as usize];
        let old_mode = old & MODE_MASK;
        let mut new = v;
        if (old ^ v) & OP_MODE_LONG_RANGE != 0 && old_mode != MODE_SLEEP {
            self.violations.push(format!(
                "LongRangeMode changed outside Sleep (RegOpMode {old:#04x} -> {v:#04x}): ignored"
            ));
            new = (v & !OP_MODE_LONG_RANGE) | (old & OP_MODE_LONG_RANGE);
        }
        self.regs[REG_OP_MODE as usize] = new;
        let mode = new & MODE_MASK;
        if new & OP_MODE_LONG_RANGE == 0 {
            self.tx = None;
            self.update_dio0();
            return;
        }
        if old_mode == MODE_TX && mode != MODE_TX {
            self.tx = None; // aborted: no TxDone
        }
        match mode {
            MODE_SLEEP => self.fifo = [0; FIFO_LEN],
            MODE_TX if old_mode != MODE_TX => self.start_tx(),
            MODE_RX_CONTINUOUS | MODE_RX_SINGLE
                if old_mode != MODE_RX_CONTINUOUS && old_mode != MODE_RX_SINGLE =>
            {
                self.rx_write_ptr = self.regs[REG_FIFO_RX_BASE_ADDR as usize];
            }
            _ => {}
        }
        self.update_dio0();
    }

    fn start_tx(&mut self) {
        let settings = self.settings();
        let len = settings.payload_length as usize;
        if len == 0 {
            self.violations.push("TX with RegPayloadLength 0".into());
            self.set_mode_bits(MODE_STDBY);
            return;
        }
        let base = self.regs[REG_FIFO_TX_BASE_ADDR as usize];
        let frame: Vec<u8> = (0..len)
            .map(|i| self.fifo[base.wrapping_add(i as u8) as usize])
            .collect();
        let start_us = self.now();
        let t = Transmission {
            start_us,
            end_us: start_us + settings.airtime_us(len),
            settings,
            frame,
        };
        self.transmissions.push(t.clone());
        self.outbox.push(t.clone());
        self.tx = Some(t);
    }

    fn receiving(&self) -> bool {
        !self.in_reset && self.lora() && matches!(self.mode(), MODE_RX_CONTINUOUS | MODE_RX_SINGLE)
    }

    fn rssi_offset(&self) -> f64 {
        self.chip.rssi_offset(self.settings().frequency) as f64
    }

    fn deliver(
        &mut self,
        frame: &[u8],
        rssi_dbm: f64,
        snr: f64,
        crc_present: bool,
        mut corrupt: bool,
    ) -> Delivery {
        self.update();
        if frame.is_empty() || frame.len() > 255 {
            return Delivery::Invalid;
        }
        if !self.receiving() {
            return Delivery::NotReceiving;
        }
        let settings = self.settings();
        if settings.implicit_header && frame.len() != settings.payload_length as usize {
            // Implicit header: the modem decodes RegPayloadLength bytes whatever was sent.
            corrupt = true;
        }
        let start = self.rx_write_ptr;
        for (i, b) in frame.iter().enumerate() {
            self.fifo[start.wrapping_add(i as u8) as usize] = *b;
        }
        self.rx_write_ptr = start.wrapping_add(frame.len() as u8);
        let r = &mut self.regs;
        r[REG_FIFO_RX_CURRENT_ADDR as usize] = start;
        r[REG_FIFO_RX_BYTE_ADDR as usize] = self.rx_write_ptr;
        r[REG_RX_NB_BYTES as usize] = frame.len() as u8;
        let pkt_snr = (snr * 4.0).round().clamp(-128.0, 127.0) as i8 as u8;
        // Inverse of datasheet 5.5.5: RSSI = offset + PacketRssi (+ PacketSnr/4 if SNR < 0).
        let snr_term = if (pkt_snr as i8) < 0 {
            snr_db(pkt_snr) as f64
        } else {
            0.0
        };
        let offset = self.chip.rssi_offset(settings.frequency) as f64;
        let pkt_rssi = (rssi_dbm - offset - snr_term).round().clamp(0.0, 255.0) as u8;
        let r = &mut self.regs;
        r[REG_PKT_SNR_VALUE as usize] = pkt_snr;
        r[REG_PKT_RSSI_VALUE as usize] = pkt_rssi;
        let hop = r[REG_HOP_CHANNEL as usize] & !HOP_CHANNEL_CRC_ON_PAYLOAD;
        r[REG_HOP_CHANNEL as usize] = hop
            | if crc_present {
                HOP_CHANNEL_CRC_ON_PAYLOAD
            } else {
                0
            };
        for cnt in [REG_RX_HEADER_CNT_VALUE_MSB, REG_RX_PACKET_CNT_VALUE_MSB] {
            let c = (r[cnt as usize] as u16) << 8 | r[cnt as usize + 1] as u16;
            let c = c.wrapping_add(1);
            r[cnt as usize] = (c >> 8) as u8;
            r[cnt as usize + 1] = c as u8;
        }
        // Without a CRC the modem cannot tell a corrupt payload.
        let crc_error = corrupt && (crc_present || settings.implicit_header && settings.crc_on);
        let mut flags = IRQ_RX_DONE;
        if !settings.implicit_header {
            flags |= IRQ_VALID_HEADER;
        }
        if crc_error {
            flags |= IRQ_PAYLOAD_CRC_ERROR;
        }
        self.raise(flags);
        if self.mode() == MODE_RX_SINGLE {
            self.set_mode_bits(MODE_STDBY);
        }
        if crc_error {
            Delivery::CrcError
        } else {
            Delivery::Received
        }
    }
}

struct Shared {
    core: Mutex<Core>,
    rf: Mutex<Option<Box<dyn RfSide>>>,
}

/// An emulated SX1276 or SX1272. Clones share the chip; hand its [`EmulatorSpi`],
/// [`EmulatorReset`] and [`EmulatorDio0`] to the driver and keep the emulator to drive the air.
#[derive(Clone)]
pub struct Sx127xEmulator {
    shared: Arc<Shared>,
}

impl fmt::Debug for Sx127xEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.core();
        f.debug_struct("Sx127xEmulator")
            .field("chip", &c.chip)
            .field("op_mode", &c.regs[REG_OP_MODE as usize])
            .finish()
    }
}

impl Sx127xEmulator {
    /// A powered chip, out of reset, at time 0.
    pub fn new(chip: Chip) -> Self {
        Sx127xEmulator {
            shared: Arc::new(Shared {
                core: Mutex::new(Core::new(chip)),
                rf: Mutex::new(None),
            }),
        }
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        // A panic in a test thread must not hide the chip from the others.
        self.shared.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn chip(&self) -> Chip {
        self.core().chip
    }

    pub fn spi(&self) -> EmulatorSpi {
        EmulatorSpi { emu: self.clone() }
    }

    pub fn reset_pin(&self) -> EmulatorReset {
        EmulatorReset { emu: self.clone() }
    }

    pub fn dio0(&self) -> EmulatorDio0 {
        EmulatorDio0 { emu: self.clone() }
    }

    /// A `DelayNs` that advances the emulator's time (or sleeps, with a clock).
    pub fn delay(&self) -> EmulatorDelay {
        EmulatorDelay { emu: self.clone() }
    }

    /// Plugs in the antenna.
    pub fn set_rf(&self, rf: impl RfSide + 'static) {
        *self.shared.rf.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(rf));
    }

    /// Reads time from `clock` (microseconds) instead of [`Sx127xEmulator::advance_to`].
    pub fn set_clock(&self, clock: impl Fn() -> u64 + Send + 'static) {
        self.core().clock = Some(Box::new(clock));
    }

    pub fn now_us(&self) -> u64 {
        self.core().now()
    }

    /// Moves the manual clock forward to `now_us` (never back) and lets the chip act.
    pub fn advance_to(&self, now_us: u64) {
        {
            let mut c = self.core();
            c.manual_now_us = c.manual_now_us.max(now_us);
        }
        self.pump();
    }

    pub fn advance_by(&self, us: u64) {
        let now = self.core().manual_now_us;
        self.advance_to(now.saturating_add(us));
    }

    /// When the chip or its RF side next has something to do: the end of the transmission in
    /// progress, or the RF side's next arrival.
    pub fn next_event_us(&self) -> Option<u64> {
        let tx = self.core().tx.as_ref().map(|t| t.end_us);
        let rf = self
            .shared
            .rf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|r| r.next_event_us());
        match (tx, rf) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Puts a frame in the receiver as if it arrived with good CRC and the receiver's own
    /// settings; `rssi_dbm` and `snr_db` go into RegPktRssiValue and RegPktSnrValue.
    pub fn deliver(&self, frame: &[u8], rssi_dbm: f64, snr_db: f64) -> Delivery {
        let d = self.core().deliver(frame, rssi_dbm, snr_db, true, false);
        self.pump();
        d
    }

    /// As [`Sx127xEmulator::deliver`], with a payload that fails its CRC.
    pub fn deliver_corrupted(&self, frame: &[u8], rssi_dbm: f64, snr_db: f64) -> Delivery {
        let d = self.core().deliver(frame, rssi_dbm, snr_db, true, true);
        self.pump();
        d
    }

    /// A frame sent by a chip with `tx` settings: dropped unless this receiver hears them
    /// ([`ModemSettings::hears`]); the header announces a CRC as `tx` had it.
    pub fn deliver_from(
        &self,
        tx: &ModemSettings,
        frame: &[u8],
        rssi_dbm: f64,
        snr_db: f64,
    ) -> Delivery {
        let d = {
            let mut c = self.core();
            c.update();
            if !c.receiving() {
                Delivery::NotReceiving
            } else if !c.settings().hears(tx) {
                Delivery::NotTuned
            } else {
                c.deliver(frame, rssi_dbm, snr_db, tx.crc_on, false)
            }
        };
        self.pump();
        d
    }

    /// A header arrives (ValidHeader) and the rest of the frame has not yet.
    pub fn begin_reception(&self) -> bool {
        let mut c = self.core();
        c.update();
        if c.receiving() && !c.settings().implicit_header {
            c.raise(IRQ_VALID_HEADER);
            true
        } else {
            false
        }
    }

    /// The channel's current RSSI, as RegRssiValue will report it.
    pub fn set_channel_rssi(&self, dbm: f64) {
        let mut c = self.core();
        let v = (dbm - c.rssi_offset()).round().clamp(0.0, 255.0) as u8;
        c.regs[REG_RSSI_VALUE as usize] = v;
    }

    /// Makes every SPI transaction fail (a disconnected bus).
    pub fn set_spi_failure(&self, fail: bool) {
        self.core().spi_fail = fail;
    }

    /// Makes RegVersion read `version` from the next reset on (another chip of the family, or a
    /// part that is not what the board says).
    pub fn set_version(&self, version: u8) {
        self.core().version_override = Some(version);
    }

    /// Keeps transmissions from ever completing (a PA or PLL fault).
    pub fn stall_tx(&self, stall: bool) {
        self.core().stall_tx = stall;
    }

    /// A register as the chip holds it (the LoRa page when LongRangeMode is set).
    pub fn register(&self, addr: u8) -> u8 {
        let c = self.core();
        let a = addr & 0x7F;
        if c.paged(a) {
            c.fsk_page[a as usize]
        } else {
            c.regs[a as usize]
        }
    }

    /// Every register write since the last [`Sx127xEmulator::take_writes`], in order, as
    /// `(address, value)`; FIFO writes appear as address 0.
    pub fn writes(&self) -> Vec<(u8, u8)> {
        self.core().writes.clone()
    }

    pub fn take_writes(&self) -> Vec<(u8, u8)> {
        std::mem::take(&mut self.core().writes)
    }

    /// The settings the registers hold now.
    pub fn settings(&self) -> ModemSettings {
        self.core().settings()
    }

    /// RegOpMode bits 2-0 and whether LongRangeMode is set.
    pub fn mode(&self) -> (bool, u8) {
        let c = self.core();
        (c.lora(), c.mode())
    }

    /// Every transmission started since power-on.
    pub fn transmissions(&self) -> Vec<Transmission> {
        self.core().transmissions.clone()
    }

    /// Rising edges of DIO0 so far.
    pub fn dio0_rises(&self) -> u32 {
        self.core().dio0_rises
    }

    pub fn fifo(&self) -> [u8; FIFO_LEN] {
        self.core().fifo
    }

    /// Things the driver did that the chip ignores or that break it (see module docs).
    pub fn violations(&self) -> Vec<String> {
        self.core().violations.clone()
    }

    /// Lets time act, then hands transmissions and DIO0 edges to the RF side and takes its
    /// arrivals. The core and RF locks are never held together, so an RF side may call into
    /// another emulator (or this one's public methods from another thread).
    fn pump(&self) {
        // Bounded: each round either delivers arrivals or ends.
        for _ in 0..4 {
            let (outbox, rises, rx, now) = {
                let mut c = self.core();
                c.update();
                let outbox = std::mem::take(&mut c.outbox);
                let rises = std::mem::take(&mut c.rises_pending);
                (outbox, rises, c.settings(), c.now())
            };
            let arrivals = {
                let mut rf = self.shared.rf.lock().unwrap_or_else(|e| e.into_inner());
                let Some(rf) = rf.as_mut() else { return };
                for t in &outbox {
                    rf.transmit(t.start_us, &t.settings, &t.frame);
                }
                for _ in 0..rises {
                    rf.dio0_rise();
                }
                rf.poll(now, &rx)
            };
            if arrivals.is_empty() {
                return;
            }
            let mut c = self.core();
            for a in arrivals {
                c.deliver(&a.frame, a.rssi_dbm, a.snr_db, true, false);
            }
        }
    }

    fn spi_transaction(&self, ops: &mut [Operation<'_, u8>]) -> Result<(), EmulatorSpiError> {
        self.pump();
        {
            let mut c = self.core();
            if c.spi_fail {
                return Err(EmulatorSpiError);
            }
            let ok = c.accessible();
            let mut burst = Burst {
                reg: None,
                write: false,
            };
            let mut byte = |c: &mut Core, mosi: u8| {
                if ok {
                    c.clock_byte(&mut burst, mosi)
                } else {
                    0
                }
            };
            for op in ops.iter_mut() {
                match op {
                    Operation::Write(w) => {
                        for &b in w.iter() {
                            byte(&mut c, b);
                        }
                    }
                    Operation::Read(r) => {
                        for x in r.iter_mut() {
                            *x = byte(&mut c, 0);
                        }
                    }
                    Operation::Transfer(r, w) => {
                        for i in 0..r.len().max(w.len()) {
                            let out = byte(&mut c, w.get(i).copied().unwrap_or(0));
                            if let Some(x) = r.get_mut(i) {
                                *x = out;
                            }
                        }
                    }
                    Operation::TransferInPlace(buf) => {
                        for x in buf.iter_mut() {
                            *x = byte(&mut c, *x);
                        }
                    }
                    Operation::DelayNs(_) => {}
                }
            }
        }
        self.pump();
        Ok(())
    }
}

/// The SPI error of [`EmulatorSpi`] (only when failure was asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmulatorSpiError;

impl spi::Error for EmulatorSpiError {
    fn kind(&self) -> spi::ErrorKind {
        spi::ErrorKind::Other
    }
}

/// The chip's SPI port, chip select included (an `embedded-hal` `SpiDevice`).
#[derive(Clone, Debug)]
pub struct EmulatorSpi {
    emu: Sx127xEmulator,
}

impl spi::ErrorType for EmulatorSpi {
    type Error = EmulatorSpiError;
}

impl SpiDevice for EmulatorSpi {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Self::Error> {
        self.emu.spi_transaction(operations)
    }
}

/// The chip's reset input (NRESET on the SX1276, RESET on the SX1272).
#[derive(Clone, Debug)]
pub struct EmulatorReset {
    emu: Sx127xEmulator,
}

impl digital::ErrorType for EmulatorReset {
    type Error = core::convert::Infallible;
}

impl EmulatorReset {
    fn drive(&mut self, high: bool) {
        let mut c = self.emu.core();
        if high == c.chip.reset_active_high() {
            c.in_reset = true;
            c.power_on_reset();
        } else if c.in_reset {
            c.in_reset = false;
            c.ready_at_us = c.now() + RESET_READY_US;
        }
    }
}

impl OutputPin for EmulatorReset {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.drive(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.drive(true);
        Ok(())
    }
}

/// The chip's DIO0 output.
#[derive(Clone, Debug)]
pub struct EmulatorDio0 {
    emu: Sx127xEmulator,
}

impl digital::ErrorType for EmulatorDio0 {
    type Error = core::convert::Infallible;
}

impl InputPin for EmulatorDio0 {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        self.emu.pump();
        Ok(self.emu.core().dio0_level)
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        self.is_high().map(|h| !h)
    }
}

/// Delays in emulator time: advances the manual clock, or sleeps when a clock is set.
#[derive(Clone, Debug)]
pub struct EmulatorDelay {
    emu: Sx127xEmulator,
}

impl DelayNs for EmulatorDelay {
    fn delay_ns(&mut self, ns: u32) {
        let has_clock = self.emu.core().clock.is_some();
        if has_clock {
            std::thread::sleep(std::time::Duration::from_nanos(ns as u64));
        } else {
            self.emu.advance_by((ns as u64).div_ceil(1000));
        }
    }
}

/// Any other [`Radio`] as the emulator's antenna: the unix board's `MediumRadio` carries the
/// emulator's transmissions to the medium and brings back what the air model lets through.
/// The radio is reconfigured whenever the chip's registers change the PHY.
pub struct RadioRf<R> {
    radio: R,
    base: LoRaConfig,
    applied: Option<ModemSettings>,
    next_event: Option<fn(&R) -> Option<Instant>>,
    buf: Vec<u8>,
}

impl<R: Radio + Send> RadioRf<R> {
    /// `base` supplies what the registers do not carry (region, power mode, ...).
    pub fn new(radio: R, base: LoRaConfig) -> Self {
        RadioRf {
            radio,
            base,
            applied: None,
            next_event: None,
            buf: vec![0; 256],
        }
    }

    /// How to ask the radio for its next event (e.g. `MediumRadio::next_event_at`), in ms.
    pub fn with_next_event(mut self, f: fn(&R) -> Option<Instant>) -> Self {
        self.next_event = Some(f);
        self
    }

    pub fn radio(&self) -> &R {
        &self.radio
    }

    fn apply(&mut self, s: &ModemSettings) {
        if self.applied.as_ref() == Some(s) {
            return;
        }
        let bandwidth = match s.bandwidth_hz {
            250_000 => Bandwidth::Khz250,
            500_000 => Bandwidth::Khz500,
            _ => Bandwidth::Khz125,
        };
        let config = LoRaConfig {
            frequency: s.frequency,
            tx_power: s.tx_power_dbm,
            bandwidth,
            sf: s.sf,
            preamble: s.preamble,
            coding_rate: pymesh::radio::airtime::CodingRate::from_cr(s.coding_rate)
                .unwrap_or(self.base.coding_rate),
            tx_iq: s.invert_iq_tx,
            rx_iq: s.invert_iq_rx,
            public: s.sync_word == 0x34,
            ..self.base
        };
        if self.radio.configure(&config).is_ok() {
            self.applied = Some(*s);
        }
    }
}

impl<R: Radio + Send> RfSide for RadioRf<R> {
    fn transmit(&mut self, start_us: u64, settings: &ModemSettings, frame: &[u8]) {
        self.apply(settings);
        // The radio's own clock times the frame; a refusal is a frame lost on the air.
        let _ = self
            .radio
            .transmit(Instant::from_millis(start_us / 1000), frame);
    }

    fn poll(&mut self, now_us: u64, rx: &ModemSettings) -> Vec<RfArrival> {
        self.apply(rx);
        let now = Instant::from_millis(now_us / 1000);
        let mut out = Vec::new();
        // Bounded like the mesh's own poll loop.
        for _ in 0..16 {
            match self.radio.poll_event(now, &mut self.buf) {
                Some(RadioEvent::Received(info)) => out.push(RfArrival {
                    frame: self.buf[..info.len.min(self.buf.len())].to_vec(),
                    rssi_dbm: info.rssi_dbm as f64,
                    snr_db: info.snr_db as f64,
                }),
                Some(RadioEvent::TxDone) => {}
                None => break,
            }
        }
        out
    }

    fn next_event_us(&self) -> Option<u64> {
        let f = self.next_event?;
        f(&self.radio).map(|t| t.millis() * 1000)
    }
}
