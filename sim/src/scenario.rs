//! Scenarios for the simulator: ready-made topologies (grid, line, random placement), node
//! identities, and the observations tests and benchmarks make of a run (partitions, leaders,
//! attachment). Everything here is deterministic in its arguments.

use std::collections::BTreeMap;

use pymesh::mle::Role;
use pymesh::radio::region::{LoRaParams, Region};
use pymesh::radio::LoRaConfig;
use pymesh::rand::Rng;
use pymesh::wire::ExtAddress;

use crate::air;
use crate::des::{NodeId, NodeSpec, Simulator};

/// Pycom's defaults in EU868 (868 MHz, 14 dBm, BW125, CR4/5, preamble 8, public sync word)
/// with spreading factor `sf` (7..=12).
pub fn eu868(sf: u8) -> LoRaConfig {
    LoRaParams {
        region: Some(Region::Eu868 as i32),
        sf: sf as i32,
        ..LoRaParams::pycom_defaults()
    }
    .validate()
    .expect("EU868 with a spreading factor in 7..=12 is valid")
}

/// The extended address of the `i`-th node of a scenario (distinct, readable in Wireshark:
/// `5e3a000000000001` for the first).
pub fn ext_addr(i: usize) -> ExtAddress {
    ExtAddress::from_u64(0x5e3a_0000_0000_0000 | (i as u64 + 1))
}

/// The seed of the `i`-th node of a scenario run with `seed`.
pub fn node_seed(seed: u64, i: usize) -> u64 {
    let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    rng.next_u64()
}

/// Distance at which a frame sent with `lora` falls to the demodulation floor under the
/// path-loss model of [`air`].
pub fn range_m(lora: &LoRaConfig) -> f64 {
    let phy = air::Phy::from_config(lora);
    distance_at_snr_m(&phy, air::snr_floor_db(phy.sf))
}

/// Distance at which a frame sent with `phy` arrives at `snr_db` under [`air`]'s path loss.
fn distance_at_snr_m(phy: &air::Phy, snr_db: f64) -> f64 {
    let margin = phy.tx_power_dbm as f64
        - air::PATH_LOSS_1M_DB
        - air::noise_floor_dbm(phy.bandwidth_hz)
        - snr_db;
    10f64.powf(margin / (10.0 * air::PATH_LOSS_EXPONENT))
}

/// Distance up to which a link sent with `lora` can carry a Thread link: received at least
/// at link quality 1 on the LoRa scale (`pymesh::mle::LinkScale::LoRa`), after the SNR is
/// rounded to whole dB as the radio reports it. At SF7 that is 1 dB above the demodulation
/// floor, 92 % of [`range_m`]: frames between the two decode, but the mesh makes no links
/// over them (link quality 0), as OpenThread would not.
pub fn usable_range_m(lora: &LoRaConfig) -> f64 {
    let phy = air::Phy::from_config(lora);
    let lowest_snr = (-60i8..=30)
        .find(|&snr| lora_link_quality(snr as f64, phy.sf) >= 1)
        .expect("some SNR gives link quality 1");
    // Reported SNRs are rounded: everything above lowest_snr - 0.5 dB reports lowest_snr.
    distance_at_snr_m(&phy, lowest_snr as f64 - 0.5)
}

/// The link quality the mesh gives a frame received at `snr_db` with spreading factor `sf`:
/// the SNR rounded to whole dB as the radio reports it, then the LoRa link scale
/// (`pymesh::mle::LinkScale::LoRa`).
pub fn lora_link_quality(snr_db: f64, sf: u8) -> u8 {
    let margin = pymesh::mac::timing::link_margin_db(snr_db.round() as i8, sf);
    pymesh::mle::LinkScale::LoRa.quality(margin)
}

/// `n` positions on a square grid (rows of `ceil(sqrt(n))`), `spacing_m` apart.
pub fn grid(n: usize, spacing_m: f64) -> Vec<(f64, f64)> {
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    (0..n)
        .map(|i| ((i % cols) as f64 * spacing_m, (i / cols) as f64 * spacing_m))
        .collect()
}

/// `n` positions on a line, `spacing_m` apart.
pub fn line(n: usize, spacing_m: f64) -> Vec<(f64, f64)> {
    (0..n).map(|i| (i as f64 * spacing_m, 0.0)).collect()
}

/// `n` positions uniform in a `side_m` square.
pub fn random(n: usize, side_m: f64, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = Rng::new(seed);
    let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (0..n).map(|_| (unit() * side_m, unit() * side_m)).collect()
}

/// How many groups of nodes can reach each other over links of at most `range_m` (one means
/// every node can reach every other, over as many hops as it takes).
pub fn radio_components(positions: &[(f64, f64)], range_m: f64) -> usize {
    let n = positions.len();
    let mut group: Vec<usize> = (0..n).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for a in 0..n {
        for b in a + 1..n {
            if air::distance(positions[a], positions[b]) <= range_m {
                let (ra, rb) = (root(&mut group, a), root(&mut group, b));
                group[ra] = rb;
            }
        }
    }
    (0..n).filter(|&i| root(&mut group, i) == i).count()
}

/// `n` positions uniform in a `side_m` square, drawn again (from the next seed) until every
/// node can reach every other over links of at most `range_m`: a mesh that cannot form one
/// partition says nothing about the protocol. Returns the positions and the seed that gave
/// them.
pub fn random_connected(n: usize, side_m: f64, range_m: f64, seed: u64) -> (Vec<(f64, f64)>, u64) {
    let mut s = seed;
    loop {
        let p = random(n, side_m, s);
        if radio_components(&p, range_m) <= 1 {
            return (p, s);
        }
        s = s.wrapping_add(1);
    }
}

/// The bench's random layout: `n` nodes in a square sized for about eight neighbours each
/// within [`range_m`] (side = sqrt(n * pi * range^2 / 8)), connected over links of link
/// quality 1 or better ([`usable_range_m`]; see [`random_connected`]). Returns the positions
/// and the seed that gave them.
pub fn random_mesh(n: usize, lora: &LoRaConfig, seed: u64) -> (Vec<(f64, f64)>, u64) {
    random_connected(n, random_mesh_side_m(n, lora), usable_range_m(lora), seed)
}

/// The side of [`random_mesh`]'s square.
pub fn random_mesh_side_m(n: usize, lora: &LoRaConfig) -> f64 {
    let range = range_m(lora);
    (n as f64 * std::f64::consts::PI * range * range / 8.0).sqrt()
}

/// A simulator with one mesh node at each position, all on `lora`, started now.
pub fn build(seed: u64, positions: &[(f64, f64)], lora: LoRaConfig) -> Simulator {
    let mut sim = Simulator::new(seed);
    for (i, &(x, y)) in positions.iter().enumerate() {
        sim.add_node(NodeSpec::new(ext_addr(i), lora, node_seed(seed, i)).at(x, y));
    }
    sim
}

/// One Thread partition as its members see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub partition_id: u32,
    pub leader_router_id: u8,
    /// Live attached nodes (child, router, leader) that report this partition.
    pub members: Vec<NodeId>,
}

/// The partitions of the live attached nodes, by partition id.
pub fn partitions(sim: &Simulator) -> Vec<Partition> {
    let mut by_id: BTreeMap<(u32, u8), Vec<NodeId>> = BTreeMap::new();
    for id in sim.ids() {
        let Some(node) = sim.node(id) else { continue };
        if !matches!(node.role(), Role::Child | Role::Router | Role::Leader) {
            continue;
        }
        if let Some(ld) = node.leader_data() {
            by_id
                .entry((ld.partition_id, ld.leader_router_id))
                .or_default()
                .push(id);
        }
    }
    by_id
        .into_iter()
        .map(|((partition_id, leader_router_id), members)| Partition {
            partition_id,
            leader_router_id,
            members,
        })
        .collect()
}

/// Live nodes whose role is leader.
pub fn leaders(sim: &Simulator) -> Vec<NodeId> {
    sim.ids()
        .filter(|&id| sim.node(id).is_some_and(|n| n.role() == Role::Leader))
        .collect()
}

/// Every live mesh node is a child, router or leader.
pub fn all_attached(sim: &Simulator) -> bool {
    sim.ids()
        .filter_map(|id| sim.node(id))
        .all(|n| matches!(n.role(), Role::Child | Role::Router | Role::Leader))
}

/// How many live nodes have each role, indexed by `Role as usize` (disabled, detached,
/// child, router, leader); killed and radio-only nodes count as disabled.
pub fn role_counts(sim: &Simulator) -> [usize; 5] {
    let mut counts = [0; 5];
    for id in sim.ids() {
        counts[sim.role(id).0 as usize] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Link quality a receiver gives a frame from `distance_m` away: the SNR rounded as the
    /// radio reports it, then the LoRa link scale.
    fn link_quality_at(lora: &LoRaConfig, distance_m: f64) -> u8 {
        let phy = air::Phy::from_config(lora);
        let (_, snr) = air::link_budget(&phy, distance_m);
        lora_link_quality(snr, phy.sf)
    }

    #[test]
    fn usable_range_ends_where_link_quality_1_ends() {
        for sf in [7, 9, 12] {
            let lora = eu868(sf);
            let usable = usable_range_m(&lora);
            assert!(usable < range_m(&lora), "SF{sf}: inside the decoding range");
            assert!(
                usable > 0.85 * range_m(&lora),
                "SF{sf}: within a dB or two of it"
            );
            assert_eq!(link_quality_at(&lora, 0.999 * usable), 1, "SF{sf}");
            assert_eq!(link_quality_at(&lora, 1.001 * usable), 0, "SF{sf}");
        }
    }
}
