//! `make bench`: what the mesh costs and how fast it converges, in the simulator's virtual
//! time (never wall-clock assertions). Prints a table and writes it to build/bench.txt.
//!
//! Scenario: N nodes placed at random (seeded) at a density of about eight neighbours each
//! (square side = sqrt(N * pi * range^2 / 8)), redrawn from the next seed until every node can
//! reach every other (the table's "layout" column: the seed that gave a connected layout), SF7/BW125, EU868 868.0 MHz (1 % duty cycle
//! enforced), all powered up at once. Measured:
//! - convergence: virtual time until every node is attached and there is one partition (or
//!   the partitions left at the limit);
//! - control airtime: the hour after convergence (or after the limit), mean airtime per
//!   router or leader as a percentage of the hour;
//! - simulator speed: simulated node-seconds per wall second.
//!
//! Usage: pymesh-bench [--nodes 10,36,100] [--seed S] [--limit-s 7200] [--out FILE]

use std::io::Write;
use std::time::Instant as WallInstant;

use pymesh::mle::Role;
use pymesh_sim::des::SECOND_US;
use pymesh_sim::scenario::{all_attached, build, eu868, partitions, random_connected, range_m};

fn main() {
    let mut counts = vec![10usize, 36, 100];
    let mut seed = 1u64;
    let mut limit_s = 7200u64;
    let mut out_path = String::from("build/bench.txt");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--nodes" => counts = v.split(',').filter_map(|x| x.parse().ok()).collect(),
            "--seed" => seed = v.parse().unwrap_or(1),
            "--limit-s" => limit_s = v.parse().unwrap_or(7200),
            "--out" => out_path = v,
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let lora = eu868(7);
    let range = range_m(&lora);
    let mut report = String::new();
    report += &format!(
        "pymesh bench: random placement, ~8 neighbours per node, SF7/BW125 EU868 868.0 MHz (1 % duty cycle), seed {seed}, limit {limit_s} s virtual\n\n"
    );
    report += &format!(
        "{:>6} {:>7} {:>9} {:>14} {:>11} {:>9} {:>9} {:>16} {:>14}\n",
        "nodes",
        "layout",
        "side km",
        "converged (s)",
        "partitions",
        "routers",
        "children",
        "airtime %/router",
        "node-s/wall-s"
    );
    for &n in &counts {
        let side = (n as f64 * std::f64::consts::PI * range * range / 8.0).sqrt();
        let (positions, layout_seed) = random_connected(n, side, range, seed);
        let mut sim = build(seed, &positions, lora);
        let wall = WallInstant::now();
        let converged = sim.run_until_cond(limit_s * SECOND_US, |s| {
            all_attached(s) && partitions(s).len() == 1
        });
        let parts = partitions(&sim).len();
        // One more hour: steady-state control traffic.
        let before: Vec<u64> = sim.ids().map(|id| sim.node_stats(id).airtime_us).collect();
        sim.run_for(3600 * SECOND_US);
        let ids: Vec<_> = sim.ids().collect();
        let mut router_air = Vec::new();
        let (mut routers, mut children) = (0, 0);
        for (k, &id) in ids.iter().enumerate() {
            match sim.role(id).0 {
                Role::Router | Role::Leader => {
                    routers += 1;
                    router_air.push(sim.node_stats(id).airtime_us - before[k]);
                }
                Role::Child => children += 1,
                _ => {}
            }
        }
        let air_pct = if router_air.is_empty() {
            0.0
        } else {
            router_air.iter().sum::<u64>() as f64 / router_air.len() as f64 / (3600.0 * 1e6) * 100.0
        };
        let speed = sim.node_seconds() / wall.elapsed().as_secs_f64().max(1e-9);
        let conv = match converged {
            Some(t) => format!("{:.0}", t as f64 / 1e6),
            None => format!("> {limit_s}"),
        };
        let line = format!(
            "{:>6} {:>7} {:>9.1} {:>14} {:>11} {:>9} {:>9} {:>16.2} {:>14.0}\n",
            n,
            layout_seed,
            side / 1000.0,
            conv,
            parts,
            routers,
            children,
            air_pct,
            speed
        );
        print!("{line}");
        report += &line;
    }
    report += "\nconverged: every node attached and one partition (partitions: at the end of the extra hour).\n";
    if let Some(dir) = std::path::Path::new(&out_path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::File::create(&out_path).and_then(|mut f| f.write_all(report.as_bytes())) {
        Ok(()) => println!("written to {out_path}"),
        Err(e) => eprintln!("cannot write {out_path}: {e}"),
    }
}
