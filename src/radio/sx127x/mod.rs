//! The Semtech SX1276 / SX1272 LoRa transceiver driver: the chip behind the [`Radio`] trait,
//! over `embedded-hal` 1.0 (an SPI device, the reset pin, the DIO0 pin). The board owns the
//! pins and the bus; this module owns the chip's registers, its operating modes and the
//! transmit/receive state machine; the mesh sees only [`Radio`] (the split lora-phy makes).
//!
//! - [`registers`]: the LoRa-mode register map both chips share (datasheet names).
//! - [`chip`]: everything that differs between the SX1276 and the SX1272, in one table.
//!
//! # What goes through the `sx127x_lora` crate, and what does not
//! The design card named `sx127x_lora` (0.3.1, SX1276 only, `embedded-hal` 0.2). It is a real
//! dependency: [`Sx127x::init`] brings the chip up with the crate's `LoRa::new`, over the
//! adapters of [`crate_port`] (our 1.0 `SpiDevice`, reset pin and `DelayNs` seen as 0.2 parts):
//! - through the crate: the reset pulse (10 ms asserted, 10 ms before the first access, longer
//!   than the datasheet's 100 µs + 5 ms), the RegVersion probe, and on the SX1276 the LoRa-mode
//!   init: LoRa Sleep, RegFrf at [`CRATE_INIT_MHZ`], both FIFO base addresses at 0 (a frame owns
//!   the whole FIFO, half-duplex), LNA boost, AgcAutoOn, standby. On the SX1272 the crate resets
//!   and probes, then refuses the chip (`VersionMismatch(0x22)`): the LoRa-mode init is done
//!   here, in two steps (Sleep, then LongRangeMode), as the datasheet has it.
//! - not through the crate, and why:
//!   - the crate's only constructor resets the chip, and a `LoRa` keeps the bus and pins to
//!     itself with no way to reach the registers it does not set: a long-lived crate object
//!     and our register code cannot share the one `SpiDevice`, so everything after init is ours.
//!     A short-lived one made again for each configuration (with a reset pin it does not
//!     drive) would re-run the whole init each time: Sleep, which empties the FIFO, RegFrf
//!     in whole MHz, RegModemConfig3 = 0x04. And even with a second bus handle, its other
//!     calls are wrong for the mesh:
//!   - frequency: whole MHz only (`set_frequency(868)`); EU868's 868.1 MHz or EU433's
//!     433.175 MHz cannot be set, so [`Sx127x::apply_config`] writes the exact RegFrf;
//!   - SF/bandwidth/coding rate/CRC/LDRO setters write the SX1276 bit positions of
//!     RegModemConfig1/2/3; on the FiPy's SX1272 those land in other fields (see [`chip`]), and
//!     its `set_mode` clears bit 0 of RegModemConfig1 on every mode change, which is the
//!     SX1272's LowDataRateOptimize;
//!   - tx power: right for the SX1276 (the same PaConfig/PaDac/Ocp values as [`chip`], less
//!     MaxPower on PA_BOOST, where it has no effect), but RegPaDac is the SX1276's 0x4D (the
//!     SX1272's is 0x5A) and the RFO formula is the SX1276's;
//!   - transmit-done and receive are busy-waits (`transmit_payload_busy`, `poll_irq`), which
//!     the mesh (one thread, time passed in) must never do;
//!   - its LowDataRateOptimize rule truncates the symbol time to whole milliseconds, so SF11
//!     at 125 kHz (16.4 ms symbols, where the datasheet mandates LDRO) gets none;
//!   - bugs: its implicit-header setter clears RegModemConfig1 instead of setting bit 0, its
//!     TxDone check compares `flags & 0x08` with 1, `read_packet` clears every IRQ flag before
//!     the CRC error can be seen, its packet SNR is not divided by 4, and its packet RSSI is
//!     `value - 157` whatever the port, chip (-139 on the SX1272) or SNR.
//!
//! Kept from it as well: its choice of settings (LNA boost, AGC on, +20 dBm through RegPaDac
//! 0x87 with a 140 mA current limit, RegInvertIQ 0x66/0x27 as LoRaMac-node).
//!
//! # No busy-wait
//! Nothing here waits on the chip. [`Radio::transmit`] fills the FIFO and starts TX;
//! [`Radio::poll_event`] looks at DIO0 (when the board wired it) and RegIrqFlags and returns at
//! once. A transmission that never raises TxDone is ended after a deadline computed from its
//! time on air ([`tx_deadline`]); since the [`Radio`] trait has no failure event and the mesh
//! waits for TxDone before sending again, it is then reported as `TxDone` (the frame is lost, as
//! on a collision, and the MAC's retries handle it) and recorded as [`Fault::TxTimeout`] for
//! the board to read with [`Sx127x::take_fault`]. The only delays are the datasheet's reset
//! timings in [`Sx127x::init`] (the crate's 10 ms + 10 ms, through the board's `DelayNs`).
//!
//! # Framing
//! Pymesh frames are sent as Pycom's were: explicit header, payload CRC on, low-data-rate
//! optimisation when a symbol lasts over 16 ms (both per [`LoRaConfig::modulation`], the
//! airtime module's rules). A received frame whose header announces no CRC, or whose CRC
//! fails, is dropped and counted. SF6 needs implicit header mode: the receiver is then set for
//! [`MAX_FRAME_LEN`]-byte payloads, so only frames of that length decode (see the report).

pub mod chip;
pub mod crate_port;
pub mod registers;

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::spi::{Operation, SpiDevice};

use crate::radio::region::LoRaConfig;
use crate::radio::{Radio, RadioError, RadioEvent, RxInfo, MAX_FRAME_LEN};
use crate::time::{Duration, Instant};
pub use chip::{Chip, PaPin};
use crate_port::{CrateCs, CrateDelay, CrateReset, CrateSpi};
use registers::*;

/// The carrier given to the crate's `LoRa::new`, which takes whole MHz: the SX1276's reset
/// RegFrf (0x6C8000, 434 MHz), so the crate changes nothing there; [`Sx127x::apply_config`]
/// writes the configured frequency exactly.
pub const CRATE_INIT_MHZ: i64 = 434;

/// Slack added to a transmission's time on air before it is declared lost: PLL lock and PA
/// ramp-up (well under 1 ms), the host's millisecond clock and its polling period.
pub const TX_TIMEOUT_MARGIN: Duration = Duration(50);

/// When a `len`-byte transmission started at `now` is declared lost: time on air plus a quarter
/// (crystal tolerance on long SF12 frames) plus [`TX_TIMEOUT_MARGIN`].
pub fn tx_deadline(config: &LoRaConfig, now: Instant, len: usize) -> Instant {
    let toa = config.modulation().time_on_air(len);
    now + toa + Duration(toa.0 / 4) + TX_TIMEOUT_MARGIN
}

/// Why the driver could not bring up or configure the chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The SPI device reported an error.
    Spi,
    /// The reset pin could not be driven.
    ResetPin,
    /// RegVersion is not the expected chip's: another chip, or none (0x00 / 0xFF).
    WrongVersion { chip: Chip, found: u8 },
    /// The chip did not enter LoRa mode (RegOpMode read back without LongRangeMode).
    LoRaModeRefused { op_mode: u8 },
    /// [`Sx127x::init`] has not succeeded yet.
    NotInitialised,
    /// A transmission is in progress.
    Busy,
    /// The configuration cannot be sent by an SX127x (spreading factor outside 6..12).
    InvalidConfig,
}

/// Something that went wrong after init, without stopping the radio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// TxDone did not come by the deadline; the transmission was abandoned.
    TxTimeout,
    /// An SPI transfer failed while polling.
    Spi,
}

/// Counters for the board's diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub tx_done: u32,
    pub tx_timeouts: u32,
    pub rx_frames: u32,
    /// RxDone with PayloadCrcError: dropped.
    pub rx_crc_errors: u32,
    /// RxDone for a frame whose header announced no CRC: dropped (nothing checked it).
    pub rx_without_crc: u32,
    /// ValidHeader interrupts seen (a frame began arriving).
    pub rx_headers: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Uninitialised,
    Sleep,
    Standby,
    Receive,
    Transmit { deadline: Instant },
}

/// A DIO0 input for boards that did not wire DIO0: reads as "maybe", so the driver always
/// reads RegIrqFlags.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDio0;

impl embedded_hal::digital::ErrorType for NoDio0 {
    type Error = core::convert::Infallible;
}

impl InputPin for NoDio0 {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        Ok(true)
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

/// The reset pin of a board that did not wire the chip's reset (the LoPy4): the chip has
/// only its power-on reset, and [`Sx127x::init`] brings it to LoRa standby from whatever mode
/// it is in.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReset;

impl embedded_hal::digital::ErrorType for NoReset {
    type Error = core::convert::Infallible;
}

impl OutputPin for NoReset {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// An SX1276 or SX1272 on an SPI device, with its reset and DIO0 pins.
pub struct Sx127x<SPI, RESET, DIO0> {
    spi: SPI,
    reset: RESET,
    dio0: DIO0,
    chip: Chip,
    pa_pin: PaPin,
    config: Option<LoRaConfig>,
    state: State,
    /// TxDone owed to the mesh for a transmission cut short by [`Radio::sleep`].
    tx_done_owed: bool,
    /// A header arrived and its RxDone has not yet.
    receiving: bool,
    fault: Option<Fault>,
    stats: Stats,
}

impl<SPI, RESET, DIO0> Sx127x<SPI, RESET, DIO0>
where
    SPI: SpiDevice,
    RESET: OutputPin,
    DIO0: InputPin,
{
    /// The driver for `chip` on these parts; nothing is sent until [`Sx127x::init`].
    pub fn new(spi: SPI, reset: RESET, dio0: DIO0, chip: Chip, pa_pin: PaPin) -> Self {
        Sx127x {
            spi,
            reset,
            dio0,
            chip,
            pa_pin,
            config: None,
            state: State::Uninitialised,
            tx_done_owed: false,
            receiving: false,
            fault: None,
            stats: Stats::default(),
        }
    }

    /// Resets the chip and checks RegVersion through the `sx127x_lora` crate, and leaves it
    /// in LoRa standby with both FIFO base addresses at 0 (the crate does this on the SX1276;
    /// the SX1272, which it refuses after probing, is brought there here).
    pub fn init(&mut self, delay: &mut impl DelayNs) -> Result<(), Error> {
        self.state = State::Uninitialised;
        let probe = sx127x_lora::LoRa::new(
            CrateSpi(&mut self.spi),
            CrateCs,
            CrateReset {
                pin: &mut self.reset,
                active_high: self.chip.reset_active_high(),
            },
            CRATE_INIT_MHZ,
            CrateDelay(delay),
        );
        let crate_found_sx1276 = match probe {
            Ok(_) => true,
            Err(sx127x_lora::Error::VersionMismatch(found)) if found == self.chip.version() => {
                false
            }
            Err(sx127x_lora::Error::VersionMismatch(found)) => {
                return Err(Error::WrongVersion {
                    chip: self.chip,
                    found,
                })
            }
            Err(sx127x_lora::Error::Reset(_)) => return Err(Error::ResetPin),
            Err(sx127x_lora::Error::CS(never)) => match never {},
            // `LoRa::new` fails with the above or SPI only (Uninformative and Transmitting come
            // from its transmit/receive calls).
            Err(_) => return Err(Error::Spi),
        };
        if crate_found_sx1276 && self.chip != Chip::Sx1276 {
            return Err(Error::WrongVersion {
                chip: self.chip,
                found: Chip::Sx1276.version(),
            });
        }
        let extra = self.op_mode_extra();
        if !crate_found_sx1276 {
            // LongRangeMode can be changed in Sleep only: enter Sleep first, then LoRa Sleep.
            self.write_reg(REG_OP_MODE, extra | MODE_SLEEP)?;
            self.write_reg(REG_OP_MODE, OP_MODE_LONG_RANGE | extra | MODE_SLEEP)?;
            self.write_reg(REG_FIFO_TX_BASE_ADDR, 0)?;
            self.write_reg(REG_FIFO_RX_BASE_ADDR, 0)?;
        }
        // Standby again with this chip's own RegOpMode bits: the crate's write clears the
        // SX1276's LowFrequencyModeOn, which follows the carrier here.
        self.write_reg(REG_OP_MODE, OP_MODE_LONG_RANGE | extra | MODE_STDBY)?;
        let op_mode = self.read_reg(REG_OP_MODE)?;
        if op_mode & OP_MODE_LONG_RANGE == 0 {
            return Err(Error::LoRaModeRefused { op_mode });
        }
        self.state = State::Standby;
        self.receiving = false;
        Ok(())
    }

    /// Writes every register a [`LoRaConfig`] decides (see [`chip`] for the per-chip layouts),
    /// in standby, and returns to receive if the radio was receiving.
    pub fn apply_config(&mut self, c: &LoRaConfig) -> Result<(), Error> {
        match self.state {
            State::Uninitialised => return Err(Error::NotInitialised),
            State::Transmit { .. } => return Err(Error::Busy),
            _ => {}
        }
        let m = c.modulation();
        if !(6..=12).contains(&c.sf) || m.validate().is_err() {
            return Err(Error::InvalidConfig);
        }
        let resume_rx = self.state == State::Receive;
        self.config = Some(*c);
        self.set_mode(MODE_STDBY)?;
        self.state = State::Standby;
        self.receiving = false;

        let frf = frf_from_hz(c.frequency);
        self.write_burst(
            REG_FRF_MSB,
            &[(frf >> 16) as u8, (frf >> 8) as u8, frf as u8],
        )?;

        let pa = self.chip.pa_setting(self.pa_pin, c.tx_power);
        self.write_reg(REG_PA_CONFIG, pa.pa_config)?;
        self.write_reg(self.chip.reg_pa_dac(), pa.pa_dac)?;
        self.write_reg(REG_OCP, pa.ocp)?;
        // LNA boost exists for the HF port only; the LF port keeps its default current.
        let lf = self.chip.op_mode_extra(c.frequency) != 0;
        self.write_reg(REG_LNA, if lf { LNA_G1 } else { LNA_G1 | LNA_BOOST_HF })?;

        let implicit = !m.explicit_header;
        let (c1, c2, c3) = self.chip.modem_config(
            c.bandwidth,
            c.coding_rate,
            c.sf,
            implicit,
            m.crc_on,
            m.low_data_rate_optimize_enabled(),
        );
        self.write_reg(REG_MODEM_CONFIG1, c1)?;
        self.write_reg(REG_MODEM_CONFIG2, c2)?;
        if let Some(c3) = c3 {
            self.write_reg(REG_MODEM_CONFIG3, c3)?;
        }
        self.write_burst(
            REG_PREAMBLE_MSB,
            &[(c.preamble >> 8) as u8, c.preamble as u8],
        )?;
        self.write_reg(REG_SYNC_WORD, c.sync_word())?;

        let (optimize, threshold) = if c.sf == 6 {
            (DETECT_OPTIMIZE_SF6, DETECTION_THRESHOLD_SF6)
        } else {
            (DETECT_OPTIMIZE_SF7_TO_12, DETECTION_THRESHOLD_SF7_TO_12)
        };
        // RegDetectOptimize bits 7-3 are reserved (AutomaticIFOn on the SX1276): keep them.
        let keep = self.read_reg(REG_DETECT_OPTIMIZE)? & !DETECT_OPTIMIZE_MASK;
        self.write_reg(REG_DETECT_OPTIMIZE, keep | optimize)?;
        self.write_reg(REG_DETECTION_THRESHOLD, threshold)?;

        if resume_rx {
            self.start_receive()?;
        }
        Ok(())
    }

    pub fn chip(&self) -> Chip {
        self.chip
    }

    /// The configuration last applied.
    pub fn config(&self) -> Option<&LoRaConfig> {
        self.config.as_ref()
    }

    /// When [`Radio::poll_event`] must next be called even if DIO0 stays low: the deadline of
    /// the transmission in progress.
    pub fn poll_at(&self) -> Option<Instant> {
        match self.state {
            State::Transmit { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Whether a frame's header has arrived and its end has not (the channel is busy).
    pub fn receiving(&self) -> bool {
        self.receiving
    }

    /// The last fault, cleared by reading it.
    pub fn take_fault(&mut self) -> Option<Fault> {
        self.fault.take()
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Gives the bus and pins back.
    pub fn release(self) -> (SPI, RESET, DIO0) {
        (self.spi, self.reset, self.dio0)
    }

    fn op_mode_extra(&self) -> u8 {
        // Before the first configuration the chip is at its reset frequency; the SX1276's reset
        // RegOpMode has LowFrequencyModeOn set, the SX1272's has no such bit.
        match &self.config {
            Some(c) => self.chip.op_mode_extra(c.frequency),
            None => self.chip.op_mode_extra(0),
        }
    }

    fn set_mode(&mut self, mode: u8) -> Result<(), Error> {
        let v = OP_MODE_LONG_RANGE | self.op_mode_extra() | mode;
        self.write_reg(REG_OP_MODE, v)
    }

    fn write_reg(&mut self, addr: u8, value: u8) -> Result<(), Error> {
        self.spi
            .write(&[addr | SPI_WRITE, value])
            .map_err(|_| Error::Spi)
    }

    /// One SPI transaction: the address auto-increments (the FIFO address does not, its
    /// pointer RegFifoAddrPtr does).
    fn write_burst(&mut self, addr: u8, data: &[u8]) -> Result<(), Error> {
        self.spi
            .transaction(&mut [
                Operation::Write(&[addr | SPI_WRITE]),
                Operation::Write(data),
            ])
            .map_err(|_| Error::Spi)
    }

    fn read_reg(&mut self, addr: u8) -> Result<u8, Error> {
        let mut b = [addr & !SPI_WRITE, 0];
        self.spi.transfer_in_place(&mut b).map_err(|_| Error::Spi)?;
        Ok(b[1])
    }

    fn read_burst(&mut self, addr: u8, buf: &mut [u8]) -> Result<(), Error> {
        self.spi
            .transaction(&mut [Operation::Write(&[addr & !SPI_WRITE]), Operation::Read(buf)])
            .map_err(|_| Error::Spi)
    }

    /// RegInvertIQ / RegInvertIQ2 for the path about to be used (LoRaMac-node sets them per
    /// operation the same way): Pycom's `tx_iq` and `rx_iq` are independent.
    fn write_iq(&mut self, transmit: bool) -> Result<(), Error> {
        let (tx_iq, rx_iq) = match &self.config {
            Some(c) => (c.tx_iq, c.rx_iq),
            None => (false, false),
        };
        let base = INVERT_IQ_RESET & !(INVERT_IQ_RX | INVERT_IQ_TX_OFF);
        let (iq, iq2) = if transmit {
            let iq = base | if tx_iq { 0 } else { INVERT_IQ_TX_OFF };
            (iq, if tx_iq { INVERT_IQ2_ON } else { INVERT_IQ2_OFF })
        } else {
            let iq = base | INVERT_IQ_TX_OFF | if rx_iq { INVERT_IQ_RX } else { 0 };
            (iq, if rx_iq { INVERT_IQ2_ON } else { INVERT_IQ2_OFF })
        };
        self.write_reg(REG_INVERT_IQ, iq)?;
        self.write_reg(REG_INVERT_IQ2, iq2)
    }

    fn implicit_header(&self) -> bool {
        self.config.as_ref().is_some_and(|c| c.sf == 6)
    }

    fn start_transmit(&mut self, frame: &[u8]) -> Result<(), Error> {
        self.set_mode(MODE_STDBY)?;
        self.write_iq(true)?;
        self.write_reg(REG_DIO_MAPPING1, DIO0_TX_DONE)?;
        self.write_reg(REG_IRQ_FLAGS, 0xFF)?;
        self.write_reg(REG_FIFO_ADDR_PTR, 0)?; // RegFifoTxBaseAddr
        self.write_burst(REG_FIFO, frame)?;
        // 1..=MAX_FRAME_LEN, checked by the caller.
        self.write_reg(REG_PAYLOAD_LENGTH, frame.len() as u8)?;
        self.set_mode(MODE_TX)
    }

    fn start_receive(&mut self) -> Result<(), Error> {
        self.set_mode(MODE_STDBY)?;
        self.write_iq(false)?;
        self.write_reg(REG_DIO_MAPPING1, DIO0_RX_DONE)?;
        self.write_reg(REG_IRQ_FLAGS, 0xFF)?;
        self.write_reg(REG_FIFO_ADDR_PTR, 0)?; // RegFifoRxBaseAddr
        if self.implicit_header() {
            // Implicit header: the receiver must be told the payload length.
            self.write_reg(REG_PAYLOAD_LENGTH, MAX_FRAME_LEN as u8)?;
        }
        self.set_mode(MODE_RX_CONTINUOUS)?;
        self.state = State::Receive;
        self.receiving = false;
        Ok(())
    }

    /// DIO0 says whether anything can be pending; a pin that cannot be read means "look".
    fn dio0_may_be_set(&mut self) -> bool {
        self.dio0.is_high().unwrap_or(true)
    }

    fn poll_transmit(&mut self, now: Instant, deadline: Instant) -> Option<RadioEvent> {
        let flags = if self.dio0_may_be_set() || now >= deadline {
            match self.read_reg(REG_IRQ_FLAGS) {
                Ok(f) => f,
                Err(_) => {
                    self.fault = Some(Fault::Spi);
                    0
                }
            }
        } else {
            0
        };
        if flags & IRQ_TX_DONE != 0 {
            // The chip is back in standby by itself; clear what we saw.
            if self.write_reg(REG_IRQ_FLAGS, flags).is_err() {
                self.fault = Some(Fault::Spi);
            }
            self.state = State::Standby;
            self.stats.tx_done += 1;
            return Some(RadioEvent::TxDone);
        }
        if now >= deadline {
            // Abandon it: standby stops the transmitter whatever it is doing.
            let _ = self.set_mode(MODE_STDBY);
            let _ = self.write_reg(REG_IRQ_FLAGS, 0xFF);
            self.state = State::Standby;
            self.stats.tx_timeouts += 1;
            self.fault = Some(Fault::TxTimeout);
            return Some(RadioEvent::TxDone);
        }
        None
    }

    fn poll_receive(&mut self, buf: &mut [u8]) -> Option<RadioEvent> {
        if !self.dio0_may_be_set() && !self.receiving {
            // DIO0 (RxDone) is low; a header may be arriving, which only the flags show, but
            // nothing is to be reported until RxDone.
            return None;
        }
        let flags = match self.read_reg(REG_IRQ_FLAGS) {
            Ok(f) => f,
            Err(_) => {
                self.fault = Some(Fault::Spi);
                return None;
            }
        };
        if flags & IRQ_VALID_HEADER != 0 {
            self.stats.rx_headers += 1;
        }
        if flags & IRQ_RX_DONE == 0 {
            if flags & IRQ_VALID_HEADER != 0 {
                self.receiving = true;
                let _ = self.write_reg(REG_IRQ_FLAGS, IRQ_VALID_HEADER);
            }
            return None;
        }
        self.receiving = false;
        let result = self.read_frame(flags, buf);
        // Write-1-to-clear exactly what was handled.
        if self.write_reg(REG_IRQ_FLAGS, flags).is_err() {
            self.fault = Some(Fault::Spi);
        }
        match result {
            Ok(ev) => ev,
            Err(_) => {
                self.fault = Some(Fault::Spi);
                None
            }
        }
    }

    fn read_frame(&mut self, flags: u8, buf: &mut [u8]) -> Result<Option<RadioEvent>, Error> {
        if flags & IRQ_PAYLOAD_CRC_ERROR != 0 {
            self.stats.rx_crc_errors += 1;
            return Ok(None);
        }
        if !self.implicit_header()
            && self.read_reg(REG_HOP_CHANNEL)? & HOP_CHANNEL_CRC_ON_PAYLOAD == 0
        {
            self.stats.rx_without_crc += 1;
            return Ok(None);
        }
        let nb = self.read_reg(REG_RX_NB_BYTES)? as usize;
        let start = self.read_reg(REG_FIFO_RX_CURRENT_ADDR)?;
        self.write_reg(REG_FIFO_ADDR_PTR, start)?;
        let len = nb.min(buf.len());
        self.read_burst(REG_FIFO, &mut buf[..len])?;
        let mut pkt = [0u8; 2];
        self.read_burst(REG_PKT_SNR_VALUE, &mut pkt)?; // RegPktSnrValue, RegPktRssiValue
        let frequency = self.config.as_ref().map_or(0, |c| c.frequency);
        self.stats.rx_frames += 1;
        Ok(Some(RadioEvent::Received(RxInfo {
            len,
            rssi_dbm: self.chip.packet_rssi(frequency, pkt[1], pkt[0]),
            snr_db: chip::snr_db(pkt[0]),
        })))
    }
}

impl<SPI, RESET, DIO0> Radio for Sx127x<SPI, RESET, DIO0>
where
    SPI: SpiDevice,
    RESET: OutputPin,
    DIO0: InputPin,
{
    fn configure(&mut self, config: &LoRaConfig) -> Result<(), RadioError> {
        self.apply_config(config).map_err(|e| match e {
            Error::Busy => RadioError::Busy,
            _ => RadioError::Hardware,
        })
    }

    /// Fills the FIFO and starts TX. An empty frame is refused as `FrameTooLong`: the modem
    /// cannot send a zero-length payload and the trait has no better error.
    fn transmit(&mut self, now: Instant, frame: &[u8]) -> Result<(), RadioError> {
        if frame.len() > MAX_FRAME_LEN || frame.is_empty() {
            return Err(RadioError::FrameTooLong);
        }
        if self.tx_done_owed {
            return Err(RadioError::Busy);
        }
        let config = match (self.state, self.config) {
            (State::Transmit { .. }, _) => return Err(RadioError::Busy),
            (State::Uninitialised, _) | (_, None) => return Err(RadioError::Hardware),
            (_, Some(c)) => c,
        };
        self.receiving = false;
        if self.start_transmit(frame).is_err() {
            let _ = self.set_mode(MODE_STDBY);
            self.state = State::Standby;
            return Err(RadioError::Hardware);
        }
        self.state = State::Transmit {
            deadline: tx_deadline(&config, now, frame.len()),
        };
        Ok(())
    }

    fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
        match self.state {
            State::Uninitialised => Err(RadioError::Hardware),
            State::Transmit { .. } => Err(RadioError::Busy),
            // Restarting the receiver would drop a frame being received.
            State::Receive => Ok(()),
            State::Sleep | State::Standby => self.start_receive().map_err(|_| RadioError::Hardware),
        }
    }

    fn poll_event(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioEvent> {
        if core::mem::take(&mut self.tx_done_owed) {
            return Some(RadioEvent::TxDone);
        }
        match self.state {
            State::Transmit { deadline } => self.poll_transmit(now, deadline),
            State::Receive => self.poll_receive(buf),
            _ => None,
        }
    }

    /// RegRssiValue, valid in receive mode only: `None` otherwise.
    fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
        if self.state != State::Receive {
            return None;
        }
        let v = self.read_reg(REG_RSSI_VALUE).ok()?;
        let frequency = self.config.as_ref().map_or(0, |c| c.frequency);
        Some(self.chip.rssi_offset(frequency) + v as i16)
    }

    /// LoRa Sleep (the FIFO is lost). A transmission cut short still gets its TxDone, so the
    /// mesh does not wait for it forever.
    fn sleep(&mut self) {
        if self.state == State::Uninitialised {
            return;
        }
        if matches!(self.state, State::Transmit { .. }) {
            self.tx_done_owed = true;
        }
        if self.set_mode(MODE_SLEEP).is_err() {
            self.fault = Some(Fault::Spi);
        }
        self.state = State::Sleep;
        self.receiving = false;
    }
}
