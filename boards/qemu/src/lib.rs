//! The qemu board: MicroPython's qemu port on the emulated MPS2-AN385 (Cortex-M3), the proof
//! that the mesh runs bare metal. There is no radio on this machine, so the node is alone and
//! becomes leader of its own partition.
//!
//! - Clock: the CMSDK APB timer 0 (0x4000_0000, 25 MHz system clock), free-running from
//!   0xffff_ffff; each reading adds the ticks since the last one, so it must be read at least
//!   every 171 s (the VM poll hook reads it far more often).
//! - Critical sections: `cortex-m`'s single-core implementation (interrupts masked).
//! - Mesh progress: MicroPython's VM calls `pymesh_vm_hook` (see `hooks.h`), which polls the
//!   node every few hundred bytecode jumps.
#![no_std]

use core::cell::Cell;

use critical_section::Mutex;
// Linked for its single-core critical-section implementation (interrupts masked).
use cortex_m as _;
use pymesh::ffi::{self, Board};
use pymesh::radio::{NoRadio, Radio};
use pymesh::time::Instant;
use pymesh::wire::ExtAddress;

const TIMER0_BASE: usize = 0x4000_0000;
const TIMER_CTRL: usize = TIMER0_BASE;
const TIMER_VALUE: usize = TIMER0_BASE + 0x04;
const TIMER_RELOAD: usize = TIMER0_BASE + 0x08;
const SYSCLK_HZ: u64 = 25_000_000;

/// A locally administered EUI-64 (U/L bit set): qemu has no factory address.
const EUI64: u64 = 0x0200_0000_5079_6d01;

struct QemuBoard {
    /// (last VALUE read, ticks accumulated since start)
    clock: Mutex<Cell<(u32, u64)>>,
    radio: Mutex<core::cell::RefCell<NoRadio>>,
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
}

impl Board for QemuBoard {
    fn now(&self) -> Instant {
        critical_section::with(|cs| {
            let c = self.clock.borrow(cs);
            let (last, ticks) = c.get();
            let v = read_timer();
            // A down counter: elapsed ticks are last - v, modulo 2^32.
            let ticks = ticks + last.wrapping_sub(v) as u64;
            c.set((v, ticks));
            Instant::from_millis(ticks / (SYSCLK_HZ / 1000))
        })
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
        critical_section::with(|cs| f(&mut *self.radio.borrow(cs).borrow_mut()));
    }
}

static BOARD: QemuBoard = QemuBoard {
    clock: Mutex::new(Cell::new((0, 0))),
    radio: Mutex::new(core::cell::RefCell::new(NoRadio::new())),
};

/// Board entry point (declared in pymesh_ffi.h).
#[no_mangle]
pub extern "C" fn pymesh_board_init() {
    BOARD.start_timer();
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
