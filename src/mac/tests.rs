//! MAC tests on a small virtual LoRa medium: every radio hears every other one, a packet takes
//! its LoRa airtime, a radio that transmits during a packet misses it (half-duplex), and a test
//! can drop packets, inject raw frames, or make a channel look busy.

use super::*;
use crate::radio::region::LoRaParams;
use crate::wire::ieee802154::tests::hex;
use crate::wire::security::derive_keys;
use std::collections::VecDeque;
use std::vec::Vec as StdVec;

const KEY: [u8; 16] = [
    0x12, 0x34, 0xc0, 0xde, 0x1a, 0xb5, 0x12, 0x34, 0xc0, 0xde, 0x1a, 0xb5, 0xca, 0x1a, 0x11, 0x0f,
];
const PAN: PanId = PanId(0x1234);

fn ext(n: u8) -> ExtAddress {
    ExtAddress([n; 8])
}

fn lora(frequency: u32) -> LoRaConfig {
    LoRaParams {
        region: Some(5),
        frequency: Some(frequency as i64),
        ..LoRaParams::pycom_defaults()
    }
    .validate()
    .unwrap()
}

/// One transmission on the medium.
#[derive(Debug, Clone)]
struct Tx {
    from: usize,
    start: Instant,
    end: Instant,
    bytes: StdVec<u8>,
}

struct Delivery {
    at: Instant,
    start: Instant,
    bytes: StdVec<u8>,
}

#[derive(Default)]
struct RadioState {
    tx_end: Option<Instant>,
    inbox: VecDeque<Delivery>,
    /// The channel reads busy (-60 dBm) until then.
    busy_until: Option<Instant>,
}

type DropRule = fn(from: usize, bytes: &[u8], nth_from_sender: usize) -> bool;

struct Medium {
    modulation: crate::radio::airtime::LoRaModulation,
    radios: StdVec<RadioState>,
    log: StdVec<Tx>,
    /// Packets for which this returns true reach nobody.
    drop: DropRule,
    snr_db: i8,
}

impl Medium {
    fn next_event(&self) -> Option<Instant> {
        self.radios
            .iter()
            .flat_map(|r| r.tx_end.into_iter().chain(r.inbox.iter().map(|d| d.at)))
            .min()
    }

    fn inject(&mut self, to: usize, at: Instant, bytes: &[u8]) {
        self.radios[to].inbox.push_back(Delivery {
            at,
            start: at,
            bytes: bytes.to_vec(),
        });
    }

    fn sent_by(&self, id: usize) -> StdVec<&Tx> {
        self.log.iter().filter(|t| t.from == id).collect()
    }
}

struct Port<'a> {
    m: &'a mut Medium,
    id: usize,
}

impl Radio for Port<'_> {
    fn configure(&mut self, _config: &LoRaConfig) -> Result<(), RadioError> {
        Ok(())
    }
    fn transmit(&mut self, now: Instant, frame: &[u8]) -> Result<(), RadioError> {
        if self.m.radios[self.id].tx_end.is_some() {
            return Err(RadioError::Busy);
        }
        if frame.len() > MAX_FRAME_LEN {
            return Err(RadioError::FrameTooLong);
        }
        let end = now + self.m.modulation.time_on_air(frame.len());
        let nth = self.m.sent_by(self.id).len();
        self.m.log.push(Tx {
            from: self.id,
            start: now,
            end,
            bytes: frame.to_vec(),
        });
        self.m.radios[self.id].tx_end = Some(end);
        if !(self.m.drop)(self.id, frame, nth) {
            for (j, r) in self.m.radios.iter_mut().enumerate() {
                if j != self.id {
                    r.inbox.push_back(Delivery {
                        at: end,
                        start: now,
                        bytes: frame.to_vec(),
                    });
                }
            }
        }
        Ok(())
    }
    fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
        Ok(())
    }
    fn poll_event(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioEvent> {
        let id = self.id;
        if self.m.radios[id].tx_end.is_some_and(|e| e <= now) {
            self.m.radios[id].tx_end = None;
            return Some(RadioEvent::TxDone);
        }
        while self.m.radios[id].inbox.front().is_some_and(|d| d.at <= now) {
            let d = self.m.radios[id].inbox.pop_front()?;
            // Half-duplex: a packet overlapping one of our own transmissions is lost.
            let deaf = self
                .m
                .log
                .iter()
                .any(|t| t.from == id && t.start < d.at && t.end > d.start);
            if deaf {
                continue;
            }
            buf[..d.bytes.len()].copy_from_slice(&d.bytes);
            return Some(RadioEvent::Received(RxInfo {
                len: d.bytes.len(),
                rssi_dbm: -90,
                snr_db: self.m.snr_db,
            }));
        }
        None
    }
    fn channel_rssi(&mut self, now: Instant) -> Option<i16> {
        let r = &self.m.radios[self.id];
        if r.tx_end.is_some() {
            return None;
        }
        if r.busy_until.is_some_and(|b| now < b) {
            return Some(-60);
        }
        let other_on_air = self
            .m
            .log
            .iter()
            .any(|t| t.from != self.id && t.start <= now && now < t.end);
        Some(if other_on_air { -80 } else { -120 })
    }
    fn sleep(&mut self) {}
}

#[derive(Default)]
struct Neighbors(StdVec<(ShortAddress, ExtAddress)>);

impl NeighborLookup for Neighbors {
    fn ext_address_of(&self, short: ShortAddress) -> Option<ExtAddress> {
        self.0.iter().find(|(s, _)| *s == short).map(|(_, e)| *e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rx {
    src: Address,
    src_ext: Option<ExtAddress>,
    dst: Address,
    payload: StdVec<u8>,
    secured: bool,
    key_sequence: Option<u32>,
    frame_counter: Option<u32>,
    link_margin_db: u8,
}

struct Node {
    mac: Mac,
    neighbors: Neighbors,
    rx: StdVec<Rx>,
    done: StdVec<(TxHandle, TxStatus, Instant)>,
}

struct Sim {
    now: Instant,
    medium: Medium,
    nodes: StdVec<Node>,
    keys: KeyManager,
}

impl Sim {
    fn new(n: usize, lora: LoRaConfig) -> Sim {
        let nodes = (0..n)
            .map(|i| Node {
                mac: Mac::new(MacConfig::new(ext(i as u8 + 1), PAN, lora), 100 + i as u64),
                neighbors: Neighbors::default(),
                rx: StdVec::new(),
                done: StdVec::new(),
            })
            .collect();
        Sim {
            now: Instant(1_000),
            medium: Medium {
                modulation: lora.modulation(),
                radios: (0..n).map(|_| RadioState::default()).collect(),
                log: StdVec::new(),
                drop: |_, _, _| false,
                snr_db: 5,
            },
            nodes,
            keys: KeyManager::new(KEY, 0),
        }
    }

    fn two() -> Sim {
        Sim::new(2, lora(868_100_000))
    }

    fn poll_all(&mut self) {
        let now = self.now;
        for (id, node) in self.nodes.iter_mut().enumerate() {
            let Node {
                mac,
                neighbors,
                rx,
                done,
            } = node;
            let mut port = Port {
                m: &mut self.medium,
                id,
            };
            mac.poll(
                now,
                &mut port,
                &self.keys,
                neighbors,
                &mut |ind| {
                    rx.push(Rx {
                        src: ind.src,
                        src_ext: ind.src_ext,
                        dst: ind.dst,
                        payload: ind.payload.to_vec(),
                        secured: ind.secured,
                        key_sequence: ind.key_sequence,
                        frame_counter: ind.frame_counter,
                        link_margin_db: ind.link_margin_db,
                    })
                },
                &mut |h, s| done.push((h, s, now)),
            );
        }
    }

    /// Polls, then moves time to the next thing anyone waits for (at least 1 ms on).
    fn step(&mut self) {
        self.poll_all();
        let next = self
            .nodes
            .iter()
            .filter_map(|n| n.mac.poll_at())
            .chain(self.medium.next_event())
            .min();
        self.now = match next {
            Some(t) if t > self.now => t,
            Some(_) => self.now + Duration(1),
            None => self.now + Duration(1_000),
        };
    }

    fn run_until(&mut self, end: Instant) {
        while self.now < end {
            self.step();
        }
        self.now = end;
    }

    fn run_for(&mut self, ms: u64) {
        let end = self.now + Duration(ms);
        self.run_until(end);
    }

    /// Node `node` holds RLOC16 `own` and knows `short` as extended address `ext(peer)`.
    fn link(&mut self, node: usize, own: u16, short: u16, peer: u8) {
        self.nodes[node].mac.set_short_address(ShortAddress(own));
        self.nodes[node]
            .neighbors
            .0
            .push((ShortAddress(short), ext(peer)));
    }

    fn send(&mut self, from: usize, req: TxRequest) -> TxHandle {
        let now = self.now;
        self.nodes[from].mac.enqueue(now, &req).unwrap()
    }
}

fn broadcast(payload: &[u8]) -> TxRequest<'_> {
    TxRequest {
        dst: Address::BROADCAST,
        src_short: false,
        secure: false,
        payload,
    }
}

fn unicast(dst: Address, secure: bool, payload: &[u8]) -> TxRequest<'_> {
    TxRequest {
        dst,
        src_short: secure,
        secure,
        payload,
    }
}

/// Two nodes with RLOC16s 0x3c00 (A, ext 01..) and 0x3c02 (B, ext 02..) that know each other.
fn linked() -> Sim {
    let mut sim = Sim::two();
    sim.link(0, 0x3c00, 0x3c02, 2);
    sim.link(1, 0x3c02, 0x3c00, 1);
    sim
}

#[test]
fn broadcast_goes_out_once() {
    let mut sim = Sim::two();
    let h = sim.send(0, broadcast(b"\x7f\x3bhello"));
    sim.run_for(10_000);
    let sent = sim.medium.sent_by(0);
    assert_eq!(sent.len(), 1);
    let f = Frame::new_checked(&sent[0].bytes[..]).unwrap();
    let r = FrameRepr::parse(&f).unwrap();
    assert!(!r.ack_request && r.pan_id_compression && r.security.is_none());
    assert_eq!(r.frame_version, FrameVersion::Ieee2006);
    assert_eq!(r.dst_pan_id, Some(PAN));
    assert_eq!(r.src_addr, Some(Address::Extended(ext(1))));
    assert_eq!(f.payload(), b"\x7f\x3bhello");
    // Header as OpenThread's broadcast MLE frames: fc 0xd841.
    assert_eq!(sent[0].bytes[..2], [0x41, 0xd8]);
    assert!(sim.medium.sent_by(1).is_empty(), "no ack for a broadcast");
    assert_eq!(sim.nodes[0].done.len(), 1);
    assert_eq!(sim.nodes[0].done[0].0, h);
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Sent);
    let rx = &sim.nodes[1].rx;
    assert_eq!(rx.len(), 1);
    assert_eq!(rx[0].payload, b"\x7f\x3bhello");
    assert!(!rx[0].secured && rx[0].key_sequence.is_none());
    assert_eq!(rx[0].dst, Address::BROADCAST);
    assert_eq!(rx[0].src_ext, Some(ext(1)));
    // SNR 5 dB at SF7 (floor -7.5 dB).
    assert_eq!(rx[0].link_margin_db, 12);
    let c = sim.nodes[0].mac.counters();
    assert_eq!((c.tx_total, c.tx_broadcast, c.tx_unicast), (1, 1, 0));
    assert_eq!(sim.nodes[1].mac.counters().rx_broadcast, 1);
}

#[test]
fn unicast_is_acked_with_an_ack_frame_of_its_own() {
    let mut sim = Sim::two();
    sim.send(0, unicast(Address::Extended(ext(2)), false, b"abc"));
    sim.run_for(10_000);
    let data = sim.medium.sent_by(0);
    assert_eq!(data.len(), 1, "acked at the first attempt");
    let seq = data[0].bytes[2];
    assert_eq!(data[0].bytes[..2], [0x61, 0xdc], "ack request, ext/ext");
    let acks = sim.medium.sent_by(1);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].bytes, [0x02, 0x10, seq]);
    assert_eq!(acks[0].start, data[0].end + timing::ACK_TURNAROUND);
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Acked);
    // Acked as soon as the ack ended, well within the wait.
    let acked_at = sim.nodes[0].done[0].2;
    assert_eq!(acked_at, acks[0].end);
    assert!(acked_at < data[0].end + sim.nodes[0].mac.ack_timeout());
    assert_eq!(sim.nodes[1].rx.len(), 1);
    let c = sim.nodes[0].mac.counters();
    assert_eq!((c.tx_unicast, c.tx_ack_requested, c.tx_acked), (1, 1, 1));
    assert_eq!(sim.nodes[1].mac.counters().tx_ack, 1);
    // The ack is on the books of the duty cycle too.
    assert_eq!(sim.nodes[1].mac.duty_cycle_stats().frames, 1);
}

#[test]
fn ieee802154_phy_acks_at_once_and_has_no_duty_cycle() {
    // 802.15.4 at 250 kbit/s: (PSDU + FCS + SHR/PHR) * 32 us, rounded up to the millisecond.
    let l = lora(868_100_000);
    assert_eq!(Phy::Ieee802154.airtime(&l, 125), Duration::from_millis(5)); // 4.256 ms
    assert_eq!(
        Phy::Ieee802154.airtime(&l, ACK_FRAME_LEN),
        Duration::from_millis(1)
    ); // 0.352 ms
    assert_eq!(Phy::Ieee802154.ack_turnaround(), Duration::ZERO);
    assert_eq!(Phy::LoRa.ack_turnaround(), timing::ACK_TURNAROUND);
    let mut sim = Sim::two();
    let config = MacConfig {
        phy: Phy::Ieee802154,
        ..MacConfig::new(ext(2), PAN, l)
    };
    sim.nodes[1].mac = Mac::new(config, 7);
    // OpenThread waits 16 ms for an ack, from the start of its frame.
    assert_eq!(
        sim.nodes[1].mac.ack_timeout(),
        Duration::from_millis(1) + timing::ACK_WAIT_MARGIN
    );
    sim.send(0, unicast(Address::Extended(ext(2)), false, b"abc"));
    sim.run_for(10_000);
    let data = sim.medium.sent_by(0);
    let acks = sim.medium.sent_by(1);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].start, data[0].end, "no turnaround");
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Acked);
    // 2.4 GHz: the ack is not on a duty-cycle budget.
    assert_eq!(
        sim.nodes[1].mac.duty_cycle_usage(sim.now).1,
        crate::radio::duty_cycle::DutyCycleLimit::UNLIMITED.budget()
    );
}

#[test]
fn lost_acks_mean_retries_with_the_same_bytes_then_no_ack() {
    let mut sim = linked();
    // Every packet from B (its acks) is lost.
    sim.medium.drop = |from, _, _| from == 1;
    sim.send(
        0,
        unicast(Address::Short(ShortAddress(0x3c02)), true, b"secret"),
    );
    sim.run_for(30_000);
    let sent = sim.medium.sent_by(0);
    assert_eq!(sent.len(), 4, "first attempt plus 3 retries");
    for t in &sent[1..] {
        // Same sequence number, same frame counter, same ciphertext.
        assert_eq!(t.bytes, sent[0].bytes);
    }
    let timeout = sim.nodes[0].mac.ack_timeout();
    for w in sent.windows(2) {
        assert!(w[1].start >= w[0].end + timeout, "waits for the ack first");
    }
    assert_eq!(sim.nodes[0].done.len(), 1);
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::NoAck);
    // B acked every copy but delivered one.
    assert_eq!(sim.medium.sent_by(1).len(), 4);
    assert_eq!(sim.nodes[1].rx.len(), 1);
    assert_eq!(sim.nodes[1].rx[0].payload, b"secret");
    let b = sim.nodes[1].mac.counters();
    assert_eq!((b.rx_duplicated, b.rx_err_sec), (3, 0));
    let a = sim.nodes[0].mac.counters();
    assert_eq!(
        (a.tx_total, a.tx_retry, a.tx_direct_max_retry_expiry),
        (1, 3, 1)
    );
    assert_eq!(a.tx_acked, 0);
    assert_eq!(
        sim.nodes[0].mac.frame_counter(),
        1,
        "one counter for all tries"
    );
}

#[test]
fn lost_data_frame_is_retried_and_acked() {
    let mut sim = Sim::two();
    sim.medium.drop = |from, _, nth| from == 0 && nth == 0;
    sim.send(0, unicast(Address::Extended(ext(2)), false, b"x"));
    sim.run_for(10_000);
    assert_eq!(sim.medium.sent_by(0).len(), 2);
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Acked);
    assert_eq!(sim.nodes[1].rx.len(), 1);
    assert_eq!(sim.nodes[0].mac.counters().tx_retry, 1);
}

#[test]
fn duplicate_sequence_from_the_same_source_is_dropped() {
    let mut sim = Sim::two();
    sim.send(0, broadcast(b"one"));
    sim.run_for(5_000);
    let bytes = sim.medium.sent_by(0)[0].bytes.clone();
    let t = sim.now;
    sim.medium.inject(1, t, &bytes);
    sim.run_for(1_000);
    assert_eq!(sim.nodes[1].rx.len(), 1);
    assert_eq!(sim.nodes[1].mac.counters().rx_duplicated, 1);
    // Same sequence number from another source is a different frame.
    let mut other = bytes.clone();
    other[7..15].copy_from_slice(&[9; 8]);
    let t = sim.now;
    sim.medium.inject(1, t, &other);
    sim.run_for(1_000);
    assert_eq!(sim.nodes[1].rx.len(), 2);
    assert_eq!(sim.nodes[1].rx[1].src, Address::Extended(ext(9)));
}

#[test]
fn secured_round_trip_and_replay_rejection() {
    let mut sim = linked();
    let payload = b"\x7a\x33\x3a some 6LoWPAN bytes";
    sim.send(
        0,
        unicast(Address::Short(ShortAddress(0x3c02)), true, payload),
    );
    sim.run_for(5_000);
    let first = sim.medium.sent_by(0)[0].bytes.clone();
    let f = Frame::new_checked(&first[..]).unwrap();
    let aux = f.aux_security_header().unwrap();
    assert_eq!(aux.security_level, 5);
    assert_eq!(aux.key_identifier, KeyIdentifier::Index(1));
    assert_eq!(aux.frame_counter, 0);
    assert_ne!(f.payload(), &payload[..], "encrypted on the air");
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Acked);
    let rx = &sim.nodes[1].rx;
    assert_eq!(rx.len(), 1);
    assert_eq!(rx[0].payload, payload);
    assert!(rx[0].secured);
    assert_eq!(
        (rx[0].key_sequence, rx[0].frame_counter),
        (Some(0), Some(0))
    );
    assert_eq!(rx[0].src, Address::Short(ShortAddress(0x3c00)));
    assert_eq!(rx[0].src_ext, Some(ext(1)));

    // A second frame moves the last sequence number on, so the replayed first frame passes
    // the duplicate check and must be stopped by its frame counter.
    sim.send(
        0,
        unicast(Address::Short(ShortAddress(0x3c02)), true, b"two"),
    );
    sim.run_for(5_000);
    assert_eq!(sim.nodes[1].rx.len(), 2);
    assert_eq!(sim.nodes[1].rx[1].frame_counter, Some(1));
    let t = sim.now;
    sim.medium.inject(1, t, &first);
    sim.run_for(1_000);
    assert_eq!(sim.nodes[1].rx.len(), 2, "replay not delivered");
    assert_eq!(sim.nodes[1].mac.counters().rx_err_sec, 1);

    // A flipped ciphertext bit fails the MIC.
    let mut forged = sim.medium.sent_by(0)[1].bytes.clone();
    forged[2] = forged[2].wrapping_add(7);
    let n = forged.len();
    forged[n - 6] ^= 1;
    let t = sim.now;
    sim.medium.inject(1, t, &forged);
    sim.run_for(1_000);
    assert_eq!(sim.nodes[1].rx.len(), 2);
    assert_eq!(sim.nodes[1].mac.counters().rx_err_sec, 2);
}

#[test]
fn secured_frame_from_unknown_short_address_is_dropped() {
    let mut sim = linked();
    sim.nodes[1].neighbors.0.clear();
    sim.send(
        0,
        unicast(Address::Short(ShortAddress(0x3c02)), true, b"who"),
    );
    sim.run_for(5_000);
    assert!(sim.nodes[1].rx.is_empty());
    // Each of the four attempts.
    assert_eq!(sim.nodes[1].mac.counters().rx_err_unknown_neighbor, 4);
    // Not acked: only frames that authenticate are (an 802.15.4 radio would have acked it).
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::NoAck);
    // Unsecured frames from a short address need no lookup.
    let mle = TxRequest {
        src_short: true,
        ..unicast(Address::Short(ShortAddress(0x3c02)), false, b"mle")
    };
    sim.send(0, mle);
    sim.run_for(5_000);
    assert_eq!(sim.nodes[1].rx.len(), 1);
    assert_eq!(sim.nodes[1].rx[0].src_ext, None);
}

/// Two partitions side by side may both give out RLOC16 0x3c02: only the holder that knows
/// the sender (and so authenticates its frame) acks it, and the sender hears one ack.
#[test]
fn only_the_rloc16_holder_that_authenticates_a_frame_acks_it() {
    let mut sim = Sim::new(3, lora(868_100_000));
    sim.link(0, 0x3c00, 0x3c02, 2);
    sim.link(1, 0x3c02, 0x3c00, 1);
    // The other partition's 0x3c02 has a 0x3c00 of its own.
    sim.link(2, 0x3c02, 0x3c00, 9);
    sim.send(
        0,
        unicast(Address::Short(ShortAddress(0x3c02)), true, b"solicit"),
    );
    sim.run_for(5_000);
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Acked);
    assert_eq!(sim.nodes[1].rx.len(), 1);
    assert!(sim.nodes[2].rx.is_empty());
    assert_eq!(
        sim.nodes[2].mac.counters().rx_err_sec,
        1,
        "its nonce is wrong"
    );
    assert!(
        sim.medium.sent_by(2).is_empty(),
        "no ack from the other holder"
    );
    assert_eq!(sim.medium.sent_by(1).len(), 1, "one ack");
}

/// A data frame from `src` to `dst` on `pan`, unsecured, as raw bytes.
fn raw_frame(pan: PanId, dst: Address, src: Address, seq: u8) -> StdVec<u8> {
    let r = FrameRepr {
        frame_type: FrameType::Data,
        frame_pending: false,
        ack_request: !dst.is_broadcast(),
        pan_id_compression: true,
        frame_version: FrameVersion::Ieee2006,
        sequence_number: seq,
        dst_pan_id: Some(pan),
        dst_addr: Some(dst),
        src_pan_id: None,
        src_addr: Some(src),
        security: None,
    };
    let mut out = [0u8; 64];
    let n = r.emit(&mut out).unwrap();
    out[n] = 0x41;
    out[..n + 1].to_vec()
}

#[test]
fn address_filtering() {
    let mut sim = linked();
    let a = Address::Extended(ext(1));
    let cases = [
        (PAN, Address::Short(ShortAddress(0x3c03)), a, false),
        (PAN, Address::Extended(ext(7)), a, false),
        (
            PanId(0x4321),
            Address::Short(ShortAddress(0x3c02)),
            a,
            false,
        ),
        (PanId(0x4321), Address::BROADCAST, a, false),
        (PAN, Address::Short(ShortAddress(0x3c02)), a, true),
        (PAN, Address::Extended(ext(2)), a, true),
        (PanId(0xffff), Address::BROADCAST, a, true),
    ];
    for (i, (pan, dst, src, accepted)) in cases.into_iter().enumerate() {
        let before = sim.nodes[1].rx.len();
        let acks = sim.medium.sent_by(1).len();
        let t = sim.now;
        sim.medium.inject(1, t, &raw_frame(pan, dst, src, i as u8));
        sim.run_for(1_000);
        assert_eq!(
            sim.nodes[1].rx.len() - before,
            accepted as usize,
            "case {i}"
        );
        let acked = accepted && !dst.is_broadcast();
        assert_eq!(
            sim.medium.sent_by(1).len() - acks,
            acked as usize,
            "case {i}"
        );
    }
    assert_eq!(sim.nodes[1].mac.counters().rx_dest_addr_filtered, 4);
    // Our own extended address as the source: someone replays or spoofs us.
    let t = sim.now;
    let own = raw_frame(PAN, Address::BROADCAST, Address::Extended(ext(2)), 99);
    sim.medium.inject(1, t, &own);
    sim.run_for(1_000);
    assert_eq!(sim.nodes[1].mac.counters().rx_err_invalid_src_addr, 1);
    // Without a short address, frames to 0xfffe are not ours.
    sim.nodes[1].mac.set_short_address(ShortAddress::INVALID);
    let t = sim.now;
    let f = raw_frame(PAN, Address::Short(ShortAddress::INVALID), a, 100);
    sim.medium.inject(1, t, &f);
    sim.run_for(1_000);
    assert_eq!(sim.nodes[1].mac.counters().rx_dest_addr_filtered, 5);
    // Garbage is counted, not delivered.
    let t = sim.now;
    sim.medium.inject(1, t, &[0x41, 0xd8]);
    sim.run_for(1_000);
    assert_eq!(sim.nodes[1].mac.counters().rx_err_no_frame, 1);
}

#[test]
fn duty_cycle_makes_a_saturating_sender_wait() {
    // 868.8 MHz is in the 0.1 % sub-band: 3.6 s of airtime per hour.
    let mut sim = Sim::new(2, lora(868_800_000));
    let payload = [0x55u8; 100];
    let airtime = sim.medium.modulation.time_on_air(100 + 15);
    let end = sim.now + Duration::from_secs(2 * 3600 + 600);
    while sim.now < end {
        while sim.nodes[0].mac.pending_frames() < TX_QUEUE_LEN {
            sim.send(0, broadcast(&payload));
        }
        sim.step();
    }
    let sent = sim.medium.sent_by(0);
    let budget = 3_600u64;
    let per_hour = budget / airtime.millis();
    // Every hour-long window, wherever it starts, stays within the budget.
    for t in &sent {
        let window_end = t.end.millis();
        let used: u64 = sent
            .iter()
            .filter(|u| u.end.millis() > window_end.saturating_sub(3_600_000))
            .filter(|u| u.start.millis() < window_end)
            .map(|u| u.end.millis() - u.start.millis())
            .sum();
        assert!(used <= budget, "{used} ms in the hour ending {window_end}");
    }
    // The first hour's budget went at once; then the sender waited for it to come back.
    let first_hour = sent
        .iter()
        .filter(|t| t.start < Instant(1_000 + 3_600_000))
        .count() as u64;
    assert_eq!(first_hour, per_hour);
    assert!(sent.len() as u64 >= 2 * per_hour, "{} sent", sent.len());
    let stats = sim.nodes[0].mac.duty_cycle_stats();
    assert_eq!(stats.frames as usize, sent.len());
    assert!(stats.delayed_frames > 0);
    assert!(stats.total_delay >= Duration::from_secs(3_000), "{stats:?}");
    let (used, limit) = sim.nodes[0].mac.duty_cycle_usage(sim.now);
    assert!(used <= limit);
    // Nothing dropped: delayed frames were all sent eventually.
    assert!(sim.nodes[0].done.iter().all(|d| d.1 == TxStatus::Sent));
}

#[test]
fn a_priority_frame_goes_before_ordinary_frames_not_yet_sent() {
    // 0.1 % sub-band: the hour's budget goes at once, then the head frame waits for it.
    let mut sim = Sim::new(2, lora(868_800_000));
    let payload = [0x55u8; 100];
    let airtime = sim.medium.modulation.time_on_air(100 + 15).millis();
    let mut enqueued = 0;
    while (sim.medium.sent_by(0).len() as u64) < 3_600 / airtime {
        while sim.nodes[0].mac.pending_frames() < TX_QUEUE_LEN {
            sim.send(0, broadcast(&payload));
            enqueued += 1;
        }
        sim.step();
    }
    sim.run_for(60_000);
    let before = sim.medium.sent_by(0).len();
    assert!(sim.nodes[0].mac.pending_frames() > 1);
    let now = sim.now;
    sim.nodes[0]
        .mac
        .enqueue_priority(now, &broadcast(b"network control"), 3)
        .unwrap();
    sim.run_for(3_600_000);
    let sent = sim.medium.sent_by(0);
    assert!(sent.len() > before + 1);
    assert!(sent[before]
        .bytes
        .windows(15)
        .any(|w| w == b"network control"));
    // The ordinary frame it went before was not lost: every frame was sent or is queued.
    let done = sim.nodes[0].done.len();
    assert_eq!(sent.len(), done);
    assert_eq!(done + sim.nodes[0].mac.pending_frames(), enqueued + 1);
}

#[test]
fn frame_longer_than_the_budget_is_dropped() {
    // At SF12, 0.1 % (3.6 s per hour) is less than one 120-byte frame (about 4.6 s).
    let mut cfg = lora(868_800_000);
    cfg.sf = 12;
    let mut sim = Sim::new(2, cfg);
    sim.send(0, broadcast(&[0u8; 100]));
    sim.run_for(10_000);
    assert!(sim.medium.sent_by(0).is_empty());
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Dropped);
    assert_eq!(sim.nodes[0].mac.counters().tx_err_duty_cycle, 1);
}

#[test]
fn listen_before_talk_backs_off_while_the_channel_is_busy() {
    let mut sim = Sim::two();
    // Busy for about two airtimes of the frame: one or two back-offs.
    let airtime = sim.medium.modulation.time_on_air(19);
    let busy_until = sim.now + Duration(2 * airtime.millis());
    sim.medium.radios[0].busy_until = Some(busy_until);
    sim.send(0, broadcast(b"wait"));
    sim.run_for(20_000);
    let sent = sim.medium.sent_by(0);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].start >= busy_until);
    let c = sim.nodes[0].mac.counters();
    assert!(c.tx_err_cca >= 1 && c.tx_err_cca <= u32::from(MAX_CSMA_BACKOFFS));
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Sent);

    // A channel that never clears: give up after the allowed back-offs.
    let mut sim = Sim::two();
    sim.medium.radios[0].busy_until = Some(Instant(u64::MAX));
    sim.send(0, broadcast(b"never"));
    sim.run_for(60_000);
    assert!(sim.medium.sent_by(0).is_empty());
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::ChannelBusy);
    let c = sim.nodes[0].mac.counters();
    assert_eq!(c.tx_err_cca, u32::from(MAX_CSMA_BACKOFFS) + 1);
    assert_eq!(c.tx_err_busy_channel, 1);
}

#[test]
fn ack_goes_before_queued_data() {
    let mut sim = Sim::two();
    sim.send(0, unicast(Address::Extended(ext(2)), false, b"ping"));
    // Run until A's frame has just ended, then give B a frame to send.
    sim.poll_all();
    let a_end = sim.medium.sent_by(0)[0].end;
    sim.run_until(a_end);
    sim.send(1, broadcast(b"data"));
    sim.run_for(10_000);
    let b = sim.medium.sent_by(1);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].bytes.len(), 3, "the ack first");
    assert!(b[1].start >= b[0].end);
    assert_eq!(sim.nodes[0].done[0].1, TxStatus::Acked);
    assert_eq!(sim.nodes[1].done[0].1, TxStatus::Sent);
}

#[test]
fn queue_order_capacity_and_clear() {
    let mut sim = Sim::two();
    let mut handles = StdVec::new();
    for i in 0..TX_QUEUE_LEN as u8 {
        handles.push(sim.send(0, broadcast(&[i])));
    }
    let now = sim.now;
    assert_eq!(
        sim.nodes[0].mac.enqueue(now, &broadcast(b"x")),
        Err(MacError::QueueFull)
    );
    assert_eq!(
        sim.nodes[0]
            .mac
            .enqueue(now, &broadcast(&[0; MAX_FRAME_LEN])),
        Err(MacError::FrameTooLong)
    );
    sim.run_for(30_000);
    let done: StdVec<TxHandle> = sim.nodes[0].done.iter().map(|d| d.0).collect();
    assert_eq!(done, handles);
    let payloads: StdVec<u8> = sim.nodes[1].rx.iter().map(|r| r.payload[0]).collect();
    assert_eq!(payloads, (0..TX_QUEUE_LEN as u8).collect::<StdVec<_>>());
    // Sequence numbers go up by one per frame.
    let seqs: StdVec<u8> = sim.medium.sent_by(0).iter().map(|t| t.bytes[2]).collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1));
    }
    sim.send(0, broadcast(b"a"));
    sim.send(0, broadcast(b"b"));
    sim.nodes[0].mac.clear();
    assert_eq!(sim.nodes[0].mac.pending_frames(), 0);
    sim.run_for(5_000);
    assert_eq!(sim.medium.sent_by(0).len(), TX_QUEUE_LEN);
}

/// thread11.pcap frame 56 (without its FCS): OpenThread's leader 0x3c00 (ext 0101010101010101)
/// to its child 0x3c02, sequence 0x0b, MAC frame counter 1, key index 1.
const OT_FRAME_56: &str = "69980b341202 3c003c0d0100000001f45dcf68a3e370b9fca03ec07995e4fa75\
    7d7cc26317bc8556d7bc9c17e6b3fcfd";
/// Its payload as tshark decrypts it (an ICMPv6 echo in IPHC).
const OT_FRAME_56_PAYLOAD: &str = "7a653afc00fcb311ab06703562810089\
    9e00010001001adc2900000000";

#[test]
fn secured_frame_matches_openthread_byte_for_byte() {
    let frame = hex(OT_FRAME_56);
    let payload = hex(OT_FRAME_56_PAYLOAD);
    // Check our reading of the capture before trusting it.
    assert_eq!(payload.len(), 29);
    let mut check = frame.clone();
    let key = derive_keys(&KEY, 0).mac_key;
    let range = security::unsecure_frame(&mut check, &key, &ext(1)).unwrap();
    assert_eq!(&check[range], &payload[..]);

    let mut sim = linked();
    sim.nodes[0].mac.sequence = 0x0a;
    sim.nodes[0].mac.set_frame_counter(1);
    sim.send(
        0,
        unicast(Address::Short(ShortAddress(0x3c02)), true, &payload),
    );
    sim.run_for(5_000);
    assert_eq!(sim.medium.sent_by(0)[0].bytes, frame);
    // And the receiving MAC decrypts OpenThread's frame.
    assert_eq!(sim.nodes[1].rx.len(), 1);
    assert_eq!(sim.nodes[1].rx[0].payload, payload);
    assert_eq!(sim.nodes[1].rx[0].frame_counter, Some(1));
    assert_eq!(sim.medium.sent_by(1)[0].bytes, [0x02, 0x10, 0x0b]);
}

#[test]
fn receives_openthread_secured_frame_14() {
    use crate::wire::ieee802154::tests::F14_SECURED_DATA;
    let mut bytes = hex(F14_SECURED_DATA);
    bytes.truncate(bytes.len() - 2); // FCS
    let mut sim = Sim::two();
    // Node 1 of the capture: the leader 0x3c00, hearing 0x3c01 (ext 0202020202020202).
    sim.nodes[0].mac.set_short_address(ShortAddress(0x3c00));
    sim.nodes[0]
        .neighbors
        .0
        .push((ShortAddress(0x3c01), ext(2)));
    let t = sim.now;
    sim.medium.inject(0, t, &bytes);
    sim.run_for(2_000);
    let rx = &sim.nodes[0].rx;
    assert_eq!(rx.len(), 1);
    assert!(rx[0].secured);
    assert_eq!(rx[0].src_ext, Some(ext(2)));
    assert_eq!(rx[0].frame_counter, Some(0));
    assert_eq!(rx[0].payload.len(), bytes.len() - 15 - 4);
    // The ack carries the capture's sequence number (0x98 fc: ack requested).
    assert_eq!(sim.medium.sent_by(0)[0].bytes, [0x02, 0x10, bytes[2]]);
}

#[test]
fn ack_for_a_2003_frame_copies_its_version() {
    let mut sim = Sim::two();
    let mut f = raw_frame(
        PAN,
        Address::Extended(ext(1)),
        Address::Extended(ext(2)),
        0x42,
    );
    // Frame version bits 12..13 -> 0 (2003).
    f[1] &= !0x30;
    let t = sim.now;
    sim.medium.inject(0, t, &f);
    sim.run_for(1_000);
    assert_eq!(sim.medium.sent_by(0)[0].bytes, [0x02, 0x00, 0x42]);
}

#[test]
fn truncated_and_oversized_frames_are_counted_not_delivered() {
    let mut sim = linked();
    sim.send(
        0,
        unicast(Address::Short(ShortAddress(0x3c02)), true, b"whole"),
    );
    sim.run_for(5_000);
    assert_eq!(sim.nodes[1].rx.len(), 1);
    let good = sim.medium.sent_by(0)[0].bytes.clone();
    let before = *sim.nodes[1].mac.counters();
    // Cut inside the auxiliary security header, and a frame longer than a PSDU without FCS.
    let t = sim.now;
    sim.medium.inject(1, t, &good[..12]);
    sim.run_for(1_000);
    let mut long = good.clone();
    long.resize(crate::radio::MAX_FRAME_LEN + 1, 0xab);
    let t = sim.now;
    sim.medium.inject(1, t, &long);
    sim.run_for(1_000);
    let after = sim.nodes[1].mac.counters();
    assert_eq!(sim.nodes[1].rx.len(), 1, "neither is delivered");
    assert_eq!(after.rx_err_no_frame, before.rx_err_no_frame + 2);
    assert_eq!(after.rx_total, before.rx_total + 2);
}
