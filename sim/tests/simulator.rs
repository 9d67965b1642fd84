//! The discrete-event simulator: determinism, the air (range, collisions, capture,
//! half-duplex), fault injection, pcap, and speed. Mesh assertions are limited to what a node
//! does today (Parent Requests, then leading its own partition).

use std::io::Write;
use std::sync::{Arc, Mutex};

use pymesh::mle::Role;
use pymesh::wire::mle::Command;
use pymesh_sim::air::{self, Phy};
use pymesh_sim::des::{Happening, LinkQuality, LossCause, NodeId, NodeSpec, Simulator, SECOND_US};
use pymesh_sim::pcap::read_pcap;
use pymesh_sim::scenario::{self, eu868, ext_addr};

const PARENT_REQUEST: u8 = 9;

/// A pcap sink the test can read back while the simulator owns the writer.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

fn mesh_node(i: usize, x: f64, y: f64) -> NodeSpec {
    NodeSpec::new(ext_addr(i), eu868(7), 1000 + i as u64).at(x, y)
}

fn radio_node(i: usize, x: f64, y: f64) -> NodeSpec {
    mesh_node(i, x, y).radio_only()
}

/// A frame as the air carries it; radio-only receivers do not parse it.
fn raw_frame(tag: u8, len: usize) -> Vec<u8> {
    vec![tag; len]
}

fn receptions(sim: &Simulator, at: NodeId, from: NodeId) -> usize {
    sim.log()
        .iter()
        .filter(|e| {
            e.node == at && matches!(e.what, Happening::Receive { from: f, .. } if f == from)
        })
        .count()
}

fn losses(sim: &Simulator, at: NodeId, cause: LossCause) -> usize {
    sim.log()
        .iter()
        .filter(|e| {
            e.node == at && matches!(e.what, Happening::Lost { cause: c, .. } if c == cause)
        })
        .count()
}

/// A 3x3 grid at 3 km (neighbours and diagonals in range at SF7), with pcap and log.
fn grid_run(seed: u64) -> (Vec<u8>, String) {
    let mut sim = scenario::build(seed, &scenario::grid(9, 3000.0), eu868(7));
    let pcap = SharedBuf::default();
    sim.capture_pcap(pcap.clone()).unwrap();
    sim.record_log(true);
    sim.run_for(90 * SECOND_US);
    let log: String = sim.log().iter().map(|e| format!("{e}\n")).collect();
    (pcap.bytes(), log)
}

#[test]
fn same_seed_same_run_byte_for_byte_and_other_seeds_differ() {
    let (pcap_a, log_a) = grid_run(7);
    let (pcap_b, log_b) = grid_run(7);
    let (pcap_c, log_c) = grid_run(8);
    let (_, frames) = read_pcap(&pcap_a).unwrap();
    assert!(
        frames.len() > 9,
        "every node sent something: {}",
        frames.len()
    );
    assert!(log_a.contains(" rx #"), "frames were received");
    assert!(pcap_a == pcap_b, "same seed, same pcap bytes");
    assert_eq!(log_a, log_b, "same seed, same event log");
    assert!(pcap_a != pcap_c, "another seed, another pcap");
    assert_ne!(log_a, log_c, "another seed, another log");
}

#[test]
fn a_lone_node_leads_within_a_minute_and_is_not_polled_busily() {
    let mut sim = Simulator::new(1);
    sim.record_log(true);
    let n = sim.add_node(mesh_node(0, 0.0, 0.0));
    assert_eq!(sim.role(n).0, Role::Detached);
    let t = sim
        .run_until_cond(60 * SECOND_US, |s| s.role(n).0 == Role::Leader)
        .expect("a lone node leads its own partition within 60 s");
    let node = sim.node(n).unwrap();
    assert_eq!(node.mle().counters.parent_requests_sent, 2);
    assert_eq!(
        sim.node_stats(n).frames_sent,
        3,
        "two Parent Requests, then the new leader's Data Response (as OpenThread does)"
    );
    assert!(node.leader_data().is_some());
    // Both parent-request windows passed (OpenThread's order: routers, then REEDs).
    let timing = sim.spec(n).timing;
    let windows = (timing.parent_request_router_timeout.millis()
        + timing.parent_request_reed_timeout.millis())
        * 1000;
    assert!(
        t >= windows,
        "led at {t} us, before the windows ({windows} us) closed"
    );
    // Ten more minutes of a leader advertising: polls follow timers and frames only.
    sim.run_for(600 * SECOND_US);
    let st = sim.node_stats(n);
    assert!(
        st.frames_sent > 10,
        "a leader advertises: {}",
        st.frames_sent
    );
    assert!(
        st.polls < 20 * st.frames_sent,
        "{} polls for {} frames: busy polling",
        st.polls,
        st.frames_sent
    );
    assert_eq!(
        sim.now_us(),
        t + 600 * SECOND_US,
        "run_for ends at its time"
    );
}

#[test]
fn steps_jump_from_event_to_event_and_time_never_goes_back() {
    let mut sim = Simulator::new(14);
    assert!(!sim.step(), "nothing to do");
    sim.add_node(mesh_node(0, 0.0, 0.0));
    sim.add_node(mesh_node(1, 1000.0, 0.0));
    let mut last = sim.now_us();
    let mut steps = 0;
    while sim.now_us() < 60 * SECOND_US {
        assert!(sim.step(), "a node always has a timer");
        assert!(sim.now_us() >= last);
        last = sim.now_us();
        steps += 1;
    }
    assert_eq!(steps as u64, sim.stats().events);
    assert!(steps < 200, "{steps} events in a minute of two nodes");
    // run_until lands on the requested time even between events.
    sim.run_until(last + 1);
    assert_eq!(sim.now_us(), last + 1);
}

#[test]
fn two_nodes_in_range_hear_each_others_mle_messages() {
    let mut sim = Simulator::new(2);
    sim.record_log(true);
    let a = sim.add_node(mesh_node(0, 0.0, 0.0));
    let b = sim.add_node(mesh_node(1, 1000.0, 0.0));
    let mut heard = [false; 2];
    sim.run_until_cond(30 * SECOND_US, |s| {
        for (k, id) in [a, b].into_iter().enumerate() {
            heard[k] |= s
                .node(id)
                .unwrap()
                .mle()
                .counters
                .rx_by_command
                .iter()
                .sum::<u32>()
                >= 1;
        }
        heard == [true, true]
    })
    .expect("each node received and decrypted an MLE message of the other");
    assert_eq!(Command::from(PARENT_REQUEST), Command::ParentRequest);
    for id in [a, b] {
        let c = sim.node(id).unwrap().mac_counters();
        assert!(c.rx_total >= 1);
        assert_eq!(
            sim.node(id).unwrap().rx_drops().mle_security,
            0,
            "same key: frames decrypt"
        );
    }
    // The reported RSSI is the path-loss model's.
    let (rssi, snr) = air::link_budget(&Phy::from_config(&eu868(7)), 1000.0);
    let rx = sim
        .log()
        .iter()
        .find_map(|e| match e.what {
            Happening::Receive {
                rssi_dbm, snr_db, ..
            } => Some((rssi_dbm, snr_db)),
            _ => None,
        })
        .unwrap();
    assert_eq!(rx, (rssi.round() as i16, snr.round() as i8));
    assert!(receptions(&sim, a, b) >= 1 && receptions(&sim, b, a) >= 1);
}

#[test]
fn a_node_with_another_key_hears_frames_it_cannot_decrypt() {
    let mut sim = Simulator::new(3);
    let a = sim.add_node(mesh_node(0, 0.0, 0.0));
    let b = sim.add_node(mesh_node(1, 500.0, 0.0).with_key([0x55; 16]));
    sim.run_for(20 * SECOND_US);
    assert!(sim.node_stats(b).frames_received >= 1);
    assert!(sim.node(b).unwrap().rx_drops().mle_security >= 1);
    assert!(sim.node(a).unwrap().rx_drops().mle_security >= 1);
    assert_eq!(
        sim.node(b).unwrap().mle().counters.rx_by_command[PARENT_REQUEST as usize],
        0
    );
}

#[test]
fn nodes_out_of_range_hear_nothing() {
    let mut sim = Simulator::new(4);
    let far = 2.0 * scenario::range_m(&eu868(7));
    let a = sim.add_node(mesh_node(0, 0.0, 0.0));
    let b = sim.add_node(mesh_node(1, far, 0.0));
    sim.run_for(60 * SECOND_US);
    for (me, other) in [(a, b), (b, a)] {
        assert!(sim.node_stats(other).frames_sent >= 2);
        assert_eq!(sim.node_stats(me).frames_received, 0);
        assert_eq!(sim.node(me).unwrap().mac_counters().rx_total, 0);
        assert_eq!(
            sim.node_stats(me).lost.too_weak,
            sim.node_stats(other).frames_sent,
            "every frame of the other node is below the floor here"
        );
        assert_eq!(sim.role(me).0, Role::Leader, "alone, each leads");
    }
    assert_eq!(sim.stats().receptions, 0);
    // Just inside the range the same pair hears each other.
    let near = 0.9 * scenario::range_m(&eu868(7));
    let mut sim = Simulator::new(4);
    let a = sim.add_node(mesh_node(0, 0.0, 0.0));
    let b = sim.add_node(mesh_node(1, near, 0.0));
    sim.run_for(60 * SECOND_US);
    assert!(sim.node_stats(a).frames_received >= 1 && sim.node_stats(b).frames_received >= 1);
}

#[test]
fn simultaneous_frames_collide_unless_one_is_6_db_stronger() {
    // Equal power at the receiver: both lost.
    let mut sim = Simulator::new(5);
    sim.record_log(true);
    let a = sim.add_node(radio_node(0, -1000.0, 0.0));
    let b = sim.add_node(radio_node(1, 1000.0, 0.0));
    let c = sim.add_node(radio_node(2, 0.0, 0.0));
    sim.run_for(SECOND_US);
    sim.transmit_raw(a, &raw_frame(0xa0, 40)).unwrap();
    sim.run_for(20_000); // b starts 20 ms into a's frame (~100 ms long at SF7)
    sim.transmit_raw(b, &raw_frame(0xb0, 40)).unwrap();
    sim.run_for(SECOND_US);
    assert_eq!(losses(&sim, c, LossCause::Air(air::Loss::Collision)), 2);
    assert_eq!(sim.node_stats(c).frames_received, 0);
    // a and b are 2 km apart, each hears the other... while transmitting: half-duplex.
    assert_eq!(losses(&sim, a, LossCause::Air(air::Loss::HalfDuplex)), 1);

    // b twice as far from c (8 dB weaker at n = 2.7): c captures a's frame, loses b's.
    let mut sim = Simulator::new(5);
    sim.record_log(true);
    let a = sim.add_node(radio_node(0, -1000.0, 0.0));
    let b = sim.add_node(radio_node(1, 2000.0, 0.0));
    let c = sim.add_node(radio_node(2, 0.0, 0.0));
    let qa = sim.link_quality(a, c).unwrap().rssi_dbm;
    let qb = sim.link_quality(b, c).unwrap().rssi_dbm;
    assert!(qa - qb > air::CAPTURE_THRESHOLD_DB, "{qa} vs {qb}");
    sim.run_for(SECOND_US);
    sim.transmit_raw(b, &raw_frame(0xb0, 40)).unwrap();
    sim.run_for(10_000);
    sim.transmit_raw(a, &raw_frame(0xa0, 40)).unwrap();
    sim.run_for(SECOND_US);
    assert_eq!(receptions(&sim, c, a), 1, "the stronger frame is captured");
    assert_eq!(receptions(&sim, c, b), 0);
    assert_eq!(losses(&sim, c, LossCause::Air(air::Loss::Collision)), 1);

    // Back to back without overlap: both received.
    let mut sim = Simulator::new(5);
    sim.record_log(true);
    let a = sim.add_node(radio_node(0, -1000.0, 0.0));
    let b = sim.add_node(radio_node(1, 1000.0, 0.0));
    let c = sim.add_node(radio_node(2, 0.0, 0.0));
    let airtime = Phy::from_config(&eu868(7)).airtime_us(40);
    sim.transmit_raw(a, &raw_frame(0xa0, 40)).unwrap();
    sim.run_for(airtime);
    sim.transmit_raw(b, &raw_frame(0xb0, 40)).unwrap();
    sim.run_for(SECOND_US);
    assert_eq!(receptions(&sim, c, a), 1);
    assert_eq!(receptions(&sim, c, b), 1);
}

#[test]
fn a_transmitting_radio_is_deaf_and_busy() {
    let mut sim = Simulator::new(6);
    sim.record_log(true);
    let a = sim.add_node(radio_node(0, 0.0, 0.0));
    let b = sim.add_node(radio_node(1, 500.0, 0.0));
    sim.transmit_raw(a, &raw_frame(1, 100)).unwrap();
    assert!(sim.radio(a).is_transmitting());
    assert_eq!(
        sim.transmit_raw(a, &raw_frame(2, 10)),
        Err(pymesh::radio::RadioError::Busy)
    );
    sim.run_for(50_000);
    // b starts while a's frame is still arriving: b loses a's frame, a loses b's.
    sim.transmit_raw(b, &raw_frame(3, 10)).unwrap();
    sim.run_for(SECOND_US);
    assert_eq!(losses(&sim, b, LossCause::Air(air::Loss::HalfDuplex)), 1);
    assert_eq!(losses(&sim, a, LossCause::Air(air::Loss::HalfDuplex)), 1);
    assert_eq!(sim.stats().receptions, 0);
    // Once the air is quiet, the same two radios hear each other.
    sim.transmit_raw(a, &raw_frame(4, 10)).unwrap();
    sim.run_for(SECOND_US);
    assert_eq!(receptions(&sim, b, a), 1);
    // Airtime comes from SF/BW/CR/length.
    let phy = Phy::from_config(&eu868(7));
    assert_eq!(
        sim.node_stats(a).airtime_us,
        phy.airtime_us(100) + phy.airtime_us(10)
    );
    assert_eq!(
        sim.node_stats(a).airtime_us,
        pymesh::radio::airtime::time_on_air_us(&eu868(7).modulation(), 100)
            + pymesh::radio::airtime::time_on_air_us(&eu868(7).modulation(), 10)
    );
}

#[test]
fn a_killed_node_is_silent_and_a_restarted_one_starts_over() {
    let mut sim = Simulator::new(7);
    sim.record_log(true);
    let a = sim.add_node(mesh_node(0, 0.0, 0.0));
    let b = sim.add_node(mesh_node(1, 800.0, 0.0));
    sim.run_for(30 * SECOND_US);
    assert!(receptions(&sim, a, b) >= 1);
    let first_partition = sim.node(b).unwrap().leader_data().map(|l| l.partition_id);

    sim.kill(b);
    assert!(!sim.is_alive(b) && sim.node(b).is_none());
    assert_eq!(sim.role(b).0, Role::Disabled);
    let sent = sim.node_stats(b).frames_sent;
    let heard = receptions(&sim, a, b);
    sim.run_for(120 * SECOND_US);
    assert_eq!(
        sim.node_stats(b).frames_sent,
        sent,
        "dead nodes send nothing"
    );
    assert_eq!(receptions(&sim, a, b), heard);
    assert_eq!(receptions(&sim, b, a), {
        let before: usize = sim
            .log()
            .iter()
            .filter(|e| e.node == b && matches!(e.what, Happening::Receive { .. }))
            .count();
        before
    });
    let b_rx = sim.node_stats(b).frames_received;
    assert!(sim.node_stats(a).frames_sent > 0);

    sim.restart(b);
    assert_eq!(sim.restarts(b), 1);
    let node = sim.node(b).unwrap();
    assert_eq!(node.config().ext_addr, ext_addr(1), "same extended address");
    assert_eq!(node.role(), Role::Detached, "a fresh node attaches again");
    assert_eq!(node.mle().counters.parent_requests_sent, 0);
    sim.run_for(60 * SECOND_US);
    let node = sim.node(b).unwrap();
    assert!(node.mle().counters.parent_requests_sent >= 1);
    assert!(receptions(&sim, a, b) > heard, "heard again after restart");
    assert!(sim.node_stats(b).frames_received > b_rx);
    if let (Some(before), Some(after)) = (first_partition, node.leader_data()) {
        assert_ne!(before, after.partition_id, "a new seed, a new partition");
    }
}

#[test]
fn killing_a_sender_mid_frame_aborts_it() {
    let mut sim = Simulator::new(8);
    let a = sim.add_node(radio_node(0, 0.0, 0.0));
    let b = sim.add_node(radio_node(1, 500.0, 0.0));
    sim.transmit_raw(a, &raw_frame(1, 100)).unwrap();
    sim.run_for(10_000);
    sim.kill(a);
    sim.run_for(SECOND_US);
    assert_eq!(sim.node_stats(b).lost.aborted, 1);
    assert_eq!(sim.node_stats(b).frames_received, 0);
    assert_eq!(
        sim.transmit_raw(a, &[1]),
        Err(pymesh::radio::RadioError::Hardware)
    );
}

#[test]
fn cut_links_and_lossy_links() {
    let mut sim = Simulator::new(9);
    sim.record_log(true);
    let a = sim.add_node(mesh_node(0, 0.0, 0.0));
    let b = sim.add_node(mesh_node(1, 800.0, 0.0));
    let c = sim.add_node(mesh_node(2, 400.0, 400.0));
    sim.cut_link(a, b);
    sim.run_for(60 * SECOND_US);
    assert_eq!(receptions(&sim, a, b), 0);
    assert_eq!(receptions(&sim, b, a), 0);
    assert!(sim.node_stats(a).lost.link_cut >= 2);
    assert!(
        receptions(&sim, c, a) >= 1 && receptions(&sim, c, b) >= 1,
        "only a-b is cut"
    );

    sim.restore_link(a, b);
    sim.run_for(120 * SECOND_US);
    assert!(receptions(&sim, a, b) >= 1 && receptions(&sim, b, a) >= 1);

    // Total loss, then half loss, on a-c only.
    sim.set_loss(a, c, 1.0);
    let (ac, ca) = (receptions(&sim, c, a), receptions(&sim, a, c));
    sim.run_for(300 * SECOND_US);
    assert_eq!((receptions(&sim, c, a), receptions(&sim, a, c)), (ac, ca));
    assert!(sim.node_stats(c).lost.random >= 1);
    sim.set_loss(a, c, 0.5);
    let random_before = sim.stats().lost.random;
    sim.run_for(900 * SECOND_US);
    assert!(receptions(&sim, c, a) > ac, "half the frames get through");
    assert!(sim.stats().lost.random > random_before, "half do not");
    sim.set_loss(a, c, 0.0);
    let random_before = sim.stats().lost.random;
    sim.run_for(300 * SECOND_US);
    assert_eq!(sim.stats().lost.random, random_before);
}

#[test]
fn an_explicit_link_table_replaces_positions() {
    let mut sim = Simulator::new(10);
    sim.record_log(true);
    let lora = eu868(7);
    // No positions: only table links exist. a-b good, b-c weak one way, a-c none.
    let a = sim.add_node(NodeSpec::new(ext_addr(0), lora, 1).radio_only());
    let b = sim.add_node(NodeSpec::new(ext_addr(1), lora, 2).radio_only());
    let c = sim.add_node(NodeSpec::new(ext_addr(2), lora, 3).radio_only());
    let good = LinkQuality {
        rssi_dbm: -90.0,
        snr_db: 8.0,
    };
    let weak = LinkQuality {
        rssi_dbm: -128.0,
        snr_db: -11.0,
    };
    sim.set_link(a, b, Some(good));
    sim.set_link_directed(b, c, Some(weak));
    sim.set_link_directed(c, b, Some(good));
    sim.set_link(a, c, None);
    for from in [a, b, c] {
        sim.transmit_raw(from, &raw_frame(from.0 as u8, 20))
            .unwrap();
        sim.run_for(SECOND_US);
    }
    assert_eq!(receptions(&sim, b, a), 1);
    assert_eq!(receptions(&sim, a, b), 1);
    assert_eq!(receptions(&sim, c, b), 0, "below SF7's floor");
    assert_eq!(losses(&sim, c, LossCause::Air(air::Loss::TooWeak)), 1);
    assert_eq!(receptions(&sim, b, c), 1);
    assert_eq!(receptions(&sim, c, a) + receptions(&sim, a, c), 0);
    let rx = sim.log().iter().find_map(|e| match e.what {
        Happening::Receive {
            rssi_dbm, snr_db, ..
        } => Some((rssi_dbm, snr_db)),
        _ => None,
    });
    assert_eq!(rx, Some((-90, 8)));
}

#[test]
fn other_spreading_factors_are_not_heard() {
    let mut sim = Simulator::new(11);
    let a = sim.add_node(radio_node(0, 0.0, 0.0));
    let b = sim.add_node(
        NodeSpec::new(ext_addr(1), eu868(9), 2)
            .at(100.0, 0.0)
            .radio_only(),
    );
    sim.transmit_raw(a, &raw_frame(1, 20)).unwrap();
    sim.run_for(SECOND_US);
    assert_eq!(sim.node_stats(b).lost.not_tuned, 1);
    assert_eq!(sim.node_stats(b).frames_received, 0);
}

fn tshark_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/tshark-thread.sh")
}

#[test]
fn the_pcap_holds_every_frame_and_wireshark_finds_nothing_wrong() {
    let path = std::env::temp_dir().join(format!("pymesh-sim-{}.pcap", std::process::id()));
    let mut sim = scenario::build(12, &scenario::grid(6, 2000.0), eu868(7));
    sim.capture_pcap(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    ))
    .unwrap();
    sim.run_for(120 * SECOND_US);
    let sent = sim.stats().frames_sent;
    drop(sim); // flushes the file
    let data = std::fs::read(&path).unwrap();
    let (linktype, frames) = read_pcap(&data).unwrap();
    assert_eq!(linktype, 195);
    assert_eq!(frames.len() as u64, sent, "one record per frame on the air");
    assert!(frames.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    for (_, f) in &frames {
        let n = f.len();
        assert_eq!(
            pymesh::wire::ieee802154::fcs(&f[..n - 2]).to_le_bytes(),
            [f[n - 2], f[n - 1]]
        );
    }
    let has_tshark = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tshark {
        println!("tshark is not installed: the Wireshark check of the pcap is SKIPPED");
        let _ = std::fs::remove_file(&path);
        return;
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new("bash")
            .arg(tshark_script())
            .arg("-r")
            .arg(&path)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let bad = run(&["-Y", "_ws.malformed || _ws.expert.severity == error"]);
    assert!(bad.is_empty(), "tshark finds errors:\n{bad}");
    // Every frame is an MLE message, a TMF (CoAP) message, or an 802.15.4 ack (frame type 2).
    let fields = run(&[
        "-T",
        "fields",
        "-e",
        "wpan.frame_type",
        "-e",
        "mle.cmd",
        "-e",
        "udp.dstport",
    ]);
    let mut cmds = Vec::new();
    for line in fields.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let kind = (
            f.first().copied(),
            f.get(1).copied().unwrap_or(""),
            f.get(2).copied().unwrap_or(""),
        );
        match kind {
            (Some("0x2" | "2" | "0x0002"), _, _) => {}
            (_, cmd, _) if !cmd.is_empty() => cmds.push(cmd.to_string()),
            (_, _, "61631") => {}
            other => panic!("a frame tshark does not decode as MLE, TMF or ack: {other:?}"),
        }
    }
    assert_eq!(
        fields.lines().count() as u64,
        sent,
        "one pcap record per frame"
    );
    assert!(cmds.iter().any(|c| c == "9"), "Parent Requests: {cmds:?}");
    let _ = std::fs::remove_file(&path);
}

/// 100 nodes, 10 minutes of virtual time. Prints the speed; asserts only that the run did
/// work (speed depends on the machine).
#[test]
fn throughput_100_nodes_for_10_minutes() {
    let positions = scenario::grid(100, 3000.0);
    let mut sim = scenario::build(13, &positions, eu868(7));
    sim.run_for(600 * SECOND_US);
    let st = *sim.stats();
    println!(
        "100 nodes, 600 s virtual: {:.2} s wall, {:.0} node-s per wall s, {} frames, {} receptions, \
         {} events, {} polls, lost {:?}",
        sim.wall_time().as_secs_f64(),
        sim.speed(),
        st.frames_sent,
        st.receptions,
        st.events,
        st.polls,
        st.lost
    );
    assert_eq!(sim.node_seconds(), 60_000.0);
    assert!(st.frames_sent >= 200 && st.receptions > st.frames_sent);
    let counts = scenario::role_counts(&sim);
    assert_eq!(counts.iter().sum::<usize>(), 100);
    assert_eq!(counts[Role::Disabled as usize], 0);
}
