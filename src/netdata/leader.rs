//! The leader's Network Data store (OpenThread `network_data_leader_ftd.cpp`).
//!
//! Border routers register their server data (an `/a/sd` message, or the leader's own local
//! data); the leader merges it into one image byte for byte as OpenThread does, so that the MLE
//! Network Data TLV it sends equals OpenThread's: an entry already present is kept in place, a
//! new Prefix TLV is appended, a new Border Router sub-TLV goes at the end of its prefix
//! followed by the prefix's 6LoWPAN context (allocated 1..=15; 0 is the mesh-local prefix).
//! Version bumps on any change, stable version on a stable change.
//!
//! A context whose prefix loses its last border router keeps its id, compress flag cleared,
//! for the reuse delay (OpenThread `kContextIdReuseDelay`, 48 h; kept, settable) so nodes stop
//! compressing with it before the id can mean another prefix. [`Leader::poll`] removes it when
//! the delay is over.
//!
//! Not here: the CoAP exchange, the check that the registering RLOC16's router id is allocated
//! (the node's router table does it), and the commissioner session id choice (the node passes
//! the Commissioning Data bytes).

use super::{find_sub, sub_tlvs_start, tlv_end, tlv_offsets, Bytes, NetworkData, MAX_SIZE};
use crate::time::{Duration, Instant};
use crate::wire::netdata::{
    tlv_type, NetworkData as NetworkDataView, NetworkDataValue, Prefix, Service,
    THREAD_ENTERPRISE_NUMBER,
};
use crate::wire::{Error, Result, ShortAddress};

/// OpenThread's `kContextIdReuseDelay`: 48 hours.
pub const CONTEXT_ID_REUSE_DELAY: Duration = Duration::from_secs(48 * 3600);

const MIN_CONTEXT_ID: u8 = 1;
const MAX_CONTEXT_ID: u8 = 15;
const MAX_SERVICE_ID: u8 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContextState {
    Unallocated,
    InUse,
    /// No border router left; the id is freed at this time.
    RemoveAt(Instant),
}

/// Which entries changed (OpenThread `ChangedFlags`).
#[derive(Debug, Clone, Copy, Default)]
struct Changed {
    any: bool,
    stable: bool,
}

impl Changed {
    fn update(&mut self, stable: bool) {
        self.any = true;
        self.stable |= stable;
    }
}

#[derive(Debug, Clone)]
pub struct Leader {
    data: NetworkData,
    contexts: [ContextState; MAX_CONTEXT_ID as usize],
    reuse_delay: Duration,
}

impl Leader {
    /// An empty store with the versions OpenThread starts from (random bytes: the node passes
    /// them from its `Rng`).
    pub fn new(version: u8, stable_version: u8) -> Self {
        let mut data = NetworkData::new();
        data.version = version;
        data.stable_version = stable_version;
        Leader {
            data,
            contexts: [ContextState::Unallocated; MAX_CONTEXT_ID as usize],
            reuse_delay: CONTEXT_ID_REUSE_DELAY,
        }
    }

    /// Take over a partition's Network Data (a router becoming leader of it). Context ids are
    /// synchronised as OpenThread's `HandleNetworkDataRestoredAfterReset` does: compressing
    /// contexts in use, the others scheduled for removal from `now`.
    pub fn from_network_data(data: &NetworkData, now: Instant) -> Self {
        let mut l = Leader::new(data.version(), data.stable_version());
        l.data = data.clone();
        for c in data.contexts() {
            if (MIN_CONTEXT_ID..=MAX_CONTEXT_ID).contains(&c.context_id) {
                l.contexts[usize::from(c.context_id - MIN_CONTEXT_ID)] = if c.compress {
                    ContextState::InUse
                } else {
                    ContextState::RemoveAt(now + l.reuse_delay)
                };
            }
        }
        l
    }

    /// The image with versions: the MLE Network Data TLV value is `network_data().as_bytes()`,
    /// the Leader Data TLV's versions `version()` / `stable_version()`; children that want
    /// only stable data get `network_data().stable_subset()`.
    pub fn network_data(&self) -> &NetworkData {
        &self.data
    }

    pub fn version(&self) -> u8 {
        self.data.version
    }

    pub fn stable_version(&self) -> u8 {
        self.data.stable_version
    }

    pub fn context_id_reuse_delay(&self) -> Duration {
        self.reuse_delay
    }

    /// Change the reuse delay (OpenThread `contextreusedelay`); applies to later removals.
    pub fn set_context_id_reuse_delay(&mut self, delay: Duration) {
        self.reuse_delay = delay;
    }

    fn bytes(&self) -> &[u8] {
        &self.data.bytes
    }

    fn buf(&mut self) -> &mut Bytes {
        &mut self.data.bytes
    }

    fn increment_versions(&mut self, changed: Changed) {
        if changed.any {
            if changed.stable {
                self.data.stable_version = self.data.stable_version.wrapping_add(1);
            }
            self.data.version = self.data.version.wrapping_add(1);
        }
    }

    /// Register `rloc16`'s server data (its local Network Data): entries of `rloc16` absent
    /// from `server_data` are removed, new ones added. `Malformed` when the payload is not
    /// OpenThread-valid (an entry for another RLOC16, more than one entry per sub-TLV, a
    /// duplicate prefix or service, a prefix without Border Router or Has Route); nothing
    /// changes then. `Oversized` when the image would pass 254 bytes or no context/service id
    /// is left; what fitted stays registered (as OpenThread). Versions bump if anything
    /// changed, even on `Oversized`.
    pub fn register_server_data(
        &mut self,
        rloc16: ShortAddress,
        server_data: &[u8],
        now: Instant,
    ) -> Result<()> {
        let new = NetworkDataView::new_checked(server_data)?;
        validate(&new, rloc16)?;
        let mut changed = Changed::default();
        self.remove_rloc(|r| r == rloc16.0, Some(&new), &mut changed, now);
        let mut result = Ok(());
        for t in new.iter() {
            let r = match t.value {
                NetworkDataValue::Prefix(p) => self.add_prefix(&p, &mut changed),
                NetworkDataValue::Service(s) => self.add_service(&s, &mut changed),
                _ => Ok(()),
            };
            if r.is_err() {
                result = r;
                break;
            }
        }
        self.increment_versions(changed);
        result
    }

    /// Remove every entry of `rloc16` (a border router that re-registers under a new RLOC16,
    /// or a child that left).
    pub fn remove_border_router(&mut self, rloc16: ShortAddress, now: Instant) {
        let mut changed = Changed::default();
        self.remove_rloc(|r| r == rloc16.0, None, &mut changed, now);
        self.increment_versions(changed);
    }

    /// Remove every entry of a router and its children (router id released).
    pub fn remove_router(&mut self, router_id: u8, now: Instant) {
        let mut changed = Changed::default();
        self.remove_rloc(|r| r >> 10 == u16::from(router_id), None, &mut changed, now);
        self.increment_versions(changed);
    }

    /// Set the Commissioning Data TLV's value (MeshCoP TLVs, e.g. the Commissioner Session ID
    /// TLV `0b02xxxx` the leader puts there on taking the role). It goes last; version (not
    /// stable version) bumps.
    pub fn set_commissioning_data(&mut self, tlvs: &[u8]) -> Result<()> {
        let old = tlv_offsets(self.bytes(), 0, self.bytes().len())
            .find(|&(_, t, _)| t >> 1 == tlv_type::COMMISSIONING_DATA)
            .map(|(o, _, l)| (o, l + 2));
        let old_len = old.map_or(0, |(_, l)| l);
        if self.bytes().len() - old_len + 2 + tlvs.len() > MAX_SIZE {
            return Err(Error::Oversized);
        }
        if let Some((o, l)) = old {
            self.remove_bytes(o, l);
        }
        let len = tlvs.len() as u8;
        let b = self.buf();
        // Capacity checked above.
        let _ = b.extend_from_slice(&[tlv_type::COMMISSIONING_DATA << 1, len]);
        let _ = b.extend_from_slice(tlvs);
        self.data.version = self.data.version.wrapping_add(1);
        Ok(())
    }

    /// When [`Leader::poll`] has a context id to free.
    pub fn poll_at(&self) -> Option<Instant> {
        self.contexts
            .iter()
            .filter_map(|c| match c {
                ContextState::RemoveAt(t) => Some(*t),
                _ => None,
            })
            .min()
    }

    /// Free the context ids whose reuse delay is over: their 6LoWPAN ID sub-TLVs go (and the
    /// prefixes left empty), versions bump. Returns whether the data changed.
    pub fn poll(&mut self, now: Instant) -> bool {
        let mut any = false;
        for i in 0..self.contexts.len() {
            if let ContextState::RemoveAt(t) = self.contexts[i] {
                if now >= t {
                    self.contexts[i] = ContextState::Unallocated;
                    self.remove_context(i as u8 + MIN_CONTEXT_ID);
                    // OpenThread bumps both versions per removed context.
                    self.increment_versions(Changed {
                        any: true,
                        stable: true,
                    });
                    any = true;
                }
            }
        }
        any
    }

    // -----------------------------------------------------------------------------------------
    // Byte editing. The image stays valid after every step: lengths of the enclosing TLVs are
    // adjusted with each insertion or removal.
    // -----------------------------------------------------------------------------------------

    /// Insert at `at`, after checking capacity; `Oversized` otherwise.
    fn insert_bytes(&mut self, at: usize, data: &[u8]) -> Result<()> {
        let b = self.buf();
        if at > b.len() || b.len() + data.len() > MAX_SIZE {
            return Err(Error::Oversized);
        }
        b.extend_from_slice(data).map_err(|_| Error::Oversized)?;
        b[at..].rotate_right(data.len());
        Ok(())
    }

    fn remove_bytes(&mut self, at: usize, n: usize) {
        let b = self.buf();
        if at + n <= b.len() {
            b[at..].rotate_left(n);
            let len = b.len() - n;
            b.truncate(len);
        }
    }

    /// Add `delta` (may be negative) to the length byte of the TLV at `off`.
    fn adjust_len(&mut self, off: usize, delta: isize) {
        if let Some(l) = self.buf().get_mut(off + 1) {
            *l = (*l as isize + delta) as u8;
        }
    }

    fn can_insert(&self, n: usize) -> bool {
        self.bytes().len() + n <= MAX_SIZE
    }

    fn find_prefix(&self, prefix: &[u8], length: u8) -> Option<usize> {
        let b = self.bytes();
        tlv_offsets(b, 0, b.len())
            .find(|&(o, t, l)| {
                t >> 1 == tlv_type::PREFIX
                    && l >= 2
                    && b[o + 3] == length
                    && b.get(o + 4..o + 4 + prefix.len()) == Some(prefix)
            })
            .map(|(o, _, _)| o)
    }

    fn find_service(&self, enterprise: u32, service_data: &[u8]) -> Option<usize> {
        let b = self.bytes();
        tlv_offsets(b, 0, b.len())
            .find(|&(o, t, l)| {
                t >> 1 == tlv_type::SERVICE
                    && match Service::parse_value(&b[o + 2..o + 2 + l]) {
                        Some((e, d)) => e == enterprise && d == service_data,
                        None => false,
                    }
            })
            .map(|(o, _, _)| o)
    }

    /// Stable flag of a Prefix/Service TLV from its sub-TLVs, or remove it when it has none
    /// (OpenThread `UpdateTlv`). Returns whether it was removed.
    fn update_tlv(&mut self, off: usize) -> bool {
        let b = self.bytes();
        let (start, end) = (sub_tlvs_start(b, off), tlv_end(b, off));
        if start >= end {
            self.remove_bytes(off, end - off);
            return true;
        }
        let stable = tlv_offsets(b, start, end).any(|(_, t, _)| t & 1 != 0);
        let b = self.buf();
        b[off] = (b[off] & !1) | u8::from(stable);
        false
    }

    /// Remove entries whose RLOC16 matches, except those `exclude` (the new registration)
    /// holds identically (OpenThread `RemoveRloc`).
    fn remove_rloc(
        &mut self,
        matches: impl Fn(u16) -> bool,
        exclude: Option<&NetworkDataView>,
        changed: &mut Changed,
        now: Instant,
    ) {
        let mut off = 0;
        while off + 2 <= self.bytes().len() {
            let ty = self.bytes()[off] >> 1;
            if ty == tlv_type::PREFIX {
                let excl = exclude.and_then(|n| {
                    let b = self.bytes();
                    let plen = b[off + 3];
                    let pb = &b[off + 4..sub_tlvs_start(b, off)];
                    n.iter().find_map(|t| match t.value {
                        NetworkDataValue::Prefix(p)
                            if p.prefix_length == plen && p.prefix == pb =>
                        {
                            Some(p)
                        }
                        _ => None,
                    })
                });
                self.remove_rloc_in_prefix(off, &matches, excl.as_ref(), changed, now);
                if self.update_tlv(off) {
                    continue;
                }
            } else if ty == tlv_type::SERVICE {
                let excl = exclude.and_then(|n| {
                    let b = self.bytes();
                    let (e, d) = Service::parse_value(&b[off + 2..tlv_end(b, off)])?;
                    n.iter().find_map(|t| match t.value {
                        NetworkDataValue::Service(s)
                            if s.enterprise() == e && s.service_data == d =>
                        {
                            Some(s)
                        }
                        _ => None,
                    })
                });
                self.remove_rloc_in_service(off, &matches, excl.as_ref(), changed);
                if self.update_tlv(off) {
                    continue;
                }
            }
            off = tlv_end(self.bytes(), off);
        }
    }

    fn remove_rloc_in_prefix(
        &mut self,
        p: usize,
        matches: &impl Fn(u16) -> bool,
        exclude: Option<&Prefix>,
        changed: &mut Changed,
        now: Instant,
    ) {
        let mut sub = sub_tlvs_start(self.bytes(), p);
        while sub < tlv_end(self.bytes(), p) {
            let t = self.bytes()[sub];
            let (ty, stable) = (t >> 1, t & 1 != 0);
            let size = match ty {
                tlv_type::HAS_ROUTE => 3,
                tlv_type::BORDER_ROUTER => 4,
                _ => {
                    sub = tlv_end(self.bytes(), sub);
                    continue;
                }
            };
            let mut e = sub + 2;
            while e + size <= tlv_end(self.bytes(), sub) {
                let entry = &self.bytes()[e..e + size];
                let rloc = u16::from_be_bytes([entry[0], entry[1]]);
                if matches(rloc) && !contains_entry(exclude, t, entry) {
                    changed.update(stable);
                    self.remove_bytes(e, size);
                    self.adjust_len(sub, -(size as isize));
                    self.adjust_len(p, -(size as isize));
                    continue;
                }
                e += size;
            }
            if self.bytes()[sub + 1] == 0 {
                self.remove_bytes(sub, 2);
                self.adjust_len(p, -2);
                continue;
            }
            sub = tlv_end(self.bytes(), sub);
        }
        if let Some(c) = find_sub(self.bytes(), p, tlv_type::CONTEXT, None) {
            let id = self.bytes()[c + 2] & 0x0f;
            if find_sub(self.bytes(), p, tlv_type::BORDER_ROUTER, None).is_none() {
                self.buf()[c + 2] &= !crate::wire::netdata::Context::COMPRESS;
                self.schedule_context_removal(id, now);
            } else {
                self.buf()[c + 2] |= crate::wire::netdata::Context::COMPRESS;
                self.mark_context_in_use(id);
            }
        }
    }

    fn remove_rloc_in_service(
        &mut self,
        s: usize,
        matches: &impl Fn(u16) -> bool,
        exclude: Option<&Service>,
        changed: &mut Changed,
    ) {
        let mut sub = sub_tlvs_start(self.bytes(), s);
        while sub < tlv_end(self.bytes(), s) {
            let end = tlv_end(self.bytes(), sub);
            let tlv = &self.bytes()[sub..end];
            if tlv[0] >> 1 == tlv_type::SERVER && tlv.len() >= 4 {
                let rloc = u16::from_be_bytes([tlv[2], tlv[3]]);
                let kept = exclude
                    .is_some_and(|x| x.sub_tlvs.iter().any(|st| server_tlv_bytes_eq(st, tlv)));
                if matches(rloc) && !kept {
                    changed.update(tlv[0] & 1 != 0);
                    let n = end - sub;
                    self.remove_bytes(sub, n);
                    self.adjust_len(s, -(n as isize));
                    continue;
                }
            }
            sub = end;
        }
    }

    fn add_prefix(&mut self, p: &Prefix, changed: &mut Changed) -> Result<()> {
        let dst = match self.find_prefix(p.prefix, p.prefix_length) {
            Some(d) => d,
            None => {
                let at = self.bytes().len();
                let len = 2 + p.prefix.len();
                if !self.can_insert(2 + len) {
                    return Err(Error::Oversized);
                }
                self.insert_bytes(
                    at,
                    &[
                        tlv_type::PREFIX << 1,
                        len as u8,
                        p.domain_id,
                        p.prefix_length,
                    ],
                )?;
                self.insert_bytes(at + 4, p.prefix)?;
                at
            }
        };
        let mut result = Ok(());
        for s in p.sub_tlvs.iter() {
            let r = match s.value {
                NetworkDataValue::HasRoute(h) => match h.entries().next() {
                    Some(e) => self.add_has_route(dst, s.stable, &e.to_bytes(), changed),
                    None => Ok(()),
                },
                NetworkDataValue::BorderRouter(b) => match b.entries().next() {
                    Some(e) => self.add_border_router(dst, s.stable, &e.to_bytes(), changed),
                    None => Ok(()),
                },
                _ => Ok(()),
            };
            if r.is_err() {
                result = r;
                break;
            }
        }
        // Also drops a Prefix TLV left empty when adding its sub-TLVs failed.
        self.update_tlv(dst);
        result
    }

    fn add_has_route(
        &mut self,
        p: usize,
        stable: bool,
        entry: &[u8; 3],
        changed: &mut Changed,
    ) -> Result<()> {
        let hr = match find_sub(self.bytes(), p, tlv_type::HAS_ROUTE, Some(stable)) {
            Some(h) => h,
            None => {
                if !self.can_insert(2 + 3) {
                    return Err(Error::Oversized);
                }
                let at = tlv_end(self.bytes(), p);
                self.insert_bytes(at, &[(tlv_type::HAS_ROUTE << 1) | u8::from(stable), 0])?;
                self.adjust_len(p, 2);
                at
            }
        };
        if self.bytes()[hr + 2..tlv_end(self.bytes(), hr)]
            .chunks_exact(3)
            .any(|e| e == entry)
        {
            return Ok(());
        }
        let at = tlv_end(self.bytes(), hr);
        self.insert_bytes(at, entry)?;
        self.adjust_len(hr, 3);
        self.adjust_len(p, 3);
        changed.update(stable);
        Ok(())
    }

    fn add_border_router(
        &mut self,
        p: usize,
        stable: bool,
        entry: &[u8; 4],
        changed: &mut Changed,
    ) -> Result<()> {
        let br = find_sub(self.bytes(), p, tlv_type::BORDER_ROUTER, Some(stable));
        let ctx = find_sub(self.bytes(), p, tlv_type::CONTEXT, None);
        let mut context_id = 0;
        if ctx.is_none() {
            // Allocate first so that running out of ids adds nothing.
            context_id = self.unallocated_context_id().ok_or(Error::Oversized)?;
        }
        let br = match br {
            Some(b) => b,
            None => {
                let need = 2 + 4 + if ctx.is_none() { 4 } else { 0 };
                if !self.can_insert(need) {
                    return Err(Error::Oversized);
                }
                let at = tlv_end(self.bytes(), p);
                self.insert_bytes(at, &[(tlv_type::BORDER_ROUTER << 1) | u8::from(stable), 0])?;
                self.adjust_len(p, 2);
                at
            }
        };
        // The context goes after the Border Router sub-TLV (as OpenThread: the vector's order).
        let ctx = match ctx {
            Some(c) => c,
            None => {
                if !self.can_insert(4 + 4) {
                    return Err(Error::Oversized);
                }
                let at = tlv_end(self.bytes(), p);
                let length = self.bytes()[p + 3];
                self.insert_bytes(at, &[tlv_type::CONTEXT << 1, 2, context_id, length])?;
                self.adjust_len(p, 4);
                at
            }
        };
        if stable {
            self.buf()[ctx] |= 1;
        }
        self.buf()[ctx + 2] |= crate::wire::netdata::Context::COMPRESS;
        let id = self.bytes()[ctx + 2] & 0x0f;
        self.mark_context_in_use(id);

        if self.bytes()[br + 2..tlv_end(self.bytes(), br)]
            .chunks_exact(4)
            .any(|e| e == entry)
        {
            return Ok(());
        }
        let at = tlv_end(self.bytes(), br);
        self.insert_bytes(at, entry)?;
        self.adjust_len(br, 4);
        self.adjust_len(p, 4);
        changed.update(stable);
        Ok(())
    }

    fn add_service(&mut self, s: &Service, changed: &mut Changed) -> Result<()> {
        let enterprise = s.enterprise();
        let dst = match self.find_service(enterprise, s.service_data) {
            Some(d) => d,
            None => {
                let id = self.unallocated_service_id().ok_or(Error::Oversized)?;
                let thread = enterprise == THREAD_ENTERPRISE_NUMBER;
                let len = 2 + if thread { 0 } else { 4 } + s.service_data.len();
                if !self.can_insert(2 + len) {
                    return Err(Error::Oversized);
                }
                let flags = if thread {
                    Service::THREAD_ENTERPRISE
                } else {
                    0
                } | id;
                let mut tlv: Bytes = heapless::Vec::new();
                let _ = tlv.extend_from_slice(&[tlv_type::SERVICE << 1, len as u8, flags]);
                if !thread {
                    let _ = tlv.extend_from_slice(&enterprise.to_be_bytes());
                }
                let _ = tlv.push(s.service_data.len() as u8);
                let _ = tlv.extend_from_slice(s.service_data);
                let at = self.bytes().len();
                self.insert_bytes(at, &tlv)?;
                at
            }
        };
        let mut result = Ok(());
        if let Some(server) = s
            .sub_tlvs
            .iter()
            .find(|t| matches!(t.value, NetworkDataValue::Server(_)))
        {
            let mut tlv = [0u8; MAX_SIZE];
            let n = server.emit(&mut tlv).unwrap_or(0);
            let tlv = &tlv[..n];
            let b = self.bytes();
            let present = tlv_offsets(b, sub_tlvs_start(b, dst), tlv_end(b, dst))
                .any(|(o, _, l)| &b[o..o + 2 + l] == tlv);
            if !present && n > 0 {
                if self.can_insert(n) {
                    let at = tlv_end(self.bytes(), dst);
                    self.insert_bytes(at, tlv)?;
                    self.adjust_len(dst, n as isize);
                    changed.update(server.stable);
                } else {
                    result = Err(Error::Oversized);
                }
            }
        }
        self.update_tlv(dst);
        result
    }

    fn unallocated_service_id(&self) -> Option<u8> {
        let b = self.bytes();
        (0..=MAX_SERVICE_ID).find(|id| {
            !tlv_offsets(b, 0, b.len())
                .any(|(o, t, l)| t >> 1 == tlv_type::SERVICE && l >= 1 && b[o + 2] & 0x0f == *id)
        })
    }

    fn remove_context(&mut self, id: u8) {
        let mut off = 0;
        while off + 2 <= self.bytes().len() {
            if self.bytes()[off] >> 1 == tlv_type::PREFIX {
                while let Some(c) = find_sub(self.bytes(), off, tlv_type::CONTEXT, None)
                    .filter(|&c| self.bytes()[c + 2] & 0x0f == id)
                {
                    let n = tlv_end(self.bytes(), c) - c;
                    self.remove_bytes(c, n);
                    self.adjust_len(off, -(n as isize));
                }
                if self.update_tlv(off) {
                    continue;
                }
            }
            off = tlv_end(self.bytes(), off);
        }
    }

    fn unallocated_context_id(&self) -> Option<u8> {
        (MIN_CONTEXT_ID..=MAX_CONTEXT_ID)
            .find(|id| self.contexts[usize::from(id - MIN_CONTEXT_ID)] == ContextState::Unallocated)
    }

    fn mark_context_in_use(&mut self, id: u8) {
        if let Some(c) = self
            .contexts
            .get_mut(usize::from(id.wrapping_sub(MIN_CONTEXT_ID)))
        {
            *c = ContextState::InUse;
        }
    }

    fn schedule_context_removal(&mut self, id: u8, now: Instant) {
        let delay = self.reuse_delay;
        if let Some(c) = self
            .contexts
            .get_mut(usize::from(id.wrapping_sub(MIN_CONTEXT_ID)))
        {
            if *c == ContextState::InUse {
                *c = ContextState::RemoveAt(now + delay);
            }
        }
    }
}

/// The Border Router / Has Route sub-TLV with type byte `t` in `exclude` holds `entry`.
fn contains_entry(exclude: Option<&Prefix>, t: u8, entry: &[u8]) -> bool {
    let Some(p) = exclude else { return false };
    p.sub_tlvs.iter().any(|s| {
        let stable = t & 1 != 0;
        s.stable == stable
            && match s.value {
                NetworkDataValue::BorderRouter(b) if t >> 1 == tlv_type::BORDER_ROUTER => {
                    b.0.chunks_exact(4).any(|e| e == entry)
                }
                NetworkDataValue::HasRoute(h) if t >> 1 == tlv_type::HAS_ROUTE => {
                    h.0.chunks_exact(3).any(|e| e == entry)
                }
                _ => false,
            }
    })
}

fn server_tlv_bytes_eq(st: crate::wire::netdata::NetworkDataTlv, tlv: &[u8]) -> bool {
    let mut buf = [0u8; MAX_SIZE];
    matches!(st.value, NetworkDataValue::Server(_))
        && st.emit(&mut buf).is_ok_and(|n| &buf[..n] == tlv)
}

/// OpenThread `Leader::Validate`: one registration of one border router.
fn validate(new: &NetworkDataView, rloc16: ShortAddress) -> Result<()> {
    for (i, t) in new.iter().enumerate() {
        match t.value {
            NetworkDataValue::Prefix(p) => {
                let dup = new.iter().take(i).any(|o| {
                    matches!(o.value, NetworkDataValue::Prefix(q)
                        if q.prefix_length == p.prefix_length && q.prefix == p.prefix)
                });
                if dup {
                    return Err(Error::Malformed);
                }
                let mut seen = [[false; 2]; 2]; // [has route, border router][stable]
                for s in p.sub_tlvs.iter() {
                    let (kind, rlocs, n) = match s.value {
                        NetworkDataValue::HasRoute(h) => {
                            (0, h.entries().next().map(|e| e.rloc16), h.0.len() / 3)
                        }
                        NetworkDataValue::BorderRouter(b) => {
                            (1, b.entries().next().map(|e| e.rloc16), b.0.len() / 4)
                        }
                        _ => continue,
                    };
                    let slot = &mut seen[kind][usize::from(s.stable)];
                    if *slot || n != 1 || rlocs != Some(rloc16) {
                        return Err(Error::Malformed);
                    }
                    *slot = true;
                }
                if !seen.iter().flatten().any(|s| *s) {
                    return Err(Error::Malformed);
                }
            }
            NetworkDataValue::Service(s) => {
                let dup = new.iter().take(i).any(|o| {
                    matches!(o.value, NetworkDataValue::Service(q)
                        if q.enterprise() == s.enterprise() && q.service_data == s.service_data)
                });
                let mut servers = s.sub_tlvs.iter().filter_map(|st| match st.value {
                    NetworkDataValue::Server(sv) => Some(sv),
                    _ => None,
                });
                let first = servers.next();
                if dup || servers.next().is_some() || first.map(|sv| sv.rloc16) != Some(rloc16) {
                    return Err(Error::Malformed);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Enterprise number and service data of a Service TLV value.
trait ServiceValue {
    fn parse_value(v: &[u8]) -> Option<(u32, &[u8])>;
}

impl ServiceValue for Service<'_> {
    fn parse_value(v: &[u8]) -> Option<(u32, &[u8])> {
        let (&flags, rest) = v.split_first()?;
        let (e, rest) = if flags & Service::THREAD_ENTERPRISE != 0 {
            (THREAD_ENTERPRISE_NUMBER, rest)
        } else {
            let (e, rest) = rest.split_at_checked(4)?;
            (u32::from_be_bytes(e.try_into().ok()?), rest)
        };
        let (&n, rest) = rest.split_first()?;
        rest.get(..usize::from(n)).map(|d| (e, d))
    }
}

#[cfg(test)]
mod tests;
