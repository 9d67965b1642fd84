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
