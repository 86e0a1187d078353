//! Everything the knock tools share: knock sequences and TCP flag filters
//! ([`sequence`]), the profile file ([`profile`], [`store`]), knockd's
//! configuration format ([`knockd_conf`]) and the sender ([`send`]).
//!
//! The server uses this crate with `default-features = false`, so it pulls
//! in neither sockets for sending nor anything GUI- or keyring-related.

pub mod knockd_conf;
pub mod launch;
pub mod profile;
#[cfg(feature = "send")]
pub mod send;
pub mod sequence;
pub mod store;

pub use sequence::{Knock, Proto, Sequence, SequenceError, TcpFlags, TcpFlagsError};
