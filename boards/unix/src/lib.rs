//! The unix board: a pymesh node inside MicroPython's unix port, on the simulated LoRa medium
//! shared by every node process on this machine (`pymesh_sim::medium`).
//!
//! It supplies the clock (monotonic, milliseconds since start), the EUI-64 (`PYMESH_MAC`, 16
//! hex digits; default: different in every process), entropy (`PYMESH_SEED`, default from
//! /dev/urandom) and the radio, and runs the mesh in a thread of its own, so the mesh works
//! while Python code runs or sleeps. The thread sleeps until the node's next deadline or the
//! next radio event, whichever is first.

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use pymesh::ffi::{self, Board};
use pymesh::radio::{NoRadio, Radio};
use pymesh::time::Instant;
use pymesh::wire::ExtAddress;
use pymesh_sim::medium::{Clock, MediumConfig, MediumRadio};

enum UnixRadio {
    Medium(MediumRadio),
    /// The medium could not be joined (reported on stderr): the node runs alone.
    Alone(NoRadio),
}

struct UnixBoard {
    clock: Clock,
    eui64: ExtAddress,
    seed: Option<u64>,
    radio: Mutex<UnixRadio>,
    /// Set and notified when the poll thread has something new to look at.
    wake: Arc<(Mutex<bool>, Condvar)>,
}

impl UnixBoard {
    fn notify(&self) {
        let (lock, cv) = &*self.wake;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
}

impl Board for UnixBoard {
    fn now(&self) -> Instant {
        self.clock.now()
    }
    fn eui64(&self) -> ExtAddress {
        self.eui64
    }
    fn entropy(&self) -> u64 {
        if let Some(seed) = self.seed {
            return seed;
        }
        let mut b = [0u8; 8];
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .is_err()
        {
            return self.clock.now_us() ^ ((std::process::id() as u64) << 32);
        }
        u64::from_le_bytes(b)
    }
    fn with_radio(&self, f: &mut dyn FnMut(&mut dyn Radio)) {
        let mut r = self.radio.lock().unwrap();
        match &mut *r {
            UnixRadio::Medium(m) => f(m),
            UnixRadio::Alone(n) => f(n),
        }
    }
    fn mesh_running(&self, _running: bool) {
        self.notify();
    }
}

/// Parses `PYMESH_MAC`: 16 hex digits, optionally with `:` or `-` separators.
pub fn parse_mac(s: &str) -> Option<ExtAddress> {
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(&hex, 16).ok().map(ExtAddress::from_u64)
}

fn default_mac(clock: &Clock) -> ExtAddress {
    // Differs per process: process id and start time, mixed (SplitMix64 finaliser).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut z = nanos ^ ((std::process::id() as u64) << 20) ^ clock.now_us();
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    // Clear the multicast bit: an EUI-64 names one device.
    ExtAddress::from_u64(z & !(1u64 << 56))
}

static BOARD: OnceLock<UnixBoard> = OnceLock::new();

fn board() -> &'static UnixBoard {
    BOARD.get_or_init(|| {
        let clock = Clock::new();
        let eui64 = match std::env::var("PYMESH_MAC") {
            Ok(s) => parse_mac(&s).unwrap_or_else(|| {
                eprintln!("pymesh: PYMESH_MAC={s:?} is not 16 hex digits; using a random MAC");
                default_mac(&clock)
            }),
            Err(_) => default_mac(&clock),
        };
        let seed = std::env::var("PYMESH_SEED")
            .ok()
            .and_then(|s| s.parse().ok());
        let wake = Arc::new((Mutex::new(false), Condvar::new()));
        let radio =
            match MediumRadio::open(eui64, clock, MediumConfig::from_env(), Arc::clone(&wake)) {
                Ok(r) => UnixRadio::Medium(r),
                Err(e) => {
                    eprintln!(
                        "pymesh: cannot join the simulated LoRa medium ({e}); this node runs alone"
                    );
                    UnixRadio::Alone(NoRadio::default())
                }
            };
        UnixBoard {
            clock,
            eui64,
            seed,
            radio: Mutex::new(radio),
            wake,
        }
    })
}

/// The mesh thread: poll, then sleep until the next deadline or radio event.
fn run_mesh_thread(b: &'static UnixBoard) {
    loop {
        let deadline = ffi::poll();
        let radio_next = match &*b.radio.lock().unwrap() {
            UnixRadio::Medium(m) => m.next_event_at().map(|t| t.millis()),
            UnixRadio::Alone(_) => None,
        };
        let next = deadline.min(radio_next.unwrap_or(u64::MAX));
        let now = b.clock.now().millis();
        // Wake at least once a second: cheap, and bounds the cost of any missed notification.
        let wait = StdDuration::from_millis(next.saturating_sub(now).min(1000));
        let (lock, cv) = &*b.wake;
        let mut woken = lock.lock().unwrap();
        if !*woken && !wait.is_zero() {
            woken = cv.wait_timeout(woken, wait).unwrap().0;
        }
        *woken = false;
    }
}

/// Board entry point (declared in pymesh_ffi.h): registers the board and starts the mesh
/// thread. Idempotent.
#[no_mangle]
pub extern "C" fn pymesh_board_init() {
    static STARTED: OnceLock<()> = OnceLock::new();
    let b = board();
    ffi::register_board(b);
    STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("pymesh-mesh".into())
            .spawn(move || run_mesh_thread(b))
            .expect("spawn the mesh thread");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_from_environment_syntax() {
        assert_eq!(
            parse_mac("0101010101010104"),
            Some(ExtAddress::from_u64(0x0101010101010104))
        );
        assert_eq!(
            parse_mac("01:01:01:01:01:01:01:04"),
            Some(ExtAddress::from_u64(0x0101010101010104))
        );
        assert_eq!(parse_mac("0101"), None);
        assert_eq!(parse_mac("zz01010101010104"), None);
    }
}
