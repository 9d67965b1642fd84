//! A Thread node over LoRa: owns every layer's state and runs them from [`Node::poll`].
//!
//! Sans-IO: the platform passes `now` and a radio into `poll`, and asks [`Node::poll_at`] when
//! to call again. Received frames travel up (radio -> MAC -> 6LoWPAN -> IPv6/UDP -> MLE or
//! TMF); decisions travel down as frames in the MAC's transmit queue.

use heapless::Vec;

use crate::lowpan::fragmentation::Fragmenter;
use crate::lowpan::reassembly::Reassembler;
use crate::mac::{self, Mac, MacConfig, NeighborLookup, TxRequest};
use crate::mle::frames::{self, Context, Outgoing, RxError};
use crate::mle::{LeaderData, Mle, MleCommand, Received, Role, Timing};
use crate::net::{self, AddressFilter, Delivery, Net, NetError, NodeAddresses, SocketId};
use crate::radio::MAX_FRAME_LEN;
use crate::radio::{LoRaConfig, Radio};
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::coap::{self, MessageType};
use crate::wire::ieee802154::Address;
use crate::wire::mle::MleRepr;
use crate::wire::security::FrameCounterTable;
use crate::wire::sixlowpan::{
    self, FragmentHeaderPacket, FramePayload, LinkAddress, MeshHeaderPacket, MeshHeaderRepr,
};
use crate::wire::tmf::{self, TmfRepr, TMF_PORT};
use crate::wire::{ExtAddress, Ipv6Address, PanId, ShortAddress};

pub use crate::mac::MacCounters;

/// The network a node joins: Pymesh's fixed identity plus the key the user gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkIdentity {
    pub network_key: [u8; 16],
    pub key_sequence: u32,
    pub pan_id: PanId,
    pub ext_pan_id: [u8; 8],
    pub mesh_local_prefix: [u8; 8],
    /// 802.15.4 channel: a label only on LoRa (the frequency is the real channel).
    pub channel: u8,
    pub network_name: &'static str,
}

impl NetworkIdentity {
    /// Pymesh's default key (`pycom-behaviour.md`; the documentation's 0134... is a typo).
    pub const DEFAULT_KEY: [u8; 16] = [
        0x12, 0x34, 0xc0, 0xde, 0x1a, 0xb5, 0x12, 0x34, 0xc0, 0xde, 0x1a, 0xb5, 0xca, 0x1a, 0x11,
        0x0f,
    ];

    /// The identity Pymesh used: PAN ID 0x1234, extended PAN ID dead00beef00cafe, mesh-local
    /// prefix fdde:ad00:beef:0::/64, channel 11, key sequence 0.
    pub const fn pymesh(network_key: [u8; 16]) -> Self {
        NetworkIdentity {
            network_key,
            key_sequence: 0,
            pan_id: PanId(0x1234),
            ext_pan_id: [0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0xca, 0xfe],
            mesh_local_prefix: [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00],
            channel: 11,
            network_name: "Pymesh",
        }
    }
}

/// A node's fixed configuration.
#[derive(Debug, Clone, Copy)]
pub struct NodeConfig {
    pub ext_addr: ExtAddress,
    pub identity: NetworkIdentity,
    pub lora: LoRaConfig,
    pub timing: Timing,
}

/// Counters of what the layers above the MAC dropped.
/// Why a datagram could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// No route to the destination (unknown locator, ML-EID without address query).
    NoRoute,
    /// Not a datagram this node can compress (or larger than 1280 bytes).
    Malformed,
    /// The MAC's queue is full.
    QueueFull,
}

/// Room for the MAC payload in one LoRa frame: 125 bytes less the data-frame header (frame
/// control 2, sequence 1, PAN 2, addresses) and, when secured, the auxiliary security header
/// (key id mode 1: 6) and the MIC (4).
pub fn mac_payload_budget(dst: Address, src_short: bool, secure: bool) -> usize {
    let dst_len = match dst {
        Address::Short(_) => 2,
        Address::Extended(_) => 8,
    };
    let src_len = if src_short { 2 } else { 8 };
    let security = if secure { 6 + 4 } else { 0 };
    MAX_FRAME_LEN - (2 + 1 + 2 + dst_len + src_len) - security
}

/// Hops left OpenThread 1.1 puts in a mesh header it originates (thread11-line.pcap frames
/// 40, 91, 103: 19, then 18 after one hop), whatever the path cost.
pub const MESH_HEADER_HOPS_LEFT: u8 = 19;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxDropCounters {
    /// MLE messages that failed MIC, key or replay checks.
    pub mle_security: u32,
    pub malformed: u32,
    /// Valid frames this node does not handle yet (datagrams for sockets, ICMPv6).
    pub not_handled: u32,
    /// Mesh-header frames whose hops ran out, or with no route onwards.
    pub forward_failed: u32,
    /// Frames forwarded along the mesh.
    pub forwarded: u32,
    /// Messages the node could not build (missing state, oversized).
    pub build_failed: u32,
    /// Parent Requests left unanswered for lack of duty-cycle budget.
    pub parent_requests_ignored: u32,
    /// Realm-local multicast: copies of a datagram already seen (dropped), and datagrams this
    /// router retransmitted (MPL).
    pub mpl_copies: u32,
    pub mpl_forwarded: u32,
    /// Address Queries sent, answered (an Address Notification for the target came) and
    /// failed (none came in time); Address Notifications sent for our own addresses.
    pub address_queries_sent: u32,
    pub address_queries_answered: u32,
    pub address_queries_failed: u32,
    pub address_notifications_sent: u32,
}

/// What the platform should know after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollResult {
    /// Frames handed up by the MAC in this poll.
    pub frames_received: u16,
}

struct Lookup<'a>(&'a Mle);

impl NeighborLookup for Lookup<'_> {
    fn ext_address_of(&self, short: ShortAddress) -> Option<ExtAddress> {
        self.0.ext_address_of(short.0)
    }
}

/// A received frame copied out of the MAC's buffer.
struct RxFrame {
    src: Address,
    src_ext: Option<ExtAddress>,
    dst: Address,
    rssi: i16,
    link_margin: u8,
    payload: Vec<u8, 127>,
}

/// Neighbour table row (`neighbors()` / `neighbor table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborInfo {
    pub ext_addr: ExtAddress,
    pub role: Role,
    pub rloc16: u16,
    pub avg_rssi: i16,
    pub last_rssi: i16,
    pub age: Duration,
}

/// How many times a router sends each realm-local multicast datagram it originates or
/// forwards (see `Node::mpl_schedule`).
pub const MPL_TRANSMISSIONS: u32 = 2;

/// On LoRa, the window (in maximum-size frame times) in which a router sends each of its MPL
/// transmissions. In a line the two neighbours of a router forward the same datagram at
/// about the same time and both reach it (hidden terminals): in a window of four frame times
/// their copies collided often enough that one datagram to ff03::1 missed a node in 11 of 24
/// seeds of the simulator's line of five (`realm_local_multicast_reaches_every_node_once`);
/// with eight, in 1 of 24 (seed 17).
pub const MPL_WINDOW_FRAME_TIMES: u32 = 8;

/// Imax periods between two Server Data registrations of a router or child whose prefixes
/// are still missing from the partition's network data: the leader's Data Response reaches
/// the far side of the mesh through Advertisements and Data Requests.
pub const SERVER_DATA_HOLDOFF_IMAX: u64 = 2;

pub struct Node {
    /// `prefix add|remove` changes waiting for `netdata register` (OpenThread keeps them local
    /// until then; the leader's own re-registration must not publish them either).
    local_changes_pending: bool,
    /// Not before this may a router or child send its Server Data again (see
    /// [`Node::server_data_due`]).
    server_data_holdoff: Instant,
    /// The partition our copy of the network data (`netdata`) came from.
    netdata_partition: Option<u32>,
    /// The partition and RLOC16 of our last Server Data registration: a new RLOC16 in the same
    /// partition sends the old one along, so the leader drops its entries.
    server_data_registered_as: Option<(u32, ShortAddress)>,
    /// Server Data notifications sent to a leader (see [`Node::server_data_registrations`]).
    server_data_sent: u32,
    /// Time spent in each role (see [`Node::role_times_ms`]), and since when not yet counted.
    role_time_ms: [u64; 5],
    role_clock: Option<Instant>,
    config: NodeConfig,
    rng: Rng,
    mle: Mle,
    security: frames::Security,
    mle_frame_counters: FrameCounterTable<16>,
    mac: Mac,
    ml_eid_iid: [u8; 8],
    /// The partition's network data as last received (or kept, on the leader).
    netdata: crate::netdata::NetworkData,
    /// On the leader: the network data store.
    netdata_leader: Option<crate::netdata::leader::Leader>,
    /// This node's border-router prefixes (`border_router(...)`).
    local_netdata: crate::netdata::local::Local,
    slaac: crate::netdata::slaac::Slaac,
    drops: RxDropCounters,
    datagram_tag: u16,
    reassembler: Reassembler<2>,
    net: Net,
    ping_replies: heapless::Deque<net::PingReply, 4>,
    /// Mesh-local EIDs heard recently and the RLOC16 they came from.
    eid_cache: Vec<(Ipv6Address, u16), 16>,
    /// Realm-local multicast (MPL): the copies seen lately, and the ones this router will
    /// retransmit, when.
    mpl_seen: net::mpl::SeedSet,
    mpl_forwards: Vec<(Instant, Vec<u8, 1280>), 4>,
    /// An Address Query (a/aq) for a mesh-local EID under way: its target, when it gives up,
    /// and the datagram that waits for the answer (OpenThread holds it the same way).
    address_query: Option<(Ipv6Address, Instant, Vec<u8, 1280>)>,
    /// No new Data Request before this (one answer is in flight).
    data_request_holdoff: Instant,
    /// Datagrams queued on sockets since the last `take_datagrams_queued` (rx_cb).
    datagrams_queued: u32,
}

impl Node {
    pub fn new(config: NodeConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut ml_eid_iid = [0u8; 8];
        rng.fill(&mut ml_eid_iid);
        let mac_seed = rng.next_u64();
        // The SLAAC secret keeps this node's addresses stable per prefix.
        let mut slaac_secret = [0u8; 32];
        rng.fill(&mut slaac_secret);
        Node {
            config,
            rng,
            mle: Mle::new(config.ext_addr, config.timing),
            security: frames::Security::new(&config.identity),
            mle_frame_counters: FrameCounterTable::new(),
            mac: Mac::new(
                MacConfig {
                    phy: config.timing.phy,
                    ..MacConfig::new(config.ext_addr, config.identity.pan_id, config.lora)
                },
                mac_seed,
            ),
            ml_eid_iid,
            netdata: crate::netdata::NetworkData::new(),
            netdata_leader: None,
            local_netdata: crate::netdata::local::Local::new(),
            slaac: crate::netdata::slaac::Slaac::new(slaac_secret),
            drops: RxDropCounters::default(),
            datagram_tag: mac_seed as u16,
            reassembler: Reassembler::new(config.timing.reassembly_timeout),
            net: Net::new(),
            ping_replies: heapless::Deque::new(),
            eid_cache: Vec::new(),
            mpl_seen: net::mpl::SeedSet::new(),
            mpl_forwards: Vec::new(),
            address_query: None,
            data_request_holdoff: Instant::ZERO,
            datagrams_queued: 0,
            local_changes_pending: false,
            server_data_holdoff: Instant::ZERO,
            netdata_partition: None,
            server_data_registered_as: None,
            server_data_sent: 0,
            role_time_ms: [0; 5],
            role_clock: None,
        }
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Starts the mesh: detached, then attach (or form a partition).
    pub fn start(&mut self, now: Instant) {
        self.mle.start(now, &mut self.rng);
        self.role_clock = Some(now);
    }

    /// Milliseconds spent in each role since [`Node::start`], indexed by `Role as usize`
    /// (OpenThread's `counters mle` "Time ... Milli" lines). Roles change only inside
    /// [`Node::poll`], so the time between two polls belongs to the role held before the later.
    pub fn role_times_ms(&self, now: Instant) -> [u64; 5] {
        let mut t = self.role_time_ms;
        if let Some(since) = self.role_clock {
            t[self.mle.role() as usize] += now.since(since).millis();
        }
        t
    }

    /// Stops the mesh; queued frames are dropped and the sockets closed.
    pub fn stop(&mut self) {
        self.mle.stop();
        self.mac.clear();
        self.net.sockets.close_all();
    }

    pub fn role(&self) -> Role {
        self.mle.role()
    }
    pub fn rloc16(&self) -> u16 {
        self.mle.rloc16().0
    }
    pub fn is_single(&self) -> bool {
        self.mle.is_single()
    }
    pub fn leader_data(&self) -> Option<LeaderData> {
        self.mle.leader_data()
    }
    pub fn mle(&self) -> &Mle {
        &self.mle
    }
    /// OpenThread's `routerrole enable|disable` (see [`Mle::set_router_eligible`]).
    pub fn set_router_eligible(&mut self, now: Instant, eligible: bool) {
        self.mle.set_router_eligible(now, &mut self.rng, eligible);
    }
    pub fn mle_mut(&mut self) -> &mut Mle {
        &mut self.mle
    }
    pub fn mac(&self) -> &Mac {
        &self.mac
    }
    pub fn mac_counters(&self) -> &MacCounters {
        self.mac.counters()
    }
    /// How many Server Data notifications (`a/sd`) this node has sent to a leader.
    pub fn server_data_registrations(&self) -> u32 {
        self.server_data_sent
    }

    pub fn rx_drops(&self) -> &RxDropCounters {
        &self.drops
    }
    pub fn reassembly_counters(&self) -> &crate::lowpan::reassembly::ReassemblyCounters {
        self.reassembler.counters()
    }
    pub fn net_counters(&self) -> &net::NetCounters {
        self.net.counters()
    }

    /// The leader's extended address, when known (ourselves, or a router we have heard).
    pub fn leader_ext_addr(&self) -> Option<ExtAddress> {
        let ld = self.mle.leader_data()?;
        self.mle
            .routers()
            .iter()
            .find(|r| r.router_id == ld.leader_router_id)
            .and_then(|r| r.ext_addr)
    }

    fn mesh_local(&self, iid: [u8; 8]) -> Ipv6Address {
        Ipv6Address::from_prefix_iid(self.config.identity.mesh_local_prefix, iid)
    }

    /// Mesh-local address for a 16-bit locator: `ML-prefix:0:ff:fe00:xxxx` (RLOC or ALOC).
    pub fn locator_address(&self, locator16: u16) -> Ipv6Address {
        let [hi, lo] = locator16.to_be_bytes();
        self.mesh_local([0, 0, 0, 0xff, 0xfe, 0, hi, lo])
    }

    pub fn link_local_address(&self) -> Ipv6Address {
        frames::link_local(self.config.ext_addr)
    }

    pub fn ml_eid(&self) -> Ipv6Address {
        self.mesh_local(self.ml_eid_iid)
    }

    /// Unicast addresses in Pycom's order: leader ALOC (on the leader), RLOC (when attached),
    /// ML-EID, link-local. Empty when the mesh is disabled.
    pub fn unicast_addresses(&self) -> Vec<Ipv6Address, 8> {
        let mut out = Vec::new();
        let role = self.mle.role();
        if role == Role::Disabled {
            return out;
        }
        // Capacity 8: up to 4 SLAAC addresses, then the 4 below.
        if matches!(role, Role::Child | Role::Router | Role::Leader) {
            for a in self.slaac.addresses() {
                let _ = out.push(a.address);
            }
        }
        if role == Role::Leader {
            let _ = out.push(self.locator_address(0xfc00));
        }
        if matches!(role, Role::Child | Role::Router | Role::Leader) {
            let _ = out.push(self.locator_address(self.rloc16()));
        }
        let _ = out.push(self.ml_eid());
        let _ = out.push(self.link_local_address());
        out
    }

    /// Neighbours: routers we have a link with, our children, our parent.
    pub fn neighbors(&self, now: Instant) -> Vec<NeighborInfo, 80> {
        let mut out = Vec::new();
        for r in self.mle.neighbor_routers() {
            if let (Some(l), Some(ext)) = (r.link, r.ext_addr) {
                let _ = out.push(NeighborInfo {
                    ext_addr: ext,
                    role: Role::Router,
                    rloc16: crate::mle::router_rloc16(r.router_id),
                    avg_rssi: l.avg_rssi(),
                    last_rssi: l.last_rssi,
                    age: now.since(l.last_heard),
                });
            }
        }
        for c in self.mle.children() {
            let _ = out.push(NeighborInfo {
                ext_addr: c.ext_addr,
                role: Role::Child,
                rloc16: c.rloc16,
                avg_rssi: c.link.avg_rssi(),
                last_rssi: c.link.last_rssi,
                age: now.since(c.link.last_heard),
            });
        }
        if let Some(p) = self.mle.parent() {
            let _ = out.push(NeighborInfo {
                ext_addr: p.ext_addr,
                role: Role::Router,
                rloc16: p.rloc16,
                avg_rssi: p.link.avg_rssi(),
                last_rssi: p.link.last_rssi,
                age: now.since(p.link.last_heard),
            });
        }
        out
    }

    /// When `poll` should next be called (`None`: only when the radio reports something).
    pub fn poll_at(&self) -> Option<Instant> {
        [
            self.mle.poll_at(),
            self.mac.poll_at(),
            self.mpl_forwards.iter().map(|(t, _)| *t).min(),
            self.address_query.as_ref().map(|(_, t, _)| *t),
            self.server_data_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How long a realm-local multicast's (seed, sequence) is remembered: OpenThread's 5 s, or
    /// on LoRa 64 frame times (a flood crosses the mesh a few frame times per hop).
    fn mpl_lifetime(&self) -> Duration {
        let ft = self.config.timing.frame_time.millis();
        Duration::from_millis((64 * ft).max(5000))
    }

    /// A realm-local multicast datagram heard from a neighbour: `false` when it is a copy of one
    /// seen before (drop it). A router retransmits a new one, after a random delay
    /// (`mpl_schedule`), hop limit one less.
    fn mpl_receive(&mut self, now: Instant, datagram: &[u8]) -> bool {
        let Some((seed, sequence)) = net::mpl::mpl_of(datagram) else {
            // Without the option nobody forwards it; it is still for us.
            return true;
        };
        let lifetime = self.mpl_lifetime();
        if !self.mpl_seen.insert(now, seed, sequence, lifetime) {
            self.drops.mpl_copies += 1;
            return false;
        }
        let hop_limit = datagram.get(7).copied().unwrap_or(0);
        if hop_limit > 1 && datagram.len() <= 1280 {
            let mut copy = [0u8; 1280];
            copy[..datagram.len()].copy_from_slice(datagram);
            copy[7] = hop_limit - 1;
            self.mpl_schedule(now, &copy[..datagram.len()], 0);
        }
        true
    }

    /// A router's retransmissions of a realm-local multicast, each at a random instant of its
    /// own window after `now` (windows `first`, `first + 1`, ...): OpenThread's MPL trickle
    /// with its 64 ms interval on 802.15.4, a window of [`MPL_WINDOW_FRAME_TIMES`] frame
    /// times on LoRa. There is no ack for a broadcast: a single copy lost to a collision
    /// would end the flood on that side (measured in a line of five in the simulator), so
    /// every router sends it [`MPL_TRANSMISSIONS`] times in all, the originator included.
    fn mpl_schedule(&mut self, now: Instant, datagram: &[u8], first: u32) {
        if !self.mle.role().is_router_or_leader() {
            return;
        }
        let window = match self.config.timing.phy {
            mac::Phy::LoRa => {
                MPL_WINDOW_FRAME_TIMES * self.config.timing.frame_time.millis() as u32
            }
            mac::Phy::Ieee802154 => 64,
        };
        for k in first..MPL_TRANSMISSIONS {
            let Ok(copy) = Vec::from_slice(datagram) else {
                return;
            };
            let at =
                now + Duration::from_millis((k * window + self.rng.range_u32(0, window)) as u64);
            if self.mpl_forwards.push((at, copy)).is_err() {
                return;
            }
        }
    }

    /// Retransmits the realm-local multicasts that are due; gives up an Address Query that
    /// went unanswered (its datagram is dropped, as OpenThread does).
    fn poll_mpl_and_queries(&mut self, now: Instant) {
        while let Some(i) = self.mpl_forwards.iter().position(|(t, _)| now >= *t) {
            let (_, d) = self.mpl_forwards.swap_remove(i);
            self.drops.mpl_forwarded += 1;
            let _ = self.send_ip(now, &d);
        }
        if self
            .address_query
            .as_ref()
            .is_some_and(|(_, t, _)| now >= *t)
        {
            self.address_query = None;
            self.drops.address_queries_failed += 1;
        }
    }

    /// Sends an Address Query (a/aq, non-confirmable, to ff03::2 with MPL) for `target` from
    /// our RLOC, as OpenThread's `AddressResolver::SendAddressQuery`.
    fn send_address_query(&mut self, now: Instant, target: Ipv6Address) -> Result<(), SendError> {
        let addrs = self.addresses();
        let src = addrs.rloc().ok_or(SendError::NoRoute)?;
        let tlvs = TmfRepr::address_query(target).map_err(|_| SendError::Malformed)?;
        let mut payload = [0u8; 32];
        let n = tlvs.emit(&mut payload).map_err(|_| SendError::Malformed)?;
        let message_id = self.rng.next_u32() as u16;
        let token = (self.rng.next_u32() as u16).to_be_bytes();
        let mut req = coap::Repr {
            msg_type: MessageType::NonConfirmable,
            code: crate::wire::coap::Code::POST,
            message_id,
            token: &token,
            options: heapless::Vec::new(),
            payload: &payload[..n],
        };
        req.push_uri_path(tmf::uri::ADDRESS_QUERY)
            .map_err(|_| SendError::Malformed)?;
        let mut msg = [0u8; 64];
        let len = req.emit(&mut msg).map_err(|_| SendError::Malformed)?;
        let dst = Ipv6Address::REALM_LOCAL_ALL_ROUTERS;
        let tag = self.net.mpl_tag(&dst, &addrs);
        let mut out = [0u8; 128];
        let n = net::build::build_udp_mpl(
            &src,
            &dst,
            TMF_PORT,
            TMF_PORT,
            &msg[..len],
            net::DEFAULT_HOP_LIMIT,
            tag,
            &mut out,
        )
        .map_err(|_| SendError::Malformed)?;
        self.drops.address_queries_sent += 1;
        self.send_ip(now, &out[..n])
    }

    /// One MAC poll (transmit what is due, read the radio) and the frames it received handled;
    /// returns how many.
    fn poll_mac(&mut self, now: Instant, radio: &mut dyn Radio) -> u16 {
        self.mac.set_short_address(self.mle.rloc16());
        let mut received: Vec<RxFrame, 8> = Vec::new();
        let lookup = Lookup(&self.mle);
        self.mac.poll(
            now,
            radio,
            &self.security.keys,
            &lookup,
            &mut |ind: mac::RxIndication<'_>| {
                let Ok(payload) = Vec::from_slice(ind.payload) else {
                    return;
                };
                let _ = received.push(RxFrame {
                    src: ind.src,
                    src_ext: ind.src_ext,
                    dst: ind.dst,
                    rssi: ind.rssi_dbm,
                    link_margin: ind.link_margin_db,
                    payload,
                });
            },
            &mut |_, _| {},
        );
        for f in &received {
            self.handle_frame(now, f);
        }
        received.len() as u16
    }

    /// Runs everything due at `now`: radio events, timers, transmissions.
    pub fn poll(&mut self, now: Instant, radio: &mut dyn Radio) -> PollResult {
        let mut result = PollResult::default();
        if let Some(since) = self.role_clock {
            self.role_time_ms[self.mle.role() as usize] += now.since(since).millis();
            self.role_clock = Some(now);
        }
        if self.mle.role() == Role::Disabled {
            return result;
        }
        result.frames_received = self.poll_mac(now, radio);
        self.poll_mpl_and_queries(now);
        let mut commands: Vec<MleCommand, 8> = Vec::new();
        self.mle.set_duty_pressure(self.short_of_duty_budget(now));
        self.mle.poll(now, &mut self.rng, &mut |c| {
            let _ = commands.push(c);
        });
        for c in commands {
            self.send(now, &c);
        }
        self.sync_leadership(now);
        // Anything queued above may go out now (MAC timers permitting). Frames that arrived
        // meanwhile (this poll reads the radio too, and has acked them) are handled as well:
        // dropping them lost the echo reply an OpenThread node sent 8 us after our ack.
        result.frames_received += self.poll_mac(now, radio);
        result
    }

    fn send(&mut self, now: Instant, command: &MleCommand) {
        let ctx = Context {
            ext_addr: self.config.ext_addr,
            identity: &self.config.identity,
            mac_frame_counter: self.mac.frame_counter(),
            network_data: self.netdata.as_bytes(),
        };
        match frames::build(&ctx, &mut self.security, &self.mle, command) {
            Ok(frames::Built::Frame(out)) => {
                let retries = match command {
                    MleCommand::ParentResponse { .. } => {
                        Some(self.mle.timing().parent_response_retries)
                    }
                    _ => None,
                };
                self.enqueue_mle(now, &out, retries)
            }
            Ok(frames::Built::Datagram(d)) => {
                let _ = self.send_ip(now, &d);
            }
            Err(_) => self.drops.build_failed += 1,
        }
    }

    /// Remembers that EID `eid` was heard from `rloc16` (OpenThread's "snooped" address
    /// cache): answers can then reach it without an address query. Mesh-local EIDs and
    /// addresses in border-router prefixes (an OpenThread node's SLAAC address); not link-local
    /// or multicast sources, nor locators (RLOC/ALOC: their RLOC16 is in the address).
    fn snoop_eid(&mut self, eid: Ipv6Address, rloc16: u16) {
        let iid = eid.iid();
        let mesh_local = eid.prefix64() == self.config.identity.mesh_local_prefix;
        if (mesh_local && iid[..6] == [0, 0, 0, 0xff, 0xfe, 0])
            || eid.is_multicast()
            || eid.0[..8] == [0xfe, 0x80, 0, 0, 0, 0, 0, 0]
            || eid.0 == [0; 16]
        {
            return;
        }
        self.eid_cache.retain(|(e, _)| *e != eid);
        if self.eid_cache.is_full() {
            self.eid_cache.remove(0);
        }
        let _ = self.eid_cache.push((eid, rloc16));
    }

    /// The RLOC16 an IPv6 destination lives at: a mesh-local locator (RLOC, or the leader
    /// ALOC), or an EID seen recently or resolved by an Address Query.
    fn locator_of(&self, dst: &Ipv6Address) -> Option<u16> {
        let iid = dst.iid();
        // An EID heard from recently (in a border-router prefix too: the node that sent from
        // it is on the mesh, not behind the border router).
        if let Some((_, r)) = self.eid_cache.iter().find(|(e, _)| e == dst) {
            return Some(*r);
        }
        if dst.prefix64() != self.config.identity.mesh_local_prefix {
            // Outside the mesh: the border router announcing the best prefix for it.
            let mle = &self.mle;
            return self
                .netdata
                .border_router_for(dst, |r| {
                    mle.next_hop(r.0)
                        .map(|(_, c)| c)
                        .unwrap_or(crate::mle::MAX_ROUTE_COST)
                })
                .map(|(r, _)| r.0);
        }
        if iid[..6] != [0, 0, 0, 0xff, 0xfe, 0] {
            return self
                .eid_cache
                .iter()
                .find(|(e, _)| e == dst)
                .map(|(_, r)| *r);
        }
        let loc = u16::from_be_bytes([iid[6], iid[7]]);
        if loc == 0xfc00 {
            return self.mle.leader_rloc16();
        }
        Some(loc)
    }

    /// Routes an IPv6 datagram: to a neighbour by its link-local address, to a link-local
    /// multicast group, or through the mesh to a locator (mesh header when the next hop is not
    /// the destination), compressed and fragmented to fit LoRa frames, MAC-secured.
    pub fn send_ip(&mut self, now: Instant, datagram: &[u8]) -> Result<(), SendError> {
        let p =
            crate::wire::ipv6::Packet::new_checked(datagram).map_err(|_| SendError::Malformed)?;
        let dst = p.dst_addr();
        // To one of our own addresses: looped back, as OpenThread's IPv6 layer does.
        if !dst.is_multicast() && self.addresses().is_unicast(&dst) {
            self.deliver_ip(now, datagram);
            return Ok(());
        }
        let own = self.mle.rloc16();
        let attached = own != ShortAddress::INVALID;
        let link_src = if attached {
            LinkAddress::Short(own)
        } else {
            LinkAddress::Extended(self.config.ext_addr)
        };
        let (mac_dst, mesh) = if dst.is_link_local() {
            (Address::Extended(ExtAddress::from_iid(dst.iid())), None)
        } else if dst.is_multicast() && (dst.0[1] & 0x0f) >= 2 {
            // Link-local groups: one broadcast. Realm-local and larger: the broadcast seeds an
            // MPL flood (our own copy is known, so it is not taken back from a forwarder).
            if net::build::needs_mpl(&dst) {
                if let Some((seed, sequence)) = net::mpl::mpl_of(datagram) {
                    let lifetime = self.mpl_lifetime();
                    if self.mpl_seen.insert(now, seed, sequence, lifetime) {
                        // Ours, sent now: a router repeats it as it would a neighbour's.
                        self.mpl_schedule(now, datagram, 1);
                    }
                }
            }
            (Address::Short(ShortAddress::BROADCAST), None)
        } else if let Some(rloc16) = self.locator_of(&dst) {
            if rloc16 == own.0 {
                // Inside a prefix we serve as border router: ours to deliver (0xBB header).
                self.deliver_ip(now, datagram);
                return Ok(());
            }
            let (next_hop, _) = self.mle.next_hop(rloc16).ok_or(SendError::NoRoute)?;
            let mesh = (next_hop != rloc16).then(|| {
                MeshHeaderRepr::new(
                    MESH_HEADER_HOPS_LEFT,
                    LinkAddress::Short(own),
                    LinkAddress::Short(ShortAddress(rloc16)),
                )
            });
            (Address::Short(ShortAddress(next_hop)), mesh)
        } else if attached
            && dst.prefix64() == self.config.identity.mesh_local_prefix
            && self.address_query.is_none()
        {
            // A mesh-local EID we have not heard from: ask the mesh where it lives (a/aq),
            // holding the datagram until the Address Notification comes.
            let held = Vec::from_slice(datagram).map_err(|_| SendError::Malformed)?;
            let deadline = now + self.mle.timing().address_solicit_timeout;
            self.send_address_query(now, dst)?;
            self.address_query = Some((dst, deadline, held));
            return Ok(());
        } else {
            return Err(SendError::NoRoute);
        };
        let link_dst = match mac_dst {
            Address::Short(s) => LinkAddress::Short(s),
            Address::Extended(e) => LinkAddress::Extended(e),
        };
        self.datagram_tag = self.datagram_tag.wrapping_add(1);
        let secure = true;
        let max_payload = mac_payload_budget(mac_dst, attached, secure);
        let mut fragmenter = Fragmenter::new(
            datagram,
            &link_src,
            &link_dst,
            mesh,
            &self.security.contexts,
            self.datagram_tag,
            max_payload,
        )
        .map_err(|_| SendError::Malformed)?;
        let retries = self.data_frame_retries(fragmenter.is_fragmented());
        let mut frame = [0u8; MAX_FRAME_LEN];
        while let Some(n) = fragmenter
            .next_frame(&mut frame)
            .map_err(|_| SendError::Malformed)?
        {
            self.mac
                .enqueue_with_retries(
                    now,
                    &TxRequest {
                        dst: mac_dst,
                        src_short: attached,
                        secure,
                        payload: &frame[..n],
                    },
                    retries,
                )
                .map_err(|_| SendError::QueueFull)?;
        }
        Ok(())
    }

    fn enqueue_mle(&mut self, now: Instant, out: &Outgoing, retries: Option<u8>) {
        self.mac.set_short_address(self.mle.rloc16());
        let req = TxRequest {
            dst: out.dst,
            src_short: out.src_short,
            secure: out.secure,
            payload: &out.payload,
        };
        // MLE: network control, before data (OpenThread's `kPriorityNet`).
        let retries = retries.unwrap_or(self.mac.config().max_frame_retries);
        let _ = self.mac.enqueue_priority(now, &req, retries);
    }

    fn handle_frame(&mut self, now: Instant, f: &RxFrame) {
        if let Some(ext) = f.src_ext {
            self.mle.heard(now, ext, f.link_margin, f.rssi);
        }
        // A mesh header for someone else: forward it, hop count decremented.
        if f.payload.first().is_some_and(|b| b & 0xc0 == 0x80) {
            let Ok(m) = MeshHeaderPacket::new_checked(&f.payload[..])
                .and_then(|p| MeshHeaderRepr::parse(&p).map(|r| (r, p.header_len())))
            else {
                self.drops.malformed += 1;
                return;
            };
            let (mesh, header_len) = m;
            if let LinkAddress::Short(final_dst) = mesh.final_destination {
                if final_dst != self.mle.rloc16() {
                    self.forward(now, mesh, &f.payload[header_len..]);
                    return;
                }
            }
        }
        let mac_src = match f.src {
            Address::Short(s) => LinkAddress::Short(s),
            Address::Extended(e) => LinkAddress::Extended(e),
        };
        let mac_dst = match f.dst {
            Address::Short(s) => LinkAddress::Short(s),
            Address::Extended(e) => LinkAddress::Extended(e),
        };
        let Ok(lowpan) =
            sixlowpan::FrameRepr::parse(&f.payload, &mac_src, &mac_dst, &self.security.contexts)
        else {
            self.drops.malformed += 1;
            return;
        };
        // The RLOC16 the datagram came from (mesh originator, else the MAC source): lets us
        // learn where its source address lives.
        let origin = match (lowpan.mesh.map(|m| m.originator), mac_src) {
            (Some(LinkAddress::Short(s)), _) | (None, LinkAddress::Short(s)) => Some(s.0),
            _ => None,
        };
        let mut buf = [0u8; 1280];
        let datagram: &[u8] = if lowpan.fragment.is_some() {
            match self.reassembler.process(now, &mac_src, &lowpan) {
                Ok(Some(d)) => {
                    let n = d.len().min(buf.len());
                    buf[..n].copy_from_slice(&d[..n]);
                    &buf[..n]
                }
                Ok(None) => return,
                Err(_) => {
                    self.drops.malformed += 1;
                    return;
                }
            }
        } else {
            let FramePayload::Iphc { header, payload } = &lowpan.payload else {
                self.drops.malformed += 1;
                return;
            };
            match header.decompress(payload, None, &mut buf) {
                Ok(n) => &buf[..n],
                Err(_) => {
                    self.drops.malformed += 1;
                    return;
                }
            }
        };
        let control_port = crate::wire::ipv6::Packet::new_checked(datagram)
            .ok()
            .and_then(|p| {
                if p.next_header() != crate::wire::ipv6::next_header::UDP {
                    return None;
                }
                let u = crate::wire::udp::Packet::new_checked(p.payload()).ok()?;
                [crate::wire::mle_security::UDP_PORT, TMF_PORT]
                    .contains(&u.dst_port())
                    .then_some(u.dst_port())
            });
        if control_port.is_none() {
            if let Ok(p) = crate::wire::ipv6::Packet::new_checked(datagram) {
                if net::build::needs_mpl(&p.dst_addr()) && !self.mpl_receive(now, datagram) {
                    return;
                }
                if let Some(rloc16) = origin {
                    self.snoop_eid(p.src_addr(), rloc16);
                }
            }
            self.deliver_ip(now, datagram);
            return;
        }
        let datagram = match frames::Datagram::from_ipv6(datagram) {
            Ok(d) => d,
            Err(_) => {
                self.drops.malformed += 1;
                return;
            }
        };
        match datagram.udp {
            Some((_, crate::wire::mle_security::UDP_PORT, _)) => self.handle_mle(now, f, &datagram),
            Some((_, TMF_PORT, start)) => self.handle_tmf(now, &datagram, start),
            _ => self.drops.not_handled += 1,
        }
    }

    /// The node's addresses as the IPv6 service sees them.
    pub fn addresses(&self) -> NodeAddresses {
        let role = self.mle.role();
        let attached = matches!(role, Role::Child | Role::Router | Role::Leader);
        let mut aloc16s = Vec::new();
        if role == Role::Leader {
            let _ = aloc16s.push(0xfc00);
        }
        NodeAddresses {
            mesh_local_prefix: self.config.identity.mesh_local_prefix,
            link_local: self.link_local_address(),
            ml_eid: self.ml_eid(),
            rloc16: attached.then_some(self.rloc16()),
            aloc16s,
            slaac: self
                .slaac
                .addresses()
                .iter()
                .take(4)
                .map(|a| a.address)
                .collect(),
            // OpenThread subscribes every attached FTD, children too, to the all-routers groups
            // (`Mle::HandleChildStart`): Address Queries go to ff03::2 and an FTD child answers
            // for itself (its parent does not answer for FTD children).
            is_router: attached,
        }
    }

    /// A datagram for the IPv6 service: sockets, ping replies, echo requests.
    fn deliver_ip(&mut self, now: Instant, datagram: &[u8]) {
        let addrs = self.addresses();
        match self.net.deliver(now, datagram, &addrs) {
            Delivery::EchoRequest(req) => {
                let mut reply = [0u8; 1280];
                if let Ok(n) = net::build::build_echo_reply(datagram, &req, &addrs, &mut reply) {
                    let _ = self.send_ip(now, &reply[..n]);
                }
            }
            Delivery::PingReply(r) => {
                let _ = self.ping_replies.push_back(r);
            }
            Delivery::Socket { .. } => {
                self.datagrams_queued = self.datagrams_queued.saturating_add(1)
            }
            // TMF behind extension headers: realm-local multicast carries an MPL option (an
            // OpenThread Address Query to ff03::2). Plain UDP ones went to `handle_tmf` before.
            Delivery::Tmf(meta) => {
                let Ok(bytes) = Vec::from_slice(datagram) else {
                    self.drops.not_handled += 1;
                    return;
                };
                let d = frames::Datagram {
                    bytes,
                    src: meta.src,
                    dst: meta.dst,
                    udp: Some((meta.src_port, meta.dst_port, meta.payload_offset)),
                };
                self.handle_tmf(now, &d, meta.payload_offset);
            }
            Delivery::Icmp { .. } | Delivery::Dropped(_) | Delivery::Mle(_) => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Sockets (the Python `socket.AF_LORA` API).

    pub fn socket_open(&mut self) -> Result<SocketId, NetError> {
        self.net.sockets.open()
    }
    pub fn socket_bind(
        &mut self,
        id: SocketId,
        addr: Option<Ipv6Address>,
        port: u16,
    ) -> Result<(), NetError> {
        match addr {
            Some(a) if !a.is_unspecified() => self.net.sockets.bind_addr(id, a, port),
            _ => self.net.sockets.bind(id, port),
        }
    }
    /// Sends `payload` to `dst`:`port`; the byte count on success.
    pub fn socket_sendto(
        &mut self,
        now: Instant,
        id: SocketId,
        dst: &Ipv6Address,
        port: u16,
        payload: &[u8],
    ) -> Result<usize, NetError> {
        let addrs = self.addresses();
        let mut datagram = [0u8; 1280];
        let n = self
            .net
            .sendto(id, dst, port, payload, &addrs, &mut datagram)?;
        self.send_ip(now, &datagram[..n]).map_err(|e| match e {
            SendError::NoRoute => NetError::HostUnreachable,
            SendError::Malformed => NetError::MessageTooLong,
            SendError::QueueFull => NetError::NoBuffers,
        })?;
        Ok(payload.len())
    }
    /// The oldest queued datagram: (length copied, source address, source port).
    pub fn socket_recv(
        &mut self,
        id: SocketId,
        buf: &mut [u8],
    ) -> Option<(usize, Ipv6Address, u16)> {
        self.net.sockets.recv(id, buf)
    }
    pub fn socket_pending(&self, id: SocketId) -> usize {
        self.net.sockets.pending(id)
    }
    pub fn socket_close(&mut self, id: SocketId) {
        self.net.sockets.close(id)
    }
    /// Datagrams queued on any socket since the last call: `rx_cb` runs once for each.
    pub fn take_datagrams_queued(&mut self) -> u32 {
        core::mem::take(&mut self.datagrams_queued)
    }
    /// Sockets that got a datagram since the last call (bit per socket), for `rx_cb`.
    pub fn take_socket_notifications(&mut self) -> u8 {
        self.net.sockets.take_notifications()
    }
    /// Sends an ICMPv6 echo request (`cli('ping ...')`).
    pub fn ping(
        &mut self,
        now: Instant,
        dst: &Ipv6Address,
        ident: u16,
        seq: u16,
        size: u16,
    ) -> Result<(), NetError> {
        let addrs = self.addresses();
        let mut datagram = [0u8; 1280];
        let n = self
            .net
            .ping(now, dst, ident, seq, size, 64, &addrs, &mut datagram)?;
        self.send_ip(now, &datagram[..n])
            .map_err(|_| NetError::HostUnreachable)
    }
    /// Echo replies received, oldest first.
    pub fn take_ping_reply(&mut self) -> Option<net::PingReply> {
        self.ping_replies.pop_front()
    }

    /// MAC retries of a data frame: more for a 6LoWPAN fragment, whose loss loses its whole
    /// datagram (`Timing::fragment_retries`).
    fn data_frame_retries(&self, fragment: bool) -> u8 {
        if fragment {
            self.config.timing.fragment_retries
        } else {
            self.mac.config().max_frame_retries
        }
    }

    /// Sends a mesh-header frame on towards its final destination.
    fn forward(&mut self, now: Instant, mut mesh: MeshHeaderRepr, rest: &[u8]) {
        let LinkAddress::Short(final_dst) = mesh.final_destination else {
            self.drops.forward_failed += 1;
            return;
        };
        if !self.mle.role().is_router_or_leader() || mesh.hops_left <= 1 {
            self.drops.forward_failed += 1;
            return;
        }
        let Some((next_hop, _)) = self.mle.next_hop(final_dst.0) else {
            self.drops.forward_failed += 1;
            return;
        };
        mesh.hops_left -= 1;
        let mut frame = [0u8; MAX_FRAME_LEN];
        let Ok(n) = mesh.emit(&mut frame) else { return };
        let Some(slot) = frame.get_mut(n..n + rest.len()) else {
            self.drops.forward_failed += 1;
            return;
        };
        slot.copy_from_slice(rest);
        let req = TxRequest {
            dst: Address::Short(ShortAddress(next_hop)),
            src_short: true,
            secure: true,
            payload: &frame[..n + rest.len()],
        };
        let retries = self.data_frame_retries(FragmentHeaderPacket::new_checked(rest).is_ok());
        if self.mac.enqueue_with_retries(now, &req, retries).is_ok() {
            self.drops.forwarded += 1;
        } else {
            self.drops.forward_failed += 1;
        }
    }

    fn handle_mle(&mut self, now: Instant, f: &RxFrame, datagram: &frames::Datagram) {
        let opened = match frames::open_mle(&self.security.keys, datagram) {
            Ok(o) => o,
            Err(RxError::Security) => {
                self.drops.mle_security += 1;
                return;
            }
            Err(_) => {
                self.drops.malformed += 1;
                return;
            }
        };
        let Ok(message) = MleRepr::parse(&opened.plain) else {
            self.drops.malformed += 1;
            return;
        };
        // Replay protection (MLE frame counters) for established neighbours. Messages that
        // open a handshake (Parent Request, Link Request) are safe to take from anyone, since
        // only an answer echoing our fresh challenge counts: they restart the counter, so a
        // node that rebooted (counters from 0 again) can attach or link again at once.
        let opens_handshake = matches!(
            message.command,
            crate::wire::mle::Command::ParentRequest | crate::wire::mle::Command::LinkRequest
        );
        if opens_handshake || !self.mle.is_neighbor(&opened.sender) {
            self.mle_frame_counters.remove(&opened.sender);
        }
        if self
            .mle_frame_counters
            .accept(
                &opened.sender,
                self.security.keys.key_sequence(),
                opened.frame_counter,
            )
            .is_err()
        {
            self.drops.mle_security += 1;
            return;
        }
        // A router short of duty-cycle budget does not answer Parent Requests: its answer
        // would leave late (useless to the requester) and starve its own Advertisements.
        if message.command == crate::wire::mle::Command::ParentRequest
            && self.short_of_duty_budget(now)
        {
            self.drops.parent_requests_ignored += 1;
            return;
        }
        let rx = Received {
            sender: opened.sender,
            message: &message,
            link_margin: f.link_margin,
            rssi: f.rssi,
            frame_counter: opened.frame_counter,
        };
        let mut commands: Vec<MleCommand, 4> = Vec::new();
        self.mle.set_duty_pressure(self.short_of_duty_budget(now));
        self.mle.handle(now, &mut self.rng, &rx, &mut |c| {
            let _ = commands.push(c);
        });
        for c in commands {
            self.send(now, &c);
        }
        self.adopt_network_data(now, &message);
        self.pull_network_data(now, &rx);
    }

    /// Past 80 % of the hour's duty-cycle budget: Parent Requests go unanswered and
    /// Advertisement resets are skipped, so that the budget left carries the Advertisements.
    fn short_of_duty_budget(&self, now: Instant) -> bool {
        let (used, budget) = self.mac.duty_cycle_usage(now);
        budget.millis() > 0 && used.millis() * 5 > budget.millis() * 4
    }

    /// Network data is pushed (Data Responses to ff02::1) and pulled: a router answers a Data
    /// Request, and a node that hears Leader Data newer than its network data asks the sender
    /// for it, so a Data Response lost to a collision is fetched again (OpenThread's
    /// `HandleAdvertisement` / `HandleDataRequest`).
    fn pull_network_data(&mut self, now: Instant, rx: &Received<'_>) {
        use crate::wire::mle::Command;
        let role = self.mle.role();
        match rx.message.command {
            Command::DataRequest if role.is_router_or_leader() => {
                self.send(now, &MleCommand::DataResponseTo { to: rx.sender });
            }
            Command::Advertisement
                if matches!(role, Role::Child | Role::Router) && self.netdata_leader.is_none() =>
            {
                let (Some(theirs), Some(ours)) = (rx.message.leader_data(), self.mle.leader_data())
                else {
                    return;
                };
                let newer = (theirs.data_version.wrapping_sub(self.netdata.version()) as i8) > 0;
                if theirs.partition_id == ours.partition_id
                    && newer
                    && now >= self.data_request_holdoff
                {
                    self.data_request_holdoff = now + self.mle.timing().link_accept_timeout;
                    self.send(now, &MleCommand::DataRequest { to: rx.sender });
                }
            }
            _ => {}
        }
    }

    /// Network data carried by a message of our partition (Data Response, Child ID Response)
    /// newer than ours: keep it, update SLAAC, and pass it on to our neighbours (routers re-
    /// announce it as OpenThread routers do).
    fn adopt_network_data(&mut self, now: Instant, message: &MleRepr<'_>) {
        let (Some(nd), Some(ld), Some(ours)) = (
            message.network_data(),
            message.leader_data(),
            self.mle.leader_data(),
        ) else {
            return;
        };
        if ld.partition_id != ours.partition_id || self.netdata_leader.is_some() {
            return;
        }
        // Versions compare only within a partition: after a merge our copy is the old
        // partition's, and its version may well be "newer" than the new leader's (a border
        // router kept its old prefix entry and never learnt the new partition's data).
        let other_partition = self.netdata_partition != Some(ld.partition_id);
        let newer = other_partition
            || self.netdata.is_empty() && !nd.as_bytes().is_empty()
            || (ld.data_version.wrapping_sub(self.netdata.version()) as i8) > 0;
        if !newer
            || self
                .netdata
                .set(ld.data_version, ld.stable_data_version, nd.as_bytes())
                .is_err()
        {
            return;
        }
        self.netdata_partition = Some(ld.partition_id);
        self.slaac.update(&self.netdata);
        self.sync_lowpan_contexts();
        self.mle
            .set_network_data_versions(ld.data_version, ld.stable_data_version);
        self.mle.request_data_response();
        self.sync_border_router(now);
    }

    /// Follows the leader role: the new leader takes the network data over (OpenThread's
    /// `Leader::Start`) and registers its own prefixes; a node that stops leading drops the
    /// store. Also makes sure our prefixes are in the leader's data.
    fn sync_leadership(&mut self, now: Instant) {
        let leading = self.mle.role() == Role::Leader;
        if leading && self.netdata_leader.is_none() {
            let leader = if self.netdata.is_empty() {
                let ld = self.mle.leader_data();
                crate::netdata::leader::Leader::new(
                    ld.map(|l| l.data_version).unwrap_or(0),
                    ld.map(|l| l.stable_data_version).unwrap_or(0),
                )
            } else {
                crate::netdata::leader::Leader::from_network_data(&self.netdata, now)
            };
            self.netdata_leader = Some(leader);
            self.publish_leader_data(now);
        } else if !leading && self.netdata_leader.is_some() {
            self.netdata_leader = None;
        }
        if leading
            && !self.local_changes_pending
            && !self
                .local_netdata
                .is_registered_in(&self.netdata, self.mle.rloc16())
        {
            self.register_server_data(now);
        }
        if self.server_data_due().is_some_and(|at| now >= at) {
            self.register_server_data(now);
        }
    }

    fn server_data_holdoff_period(&self) -> Duration {
        Duration::from_millis(SERVER_DATA_HOLDOFF_IMAX * self.config.timing.trickle_imax.millis())
    }

    /// When a router or child must send its Server Data to the leader again: the partition's
    /// network data lacks our prefixes or holds entries we withdrew (OpenThread's network data
    /// notifier). That happens after a merge into another partition (its data never had them),
    /// a new RLOC16 (child to router) or a lost registration; once per
    /// [`SERVER_DATA_HOLDOFF_IMAX`] Imax, the time the leader's new data takes to come back.
    fn server_data_due(&self) -> Option<Instant> {
        let attached = matches!(self.mle.role(), Role::Child | Role::Router);
        (attached
            && !self.local_changes_pending
            && !self
                .local_netdata
                .is_registered_in(&self.netdata, self.mle.rloc16()))
        .then_some(self.server_data_holdoff)
    }

    /// The leader's store changed (or was created): our copy, the Leader Data versions and
    /// SLAAC follow, and the data is announced.
    fn publish_leader_data(&mut self, now: Instant) {
        let Some(leader) = self.netdata_leader.as_ref() else {
            return;
        };
        self.netdata = leader.network_data().clone();
        self.netdata_partition = self.mle.leader_data().map(|l| l.partition_id);
        self.mle
            .set_network_data_versions(leader.version(), leader.stable_version());
        self.slaac.update(&self.netdata);
        self.sync_lowpan_contexts();
        self.mle.request_data_response();
        self.sync_border_router(now);
    }

    /// 6LoWPAN contexts: 0 for the mesh-local prefix, then those of the network data's
    /// prefixes (1-15). OpenThread compresses addresses in a border-router prefix with its
    /// context; without it such a datagram could not be decompressed here.
    fn sync_lowpan_contexts(&mut self) {
        let mut table =
            sixlowpan::ContextTable::with_mesh_local_prefix(self.config.identity.mesh_local_prefix);
        for c in self.netdata.contexts() {
            if c.context_id != 0 {
                let _ = table.insert(sixlowpan::Context {
                    id: c.context_id,
                    prefix: c.prefix,
                    prefix_len: c.length,
                    compress: c.compress,
                });
            }
        }
        self.security.contexts = table;
    }

    /// Registers this node's border-router prefixes with the leader (directly on the leader,
    /// else TMF Server Data).
    fn register_server_data(&mut self, now: Instant) {
        // The next try waits even when nothing goes out below (no leader route, no data):
        // `poll_at` would otherwise stay in the past.
        self.server_data_holdoff = now + self.server_data_holdoff_period();
        let rloc16 = self.mle.rloc16();
        let Ok(data) = self.local_netdata.server_data(rloc16) else {
            return;
        };
        // The RLOC16 we registered under before, if in this partition and not ours now.
        let partition = self.mle.leader_data().map(|l| l.partition_id);
        let old_rloc16 = self
            .server_data_registered_as
            .filter(|&(p, r)| Some(p) == partition && r != rloc16)
            .map(|(_, r)| r);
        if let Some(p) = partition {
            self.server_data_registered_as = Some((p, rloc16));
        }
        if let Some(leader) = self.netdata_leader.as_mut() {
            if let Some(old) = old_rloc16 {
                leader.remove_border_router(old, now);
            }
            let result = if data.is_empty() {
                Ok(leader.remove_border_router(rloc16, now))
            } else {
                leader.register_server_data(rloc16, &data, now)
            };
            if result.is_ok() {
                self.publish_leader_data(now);
            }
            return;
        }
        let Some(leader_rloc16) = self.mle.leader_rloc16() else {
            return;
        };
        let Ok(data) = Vec::from_slice(&data) else {
            return;
        };
        self.server_data_sent += 1;
        let message_id = self.mle.allocate_message_id();
        let token = (self.rng.next_u32() as u16).to_be_bytes();
        self.send(
            now,
            &MleCommand::ServerData {
                leader_rloc16,
                message_id,
                token,
                data,
                old_rloc16: old_rloc16.map(|r| r.0),
            },
        );
    }

    /// The IPv6 service learns our prefixes (border-router delivery with the 0xBB header).
    fn sync_border_router(&mut self, _now: Instant) {
        let mut prefixes: Vec<(Ipv6Address, u8), 4> = Vec::new();
        for p in self.local_netdata.on_mesh_prefixes() {
            let _ = prefixes.push((p.prefix, p.length));
        }
        self.net.set_border_router_prefixes(&prefixes);
    }

    // -----------------------------------------------------------------------------------------
    // Border router (`border_router(net, pref)`, `border_router_del(net)`).

    /// Announces `prefix/length` as an on-mesh prefix this node routes for, with Pymesh's
    /// flags (preferred, SLAAC, default route, on-mesh, stable) and `preference` (-1, 0, 1).
    pub fn border_router_add(
        &mut self,
        now: Instant,
        prefix: Ipv6Address,
        length: u8,
        preference: i8,
    ) -> Result<(), crate::wire::Error> {
        self.local_netdata.remove_on_mesh_prefix(prefix, length);
        self.local_netdata.add_on_mesh_prefix(
            prefix,
            length,
            preference,
            crate::netdata::local::PYMESH_BORDER_ROUTER_FLAGS,
            true,
        )?;
        self.sync_border_router(now);
        self.register_server_data(now);
        Ok(())
    }

    /// Withdraws a prefix; false when it was not ours.
    pub fn border_router_remove(&mut self, now: Instant, prefix: Ipv6Address, length: u8) -> bool {
        let removed = self.local_netdata.remove_on_mesh_prefix(prefix, length);
        if removed {
            self.sync_border_router(now);
            self.register_server_data(now);
        }
        removed
    }

    /// `prefix add`: stores an on-mesh prefix in the local network data without telling the
    /// leader (OpenThread's `otBorderRouterAddOnMeshPrefix`); `netdata register` sends it.
    pub fn local_prefix_add(
        &mut self,
        prefix: Ipv6Address,
        length: u8,
        preference: i8,
        flags: u16,
        stable: bool,
    ) -> Result<(), crate::wire::Error> {
        self.local_netdata
            .add_on_mesh_prefix(prefix, length, preference, flags, stable)?;
        self.local_changes_pending = true;
        Ok(())
    }

    /// `prefix remove`: drops a prefix from the local network data (registered on `netdata
    /// register`); false when it was not there.
    pub fn local_prefix_remove(&mut self, prefix: Ipv6Address, length: u8) -> bool {
        let removed = self.local_netdata.remove_on_mesh_prefix(prefix, length);
        self.local_changes_pending |= removed;
        removed
    }

    /// `netdata register`: the local network data goes to the leader (the path
    /// `border_router()` takes), and the IPv6 service learns the prefixes it now serves.
    pub fn netdata_register(&mut self, now: Instant) {
        self.local_changes_pending = false;
        self.sync_border_router(now);
        self.register_server_data(now);
    }

    /// The local on-mesh prefixes with their flags (`prefix` in the CLI).
    pub fn local_prefixes(&self) -> &[crate::netdata::local::OnMeshPrefixConfig] {
        self.local_netdata.on_mesh_prefixes()
    }

    /// This node's border-router prefixes: (prefix, length, preference).
    pub fn border_routers(&self) -> Vec<(Ipv6Address, u8, i8), 8> {
        self.local_netdata
            .on_mesh_prefixes()
            .iter()
            .map(|p| (p.prefix, p.length, p.preference))
            .collect()
    }

    /// The partition's network data.
    pub fn network_data(&self) -> &crate::netdata::NetworkData {
        &self.netdata
    }

    fn handle_tmf(&mut self, now: Instant, datagram: &frames::Datagram, start: usize) {
        let Some(bytes) = datagram.bytes.get(start..) else {
            return;
        };
        let Ok(msg) = coap::Repr::parse(bytes) else {
            self.drops.malformed += 1;
            return;
        };
        let Ok(tlvs) = TmfRepr::parse(msg.payload) else {
            self.drops.malformed += 1;
            return;
        };
        let from_rloc16 = u16::from_be_bytes([datagram.src.0[14], datagram.src.0[15]]);
        let mut token = [0u8; 2];
        if msg.token.len() == 2 {
            token.copy_from_slice(msg.token);
        }
        let mut commands: Vec<MleCommand, 2> = Vec::new();
        let mut send = |c| {
            let _ = commands.push(c);
        };
        if msg.msg_type == MessageType::Confirmable && msg.uri_path_is(tmf::uri::SERVER_DATA) {
            if let (Some(leader), Some(nd)) =
                (self.netdata_leader.as_mut(), tlvs.thread_network_data())
            {
                let rloc16 = ShortAddress(from_rloc16);
                // The sender's previous RLOC16 (child that became a router): its entries go.
                if let Some(old) = tlvs.rloc16().filter(|&r| r != rloc16) {
                    leader.remove_border_router(old, now);
                }
                let result = if nd.as_bytes().is_empty() {
                    Ok(leader.remove_border_router(rloc16, now))
                } else {
                    leader.register_server_data(rloc16, nd.as_bytes(), now)
                };
                if result.is_ok() {
                    self.publish_leader_data(now);
                }
            }
        } else if msg.msg_type == MessageType::Confirmable
            && msg.uri_path_is(tmf::uri::ADDRESS_SOLICIT)
        {
            if let Some(ext) = tlvs.ext_mac_address() {
                self.mle.handle_address_solicit(
                    now,
                    &mut self.rng,
                    ext,
                    tlvs.status(),
                    from_rloc16,
                    msg.message_id,
                    token,
                    &mut send,
                );
            }
        } else if msg.uri_path_is(tmf::uri::ADDRESS_QUERY) {
            // Someone resolves an EID (OpenThread does so before sending to an ML-EID it has
            // not heard from). We answer for our own ML-EID and SLAAC addresses, as an
            // OpenThread FTD does; a parent answering for its children's is not done yet.
            let ours = tlvs.target_eid().filter(|t| {
                *t == self.ml_eid() || self.slaac.addresses().iter().any(|a| a.address == *t)
            });
            let attached = matches!(self.mle.role(), Role::Child | Role::Router | Role::Leader);
            if let (Some(target), true) = (ours, attached) {
                self.drops.address_notifications_sent += 1;
                let message_id = self.rng.next_u32() as u16;
                send(MleCommand::AddressNotify {
                    to_rloc16: from_rloc16,
                    message_id,
                    token: message_id.to_be_bytes(),
                    target,
                    ml_eid_iid: self.ml_eid_iid,
                });
            }
        } else if msg.msg_type == MessageType::Confirmable
            && msg.uri_path_is(tmf::uri::ADDRESS_RELEASE)
        {
            // A router stepping down to REED gives its id back (leader only).
            if let (Some(rloc16), Some(ext)) = (tlvs.rloc16(), tlvs.ext_mac_address()) {
                self.mle
                    .handle_address_release(now, &mut self.rng, rloc16.0, ext);
            }
            send(MleCommand::TmfAck {
                to_rloc16: from_rloc16,
                message_id: msg.message_id,
                token,
            });
        } else if msg.uri_path_is(tmf::uri::ADDRESS_NOTIFY) {
            // The answer to our Address Query: where the EID lives. Cache it and send what
            // waited for it; acknowledge a confirmable one either way.
            if let (Some(target), Some(rloc16)) = (tlvs.target_eid(), tlvs.rloc16()) {
                if self
                    .address_query
                    .as_ref()
                    .is_some_and(|(t, _, _)| *t == target)
                {
                    self.snoop_eid(target, rloc16.0);
                    self.drops.address_queries_answered += 1;
                    if let Some((_, _, held)) = self.address_query.take() {
                        let _ = self.send_ip(now, &held);
                    }
                }
            }
            if msg.msg_type == MessageType::Confirmable {
                send(MleCommand::TmfAck {
                    to_rloc16: from_rloc16,
                    message_id: msg.message_id,
                    token,
                });
            }
        } else if msg.msg_type == MessageType::Acknowledgement {
            let status = tlvs.status().unwrap_or(1);
            self.mle.handle_address_solicit_response(
                now,
                &mut self.rng,
                msg.message_id,
                status,
                tlvs.rloc16().map(|r| r.0),
                tlvs.router_mask(),
                &mut send,
            );
        } else {
            self.drops.not_handled += 1;
        }
        for c in commands {
            self.send(now, &c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::region::LoRaParams;
    use crate::radio::{RadioError, RadioEvent, RxInfo};
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;

    /// Two radios on a perfect air: a frame sent by one arrives at the other when its airtime
    /// ends (the simulator in `sim/` does this properly; this keeps the core's tests std-light).
    struct PairRadio {
        me: usize,
        air: Rc<RefCell<[VecDeque<(Instant, std::vec::Vec<u8>)>; 2]>>,
        tx_end: Option<Instant>,
        airtime: Duration,
    }

    impl Radio for PairRadio {
        fn configure(&mut self, _c: &LoRaConfig) -> Result<(), RadioError> {
            Ok(())
        }
        fn transmit(&mut self, now: Instant, frame: &[u8]) -> Result<(), RadioError> {
            let end = now + self.airtime;
            self.tx_end = Some(end);
            self.air.borrow_mut()[1 - self.me].push_back((end, frame.to_vec()));
            Ok(())
        }
        fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
            Ok(())
        }
        fn poll_event(&mut self, now: Instant, buf: &mut [u8]) -> Option<RadioEvent> {
            if self.tx_end.is_some_and(|e| now >= e) {
                self.tx_end = None;
                return Some(RadioEvent::TxDone);
            }
            let mut air = self.air.borrow_mut();
            if air[self.me].front().is_some_and(|(t, _)| now >= *t) {
                let (_, f) = air[self.me].pop_front().unwrap();
                buf[..f.len()].copy_from_slice(&f);
                return Some(RadioEvent::Received(RxInfo {
                    len: f.len(),
                    rssi_dbm: -60,
                    snr_db: 20,
                }));
            }
            None
        }
        fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
            Some(-120)
        }
        fn sleep(&mut self) {}
    }

    fn config(ext: u64) -> NodeConfig {
        let lora = LoRaParams {
            region: Some(5),
            frequency: Some(869_525_000),
            bandwidth: 2,
            ..LoRaParams::pycom_defaults()
        }
        .validate()
        .unwrap();
        let mut timing = Timing::lora(lora.frame_time());
        timing.router_selection_jitter = Duration::from_secs(5);
        NodeConfig {
            ext_addr: ExtAddress::from_u64(ext),
            identity: NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY),
            lora,
            timing,
        }
    }

    #[test]
    fn two_nodes_leader_then_router_with_each_other_as_neighbours() {
        let air = Rc::new(RefCell::new([VecDeque::new(), VecDeque::new()]));
        let airtime = Duration::from_millis(60);
        let mut radios = [
            PairRadio {
                me: 0,
                air: air.clone(),
                tx_end: None,
                airtime,
            },
            PairRadio {
                me: 1,
                air: air.clone(),
                tx_end: None,
                airtime,
            },
        ];
        let mut nodes = [Node::new(config(0xa), 1), Node::new(config(0xb), 2)];
        nodes[0].start(Instant::ZERO);
        let mut now = Instant::ZERO;
        // Node b starts once a is leader.
        let mut b_started = false;
        while now < Instant::from_millis(300_000) {
            for (n, r) in nodes.iter_mut().zip(radios.iter_mut()) {
                if n.role() != Role::Disabled {
                    n.poll(now, r);
                }
            }
            if !b_started && nodes[0].role() == Role::Leader {
                nodes[1].start(now);
                b_started = true;
            }
            if nodes[1].role() == Role::Router
                && nodes[0].mle().neighbor_routers().count() == 1
                && nodes[1].mle().neighbor_routers().count() == 1
            {
                break;
            }
            now += Duration::from_millis(5);
        }
        assert_eq!(nodes[0].role(), Role::Leader);
        assert_eq!(
            nodes[1].role(),
            Role::Router,
            "b became a router at {now:?}"
        );
        let (a, b) = (&nodes[0], &nodes[1]);
        assert_eq!(
            a.leader_data().unwrap().partition_id,
            b.leader_data().unwrap().partition_id
        );
        let na = a.neighbors(now);
        let nb = b.neighbors(now);
        assert_eq!(na[0].ext_addr, ExtAddress::from_u64(0xb));
        assert_eq!(nb[0].ext_addr, ExtAddress::from_u64(0xa));
        assert_eq!(na[0].rloc16, b.rloc16());
        assert_eq!(nb[0].rloc16, a.rloc16());
        assert_eq!(a.mle().routers().len(), 2);
        assert_eq!(b.mle().routers().len(), 2);
        for n in [a, b] {
            assert_eq!(n.rx_drops().mle_security, 0);
            assert!(
                n.mle().routers().iter().all(|r| r.path_cost <= 1),
                "{:?}",
                n.mle().routers()
            );
        }
    }
}
