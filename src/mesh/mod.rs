//! Thread routing state, as OpenThread 1.1 keeps it for a router: pure data, no I/O.
//!
//! - [`link_quality`]: per-neighbour link margin and RSSI averages, link quality with
//!   hysteresis, link costs.
//! - [`router_table`]: the router id set (allocation, release, reuse delay, id sequence), links
//!   to neighbouring routers, routes learnt from their Route64 TLVs, and our own Route64.
//! - [`forwarding`]: RLOC16 helpers and the next hop / mesh header decision for a destination.
//!
//! The node owns one [`RouterTable`]; MLE feeds it (Advertisements, Link Accept, Address
//! Solicit answers) and the mesh forwarder asks it where frames go.

pub mod forwarding;
pub mod link_quality;
pub mod router_table;

pub use forwarding::{child_id_of, rloc16, route, router_id_of, NextHop, Route};
pub use link_quality::{link_cost, link_quality_for_margin, LinkQualityInfo, MAX_ROUTE_COST};
pub use router_table::{Route64Data, Route64Update, RouterEntry, RouterLink, RouterTable};
