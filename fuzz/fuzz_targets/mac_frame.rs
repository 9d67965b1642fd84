//! Fuzz target: the `mac_frame` round trip of `pymesh_fuzz` (parse -> emit -> parse, never panic).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pymesh_fuzz::mac_frame(data));
