//! knock-server: a knockd-compatible port-knock daemon.
//!
//! The packet path is [`capture`] (pcap) → [`event::parse`] (etherparse, no
//! copy) → [`detector::Detector`] (pure, bounded, allocation-free), glued by
//! [`pipeline::Pipeline`]. What the detector reports goes over a bounded
//! channel to the worker thread ([`runner`]), which logs in knockd's words
//! and runs commands, with a timer for each pending `Stop_Command` and a
//! [`journal`] of them on disk. Rotating doors get the sequences of the
//! accepted time steps from [`rotation`], once per period. Whether packets
//! come from a live capture or a file is one [`source::Source`], chosen
//! before the pipeline and the worker are built. SPA doors (`SPA = yes`)
//! decide fwknop packets on the packet path too ([`spa_doors`]); what they
//! accept goes to the worker like an open.

pub mod app;
pub mod capture;
pub mod cli;
pub mod clock;
pub mod detector;
pub mod doors;
pub mod event;
pub mod files;
pub mod filter;
pub mod journal;
pub mod logger;
pub mod lookup;
pub mod one_time;
pub mod pipeline;
pub mod rotation;
pub mod runner;
pub mod source;
pub mod spa_doors;
pub mod sys;
