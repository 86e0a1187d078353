//! What the readers of knockd's and fwknop's files share when they tell the
//! user about a line: a [`Warning`] or a [`LineError`] at `path:line`, and
//! the did-you-mean hint for an unknown key ([`closest`]).

use std::fmt;
use std::path::PathBuf;

/// A line read but not used (accepted, yet worth telling), at `path:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: warning: {}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

/// An error on a line of a file: `path:line: kind`, or `path: kind` when
/// `line` is 0 (the error is about the whole file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {kind}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
pub struct LineError<K> {
    pub path: PathBuf,
    pub line: usize,
    pub kind: K,
}

/// The known key most like `typed` (Jaro-Winkler), if it scores above
/// `min_score`; the first of equal best scores wins.
pub fn closest<'k>(
    known: impl IntoIterator<Item = &'k str>,
    typed: &str,
    min_score: f64,
) -> Option<&'k str> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(k, typed), k))
        .filter(|(score, _)| *score > min_score)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// [`closest`] at fwknop's bar over its files' key tables: the plain
/// `keys` and the `(key, why)` tables of keys refused or allowed only off.
pub fn closest_fwknop_key(
    keys: &[&'static str],
    with_reason: &[&[(&'static str, &'static str)]],
    typed: &str,
) -> Option<&'static str> {
    let known = keys
        .iter()
        .copied()
        .chain(with_reason.iter().flat_map(|t| t.iter().map(|(k, _)| *k)));
    closest(known, typed, 0.85)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_picks_the_best_key_above_the_bar() {
        let known = ["SEQUENCE", "SEQ_TIMEOUT", "COMMAND"];
        assert_eq!(closest(known, "SEQUENSE", 0.85), Some("SEQUENCE"));
        assert_eq!(closest(known, "COMAND", 0.85), Some("COMMAND"));
        assert_eq!(closest(known, "INTERFACE", 0.85), None);
    }

    #[test]
    fn warning_reads_path_line_message() {
        let w = Warning {
            path: PathBuf::from("/etc/knockd.conf"),
            line: 7,
            message: "ignored".into(),
        };
        assert_eq!(w.to_string(), "/etc/knockd.conf:7: warning: ignored");
    }
}
