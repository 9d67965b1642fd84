//! Our nodes and OpenThread's simulated nodes on one 802.15.4 medium in virtual time
//! (`pymesh_sim::ot_virtual`): OpenThread's `ot-cli-ftd` built with virtual time
//! (`make ot-vt`: build/ot-vt/ot-cli-ftd) runs as separate processes whose clocks this
//! simulator advances; our nodes run `Timing::thread()` in the same virtual time.
//!
//! Without build/ot-vt/ot-cli-ftd every test prints that it is skipped and why (on stderr,
//! past the test harness's capture) and passes; with `PYMESH_REQUIRE_OT_VT=1` (as
//! `make test-interop` sets it) a missing binary fails instead. `PYMESH_OT_VT_CLI` names
//! another binary. Each test writes the frames of its run to build/interop/vt-<test>.pcap and
//! has tshark (if installed) decode them with the network key: no malformed frame, no error.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pymesh::mle::Role;
use pymesh::node::NetworkIdentity;
use pymesh_sim::ot_virtual::{CoSim, FrameRecord, Kind, MemberId, Result, SECOND_US};

const MS: u64 = 1000;

fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// The virtual-time `ot-cli-ftd`, or `None` after saying why the test is skipped.
fn ot_binary(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PYMESH_OT_VT_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("build/ot-vt/ot-cli-ftd"));
    if path.is_file() {
        return Some(path);
    }
    let why = format!("{} is missing (`make ot-vt` builds it)", path.display());
    if std::env::var_os("PYMESH_REQUIRE_OT_VT").is_some() {
        panic!("{test}: {why}, and PYMESH_REQUIRE_OT_VT is set");
    }
    // Straight to stderr: the harness captures println! of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    None
}

/// Where a test's capture goes: build/interop/vt-<test>.pcap.
fn pcap_path(test: &str) -> PathBuf {
    let dir = workspace().join("build/interop");
    std::fs::create_dir_all(&dir).expect("create build/interop");
    dir.join(format!("vt-{test}.pcap"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Our network (Pymesh's identity and default key) as OpenThread dataset commands.
fn pymesh_dataset() -> Vec<String> {
    let id = NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY);
    let p = id.mesh_local_prefix;
    vec![
        "dataset init new".into(),
        format!("dataset networkkey {}", hex(&id.network_key)),
        format!("dataset panid 0x{:04x}", id.pan_id.0),
        format!("dataset channel {}", id.channel),
        format!("dataset extpanid {}", hex(&id.ext_pan_id)),
        format!(
            "dataset meshlocalprefix {:x}:{:x}:{:x}:{:x}::",
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
            u16::from_be_bytes([p[4], p[5]]),
            u16::from_be_bytes([p[6], p[7]])
        ),
        format!("dataset networkname {}", id.network_name),
        "dataset commit active".into(),
        "ifconfig up".into(),
        "thread start".into(),
    ]
}

fn ot_start(sim: &mut CoSim, ot: MemberId) -> Result<()> {
    for c in pymesh_dataset() {
        sim.cli(ot, &c, SECOND_US)?;
    }
    Ok(())
}

/// Runs until the node's `state` (asked every 100 ms of virtual time) is one of `states`.
fn wait_state(sim: &mut CoSim, id: MemberId, states: &[&str], timeout_us: u64) -> String {
    let deadline = sim.now_us() + timeout_us;
    loop {
        let state = sim.cli_value(id, "state").expect("state");
        if states.contains(&state.as_str()) {
            return state;
        }
        assert!(
            sim.now_us() < deadline,
            "{id} ({:?}): state {state:?}, not in {states:?} after {} s",
            sim.kind(id),
            timeout_us / SECOND_US
        );
        sim.run_for(100 * MS).expect("run");
    }
}

/// Runs until our node has `role`.
fn wait_role(sim: &mut CoSim, pm: MemberId, role: Role, timeout_us: u64) -> u64 {
    let deadline = sim.now_us() + timeout_us;
    sim.run_until_cond(deadline, |s| s.node(pm).unwrap().role() == role)
        .expect("run")
        .unwrap_or_else(|| {
            panic!(
                "our {pm}: role {:?}, not {role:?} after {} s",
                sim.node(pm).unwrap().role(),
                timeout_us / SECOND_US
            )
        })
}

fn partition_id(sim: &mut CoSim, id: MemberId) -> u32 {
    let v = sim.cli_value(id, "partitionid").expect("partitionid");
    v.parse().unwrap_or_else(|_| panic!("partitionid {v:?}"))
}

fn rloc16(sim: &mut CoSim, id: MemberId) -> u16 {
    let v = sim.cli_value(id, "rloc16").expect("rloc16");
    u16::from_str_radix(&v, 16).unwrap_or_else(|_| panic!("rloc16 {v:?}"))
}

/// `None` when `node`'s `router table` shows a two-way link to `router_id` (Link 1, LQ in
/// and out non-zero), else the row or its absence.
fn link_to(sim: &mut CoSim, node: MemberId, router_id: u16) -> Option<String> {
    let rows = sim
        .cli(node, "router table", SECOND_US)
        .expect("router table");
    // | ID | RLOC16 | Next Hop | Path Cost | LQ In | LQ Out | Age | Extended MAC | Link |
    let row = rows.iter().find(|l| {
        l.trim_start_matches(['|', ' '])
            .split('|')
            .next()
            .is_some_and(|c| c.trim() == router_id.to_string())
    });
    let Some(row) = row else {
        return Some(format!("{node} does not list router {router_id}: {rows:?}"));
    };
    let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
    if cells.len() == 9 && cells[8] == "1" && cells[4] != "0" && cells[5] != "0" {
        None
    } else {
        Some(format!(
            "{node}: no two-way link to router {router_id}: {row:?}"
        ))
    }
}

/// Runs (up to `timeout_us`) until each of `a` and `b` has a two-way link to the other.
fn wait_linked(sim: &mut CoSim, a: MemberId, b: MemberId, timeout_us: u64) {
    let deadline = sim.now_us() + timeout_us;
    let (ra, rb) = (rloc16(sim, a) >> 10, rloc16(sim, b) >> 10);
    loop {
        let why: Vec<String> = [link_to(sim, a, rb), link_to(sim, b, ra)]
            .into_iter()
            .flatten()
            .collect();
        if why.is_empty() {
            return;
        }
        assert!(sim.now_us() < deadline, "no two-way router link: {why:?}");
        sim.run_for(500 * MS).expect("run");
    }
}

/// One echo request; panics unless the reply came back.
fn ping(sim: &mut CoSim, from: MemberId, to: &str) {
    let out = sim
        .cli(from, &format!("ping {to}"), 10 * SECOND_US)
        .unwrap_or_else(|e| panic!("ping {to}: {e}"));
    assert!(
        out.iter().any(|l| l.contains("1 packets received")),
        "{from} ({:?}) ping {to}: {out:?}",
        sim.kind(from)
    );
}

/// tshark (Wireshark's Thread dissectors, with the network key) over the capture: it reads
/// as many frames as were sent, none malformed and none with an error.
fn check_pcap(test: &str, path: &Path, frames: u64) {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let _ = writeln!(
            std::io::stderr(),
            "{test}: tshark not installed: {} not decoded",
            path.display()
        );
        return;
    }
    // An empty profile: a key in the user's own preferences would change nothing here, but
    // other preferences might.
    let profile = std::env::temp_dir().join(format!("pymesh-otvt-ws-{}", std::process::id()));
    std::fs::create_dir_all(&profile).unwrap();
    let tshark = |filter: Option<&str>| {
        let mut cmd = Command::new("bash");
        cmd.arg(workspace().join("tools/tshark-thread.sh"))
            .env("WIRESHARK_CONFIG_DIR", &profile)
            .arg("-r")
            .arg(path);
        if let Some(f) = filter {
            cmd.args(["-Y", f]);
        }
        let out = cmd.output().expect("run tshark");
        assert!(
            out.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let all = tshark(None);
    let bad = tshark(Some("_ws.malformed || _ws.expert.severity == error"));
    let _ = std::fs::remove_dir_all(&profile);
    assert_eq!(
        all.lines().count() as u64,
        frames,
        "tshark reads every frame of {}",
        path.display()
    );
    assert!(bad.is_empty(), "malformed or erroneous frames:\n{bad}");
    println!(
        "{test}: tshark decoded {frames} frames of {}: none malformed",
        path.display()
    );
}

/// A co-simulation with a capture, and when it started (wall clock).
struct Run {
    sim: CoSim,
    pcap: PathBuf,
    started: std::time::Instant,
}

/// Starts a co-simulation with a capture; `None` when the binary is missing.
fn cosim(test: &str, seed: u64) -> Option<Run> {
    let bin = ot_binary(test)?;
    let started = std::time::Instant::now();
    let mut sim = CoSim::new(bin, seed).expect("co-simulation");
    let pcap = pcap_path(test);
    sim.capture_pcap(std::fs::File::create(&pcap).expect("pcap file"))
        .expect("pcap header");
    Some(Run { sim, pcap, started })
}

/// Prints virtual and wall time (the whole test: processes, commands and runs, without
/// tshark) and the medium's counters, then has tshark judge the capture.
fn report(test: &str, run: &Run) {
    let (sim, pcap) = (&run.sim, &run.pcap);
    let s = sim.stats();
    println!(
        "{test}: virtual {:.1} s in {:.3} s wall ({:.3} s of it running events); {} frames \
         ({} acks), {} OpenThread events, {} collisions, {} half-duplex losses",
        sim.now_us() as f64 / SECOND_US as f64,
        run.started.elapsed().as_secs_f64(),
        sim.wall_time().as_secs_f64(),
        s.frames_sent,
        s.acks_sent,
        s.ot_events,
        s.collisions,
        s.half_duplex
    );
    assert_eq!(s.bad_fcs, 0, "OpenThread's frames carry a good FCS");
    check_pcap(test, pcap, s.frames_sent);
}

/// (1) An OpenThread leader; our node attaches as its child, then asks for a router id and
/// becomes a router with a two-way link to the leader. Roles from OpenThread's CLI and from
/// our node (and its CLI).
#[test]
fn ot_leader_pymesh_child_then_router() {
    const TEST: &str = "ot_leader_pymesh_child_then_router";
    let Some(mut run) = cosim(TEST, 1) else {
        return;
    };
    let sim = &mut run.sim;
    let ot = sim.add_openthread().expect("OpenThread node");
    ot_start(sim, ot).expect("dataset and thread start");
    wait_state(sim, ot, &["leader"], 15 * SECOND_US);

    let pm = sim.add_pymesh().expect("our node");
    let t0 = sim.now_us();
    let t = wait_role(sim, pm, Role::Child, 15 * SECOND_US);
    println!(
        "{TEST}: our node a child {:.2} s after start",
        (t - t0) as f64 / 1e6
    );
    assert_eq!(sim.cli_value(pm, "state").unwrap(), "child");
    let ext = hex(&sim.node(pm).unwrap().config().ext_addr.0);
    assert_eq!(sim.cli_value(pm, "extaddr").unwrap(), ext);
    let our_rloc16 = sim.node(pm).unwrap().rloc16();
    let children = sim.cli(ot, "child table", SECOND_US).unwrap();
    let rows: Vec<_> = children.iter().filter(|l| l.contains(&ext)).collect();
    assert_eq!(
        rows.len(),
        1,
        "OpenThread's child table lists us: {children:?}"
    );
    assert!(
        rows[0].contains(&format!("0x{our_rloc16:04x}")),
        "with the RLOC16 it gave us ({our_rloc16:04x}): {}",
        rows[0]
    );
    assert_eq!(
        our_rloc16 & 0xfc00,
        rloc16(sim, ot),
        "a child id under the leader's router id"
    );
    assert_eq!(partition_id(sim, ot), partition_id(sim, pm));

    // Router upgrade with both sides' default router selection jitter (120 s).
    let t = wait_role(sim, pm, Role::Router, 200 * SECOND_US);
    println!(
        "{TEST}: our node a router {:.2} s after start",
        (t - t0) as f64 / 1e6
    );
    assert_eq!(sim.cli_value(pm, "state").unwrap(), "router");
    assert_eq!(wait_state(sim, ot, &["leader"], 0), "leader");
    wait_linked(sim, ot, pm, 30 * SECOND_US);
    assert_eq!(partition_id(sim, ot), partition_id(sim, pm));
    // The leader gave our node a router id of its own (Address Solicit answered).
    assert_ne!(rloc16(sim, pm) >> 10, rloc16(sim, ot) >> 10);
    assert_eq!(rloc16(sim, pm) & 0x3ff, 0, "a router's RLOC16");
    report(TEST, &run);
}

/// (2) Our node leads a partition; an OpenThread node attaches as its child (our child table
/// lists it), then becomes a router under our leader; ping both ways in this arrangement.
#[test]
fn pymesh_leader_ot_child_then_router() {
    const TEST: &str = "pymesh_leader_ot_child_then_router";
    let Some(mut run) = cosim(TEST, 2) else {
        return;
    };
    let sim = &mut run.sim;
    let pm = sim.add_pymesh().expect("our node");
    let t = wait_role(sim, pm, Role::Leader, 15 * SECOND_US);
    println!("{TEST}: our node leads after {:.2} s", t as f64 / 1e6);
    assert_eq!(sim.cli_value(pm, "state").unwrap(), "leader");

    let ot = sim.add_openthread().expect("OpenThread node");
    let t0 = sim.now_us();
    ot_start(sim, ot).expect("dataset and thread start");
    wait_state(sim, ot, &["child"], 15 * SECOND_US);
    println!(
        "{TEST}: OpenThread a child {:.2} s after thread start",
        (sim.now_us() - t0) as f64 / 1e6
    );
    let ext = sim.cli_value(ot, "extaddr").unwrap();
    let children = sim.cli(pm, "child table", SECOND_US).unwrap();
    assert!(
        children.iter().any(|l| l.contains(&ext)),
        "our child table lists {ext}: {children:?}"
    );
    assert_eq!(partition_id(sim, ot), partition_id(sim, pm));
    assert_eq!(rloc16(sim, ot) & 0xfc00, sim.node(pm).unwrap().rloc16());

    let ot_rloc = sim.cli_value(ot, "ipaddr rloc").unwrap();
    let pm_rloc = sim
        .node(pm)
        .unwrap()
        .locator_address(sim.node(pm).unwrap().rloc16())
        .to_string();
    ping(sim, ot, &pm_rloc);
    ping(sim, pm, &ot_rloc);

    wait_state(sim, ot, &["router"], 200 * SECOND_US);
    println!(
        "{TEST}: OpenThread a router {:.2} s after thread start",
        (sim.now_us() - t0) as f64 / 1e6
    );
    assert_eq!(sim.node(pm).unwrap().role(), Role::Leader);
    wait_linked(sim, pm, ot, 30 * SECOND_US);
    assert_eq!(partition_id(sim, ot), partition_id(sim, pm));
    // Its new RLOC, router to router.
    let ot_rloc = sim.cli_value(ot, "ipaddr rloc").unwrap();
    ping(sim, pm, &ot_rloc);
    ping(sim, ot, &pm_rloc);
    report(TEST, &run);
}

/// (3) Ping and UDP both ways between an OpenThread leader and our child: OpenThread pings
/// our ML-EID (found with its Address Query), RLOC and link-local address; ours pings
/// OpenThread's ML-EID (heard from), RLOC and link-local address; a UDP datagram each way
/// (OpenThread's `udp` example socket on both), ML-EID to ML-EID, source and port checked.
#[test]
fn ping_and_udp_both_ways() {
    const TEST: &str = "ping_and_udp_both_ways";
    let Some(mut run) = cosim(TEST, 3) else {
        return;
    };
    let sim = &mut run.sim;
    let ot = sim.add_openthread().expect("OpenThread node");
    ot_start(sim, ot).expect("dataset and thread start");
    wait_state(sim, ot, &["leader"], 15 * SECOND_US);
    let pm = sim.add_pymesh().expect("our node");
    wait_role(sim, pm, Role::Child, 15 * SECOND_US);

    let ot_mleid = sim.cli_value(ot, "ipaddr mleid").unwrap();
    let ot_rloc = sim.cli_value(ot, "ipaddr rloc").unwrap();
    let ot_ll = sim.cli_value(ot, "ipaddr linklocal").unwrap();
    let node = sim.node(pm).unwrap();
    let pm_mleid = node.ml_eid().to_string();
    let pm_rloc = node.locator_address(node.rloc16()).to_string();
    let pm_ll = node.link_local_address().to_string();
    let listed = sim.cli(pm, "ipaddr", SECOND_US).unwrap();
    for a in [&pm_mleid, &pm_rloc, &pm_ll] {
        assert!(listed.contains(a), "our ipaddr lists {a}: {listed:?}");
    }

    for a in [&pm_mleid, &pm_rloc, &pm_ll] {
        ping(sim, ot, a);
    }
    // OpenThread's ping to our ML-EID came from its ML-EID: ours knows where it lives now.
    for a in [&ot_mleid, &ot_rloc, &ot_ll] {
        ping(sim, pm, a);
    }

    for id in [ot, pm] {
        sim.cli(id, "udp open", SECOND_US).unwrap();
        sim.cli(id, "udp bind :: 1234", SECOND_US).unwrap();
    }
    sim.cli(
        ot,
        &format!("udp send {pm_mleid} 1234 hello-from-openthread"),
        SECOND_US,
    )
    .unwrap();
    let line = sim
        .wait_line(pm, 2 * SECOND_US, |l| l.contains("hello-from-openthread"))
        .expect("our node receives OpenThread's datagram");
    assert_eq!(
        line,
        format!("21 bytes from {ot_mleid} 1234 hello-from-openthread")
    );
    sim.cli(
        pm,
        &format!("udp send {ot_mleid} 1234 hello-from-pymesh"),
        SECOND_US,
    )
    .unwrap();
    let line = sim
        .wait_line(ot, 2 * SECOND_US, |l| l.contains("hello-from-pymesh"))
        .expect("OpenThread receives our datagram");
    assert_eq!(
        line,
        format!("17 bytes from {pm_mleid} 1234 hello-from-pymesh")
    );
    for id in [ot, pm] {
        sim.cli(id, "udp close", SECOND_US).unwrap();
    }
    report(TEST, &run);
}

/// One short run: an OpenThread leader and our node attaching, 20 s of virtual time; every
/// frame on the air and OpenThread's extended address.
fn short_run(bin: &Path, seed: u64) -> (Vec<FrameRecord>, String) {
    let mut owned = CoSim::new(bin, seed).expect("co-simulation");
    let sim = &mut owned;
    sim.record_frames();
    let ot = sim.add_openthread().unwrap();
    assert_eq!(sim.kind(ot), Kind::OpenThread);
    let ext = sim.cli_value(ot, "extaddr").unwrap();
    ot_start(sim, ot).unwrap();
    sim.run_for(8 * SECOND_US).unwrap();
    let pm = sim.add_pymesh().unwrap();
    assert_eq!(sim.kind(pm), Kind::Pymesh);
    sim.run_for(12 * SECOND_US).unwrap();
    assert_eq!(
        sim.node(pm).unwrap().role(),
        Role::Child,
        "attached in the run"
    );
    (sim.frames().to_vec(), ext)
}

/// The same seed gives the same run, byte for byte and microsecond for microsecond (OpenThread's
/// randomness comes from OT_VT_SEED, ours from the node seeds); another seed another run.
#[test]
fn same_seed_same_run() {
    let Some(bin) = ot_binary("same_seed_same_run") else {
        return;
    };
    let (a, ext_a) = short_run(&bin, 7);
    let (b, ext_b) = short_run(&bin, 7);
    let (c, ext_c) = short_run(&bin, 8);
    assert!(
        a.len() >= 10,
        "frames of a partition and an attach: {}",
        a.len()
    );
    assert_eq!(ext_a, ext_b);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "frame of the second run with the same seed");
    }
    assert_ne!(
        ext_a, ext_c,
        "another seed, another random extended address"
    );
    assert_ne!(a, c);
    println!(
        "same_seed_same_run: {} frames identical in two runs with seed 7; seed 8: {} frames",
        a.len(),
        c.len()
    );
}
