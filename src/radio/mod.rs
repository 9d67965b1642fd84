//! The radio as the mesh sees it, and the LoRa physical layer facts it depends on.
//!
//! - [`region`]: LoRa regions (frequency plans, default power) and parameter validation.
//! - [`airtime`]: time on air of a LoRa packet (Semtech AN1200.13).
//! - [`duty_cycle`]: per-sub-band duty-cycle budgets, enforced before every transmission.

pub mod region;
pub mod airtime;
pub mod duty_cycle;
