//! Everything the knock tools share: knock sequences and TCP flag filters
//! ([`sequence`]), the profile file ([`profile`], [`store`]), knockd's
//! configuration format ([`knockd_conf`]), the sender ([`send`]), and
//! rotating sequences ([`rotate`]) with their secrets ([`secret`]), and
//! fwknop-compatible Single Packet Authorization: the packet format
//! ([`spa`]), the replay and clock check ([`spa_replay`]), and fwknop's
//! files: `--key-gen` output ([`fwknop_keys`]), fwknopd's `access.conf`
//! ([`fwknop_access`]) and the client's `.fwknoprc` ([`fwknoprc`]).
//!
//! The server uses this crate with `default-features = false`, so it pulls
//! in neither sockets for sending nor anything GUI- or keyring-related
//! (feature `keyring`).

#[macro_use]
mod words;

pub mod diagnostic;
pub mod field;
pub mod fwknop_access;
pub mod fwknop_keys;
pub mod fwknoprc;
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
pub mod spa;
pub mod spa_replay;
pub mod store;
#[cfg(test)]
mod testing;

pub use sequence::{Knock, Proto, Sequence, SequenceError, TcpFlags, TcpFlagsError};
