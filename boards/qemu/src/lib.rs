//! The qemu board: MicroPython's qemu port on the emulated MPS2-AN385 (Cortex-M3), the proof
//! that the mesh runs bare metal, through the same SX127x driver as the LoPy4 and FiPy.
//!
//! - Radio: the real driver (`pymesh::radio::sx127x`, brought up through the `sx127x_lora`
//!   crate) on an emulated SX1276 (`pymesh_sx127x_emu`, the register model the unix firmware
//!   uses, no_std) timed by the board clock. Its antenna reaches no one, so the node is alone
//!   on its air and becomes leader of its own partition; each frame it sends goes through the
//!   driver into the chip's FIFO and is transmitted for its time on air before TxDone. A
//!   driver fault (a TxDone that never came, a failed SPI access) stops the machine: with an
//!   emulated chip it can only be a bug.
//! - Clock: the CMSDK APB timer 0 (0x4000_0000, 25 MHz system clock), free-running from
//!   0xffff_ffff; each reading adds the ticks since the last one, so it must be read at least
//!   every 171 s (the VM poll hook reads it far more often).
//! - Critical sections: `cortex-m`'s single-core implementation (interrupts masked).
//! - Mesh progress: MicroPython's VM calls `pymesh_vm_hook` (see `hooks.h`), which polls the
//!   node every few hundred bytecode jumps.
#![no_std]

use core::cell::{Cell, RefCell};

use critical_section::Mutex;
// Linked for its single-core critical-section implementation (interrupts masked).
use cortex_m as _;
use embedded_hal::delay::DelayNs;
use pymesh::ffi::{self, Board};
use pymesh::radio::sx127x::{Chip, PaPin, Sx127x};
use pymesh::radio::Radio;
use pymesh::time::Instant;
use pymesh::wire::ExtAddress;
use pymesh_sx127x_emu::{ChipCell, EmuDio0, EmuReset, EmuSpi, Sx127xChip};

const TIMER0_BASE: usize = 0x4000_0000;
const TIMER_CTRL: usize = TIMER0_BASE;
const TIMER_VALUE: usize = TIMER0_BASE + 0x04;
const TIMER_RELOAD: usize = TIMER0_BASE + 0x08;
const SYSCLK_HZ: u64 = 25_000_000;

/// A locally administered EUI-64 (U/L bit set): qemu has no factory address.
const EUI64: u64 = 0x0200_0000_5079_6d01;

/// The emulated chip, as the LoPy4 has it: an SX1276 with its antenna on PA_BOOST.
const CHIP: Chip = Chip::Sx1276;
const PA_PIN: PaPin = PaPin::PaBoost;

/// The driver on the emulated chip's SPI port and pins.
type Driver = Sx127x<
    EmuSpi<&'static EmulatedChip>,
    EmuReset<&'static EmulatedChip>,
    EmuDio0<&'static EmulatedChip>,
>;

/// The emulated SX1276, timed by the board clock.
struct EmulatedChip {
    chip: Mutex<RefCell<Sx127xChip>>,
}

impl ChipCell for EmulatedChip {
    fn with_chip<R>(&self, f: impl FnOnce(&mut Sx127xChip, u64) -> R) -> R {
        let now = BOARD.now_us();
        critical_section::with(|cs| f(&mut self.chip.borrow_ref_mut(cs), now))
    }
}

static EMULATED_CHIP: EmulatedChip = EmulatedChip {
    chip: Mutex::new(RefCell::new(Sx127xChip::new(CHIP))),
};

/// The reset timings of the driver's init, spent on the board timer (the only wait).
struct TimerDelay;

impl DelayNs for TimerDelay {
    fn delay_ns(&mut self, ns: u32) {
        let until = BOARD.now_us() + (ns as u64).div_ceil(1000);
        while BOARD.now_us() < until {}
    }
}

struct QemuBoard {
    /// (last VALUE read, ticks accumulated since start)
    clock: Mutex<Cell<(u32, u64)>>,
    /// Set by `pymesh_board_init`, before the board is registered.
    radio: Mutex<RefCell<Option<Driver>>>,
}

fn read_timer() -> u32 {
    // SAFETY: TIMER_VALUE is the CMSDK timer's read-only VALUE register on the MPS2-AN385.
    unsafe { core::ptr::read_volatile(TIMER_VALUE as *const u32) }
}

impl QemuBoard {
    fn start_timer(&self) {
        // SAFETY: CMSDK APB timer 0 registers on the MPS2-AN385; nothing else uses this timer.
        unsafe {
            core::ptr::write_volatile(TIMER_RELOAD as *mut u32, u32::MAX);
            core::ptr::write_volatile(TIMER_VALUE as *mut u32, u32::MAX);
            core::ptr::write_volatile(TIMER_CTRL as *mut u32, 1);
        }
        let v = read_timer();
        critical_section::with(|cs| self.clock.borrow(cs).set((v, 0)));
    }

    /// Timer ticks since start.
    fn ticks(&self) -> u64 {
        critical_section::with(|cs| {
            let c = self.clock.borrow(cs);
            let (last, ticks) = c.get();
            let v = read_timer();
            // A down counter: elapsed ticks are last - v, modulo 2^32.
            let ticks = ticks + last.wrapping_sub(v) as u64;
            c.set((v, ticks));
            ticks
        })
    }

    fn now_us(&self) -> u64 {
        self.ticks() / (SYSCLK_HZ / 1_000_000)
    }
}

impl Board for QemuBoard {
    fn now(&self) -> Instant {
        Instant::from_millis(self.ticks() / (SYSCLK_HZ / 1000))
    }
    fn eui64(&self) -> ExtAddress {
        ExtAddress::from_u64(EUI64)
    }
    fn entropy(&self) -> u64 {
        // The emulated timer follows the host clock, so its low bits at this moment vary from
        // run to run; good enough for protocol jitter, which is all this seeds.
        let t = read_timer() as u64;
        (t << 32) ^ t.rotate_left(13) ^ 0x9e37_79b9_7f4a_7c15
    }
    fn with_radio(&self, f: &mut dyn FnMut(&mut dyn Radio)) {
        critical_section::with(|cs| match self.radio.borrow_ref_mut(cs).as_mut() {
            Some(driver) => {
                f(driver);
                // The emulated chip has no RF faults: a transmission that never got its TxDone,
                // or a failed SPI access, is a bug of the driver or the chip model. Stop on it.
                if let Some(fault) = driver.take_fault() {
                    panic!("SX1276 driver fault on the emulated chip: {fault:?}");
                }
            }
            // Registered only after the radio is set (pymesh_board_init).
            None => unreachable!("qemu board used before pymesh_board_init"),
        });
    }
}

static BOARD: QemuBoard = QemuBoard {
    clock: Mutex::new(Cell::new((0, 0))),
    radio: Mutex::new(RefCell::new(None)),
};

/// Board entry point (declared in pymesh_ffi.h): starts the clock, brings the emulated chip up
/// through the driver (reset, RegVersion, LoRa standby), registers the board. A chip that does
/// not come up stops the machine with the driver's error: there is no radio-less mode.
#[no_mangle]
pub extern "C" fn pymesh_board_init() {
    BOARD.start_timer();
    let mut driver = Sx127x::new(
        EmuSpi(&EMULATED_CHIP),
        EmuReset(&EMULATED_CHIP),
        EmuDio0(&EMULATED_CHIP),
        CHIP,
        PA_PIN,
    );
    if let Err(e) = driver.init(&mut TimerDelay) {
        panic!("the emulated SX1276 did not come up: {e:?}");
    }
    critical_section::with(|cs| *BOARD.radio.borrow_ref_mut(cs) = Some(driver));
    ffi::register_board(&BOARD);
}

extern "C" {
    fn mp_hal_stdout_tx_strn(s: *const u8, len: usize) -> usize;
    fn exit(status: i32) -> !;
}

/// Called by the core's panic handler: report where, and stop the machine (semihosting exit).
#[no_mangle]
pub extern "C" fn pymesh_board_panic(message: *const u8, len: usize) -> ! {
    const HEAD: &[u8] = b"\r\npymesh: panic: ";
    const TAIL: &[u8] = b"\r\n";
    // SAFETY: MicroPython's stdout writer and the port's exit() take plain arguments; `message`
    // and `len` describe a buffer the core's panic handler keeps alive for this call.
    unsafe {
        mp_hal_stdout_tx_strn(HEAD.as_ptr(), HEAD.len());
        mp_hal_stdout_tx_strn(message, len);
        mp_hal_stdout_tx_strn(TAIL.as_ptr(), TAIL.len());
        exit(1)
    }
}
