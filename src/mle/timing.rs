//! MLE timers, in two profiles.
//!
//! - [`Timing::thread`]: Thread 1.1's own values (OpenThread `mle_types.hpp`), for 802.15.4
//!   radios and OpenThread interop.
//! - [`Timing::lora`]: the same timers stretched where they wait for radio traffic. A 127-byte
//!   frame takes 4.3 ms on 802.15.4 and 210 ms at SF7/BW125, so a window that must hold the
//!   answers of several routers grows with the frame time. The advertisement interval (trickle
//!   Imax) grows too, so that steady-state advertising stays a small part of a 1 % duty cycle
//!   and of the channel; the liveness timers that count missed advertisements (router age,
//!   network id timeout) keep Thread's ratio to Imax. Child timeout and router selection
//!   jitter keep Thread's values.

use super::LinkScale;
use crate::time::Duration;

/// Trickle Imin of the LoRa profile, in maximum-size frame times (see [`Timing::lora`]).
pub const IMIN_FRAME_TIMES: u64 = 30;
/// Trickle Imax of the LoRa profile, in maximum-size frame times (see [`Timing::lora`]).
pub const IMAX_FRAME_TIMES: u64 = 480;
/// Attach start jitter of the LoRa profile beyond Thread's 50 ms, in maximum-size frame times
/// (5.1 s at SF7; see [`Timing::lora`]).
pub const ATTACH_START_JITTER_FRAME_TIMES: u64 = 24;
/// Router ids the LoRa profile's leader gives ([`Timing::max_routers`]).
pub const LORA_MAX_ROUTERS: u8 = 35;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Airtime of a maximum-size frame (the unit every scaled window is measured in).
    pub frame_time: Duration,
    /// A router may step down to REED when its partition has more routers than this
    /// (Thread's ROUTER_DOWNGRADE_THRESHOLD, 23).
    pub router_downgrade_threshold: u8,
    /// ... and only with this many neighbouring routers at two-way link quality 2 or better
    /// (OpenThread's `kMinDowngradeNeighbors`, 7).
    pub min_downgrade_neighbors: u8,
    /// The most routers the leader gives ids to (Thread: 32). On LoRa 35: the most whose
    /// Route64 still lets the longest MLE message that carries it, Link Accept And Request,
    /// fit one 127-byte frame (`frames` tests). 50-node random meshes ran out of ids at 32
    /// with 45-48 nodes attached (routers did not downgrade on LoRa then), and the REED that could
    /// bridge to the partition beside was refused: `make bench-seeds` over 128 seeds, random
    /// 50 converged in 60 with 32, 69 with 34, 73 with 35, 75 with all 63 ids (random 36 and
    /// the grid unchanged, 106 and 128). A partition never held more than 38 routers.
    pub max_routers: u8,
    /// The leader frees the id of a router it has had no route to for this long
    /// (OpenThread's `kMaxLeaderToRouterTimeout`, 90 s; LoRa: see there); `None`: never.
    pub leader_router_timeout: Option<Duration>,
    /// A freed router id is not given out again for this long (Thread's ID_REUSE_DELAY, 100 s;
    /// on LoRa at Thread's ratio to Imax).
    pub router_id_reuse_delay: Duration,
    /// Wait after a Parent Request to routers (Thread: 750 ms).
    pub parent_request_router_timeout: Duration,
    /// Wait after a Parent Request to routers and REEDs (Thread: 1250 ms).
    pub parent_request_reed_timeout: Duration,
    /// Random delay before the first Parent Request of an attach (OpenThread's
    /// `kAttachStartJitter`, 50 ms): spreads simultaneous power-ups, the routers that heard the
    /// same Advertisement of a better partition, and the nodes that left a partition together.
    /// Thread's 50 ms spans a dozen maximum-size 802.15.4 frames; LoRa's keeps that in frame
    /// times (see [`Timing::lora`]).
    pub attach_start_jitter: Duration,
    /// Advertisement trickle interval bounds (Thread: Imin 1 s, Imax 32 s).
    pub trickle_imin: Duration,
    pub trickle_imax: Duration,
    /// Partition lost when no newer router id sequence (the leader's heartbeat) arrived for
    /// this long (Thread: 120 s), plus [`Timing::network_id_timeout_per_cost`].
    pub network_id_timeout: Duration,
    /// The network id timeout grows by this per unit of path cost to the leader (Thread: 0).
    /// The heartbeat crosses one trickle interval per hop: on LoRa a 50-node mesh is eight
    /// router hops or more deep (path costs up to 10), and at its far end the heartbeat came
    /// as late as Thread's fixed timeout. Simulator, random 50, seed 14, an hour after the
    /// mesh formed: the sequence's mean age was 46 s at path cost 1, 78 s at 5 and 188 s at
    /// 10, and at every cost from 4 up it reached the 378 s timeout, so far routers left a
    /// partition whose leader was alive, and with them their children.
    pub network_id_timeout_per_cost: Duration,
    /// Router entries expire after this long unheard (Thread: 100 s).
    pub max_neighbor_age: Duration,
    /// A router answers a Parent Request after a random delay up to this (OpenThread: 500 ms
    /// for a request to routers), so several routers' answers do not collide.
    pub parent_response_max_delay: Duration,
    /// Wait for the Child ID Response before attaching again.
    pub child_id_response_timeout: Duration,
    /// Wait for Link Accept after a Link Request.
    pub link_accept_timeout: Duration,
    /// Wait for the leader's answer to Address Solicit before trying again.
    pub address_solicit_timeout: Duration,
    /// Random delay before a new child asks to become a router (Thread: 120 s).
    pub router_selection_jitter: Duration,
    /// Longest random wait, after both Parent Request windows stayed silent, before forming a
    /// partition (0 in Thread's profile: OpenThread forms one at once).
    pub leader_backoff: Duration,
    /// A child (REED) that hears a router of another partition asks for a router id even when
    /// its partition has enough routers (not in Thread's profile: OpenThread does not). Thread
    /// merges partitions through routers' Advertisements, and REEDs do not advertise; in a
    /// sparse LoRa mesh two partitions often touch only where one side's nodes are REEDs, and
    /// then neither side ever hears the other (seen in the simulator's 36-node random mesh:
    /// a 5-router partition next to a 30-node one for hours).
    pub bridge_partitions: bool,
    /// How long a REED keeps hearing the same worse partition before it bridges to it
    /// ([`Timing::bridge_partitions`]): a random time between this and twice this. Most
    /// partitions merge on their own, through routers that hear each other; bridging at once
    /// made every REED along the border a router during each merge, and large partitions
    /// then held all 32 router ids, so that where bridging was needed no id was left (random
    /// 50-node meshes in the simulator: 30-32 routers for 41-45 nodes, a small partition
    /// next to the large one's REEDs for hours). LoRa: 4 Imax (6.7 to 13.4 min at SF7).
    /// `make bench-seeds` over 64 seeds, with the rules of the time, random 50 converged in 2
    /// (immediate), 6 (2 Imax), 15 (4 Imax), 18 (8 Imax). Since routers ask the partition a
    /// router of theirs moved to (`Mle::handle_advertisement`), merges need fewer bridges:
    /// over 256 seeds random 50 172/175/165/170/151 and random 36 242/236/238/229/223 at
    /// 2/4/6/8/12 Imax (2 Imax: 28 runs ended with a partition holding every router id);
    /// over 512, 4 Imax against 8: random 50 377 against 363, random 36 462 against 450.
    pub bridge_wait: Duration,
    /// In a merge of partitions of equal weight, where neither is a singleton, the one with
    /// more routers (ids in its Router Mask) wins; Thread compares partition ids there, so
    /// that a partition of 40 nodes moved, node by node, into one of 3 when its id was lower.
    /// On LoRa each move costs Parent Requests, Parent Responses from every router in range
    /// and an Address Solicit, out of a 1 % duty cycle. Not in Thread's profile: OpenThread
    /// nodes must agree with us on which side wins. (Simulator, `make bench` seed 1: 1000
    /// nodes ended in 43 partitions instead of 68, 300 in 14 instead of 37, together with
    /// the bridge wait; `make bench-seeds`: random 36 from 33 to 40 of 64, random 50 from 12
    /// to 18.)
    pub larger_partition_wins: bool,
    /// When the routers-only Parent Request found only routers at two-way link quality 0,
    /// and their partition has at least two router ids to spare, ask the REEDs too before
    /// taking one (OpenThread takes it). A link of quality 0 is no link for routing
    /// (infinite cost), and on LoRa it lies at the demodulation floor. Children attached so
    /// hear their partition over nothing else; in the simulator their REED neighbours,
    /// drawn to become routers by the next such child, found no route to the leader and
    /// left every few minutes. With the LoRa downgrade
    /// ([`Timing::router_downgrade_threshold`]), `make bench-seeds` over 512 seeds: random
    /// 50 from 459 to 467, random 36 from 499 to 508; over 6 h (seeds 1-128), converged
    /// random-50 runs split again 0.6 times on average instead of 3.5. Without the spare ids
    /// (a REED could not take the child anyway) the extra routers filled partitions: 300 and
    /// 1000 nodes ended in 14.6 and 57.6 partitions instead of 13.2 and 39.6 (13.4 and 42.9
    /// with the condition). Not in Thread's profile.
    pub reeds_before_parent_at_lq0: bool,
    /// A router or leader does not attach to a better partition whose Route64 holds every
    /// router id it may give ([`Timing::max_routers`]): there it would be a REED refused an
    /// id, and its children and the routers that reached their leader through it would be
    /// cut off from both partitions. OpenThread attaches (802.15.4 meshes rarely fill 32
    /// ids). In the simulator's 300- and 1000-node meshes partitions fill all 35 and took
    /// routers from each other's borders, and the more so once fewer Parent Requests
    /// collided ([`Timing::attach_start_jitter`]): over seeds 1-40, 300 nodes ended in 12.7
    /// partitions on average, 14.9 with the wider jitter alone, 11.2 with this rule too;
    /// 1000 nodes (seeds 1-8) in 42.9, 49.5 and 39.1; 100 nodes (seeds 1-48) 4.1, 4.2.
    /// Random 50 is unchanged (`make bench-seeds`, 512 seeds: 484 and 481). Not in Thread's
    /// profile.
    pub better_partition_needs_free_id: bool,
    /// A router with no route to its leader for the network id timeout leaves the partition
    /// and attaches again. OpenThread gets there another way: a router's leader age only
    /// restarts on Route TLVs from routers it has a link with, so a router that hears its
    /// partition only over links it cannot make (link quality 0) times out. We take the
    /// leader's heartbeat from any router of the partition (on LoRa links take minutes to
    /// form, and requiring them measured worse: random 36 41 and random 50 8 of 64), so such
    /// a router stayed, with REED children whose Address Solicits never reached the leader;
    /// those children were where small partitions touched the large one (simulator, random
    /// 50: in 12 of 16 failing seeds). `make bench-seeds` (64): random 36 from 55 to 60,
    /// random 50 from 18 to 21. Not in Thread's profile.
    pub leave_when_unrouted: bool,
    /// MAC retransmissions of a Parent Response (Thread: the MAC's usual 3). On LoRa the routers
    /// answering one request collide with each other at the requester; retrying every lost
    /// answer three times tripled the start-up traffic in the simulator's 9-node grid (163 of
    /// 188 unacknowledged unicast frames were Parent Responses). The requester asks again if no
    /// answer arrives.
    pub parent_response_retries: u8,
    /// Link margins to link quality ([`LinkScale`]).
    pub link_scale: LinkScale,
    /// Child timeout we ask our parent for (Timeout TLV; Thread/OpenThread default 240 s). A
    /// child sends its keep-alive Child Update Request every quarter to half of it. On LoRa
    /// each keep-alive costs the parent an answer per child: at 240 s a router with five
    /// children spent 25 s of its 36 s hourly budget on them (simulator, 36-node grid), ran
    /// out, and its partition fell apart. The LoRa profile uses 12 Imax (20 min at SF7).
    pub child_timeout_s: u32,
    /// The leader raises the router id sequence this often, so that routers can tell it is
    /// alive (OpenThread's kRouterIdSequencePeriod, 10 s). It costs no airtime: the sequence
    /// rides in every Advertisement's Route64. On LoRa at Thread's ratio to Imax (31.5 s at
    /// SF7), like the other liveness timers: at 10 s the 8-bit sequence moved ten steps per
    /// Advertisement interval instead of three, and its serial-number window (half the
    /// range) lasted 21 minutes instead of 67. Measured, not explained: `make bench-seeds`
    /// (64) random 50 from 21 to 26 converged, random 36 60 to 59; over seeds 1-16, 300
    /// nodes 15.9 to 14.1 partitions, 100 nodes 4.5 to 5.1; over seeds 1-4, 1000 nodes 41 to
    /// 47. (A Route64 read as newer through wrap-around, dropping live ids, was the
    /// suspect; with the current code that never happened in 32 runs at either period.)
    pub router_id_sequence_period: Duration,
    /// Longest random delay before a Link Request to a router heard advertising. All the
    /// routers that hear a new router's first Advertisement ask it for a link; at once, on
    /// LoRa, their requests collided with each other (and so did their MAC retries: in the
    /// simulator's line of eight, most unacknowledged frames were such Link Requests).
    /// LoRa: 16 frame times (3.4 s at SF7); Thread: none.
    pub link_request_jitter: Duration,
    /// The physical layer the MAC's timing follows ([`crate::mac::Phy`]): Thread's profile is
    /// for 802.15.4 (OpenThread's radios and simulation medium), the LoRa profile for LoRa.
    pub phy: crate::mac::Phy,
    /// A REED advertises (Source Address and Leader Data, no Route64) once after its router
    /// selection jitter and then every this to this + 60 s (Thread's
    /// REED_ADVERTISEMENT_INTERVAL and _JITTER, 570 s and 60 s; OpenThread's
    /// `kReedAdvIntervalMin/Max`). It is how a partition hears another that it touches only
    /// through children. Not scaled on LoRa: a REED Advertisement is about 0.1 s of airtime
    /// at SF7, 0.02 % of a REED's hour, and a longer interval would slow those merges.
    pub reed_advertisement_interval: Duration,
    /// MAC retries of a frame that carries a 6LoWPAN fragment (FRAG1/FRAGN); every other
    /// frame keeps the MAC's 3. A lost fragment loses its whole datagram, up to 15 frames on
    /// every hop. Thread: 3 (OpenThread's `OPENTHREAD_CONFIG_MAC_DEFAULT_MAX_FRAME_RETRIES_DIRECT`).
    /// LoRa: 7, 802.15.4's largest `macMaxFrameRetries`. Listen-before-talk at -85 dBm does not
    /// hear a neighbour received at -120 dBm, so relays two hops apart are hidden from each
    /// other and their frames collide at the relay between them; with 3 retries a fragment
    /// crossing four hops used them all up. Measured (simulator, 1280-byte datagram over four
    /// hops at 10 % loss, seeds 1-96, with [`Timing::reassembly_timeout`] at 400 frame
    /// times): lost in 16 with 3 retries, in none with 7. 7 for every data frame cost larger
    /// meshes (300 and 1000 nodes: 13.9 and 44.4 partitions against 12.5 and 41.5), and for
    /// MLE too random 50 (194 of 256 seeds of `make bench-seeds` converged against 208).
    pub fragment_retries: u8,
    /// How long a partly reassembled datagram is kept after its first fragment. Thread: 2 s
    /// (OpenThread's `OPENTHREAD_CONFIG_6LOWPAN_REASSEMBLY_TIMEOUT`), that is 400 frame times
    /// of 5 ms; LoRa: the same 400 frame times (84 s at SF7). A 1280-byte datagram is 15
    /// frames, each paced and retried on every hop: over four hops at 10 % loss it took up to
    /// 50 s (median 36 s, seeds 1-60). The earlier 160 frame times + 5 s (39 s) timed out 6 of
    /// 96 such datagrams whose fragments were all on their way.
    pub reassembly_timeout: Duration,
}

impl Timing {
    /// Router ids a leader could still give in a partition of `routers` routers
    /// ([`Timing::max_routers`]).
    pub const fn spare_router_ids(&self, routers: usize) -> usize {
        (self.max_routers as usize).saturating_sub(routers)
    }

    /// Thread 1.1 values, unscaled (802.15.4 at 250 kbit/s: 4.3 ms per 127-byte frame).
    pub const fn thread() -> Self {
        Timing {
            frame_time: Duration::from_millis(5),
            parent_request_router_timeout: Duration::from_millis(750),
            parent_request_reed_timeout: Duration::from_millis(1250),
            attach_start_jitter: Duration::from_millis(50),
            trickle_imin: Duration::from_secs(1),
            trickle_imax: Duration::from_secs(32),
            network_id_timeout: Duration::from_secs(120),
            network_id_timeout_per_cost: Duration::ZERO,
            max_neighbor_age: Duration::from_secs(100),
            parent_response_max_delay: Duration::from_millis(500),
            child_id_response_timeout: Duration::from_millis(1250),
            link_accept_timeout: Duration::from_millis(1000),
            address_solicit_timeout: Duration::from_secs(5),
            router_selection_jitter: Duration::from_secs(120),
            leader_backoff: Duration::ZERO,
            bridge_partitions: false,
            bridge_wait: Duration::from_millis(0),
            larger_partition_wins: false,
            reeds_before_parent_at_lq0: false,
            better_partition_needs_free_id: false,
            leave_when_unrouted: false,
            parent_response_retries: 3,
            link_scale: LinkScale::Thread,
            child_timeout_s: 240,
            router_id_sequence_period: Duration::from_secs(10),
            link_request_jitter: Duration::ZERO,
            phy: crate::mac::Phy::Ieee802154,
            router_downgrade_threshold: super::ROUTER_DOWNGRADE_THRESHOLD,
            min_downgrade_neighbors: 7,
            max_routers: 32,
            leader_router_timeout: Some(Duration::from_secs(90)),
            router_id_reuse_delay: Duration::from_secs(100),
            reed_advertisement_interval: Duration::from_secs(570),
            fragment_retries: 3,
            reassembly_timeout: crate::lowpan::reassembly::OPENTHREAD_REASSEMBLY_TIMEOUT,
        }
    }

    /// Thread's timers stretched for a radio whose maximum-size frame takes `frame_time`.
    ///
    /// Parent-request windows: Thread's value plus room for 16 (routers) or 32 (routers and
    /// REEDs) answers of one frame time each: on LoRa a dozen routers in range answer the
    /// same request, and answers that overlap are lost (measured in the simulator's 36-node
    /// grid: half the window gave three times the collisions).
    /// Trickle Imin: at least [`IMIN_FRAME_TIMES`] frame times (6.3 s at SF7). Every change of
    /// the partition's router set resets every router's trickle timer to Imin; from Thread's
    /// 1 s each reset cost eight Advertisements before the interval was back at Imax. In the
    /// simulator's 36-node grid Advertisements were then half the airtime of the first hour
    /// (one per router every 24 s), routers ran out of their 1 % budget, the leader's router
    /// id sequence stopped spreading and the partition fell apart; from 6.3 s a reset costs
    /// five.
    /// Trickle Imax: at least [`IMAX_FRAME_TIMES`] frame times. Thread's 32 s at SF7 made a
    /// router's Advertisements (~140 ms each, one per 24 s on average) 0.45 % of the hour, and
    /// everything else it sent more: measured in the simulator's 36-node random mesh (seed 1),
    /// routers stood at 80-100 % of the 1 % budget after the first hour, so none had room to
    /// answer a Parent Request and partitions never merged; a third of the frames collided.
    /// At 480 frame times (100.8 s at SF7) Advertisements take ~0.2 % of the hour.
    /// Router age and network id timeout keep Thread's multiples of Imax (100/32, 120/32):
    /// the same number of missed Advertisements ends a link or a partition.
    pub const fn lora(frame_time: Duration) -> Self {
        let t = Timing::thread();
        let ft = frame_time.millis();
        let imin = if IMIN_FRAME_TIMES * ft > t.trickle_imin.millis() {
            IMIN_FRAME_TIMES * ft
        } else {
            t.trickle_imin.millis()
        };
        let imax = if IMAX_FRAME_TIMES * ft > t.trickle_imax.millis() {
            IMAX_FRAME_TIMES * ft
        } else {
            t.trickle_imax.millis()
        };
        // Thread's liveness timers as multiples of its Imax (32 s): 100 s and 120 s.
        let thread_imax = t.trickle_imax.millis();
        Timing {
            frame_time,
            parent_request_router_timeout: Duration::from_millis(
                t.parent_request_router_timeout.millis() + 8 * ft,
            ),
            parent_request_reed_timeout: Duration::from_millis(
                t.parent_request_reed_timeout.millis() + 16 * ft,
            ),
            // Thread's 50 ms is 12 frame times of 802.15.4; at 2 frame times (470 ms at SF7)
            // requests of nodes that heard the same Advertisement still collided: random 50,
            // seed 1, the two routers of a partition cut off behind a REED heard it advertise
            // the other partition, sent their Parent Requests 0.1 s apart, both lost, and
            // waited 2-4 Imax to try again. `make bench-seeds` over 512 seeds, random 50:
            // 467 converged at 2 frame times, 478 at 12, 484 at 24 (256 seeds: 231, 233, 242,
            // and 242 at 48); over 6 h (seeds 1-128) 126 ended as one partition (124).
            attach_start_jitter: Duration::from_millis(
                t.attach_start_jitter.millis() + ATTACH_START_JITTER_FRAME_TIMES * ft,
            ),
            trickle_imin: Duration::from_millis(imin),
            trickle_imax: Duration::from_millis(imax),
            network_id_timeout: Duration::from_millis(
                t.network_id_timeout.millis() * imax / thread_imax,
            ),
            network_id_timeout_per_cost: Duration::from_millis(imax / 4),
            max_neighbor_age: Duration::from_millis(
                t.max_neighbor_age.millis() * imax / thread_imax,
            ),
            // Answers must land inside the requester's window (750 ms + 8 frames).
            parent_response_max_delay: Duration::from_millis(
                t.parent_response_max_delay.millis() + 6 * ft,
            ),
            // A parent may wait for its duty cycle and its own queue: a few frames more.
            child_id_response_timeout: Duration::from_millis(
                t.child_id_response_timeout.millis() + 8 * ft,
            ),
            link_accept_timeout: Duration::from_millis(t.link_accept_timeout.millis() + 8 * ft),
            // Two hops or more each way through the mesh.
            address_solicit_timeout: Duration::from_millis(
                t.address_solicit_timeout.millis() + 16 * ft,
            ),
            router_selection_jitter: t.router_selection_jitter,
            // Room for 64 nodes' first Advertisements, so that nodes powered up together join
            // the first partition formed rather than each forming their own.
            leader_backoff: Duration::from_millis(64 * ft),
            bridge_partitions: true,
            bridge_wait: Duration::from_millis(4 * imax),
            larger_partition_wins: true,
            reeds_before_parent_at_lq0: true,
            better_partition_needs_free_id: true,
            leave_when_unrouted: true,
            parent_response_retries: 0,
            link_scale: LinkScale::LoRa,
            phy: crate::mac::Phy::LoRa,
            child_timeout_s: if imax > thread_imax {
                (12 * imax / 1000) as u32
            } else {
                t.child_timeout_s
            },
            router_id_sequence_period: Duration::from_millis(
                t.router_id_sequence_period.millis() * imax / thread_imax,
            ),
            link_request_jitter: Duration::from_millis(16 * ft),
            // On LoRa a router steps down only when its partition holds every router id it
            // may give ([`Timing::max_routers`]), with three good neighbours: one id is then
            // free again for a REED that must bridge to a partition beside or take a child.
            // Routers upgrade freely while partitions are small (below 16 routers) and keep
            // their ids through merges, so 50-node meshes reached 35 routers; a partition
            // then held every id and the REEDs at its border were refused (over 6 h, 7 of
            // 128 random-50 runs ended so, two partitions, one of 34-35 routers and one of
            // 1-5; with this rule 3 of 128 end split, none so). `make bench-seeds` over 512
            // seeds: random 50 459 instead of 448. Downgrading above Thread's 23 rarely fired
            // with seven neighbours and raised random 36's mean partitions (2.08 to 2.78 over
            // 64 seeds); with 2-6 neighbours random 50 converged in 165-212 of 256 seeds,
            // against 201-207. In session 9 this rule alone measured as noise; it helps since
            // far routers no longer time out (`network_id_timeout_per_cost`).
            router_downgrade_threshold: LORA_MAX_ROUTERS - 1,
            min_downgrade_neighbors: 3,
            // See the field: the most routers whose Route64 fits every MLE message in a frame.
            max_routers: LORA_MAX_ROUTERS,
            // The leader frees the ids of routers it has had no route to for two network id
            // timeouts (756 s at SF7): by then such a router has left by itself
            // (`leave_when_unrouted`), and large partitions had all 32 ids allocated, some to
            // routers long gone, so REEDs could not bridge. Before the sequence period and
            // `leave_when_unrouted`, freeing ids (at 283 s) also freed live routers past
            // Route64's cost limit and fragmented the mesh (random 50: 3 of 64). Now, 64 seeds
            // of `make bench-seeds`: random 50 from 26 to 32 converged (random 36 59 -> 56,
            // noise); over seeds 1-16, 100 nodes 4.5 partitions either way, 300 nodes 14.1 ->
            // 15.0; but over seeds 1-4, 1000 nodes 47 -> 52 partitions at 0.26 -> 0.35 %
            // airtime per router (more routers leaving and coming back). Its router then
            // attaches again when a newer mask lacks its id (`router_id_lost`).
            leader_router_timeout: Some(Duration::from_millis(
                2 * t.network_id_timeout.millis() * imax / thread_imax,
            )),
            router_id_reuse_delay: Duration::from_millis(
                t.router_id_reuse_delay.millis() * imax / thread_imax,
            ),
            reed_advertisement_interval: t.reed_advertisement_interval,
            fragment_retries: 7,
            reassembly_timeout: Duration::from_millis(
                t.reassembly_timeout.millis() * ft / t.frame_time.millis(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lora_windows_grow_with_frame_time_and_thread_values_stay() {
        let sf7 = Timing::lora(Duration::from_millis(210));
        assert_eq!(
            sf7.parent_request_router_timeout,
            Duration::from_millis(750 + 1680)
        );
        assert_eq!(
            sf7.parent_request_reed_timeout,
            Duration::from_millis(1250 + 3360)
        );
        assert_eq!(sf7.trickle_imin, Duration::from_millis(6300));
        assert_eq!(sf7.trickle_imax, Duration::from_millis(100_800));
        // The leader's heartbeat keeps Thread's ratio to Imax: 10 s per 32 s.
        assert_eq!(sf7.router_id_sequence_period, Duration::from_millis(31_500));
        assert_eq!(sf7.max_neighbor_age, Duration::from_millis(315_000));
        assert_eq!(sf7.network_id_timeout, Duration::from_millis(378_000));
        assert_eq!(sf7.child_timeout_s, 1209);
        assert_eq!(Timing::lora(Duration::from_millis(5)).child_timeout_s, 240);
        let sf12 = Timing::lora(Duration::from_millis(4923));
        assert!(sf12.trickle_imin > Duration::from_secs(19));
        assert_eq!(sf12.trickle_imax, Duration::from_millis(480 * 4923));
        assert_eq!(
            sf12.router_selection_jitter,
            Timing::thread().router_selection_jitter
        );
        // An 802.15.4-fast frame keeps Thread's values.
        let fast = Timing::lora(Duration::from_millis(5));
        assert_eq!(fast.trickle_imax, Timing::thread().trickle_imax);
        assert_eq!(fast.network_id_timeout, Timing::thread().network_id_timeout);
    }
}
