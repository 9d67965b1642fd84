//! The IEEE 802.15.4 MAC sublayer of a Thread node, carried over LoRa.
//!
//! [`Mac`] owns everything between the 6LoWPAN layer and the radio:
//!
//! - **Transmit queues**: frames from [`Mac::enqueue`] go out in order, one at a time, after
//!   the network-control frames of [`Mac::enqueue_priority`] (MLE), which also go before an
//!   ordinary frame that is waiting and not yet sent (OpenThread's `kPriorityNet`). The MAC
//!   builds the header (data frame, 2006 version, PAN ID compression, ack request for unicast),
//!   allocates the sequence number when the frame reaches the head of the queue and, for secured
//!   frames, the frame counter at the first transmission (security level 5, key id mode 1).
//!   Retries resend the same bytes, as OpenThread does.
//! - **Acknowledgments in software**, as Pycom's radio glue did: an ack-requested frame addressed
//!   to us is answered with an immediate ack (`02 10 seq`) as its own LoRa packet after
//!   [`timing::ACK_TURNAROUND`]; the sender waits [`timing::ack_timeout`], then retries up to
//!   `max_frame_retries` times. An ack never waits behind a data frame. Unlike a radio's
//!   hardware acks, a secured frame is acked only once it authenticates (see `handle_rx`).
//! - **Channel access**: the regional duty cycle ([`DutyCycle`], acks included), then
//!   listen-before-talk ([`ListenBeforeTalk`]) with a random back-off in units of the frame's
//!   airtime; retries back off by a random number of airtimes too.
//! - **Reception**: address filtering (our PAN, our short or extended address, broadcast),
//!   duplicate suppression (same source and sequence number as the last frame accepted from
//!   it; acked again), MAC security (MIC, per-neighbour replay counters), immediate acks, link
//!   margin.
//!
//! One 802.15.4 frame per LoRa packet, without FCS (LoRa's CRC replaces it), at most
//! [`MAX_FRAME_LEN`] bytes. Unsecured data frames (MLE, secured at its own layer) are delivered
//! with `secured: false`: deciding which unsecured frames to accept is the upper layer's job, as
//! in OpenThread's mesh forwarder.

pub mod timing;

use heapless::{Deque, Vec};

use crate::radio::duty_cycle::{
    regional_limits, DutyCycle, DutyCycleStats, LbtDecision, ListenBeforeTalk, RegionalLimits,
};
use crate::radio::{LoRaConfig, Radio, RadioError, RadioEvent, RxInfo, MAX_FRAME_LEN};
use crate::rand::Rng;
use crate::time::{Duration, Instant};
use crate::wire::ieee802154::{
    Address, AuxSecurityHeader, Frame, FrameRepr, FrameType, FrameVersion, KeyIdentifier,
    SECURITY_LEVEL_ENC_MIC_32,
};
use crate::wire::security::{self, FrameCounterTable, KeyManager, OutgoingFrameCounter};
use crate::wire::{Error as WireError, ExtAddress, PanId, ShortAddress};

use timing::ACK_FRAME_LEN;

/// Frames waiting in the transmit queue (the frame being sent not included).
pub const TX_QUEUE_LEN: usize = 24;
/// Network-control frames queued at most ([`Mac::enqueue_priority`]).
pub const PRIORITY_QUEUE_LEN: usize = 8;

/// Neighbours whose MAC frame counters are remembered (32 routers plus children).
pub const FRAME_COUNTER_ENTRIES: usize = 48;

/// Busy channel samples tolerated for one transmission before giving up with
/// [`TxStatus::ChannelBusy`] (OpenThread's `kMaxCsmaBackoffsDirect`).
pub const MAX_CSMA_BACKOFFS: u8 = 4;

/// Sources whose last sequence number is remembered for duplicate suppression.
const RX_SEQUENCE_ENTRIES: usize = 16;

/// Radio events handled per poll: bounded so a busy channel cannot starve the timers.
const MAX_EVENTS_PER_POLL: usize = 16;

/// If the radio has not reported `TxDone` this long after the airtime ended, the MAC assumes
/// it never will (a radio fault) and carries on.
const TX_DONE_GRACE: Duration = Duration::from_millis(1000);

/// Receive buffer: a LoRa packet is at most 255 bytes.
const RX_BUF_LEN: usize = 256;

/// Fixed MAC configuration.
#[derive(Debug, Clone, Copy)]
pub struct MacConfig {
    pub ext_addr: ExtAddress,
    pub pan_id: PanId,
    pub lora: LoRaConfig,
    /// Retransmissions after the first attempt when no ack comes (Pycom: 3).
    pub max_frame_retries: u8,
    pub lbt: ListenBeforeTalk,
    /// The physical layer the MAC's timing follows (airtime, duty cycle, ack turnaround).
    pub phy: Phy,
}

/// The physical layer a MAC runs on, for its timing: every airtime (duty cycle, listen-before-
/// talk and retry back-offs, pacing, ack wait), the regional limits and the ack turnaround.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phy {
    /// LoRa with the configured modulation: AN1200.13 airtime, the region's duty cycle and
    /// dwell time, acks after [`timing::ACK_TURNAROUND`].
    LoRa,
    /// IEEE 802.15.4 O-QPSK at 2.4 GHz (250 kbit/s), as OpenThread's radios and its simulation
    /// medium: 32 us per byte of PSDU, FCS and the 6-byte synchronisation header and PHR; no
    /// duty cycle; acks at once (an OpenThread sender waits 16 ms from the start of its frame,
    /// `kAckTimeout` in `sub_mac.hpp`).
    Ieee802154,
}

impl Phy {
    /// Time on air of a frame of `len` bytes (PSDU without FCS), rounded up to the millisecond.
    pub fn airtime(self, lora: &LoRaConfig, len: usize) -> Duration {
        match self {
            Phy::LoRa => lora.modulation().time_on_air(len),
            Phy::Ieee802154 => Duration::from_millis((((len + 2 + 6) * 32) as u64).div_ceil(1000)),
        }
    }

    /// Delay between the end of a received ack-requested frame and the start of its ack.
    pub const fn ack_turnaround(self) -> Duration {
        match self {
            Phy::LoRa => timing::ACK_TURNAROUND,
            Phy::Ieee802154 => Duration::ZERO,
        }
    }
}

impl MacConfig {
    /// Pycom's choices: 3 retries, listen-before-talk at -85 dBm.
    pub const fn new(ext_addr: ExtAddress, pan_id: PanId, lora: LoRaConfig) -> Self {
        MacConfig {
            ext_addr,
            pan_id,
            lora,
            max_frame_retries: 3,
            lbt: ListenBeforeTalk::PYCOM,
            phy: Phy::LoRa,
        }
    }
}

/// Retries wait this many frame + ack times before their random back-off (see `handle_no_ack`).
/// Measured (simulator, 1280-byte datagram over four hops, seeds 1-8): 1 delivered 4 of 8,
/// 2: 7 of 8, 3: 8 of 8 (with and without 10 % loss); it also helped the 36-node grid converge.
const RETRY_HOPS: u64 = 3;

/// Identifies a queued frame in [`Mac::poll`]'s `tx_done` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxHandle(pub u16);

/// A frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxRequest<'a> {
    /// Short, extended, or broadcast (`Address::BROADCAST`).
    pub dst: Address,
    /// Send our short address (RLOC16) as the source instead of the extended one. Falls back to
    /// the extended address if we have no short address when the frame is built.
    pub src_short: bool,
    /// MAC security: level 5, key id mode 1, the current key sequence.
    pub secure: bool,
    /// The MAC payload (6LoWPAN bytes).
    pub payload: &'a [u8],
}

/// How a queued frame ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Unicast, acknowledged.
    Acked,
    /// Broadcast sent (no ack expected).
    Sent,
    /// Unicast, no ack after all retries.
    NoAck,
    /// The channel stayed busy through every listen-before-talk back-off.
    ChannelBusy,
    /// Not sendable: the frame alone exceeds the duty-cycle budget or the dwell time, the frame
    /// counter is exhausted, or the radio refused it.
    Dropped,
}

/// Why [`Mac::enqueue`] refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacError {
    /// The transmit queue is full.
    QueueFull,
    /// Header, payload and MIC exceed [`MAX_FRAME_LEN`].
    FrameTooLong,
    /// The destination is not a usable address (0xfffe, the "no short address" value).
    InvalidDestination,
}

/// Resolves a neighbour's short address to its extended address (for the nonce of secured
/// frames sent from a short address).
pub trait NeighborLookup {
    fn ext_address_of(&self, short: ShortAddress) -> Option<ExtAddress>;
}

/// No neighbours: every short source address is unknown.
impl NeighborLookup for () {
    fn ext_address_of(&self, _short: ShortAddress) -> Option<ExtAddress> {
        None
    }
}

/// A received data frame handed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxIndication<'a> {
    pub src: Address,
    /// The sender's extended address when known (carried in the frame or from the neighbour
    /// table).
    pub src_ext: Option<ExtAddress>,
    pub dst: Address,
    /// The MAC payload, decrypted.
    pub payload: &'a [u8],
    pub secured: bool,
    pub key_sequence: Option<u32>,
    pub frame_counter: Option<u32>,
    pub rssi_dbm: i16,
    pub snr_db: i8,
    /// SNR above the spreading factor's demodulation floor ([`timing::link_margin_db`]).
    pub link_margin_db: u8,
}

/// OpenThread's `counters mac`, plus what LoRa adds (software acks, duty cycle).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MacCounters {
    /// Data frames transmitted (each counted once, retries in `tx_retry`).
    pub tx_total: u32,
    pub tx_unicast: u32,
    pub tx_broadcast: u32,
    pub tx_ack_requested: u32,
    pub tx_acked: u32,
    pub tx_no_ack_requested: u32,
    pub tx_data: u32,
    pub tx_retry: u32,
    /// Listen-before-talk samples that found the channel busy.
    pub tx_err_cca: u32,
    /// Frames given up after [`MAX_CSMA_BACKOFFS`] busy samples.
    pub tx_err_busy_channel: u32,
    /// The radio refused a transmission or never reported it done.
    pub tx_err_abort: u32,
    pub tx_direct_max_retry_expiry: u32,
    /// Immediate acks sent.
    pub tx_ack: u32,
    /// Acks not sent because the duty cycle would have delayed them past the sender's wait.
    pub tx_ack_dropped: u32,
    /// Frames dropped by the duty cycle or dwell time (can never be sent under the limit).
    pub tx_err_duty_cycle: u32,
    /// Every packet the radio delivered (acks excluded, as OpenThread).
    pub rx_total: u32,
    pub rx_unicast: u32,
    pub rx_broadcast: u32,
    pub rx_data: u32,
    /// Frames of other types (beacons, MAC commands): not handled over LoRa.
    pub rx_other: u32,
    /// Not for our PAN or address.
    pub rx_dest_addr_filtered: u32,
    pub rx_duplicated: u32,
    /// Not a parsable 802.15.4 frame.
    pub rx_err_no_frame: u32,
    /// Secured frame from a short address we cannot resolve.
    pub rx_err_unknown_neighbor: u32,
    /// No source address, or our own extended address as the source.
    pub rx_err_invalid_src_addr: u32,
    /// MIC failure, unknown key, replayed frame counter.
    pub rx_err_sec: u32,
    pub rx_err_other: u32,
}

/// A frame waiting in the queue, as requested.
struct Queued {
    handle: TxHandle,
    dst: Address,
    src_short: bool,
    secure: bool,
    payload: Vec<u8, MAX_FRAME_LEN>,
    queued_at: Instant,
    max_retries: u8,
}

/// The frame at the head of the queue, built and being transmitted.
struct Current {
    handle: TxHandle,
    repr: FrameRepr,
    frame: Vec<u8, MAX_FRAME_LEN>,
    /// Frame counter allocated and payload encrypted (done once, at the first transmission).
    secured: bool,
    /// Transmissions so far.
    attempts: u8,
    /// Retransmissions allowed after a missing ack.
    max_retries: u8,
    /// Busy channel samples for the current attempt.
    csma_backoffs: u8,
    /// No transmission before this (back-off, duty cycle).
    not_before: Instant,
    /// When the duty cycle first held this attempt back (for the delay statistics).
    duty_cycle_wait_since: Option<Instant>,
    /// Waiting for the ack until then.
    ack_deadline: Option<Instant>,
    /// An ordinary frame as queued, until its first transmission: a priority frame queued
    /// meanwhile goes first, and this one back to the head of the queue.
    unsent: Option<Queued>,
}

/// An immediate ack to send.
struct PendingAck {
    frame: [u8; ACK_FRAME_LEN],
    at: Instant,
    /// Past this the sender has stopped waiting: don't send.
    deadline: Instant,
    duty_cycle_wait_since: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnAirKind {
    Data,
    Ack,
}

#[derive(Debug, Clone, Copy)]
struct OnAir {
    kind: OnAirKind,
    /// The radio should have reported `TxDone` by then.
    done_by: Instant,
}

/// The MAC sublayer: see the module documentation.
pub struct Mac {
    config: MacConfig,
    rng: Rng,
    /// No new data frame before this (pacing after an acked unicast frame).
    pacing_until: Instant,
    short_addr: ShortAddress,
    /// Last data sequence number used.
    sequence: u8,
    frame_counter: OutgoingFrameCounter,
    next_handle: u16,
    queue: Deque<Queued, TX_QUEUE_LEN>,
    /// Network-control frames ([`Mac::enqueue_priority`]): sent before anything in `queue`.
    priority_queue: Deque<Queued, PRIORITY_QUEUE_LEN>,
    current: Option<Current>,
    pending_ack: Option<PendingAck>,
    on_air: Option<OnAir>,
    radio_ready: bool,
    duty_cycle: DutyCycle,
    limits: RegionalLimits,
    ack_timeout: Duration,
    rx_frame_counters: FrameCounterTable<FRAME_COUNTER_ENTRIES>,
    /// Neighbours in `rx_frame_counters`, oldest first, to evict when it is full.
    rx_counter_order: Deque<ExtAddress, FRAME_COUNTER_ENTRIES>,
    /// Last sequence number accepted per source, least recently used first.
    rx_sequences: Vec<(Address, u8), RX_SEQUENCE_ENTRIES>,
    counters: MacCounters,
}

impl Mac {
    pub fn new(config: MacConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        // OpenThread starts the data sequence number at a random value.
        let sequence = rng.next_u32() as u8;
        let limits = Self::limits_for(&config);
        Mac {
            config,
            rng,
            pacing_until: Instant::ZERO,
            short_addr: ShortAddress::INVALID,
            sequence,
            frame_counter: OutgoingFrameCounter(0),
            next_handle: 0,
            queue: Deque::new(),
            priority_queue: Deque::new(),
            current: None,
            pending_ack: None,
            on_air: None,
            radio_ready: false,
            duty_cycle: DutyCycle::new(limits.duty_cycle),
            limits,
            ack_timeout: config.phy.ack_turnaround()
                + config.phy.airtime(&config.lora, ACK_FRAME_LEN)
                + timing::ACK_WAIT_MARGIN,
            rx_frame_counters: FrameCounterTable::new(),
            rx_counter_order: Deque::new(),
            rx_sequences: Vec::new(),
            counters: MacCounters::default(),
        }
    }

    fn limits_for(config: &MacConfig) -> RegionalLimits {
        let lora = &config.lora;
        match config.phy {
            Phy::LoRa => regional_limits(
                timing::duty_cycle_region(lora.region),
                lora.frequency,
                lora.bandwidth.hz(),
            ),
            // 2.4 GHz: no duty cycle, no dwell time.
            Phy::Ieee802154 => RegionalLimits {
                duty_cycle: crate::radio::duty_cycle::DutyCycleLimit::UNLIMITED,
                max_dwell_time: None,
            },
        }
    }

    pub fn config(&self) -> &MacConfig {
        &self.config
    }

    /// Our RLOC16; [`ShortAddress::INVALID`] when we have none.
    pub fn set_short_address(&mut self, a: ShortAddress) {
        self.short_addr = a;
    }

    pub fn short_address(&self) -> ShortAddress {
        self.short_addr
    }

    /// The next MAC frame counter (MLE's Link-layer Frame Counter TLV).
    pub fn frame_counter(&self) -> u32 {
        self.frame_counter.0
    }

    /// Sets the outgoing MAC frame counter (restored from storage, or 0 on a key switch).
    pub fn set_frame_counter(&mut self, counter: u32) {
        self.frame_counter = OutgoingFrameCounter(counter);
    }

    /// Forgets a neighbour's replay counter, so that the next frame counter it sends is
    /// accepted afresh (a new link, a neighbour that reset its counter).
    pub fn forget_neighbor(&mut self, ext: &ExtAddress) {
        self.rx_frame_counters.remove(ext);
        let mut kept: Deque<ExtAddress, FRAME_COUNTER_ENTRIES> = Deque::new();
        while let Some(e) = self.rx_counter_order.pop_front() {
            if e != *ext {
                let _ = kept.push_back(e);
            }
        }
        self.rx_counter_order = kept;
    }

    /// How long a sender waits for an ack ([`timing::ack_timeout`] of the configured LoRa
    /// modulation).
    pub fn ack_timeout(&self) -> Duration {
        self.ack_timeout
    }

    pub fn counters(&self) -> &MacCounters {
        &self.counters
    }

    pub fn duty_cycle_stats(&self) -> DutyCycleStats {
        self.duty_cycle.stats()
    }

    /// On-air time counted against the hour ending at `now`, and the hourly budget.
    pub fn duty_cycle_usage(&self, now: Instant) -> (Duration, Duration) {
        (
            self.duty_cycle.airtime_in_window(now),
            self.duty_cycle.limit().budget(),
        )
    }

    /// Frames queued or being sent.
    pub fn pending_frames(&self) -> usize {
        self.queue.len() + self.priority_queue.len() + usize::from(self.current.is_some())
    }

    /// Drops every queued frame, the one being sent, and a pending ack (the mesh stopped). No
    /// `tx_done` is reported for them. A transmission already on the air completes.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.priority_queue.clear();
        self.current = None;
        self.pending_ack = None;
    }

    fn src_address(&self, src_short: bool) -> Address {
        if src_short && self.short_addr != ShortAddress::INVALID {
            Address::Short(self.short_addr)
        } else {
            Address::Extended(self.config.ext_addr)
        }
    }

    /// The header of a data frame, as OpenThread builds it. The frame counter and key index are
    /// placeholders until the first transmission.
    fn data_header(&self, dst: Address, src: Address, secure: bool, seq: u8) -> FrameRepr {
        FrameRepr {
            frame_type: FrameType::Data,
            frame_pending: false,
            ack_request: !dst.is_broadcast(),
            pan_id_compression: true,
            frame_version: FrameVersion::Ieee2006,
            sequence_number: seq,
            dst_pan_id: Some(self.config.pan_id),
            dst_addr: Some(dst),
            src_pan_id: None,
            src_addr: Some(src),
            security: secure.then_some(AuxSecurityHeader {
                security_level: SECURITY_LEVEL_ENC_MIC_32,
                frame_counter: 0,
                key_identifier: KeyIdentifier::Index(security::key_index(0)),
            }),
        }
    }

    /// Queues a frame; its outcome comes through `tx_done` in a later [`Mac::poll`].
    pub fn enqueue(&mut self, now: Instant, req: &TxRequest) -> Result<TxHandle, MacError> {
        self.enqueue_with_retries(now, req, self.config.max_frame_retries)
    }

    /// [`Mac::enqueue`] with its own retry limit (0: one transmission, ack still requested).
    pub fn enqueue_with_retries(
        &mut self,
        now: Instant,
        req: &TxRequest,
        max_retries: u8,
    ) -> Result<TxHandle, MacError> {
        self.enqueue_frame(now, req, max_retries, false)
    }

    /// Enqueues a network-control frame (MLE): it goes before every ordinary frame not yet
    /// sent, as OpenThread's `kPriorityNet` messages go before data. On LoRa a 1280-byte
    /// datagram is 15 paced frames, 20-30 s at SF7. In the simulator's line of five (seed 6)
    /// the sender had become a router just before; its neighbour's Advertisements said for
    /// 20 s that it had no link to it, so every route through that neighbour was gone and the
    /// next datagram could not be sent, most likely because the new router's Link Accept
    /// waited behind the fragments. With MLE first, 4 of seeds 1-24 lost a datagram instead
    /// of 6 (when this came in), and none of them for want of a route. OpenThread gives TMF
    /// the same priority; here TMF first too measured worse (random 50 converged in 72 of 128
    /// seeds of `make bench-seeds` instead of 78), so TMF stays with the data.
    pub fn enqueue_priority(
        &mut self,
        now: Instant,
        req: &TxRequest,
        max_retries: u8,
    ) -> Result<TxHandle, MacError> {
        self.enqueue_frame(now, req, max_retries, true)
    }

    fn enqueue_frame(
        &mut self,
        now: Instant,
        req: &TxRequest,
        max_retries: u8,
        priority: bool,
    ) -> Result<TxHandle, MacError> {
        if req.dst == Address::Short(ShortAddress::INVALID) {
            return Err(MacError::InvalidDestination);
        }
        let repr = self.data_header(req.dst, self.src_address(req.src_short), req.secure, 0);
        if repr.buffer_len() + req.payload.len() + repr.mic_len() > MAX_FRAME_LEN {
            return Err(MacError::FrameTooLong);
        }
        if (priority && self.priority_queue.is_full()) || (!priority && self.queue.is_full()) {
            return Err(MacError::QueueFull);
        }
        let payload = Vec::from_slice(req.payload).map_err(|_| MacError::FrameTooLong)?;
        let handle = TxHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        let q = Queued {
            handle,
            dst: req.dst,
            src_short: req.src_short,
            secure: req.secure,
            payload,
            queued_at: now,
            max_retries,
        };
        if priority {
            self.priority_queue.push_back(q)
        } else {
            self.queue.push_back(q)
        }
        .map_err(|_| MacError::QueueFull)?;
        Ok(handle)
    }

    /// When [`Mac::poll`] should next run (`None`: only when the radio reports something). A
    /// time not after `now` means at once.
    pub fn poll_at(&self) -> Option<Instant> {
        let mut at: Option<Instant> = None;
        let mut consider = |t: Instant| at = Some(at.map_or(t, |a| a.min(t)));
        if let Some(o) = &self.on_air {
            consider(o.done_by);
        }
        if let Some(a) = &self.pending_ack {
            consider(a.at);
        }
        // While a frame is on the air nothing else can start: only its end (or the ack
        // deadline that follows it) matters, and waking before would be busy polling.
        let idle = self.on_air.is_none();
        match &self.current {
            Some(c) => match c.ack_deadline {
                Some(d) => consider(d),
                None if idle => {
                    consider(c.not_before);
                    // A priority frame goes before a current one not sent yet.
                    if let (Some(q), Some(_)) = (self.priority_queue.front(), &c.unsent) {
                        consider(q.queued_at);
                    }
                }
                None => {}
            },
            None if idle => {
                if let Some(q) = self.priority_queue.front().or(self.queue.front()) {
                    consider(q.queued_at);
                }
            }
            None => {}
        }
        at
    }

    /// Runs the MAC at `now`: radio events (received frames, acks, transmission ends), ack
    /// timeouts and retries, then the next transmission if the channel and the duty cycle allow.
    #[allow(clippy::too_many_arguments)]
    pub fn poll(
        &mut self,
        now: Instant,
        radio: &mut dyn Radio,
        keys: &KeyManager,
        neighbors: &dyn NeighborLookup,
        rx: &mut dyn FnMut(RxIndication<'_>),
        tx_done: &mut dyn FnMut(TxHandle, TxStatus),
    ) {
        if !self.radio_ready {
            let _ = radio.configure(&self.config.lora);
            let _ = radio.receive(now);
            self.radio_ready = true;
        }
        let mut buf = [0u8; RX_BUF_LEN];
        for _ in 0..MAX_EVENTS_PER_POLL {
            match radio.poll_event(now, &mut buf) {
                None => break,
                Some(RadioEvent::TxDone) => self.handle_tx_done(now, radio, tx_done),
                Some(RadioEvent::Received(info)) => {
                    let len = info.len.min(buf.len());
                    if let Some(frame) = buf.get_mut(..len) {
                        self.handle_rx(now, frame, info, keys, neighbors, rx, tx_done);
                    }
                }
            }
        }
        if self.on_air.is_some_and(|o| now >= o.done_by) {
            self.counters.tx_err_abort += 1;
            self.handle_tx_done(now, radio, tx_done);
        }
        if self
            .current
            .as_ref()
            .and_then(|c| c.ack_deadline)
            .is_some_and(|d| now >= d)
        {
            self.handle_no_ack(now, tx_done);
        }
        self.transmit_next(now, radio, keys, tx_done);
    }

    fn finish(&mut self, status: TxStatus, tx_done: &mut dyn FnMut(TxHandle, TxStatus)) {
        if let Some(c) = self.current.take() {
            tx_done(c.handle, status);
        }
    }

    fn handle_tx_done(
        &mut self,
        now: Instant,
        radio: &mut dyn Radio,
        tx_done: &mut dyn FnMut(TxHandle, TxStatus),
    ) {
        let Some(on_air) = self.on_air.take() else {
            return;
        };
        // Back to receive first: the ack may come soon.
        let _ = radio.receive(now);
        if on_air.kind == OnAirKind::Ack {
            return;
        }
        let ack_timeout = self.ack_timeout;
        match &mut self.current {
            Some(c) if c.repr.ack_request => c.ack_deadline = Some(now + ack_timeout),
            Some(_) => self.finish(TxStatus::Sent, tx_done),
            // Cleared while on the air.
            None => {}
        }
    }

    fn handle_no_ack(&mut self, now: Instant, tx_done: &mut dyn FnMut(TxHandle, TxStatus)) {
        let spread = self.config.lbt.backoff_airtimes.max(1);
        let airtime = self.airtime(self.current.as_ref().map_or(0, |c| c.frame.len()));
        let Some(c) = self.current.as_mut() else {
            return;
        };
        c.ack_deadline = None;
        if c.attempts > c.max_retries {
            self.counters.tx_direct_max_retry_expiry += 1;
            self.finish(TxStatus::NoAck, tx_done);
            return;
        }
        self.counters.tx_retry += 1;
        // A random wait of up to 2^attempts airtimes (binary exponential back-off, capped at
        // 2^spread), so that senders whose frames collided do not collide again. Up to
        // `attempts` airtimes was too little on LoRa: three routers answering one new router
        // collided through all their retries (simulator, line of eight).
        // Before that, RETRY_HOPS frame + ack times: the receiver that missed our frame is most
        // often busy passing on the one before it, and the relays after it are still passing
        // it on (a fragmented datagram crossing several hops).
        let slots = 1u64 << c.attempts.min(spread);
        let max_wait = airtime.millis().saturating_mul(slots);
        let wait = self.rng.range_u32(0, max_wait.min(u32::MAX as u64) as u32);
        let busy_relay = airtime.millis() + self.ack_timeout.millis();
        c.not_before = now + Duration::from_millis(RETRY_HOPS * busy_relay + u64::from(wait));
        c.csma_backoffs = 0;
    }

    fn airtime(&self, len: usize) -> Duration {
        self.config.phy.airtime(&self.config.lora, len)
    }

    /// Sends a due ack, else the head data frame, if the radio is free.
    fn transmit_next(
        &mut self,
        now: Instant,
        radio: &mut dyn Radio,
        keys: &KeyManager,
        tx_done: &mut dyn FnMut(TxHandle, TxStatus),
    ) {
        if self.on_air.is_some() {
            return;
        }
        if self.pending_ack.is_some() {
            // Acks go first; a data frame started now would delay the ack past the sender's wait.
            self.transmit_ack(now, radio);
            return;
        }
        // Bounded: each pass either starts, waits, or removes one frame.
        for _ in 0..=TX_QUEUE_LEN + PRIORITY_QUEUE_LEN {
            self.put_back_for_priority();
            if self.current.is_none() && !self.start_next_frame(keys, tx_done) {
                return;
            }
            match self.try_transmit_current(now, radio, keys) {
                Some(status) => self.finish(status, tx_done),
                None => return,
            }
        }
    }

    fn transmit_ack(&mut self, now: Instant, radio: &mut dyn Radio) {
        let Some(ack) = self.pending_ack.as_mut() else {
            return;
        };
        if now < ack.at {
            return;
        }
        let airtime = self.config.phy.airtime(&self.config.lora, ACK_FRAME_LEN);
        // Acks skip listen-before-talk, as 802.15.4 acks skip CCA: the sender is waiting for
        // it and a back-off of one airtime would outlast its wait.
        match self.duty_cycle.earliest_start(now, airtime) {
            Some(t) if t <= now => {}
            Some(t) if t <= ack.deadline => {
                ack.at = t;
                ack.duty_cycle_wait_since.get_or_insert(now);
                return;
            }
            _ => {
                self.counters.tx_ack_dropped += 1;
                self.pending_ack = None;
                return;
            }
        }
        let frame = ack.frame;
        let queued_at = ack.duty_cycle_wait_since.unwrap_or(now);
        self.pending_ack = None;
        match radio.transmit(now, &frame) {
            Ok(()) => {
                self.duty_cycle.record_queued(queued_at, now, airtime);
                self.on_air = Some(OnAir {
                    kind: OnAirKind::Ack,
                    done_by: now + airtime + TX_DONE_GRACE,
                });
                self.counters.tx_ack += 1;
            }
            Err(_) => self.counters.tx_err_abort += 1,
        }
    }

    /// A priority frame goes before a current ordinary frame not sent yet (waiting for its
    /// pacing, back-off or the duty cycle): that one goes back to the head of the queue.
    fn put_back_for_priority(&mut self) {
        let preempt = !self.priority_queue.is_empty()
            && !self.queue.is_full()
            && self.current.as_ref().is_some_and(|c| c.unsent.is_some());
        if !preempt {
            return;
        }
        if let Some(unsent) = self.current.take().and_then(|c| c.unsent) {
            // Room: checked above.
            let _ = self.queue.push_front(unsent);
        }
    }

    /// Pops the next queued frame (priority frames first) and builds it; `false` when both
    /// queues are empty.
    fn start_next_frame(
        &mut self,
        keys: &KeyManager,
        tx_done: &mut dyn FnMut(TxHandle, TxStatus),
    ) -> bool {
        while let Some((q, priority)) = self
            .priority_queue
            .pop_front()
            .map(|q| (q, true))
            .or_else(|| self.queue.pop_front().map(|q| (q, false)))
        {
            self.sequence = self.sequence.wrapping_add(1);
            let src = self.src_address(q.src_short);
            let mut repr = self.data_header(q.dst, src, q.secure, self.sequence);
            if let Some(s) = repr.security.as_mut() {
                s.key_identifier = KeyIdentifier::Index(security::key_index(keys.key_sequence()));
            }
            match build_frame(&repr, &q.payload) {
                Some(frame) => {
                    self.current = Some(Current {
                        handle: q.handle,
                        repr,
                        frame,
                        secured: false,
                        attempts: 0,
                        max_retries: q.max_retries,
                        csma_backoffs: 0,
                        not_before: q.queued_at.max(self.pacing_until),
                        duty_cycle_wait_since: None,
                        ack_deadline: None,
                        unsent: (!priority).then_some(q),
                    });
                    return true;
                }
                // Grew past the limit (the short address went away since enqueue).
                None => tx_done(q.handle, TxStatus::Dropped),
            }
        }
        false
    }

    /// One step for the head frame: `None` while it is on the air or waiting, `Some(status)`
    /// when it is finished without a transmission.
    fn try_transmit_current(
        &mut self,
        now: Instant,
        radio: &mut dyn Radio,
        keys: &KeyManager,
    ) -> Option<TxStatus> {
        let airtime = self.airtime(self.current.as_ref()?.frame.len());
        let lbt = self.config.lbt;
        let c = self.current.as_mut()?;
        if c.ack_deadline.is_some() || now < c.not_before {
            return None;
        }
        if !self.limits.allows_frame(airtime) {
            self.counters.tx_err_duty_cycle += 1;
            return Some(TxStatus::Dropped);
        }
        match self.duty_cycle.earliest_start(now, airtime) {
            None => {
                self.counters.tx_err_duty_cycle += 1;
                return Some(TxStatus::Dropped);
            }
            Some(t) if t > now => {
                c.not_before = t;
                c.duty_cycle_wait_since.get_or_insert(now);
                return None;
            }
            Some(_) => {}
        }
        // A radio that cannot sample (mid-transmission) counts as a busy channel.
        let rssi = radio.channel_rssi(now).unwrap_or(i16::MAX);
        if let LbtDecision::BackOffUntil(t) = lbt.decide(now, rssi, self.rng.next_u32(), airtime) {
            self.counters.tx_err_cca += 1;
            c.csma_backoffs += 1;
            if c.csma_backoffs > MAX_CSMA_BACKOFFS {
                self.counters.tx_err_busy_channel += 1;
                return Some(TxStatus::ChannelBusy);
            }
            c.not_before = t;
            return None;
        }
        if c.repr.security.is_some() && !c.secured {
            // The counter is spent even if the radio then refuses the frame, as in OpenThread.
            if secure_current(c, &mut self.frame_counter, keys, &self.config.ext_addr).is_err() {
                return Some(TxStatus::Dropped);
            }
            c.secured = true;
        }
        match radio.transmit(now, &c.frame) {
            Ok(()) => {}
            Err(RadioError::Busy) => {
                // The radio is still finishing something (a lost TxDone): try again after
                // about one frame's airtime rather than spinning.
                self.counters.tx_err_abort += 1;
                c.not_before = now + Duration::from_millis(airtime.millis().max(1));
                return None;
            }
            Err(_) => {
                self.counters.tx_err_abort += 1;
                return Some(TxStatus::Dropped);
            }
        }
        let queued_at = c.duty_cycle_wait_since.take().unwrap_or(now);
        self.duty_cycle.record_queued(queued_at, now, airtime);
        c.unsent = None;
        if c.attempts == 0 {
            let k = &mut self.counters;
            k.tx_total += 1;
            k.tx_data += 1;
            if c.repr.ack_request {
                k.tx_unicast += 1;
                k.tx_ack_requested += 1;
            } else {
                k.tx_broadcast += 1;
                k.tx_no_ack_requested += 1;
            }
        }
        c.attempts = c.attempts.saturating_add(1);
        c.csma_backoffs = 0;
        self.on_air = Some(OnAir {
            kind: OnAirKind::Data,
            done_by: now + airtime + TX_DONE_GRACE,
        });
        None
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_rx(
        &mut self,
        now: Instant,
        frame: &mut [u8],
        info: RxInfo,
        keys: &KeyManager,
        neighbors: &dyn NeighborLookup,
        rx: &mut dyn FnMut(RxIndication<'_>),
        tx_done: &mut dyn FnMut(TxHandle, TxStatus),
    ) {
        let repr = match Frame::new_checked(&*frame).and_then(|f| FrameRepr::parse(&f)) {
            Ok(r) => r,
            Err(_) => {
                self.counters.rx_total += 1;
                self.counters.rx_err_no_frame += 1;
                return;
            }
        };
        if repr.frame_type == FrameType::Ack {
            self.handle_ack(now, repr.sequence_number, tx_done);
            return;
        }
        self.counters.rx_total += 1;
        if repr.frame_type != FrameType::Data {
            self.counters.rx_other += 1;
            return;
        }
        let (Some(dst), Some(dst_pan)) = (repr.dst_addr, repr.dst_pan_id) else {
            self.counters.rx_dest_addr_filtered += 1;
            return;
        };
        if !self.accepts(dst, dst_pan) {
            self.counters.rx_dest_addr_filtered += 1;
            return;
        }
        let src = match repr.src_addr {
            Some(Address::Extended(e)) if e == self.config.ext_addr => None,
            Some(Address::Short(s)) if s == ShortAddress::BROADCAST => None,
            other => other,
        };
        let Some(src) = src else {
            self.counters.rx_err_invalid_src_addr += 1;
            return;
        };
        let ack_requested = repr.ack_request && !dst.is_broadcast();
        if self
            .rx_sequences
            .iter()
            .any(|&(a, s)| a == src && s == repr.sequence_number)
        {
            // A retry of a frame we took: our ack was lost, so ack it again.
            if ack_requested {
                self.schedule_ack(now, &repr);
            }
            self.counters.rx_duplicated += 1;
            return;
        }
        let mut src_ext = match src {
            Address::Extended(e) => Some(e),
            Address::Short(s) => neighbors.ext_address_of(s),
        };
        let mut key_sequence = None;
        let mut frame_counter = None;
        let mut payload = Frame::new_unchecked(&*frame).payload_range();
        if let Some(aux) = repr.security {
            let Some(ext) = src_ext else {
                self.counters.rx_err_unknown_neighbor += 1;
                return;
            };
            let seq = match keys.unsecure_frame(frame, &ext) {
                Ok((seq, range)) => {
                    payload = range;
                    seq
                }
                Err(_) => {
                    self.counters.rx_err_sec += 1;
                    return;
                }
            };
            if self
                .accept_frame_counter(ext, seq, aux.frame_counter)
                .is_err()
            {
                self.counters.rx_err_sec += 1;
                return;
            }
            src_ext = Some(ext);
            key_sequence = Some(seq);
            frame_counter = Some(aux.frame_counter);
        }
        // Acked only once it authenticates, unlike a radio with hardware acks: two partitions
        // side by side often hand out the same RLOC16, and both of its holders acked frames
        // meant for one. The acks collided at the sender, which took its frame for lost (an
        // Address Solicit failed through all its retries: random 50, seed 12), or one stood
        // in for the other and the frame was lost unnoticed. The other holder cannot
        // authenticate the frame: the nonce carries the sender's extended address.
        if ack_requested {
            self.schedule_ack(now, &repr);
        }
        self.remember_sequence(src, repr.sequence_number);
        self.counters.rx_data += 1;
        if dst.is_broadcast() {
            self.counters.rx_broadcast += 1;
        } else {
            self.counters.rx_unicast += 1;
        }
        let Some(payload) = frame.get(payload) else {
            self.counters.rx_err_other += 1;
            return;
        };
        rx(RxIndication {
            src,
            src_ext,
            dst,
            payload,
            secured: repr.security.is_some(),
            key_sequence,
            frame_counter,
            rssi_dbm: info.rssi_dbm,
            snr_db: info.snr_db,
            link_margin_db: timing::link_margin_db(info.snr_db, self.config.lora.sf),
        });
    }

    /// An immediate ack for `repr`, sent after the PHY's turnaround.
    fn schedule_ack(&mut self, now: Instant, repr: &FrameRepr) {
        let ack = FrameRepr::immediate_ack(repr.sequence_number, false, repr.frame_version);
        let mut bytes = [0u8; ACK_FRAME_LEN];
        if ack.emit(&mut bytes).is_ok() {
            self.pending_ack = Some(PendingAck {
                frame: bytes,
                at: now + self.config.phy.ack_turnaround(),
                deadline: now + self.config.phy.ack_turnaround() + timing::ACK_WAIT_MARGIN,
                duty_cycle_wait_since: None,
            });
        }
    }

    /// Destination filter: our PAN (or the broadcast PAN) and our address or broadcast.
    fn accepts(&self, dst: Address, dst_pan: PanId) -> bool {
        if dst_pan != self.config.pan_id && dst_pan != PanId(0xffff) {
            return false;
        }
        match dst {
            Address::Short(s) => {
                s == ShortAddress::BROADCAST || (s == self.short_addr && s != ShortAddress::INVALID)
            }
            Address::Extended(e) => e == self.config.ext_addr,
        }
    }

    fn handle_ack(&mut self, now: Instant, seq: u8, tx_done: &mut dyn FnMut(TxHandle, TxStatus)) {
        let awaited = self
            .current
            .as_ref()
            .is_some_and(|c| c.ack_deadline.is_some() && c.repr.sequence_number == seq);
        if awaited {
            // Pace the next frame: the relay that just took this one passes it on (frame and
            // ack), and so does the relay after it, whose transmission the first relay hears
            // too: three hops of the pipeline must be clear before our next frame, or the
            // fragments of a datagram crossing several hops collide with their own relaying
            // (simulator: a 1280-byte datagram over four hops; one hop of pause lost it).
            let airtime = self
                .current
                .as_ref()
                .map(|c| self.airtime(c.frame.len()))
                .unwrap_or(Duration::ZERO);
            // A hop is the frame and its ack. On LoRa the ack's whole wait counts (its margin
            // is of the order of the airtimes); on 802.15.4 that 50 ms margin would be ten
            // frame times, and an OpenThread peer answers within a millisecond.
            let hop = match self.config.phy {
                Phy::LoRa => airtime.millis() + self.ack_timeout.millis(),
                Phy::Ieee802154 => {
                    airtime.millis()
                        + self.config.phy.ack_turnaround().millis()
                        + self.airtime(ACK_FRAME_LEN).millis()
                }
            };
            let pause = 3 * hop + self.rng.range_u32(0, airtime.millis() as u32) as u64;
            self.pacing_until = now + Duration::from_millis(pause);
            self.counters.tx_acked += 1;
            self.finish(TxStatus::Acked, tx_done);
        }
    }

    fn remember_sequence(&mut self, src: Address, seq: u8) {
        if let Some(i) = self.rx_sequences.iter().position(|&(a, _)| a == src) {
            self.rx_sequences.remove(i);
        } else if self.rx_sequences.is_full() {
            self.rx_sequences.remove(0);
        }
        let _ = self.rx_sequences.push((src, seq));
    }

    /// Replay check and record, evicting the oldest neighbour when the table is full.
    fn accept_frame_counter(
        &mut self,
        ext: ExtAddress,
        key_sequence: u32,
        counter: u32,
    ) -> Result<(), WireError> {
        match self.rx_frame_counters.accept(&ext, key_sequence, counter) {
            Err(WireError::Oversized) => {
                if let Some(old) = self.rx_counter_order.pop_front() {
                    self.rx_frame_counters.remove(&old);
                }
                self.rx_frame_counters.accept(&ext, key_sequence, counter)?;
                let _ = self.rx_counter_order.push_back(ext);
                Ok(())
            }
            Ok(()) => {
                if !self.rx_counter_order.iter().any(|e| *e == ext) {
                    let _ = self.rx_counter_order.push_back(ext);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Header, payload, and room for the MIC; `None` if it exceeds [`MAX_FRAME_LEN`].
fn build_frame(repr: &FrameRepr, payload: &[u8]) -> Option<Vec<u8, MAX_FRAME_LEN>> {
    let header_len = repr.buffer_len();
    let total = header_len + payload.len() + repr.mic_len();
    let mut frame: Vec<u8, MAX_FRAME_LEN> = Vec::new();
    frame.resize(total, 0).ok()?;
    repr.emit(&mut frame).ok()?;
    frame
        .get_mut(header_len..header_len + payload.len())?
        .copy_from_slice(payload);
    Some(frame)
}

/// First transmission of a secured frame: allocate the frame counter, name the current key,
/// encrypt and append the MIC. Retries reuse the result.
fn secure_current(
    c: &mut Current,
    counter: &mut OutgoingFrameCounter,
    keys: &KeyManager,
    ext: &ExtAddress,
) -> Result<(), WireError> {
    let fc = counter.allocate()?;
    let aux = AuxSecurityHeader {
        security_level: SECURITY_LEVEL_ENC_MIC_32,
        frame_counter: fc,
        key_identifier: KeyIdentifier::Index(security::key_index(keys.key_sequence())),
    };
    c.repr.security = Some(aux);
    c.repr.emit(&mut c.frame)?;
    security::secure_frame(&mut c.frame, keys.mac_key(), ext)
}

#[cfg(test)]
mod tests;
