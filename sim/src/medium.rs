//! The shared LoRa medium of the unix firmware: every `micropython` process on this machine
//! that names the same medium hears the others, over loopback multicast (as OpenThread's
//! simulation radio does). No server: each process sends its transmissions to the group and
//! applies the [`air`](crate::air) model to what it receives.
//!
//! Environment of a node process:
//! - `PYMESH_AIR`: medium name (default `default`); it picks the UDP port.
//! - `PYMESH_POS`: `x,y` (or `x:y`) position in metres (default `0,0`) for the path-loss model.
//! - `PYMESH_LOSS`: extra random frame loss at this receiver, 0..1 (default 0).
//! - `PYMESH_PCAP`: a file to which every frame this node receives is written (pcap, 802.15.4
//!   with FCS), for Wireshark and tests.
//!
//! A datagram is one transmission: a fixed header then the frame (no FCS):
//! `"PYMA" | version 1 | sender EUI-64 (8) | process id (4) | frequency (4) | sf | bandwidth
//! kHz (2) | coding rate | preamble (2) | tx power (i8) | sync word | x (f32) | y (f32) | frame`,
//! integers big-endian.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration as StdDuration;

use pymesh::radio::{LoRaConfig, Radio, RadioError, RadioEvent, RxInfo, MAX_FRAME_LEN};
use pymesh::time::Instant;
use pymesh::wire::ExtAddress;

use crate::air::{self, Arrival, Phy};
use crate::pcap::PcapWriter;

const MAGIC: &[u8; 4] = b"PYMA";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 4 + 1 + 8 + 4 + 4 + 1 + 2 + 1 + 2 + 1 + 1 + 4 + 4;
/// The multicast group (OpenThread's simulation uses 224.0.0.116; we stay apart from it).
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 117);
const PORT_BASE: u16 = 29000;

/// The UDP port of a named medium.
pub fn medium_port(name: &str) -> u16 {
    // FNV-1a: stable across processes and builds.
    let mut h: u32 = 0x811c9dc5;
    for b in name.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    PORT_BASE + (h % 1000) as u16
}

/// One transmission on the medium.
#[derive(Debug, Clone, PartialEq)]
pub struct Transmission {
    pub sender: ExtAddress,
    pub pid: u32,
    pub phy: Phy,
    pub position: (f32, f32),
    pub frame: Vec<u8>,
}

impl Transmission {
    pub fn encode(&self) -> Vec<u8> {
        let mut d = Vec::with_capacity(HEADER_LEN + self.frame.len());
        d.extend_from_slice(MAGIC);
        d.push(VERSION);
        d.extend_from_slice(&self.sender.0);
        d.extend_from_slice(&self.pid.to_be_bytes());
        d.extend_from_slice(&self.phy.frequency.to_be_bytes());
        d.push(self.phy.sf);
        d.extend_from_slice(&((self.phy.bandwidth_hz / 1000) as u16).to_be_bytes());
        d.push(self.phy.coding_rate);
        d.extend_from_slice(&self.phy.preamble.to_be_bytes());
        d.push(self.phy.tx_power_dbm as u8);
        d.push(self.phy.sync_word);
        d.extend_from_slice(&self.position.0.to_be_bytes());
        d.extend_from_slice(&self.position.1.to_be_bytes());
        d.extend_from_slice(&self.frame);
        d
    }

    pub fn decode(d: &[u8]) -> Option<Transmission> {
        if d.len() < HEADER_LEN || &d[..4] != MAGIC || d[4] != VERSION || d.len() - HEADER_LEN > 255
        {
            return None;
        }
        let be16 = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
        let be32 = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        let mut sender = [0u8; 8];
        sender.copy_from_slice(&d[5..13]);
        Some(Transmission {
            sender: ExtAddress(sender),
            pid: be32(13),
            phy: Phy {
                frequency: be32(17),
                sf: d[21],
                bandwidth_hz: be16(22) as u32 * 1000,
                coding_rate: d[24],
                preamble: be16(25),
                tx_power_dbm: d[27] as i8,
                sync_word: d[28],
            },
            position: (f32::from_bits(be32(29)), f32::from_bits(be32(33))),
            frame: d[HEADER_LEN..].to_vec(),
        })
    }
}

/// A process-wide monotonic clock in milliseconds (the unix board's `now`).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: std::time::Instant,
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            epoch: std::time::Instant::now(),
        }
    }
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.now_us() / 1000)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Settings of a node on the medium, usually from the environment.
#[derive(Debug, Clone)]
pub struct MediumConfig {
    pub name: String,
    pub position: (f32, f32),
    pub loss: f64,
    pub pcap_path: Option<String>,
}

impl MediumConfig {
    pub fn from_env() -> Self {
        let name = std::env::var("PYMESH_AIR").unwrap_or_else(|_| "default".into());
        let position = std::env::var("PYMESH_POS")
            .ok()
            .and_then(|s| {
                // "x,y"; "x:y" too, for tools that split their arguments on commas.
                let (x, y) = s.split_once(',').or_else(|| s.split_once(':'))?;
                Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
            })
            .unwrap_or((0.0, 0.0));
        let loss = std::env::var("PYMESH_LOSS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        let pcap_path = std::env::var("PYMESH_PCAP").ok().filter(|p| !p.is_empty());
        MediumConfig {
            name,
            position,
            loss,
            pcap_path,
        }
    }
}

#[derive(Debug)]
struct PendingRx {
    arrival: Arrival,
    frame: Vec<u8>,
}

/// State shared between the radio (board thread) and its receive thread.
#[derive(Debug, Default)]
struct Shared {
    phy: Option<Phy>,
    /// Frames on the air at this receiver, by end time (decided when they end).
    on_air: Vec<PendingRx>,
    /// Arrivals of the last few seconds, for collision decisions.
    recent: VecDeque<Arrival>,
    /// Own transmissions (start, end) in microseconds, for half-duplex.
    own_tx: VecDeque<(u64, u64)>,
    /// Frames heard by the receive thread (counters).
    heard: u64,
    lost: u64,
}

/// The radio of a unix node: transmits to the medium, receives through the air model.
pub struct MediumRadio {
    socket: UdpSocket,
    dest: SocketAddrV4,
    clock: Clock,
    me: ExtAddress,
    config: MediumConfig,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    tx_end_us: Option<u64>,
    rng_state: u64,
    capture: Option<PcapWriter<std::fs::File>>,
}

impl MediumRadio {
    /// Joins the medium and starts the receive thread. `wake` is notified whenever a frame
    /// may be ready, so the board's poll thread can sleep until then.
    pub fn open(
        me: ExtAddress,
        clock: Clock,
        config: MediumConfig,
        wake: Arc<(Mutex<bool>, Condvar)>,
    ) -> std::io::Result<Self> {
        let port = medium_port(&config.name);
        let socket = multicast_socket(port)?;
        let rx_socket = socket.try_clone()?;
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let rx_shared = Arc::clone(&shared);
        let position = (config.position.0 as f64, config.position.1 as f64);
        let pid = std::process::id();
        std::thread::Builder::new()
            .name("pymesh-air-rx".into())
            .spawn(move || {
                let mut buf = [0u8; 2048];
                loop {
                    let Ok((n, _)) = rx_socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let now_us = clock.now_us();
                    let Some(t) = Transmission::decode(&buf[..n]) else {
                        continue;
                    };
                    if t.pid == pid && t.sender == me {
                        continue; // our own transmission, looped back
                    }
                    let d = air::distance(position, (t.position.0 as f64, t.position.1 as f64));
                    let (rssi, snr) = air::link_budget(&t.phy, d);
                    let arrival = Arrival {
                        start_us: now_us,
                        end_us: now_us + t.phy.airtime_us(t.frame.len()),
                        phy: t.phy,
                        rssi_dbm: rssi,
                        snr_db: snr,
                    };
                    let (lock, _) = &*rx_shared;
                    let mut s = lock.lock().unwrap();
                    s.heard += 1;
                    s.recent.push_back(arrival);
                    s.on_air.push(PendingRx {
                        arrival,
                        frame: t.frame,
                    });
                    drop(s);
                    let (wlock, wcv) = &*wake;
                    *wlock.lock().unwrap() = true;
                    wcv.notify_all();
                }
            })?;
        let capture = match &config.pcap_path {
            Some(path) => Some(PcapWriter::new(std::fs::File::create(path)?)?),
            None => None,
        };
        Ok(MediumRadio {
            capture,
            socket,
            dest: SocketAddrV4::new(GROUP, port),
            clock,
            me,
            config,
            shared,
            tx_end_us: None,
            rng_state: 0x9e37_79b9_7f4a_7c15 ^ (pid as u64) << 17 ^ me.to_u64(),
        })
    }

    /// When the next radio event (end of our transmission, end of a frame on the air) is due,
    /// in milliseconds on the board clock.
    pub fn next_event_at(&self) -> Option<Instant> {
        let s = self.shared.0.lock().unwrap();
        let rx = s.on_air.iter().map(|p| p.arrival.end_us).min();
        let t = match (rx, self.tx_end_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }?;
        Some(Instant::from_millis(t.div_ceil(1000)))
    }

    /// Frames heard on the medium and frames lost (not tuned, weak, collided, ...).
    pub fn stats(&self) -> (u64, u64) {
        let s = self.shared.0.lock().unwrap();
        (s.heard, s.lost)
    }

    fn random_unit(&mut self) -> f64 {
        // xorshift64*: the loss draw needs no quality beyond uniformity.
        let mut x = self.rng_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng_state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn multicast_socket(port: u16) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Every process on this machine binds the same group and port.
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&SocketAddrV4::new(GROUP, port).into())?;
    socket.join_multicast_v4(&GROUP, &Ipv4Addr::LOCALHOST)?;
    socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
    socket.set_multicast_loop_v4(true)?;
    socket.set_multicast_ttl_v4(0)?;
    socket.set_read_timeout(Some(StdDuration::from_millis(500)))?;
    Ok(socket.into())
}

impl Radio for MediumRadio {
    fn configure(&mut self, config: &LoRaConfig) -> Result<(), RadioError> {
        self.shared.0.lock().unwrap().phy = Some(Phy::from_config(config));
        Ok(())
    }

    fn transmit(&mut self, _now: Instant, frame: &[u8]) -> Result<(), RadioError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(RadioError::FrameTooLong);
        }
        let now_us = self.clock.now_us();
        if self.tx_end_us.is_some_and(|end| end > now_us) {
            return Err(RadioError::Busy);
        }
        let phy = self
            .shared
            .0
            .lock()
            .unwrap()
            .phy
            .ok_or(RadioError::Hardware)?;
        let end = now_us + phy.airtime_us(frame.len());
        let t = Transmission {
            sender: self.me,
            pid: std::process::id(),
            phy,
            position: self.config.position,
            frame: frame.to_vec(),
        };
        self.socket
            .send_to(&t.encode(), self.dest)
            .map_err(|_| RadioError::Hardware)?;
        self.tx_end_us = Some(end);
        let mut s = self.shared.0.lock().unwrap();
        s.own_tx.push_back((now_us, end));
        Ok(())
    }

    fn receive(&mut self, _now: Instant) -> Result<(), RadioError> {
        Ok(())
    }

    fn poll_event(&mut self, _now: Instant, buf: &mut [u8]) -> Option<RadioEvent> {
        let now_us = self.clock.now_us();
        if let Some(end) = self.tx_end_us {
            if now_us >= end {
                self.tx_end_us = None;
                return Some(RadioEvent::TxDone);
            }
        }
        loop {
            let mut s = self.shared.0.lock().unwrap();
            // Forget history older than the longest LoRa frame (SF12/BW125, 255 bytes: ~9 s).
            let horizon = now_us.saturating_sub(20_000_000);
            while s.recent.front().is_some_and(|a| a.end_us < horizon) {
                s.recent.pop_front();
            }
            while s.own_tx.front().is_some_and(|t| t.1 < horizon) {
                s.own_tx.pop_front();
            }
            let idx = s
                .on_air
                .iter()
                .enumerate()
                .filter(|(_, p)| p.arrival.end_us <= now_us)
                .min_by_key(|(_, p)| p.arrival.end_us)
                .map(|(i, _)| i)?;
            let p = s.on_air.swap_remove(idx);
            let rx_phy = s.phy?;
            let others: Vec<Arrival> = s
                .recent
                .iter()
                .filter(|a| **a != p.arrival)
                .copied()
                .collect();
            let own: Vec<(u64, u64)> = s.own_tx.iter().copied().collect();
            let verdict = air::receive(&rx_phy, &p.arrival, &others, &own);
            drop(s);
            let verdict = verdict.and_then(|()| {
                if self.config.loss > 0.0 && self.random_unit() < self.config.loss {
                    Err(air::Loss::Random)
                } else {
                    Ok(())
                }
            });
            if verdict.is_err() {
                self.shared.0.lock().unwrap().lost += 1;
                continue;
            }
            if let Some(w) = self.capture.as_mut() {
                // A capture that cannot be written must not stop the node: drop it.
                if w.write_frame(p.arrival.end_us, &p.frame).is_err() {
                    self.capture = None;
                }
            }
            let len = p.frame.len().min(buf.len());
            buf[..len].copy_from_slice(&p.frame[..len]);
            return Some(RadioEvent::Received(RxInfo {
                len,
                rssi_dbm: p.arrival.rssi_dbm.round() as i16,
                snr_db: p.arrival.snr_db.round().clamp(-128.0, 127.0) as i8,
            }));
        }
    }

    fn channel_rssi(&mut self, _now: Instant) -> Option<i16> {
        let now_us = self.clock.now_us();
        if self.tx_end_us.is_some_and(|e| e > now_us) {
            return None;
        }
        let s = self.shared.0.lock().unwrap();
        let strongest = s
            .on_air
            .iter()
            .filter(|p| p.arrival.start_us <= now_us && now_us < p.arrival.end_us)
            .map(|p| p.arrival.rssi_dbm)
            .fold(f64::NEG_INFINITY, f64::max);
        let floor = s
            .phy
            .map(|p| air::noise_floor_dbm(p.bandwidth_hz))
            .unwrap_or(-120.0);
        Some(strongest.max(floor).round() as i16)
    }

    fn sleep(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmission_encoding_round_trips() {
        let t = Transmission {
            sender: ExtAddress::from_u64(0x0102030405060708),
            pid: 4242,
            phy: Phy {
                frequency: 863_000_000,
                sf: 7,
                bandwidth_hz: 125_000,
                coding_rate: 1,
                preamble: 8,
                tx_power_dbm: 14,
                sync_word: 0x34,
            },
            position: (1.5, -20.0),
            frame: vec![1, 2, 3, 4, 5],
        };
        assert_eq!(Transmission::decode(&t.encode()), Some(t.clone()));
        assert_eq!(Transmission::decode(&t.encode()[..10]), None);
        let mut bad = t.encode();
        bad[0] = b'X';
        assert_eq!(Transmission::decode(&bad), None);
    }

    #[test]
    fn medium_names_map_to_stable_ports() {
        assert_eq!(medium_port("default"), medium_port("default"));
        assert!((PORT_BASE..PORT_BASE + 1000).contains(&medium_port("x")));
    }
}
