#![no_main]
//! See fuzz/src/store_edits.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| knock_fuzz::store_edits::run(data));
