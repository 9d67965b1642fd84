//! Mesh scenarios in virtual time (SF7/BW125, EU868 868.0 MHz sub-band g1 with its 1 % duty
//! cycle enforced by every node's MAC). Each test names its topology and seed; the same seed
//! gives the same run.

use pymesh::mle::Role;
use pymesh_sim::des::SECOND_US;
use pymesh_sim::scenario::{all_attached, build, eu868, line, partitions};

/// Two nodes 1 km apart: one leads, the other attaches as a child, asks the leader for a
/// router id and establishes a link; each is then in the other's neighbour and router tables.
#[test]
fn two_nodes_become_leader_and_router_and_know_each_other() {
    let mut sim = build(11, &line(2, 1000.0), eu868(7));
    let ids: Vec<_> = sim.ids().collect();
    let (a, b) = (ids[0], ids[1]);
    let done = sim.run_until_cond(600 * SECOND_US, |s| {
        let roles = [s.role(a).0, s.role(b).0];
        let linked = |x, y| {
            let ny = s.node(y).unwrap().config().ext_addr;
            s.node(x)
                .unwrap()
                .mle()
                .neighbor_routers()
                .any(|r| r.ext_addr == Some(ny))
        };
        roles.contains(&Role::Leader)
            && roles.contains(&Role::Router)
            && linked(a, b)
            && linked(b, a)
    });
    let t = done.expect("a leader and a router with a two-way link within 10 minutes");
    println!("leader and router linked after {:.1} s", t as f64 / 1e6);
    let na = sim.node(a).unwrap();
    let nb = sim.node(b).unwrap();
    assert_eq!(
        na.leader_data().unwrap().partition_id,
        nb.leader_data().unwrap().partition_id
    );
    let now = sim.now();
    for (x, y) in [(na, nb), (nb, na)] {
        let n = x.neighbors(now);
        assert_eq!(n.len(), 1, "{:?}", n);
        assert_eq!(n[0].ext_addr, y.config().ext_addr);
        assert_eq!(n[0].rloc16, y.rloc16());
        assert_eq!(n[0].role, Role::Router, "the leader is shown as a router");
        let ids: Vec<u8> = x.mle().routers().iter().map(|r| r.router_id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&((y.rloc16() >> 10) as u8)));
        let to_y = x
            .mle()
            .routers()
            .iter()
            .find(|r| r.router_id == (y.rloc16() >> 10) as u8)
            .unwrap();
        assert_eq!(to_y.next_hop, Some(to_y.router_id), "direct neighbour");
        assert!(to_y.path_cost >= 1 && to_y.path_cost < 16);
    }
}

/// A line of 8 nodes 1 km apart (each hears up to four on either side): one partition, every
/// node attached, and the far ends route to each other through the mesh.
#[test]
fn a_line_of_eight_forms_one_partition() {
    let mut sim = build(1, &line(8, 1000.0), eu868(7));
    let t = sim
        .run_until_cond(1800 * SECOND_US, |s| {
            all_attached(s) && partitions(s).len() == 1
        })
        .expect("one partition within 30 minutes");
    println!("one partition after {:.1} s", t as f64 / 1e6);
    let ids: Vec<_> = sim.ids().collect();
    let first = sim.node(ids[0]).unwrap();
    let last = sim.node(ids[7]).unwrap();
    if first.role() != Role::Child && last.role() != Role::Child {
        let hop = first.mle().next_hop(last.rloc16());
        assert!(hop.is_some(), "a route from one end to the other");
    }
}

/// Nodes with another network key never join: two partitions side by side.
#[test]
fn another_key_means_another_partition() {
    use pymesh_sim::des::{NodeSpec, Simulator};
    use pymesh_sim::scenario::ext_addr;
    let mut sim = Simulator::new(5);
    let a = sim.add_node(NodeSpec::new(ext_addr(0), eu868(7), 1).at(0.0, 0.0));
    let b = sim.add_node(
        NodeSpec::new(ext_addr(1), eu868(7), 2)
            .at(500.0, 0.0)
            .with_key([0x77; 16]),
    );
    sim.run_for(300 * SECOND_US);
    assert_eq!(sim.role(a).0, Role::Leader);
    assert_eq!(sim.role(b).0, Role::Leader);
    assert_ne!(
        sim.node(a).unwrap().leader_data().unwrap().partition_id,
        sim.node(b).unwrap().leader_data().unwrap().partition_id
    );
    assert!(
        sim.node(a).unwrap().rx_drops().mle_security > 0,
        "b's frames reached a and failed its key"
    );
}

/// In a line of five every node becomes a router (fewer than 16 in the partition): waits for
/// that, because a child's RLOC16 changes when it does, and traffic addressed to the old one
/// is lost.
fn wait_until_every_node_is_a_router(sim: &mut pymesh_sim::des::Simulator) {
    sim.run_until_cond(sim.now_us() + 1800 * SECOND_US, |s| {
        s.ids()
            .all(|i| s.node(i).unwrap().role().is_router_or_leader())
    })
    .expect("every node a router");
}

fn rloc_address(rloc16: u16) -> pymesh::wire::Ipv6Address {
    let [hi, lo] = rloc16.to_be_bytes();
    pymesh::wire::Ipv6Address::from_prefix_iid(
        [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00],
        [0, 0, 0, 0xff, 0xfe, 0, hi, lo],
    )
}

/// Waits (in virtual time) until `id`'s socket holds a datagram; returns it.
fn receive(
    sim: &mut pymesh_sim::des::Simulator,
    id: pymesh_sim::des::NodeId,
    socket: pymesh::net::SocketId,
    within_s: u64,
) -> Option<(Vec<u8>, pymesh::wire::Ipv6Address, u16)> {
    sim.run_until_cond(sim.now_us() + within_s * SECOND_US, |s| {
        s.node(id).unwrap().socket_pending(socket) > 0
    })?;
    sim.with_node(id, |n, _| {
        let mut buf = [0u8; 1280];
        n.socket_recv(socket, &mut buf)
            .map(|(len, a, p)| (buf[..len].to_vec(), a, p))
    })
    .flatten()
}

/// UDP both ways between a leader and a router, RLOC to RLOC.
#[test]
fn udp_both_ways_between_two_nodes() {
    let mut sim = build(11, &line(2, 1000.0), eu868(7));
    let ids: Vec<_> = sim.ids().collect();
    let (a, b) = (ids[0], ids[1]);
    sim.run_until_cond(900 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("attached");
    let sa = sim.with_node(a, |n, _| n.socket_open().unwrap()).unwrap();
    let sb = sim.with_node(b, |n, _| n.socket_open().unwrap()).unwrap();
    sim.with_node(a, |n, _| n.socket_bind(sa, None, 1234).unwrap());
    sim.with_node(b, |n, _| n.socket_bind(sb, None, 1234).unwrap());
    let (ra, rb) = (sim.node(a).unwrap().rloc16(), sim.node(b).unwrap().rloc16());
    let sent = sim
        .with_node(a, |n, now| {
            n.socket_sendto(now, sa, &rloc_address(rb), 1234, b"hello b")
        })
        .unwrap();
    assert_eq!(sent, Ok(7));
    let (data, from, port) = receive(&mut sim, b, sb, 60).expect("b receives a's datagram");
    assert_eq!(data, b"hello b");
    assert_eq!(from, rloc_address(ra), "RLOC destination: RLOC source");
    assert_eq!(port, 1234);
    sim.with_node(b, |n, now| {
        n.socket_sendto(now, sb, &from, port, b"hello a")
    })
    .unwrap()
    .unwrap();
    let (data, from, _) = receive(&mut sim, a, sa, 60).expect("a receives b's answer");
    assert_eq!(data, b"hello a");
    assert_eq!(from, rloc_address(rb));
}

/// A line of 8: UDP from one end to the other (several hops, mesh header).
#[test]
fn udp_end_to_end_across_a_line() {
    let mut sim = build(1, &line(8, 1000.0), eu868(7));
    if let Ok(p) = std::env::var("MESH_PCAP") {
        sim.capture_pcap(std::fs::File::create(p).unwrap()).unwrap();
    }
    sim.run_until_cond(1800 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition");
    let ids: Vec<_> = sim.ids().collect();
    let (first, last) = (ids[0], ids[7]);
    let s0 = sim
        .with_node(first, |n, _| n.socket_open().unwrap())
        .unwrap();
    let s7 = sim
        .with_node(last, |n, _| n.socket_open().unwrap())
        .unwrap();
    sim.with_node(last, |n, _| n.socket_bind(s7, None, 4000).unwrap());
    let last_rloc16 = sim.node(last).unwrap().rloc16();
    let dst = rloc_address(last_rloc16);
    // Routes spread with Advertisements (up to Imax, 100 s at SF7) after the partition forms:
    // a datagram sent before a router on the way has a route is dropped there.
    sim.run_until_cond(sim.now_us() + 1800 * SECOND_US, |s| {
        path(s, first, last_rloc16).is_some()
    })
    .expect("a route from one end to the other");
    sim.with_node(first, |n, now| {
        n.socket_sendto(now, s0, &dst, 4000, b"end to end")
    })
    .unwrap()
    .unwrap();
    let (data, _, _) = receive(&mut sim, last, s7, 120).expect("delivered across the line");
    assert_eq!(data, b"end to end");
    let forwarded: u32 = ids
        .iter()
        .map(|&i| sim.node(i).unwrap().rx_drops().forwarded)
        .sum();
    println!("frames forwarded along the mesh: {forwarded}");
}

#[test]
fn a_1280_byte_datagram_between_neighbours() {
    let mut sim = build(11, &line(2, 1000.0), eu868(7));
    let ids: Vec<_> = sim.ids().collect();
    let (a, b) = (ids[0], ids[1]);
    sim.run_until_cond(900 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("attached");
    let sa = sim.with_node(a, |n, _| n.socket_open().unwrap()).unwrap();
    let sb = sim.with_node(b, |n, _| n.socket_open().unwrap()).unwrap();
    sim.with_node(b, |n, _| n.socket_bind(sb, None, 1234).unwrap());
    let rb = sim.node(b).unwrap().rloc16();
    let big: Vec<u8> = (0..1232u32).map(|i| (i * 3 % 251) as u8).collect();
    sim.with_node(a, |n, now| {
        n.socket_sendto(now, sa, &rloc_address(rb), 1234, &big)
    })
    .unwrap()
    .unwrap();
    let got = receive(&mut sim, b, sb, 300);
    println!(
        "{:?} {:?}",
        sim.node(b).unwrap().reassembly_counters(),
        sim.node(b).unwrap().rx_drops()
    );
    assert_eq!(got.expect("delivered").0, big);
}

/// A 1280-byte datagram (15 fragments) across four hops (a line of five, each node hearing
/// only its neighbours), first without loss, then with 10 % frame loss on every link, at
/// seeds 1-16: each is delivered on the first try. UDP has no end-to-end retry, so every
/// fragment must cross every hop.
///
/// Before fragments got 7 MAC retries on LoRa and the receiver 400 frame times to reassemble
/// (`Timing::fragment_retries`, `Timing::reassembly_timeout`), seeds 4 and 11 of these
/// failed, and 22 of seeds 1-96: relays two hops apart do not hear each other
/// (listen-before-talk at -85 dBm, neighbours at -120 dBm) and their frames collided at the
/// relay between them through all of 4 attempts, and datagrams whose fragments all got
/// through took longer than the 39 s the receiver waited. With those, over seeds 1-300 (the
/// range of `SEEDS` below changed by hand), 151 and 214 lost the loss-free datagram: its
/// sender had just become a router, and a stale Router Mask had dropped its link at the next
/// hop, which no longer knew its RLOC16 (`Mle::restore_links`; in 339 also until the mask
/// that restores it arrived, now `Mle::ext_address_of`). Now, over seeds 1-1000, 3 fail:
/// 486, 816 and 962 lose the lossy datagram (MAC frames on the path unacked through all
/// their attempts).
/// Senders pace their frames (three hops of frame + ack after an acknowledged frame, and
/// before a retry), or the fragments collide with their own relaying.
#[test]
fn a_1280_byte_datagram_across_four_hops_with_loss() {
    const SEEDS: core::ops::RangeInclusive<u64> = 1..=16;
    for seed in SEEDS {
        a_1280_byte_datagram_across_four_hops(seed);
    }
}

fn a_1280_byte_datagram_across_four_hops(seed: u64) {
    let lora = eu868(7);
    let spacing = 0.7 * pymesh_sim::scenario::range_m(&lora);
    let mut sim = build(seed, &line(5, spacing), lora);
    sim.run_until_cond(1800 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition");
    // Seed 4 lost its lossy datagram to a node that became a router meanwhile (15 of its
    // fragments dropped at its former parent).
    wait_until_every_node_is_a_router(&mut sim);
    let ids: Vec<_> = sim.ids().collect();
    let (first, last) = (ids[0], ids[4]);
    let s0 = sim
        .with_node(first, |n, _| n.socket_open().unwrap())
        .unwrap();
    let s4 = sim
        .with_node(last, |n, _| n.socket_open().unwrap())
        .unwrap();
    sim.with_node(last, |n, _| n.socket_bind(s4, None, 4000).unwrap());
    let last_rloc16 = sim.node(last).unwrap().rloc16();
    let dst = rloc_address(last_rloc16);
    // Routes spread with Advertisements (up to Imax, 100 s at SF7) after the partition forms.
    sim.run_until_cond(sim.now_us() + 1800 * SECOND_US, |s| {
        path(s, first, last_rloc16).is_some()
    })
    .expect("a route from one end to the other");
    let route = path(&sim, first, last_rloc16).unwrap();
    assert_eq!(route.len(), 4, "four hops: {route:04x?}");
    for (k, loss) in [0.0, 0.10].into_iter().enumerate() {
        // As an application would after EHOSTUNREACH: seed 210 had no route for a while
        // after the first datagram (a new router's link was one-way until its neighbour's
        // next Advertisement).
        sim.run_until_cond(sim.now_us() + 600 * SECOND_US, |s| {
            path(s, first, last_rloc16).is_some()
        })
        .unwrap_or_else(|| panic!("seed {seed}: no route before the datagram with {loss} loss"));
        sim.set_default_loss(loss);
        let big: Vec<u8> = (0..1232u32)
            .map(|i| (i * (3 + k as u32) % 251) as u8)
            .collect();
        let t0 = sim.now_us();
        sim.with_node(first, |n, now| n.socket_sendto(now, s0, &dst, 4000, &big))
            .unwrap()
            .unwrap_or_else(|e| panic!("seed {seed}: sendto with {loss} loss: {e:?}"));
        let got = receive(&mut sim, last, s4, 600);
        if got.is_none() {
            for &i in &ids {
                let n = sim.node(i).unwrap();
                let m = n.mac_counters();
                println!(
                    "{:04x} {:?} {:?} fwd {}/{} noack {} tx {} retry {} ackdrop {} dup {} dc {}",
                    n.rloc16(),
                    n.role(),
                    n.reassembly_counters(),
                    n.rx_drops().forwarded,
                    n.rx_drops().forward_failed,
                    m.tx_direct_max_retry_expiry,
                    m.tx_total,
                    m.tx_retry,
                    m.tx_ack_dropped,
                    m.rx_duplicated,
                    m.tx_err_duty_cycle
                );
            }
        }
        let (data, _, _) = got.unwrap_or_else(|| panic!("seed {seed}: delivered with {loss} loss"));
        assert_eq!(data, big);
        println!(
            "seed {seed}: 1232-byte payload over 4 hops with {:.0} % loss: {:.1} s",
            loss * 100.0,
            (sim.now_us() - t0) as f64 / 1e6
        );
    }
}

/// The leader of a line of 5 dies: the others notice (network id timeout), a new leader
/// emerges and they form one partition again.
#[test]
fn leader_killed_a_new_leader_and_one_partition_again() {
    let mut sim = build(3, &line(5, 1000.0), eu868(7));
    sim.run_until_cond(1800 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition first");
    let leader = sim.ids().find(|&i| sim.role(i).0 == Role::Leader).unwrap();
    let old = sim
        .node(leader)
        .unwrap()
        .leader_data()
        .unwrap()
        .partition_id;
    sim.kill(leader);
    let t0 = sim.now_us();
    let t = sim
        .run_until_cond(t0 + 1800 * SECOND_US, |s| {
            let alive: Vec<_> = s.ids().filter(|&i| i != leader).collect();
            let parts = partitions(s);
            alive
                .iter()
                .all(|&i| matches!(s.role(i).0, Role::Child | Role::Router | Role::Leader))
                && parts.len() == 1
                && parts[0].partition_id != old
        })
        .expect("a new leader and one partition within 30 minutes");
    println!(
        "re-formed {:.0} s after the leader died",
        (t - t0) as f64 / 1e6
    );
}

/// A link cut splits a line of 4 in two partitions; restored, they merge.
#[test]
fn a_cut_link_splits_the_partition_and_restored_they_merge() {
    let mut sim = build(4, &line(4, 2000.0), eu868(7));
    sim.run_until_cond(1800 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition first");
    let ids: Vec<_> = sim.ids().collect();
    // At 2 km spacing each node hears its neighbours (and the one after at 4 km, weakly): cut
    // every link across the middle.
    for &(a, b) in &[(1, 2), (0, 2), (1, 3), (0, 3)] {
        sim.cut_link(ids[a], ids[b]);
    }
    let t0 = sim.now_us();
    sim.run_until_cond(t0 + 1800 * SECOND_US, |s| partitions(s).len() == 2)
        .expect("two partitions once cut");
    for &(a, b) in &[(1, 2), (0, 2), (1, 3), (0, 3)] {
        sim.restore_link(ids[a], ids[b]);
    }
    let t1 = sim.now_us();
    let t = sim
        .run_until_cond(t1 + 3600 * SECOND_US, |s| {
            all_attached(s) && partitions(s).len() == 1
        })
        .expect("merged again within an hour");
    println!(
        "split after cut, merged {:.0} s after restore",
        (t - t1) as f64 / 1e6
    );
}

/// A border-router prefix added on one node of a line of 8 gives every node a SLAAC address
/// in it; removed, every node drops it.
#[test]
fn a_border_router_prefix_reaches_every_node_and_leaves_again() {
    let mut sim = build(1, &line(8, 1000.0), eu868(7));
    sim.run_until_cond(1800 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition");
    let ids: Vec<_> = sim.ids().collect();
    let prefix = pymesh::wire::Ipv6Address::parse("2001:cafe:cafe:cafe::").unwrap();
    let in_prefix = |s: &pymesh_sim::des::Simulator, i| has_address_in(s, i, &prefix);
    sim.with_node(ids[7], |n, now| n.border_router_add(now, prefix, 64, 0))
        .unwrap()
        .unwrap();
    let t0 = sim.now_us();
    let t = sim
        .run_until_cond(t0 + 1800 * SECOND_US, |s| {
            ids.iter().all(|&i| in_prefix(s, i))
        })
        .expect("every node forms a SLAAC address");
    println!(
        "SLAAC on all 8 nodes {:.0} s after the prefix was added",
        (t - t0) as f64 / 1e6
    );
    sim.with_node(ids[7], |n, now| n.border_router_remove(now, prefix, 64))
        .unwrap();
    let t1 = sim.now_us();
    let t = sim
        .run_until_cond(t1 + 1800 * SECOND_US, |s| {
            ids.iter().all(|&i| !in_prefix(s, i))
        })
        .unwrap_or_else(|| {
            let keep: Vec<_> = ids
                .iter()
                .map(|&i| {
                    let n = sim.node(i).unwrap();
                    (
                        in_prefix(&sim, i),
                        n.role(),
                        n.rloc16(),
                        n.network_data().version(),
                        n.network_data().as_bytes().len(),
                    )
                })
                .collect();
            panic!("every node drops it: {keep:?}")
        });
    println!(
        "gone from all 8 nodes {:.0} s after removal",
        (t - t1) as f64 / 1e6
    );
}

/// A border router whose partition merges into another registers its prefix with the new
/// leader (the winning partition's data never had it): a line of five, cut between the third
/// and fourth node from the start, the prefix added on the fifth; once the links are restored
/// the two-router side joins the three-router one (LoRa: more routers win) and every node of
/// the merged partition has a SLAAC address in the prefix.
#[test]
fn a_border_router_registers_its_prefix_again_after_a_merge() {
    let mut sim = build(2, &line(5, 2000.0), eu868(7));
    let ids: Vec<_> = sim.ids().collect();
    let across = [(2, 3), (1, 3), (2, 4), (1, 4), (0, 3), (0, 4)];
    for &(a, b) in &across {
        sim.cut_link(ids[a], ids[b]);
    }
    let routers = |s: &pymesh_sim::des::Simulator, range: std::ops::Range<usize>| {
        range
            .filter(|&i| matches!(s.node(ids[i]).unwrap().role(), Role::Router | Role::Leader))
            .count()
    };
    sim.run_until_cond(3600 * SECOND_US, |s| {
        all_attached(s)
            && partitions(s).len() == 2
            && routers(s, 0..3) == 3
            && routers(s, 3..5) == 2
    })
    .expect("two partitions, every node a router");
    let winner = sim
        .node(ids[0])
        .unwrap()
        .leader_data()
        .unwrap()
        .partition_id;
    let prefix = pymesh::wire::Ipv6Address::parse("2001:cafe:cafe:cafe::").unwrap();
    sim.with_node(ids[4], |n, now| n.border_router_add(now, prefix, 64, 0))
        .unwrap()
        .unwrap();
    let t0 = sim.now_us();
    sim.run_until_cond(t0 + 1800 * SECOND_US, |s| {
        (3..5).all(|i| has_address_in(s, ids[i], &prefix))
    })
    .expect("the border router's side forms SLAAC addresses");
    for &(a, b) in &across {
        sim.restore_link(ids[a], ids[b]);
    }
    let t1 = sim.now_us();
    let t = sim
        .run_until_cond(t1 + 3600 * SECOND_US, |s| {
            all_attached(s)
                && partitions(s).len() == 1
                && ids.iter().all(|&i| has_address_in(s, i, &prefix))
        })
        .unwrap_or_else(|| {
            let state: Vec<_> = ids
                .iter()
                .map(|&i| {
                    let n = sim.node(i).unwrap();
                    (
                        n.role(),
                        has_address_in(&sim, i, &prefix),
                        n.leader_data().map(|l| l.partition_id),
                    )
                })
                .collect();
            panic!("one partition, the prefix on every node: {state:?}")
        });
    assert_eq!(
        partitions(&sim)[0].partition_id,
        winner,
        "the border router's side joined the other"
    );
    println!(
        "merged, prefix on all five {:.0} s after the links were restored",
        (t - t1) as f64 / 1e6
    );
    // Registered with the new leader (again when it became a router: a new RLOC16), then
    // quiet once settled: nothing missing, nothing sent.
    assert!(sim.node(ids[4]).unwrap().server_data_registrations() >= 1);
    sim.run_for(3600 * SECOND_US);
    let sent = sim.node(ids[4]).unwrap().server_data_registrations();
    sim.run_for(3600 * SECOND_US);
    assert_eq!(sim.node(ids[4]).unwrap().server_data_registrations(), sent);
    // One entry, under its current RLOC16: a child that became a router sent its old RLOC16
    // along and the leader dropped that one's entry.
    let br = sim.node(ids[4]).unwrap();
    let entries: Vec<_> = br
        .network_data()
        .on_mesh_prefixes()
        .map(|p| p.rloc16().0)
        .collect();
    assert_eq!(entries, [br.rloc16()]);
}

/// Three nodes in a line, the ends out of each other's range: the moment the far end has its
/// first link as a new router, it already routes to the leader two hops away (the Link Accept
/// carries its neighbour's Route64; without it the route waits for the next Advertisement and
/// a datagram sent in between fails with EHOSTUNREACH).
#[test]
fn a_new_router_routes_through_its_first_link_at_once() {
    let lora = eu868(7);
    let spacing = 0.6 * pymesh_sim::scenario::range_m(&lora);
    let mut sim = build(3, &line(3, spacing), lora);
    let ids: Vec<_> = sim.ids().collect();
    let first_link = |s: &pymesh_sim::des::Simulator, id| {
        let n = s.node(id).unwrap();
        n.role().is_router_or_leader() && n.mle().neighbor_routers().any(|r| r.link.is_some())
    };
    // With this seed an end node leads; the other end is then two hops from it.
    let ends = [(ids[0], ids[2]), (ids[2], ids[0])];
    let t = sim.run_until_cond(3600 * SECOND_US, |s| {
        ends.iter()
            .any(|&(l, f)| s.role(l).0 == Role::Leader && first_link(s, f))
    });
    t.expect("an end node leads and the other becomes a router with a link within an hour");
    let (leader_id, far_id) = *ends
        .iter()
        .find(|&&(l, _)| sim.role(l).0 == Role::Leader)
        .unwrap();
    let far = sim.node(far_id).unwrap();
    let leader_node = sim.node(leader_id).unwrap();
    let leader = leader_node.rloc16();
    assert!(
        far.mle()
            .neighbor_routers()
            .filter(|r| r.link.is_some())
            .all(|r| r.ext_addr != Some(leader_node.config().ext_addr)),
        "the ends are out of each other's range"
    );
    assert!(
        far.mle().next_hop(leader).is_some(),
        "no route to the leader {leader:04x}: {:?}",
        far.mle().routers()
    );
}

/// Network data is pulled as well as pushed: a router that missed the Data Responses (its only
/// neighbour was cut off while the prefix spread) asks for the data when the next Advertisement
/// shows a newer version, and forms its SLAAC address.
#[test]
fn a_router_that_missed_a_data_response_asks_for_the_network_data() {
    let lora = eu868(7);
    let spacing = 0.6 * pymesh_sim::scenario::range_m(&lora);
    let mut sim = build(3, &line(3, spacing), lora);
    let ids: Vec<_> = sim.ids().collect();
    sim.run_until_cond(3600 * SECOND_US, |s| {
        ids.iter().all(|&i| s.role(i).0.is_router_or_leader()) && partitions(s).len() == 1
    })
    .expect("three routers in one partition within an hour");
    let (br, far) = if sim.role(ids[0]).0 == Role::Leader {
        (ids[0], ids[2])
    } else {
        (ids[2], ids[0])
    };
    assert_eq!(sim.role(br).0, Role::Leader, "seed 3: an end node leads");
    let prefix = pymesh::wire::Ipv6Address::parse("2001:db8:1:2::").unwrap();
    let in_prefix = |s: &pymesh_sim::des::Simulator, i| has_address_in(s, i, &prefix);
    // The far node hears nothing from the middle one while the prefix spreads.
    sim.set_link_directed(ids[1], far, None);
    sim.with_node(br, |n, now| n.border_router_add(now, prefix, 64, 0))
        .unwrap()
        .unwrap();
    let t0 = sim.now_us();
    sim.run_until_cond(t0 + 60 * SECOND_US, |s| in_prefix(s, ids[1]))
        .expect("the middle node has the prefix within a minute");
    sim.run_until(sim.now_us() + 5 * SECOND_US);
    assert!(!in_prefix(&sim, far), "the far node missed it");
    sim.clear_link(ids[1], far);
    let t1 = sim.now_us();
    let t = sim
        .run_until_cond(t1 + 600 * SECOND_US, |s| in_prefix(s, far))
        .expect("the far node asks for the network data once it hears the middle one again");
    println!(
        "far node has the prefix {:.0} s after the link came back",
        (t - t1) as f64 / 1e6
    );
}

/// Node `id` has a unicast address (SLAAC) in `prefix`'s /64.
fn has_address_in(
    sim: &pymesh_sim::des::Simulator,
    id: pymesh_sim::des::NodeId,
    prefix: &pymesh::wire::Ipv6Address,
) -> bool {
    sim.node(id)
        .unwrap()
        .unicast_addresses()
        .iter()
        .any(|a| a.prefix64() == prefix.prefix64())
}

/// Sends a datagram from `from` to `at`'s RLOC (as it is at each send: a node that
/// re-attaches or becomes a router changes it) once a minute, up to `minutes` times, until
/// one arrives at `at`; returns the virtual time it arrived.
fn resend_until_delivered(
    sim: &mut pymesh_sim::des::Simulator,
    from: (pymesh_sim::des::NodeId, pymesh::net::SocketId),
    at: (pymesh_sim::des::NodeId, pymesh::net::SocketId),
    minutes: u32,
) -> Option<u64> {
    for k in 0..minutes {
        let msg = format!("datagram {k}");
        let to = rloc_address(sim.node(at.0)?.rloc16());
        let _ = sim.with_node(from.0, |n, now| {
            n.socket_sendto(now, from.1, &to, 4000, msg.as_bytes())
        });
        if let Some((data, _, _)) = receive(sim, at.0, at.1, 60) {
            assert!(data.starts_with(b"datagram"));
            return Some(sim.now_us());
        }
    }
    None
}

/// The RLOC16s a datagram from `src` to `dst_rloc16` crosses, `src` excluded, by following
/// each node's next hop (None: a node on the way has no route, or a loop).
fn path(
    sim: &pymesh_sim::des::Simulator,
    src: pymesh_sim::des::NodeId,
    dst_rloc16: u16,
) -> Option<Vec<u16>> {
    let mut hops = Vec::new();
    let mut at = src;
    for _ in 0..32 {
        let node = sim.node(at)?;
        if node.rloc16() == dst_rloc16 {
            return Some(hops);
        }
        let (next, _) = node.mle().next_hop(dst_rloc16)?;
        hops.push(next);
        at = sim
            .ids()
            .find(|&i| sim.node(i).is_some_and(|n| n.rloc16() == next))?;
    }
    None
}

/// A 4 x 3 grid (neighbours 60 % of the radio range apart): UDP from one corner to the
/// other; the router in the middle of that route dies; after its neighbours have aged its
/// links out, the route goes around it and a datagram arrives again.
#[test]
fn router_killed_traffic_routes_around_it() {
    let lora = eu868(7);
    let spacing = 0.6 * pymesh_sim::scenario::range_m(&lora);
    let mut sim = build(2, &pymesh_sim::scenario::grid(12, spacing), lora);
    sim.run_until_cond(3600 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition");
    let ids: Vec<_> = sim.ids().collect();
    let (src, dst) = (ids[0], ids[11]);
    let s_src = sim.with_node(src, |n, _| n.socket_open().unwrap()).unwrap();
    let s_dst = sim.with_node(dst, |n, _| n.socket_open().unwrap()).unwrap();
    sim.with_node(dst, |n, _| n.socket_bind(s_dst, None, 4000).unwrap());
    // Traffic flows first (a datagram a minute until one arrives: links of a mesh that has just
    // formed are still being set up).
    resend_until_delivered(&mut sim, (src, s_src), (dst, s_dst), 30)
        .expect("delivered before the router dies");
    let dst_rloc16 = sim.node(dst).unwrap().rloc16();
    let before = path(&sim, src, dst_rloc16).expect("a route before");
    println!("route before: {before:04x?}");

    // A router on the route, neither end's parent (their own re-attach is another test).
    let parents: Vec<u16> = [src, dst]
        .iter()
        .map(|&i| {
            sim.node(i)
                .unwrap()
                .mle()
                .parent()
                .map_or(0xfffe, |p| p.rloc16)
        })
        .collect();
    let leader_rloc16 = sim
        .ids()
        .find(|&i| sim.role(i).0 == Role::Leader)
        .map(|i| sim.node(i).unwrap().rloc16());
    let victim_rloc16 = *before[..before.len() - 1]
        .iter()
        .find(|r| !parents.contains(r) && Some(**r) != leader_rloc16 && **r & 0x1ff == 0)
        .expect("a router in the middle of the route");
    let victim = ids
        .iter()
        .copied()
        .find(|&i| sim.node(i).unwrap().rloc16() == victim_rloc16)
        .unwrap();
    sim.kill(victim);
    let t0 = sim.now_us();
    // A datagram a minute until one arrives (those sent into the dead router are lost).
    let delivered_at = resend_until_delivered(&mut sim, (src, s_src), (dst, s_dst), 30);
    let t = delivered_at.expect("traffic routes around the dead router within 30 minutes");
    let after = path(&sim, src, sim.node(dst).unwrap().rloc16()).expect("a route after");
    println!(
        "route after: {after:04x?}, delivered {:.0} s after the router died",
        (t - t0) as f64 / 1e6
    );
    assert!(!after.contains(&victim_rloc16));
}

/// 36 nodes on a 6 x 6 grid, neighbours 60 % of the radio range apart (each hears 4 to 8
/// others), all powered up at once at SF7/BW125 with the 1 % duty cycle: every node attached
/// and one partition within two hours, and still so an hour later. (Seeds 1-8 all converge,
/// in 1800-3600 s: `pymesh-sim --nodes 36 --grid --seed S --duration 7200 --report-every 600`.)
#[test]
fn a_36_node_grid_forms_one_partition() {
    let lora = eu868(7);
    let spacing = 0.6 * pymesh_sim::scenario::range_m(&lora);
    let mut sim = build(1, &pymesh_sim::scenario::grid(36, spacing), lora);
    let t = sim
        .run_until_cond(7200 * SECOND_US, |s| {
            all_attached(s) && partitions(s).len() == 1
        })
        .expect("one partition, every node attached, within two hours");
    println!("converged at {:.0} s", t as f64 / 1e6);
    sim.run_for(3600 * SECOND_US);
    assert!(
        all_attached(&sim),
        "every node still attached an hour later"
    );
    assert_eq!(
        partitions(&sim).len(),
        1,
        "still one partition an hour later"
    );
}

/// 50 nodes at random, the bench's layout (`random_mesh`: about eight neighbours in range
/// each, connected over links of link quality 1 or better), all powered up at once at
/// SF7/BW125 with the 1 % duty cycle. One partition with every node attached within two hours
/// is not yet reliable (`make bench-seeds`: 481 of seeds 1-512), so this test holds the rate,
/// not one chosen layout: of seeds 1-32, at least 26 must get there (31 do at this writing).
/// A change that leaves the rate at 94 % fails it about once in 400 (a chaotic system: any
/// change draws new runs); one that brings it back to session 12's 91 %, once in 47; to
/// session 11's 84 %, one time in four; down to 75 %, nearly three times in four.
#[test]
fn a_50_node_random_topology_forms_one_partition_in_most_layouts() {
    let lora = eu868(7);
    let mut converged = Vec::new();
    let mut split = Vec::new();
    for seed in 1..=32u64 {
        let (positions, _) = pymesh_sim::scenario::random_mesh(50, &lora, seed);
        let mut sim = build(seed, &positions, lora);
        match sim.run_until_cond(7200 * SECOND_US, |s| {
            all_attached(s) && partitions(s).len() == 1
        }) {
            Some(t) => converged.push((seed, t / SECOND_US)),
            None => split.push((seed, partitions(&sim).len())),
        }
    }
    println!("converged (seed, s): {converged:?}");
    println!("not within 2 h (seed, partitions): {split:?}");
    assert!(
        converged.len() >= 26,
        "{} of 32 layouts formed one partition within two hours",
        converged.len()
    );
}

/// A child that may not become a router (`routerrole disable`) keeps its parent with Child
/// Update Requests (answered: counted); when the parent dies, it attaches again, to the other
/// router in range (three unanswered keep-alives or the network id timeout, whichever first).
#[test]
fn a_child_whose_parent_dies_attaches_to_another() {
    let mut sim = build(5, &line(3, 1000.0), eu868(7));
    let ids: Vec<_> = sim.ids().collect();
    let child = ids[1];
    sim.with_node(child, |n, now| n.set_router_eligible(now, false))
        .unwrap();
    sim.run_until_cond(1800 * SECOND_US, |s| {
        all_attached(s)
            && partitions(s).len() == 1
            && s.role(child).0 == Role::Child
            && role_count(s, Role::Router) + role_count(s, Role::Leader) == 2
    })
    .expect("a leader, a router and the ineligible node as their child");
    // Keep-alives go back and forth (LoRa child timeout 1209 s: one every 302-604 s).
    let updates = |s: &pymesh_sim::des::Simulator| {
        let c = &s.node(child).unwrap().mle().counters;
        (c.rx_by_command[14], c.parent_changes)
    };
    let (answers0, _) = updates(&sim);
    sim.run_for(1300 * SECOND_US);
    let (answers1, parent_changes1) = updates(&sim);
    assert!(
        answers1 >= answers0 + 2,
        "Child Update Responses: {answers0} -> {answers1}"
    );
    assert_eq!(
        sim.role(child).0,
        Role::Child,
        "still a child, of the same parent"
    );
    let parent_rloc16 = sim.node(child).unwrap().mle().next_hop(0xfffe).unwrap().0;
    let parent = ids
        .iter()
        .copied()
        .find(|&i| i != child && sim.node(i).unwrap().rloc16() == parent_rloc16)
        .unwrap();
    sim.kill(parent);
    let t0 = sim.now_us();
    let t = sim
        .run_until_cond(t0 + 1800 * SECOND_US, |s| {
            let n = s.node(child).unwrap();
            n.role() == Role::Child && n.mle().counters.parent_changes > parent_changes1
        })
        .expect("attached to the other router within 30 minutes");
    println!(
        "re-attached {:.0} s after its parent died",
        (t - t0) as f64 / 1e6
    );
}

fn role_count(sim: &pymesh_sim::des::Simulator, role: Role) -> usize {
    pymesh_sim::scenario::role_counts(sim)[role as usize]
}

/// A line of three, 3 km apart: the end nodes hear only the middle one. The middle node is
/// kept a REED (router upgrade threshold 1: the leader is router enough); the third node,
/// powered up later, hears no router, so only its second Parent Request (Scan Mask: routers
/// and REEDs) finds a parent: the REED answers, asks the leader for a router id when the
/// Child ID Request comes, and takes the node as its child as a router. Without REED Parent
/// Responses the third node would lead a partition of its own.
#[test]
fn a_reed_answers_the_second_parent_request_and_becomes_a_router_for_the_child() {
    let mut sim = build(5, &line(3, 3000.0), eu868(7));
    let ids: Vec<_> = sim.ids().collect();
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    sim.kill(c);
    sim.with_node(b, |n, _| n.mle_mut().set_router_upgrade_threshold(1));
    let formed = sim.run_until_cond(900 * SECOND_US, |s| {
        s.role(a).0 == Role::Leader && s.role(b).0 == Role::Child
    });
    assert!(formed.is_some(), "a leads and b is its child");
    // b stays a REED for a while (nothing asks it to become a router).
    sim.run_until(sim.now_us() + 300 * SECOND_US);
    assert_eq!(sim.role(b).0, Role::Child, "b is still a REED");
    let solicits_before = sim.node(b).unwrap().mle().counters.address_solicits_sent;
    sim.restart(c);
    let attached = sim.run_until_cond(sim.now_us() + 300 * SECOND_US, |s| {
        s.role(c).0 == Role::Child
    });
    assert!(
        attached.is_some(),
        "c attached as a child: {:?}",
        sim.role(c)
    );
    let (nb, nc) = (sim.node(b).unwrap(), sim.node(c).unwrap());
    assert_eq!(
        nb.role(),
        Role::Router,
        "the REED became a router for its child"
    );
    assert_eq!(
        nb.mle().counters.address_solicits_sent,
        solicits_before + 1,
        "one Address Solicit, sent for the Child ID Request"
    );
    assert_eq!(nc.mle().parent().unwrap().ext_addr, nb.config().ext_addr);
    assert_eq!(
        nc.mle().parent().unwrap().rloc16,
        nb.rloc16(),
        "the parent's new RLOC16"
    );
    assert_eq!(
        nc.rloc16() & !0x1ff,
        nb.rloc16(),
        "c's RLOC16 is under b's router id"
    );
    assert!(nb
        .mle()
        .children()
        .iter()
        .any(|ch| ch.ext_addr == nc.config().ext_addr));
    assert_eq!(partitions(&sim).len(), 1);
    assert_eq!(nc.mle().counters.role_leader, 0, "c never led a partition");
}

/// A line of five, 3 km apart (each hears only its neighbours): UDP from one end to the
/// other end's ML-EID, which the sender never heard from: it asks the mesh (Address Query to
/// ff03::2, flooded by the routers with MPL), holds the datagram, and sends it when the
/// Address Notification says where the ML-EID lives; the answer comes back the same way.
/// One seed: it passes at each of seeds 1-24 (before routes becoming finite reset the
/// trickle timer it failed at seed 1: the answer, back the other way, did not arrive within
/// its 120 s). Before the test waited for five routers it failed in 2-3 (9, 13, 17): a query
/// asked while the far end was a child, which became a router meanwhile. A query is not
/// asked again (as in OpenThread, the held datagram is dropped).
#[test]
fn udp_to_an_ml_eid_across_a_line_goes_through_address_query() {
    let mut sim = build(3, &line(5, 3000.0), eu868(7));
    if let Ok(p) = std::env::var("MESH_PCAP") {
        sim.capture_pcap(std::fs::File::create(p).unwrap()).unwrap();
    }
    sim.run_until_cond(3600 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition");
    // Seed 9 sent while the far end was a child: it became a router during the Address
    // Query, and the answer named its old RLOC16.
    wait_until_every_node_is_a_router(&mut sim);
    let ids: Vec<_> = sim.ids().collect();
    let (first, last) = (ids[0], ids[4]);
    // Routes both ways (the Route64s take a few Advertisements to cross four hops).
    sim.run_until_cond(sim.now_us() + 1800 * SECOND_US, |s| {
        let (a, b) = (s.node(first).unwrap(), s.node(last).unwrap());
        a.mle().next_hop(b.rloc16()).is_some() && b.mle().next_hop(a.rloc16()).is_some()
    })
    .expect("routes between the ends");
    let sf = sim
        .with_node(first, |n, _| n.socket_open().unwrap())
        .unwrap();
    let sl = sim
        .with_node(last, |n, _| n.socket_open().unwrap())
        .unwrap();
    sim.with_node(first, |n, _| n.socket_bind(sf, None, 4000).unwrap());
    sim.with_node(last, |n, _| n.socket_bind(sl, None, 4000).unwrap());
    let (eid_first, eid_last) = (
        sim.node(first).unwrap().ml_eid(),
        sim.node(last).unwrap().ml_eid(),
    );
    sim.with_node(first, |n, now| {
        n.socket_sendto(now, sf, &eid_last, 4000, b"to your ml-eid")
    })
    .unwrap()
    .expect("held while the address query runs");
    let (data, from, _) = receive(&mut sim, last, sl, 120).expect("delivered after the query");
    assert_eq!(data, b"to your ml-eid");
    assert_eq!(from, eid_first, "sent from the ML-EID");
    assert_eq!(sim.node(first).unwrap().rx_drops().address_queries_sent, 1);
    // The answer: the last node has heard from the first one's ML-EID (no query needed) or
    // asks; either way it arrives.
    sim.with_node(last, |n, now| {
        n.socket_sendto(now, sl, &eid_first, 4000, b"and back")
    })
    .unwrap()
    .expect("sent or held");
    let (data, from, _) = receive(&mut sim, first, sf, 120).expect("the answer arrives");
    assert_eq!(data, b"and back");
    assert_eq!(from, eid_last);
    let forwarded: u32 = ids
        .iter()
        .map(|&i| sim.node(i).unwrap().rx_drops().mpl_forwarded)
        .sum();
    assert!(
        forwarded >= 3,
        "the query crossed the routers by MPL ({forwarded})"
    );
}

/// The same line: one UDP datagram to ff03::1 (realm-local all nodes) reaches every node's
/// socket exactly once: the routers flood it with MPL, and the copies each node hears from
/// its two neighbours are recognised by their seed and sequence and dropped. Seeds 1-8, each
/// a separate mesh: a broadcast flood has no acks, so one seed says little (over seeds 1-24
/// it missed a node in 11 with MPL windows of four frame times, in 1 with eight).
#[test]
fn realm_local_multicast_reaches_every_node_once() {
    for seed in 1..=8 {
        realm_local_multicast_once(seed);
    }
}

fn realm_local_multicast_once(seed: u64) {
    let mut sim = build(seed, &line(5, 3000.0), eu868(7));
    sim.run_until_cond(3600 * SECOND_US, |s| {
        all_attached(s) && partitions(s).len() == 1
    })
    .expect("one partition");
    let ids: Vec<_> = sim.ids().collect();
    let sockets: Vec<_> = ids
        .iter()
        .map(|&i| {
            let s = sim.with_node(i, |n, _| n.socket_open().unwrap()).unwrap();
            sim.with_node(i, |n, _| n.socket_bind(s, None, 4001).unwrap());
            s
        })
        .collect();
    let group = pymesh::wire::Ipv6Address::REALM_LOCAL_ALL_NODES;
    sim.with_node(ids[2], |n, now| {
        n.socket_sendto(now, sockets[2], &group, 4001, b"all of you")
    })
    .unwrap()
    .expect("sent");
    sim.run_until(sim.now_us() + 300 * SECOND_US);
    for &i in &ids {
        let n = sim.node(i).unwrap();
        println!(
            "seed {seed}: {:?} {:04x} {:?} drops {:?} net {:?}",
            n.role(),
            n.rloc16(),
            i,
            n.rx_drops(),
            n.net_counters()
        );
    }
    for (k, &i) in ids.iter().enumerate() {
        let n = sim.node(i).unwrap();
        let expected = if k == 2 { 0 } else { 1 };
        assert_eq!(
            n.socket_pending(sockets[k]),
            expected,
            "seed {seed}, node {k}"
        );
    }
    let copies: u32 = ids
        .iter()
        .map(|&i| sim.node(i).unwrap().rx_drops().mpl_copies)
        .sum();
    assert!(copies > 0, "seed {seed}: copies were heard and dropped");
}
