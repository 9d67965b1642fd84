//! The `sx127x_lora` crate's `embedded-hal` 0.2 world, built from this driver's 1.0 parts.
//!
//! The crate wants a blocking SPI bus (`Transfer` + `Write`), a chip-select pin it toggles
//! itself, a reset pin and a `DelayMs<u8>`. Each of these borrows the driver's own part for the
//! length of one crate call, so the driver keeps owning the bus and pins:
//! - [`CrateSpi`]: each `transfer`/`write` is one `SpiDevice` transaction. The crate brackets
//!   every register access by its chip select with exactly one `transfer` or `write`, so
//!   framing each call as one transaction is the same SPI traffic.
//! - [`CrateCs`]: a 1.0 `SpiDevice` owns chip select and asserts it per transaction, so the
//!   crate's own toggles must not reach a pin.
//! - [`CrateReset`]: the crate drives reset low then high, which is right for the SX1276's
//!   NRESET (active low) only; for the SX1272's active-high RESET the levels are inverted here,
//!   so the crate's "low" still means "held in reset".
//! - [`CrateDelay`]: `DelayMs<u8>` over `DelayNs`.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiDevice;
use embedded_hal_02::blocking::delay::DelayMs;
use embedded_hal_02::blocking::spi::{Transfer, Write};
use embedded_hal_02::digital::v2::OutputPin as OutputPin02;

/// The driver's `SpiDevice` as the crate's blocking bus.
pub struct CrateSpi<'a, SPI>(pub &'a mut SPI);

impl<SPI: SpiDevice> Transfer<u8> for CrateSpi<'_, SPI> {
    type Error = SPI::Error;
    fn transfer<'w>(&mut self, words: &'w mut [u8]) -> Result<&'w [u8], SPI::Error> {
        self.0.transfer_in_place(words)?;
        Ok(words)
    }
}

impl<SPI: SpiDevice> Write<u8> for CrateSpi<'_, SPI> {
    type Error = SPI::Error;
    fn write(&mut self, words: &[u8]) -> Result<(), SPI::Error> {
        self.0.write(words)
    }
}

/// The crate's chip select: the `SpiDevice` already frames each transaction with the real one.
pub struct CrateCs;

impl OutputPin02 for CrateCs {
    type Error = core::convert::Infallible;
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The reset pin, with the crate's "low = in reset" mapped to the chip's polarity.
pub struct CrateReset<'a, RESET> {
    pub pin: &'a mut RESET,
    /// The chip's reset is asserted by a high level (SX1272).
    pub active_high: bool,
}

impl<RESET: OutputPin> OutputPin02 for CrateReset<'_, RESET> {
    type Error = RESET::Error;
    fn set_low(&mut self) -> Result<(), Self::Error> {
        if self.active_high {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        }
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        if self.active_high {
            self.pin.set_low()
        } else {
            self.pin.set_high()
        }
    }
}

/// The board's `DelayNs` as the crate's `DelayMs<u8>`.
pub struct CrateDelay<'a, D>(pub &'a mut D);

impl<D: DelayNs> DelayMs<u8> for CrateDelay<'_, D> {
    fn delay_ms(&mut self, ms: u8) {
        self.0.delay_ms(ms as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::digital::ErrorType;

    #[derive(Default)]
    struct Pin {
        levels: [bool; 4],
        n: usize,
    }
    impl ErrorType for Pin {
        type Error = core::convert::Infallible;
    }
    impl OutputPin for Pin {
        fn set_low(&mut self) -> Result<(), Self::Error> {
            self.levels[self.n] = false;
            self.n += 1;
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Self::Error> {
            self.levels[self.n] = true;
            self.n += 1;
            Ok(())
        }
    }

    #[test]
    fn reset_levels_follow_the_chip_polarity() {
        for active_high in [false, true] {
            let mut pin = Pin::default();
            let mut r = CrateReset {
                pin: &mut pin,
                active_high,
            };
            // The crate's sequence: assert (low), release (high).
            r.set_low().unwrap();
            r.set_high().unwrap();
            assert_eq!(&pin.levels[..2], &[active_high, !active_high]);
        }
    }
}
