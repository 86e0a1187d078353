//! The key format of `fwknop --key-gen` (and `--key-gen-file`), which a
//! profile's `secret_cmd` prints and `knock --gen-keys` writes:
//!
//! ```text
//! KEY_BASE64: SlKsg/Emot0DmRMNGG85hb71jajSLUr86cFSFzfdMXM=
//! HMAC_KEY_BASE64: 9Ev3pHvwgeWpNADYHcCqCd+8bM53Co4mZQ1MGoJvLUVQ7WT6nI6GJxh92G/JDOxCB6k8WipWgYFVD+36Jc/f3w==
//! ```
//!
//! fwknop's own notes in its output (`[*] Creating initial rc file: ...`,
//! printed by `fwknop --key-gen` on a first run) are skipped.
//!
//! Read leniently so that the same lines copied out of an `access.conf` or
//! a `.fwknoprc` (`KEY_BASE64    ...`, no colon) work too: a name, then `:`,
//! `=` or blanks, then the value. Blank lines and `#` comments are skipped;
//! `KEY` and `HMAC_KEY` (passphrases, as in fwknop's files) are accepted.
//! Any other name is refused with its line number, and no message ever
//! quotes a value.

use zeroize::Zeroizing;

use crate::spa::{EncryptionKey, HmacKey, KeyError, SpaKeys};

/// What is wrong with key-gen text. `line` is 1-based; 0 means the whole text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyGenError {
    #[error("line {line}: {name}: {source}")]
    Key {
        line: usize,
        name: &'static str,
        #[source]
        source: KeyError,
    },
    #[error("line {line}: unknown key \"{name}\" (expected KEY_BASE64 or HMAC_KEY_BASE64)")]
    UnknownName { line: usize, name: String },
    #[error("line {line}: {name} has no value")]
    NoValue { line: usize, name: &'static str },
    #[error("line {line}: second {name} (the first is on line {first})")]
    Duplicate {
        line: usize,
        first: usize,
        name: &'static str,
    },
    #[error("no {name} line (expected `fwknop --key-gen` output)")]
    Missing { name: &'static str },
}

impl KeyGenError {
    /// The line at fault (1-based), or 0 for the whole text.
    pub fn line(&self) -> usize {
        match self {
            KeyGenError::Key { line, .. }
            | KeyGenError::UnknownName { line, .. }
            | KeyGenError::NoValue { line, .. }
            | KeyGenError::Duplicate { line, .. } => *line,
            KeyGenError::Missing { .. } => 0,
        }
    }
}

/// Puts the key `parse` reads from `line` in `slot`, unless an earlier line
/// already filled it (then `parse` is not called).
fn keep_first<K>(
    slot: &mut Option<(usize, K)>,
    line: usize,
    name: &'static str,
    parse: impl FnOnce() -> Result<K, KeyError>,
) -> Result<(), KeyGenError> {
    if let Some((first, _)) = slot {
        return Err(KeyGenError::Duplicate {
            line,
            first: *first,
            name,
        });
    }
    let key = parse().map_err(|source| KeyGenError::Key { line, name, source })?;
    *slot = Some((line, key));
    Ok(())
}

/// A value in `access.conf` or `.fwknoprc` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("bad {key} \"{value}\" (expected {expected})")]
    BadValue {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{key}: {source}")]
    Key {
        key: &'static str,
        #[source]
        source: KeyError,
    },
}

/// Reads both keys from `fwknop --key-gen` style text.
pub fn parse_key_gen(text: &str) -> Result<SpaKeys, KeyGenError> {
    let mut enc: Option<(usize, EncryptionKey)> = None;
    let mut hmac: Option<(usize, HmacKey)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with("[*]") || l.starts_with("[+]") {
            continue;
        }
        let end = l
            .find(|c: char| c == ':' || c == '=' || c.is_whitespace())
            .unwrap_or(l.len());
        let (name, rest) = l.split_at(end);
        let value = rest
            .trim_start()
            .strip_prefix([':', '='])
            .unwrap_or(rest)
            .trim();
        let upper = name.to_ascii_uppercase();
        let (canonical, is_hmac, base64) = match upper.as_str() {
            "KEY_BASE64" => ("KEY_BASE64", false, true),
            "KEY" => ("KEY", false, false),
            "HMAC_KEY_BASE64" => ("HMAC_KEY_BASE64", true, true),
            "HMAC_KEY" => ("HMAC_KEY", true, false),
            _ => {
                return Err(KeyGenError::UnknownName {
                    line,
                    name: name.to_string(),
                });
            }
        };
        if value.is_empty() {
            return Err(KeyGenError::NoValue {
                line,
                name: canonical,
            });
        }
        if is_hmac {
            let parse = if base64 {
                HmacKey::from_base64
            } else {
                HmacKey::from_passphrase
            };
            keep_first(&mut hmac, line, canonical, || parse(value))?;
        } else {
            let parse = if base64 {
                EncryptionKey::from_base64
            } else {
                EncryptionKey::from_passphrase
            };
            keep_first(&mut enc, line, canonical, || parse(value))?;
        }
    }
    let (_, encryption) = enc.ok_or(KeyGenError::Missing { name: "KEY_BASE64" })?;
    let (_, hmac) = hmac.ok_or(KeyGenError::Missing {
        name: "HMAC_KEY_BASE64",
    })?;
    Ok(SpaKeys { encryption, hmac })
}

/// The keys as `fwknop --key-gen` prints them (two lines, each ending in a newline).
pub fn format_key_gen(keys: &SpaKeys) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "KEY_BASE64: {}\nHMAC_KEY_BASE64: {}\n",
        keys.encryption.to_base64().as_str(),
        keys.hmac.to_base64().as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spa::KeyKind;

    const REAL: &str = include_str!("../testdata/spa/keys");
    const REAL_FILE: &str = include_str!("../testdata/spa/key-gen-file");

    #[test]
    fn reads_fwknop_key_gen_output_and_writes_it_back_unchanged() {
        for text in [REAL, REAL_FILE] {
            let keys = parse_key_gen(text).expect("real key-gen output");
            assert_eq!(keys.encryption.as_bytes().len(), 32);
            assert_eq!(keys.hmac.as_bytes().len(), 64);
            let key_lines: String = text
                .lines()
                .filter(|l| !l.starts_with("[*]"))
                .flat_map(|l| [l, "\n"])
                .collect();
            assert_eq!(format_key_gen(&keys).as_str(), key_lines);
        }
    }

    #[test]
    fn generated_keys_have_fwknops_sizes_and_format() {
        let keys = SpaKeys::generate().expect("random");
        let text = format_key_gen(&keys);
        // The same shape as the real output: names, lengths, padding.
        let shape = |t: &str| -> Vec<(String, usize)> {
            t.lines()
                .map(|l| {
                    let (n, v) = l.split_once(": ").expect("name: value");
                    (n.to_string(), v.len())
                })
                .collect()
        };
        assert_eq!(shape(&text), shape(REAL_FILE));
        assert_eq!(parse_key_gen(&text).expect("round trip"), keys);
        assert_ne!(SpaKeys::generate().expect("random"), keys);
    }

    #[test]
    fn access_conf_and_fwknoprc_lines_are_read_too() {
        let text = "# keys for vault\n\nKEY_BASE64      SlKsg/Emot0DmRMNGG85hb71jajSLUr86cFSFzfdMXM=\n\
                    hmac_key=secret hmac\n";
        let keys = parse_key_gen(text).expect("lenient");
        assert_eq!(keys.hmac.as_bytes(), b"secret hmac");
        assert_eq!(keys.encryption.as_bytes().len(), 32);
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "KEY_BASE64: AAAA\nGPG_KEY: x\n",
                2,
                "unknown key \"GPG_KEY\"",
            ),
            (
                "KEY_BASE64: AAAA\nKEY_BASE64: AAAA\n",
                2,
                "second KEY_BASE64",
            ),
            (
                "KEY_BASE64: not*base64!\n",
                1,
                "KEY_BASE64: encryption key is not base64",
            ),
            ("HMAC_KEY_BASE64:\n", 1, "HMAC_KEY_BASE64 has no value"),
            ("KEY_BASE64: AAAA\n", 0, "no HMAC_KEY_BASE64 line"),
            ("HMAC_KEY_BASE64: AAAA\n", 0, "no KEY_BASE64 line"),
        ];
        for (text, line, want) in cases {
            let err = parse_key_gen(text).expect_err(text);
            assert_eq!(err.line(), *line, "{text}");
            let msg = err.to_string();
            assert!(msg.contains(want), "{msg:?} should say {want:?}");
            assert!(!msg.contains("not*base64"), "{msg} quotes the value");
        }
        let long = format!(
            "KEY_BASE64: {}\nHMAC_KEY_BASE64: AAAA\n",
            data_encoding::BASE64.encode(&[7u8; 33])
        );
        assert_eq!(
            parse_key_gen(&long),
            Err(KeyGenError::Key {
                line: 1,
                name: "KEY_BASE64",
                source: KeyError::TooLong {
                    which: KeyKind::Encryption,
                    len: 33,
                    max: 32
                }
            })
        );
        assert!(matches!(
            parse_key_gen("KEY_BASE64 __CHANGEME__\nHMAC_KEY_BASE64 __CHANGEME__\n"),
            Err(KeyGenError::Key {
                line: 1,
                source: KeyError::Placeholder { .. },
                ..
            })
        ));
    }
}
