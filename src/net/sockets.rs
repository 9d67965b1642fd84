//! The mesh UDP sockets the Python `socket` module sees: at most [`MAX_SOCKETS`], each with a
//! binding and a receive queue of [`QUEUE_LEN`] datagrams.
//!
//! Storage: one byte pool of [`POOL_LEN`] bytes shared by every socket, holding datagrams packed
//! back to back in arrival order, plus one small descriptor per queued datagram (sender, length,
//! owner). Removing a datagram moves the bytes behind it down (at most `POOL_LEN` bytes copied),
//! so the pool never fragments. Cost: `POOL_LEN` (2560) + 15 descriptors x 22 bytes + about
//! 100 bytes of bindings and counters, 3000 bytes in all (measured on a 64-bit host; a few
//! bytes less on 32-bit targets), instead of 15 fixed 1251-byte slots (about 18.8 KB). The
//! price: two maximum-size datagrams fill the pool, and the older one is then dropped (counted
//! in [`SocketCounters::pool_overflows`]); the original Pymesh held at most 512 bytes each.

use heapless::Vec;

use super::NetError;
use crate::wire::{ipv6, udp, Ipv6Address};

/// Mesh sockets a node may hold open (Pycom's limit; the 4th is EMFILE).
pub const MAX_SOCKETS: usize = 3;
/// Datagrams queued per socket; a 6th drops the oldest.
pub const QUEUE_LEN: usize = 5;
/// Length of the header put in front of a border-router datagram (0xBB, destination, port).
pub const BORDER_ROUTER_HEADER_LEN: usize = 19;
/// First byte of a border-router datagram as the socket delivers it.
pub const BORDER_ROUTER_MAGIC: u8 = 0xBB;
/// The largest UDP payload a 1280-byte IPv6 datagram carries.
pub const MAX_UDP_PAYLOAD: usize = ipv6::MIN_MTU - ipv6::HEADER_LEN - udp::HEADER_LEN;
/// The largest datagram a socket queues: a maximal UDP payload behind the border-router header.
pub const MAX_QUEUED_LEN: usize = MAX_UDP_PAYLOAD + BORDER_ROUTER_HEADER_LEN;
/// Bytes of the shared receive pool: two maximal datagrams, or many small ones.
pub const POOL_LEN: usize = 2560;
/// Documented port range of `bind` (pymesh-api.txt: "values 1024 to 63535").
pub const PORT_MIN: u16 = 1024;
pub const PORT_MAX: u16 = 63535;
/// Ports the stack itself listens on (MLE, TMF): never given to a socket.
pub const RESERVED_PORTS: [u16; 2] = [
    crate::wire::mle_security::UDP_PORT,
    crate::wire::tmf::TMF_PORT,
];
/// OpenThread's ephemeral port range (`kDynamicPortMin..=kDynamicPortMax`).
pub const EPHEMERAL_MIN: u16 = 49152;
pub const EPHEMERAL_MAX: u16 = 65535;

/// A socket handle: an index below [`MAX_SOCKETS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketId(pub u8);

impl SocketId {
    fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// What a socket is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Unbound,
    /// One port on every address of the node (and subscribed multicast groups).
    AnyAddress {
        port: u16,
    },
    /// One port on one unicast address.
    Address {
        addr: Ipv6Address,
        port: u16,
    },
}

impl Binding {
    pub fn port(&self) -> Option<u16> {
        match *self {
            Binding::Unbound => None,
            Binding::AnyAddress { port } | Binding::Address { port, .. } => Some(port),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    open: bool,
    binding: Binding,
}

const CLOSED: Slot = Slot {
    open: false,
    binding: Binding::Unbound,
};

/// One queued datagram; its bytes follow the previous entry's in the pool.
#[derive(Debug, Clone, Copy)]
struct Entry {
    socket: u8,
    len: u16,
    src_addr: Ipv6Address,
    src_port: u16,
}

/// Losses of the receive queues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketCounters {
    /// Oldest datagram dropped because a 6th arrived on a socket.
    pub queue_overflows: u32,
    /// Datagram dropped to make room in the shared pool.
    pub pool_overflows: u32,
    /// Arriving datagram larger than [`MAX_QUEUED_LEN`], not queued.
    pub oversized: u32,
}

pub struct Sockets {
    slots: [Slot; MAX_SOCKETS],
    entries: Vec<Entry, { MAX_SOCKETS * QUEUE_LEN }>,
    pool: [u8; POOL_LEN],
    /// Bytes of `pool` in use (the sum of the entries' lengths).
    used: usize,
    /// Bit i: a datagram was queued on socket i since the last `take_notifications`.
    notify: u8,
    /// The last ephemeral port handed out.
    ephemeral: u16,
    counters: SocketCounters,
}

impl Default for Sockets {
    fn default() -> Self {
        Self::new()
    }
}

impl Sockets {
    pub const fn new() -> Self {
        Sockets {
            slots: [CLOSED; MAX_SOCKETS],
            entries: Vec::new(),
            pool: [0; POOL_LEN],
            used: 0,
            notify: 0,
            // OpenThread's first datagram from an unbound socket leaves from 49153 in the
            // captures (thread11.pcap frame 52), so the counter starts one below.
            ephemeral: EPHEMERAL_MIN,
            counters: SocketCounters {
                queue_overflows: 0,
                pool_overflows: 0,
                oversized: 0,
            },
        }
    }

    pub fn counters(&self) -> &SocketCounters {
        &self.counters
    }

    /// Opens a socket: the lowest free handle, or `TooManySockets` (EMFILE).
    pub fn open(&mut self) -> Result<SocketId, NetError> {
        let i = self
            .slots
            .iter()
            .position(|s| !s.open)
            .ok_or(NetError::TooManySockets)?;
        self.slots[i] = Slot {
            open: true,
            binding: Binding::Unbound,
        };
        Ok(SocketId(i as u8))
    }

    pub fn is_open(&self, id: SocketId) -> bool {
        self.slots.get(id.index()).is_some_and(|s| s.open)
    }

    /// Closes a socket and drops its queue. Closing a closed (or unknown) socket does nothing.
    pub fn close(&mut self, id: SocketId) {
        let Some(slot) = self.slots.get_mut(id.index()) else {
            return;
        };
        *slot = CLOSED;
        while let Some(i) = self.entries.iter().position(|e| e.socket == id.0) {
            self.remove(i);
        }
        self.notify &= !(1 << id.0);
    }

    /// Closes every socket (mesh `deinit`).
    pub fn close_all(&mut self) {
        for i in 0..MAX_SOCKETS {
            self.close(SocketId(i as u8));
        }
    }

    pub fn binding(&self, id: SocketId) -> Option<Binding> {
        self.slot(id).ok().map(|s| s.binding)
    }

    /// `bind(port)`: every address of the node.
    pub fn bind(&mut self, id: SocketId, port: u16) -> Result<(), NetError> {
        self.bind_to(id, Binding::AnyAddress { port })
    }

    /// `bind((addr, port))`; `::` means every address, like `bind(port)`.
    pub fn bind_addr(
        &mut self,
        id: SocketId,
        addr: Ipv6Address,
        port: u16,
    ) -> Result<(), NetError> {
        if addr.is_unspecified() {
            return self.bind(id, port);
        }
        if addr.is_multicast() {
            return Err(NetError::InvalidArgument);
        }
        self.bind_to(id, Binding::Address { addr, port })
    }

    fn bind_to(&mut self, id: SocketId, binding: Binding) -> Result<(), NetError> {
        let port = binding.port().unwrap_or(0);
        if !(PORT_MIN..=PORT_MAX).contains(&port) {
            return Err(NetError::InvalidPort);
        }
        let slot = self.slot(id)?;
        // As POSIX: a bound socket cannot be bound again.
        if slot.binding != Binding::Unbound {
            return Err(NetError::InvalidArgument);
        }
        if RESERVED_PORTS.contains(&port) || self.conflicts(binding) {
            return Err(NetError::AddressInUse);
        }
        self.slots[id.index()].binding = binding;
        Ok(())
    }

    /// Whether `binding` overlaps an open socket's (same port, and either is "any address" or
    /// both name the same address).
    fn conflicts(&self, binding: Binding) -> bool {
        self.slots
            .iter()
            .filter(|s| s.open)
            .any(|s| match (s.binding, binding) {
                (Binding::Unbound, _) | (_, Binding::Unbound) => false,
                (Binding::Address { addr: a, port: p }, Binding::Address { addr: b, port: q }) => {
                    p == q && a == b
                }
                (x, y) => x.port() == y.port(),
            })
    }

    /// The port a datagram sent from this socket leaves from: its bound port, or (as
    /// OpenThread does for an unbound socket) the next free ephemeral port, which then stays
    /// bound on every address.
    pub fn source_port(&mut self, id: SocketId) -> Result<u16, NetError> {
        let slot = self.slot(id)?;
        if let Some(port) = slot.binding.port() {
            return Ok(port);
        }
        let span = usize::from(EPHEMERAL_MAX - EPHEMERAL_MIN) + 1;
        for _ in 0..span {
            self.ephemeral = if self.ephemeral < EPHEMERAL_MAX {
                self.ephemeral + 1
            } else {
                EPHEMERAL_MIN
            };
            let binding = Binding::AnyAddress {
                port: self.ephemeral,
            };
            if !self.conflicts(binding) {
                self.slots[id.index()].binding = binding;
                return Ok(self.ephemeral);
            }
        }
        Err(NetError::AddressInUse)
    }

    fn slot(&self, id: SocketId) -> Result<&Slot, NetError> {
        match self.slots.get(id.index()) {
            Some(s) if s.open => Ok(s),
            _ => Err(NetError::InvalidArgument),
        }
    }

    /// The socket a unicast datagram to `dst`:`port` goes to: one bound to that very address
    /// first, else one bound to every address. Multicast only reaches "every address" sockets.
    pub fn find_receiver(&self, dst: &Ipv6Address, port: u16) -> Option<SocketId> {
        let bound = |want_any: bool| {
            self.slots.iter().position(|s| {
                s.open
                    && match s.binding {
                        Binding::Address { addr, port: p } => {
                            !want_any && p == port && addr == *dst
                        }
                        Binding::AnyAddress { port: p } => want_any && p == port,
                        Binding::Unbound => false,
                    }
            })
        };
        bound(false)
            .or_else(|| bound(true))
            .map(|i| SocketId(i as u8))
    }

    /// The socket a border-router datagram goes to: the first bound to an address inside the
    /// prefix, else the first bound to the destination port, else the first bound socket
    /// (pycom-behaviour.md "Border router": "else on any bound socket").
    pub fn find_border_router_receiver(
        &self,
        prefix: &Ipv6Address,
        prefix_len: u8,
        port: u16,
    ) -> Option<SocketId> {
        let find = |f: &dyn Fn(&Binding) -> bool| {
            self.slots
                .iter()
                .position(|s| s.open && f(&s.binding))
                .map(|i| SocketId(i as u8))
        };
        find(&|b| matches!(b, Binding::Address { addr, .. } if super::prefix_matches(addr, prefix, prefix_len)))
            .or_else(|| find(&|b| b.port() == Some(port)))
            .or_else(|| find(&|b| b.port().is_some()))
    }

    /// Queues `head` followed by `payload` as one datagram on `id`, dropping the socket's
    /// oldest datagram if it already holds [`QUEUE_LEN`], then the oldest datagrams (this
    /// socket's first) until the pool has room.
    pub fn enqueue(
        &mut self,
        id: SocketId,
        src_addr: Ipv6Address,
        src_port: u16,
        head: &[u8],
        payload: &[u8],
    ) -> Result<(), NetError> {
        self.slot(id)?;
        let len = head.len() + payload.len();
        if len > MAX_QUEUED_LEN {
            self.counters.oversized += 1;
            return Err(NetError::MessageTooLong);
        }
        if self.pending(id) >= QUEUE_LEN {
            if let Some(i) = self.oldest_of(id) {
                self.remove(i);
                self.counters.queue_overflows += 1;
            }
        }
        while POOL_LEN - self.used < len {
            let Some(i) = self.oldest_of(id).or(if self.entries.is_empty() {
                None
            } else {
                Some(0)
            }) else {
                break;
            };
            self.remove(i);
            self.counters.pool_overflows += 1;
        }
        let entry = Entry {
            socket: id.0,
            // MAX_QUEUED_LEN fits in u16.
            len: len as u16,
            src_addr,
            src_port,
        };
        // Cannot fail: each socket holds at most QUEUE_LEN entries and the pool was freed
        // above; checked anyway rather than trusted.
        if POOL_LEN - self.used < len || self.entries.push(entry).is_err() {
            self.counters.pool_overflows += 1;
            return Err(NetError::MessageTooLong);
        }
        let start = self.used;
        self.pool[start..start + head.len()].copy_from_slice(head);
        self.pool[start + head.len()..start + len].copy_from_slice(payload);
        self.used += len;
        self.notify |= 1 << id.0;
        Ok(())
    }

    /// Datagrams waiting on `id` (0 for a closed socket): for select/poll.
    pub fn pending(&self, id: SocketId) -> usize {
        self.entries.iter().filter(|e| e.socket == id.0).count()
    }

    /// `recvfrom(n)`: takes the oldest datagram of `id`, copies as much as fits into `buf` (the
    /// rest is discarded, as UDP does) and returns the bytes copied and the sender.
    pub fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Option<(usize, Ipv6Address, u16)> {
        let i = self.oldest_of(id)?;
        let e = self.entries[i];
        let start = self.offset_of(i);
        let n = usize::from(e.len).min(buf.len());
        buf[..n].copy_from_slice(&self.pool[start..start + n]);
        self.remove(i);
        Some((n, e.src_addr, e.src_port))
    }

    /// Sockets that had a datagram queued since the last call (bit i = socket i), then
    /// clears them: what rx_cb is called for.
    pub fn take_notifications(&mut self) -> u8 {
        core::mem::take(&mut self.notify)
    }

    fn oldest_of(&self, id: SocketId) -> Option<usize> {
        self.entries.iter().position(|e| e.socket == id.0)
    }

    fn offset_of(&self, index: usize) -> usize {
        self.entries[..index]
            .iter()
            .map(|e| usize::from(e.len))
            .sum()
    }

    fn remove(&mut self, index: usize) {
        if index >= self.entries.len() {
            return;
        }
        let start = self.offset_of(index);
        let len = usize::from(self.entries[index].len);
        self.pool.copy_within(start + len..self.used, start);
        self.used -= len;
        self.entries.remove(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Ipv6Address {
        Ipv6Address::parse(s).unwrap()
    }

    #[test]
    fn fourth_socket_is_emfile_and_close_frees_a_slot() {
        let mut s = Sockets::new();
        let a = s.open().unwrap();
        let _b = s.open().unwrap();
        let _c = s.open().unwrap();
        assert_eq!(s.open(), Err(NetError::TooManySockets));
        assert_eq!(NetError::TooManySockets.errno(), 24);
        s.close(a);
        s.close(a); // idempotent
        assert_eq!(s.open(), Ok(a));
        s.close(SocketId(200)); // unknown handle: nothing
    }

    #[test]
    fn port_range_and_conflicts() {
        let mut s = Sockets::new();
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        for bad in [0, 1023, 63536, 65535] {
            assert_eq!(s.bind(a, bad), Err(NetError::InvalidPort), "{bad}");
        }
        assert_eq!(s.bind(a, 19788), Err(NetError::AddressInUse));
        assert_eq!(s.bind(a, 61631), Err(NetError::AddressInUse));
        s.bind(a, 1024).unwrap();
        assert_eq!(s.bind(a, 1025), Err(NetError::InvalidArgument));
        assert_eq!(s.bind(b, 1024), Err(NetError::AddressInUse));
        let ml = addr("fdde:ad00:beef:0:4623:91c8:64b2:d9ec");
        assert_eq!(s.bind_addr(b, ml, 1024), Err(NetError::AddressInUse));
        s.bind_addr(b, ml, 63535).unwrap();
        let c = s.open().unwrap();
        assert_eq!(s.bind_addr(c, ml, 63535), Err(NetError::AddressInUse));
        assert_eq!(s.bind(c, 63535), Err(NetError::AddressInUse));
        s.bind_addr(c, addr("fe80::1"), 63535).unwrap();
        s.close(c);
        assert_eq!(s.bind(c, 2000), Err(NetError::InvalidArgument));
    }

    #[test]
    fn ephemeral_ports_start_at_49153_and_skip_bound_ones() {
        let mut s = Sockets::new();
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        assert_eq!(s.source_port(a), Ok(49153));
        assert_eq!(s.source_port(a), Ok(49153)); // stays bound
        assert_eq!(s.source_port(b), Ok(49154));
        let c = s.open().unwrap();
        s.bind(c, 1234).unwrap();
        assert_eq!(s.source_port(c), Ok(1234));
    }

    #[test]
    fn sixth_datagram_drops_the_oldest_and_counts() {
        let mut s = Sockets::new();
        let a = s.open().unwrap();
        s.bind(a, 1234).unwrap();
        let src = addr("fdde:ad00:beef::1");
        for i in 0..7u8 {
            s.enqueue(a, src, 5000 + u16::from(i), &[], &[i; 3])
                .unwrap();
        }
        assert_eq!(s.pending(a), QUEUE_LEN);
        assert_eq!(s.counters().queue_overflows, 2);
        let mut buf = [0u8; 8];
        let (n, from, port) = s.recv(a, &mut buf).unwrap();
        assert_eq!((n, from, port), (3, src, 5002));
        assert_eq!(&buf[..3], &[2, 2, 2]);
        assert_eq!(s.take_notifications(), 0b1);
        assert_eq!(s.take_notifications(), 0);
    }

    #[test]
    fn recv_truncates_and_keeps_other_sockets_intact() {
        let mut s = Sockets::new();
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        let src = addr("fe80::2");
        s.enqueue(a, src, 1, b"AA", b"aaaa").unwrap();
        s.enqueue(b, src, 2, &[], b"bbbbbbbb").unwrap();
        s.enqueue(a, src, 3, &[], b"cc").unwrap();
        let mut small = [0u8; 4];
        assert_eq!(s.recv(a, &mut small), Some((4, src, 1)));
        assert_eq!(&small, b"AAaa");
        let mut buf = [0u8; 16];
        assert_eq!(s.recv(b, &mut buf), Some((8, src, 2)));
        assert_eq!(&buf[..8], b"bbbbbbbb");
        assert_eq!(s.recv(a, &mut buf), Some((2, src, 3)));
        assert_eq!(&buf[..2], b"cc");
        assert_eq!(s.recv(a, &mut buf), None);
        assert_eq!(s.used, 0);
        assert_eq!(s.take_notifications(), 0b11);
    }

    #[test]
    fn full_pool_drops_oldest_datagrams_and_oversized_is_refused() {
        let mut s = Sockets::new();
        let a = s.open().unwrap();
        let b = s.open().unwrap();
        let src = addr("fe80::2");
        let big = [7u8; MAX_UDP_PAYLOAD];
        s.enqueue(a, src, 1, &[], &big).unwrap();
        s.enqueue(b, src, 2, &[], &big).unwrap();
        // A third maximal datagram on b: b's own oldest goes first, a's survives.
        s.enqueue(b, src, 3, &[1; BORDER_ROUTER_HEADER_LEN], &big)
            .unwrap();
        assert_eq!(s.counters().pool_overflows, 1);
        assert_eq!((s.pending(a), s.pending(b)), (1, 1));
        let mut buf = [0u8; MAX_QUEUED_LEN];
        assert_eq!(s.recv(b, &mut buf), Some((MAX_QUEUED_LEN, src, 3)));
        assert_eq!(buf[0], 1);
        assert_eq!(buf[MAX_QUEUED_LEN - 1], 7);
        let too_big = [0u8; MAX_QUEUED_LEN + 1];
        assert_eq!(
            s.enqueue(a, src, 1, &[], &too_big),
            Err(NetError::MessageTooLong)
        );
        assert_eq!(s.counters().oversized, 1);
        s.close(a);
        assert_eq!(s.used, 0);
        assert_eq!(
            s.enqueue(a, src, 1, &[], b"x"),
            Err(NetError::InvalidArgument)
        );
    }

    #[test]
    fn receiver_prefers_the_exact_address() {
        let mut s = Sockets::new();
        let any = s.open().unwrap();
        let one = s.open().unwrap();
        let ml = addr("fdde:ad00:beef:0:4623:91c8:64b2:d9ec");
        s.bind(any, 1234).unwrap();
        s.bind_addr(one, ml, 1235).unwrap();
        assert_eq!(s.find_receiver(&ml, 1234), Some(any));
        assert_eq!(s.find_receiver(&ml, 1235), Some(one));
        assert_eq!(s.find_receiver(&addr("fe80::1"), 1235), None);
        assert_eq!(s.find_receiver(&ml, 1236), None);
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The storage claim in the module docs: pool, descriptors and bindings, about 3.0 KB.
    #[test]
    fn ram_cost_stays_near_the_pool() {
        let size = core::mem::size_of::<Sockets>();
        std::println!(
            "Sockets: {size} bytes, Entry: {}, Net: {}",
            core::mem::size_of::<Entry>(),
            core::mem::size_of::<crate::net::Net>()
        );
        assert_eq!(core::mem::size_of::<Entry>(), 22);
        assert!(size <= POOL_LEN + 15 * 22 + 128, "{size}");
    }
}
