//! Everything the knock tools share: knock sequences and TCP flag filters
//! ([`sequence`]), the profile file ([`profile`], [`store`]), knockd's
//! configuration format ([`knockd_conf`]), the sender ([`send`]), and
//! rotating sequences ([`rotate`]) with their secrets ([`secret`]).
//!
//! The server uses this crate with `default-features = false`, so it pulls
//! in neither sockets for sending nor anything GUI- or keyring-related
//! (feature `keyring`).

pub mod field;
pub mod knockd_conf;
pub mod launch;
pub mod message;
pub mod options;
pub mod profile;
#[cfg(feature = "send")]
pub mod resolve;
pub mod rotate;
pub mod secret;
#[cfg(feature = "send")]
pub mod send;
pub mod sequence;
pub mod store;

pub use sequence::{Knock, Proto, Sequence, SequenceError, TcpFlags, TcpFlagsError};
