//! SLAAC addresses from Network Data (OpenThread `utils/slaac.cpp`): one address per on-mesh
//! prefix that allows SLAAC, added when the prefix appears and removed when it goes.
//!
//! The interface identifier is RFC 7217's "semantically opaque" IID as OpenThread computes it:
//! the first 8 bytes of SHA-256(prefix bytes || DAD counter || 32-byte per-node secret), the
//! counter raised while the IID is a reserved one. Random for each node, but the same node
//! gets the same address from the same prefix every time (the secret is kept by the node).

use heapless::Vec;
use sha2::{Digest, Sha256};

use super::NetworkData;
use crate::wire::Ipv6Address;

/// SLAAC addresses one node holds at once (OpenThread `OPENTHREAD_CONFIG_IP6_SLAAC_NUM_ADDRESSES`).
pub const MAX_SLAAC_ADDRESSES: usize = 4;

/// One SLAAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaacAddress {
    pub address: Ipv6Address,
    /// Always 64: SLAAC needs a /64.
    pub prefix_length: u8,
    /// Some border router marks the prefix preferred (P_preferred).
    pub preferred: bool,
}

/// What [`Slaac::update`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaacChanges {
    pub added: u8,
    pub removed: u8,
}

impl SlaacChanges {
    pub fn any(&self) -> bool {
        self.added != 0 || self.removed != 0
    }
}

#[derive(Debug, Clone)]
pub struct Slaac {
    secret: [u8; 32],
    addresses: Vec<SlaacAddress, MAX_SLAAC_ADDRESSES>,
}

impl Slaac {
    /// `secret`: per-node random bytes, kept for the node's life (OpenThread keeps it in
    /// settings) so that addresses are stable across restarts.
    pub fn new(secret: [u8; 32]) -> Self {
        Slaac {
            secret,
            addresses: Vec::new(),
        }
    }

    pub fn addresses(&self) -> &[SlaacAddress] {
        &self.addresses
    }

    pub fn contains(&self, addr: &Ipv6Address) -> bool {
        self.addresses.iter().any(|a| a.address == *addr)
    }

    /// Drop every address (detached, or SLAAC disabled).
    pub fn clear(&mut self) {
        self.addresses.clear();
    }

    /// Whether an on-mesh prefix entry qualifies: P_slaac and P_on_mesh, /64, not a Thread
    /// 1.2 domain prefix.
    fn qualifies(p: &super::OnMeshPrefix) -> bool {
        p.entry.slaac()
            && p.entry.on_mesh()
            && p.length == 64
            && p.entry.flags & crate::wire::netdata::BorderRouterEntry::DP == 0
    }

    /// Follow the Network Data: remove addresses whose prefix no longer qualifies, add one for
    /// each new qualifying prefix (in Network Data order, while there is room), refresh the
    /// preferred flag.
    pub fn update(&mut self, netdata: &NetworkData) -> SlaacChanges {
        let mut changes = SlaacChanges::default();
        let before = self.addresses.len();
        self.addresses.retain(|a| {
            netdata
                .on_mesh_prefixes()
                .any(|p| Self::qualifies(&p) && p.prefix.0[..8] == a.address.0[..8])
        });
        changes.removed = (before - self.addresses.len()) as u8;
        for p in netdata.on_mesh_prefixes().filter(Self::qualifies) {
            let prefix = p.prefix.prefix64();
            let preferred = netdata
                .on_mesh_prefixes()
                .any(|o| Self::qualifies(&o) && o.prefix.0[..8] == prefix && o.entry.preferred());
            if let Some(a) = self
                .addresses
                .iter_mut()
                .find(|a| a.address.prefix64() == prefix)
            {
                a.preferred = preferred;
                continue;
            }
            let address = Ipv6Address::from_prefix_iid(prefix, self.iid(&prefix));
            let added = self.addresses.push(SlaacAddress {
                address,
                prefix_length: 64,
                preferred,
            });
            if added.is_ok() {
                changes.added += 1;
            }
        }
        changes
    }

    /// RFC 7217 IID for `prefix` (OpenThread `Slaac::GenerateIid`, no network id).
    pub fn iid(&self, prefix: &[u8; 8]) -> [u8; 8] {
        let mut iid = [0u8; 8];
        for dad_counter in 0..=u8::MAX {
            let mut h = Sha256::new();
            h.update(prefix);
            h.update([dad_counter]);
            h.update(self.secret);
            iid.copy_from_slice(&h.finalize()[..8]);
            if !is_reserved_iid(&iid) {
                break;
            }
        }
        iid
    }
}

/// Reserved IIDs (RFC 5453 and Thread's locators): subnet-router anycast (all zero),
/// reserved subnet anycast fdff:ffff:ffff:ff80-ffff, and Thread's 0000:00ff:fe00:xxxx
/// (RLOC/ALOC form).
fn is_reserved_iid(iid: &[u8; 8]) -> bool {
    *iid == [0; 8]
        || (iid[..7] == [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] && iid[7] >= 0x80)
        || iid[..6] == [0, 0, 0, 0xff, 0xfe, 0]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{from_mle, hex, MLE_FRAME3, MLE_FRAME44};
    use super::*;

    #[test]
    fn appears_and_disappears_with_the_prefix() {
        let mut s = Slaac::new([7; 32]);
        assert!(!s.update(&from_mle(MLE_FRAME3)).any());
        assert!(s.addresses().is_empty());
        let with = from_mle(MLE_FRAME44);
        let c = s.update(&with);
        assert_eq!(
            c,
            SlaacChanges {
                added: 1,
                removed: 0
            }
        );
        let a = s.addresses()[0];
        assert_eq!(
            a.address.prefix64(),
            [0x20, 0x01, 0xca, 0xfe, 0xca, 0xfe, 0xca, 0xfe]
        );
        assert!(a.preferred);
        assert!(s.contains(&a.address));
        // The IID is the hash of prefix, counter 0 and the secret.
        let mut h = Sha256::new();
        h.update(hex("2001cafecafecafe"));
        h.update([0u8]);
        h.update([7u8; 32]);
        assert_eq!(a.address.iid(), h.finalize()[..8]);
        // Stable: the same again, no change.
        assert!(!s.update(&with).any());
        assert_eq!(s.addresses()[0], a);
        // Another node (secret) gets another address from the same prefix.
        let mut other = Slaac::new([8; 32]);
        other.update(&with);
        assert_ne!(other.addresses()[0].address, a.address);
        // Prefix gone: address gone.
        let c = s.update(&from_mle(MLE_FRAME3));
        assert_eq!(
            c,
            SlaacChanges {
                added: 0,
                removed: 1
            }
        );
        assert!(s.addresses().is_empty());
        // Back: the same address as before.
        s.update(&with);
        assert_eq!(s.addresses()[0], a);
    }

    #[test]
    fn only_slaac_on_mesh_64() {
        // /64 "pos" (no SLAAC), /64 "pao" (SLAAC, not preferred? p set), /48 "ao",
        // /64 "a" without on-mesh, /64 "ao" not preferred.
        let b = hex(concat!(
            "0310",
            "0040fd00000000000001",
            "0504",
            "04002300",
            "0310",
            "0040fd00000000000002",
            "0504",
            "04003100",
            "030e",
            "0030fd0000000003",
            "0504",
            "04001100",
            "0310",
            "0040fd00000000000004",
            "0504",
            "04001000",
            "0310",
            "0040fd00000000000005",
            "0504",
            "04001100",
        ));
        let nd = NetworkData::from_bytes(0, 0, &b).unwrap();
        let mut s = Slaac::new([1; 32]);
        assert_eq!(s.update(&nd).added, 2);
        let got: std::vec::Vec<_> = s
            .addresses()
            .iter()
            .map(|a| (a.address.prefix64()[7], a.preferred))
            .collect();
        assert_eq!(got, [(2, true), (5, false)]);
        s.clear();
        assert!(s.addresses().is_empty());
    }

    #[test]
    fn reserved_iids() {
        assert!(is_reserved_iid(&[0; 8]));
        assert!(is_reserved_iid(
            &hex("fdffffffffffff80").try_into().unwrap()
        ));
        assert!(!is_reserved_iid(
            &hex("fdffffffffffff7f").try_into().unwrap()
        ));
        assert!(is_reserved_iid(
            &hex("000000fffe00fc00").try_into().unwrap()
        ));
        assert!(!is_reserved_iid(
            &hex("3b72cbdd2de312c2").try_into().unwrap()
        ));
    }
}
