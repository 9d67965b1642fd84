//! `pymesh-ot-node`: one of our nodes, in real time, on OpenThread's simulation medium
//! ([`pymesh_sim::ot_medium`]), driven like `ot-cli-ftd` over stdin: each line is an
//! OpenThread CLI command (the subset `pymesh::cli` implements, Pycom's `cli()`), answered with
//! its output and `Done`, or with `Error N: ...`; `ping <addr> [size]` answers when the reply
//! came (or 3.2 s passed), with OpenThread's reply and statistics lines; `udp open|bind|send|
//! close` run OpenThread's UDP example socket (received datagrams print as OpenThread's do:
//! `N bytes from ADDR PORT TEXT`); `pymesh allow all|ID,ID...` changes who this node hears;
//! `pymesh counters`
//! prints every layer's counters (Rust debug format); `exit` ends it.
//!
//! ```text
//! pymesh-ot-node --node-id N [--port-offset P] [--channel C] [--key HEX32] [--panid HEX]
//!                [--extaddr HEX16] [--seed S] [--pcap FILE] [--allow ID,ID...]
//! ```
//!
//! The node runs Thread's timing profile ([`Timing::thread`]): OpenThread's MLE timers, and a
//! MAC timed for 802.15.4 ([`pymesh::mac::Phy::Ieee802154`]: 2.4 GHz airtime, no duty cycle,
//! immediate software acks). The LoRa configuration a node needs is then only the radio's
//! (ignored by this medium) and the spreading factor the link margin is measured against.
//! The network identity is Pymesh's (`NetworkIdentity::pymesh`): PAN ID 0x1234, extended PAN
//! ID dead00beef00cafe, mesh-local prefix fdde:ad00:beef:0::/64, network name "Pymesh", key
//! sequence 0, with `--key`/`--channel`/`--panid` to change those. `--allow` hears only the
//! given node ids, as OpenThread's `nodeidfilter allow`.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration as StdDuration;

use pymesh::mle::Timing;
use pymesh::node::{NetworkIdentity, Node, NodeConfig};
use pymesh::radio::region::{LoRaParams, Region};
use pymesh::radio::{LoRaConfig, Radio};
use pymesh::time::{Duration, Instant};
use pymesh::wire::{ExtAddress, PanId};
use pymesh_sim::medium::Clock;
use pymesh_sim::ot_cli::{udp_command, udp_received_line};
use pymesh_sim::ot_medium::{OtMediumConfig, OtMediumRadio};

const USAGE: &str = "usage: pymesh-ot-node --node-id N [--port-offset P] [--channel C] \
[--key HEX32] [--panid HEX] [--extaddr HEX16] [--seed S] [--pcap FILE] [--allow ID,ID...]";

struct Options {
    medium: OtMediumConfig,
    key: [u8; 16],
    pan_id: u16,
    ext_addr: Option<ExtAddress>,
    seed: Option<u64>,
}

fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.trim_start_matches("0x");
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        medium: OtMediumConfig {
            port_offset: std::env::var("PORT_OFFSET")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            node_id: 0,
            channel: NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY).channel,
            pcap_path: None,
            allowed_node_ids: None,
        },
        key: NetworkIdentity::DEFAULT_KEY,
        pan_id: NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY)
            .pan_id
            .0,
        ext_addr: None,
        seed: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--node-id" => o.medium.node_id = val()?.parse().map_err(|_| "bad --node-id")?,
            "--port-offset" => {
                o.medium.port_offset = val()?.parse().map_err(|_| "bad --port-offset")?
            }
            "--channel" => o.medium.channel = val()?.parse().map_err(|_| "bad --channel")?,
            "--key" => o.key = hex_bytes(val()?).ok_or("--key: 32 hex digits")?,
            "--panid" => {
                o.pan_id = u16::from_str_radix(val()?.trim_start_matches("0x"), 16)
                    .map_err(|_| "bad --panid")?
            }
            "--extaddr" => {
                o.ext_addr = Some(ExtAddress(
                    hex_bytes(val()?).ok_or("--extaddr: 16 hex digits")?,
                ))
            }
            "--seed" => o.seed = Some(val()?.parse().map_err(|_| "bad --seed")?),
            "--pcap" => o.medium.pcap_path = Some(val()?.clone()),
            "--allow" => {
                let ids: Result<Vec<u16>, _> =
                    val()?.split(',').map(|s| s.trim().parse()).collect();
                o.medium.allowed_node_ids =
                    Some(ids.map_err(|_| "--allow: node ids, comma-separated")?);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if o.medium.node_id == 0 {
        return Err(format!("--node-id is required\n{USAGE}"));
    }
    Ok(o)
}

/// Pycom's defaults in EU868 (SF7/BW125): not used for timing on this PHY.
fn lora_config() -> LoRaConfig {
    LoRaParams {
        region: Some(Region::Eu868 as i32),
        ..LoRaParams::pycom_defaults()
    }
    .validate()
    .expect("EU868 with Pycom's defaults is a valid LoRa configuration")
}

fn seed_from_urandom() -> u64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    u64::from_le_bytes(b) ^ std::process::id() as u64
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let seed = o.seed.unwrap_or_else(seed_from_urandom);
    let ext_addr = o.ext_addr.unwrap_or_else(|| {
        // A random EUI-64 with the local bit set, as OpenThread's `extaddr` default.
        let mut b = (seed ^ 0x5851_f42d_4c95_7f2d)
            .wrapping_mul(6364136223846793005)
            .to_be_bytes();
        b[0] = (b[0] | 0x02) & !0x01;
        ExtAddress(b)
    });
    let clock = Clock::new();
    let mut radio = match OtMediumRadio::open(&o.medium, clock) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pymesh-ot-node: cannot join OpenThread's medium: {e}");
            return ExitCode::from(1);
        }
    };
    let lora = lora_config();
    if radio.configure(&lora).is_err() {
        return ExitCode::from(1);
    }
    let mut identity = NetworkIdentity::pymesh(o.key);
    identity.channel = o.medium.channel;
    identity.pan_id = PanId(o.pan_id);
    let config = NodeConfig {
        ext_addr,
        identity,
        lora,
        timing: Timing::thread(),
    };
    let mut node = Node::new(config, seed);
    node.start(clock.now());

    let (cmd_tx, cmd_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if cmd_tx.send(line).is_err() {
                break;
            }
        }
    });

    let stdout = std::io::stdout();
    // A `ping` waiting for its reply: no other command is read until it is answered (as
    // OpenThread's CLI, which prints `Done` after the statistics).
    let mut ping: Option<Instant> = None;
    let mut ping_seq: u16 = 0;
    // OpenThread's `udp` example socket (`udp open|bind|send|close`).
    let mut udp: Option<pymesh::net::SocketId> = None;
    loop {
        let now = clock.now();
        node.poll(now, &mut radio);
        if let Some(id) = udp {
            let mut buf = [0u8; 1280];
            while let Some((n, from, port)) = node.socket_recv(id, &mut buf) {
                // As OpenThread's CLI prints a received datagram (cli_udp.cpp).
                let mut out = stdout.lock();
                let _ = write!(out, "{}\r\n", udp_received_line(&buf[..n], &from, port));
                let _ = out.flush();
            }
        }
        if let Some(deadline) = ping {
            let mut text = String::new();
            if let Some(r) = node.take_ping_reply() {
                let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{r}\r\n"));
                let _ = pymesh::cli::ping_statistics(&mut text, Some(r.time));
            } else if now >= deadline {
                let _ = pymesh::cli::ping_statistics(&mut text, None);
            }
            if !text.is_empty() {
                ping = None;
                let mut out = stdout.lock();
                let _ = write!(out, "{text}Done\r\n");
                let _ = out.flush();
            }
        }
        while ping.is_none() {
            match cmd_rx.try_recv() {
                Ok(line) => {
                    let line = line.trim();
                    let mut out = stdout.lock();
                    let _ = write!(out, "> {line}\r\n");
                    if line == "exit" {
                        let _ = out.flush();
                        return ExitCode::SUCCESS;
                    }
                    let now = clock.now();
                    if pymesh::cli::is_ping(line) {
                        // Replies to earlier pings are stale now.
                        while node.take_ping_reply().is_some() {}
                        ping_seq = ping_seq.wrapping_add(1);
                        match pymesh::cli::start_ping(&mut node, now, line, ping_seq) {
                            // The firmware's wait (`pymesh_cli`): 40 frame times + 3 s.
                            Ok(()) => {
                                ping = Some(
                                    now + Duration::from_millis(
                                        node.config().timing.frame_time.millis() * 40 + 3000,
                                    ),
                                )
                            }
                            Err(e) => {
                                let _ = out.write_all(e.as_bytes());
                            }
                        }
                    } else if line.starts_with("udp ") {
                        let text = udp_command(&mut node, now, &mut udp, line);
                        let _ = out.write_all(text.as_bytes());
                    } else if let Some(ids) = line.strip_prefix("pymesh allow ") {
                        // Who this node hears from now on (`all`, or node ids 1,3).
                        let ids = ids.trim();
                        let parsed: Result<Vec<u16>, _> =
                            ids.split(',').map(|s| s.trim().parse()).collect();
                        match (ids, parsed) {
                            ("all", _) => {
                                radio.set_allowed(None);
                                let _ = write!(out, "Done\r\n");
                            }
                            (_, Ok(v)) => {
                                radio.set_allowed(Some(v));
                                let _ = write!(out, "Done\r\n");
                            }
                            (_, Err(_)) => {
                                let _ = write!(out, "Error 7: InvalidArgs\r\n");
                            }
                        }
                    } else if line == "pymesh counters" {
                        // Every drop counter of every layer (not an OpenThread command).
                        let _ = write!(
                            out,
                            "{:?}\r\n{:?}\r\n{:?}\r\n{:?}\r\n{:?}\r\nDone\r\n",
                            node.mac_counters(),
                            node.rx_drops(),
                            node.net_counters(),
                            node.reassembly_counters(),
                            radio.stats()
                        );
                    } else if !line.is_empty() {
                        let mut text = String::new();
                        let _ = pymesh::cli::execute(Some(&mut node), now, line, &mut text);
                        let _ = out.write_all(text.as_bytes());
                        if !text.starts_with("Error ") {
                            let _ = write!(out, "Done\r\n");
                        }
                    }
                    let _ = out.flush();
                }
                Err(mpsc::TryRecvError::Empty) => break,
                // stdin closed: keep running (a node started in the background).
                Err(mpsc::TryRecvError::Disconnected) => break,
            }
        }
        // Commands may have queued frames: run them before sleeping.
        node.poll(clock.now(), &mut radio);
        // Sleep until the node's next deadline or a frame arrives; at most 10 ms, so that
        // commands on stdin are answered promptly.
        let now = clock.now();
        let wait_ms = node
            .poll_at()
            .map(|t| t.millis().saturating_sub(now.millis()))
            .unwrap_or(10)
            .min(10);
        if wait_ms > 0 {
            radio.wait(StdDuration::from_millis(wait_ms));
        }
    }
}
