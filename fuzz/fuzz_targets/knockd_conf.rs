#![no_main]
//! See fuzz/src/knockd_conf.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| knock_fuzz::knockd_conf::run(data));
