//! `pymesh.cli(cmd)`: OpenThread's CLI for the commands Pymesh users ran, with OpenThread's
//! text (lines end in `\r\n`, no final `Done`, as Pycom returned it). Formats follow the CLI
//! logs in the vectors (`cli-*.txt`). Unknown commands give OpenThread's error line.

use core::fmt::{self, Write};

use crate::mle::{router_rloc16, Role};
use crate::node::Node;
use crate::time::Instant;
use crate::wire::Ipv6Address;

/// OpenThread's answer to a command it does not know.
pub const INVALID_COMMAND: &str = "Error 35: InvalidCommand\r\n";
/// OpenThread's answer when the arguments are wrong.
pub const INVALID_ARGS: &str = "Error 7: InvalidArgs\r\n";

/// OpenThread's answer when the node cannot do it in its state (detached, disabled).
pub const INVALID_STATE: &str = "Error 13: InvalidState\r\n";
/// OpenThread's answer to a setting this node does not support changing.
/// OpenThread's answer when the thing to remove is not there.
pub const NOT_FOUND: &str = "Error 23: NotFound\r\n";
/// OpenThread's answer when a datagram has no route.
pub const NO_ROUTE: &str = "Error 4: NoRoute\r\n";

/// The commands `help` lists (each implemented below).
pub const COMMANDS: [&str; 28] = [
    "channel",
    "child",
    "childtimeout",
    "counters",
    "extaddr",
    "extpanid",
    "help",
    "ipaddr",
    "ipmaddr",
    "leaderdata",
    "leaderweight",
    "masterkey",
    "mode",
    "neighbor",
    "netdata",
    "networkkey",
    "networkname",
    "panid",
    "partitionid",
    "ping",
    "prefix",
    "rloc16",
    "router",
    "routerrole",
    "routerselectionjitter",
    "routerupgradethreshold",
    "state",
    "version",
];

/// Parses an IPv6 prefix as OpenThread's CLI and Pycom's `border_router()` take it
/// ("2001:db8::/64"): the address and the length (at most 128).
pub fn parse_prefix(text: &str) -> Option<(Ipv6Address, u8)> {
    let (addr, len) = text.split_once('/')?;
    let len: u8 = len.trim().parse().ok()?;
    if len > 128 {
        return None;
    }
    Some((Ipv6Address::parse(addr.trim())?, len))
}

/// Commands that change the node: `routerselectionjitter <s>`, `prefix add|remove`,
/// `netdata register`, `routerrole enable|disable`, `routerupgradethreshold <n>`. `None` when
/// `line` is not one of them (it is then read-only, for [`execute`]).
fn execute_mut(node: &mut Node, now: Instant, line: &str) -> Option<&'static str> {
    let mut words = line.split_whitespace();
    let (cmd, sub) = (words.next()?, words.next()?);
    let ok = "";
    Some(match (cmd, sub) {
        ("routerselectionjitter", value) => match (value.parse::<u32>(), words.next()) {
            (Ok(s), None) if (1..=255).contains(&s) => {
                node.mle_mut()
                    .set_router_selection_jitter(crate::time::Duration::from_secs(s as u64));
                ok
            }
            _ => INVALID_ARGS,
        },
        // prefix add <prefix> [padcrosnD] [high|med|low]
        ("prefix", "add") => {
            let Some((prefix, length)) = words.next().and_then(parse_prefix) else {
                return Some(INVALID_ARGS);
            };
            let (mut flags, mut stable, mut preference) = (0, false, 0i8);
            for w in words {
                match w {
                    "high" => preference = 1,
                    "med" => preference = 0,
                    "low" => preference = -1,
                    _ => match crate::netdata::local::parse_prefix_flags(w) {
                        Some((f, s)) => {
                            flags = f;
                            stable = s;
                        }
                        None => return Some(INVALID_ARGS),
                    },
                }
            }
            match node.local_prefix_add(prefix, length, preference, flags, stable) {
                Ok(()) => ok,
                Err(crate::wire::Error::Oversized) => "Error 3: NoBufs\r\n",
                Err(_) => INVALID_ARGS,
            }
        }
        ("prefix", "remove") => match (words.next().and_then(parse_prefix), words.next()) {
            (Some((prefix, length)), None) => {
                if node.local_prefix_remove(prefix, length) {
                    ok
                } else {
                    NOT_FOUND
                }
            }
            _ => INVALID_ARGS,
        },
        ("netdata", "register") if words.next().is_none() => {
            if matches!(node.role(), Role::Child | Role::Router | Role::Leader) {
                node.netdata_register(now);
                ok
            } else {
                INVALID_STATE
            }
        }
        ("routerrole", "enable" | "disable") if words.next().is_none() => {
            node.set_router_eligible(now, sub == "enable");
            ok
        }
        ("routerupgradethreshold", value) => match (value.parse::<u8>(), words.next()) {
            // Thread allows at most 32 routers.
            (Ok(v), None) if (1..=32).contains(&v) => {
                node.mle_mut().set_router_upgrade_threshold(v);
                ok
            }
            _ => INVALID_ARGS,
        },
        _ => return None,
    })
}

/// Runs `line` on `node` (`None`: the mesh is not running: OpenThread's state "disabled").
pub fn execute(
    mut node: Option<&mut Node>,
    now: Instant,
    line: &str,
    out: &mut dyn Write,
) -> fmt::Result {
    // Commands that change the node.
    if let Some(n) = node.as_deref_mut() {
        if let Some(text) = execute_mut(n, now, line) {
            return out.write_str(text);
        }
    }
    let node = node.as_deref();
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return Ok(());
    };
    let arg = words.next();
    let role = node.map(|n| n.role()).unwrap_or(Role::Disabled);
    if !COMMANDS.contains(&cmd) {
        return out.write_str(INVALID_COMMAND);
    }
    match (cmd, arg, node) {
        ("help", None, _) => {
            for c in COMMANDS {
                write!(out, "{c}\r\n")?;
            }
            Ok(())
        }
        ("state", None, _) => write!(out, "{}\r\n", role.name()),
        ("version", None, _) => write!(out, "PYMESH/{}; LoRa; Thread 1.1\r\n", env!("CARGO_PKG_VERSION")),
        (_, _, None) => out.write_str(INVALID_STATE),
        ("rloc16", None, Some(n)) => write!(out, "{:04x}\r\n", n.rloc16()),
        ("extaddr", None, Some(n)) => write!(out, "{}\r\n", n.config().ext_addr),
        ("panid", None, Some(n)) => write!(out, "0x{:04x}\r\n", n.config().identity.pan_id.0),
        ("channel", None, Some(n)) => write!(out, "{}\r\n", n.config().identity.channel),
        ("networkname", None, Some(n)) => write!(out, "{}\r\n", n.config().identity.network_name),
        ("extpanid", None, Some(n)) => hex_line(out, &n.config().identity.ext_pan_id),
        ("masterkey" | "networkkey", None, Some(n)) => hex_line(out, &n.config().identity.network_key),
        ("mode", None, Some(_)) => write!(out, "rdn\r\n"),
        ("childtimeout", None, Some(n)) => write!(out, "{}\r\n", n.mle().timing().child_timeout_s),
        ("leaderweight", None, Some(n)) => {
            write!(out, "{}\r\n", n.leader_data().map(|l| l.weighting).unwrap_or(crate::mle::LEADER_WEIGHT))
        }
        ("partitionid", None, Some(n)) => write!(out, "{}\r\n", n.leader_data().map(|l| l.partition_id).unwrap_or(0)),
        ("leaderdata", None, Some(n)) => match n.leader_data() {
            None => out.write_str(INVALID_STATE),
            Some(l) => write!(
                out,
                "Partition ID: {}\r\nWeighting: {}\r\nData Version: {}\r\nStable Data Version: {}\r\nLeader Router ID: {}\r\n",
                l.partition_id, l.weighting, l.data_version, l.stable_data_version, l.leader_router_id
            ),
        },
        ("ipaddr", None, Some(n)) => {
            for a in n.unicast_addresses() {
                write!(out, "{a}\r\n")?;
            }
            Ok(())
        }
        ("router", Some("list"), Some(n)) => {
            let mut first = true;
            for r in n.mle().routers() {
                write!(out, "{}{}", if first { "" } else { " " }, r.router_id)?;
                first = false;
            }
            write!(out, "\r\n")
        }
        ("router", Some("table"), Some(n)) => router_table(n, now, out),
        ("neighbor", Some("table"), Some(n)) => neighbor_table(n, now, out),
        ("neighbor", Some("list"), Some(n)) => {
            let mut first = true;
            for nb in n.neighbors(now) {
                write!(out, "{}0x{:04x}", if first { "" } else { " " }, nb.rloc16)?;
                first = false;
            }
            write!(out, "\r\n")
        }
        ("child", Some("table"), Some(n)) => child_table(n, now, out),
        ("child", Some("list"), Some(n)) => {
            let mut first = true;
            for c in n.mle().children() {
                write!(out, "{}{}", if first { "" } else { " " }, crate::mle::child_id_of(c.rloc16))?;
                first = false;
            }
            write!(out, "\r\n")
        }
        ("ipmaddr", None, Some(n)) => {
            for a in n.addresses().multicast_groups() {
                write!(out, "{a}\r\n")?;
            }
            Ok(())
        }
        ("prefix", None, Some(n)) => prefix_list(n, out),
        ("routerrole", None, Some(n)) => out.write_str(if n.mle().router_eligible() {
            "Enabled\r\n"
        } else {
            "Disabled\r\n"
        }),
        ("routerupgradethreshold", None, Some(n)) => {
            write!(out, "{}\r\n", n.mle().router_upgrade_threshold())
        }
        ("routerselectionjitter", None, Some(n)) => write!(out, "{}\r\n", n.mle().router_selection_jitter().secs()),
        ("netdata", Some("show"), Some(n)) => netdata_show(n, out),
        ("counters", Some("mac"), Some(n)) => counters_mac(n, out),
        ("counters", Some("mle"), Some(n)) => counters_mle(n, now, out),
        _ => out.write_str(INVALID_ARGS),
    }
}

/// OpenThread's `prefix` (the local on-mesh prefixes): prefix, flags, preference.
fn prefix_list(n: &Node, out: &mut dyn Write) -> fmt::Result {
    use crate::wire::netdata::BorderRouterEntry as E;
    for p in n.local_prefixes() {
        let mut text: heapless::String<64> = heapless::String::new();
        crate::netdata::write_prefix(&mut text, &p.prefix, p.length)?;
        out.write_str(&text)?;
        let letters = [
            (p.flags & E::PREFERRED != 0, 'p'),
            (p.flags & E::SLAAC != 0, 'a'),
            (p.flags & E::DHCP != 0, 'd'),
            (p.flags & E::CONFIGURE != 0, 'c'),
            (p.flags & E::DEFAULT_ROUTE != 0, 'r'),
            (p.flags & E::ON_MESH != 0, 'o'),
            (p.stable, 's'),
            (p.flags & E::ND_DNS != 0, 'n'),
            (p.flags & E::DP != 0, 'D'),
        ];
        if letters.iter().any(|(on, _)| *on) {
            out.write_char(' ')?;
        }
        for (on, c) in letters {
            if on {
                out.write_char(c)?;
            }
        }
        let pref = match p.preference {
            1 => "high",
            -1 => "low",
            _ => "med",
        };
        write!(out, " {pref}\r\n")?;
    }
    Ok(())
}

fn hex_line(out: &mut dyn Write, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(out, "{b:02x}")?;
    }
    write!(out, "\r\n")
}

fn router_table(n: &Node, now: Instant, out: &mut dyn Write) -> fmt::Result {
    write!(out, "| ID | RLOC16 | Next Hop | Path Cost | LQ In | LQ Out | Age | Extended MAC     | Link |\r\n")?;
    write!(out, "+----+--------+----------+-----------+-------+--------+-----+------------------+------+\r\n")?;
    let own = n.mle().router_id();
    for r in n.mle().routers() {
        let (lq_in, lq_out) = r
            .link
            .map(|l| (l.link_quality_in(), l.link_quality_out))
            .unwrap_or((0, 0));
        let next_hop = if Some(r.router_id) == own {
            63
        } else {
            r.next_hop.unwrap_or(63)
        };
        let cost = if Some(r.router_id) == own {
            0
        } else {
            r.path_cost.min(16)
        };
        let age = if Some(r.router_id) == own {
            0
        } else {
            now.since(r.last_heard).secs()
        };
        write!(
            out,
            "| {:2} | 0x{:04x} | {:8} | {:9} | {:5} | {:6} | {:3} | ",
            r.router_id,
            router_rloc16(r.router_id),
            next_hop,
            cost,
            lq_in,
            lq_out,
            age
        )?;
        match r.ext_addr {
            Some(e) => write!(out, "{e}")?,
            None => write!(out, "0000000000000000")?,
        }
        write!(out, " | {:4} |\r\n", u8::from(r.link.is_some()))?;
    }
    write!(out, "\r\n")
}

fn neighbor_table(n: &Node, now: Instant, out: &mut dyn Write) -> fmt::Result {
    write!(
        out,
        "| Role | RLOC16 | Age | Avg RSSI | Last RSSI |R|D|N| Extended MAC     | Version |\r\n"
    )?;
    write!(
        out,
        "+------+--------+-----+----------+-----------+-+-+-+------------------+---------+\r\n"
    )?;
    for nb in n.neighbors(now) {
        let role = if nb.role == Role::Child { "C" } else { "R" };
        write!(
            out,
            "|   {role}  | 0x{:04x} | {:3} | {:8} | {:9} |1|1|1| {} | {:7} |\r\n",
            nb.rloc16,
            nb.age.secs(),
            nb.avg_rssi,
            nb.last_rssi,
            nb.ext_addr,
            crate::wire::mle::THREAD_VERSION_1_1
        )?;
    }
    write!(out, "\r\n")
}

fn child_table(n: &Node, now: Instant, out: &mut dyn Write) -> fmt::Result {
    write!(out, "| ID  | RLOC16 | Timeout    | Age        | LQ In | C_VN |R|D|N|Ver|CSL|QMsgCnt|Suprvsn| Extended MAC     |\r\n")?;
    write!(out, "+-----+--------+------------+------------+-------+------+-+-+-+---+---+-------+-------+------------------+\r\n")?;
    let version = n.leader_data().map(|l| l.data_version).unwrap_or(0);
    for c in n.mle().children() {
        write!(
            out,
            "| {:3} | 0x{:04x} | {:10} | {:10} | {:5} | {:4} |1|1|1|  2| 0 |     0 |     0 | {} |\r\n",
            crate::mle::child_id_of(c.rloc16),
            c.rloc16,
            c.timeout_s,
            now.since(c.link.last_heard).secs(),
            c.link.link_quality_in(),
            version,
            c.ext_addr
        )?;
    }
    write!(out, "\r\n")
}

/// OpenThread's `netdata show`, with its lines ending in `\r\n`.
fn netdata_show(n: &Node, out: &mut dyn Write) -> fmt::Result {
    struct CrLf<'a>(&'a mut dyn Write);
    impl Write for CrLf<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for (i, part) in s.split('\n').enumerate() {
                if i > 0 {
                    self.0.write_str("\r\n")?;
                }
                self.0.write_str(part)?;
            }
            Ok(())
        }
    }
    n.network_data().show(&mut CrLf(out))
}

fn counters_mac(n: &Node, out: &mut dyn Write) -> fmt::Result {
    let c = n.mac_counters();
    let rows: [(&str, u32, bool); 34] = [
        ("TxTotal", c.tx_total, false),
        ("TxUnicast", c.tx_unicast, true),
        ("TxBroadcast", c.tx_broadcast, true),
        ("TxAckRequested", c.tx_ack_requested, true),
        ("TxAcked", c.tx_acked, true),
        ("TxNoAckRequested", c.tx_no_ack_requested, true),
        ("TxData", c.tx_data, true),
        ("TxDataPoll", 0, true),
        ("TxBeacon", 0, true),
        ("TxBeaconRequest", 0, true),
        ("TxOther", 0, true),
        ("TxRetry", c.tx_retry, true),
        ("TxErrCca", c.tx_err_cca, true),
        ("TxErrBusyChannel", c.tx_err_busy_channel, true),
        ("TxErrAbort", c.tx_err_abort, true),
        ("TxDirectMaxRetryExpiry", c.tx_direct_max_retry_expiry, true),
        ("TxIndirectMaxRetryExpiry", 0, true),
        ("RxTotal", c.rx_total, false),
        ("RxUnicast", c.rx_unicast, true),
        ("RxBroadcast", c.rx_broadcast, true),
        ("RxData", c.rx_data, true),
        ("RxDataPoll", 0, true),
        ("RxBeacon", 0, true),
        ("RxBeaconRequest", 0, true),
        ("RxOther", c.rx_other, true),
        ("RxAddressFiltered", 0, true),
        ("RxDestAddrFiltered", c.rx_dest_addr_filtered, true),
        ("RxDuplicated", c.rx_duplicated, true),
        ("RxErrNoFrame", c.rx_err_no_frame, true),
        ("RxErrNoUnknownNeighbor", c.rx_err_unknown_neighbor, true),
        ("RxErrInvalidSrcAddr", c.rx_err_invalid_src_addr, true),
        ("RxErrSec", c.rx_err_sec, true),
        ("RxErrFcs", 0, true),
        ("RxErrOther", c.rx_err_other, true),
    ];
    for (name, v, indent) in rows {
        write!(out, "{}{name}: {v}\r\n", if indent { "    " } else { "" })?;
    }
    Ok(())
}

fn counters_mle(n: &Node, now: Instant, out: &mut dyn Write) -> fmt::Result {
    let c = &n.mle().counters;
    write!(
        out,
        "Role Disabled: {}\r\nRole Detached: {}\r\nRole Child: {}\r\nRole Router: {}\r\nRole Leader: {}\r\nAttach Attempts: {}\r\nPartition Id Changes: {}\r\nBetter Partition Attach Attempts: {}\r\nBetter Parent Attach Attempts: {}\r\nParent Changes: {}\r\n",
        c.role_disabled,
        c.role_detached,
        c.role_child,
        c.role_router,
        c.role_leader,
        c.attach_attempts,
        c.partition_id_changes,
        c.better_partition_attach_attempts,
        c.better_parent_attach_attempts,
        c.parent_changes
    )?;
    let t = n.role_times_ms(now);
    write!(
        out,
        "Time Disabled Milli: {}\r\nTime Detached Milli: {}\r\nTime Child Milli: {}\r\nTime Router Milli: {}\r\nTime Leader Milli: {}\r\nTime Tracked Milli: {}\r\n",
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t.iter().sum::<u64>()
    )
}

/// `ping <address> [size]`: an ICMPv6 echo request now; the reply line comes later
/// ([`Node::take_ping_reply`]). OpenThread's default payload is 8 bytes ("16 bytes from ...").
/// Returns the error text when the arguments or the route are wrong.
pub fn start_ping(node: &mut Node, now: Instant, line: &str, seq: u16) -> Result<(), &'static str> {
    let mut words = line.split_whitespace();
    if words.next() != Some("ping") {
        return Err(INVALID_COMMAND);
    }
    let Some(dst) = words.next().and_then(crate::wire::Ipv6Address::parse) else {
        return Err(INVALID_ARGS);
    };
    let size = match words.next() {
        None => 8,
        Some(w) => match w.parse::<u16>() {
            Ok(v) if v <= 1232 => v,
            _ => return Err(INVALID_ARGS),
        },
    };
    node.ping(now, &dst, 0x5053, seq, size)
        .map_err(|_| NO_ROUTE)
}

/// OpenThread's line after a ping of one request: the reply's round-trip time, or `None`
/// when no reply came before the deadline.
pub fn ping_statistics(out: &mut dyn Write, rtt: Option<crate::time::Duration>) -> fmt::Result {
    match rtt {
        Some(t) => {
            let ms = t.millis();
            write!(
                out,
                "1 packets transmitted, 1 packets received. Packet loss = 0.0%. Round-trip min/avg/max = {ms}/{ms}.000/{ms} ms.\r\n"
            )
        }
        None => write!(
            out,
            "1 packets transmitted, 0 packets received. Packet loss = 100.0%.\r\n"
        ),
    }
}

/// True for commands whose output arrives later (the shim waits for it).
pub fn is_ping(line: &str) -> bool {
    line.split_whitespace().next() == Some("ping")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn disabled_node_answers_state_and_errors_otherwise() {
        let mut s = String::new();
        execute(None, Instant::ZERO, "state", &mut s).unwrap();
        assert_eq!(s, "disabled\r\n");
        s.clear();
        execute(None, Instant::ZERO, "rloc16", &mut s).unwrap();
        assert_eq!(s, "Error 13: InvalidState\r\n");
        s.clear();
        execute(None, Instant::ZERO, "frobnicate", &mut s).unwrap();
        assert_eq!(s, INVALID_COMMAND);
        s.clear();
        execute(None, Instant::ZERO, "help", &mut s).unwrap();
        assert_eq!(s.lines().count(), COMMANDS.len());
    }

    /// A lone node on no radio, run (virtual time) until it leads its own partition.
    fn lone_leader() -> (Node, Instant) {
        use crate::mle::Timing;
        use crate::node::{NetworkIdentity, NodeConfig};
        use crate::radio::region::LoRaParams;
        use crate::radio::NoRadio;
        use crate::time::Duration;
        let lora = LoRaParams {
            region: Some(5),
            frequency: Some(869_525_000),
            bandwidth: 2,
            ..LoRaParams::pycom_defaults()
        }
        .validate()
        .unwrap();
        let config = NodeConfig {
            ext_addr: crate::wire::ExtAddress::from_u64(0x0101_0101_0101_0101),
            identity: NetworkIdentity::pymesh(NetworkIdentity::DEFAULT_KEY),
            lora,
            timing: Timing::lora(lora.frame_time()),
        };
        let mut node = Node::new(config, 7);
        let mut radio = NoRadio::new();
        let mut now = Instant::ZERO;
        node.start(now);
        while node.role() != Role::Leader {
            assert!(now < Instant::from_millis(600_000), "no leader after 600 s");
            node.poll(now, &mut radio);
            now += Duration::from_millis(20);
        }
        (node, now)
    }

    fn run(node: &mut Node, now: Instant, line: &str) -> String {
        let mut s = String::new();
        execute(Some(node), now, line, &mut s).unwrap();
        s
    }

    /// `counters mle` has OpenThread's lines in OpenThread's order (cli-line-node1.txt), and
    /// the role times add up: detached until the partition formed, leader since.
    #[test]
    fn counters_mle_lines_and_role_times() {
        let (mut n, now) = lone_leader();
        let later = now + crate::time::Duration::from_millis(5_000);
        let out = run(&mut n, later, "counters mle");
        let names: std::vec::Vec<&str> = out
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Role Disabled",
                "Role Detached",
                "Role Child",
                "Role Router",
                "Role Leader",
                "Attach Attempts",
                "Partition Id Changes",
                "Better Partition Attach Attempts",
                "Better Parent Attach Attempts",
                "Parent Changes",
                "Time Disabled Milli",
                "Time Detached Milli",
                "Time Child Milli",
                "Time Router Milli",
                "Time Leader Milli",
                "Time Tracked Milli"
            ]
        );
        let value = |name: &str| -> u64 {
            out.split("\r\n")
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(": ")?.parse().ok())
                .unwrap()
        };
        assert_eq!(value("Time Tracked Milli"), later.millis());
        assert!(value("Time Leader Milli") >= 5_000);
        assert!(value("Time Detached Milli") > 0);
        assert_eq!(
            value("Time Detached Milli") + value("Time Leader Milli"),
            value("Time Tracked Milli")
        );
        assert_eq!(value("Role Leader"), 1);
    }

    #[test]
    fn prefix_add_is_local_until_netdata_register() {
        let (mut n, now) = lone_leader();
        let rloc = n.rloc16();
        assert_eq!(run(&mut n, now, "prefix"), "");
        // The vectors' command (cli-node1.txt): Done, then netdata register.
        assert_eq!(
            run(&mut n, now, "prefix add 2001:cafe:cafe:cafe::/64 paros med"),
            ""
        );
        assert_eq!(
            run(&mut n, now, "prefix"),
            "2001:cafe:cafe:cafe::/64 paros med\r\n"
        );
        assert_eq!(
            run(&mut n, now, "netdata show"),
            "Prefixes:\r\nRoutes:\r\nServices:\r\nContexts:\r\nCommissioning:\r\n- - - -\r\n"
        );
        assert_eq!(run(&mut n, now, "netdata register"), "");
        let show = run(&mut n, now, "netdata show");
        assert!(
            show.starts_with(&std::format!(
                "Prefixes:\r\n2001:cafe:cafe:cafe::/64 paros med {rloc:04x}\r\nRoutes:\r\n"
            )),
            "{show}"
        );
        assert!(
            show.contains("Contexts:\r\n2001:cafe:cafe:cafe::/64 1 sc\r\n"),
            "{show}"
        );
        // The SLAAC address follows the registered prefix; border_router() lists it too.
        assert!(run(&mut n, now, "ipaddr").starts_with("2001:cafe:cafe:cafe:"));
        assert_eq!(n.border_routers().len(), 1);
        // Flags and preference in any order, as OpenThread parses them.
        assert_eq!(run(&mut n, now, "prefix add fd00:1:2:3::/64 low pos"), "");
        assert_eq!(
            run(&mut n, now, "prefix"),
            "2001:cafe:cafe:cafe::/64 paros med\r\nfd00:1:2:3::/64 pos low\r\n"
        );
        assert_eq!(run(&mut n, now, "prefix remove fd00:1:2:3::/64"), "");
        assert_eq!(run(&mut n, now, "prefix remove fd00:1:2:3::/64"), NOT_FOUND);
        assert_eq!(
            run(&mut n, now, "prefix remove 2001:cafe:cafe:cafe::/64"),
            ""
        );
        assert_eq!(run(&mut n, now, "netdata register"), "");
        assert!(run(&mut n, now, "netdata show").starts_with("Prefixes:\r\nRoutes:\r\n"));
        assert!(!run(&mut n, now, "ipaddr").starts_with("2001:"));
        for bad in [
            "prefix add",
            "prefix add 2001:cafe::",
            "prefix add 2001:cafe::/129",
            "prefix add zz::/64",
            "prefix add 2001:cafe::/64 pxq",
            "prefix add ff05::/64",
            "prefix remove",
            "prefix remove 2001::/64 extra",
            "prefix bogus",
            "netdata register now",
            "netdata",
        ] {
            assert_eq!(run(&mut n, now, bad), INVALID_ARGS, "{bad}");
        }
    }

    #[test]
    fn ipmaddr_routerrole_upgrade_threshold_jitter() {
        let (mut n, now) = lone_leader();
        // A leader (router) listens to the all-routers groups as well.
        assert_eq!(
            run(&mut n, now, "ipmaddr"),
            "ff33:40:fdde:ad00:beef:0:0:1\r\nff32:40:fdde:ad00:beef:0:0:1\r\nff02:0:0:0:0:0:0:2\r\nff03:0:0:0:0:0:0:2\r\nff02:0:0:0:0:0:0:1\r\nff03:0:0:0:0:0:0:1\r\n"
        );
        assert_eq!(run(&mut n, now, "routerrole"), "Enabled\r\n");
        assert_eq!(run(&mut n, now, "routerrole enable"), "");
        assert_eq!(run(&mut n, now, "routerrole maybe"), INVALID_ARGS);
        assert_eq!(run(&mut n, now, "routerupgradethreshold"), "16\r\n");
        assert_eq!(run(&mut n, now, "routerupgradethreshold 5"), "");
        assert_eq!(run(&mut n, now, "routerupgradethreshold"), "5\r\n");
        assert_eq!(n.mle().router_upgrade_threshold(), 5);
        for bad in [
            "routerupgradethreshold x",
            "routerupgradethreshold 0",
            "routerupgradethreshold 33",
            "routerupgradethreshold 5 5",
        ] {
            assert_eq!(run(&mut n, now, bad), INVALID_ARGS, "{bad}");
        }
        assert_eq!(run(&mut n, now, "routerselectionjitter 9"), "");
        assert_eq!(run(&mut n, now, "routerselectionjitter"), "9\r\n");
        assert_eq!(run(&mut n, now, "routerselectionjitter 9 9"), INVALID_ARGS);
        assert_eq!(run(&mut n, now, "routerselectionjitter 256"), INVALID_ARGS);
        // A leader that may no longer be a router gives its partition up.
        assert_eq!(run(&mut n, now, "routerrole disable"), "");
        assert_eq!(run(&mut n, now, "routerrole"), "Disabled\r\n");
        assert_eq!(n.role(), Role::Detached);
        assert_eq!(run(&mut n, now, "routerrole enable"), "");
        assert_eq!(run(&mut n, now, "routerrole"), "Enabled\r\n");
        // Every command help lists answers something other than InvalidCommand.
        for c in COMMANDS {
            if c != "ping" {
                assert_ne!(run(&mut n, now, c), INVALID_COMMAND, "{c}");
            }
        }
    }

    #[test]
    fn ping_statistics_lines_as_openthread() {
        let mut s = String::new();
        ping_statistics(&mut s, Some(crate::time::Duration::from_millis(10))).unwrap();
        // cli-line-node4.txt
        assert_eq!(s, "1 packets transmitted, 1 packets received. Packet loss = 0.0%. Round-trip min/avg/max = 10/10.000/10 ms.\r\n");
        s.clear();
        ping_statistics(&mut s, None).unwrap();
        assert_eq!(
            s,
            "1 packets transmitted, 0 packets received. Packet loss = 100.0%.\r\n"
        );
    }

    #[test]
    fn commands_need_a_running_node() {
        for c in [
            "ipmaddr",
            "prefix",
            "prefix add 2001::/64",
            "netdata register",
            "routerrole",
            "routerupgradethreshold",
        ] {
            let mut s = String::new();
            execute(None, Instant::ZERO, c, &mut s).unwrap();
            assert_eq!(s, INVALID_STATE, "{c}");
        }
    }

    #[test]
    fn ping_to_own_address_loops_back() {
        let (mut n, now) = lone_leader();
        let rloc = n.locator_address(n.rloc16());
        start_ping(&mut n, now, &std::format!("ping {rloc}"), 1).unwrap();
        let r = n.take_ping_reply().expect("a reply from ourselves");
        assert_eq!(r.from, rloc);
        assert_eq!(
            start_ping(&mut n, now, "ping fdde:ad00:beef:0:0:ff:fe00:abcd", 2),
            Err(NO_ROUTE)
        );
    }
}
