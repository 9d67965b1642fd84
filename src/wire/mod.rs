//! Wire formats: every frame and message the mesh sends or receives, each as a checked view
//! over a byte buffer (`Packet<T: AsRef<[u8]>>`, `new_checked` validates lengths so accessors
//! never panic) plus a parsed representation (`Repr`) with `parse`, `buffer_len` and `emit`,
//! in the style of smoltcp's `wire` module.
//!
//! Byte-exact: a `Repr` keeps every encoding choice (compression modes, key id modes, TLV
//! order) needed to re-emit the frame OpenThread sent, byte for byte.

pub mod types;
pub use types::{ExtAddress, Ipv6Address, PanId, ShortAddress};

pub mod coap;
pub mod icmpv6;
pub mod ieee802154;
pub mod ipv6;
pub mod mle;
pub mod mle_security;
pub mod netdata;
pub mod security;
pub mod sixlowpan;
pub mod tmf;
pub mod udp;

/// Why a buffer could not be parsed, emitted, or secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer ends before the structure it announces.
    Truncated,
    /// A field holds a value the format forbids, or lengths disagree.
    Malformed,
    /// A valid encoding this implementation does not handle (reserved modes, unknown versions).
    Unsupported,
    /// The output buffer is too small for `emit`.
    BufferTooSmall,
    /// More data than the format or a fixed capacity allows.
    Oversized,
    /// A MIC did not verify (wrong key, corrupted frame).
    AuthenticationFailed,
    /// A frame counter not above the last one accepted from that sender.
    Replayed,
    /// A key id mode / key index / key sequence this node holds no key for.
    UnknownKey,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            Error::Truncated => "truncated",
            Error::Malformed => "malformed",
            Error::Unsupported => "unsupported",
            Error::BufferTooSmall => "buffer too small",
            Error::Oversized => "oversized",
            Error::AuthenticationFailed => "authentication failed",
            Error::Replayed => "replayed",
            Error::UnknownKey => "unknown key",
        };
        f.write_str(s)
    }
}

pub type Result<T> = core::result::Result<T, Error>;
