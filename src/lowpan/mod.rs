//! 6LoWPAN adaptation (RFC 4944 section 5.3): splitting an IPv6 datagram of up to 1280 bytes
//! into 802.15.4-sized FRAG1/FRAGN frames the way OpenThread's `MeshForwarder` does
//! ([`Fragmenter`]), and putting received fragments back together in a fixed number of
//! 1280-byte slots with a timeout ([`Reassembler`]). Header formats are in
//! `crate::wire::sixlowpan`; time is passed in, nothing here reads a clock.

pub mod fragmentation;
pub mod reassembly;

pub use fragmentation::Fragmenter;
pub use reassembly::{FragmentKey, Reassembler, ReassemblyCounters};

/// Largest datagram this layer fragments or reassembles (the IPv6 minimum MTU, Thread's MTU).
pub const MAX_DATAGRAM_SIZE: usize = crate::wire::ipv6::MIN_MTU;
