//! `pymesh-sim`: runs a scenario of many pymesh nodes in the discrete-event simulator and
//! prints each node's role and a summary (frames, losses, partitions, speed).
//!
//! ```text
//! pymesh-sim [--nodes N] [--grid | --line | --random] [--spacing M] [--side M] [--sf SF]
//!            [--seed S] [--duration SECONDS] [--loss P] [--pcap FILE] [--log] [--quiet]
//! ```

use std::process::ExitCode;

use pymesh::mle::Role;
use pymesh_sim::des::SECOND_US;
use pymesh_sim::scenario;

const USAGE: &str = "usage: pymesh-sim [--nodes N] [--grid | --line | --random] [--spacing M] \
[--side M] [--sf SF] [--seed S] [--duration SECONDS] [--loss P] [--pcap FILE] [--log] [--quiet]

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
  --quiet           no per-node lines";

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
    let attached_at = sim.run_until_cond(end, scenario::all_attached);
    sim.run_until(end);

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
