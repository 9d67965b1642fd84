//! An SX1276 / SX1272 at register level, `no_std` and heap-free, so the real driver
//! (`pymesh::radio::sx127x::Sx127x`) runs unchanged against it on the host (`pymesh-sim`'s
//! `sx127x_emulator` wraps it with the simulated medium) and bare metal (the qemu board).
//!
//! What it models (Semtech SX1276 datasheet rev. 4 and SX1272 datasheet rev. 2, section 4.1
//! "LoRa Modem" and section 6 "Registers"):
//! - the register file with the datasheets' reset values, LoRa page and common registers; the
//!   FSK page (0x0D..0x3F with LongRangeMode clear) is storage only, reset to zero;
//! - SPI framing: address byte with the `wnr` bit, burst access with address auto-increment,
//!   RegFifo (0x00) reading/writing the 256-byte FIFO at RegFifoAddrPtr, which increments;
//! - RegOpMode: LongRangeMode changes only in Sleep, or by the write that enters Sleep (see
//!   [`Sx127xChip::spi_transaction`]); a change between two other modes is ignored, as on the
//!   chip, and reported as a [`Violation`]; the LoRa FIFO is cleared in Sleep and not
//!   accessible there; TX sends RegPayloadLength bytes from RegFifoTxBaseAddr and returns to
//!   standby with TxDone once the time on air has passed; RX continuous and RX single write
//!   received frames from RegFifoRxBaseAddr on (RegFifoRxCurrentAddr, RegRxNbBytes,
//!   RegFifoRxByteAddr, RegPktSnrValue, RegPktRssiValue, RegHopChannel CrcOnPayload);
//! - RegIrqFlags (write 1 to clear) and RegIrqFlagsMask; DIO0 per RegDioMapping1 (RxDone,
//!   TxDone, CadDone), with its rising edges counted;
//! - the reset pin (active low on the SX1276, high on the SX1272) and the 5 ms before the chip
//!   answers after reset.
//!
//! Time is passed in (microseconds, the owner's clock) on every call; what the owner wants to
//! know as it happens (register writes, violations, transmissions) goes to an [`Events`].
//! [`EmuSpi`], [`EmuReset`] and [`EmuDio0`] put the `embedded-hal` 1.0 traits on a chip shared
//! through a [`ChipCell`] (a `critical_section` mutex on bare metal).

#![no_std]

use core::fmt;

use embedded_hal::digital::{self, InputPin, OutputPin};
use embedded_hal::spi::{self, Operation, SpiDevice};

use pymesh::radio::airtime::LoRaModulation;
use pymesh::radio::sx127x::chip::Chip;
use pymesh::radio::sx127x::registers::*;

pub const FIFO_LEN: usize = 256;
/// Datasheet 7.2: the chip answers 5 ms after its reset is released.
pub const RESET_READY_US: u64 = 5_000;

/// Reset values of the common registers and the LoRa page (datasheet register tables, "Reset"
/// column of the LoRa mode map; common registers 0x01..0x0C and 0x40.. from the FSK map).
pub const fn reset_registers(chip: Chip) -> [u8; 128] {
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
        self.frequency == tx.frequency
            && self.sf == tx.sf
            && self.bandwidth_hz == tx.bandwidth_hz
            && self.sync_word == tx.sync_word
            && self.implicit_header == tx.implicit_header
            && self.invert_iq_rx == tx.invert_iq_tx
    }

    /// The settings `r` holds for `chip`.
    pub fn decode(chip: Chip, r: &[u8; 128]) -> ModemSettings {
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
                    // Pout = Pmax - (15 - OutputPower), Pmax = 10.8 + 0.6 MaxPower, in tenths
                    // of a dB; Pmax's tenths are never 5, so rounding has no ties.
                    let max_power = ((pa_config >> 4) & 0x07) as i16;
                    let tenths = 108 + 6 * max_power - 10 * (15 - output_power as i16);
                    let rounded = if tenths >= 0 {
                        (tenths + 5) / 10
                    } else {
                        -((-tenths + 5) / 10)
                    };
                    rounded as i8
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

/// Something the driver did that the chip ignores or that breaks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// SPI access while the chip is held in reset or in its 5 ms start-up.
    AccessInReset,
    /// RegFifo read or written in Sleep, where the LoRa FIFO is not accessible.
    FifoInSleep,
    /// LongRangeMode changed between two modes neither of which is Sleep: ignored.
    LongRangeModeOutsideSleep { from: u8, to: u8 },
    /// TX entered with RegPayloadLength 0.
    TxWithoutPayload,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::AccessInReset => {
                f.write_str("SPI access while the chip is in reset or starting")
            }
            Violation::FifoInSleep => f.write_str("LoRa FIFO accessed in Sleep mode"),
            Violation::LongRangeModeOutsideSleep { from, to } => write!(
                f,
                "LongRangeMode changed outside Sleep (RegOpMode {from:#04x} -> {to:#04x}): ignored"
            ),
            Violation::TxWithoutPayload => f.write_str("TX with RegPayloadLength 0"),
        }
    }
}

/// What the chip tells its owner as it happens. Every method does nothing by default.
pub trait Events {
    /// A register write over SPI, in order; FIFO writes appear as address 0.
    fn register_written(&mut self, _reg: u8, _value: u8) {}
    fn violation(&mut self, _violation: Violation) {}
    /// A frame started to leave the antenna at `start_us`; it ends at `end_us`.
    fn transmission(
        &mut self,
        _start_us: u64,
        _end_us: u64,
        _settings: &ModemSettings,
        _frame: &[u8],
    ) {
    }
}

/// An owner that wants to hear nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl Events for NoEvents {}

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

/// A frame for the receiver, with the values the modem puts in RegPktRssiValue and
/// RegPktSnrValue for it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    pub frame: &'a [u8],
    pub pkt_rssi: u8,
    pub pkt_snr: u8,
    /// The header announced a payload CRC.
    pub crc_present: bool,
    /// The payload was damaged on the way.
    pub corrupt: bool,
}

/// The SPI error: the bus was made to fail ([`Sx127xChip::set_spi_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpiFailure;

impl spi::Error for SpiFailure {
    fn kind(&self) -> spi::ErrorKind {
        spi::ErrorKind::Other
    }
}

/// SPI transaction state: the address byte comes first, then data.
struct Burst {
    reg: Option<u8>,
    write: bool,
}

/// One SX1276 or SX1272: registers, FIFO, modes, IRQ flags, DIO0.
#[derive(Debug, Clone)]
pub struct Sx127xChip {
    chip: Chip,
    regs: [u8; 128],
    fsk_page: [u8; 128],
    fifo: [u8; FIFO_LEN],
    in_reset: bool,
    ready_at_us: u64,
    /// End of the transmission in progress.
    tx_end_us: Option<u64>,
    rx_write_ptr: u8,
    dio0_level: bool,
    dio0_rises: u32,
    rises_pending: u32,
    transmissions: u32,
    spi_fail: bool,
    stall_tx: bool,
    version_override: Option<u8>,
}

impl Sx127xChip {
    /// A powered chip, out of reset.
    pub const fn new(chip: Chip) -> Self {
        Sx127xChip {
            chip,
            regs: reset_registers(chip),
            fsk_page: [0; 128],
            fifo: [0; FIFO_LEN],
            in_reset: false,
            ready_at_us: 0,
            tx_end_us: None,
            rx_write_ptr: 0,
            dio0_level: false,
            dio0_rises: 0,
            rises_pending: 0,
            transmissions: 0,
            spi_fail: false,
            stall_tx: false,
            version_override: None,
        }
    }

    pub fn chip(&self) -> Chip {
        self.chip
    }

    fn lora(&self) -> bool {
        self.regs[REG_OP_MODE as usize] & OP_MODE_LONG_RANGE != 0
    }

    fn mode_bits(&self) -> u8 {
        self.regs[REG_OP_MODE as usize] & MODE_MASK
    }

    /// RegOpMode bits 2-0 and whether LongRangeMode is set.
    pub fn mode(&self) -> (bool, u8) {
        (self.lora(), self.mode_bits())
    }

    /// The settings the registers hold now.
    pub fn settings(&self) -> ModemSettings {
        ModemSettings::decode(self.chip, &self.regs)
    }

    fn paged(&self, addr: u8) -> bool {
        !self.lora() && (0x0D..=0x3F).contains(&addr)
    }

    /// A register as the chip holds it (the LoRa page when LongRangeMode is set).
    pub fn register(&self, addr: u8) -> u8 {
        let a = addr & 0x7F;
        if self.paged(a) {
            self.fsk_page[a as usize]
        } else {
            self.regs[a as usize]
        }
    }

    pub fn fifo(&self) -> &[u8; FIFO_LEN] {
        &self.fifo
    }

    /// Rising edges of DIO0 since power-on.
    pub fn dio0_rises(&self) -> u32 {
        self.dio0_rises
    }

    /// Rising edges of DIO0 since the last call (the board's interrupt latch).
    pub fn take_rises_pending(&mut self) -> u32 {
        core::mem::take(&mut self.rises_pending)
    }

    /// Transmissions started since power-on.
    pub fn transmissions(&self) -> u32 {
        self.transmissions
    }

    /// When the transmission in progress ends.
    pub fn tx_end_us(&self) -> Option<u64> {
        self.tx_end_us
    }

    /// Makes every SPI transaction fail (a disconnected bus).
    pub fn set_spi_failure(&mut self, fail: bool) {
        self.spi_fail = fail;
    }

    /// Makes RegVersion read `version` from the next reset on (another chip of the family, or
    /// a part that is not what the board says).
    pub fn set_version(&mut self, version: u8) {
        self.version_override = Some(version);
    }

    /// Keeps transmissions from ever completing (a PA or PLL fault).
    pub fn stall_tx(&mut self, stall: bool) {
        self.stall_tx = stall;
    }

    /// RegRssiValue: the channel's current RSSI as the chip will report it.
    pub fn set_rssi_value(&mut self, value: u8) {
        self.regs[REG_RSSI_VALUE as usize] = value;
    }

    fn power_on_reset(&mut self) {
        self.regs = reset_registers(self.chip);
        if let Some(v) = self.version_override {
            self.regs[REG_VERSION as usize] = v;
        }
        self.fsk_page = [0; 128];
        self.fifo = [0; FIFO_LEN];
        self.tx_end_us = None;
        self.rx_write_ptr = 0;
        self.update_dio0();
    }

    /// The reset pin driven to `high` at `now_us`.
    pub fn drive_reset(&mut self, now_us: u64, high: bool) {
        if high == self.chip.reset_active_high() {
            self.in_reset = true;
            self.power_on_reset();
        } else if self.in_reset {
            self.in_reset = false;
            self.ready_at_us = now_us + RESET_READY_US;
        }
    }

    fn set_mode_bits(&mut self, mode: u8) {
        let r = &mut self.regs[REG_OP_MODE as usize];
        *r = (*r & !MODE_MASK) | mode;
    }

    /// Lets time act: completes a transmission whose time on air has passed by `now_us`.
    pub fn update(&mut self, now_us: u64) {
        if let Some(end) = self.tx_end_us {
            if now_us >= end && !self.stall_tx {
                self.tx_end_us = None;
                self.set_mode_bits(MODE_STDBY);
                self.raise(IRQ_TX_DONE);
            }
        }
    }

    /// DIO0's level at `now_us`.
    pub fn dio0(&mut self, now_us: u64) -> bool {
        self.update(now_us);
        self.dio0_level
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

    /// One SPI transaction (chip select low for its length) at `now_us`.
    pub fn spi_transaction(
        &mut self,
        now_us: u64,
        ops: &mut [Operation<'_, u8>],
        ev: &mut impl Events,
    ) -> Result<(), SpiFailure> {
        self.update(now_us);
        if self.spi_fail {
            return Err(SpiFailure);
        }
        let ok = if self.in_reset || now_us < self.ready_at_us {
            ev.violation(Violation::AccessInReset);
            false
        } else {
            true
        };
        let mut burst = Burst {
            reg: None,
            write: false,
        };
        let mut byte = |c: &mut Self, mosi: u8| {
            if ok {
                c.clock_byte(now_us, &mut burst, mosi, ev)
            } else {
                0
            }
        };
        for op in ops.iter_mut() {
            match op {
                Operation::Write(w) => {
                    for &b in w.iter() {
                        byte(self, b);
                    }
                }
                Operation::Read(r) => {
                    for x in r.iter_mut() {
                        *x = byte(self, 0);
                    }
                }
                Operation::Transfer(r, w) => {
                    for i in 0..r.len().max(w.len()) {
                        let out = byte(self, w.get(i).copied().unwrap_or(0));
                        if let Some(x) = r.get_mut(i) {
                            *x = out;
                        }
                    }
                }
                Operation::TransferInPlace(buf) => {
                    for x in buf.iter_mut() {
                        *x = byte(self, *x);
                    }
                }
                Operation::DelayNs(_) => {}
            }
        }
        Ok(())
    }

    fn clock_byte(&mut self, now_us: u64, burst: &mut Burst, mosi: u8, ev: &mut impl Events) -> u8 {
        let Some(reg) = burst.reg else {
            burst.write = mosi & SPI_WRITE != 0;
            burst.reg = Some(mosi & !SPI_WRITE);
            return 0;
        };
        let miso = if burst.write {
            self.write(now_us, reg, mosi, ev);
            0
        } else {
            self.read(reg, ev)
        };
        if reg != REG_FIFO {
            burst.reg = Some((reg + 1) & 0x7F);
        }
        miso
    }

    fn fifo_ptr(&mut self, ev: &mut impl Events) -> Option<usize> {
        if self.mode_bits() == MODE_SLEEP {
            ev.violation(Violation::FifoInSleep);
            return None;
        }
        let p = &mut self.regs[REG_FIFO_ADDR_PTR as usize];
        let at = *p as usize;
        *p = p.wrapping_add(1);
        Some(at)
    }

    fn read(&mut self, reg: u8, ev: &mut impl Events) -> u8 {
        if reg == REG_FIFO && self.lora() {
            return match self.fifo_ptr(ev) {
                Some(at) => self.fifo[at],
                None => 0,
            };
        }
        self.register(reg)
    }

    fn write(&mut self, now_us: u64, reg: u8, v: u8, ev: &mut impl Events) {
        ev.register_written(reg, v);
        if reg == REG_OP_MODE {
            return self.write_op_mode(now_us, v, ev);
        }
        if self.paged(reg) {
            self.fsk_page[reg as usize] = v;
            return;
        }
        match reg {
            REG_FIFO if self.lora() => {
                if let Some(at) = self.fifo_ptr(ev) {
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

    fn write_op_mode(&mut self, now_us: u64, v: u8, ev: &mut impl Events) {
        let old = self.regs[REG_OP_MODE as usize];
        let old_mode = old & MODE_MASK;
        let mut new = v;
        // Datasheet: LongRangeMode "can be modified only in Sleep mode". The write that enters
        // Sleep counts: RadioHead's RH_RF95::init writes LoRa|Sleep once from the reset state
        // (FSK standby) and fails unless RegOpMode then reads 0x80; Arduino-LoRa, which the
        // sx127x_lora crate ports, writes the same.
        if (old ^ v) & OP_MODE_LONG_RANGE != 0
            && old_mode != MODE_SLEEP
            && v & MODE_MASK != MODE_SLEEP
        {
            ev.violation(Violation::LongRangeModeOutsideSleep { from: old, to: v });
            new = (v & !OP_MODE_LONG_RANGE) | (old & OP_MODE_LONG_RANGE);
        }
        self.regs[REG_OP_MODE as usize] = new;
        let mode = new & MODE_MASK;
        if new & OP_MODE_LONG_RANGE == 0 {
            self.tx_end_us = None;
            self.update_dio0();
            return;
        }
        if old_mode == MODE_TX && mode != MODE_TX {
            self.tx_end_us = None; // aborted: no TxDone
        }
        match mode {
            MODE_SLEEP => self.fifo = [0; FIFO_LEN],
            MODE_TX if old_mode != MODE_TX => self.start_tx(now_us, ev),
            MODE_RX_CONTINUOUS | MODE_RX_SINGLE
                if old_mode != MODE_RX_CONTINUOUS && old_mode != MODE_RX_SINGLE =>
            {
                self.rx_write_ptr = self.regs[REG_FIFO_RX_BASE_ADDR as usize];
            }
            _ => {}
        }
        self.update_dio0();
    }

    fn start_tx(&mut self, now_us: u64, ev: &mut impl Events) {
        let settings = self.settings();
        let len = settings.payload_length as usize;
        if len == 0 {
            ev.violation(Violation::TxWithoutPayload);
            self.set_mode_bits(MODE_STDBY);
            return;
        }
        let base = self.regs[REG_FIFO_TX_BASE_ADDR as usize];
        let mut frame = [0u8; 255];
        for (i, b) in frame[..len].iter_mut().enumerate() {
            *b = self.fifo[base.wrapping_add(i as u8) as usize];
        }
        let end_us = now_us + settings.airtime_us(len);
        self.transmissions += 1;
        ev.transmission(now_us, end_us, &settings, &frame[..len]);
        self.tx_end_us = Some(end_us);
    }

    /// Whether the receiver is on (RX continuous or single, LoRa mode, out of reset).
    pub fn receiving(&self) -> bool {
        !self.in_reset
            && self.lora()
            && matches!(self.mode_bits(), MODE_RX_CONTINUOUS | MODE_RX_SINGLE)
    }

    /// A header arrives (ValidHeader) and the rest of the frame has not yet.
    pub fn begin_reception(&mut self, now_us: u64) -> bool {
        self.update(now_us);
        if self.receiving() && !self.settings().implicit_header {
            self.raise(IRQ_VALID_HEADER);
            true
        } else {
            false
        }
    }

    /// Puts a frame into the receiver at `now_us`, as the modem does at the end of a packet.
    pub fn deliver(&mut self, now_us: u64, a: Arrival<'_>) -> Delivery {
        self.update(now_us);
        let frame = a.frame;
        if frame.is_empty() || frame.len() > 255 {
            return Delivery::Invalid;
        }
        if !self.receiving() {
            return Delivery::NotReceiving;
        }
        let settings = self.settings();
        let mut corrupt = a.corrupt;
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
        r[REG_PKT_SNR_VALUE as usize] = a.pkt_snr;
        r[REG_PKT_RSSI_VALUE as usize] = a.pkt_rssi;
        let hop = r[REG_HOP_CHANNEL as usize] & !HOP_CHANNEL_CRC_ON_PAYLOAD;
        r[REG_HOP_CHANNEL as usize] = hop
            | if a.crc_present {
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
        let crc_error = corrupt && (a.crc_present || settings.implicit_header && settings.crc_on);
        let mut flags = IRQ_RX_DONE;
        if !settings.implicit_header {
            flags |= IRQ_VALID_HEADER;
        }
        if crc_error {
            flags |= IRQ_PAYLOAD_CRC_ERROR;
        }
        self.raise(flags);
        if self.mode_bits() == MODE_RX_SINGLE {
            self.set_mode_bits(MODE_STDBY);
        }
        if crc_error {
            Delivery::CrcError
        } else {
            Delivery::Received
        }
    }
}

/// One chip shared by its SPI port and pins, with the clock that times it.
pub trait ChipCell {
    /// Runs `f` with the chip and the time now (µs).
    fn with_chip<R>(&self, f: impl FnOnce(&mut Sx127xChip, u64) -> R) -> R;
}

impl<T: ChipCell> ChipCell for &T {
    fn with_chip<R>(&self, f: impl FnOnce(&mut Sx127xChip, u64) -> R) -> R {
        (**self).with_chip(f)
    }
}

/// The chip's SPI port, chip select included (an `embedded-hal` `SpiDevice`).
#[derive(Debug, Clone, Copy)]
pub struct EmuSpi<C>(pub C);

impl<C> spi::ErrorType for EmuSpi<C> {
    type Error = SpiFailure;
}

impl<C: ChipCell> SpiDevice for EmuSpi<C> {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), SpiFailure> {
        self.0
            .with_chip(|chip, now| chip.spi_transaction(now, operations, &mut NoEvents))
    }
}

/// The chip's reset input (NRESET on the SX1276, RESET on the SX1272).
#[derive(Debug, Clone, Copy)]
pub struct EmuReset<C>(pub C);

impl<C> digital::ErrorType for EmuReset<C> {
    type Error = core::convert::Infallible;
}

impl<C: ChipCell> OutputPin for EmuReset<C> {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.0.with_chip(|chip, now| chip.drive_reset(now, false));
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.0.with_chip(|chip, now| chip.drive_reset(now, true));
        Ok(())
    }
}

/// The chip's DIO0 output.
#[derive(Debug, Clone, Copy)]
pub struct EmuDio0<C>(pub C);

impl<C> digital::ErrorType for EmuDio0<C> {
    type Error = core::convert::Infallible;
}

impl<C: ChipCell> InputPin for EmuDio0<C> {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        Ok(self.0.with_chip(|chip, now| chip.dio0(now)))
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        self.is_high().map(|h| !h)
    }
}
