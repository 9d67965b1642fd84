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
    /// with [`RouterTable::update_link`].
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
