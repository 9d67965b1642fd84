//! `pymesh.cli(cmd)`: OpenThread's CLI for the commands Pymesh users ran, with OpenThread's
//! text (lines end in `\r\n`, no final `Done`, as Pycom returned it). Formats follow the CLI
//! logs in the vectors (`cli-*.txt`). Unknown commands give OpenThread's error line.

use core::fmt::{self, Write};

use crate::mle::{router_rloc16, Role};
use crate::node::Node;
use crate::time::Instant;

/// OpenThread's answer to a command it does not know.
pub const INVALID_COMMAND: &str = "Error 35: InvalidCommand\r\n";
/// OpenThread's answer when the arguments are wrong.
pub const INVALID_ARGS: &str = "Error 7: InvalidArgs\r\n";

/// The commands `help` lists (each implemented below).
pub const COMMANDS: [&str; 24] = [
    "channel",
    "child",
    "childtimeout",
    "counters",
    "extaddr",
    "extpanid",
    "help",
    "ipaddr",
    "leaderdata",
    "leaderweight",
    "masterkey",
    "mode",
    "neighbor",
    "networkkey",
    "netdata",
    "networkname",
    "panid",
    "partitionid",
    "ping",
    "rloc16",
    "router",
    "routerselectionjitter",
    "state",
    "version",
];

/// Runs `line` on `node` (`None`: the mesh is not running: OpenThread's state "disabled").
pub fn execute(
    mut node: Option<&mut Node>,
    now: Instant,
    line: &str,
    out: &mut dyn Write,
) -> fmt::Result {
    // Commands that change the node.
    let mut words = line.split_whitespace();
    if let (Some("routerselectionjitter"), Some(value), Some(n)) =
        (words.next(), words.next(), node.as_deref_mut())
    {
        return match value.parse::<u32>() {
            Ok(s) if (1..=255).contains(&s) => {
                n.mle_mut()
                    .set_router_selection_jitter(crate::time::Duration::from_secs(s as u64));
                Ok(())
            }
            _ => out.write_str(INVALID_ARGS),
        };
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
        (_, _, None) => write!(out, "Error 13: InvalidState\r\n"),
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
            None => write!(out, "Error 13: InvalidState\r\n"),
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
        ("routerselectionjitter", None, Some(n)) => write!(out, "{}\r\n", n.mle().router_selection_jitter().secs()),
        ("netdata", Some("show"), Some(n)) => netdata_show(n, out),
        ("counters", Some("mac"), Some(n)) => counters_mac(n, out),
        ("counters", Some("mle"), Some(n)) => counters_mle(n, out),
        _ => out.write_str(INVALID_ARGS),
    }
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

fn counters_mle(n: &Node, out: &mut dyn Write) -> fmt::Result {
    let c = &n.mle().counters;
    write!(
        out,
        "Role Disabled: {}\r\nRole Detached: {}\r\nRole Child: {}\r\nRole Router: {}\r\nRole Leader: {}\r\nAttach Attempts: {}\r\nPartition Id Changes: {}\r\nBetter Partition Attach Attempts: {}\r\nParent Changes: {}\r\n",
        c.role_disabled,
        c.role_detached,
        c.role_child,
        c.role_router,
        c.role_leader,
        c.attach_attempts,
        c.partition_id_changes,
        c.better_partition_attach_attempts,
        c.parent_changes
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
        .map_err(|_| "Error 23: NoRoute\r\n")
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
}
