//! `make bench`: what the mesh costs and how fast it converges, in the simulator's virtual
//! time (never wall-clock assertions). Prints a table and writes it to build/bench.txt.
//!
//! Scenario: N nodes placed at random (seeded) at a density of about eight neighbours each
//! (square side = sqrt(N * pi * range^2 / 8)), redrawn from the next seed until every node can
//! reach every other over links of link quality 1 or better (`usable_range_m`: 1 dB above the
//! demodulation floor at SF7, 92 % of the range; links in between decode but the mesh, like
//! OpenThread, makes none over them; the table's "layout" column: the seed that gave a
//! connected layout), SF7/BW125, EU868 868.0 MHz (1 % duty cycle
//! enforced), all powered up at once. Measured:
//! - convergence: virtual time until every node is attached and there is one partition, and
//!   the partitions there are an hour after that (or after the limit: at 3 h by default);
//! - control airtime: the hour after convergence (or after the limit), mean airtime per
//!   router or leader as a percentage of the hour;
//! - simulator speed: simulated node-seconds per wall second.
//!
//! Second table, delivery: a line of nodes 60 % of the radio range apart (each hears only its
//! neighbours, 5 dB above the demodulation floor: link quality 3, cost 1; at 70 % links are
//! LQ2, cost 2, and beyond 7 hops a route's cost passes Thread's largest, 15), SF7/BW125
//! EU868; once it is one partition with a route end to end, 20 UDP
//! datagrams of 32 bytes from one end to the other, one a minute, with 0, 10 and 20 % random
//! frame loss on every link. Measured: packet delivery
//! ratio, and latency (send to socket) per hop, mean over the delivered datagrams.
//!
//! With `--seeds N` (`make bench-seeds`), a third table: how many of seeds 1..N reach one
//! partition within the limit, for the 36-node grid (60 % of range apart) and random 36 and 50
//! (the first table's layouts), with the mean number of partitions at the limit. One seed says
//! little about a protocol change; judge MLE changes on this table. Below it, what the runs
//! that stayed split looked like at the limit (leader timeouts, how the partitions left touch,
//! router ids used up).
//!
//! Usage: pymesh-bench [--nodes 10,36,100] [--hops 1,2,4,8] [--seed S] [--limit-s 7200]
//!        [--seeds N] [--out FILE]

use std::io::Write;
use std::time::Instant as WallInstant;

use pymesh::mle::Role;
use pymesh_sim::des::{Simulator, SECOND_US};
use pymesh_sim::scenario::{
    all_attached, build, eu868, line, lora_link_quality, partitions, random_mesh,
    random_mesh_side_m, range_m,
};

/// 20 datagrams end to end over a line of `hops` hops with `loss` on every link: how many
/// arrive, and their mean latency in seconds. None when no route formed within two hours.
fn delivery(
    seed: u64,
    hops: usize,
    loss: f64,
    lora: pymesh::radio::LoRaConfig,
    range: f64,
) -> Option<(usize, f64)> {
    let mut sim = build(seed, &line(hops + 1, 0.6 * range), lora);
    let ids: Vec<_> = sim.ids().collect();
    let (first, last) = (ids[0], ids[hops]);
    let ready = |s: &Simulator| {
        if !(all_attached(s) && partitions(s).len() == 1) {
            return false;
        }
        let dst = s.node(last).unwrap().rloc16();
        // A route from the first node all the way (each node on the way has a next hop).
        let mut at = first;
        for _ in 0..=hops + 1 {
            let n = s.node(at).unwrap();
            if n.rloc16() == dst {
                return true;
            }
            let Some((next, _)) = n.mle().next_hop(dst) else {
                return false;
            };
            let Some(i) = s
                .ids()
                .find(|&i| s.node(i).is_some_and(|m| m.rloc16() == next))
            else {
                return false;
            };
            at = i;
        }
        false
    };
    sim.run_until_cond(7200 * SECOND_US, ready)?;
    sim.set_default_loss(loss);
    let tx = sim
        .with_node(first, |n, _| n.socket_open().ok())
        .flatten()?;
    let rx = sim.with_node(last, |n, _| n.socket_open().ok()).flatten()?;
    sim.with_node(last, |n, _| n.socket_bind(rx, None, 4000).ok())
        .flatten()?;
    let (mut delivered, mut latency_us) = (0usize, 0u64);
    for k in 0..20u8 {
        let t0 = sim.now_us();
        // The destination's RLOC of the moment (a child that becomes a router changes it; the
        // ML-EID would not, but address query is not implemented yet).
        let dst = sim.node(first)?.locator_address(sim.node(last)?.rloc16());
        let _ = sim.with_node(first, |n, now| {
            n.socket_sendto(now, tx, &dst, 4000, &[k; 32])
        });
        if let Some(t) = sim.run_until_cond(t0 + 60 * SECOND_US, |s| {
            s.node(last).is_some_and(|n| n.socket_pending(rx) > 0)
        }) {
            delivered += 1;
            latency_us += t - t0;
            let mut buf = [0u8; 64];
            let _ = sim.with_node(last, |n, _| n.socket_recv(rx, &mut buf));
        }
        // One a minute, delivered or not (back to back, each would wait for the pacing the
        // MAC keeps after the previous one).
        sim.run_until(t0 + 60 * SECOND_US);
    }
    let mean = if delivered == 0 {
        f64::NAN
    } else {
        latency_us as f64 / delivered as f64 / 1e6
    };
    Some((delivered, mean))
}

/// Why runs did not converge, tallied at the limit (`--seeds`).
#[derive(Default)]
struct Stuck {
    leader_timeouts: u64,
    split_runs: u64,
    router_router: u64,
    router_child: u64,
    /// Of `router_child`: pairs whose children are all on the side that wins a merge (more
    /// routers, then the higher partition id), so only a child of the winner hears the loser.
    router_child_winner_children: u64,
    /// Of those: the winner holds all the router ids it may give, so that child cannot bridge.
    router_child_winner_full: u64,
    child_child: u64,
    ids_full: u64,
}

impl Stuck {
    /// Tallies one run at the limit; `sf`: its spreading factor.
    fn add(&mut self, sim: &Simulator, sf: u8) {
        for id in sim.ids() {
            if let Some(n) = sim.node(id) {
                self.leader_timeouts += n.mle().counters.leader_timeouts as u64;
            }
        }
        let parts = partitions(sim);
        if parts.len() < 2 {
            return;
        }
        self.split_runs += 1;
        let router = |id| {
            sim.node(id)
                .is_some_and(|n| matches!(n.role(), Role::Router | Role::Leader))
        };
        // Link quality 1 or better both ways, as the mesh measures it.
        let lq = |a, b| {
            sim.link_quality(a, b)
                .map_or(0, |q| lora_link_quality(q.snr_db, sf))
        };
        let usable = |a, b| lq(a, b) >= 1 && lq(b, a) >= 1;
        let max_routers = sim
            .ids()
            .find_map(|id| sim.node(id))
            .map_or(32, |n| n.mle().timing().max_routers as usize);
        let routers_of =
            |p: &pymesh_sim::scenario::Partition| p.members.iter().filter(|&&m| router(m)).count();
        if parts.iter().any(|p| routers_of(p) >= max_routers) {
            self.ids_full += 1;
        }
        for (i, a) in parts.iter().enumerate() {
            for b in &parts[i + 1..] {
                let (mut rr, mut rc, mut cc) = (false, false, false);
                // Router-child links with the child in `a` / in `b`.
                let (mut child_in_a, mut child_in_b) = (false, false);
                for &x in &a.members {
                    for &y in &b.members {
                        if usable(x, y) {
                            match (router(x), router(y)) {
                                (true, true) => rr = true,
                                (false, false) => cc = true,
                                (false, true) => {
                                    rc = true;
                                    child_in_a = true;
                                }
                                (true, false) => {
                                    rc = true;
                                    child_in_b = true;
                                }
                            }
                        }
                    }
                }
                if rr {
                    self.router_router += 1;
                } else if rc {
                    self.router_child += 1;
                    let a_wins = (routers_of(a), a.partition_id) > (routers_of(b), b.partition_id);
                    let (winner, winner_children, loser_children) = if a_wins {
                        (a, child_in_a, child_in_b)
                    } else {
                        (b, child_in_b, child_in_a)
                    };
                    if winner_children && !loser_children {
                        self.router_child_winner_children += 1;
                        if routers_of(winner) >= max_routers {
                            self.router_child_winner_full += 1;
                        }
                    }
                } else if cc {
                    self.child_child += 1;
                }
            }
        }
    }

    fn line(&self, seeds: u64) -> String {
        format!(
            "leader timeouts {:>5.1}  split runs {:>2}  pairs RR {:>2} RC {:>2} (winner's children {:>2}, full {:>2}) CC {:>2}  ids full {:>2}",
            self.leader_timeouts as f64 / seeds as f64,
            self.split_runs,
            self.router_router,
            self.router_child,
            self.router_child_winner_children,
            self.router_child_winner_full,
            self.child_child,
            self.ids_full
        )
    }
}

fn main() {
    let mut counts = vec![10usize, 36, 100];
    let mut hops = vec![1usize, 2, 4, 8];
    let mut seeds = 0u64;
    let mut seed = 1u64;
    let mut limit_s = 7200u64;
    let mut out_path = String::from("build/bench.txt");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--nodes" => counts = v.split(',').filter_map(|x| x.parse().ok()).collect(),
            "--hops" => hops = v.split(',').filter_map(|x| x.parse().ok()).collect(),
            "--seeds" => seeds = v.parse().unwrap_or(0),
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
        let side = random_mesh_side_m(n, &lora);
        let (positions, layout_seed) = random_mesh(n, &lora, seed);
        let mut sim = build(seed, &positions, lora);
        let wall = WallInstant::now();
        let converged = sim.run_until_cond(limit_s * SECOND_US, |s| {
            all_attached(s) && partitions(s).len() == 1
        });
        // One more hour: steady-state control traffic; the partitions are counted after it.
        let before: Vec<u64> = sim.ids().map(|id| sim.node_stats(id).airtime_us).collect();
        sim.run_for(3600 * SECOND_US);
        let parts = partitions(&sim).len();
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
    report += &format!(
        "\ndelivery: line, 60 % of range apart, 20 x 32-byte UDP end to end, one a minute, seed {seed}\n\n{:>5} {:>6} {:>10} {:>16} {:>14}\n",
        "hops", "loss", "delivered", "latency/hop (s)", "latency (s)"
    );
    print!(
        "{}",
        report
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    for &h in &hops {
        for loss in [0.0, 0.10, 0.20] {
            let line_out = match delivery(seed, h, loss, lora, range) {
                Some((delivered, latency_s)) => format!(
                    "{:>5} {:>5.0}% {:>7}/20 {:>16.2} {:>14.2}\n",
                    h,
                    loss * 100.0,
                    delivered,
                    latency_s / h as f64,
                    latency_s
                ),
                None => format!(
                    "{:>5} {:>5.0}%   no route end to end within 2 h\n",
                    h,
                    loss * 100.0
                ),
            };
            print!("{line_out}");
            report += &line_out;
        }
    }
    if seeds > 0 {
        let head = format!(
            "\nconvergence over seeds 1..{seeds}, limit {limit_s} s\n\n{:<10} {:>10} {:>16}\n",
            "scenario", "converged", "mean partitions"
        );
        print!("{head}");
        report += &head;
        let mut stuck_report = String::new();
        for (name, n, grid_layout) in [
            ("grid 36", 36usize, true),
            ("random 36", 36, false),
            ("random 50", 50, false),
        ] {
            let (mut ok, mut parts) = (0u64, 0usize);
            let mut why = Stuck::default();
            for s in 1..=seeds {
                let positions = if grid_layout {
                    pymesh_sim::scenario::grid(n, 0.6 * range)
                } else {
                    random_mesh(n, &lora, s).0
                };
                let mut sim = build(s, &positions, lora);
                if sim
                    .run_until_cond(limit_s * SECOND_US, |x| {
                        all_attached(x) && partitions(x).len() == 1
                    })
                    .is_some()
                {
                    ok += 1;
                }
                sim.run_until(limit_s * SECOND_US);
                parts += partitions(&sim).len();
                why.add(&sim, lora.sf);
            }
            let line_out = format!(
                "{:<10} {:>7}/{:<2} {:>16.2}\n",
                name,
                ok,
                seeds,
                parts as f64 / seeds as f64
            );
            print!("{line_out}");
            report += &line_out;
            stuck_report += &format!("{name:<10} {}\n", why.line(seeds));
        }
        let tail = format!(
            "\nwhy runs stayed split, at the limit:\n\
             - leader timeouts: nodes per run that heard no leader heartbeat (newer router id\n\
             \x20 sequence) for the network id timeout and left their partition\n\
             - split runs: runs with more than one partition\n\
             - pairs of adjacent partitions (a link of link quality 1 or better between members):\n\
             \x20 RR with a router on each side of some link, RC with router-child links only, CC\n\
             \x20 with child-child links only; of RC, \"winner's children\": the children are all\n\
             \x20 on the side that wins a merge (more routers, then higher partition id), \"full\":\n\
             \x20 and that side holds all the router ids it may give, so they cannot bridge\n\
             - ids full: split runs in which a partition held all the router ids it may give\n\
             \x20 (`Timing::max_routers`)\n\n{stuck_report}"
        );
        print!("{tail}");
        report += &tail;
    }
    if let Some(dir) = std::path::Path::new(&out_path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::File::create(&out_path).and_then(|mut f| f.write_all(report.as_bytes())) {
        Ok(()) => println!("written to {out_path}"),
        Err(e) => eprintln!("cannot write {out_path}: {e}"),
    }
}
