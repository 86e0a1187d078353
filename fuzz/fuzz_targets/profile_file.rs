#![no_main]
//! See fuzz/src/profile_file.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| knock_fuzz::profile_file::run(data));
