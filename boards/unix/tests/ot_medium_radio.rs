//! The unix board's radio on OpenThread's simulation medium ([`open_ot_medium`], selected by
//! `PYMESH_OT_MEDIUM`): a frame sent by one node reaches another on the same channel, and the
//! receiver's `wake` condvar is notified when it arrives (the mesh thread sleeps on it and
//! must answer OpenThread's ack-requested frames within its 16 ms ack wait); frames on another
//! channel neither arrive nor wake; `has_pending` says when a poll has something to deliver.
//!
//! Each test runs on a `PORT_OFFSET` of its own, from the process id, far above the offsets of
//! `tools/test-interop.py` (20..) and of hand-started nodes (0).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use pymesh::radio::{Radio, RadioEvent, MAX_FRAME_LEN};
use pymesh::time::Instant;
use pymesh_sim::medium::Clock;
use pymesh_sim::ot_medium::OtMediumConfig;
use pymesh_unix::{open_ot_medium, Wake};

fn port_offset(test: u16) -> u16 {
    1000 + (std::process::id() % 200) as u16 * 3 + test
}

fn config(port_offset: u16, node_id: u16, channel: u8) -> OtMediumConfig {
    OtMediumConfig {
        port_offset,
        node_id,
        channel,
        pcap_path: None,
        allowed_node_ids: None,
    }
}

fn new_wake() -> Wake {
    Arc::new((Mutex::new(false), Condvar::new()))
}

/// Waits up to `timeout` for `wake`'s flag, as the mesh thread does; clears it.
fn woken(wake: &Wake, timeout: StdDuration) -> bool {
    let (lock, cv) = &**wake;
    let deadline = StdInstant::now() + timeout;
    let mut flag = lock.lock().unwrap();
    while !*flag {
        let left = deadline.saturating_duration_since(StdInstant::now());
        if left.is_zero() {
            return false;
        }
        flag = cv.wait_timeout(flag, left).unwrap().0;
    }
    *flag = false;
    true
}

/// An 802.15.4 data frame (2006, PAN ID compression, short addresses), sequence `seq`.
fn frame(seq: u8) -> Vec<u8> {
    vec![
        0x41, 0x98, seq, 0x34, 0x12, 0xff, 0xff, 0x00, 0x04, 0xaa, 0xbb,
    ]
}

#[test]
fn an_arriving_frame_wakes_the_board_and_is_delivered_by_the_next_poll() {
    let clock = Clock::new();
    let offset = port_offset(0);
    let (wake_a, wake_b) = (new_wake(), new_wake());
    let mut a = open_ot_medium(&config(offset, 1, 11), clock, Arc::clone(&wake_a)).unwrap();
    let mut b = open_ot_medium(&config(offset, 2, 11), clock, Arc::clone(&wake_b)).unwrap();
    let mut buf = [0u8; MAX_FRAME_LEN];
    assert!(!b.has_pending());

    a.transmit(Instant::from_millis(0), &frame(7)).unwrap();
    // The sender's TxDone is due at once.
    assert!(a.has_pending());
    assert_eq!(
        a.poll_event(clock.now(), &mut buf),
        Some(RadioEvent::TxDone)
    );
    assert!(!a.has_pending());

    assert!(woken(&wake_b, StdDuration::from_secs(2)), "B was not woken");
    assert!(b.has_pending());
    match b.poll_event(clock.now(), &mut buf) {
        Some(RadioEvent::Received(info)) => assert_eq!(&buf[..info.len], &frame(7)[..]),
        other => panic!("B polled {other:?}"),
    }
    assert!(!b.has_pending());
    // The sender does not hear (nor wake for) its own frame.
    assert!(!woken(&wake_a, StdDuration::from_millis(200)));
    assert_eq!(a.poll_event(clock.now(), &mut buf), None);

    // And the other way.
    b.transmit(clock.now(), &frame(8)).unwrap();
    assert!(woken(&wake_a, StdDuration::from_secs(2)), "A was not woken");
    assert_eq!(a.stats().received, 1);
    match a.poll_event(clock.now(), &mut buf) {
        Some(RadioEvent::Received(info)) => assert_eq!(&buf[..info.len], &frame(8)[..]),
        other => panic!("A polled {other:?}"),
    }
}

#[test]
fn a_frame_on_another_channel_neither_arrives_nor_wakes() {
    let clock = Clock::new();
    let offset = port_offset(1);
    let (wake_a, wake_c, wake_d) = (new_wake(), new_wake(), new_wake());
    let mut a = open_ot_medium(&config(offset, 1, 15), clock, wake_a).unwrap();
    let mut c = open_ot_medium(&config(offset, 3, 11), clock, Arc::clone(&wake_c)).unwrap();
    let d = open_ot_medium(&config(offset, 4, 15), clock, Arc::clone(&wake_d)).unwrap();
    assert_eq!((a.channel(), c.channel()), (15, 11));
    a.transmit(clock.now(), &frame(1)).unwrap();
    // D (channel 15) hears it: once it did, C (channel 11) has had the datagram too.
    assert!(woken(&wake_d, StdDuration::from_secs(2)), "D was not woken");
    assert!(d.has_pending());
    let deadline = StdInstant::now() + StdDuration::from_secs(2);
    while c.stats().other_channel == 0 && StdInstant::now() < deadline {
        std::thread::sleep(StdDuration::from_millis(5));
    }
    assert_eq!(c.stats().other_channel, 1);
    assert!(!woken(&wake_c, StdDuration::ZERO));
    assert!(!c.has_pending());
    let mut buf = [0u8; MAX_FRAME_LEN];
    assert_eq!(c.poll_event(clock.now(), &mut buf), None);
}
