//! The simulated air (being written).
