//! The `knock` command: its arguments ([`cli`]), what each mode does
//! ([`actions`]), rotating profiles' secrets on the command line
//! ([`secrets`]) and exit codes ([`exit`]). The binary only parses the
//! arguments, calls [`actions::run`] and maps the result to an exit code.

pub mod actions;
pub mod cli;
pub mod exit;
pub mod secrets;
