//! `pymesh`: Thread 1.1 (the protocol of Pycom's Pymesh) over LoRa, as a `no_std`, heap-free,
//! sans-IO library.
//!
//! The platform owns the clock, the radio and the entropy source; it passes `now` into
//! [`node::Node::poll`] and asks [`node::Node::poll_at`] when to call again. Nothing here reads
//! a clock, sleeps, or allocates. The only `unsafe` code is in [`ffi`], the C ABI used by the
//! MicroPython module.
#![no_std]
#![deny(unsafe_code)]
// Hosted targets link std only for its panic handler and test harness; library code uses
// `core` alone (the bare-metal builds in CI prove it).
#[cfg(not(target_os = "none"))]
extern crate std;

pub mod cli;
pub mod ffi;
pub mod lowpan;
pub mod mac;
pub mod mesh;
pub mod mle;
pub mod net;
pub mod netdata;
pub mod node;
pub mod radio;
pub mod rand;
pub mod time;
pub mod wire;
