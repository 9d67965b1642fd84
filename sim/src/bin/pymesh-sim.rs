//! `pymesh-sim`: runs a scenario of many pymesh nodes in the discrete-event simulator and
//! prints each node's role and a summary (frames, losses, partitions, speed).
//!
//! ```text
//! pymesh-sim [--nodes N] [--grid | --line | --random] [--spacing M] [--side M] [--sf SF]
//!            [--seed S] [--duration SECONDS] [--loss P] [--pcap FILE] [--log] [--quiet]
//!            [--report-every SECONDS]
//! ```
//!
//! `--report-every` prints, every so many virtual seconds, the partitions (size and leader)
//! and the MLE and MAC counters summed over the nodes since the last line: how a mesh
//! converges, or why it does not.

use std::process::ExitCode;

use pymesh::mle::Role;
use pymesh_sim::des::SECOND_US;
use pymesh_sim::scenario;

const USAGE: &str = "usage: pymesh-sim [--nodes N] [--grid | --line | --random] [--spacing M] \
[--side M] [--sf SF] [--seed S] [--duration SECONDS] [--loss P] [--pcap FILE] [--log] [--quiet]
[--report-every SECONDS]

  --nodes N         number of nodes (default 10)
  --grid            square grid, --spacing apart (default layout)
  --line            a line, --spacing apart
  --random          uniform in a --side square (default: sqrt(N) * spacing)
  --spacing M       metres between neighbours (default: 60 % of the radio range)
  --sf SF           spreading factor 7..12, EU868 BW125 (default 7)
  --seed S          simulator seed (default 1)
  --duration S      virtual seconds to run (default 600)
  --loss P          random frame loss on every link, 0..1 (default 0)
  --pcap FILE       write every frame on the air to FILE (802.15.4 with FCS)
  --log             print the event log
  --quiet           no per-node lines
  --report-every S  every S virtual seconds: partitions and summed MLE/MAC counter deltas";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    Grid,
    Line,
    Random,
}

struct Options {
    nodes: usize,
    layout: Layout,
    spacing: Option<f64>,
    side: Option<f64>,
    sf: u8,
    seed: u64,
    duration_s: u64,
    loss: f64,
    pcap: Option<String>,
    log: bool,
    quiet: bool,
    report_every_s: Option<u64>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        nodes: 10,
        layout: Layout::Grid,
        spacing: None,
        side: None,
        sf: 7,
        seed: 1,
        duration_s: 600,
        loss: 0.0,
        pcap: None,
        log: false,
        quiet: false,
        report_every_s: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{name}: not a number: {v}"))
        }
        match a.as_str() {
            "--nodes" => o.nodes = num("--nodes", value("--nodes")?)?,
            "--grid" => o.layout = Layout::Grid,
            "--line" => o.layout = Layout::Line,
            "--random" => o.layout = Layout::Random,
            "--spacing" => o.spacing = Some(num("--spacing", value("--spacing")?)?),
            "--side" => o.side = Some(num("--side", value("--side")?)?),
            "--sf" => o.sf = num("--sf", value("--sf")?)?,
            "--seed" => o.seed = num("--seed", value("--seed")?)?,
            "--duration" => o.duration_s = num("--duration", value("--duration")?)?,
            "--loss" => o.loss = num("--loss", value("--loss")?)?,
            "--pcap" => o.pcap = Some(value("--pcap")?),
            "--log" => o.log = true,
            "--quiet" => o.quiet = true,
            "--report-every" => {
                o.report_every_s = Some(num("--report-every", value("--report-every")?)?)
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if !(7..=12).contains(&o.sf) {
        return Err("--sf must be 7..12".into());
    }
    if !(0.0..=1.0).contains(&o.loss) {
        return Err("--loss must be 0..1".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("pymesh-sim: {e}");
            }
            eprintln!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let lora = scenario::eu868(o.sf);
    let range = scenario::range_m(&lora);
    let spacing = o.spacing.unwrap_or(0.6 * range);
    let positions = match o.layout {
        Layout::Grid => scenario::grid(o.nodes, spacing),
        Layout::Line => scenario::line(o.nodes, spacing),
        Layout::Random => {
            let side = o.side.unwrap_or((o.nodes as f64).sqrt().max(1.0) * spacing);
            scenario::random(o.nodes, side, o.seed)
        }
    };
    let mut sim = scenario::build(o.seed, &positions, lora);
    sim.set_default_loss(o.loss);
    sim.record_log(o.log);
    if let Some(path) = &o.pcap {
        let file = match std::fs::File::create(path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("pymesh-sim: {path}: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = sim.capture_pcap(std::io::BufWriter::new(file)) {
            eprintln!("pymesh-sim: {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let end = o.duration_s * SECOND_US;
    let attached_at = match o.report_every_s {
        Some(every) if every > 0 => run_reporting(&mut sim, end, every * SECOND_US),
        _ => {
            let at = sim.run_until_cond(end, scenario::all_attached);
            sim.run_until(end);
            at
        }
    };

    if o.log {
        for e in sim.log() {
            println!("{e}");
        }
    }
    if !o.quiet {
        println!("node  ext addr          position (m)         role      rloc16  partition  sent  recv   airtime");
        for id in sim.ids() {
            let spec = sim.spec(id);
            let (x, y) = spec.position.unwrap_or((f64::NAN, f64::NAN));
            let st = sim.node_stats(id);
            let (role, rloc, partition) = match sim.node(id) {
                Some(n) => (
                    n.role(),
                    format!("{:04x}", n.rloc16()),
                    n.leader_data()
                        .map_or("-".to_string(), |l| format!("{:08x}", l.partition_id)),
                ),
                None => (Role::Disabled, "-".into(), "-".into()),
            };
            println!(
                "{:<5} {}  {:>9.0} {:>9.0}  {:<9} {:<7} {:<10} {:>5} {:>5} {:>8.3} s",
                id.to_string(),
                spec.ext_addr,
                x,
                y,
                role.name(),
                rloc,
                partition,
                st.frames_sent,
                st.frames_received,
                st.airtime_us as f64 / SECOND_US as f64
            );
        }
    }
    let counts = scenario::role_counts(&sim);
    let parts = scenario::partitions(&sim);
    let st = sim.stats();
    println!(
        "{} nodes, {:?} layout, SF{}, range {:.0} m, spacing {:.0} m, seed {}, {} s virtual",
        o.nodes, o.layout, o.sf, range, spacing, o.seed, o.duration_s
    );
    println!(
        "roles: {} leader, {} router, {} child, {} detached, {} disabled; {} partition(s)",
        counts[Role::Leader as usize],
        counts[Role::Router as usize],
        counts[Role::Child as usize],
        counts[Role::Detached as usize],
        counts[Role::Disabled as usize],
        parts.len()
    );
    match attached_at {
        Some(t) => println!(
            "every node attached at {:.3} s",
            t as f64 / SECOND_US as f64
        ),
        None => println!("not every node attached"),
    }
    println!(
        "frames: {} sent, {} receptions, airtime {:.1} s; lost: {:?}",
        st.frames_sent,
        st.receptions,
        st.airtime_us as f64 / SECOND_US as f64,
        st.lost
    );
    println!(
        "speed: {:.0} simulated node-seconds per wall second ({:.3} s wall, {} events)",
        sim.speed(),
        sim.wall_time().as_secs_f64(),
        st.events
    );
    if sim.pcap_failed() {
        eprintln!("pymesh-sim: writing the pcap failed; it is incomplete");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Counters summed over the live nodes, for the periodic report.
#[derive(Default, Clone, Copy)]
struct Totals {
    parent_requests: u64,
    better_partition_attempts: u64,
    partition_changes: u64,
    attach_attempts: u64,
    advertisements: u64,
    /// Received MLE messages by command: Parent Response (10), Child ID Request (11),
    /// Link Request (0), Data Request (7).
    rx_parent_response: u64,
    rx_child_id_request: u64,
    rx_link_request: u64,
    rx_data_request: u64,
    mac_tx: u64,
    mac_retries: u64,
    mac_no_ack: u64,
    mac_cca: u64,
}

fn totals(sim: &pymesh_sim::des::Simulator) -> Totals {
    let mut t = Totals::default();
    for id in sim.ids() {
        let Some(n) = sim.node(id) else { continue };
        let c = &n.mle().counters;
        t.parent_requests += c.parent_requests_sent as u64;
        t.better_partition_attempts += c.better_partition_attach_attempts as u64;
        t.partition_changes += c.partition_id_changes as u64;
        t.attach_attempts += c.attach_attempts as u64;
        t.advertisements += c.advertisements_sent as u64;
        t.rx_parent_response += c.rx_by_command[10] as u64;
        t.rx_child_id_request += c.rx_by_command[11] as u64;
        t.rx_link_request += c.rx_by_command[0] as u64;
        t.rx_data_request += c.rx_by_command[7] as u64;
        let m = n.mac_counters();
        t.mac_tx += m.tx_total as u64;
        t.mac_retries += m.tx_retry as u64;
        t.mac_no_ack += m.tx_direct_max_retry_expiry as u64;
        t.mac_cca += m.tx_err_cca as u64;
    }
    t
}

/// Runs to `end`, printing a line every `every` µs; returns when every node was first attached.
fn run_reporting(sim: &mut pymesh_sim::des::Simulator, end: u64, every: u64) -> Option<u64> {
    println!(
        "{:>7} {:>5} {:<40} {:>5} {:>5} {:>5} {:>6} {:>5} {:>6} {:>6} {:>5} {:>6} {:>5} {:>5}",
        "t (s)",
        "parts",
        "sizes (leader)",
        "PReq",
        "better",
        "P-chg",
        "adv",
        "PRsp",
        "CIDReq",
        "LReq",
        "DReq",
        "mac tx",
        "retry",
        "noack"
    );
    let mut attached_at = None;
    let mut last = totals(sim);
    let mut t = 0;
    while t < end {
        t = (t + every).min(end);
        if attached_at.is_none() {
            attached_at = sim.run_until_cond(t, scenario::all_attached);
        }
        sim.run_until(t);
        let now = totals(sim);
        let mut parts = scenario::partitions(sim);
        parts.sort_by_key(|p| std::cmp::Reverse(p.members.len()));
        let sizes: Vec<String> = parts
            .iter()
            .take(6)
            .map(|p| format!("{}({})", p.members.len(), p.leader_router_id))
            .collect();
        let d = |f: fn(&Totals) -> u64| f(&now) - f(&last);
        println!(
            "{:>7} {:>5} {:<40} {:>5} {:>5} {:>5} {:>6} {:>5} {:>6} {:>6} {:>5} {:>6} {:>5} {:>5}",
            t / SECOND_US,
            parts.len(),
            sizes.join(" "),
            d(|t| t.parent_requests),
            d(|t| t.better_partition_attempts),
            d(|t| t.partition_changes),
            d(|t| t.advertisements),
            d(|t| t.rx_parent_response),
            d(|t| t.rx_child_id_request),
            d(|t| t.rx_link_request),
            d(|t| t.rx_data_request),
            d(|t| t.mac_tx),
            d(|t| t.mac_retries),
            d(|t| t.mac_no_ack),
        );
        let _ = d(|t| t.attach_attempts) + d(|t| t.mac_cca);
        last = now;
    }
    attached_at
}
