//! The router table of a Thread router, after OpenThread's `router_table.cpp` and the route
//! handling of `mle_router.cpp` (HandleAdvertisement, UpdateRoutes, FillRouteTlv).
//!
//! The module owns:
//! - the set of allocated router ids (0..=62, at most 32) and the id sequence that versions it;
//!   the leader allocates and releases ids (with a 100 s reuse delay), every other router
//!   copies the set from any Route64 TLV with a newer id sequence;
//! - per router: its extended address if known, the link to it if it is a neighbour (link
//!   quality in and out, last heard, whether Link Request/Accept established it), and the
//!   route through a neighbouring next hop with the cost that neighbour advertised;
//! - path costs and next hops: min(direct link cost, advertised cost + link cost to the next
//!   hop), 16 meaning unreachable;
//! - our own Route64 TLV content.
//!
//! Time comes in as `now`; nothing here sends frames. Results say what changed so that MLE can
//! reset its trickle timer, send a Link Request, or detach.

use heapless::Vec;

use super::link_quality::{link_cost, LinkQualityInfo, MAX_ROUTE_COST};
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::mle::{Route64, RouteData, RouterIdSet};
use crate::wire::ExtAddress;

/// Highest router id (63 is "no router").
pub const MAX_ROUTER_ID: u8 = 62;
/// Most routers a partition has.
pub const MAX_ROUTERS: usize = 32;
/// A released router id is not handed out again before this (OpenThread's
/// `kRouterIdReuseDelay`).
pub const ROUTER_ID_REUSE_DELAY: Duration = Duration::from_secs(100);
/// A neighbouring router not heard from for this long loses its link.
pub const MAX_NEIGHBOR_AGE: Duration = Duration::from_secs(100);
/// The leader bumps the id sequence this often even without changes, so that routers can tell
/// a live leader's data from stale copies (OpenThread's `kRouterIdSequencePeriod`).
pub const ROUTER_ID_SEQUENCE_PERIOD: Duration = Duration::from_secs(10);

/// `a` is newer than `b` in 8-bit serial number arithmetic (RFC 1982).
pub const fn id_sequence_newer(a: u8, b: u8) -> bool {
    (a.wrapping_sub(b) as i8) > 0
}

/// The link to a neighbouring router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterLink {
    /// Frames received from it: link margin, RSSI, link quality in.
    pub link_info: LinkQualityInfo,
    /// Link quality from us to it, as it reports it (its Route64 entry for us, or the Link
    /// Margin TLV of its Link Accept).
    pub link_quality_out: u8,
    pub last_heard: Instant,
    /// Link Request / Link Accept completed (OpenThread's neighbour state "valid"). Only
    /// established links carry routes.
    pub established: bool,
}

impl RouterLink {
    pub fn link_quality_in(&self) -> u8 {
        self.link_info.link_quality()
    }

    /// The worse of the two directions: what the link cost is made of.
    pub fn two_way_link_quality(&self) -> u8 {
        self.link_quality_in().min(self.link_quality_out)
    }

    /// Cost of sending over this link: infinite until established.
    pub fn cost(&self) -> u8 {
        if self.established {
            link_cost(self.two_way_link_quality())
        } else {
            MAX_ROUTE_COST
        }
    }
}

/// One allocated router id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterEntry {
    pub router_id: u8,
    pub ext_addr: Option<ExtAddress>,
    /// Neighbouring router that advertised a route to this one.
    pub next_hop: Option<u8>,
    /// Route cost from `next_hop` to this router as `next_hop` advertised it (0 without a next
    /// hop, as OpenThread's `router table` shows).
    pub cost: u8,
    /// Present while this router is (or is becoming) our neighbour.
    pub link: Option<RouterLink>,
    /// Last time we heard from it or its route changed (`Age` of `router table`).
    pub last_heard: Instant,
}

impl RouterEntry {
    fn new(router_id: u8, now: Instant) -> Self {
        RouterEntry {
            router_id,
            ext_addr: None,
            next_hop: None,
            cost: 0,
            link: None,
            last_heard: now,
        }
    }

    pub fn rloc16(&self) -> u16 {
        u16::from(self.router_id) << 10
    }

    /// The link exists and Link Request/Accept completed.
    pub fn is_neighbor(&self) -> bool {
        matches!(self.link, Some(l) if l.established)
    }

    fn set_next_hop_and_cost(&mut self, next_hop: Option<u8>, cost: u8) -> bool {
        let changed = self.next_hop != next_hop || self.cost != cost;
        self.next_hop = next_hop;
        self.cost = cost;
        changed
    }
}

/// What applying a neighbour's Route64 changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route64Update {
    /// The neighbour's id sequence was newer: the set of allocated ids now follows its mask.
    pub id_set_changed: bool,
    /// Our own router id is no longer in the set: the node must give up its router role
    /// (OpenThread detaches).
    pub own_id_released: bool,
    /// The sender is an allocated router without an established link to us: its routes were
    /// not applied (OpenThread answers with a Link Request).
    pub neighbor_not_linked: bool,
    /// A next hop, route cost or link quality out changed.
    pub routes_changed: bool,
    /// Some router became reachable or unreachable: reset the advertisement trickle timer.
    pub reset_advertise_interval: bool,
}

/// Content of our own Route64 TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route64Data {
    pub id_sequence: u8,
    pub router_mask: RouterIdSet,
    /// One route byte per id in `router_mask`, increasing id order.
    pub route_data: Vec<u8, MAX_ROUTERS>,
}

impl Route64Data {
    /// The TLV as `wire::mle` emits it.
    pub fn as_route64(&self) -> Route64<'_> {
        Route64 {
            id_sequence: self.id_sequence,
            router_mask: self.router_mask,
            route_data: &self.route_data,
        }
    }
}

/// Router ids, links to neighbouring routers and routes.
#[derive(Debug, Clone)]
pub struct RouterTable {
    /// Allocated routers, sorted by id.
    entries: Vec<RouterEntry, MAX_ROUTERS>,
    id_sequence: u8,
    id_sequence_last_updated: Instant,
    /// A released id can be allocated again from this time on.
    reuse_after: [Instant; MAX_ROUTER_ID as usize + 1],
    own_id: Option<u8>,
}

impl Default for RouterTable {
    fn default() -> Self {
        Self::new()
    }
}

impl RouterTable {
    /// An empty table with id sequence 0 (a new leader picks a random one with
    /// [`RouterTable::set_id_sequence`], as OpenThread does).
    pub const fn new() -> Self {
        RouterTable {
            entries: Vec::new(),
            id_sequence: 0,
            id_sequence_last_updated: Instant::ZERO,
            reuse_after: [Instant::ZERO; MAX_ROUTER_ID as usize + 1],
            own_id: None,
        }
    }

    /// Forgets every router and reuse delay; keeps the id sequence and our own id.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.reuse_after = [Instant::ZERO; MAX_ROUTER_ID as usize + 1];
    }

    /// Our router id while we are a router or leader: it is never anyone's neighbour or next
    /// hop, its route cost is 0, and neighbours' Route64 entries for it give our link
    /// quality out.
    pub fn own_id(&self) -> Option<u8> {
        self.own_id
    }

    pub fn set_own_id(&mut self, own_id: Option<u8>) {
        self.own_id = own_id.filter(|id| *id <= MAX_ROUTER_ID);
    }

    pub fn id_sequence(&self) -> u8 {
        self.id_sequence
    }

    pub fn set_id_sequence(&mut self, id_sequence: u8, now: Instant) {
        self.id_sequence = id_sequence;
        self.id_sequence_last_updated = now;
    }

    /// Time since the id sequence last changed (OpenThread's leader age).
    pub fn id_sequence_age(&self, now: Instant) -> Duration {
        now.since(self.id_sequence_last_updated)
    }

    /// Leader only, once a second or so: bumps the id sequence every
    /// [`ROUTER_ID_SEQUENCE_PERIOD`]. Returns true when it did.
    pub fn tick_leader(&mut self, now: Instant) -> bool {
        if self.entries.is_empty() || self.id_sequence_age(now) < ROUTER_ID_SEQUENCE_PERIOD {
            return false;
        }
        self.bump_id_sequence(now);
        true
    }

    fn bump_id_sequence(&mut self, now: Instant) {
        self.id_sequence = self.id_sequence.wrapping_add(1);
        self.id_sequence_last_updated = now;
    }

    /// The allocated router ids (the Route64 mask).
    pub fn router_mask(&self) -> RouterIdSet {
        let mut set = RouterIdSet::default();
        for e in &self.entries {
            set.insert(e.router_id);
        }
        set
    }

    pub fn is_allocated(&self, router_id: u8) -> bool {
        self.index_of(router_id).is_some()
    }

    /// Not allocated, past its reuse delay, and room in the table.
    pub fn can_allocate(&self, router_id: u8, now: Instant) -> bool {
        router_id <= MAX_ROUTER_ID
            && !self.entries.is_full()
            && !self.is_allocated(router_id)
            && now >= self.reuse_after[usize::from(router_id)]
    }

    pub fn get(&self, router_id: u8) -> Option<&RouterEntry> {
        self.index_of(router_id).map(|i| &self.entries[i])
    }

    pub fn find_by_ext_addr(&self, ext_addr: &ExtAddress) -> Option<&RouterEntry> {
        self.entries
            .iter()
            .find(|e| e.ext_addr.as_ref() == Some(ext_addr))
    }

    /// Allocated routers in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = &RouterEntry> + '_ {
        self.entries.iter()
    }

    pub fn active_router_count(&self) -> usize {
        self.entries.len()
    }

    /// Routers with an established link (our own entry never has one).
    pub fn neighbor_count(&self) -> usize {
        self.entries.iter().filter(|e| e.is_neighbor()).count()
    }

    fn index_of(&self, router_id: u8) -> Option<usize> {
        self.entries
            .binary_search_by_key(&router_id, |e| e.router_id)
            .ok()
    }

    fn entry_mut(&mut self, router_id: u8) -> Option<&mut RouterEntry> {
        match self.index_of(router_id) {
            Some(i) => self.entries.get_mut(i),
            None => None,
        }
    }

    /// Adds an entry for `router_id` (no checks but room); false when the table is full.
    fn insert(&mut self, router_id: u8, now: Instant) -> bool {
        match self
            .entries
            .binary_search_by_key(&router_id, |e| e.router_id)
        {
            Ok(_) => true,
            Err(at) => self
                .entries
                .insert(at, RouterEntry::new(router_id, now))
                .is_ok(),
        }
    }

    /// Removes `router_id` and every route through it; starts its reuse delay.
    fn remove(&mut self, router_id: u8, now: Instant) {
        if let Some(i) = self.index_of(router_id) {
            self.entries.remove(i);
        }
        self.invalidate_routes_via(router_id, now);
        if let Some(t) = self.reuse_after.get_mut(usize::from(router_id)) {
            *t = now + ROUTER_ID_REUSE_DELAY;
        }
    }

    fn invalidate_routes_via(&mut self, router_id: u8, now: Instant) -> bool {
        let mut changed = false;
        for e in self.entries.iter_mut() {
            if e.next_hop == Some(router_id) {
                e.set_next_hop_and_cost(None, 0);
                e.last_heard = now;
                changed = true;
            }
        }
        changed
    }

    /// Leader: allocates `Some(id)` exactly, or with `None` an id chosen uniformly among the
    /// allocatable ones (OpenThread's reservoir choice). Bumps the id sequence.
    pub fn allocate(&mut self, request: Option<u8>, now: Instant, rng: &mut Rng) -> Option<u8> {
        let id = match request {
            Some(id) => id,
            None => {
                let mut chosen = None;
                let mut available = 0u32;
                for id in 0..=MAX_ROUTER_ID {
                    if self.can_allocate(id, now) {
                        available += 1;
                        if rng.range_u32(0, available - 1) == 0 {
                            chosen = Some(id);
                        }
                    }
                }
                chosen?
            }
        };
        if !self.can_allocate(id, now) || !self.insert(id, now) {
            return None;
        }
        self.bump_id_sequence(now);
        Some(id)
    }

    /// Leader answering an Address Solicit from `ext_addr`: the id it already holds, else the
    /// id it asks for, else any (OpenThread's HandleAddressSolicit).
    pub fn allocate_for(
        &mut self,
        ext_addr: ExtAddress,
        requested: Option<u8>,
        now: Instant,
        rng: &mut Rng,
    ) -> Option<u8> {
        if let Some(e) = self.find_by_ext_addr(&ext_addr) {
            return Some(e.router_id);
        }
        let id = requested
            .and_then(|id| self.allocate(Some(id), now, rng))
            .or_else(|| self.allocate(None, now, rng))?;
        if let Some(e) = self.entry_mut(id) {
            e.ext_addr = Some(ext_addr);
        }
        Some(id)
    }

    /// Leader: frees `router_id` (Address Release, or a router silent too long). The id
    /// cannot be allocated again for [`ROUTER_ID_REUSE_DELAY`]. False if it was not allocated.
    pub fn release(&mut self, router_id: u8, now: Instant) -> bool {
        if !self.is_allocated(router_id) {
            return false;
        }
        self.remove(router_id, now);
        self.bump_id_sequence(now);
        true
    }

    /// Records a frame heard from router `router_id` (link margin from the MAC). Creates the
    /// link, not yet established, if there was none. False if the id is not allocated or is
    /// our own.
    pub fn update_link(
        &mut self,
        router_id: u8,
        ext_addr: ExtAddress,
        rssi_dbm: i16,
        link_margin_db: i16,
        now: Instant,
    ) -> bool {
        if Some(router_id) == self.own_id {
            return false;
        }
        let Some(e) = self.entry_mut(router_id) else {
            return false;
        };
        if e.ext_addr != Some(ext_addr) {
            // Another device holds the id now: what we knew of the old link is void.
            e.link = None;
            e.ext_addr = Some(ext_addr);
        }
        let link = e.link.get_or_insert(RouterLink {
            link_info: LinkQualityInfo::new(),
            link_quality_out: 0,
            last_heard: now,
            established: false,
        });
        link.link_info.add_sample(rssi_dbm, link_margin_db);
        link.last_heard = now;
        e.last_heard = now;
        true
    }

    /// Link Request / Link Accept completed with `router_id`; `link_quality_out` from its Link
    /// Margin TLV (see `link_quality_for_margin(margin, None)`). False if the id is not
    /// allocated or is our own.
    pub fn establish_link(
        &mut self,
        router_id: u8,
        ext_addr: ExtAddress,
        link_quality_out: u8,
        now: Instant,
    ) -> bool {
        if Some(router_id) == self.own_id {
            return false;
        }
        let Some(e) = self.entry_mut(router_id) else {
            return false;
        };
        if e.ext_addr != Some(ext_addr) {
            e.link = None;
            e.ext_addr = Some(ext_addr);
        }
        let link = e.link.get_or_insert(RouterLink {
            link_info: LinkQualityInfo::new(),
            link_quality_out: 0,
            last_heard: now,
            established: false,
        });
        link.link_quality_out = link_quality_out.min(3);
        link.established = true;
        link.last_heard = now;
        e.last_heard = now;
        true
    }

    /// Drops the link to `router_id` and every route that goes through it (OpenThread's
    /// RemoveNeighbor / RemoveRouterLink). Returns true if there was a link.
    pub fn remove_link(&mut self, router_id: u8, now: Instant) -> bool {
        let Some(e) = self.entry_mut(router_id) else {
            return false;
        };
        let had_link = e.link.take().is_some();
        if had_link {
            e.last_heard = now;
        }
        self.invalidate_routes_via(router_id, now);
        had_link
    }

    /// Drops links not heard from for `max_age` ([`MAX_NEIGHBOR_AGE`]). Returns how many.
    pub fn expire(&mut self, now: Instant, max_age: Duration) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while let Some(e) = self.entries.get(i) {
            let id = e.router_id;
            if matches!(e.link, Some(l) if now.since(l.last_heard) >= max_age) {
                self.remove_link(id, now);
                removed += 1;
            }
            i += 1;
        }
        removed
    }

    /// Cost of the direct link to `router_id` (16 unless it is an established neighbour).
    pub fn link_cost(&self, router_id: u8) -> u8 {
        match self.get(router_id) {
            Some(e) if Some(router_id) != self.own_id => match e.link {
                Some(l) => l.cost(),
                None => MAX_ROUTE_COST,
            },
            _ => MAX_ROUTE_COST,
        }
    }

    /// Next hop (a router id; `router_id` itself for a direct link) and path cost to
    /// `router_id`: the cheaper of the direct link and the advertised route plus the link to
    /// its next hop. `(None, 16)` when unreachable; `(Some(own), 0)` for ourselves.
    pub fn next_hop_and_cost(&self, router_id: u8) -> (Option<u8>, u8) {
        if Some(router_id) == self.own_id {
            return (Some(router_id), 0);
        }
        let Some(e) = self.get(router_id) else {
            return (None, MAX_ROUTE_COST);
        };
        let direct = self.link_cost(router_id);
        let mut best = if direct < MAX_ROUTE_COST {
            (Some(router_id), direct)
        } else {
            (None, MAX_ROUTE_COST)
        };
        if let Some(nh) = e.next_hop.filter(|nh| self.is_allocated(*nh)) {
            let via = e.cost.saturating_add(self.link_cost(nh));
            if via < best.1 {
                best = (Some(nh), via);
            }
        }
        best
    }

    /// Path cost to `router_id`, [`MAX_ROUTE_COST`] when unreachable.
    pub fn route_cost_to(&self, router_id: u8) -> u8 {
        self.next_hop_and_cost(router_id).1
    }

    /// Router id to send to for `router_id`.
    pub fn next_hop(&self, router_id: u8) -> Option<u8> {
        self.next_hop_and_cost(router_id).0
    }

    fn finite_cost_set(&self) -> RouterIdSet {
        let mut set = RouterIdSet::default();
        for e in &self.entries {
            if self.route_cost_to(e.router_id) < MAX_ROUTE_COST {
                set.insert(e.router_id);
            }
        }
        set
    }

    /// Makes the allocated id set equal to `mask` (ids above 62 ignored; beyond 32 ids the
    /// rest do not fit). Removed ids lose their routes and start their reuse delay.
    fn update_router_id_set(&mut self, id_sequence: u8, mask: &RouterIdSet, now: Instant) {
        self.set_id_sequence(id_sequence, now);
        let mut i = 0;
        while let Some(e) = self.entries.get(i) {
            let id = e.router_id;
            if mask.contains(id) {
                i += 1;
            } else {
                self.remove(id, now);
            }
        }
        for id in mask.iter().filter(|id| *id <= MAX_ROUTER_ID) {
            self.insert(id, now);
        }
    }

    /// Applies a Route64 TLV from neighbouring router `neighbor_id` (an Advertisement, or the
    /// Route64 of a Link Accept), as OpenThread's HandleAdvertisement and UpdateRoutes do:
    ///
    /// 1. a newer id sequence (or an empty table) replaces the set of allocated ids;
    /// 2. unless the sender is an established neighbour, nothing more (MLE links first);
    /// 3. its entry for our id gives our link quality out to it;
    /// 4. for every other router it advertises (cost 0 meaning unreachable): adopt the sender
    ///    as next hop if we have none or it is already the sender and the total stays below
    ///    16; drop the route if the sender was the next hop and now cannot reach it; switch
    ///    to the sender if that is strictly cheaper than the current next hop.
    ///
    /// The caller checks partition and leader data first and records the frame's link margin
    /// with [`RouterTable::update_link`]. On the leader, whose set is the authority, a newer
    /// sequence from someone else would mean two leaders; the caller should not let it in.
    pub fn update_from_route64(
        &mut self,
        neighbor_id: u8,
        route64: &Route64<'_>,
        now: Instant,
    ) -> Route64Update {
        let mut out = Route64Update::default();

        if self.entries.is_empty() || id_sequence_newer(route64.id_sequence, self.id_sequence) {
            let before = self.router_mask();
            self.update_router_id_set(route64.id_sequence, &route64.router_mask, now);
            out.id_set_changed = before != self.router_mask();
            if let Some(own) = self.own_id {
                out.own_id_released = before.contains(own) && !self.is_allocated(own);
            }
            out.reset_advertise_interval |= out.id_set_changed;
        }

        if Some(neighbor_id) == self.own_id {
            return out;
        }
        match self.get(neighbor_id) {
            None => return out,
            Some(e) if !e.is_neighbor() => {
                out.neighbor_not_linked = true;
                return out;
            }
            Some(_) => {}
        }

        let finite_before = self.finite_cost_set();

        // Its "link quality in" from us is our link quality out to it.
        let own_route = self.own_id.and_then(|own| route64.route(own));
        if let Some(e) = self.entry_mut(neighbor_id) {
            e.last_heard = now;
            if let Some(link) = e.link.as_mut() {
                link.last_heard = now;
                if let Some(rd) = own_route {
                    if link.link_quality_out != rd.link_quality_in() {
                        link.link_quality_out = rd.link_quality_in();
                        out.routes_changed = true;
                    }
                }
            }
        }

        let link_cost_to_neighbor = self.link_cost(neighbor_id);
        for (id, rd) in route64.routes() {
            if id == neighbor_id || Some(id) == self.own_id {
                continue;
            }
            let Some(e) = self.get(id) else {
                continue;
            };
            let next_hop = e.next_hop.filter(|nh| self.is_allocated(*nh));
            let cost = match rd.route_cost() {
                0 => MAX_ROUTE_COST,
                c => c,
            };
            let new_total = cost.saturating_add(link_cost_to_neighbor);
            let current_total = next_hop.map(|nh| e.cost.saturating_add(self.link_cost(nh)));
            let Some(e) = self.entry_mut(id) else {
                continue;
            };
            if next_hop.is_none() || next_hop == Some(neighbor_id) {
                if new_total < MAX_ROUTE_COST {
                    out.routes_changed |= e.set_next_hop_and_cost(Some(neighbor_id), cost);
                } else if next_hop == Some(neighbor_id) {
                    // The next hop lost its route: none until someone advertises one.
                    e.set_next_hop_and_cost(None, 0);
                    e.last_heard = now;
                    out.routes_changed = true;
                }
            } else if current_total.is_some_and(|cur| new_total < cur) {
                out.routes_changed |= e.set_next_hop_and_cost(Some(neighbor_id), cost);
            }
        }

        if finite_before != self.finite_cost_set() {
            out.reset_advertise_interval = true;
        }
        out
    }

    /// Our Route64 TLV as OpenThread's FillRouteTlv writes it: every allocated id; our own
    /// entry link quality 0/0 and cost 1; others our link quality out and in and the path
    /// cost, 0 when unreachable.
    pub fn route64_data(&self) -> Route64Data {
        let mut route_data = Vec::new();
        for e in &self.entries {
            let rd = if Some(e.router_id) == self.own_id {
                RouteData::new(0, 0, 1)
            } else {
                let (lq_out, lq_in) = match e.link {
                    Some(l) => (l.link_quality_out, l.link_quality_in()),
                    None => (0, 0),
                };
                let cost = match self.route_cost_to(e.router_id) {
                    c if c >= MAX_ROUTE_COST => 0,
                    c => c,
                };
                RouteData::new(lq_out, lq_in, cost)
            };
            // Cannot fail: at most MAX_ROUTERS entries.
            let _ = route_data.push(rd.0);
        }
        Route64Data {
            id_sequence: self.id_sequence,
            router_mask: self.router_mask(),
            route_data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::mle::{MleRepr, MleTlv};
    use std::vec::Vec as StdVec;

    fn t(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    fn ext(n: u8) -> ExtAddress {
        ExtAddress([n; 8])
    }

    fn hex(s: &str) -> StdVec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn mask_of(ids: &[u8]) -> RouterIdSet {
        let mut m = RouterIdSet::default();
        for id in ids {
            m.insert(*id);
        }
        m
    }

    /// A quality-3 link with `id`, established as after Link Request / Link Accept.
    fn link_up(table: &mut RouterTable, id: u8, ext_addr: ExtAddress, now: Instant) {
        assert!(table.update_link(id, ext_addr, -20, 80, now));
        assert!(table.establish_link(id, ext_addr, 3, now));
    }

    // Decrypted MLE payloads of thread11-line.pcap Advertisements (`tshark -x`, "Decrypted MLE
    // payload"): routers 48 (leader, node 1), 30 (node 2) and 20 (node 3) in a line
    // 48 — 30 — 20, all links quality 3.
    /// Frame 132: router 30 (0x7800), id sequence 143.
    const ADV_FRAME_132: &str = "04000278000b087803c589403ebe30090c8f0000080200008000f101f1";
    /// Frame 175: router 20 (0x5000), id sequence 143.
    const ADV_FRAME_175: &str = "04000250000b087803c589403ebe30090c8f000008020000800001f102";
    /// Frame 176: the leader 48 (0xc000), id sequence 144.
    const ADV_FRAME_176: &str = "040002c0000b087803c589403ebe30090c90000008020000800002f101";

    fn route64_of(payload: &[u8]) -> Route64<'_> {
        MleRepr::parse(payload).unwrap().route64().unwrap()
    }

    /// Our Route64 TLV emitted, and the TLV bytes as they sit in the captured payload.
    fn assert_same_tlv_bytes(ours: &Route64Data, payload: &[u8]) {
        let mut buf = [0u8; 64];
        let n = MleTlv::Route64(ours.as_route64()).emit(&mut buf).unwrap();
        let at = payload
            .windows(2)
            .position(|w| w[0] == 9 && usize::from(w[1]) + 2 == n)
            .expect("Route64 TLV in the capture");
        assert_eq!(&buf[..n], &payload[at..at + n]);
    }

    #[test]
    fn leader_route64_matches_frame_176() {
        let adv30 = hex(ADV_FRAME_132);
        let mut rng = Rng::new(1);
        let mut table = RouterTable::new();
        table.set_id_sequence(140, t(0));
        assert_eq!(table.allocate(Some(48), t(0), &mut rng), Some(48));
        table.set_own_id(Some(48));
        assert_eq!(
            table.allocate_for(ext(2), Some(30), t(10), &mut rng),
            Some(30)
        );
        assert_eq!(
            table.allocate_for(ext(3), Some(20), t(30), &mut rng),
            Some(20)
        );
        assert_eq!(table.id_sequence(), 143);
        link_up(&mut table, 30, ext(2), t(31));
        let up = table.update_from_route64(30, &route64_of(&adv30), t(103));
        // Same sequence: the set stays; 30 gives us the route to 20.
        assert!(!up.id_set_changed && !up.neighbor_not_linked && up.routes_changed);
        assert_eq!(table.next_hop_and_cost(20), (Some(30), 2));
        assert_eq!(
            table.get(20).map(|e| (e.next_hop, e.cost)),
            Some((Some(30), 1))
        );
        // The capture's leader went 143 -> 144 between frames 131 (t=103 s) and 176.
        table.set_id_sequence(143, t(103));
        assert!(!table.tick_leader(t(112)));
        assert!(table.tick_leader(t(113)));

        let ours = table.route64_data();
        let adv48 = hex(ADV_FRAME_176);
        assert_eq!(ours.as_route64(), route64_of(&adv48));
        assert_same_tlv_bytes(&ours, &adv48);
    }

    #[test]
    fn router_route64s_match_frames_132_and_175() {
        let adv30 = hex(ADV_FRAME_132);
        let adv20 = hex(ADV_FRAME_175);
        let adv48 = hex(ADV_FRAME_176);

        // Router 20 starts empty: 30's advertisement gives it the id set and sequence.
        let mut r20 = RouterTable::new();
        r20.set_own_id(Some(20));
        let up = r20.update_from_route64(30, &route64_of(&adv30), t(0));
        assert!(up.id_set_changed && up.neighbor_not_linked && !up.own_id_released);
        link_up(&mut r20, 30, ext(2), t(1));
        r20.update_from_route64(30, &route64_of(&adv30), t(2));
        let ours = r20.route64_data();
        assert_eq!(ours.as_route64(), route64_of(&adv20));
        assert_same_tlv_bytes(&ours, &adv20);

        // Router 30 between them.
        let mut r30 = RouterTable::new();
        r30.set_own_id(Some(30));
        r30.update_from_route64(48, &route64_of(&adv48), t(0));
        link_up(&mut r30, 48, ext(1), t(1));
        link_up(&mut r30, 20, ext(3), t(1));
        r30.update_from_route64(20, &route64_of(&adv20), t(2));
        // The leader's newer sequence (144) is in; the capture's frame 132 had 143.
        assert_eq!(r30.id_sequence(), 144);
        r30.set_id_sequence(143, t(2));
        let ours = r30.route64_data();
        assert_eq!(ours.as_route64(), route64_of(&adv30));
        assert_same_tlv_bytes(&ours, &adv30);
    }

    #[test]
    fn allocation_reuse_delay_and_capacity() {
        let mut rng = Rng::new(7);
        let mut table = RouterTable::new();
        table.set_id_sequence(250, t(0));
        for id in 0..32 {
            assert_eq!(table.allocate(Some(id), t(0), &mut rng), Some(id));
        }
        // Each allocation bumps the sequence, wrapping.
        assert_eq!(table.id_sequence(), 250u8.wrapping_add(32));
        assert_eq!(table.active_router_count(), 32);
        assert_eq!(table.allocate(Some(40), t(0), &mut rng), None);
        assert_eq!(table.allocate(None, t(0), &mut rng), None);
        assert_eq!(table.allocate(Some(3), t(0), &mut rng), None);
        assert_eq!(table.allocate(Some(63), t(0), &mut rng), None);

        let seq = table.id_sequence();
        assert!(table.release(9, t(1000)));
        assert!(!table.release(9, t(1000)));
        assert_eq!(table.id_sequence(), seq.wrapping_add(1));
        assert!(!table.is_allocated(9));
        assert!(!table.can_allocate(9, t(1099)));
        assert_eq!(table.allocate(Some(9), t(1099), &mut rng), None);
        // Any id but 9: the only free ones are 32..=62.
        let other = table.allocate(None, t(1099), &mut rng).unwrap();
        assert!((32..=MAX_ROUTER_ID).contains(&other), "{other}");
        assert!(table.release(other, t(1099)));
        assert!(table.can_allocate(9, t(1100)));
        assert_eq!(table.allocate(Some(9), t(1100), &mut rng), Some(9));
        // `other` is in its own delay now.
        assert!(!table.can_allocate(other, t(1100)));
    }

    #[test]
    fn any_allocation_is_random_among_free_ids() {
        let mut seen = RouterIdSet::default();
        for seed in 0..400 {
            let mut rng = Rng::new(seed);
            let mut table = RouterTable::new();
            for id in [0, 1, 2, 60] {
                table.allocate(Some(id), t(0), &mut rng);
            }
            table.release(60, t(0));
            let id = table.allocate(None, t(1), &mut rng).unwrap();
            assert!(![0, 1, 2, 60].contains(&id), "{id}");
            seen.insert(id);
        }
        // 58 candidates, 400 draws: a fixed or skewed choice would leave many unseen.
        assert!(seen.len() > 50, "{}", seen.len());
    }

    #[test]
    fn allocate_for_reuses_the_ext_address_id_then_request_then_any() {
        let mut rng = Rng::new(3);
        let mut table = RouterTable::new();
        assert_eq!(
            table.allocate_for(ext(1), Some(10), t(0), &mut rng),
            Some(10)
        );
        let seq = table.id_sequence();
        assert_eq!(
            table.allocate_for(ext(1), Some(11), t(0), &mut rng),
            Some(10)
        );
        assert_eq!(table.id_sequence(), seq);
        // Requested id taken: any other.
        let id = table
            .allocate_for(ext(2), Some(10), t(0), &mut rng)
            .unwrap();
        assert_ne!(id, 10);
        assert_eq!(
            table.find_by_ext_addr(&ext(2)).map(|e| e.router_id),
            Some(id)
        );
        assert_eq!(table.get(id).and_then(|e| e.ext_addr), Some(ext(2)));
    }

    #[test]
    fn leader_bumps_id_sequence_every_ten_seconds() {
        let mut rng = Rng::new(3);
        let mut table = RouterTable::new();
        // No routers: nothing to version.
        assert!(!table.tick_leader(t(50)));
        table.allocate(Some(1), t(100), &mut rng);
        let seq = table.id_sequence();
        assert!(!table.tick_leader(t(109)));
        assert!(table.tick_leader(t(110)));
        assert!(!table.tick_leader(t(115)));
        assert!(table.tick_leader(t(120)));
        assert_eq!(table.id_sequence(), seq.wrapping_add(2));
    }

    #[test]
    fn id_sequence_newer_uses_serial_arithmetic() {
        assert!(id_sequence_newer(1, 0));
        assert!(id_sequence_newer(0, 255));
        assert!(id_sequence_newer(100, 0));
        assert!(!id_sequence_newer(0, 0));
        assert!(!id_sequence_newer(0, 1));
        assert!(!id_sequence_newer(128, 0));
    }

    #[test]
    fn id_set_follows_newer_sequences_only() {
        let mut table = RouterTable::new();
        table.set_own_id(Some(7));
        let data = [0x01, 0x01, 0x01];
        let r = |seq, ids: &[u8]| Route64 {
            id_sequence: seq,
            router_mask: mask_of(ids),
            route_data: &data[..ids.len()],
        };
        let up = table.update_from_route64(3, &r(200, &[3, 7, 9]), t(0));
        assert!(up.id_set_changed && up.reset_advertise_interval);
        assert_eq!(table.router_mask(), mask_of(&[3, 7, 9]));
        assert_eq!(table.id_sequence(), 200);
        // Older and equal sequences change nothing.
        for seq in [199, 200, 90] {
            let up = table.update_from_route64(3, &r(seq, &[3, 7]), t(1));
            assert!(!up.id_set_changed);
            assert_eq!(table.router_mask(), mask_of(&[3, 7, 9]));
        }
        // Newer across the wrap: 9 goes, 12 comes; 9 is held back for the reuse delay.
        let up = table.update_from_route64(3, &r(4, &[3, 7, 12]), t(2));
        assert!(up.id_set_changed && !up.own_id_released);
        assert_eq!(table.router_mask(), mask_of(&[3, 7, 12]));
        assert_eq!(table.id_sequence(), 4);
        assert!(!table.can_allocate(9, t(101)));
        assert!(table.can_allocate(9, t(102)));
        // A newer set without us.
        let up = table.update_from_route64(3, &r(5, &[3, 12]), t(3));
        assert!(up.id_set_changed && up.own_id_released);
        // Ids above 62 are not router ids.
        let data4 = [1u8; 4];
        let r64 = Route64 {
            id_sequence: 6,
            router_mask: mask_of(&[3, 12, 62, 63]),
            route_data: &data4,
        };
        table.update_from_route64(3, &r64, t(4));
        assert_eq!(table.router_mask(), mask_of(&[3, 12, 62]));
    }

    #[test]
    fn removed_id_drops_routes_through_it() {
        let mut table = RouterTable::new();
        table.set_own_id(Some(1));
        let r = Route64 {
            id_sequence: 10,
            router_mask: mask_of(&[1, 2, 3]),
            route_data: &[0xf1, 0x01, 0x01],
        };
        table.update_from_route64(2, &r, t(0));
        link_up(&mut table, 2, ext(2), t(0));
        table.update_from_route64(2, &r, t(0));
        assert_eq!(table.next_hop_and_cost(3), (Some(2), 2));
        let r = Route64 {
            id_sequence: 11,
            router_mask: mask_of(&[1, 3]),
            route_data: &[0x01, 0x01],
        };
        table.update_from_route64(3, &r, t(1));
        assert_eq!(table.next_hop_and_cost(3), (None, MAX_ROUTE_COST));
        assert_eq!(table.get(3).map(|e| (e.next_hop, e.cost)), Some((None, 0)));
        assert_eq!(table.neighbor_count(), 0);
    }

    #[test]
    fn routes_need_an_established_link() {
        let mut table = RouterTable::new();
        table.set_own_id(Some(1));
        let r = Route64 {
            id_sequence: 10,
            router_mask: mask_of(&[1, 2, 3]),
            route_data: &[0xf1, 0x01, 0x01],
        };
        table.update_from_route64(2, &r, t(0));
        // Heard, not linked yet.
        assert!(table.update_link(2, ext(2), -30, 40, t(1)));
        let up = table.update_from_route64(2, &r, t(1));
        assert!(up.neighbor_not_linked && !up.routes_changed);
        assert_eq!(table.route_cost_to(3), MAX_ROUTE_COST);
        assert_eq!(table.link_cost(2), MAX_ROUTE_COST);
        assert_eq!(table.neighbor_count(), 0);
        // Our own id and unallocated ids take no link.
        assert!(!table.update_link(1, ext(1), -30, 40, t(1)));
        assert!(!table.update_link(5, ext(5), -30, 40, t(1)));
        assert!(!table.establish_link(5, ext(5), 3, t(1)));

        assert!(table.establish_link(2, ext(2), 2, t(2)));
        assert_eq!(table.neighbor_count(), 1);
        // Link quality in 3, out 2 (from its Link Margin): cost of the worse direction.
        assert_eq!(table.link_cost(2), 2);
        // Its Route64 says it hears us at quality 3: out becomes 3.
        let up = table.update_from_route64(2, &r, t(3));
        assert!(up.routes_changed && up.reset_advertise_interval);
        assert_eq!(table.link_cost(2), 1);
        assert_eq!(table.next_hop_and_cost(3), (Some(2), 2));
        assert_eq!(table.next_hop_and_cost(1), (Some(1), 0));
        // It stops hearing us (quality in 0 for our id): the link becomes unusable.
        let r0 = Route64 {
            route_data: &[0x01, 0x01, 0x01],
            ..r
        };
        let up = table.update_from_route64(2, &r0, t(4));
        assert!(up.reset_advertise_interval);
        assert_eq!(table.link_cost(2), MAX_ROUTE_COST);
        assert_eq!(table.route_cost_to(3), MAX_ROUTE_COST);
    }

    #[test]
    fn cheaper_advertised_route_replaces_and_next_hop_updates_follow() {
        // We are 1; neighbours 2 and 4, both advertise 3.
        let mut table = RouterTable::new();
        table.set_own_id(Some(1));
        let ids = [1, 2, 3, 4];
        let adv = |route_data: &'static [u8]| Route64 {
            id_sequence: 10,
            router_mask: mask_of(&ids),
            route_data,
        };
        table.update_from_route64(2, &adv(&[0xf1, 0x01, 0x03, 0x00]), t(0));
        link_up(&mut table, 2, ext(2), t(0));
        link_up(&mut table, 4, ext(4), t(0));
        table.update_from_route64(2, &adv(&[0xf1, 0x01, 0x03, 0x00]), t(0));
        assert_eq!(table.next_hop_and_cost(3), (Some(2), 4));
        // 4 offers 3 at cost 1: strictly cheaper, switch.
        table.update_from_route64(4, &adv(&[0xf1, 0x00, 0x01, 0x01]), t(1));
        assert_eq!(table.next_hop_and_cost(3), (Some(4), 2));
        // 2 offers cost 1 too: not strictly cheaper, stay with 4.
        table.update_from_route64(2, &adv(&[0xf1, 0x01, 0x01, 0x00]), t(2));
        assert_eq!(table.next_hop(3), Some(4));
        // The next hop's own cost going up is taken even if worse.
        table.update_from_route64(4, &adv(&[0xf1, 0x00, 0x05, 0x01]), t(3));
        assert_eq!(table.next_hop_and_cost(3), (Some(4), 6));
        // The next hop loses it (cost 0 = unreachable): no route until 2 speaks again.
        let up = table.update_from_route64(4, &adv(&[0xf1, 0x00, 0x00, 0x01]), t(4));
        assert!(up.reset_advertise_interval);
        assert_eq!(table.next_hop_and_cost(3), (None, MAX_ROUTE_COST));
        table.update_from_route64(2, &adv(&[0xf1, 0x01, 0x01, 0x00]), t(5));
        assert_eq!(table.next_hop_and_cost(3), (Some(2), 2));
        // Totals of 16 or more are not routes.
        table.update_from_route64(2, &adv(&[0xf1, 0x01, 0x0f, 0x00]), t(6));
        assert_eq!(table.next_hop_and_cost(3), (None, MAX_ROUTE_COST));
        assert_eq!(table.route64_data().route_data[2], 0x00);
    }

    #[test]
    fn links_expire_after_max_neighbor_age() {
        let mut table = RouterTable::new();
        table.set_own_id(Some(1));
        let r = Route64 {
            id_sequence: 10,
            router_mask: mask_of(&[1, 2, 3]),
            route_data: &[0xf1, 0x01, 0x01],
        };
        table.update_from_route64(2, &r, t(0));
        link_up(&mut table, 2, ext(2), t(0));
        link_up(&mut table, 3, ext(3), t(50));
        table.update_from_route64(2, &r, t(10));
        assert_eq!(table.expire(t(109), MAX_NEIGHBOR_AGE), 0);
        assert_eq!(table.expire(t(110), MAX_NEIGHBOR_AGE), 1);
        assert_eq!(table.neighbor_count(), 1);
        assert!(table.get(2).unwrap().link.is_none());
        // 3 is still linked directly.
        assert_eq!(table.next_hop_and_cost(3), (Some(3), 1));
        assert_eq!(table.expire(t(150), MAX_NEIGHBOR_AGE), 1);
        assert_eq!(table.neighbor_count(), 0);
        assert_eq!(table.route_cost_to(3), MAX_ROUTE_COST);
        let own = table.route64_data();
        assert_eq!(&own.route_data[..], &[0x01, 0x00, 0x00]);
    }

    #[test]
    fn a_new_device_on_an_id_starts_a_new_link() {
        let mut table = RouterTable::new();
        table.set_own_id(Some(1));
        table.update_from_route64(
            2,
            &Route64 {
                id_sequence: 1,
                router_mask: mask_of(&[1, 2]),
                route_data: &[0xf1, 0x01],
            },
            t(0),
        );
        link_up(&mut table, 2, ext(2), t(0));
        assert_eq!(table.neighbor_count(), 1);
        assert!(table.update_link(2, ext(9), -30, 40, t(1)));
        assert_eq!(table.neighbor_count(), 0);
        assert_eq!(table.get(2).and_then(|e| e.ext_addr), Some(ext(9)));
    }

    /// Routers exchanging Advertisements over the given links, as MLE would: each round every
    /// router sends its Route64 to its neighbours, which record the frame, apply the routes,
    /// and link up (Link Request / Accept) when the sender is not yet a neighbour.
    struct Net {
        ids: StdVec<u8>,
        tables: StdVec<RouterTable>,
        links: StdVec<(usize, usize)>,
        now: Instant,
    }

    impl Net {
        fn new(ids: &[u8], links: &[(usize, usize)]) -> Self {
            let mut rng = Rng::new(5);
            let mut tables: StdVec<RouterTable> = ids
                .iter()
                .map(|id| {
                    let mut t = RouterTable::new();
                    t.set_own_id(Some(*id));
                    t
                })
                .collect();
            // Node 0 is the leader and allocated every id.
            tables[0].set_id_sequence(77, Instant::ZERO);
            for id in ids {
                assert_eq!(
                    tables[0].allocate(Some(*id), Instant::ZERO, &mut rng),
                    Some(*id)
                );
            }
            Net {
                ids: ids.to_vec(),
                tables,
                links: links.to_vec(),
                now: Instant::ZERO,
            }
        }

        fn linked(&self, a: usize, b: usize) -> bool {
            self.links.contains(&(a, b)) || self.links.contains(&(b, a))
        }

        fn round(&mut self) {
            self.now += Duration::from_secs(10);
            let now = self.now;
            for from in 0..self.ids.len() {
                let data = self.tables[from].route64_data();
                for to in 0..self.ids.len() {
                    if to == from || !self.linked(from, to) {
                        continue;
                    }
                    let (id, ext_addr) = (self.ids[from], ext(self.ids[from]));
                    let table = &mut self.tables[to];
                    table.update_link(id, ext_addr, -50, 40, now);
                    let up = table.update_from_route64(id, &data.as_route64(), now);
                    if up.neighbor_not_linked {
                        table.update_link(id, ext_addr, -50, 40, now);
                        table.establish_link(id, ext_addr, 3, now);
                        let back = &mut self.tables[from];
                        back.update_link(self.ids[to], ext(self.ids[to]), -50, 40, now);
                        back.establish_link(self.ids[to], ext(self.ids[to]), 3, now);
                    }
                }
            }
        }

        /// Hop count from `a` to `b` over the links (breadth-first), the expected path cost.
        fn hops(&self, a: usize, b: usize) -> (u8, StdVec<usize>) {
            let n = self.ids.len();
            let mut dist = std::vec![u8::MAX; n];
            dist[b] = 0;
            let mut queue = std::collections::VecDeque::from([b]);
            while let Some(x) = queue.pop_front() {
                for y in 0..n {
                    if self.linked(x, y) && dist[y] == u8::MAX {
                        dist[y] = dist[x] + 1;
                        queue.push_back(y);
                    }
                }
            }
            // Neighbours of `a` on a shortest path.
            let next = (0..n)
                .filter(|y| self.linked(a, *y) && dist[*y] + 1 == dist[a])
                .collect();
            (dist[a], next)
        }

        fn assert_shortest_paths(&self) {
            for a in 0..self.ids.len() {
                for b in 0..self.ids.len() {
                    let (hops, next) = self.hops(a, b);
                    let (nh, cost) = self.tables[a].next_hop_and_cost(self.ids[b]);
                    assert_eq!(cost, hops, "cost {} -> {}", self.ids[a], self.ids[b]);
                    if a != b {
                        let nh = nh.unwrap();
                        assert!(
                            next.iter().any(|i| self.ids[*i] == nh),
                            "next hop {} -> {}: {nh}",
                            self.ids[a],
                            self.ids[b]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn line_of_four_converges_to_hop_counts() {
        let mut net = Net::new(&[5, 17, 33, 60], &[(0, 1), (1, 2), (2, 3)]);
        // Before any exchange only the leader knows the ids.
        assert_eq!(net.tables[3].active_router_count(), 0);
        for _ in 0..6 {
            net.round();
        }
        net.assert_shortest_paths();
        for table in &net.tables {
            assert_eq!(table.router_mask(), mask_of(&[5, 17, 33, 60]));
            assert_eq!(table.id_sequence(), net.tables[0].id_sequence());
        }
        assert_eq!(net.tables[0].next_hop_and_cost(60), (Some(17), 3));
        assert_eq!(net.tables[3].next_hop_and_cost(5), (Some(33), 3));
        assert_eq!(net.tables[1].neighbor_count(), 2);
        assert_eq!(net.tables[0].neighbor_count(), 1);
        // Router 17's advertisement: 5 and 33 linked at quality 3, 60 two hops away.
        let own = net.tables[1].route64_data();
        assert_eq!(&own.route_data[..], &[0xf1, 0x01, 0xf1, 0x02]);
    }

    #[test]
    fn ring_reroutes_when_a_link_dies() {
        // Ring 2 — 9 — 40 — 41 — 62 — 2.
        let mut net = Net::new(
            &[2, 9, 40, 41, 62],
            &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)],
        );
        for _ in 0..6 {
            net.round();
        }
        net.assert_shortest_paths();
        assert_eq!(net.tables[0].next_hop_and_cost(9), (Some(9), 1));
        assert_eq!(net.tables[0].next_hop_and_cost(40), (Some(9), 2));

        // The 2 — 9 link goes silent; the others keep advertising.
        net.links.retain(|l| *l != (0, 1));
        let mut rounds = 0;
        while net.tables[0].get(9).unwrap().link.is_some() {
            net.round();
            net.tables[0].expire(net.now, MAX_NEIGHBOR_AGE);
            net.tables[1].expire(net.now, MAX_NEIGHBOR_AGE);
            rounds += 1;
            assert!(rounds <= 11, "link never expired");
        }
        assert!(net.tables[1].get(2).unwrap().link.is_none());
        // Right after expiry: the routes through 9 are gone, 40 is unreachable from 2 until
        // someone else advertises it.
        assert_eq!(net.tables[0].route_cost_to(40), MAX_ROUTE_COST);
        assert_eq!(net.tables[0].next_hop(40), None);

        // Distance-vector convergence (with OpenThread's count-up through stale routes).
        for _ in 0..20 {
            net.round();
        }
        net.assert_shortest_paths();
        assert_eq!(net.tables[0].next_hop_and_cost(9), (Some(62), 4));
        assert_eq!(net.tables[1].next_hop_and_cost(2), (Some(40), 4));
        assert_eq!(net.tables[0].next_hop_and_cost(40), (Some(62), 3));
    }
}
