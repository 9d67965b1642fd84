//! MLE (Mesh Link Establishment): attach, roles, router selection, leader and partitions,
//! advertisements. This module decides *what* to send and *when*; [`frames`] turns its
//! decisions into Thread 1.1 bytes and back.

pub mod frames;
pub mod timing;
pub mod trickle;

use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::{ExtAddress, ShortAddress};
pub use timing::Timing;
use trickle::Trickle;

/// Thread device role, numbered as Pycom's `state()` and OpenThread's `otDeviceRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Role {
    Disabled = 0,
    Detached = 1,
    Child = 2,
    Router = 3,
    Leader = 4,
}

impl Role {
    /// The word OpenThread's CLI prints for `state`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Disabled => "disabled",
            Role::Detached => "detached",
            Role::Child => "child",
            Role::Router => "router",
            Role::Leader => "leader",
        }
    }
}

/// Highest router id (Thread: 0..62).
pub const MAX_ROUTER_ID: u8 = 62;
/// OpenThread's default leader weight, and Pymesh's.
pub const LEADER_WEIGHT: u8 = 64;

/// The Leader Data of a partition (MLE Leader Data TLV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderData {
    pub partition_id: u32,
    pub weighting: u8,
    pub data_version: u8,
    pub stable_data_version: u8,
    pub leader_router_id: u8,
}

/// The RLOC16 of router `id` (child id 0).
pub const fn router_rloc16(id: u8) -> u16 {
    (id as u16) << 10
}

/// One entry of the router table (Route64 view of the partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterEntry {
    pub router_id: u8,
    /// Known once an MLE message from that router has been heard (or for ourselves).
    pub ext_addr: Option<ExtAddress>,
    /// Router id of the next hop, `None` when unreachable.
    pub next_hop: Option<u8>,
    /// Path cost to it (0 for ourselves).
    pub path_cost: u8,
    pub last_heard: Instant,
}

/// Where the attach process stands (OpenThread `Mle::AttachState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attach {
    Idle,
    /// Waiting for the attach start jitter to pass.
    Start {
        at: Instant,
    },
    /// Parent Request sent to routers; answers accepted until `deadline`.
    ParentRequestRouters {
        deadline: Instant,
    },
    /// Parent Request sent to routers and REEDs; answers accepted until `deadline`.
    ParentRequestReeds {
        deadline: Instant,
    },
}

/// A message the MLE layer asks to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MleCommand {
    /// Parent Request to ff02::2; `to_reeds` sets the Scan Mask's REED bit.
    ParentRequest { to_reeds: bool, challenge: [u8; 8] },
    /// Advertisement to ff02::1 with our Leader Data and Route64.
    Advertisement,
}

/// MLE counters, as OpenThread's `counters mle` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MleCounters {
    pub role_disabled: u32,
    pub role_detached: u32,
    pub role_child: u32,
    pub role_router: u32,
    pub role_leader: u32,
    pub attach_attempts: u32,
    pub partition_id_changes: u32,
    pub parent_requests_sent: u32,
    pub advertisements_sent: u32,
}

/// The MLE state of one node.
#[derive(Debug, Clone)]
pub struct Mle {
    ext_addr: ExtAddress,
    timing: Timing,
    role: Role,
    rloc16: ShortAddress,
    leader_data: Option<LeaderData>,
    router_id_sequence: u8,
    routers: heapless::Vec<RouterEntry, 63>,
    attach: Attach,
    advertisement: Trickle,
    pub counters: MleCounters,
}

impl Mle {
    pub fn new(ext_addr: ExtAddress, timing: Timing) -> Self {
        Mle {
            ext_addr,
            timing,
            role: Role::Disabled,
            rloc16: ShortAddress::INVALID,
            leader_data: None,
            router_id_sequence: 0,
            routers: heapless::Vec::new(),
            attach: Attach::Idle,
            advertisement: Trickle::new(timing.trickle_imin, timing.trickle_imax),
            counters: MleCounters::default(),
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }
    pub fn rloc16(&self) -> ShortAddress {
        self.rloc16
    }
    pub fn leader_data(&self) -> Option<LeaderData> {
        self.leader_data
    }
    pub fn routers(&self) -> &[RouterEntry] {
        &self.routers
    }
    pub fn router_id_sequence(&self) -> u8 {
        self.router_id_sequence
    }
    pub fn ext_addr(&self) -> ExtAddress {
        self.ext_addr
    }
    pub fn timing(&self) -> &Timing {
        &self.timing
    }
    /// The leader's RLOC16, when attached.
    pub fn leader_rloc16(&self) -> Option<u16> {
        self.leader_data.map(|l| router_rloc16(l.leader_router_id))
    }
    /// True when this node is the only router (or leader) of its partition; also when not
    /// attached (Pycom returned True after deinit).
    pub fn is_single(&self) -> bool {
        match self.role {
            Role::Router | Role::Leader => self.routers.len() <= 1,
            Role::Child => false,
            Role::Disabled | Role::Detached => true,
        }
    }

    fn set_role(&mut self, role: Role) {
        if self.role == role {
            return;
        }
        self.role = role;
        let c = &mut self.counters;
        match role {
            Role::Disabled => c.role_disabled += 1,
            Role::Detached => c.role_detached += 1,
            Role::Child => c.role_child += 1,
            Role::Router => c.role_router += 1,
            Role::Leader => c.role_leader += 1,
        }
    }

    /// Starts MLE: the node becomes detached and begins to attach.
    pub fn start(&mut self, now: Instant, rng: &mut Rng) {
        self.set_role(Role::Detached);
        self.rloc16 = ShortAddress::INVALID;
        self.leader_data = None;
        self.routers.clear();
        self.begin_attach(now, rng);
    }

    /// Stops MLE (`deinit`): role disabled, all state dropped.
    pub fn stop(&mut self) {
        self.set_role(Role::Disabled);
        self.rloc16 = ShortAddress::INVALID;
        self.leader_data = None;
        self.routers.clear();
        self.attach = Attach::Idle;
    }

    fn begin_attach(&mut self, now: Instant, rng: &mut Rng) {
        self.counters.attach_attempts += 1;
        let jitter = rng.range_u32(0, self.timing.attach_start_jitter.millis() as u32) as u64;
        self.attach = Attach::Start {
            at: now + Duration::from_millis(jitter),
        };
    }

    /// The next instant at which [`Mle::poll`] has work.
    pub fn poll_at(&self) -> Option<Instant> {
        let attach = match self.attach {
            Attach::Idle => None,
            Attach::Start { at } => Some(at),
            Attach::ParentRequestRouters { deadline } | Attach::ParentRequestReeds { deadline } => {
                Some(deadline)
            }
        };
        let adv = match self.role {
            Role::Router | Role::Leader => Some(self.advertisement.poll_at()),
            _ => None,
        };
        match (attach, adv) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs due timers; every message to send is handed to `send`.
    pub fn poll(&mut self, now: Instant, rng: &mut Rng, send: &mut dyn FnMut(MleCommand)) {
        match self.attach {
            Attach::Start { at } if now >= at => {
                self.send_parent_request(false, now, rng, send);
                self.attach = Attach::ParentRequestRouters {
                    deadline: now + self.timing.parent_request_router_timeout,
                };
            }
            Attach::ParentRequestRouters { deadline } if now >= deadline => {
                self.send_parent_request(true, now, rng, send);
                self.attach = Attach::ParentRequestReeds {
                    deadline: now + self.timing.parent_request_reed_timeout,
                };
            }
            Attach::ParentRequestReeds { deadline } if now >= deadline => {
                // No parent answered either request: as OpenThread does for a router-eligible
                // device, form a new partition and lead it.
                self.attach = Attach::Idle;
                self.become_leader(now, rng);
            }
            _ => {}
        }
        if matches!(self.role, Role::Router | Role::Leader) && self.advertisement.poll(now, rng) {
            self.counters.advertisements_sent += 1;
            send(MleCommand::Advertisement);
        }
    }

    fn send_parent_request(
        &mut self,
        to_reeds: bool,
        _now: Instant,
        rng: &mut Rng,
        send: &mut dyn FnMut(MleCommand),
    ) {
        let mut challenge = [0u8; 8];
        rng.fill(&mut challenge);
        self.counters.parent_requests_sent += 1;
        send(MleCommand::ParentRequest {
            to_reeds,
            challenge,
        });
    }

    /// Forms a new partition with this node as leader (OpenThread `MleRouter::BecomeLeader`):
    /// random partition id, a random router id, fresh network data versions.
    fn become_leader(&mut self, now: Instant, rng: &mut Rng) {
        let router_id = rng.range_u32(0, MAX_ROUTER_ID as u32) as u8;
        let partition_id = rng.next_u32();
        self.leader_data = Some(LeaderData {
            partition_id,
            weighting: LEADER_WEIGHT,
            data_version: rng.next_u32() as u8,
            stable_data_version: rng.next_u32() as u8,
            leader_router_id: router_id,
        });
        self.counters.partition_id_changes += 1;
        self.router_id_sequence = rng.next_u32() as u8;
        self.rloc16 = ShortAddress(router_rloc16(router_id));
        self.routers.clear();
        // Capacity 63 holds every router id; the table was just cleared.
        let _ = self.routers.push(RouterEntry {
            router_id,
            ext_addr: Some(self.ext_addr),
            next_hop: Some(router_id),
            path_cost: 0,
            last_heard: now,
        });
        self.set_role(Role::Leader);
        self.advertisement.start(now, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn run_until(mle: &mut Mle, rng: &mut Rng, until: Instant) -> Vec<(Instant, MleCommand)> {
        let mut sent = Vec::new();
        while let Some(at) = mle.poll_at() {
            if at > until {
                break;
            }
            mle.poll(at, rng, &mut |c| sent.push((at, c)));
        }
        sent
    }

    #[test]
    fn lone_node_sends_two_parent_requests_then_leads() {
        let timing = Timing::lora(Duration::from_millis(210));
        let mut mle = Mle::new(ExtAddress::from_u64(0x0101010101010101), timing);
        let mut rng = Rng::new(1);
        mle.start(Instant::ZERO, &mut rng);
        assert_eq!(mle.role(), Role::Detached);
        assert!(mle.is_single());
        let sent = run_until(&mut mle, &mut rng, Instant::from_millis(60_000));
        let prs: Vec<_> = sent
            .iter()
            .filter(|(_, c)| matches!(c, MleCommand::ParentRequest { .. }))
            .collect();
        assert_eq!(prs.len(), 2);
        assert!(matches!(
            prs[0].1,
            MleCommand::ParentRequest {
                to_reeds: false,
                ..
            }
        ));
        assert!(matches!(
            prs[1].1,
            MleCommand::ParentRequest { to_reeds: true, .. }
        ));
        assert_eq!(prs[1].0 - prs[0].0, timing.parent_request_router_timeout);
        assert_eq!(mle.role(), Role::Leader);
        assert!(mle.is_single());
        let ld = mle.leader_data().unwrap();
        assert_eq!(mle.rloc16().0, router_rloc16(ld.leader_router_id));
        assert_eq!(mle.rloc16().0 & 0x1ff, 0, "a router RLOC16 has child id 0");
        assert_eq!(ld.weighting, 64);
        assert_eq!(mle.routers().len(), 1);
        assert!(
            sent.iter().any(|(_, c)| *c == MleCommand::Advertisement),
            "a leader advertises"
        );
        mle.stop();
        assert_eq!(mle.role(), Role::Disabled);
        assert_eq!(mle.poll_at(), None);
    }

    #[test]
    fn partition_ids_and_router_ids_come_from_the_seed() {
        let lead = |seed| {
            let mut mle = Mle::new(ExtAddress::from_u64(1), Timing::thread());
            let mut rng = Rng::new(seed);
            mle.start(Instant::ZERO, &mut rng);
            run_until(&mut mle, &mut rng, Instant::from_millis(10_000));
            mle.leader_data().unwrap()
        };
        assert_eq!(lead(5), lead(5));
        assert_ne!(lead(5).partition_id, lead(6).partition_id);
    }
}
