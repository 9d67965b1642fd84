//! A Thread node over LoRa: owns every layer's state and runs them from [`Node::poll`].
//!
//! Sans-IO: the platform passes `now` and a radio into `poll`, and asks [`Node::poll_at`] when
//! to call again. Received frames travel up (radio -> MAC -> 6LoWPAN -> IPv6/UDP -> MLE);
//! decisions travel down as frames in the MAC transmit queue.

use heapless::{Deque, Vec};

use crate::mle::{frames, LeaderData, Mle, MleCommand, Role, Timing};
use crate::radio::{LoRaConfig, Radio, RadioEvent, MAX_FRAME_LEN};
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::{ExtAddress, Ipv6Address, PanId};

/// Frames waiting for the radio.
pub const TX_QUEUE_LEN: usize = 8;

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

/// MAC counters, as OpenThread's `counters mac` names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MacCounters {
    pub tx_total: u32,
    pub tx_broadcast: u32,
    pub tx_unicast: u32,
    pub tx_err_busy_channel: u32,
    pub tx_queue_dropped: u32,
    pub rx_total: u32,
    pub rx_err_no_frame: u32,
    pub rx_err_security: u32,
    pub rx_err_other: u32,
    pub rx_dropped: u32,
}

/// What the platform should know after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollResult {
    /// Frames received and handled in this poll.
    pub frames_received: u16,
    /// Frames handed to the radio in this poll.
    pub frames_sent: u16,
}

type Frame = Vec<u8, MAX_FRAME_LEN>;

pub struct Node {
    config: NodeConfig,
    rng: Rng,
    mle: Mle,
    security: frames::Security,
    ml_eid_iid: [u8; 8],
    tx_queue: Deque<Frame, TX_QUEUE_LEN>,
    /// A transmission is on the air; the radio will report TxDone.
    tx_busy: bool,
    radio_configured: bool,
    mac_sequence: u8,
    mac_counters: MacCounters,
    /// Last MLE command received, by command number (for tests and `counters mle`).
    pub last_rx_mle_command: Option<u8>,
}

impl Node {
    pub fn new(config: NodeConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut ml_eid_iid = [0u8; 8];
        rng.fill(&mut ml_eid_iid);
        let mac_sequence = rng.next_u32() as u8;
        Node {
            config,
            rng,
            mle: Mle::new(config.ext_addr, config.timing),
            security: frames::Security::new(&config.identity),
            ml_eid_iid,
            tx_queue: Deque::new(),
            tx_busy: false,
            radio_configured: false,
            mac_sequence,
            mac_counters: MacCounters::default(),
            last_rx_mle_command: None,
        }
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Starts the mesh: detached, then attach (or form a partition).
    pub fn start(&mut self, now: Instant) {
        self.mle.start(now, &mut self.rng);
    }

    /// Stops the mesh; queued frames are dropped.
    pub fn stop(&mut self) {
        self.mle.stop();
        self.tx_queue.clear();
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
    pub fn mac_counters(&self) -> &MacCounters {
        &self.mac_counters
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
        Ipv6Address::from_prefix_iid(
            [0xfe, 0x80, 0, 0, 0, 0, 0, 0],
            self.config.ext_addr.to_iid(),
        )
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
        // Capacity 8 exceeds the 4 pushed here.
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

    /// When `poll` should next be called (`None`: only when the radio reports something).
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.tx_queue.is_empty() && !self.tx_busy {
            return Some(Instant::ZERO);
        }
        self.mle.poll_at()
    }

    /// Runs everything due at `now`: radio events, timers, transmissions.
    pub fn poll(&mut self, now: Instant, radio: &mut dyn Radio) -> PollResult {
        let mut result = PollResult::default();
        if !self.radio_configured {
            let _ = radio.configure(&self.config.lora);
            let _ = radio.receive(now);
            self.radio_configured = true;
        }
        let mut buf = [0u8; 256];
        // Bounded: a radio delivers at most a few frames between polls; 16 keeps a busy
        // channel from starving timers.
        for _ in 0..16 {
            match radio.poll_event(now, &mut buf) {
                None => break,
                Some(RadioEvent::TxDone) => {
                    self.tx_busy = false;
                    let _ = radio.receive(now);
                }
                Some(RadioEvent::Received(info)) => {
                    self.mac_counters.rx_total += 1;
                    result.frames_received += 1;
                    let len = info.len.min(buf.len());
                    self.handle_frame(now, &buf[..len]);
                }
            }
        }
        if self.mle.role() != Role::Disabled {
            let mut commands: Vec<MleCommand, 4> = Vec::new();
            self.mle.poll(now, &mut self.rng, &mut |c| {
                let _ = commands.push(c);
            });
            for c in commands {
                self.send_mle(c);
            }
        }
        if !self.tx_busy {
            if let Some(frame) = self.tx_queue.pop_front() {
                match radio.transmit(now, &frame) {
                    Ok(()) => {
                        self.tx_busy = true;
                        self.mac_counters.tx_total += 1;
                        result.frames_sent += 1;
                    }
                    Err(_) => {
                        self.mac_counters.tx_err_busy_channel += 1;
                        let _ = self.tx_queue.push_front(frame);
                    }
                }
            }
        }
        result
    }

    fn next_mac_sequence(&mut self) -> u8 {
        self.mac_sequence = self.mac_sequence.wrapping_add(1);
        self.mac_sequence
    }

    fn send_mle(&mut self, command: MleCommand) {
        let seq = self.next_mac_sequence();
        let mut frame = [0u8; MAX_FRAME_LEN];
        let ctx = frames::Context {
            ext_addr: self.config.ext_addr,
            identity: &self.config.identity,
            mac_sequence: seq,
        };
        let len = match frames::emit_mle(&ctx, &mut self.security, &self.mle, command, &mut frame) {
            Ok(len) => len,
            Err(_) => return,
        };
        self.enqueue(&frame[..len], true);
    }

    fn enqueue(&mut self, frame: &[u8], broadcast: bool) {
        let Ok(f) = Frame::from_slice(frame) else {
            return;
        };
        if self.tx_queue.push_back(f).is_err() {
            self.mac_counters.tx_queue_dropped += 1;
            return;
        }
        if broadcast {
            self.mac_counters.tx_broadcast += 1;
        } else {
            self.mac_counters.tx_unicast += 1;
        }
    }

    fn handle_frame(&mut self, _now: Instant, frame: &[u8]) {
        match frames::parse_incoming(&self.config.identity, &mut self.security, frame) {
            Ok(frames::Incoming::Mle { command, .. }) => {
                self.last_rx_mle_command = Some(command);
            }
            Ok(frames::Incoming::Other) => {}
            Err(frames::RxError::Security) => self.mac_counters.rx_err_security += 1,
            Err(frames::RxError::Malformed) => self.mac_counters.rx_err_other += 1,
        }
    }

    /// Time until the next due work, for platforms that sleep (`None`: wait for the radio).
    pub fn poll_delay(&self, now: Instant) -> Option<Duration> {
        self.poll_at().map(|at| at.since(now))
    }
}
