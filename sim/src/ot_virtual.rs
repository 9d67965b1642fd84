//! Co-simulation with OpenThread in virtual time: our nodes and OpenThread's simulated nodes
//! (`ot-cli-ftd` built with `OT_SIMULATION_VIRTUAL_TIME`, `make ot-vt`) on one 802.15.4 medium,
//! with this simulator as the dispatcher that owns the clock.
//!
//! # OpenThread's side (openthread-sys 0.4.0, `examples/platforms/simulation/virtual_time/`)
//!
//! A virtual-time node reads no clock: it exchanges `struct Event` datagrams with a dispatcher
//! (`platform-simulation.h`): `uint64_t mDelay; uint8_t mEvent; uint16_t mDataLength;
//! uint8_t mData[1024]`, packed, in host byte order. Kinds: 0 alarm fired, 1 radio frame,
//! 2 UART bytes (3 spinel and 5 OTNS status are not used by this build).
//!
//! - Node to dispatcher: whenever it has nothing left to do (no tasklet, no transmission
//!   pending, no alarm due) it sends kind 0 with `mDelay` = microseconds to its next alarm
//!   (the *sleep* event) and blocks until the dispatcher sends something. Before that it may
//!   send kind 1 (a frame it starts transmitting: channel byte, then the PSDU with its FCS;
//!   `radio.c` `radioTransmit`, `mDelay` 1, ignored here) and kind 2 (CLI output with
//!   `OT_SIMULATION_VIRTUAL_TIME_UART`).
//! - Dispatcher to node: kind 0 (its alarm is due), kind 1 (a frame received), kind 2 (CLI
//!   input), each advancing the node's clock by `mDelay` first (`platformAlarmAdvanceNow`).
//!   The node answers every event with more events and, last, a sleep event: that is how the
//!   dispatcher knows it is done, so the exchange is strictly one node at a time.
//! - Transport: UDP on loopback (the dispatcher at port `PORT_BASE + 34 * PORT_OFFSET`, the
//!   node at that plus its id) or, with `OT_VT_USE_UNIX_SOCKET=1`, a `SOCK_SEQPACKET` Unix
//!   socket: the node binds `vt.<port>.sock` in its working directory and connects to
//!   `vt.<dispatcher port>.sock` there. This module uses the Unix socket: no port can clash
//!   with another test run (or with the real-time interop tests' multicast ports), and nothing
//!   is reachable from outside the temporary directory.
//! - Transmission done: in virtual time the radio waits for the end of every frame it sends
//!   (`sTxWait`): a frame with the ack-request bit ends with the matching ack (or OpenThread's
//!   16 ms ack timeout, its own alarm), any other frame with its *echo*: the dispatcher sends
//!   the sender its own frame back, byte for byte (`radioReceive`: "Simulate tx done when
//!   receiving the echo frame"). Acks are frames like any other; the radio sends one at once
//!   for a received frame addressed to it with the ack-request bit.
//! - Randomness: the platform's `otPlatEntropyGet` reads `/dev/urandom`, and it seeds both of
//!   OpenThread's generators. The virtual-time build wraps it (`tools/ot-vt-entropy.c`):
//!   with `OT_VT_SEED` a node's entropy is a stream of that seed, so a run is repeatable.
//!
//! # The medium
//!
//! 802.15.4 O-QPSK at 2.4 GHz: 250 kbit/s, 32 us per byte of PSDU (FCS included) plus the
//! 6-byte synchronisation header and PHR. Every node hears every other on its channel, at
//! OpenThread's simulated RSSI (-20 dBm). A frame is lost at a receiver that transmitted while
//! it was on the air (half duplex) or that heard another frame on the channel overlapping it
//! (collision; no capture, all signals being equally strong). Our radio senses the channel for
//! listen-before-talk; OpenThread's simulated radio does no CCA (its CSMA back-off still
//! applies). A node's frames go out one after another: an OpenThread node that sends an ack
//! and then a frame of its own in the same step transmits the second after the first.
//!
//! # Our nodes
//!
//! As `pymesh-ot-node` configures them: Pymesh's network identity, [`Timing::thread`] (so the
//! MAC times 802.15.4: airtime at 250 kbit/s, no duty cycle, immediate acks), polled at their
//! own timers, when their frame ends and when a frame reaches them, as in [`crate::des`].
//! Frames travel without FCS between our MAC and its radio; the medium adds it.
//!
//! Why not [`crate::des::Simulator`] with OpenThread nodes added: its air is LoRa's (airtime
//! from the LoRa configuration, path loss and SNR floors, capture), and a node on it with
//! Thread's timing would still get LoRa airtimes. This medium is 802.15.4's; the event
//! discipline (polls at timers and frame ends, ties in schedule order, stale events skipped),
//! the pcap writer, the frame codec of [`crate::ot_medium`] and the seeds of
//! [`crate::scenario`] are the same.
//!
//! # Driving it
//!
//! Both kinds of node take OpenThread CLI commands through [`CoSim::cli`], which runs the
//! simulation until the answer (`Done` or `Error ...`) is complete: for an OpenThread node
//! the command goes in as UART bytes and its output comes back as UART events; our nodes
//! answer through [`pymesh::cli`] plus `ping` (the answer waits for the reply, as
//! OpenThread's) and OpenThread's `udp` example commands ([`crate::ot_cli`]). Lines printed
//! outside an answer (a received UDP datagram) are kept for [`CoSim::wait_line`].
//!
//! Determinism: the run is a function of the seed (our nodes' seeds and every OpenThread
//! node's `OT_VT_SEED` derive from it), the nodes added and the calls made. Events at one
//! instant run in the order they were scheduled; nothing reads the wall clock except the
//! speed measurement and the watchdog on a silent OpenThread process.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use socket2::{Domain, SockAddr, Socket, Type};

use pymesh::mle::Timing;
use pymesh::net::SocketId;
use pymesh::node::{NetworkIdentity, Node, NodeConfig};
use pymesh::radio::region::{LoRaParams, Region};
use pymesh::radio::{LoRaConfig, Radio, RadioError, RadioEvent, RxInfo, MAX_FRAME_LEN};
use pymesh::time::{Duration, Instant};

use crate::ot_cli::{udp_command, udp_received_line};
use crate::ot_medium::{decode_datagram, encode_datagram, OT_RSSI_DBM, OT_SNR_DB};
use crate::pcap::PcapWriter;
use crate::scenario::{ext_addr, node_seed};

/// Microseconds in a second: virtual time is counted in microseconds.
pub const SECOND_US: u64 = 1_000_000;

/// Event kinds (`OT_SIM_EVENT_*` in `platform-simulation.h`).
pub const EVENT_ALARM_FIRED: u8 = 0;
pub const EVENT_RADIO_RECEIVED: u8 = 1;
pub const EVENT_UART_WRITE: u8 = 2;
/// `offsetof(struct Event, mData)`: 8 + 1 + 2 bytes, packed.
pub const EVENT_HEADER_LEN: usize = 11;
/// `OT_EVENT_DATA_MAX_SIZE`.
pub const EVENT_DATA_MAX: usize = 1024;

/// OpenThread's default `PORT_BASE`; with `PORT_OFFSET` 0 the dispatcher's socket is
/// `vt.9000.sock` and node N's `vt.<9000 + N>.sock`.
pub const PORT_BASE: u16 = 9000;
/// `OPENTHREAD_SIMULATION_MAX_NETWORK_SIZE`: node ids are 1..=33, and so are members here.
pub const MAX_MEMBERS: usize = 33;

/// 802.15.4 O-QPSK (2.4 GHz): microseconds per byte at 250 kbit/s.
pub const US_PER_BYTE: u64 = 32;
/// Synchronisation header (preamble 4, SFD 1) and PHR (1) before the PSDU.
pub const SHR_PHR_LEN: usize = 6;
/// The longest frame (127-byte PSDU) on the air.
pub const MAX_AIRTIME_US: u64 = (SHR_PHR_LEN as u64 + 127) * US_PER_BYTE;
/// The channel energy our radio samples when nothing is on the air: what OpenThread's
/// simulated radio reports on channel 11 (`SIM_LOW_RSSI_SAMPLE`).
pub const IDLE_RSSI_DBM: i16 = -98;

/// Polls of one of our nodes at one instant before the rest is deferred by a millisecond
/// (as in [`crate::des`]).
const MAX_POLLS_PER_INSTANT: usize = 8;
/// How long an OpenThread process may take to answer one event (wall clock) before it is
/// declared hung.
const OT_ANSWER_TIMEOUT: StdDuration = StdDuration::from_secs(30);

/// Time on air of a PSDU of `psdu_len` bytes (FCS included).
pub fn airtime_us(psdu_len: usize) -> u64 {
    (SHR_PHR_LEN + psdu_len) as u64 * US_PER_BYTE
}

/// One `struct Event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtEvent {
    pub delay_us: u64,
    pub kind: u8,
    pub data: Vec<u8>,
}

impl OtEvent {
    /// The datagram: the packed struct up to the end of its data, host byte order.
    pub fn encode(&self) -> Vec<u8> {
        assert!(self.data.len() <= EVENT_DATA_MAX, "event data too long");
        let mut b = Vec::with_capacity(EVENT_HEADER_LEN + self.data.len());
        b.extend_from_slice(&self.delay_us.to_ne_bytes());
        b.push(self.kind);
        b.extend_from_slice(&(self.data.len() as u16).to_ne_bytes());
        b.extend_from_slice(&self.data);
        b
    }

    /// `None` when shorter than the header or than the data length it announces.
    pub fn decode(b: &[u8]) -> Option<OtEvent> {
        let header = b.get(..EVENT_HEADER_LEN)?;
        let delay_us = u64::from_ne_bytes(header[..8].try_into().ok()?);
        let len = u16::from_ne_bytes([header[9], header[10]]) as usize;
        let data = b.get(EVENT_HEADER_LEN..EVENT_HEADER_LEN + len)?.to_vec();
        Some(OtEvent {
            delay_us,
            kind: header[8],
            data,
        })
    }
}

/// What went wrong in a co-simulation.
#[derive(Debug)]
pub enum Error {
    /// Spawning, or talking to, an OpenThread process.
    Io(io::Error),
    /// An OpenThread process exited or hung; what it wrote to stderr.
    Process { member: MemberId, what: String },
    /// An OpenThread process sent something this dispatcher does not understand.
    Protocol { member: MemberId, what: String },
    /// A command answered `Error N: ...`.
    Cli {
        member: MemberId,
        command: String,
        answer: String,
    },
    /// A command (or an awaited line) did not complete before its virtual deadline.
    Timeout {
        member: MemberId,
        what: String,
        output: Vec<String>,
    },
    /// More members than OpenThread's node ids allow.
    TooManyMembers,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O: {e}"),
            Error::Process { member, what } => write!(f, "{member}: {what}"),
            Error::Protocol { member, what } => write!(f, "{member}: protocol: {what}"),
            Error::Cli {
                member,
                command,
                answer,
            } => write!(f, "{member}: {command:?}: {answer}"),
            Error::Timeout {
                member,
                what,
                output,
            } => write!(f, "{member}: {what} (output so far: {output:?})"),
            Error::TooManyMembers => write!(f, "more than {MAX_MEMBERS} nodes"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A node of the co-simulation, by the order it was added; OpenThread node ids are this
/// index plus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(pub usize);

impl MemberId {
    /// The node id (1..=33) an OpenThread node of this index is started with.
    pub fn node_id(self) -> u16 {
        self.0 as u16 + 1
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}", self.node_id())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pymesh,
    OpenThread,
}

/// Counters of the medium and the dispatcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames put on the air (acks included), by either kind of node.
    pub frames_sent: u64,
    pub acks_sent: u64,
    /// Frame deliveries (one per frame and receiver).
    pub receptions: u64,
    /// Frames sent back to their OpenThread sender as its transmission-done.
    pub echoes: u64,
    /// Frames lost to an overlapping frame at the receiver.
    pub collisions: u64,
    /// Frames lost because the receiver was transmitting.
    pub half_duplex: u64,
    /// Frames our radio did not take: another channel, or not in receive.
    pub not_received: u64,
    /// OpenThread frames with a bad FCS (none expected: its radio computes it).
    pub bad_fcs: u64,
    /// Events exchanged with OpenThread processes, both ways.
    pub ot_events: u64,
    /// Simulator events processed (polls, alarms, frame ends).
    pub events: u64,
}

/// One frame on the air, for [`CoSim::record_frames`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRecord {
    pub start_us: u64,
    pub end_us: u64,
    pub sender: MemberId,
    pub channel: u8,
    /// The PSDU with its FCS.
    pub psdu: Vec<u8>,
}

/// Output lines of a node's CLI, prompts (`> `) stripped, empty lines dropped.
#[derive(Debug, Default)]
struct Console {
    partial: Vec<u8>,
    lines: VecDeque<String>,
    /// Lines printed outside any command's answer.
    unsolicited: Vec<String>,
}

impl Console {
    fn feed(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.partial.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&raw);
            let mut line = text.trim_end_matches(['\r', '\n']);
            while let Some(rest) = line.strip_prefix("> ") {
                line = rest;
            }
            if !line.is_empty() {
                self.lines.push_back(line.to_string());
            }
        }
    }

    fn push_line(&mut self, line: &str) {
        self.feed(line.as_bytes());
        self.feed(b"\r\n");
    }

    /// Moves what is printed so far to the unsolicited lines (a command is about to start).
    fn flush(&mut self) {
        self.unsolicited.extend(self.lines.drain(..));
    }

    fn has_answer(&self) -> bool {
        self.lines
            .iter()
            .any(|l| l == "Done" || l.starts_with("Error "))
    }

    /// The answer to `command` (without its echo and `Done`), or the error line.
    fn take_answer(&mut self, command: &str) -> std::result::Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut echoed = false;
        while let Some(line) = self.lines.pop_front() {
            if !echoed && line == command {
                echoed = true;
            } else if line == "Done" {
                return Ok(out);
            } else if line.starts_with("Error ") {
                return Err(line);
            } else {
                out.push(line);
            }
        }
        unreachable!("take_answer is called once has_answer holds")
    }

    fn take_line(&mut self, predicate: &mut dyn FnMut(&str) -> bool) -> Option<String> {
        self.flush();
        let i = self.unsolicited.iter().position(|l| predicate(l))?;
        Some(self.unsolicited.remove(i))
    }

    fn any_line(&self, predicate: &mut dyn FnMut(&str) -> bool) -> bool {
        self.unsolicited
            .iter()
            .chain(self.lines.iter())
            .any(|l| predicate(l))
    }
}

/// Our node's radio on the co-simulated medium.
#[derive(Debug, Default)]
struct PmRadio {
    now_us: u64,
    channel: u8,
    listening: bool,
    /// The transmission in progress: (start, end).
    tx: Option<(u64, u64)>,
    /// A frame given to `transmit`, for the simulator to put on the air after the poll.
    tx_request: Option<Vec<u8>>,
    tx_done: bool,
    inbox: VecDeque<(Vec<u8>, RxInfo)>,
    /// A frame of another node is on our channel until then (set before each poll).
    busy_until: u64,
}

impl Radio for PmRadio {
    /// The LoRa settings mean nothing on this medium: the channel is the network's.
    fn configure(&mut self, _config: &LoRaConfig) -> std::result::Result<(), RadioError> {
        Ok(())
    }

    fn transmit(&mut self, _now: Instant, frame: &[u8]) -> std::result::Result<(), RadioError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(RadioError::FrameTooLong);
        }
        if self.tx.is_some() {
            return Err(RadioError::Busy);
        }
        let start = self.now_us;
        self.tx = Some((start, start + airtime_us(frame.len() + 2)));
        self.tx_request = Some(frame.to_vec());
        self.listening = false;
        Ok(())
    }

    fn receive(&mut self, _now: Instant) -> std::result::Result<(), RadioError> {
        if self.tx.is_none() {
            self.listening = true;
        }
        Ok(())
    }

    fn poll_event(&mut self, _now: Instant, buf: &mut [u8]) -> Option<RadioEvent> {
        crate::des::next_radio_event(&mut self.tx_done, &mut self.inbox, buf)
    }

    fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
        if self.tx.is_some() {
            return None;
        }
        Some(if self.busy_until > self.now_us {
            OT_RSSI_DBM
        } else {
            IDLE_RSSI_DBM
        })
    }

    fn sleep(&mut self) {
        self.listening = false;
    }
}

struct PmMember {
    node: Node,
    radio: PmRadio,
    next_poll_us: Option<u64>,
    console: Console,
    /// OpenThread's `udp` example socket.
    udp: Option<SocketId>,
    /// A `ping` waiting for its reply until then.
    ping_deadline: Option<Instant>,
    ping_seq: u16,
}

struct OtMember {
    child: Child,
    conn: Socket,
    stderr_path: PathBuf,
    /// The node's clock, on the simulation's time line.
    now_us: u64,
    /// Its next alarm, as its last sleep event said.
    alarm_us: Option<u64>,
    /// Its radio is busy sending until then (frames go out one after another).
    tx_until: u64,
    console: Console,
    exited: bool,
}

enum Member {
    Pymesh(Box<PmMember>),
    OpenThread(Box<OtMember>),
}

impl Member {
    fn console(&self) -> &Console {
        match self {
            Member::Pymesh(p) => &p.console,
            Member::OpenThread(o) => &o.console,
        }
    }
    fn console_mut(&mut self) -> &mut Console {
        match self {
            Member::Pymesh(p) => &mut p.console,
            Member::OpenThread(o) => &mut o.console,
        }
    }
}

/// A frame on the air.
#[derive(Debug, Clone)]
struct OnAir {
    id: u64,
    sender: usize,
    channel: u8,
    start: u64,
    end: u64,
    /// Channel byte, PSDU, FCS: the radio event's data.
    datagram: Arc<[u8]>,
    ack: bool,
    ack_request: bool,
}

impl OnAir {
    fn overlaps(&self, o: &OnAir) -> bool {
        o.start < self.end && self.start < o.end
    }
}

/// Why a receiver lost a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// It was transmitting while the frame was on the air.
    HalfDuplex,
    /// Another frame on the channel overlapped it.
    Collision,
}

/// Whether member `r` receives frame `f`, given the frames on the air around it (`air`, which
/// holds `f` too).
fn fate(f: &OnAir, r: usize, air: &[OnAir]) -> std::result::Result<(), Loss> {
    if air
        .iter()
        .any(|t| t.sender == r && t.id != f.id && t.overlaps(f))
    {
        return Err(Loss::HalfDuplex);
    }
    if air
        .iter()
        .any(|t| t.id != f.id && t.channel == f.channel && t.overlaps(f))
    {
        return Err(Loss::Collision);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Poll { member: usize },
    Alarm { member: usize },
    FrameEnd { tx: u64 },
}

/// Our nodes and OpenThread's on one 802.15.4 medium in virtual time. See the module
/// documentation.
pub struct CoSim {
    ot_binary: PathBuf,
    seed: u64,
    dir: PathBuf,
    keep_dir: bool,
    listener: Socket,
    now_us: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    members: Vec<Member>,
    next_tx: u64,
    air: Vec<OnAir>,
    pcap: Option<PcapWriter<Box<dyn Write + Send>>>,
    frames: Option<Vec<FrameRecord>>,
    stats: Stats,
    wall: StdDuration,
}

static DIR_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Pycom's defaults in EU868: a node needs a LoRa configuration, which means nothing on
/// 802.15.4 (as in `pymesh-ot-node`).
pub fn lora_config() -> LoRaConfig {
    LoRaParams {
        region: Some(Region::Eu868 as i32),
        ..LoRaParams::pycom_defaults()
    }
    .validate()
    .expect("EU868 with Pycom's defaults is a valid LoRa configuration")
}

/// What the first frame-control byte of a PSDU says: (an ack (frame type 2, bits 0-2), the
/// ack-request bit (5)).
fn frame_kind(psdu: &[u8]) -> (bool, bool) {
    let fc0 = psdu.first().copied().unwrap_or(0);
    (fc0 & 0x07 == 2, fc0 & 0x20 != 0)
}

impl CoSim {
    /// An empty co-simulation whose OpenThread nodes run `ot_binary` (a virtual-time
    /// `ot-cli-ftd`; only [`CoSim::add_openthread`] needs it to exist), in a new temporary
    /// directory (their sockets and settings files).
    pub fn new(ot_binary: impl AsRef<Path>, seed: u64) -> Result<Self> {
        let ot_binary = std::path::absolute(ot_binary.as_ref())?;
        let base = std::env::temp_dir();
        let dir = loop {
            let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
            let d = base.join(format!("pymesh-otvt-{}-{n}", std::process::id()));
            match std::fs::create_dir(&d) {
                Ok(()) => break d,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let listener = Socket::new(Domain::UNIX, Type::SEQPACKET, None)?;
        listener.bind(&SockAddr::unix(dir.join(format!("vt.{PORT_BASE}.sock")))?)?;
        listener.listen(MAX_MEMBERS as i32)?;
        listener.set_nonblocking(true)?;
        Ok(CoSim {
            ot_binary,
            seed,
            dir,
            keep_dir: std::env::var_os("PYMESH_OT_VT_KEEP").is_some(),
            listener,
            now_us: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            members: Vec::new(),
            next_tx: 0,
            air: Vec::new(),
            pcap: None,
            frames: None,
            stats: Stats::default(),
            wall: StdDuration::ZERO,
        })
    }

    /// Virtual time in microseconds.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Virtual time as our nodes see it (milliseconds).
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.now_us / 1000)
    }

    /// The working directory of the OpenThread processes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Wall-clock time spent in the `run_*` calls (and so in commands that run the
    /// simulation).
    pub fn wall_time(&self) -> StdDuration {
        self.wall
    }

    pub fn kind(&self, id: MemberId) -> Kind {
        match self.members[id.0] {
            Member::Pymesh(_) => Kind::Pymesh,
            Member::OpenThread(_) => Kind::OpenThread,
        }
    }

    /// Our node (`None` for an OpenThread member).
    pub fn node(&self, id: MemberId) -> Option<&Node> {
        match &self.members[id.0] {
            Member::Pymesh(p) => Some(&p.node),
            Member::OpenThread(_) => None,
        }
    }

    /// Runs `f` on our node, then polls it at once so what it queued goes out.
    pub fn with_node<R>(&mut self, id: MemberId, f: impl FnOnce(&mut Node, Instant) -> R) -> R {
        let now = self.now();
        let Member::Pymesh(p) = &mut self.members[id.0] else {
            panic!("{id} is not one of our nodes");
        };
        let r = f(&mut p.node, now);
        self.schedule_poll(id.0, Some(self.now_us));
        r
    }

    /// Writes every frame put on the air from now on, at its start time, as pcap (802.15.4
    /// with FCS).
    pub fn capture_pcap(&mut self, out: impl Write + Send + 'static) -> io::Result<()> {
        self.pcap = Some(PcapWriter::new(Box::new(out) as Box<dyn Write + Send>)?);
        Ok(())
    }

    /// Starts recording every frame put on the air ([`CoSim::frames`]).
    pub fn record_frames(&mut self) {
        self.frames.get_or_insert_with(Vec::new);
    }

    pub fn frames(&self) -> &[FrameRecord] {
        self.frames.as_deref().unwrap_or(&[])
    }

    /// The configuration [`CoSim::add_pymesh`] gives the next node: Pymesh's identity with
    /// `network_key`, Thread's timing profile, extended address `5e3a00000000000N` (N its
    /// node id).
    pub fn pymesh_config(&self, network_key: [u8; 16]) -> NodeConfig {
        NodeConfig {
            ext_addr: ext_addr(self.members.len()),
            identity: NetworkIdentity::pymesh(network_key),
            lora: lora_config(),
            timing: Timing::thread(),
        }
    }

    /// Adds one of our nodes with Pymesh's default key and starts it now.
    pub fn add_pymesh(&mut self) -> Result<MemberId> {
        self.add_pymesh_with(self.pymesh_config(NetworkIdentity::DEFAULT_KEY))
    }

    /// Adds one of our nodes with this configuration and starts it now (it starts attaching).
    pub fn add_pymesh_with(&mut self, config: NodeConfig) -> Result<MemberId> {
        let m = self.members.len();
        if m >= MAX_MEMBERS {
            return Err(Error::TooManyMembers);
        }
        let mut node = Node::new(config, node_seed(self.seed, m));
        node.start(self.now());
        self.members.push(Member::Pymesh(Box::new(PmMember {
            node,
            radio: PmRadio {
                now_us: self.now_us,
                channel: config.identity.channel,
                ..PmRadio::default()
            },
            next_poll_us: None,
            console: Console::default(),
            udp: None,
            ping_deadline: None,
            ping_seq: 0,
        })));
        self.schedule_poll(m, Some(self.now_us));
        Ok(MemberId(m))
    }

    /// Starts an OpenThread node now (`ot-cli-ftd <node id>`, with `OT_VT_SEED` from the
    /// simulation's seed); it waits for CLI commands (`dataset ...`, `thread start`).
    pub fn add_openthread(&mut self) -> Result<MemberId> {
        let m = self.members.len();
        if m >= MAX_MEMBERS {
            return Err(Error::TooManyMembers);
        }
        let id = MemberId(m);
        let node_id = id.node_id();
        let stderr_path = self.dir.join(format!("ot{node_id}.stderr"));
        let child = Command::new(&self.ot_binary)
            .arg(node_id.to_string())
            .current_dir(&self.dir)
            .env("OT_VT_USE_UNIX_SOCKET", "1")
            .env("OT_VT_SEED", node_seed(self.seed, m).to_string())
            .env("PORT_BASE", PORT_BASE.to_string())
            .env("PORT_OFFSET", "0")
            .stdin(Stdio::null())
            .stdout(File::create(self.dir.join(format!("ot{node_id}.stdout")))?)
            .stderr(File::create(&stderr_path)?)
            .spawn()?;
        let mut member = OtMember {
            child,
            // Replaced by the accepted connection below.
            conn: Socket::new(Domain::UNIX, Type::SEQPACKET, None)?,
            stderr_path,
            now_us: self.now_us,
            alarm_us: None,
            tx_until: 0,
            console: Console::default(),
            exited: false,
        };
        // The node connects in otSysInit, before anything else.
        let deadline = std::time::Instant::now() + OT_ANSWER_TIMEOUT;
        let (conn, peer) = loop {
            match self.listener.accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Some(status) = member.child.try_wait()? {
                        member.exited = true;
                        return Err(member.failure(id, &format!("exited ({status}) at start")));
                    }
                    if std::time::Instant::now() > deadline {
                        let _ = member.child.kill();
                        return Err(member.failure(id, "did not connect"));
                    }
                    std::thread::sleep(StdDuration::from_millis(1));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let expected = format!("vt.{}.sock", PORT_BASE + node_id);
        let peer_name = peer
            .as_pathname()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        if peer_name.as_deref() != Some(expected.as_str()) {
            let _ = member.child.kill();
            return Err(Error::Protocol {
                member: id,
                what: format!("connected from {peer_name:?}, expected {expected}"),
            });
        }
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(OT_ANSWER_TIMEOUT))?;
        member.conn = conn;
        self.members.push(Member::OpenThread(Box::new(member)));
        // Its first sleep event (and the CLI prompt).
        self.ot_exchange(m, None)?;
        Ok(id)
    }

    /// Sends one CLI command and runs the simulation until its answer is complete or
    /// `timeout_us` of virtual time passed; returns the answer's lines (without the echo
    /// and `Done`).
    pub fn cli(&mut self, id: MemberId, command: &str, timeout_us: u64) -> Result<Vec<String>> {
        let m = id.0;
        self.members[m].console_mut().flush();
        match &mut self.members[m] {
            Member::OpenThread(_) => {
                let mut input = command.as_bytes().to_vec();
                input.push(b'\n');
                for chunk in input.chunks(EVENT_DATA_MAX) {
                    self.ot_exchange(m, Some((EVENT_UART_WRITE, chunk)))?;
                }
            }
            Member::Pymesh(_) => self.pymesh_input(m, command),
        }
        let deadline = self.now_us.saturating_add(timeout_us);
        self.run_until_cond(deadline, |s| s.members[m].console().has_answer())?;
        let console = self.members[m].console_mut();
        if !console.has_answer() {
            return Err(Error::Timeout {
                member: id,
                what: format!("no answer to {command:?} in {} ms", timeout_us / 1000),
                output: console.lines.iter().cloned().collect(),
            });
        }
        console.take_answer(command).map_err(|answer| Error::Cli {
            member: id,
            command: command.into(),
            answer,
        })
    }

    /// A command whose answer is one line (`state`, `rloc16`, `extaddr`...).
    pub fn cli_value(&mut self, id: MemberId, command: &str) -> Result<String> {
        let out = self.cli(id, command, SECOND_US)?;
        match <[String; 1]>::try_from(out) {
            Ok([v]) => Ok(v),
            Err(out) => Err(Error::Cli {
                member: id,
                command: command.into(),
                answer: format!("not one line: {out:?}"),
            }),
        }
    }

    /// Runs until the node prints, outside a command's answer, a line for which
    /// `predicate` holds (a received UDP datagram...), or `timeout_us` passed; returns it.
    pub fn wait_line(
        &mut self,
        id: MemberId,
        timeout_us: u64,
        mut predicate: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let m = id.0;
        let deadline = self.now_us.saturating_add(timeout_us);
        self.run_until_cond(deadline, |s| {
            s.members[m].console().any_line(&mut predicate)
        })?;
        let console = self.members[m].console_mut();
        console
            .take_line(&mut predicate)
            .ok_or_else(|| Error::Timeout {
                member: id,
                what: format!("no such line in {} ms", timeout_us / 1000),
                output: console.unsolicited.clone(),
            })
    }

    /// Runs every event up to and including `t_us`, then sets the clock to `t_us`.
    pub fn run_until(&mut self, t_us: u64) -> Result<()> {
        self.run_until_cond(t_us, |_| false).map(|_| ())
    }

    pub fn run_for(&mut self, d_us: u64) -> Result<()> {
        self.run_until(self.now_us.saturating_add(d_us))
    }

    /// Runs until `done` holds (checked after every event) or `deadline_us`; returns the
    /// time it first held.
    pub fn run_until_cond(
        &mut self,
        deadline_us: u64,
        mut done: impl FnMut(&CoSim) -> bool,
    ) -> Result<Option<u64>> {
        let wall = std::time::Instant::now();
        let mut met = done(self).then_some(self.now_us);
        while met.is_none() {
            match self.step_until(deadline_us) {
                Ok(true) => {
                    if done(self) {
                        met = Some(self.now_us);
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    self.wall += wall.elapsed();
                    return Err(e);
                }
            }
        }
        if met.is_none() && deadline_us > self.now_us {
            self.now_us = deadline_us;
        }
        self.wall += wall.elapsed();
        Ok(met)
    }

    /// Processes the next live event at or before `limit_us`; false when there is none.
    fn step_until(&mut self, limit_us: u64) -> Result<bool> {
        while let Some(&Reverse((t, _, event))) = self.queue.peek() {
            if t > limit_us {
                return Ok(false);
            }
            self.queue.pop();
            if self.dispatch(t, event)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn push(&mut self, t_us: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((t_us, self.seq, event)));
    }

    /// Makes `at` our node's next poll (replacing any other).
    fn schedule_poll(&mut self, m: usize, at: Option<u64>) {
        let Member::Pymesh(p) = &mut self.members[m] else {
            return;
        };
        if p.next_poll_us == at {
            return;
        }
        p.next_poll_us = at;
        if let Some(t) = at {
            self.push(t, Event::Poll { member: m });
        }
    }

    /// Runs one event; false when it was stale (a replaced poll or alarm).
    fn dispatch(&mut self, t: u64, event: Event) -> Result<bool> {
        match event {
            Event::Poll { member } => {
                let Member::Pymesh(p) = &mut self.members[member] else {
                    return Ok(false);
                };
                if p.next_poll_us != Some(t) {
                    return Ok(false);
                }
                p.next_poll_us = None;
                self.now_us = t;
                self.stats.events += 1;
                self.poll_pymesh(member);
            }
            Event::Alarm { member } => {
                let Member::OpenThread(o) = &self.members[member] else {
                    return Ok(false);
                };
                if o.alarm_us != Some(t) || o.exited {
                    return Ok(false);
                }
                self.now_us = t;
                self.stats.events += 1;
                self.ot_exchange(member, Some((EVENT_ALARM_FIRED, &[])))?;
            }
            Event::FrameEnd { tx } => {
                self.now_us = t;
                self.stats.events += 1;
                self.end_frame(tx)?;
            }
        }
        Ok(true)
    }

    /// Until when a frame of another node occupies `m`'s channel at `now` (for its CCA).
    fn busy_until(&self, m: usize, channel: u8, now: u64) -> u64 {
        self.air
            .iter()
            .filter(|t| t.sender != m && t.channel == channel && t.start <= now && now < t.end)
            .map(|t| t.end)
            .max()
            .unwrap_or(0)
    }

    /// Polls our node now (repeatedly while it is still due at this instant), puts what it
    /// transmits on the air and schedules its next poll.
    fn poll_pymesh(&mut self, m: usize) {
        let now = self.now_us;
        let now_ms = Instant::from_millis(now / 1000);
        let mut next = None;
        for _ in 0..MAX_POLLS_PER_INSTANT {
            let channel = match &self.members[m] {
                Member::Pymesh(p) => p.radio.channel,
                Member::OpenThread(_) => return,
            };
            let busy = self.busy_until(m, channel, now);
            let Member::Pymesh(p) = &mut self.members[m] else {
                return;
            };
            p.radio.now_us = now;
            p.radio.busy_until = busy;
            p.node.poll(now_ms, &mut p.radio);
            p.after_poll(now_ms);
            let due = p.node.poll_at();
            let request = p.radio.tx_request.take();
            let ping_deadline = p.ping_deadline;
            if let Some(frame) = request {
                let datagram = encode_datagram(channel, &frame);
                self.put_on_air(m, now, datagram);
            }
            let due = match (due, ping_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match due {
                Some(at) if at <= now_ms => next = Some((now_ms.millis() + 1) * 1000),
                other => {
                    next = other.map(|at| at.millis() * 1000);
                    break;
                }
            }
        }
        self.schedule_poll(m, next);
    }

    /// A command typed at our node: echoed, answered at once (or, for `ping`, when the
    /// reply comes), as `pymesh-ot-node` does.
    fn pymesh_input(&mut self, m: usize, line: &str) {
        let now = self.now();
        let Member::Pymesh(p) = &mut self.members[m] else {
            return;
        };
        let line = line.trim();
        p.console.push_line(line);
        if pymesh::cli::is_ping(line) {
            // Replies to earlier pings are stale now.
            while p.node.take_ping_reply().is_some() {}
            p.ping_seq = p.ping_seq.wrapping_add(1);
            match pymesh::cli::start_ping(&mut p.node, now, line, p.ping_seq) {
                // The firmware's wait (`pymesh_cli`): 40 frame times + 3 s.
                Ok(()) => {
                    let frame_ms = p.node.config().timing.frame_time.millis();
                    p.ping_deadline = Some(now + Duration::from_millis(frame_ms * 40 + 3000));
                }
                Err(e) => p.console.feed(e.as_bytes()),
            }
        } else if line.starts_with("udp ") {
            let text = udp_command(&mut p.node, now, &mut p.udp, line);
            p.console.feed(text.as_bytes());
        } else {
            let mut text = String::new();
            let _ = pymesh::cli::execute(Some(&mut p.node), now, line, &mut text);
            p.console.feed(text.as_bytes());
            if !text.starts_with("Error ") {
                p.console.push_line("Done");
            }
        }
        self.schedule_poll(m, Some(self.now_us));
    }

    /// Puts a frame (channel byte, PSDU, FCS) of member `s` on the air from `start`.
    fn put_on_air(&mut self, s: usize, start: u64, datagram: Vec<u8>) {
        let psdu = &datagram[1..];
        let end = start + airtime_us(psdu.len());
        let (ack, ack_request) = frame_kind(psdu);
        let id = self.next_tx;
        self.next_tx += 1;
        self.stats.frames_sent += 1;
        if ack {
            self.stats.acks_sent += 1;
        }
        match decode_datagram(&datagram) {
            Some((_, body)) => {
                if let Some(w) = self.pcap.as_mut() {
                    if w.write_frame(start, body).is_err() {
                        self.pcap = None;
                    }
                }
            }
            None => self.stats.bad_fcs += 1,
        }
        if let Some(frames) = self.frames.as_mut() {
            frames.push(FrameRecord {
                start_us: start,
                end_us: end,
                sender: MemberId(s),
                channel: datagram[0],
                psdu: psdu.to_vec(),
            });
        }
        self.air.push(OnAir {
            id,
            sender: s,
            channel: datagram[0],
            start,
            end,
            datagram: datagram.into(),
            ack,
            ack_request,
        });
        self.push(end, Event::FrameEnd { tx: id });
    }

    /// A frame ends: its sender is told (our radio's TxDone, OpenThread's echo unless it
    /// waits for an ack), and every other node gets it unless it was lost.
    fn end_frame(&mut self, id: u64) -> Result<()> {
        let Some(f) = self.air.iter().find(|t| t.id == id).cloned() else {
            return Ok(());
        };
        let now = self.now_us;
        let s = f.sender;
        let mut wake = Vec::new();
        if let Member::Pymesh(p) = &mut self.members[s] {
            p.radio.tx = None;
            p.radio.tx_done = true;
            wake.push(s);
        } else if !f.ack && !f.ack_request {
            self.stats.echoes += 1;
            self.ot_exchange(s, Some((EVENT_RADIO_RECEIVED, &f.datagram)))?;
        }
        for r in 0..self.members.len() {
            if r == s {
                continue;
            }
            match fate(&f, r, &self.air) {
                Err(Loss::HalfDuplex) => {
                    self.stats.half_duplex += 1;
                    continue;
                }
                Err(Loss::Collision) => {
                    self.stats.collisions += 1;
                    continue;
                }
                Ok(()) => {}
            }
            if let Member::Pymesh(p) = &mut self.members[r] {
                match decode_datagram(&f.datagram) {
                    Some((ch, body)) if ch == p.radio.channel && p.radio.listening => {
                        let info = RxInfo {
                            len: body.len(),
                            rssi_dbm: OT_RSSI_DBM,
                            snr_db: OT_SNR_DB,
                        };
                        p.radio.inbox.push_back((body.to_vec(), info));
                        self.stats.receptions += 1;
                        wake.push(r);
                    }
                    _ => self.stats.not_received += 1,
                }
            } else {
                // Its radio decides by channel and state, as on OpenThread's medium.
                self.stats.receptions += 1;
                self.ot_exchange(r, Some((EVENT_RADIO_RECEIVED, &f.datagram)))?;
            }
        }
        // Forget frames that can no longer overlap one still to end: a frame overlapping `t`
        // starts before `t` ends, so it ends before `t.end + MAX_AIRTIME_US`.
        self.air.retain(|t| t.end + MAX_AIRTIME_US > now);
        for m in wake {
            self.poll_pymesh(m);
        }
        Ok(())
    }

    /// Sends an event to an OpenThread node (advancing its clock to now) and takes what it
    /// answers up to its sleep event: frames go on the air, CLI output to its console, the
    /// sleep's delay becomes its next alarm. With `None`, only takes (at start).
    fn ot_exchange(&mut self, m: usize, send: Option<(u8, &[u8])>) -> Result<()> {
        let now = self.now_us;
        let id = MemberId(m);
        let Member::OpenThread(o) = &mut self.members[m] else {
            return Ok(());
        };
        if o.exited {
            return Ok(());
        }
        if let Some((kind, data)) = send {
            let event = OtEvent {
                delay_us: now - o.now_us,
                kind,
                data: data.to_vec(),
            };
            if let Err(e) = o.conn.send(&event.encode()) {
                o.exited = true;
                return Err(o.failure(id, &format!("cannot send an event: {e}")));
            }
            o.now_us = now;
            self.stats.ot_events += 1;
        }
        let mut frames = Vec::new();
        let mut buf = vec![0u8; EVENT_HEADER_LEN + EVENT_DATA_MAX];
        let sleep_us = loop {
            let n = match (&o.conn).read(&mut buf) {
                Ok(0) => {
                    o.exited = true;
                    return Err(o.failure(id, "exited"));
                }
                Ok(n) => n,
                Err(e) => {
                    o.exited = true;
                    let _ = o.child.kill();
                    return Err(o.failure(id, &format!("no answer: {e}")));
                }
            };
            self.stats.ot_events += 1;
            let Some(event) = OtEvent::decode(&buf[..n]) else {
                return Err(Error::Protocol {
                    member: id,
                    what: format!("short event: {:02x?}", &buf[..n]),
                });
            };
            match event.kind {
                EVENT_ALARM_FIRED => break event.delay_us,
                EVENT_RADIO_RECEIVED if event.data.len() >= 2 => frames.push(event.data),
                EVENT_UART_WRITE => o.console.feed(&event.data),
                k => {
                    return Err(Error::Protocol {
                        member: id,
                        what: format!("unexpected event kind {k} ({} bytes)", event.data.len()),
                    })
                }
            }
        };
        let alarm = now.saturating_add(sleep_us);
        let changed = o.alarm_us != Some(alarm);
        o.alarm_us = Some(alarm);
        let mut starts = Vec::with_capacity(frames.len());
        for f in &frames {
            let start = now.max(o.tx_until);
            o.tx_until = start + airtime_us(f.len() - 1);
            starts.push(start);
        }
        if changed {
            self.push(alarm, Event::Alarm { member: m });
        }
        for (f, start) in frames.into_iter().zip(starts) {
            self.put_on_air(m, start, f);
        }
        Ok(())
    }
}

impl PmMember {
    /// After a poll: datagrams on the `udp` socket print as OpenThread's CLI prints them; a
    /// `ping` answers once its reply came or its time is up.
    fn after_poll(&mut self, now: Instant) {
        if let Some(id) = self.udp {
            let mut buf = [0u8; 1280];
            while let Some((n, from, port)) = self.node.socket_recv(id, &mut buf) {
                self.console
                    .push_line(&udp_received_line(&buf[..n], &from, port));
            }
        }
        if let Some(deadline) = self.ping_deadline {
            let mut text = String::new();
            if let Some(r) = self.node.take_ping_reply() {
                text = format!("{r}\r\n");
                let _ = pymesh::cli::ping_statistics(&mut text, Some(r.time));
            } else if now >= deadline {
                let _ = pymesh::cli::ping_statistics(&mut text, None);
            }
            if !text.is_empty() {
                self.ping_deadline = None;
                self.console.feed(text.as_bytes());
                self.console.push_line("Done");
            }
        }
    }
}

impl OtMember {
    /// An error for a process that failed, with the end of what it wrote to stderr.
    fn failure(&mut self, id: MemberId, what: &str) -> Error {
        let _ = self.child.try_wait();
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tail: String = stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Error::Process {
            member: id,
            what: format!("OpenThread process {what}; stderr: {tail:?}"),
        }
    }
}

impl Drop for CoSim {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Member::OpenThread(o) = member {
                let _ = o.child.kill();
                let _ = o.child.wait();
            }
        }
        if self.keep_dir {
            eprintln!("ot_virtual: kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_packed_structs_in_host_order() {
        let e = OtEvent {
            delay_us: 0x0102_0304_0506_0708,
            kind: EVENT_UART_WRITE,
            data: b"state\n".to_vec(),
        };
        let b = e.encode();
        assert_eq!(b.len(), EVENT_HEADER_LEN + 6);
        assert_eq!(&b[..8], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(b[8], 2);
        assert_eq!(&b[9..11], &6u16.to_ne_bytes());
        assert_eq!(OtEvent::decode(&b), Some(e));
        // Shorter than its announced data, or than the header.
        assert_eq!(OtEvent::decode(&b[..b.len() - 1]), None);
        assert_eq!(OtEvent::decode(&b[..10]), None);
    }

    #[test]
    fn airtime_is_802154_at_250_kbps() {
        // An immediate ack: 3 bytes + FCS, 11 bytes with SHR and PHR: 352 us.
        assert_eq!(airtime_us(5), 352);
        // A full frame: 133 bytes: 4.256 ms, as our MAC's Phy::Ieee802154 computes it.
        assert_eq!(airtime_us(127), 4256);
        assert_eq!(MAX_AIRTIME_US, 4256);
    }

    #[test]
    fn frame_kind_reads_type_and_ack_request() {
        assert_eq!(frame_kind(&[0x02, 0x10, 0x5a, 0, 0]), (true, false));
        assert_eq!(frame_kind(&[0x61, 0xdc]), (false, true));
        assert_eq!(frame_kind(&[0x41, 0xd8]), (false, false));
    }

    fn on_air(id: u64, sender: usize, channel: u8, start: u64, end: u64) -> OnAir {
        OnAir {
            id,
            sender,
            channel,
            start,
            end,
            datagram: Arc::from(&[channel][..]),
            ack: false,
            ack_request: false,
        }
    }

    #[test]
    fn overlapping_frames_collide_and_senders_hear_nothing() {
        let f = on_air(1, 0, 11, 1000, 2000);
        // Alone on the air: everyone but the sender gets it.
        assert_eq!(fate(&f, 1, &[f.clone()]), Ok(()));
        // A frame of member 2 overlapping it: member 1 gets neither, member 2 was sending.
        let g = on_air(2, 2, 11, 1999, 2500);
        let air = [f.clone(), g.clone()];
        assert_eq!(fate(&f, 1, &air), Err(Loss::Collision));
        assert_eq!(fate(&g, 1, &air), Err(Loss::Collision));
        assert_eq!(fate(&f, 2, &air), Err(Loss::HalfDuplex));
        assert_eq!(fate(&g, 0, &air), Err(Loss::HalfDuplex));
        // An ack starting as the frame ends does not overlap it.
        let ack = on_air(3, 1, 11, 2000, 2352);
        assert_eq!(fate(&f, 3, &[f.clone(), ack.clone()]), Ok(()));
        assert_eq!(fate(&ack, 0, &[f.clone(), ack.clone()]), Ok(()));
        // Another channel: no collision (but its sender still hears nothing).
        let h = on_air(4, 2, 12, 1500, 1800);
        assert_eq!(fate(&f, 1, &[f.clone(), h.clone()]), Ok(()));
        assert_eq!(fate(&f, 2, &[f.clone(), h]), Err(Loss::HalfDuplex));
    }

    /// Two of our nodes alone (no OpenThread node, so no binary needed): one leads, the
    /// other attaches to it, on the 802.15.4 medium in Thread's timing; the frames' airtimes
    /// are 802.15.4's.
    #[test]
    fn two_of_our_nodes_form_a_partition() {
        let mut sim = CoSim::new("/nonexistent/ot-cli-ftd", 5).unwrap();
        sim.record_frames();
        let a = sim.add_pymesh().unwrap();
        sim.run_for(5 * SECOND_US).unwrap();
        assert_eq!(sim.node(a).unwrap().role(), pymesh::mle::Role::Leader);
        let b = sim.add_pymesh().unwrap();
        let t = sim
            .run_until_cond(sim.now_us() + 10 * SECOND_US, |s| {
                s.node(b).unwrap().role() == pymesh::mle::Role::Child
            })
            .unwrap();
        assert!(t.is_some(), "attached");
        assert_eq!(sim.cli_value(b, "state").unwrap(), "child");
        assert!(sim.stats().acks_sent > 0);
        for f in sim.frames() {
            assert_eq!(f.end_us - f.start_us, airtime_us(f.psdu.len()));
            assert_eq!(f.channel, 11);
        }
        // No OpenThread binary: adding an OpenThread node fails and says so.
        assert!(matches!(sim.add_openthread(), Err(Error::Io(_))));
    }

    #[test]
    fn console_strips_prompts_and_collects_answers() {
        let mut c = Console::default();
        c.feed(b"> ");
        for ch in b"state" {
            c.feed(&[*ch]);
        }
        c.feed(b"\r\nleader\r\nDone\r\n> ");
        assert!(c.has_answer());
        assert_eq!(c.take_answer("state"), Ok(vec!["leader".to_string()]));
        assert!(!c.has_answer());
        // Printed between commands: kept aside when the next command starts.
        c.feed(b"5 bytes from fe80::1 1234 hello\r\n");
        c.flush();
        c.feed(b"> ping x\r\nError 7: InvalidArgs\r\n");
        assert_eq!(
            c.take_answer("ping x"),
            Err("Error 7: InvalidArgs".to_string())
        );
        assert_eq!(c.unsolicited, vec!["5 bytes from fe80::1 1234 hello"]);
        let mut is_udp = |l: &str| l.contains(" bytes from ");
        assert!(c.any_line(&mut is_udp));
        assert_eq!(
            c.take_line(&mut is_udp).as_deref(),
            Some("5 bytes from fe80::1 1234 hello")
        );
        assert!(!c.any_line(&mut is_udp));
    }
}
