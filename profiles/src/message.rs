//! How the tools print an error: one line, the error then its causes.

use std::error::Error;

/// An error and its causes on one line, `a: b: c`, leaving out a cause whose
/// text the line already holds (an error that quotes its source would
/// otherwise say it twice). Works for `anyhow::Error` through `as_ref()`.
pub fn one_line(err: &(dyn Error + 'static)) -> String {
    let mut line = String::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("could not open eth9: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start")]
    struct Outer(#[source] Quoting);

    #[test]
    fn causes_follow_and_quoted_ones_are_left_out() {
        let err = Outer(Quoting(std::io::Error::other("no such device")));
        assert_eq!(
            one_line(&err),
            "cannot start: could not open eth9: no such device"
        );
        let plain = std::io::Error::other("disk full");
        assert_eq!(one_line(&plain), "disk full");
    }
}
