//! The bodies of the fuzz targets in `fuzz/fuzz_targets/`, one module per
//! target. Each takes the raw input and calls the crates' public entry
//! points only, so a rename inside knock-server or knock-profiles costs one
//! line here. Every invariant checked is an `assert!`: a failed one is a
//! crash libFuzzer reports and saves.
//!
//! `examples/seeds.rs` writes the seed corpora (fuzz/corpus/TARGET) with
//! the encoders here.

pub mod detector;
pub mod knockd_conf;
pub mod packets;
pub mod profile_file;
pub mod sequence;
pub mod store_edits;

/// A cursor over the fuzzer's bytes for the binary input formats: every
/// read succeeds, with zeros once the input is used up, so any byte string
/// is a valid input.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// What is left, consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// The text targets take UTF-8; other bytes are replaced, so no input is
/// wasted.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}
