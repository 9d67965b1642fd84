//! Outstanding pings (the CLI's `ping`) and the replies matched to them, printed as OpenThread's
//! CLI prints them: `16 bytes from <addr>: icmp_seq=1 hlim=64 time=2ms`.

use core::fmt;

use heapless::Vec;

use crate::time::{Duration, Instant};
use crate::wire::Ipv6Address;

/// Pings remembered at once; a new one beyond this forgets the oldest.
pub const MAX_OUTSTANDING: usize = 4;
/// How long a request accepts replies. Long: a LoRa round trip over several hops takes
/// seconds, and a multicast ping collects replies from every node.
pub const REPLY_WINDOW: Duration = Duration::from_secs(30);

/// An echo request sent and not yet expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingRequest {
    pub dst: Ipv6Address,
    pub ident: u16,
    pub seq: u16,
    pub sent: Instant,
    /// Echo data bytes (OpenThread's `ping <addr> <size>`).
    pub size: u16,
    pub hop_limit: u8,
}

/// A reply matched to a request: the CLI line's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingReply {
    /// Length of the ICMPv6 message (header included), as OpenThread counts it.
    pub bytes: u16,
    pub from: Ipv6Address,
    pub seq: u16,
    /// Hop limit of the reply as received.
    pub hop_limit: u8,
    pub time: Duration,
}

impl fmt::Display for PingReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes from {}: icmp_seq={} hlim={} time={}ms",
            self.bytes,
            self.from,
            self.seq,
            self.hop_limit,
            self.time.millis()
        )
    }
}

#[derive(Debug, Default)]
pub struct Ping {
    outstanding: Vec<PingRequest, MAX_OUTSTANDING>,
    /// Replies that matched no request (late, or not ours).
    pub unmatched_replies: u32,
}

impl Ping {
    pub const fn new() -> Self {
        Ping {
            outstanding: Vec::new(),
            unmatched_replies: 0,
        }
    }

    /// Remembers a request just sent.
    pub fn record(&mut self, request: PingRequest) {
        self.expire(request.sent);
        if self.outstanding.is_full() {
            self.outstanding.remove(0);
        }
        // Room was made above.
        let _ = self.outstanding.push(request);
    }

    pub fn outstanding(&self) -> &[PingRequest] {
        &self.outstanding
    }

    /// Forgets requests older than [`REPLY_WINDOW`].
    pub fn expire(&mut self, now: Instant) {
        self.outstanding
            .retain(|r| now.since(r.sent) <= REPLY_WINDOW);
    }

    /// Matches an echo reply by identifier and sequence. A request stays outstanding after a
    /// match: a multicast ping is answered by every node.
    pub fn on_reply(
        &mut self,
        now: Instant,
        from: Ipv6Address,
        ident: u16,
        seq: u16,
        icmp_len: usize,
        hop_limit: u8,
    ) -> Option<PingReply> {
        self.expire(now);
        let Some(r) = self
            .outstanding
            .iter()
            .rev()
            .find(|r| r.ident == ident && r.seq == seq)
        else {
            self.unmatched_replies += 1;
            return None;
        };
        Some(PingReply {
            bytes: u16::try_from(icmp_len).unwrap_or(u16::MAX),
            from,
            seq,
            hop_limit,
            time: now.since(r.sent),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn request(seq: u16, sent: u64) -> PingRequest {
        PingRequest {
            dst: Ipv6Address::parse("fdde:ad00:beef::ff:fe00:fc00").unwrap(),
            ident: 1,
            seq,
            sent: Instant(sent),
            size: 8,
            hop_limit: 64,
        }
    }

    #[test]
    fn reply_line_is_openthreads() {
        let mut p = Ping::new();
        p.record(request(1, 1000));
        let from = Ipv6Address::parse("fdde:ad00:beef::ff:fe00:d800").unwrap();
        let r = p.on_reply(Instant(1246), from, 1, 2, 16, 64);
        assert_eq!(r, None, "wrong sequence");
        let r = p.on_reply(Instant(1246), from, 1, 1, 16, 64).unwrap();
        // pymesh-api.txt's example line.
        assert_eq!(
            r.to_string(),
            "16 bytes from fdde:ad00:beef:0:0:ff:fe00:d800: icmp_seq=1 hlim=64 time=246ms"
        );
        // A second reply (multicast ping) still matches.
        assert!(p.on_reply(Instant(1300), from, 1, 1, 16, 63).is_some());
        assert_eq!(p.unmatched_replies, 1);
    }

    #[test]
    fn old_requests_expire_and_the_table_is_bounded() {
        let mut p = Ping::new();
        for seq in 0..6 {
            p.record(request(seq, 0));
        }
        assert_eq!(p.outstanding().len(), MAX_OUTSTANDING);
        assert_eq!(p.outstanding()[0].seq, 2);
        let from = Ipv6Address::UNSPECIFIED;
        assert!(p.on_reply(Instant(30_000), from, 1, 5, 16, 64).is_some());
        assert!(p.on_reply(Instant(30_001), from, 1, 5, 16, 64).is_none());
        assert!(p.outstanding().is_empty());
    }
}
