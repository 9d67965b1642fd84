//! The air for pymesh nodes, in one model used everywhere:
//!
//! - [`air`]: the LoRa radio/propagation model (airtime, path loss, RSSI/SNR, demodulation
//!   floor, collisions with capture, half-duplex).
//! - [`pcap`]: pcap files of the frames on the air, for Wireshark.
//! - [`des`]: the discrete-event simulator: many nodes in one process, in virtual time.
//! - [`scenario`]: topologies (grid, line, random) and observations (partitions, leaders).
//! - [`ot_medium`]: OpenThread's simulation medium as a radio, to share the air with `ot-cli-ftd`.
//! - [`ot_virtual`]: our nodes and OpenThread's virtual-time `ot-cli-ftd` on one 802.15.4
//!   medium in virtual time, this simulator dispatching OpenThread's events.
//! - [`ot_cli`]: the OpenThread CLI commands our nodes answer beyond `pymesh::cli` (`udp`).
//! - [`medium`]: the multi-process medium of the unix firmware: nodes in separate processes
//!   share the air over loopback multicast; each receiver applies [`air`] to what it hears.

pub mod air;
pub mod des;
pub mod medium;
pub mod ot_cli;
pub mod ot_medium;
pub mod ot_virtual;
pub mod pcap;
pub mod scenario;
pub mod sx127x_emulator;
