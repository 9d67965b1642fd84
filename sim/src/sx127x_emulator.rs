//! The SX1276 / SX1272 register-level emulator (`pymesh-sx127x-emu`, the chip model, no_std)
//! with its antenna on the simulated medium, behind `embedded-hal` 1.0 traits, so the real
//! driver (`pymesh::radio::sx127x::Sx127x`) runs unchanged against it: the driver path used on
//! hardware is the one every test and the unix firmware exercise. What the chip model covers
//! is in `pymesh_sx127x_emu`'s documentation; this module adds what needs std: a shared handle
//! for several threads, a clock, the RF side, and logs for tests.
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

use pymesh::radio::region::Bandwidth;
use pymesh::radio::sx127x::chip::{snr_db, Chip};
use pymesh::radio::sx127x::registers::*;
use pymesh::radio::{LoRaConfig, Radio, RadioEvent};
use pymesh::time::Instant;
pub use pymesh_sx127x_emu::{
    reset_registers, Delivery, ModemSettings, Violation, FIFO_LEN, RESET_READY_US,
};
use pymesh_sx127x_emu::{Arrival, Events, Sx127xChip};

use crate::air::Phy;

/// The air model's view of the modem settings.
pub trait OnAir {
    /// The settings as the air model and the medium know them.
    fn phy(&self) -> Phy;
}

impl OnAir for ModemSettings {
    fn phy(&self) -> Phy {
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

/// One transmission the chip made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission {
    pub start_us: u64,
    pub end_us: u64,
    pub settings: ModemSettings,
    pub frame: Vec<u8>,
}

/// The std side's records of what the chip did.
#[derive(Default)]
struct Log {
    writes: Vec<(u8, u8)>,
    transmissions: Vec<Transmission>,
    outbox: Vec<Transmission>,
    violations: Vec<String>,
}

impl Events for Log {
    fn register_written(&mut self, reg: u8, value: u8) {
        self.writes.push((reg, value));
    }
    fn violation(&mut self, violation: Violation) {
        self.violations.push(violation.to_string());
    }
    fn transmission(&mut self, start_us: u64, end_us: u64, settings: &ModemSettings, frame: &[u8]) {
        let t = Transmission {
            start_us,
            end_us,
            settings: *settings,
            frame: frame.to_vec(),
        };
        self.transmissions.push(t.clone());
        self.outbox.push(t);
    }
}

struct Core {
    chip: Sx127xChip,
    manual_now_us: u64,
    clock: Option<Box<dyn Fn() -> u64 + Send>>,
    log: Log,
}

impl Core {
    fn now(&self) -> u64 {
        match &self.clock {
            Some(c) => c(),
            None => self.manual_now_us,
        }
    }

    fn update(&mut self) {
        let now = self.now();
        self.chip.update(now);
    }

    /// RegPktRssiValue and RegPktSnrValue for a frame received at `rssi_dbm` and `snr`:
    /// the inverse of datasheet 5.5.5 (RSSI = offset + PacketRssi, + PacketSnr/4 if SNR < 0).
    fn deliver(
        &mut self,
        frame: &[u8],
        rssi_dbm: f64,
        snr: f64,
        crc_present: bool,
        corrupt: bool,
    ) -> Delivery {
        let pkt_snr = (snr * 4.0).round().clamp(-128.0, 127.0) as i8 as u8;
        let snr_term = if (pkt_snr as i8) < 0 {
            snr_db(pkt_snr) as f64
        } else {
            0.0
        };
        let settings = self.chip.settings();
        let offset = self.chip.chip().rssi_offset(settings.frequency) as f64;
        let pkt_rssi = (rssi_dbm - offset - snr_term).round().clamp(0.0, 255.0) as u8;
        let now = self.now();
        self.chip.deliver(
            now,
            Arrival {
                frame,
                pkt_rssi,
                pkt_snr,
                crc_present,
                corrupt,
            },
        )
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
            .field("chip", &c.chip.chip())
            .field("op_mode", &c.chip.register(REG_OP_MODE))
            .finish()
    }
}

impl Sx127xEmulator {
    /// A powered chip, out of reset, at time 0.
    pub fn new(chip: Chip) -> Self {
        Sx127xEmulator {
            shared: Arc::new(Shared {
                core: Mutex::new(Core {
                    chip: Sx127xChip::new(chip),
                    manual_now_us: 0,
                    clock: None,
                    log: Log::default(),
                }),
                rf: Mutex::new(None),
            }),
        }
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        // A panic in a test thread must not hide the chip from the others.
        self.shared.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn chip(&self) -> Chip {
        self.core().chip.chip()
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
        let tx = self.core().chip.tx_end_us();
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
            if !c.chip.receiving() {
                Delivery::NotReceiving
            } else if !c.chip.settings().hears(tx) {
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
        let now = c.now();
        c.chip.begin_reception(now)
    }

    /// The channel's current RSSI, as RegRssiValue will report it.
    pub fn set_channel_rssi(&self, dbm: f64) {
        let mut c = self.core();
        let offset = c.chip.chip().rssi_offset(c.chip.settings().frequency) as f64;
        let v = (dbm - offset).round().clamp(0.0, 255.0) as u8;
        c.chip.set_rssi_value(v);
    }

    /// Makes every SPI transaction fail (a disconnected bus).
    pub fn set_spi_failure(&self, fail: bool) {
        self.core().chip.set_spi_failure(fail);
    }

    /// Makes RegVersion read `version` from the next reset on (another chip of the family, or a
    /// part that is not what the board says).
    pub fn set_version(&self, version: u8) {
        self.core().chip.set_version(version);
    }

    /// Keeps transmissions from ever completing (a PA or PLL fault).
    pub fn stall_tx(&self, stall: bool) {
        self.core().chip.stall_tx(stall);
    }

    /// A register as the chip holds it (the LoRa page when LongRangeMode is set).
    pub fn register(&self, addr: u8) -> u8 {
        self.core().chip.register(addr)
    }

    /// Every register write since the last [`Sx127xEmulator::take_writes`], in order, as
    /// `(address, value)`; FIFO writes appear as address 0.
    pub fn writes(&self) -> Vec<(u8, u8)> {
        self.core().log.writes.clone()
    }

    pub fn take_writes(&self) -> Vec<(u8, u8)> {
        std::mem::take(&mut self.core().log.writes)
    }

    /// The settings the registers hold now.
    pub fn settings(&self) -> ModemSettings {
        self.core().chip.settings()
    }

    /// RegOpMode bits 2-0 and whether LongRangeMode is set.
    pub fn mode(&self) -> (bool, u8) {
        self.core().chip.mode()
    }

    /// Every transmission started since power-on.
    pub fn transmissions(&self) -> Vec<Transmission> {
        self.core().log.transmissions.clone()
    }

    /// Rising edges of DIO0 so far.
    pub fn dio0_rises(&self) -> u32 {
        self.core().chip.dio0_rises()
    }

    pub fn fifo(&self) -> [u8; FIFO_LEN] {
        *self.core().chip.fifo()
    }

    /// Things the driver did that the chip ignores or that break it (see module docs).
    pub fn violations(&self) -> Vec<String> {
        self.core().log.violations.clone()
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
                let outbox = std::mem::take(&mut c.log.outbox);
                let rises = c.chip.take_rises_pending();
                (outbox, rises, c.chip.settings(), c.now())
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
            let now = c.now();
            let Core { chip, log, .. } = &mut *c;
            chip.spi_transaction(now, ops, log)
                .map_err(|_| EmulatorSpiError)?;
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
        let now = c.now();
        c.chip.drive_reset(now, high);
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
        let mut c = self.emu.core();
        let now = c.now();
        Ok(c.chip.dio0(now))
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
