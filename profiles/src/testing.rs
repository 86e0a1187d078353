//! Helpers of this crate's tests: values that are known to be valid.

#![allow(clippy::unwrap_used)]

use crate::options::{Host, Port};
use crate::sequence::Sequence;

pub fn seq(s: &str) -> Sequence {
    Sequence::parse(s).unwrap()
}

pub fn host(s: &str) -> Host {
    Host::parse(s).unwrap()
}

pub fn port(n: u16) -> Port {
    Port::new(n).unwrap()
}
