//! The unix board: a pymesh node inside MicroPython's unix port, on the simulated LoRa medium
//! shared by every node process on this machine (`pymesh_sim::medium`), or, with
//! `PYMESH_OT_MEDIUM` set, on OpenThread's simulation medium (`pymesh_sim::ot_medium`) next to
//! OpenThread's simulated nodes.
//!
//! It supplies the clock (monotonic, milliseconds since start), the EUI-64 (`PYMESH_MAC`, 16
//! hex digits; default: different in every process), entropy (`PYMESH_SEED`, default from
//! /dev/urandom) and the radio, and runs the mesh in a thread of its own, so the mesh works
//! while Python code runs or sleeps.
//!
//! The radio is the real SX127x driver (`pymesh::radio::sx127x`) on an emulated chip
//! (`pymesh_sim::sx127x_emulator`) whose antenna is the medium ([`EmulatedSx127x`]): the register
//! writes, FIFO handling and IRQ logic used on a LoPy4 or FiPy run in every unix node.
//! `PYMESH_CHIP` picks the chip: `sx1276` (LoPy4, the default) or `sx1272` (FiPy). The medium's
//! own settings (`PYMESH_AIR`, `PYMESH_POS`, `PYMESH_LOSS`, `PYMESH_PCAP`) are read by
//! `MediumConfig::from_env`. If the medium cannot be joined or the chip does not come up, the
//! node runs radio-less (`NoRadio`), said on stderr.
//!
//! `PYMESH_OT_MEDIUM=<node id 1..=33>` puts the node on OpenThread's simulation medium instead
//! ([`OtMediumRadio`], [`ot_medium_config`]): OpenThread's `PORT_OFFSET` picks the medium,
//! `PYMESH_OT_CHANNEL` the 802.15.4 channel (default 11, Pymesh's), `PYMESH_PCAP` a capture of
//! every frame on it. The board then tells the stack it is on 802.15.4
//! ([`Board::ieee802154_channel`]): `Mesh()` runs Thread's timing profile on that channel, so
//! the node interoperates with `ot-cli-ftd` nodes in real time. A value that is not valid
//! leaves the node radio-less (said on stderr) rather than on another medium or channel.
//!
//! The mesh thread sleeps until the first of: the node's next deadline, the driver's TX
//! deadline, the chip's next event (end of its transmission, end of a frame arriving from the
//! medium), a rising edge on DIO0, or a notification on the `wake` condvar (the medium's
//! receive thread, when a frame starts arriving; on OpenThread's medium, when a frame has
//! arrived; the mesh starting or stopping).

use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration as StdDuration;

use embedded_hal::digital::InputPin;
use pymesh::ffi::{self, Board};
use pymesh::node::NetworkIdentity;
use pymesh::radio::region::LoRaParams;
use pymesh::radio::sx127x::{self, Chip, PaPin, Sx127x};
use pymesh::radio::MAX_FRAME_LEN;
use pymesh::radio::{LoRaConfig, NoRadio, Radio};
use pymesh::time::Instant;
use pymesh::wire::ExtAddress;
use pymesh_sim::medium::{Clock, MediumConfig, MediumRadio};
use pymesh_sim::ot_medium::{group_port, OtMediumConfig, OtMediumRadio, OT_MAX_NODE_ID};
use pymesh_sim::sx127x_emulator::{
    EmulatorDio0, EmulatorReset, EmulatorSpi, RadioRf, Sx127xEmulator,
};

/// The driver as the board instantiates it: on the emulator's SPI port and pins.
pub type EmulatedDriver = Sx127x<EmulatorSpi, EmulatorReset, EmulatorDio0>;

/// The flag and condvar the mesh thread sleeps on: set and notified when it has something new
/// to look at (the medium's receive thread does so when a frame starts arriving).
pub type Wake = Arc<(Mutex<bool>, Condvar)>;

/// Why the radio could not be brought up (the node then runs alone).
#[derive(Debug)]
pub enum RadioOpenError {
    /// The medium's multicast socket (or the pcap file) could not be opened.
    Medium(std::io::Error),
    /// The driver did not bring up the emulated chip.
    Chip(sx127x::Error),
}

impl fmt::Display for RadioOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RadioOpenError::Medium(e) => write!(f, "cannot join the simulated LoRa medium: {e}"),
            RadioOpenError::Chip(e) => write!(f, "the SX127x did not come up: {e:?}"),
        }
    }
}

impl std::error::Error for RadioOpenError {}

/// A unix node's radio: the SX127x driver on an emulated chip whose RF side is the medium.
pub struct EmulatedSx127x {
    driver: EmulatedDriver,
    emulator: Sx127xEmulator,
    dio0: EmulatorDio0,
    clock: Clock,
    /// DIO0 rising edges already answered by a poll: the board's edge-interrupt latch.
    dio0_rises_seen: u32,
}

impl EmulatedSx127x {
    /// Joins the medium as `eui64` and brings up a `chip` on it through the driver (reset,
    /// version check, LoRa standby). The medium's receive thread notifies `wake` when a frame
    /// starts arriving. The antenna is on PA_BOOST, which Pycom's +20 dBm default power needs.
    pub fn open(
        eui64: ExtAddress,
        clock: Clock,
        chip: Chip,
        medium: MediumConfig,
        wake: Wake,
    ) -> Result<Self, RadioOpenError> {
        let emulator = Sx127xEmulator::new(chip);
        emulator.set_clock(move || clock.now_us());
        let medium =
            MediumRadio::open(eui64, clock, medium, wake).map_err(RadioOpenError::Medium)?;
        emulator.set_rf(
            RadioRf::new(medium, rf_base_config()).with_next_event(MediumRadio::next_event_at),
        );
        let mut driver = Sx127x::new(
            emulator.spi(),
            emulator.reset_pin(),
            emulator.dio0(),
            chip,
            PaPin::PaBoost,
        );
        // The datasheet's reset timing (about 5 ms) is slept on the board clock.
        driver
            .init(&mut emulator.delay())
            .map_err(RadioOpenError::Chip)?;
        let dio0 = emulator.dio0();
        let dio0_rises_seen = emulator.dio0_rises();
        Ok(EmulatedSx127x {
            driver,
            emulator,
            dio0,
            clock,
            dio0_rises_seen,
        })
    }

    /// The driver: the board's [`Radio`].
    pub fn driver(&mut self) -> &mut EmulatedDriver {
        &mut self.driver
    }

    /// The chip (register file, write log, transmissions), for diagnostics and tests.
    pub fn emulator(&self) -> &Sx127xEmulator {
        &self.emulator
    }

    /// When the mesh must next be polled for the radio's sake (board clock), asked after each
    /// poll: now if DIO0 rose since the last poll, else the first of the driver's TX deadline
    /// and the chip's next event; `None` when nothing is due.
    pub fn next_poll_at(&mut self) -> Option<Instant> {
        // Sampling DIO0 lets the chip act on its own time, as a real one does between polls:
        // a finished transmission raises TxDone, and frames that have finished arriving are
        // taken off the medium, even while the driver is idle (mesh not started). Without it
        // such a frame would stay due in the past and the thread would spin.
        let _ = self.dio0.is_high();
        let rises = self.emulator.dio0_rises();
        if rises != self.dio0_rises_seen {
            // An edge the driver may not have seen (a frame that landed during the poll's
            // later SPI accesses): poll again at once, as the DIO0 interrupt would.
            self.dio0_rises_seen = rises;
            return Some(self.clock.now());
        }
        let chip = self
            .emulator
            .next_event_us()
            .map(|us| Instant::from_millis(us.div_ceil(1000)));
        match (self.driver.poll_at(), chip) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the chip's registers do not say and the medium's configuration needs (region, power
/// mode, ...); frequency, SF, bandwidth, coding rate, power and sync word come from the
/// registers on every access.
fn rf_base_config() -> LoRaConfig {
    LoRaParams {
        region: Some(5), // EU868; its only use here is to fill the fields above.
        ..LoRaParams::pycom_defaults()
    }
    .validate()
    .expect("Pycom's EU868 defaults are valid")
}

/// Parses `PYMESH_CHIP`: `sx1276` or `sx1272`, any case.
pub fn parse_chip(s: &str) -> Option<Chip> {
    match s.trim().to_ascii_lowercase().as_str() {
        "sx1276" => Some(Chip::Sx1276),
        "sx1272" => Some(Chip::Sx1272),
        _ => None,
    }
}

/// The environment variables that put a node on OpenThread's simulation medium.
pub const OT_MEDIUM_VAR: &str = "PYMESH_OT_MEDIUM";
pub const OT_CHANNEL_VAR: &str = "PYMESH_OT_CHANNEL";
/// OpenThread's own (its simulation platform reads it too).
pub const OT_PORT_OFFSET_VAR: &str = "PORT_OFFSET";

/// The largest `PORT_OFFSET` whose ports (`9000 + 34 * offset + node id`) fit in 16 bits.
pub const OT_MAX_PORT_OFFSET: u16 = (u16::MAX - OT_MAX_NODE_ID - 9000) / (OT_MAX_NODE_ID + 1);

/// Where the node sits on OpenThread's simulation medium, from the environment as `var` reads
/// it: `Ok(None)` when `PYMESH_OT_MEDIUM` is unset or empty (the LoRa medium), `Err` with the
/// reason when a value is not valid. `PYMESH_OT_MEDIUM` is the node id (1..=33, distinct from
/// every other node's on that medium), `PORT_OFFSET` OpenThread's port offset (default 0),
/// `PYMESH_OT_CHANNEL` the 802.15.4 channel (11..=26; default `NetworkIdentity::pymesh`'s, 11,
/// which `pymesh-ot-node` uses too), `PYMESH_PCAP` a capture of every frame on the medium.
pub fn ot_medium_config(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<OtMediumConfig>, String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let Some(id) = set(OT_MEDIUM_VAR) else {
        return Ok(None);
    };
    let node_id = id
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=OT_MAX_NODE_ID).contains(n))
        .ok_or_else(|| format!("{OT_MEDIUM_VAR}={id:?} is not a node id 1..={OT_MAX_NODE_ID}"))?;
    let port_offset = match set(OT_PORT_OFFSET_VAR) {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|o| *o <= OT_MAX_PORT_OFFSET)
            .ok_or_else(|| {
                format!("{OT_PORT_OFFSET_VAR}={v:?} is not a port offset 0..={OT_MAX_PORT_OFFSET}")
            })?,
    };
    let channel = match set(OT_CHANNEL_VAR) {
        None => NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY).channel,
        Some(v) => v
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|c| (11..=26).contains(c))
            .ok_or_else(|| format!("{OT_CHANNEL_VAR}={v:?} is not an 802.15.4 channel 11..=26"))?,
    };
    debug_assert!(group_port(port_offset)
        .checked_add(OT_MAX_NODE_ID)
        .is_some());
    Ok(Some(OtMediumConfig {
        port_offset,
        node_id,
        channel,
        pcap_path: set("PYMESH_PCAP"),
        allowed_node_ids: None,
    }))
}

/// Joins OpenThread's medium as the board does: the receive thread notifies `wake` after each
/// frame it queues for the node.
pub fn open_ot_medium(
    config: &OtMediumConfig,
    clock: Clock,
    wake: Wake,
) -> std::io::Result<OtMediumRadio> {
    let radio = OtMediumRadio::open(config, clock)?;
    radio.notify_on_arrival(wake);
    Ok(radio)
}

enum UnixRadio {
    Sx127x(Box<EmulatedSx127x>),
    /// On OpenThread's simulation medium (`PYMESH_OT_MEDIUM`).
    OtMedium(OtMediumRadio),
    /// The medium could not be joined (reported on stderr): the node runs alone.
    Alone(NoRadio),
}

struct UnixBoard {
    clock: Clock,
    eui64: ExtAddress,
    seed: Option<u64>,
    radio: Mutex<UnixRadio>,
    /// The channel when the radio is on OpenThread's (802.15.4) medium.
    ieee802154_channel: Option<u8>,
    /// Between `mesh_running(true)` and `mesh_running(false)`.
    mesh_running: AtomicBool,
    /// Set and notified when the mesh thread has something new to look at.
    wake: Wake,
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
            UnixRadio::Sx127x(r) => f(r.driver()),
            UnixRadio::OtMedium(r) => f(r),
            UnixRadio::Alone(n) => f(n),
        }
    }
    fn mesh_running(&self, running: bool) {
        self.mesh_running.store(running, Ordering::SeqCst);
        self.notify();
    }
    fn wake(&self) {
        self.notify();
    }
    fn ieee802154_channel(&self) -> Option<u8> {
        self.ieee802154_channel
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
        let chip = match std::env::var("PYMESH_CHIP") {
            Ok(s) => parse_chip(&s).unwrap_or_else(|| {
                eprintln!("pymesh: PYMESH_CHIP={s:?} is not sx1276 or sx1272; using sx1276");
                Chip::Sx1276
            }),
            Err(_) => Chip::Sx1276,
        };
        let wake: Wake = Arc::new((Mutex::new(false), Condvar::new()));
        let radio = match ot_medium_config(|name| std::env::var(name).ok()) {
            Ok(Some(config)) => match open_ot_medium(&config, clock, Arc::clone(&wake)) {
                Ok(r) => UnixRadio::OtMedium(r),
                Err(e) => {
                    eprintln!(
                        "pymesh: cannot join OpenThread's medium as node {} (PORT_OFFSET {}): \
                         {e}; this node runs alone",
                        config.node_id, config.port_offset
                    );
                    UnixRadio::Alone(NoRadio::default())
                }
            },
            Err(e) => {
                eprintln!("pymesh: {e}; this node runs alone");
                UnixRadio::Alone(NoRadio::default())
            }
            Ok(None) => {
                let medium = MediumConfig::from_env();
                match EmulatedSx127x::open(eui64, clock, chip, medium, Arc::clone(&wake)) {
                    Ok(r) => UnixRadio::Sx127x(Box::new(r)),
                    Err(e) => {
                        eprintln!("pymesh: {e}; this node runs alone");
                        UnixRadio::Alone(NoRadio::default())
                    }
                }
            }
        };
        let ieee802154_channel = match &radio {
            UnixRadio::OtMedium(r) => Some(r.channel()),
            _ => None,
        };
        UnixBoard {
            clock,
            eui64,
            seed,
            radio: Mutex::new(radio),
            ieee802154_channel,
            mesh_running: AtomicBool::new(false),
            wake,
        }
    })
}

/// The mesh thread: poll, then sleep until the node's next deadline or the radio's next event
/// (see the module docs), or until notified.
fn run_mesh_thread(b: &'static UnixBoard) {
    loop {
        let deadline = ffi::poll();
        let radio_next = match &mut *b.radio.lock().unwrap() {
            UnixRadio::Sx127x(r) => r.next_poll_at().map(|t| t.millis()),
            // Frames and TxDone wait in the radio's queue until a poll takes them: poll again
            // at once while any do. Without a mesh nothing takes them: they are dropped, as
            // a radio that is not receiving does not hear them.
            UnixRadio::OtMedium(r) if b.mesh_running.load(Ordering::SeqCst) => {
                r.has_pending().then(|| b.clock.now().millis())
            }
            UnixRadio::OtMedium(r) => {
                let mut buf = [0u8; MAX_FRAME_LEN];
                while r.poll_event(b.clock.now(), &mut buf).is_some() {}
                None
            }
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

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn ot_medium_from_environment() {
        // Unset or empty: the LoRa medium.
        assert!(ot_medium_config(env(&[])).unwrap().is_none());
        assert!(
            ot_medium_config(env(&[("PYMESH_OT_MEDIUM", ""), ("PORT_OFFSET", "3")]))
                .unwrap()
                .is_none()
        );
        // Defaults: PORT_OFFSET 0, Pymesh's channel (11), no capture, everyone heard.
        let c = ot_medium_config(env(&[("PYMESH_OT_MEDIUM", "2")]))
            .unwrap()
            .unwrap();
        assert_eq!((c.node_id, c.port_offset, c.channel), (2, 0, 11));
        assert_eq!(c.pcap_path, None);
        assert_eq!(c.allowed_node_ids, None);
        let c = ot_medium_config(env(&[
            ("PYMESH_OT_MEDIUM", " 33\n"),
            ("PORT_OFFSET", "21"),
            ("PYMESH_OT_CHANNEL", "26"),
            ("PYMESH_PCAP", "/tmp/x.pcap"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((c.node_id, c.port_offset, c.channel), (33, 21, 26));
        assert_eq!(c.pcap_path.as_deref(), Some("/tmp/x.pcap"));
        // Not valid: an error, never another medium or channel.
        for bad in [
            &[("PYMESH_OT_MEDIUM", "0")][..],
            &[("PYMESH_OT_MEDIUM", "34")],
            &[("PYMESH_OT_MEDIUM", "two")],
            &[("PYMESH_OT_MEDIUM", "1"), ("PYMESH_OT_CHANNEL", "10")],
            &[("PYMESH_OT_MEDIUM", "1"), ("PYMESH_OT_CHANNEL", "27")],
            &[("PYMESH_OT_MEDIUM", "1"), ("PORT_OFFSET", "-1")],
            &[("PYMESH_OT_MEDIUM", "1"), ("PORT_OFFSET", "1662")],
        ] {
            assert!(ot_medium_config(env(bad)).is_err(), "{bad:?}");
        }
        // The largest offset: its highest port still fits.
        assert_eq!(OT_MAX_PORT_OFFSET, 1661);
        let c = ot_medium_config(env(&[("PYMESH_OT_MEDIUM", "33"), ("PORT_OFFSET", "1661")]))
            .unwrap()
            .unwrap();
        assert_eq!(group_port(c.port_offset) + 33, 65_507);
    }

    #[test]
    fn chip_from_environment_syntax() {
        assert_eq!(parse_chip("sx1272"), Some(Chip::Sx1272));
        assert_eq!(parse_chip(" SX1276\n"), Some(Chip::Sx1276));
        assert_eq!(parse_chip("sx1262"), None);
        assert_eq!(parse_chip(""), None);
    }
}
