//! How the tools print an error: one line, the error then its causes.
//!
//! The convention across the suite: an error's message carries its cause
//! (`cannot read profiles.toml: Permission denied`), and then it has no
//! `source()`; or it says only its own part and returns the cause as
//! `source()` (an `anyhow` context). Never both, so the chain below prints
//! each cause once.

use std::error::Error;

/// An error and its causes on one line, `a: b: c`. Works for
/// `anyhow::Error` through `as_ref()`.
pub fn one_line(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        line.push_str(": ");
        line.push_str(&e.to_string());
        cause = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Says its cause in its message; so no `source()`.
    #[derive(Debug, thiserror::Error)]
    #[error("could not open eth9: {0}")]
    struct Quoting(std::io::Error);

    /// Returns its cause as `source()`; so not in its message.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot start")]
    struct Outer(#[source] Quoting);

    #[test]
    fn each_cause_follows_once() {
        let err = Outer(Quoting(std::io::Error::other("no such device")));
        assert_eq!(
            one_line(&err),
            "cannot start: could not open eth9: no such device"
        );
        let plain = std::io::Error::other("disk full");
        assert_eq!(one_line(&plain), "disk full");
    }
}
