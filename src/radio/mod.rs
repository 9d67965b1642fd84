//! The radio as the mesh sees it, and the LoRa physical layer facts it depends on.
//!
//! - [`region`]: LoRa regions (frequency plans, default power) and parameter validation.
//! - [`airtime`]: time on air of a LoRa packet (Semtech AN1200.13).
//! - [`duty_cycle`]: per-sub-band duty-cycle budgets, enforced before every transmission.

pub mod airtime;
pub mod duty_cycle;
pub mod region;
pub mod sx127x;

use crate::time::Instant;
pub use region::LoRaConfig;

/// Largest frame a node sends: one IEEE 802.15.4 PSDU without its FCS (aMaxPHYPacketSize 127,
/// less the 2-byte FCS that LoRa's own CRC replaces, as Pycom's Pymesh did).
pub const MAX_FRAME_LEN: usize = 125;

/// What a radio reports back to the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioEvent {
    /// The frame given to [`Radio::transmit`] has left the antenna.
    TxDone,
    /// A frame arrived with a good CRC; its bytes are in the buffer given to [`Radio::poll_event`].
    Received(RxInfo),
}

/// Reception metadata. `snr_db` is what the link margin (and so Thread's link quality) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxInfo {
    pub len: usize,
    pub rssi_dbm: i16,
    pub snr_db: i8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RadioError {
    /// A transmission is in progress.
    Busy,
    /// The frame is longer than the radio carries.
    FrameTooLong,
    /// The radio did not answer (SPI error, chip in a bad mode).
    Hardware,
}

/// The radio as the mesh needs it: half-duplex, one frame at a time, receive whenever not
/// transmitting. Implementations: the SX127x driver (hardware and emulator), the simulator's
/// radio, and a radio-less stand-in for a board whose radio could not be brought up.
pub trait Radio {
    /// Applies frequency, spreading factor, bandwidth, coding rate, power, sync word.
    fn configure(&mut self, config: &LoRaConfig) -> Result<(), RadioError>;
    /// Starts sending one frame (PSDU without FCS); [`RadioEvent::TxDone`] follows.
    fn transmit(&mut self, now: Instant, frame: &[u8]) -> Result<(), RadioError>;
    /// Puts the radio in continuous receive (the state it returns to after each transmission).
    fn receive(&mut self, now: Instant) -> Result<(), RadioError>;
    /// Reports the next event, copying a received frame into `buf`.
    fn poll_event(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioEvent>;
    /// Current channel RSSI in dBm, for listen-before-talk; `None` while transmitting.
    fn channel_rssi(&mut self, now: Instant) -> Option<i16>;
    /// Low-power sleep; [`Radio::receive`] wakes it.
    fn sleep(&mut self);
}

/// No radio (the unix firmware when the simulated medium or its chip does not come up):
/// transmissions complete at once and nothing is ever received, so a node on it is alone and
/// becomes leader of its own partition.
#[derive(Debug, Default)]
pub struct NoRadio {
    tx_pending: bool,
}

impl NoRadio {
    pub const fn new() -> Self {
        NoRadio { tx_pending: false }
    }
}

impl Radio for NoRadio {
    fn configure(&mut self, _config: &LoRaConfig) -> Result<(), RadioError> {
        Ok(())
    }
    fn transmit(&mut self, _now: Instant, frame: &[u8]) -> Result<(), RadioError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(RadioError::FrameTooLong);
        }
        self.tx_pending = true;
        Ok(())
    }
    fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
        Ok(())
    }
    fn poll_event(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<RadioEvent> {
        if core::mem::take(&mut self.tx_pending) {
            Some(RadioEvent::TxDone)
        } else {
            None
        }
    }
    fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
        Some(-127)
    }
    fn sleep(&mut self) {}
}
