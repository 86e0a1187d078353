#![no_main]
//! See fuzz/src/packets.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| knock_fuzz::packets::run(data));
