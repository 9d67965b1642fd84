//! Fuzz target: the `aux_security_header` round trip of `pymesh_fuzz` (parse -> emit -> parse, never panic).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pymesh_fuzz::aux_security_header(data));
