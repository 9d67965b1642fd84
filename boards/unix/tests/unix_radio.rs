//! The unix board's radio as the firmware builds it ([`EmulatedSx127x`]): the SX127x driver on
//! an emulated chip whose antenna is the medium. Two in-process nodes on a medium of their own
//! (loopback multicast, real time) exchange frames both ways, SX1276 and SX1272 mixed; the
//! chip's write log shows the driver's FIFO writes and TX mode; the board's wake-up rule
//! (`next_poll_at` and the `wake` condvar) is enough to get every event without spinning.
//!
//! Each test names its own medium (name with the process id), so tests running at once, and
//! unix nodes running elsewhere on this machine, are not on it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration as StdDuration;

use pymesh::radio::region::LoRaParams;
use pymesh::radio::sx127x::Chip;
use pymesh::radio::{LoRaConfig, Radio, RadioEvent, RxInfo};
use pymesh::time::Instant;
use pymesh::wire::ExtAddress;
use pymesh_sim::air::{self, Phy};
use pymesh_sim::medium::{Clock, MediumConfig};
use pymesh_unix::{EmulatedSx127x, RadioOpenError, Wake};

/// RegFifo and RegOpMode (datasheet register map).
const REG_FIFO: u8 = 0x00;
const REG_OP_MODE: u8 = 0x01;
const LONG_RANGE_MODE: u8 = 0x80;
const MODE_TX: u8 = 0x03;

/// Longest a test waits for one frame to cross (its time on air is well under 300 ms).
const TIMEOUT_MS: u64 = 3_000;

fn eu868() -> LoRaConfig {
    LoRaParams {
        region: Some(5),
        ..LoRaParams::pycom_defaults()
    }
    .validate()
    .unwrap()
}

fn medium(test: &str, position: (f32, f32)) -> MediumConfig {
    MediumConfig {
        name: format!("unix-radio-test-{test}-{}", std::process::id()),
        position,
        loss: 0.0,
        pcap_path: None,
    }
}

fn new_wake() -> Wake {
    Arc::new((Mutex::new(false), Condvar::new()))
}

struct Node {
    radio: EmulatedSx127x,
}

impl Node {
    fn open(chip: Chip, mac: u64, medium: MediumConfig, clock: Clock, wake: &Wake) -> Node {
        let radio = EmulatedSx127x::open(
            ExtAddress::from_u64(mac),
            clock,
            chip,
            medium,
            Arc::clone(wake),
        )
        .expect("join the medium and bring up the chip");
        Node { radio }
    }

    /// Configured for `config` and receiving, as the MAC leaves it.
    fn listening(
        chip: Chip,
        mac: u64,
        medium: MediumConfig,
        clock: Clock,
        wake: &Wake,
        config: &LoRaConfig,
    ) -> Node {
        let mut n = Node::open(chip, mac, medium, clock, wake);
        n.radio.driver().configure(config).unwrap();
        n.radio.driver().receive(clock.now()).unwrap();
        n
    }
}

/// One event a node's driver reported.
#[derive(Debug, Clone)]
struct Seen {
    node: usize,
    at: Instant,
    event: RadioEvent,
    frame: Vec<u8>,
}

/// Plays the board's mesh thread for `nodes` (sharing one `wake`): poll every driver (back to
/// receive after TxDone, as the MAC does), then sleep until the first node's `next_poll_at` or
/// a notification, at most a second. Returns what was seen and how many polls it took, once
/// `done` holds or after [`TIMEOUT_MS`].
fn run_until(
    nodes: &mut [&mut Node],
    wake: &Wake,
    clock: Clock,
    done: impl Fn(&[Seen]) -> bool,
) -> (Vec<Seen>, u32) {
    let give_up = clock.now().millis() + TIMEOUT_MS;
    let mut seen = Vec::new();
    let mut polls = 0;
    let mut buf = [0u8; 256];
    while !done(&seen) && clock.now().millis() < give_up {
        polls += 1;
        let now = clock.now();
        for (i, n) in nodes.iter_mut().enumerate() {
            while let Some(event) = n.radio.driver().poll_event(now, &mut buf) {
                let frame = match event {
                    RadioEvent::Received(info) => buf[..info.len].to_vec(),
                    RadioEvent::TxDone => {
                        n.radio.driver().receive(now).unwrap();
                        Vec::new()
                    }
                };
                seen.push(Seen {
                    node: i,
                    at: now,
                    event,
                    frame,
                });
            }
        }
        let next = nodes
            .iter_mut()
            .filter_map(|n| n.radio.next_poll_at())
            .min()
            .map_or(u64::MAX, |t| t.millis());
        let wait = StdDuration::from_millis(next.saturating_sub(clock.now().millis()).min(1000));
        let (lock, cv) = &**wake;
        let mut woken = lock.lock().unwrap();
        if !*woken && !wait.is_zero() {
            woken = cv.wait_timeout(woken, wait).unwrap().0;
        }
        *woken = false;
    }
    (seen, polls)
}

fn received_by(seen: &[Seen], node: usize, frame: &[u8]) -> Option<(Instant, RxInfo)> {
    seen.iter().find_map(|s| match s.event {
        RadioEvent::Received(info) if s.node == node && s.frame == frame => Some((s.at, info)),
        _ => None,
    })
}

fn tx_done(seen: &[Seen], node: usize) -> Option<Instant> {
    seen.iter()
        .find(|s| s.node == node && s.event == RadioEvent::TxDone)
        .map(|s| s.at)
}

/// A frame no other test or node sends: its bytes carry the process, the test and the time.
fn frame(tag: u8, len: usize, clock: &Clock) -> Vec<u8> {
    let mut f = vec![tag; len];
    let stamp = (std::process::id() as u64) << 32 ^ clock.now_us();
    f[1..9].copy_from_slice(&stamp.to_be_bytes());
    f
}

/// Sends `frame` from `from`'s driver and checks it arrives in `to`'s driver with the RSSI and
/// SNR the air model gives for their distance, that `from` got TxDone (not its TX timeout),
/// and that the frame went out through the driver's register writes.
fn send_and_check(
    nodes: &mut [&mut Node],
    (from, to): (usize, usize),
    frame: &[u8],
    distance_m: f64,
    config: &LoRaConfig,
    (wake, clock): (&Wake, Clock),
) {
    nodes[from].radio.emulator().take_writes();
    let start = clock.now();
    nodes[from].radio.driver().transmit(start, frame).unwrap();
    let (seen, polls) = run_until(nodes, wake, clock, |s| {
        tx_done(s, from).is_some() && received_by(s, to, frame).is_some()
    });
    let chips = (
        nodes[from].radio.driver().chip(),
        nodes[to].radio.driver().chip(),
    );
    let (rx_at, info) = received_by(&seen, to, frame)
        .unwrap_or_else(|| panic!("{chips:?}: frame not received; saw {seen:?}"));
    let done_at = tx_done(&seen, from).expect("TxDone");

    // The driver's TX went through the chip: its FIFO writes are the frame, then RegOpMode TX.
    let writes = nodes[from].radio.emulator().writes();
    let fifo: Vec<u8> = writes
        .iter()
        .filter(|(r, _)| *r == REG_FIFO)
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(fifo, frame, "{chips:?}: FIFO writes");
    let last_fifo = writes.iter().rposition(|(r, _)| *r == REG_FIFO).unwrap();
    assert!(
        writes[last_fifo..]
            .iter()
            .any(|&(r, v)| r == REG_OP_MODE && v & LONG_RANGE_MODE != 0 && v & 0x07 == MODE_TX),
        "{chips:?}: no RegOpMode LoRa TX after the FIFO: {writes:x?}"
    );
    let tx = nodes[from].radio.emulator().transmissions();
    let tx = tx.last().expect("the chip transmitted");
    assert_eq!(tx.frame, frame);
    assert_eq!(
        (tx.settings.frequency, tx.settings.sf, tx.settings.sync_word),
        (config.frequency, config.sf, config.sync_word()),
        "{chips:?}: the chip's registers"
    );

    // TxDone came from the chip once the frame's time on air had passed, not from the
    // driver's timeout.
    let airtime_ms = config.modulation().time_on_air(frame.len()).millis();
    assert!(
        done_at.millis() + 1 >= start.millis() + airtime_ms,
        "{chips:?}: TxDone at {done_at:?}, sent at {start:?}, {airtime_ms} ms on air"
    );
    assert_eq!(nodes[from].radio.driver().take_fault(), None);
    assert_eq!(nodes[from].radio.driver().stats().tx_timeouts, 0);

    // RSSI and SNR as the air model gives them, through RegPktRssiValue / RegPktSnrValue and
    // the receiving chip's offsets.
    let (rssi, snr) = air::link_budget(&Phy::from_config(config), distance_m);
    assert_eq!(info.len, frame.len());
    assert!(
        (info.rssi_dbm as f64 - rssi).abs() <= 1.0,
        "{chips:?}: RSSI {} dBm, air model {rssi:.1}",
        info.rssi_dbm
    );
    assert!(
        (info.snr_db as f64 - snr).abs() <= 1.0,
        "{chips:?}: SNR {} dB, air model {snr:.1}",
        info.snr_db
    );
    // The board's wake-up rule found every event in time (the frame's end, not the
    // once-a-second fallback) and without spinning: a few polls per frame
    // (notification, frame ends, DIO0 edges), not one per millisecond of airtime.
    assert!(
        rx_at.millis() <= start.millis() + airtime_ms + 50,
        "{chips:?}: received at {rx_at:?}, sent at {start:?}, {airtime_ms} ms on air"
    );
    eprintln!(
        "{chips:?}: {polls} polls, received {} ms after the send",
        rx_at.millis() - start.millis()
    );
    assert!(
        polls < 30,
        "{chips:?}: {polls} polls for one frame of {airtime_ms} ms"
    );
}

#[test]
fn two_nodes_exchange_frames_both_ways_through_driver_emulator_and_medium() {
    let config = eu868();
    for (i, (chip_a, chip_b)) in [
        (Chip::Sx1276, Chip::Sx1276),
        (Chip::Sx1276, Chip::Sx1272),
        (Chip::Sx1272, Chip::Sx1276),
    ]
    .into_iter()
    .enumerate()
    {
        let clock = Clock::new();
        let wake = new_wake();
        let name = format!("exchange{i}");
        // 1 km apart: an SNR (about 10 dB) inside what RegPktSnrValue can hold.
        let mut a = Node::listening(
            chip_a,
            0x0101_0101_0101_0101,
            medium(&name, (0.0, 0.0)),
            clock,
            &wake,
            &config,
        );
        let mut b = Node::listening(
            chip_b,
            0x0101_0101_0101_0102,
            medium(&name, (1000.0, 0.0)),
            clock,
            &wake,
            &config,
        );
        let nodes = &mut [&mut a, &mut b];
        let f = frame(0xA1, 40, &clock);
        send_and_check(nodes, (0, 1), &f, 1000.0, &config, (&wake, clock));
        let f = frame(0xB2, 60, &clock);
        send_and_check(nodes, (1, 0), &f, 1000.0, &config, (&wake, clock));
        for n in [&a, &b] {
            assert_eq!(n.radio.emulator().violations(), Vec::<String>::new());
        }
        assert_eq!(a.radio.driver().stats().rx_frames, 1);
        assert_eq!(b.radio.driver().stats().rx_frames, 1);
    }
}

#[test]
fn next_poll_at_is_when_the_frame_ends_and_a_dio0_edge_means_now() {
    let config = eu868();
    let clock = Clock::new();
    let wake = new_wake();
    let mut a = Node::listening(
        Chip::Sx1276,
        0x0202_0202_0202_0201,
        medium("wake", (0.0, 0.0)),
        clock,
        &wake,
        &config,
    );
    let mut b = Node::listening(
        Chip::Sx1272,
        0x0202_0202_0202_0202,
        medium("wake", (10.0, 0.0)),
        clock,
        &wake,
        &config,
    );
    assert_eq!(
        b.radio.next_poll_at(),
        None,
        "nothing due on a quiet medium"
    );
    *wake.0.lock().unwrap() = false;

    let f = frame(0xC3, 120, &clock);
    let airtime_ms = config.modulation().time_on_air(f.len()).millis();
    let start = clock.now();
    a.radio.driver().transmit(start, &f).unwrap();
    // The sender wakes at the end of its transmission (the chip's TxDone), before the
    // driver's timeout.
    let a_next = a
        .radio
        .next_poll_at()
        .expect("the sender has a TX in progress");
    let tx_deadline = a
        .radio
        .driver()
        .poll_at()
        .expect("the driver's TX deadline");
    assert!(a_next < tx_deadline);
    assert!(
        a_next.millis().abs_diff(start.millis() + airtime_ms) <= 2,
        "{a_next:?}: sent at {start:?}, {airtime_ms} ms on air"
    );

    // The medium's receive thread notifies `wake` when the frame starts arriving...
    {
        let (lock, cv) = &*wake;
        let woken = lock.lock().unwrap();
        let (woken, _) = cv
            .wait_timeout_while(woken, StdDuration::from_millis(airtime_ms), |w| !*w)
            .unwrap();
        assert!(*woken, "the medium did not notify the board");
    }
    // ...and the receiver is then told to wake when it has finished arriving, not before.
    let b_next = b.radio.next_poll_at().expect("a frame on its way");
    let now = clock.now();
    assert!(b_next > now, "{b_next:?} at {now:?}");
    assert!(b_next.millis() <= start.millis() + airtime_ms + 50);
    let mut buf = [0u8; 256];
    assert_eq!(b.radio.driver().poll_event(now, &mut buf), None);

    // Sleeping until then is enough: the frame is taken off the medium into the FIFO, DIO0
    // rises, and the board polls at once.
    std::thread::sleep(StdDuration::from_millis(
        b_next.millis().saturating_sub(clock.now().millis()),
    ));
    let edge = b.radio.next_poll_at().expect("DIO0 rose");
    let now = clock.now();
    assert!(edge <= now, "{edge:?} at {now:?}");
    match b.radio.driver().poll_event(now, &mut buf) {
        Some(RadioEvent::Received(info)) => assert_eq!(&buf[..info.len], &f[..]),
        other => panic!("expected the frame, got {other:?}"),
    }
    // Answered: nothing more is due, so the thread sleeps.
    assert_eq!(b.radio.next_poll_at(), None);
}

#[test]
fn an_idle_chip_still_drains_the_medium_so_the_board_does_not_spin() {
    // The driver is up but never told to receive (no mesh started): frames from others must
    // not stay due in the past, or the mesh thread would poll without sleeping.
    let config = eu868();
    let clock = Clock::new();
    let wake = new_wake();
    let mut a = Node::listening(
        Chip::Sx1276,
        0x0303_0303_0303_0301,
        medium("idle", (0.0, 0.0)),
        clock,
        &wake,
        &config,
    );
    let mut idle = Node::open(
        Chip::Sx1276,
        0x0303_0303_0303_0302,
        medium("idle", (10.0, 0.0)),
        clock,
        &wake,
    );
    let f = frame(0xD4, 30, &clock);
    a.radio.driver().transmit(clock.now(), &f).unwrap();
    let (seen, _) = run_until(&mut [&mut a, &mut idle], &wake, clock, |s| {
        tx_done(s, 0).is_some()
    });
    assert!(tx_done(&seen, 0).is_some());
    // Past the frame's end at the idle node plus the medium's latency.
    std::thread::sleep(StdDuration::from_millis(50));
    let now = clock.now();
    if let Some(t) = idle.radio.next_poll_at() {
        assert!(t > now, "an idle node is due at {t:?}, now {now:?}");
    }
    assert_eq!(idle.radio.emulator().dio0_rises(), 0);
    assert_eq!(idle.radio.driver().stats().rx_frames, 0);
}

#[test]
fn received_frames_go_to_the_nodes_pcap() {
    let config = eu868();
    let clock = Clock::new();
    let wake = new_wake();
    let path = std::env::temp_dir().join(format!("unix-radio-{}.pcap", std::process::id()));
    let mut a = Node::listening(
        Chip::Sx1276,
        0x0404_0404_0404_0401,
        medium("pcap", (0.0, 0.0)),
        clock,
        &wake,
        &config,
    );
    let mut b = Node::listening(
        Chip::Sx1276,
        0x0404_0404_0404_0402,
        MediumConfig {
            pcap_path: Some(path.to_string_lossy().into_owned()),
            ..medium("pcap", (10.0, 0.0))
        },
        clock,
        &wake,
        &config,
    );
    let f = frame(0xE5, 50, &clock);
    a.radio.driver().transmit(clock.now(), &f).unwrap();
    let (seen, _) = run_until(&mut [&mut a, &mut b], &wake, clock, |s| {
        received_by(s, 1, &f).is_some()
    });
    assert!(received_by(&seen, 1, &f).is_some());
    drop(b);
    let capture = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        capture.windows(f.len()).any(|w| w == f.as_slice()),
        "the frame is not in the pcap ({} bytes)",
        capture.len()
    );
}

#[test]
fn a_medium_that_cannot_be_joined_is_an_error_for_the_board_to_report() {
    let mut m = medium("nojoin", (0.0, 0.0));
    m.pcap_path = Some("/nonexistent-directory/capture.pcap".into());
    match EmulatedSx127x::open(
        ExtAddress::from_u64(0x0505_0505_0505_0501),
        Clock::new(),
        Chip::Sx1276,
        m,
        new_wake(),
    ) {
        Err(RadioOpenError::Medium(_)) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened a medium whose capture file cannot exist"),
    }
}
