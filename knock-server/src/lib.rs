//! knock-server: a knockd-compatible port-knock daemon.
//!
//! The packet path is `capture` (pcap) → [`event::parse`] (etherparse, no
//! copy) → [`detector::Detector`] (pure, bounded, allocation-free). What the
//! detector reports goes over a bounded channel to the worker thread
//! ([`runner`]), which logs in knockd's words and runs commands, with a
//! timer for each pending `Stop_Command`.

pub mod detector;
pub mod event;
