//! The discrete-event simulator: many pymesh nodes in one process, on one shared air, in
//! virtual time.
//!
//! Owns virtual time (microseconds), the event queue, the topology (positions for the
//! path-loss model of [`air`], or an explicit link table; per-link cuts and random loss), each
//! node's [`SimRadio`], fault injection (kill, restart, cut, loss), the pcap of every frame on
//! the air, the event log and the statistics. Whether a frame is received is decided by
//! [`air::receive`] alone, the same model the multi-process [`medium`](crate::medium) applies.
//!
//! Determinism: the run is a function of the simulator seed, the node seeds and the calls made
//! on the simulator. Events at equal times run in the order they were scheduled (a sequence
//! number breaks ties), nodes are visited in index order, and every random draw comes from the
//! simulator's own generator. Nothing reads the wall clock except the speed measurement.
//!
//! Time never advances by polling: the simulator jumps to the next event, which is either a
//! node's [`Node::poll_at`] or the end of a frame on the air. A node is polled at its own
//! timers, when its transmission ends, and when a frame was delivered to it; nodes that lose a
//! frame are not woken.
//!
//! ```
//! use pymesh_sim::des::{NodeSpec, Simulator, SECOND_US};
//! use pymesh_sim::scenario::{eu868, ext_addr};
//!
//! let mut sim = Simulator::new(42);
//! let a = sim.add_node(NodeSpec::new(ext_addr(0), eu868(7), 1).at(0.0, 0.0));
//! let b = sim.add_node(NodeSpec::new(ext_addr(1), eu868(7), 2).at(1000.0, 0.0));
//! sim.run_for(30 * SECOND_US);
//! assert!(sim.node_stats(a).frames_received > 0);
//! sim.cut_link(a, b);
//! sim.kill(b);
//! sim.restart(b);
//! sim.run_for(30 * SECOND_US);
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use pymesh::mle::{Role, Timing};
use pymesh::node::{NetworkIdentity, Node, NodeConfig};
use pymesh::radio::{LoRaConfig, Radio, RadioError, RadioEvent, RxInfo, MAX_FRAME_LEN};
use pymesh::rand::Rng;
use pymesh::time::Instant;
use pymesh::wire::ExtAddress;

use crate::air::{self, Arrival, Phy};
use crate::pcap::PcapWriter;

/// Microseconds in a second: virtual time is counted in microseconds.
pub const SECOND_US: u64 = 1_000_000;

/// Polls of one node at one instant before its remaining work is deferred by a millisecond.
/// A node that is still due after a poll has queued frames; more than a few rounds at the
/// same instant means it cannot make progress (a radio that refuses), and looping would hang.
const MAX_POLLS_PER_INSTANT: usize = 8;

/// Narrowest bandwidth a [`Phy`] can have (the lowest noise floor).
const NARROWEST_BANDWIDTH_HZ: u32 = 125_000;

/// A node of the simulation, by the order it was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// What a receiver gets of a sender on an explicit link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkQuality {
    pub rssi_dbm: f64,
    pub snr_db: f64,
}

/// A simulated radio's next event: its transmission done, else the oldest received frame
/// (copied into `buf`, cut to fit). Shared by the radios of this simulator and of the
/// OpenThread co-simulation.
pub(crate) fn next_radio_event<F: AsRef<[u8]>>(
    tx_done: &mut bool,
    inbox: &mut VecDeque<(F, RxInfo)>,
    buf: &mut [u8],
) -> Option<RadioEvent> {
    if std::mem::take(tx_done) {
        return Some(RadioEvent::TxDone);
    }
    let (frame, info) = inbox.pop_front()?;
    let frame = frame.as_ref();
    let len = frame.len().min(buf.len());
    buf[..len].copy_from_slice(&frame[..len]);
    Some(RadioEvent::Received(RxInfo { len, ..info }))
}

/// How to build one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub ext_addr: ExtAddress,
    /// Position in metres for the path-loss model; `None`: only links of the link table.
    pub position: Option<(f64, f64)>,
    pub lora: LoRaConfig,
    pub network_key: [u8; 16],
    pub timing: Timing,
    /// Seed of the node's own random generator (jitter, partition id, ML-EID...).
    pub seed: u64,
    /// A bare radio without a mesh node: it listens and can be made to send raw frames
    /// ([`Simulator::transmit_raw`]); for tests of the air and for jammers.
    pub radio_only: bool,
}

impl NodeSpec {
    /// A mesh node with Pymesh's default key and the LoRa timing profile for `lora` (as the
    /// firmware configures it), placed nowhere.
    pub fn new(ext_addr: ExtAddress, lora: LoRaConfig, seed: u64) -> Self {
        NodeSpec {
            ext_addr,
            position: None,
            lora,
            network_key: NetworkIdentity::DEFAULT_KEY,
            timing: Timing::lora(lora.frame_time()),
            seed,
            radio_only: false,
        }
    }

    pub fn at(mut self, x: f64, y: f64) -> Self {
        self.position = Some((x, y));
        self
    }

    pub fn with_key(mut self, key: [u8; 16]) -> Self {
        self.network_key = key;
        self
    }

    pub fn radio_only(mut self) -> Self {
        self.radio_only = true;
        self
    }

    pub fn node_config(&self) -> NodeConfig {
        NodeConfig {
            ext_addr: self.ext_addr,
            identity: NetworkIdentity::pymesh(self.network_key),
            lora: self.lora,
            timing: self.timing,
        }
    }
}

/// Why a receiver did not get a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossCause {
    /// The air model said no ([`air::receive`]), or the link's random loss ([`air::Loss::Random`]).
    Air(air::Loss),
    /// The link was cut by [`Simulator::cut_link`].
    LinkCut,
    /// The receiver's radio was unconfigured or asleep when the frame began.
    NotListening,
    /// The sender was killed before the frame ended.
    Aborted,
}

/// Frames not received, by cause (one count per frame and receiver).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossCounts {
    pub not_tuned: u64,
    pub too_weak: u64,
    pub collision: u64,
    pub half_duplex: u64,
    pub random: u64,
    pub link_cut: u64,
    pub not_listening: u64,
    pub aborted: u64,
}

impl LossCounts {
    fn add(&mut self, cause: LossCause) {
        let c = match cause {
            LossCause::Air(air::Loss::NotTuned) => &mut self.not_tuned,
            LossCause::Air(air::Loss::TooWeak) => &mut self.too_weak,
            LossCause::Air(air::Loss::Collision) => &mut self.collision,
            LossCause::Air(air::Loss::HalfDuplex) => &mut self.half_duplex,
            LossCause::Air(air::Loss::Random) => &mut self.random,
            LossCause::LinkCut => &mut self.link_cut,
            LossCause::NotListening => &mut self.not_listening,
            LossCause::Aborted => &mut self.aborted,
        };
        *c += 1;
    }

    pub fn total(&self) -> u64 {
        self.not_tuned
            + self.too_weak
            + self.collision
            + self.half_duplex
            + self.random
            + self.link_cut
            + self.not_listening
            + self.aborted
    }
}

/// What happened to one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub frames_sent: u64,
    pub frames_received: u64,
    /// Time this node's radio spent transmitting, microseconds.
    pub airtime_us: u64,
    /// Frames that reached this node's antenna range but were not received.
    pub lost: LossCounts,
    pub polls: u64,
}

/// What happened on the whole air.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames_sent: u64,
    /// Frame deliveries (one per frame and receiver).
    pub receptions: u64,
    pub airtime_us: u64,
    pub lost: LossCounts,
    /// Events processed (polls and frame ends).
    pub events: u64,
    pub polls: u64,
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub time_us: u64,
    pub node: NodeId,
    pub what: Happening,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Happening {
    Transmit {
        tx: u64,
        len: usize,
        airtime_us: u64,
    },
    Receive {
        tx: u64,
        from: NodeId,
        rssi_dbm: i16,
        snr_db: i8,
    },
    Lost {
        tx: u64,
        from: NodeId,
        cause: LossCause,
    },
    Role(Role),
    Killed,
    Restarted,
    LinkCut {
        peer: NodeId,
    },
    LinkRestored {
        peer: NodeId,
    },
    LossSet {
        peer: NodeId,
        probability: f64,
    },
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time_us;
        write!(
            f,
            "{:>6}.{:06} {:>5} ",
            t / SECOND_US,
            t % SECOND_US,
            self.node
        )?;
        match &self.what {
            Happening::Transmit {
                tx,
                len,
                airtime_us,
            } => write!(f, "tx #{tx} {len} B, {airtime_us} us"),
            Happening::Receive {
                tx,
                from,
                rssi_dbm,
                snr_db,
            } => write!(f, "rx #{tx} from {from}, {rssi_dbm} dBm, SNR {snr_db} dB"),
            Happening::Lost { tx, from, cause } => write!(f, "lost #{tx} from {from}: {cause:?}"),
            Happening::Role(r) => write!(f, "role {}", r.name()),
            Happening::Killed => write!(f, "killed"),
            Happening::Restarted => write!(f, "restarted"),
            Happening::LinkCut { peer } => write!(f, "link to {peer} cut"),
            Happening::LinkRestored { peer } => write!(f, "link to {peer} restored"),
            Happening::LossSet { peer, probability } => {
                write!(f, "loss to {peer} set to {probability}")
            }
        }
    }
}

/// A frame on the air at one receiver, until no undecided frame can overlap it any more.
#[derive(Debug, Clone)]
struct Pending {
    tx: u64,
    arrival: Arrival,
    frame: Arc<[u8]>,
    decided: bool,
    aborted: bool,
}

/// The radio of one simulated node: the node's view of the air. The simulator fills it with
/// arrivals and decides their fate; the node sees only [`Radio`].
#[derive(Debug, Default)]
pub struct SimRadio {
    now_us: u64,
    phy: Option<Phy>,
    /// In receive mode since then; `None` when unconfigured or asleep.
    listening_since: Option<u64>,
    /// The transmission in progress: (start, end).
    tx: Option<(u64, u64)>,
    /// Its id on the air, once the simulator has put it there.
    tx_id: Option<u64>,
    /// A frame given to `transmit`, for the simulator to put on the air after the poll.
    tx_request: Option<Vec<u8>>,
    tx_done: bool,
    inbox: VecDeque<(Arc<[u8]>, RxInfo)>,
    arrivals: Vec<Pending>,
    /// Own transmissions (start, end) that may still overlap an undecided arrival.
    own_tx: Vec<(u64, u64)>,
}

impl SimRadio {
    pub fn phy(&self) -> Option<Phy> {
        self.phy
    }
    pub fn is_listening(&self) -> bool {
        self.phy.is_some() && self.listening_since.is_some()
    }
    pub fn is_transmitting(&self) -> bool {
        self.tx.is_some()
    }

    /// Forgets arrivals and own transmissions that can no longer overlap a frame still to be
    /// decided: those that ended before the earliest undecided start (or before now).
    fn prune(&mut self) {
        let horizon = self
            .arrivals
            .iter()
            .filter(|p| !p.decided)
            .map(|p| p.arrival.start_us)
            .min()
            .unwrap_or(self.now_us)
            .min(self.now_us);
        self.arrivals
            .retain(|p| !p.decided || p.arrival.end_us > horizon);
        self.own_tx.retain(|&(_, end)| end > horizon);
    }

    /// The fate of arrival `k`, by the air model and the radio's state.
    fn decide(&self, k: usize) -> Result<(), LossCause> {
        let p = &self.arrivals[k];
        if p.aborted {
            return Err(LossCause::Aborted);
        }
        let Some(rx_phy) = self.phy else {
            return Err(LossCause::NotListening);
        };
        let others: Vec<Arrival> = self
            .arrivals
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != k)
            .map(|(_, o)| o.arrival)
            .collect();
        air::receive(&rx_phy, &p.arrival, &others, &self.own_tx).map_err(LossCause::Air)?;
        match self.listening_since {
            Some(since) if since <= p.arrival.start_us => Ok(()),
            _ => Err(LossCause::NotListening),
        }
    }
}

impl Radio for SimRadio {
    fn configure(&mut self, config: &LoRaConfig) -> Result<(), RadioError> {
        self.phy = Some(Phy::from_config(config));
        // Retuning restarts reception: a frame already under way is not picked up.
        if self.listening_since.is_some() {
            self.listening_since = Some(self.now_us);
        }
        Ok(())
    }

    fn transmit(&mut self, _now: Instant, frame: &[u8]) -> Result<(), RadioError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(RadioError::FrameTooLong);
        }
        if self.tx.is_some() {
            return Err(RadioError::Busy);
        }
        let phy = self.phy.ok_or(RadioError::Hardware)?;
        let start = self.now_us;
        self.tx = Some((start, start + phy.airtime_us(frame.len())));
        self.tx_request = Some(frame.to_vec());
        Ok(())
    }

    fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
        if self.phy.is_none() {
            return Err(RadioError::Hardware);
        }
        if self.listening_since.is_none() {
            self.listening_since = Some(self.now_us);
        }
        Ok(())
    }

    fn poll_event(&mut self, _now: Instant, buf: &mut [u8]) -> Option<RadioEvent> {
        next_radio_event(&mut self.tx_done, &mut self.inbox, buf)
    }

    fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
        if self.tx.is_some() {
            return None;
        }
        let now = self.now_us;
        let floor = air::noise_floor_dbm(self.phy?.bandwidth_hz);
        let strongest = self
            .arrivals
            .iter()
            .filter(|p| p.arrival.start_us <= now && now < p.arrival.end_us)
            .map(|p| p.arrival.rssi_dbm)
            .fold(floor, f64::max);
        Some(strongest.round() as i16)
    }

    fn sleep(&mut self) {
        self.listening_since = None;
    }
}

struct Slot {
    spec: NodeSpec,
    /// `None` when killed, or for a radio-only node.
    node: Option<Node>,
    alive: bool,
    /// Bumped at every kill and restart: events of an earlier life are ignored.
    generation: u32,
    restarts: u32,
    radio: SimRadio,
    /// The time of this node's live poll event.
    next_poll_us: Option<u64>,
    role: Role,
    role_since_us: u64,
    stats: NodeStats,
}

/// A frame on the air.
struct OnAir {
    sender: usize,
    generation: u32,
    receivers: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Poll { node: usize, generation: u32 },
    FrameEnd { tx: u64 },
}

/// Many nodes on one air, in virtual time. See the module documentation.
pub struct Simulator {
    now_us: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    slots: Vec<Slot>,
    rng: Rng,
    next_tx: u64,
    on_air: HashMap<u64, OnAir>,
    /// Explicit links, by (sender, receiver): `None` is "no link". Overrides positions.
    links: HashMap<(usize, usize), Option<LinkQuality>>,
    cut: HashSet<(usize, usize)>,
    loss: HashMap<(usize, usize), f64>,
    /// Random loss of links without their own setting.
    default_loss: f64,
    pcap: Option<PcapWriter<Box<dyn Write + Send>>>,
    pcap_failed: bool,
    log: Option<Vec<LogEntry>>,
    stats: Stats,
    mesh_nodes_alive: u64,
    node_us: u128,
    wall: std::time::Duration,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Simulator {
    pub fn new(seed: u64) -> Self {
        Simulator {
            now_us: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            rng: Rng::new(seed),
            next_tx: 0,
            on_air: HashMap::new(),
            links: HashMap::new(),
            cut: HashSet::new(),
            loss: HashMap::new(),
            default_loss: 0.0,
            pcap: None,
            pcap_failed: false,
            log: None,
            stats: Stats::default(),
            mesh_nodes_alive: 0,
            node_us: 0,
            wall: std::time::Duration::ZERO,
        }
    }

    /// Virtual time in microseconds.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Virtual time as the nodes see it (milliseconds).
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.now_us / 1000)
    }

    /// Adds a node and starts it now (a mesh node starts attaching; a radio-only node listens).
    pub fn add_node(&mut self, spec: NodeSpec) -> NodeId {
        let i = self.slots.len();
        self.slots.push(Slot {
            spec,
            node: None,
            alive: false,
            generation: 0,
            restarts: 0,
            radio: SimRadio::default(),
            next_poll_us: None,
            role: Role::Disabled,
            role_since_us: self.now_us,
            stats: NodeStats::default(),
        });
        self.boot(i, self.slots[i].spec.seed);
        NodeId(i)
    }

    /// Powers a node up with a fresh radio and (unless radio-only) a fresh node.
    fn boot(&mut self, i: usize, seed: u64) {
        let now = self.now_us;
        let slot = &mut self.slots[i];
        slot.alive = true;
        slot.radio = SimRadio {
            now_us: now,
            ..SimRadio::default()
        };
        if slot.spec.radio_only {
            let _ = slot.radio.configure(&slot.spec.lora);
            let _ = slot.radio.receive(Instant::from_millis(now / 1000));
            return;
        }
        let mut node = Node::new(slot.spec.node_config(), seed);
        node.start(Instant::from_millis(now / 1000));
        slot.node = Some(node);
        self.mesh_nodes_alive += 1;
        // The first poll configures the radio and puts it in receive.
        self.schedule_poll(i, Some(now));
        self.note_role(i);
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.slots.len()).map(NodeId)
    }
    pub fn spec(&self, id: NodeId) -> &NodeSpec {
        &self.slots[id.0].spec
    }
    pub fn find(&self, ext_addr: ExtAddress) -> Option<NodeId> {
        self.slots
            .iter()
            .position(|s| s.spec.ext_addr == ext_addr)
            .map(NodeId)
    }
    pub fn is_alive(&self, id: NodeId) -> bool {
        self.slots[id.0].alive
    }
    /// The node, unless killed or radio-only.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.slots[id.0].node.as_ref()
    }
    pub fn radio(&self, id: NodeId) -> &SimRadio {
        &self.slots[id.0].radio
    }
    /// The node's role (`Disabled` when killed or radio-only) and when it took it.
    pub fn role(&self, id: NodeId) -> (Role, u64) {
        let s = &self.slots[id.0];
        (s.role, s.role_since_us)
    }
    pub fn node_stats(&self, id: NodeId) -> &NodeStats {
        &self.slots[id.0].stats
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// How often the node was rebooted by [`Simulator::restart`].
    pub fn restarts(&self, id: NodeId) -> u32 {
        self.slots[id.0].restarts
    }

    /// Runs `f` on a live node (to send, change settings...), then polls it at once so what
    /// it queued goes out. `None` when the node is dead or radio-only.
    pub fn with_node<R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut Node, Instant) -> R,
    ) -> Option<R> {
        let now = self.now();
        let r = f(self.slots[id.0].node.as_mut()?, now);
        self.schedule_poll(id.0, Some(self.now_us));
        Some(r)
    }

    /// Moves a node (`None`: off the path-loss map, table links only). Frames already on the
    /// air keep the budget they started with.
    pub fn set_position(&mut self, id: NodeId, position: Option<(f64, f64)>) {
        self.slots[id.0].spec.position = position;
    }

    /// Sets an explicit link in both directions (`None`: no link), overriding positions.
    pub fn set_link(&mut self, a: NodeId, b: NodeId, quality: Option<LinkQuality>) {
        self.set_link_directed(a, b, quality);
        self.set_link_directed(b, a, quality);
    }

    /// Sets what `to` gets of `from` only.
    pub fn set_link_directed(&mut self, from: NodeId, to: NodeId, quality: Option<LinkQuality>) {
        self.links.insert((from.0, to.0), quality);
    }

    /// Removes explicit links between `a` and `b`: back to the path-loss model.
    pub fn clear_link(&mut self, a: NodeId, b: NodeId) {
        self.links.remove(&(a.0, b.0));
        self.links.remove(&(b.0, a.0));
    }

    /// The budget a frame from `from` would have at `to` now, ignoring cuts and loss.
    pub fn link_quality(&self, from: NodeId, to: NodeId) -> Option<LinkQuality> {
        let phy = Phy::from_config(&self.slots[from.0].spec.lora);
        self.budget(from.0, to.0, &phy)
    }

    fn budget(&self, from: usize, to: usize, tx_phy: &Phy) -> Option<LinkQuality> {
        if let Some(q) = self.links.get(&(from, to)) {
            return *q;
        }
        let a = self.slots[from].spec.position?;
        let b = self.slots[to].spec.position?;
        let (rssi_dbm, snr_db) = air::link_budget(tx_phy, air::distance(a, b));
        Some(LinkQuality { rssi_dbm, snr_db })
    }

    /// Cuts the link between `a` and `b` in both directions.
    pub fn cut_link(&mut self, a: NodeId, b: NodeId) {
        self.cut.insert((a.0, b.0));
        self.cut.insert((b.0, a.0));
        self.record(a, Happening::LinkCut { peer: b });
    }

    pub fn restore_link(&mut self, a: NodeId, b: NodeId) {
        self.cut.remove(&(a.0, b.0));
        self.cut.remove(&(b.0, a.0));
        self.record(a, Happening::LinkRestored { peer: b });
    }

    /// Random frame loss on the link between `a` and `b`, both directions, 0..=1.
    pub fn set_loss(&mut self, a: NodeId, b: NodeId, probability: f64) {
        let p = probability.clamp(0.0, 1.0);
        self.loss.insert((a.0, b.0), p);
        self.loss.insert((b.0, a.0), p);
        self.record(
            a,
            Happening::LossSet {
                peer: b,
                probability: p,
            },
        );
    }

    /// Random frame loss on every link without a [`Simulator::set_loss`] of its own.
    pub fn set_default_loss(&mut self, probability: f64) {
        self.default_loss = probability.clamp(0.0, 1.0);
    }

    /// Powers a node off: its node and radio state are gone; a frame it was sending is cut
    /// short (receivers lose it, and it stops interfering now).
    pub fn kill(&mut self, id: NodeId) {
        let i = id.0;
        if !self.slots[i].alive {
            return;
        }
        let now = self.now_us;
        if let Some(tx) = self.slots[i].radio.tx_id {
            if let Some(on_air) = self.on_air.get(&tx) {
                for &r in &on_air.receivers {
                    for p in self.slots[r].radio.arrivals.iter_mut() {
                        if p.tx == tx {
                            p.aborted = true;
                            p.arrival.end_us = p.arrival.end_us.min(now);
                        }
                    }
                }
            }
        }
        let slot = &mut self.slots[i];
        if let Some(mut node) = slot.node.take() {
            node.stop();
            self.mesh_nodes_alive -= 1;
        }
        slot.alive = false;
        slot.generation += 1;
        slot.radio = SimRadio::default();
        slot.next_poll_us = None;
        self.note_role(i);
        self.record(id, Happening::Killed);
    }

    /// Reboots a node: a fresh node with the same extended address and a new seed derived
    /// from its spec's. A live node is killed first.
    pub fn restart(&mut self, id: NodeId) {
        self.kill(id);
        let slot = &mut self.slots[id.0];
        slot.restarts += 1;
        let seed = splitmix(slot.spec.seed ^ (slot.restarts as u64).rotate_left(32));
        self.record(id, Happening::Restarted);
        self.boot(id.0, seed);
    }

    /// Sends a raw frame from a node's radio now, bypassing its mesh node (which sees a
    /// stray TxDone it ignores). For tests of the air and for jammers.
    pub fn transmit_raw(&mut self, id: NodeId, frame: &[u8]) -> Result<(), RadioError> {
        let i = id.0;
        if !self.slots[i].alive {
            return Err(RadioError::Hardware);
        }
        let radio = &mut self.slots[i].radio;
        radio.now_us = self.now_us;
        radio.transmit(Instant::from_millis(self.now_us / 1000), frame)?;
        if let Some(frame) = radio.tx_request.take() {
            self.start_transmission(i, frame);
        }
        Ok(())
    }

    /// Writes every frame put on the air from now on, at its start time, as pcap (802.15.4
    /// with FCS). A write error stops the capture ([`Simulator::pcap_failed`]), not the run.
    pub fn capture_pcap(&mut self, out: impl Write + Send + 'static) -> io::Result<()> {
        self.pcap = Some(PcapWriter::new(Box::new(out) as Box<dyn Write + Send>)?);
        self.pcap_failed = false;
        Ok(())
    }

    pub fn pcap_failed(&self) -> bool {
        self.pcap_failed
    }

    /// Starts (or stops) recording the event log.
    pub fn record_log(&mut self, on: bool) {
        if on {
            self.log.get_or_insert_with(Vec::new);
        } else {
            self.log = None;
        }
    }

    pub fn log(&self) -> &[LogEntry] {
        self.log.as_deref().unwrap_or(&[])
    }

    fn record(&mut self, node: NodeId, what: Happening) {
        if let Some(log) = self.log.as_mut() {
            log.push(LogEntry {
                time_us: self.now_us,
                node,
                what,
            });
        }
    }

    /// Simulated node-seconds (live mesh nodes times virtual time) so far.
    pub fn node_seconds(&self) -> f64 {
        self.node_us as f64 / SECOND_US as f64
    }

    /// Wall-clock time spent in the `run_*` calls.
    pub fn wall_time(&self) -> std::time::Duration {
        self.wall
    }

    /// Simulated node-seconds per wall-clock second.
    pub fn speed(&self) -> f64 {
        self.node_seconds() / self.wall.as_secs_f64().max(1e-9)
    }

    /// The time of the next scheduled event (it may turn out stale).
    pub fn next_event_us(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Processes the next live event at or before `limit_us`; false when there is none.
    fn step_until(&mut self, limit_us: u64) -> bool {
        while let Some(&Reverse((t, _, event))) = self.queue.peek() {
            if t > limit_us {
                return false;
            }
            self.queue.pop();
            if self.dispatch(t, event) {
                return true;
            }
        }
        false
    }

    /// Processes the next event, jumping virtual time to it; false when nothing is scheduled.
    pub fn step(&mut self) -> bool {
        self.step_until(u64::MAX)
    }

    /// Runs every event up to and including `t_us`, then sets the clock to `t_us`.
    pub fn run_until(&mut self, t_us: u64) {
        let wall = std::time::Instant::now();
        while self.step_until(t_us) {}
        self.advance_to(t_us);
        self.wall += wall.elapsed();
    }

    pub fn run_for(&mut self, d_us: u64) {
        self.run_until(self.now_us.saturating_add(d_us));
    }

    /// Runs until `done` holds (checked after every event) or `deadline_us`; returns the time
    /// it first held.
    pub fn run_until_cond(
        &mut self,
        deadline_us: u64,
        mut done: impl FnMut(&Simulator) -> bool,
    ) -> Option<u64> {
        let wall = std::time::Instant::now();
        let mut met = done(self).then_some(self.now_us);
        while met.is_none() && self.step_until(deadline_us) {
            if done(self) {
                met = Some(self.now_us);
            }
        }
        if met.is_none() {
            self.advance_to(deadline_us);
        }
        self.wall += wall.elapsed();
        met
    }

    fn advance_to(&mut self, t_us: u64) {
        if t_us > self.now_us {
            self.node_us += self.mesh_nodes_alive as u128 * (t_us - self.now_us) as u128;
            self.now_us = t_us;
        }
    }

    fn push(&mut self, t_us: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((t_us, self.seq, event)));
    }

    /// Makes `at` the node's next poll (replacing any other).
    fn schedule_poll(&mut self, i: usize, at: Option<u64>) {
        let slot = &mut self.slots[i];
        if slot.next_poll_us == at {
            return;
        }
        slot.next_poll_us = at;
        if let Some(t) = at {
            let generation = slot.generation;
            self.push(
                t,
                Event::Poll {
                    node: i,
                    generation,
                },
            );
        }
    }

    /// Runs one event; false when it was stale (of a dead node, or a replaced poll).
    fn dispatch(&mut self, t: u64, event: Event) -> bool {
        match event {
            Event::Poll { node, generation } => {
                let slot = &self.slots[node];
                if slot.generation != generation || slot.next_poll_us != Some(t) {
                    return false;
                }
                self.advance_to(t);
                self.stats.events += 1;
                self.slots[node].next_poll_us = None;
                self.poll_node(node);
            }
            Event::FrameEnd { tx } => {
                self.advance_to(t);
                self.stats.events += 1;
                self.end_frame(tx);
            }
        }
        true
    }

    fn note_role(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let role = slot.node.as_ref().map_or(Role::Disabled, |n| n.role());
        if role != slot.role {
            slot.role = role;
            slot.role_since_us = self.now_us;
            self.record(NodeId(i), Happening::Role(role));
        }
    }

    /// Polls a node now (repeatedly while it is still due at this instant), puts what it
    /// transmits on the air and schedules its next poll.
    fn poll_node(&mut self, i: usize) {
        let now = self.now_us;
        let now_ms = Instant::from_millis(now / 1000);
        let mut next = None;
        for _ in 0..MAX_POLLS_PER_INSTANT {
            let slot = &mut self.slots[i];
            let Some(node) = slot.node.as_mut() else {
                return;
            };
            slot.radio.now_us = now;
            node.poll(now_ms, &mut slot.radio);
            slot.stats.polls += 1;
            self.stats.polls += 1;
            let due = node.poll_at();
            let request = slot.radio.tx_request.take();
            self.note_role(i);
            if let Some(frame) = request {
                self.start_transmission(i, frame);
            }
            match due {
                Some(at) if at <= now_ms => next = Some((now_ms.millis() + 1) * 1000),
                other => {
                    next = other.map(|at| at.millis() * 1000);
                    break;
                }
            }
        }
        self.schedule_poll(i, next);
    }

    /// Puts node `s`'s frame on the air: pcap, statistics, and an arrival at every receiver
    /// that might receive it or be disturbed by it.
    fn start_transmission(&mut self, s: usize, frame: Vec<u8>) {
        let (start, end) = self.slots[s].radio.tx.expect("a transmission was started");
        let tx_phy = self.slots[s]
            .radio
            .phy
            .expect("a transmitting radio is tuned");
        let id = self.next_tx;
        self.next_tx += 1;
        let airtime = end - start;
        {
            let slot = &mut self.slots[s];
            slot.radio.tx_id = Some(id);
            slot.radio.own_tx.push((start, end));
            slot.stats.frames_sent += 1;
            slot.stats.airtime_us += airtime;
        }
        self.stats.frames_sent += 1;
        self.stats.airtime_us += airtime;
        if let Some(w) = self.pcap.as_mut() {
            if w.write_frame(start, &frame).is_err() {
                self.pcap = None;
                self.pcap_failed = true;
            }
        }
        self.record(
            NodeId(s),
            Happening::Transmit {
                tx: id,
                len: frame.len(),
                airtime_us: airtime,
            },
        );
        let frame: Arc<[u8]> = frame.into();
        // An arrival this weak can neither be demodulated nor destroy a frame that can (it is
        // below the demodulation floor by more than the capture margin at the lowest noise
        // floor), so it is counted and dropped: the air model would decide the same.
        let inaudible = air::noise_floor_dbm(NARROWEST_BANDWIDTH_HZ) + air::snr_floor_db(tx_phy.sf)
            - air::CAPTURE_THRESHOLD_DB;
        let mut receivers = Vec::new();
        for r in 0..self.slots.len() {
            if r == s || !self.slots[r].alive {
                continue;
            }
            let Some(q) = self.budget(s, r, &tx_phy) else {
                continue;
            };
            let explicit = self.links.contains_key(&(s, r));
            let cut = self.cut.contains(&(s, r));
            let rx = &mut self.slots[r];
            if !explicit && q.rssi_dbm <= inaudible {
                let cause = match rx.radio.phy {
                    Some(p) if !p.hears(&tx_phy) => air::Loss::NotTuned,
                    _ => air::Loss::TooWeak,
                };
                rx.stats.lost.add(LossCause::Air(cause));
                self.stats.lost.add(LossCause::Air(cause));
                continue;
            }
            if cut {
                rx.stats.lost.add(LossCause::LinkCut);
                self.stats.lost.add(LossCause::LinkCut);
                continue;
            }
            rx.radio.arrivals.push(Pending {
                tx: id,
                arrival: Arrival {
                    start_us: start,
                    end_us: end,
                    phy: tx_phy,
                    rssi_dbm: q.rssi_dbm,
                    snr_db: q.snr_db,
                },
                frame: Arc::clone(&frame),
                decided: false,
                aborted: false,
            });
            receivers.push(r);
        }
        let generation = self.slots[s].generation;
        self.on_air.insert(
            id,
            OnAir {
                sender: s,
                generation,
                receivers,
            },
        );
        self.push(end, Event::FrameEnd { tx: id });
    }

    /// A frame ends: its sender's radio is free, and each receiver gets it or loses it.
    fn end_frame(&mut self, id: u64) {
        let Some(on_air) = self.on_air.remove(&id) else {
            return;
        };
        let now = self.now_us;
        let mut wake = Vec::new();
        let s = on_air.sender;
        {
            let sender = &mut self.slots[s];
            if sender.alive && sender.generation == on_air.generation {
                sender.radio.now_us = now;
                sender.radio.tx = None;
                sender.radio.tx_id = None;
                sender.radio.prune();
                if sender.node.is_some() {
                    sender.radio.tx_done = true;
                    wake.push(s);
                }
            }
        }
        for &r in &on_air.receivers {
            let Some(k) = self.slots[r].radio.arrivals.iter().position(|p| p.tx == id) else {
                // The receiver was killed or restarted while the frame was on the air.
                continue;
            };
            let loss = self.loss.get(&(s, r)).copied().unwrap_or(self.default_loss);
            let radio = &mut self.slots[r].radio;
            radio.now_us = now;
            let mut verdict = radio.decide(k);
            radio.arrivals[k].decided = true;
            let p = radio.arrivals[k].clone();
            radio.prune();
            // Draw only for lossy links, so that adding loss to one link leaves the draws of
            // the others as they were.
            if verdict.is_ok() && loss > 0.0 && unit(&mut self.rng) < loss {
                verdict = Err(LossCause::Air(air::Loss::Random));
            }
            let slot = &mut self.slots[r];
            match verdict {
                Ok(()) => {
                    let info = RxInfo {
                        len: p.frame.len(),
                        rssi_dbm: p.arrival.rssi_dbm.round() as i16,
                        snr_db: p.arrival.snr_db.round().clamp(-128.0, 127.0) as i8,
                    };
                    slot.stats.frames_received += 1;
                    self.stats.receptions += 1;
                    if slot.node.is_some() {
                        slot.radio.inbox.push_back((p.frame, info));
                        wake.push(r);
                    }
                    self.record(
                        NodeId(r),
                        Happening::Receive {
                            tx: id,
                            from: NodeId(s),
                            rssi_dbm: info.rssi_dbm,
                            snr_db: info.snr_db,
                        },
                    );
                }
                Err(cause) => {
                    slot.stats.lost.add(cause);
                    self.stats.lost.add(cause);
                    self.record(
                        NodeId(r),
                        Happening::Lost {
                            tx: id,
                            from: NodeId(s),
                            cause,
                        },
                    );
                }
            }
        }
        for i in wake {
            self.poll_node(i);
        }
    }
}

/// Uniform in [0, 1).
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}
