#![no_main]
//! See fuzz/src/detector.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| knock_fuzz::detector::run(data));
