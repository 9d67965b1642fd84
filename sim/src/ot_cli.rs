//! The OpenThread CLI commands our nodes answer beyond [`pymesh::cli`], as `ot-cli-ftd`
//! prints them, so that one driver speaks to both kinds of node: OpenThread's UDP example
//! socket (`udp open|bind|send|close`, `cli_udp.cpp`) and the line it prints for a received
//! datagram. Used by `pymesh-ot-node` (real time) and [`crate::ot_virtual`] (virtual time).

use pymesh::net::SocketId;
use pymesh::node::Node;
use pymesh::time::Instant;
use pymesh::wire::Ipv6Address;

/// OpenThread's `udp` CLI commands on one socket: `udp open`, `udp bind <addr> <port>`,
/// `udp send <addr> <port> <text>`, `udp close`. Returns the answer (`Done` or an error).
pub fn udp_command(
    node: &mut Node,
    now: Instant,
    udp: &mut Option<SocketId>,
    line: &str,
) -> String {
    const DONE: &str = "Done\r\n";
    const INVALID_ARGS: &str = "Error 7: InvalidArgs\r\n";
    const INVALID_STATE: &str = "Error 13: InvalidState\r\n";
    let words: Vec<&str> = line.split_whitespace().collect();
    match (words.get(1).copied(), *udp) {
        (Some("open"), None) if words.len() == 2 => match node.socket_open() {
            Ok(id) => {
                *udp = Some(id);
                DONE.into()
            }
            Err(_) => "Error 3: NoBufs\r\n".into(),
        },
        (Some("open"), Some(_)) => "Error 24: Already\r\n".into(),
        (Some("bind"), Some(id)) if words.len() == 4 => {
            let (Some(addr), Ok(port)) = (Ipv6Address::parse(words[2]), words[3].parse::<u16>())
            else {
                return INVALID_ARGS.into();
            };
            match node.socket_bind(id, Some(addr), port) {
                Ok(()) => DONE.into(),
                Err(_) => INVALID_ARGS.into(),
            }
        }
        (Some("send"), Some(id)) if words.len() >= 5 => {
            let (Some(addr), Ok(port)) = (Ipv6Address::parse(words[2]), words[3].parse::<u16>())
            else {
                return INVALID_ARGS.into();
            };
            let text = words[4..].join(" ");
            match node.socket_sendto(now, id, &addr, port, text.as_bytes()) {
                Ok(_) => DONE.into(),
                Err(_) => "Error 4: NoRoute\r\n".into(),
            }
        }
        (Some("close"), Some(id)) if words.len() == 2 => {
            node.socket_close(id);
            *udp = None;
            DONE.into()
        }
        (Some("open" | "bind" | "send" | "close"), _) => INVALID_STATE.into(),
        _ => "Error 35: InvalidCommand\r\n".into(),
    }
}

/// The line OpenThread's CLI prints for a datagram its `udp` socket received
/// (`N bytes from ADDR PORT TEXT`, without the line end).
pub fn udp_received_line(payload: &[u8], from: &Ipv6Address, port: u16) -> String {
    format!(
        "{} bytes from {from} {port} {}",
        payload.len(),
        String::from_utf8_lossy(payload)
    )
}
