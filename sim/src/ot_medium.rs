//! OpenThread's simulation medium as one of our radios: our node shares the air with
//! OpenThread's simulated nodes (`ot-cli-ftd`, `examples/platforms/simulation` in OpenThread).
//!
//! The medium, as OpenThread's `radio.c` and `simul_utils.c` (real-time build) define it:
//! - UDP multicast on loopback, group 224.0.0.116, port `PORT_BASE + 34 * PORT_OFFSET`
//!   (`PORT_BASE` 9000; 34 is `MAX_NETWORK_SIZE + 1`). Every node receives on that group and
//!   port and sends from `127.0.0.1`, port `group port + node id`; a receiver takes the node
//!   id from the source port (and drops its own frames, and those of nodes its `nodeidfilter`
//!   excludes). Node ids are 1..=33.
//! - A datagram is one frame: the 802.15.4 channel (one byte), then the PSDU with its 2-byte
//!   FCS (CRC-16/KERMIT, little-endian). Receivers on another channel ignore it.
//! - No airtime, no loss, no collisions: a frame arrives when its datagram does.
//! - Acks are frames on the medium too: OpenThread's radio answers an ack-requested frame
//!   addressed to it at once with an immediate ack (`02 10 seq` for a 2006 frame), and after
//!   sending an ack-requested frame it waits for an ack frame with that sequence number
//!   (16 ms from the start of the frame, `kAckTimeout` in `sub_mac.hpp`). Our MAC already sends
//!   and expects acks as separate frames (software acks), so they pass through unchanged; our
//!   node must answer within OpenThread's wait, which the Thread timing profile's zero
//!   `ack_turnaround` does.
//!
//! Our frames travel without FCS (as on LoRa); the bridge appends it on send and checks and
//! strips it on receive.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration as StdDuration;

use pymesh::radio::{LoRaConfig, Radio, RadioError, RadioEvent, RxInfo, MAX_FRAME_LEN};
use pymesh::time::Instant;
use pymesh::wire::ieee802154::fcs;

use crate::medium::Clock;
use crate::pcap::PcapWriter;

/// OpenThread's simulation group (`UTILS_SOCKET_GROUP_ADDR`).
pub const OT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 116);
/// OpenThread's default `PORT_BASE`.
pub const OT_PORT_BASE: u16 = 9000;
/// `OPENTHREAD_SIMULATION_MAX_NETWORK_SIZE`: node ids are 1..=33.
pub const OT_MAX_NODE_ID: u16 = 33;
/// What OpenThread's simulated radio reports for every frame (`radioProcessFrame`).
pub const OT_RSSI_DBM: i16 = -20;
/// The SNR reported to our MAC for every frame: the medium is perfect, so the link margin
/// (SNR above the demodulation floor) is well over Thread's 20 dB for link quality 3.
pub const OT_SNR_DB: i8 = 30;

/// The multicast port of a medium (`PORT_BASE + PORT_OFFSET * (MAX_NETWORK_SIZE + 1)`).
pub fn group_port(port_offset: u16) -> u16 {
    OT_PORT_BASE + port_offset * (OT_MAX_NODE_ID + 1)
}

/// Where our node sits on OpenThread's medium.
#[derive(Debug, Clone)]
pub struct OtMediumConfig {
    /// OpenThread's `PORT_OFFSET` environment variable of the nodes to share the air with.
    pub port_offset: u16,
    /// Our node id on the medium (1..=33, distinct from every OpenThread node's).
    pub node_id: u16,
    /// The 802.15.4 channel (11..=26): the network's channel.
    pub channel: u8,
    /// Writes every frame seen on the medium (ours included, acks included) to this pcap.
    pub pcap_path: Option<String>,
    /// Hear only these node ids (OpenThread's `nodeidfilter allow`): topologies on a medium
    /// where everyone hears everyone. `None`: hear all.
    pub allowed_node_ids: Option<Vec<u16>>,
}

/// Counters of what the receive thread saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtMediumStats {
    /// Frames of other nodes on our channel with a good FCS, delivered to the node.
    pub received: u64,
    /// Frames on other channels.
    pub other_channel: u64,
    /// Frames from node ids outside `allowed_node_ids`.
    pub filtered: u64,
    /// Datagrams too short or with a bad FCS.
    pub malformed: u64,
    /// Frames we sent.
    pub sent: u64,
}

#[derive(Default)]
struct Shared {
    frames: VecDeque<Vec<u8>>,
    /// `OtMediumConfig::allowed_node_ids`, changeable while running ([`OtMediumRadio::set_allowed`]).
    allowed: Option<Vec<u16>>,
    stats: OtMediumStats,
    capture: Option<PcapWriter<std::fs::File>>,
    /// Set and notified after each frame queued for the node ([`OtMediumRadio::notify_on_arrival`]).
    wake: Option<Arc<(Mutex<bool>, Condvar)>>,
}

/// Our radio on OpenThread's simulation medium.
pub struct OtMediumRadio {
    tx: UdpSocket,
    dest: SocketAddrV4,
    channel: u8,
    tx_done_pending: bool,
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

/// Splits a medium datagram into channel and PSDU without FCS; `None` unless the FCS is good.
pub fn decode_datagram(d: &[u8]) -> Option<(u8, &[u8])> {
    // channel + at least frame control, sequence number and FCS (an immediate ack).
    if d.len() < 1 + 3 + 2 {
        return None;
    }
    let (channel, psdu) = (d[0], &d[1..]);
    let (body, crc) = psdu.split_at(psdu.len() - 2);
    if fcs(body).to_le_bytes() != [crc[0], crc[1]] {
        return None;
    }
    Some((channel, body))
}

/// A medium datagram for `frame` (PSDU without FCS) on `channel`.
pub fn encode_datagram(channel: u8, frame: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(frame.len() + 3);
    d.push(channel);
    d.extend_from_slice(frame);
    d.extend_from_slice(&fcs(frame).to_le_bytes());
    d
}

impl OtMediumRadio {
    /// Joins the medium and starts the receive thread.
    pub fn open(config: &OtMediumConfig, clock: Clock) -> std::io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        if !(1..=OT_MAX_NODE_ID).contains(&config.node_id) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "node id must be 1..=33",
            ));
        }
        let port = group_port(config.port_offset);
        let my_port = port + config.node_id;

        // Receive: the group and port every node binds (OpenThread's InitRxSocket).
        let rx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        rx.set_reuse_address(true)?;
        rx.set_reuse_port(true)?;
        rx.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
        rx.join_multicast_v4(&OT_GROUP, &Ipv4Addr::LOCALHOST)?;
        rx.bind(&SocketAddrV4::new(OT_GROUP, port).into())?;
        let rx: UdpSocket = rx.into();

        // Send: from 127.0.0.1, port group port + node id (OpenThread's InitTxSocketIp4); the
        // source port is how receivers know who sent a frame.
        let tx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        tx.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
        tx.set_multicast_loop_v4(true)?;
        tx.bind(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, my_port).into())?;
        let tx: UdpSocket = tx.into();

        let capture = match &config.pcap_path {
            Some(path) => Some(PcapWriter::new(std::fs::File::create(path)?)?),
            None => None,
        };
        let shared = Arc::new((
            Mutex::new(Shared {
                capture,
                allowed: config.allowed_node_ids.clone(),
                ..Shared::default()
            }),
            Condvar::new(),
        ));
        let rx_shared = Arc::clone(&shared);
        let channel = config.channel;
        std::thread::Builder::new()
            .name("pymesh-ot-rx".into())
            .spawn(move || {
                let mut buf = [0u8; 2048];
                loop {
                    let Ok((n, from)) = rx.recv_from(&mut buf) else {
                        continue;
                    };
                    let (lock, cv) = &*rx_shared;
                    let mut s = lock.lock().unwrap();
                    let Some((ch, frame)) = decode_datagram(&buf[..n]) else {
                        s.stats.malformed += 1;
                        continue;
                    };
                    if let Some(w) = s.capture.as_mut() {
                        if w.write_frame(clock.now_us(), frame).is_err() {
                            s.capture = None;
                        }
                    }
                    if from.port() == my_port {
                        continue; // our own frame, looped back
                    }
                    let sender = from.port().wrapping_sub(port);
                    if s.allowed.as_ref().is_some_and(|a| !a.contains(&sender)) {
                        s.stats.filtered += 1;
                        continue;
                    }
                    if ch != channel {
                        s.stats.other_channel += 1;
                        continue;
                    }
                    s.stats.received += 1;
                    s.frames.push_back(frame.to_vec());
                    cv.notify_all();
                    let wake = s.wake.clone();
                    drop(s);
                    // Outside our lock: the board's thread takes its own lock, then ours.
                    if let Some(wake) = wake {
                        let (wlock, wcv) = &*wake;
                        *wlock.lock().unwrap() = true;
                        wcv.notify_all();
                    }
                }
            })?;
        Ok(OtMediumRadio {
            tx,
            dest: SocketAddrV4::new(OT_GROUP, port),
            channel,
            tx_done_pending: false,
            shared,
        })
    }

    /// Blocks until a frame is waiting or `timeout` has passed.
    pub fn wait(&self, timeout: StdDuration) {
        let (lock, cv) = &*self.shared;
        let s = lock.lock().unwrap();
        if s.frames.is_empty() && !self.tx_done_pending {
            let _ = cv.wait_timeout(s, timeout);
        }
    }

    /// From now on, after each frame queued for the node, sets `wake`'s flag and notifies its
    /// condvar (as [`crate::medium::MediumRadio`] does): a board's poll thread sleeps on it.
    pub fn notify_on_arrival(&self, wake: Arc<(Mutex<bool>, Condvar)>) {
        self.shared.0.lock().unwrap().wake = Some(wake);
    }

    /// True when a poll has something to deliver: a received frame, or the end of our
    /// transmission (`TxDone`, due at once on this medium).
    pub fn has_pending(&self) -> bool {
        self.tx_done_pending || !self.shared.0.lock().unwrap().frames.is_empty()
    }

    /// The 802.15.4 channel this radio sends and hears on.
    pub fn channel(&self) -> u8 {
        self.channel
    }

    /// Hear only these node ids from now on (`None`: everyone): nodes come into or go out of
    /// range.
    pub fn set_allowed(&self, allowed: Option<Vec<u16>>) {
        self.shared.0.lock().unwrap().allowed = allowed;
    }

    pub fn stats(&self) -> OtMediumStats {
        self.shared.0.lock().unwrap().stats
    }
}

impl Radio for OtMediumRadio {
    /// The LoRa settings mean nothing here: the medium has channels only (set at open).
    fn configure(&mut self, _config: &LoRaConfig) -> Result<(), RadioError> {
        Ok(())
    }

    fn transmit(&mut self, _now: Instant, frame: &[u8]) -> Result<(), RadioError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(RadioError::FrameTooLong);
        }
        if self.tx_done_pending {
            return Err(RadioError::Busy);
        }
        self.tx
            .send_to(&encode_datagram(self.channel, frame), self.dest)
            .map_err(|_| RadioError::Hardware)?;
        self.shared.0.lock().unwrap().stats.sent += 1;
        // As OpenThread's simulated radio: the frame is on the medium once sent.
        self.tx_done_pending = true;
        Ok(())
    }

    fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
        Ok(())
    }

    fn poll_event(&mut self, _now: Instant, buf: &mut [u8]) -> Option<RadioEvent> {
        if core::mem::take(&mut self.tx_done_pending) {
            return Some(RadioEvent::TxDone);
        }
        let frame = self.shared.0.lock().unwrap().frames.pop_front()?;
        let len = frame.len().min(buf.len());
        buf[..len].copy_from_slice(&frame[..len]);
        Some(RadioEvent::Received(RxInfo {
            len,
            rssi_dbm: OT_RSSI_DBM,
            snr_db: OT_SNR_DB,
        }))
    }

    /// The medium has no energy to sense (OpenThread's simulated CCA always passes too).
    fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
        Some(-127)
    }

    fn sleep(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_carry_channel_and_fcs() {
        // An immediate ack for sequence 0x5a (2006 frame), as OpenThread sends it.
        let ack = [0x02, 0x10, 0x5a];
        let d = encode_datagram(11, &ack);
        assert_eq!(d.len(), 1 + 3 + 2);
        assert_eq!(d[0], 11);
        assert_eq!(&d[4..], &fcs(&ack).to_le_bytes());
        assert_eq!(decode_datagram(&d), Some((11, &ack[..])));
        let mut bad = d.clone();
        bad[2] ^= 1;
        assert_eq!(decode_datagram(&bad), None);
        assert_eq!(decode_datagram(&d[..4]), None);
        // The CRC catalogue's check value of CRC-16/KERMIT.
        assert_eq!(fcs(b"123456789"), 0x2189);
    }

    #[test]
    fn ports_follow_openthreads_scheme() {
        assert_eq!(group_port(0), 9000);
        assert_eq!(group_port(1), 9034);
    }
}
