//! The local Network Data (OpenThread `network_data_local.cpp`): the on-mesh prefixes this node
//! announces as a border router, serialised as the server-data payload it registers with the
//! leader (the Thread Network Data TLV of `/a/sd`, or the leader's own registration).

use heapless::Vec;

use super::{mask_prefix, Bytes, MAX_SIZE};
use crate::wire::netdata::{
    tlv_type, BorderRouterEntry, NetworkData as NetworkDataView, NetworkDataValue,
};
use crate::wire::{Error, Ipv6Address, Result, ShortAddress};

/// On-mesh prefixes one node may announce (Pymesh users set one or two).
pub const MAX_LOCAL_PREFIXES: usize = 8;

/// One prefix this node serves (`otBorderRouterConfig` without the RLOC16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnMeshPrefixConfig {
    /// Zero past `length`.
    pub prefix: Ipv6Address,
    pub length: u8,
    /// 1 high, 0 medium, -1 low.
    pub preference: i8,
    /// [`BorderRouterEntry`] flag bits (P_preferred ... P_nd_dns, DP); preference bits ignored.
    pub flags: u16,
    pub stable: bool,
}

impl OnMeshPrefixConfig {
    /// The Border Router entry flags word: preference in bits 15-14, then the flags.
    pub fn entry_flags(&self) -> u16 {
        BorderRouterEntry::preference_flags(self.preference) | (self.flags & 0x3fff)
    }
}

/// Flags of `border_router(net, pref)` in Pymesh: preferred, SLAAC, default route, on-mesh
/// (with the stable bit: `paros`).
pub const PYMESH_BORDER_ROUTER_FLAGS: u16 = BorderRouterEntry::PREFERRED
    | BorderRouterEntry::SLAAC
    | BorderRouterEntry::DEFAULT_ROUTE
    | BorderRouterEntry::ON_MESH;

/// Parse OpenThread's CLI prefix flags (`paros`, letters `padcrosnD`): the entry flag bits and
/// the stable flag. `None` on an unknown letter.
pub fn parse_prefix_flags(s: &str) -> Option<(u16, bool)> {
    let mut flags = 0;
    let mut stable = false;
    for c in s.chars() {
        flags |= match c {
            'p' => BorderRouterEntry::PREFERRED,
            'a' => BorderRouterEntry::SLAAC,
            'd' => BorderRouterEntry::DHCP,
            'c' => BorderRouterEntry::CONFIGURE,
            'r' => BorderRouterEntry::DEFAULT_ROUTE,
            'o' => BorderRouterEntry::ON_MESH,
            'n' => BorderRouterEntry::ND_DNS,
            'D' => BorderRouterEntry::DP,
            's' => {
                stable = true;
                0
            }
            _ => return None,
        };
    }
    Some((flags, stable))
}

/// This node's border-router prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Local {
    prefixes: Vec<OnMeshPrefixConfig, MAX_LOCAL_PREFIXES>,
}

impl Local {
    pub const fn new() -> Self {
        Local {
            prefixes: Vec::new(),
        }
    }

    /// Add (or replace) an on-mesh prefix. As OpenThread's `AddOnMeshPrefix`: a prefix already
    /// present is removed first and the new one goes last. `Malformed` for a length over 128,
    /// a multicast or link-local prefix, or a preference outside -1..=1; `Oversized` past
    /// [`MAX_LOCAL_PREFIXES`].
    pub fn add_on_mesh_prefix(
        &mut self,
        prefix: Ipv6Address,
        length: u8,
        preference: i8,
        flags: u16,
        stable: bool,
    ) -> Result<()> {
        let prefix = mask_prefix(prefix, length);
        if length == 0
            || length > 128
            || prefix.is_multicast()
            || prefix.is_link_local()
            || !(-1..=1).contains(&preference)
        {
            return Err(Error::Malformed);
        }
        self.remove_on_mesh_prefix(prefix, length);
        self.prefixes
            .push(OnMeshPrefixConfig {
                prefix,
                length,
                preference,
                flags: flags & 0x3fff,
                stable,
            })
            .map_err(|_| Error::Oversized)
    }

    /// Remove a prefix; whether it was there.
    pub fn remove_on_mesh_prefix(&mut self, prefix: Ipv6Address, length: u8) -> bool {
        let prefix = mask_prefix(prefix, length);
        match self
            .prefixes
            .iter()
            .position(|p| p.prefix == prefix && p.length == length)
        {
            Some(i) => {
                self.prefixes.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn on_mesh_prefixes(&self) -> &[OnMeshPrefixConfig] {
        &self.prefixes
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// The server-data payload for `rloc16`: per prefix, a Prefix TLV (domain 0) holding one
    /// Border Router sub-TLV with our entry; both TLVs' stable flags follow the prefix's
    /// stable flag (OpenThread `Local::AddPrefix`).
    pub fn server_data(&self, rloc16: ShortAddress) -> Result<Bytes> {
        let mut out: Bytes = Vec::new();
        for p in &self.prefixes {
            let n = usize::from(p.length).div_ceil(8);
            let stable = u8::from(p.stable);
            let entry = BorderRouterEntry {
                rloc16,
                flags: p.entry_flags(),
            }
            .to_bytes();
            let len = 2 + n + 6;
            let ok = out.len() + 2 + len <= MAX_SIZE
                && out
                    .extend_from_slice(&[(tlv_type::PREFIX << 1) | stable, len as u8, 0, p.length])
                    .is_ok()
                && out.extend_from_slice(&p.prefix.0[..n]).is_ok()
                && out
                    .extend_from_slice(&[(tlv_type::BORDER_ROUTER << 1) | stable, 4])
                    .is_ok()
                && out.extend_from_slice(&entry).is_ok();
            if !ok {
                return Err(Error::Oversized);
            }
        }
        Ok(out)
    }

    /// Whether the leader's Network Data already holds every entry of ours (OpenThread's
    /// `IsLocalNetworkDataRegistered` check, simplified to our Border Router entries) — when
    /// not, the node registers again.
    pub fn is_registered_in(&self, leader_data: &super::NetworkData, rloc16: ShortAddress) -> bool {
        self.prefixes.iter().all(|p| {
            leader_data.on_mesh_prefixes().any(|o| {
                o.prefix == p.prefix
                    && o.length == p.length
                    && o.stable == p.stable
                    && o.entry.rloc16 == rloc16
                    && o.entry.flags == p.entry_flags()
            })
        }) && !leader_data.view().iter().any(|t| match t.value {
            // An entry of ours the leader still has but we no longer announce.
            NetworkDataValue::Prefix(pt) => {
                let ours = self
                    .prefixes
                    .iter()
                    .any(|p| p.length == pt.prefix_length && p.prefix == pt.address());
                !ours
                    && pt.sub_tlvs.iter().any(|s| match s.value {
                        NetworkDataValue::BorderRouter(b) => {
                            b.entries().any(|e| e.rloc16 == rloc16)
                        }
                        _ => false,
                    })
            }
            _ => false,
        })
    }
}

/// Validate a server-data payload (for callers holding raw bytes).
pub fn check(bytes: &[u8]) -> Result<()> {
    NetworkDataView::new_checked(bytes).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{from_mle, hex, MLE_FRAME44};
    use super::*;

    #[test]
    fn paros_med_matches_the_vector_prefix_tlv() {
        // `prefix add 2001:cafe:cafe:cafe::/64 paros med` on 0x3c00 (cli-node1.txt).
        let (flags, stable) = parse_prefix_flags("paros").unwrap();
        assert!(stable);
        assert_eq!(flags, PYMESH_BORDER_ROUTER_FLAGS);
        let mut local = Local::new();
        let p = Ipv6Address::parse("2001:cafe:cafe:cafe::").unwrap();
        local.add_on_mesh_prefix(p, 64, 0, flags, stable).unwrap();
        let sd = local.server_data(ShortAddress(0x3c00)).unwrap();
        assert_eq!(&sd[..], &hex("031000402001cafecafecafe05043c003300")[..]);
        // The leader's copy adds only the context sub-TLV to the same entry.
        let nd = from_mle(MLE_FRAME44);
        assert!(local.is_registered_in(&nd, ShortAddress(0x3c00)));
        assert!(!local.is_registered_in(&nd, ShortAddress(0x7800)));
        let mut high = local.clone();
        high.add_on_mesh_prefix(p, 64, 1, flags, stable).unwrap();
        assert!(!high.is_registered_in(&nd, ShortAddress(0x3c00)));
        assert!(!Local::new().is_registered_in(&nd, ShortAddress(0x3c00)));
        assert!(Local::new().is_registered_in(&nd, ShortAddress(0x7800)));
    }

    #[test]
    fn add_replace_remove() {
        let mut local = Local::new();
        let a = Ipv6Address::parse("fd00:1:2:3:4::").unwrap();
        let b = Ipv6Address::parse("2001:db8::").unwrap();
        local.add_on_mesh_prefix(a, 64, 1, 0x3300, false).unwrap();
        local.add_on_mesh_prefix(b, 48, -1, 0x0100, true).unwrap();
        // Re-adding a moves it last with the new settings; the host bits are masked.
        local.add_on_mesh_prefix(a, 64, 0, 0x0100, true).unwrap();
        assert_eq!(local.on_mesh_prefixes().len(), 2);
        assert_eq!(local.on_mesh_prefixes()[1].preference, 0);
        assert_eq!(
            local.on_mesh_prefixes()[1].prefix,
            Ipv6Address::parse("fd00:1:2:3::").unwrap()
        );
        let sd = local.server_data(ShortAddress(0x0401)).unwrap();
        assert_eq!(
            &sd[..],
            &hex(concat!(
                "030e",
                "003020010db80000",
                "0504",
                "0401c100",
                "0310",
                "0040fd00000100020003",
                "0504",
                "04010100"
            ))[..]
        );
        check(&sd).unwrap();
        assert!(local.remove_on_mesh_prefix(b, 48));
        assert!(!local.remove_on_mesh_prefix(b, 48));
        assert_eq!(local.on_mesh_prefixes().len(), 1);
        // Bad input.
        let ff = Ipv6Address::parse("ff02::").unwrap();
        assert_eq!(
            local.add_on_mesh_prefix(ff, 64, 0, 0, true),
            Err(Error::Malformed)
        );
        assert_eq!(
            local.add_on_mesh_prefix(a, 129, 0, 0, true),
            Err(Error::Malformed)
        );
        assert_eq!(
            local.add_on_mesh_prefix(a, 64, 2, 0, true),
            Err(Error::Malformed)
        );
        assert_eq!(parse_prefix_flags("px"), None);
    }

    #[test]
    fn capacity() {
        let mut local = Local::new();
        for i in 0..MAX_LOCAL_PREFIXES as u16 {
            let p = Ipv6Address::from_segments([0xfd00, i, 0, 0, 0, 0, 0, 0]);
            local.add_on_mesh_prefix(p, 128, 0, 0, true).unwrap();
        }
        let p = Ipv6Address::from_segments([0xfd01, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            local.add_on_mesh_prefix(p, 64, 0, 0, true),
            Err(Error::Oversized)
        );
        // 8 * (2 + 2 + 16 + 6) = 208 bytes: fits.
        assert_eq!(local.server_data(ShortAddress(1)).unwrap().len(), 208);
    }
}
