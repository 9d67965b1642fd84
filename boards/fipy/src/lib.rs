//! Pycom FiPy: an ESP32 (revision 1) with a Semtech SX1272 whose antenna is on PA_BOOST, beside
//! the Sequans LTE modem and Sigfox.
//!
//! The pin map is Pycom's firmware's for its second-generation boards (ESP32 revision > 0:
//! LoPy4, FiPy, GPy; `app_main` in pycom-micropython-sigfox): NSS on GPIO18, DIO0 on GPIO23,
//! the radio's reset not wired, and the LoRa SPI bus on GPIO5/27/19. ESP32-Paxcounter's
//! `fipy.h` agrees. (NSS on GPIO17 and RESET on GPIO18 are the first-generation boards', the
//! original LoPy's.) `pins.h` holds the same map for the C side; a test keeps them equal.
//!
//! The SX1272 is why this board matters to the driver: its bandwidth, coding rate, header,
//! CRC and low-data-rate bits sit elsewhere than the SX1276's (`pymesh::radio::sx127x::chip`).
//! It covers 860..1020 MHz only: no EU433 or CN470 on this board.
//!
//! [`radio`] builds the driver from the board's `embedded-hal` 1.0 parts. The ESP32's Xtensa
//! toolchain and ESP-IDF cannot be installed on this project's machines, so this crate is
//! built for `thumbv7m-none-eabi` and `riscv32imc-unknown-none-elf` as stand-ins (`make
//! check-targets`) and tested on the host against the emulated chip.
#![no_std]

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::InputPin;
use embedded_hal::spi::{Mode, SpiDevice, MODE_0};
use pymesh::radio::sx127x::{Chip, Error, NoReset, PaPin, Sx127x};

/// ESP32 GPIO numbers of the radio's lines.
pub mod pins {
    pub const SPI_SCK: u8 = 5;
    pub const SPI_MOSI: u8 = 27;
    pub const SPI_MISO: u8 = 19;
    /// The SX1272's chip select.
    pub const RADIO_NSS: u8 = 18;
    /// RESET is not wired: the chip has its power-on reset only.
    pub const RADIO_RESET: Option<u8> = None;
    /// DIO0: TxDone / RxDone.
    pub const RADIO_DIO0: u8 = 23;
    /// Wi-Fi antenna switch (internal / external), not the LoRa one.
    pub const WIFI_ANTENNA_SWITCH: u8 = 21;
}

pub const CHIP: Chip = Chip::Sx1272;
/// The board routes PA_BOOST to the antenna.
pub const PA_PIN: PaPin = PaPin::PaBoost;
/// The SX1272 datasheet's SPI interface: mode 0 (CPOL 0, CPHA 0), MSB first, SCK up to 10 MHz.
pub const SPI_MODE: Mode = MODE_0;
pub const SPI_MAX_HZ: u32 = 10_000_000;

/// The FiPy's radio driver.
pub type Radio<SPI, DIO0> = Sx127x<SPI, NoReset, DIO0>;

/// The driver on the FiPy's SX1272, brought up (RegVersion 0x22 checked, LoRa standby): `spi`
/// is the bus on [`pins::SPI_SCK`]/[`pins::SPI_MOSI`]/[`pins::SPI_MISO`] with chip select
/// [`pins::RADIO_NSS`] in [`SPI_MODE`], `dio0` the input on [`pins::RADIO_DIO0`].
pub fn radio<SPI, DIO0>(
    spi: SPI,
    dio0: DIO0,
    delay: &mut impl DelayNs,
) -> Result<Radio<SPI, DIO0>, Error>
where
    SPI: SpiDevice,
    DIO0: InputPin,
{
    let mut r = Sx127x::new(spi, NoReset, dio0, CHIP, PA_PIN);
    r.init(delay)?;
    Ok(r)
}
