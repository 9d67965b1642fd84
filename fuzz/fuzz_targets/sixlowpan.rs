//! Fuzz target: the `sixlowpan` round trip of `pymesh_fuzz` (parse -> emit -> parse, never panic).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pymesh_fuzz::sixlowpan(data));
