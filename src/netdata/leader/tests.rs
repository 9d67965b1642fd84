use super::super::local::{parse_prefix_flags, Local};
use super::super::tests::{from_mle, hex, MLE_FRAME3, MLE_FRAME44, MLE_LINE_FRAME79};
use super::*;
use crate::wire::Ipv6Address;

const T0: Instant = Instant::from_millis(1000);

fn cafe() -> Ipv6Address {
    Ipv6Address::parse("2001:cafe:cafe:cafe::").unwrap()
}

fn local_paros(pref: i8, prefix: Ipv6Address) -> Local {
    let (flags, stable) = parse_prefix_flags("paros").unwrap();
    let mut l = Local::new();
    l.add_on_mesh_prefix(prefix, 64, pref, flags, stable)
        .unwrap();
    l
}

/// The vector's leader before the prefix: versions and commissioning data of frame 3.
fn vector_leader() -> Leader {
    let before = from_mle(MLE_FRAME3);
    let mut leader = Leader::new(before.version() - 1, before.stable_version());
    leader
        .set_commissioning_data(before.commissioning_data().unwrap())
        .unwrap();
    assert_eq!(leader.network_data(), &before);
    leader
}

#[test]
fn registering_the_logged_prefix_gives_the_vector_bytes_and_versions() {
    for (mle_before, mle_after, rloc) in [
        (MLE_FRAME3, MLE_FRAME44, 0x3c00),
        (MLE_FRAME3, MLE_LINE_FRAME79, 0xc000),
    ] {
        let after = from_mle(mle_after);
        let before = from_mle(mle_before);
        let mut leader = Leader::new(after.version() - 1, after.stable_version() - 1);
        leader
            .set_commissioning_data(after.commissioning_data().unwrap())
            .unwrap();
        // set_commissioning_data bumped the version only.
        assert_eq!(leader.version(), after.version());
        assert_eq!(leader.stable_version(), after.stable_version() - 1);
        let leader_before_versions = (leader.version(), leader.stable_version());
        let sd = local_paros(0, cafe())
            .server_data(ShortAddress(rloc))
            .unwrap();
        leader
            .register_server_data(ShortAddress(rloc), &sd, T0)
            .unwrap();
        assert_eq!(
            leader.network_data().as_bytes(),
            after.as_bytes(),
            "{mle_after}"
        );
        assert_eq!(
            (leader.version(), leader.stable_version()),
            (
                leader_before_versions.0.wrapping_add(1),
                leader_before_versions.1.wrapping_add(1)
            )
        );
        let _ = before;
    }
    // The vector's own versions: 105/228 before, 106/229 after.
    let mut leader = vector_leader();
    let sd = local_paros(0, cafe())
        .server_data(ShortAddress(0x3c00))
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x3c00), &sd, T0)
        .unwrap();
    assert_eq!(leader.network_data(), &from_mle(MLE_FRAME44));
}

#[test]
fn same_registration_twice_changes_nothing() {
    let mut leader = vector_leader();
    let sd = local_paros(0, cafe())
        .server_data(ShortAddress(0x3c00))
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x3c00), &sd, T0)
        .unwrap();
    let snapshot = leader.network_data().clone();
    leader
        .register_server_data(ShortAddress(0x3c00), &sd, T0)
        .unwrap();
    assert_eq!(leader.network_data(), &snapshot);
}

#[test]
fn second_border_router_and_preference_change() {
    let mut leader = Leader::new(10, 20);
    let a = local_paros(0, cafe())
        .server_data(ShortAddress(0x3c00))
        .unwrap();
    let b = local_paros(1, cafe())
        .server_data(ShortAddress(0x7800))
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x3c00), &a, T0)
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x7800), &b, T0)
        .unwrap();
    assert_eq!((leader.version(), leader.stable_version()), (12, 22));
    // One prefix, one stable BR sub-TLV with both entries, one context.
    assert_eq!(
        leader.network_data().as_bytes(),
        &hex("031800402001cafecafecafe05083c0033007800730007021140")[..]
    );
    let nd = leader.network_data();
    let dst = Ipv6Address::parse("2001:cafe:cafe:cafe::99").unwrap();
    assert_eq!(
        nd.border_router_for(&dst, |_| 1),
        Some((ShortAddress(0x7800), 1))
    );
    // 0x7800 drops to low: its old entry goes, the new one is appended; 0x3c00 now wins.
    let b_low = local_paros(-1, cafe())
        .server_data(ShortAddress(0x7800))
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x7800), &b_low, T0)
        .unwrap();
    assert_eq!((leader.version(), leader.stable_version()), (13, 23));
    assert_eq!(
        leader.network_data().border_router_for(&dst, |_| 1),
        Some((ShortAddress(0x3c00), 0))
    );
    let mut s = std::string::String::new();
    leader.network_data().show(&mut s).unwrap();
    assert_eq!(
        s,
        "Prefixes:\n2001:cafe:cafe:cafe::/64 paros med 3c00\n\
         2001:cafe:cafe:cafe::/64 paros low 7800\nRoutes:\nServices:\nContexts:\n\
         2001:cafe:cafe:cafe::/64 1 sc\nCommissioning:\n- - - -\n"
    );
}

#[test]
fn context_ids_allocation_and_reuse_delay() {
    let mut leader = Leader::new(0, 0);
    leader.set_context_id_reuse_delay(Duration::from_secs(60));
    let p2 = Ipv6Address::parse("fd00:2::").unwrap();
    let p3 = Ipv6Address::parse("fd00:3::").unwrap();
    let mut local = local_paros(0, cafe());
    let (flags, _) = parse_prefix_flags("paro").unwrap();
    local.add_on_mesh_prefix(p2, 64, 0, flags, false).unwrap();
    let sd = local.server_data(ShortAddress(0x0400)).unwrap();
    leader
        .register_server_data(ShortAddress(0x0400), &sd, T0)
        .unwrap();
    let ids = |l: &Leader| {
        l.network_data()
            .contexts()
            .map(|c| (c.prefix.segments()[1], c.context_id, c.compress, c.stable))
            .collect::<std::vec::Vec<_>>()
    };
    // Temporary prefix: temporary context (stable flag follows the border router).
    assert_eq!(ids(&leader), [(0xcafe, 1, true, true), (2, 2, true, false)]);
    // Temporary-only change: version bumps, stable version not.
    assert_eq!((leader.version(), leader.stable_version()), (1, 1));

    // fd00:2:: goes: its context stays, compress cleared, id 2 reserved.
    local.remove_on_mesh_prefix(p2, 64);
    let sd = local.server_data(ShortAddress(0x0400)).unwrap();
    leader
        .register_server_data(ShortAddress(0x0400), &sd, T0)
        .unwrap();
    assert_eq!((leader.version(), leader.stable_version()), (2, 1));
    assert_eq!(
        ids(&leader),
        [(0xcafe, 1, true, true), (2, 2, false, false)]
    );
    assert_eq!(leader.poll_at(), Some(T0 + Duration::from_secs(60)));
    let mut s = std::string::String::new();
    leader.network_data().show(&mut s).unwrap();
    assert!(s.contains("Contexts:\n2001:cafe:cafe:cafe::/64 1 sc\nfd00:2:0:0::/64 2 -\n"));

    // A new prefix during the delay gets id 3, not 2.
    local.add_on_mesh_prefix(p3, 64, 0, flags, true).unwrap();
    let sd = local.server_data(ShortAddress(0x0400)).unwrap();
    leader
        .register_server_data(ShortAddress(0x0400), &sd, T0)
        .unwrap();
    assert_eq!(ids(&leader)[2], (3, 3, true, true));

    // Delay not over: nothing; over: context 2 and its now-empty prefix go, both versions bump.
    assert!(!leader.poll(T0 + Duration::from_secs(59)));
    let v = (leader.version(), leader.stable_version());
    assert!(leader.poll(T0 + Duration::from_secs(60)));
    assert_eq!(
        (leader.version(), leader.stable_version()),
        (v.0 + 1, v.1 + 1)
    );
    assert_eq!(ids(&leader), [(0xcafe, 1, true, true), (3, 3, true, true)]);
    assert_eq!(leader.poll_at(), None);

    // Id 2 is free again.
    local.add_on_mesh_prefix(p2, 64, 0, flags, true).unwrap();
    let sd = local.server_data(ShortAddress(0x0400)).unwrap();
    leader
        .register_server_data(ShortAddress(0x0400), &sd, T0)
        .unwrap();
    assert_eq!(ids(&leader)[2], (2, 2, true, true));
}

#[test]
fn prefix_back_within_delay_keeps_its_context() {
    let mut leader = Leader::new(0, 0);
    let sd = local_paros(0, cafe())
        .server_data(ShortAddress(0x0400))
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x0400), &sd, T0)
        .unwrap();
    leader.remove_border_router(ShortAddress(0x0400), T0);
    // Context 1 kept (not compressing), BR gone.
    assert_eq!(
        leader.network_data().as_bytes(),
        &hex("030e00402001cafecafecafe07020140")[..]
    );
    assert_eq!(leader.network_data().on_mesh_prefixes().count(), 0);
    // Back: Border Router sub-TLV after the context, context compressing again.
    leader
        .register_server_data(
            ShortAddress(0x0800),
            &local_paros(0, cafe())
                .server_data(ShortAddress(0x0800))
                .unwrap(),
            T0,
        )
        .unwrap();
    assert_eq!(
        leader.network_data().as_bytes(),
        &hex("031400402001cafecafecafe070211400504080033 00"
            .replace(' ', "")
            .as_str())[..]
    );
    assert_eq!(leader.poll_at(), None);
    assert!(!leader.poll(T0 + CONTEXT_ID_REUSE_DELAY));
}

#[test]
fn remove_border_router_and_router() {
    let mut leader = Leader::new(5, 5);
    for rloc in [0x0400u16, 0x0401, 0x0800] {
        let sd = local_paros(0, cafe())
            .server_data(ShortAddress(rloc))
            .unwrap();
        leader
            .register_server_data(ShortAddress(rloc), &sd, T0)
            .unwrap();
    }
    assert_eq!(leader.network_data().on_mesh_prefixes().count(), 3);
    let v = leader.version();
    // Unknown RLOC16: no change, no bump.
    leader.remove_border_router(ShortAddress(0x0c00), T0);
    assert_eq!(leader.version(), v);
    // Router id 1 released: 0x0400 and its child 0x0401 go.
    leader.remove_router(1, T0);
    assert_eq!(leader.version(), v + 1);
    let left: std::vec::Vec<_> = leader
        .network_data()
        .on_mesh_prefixes()
        .map(|p| p.rloc16().0)
        .collect();
    assert_eq!(left, [0x0800]);
    leader.remove_border_router(ShortAddress(0x0800), T0);
    assert!(!leader.network_data().contains_rloc16(ShortAddress(0x0800)));
    // Empty server data: deregisters everything of that RLOC16.
    let sd = local_paros(0, cafe())
        .server_data(ShortAddress(0x0800))
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x0800), &sd, T0)
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x0800), &[], T0)
        .unwrap();
    assert_eq!(leader.network_data().on_mesh_prefixes().count(), 0);
}

#[test]
fn invalid_registrations_change_nothing() {
    let mut leader = vector_leader();
    let snapshot = leader.network_data().clone();
    let bad = [
        // Entry for another RLOC16.
        "031000402001cafecafecafe05047800330 0",
        // Two entries in one Border Router sub-TLV.
        "031400402001cafecafecafe05083c0033003c003100",
        // Prefix without Border Router or Has Route.
        "030a00402001cafecafecafe",
        // Duplicate prefix.
        "031000402001cafecafecafe05043c003300031000402001cafecafecafe05043c003300",
        // Malformed bytes.
        "0503000033",
    ];
    for b in bad {
        let bytes = hex(&b.replace(' ', ""));
        assert!(
            leader
                .register_server_data(ShortAddress(0x3c00), &bytes, T0)
                .is_err(),
            "{b}"
        );
        assert_eq!(leader.network_data(), &snapshot, "{b}");
    }
}

#[test]
fn has_route_and_service_registration() {
    let mut leader = Leader::new(0, 0);
    // Stable Has Route ::/0 high, and a Thread service 0x5c with stable server data 09.
    let sd = hex(concat!(
        "0307", "0000", "0103", "040040", "0b08", "81", "01", "5c", "0d03", "040009"
    ));
    // The leader allocates service id 0 (the payload's id bits are ignored).
    leader
        .register_server_data(ShortAddress(0x0400), &sd, T0)
        .unwrap();
    assert_eq!(
        leader.network_data().as_bytes(),
        &hex("03070000010304004 00b088001 5c0d03040009"
            .replace(' ', "")
            .as_str())[..]
    );
    assert_eq!((leader.version(), leader.stable_version()), (1, 1));
    // A second server for the same service joins the same Service TLV.
    let sd2 = hex(concat!("0b08", "81", "01", "5c", "0d03", "080007"));
    leader
        .register_server_data(ShortAddress(0x0800), &sd2, T0)
        .unwrap();
    let mut s = std::string::String::new();
    leader.network_data().show(&mut s).unwrap();
    assert_eq!(
        s,
        "Prefixes:\nRoutes:\n::/0 s high 0400\nServices:\n44970 5c 09 s 0400 0\n\
         44970 5c 07 s 0800 0\nContexts:\nCommissioning:\n- - - -\n"
    );
    // No context for a Has Route-only prefix.
    assert_eq!(leader.network_data().contexts().count(), 0);
    // 0x0400 leaves: route and its server go; the service stays for 0x0800.
    leader.remove_border_router(ShortAddress(0x0400), T0);
    assert_eq!(
        leader.network_data().as_bytes(),
        &hex("0b0880015c0d03080007")[..]
    );
}

#[test]
fn full_image_is_refused_without_damage() {
    let mut leader = Leader::new(0, 0);
    let (flags, _) = parse_prefix_flags("paros").unwrap();
    // Each /128 prefix with its context costs 2 + 2 + 16 + 6 + 4 = 30 bytes: 8 fit in 254.
    let mut n = 0;
    for i in 0..12u16 {
        let mut local = Local::new();
        let p = Ipv6Address::from_segments([0xfd00, i, 0, 0, 0, 0, 0, 1]);
        local.add_on_mesh_prefix(p, 128, 0, flags, true).unwrap();
        let rloc = ShortAddress(0x0400 + i);
        let sd = local.server_data(rloc).unwrap();
        match leader.register_server_data(rloc, &sd, T0) {
            Ok(()) => n += 1,
            Err(e) => assert_eq!(e, Error::Oversized),
        }
        assert!(leader.network_data().as_bytes().len() <= MAX_SIZE);
        // Always a valid image.
        NetworkData::from_bytes(0, 0, leader.network_data().as_bytes()).unwrap();
    }
    assert_eq!(n, 8);
    assert_eq!(leader.network_data().on_mesh_prefixes().count(), 8);
    assert_eq!(
        leader.set_commissioning_data(&[0u8; 40]),
        Err(Error::Oversized)
    );
}

#[test]
fn context_ids_run_out_at_fifteen() {
    let mut leader = Leader::new(0, 0);
    let (flags, _) = parse_prefix_flags("paros").unwrap();
    let mut results = std::vec::Vec::new();
    // 16 one-byte /8 prefixes from many routers: 2 + 2 + 1 + 6 + 4 = 15 bytes each.
    for i in 0..16u16 {
        let p = Ipv6Address::from_segments([(0x10 + i) << 8, 0, 0, 0, 0, 0, 0, 0]);
        let mut local = Local::new();
        local.add_on_mesh_prefix(p, 8, 0, flags, true).unwrap();
        let rloc = ShortAddress(i << 10);
        let sd = local.server_data(rloc).unwrap();
        results.push(leader.register_server_data(rloc, &sd, T0));
    }
    assert!(results[..15].iter().all(|r| r.is_ok()));
    assert_eq!(results[15], Err(Error::Oversized));
    let ids: std::vec::Vec<_> = leader
        .network_data()
        .contexts()
        .map(|c| c.context_id)
        .collect();
    assert_eq!(ids, (1..=15).collect::<std::vec::Vec<_>>());
}

#[test]
fn taking_over_keeps_context_ids() {
    let nd = from_mle(MLE_FRAME44);
    let mut leader = Leader::from_network_data(&nd, T0);
    assert_eq!(leader.network_data(), &nd);
    // A new prefix does not reuse id 1.
    let sd = local_paros(0, Ipv6Address::parse("fd00:9::").unwrap())
        .server_data(ShortAddress(0x7800))
        .unwrap();
    leader
        .register_server_data(ShortAddress(0x7800), &sd, T0)
        .unwrap();
    let ids: std::vec::Vec<_> = leader
        .network_data()
        .contexts()
        .map(|c| c.context_id)
        .collect();
    assert_eq!(ids, [1, 2]);
    assert_eq!(leader.version(), nd.version().wrapping_add(1));
}

#[test]
fn random_registrations_keep_a_valid_image() {
    let mut rng = crate::rand::Rng::new(42);
    let mut leader = Leader::new(0, 0);
    let mut now = T0;
    leader.set_context_id_reuse_delay(Duration::from_secs(5));
    for _ in 0..3000 {
        now += Duration::from_secs(1);
        let rloc = ShortAddress((rng.range_u32(0, 5) as u16) << 10);
        match rng.range_u32(0, 9) {
            0 => leader.remove_border_router(rloc, now),
            1 => {
                let _ = leader.poll(now);
            }
            _ => {
                let mut local = Local::new();
                for _ in 0..rng.range_u32(0, 3) {
                    let p = Ipv6Address::from_segments([
                        0xfd00,
                        rng.range_u32(0, 6) as u16,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                    ]);
                    let len = [32u8, 48, 64][rng.range_u32(0, 2) as usize];
                    let flags = rng.next_u32() as u16;
                    let _ = local.add_on_mesh_prefix(
                        p,
                        len,
                        rng.range_u32(0, 2) as i8 - 1,
                        flags,
                        rng.next_u32() & 1 == 0,
                    );
                }
                let sd = local.server_data(rloc).unwrap();
                if leader.register_server_data(rloc, &sd, now).is_ok() {
                    assert!(local.is_registered_in(leader.network_data(), rloc));
                }
            }
        }
        let nd = leader.network_data();
        NetworkData::from_bytes(0, 0, nd.as_bytes()).unwrap();
        // Every prefix with a border router has a compressing context; ids are unique.
        let mut seen = [false; 16];
        for c in nd.contexts() {
            assert!(!seen[usize::from(c.context_id)]);
            seen[usize::from(c.context_id)] = true;
        }
        for p in nd.on_mesh_prefixes() {
            assert!(nd
                .contexts()
                .any(|c| c.compress && c.prefix == p.prefix && c.length == p.length));
        }
    }
}
