//! Where a frame for an RLOC16 goes next, after OpenThread 1.1's `mesh_forwarder.cpp`
//! (UpdateIp6Route, GetNextHop, the mesh header's hops left).
//!
//! The module owns the RLOC16 layout (router id in bits 15-10, child id in bits 8-0) and the
//! routing decision for a destination RLOC16: ourselves, one of our children, a router or a
//! child of another router (sent towards its parent), and whether the frame needs a 6LoWPAN
//! mesh header (whenever the next hop is not the final destination) with how many hops left.
//!
//! Broadcast and multicast destinations are not RLOC16 routes; the caller handles them first.

use super::link_quality::{link_cost, MAX_ROUTE_COST};
use super::router_table::{RouterTable, MAX_ROUTER_ID};

/// Child ids use the low 9 bits of an RLOC16.
pub const CHILD_ID_MASK: u16 = 0x01ff;

/// The RLOC16 of `child_id` (0: the router itself) of router `router_id`.
pub const fn rloc16(router_id: u8, child_id: u16) -> u16 {
    ((router_id as u16) << 10) | (child_id & CHILD_ID_MASK)
}

pub const fn router_id_of(rloc16: u16) -> u8 {
    (rloc16 >> 10) as u8
}

pub const fn child_id_of(rloc16: u16) -> u16 {
    rloc16 & CHILD_ID_MASK
}

/// A router's RLOC16 (child id 0).
pub const fn is_router_rloc16(rloc16: u16) -> bool {
    child_id_of(rloc16) == 0
}

/// Hops left in a mesh header we originate: path cost to the destination's router + 1, and
/// one more when the destination is a child (`thread-over-lora.md`; OpenThread 1.1 predicts
/// the hops from the route cost, adds 1 for a child and `kAdditionalHopsLeft` = 1).
///
/// Newer OpenThread (the one that recorded `thread11-line.pcap`) writes a fixed
/// [`MESH_HEADER_HOPS_LEFT_FIXED`] instead; both are valid Thread.
pub const fn mesh_hops_left(router_path_cost: u8, dest_is_child: bool) -> u8 {
    let hops = if router_path_cost > MAX_ROUTE_COST {
        MAX_ROUTE_COST
    } else {
        router_path_cost
    };
    hops + 1 + dest_is_child as u8
}

/// Hops left that later OpenThread writes in every mesh header (`kMaxRouteCost + 3`: 19, as
/// in `thread11-line.pcap` frames 91 and 125).
pub const MESH_HEADER_HOPS_LEFT_FIXED: u8 = MAX_ROUTE_COST + 3;

/// Hops left to write when relaying a mesh frame received with `received`; `None`: drop it.
pub const fn relay_hops_left(received: u8) -> Option<u8> {
    if received == 0 {
        None
    } else {
        Some(received - 1)
    }
}

/// A frame leaves through a neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    /// MAC destination: the neighbouring router (or our parent).
    pub mac_dest: u16,
    /// Path cost to the final destination (a child destination counts one link quality 3
    /// hop from its parent, as OpenThread assumes). [`MAX_ROUTE_COST`] when a child does not
    /// know it.
    pub path_cost: u8,
    /// `Some(hops left)` when the frame needs a mesh header: the next hop is not the final
    /// destination.
    pub mesh_hops_left: Option<u8>,
}

/// The routing decision for one destination RLOC16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Addressed to us.
    Local,
    /// One of our children (router part ours, child id not 0): send to it directly, if the
    /// child table has it.
    Child(u16),
    /// Send to a neighbour.
    Forward(NextHop),
    /// No route: the router id is invalid or unreachable.
    Unreachable,
}

/// Decides where a frame for `dest` goes, given our own RLOC16 and the router table.
///
/// A child (our child id not 0) sends everything to its parent without a mesh header (the
/// parent adds one if needed), as OpenThread's children do.
pub fn route(table: &RouterTable, own_rloc16: u16, dest: u16) -> Route {
    if dest == own_rloc16 {
        return Route::Local;
    }
    let dest_router = router_id_of(dest);
    if dest_router > MAX_ROUTER_ID {
        return Route::Unreachable;
    }
    let dest_is_child = !is_router_rloc16(dest);

    if !is_router_rloc16(own_rloc16) {
        let parent = rloc16(router_id_of(own_rloc16), 0);
        let path_cost = if dest_router == router_id_of(own_rloc16) {
            // The parent or a sibling: one hop, plus one to a sibling.
            link_cost(3) + dest_is_child as u8
        } else {
            MAX_ROUTE_COST
        };
        return Route::Forward(NextHop {
            mac_dest: parent,
            path_cost,
            mesh_hops_left: None,
        });
    }

    if dest_router == router_id_of(own_rloc16) {
        return Route::Child(dest);
    }
    match table.next_hop_and_cost(dest_router) {
        (Some(next), cost) if cost < MAX_ROUTE_COST => {
            let mac_dest = rloc16(next, 0);
            Route::Forward(NextHop {
                mac_dest,
                path_cost: cost + dest_is_child as u8,
                mesh_hops_left: (mac_dest != dest).then(|| mesh_hops_left(cost, dest_is_child)),
            })
        }
        _ => Route::Unreachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;
    use crate::wire::mle::{Route64, RouteData, RouterIdSet};
    use crate::wire::ExtAddress;

    #[test]
    fn rloc16_layout() {
        // thread11-line.pcap: router 20 is 0x5000, its child 1 is 0x5001; leader 48 is 0xc000.
        assert_eq!(rloc16(20, 0), 0x5000);
        assert_eq!(rloc16(20, 1), 0x5001);
        assert_eq!(rloc16(48, 0), 0xc000);
        assert_eq!(rloc16(62, 511), 0xf9ff);
        // Child ids wider than 9 bits are cut, not spilled into the router id.
        assert_eq!(rloc16(1, 0xffff), 0x05ff);
        for r in [0x5001u16, 0xc000, 0x7800, 0xfffe] {
            assert_eq!(rloc16(router_id_of(r), child_id_of(r)), r & !0x0200);
        }
        assert!(is_router_rloc16(0x7800));
        assert!(!is_router_rloc16(0x7801));
    }

    #[test]
    fn hops_left_rules() {
        assert_eq!(mesh_hops_left(2, false), 3);
        assert_eq!(mesh_hops_left(2, true), 4);
        assert_eq!(mesh_hops_left(200, false), 17);
        assert_eq!(relay_hops_left(19), Some(18));
        assert_eq!(relay_hops_left(1), Some(0));
        assert_eq!(relay_hops_left(0), None);
        assert_eq!(MESH_HEADER_HOPS_LEFT_FIXED, 19);
    }

    fn ext(id: u8) -> ExtAddress {
        ExtAddress([id; 8])
    }

    /// Router 20 in a line 48 — 30 — 20, links of quality 3, having heard 30's Route64.
    fn line_at_20() -> RouterTable {
        let mut t = RouterTable::new();
        let now = Instant::from_millis(1000);
        let mut mask = RouterIdSet::default();
        for id in [20, 30, 48] {
            mask.insert(id);
        }
        t.set_own_id(Some(20));
        // thread11-line.pcap frame 132: router 30's advertisement.
        let adv30 = [0xf1, 0x01, 0xf1];
        let r64 = Route64 {
            id_sequence: 143,
            router_mask: mask,
            route_data: &adv30,
        };
        t.update_from_route64(30, &r64, now);
        t.update_link(30, ext(2), -40, 30, now);
        t.establish_link(30, ext(2), 3, now);
        t.update_from_route64(30, &r64, now);
        assert_eq!(RouteData(adv30[0]).link_quality_in(), 3);
        t
    }

    #[test]
    fn decisions_from_a_router() {
        let t = line_at_20();
        let me = rloc16(20, 0);
        assert_eq!(route(&t, me, me), Route::Local);
        assert_eq!(route(&t, me, 0x5001), Route::Child(0x5001));
        // Neighbour router: direct, no mesh header.
        assert_eq!(
            route(&t, me, 0x7800),
            Route::Forward(NextHop {
                mac_dest: 0x7800,
                path_cost: 1,
                mesh_hops_left: None
            })
        );
        // A child of the neighbour: through its parent, with a mesh header.
        assert_eq!(
            route(&t, me, 0x7803),
            Route::Forward(NextHop {
                mac_dest: 0x7800,
                path_cost: 2,
                mesh_hops_left: Some(3)
            })
        );
        // Two hops to the leader (thread11-line.pcap frame 91 is this route, 0x5000 → 0x7800
        // for 0xc000).
        assert_eq!(
            route(&t, me, 0xc000),
            Route::Forward(NextHop {
                mac_dest: 0x7800,
                path_cost: 2,
                mesh_hops_left: Some(3)
            })
        );
        assert_eq!(
            route(&t, me, 0xc001),
            Route::Forward(NextHop {
                mac_dest: 0x7800,
                path_cost: 3,
                mesh_hops_left: Some(4)
            })
        );
        // Unallocated router, invalid router id.
        assert_eq!(route(&t, me, rloc16(5, 0)), Route::Unreachable);
        assert_eq!(route(&t, me, 0xfc00), Route::Unreachable);
    }

    #[test]
    fn a_child_sends_everything_to_its_parent() {
        let t = RouterTable::new();
        let me = 0x5001;
        let to_parent = |dest| match route(&t, me, dest) {
            Route::Forward(n) => (n.mac_dest, n.path_cost, n.mesh_hops_left),
            other => panic!("{other:?}"),
        };
        assert_eq!(to_parent(0x5000), (0x5000, 1, None));
        assert_eq!(to_parent(0x5002), (0x5000, 2, None));
        assert_eq!(to_parent(0xc000), (0x5000, MAX_ROUTE_COST, None));
        assert_eq!(route(&t, me, me), Route::Local);
    }

    #[test]
    fn lost_link_makes_routes_unreachable() {
        let mut t = line_at_20();
        t.remove_link(30, Instant::from_millis(2000));
        assert_eq!(route(&t, 0x5000, 0xc000), Route::Unreachable);
        assert_eq!(route(&t, 0x5000, 0x7800), Route::Unreachable);
    }
}
