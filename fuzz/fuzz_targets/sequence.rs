#![no_main]
//! See fuzz/src/sequence.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| knock_fuzz::sequence::run(data));
