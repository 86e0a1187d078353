//! The fwknop client's `~/.fwknoprc`, read as fwknop 2.6.10 reads it, for
//! `knock --import-fwknoprc`. `fwknop --save-rc-stanza` writes it:
//!
//! ```text
//! [default]
//!
//! [vault]
//! SPA_SERVER_PORT             62202
//! FW_TIMEOUT                  120
//! ALLOW_IP                    192.0.2.2
//! ACCESS                      tcp/22,udp/53
//! SPA_SERVER                  192.0.2.1
//! KEY_BASE64                  GBbjaoO2/z5oosfhqJ0IGQRSYZUHapVZdfXcAQMzY+k=
//! HMAC_KEY_BASE64             wKV11fLY2uCknzh3wTQKoIvfyLsUE+ty...==
//! USE_HMAC                    Y
//! ```
//!
//! A `[name]` line starts a stanza; `[default]` holds settings every named
//! stanza inherits unless it sets them itself ([`RcFile::resolve`]). A line
//! is a variable name (case-insensitive, a trailing `:` allowed), blanks
//! and a value, which, as in fwknop, ends at the first blank, tab, `;` or
//! `#` (a warning says so when something follows). Lines starting with `#`
//! and blank lines are skipped.
//!
//! Settings a knock profile can carry become typed fields of [`RcStanza`];
//! fwknop settings it cannot (GnuPG, NAT, `ALLOW_IP resolve`, spoofed
//! sources, other digests...) are listed in [`RcStanza::unsupported`] with
//! their line, so an importer can skip that stanza and say why; a switch of
//! such a feature set to `N` is simply accepted. An unknown name or a bad
//! value is an error at `file:line`. No message quotes a key.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use crate::fwknop_keys::ValueError;
use crate::spa::{EncryptionKey, HmacKey, PortList, SpaKeys, Username};

/// `ALLOW_IP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcAllowIp {
    /// `source`: the server uses the packet's source address (`-s`).
    Source,
    Addr(Ipv4Addr),
    /// A host name, resolved by the client (fwknop's `-a` takes one).
    Host(String),
}

/// A setting fwknop has that a knock profile cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcUnsupported {
    pub key: String,
    pub line: usize,
    pub why: &'static str,
}

impl fmt::Display for RcUnsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} ({})", self.line, self.key, self.why)
    }
}

/// One stanza's settings; `None` is "not set here".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcStanza {
    pub name: String,
    /// The line of its `[name]`.
    pub line: usize,
    /// `SPA_SERVER`: host name or address of the fwknopd server.
    pub spa_server: Option<String>,
    /// `SPA_SERVER_PORT` (fwknop's default is 62201).
    pub spa_server_port: Option<u16>,
    /// `SPA_SOURCE_PORT`.
    pub spa_source_port: Option<u16>,
    pub allow_ip: Option<RcAllowIp>,
    /// `ACCESS`.
    pub access: Option<PortList>,
    /// `KEY_BASE64` or `KEY`.
    pub encryption_key: Option<EncryptionKey>,
    /// `HMAC_KEY_BASE64` or `HMAC_KEY`.
    pub hmac_key: Option<HmacKey>,
    pub use_hmac: Option<bool>,
    /// `FW_TIMEOUT`, seconds (0: none).
    pub fw_timeout: Option<u32>,
    /// `SPOOF_USER`.
    pub spoof_user: Option<Username>,
    /// `TIME_OFFSET`, seconds added to the packet's timestamp.
    pub time_offset: Option<i64>,
    pub unsupported: Vec<RcUnsupported>,
}

impl RcStanza {
    /// Both keys, when the stanza (with its defaults) has them.
    pub fn keys(&self) -> Option<SpaKeys> {
        Some(SpaKeys {
            encryption: self.encryption_key.clone()?,
            hmac: self.hmac_key.clone()?,
        })
    }

    /// This stanza's settings over `defaults`.
    fn over(&self, defaults: &RcStanza) -> RcStanza {
        let mut unsupported = defaults.unsupported.clone();
        unsupported.extend(self.unsupported.iter().cloned());
        RcStanza {
            name: self.name.clone(),
            line: self.line,
            spa_server: self
                .spa_server
                .clone()
                .or_else(|| defaults.spa_server.clone()),
            spa_server_port: self.spa_server_port.or(defaults.spa_server_port),
            spa_source_port: self.spa_source_port.or(defaults.spa_source_port),
            allow_ip: self.allow_ip.clone().or_else(|| defaults.allow_ip.clone()),
            access: self.access.or(defaults.access),
            encryption_key: self
                .encryption_key
                .clone()
                .or_else(|| defaults.encryption_key.clone()),
            hmac_key: self.hmac_key.clone().or_else(|| defaults.hmac_key.clone()),
            use_hmac: self.use_hmac.or(defaults.use_hmac),
            fw_timeout: self.fw_timeout.or(defaults.fw_timeout),
            spoof_user: self.spoof_user.or(defaults.spoof_user),
            time_offset: self.time_offset.or(defaults.time_offset),
            unsupported,
        }
    }
}

/// A line read but not used, as fwknop would not use it either.
pub use crate::diagnostic::Warning as RcWarning;

/// What is wrong, without the place (see [`RcError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RcErrorKind {
    #[error("unknown .fwknoprc variable \"{key}\"{}", hint.map(|h| format!(" (did you mean \"{h}\"?)")).unwrap_or_default())]
    UnknownKey {
        key: String,
        hint: Option<&'static str>,
    },
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("second [{name}] stanza (the first is on line {first})")]
    DuplicateStanza { name: String, first: usize },
    #[error("cannot read it: {message}")]
    Read { message: String },
}

/// A `.fwknoprc` error: `path:line: what` (line 0: the whole file).
pub type RcError = crate::diagnostic::LineError<RcErrorKind>;

/// A parsed `.fwknoprc`: its stanzas in file order, `[default]` included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcFile {
    pub stanzas: Vec<RcStanza>,
    pub warnings: Vec<RcWarning>,
}

/// The name of the stanza every other one inherits from.
pub const DEFAULT_STANZA: &str = "default";

impl RcFile {
    pub fn read(path: &Path) -> Result<RcFile, RcError> {
        let text = std::fs::read_to_string(path).map_err(|e| RcError {
            path: path.to_path_buf(),
            line: 0,
            kind: RcErrorKind::Read {
                message: e.to_string(),
            },
        })?;
        Self::parse(&text, path)
    }

    /// Parses `.fwknoprc` text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &Path) -> Result<RcFile, RcError> {
        let mut file = RcFile {
            stanzas: Vec::new(),
            warnings: Vec::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[')
                && let Some((name, _)) = rest.split_once(']')
            {
                if let Some(first) = file.stanzas.iter().find(|s| s.name == name) {
                    return Err(RcError {
                        path: origin.to_path_buf(),
                        line: n,
                        kind: RcErrorKind::DuplicateStanza {
                            name: name.to_string(),
                            first: first.line,
                        },
                    });
                }
                file.stanzas.push(RcStanza {
                    name: name.to_string(),
                    line: n,
                    ..RcStanza::default()
                });
                continue;
            }
            let mut warn = |message: String| {
                file.warnings.push(RcWarning {
                    path: origin.to_path_buf(),
                    line: n,
                    message,
                })
            };
            let (name, rest) = line
                .split_once(|c: char| c.is_whitespace())
                .unwrap_or((line, ""));
            let name = name.rsplit_once(':').map_or(name, |(n, _)| n);
            let rest = rest.trim_start();
            let end = rest.find([' ', '\t', ';', '#']).unwrap_or(rest.len());
            let (value, after) = rest.split_at(end);
            let upper = name.to_ascii_uppercase();
            if value.is_empty() {
                warn(format!("{name} has no value; ignored"));
                continue;
            }
            if !after.trim().is_empty() && !after.trim_start().starts_with(['#', ';']) {
                warn(format!(
                    "{upper}: the value ends at the first blank, as in fwknop; the rest of the line is ignored"
                ));
            }
            let Some(stanza) = file.stanzas.last_mut() else {
                warn(format!("{name} before the first [stanza]; ignored"));
                continue;
            };
            set(stanza, &upper, name, value, n).map_err(|kind| RcError {
                path: origin.to_path_buf(),
                line: n,
                kind,
            })?;
        }
        Ok(file)
    }

    pub fn stanza(&self, name: &str) -> Option<&RcStanza> {
        self.stanzas.iter().find(|s| s.name == name)
    }

    /// The named stanzas (not `[default]`), in file order.
    pub fn named(&self) -> impl Iterator<Item = &RcStanza> + '_ {
        self.stanzas.iter().filter(|s| s.name != DEFAULT_STANZA)
    }

    /// A stanza with `[default]` under it, as fwknop's `-n NAME` sees it.
    pub fn resolve(&self, name: &str) -> Option<RcStanza> {
        let stanza = self.stanza(name)?;
        Some(match self.stanza(DEFAULT_STANZA) {
            Some(d) if name != DEFAULT_STANZA => stanza.over(d),
            _ => stanza.clone(),
        })
    }
}

/// fwknop settings a profile cannot carry, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("USE_GPG_AGENT", "GnuPG-encrypted SPA is not supported"),
    ("GPG_RECIPIENT", "GnuPG-encrypted SPA is not supported"),
    ("GPG_SIGNER", "GnuPG-encrypted SPA is not supported"),
    ("GPG_HOMEDIR", "GnuPG-encrypted SPA is not supported"),
    ("GPG_EXE", "GnuPG-encrypted SPA is not supported"),
    ("GPG_SIGNING_PW", "GnuPG-encrypted SPA is not supported"),
    (
        "GPG_SIGNING_PW_BASE64",
        "GnuPG-encrypted SPA is not supported",
    ),
    (
        "SPOOF_SOURCE_IP",
        "spoofed source addresses are not supported",
    ),
    ("NAT_ACCESS", "NAT access is not supported"),
    ("NAT_PORT", "NAT access is not supported"),
    (
        "KEY_FILE",
        "keys from a file: put them in the keyring or a secret_cmd",
    ),
    (
        "HMAC_KEY_FILE",
        "keys from a file: put them in the keyring or a secret_cmd",
    ),
    (
        "HTTP_USER_AGENT",
        "SPA over HTTP and address resolution are not supported",
    ),
    (
        "RESOLVE_URL",
        "resolving the external address is not supported",
    ),
    (
        "WGET_CMD",
        "resolving the external address is not supported",
    ),
];

/// Switches of features a profile lacks: fine when off.
const OFF_ONLY: &[(&str, &str)] = &[
    ("USE_GPG", "GnuPG-encrypted SPA is not supported"),
    ("RAND_PORT", "a random destination port is not supported"),
    ("NAT_LOCAL", "NAT access is not supported"),
    ("NAT_RAND_PORT", "NAT access is not supported"),
    (
        "RESOLVE_IP_HTTP",
        "resolving the external address is not supported",
    ),
    (
        "RESOLVE_IP_HTTPS",
        "resolving the external address is not supported",
    ),
    (
        "RESOLVE_HTTP_ONLY",
        "resolving the external address is not supported",
    ),
    (
        "USE_WGET_USER_AGENT",
        "resolving the external address is not supported",
    ),
    ("SERVER_RESOLVE_IPV4", "use the profile's family = \"ipv4\""),
];

const SUPPORTED: &[&str] = &[
    "SPA_SERVER",
    "SPA_SERVER_PORT",
    "SPA_SERVER_PROTO",
    "SPA_SOURCE_PORT",
    "ALLOW_IP",
    "ACCESS",
    "KEY",
    "KEY_BASE64",
    "HMAC_KEY",
    "HMAC_KEY_BASE64",
    "USE_HMAC",
    "HMAC_DIGEST_TYPE",
    "DIGEST_TYPE",
    "ENCRYPTION_MODE",
    "FW_TIMEOUT",
    "SPOOF_USER",
    "TIME_OFFSET",
    "VERBOSE",
];

/// The .fwknoprc variable most like `upper`, for a did-you-mean hint.
fn did_you_mean(upper: &str) -> Option<&'static str> {
    crate::diagnostic::closest_fwknop_key(SUPPORTED, &[OFF_ONLY, UNSUPPORTED], upper)
}

fn set(
    s: &mut RcStanza,
    upper: &str,
    name: &str,
    value: &str,
    line: usize,
) -> Result<(), RcErrorKind> {
    let unsupported = |s: &mut RcStanza, key: String, why| {
        s.unsupported.push(RcUnsupported { key, line, why });
    };
    if let Some((k, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == upper) {
        unsupported(s, (*k).to_string(), why);
        return Ok(());
    }
    if let Some((k, why)) = OFF_ONLY.iter().find(|(k, _)| *k == upper) {
        if parse_bool(k, value)? {
            unsupported(s, format!("{k} Y"), why);
        }
        return Ok(());
    }
    let Some(&key) = SUPPORTED.iter().find(|k| **k == upper) else {
        return Err(RcErrorKind::UnknownKey {
            key: name.to_string(),
            hint: did_you_mean(upper),
        });
    };
    let bad = |expected| {
        RcErrorKind::from(ValueError::BadValue {
            key,
            value: value.to_string(),
            expected,
        })
    };
    let key_err = |source| RcErrorKind::from(ValueError::Key { key, source });
    match key {
        "SPA_SERVER" => s.spa_server = Some(value.to_string()),
        "SPA_SERVER_PORT" | "SPA_SOURCE_PORT" => {
            let port = value
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0 && value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad("a port 1-65535"))?;
            if key == "SPA_SERVER_PORT" {
                s.spa_server_port = Some(port);
            } else {
                s.spa_source_port = Some(port);
            }
        }
        "SPA_SERVER_PROTO" => {
            if !value.eq_ignore_ascii_case("udp") {
                unsupported(
                    s,
                    format!("SPA_SERVER_PROTO {value}"),
                    "SPA is sent over UDP only",
                );
            }
        }
        "ALLOW_IP" => {
            s.allow_ip = Some(if value.eq_ignore_ascii_case("source") {
                RcAllowIp::Source
            } else if value.eq_ignore_ascii_case("resolve") {
                unsupported(
                    s,
                    "ALLOW_IP resolve".to_string(),
                    "resolving the external address is not supported; use \"source\" or an address",
                );
                return Ok(());
            } else if let Ok(a) = value.parse::<Ipv4Addr>() {
                RcAllowIp::Addr(a)
            } else if value.contains(':') {
                return Err(bad("source, an IPv4 address or a host name"));
            } else {
                RcAllowIp::Host(value.to_string())
            });
        }
        "ACCESS" => {
            s.access = Some(
                value
                    .parse::<PortList>()
                    .map_err(|_| bad("proto/port entries like tcp/22,udp/53"))?,
            )
        }
        "KEY" => s.encryption_key = Some(EncryptionKey::from_passphrase(value).map_err(key_err)?),
        "KEY_BASE64" => {
            s.encryption_key = Some(EncryptionKey::from_base64(value).map_err(key_err)?)
        }
        "HMAC_KEY" => s.hmac_key = Some(HmacKey::from_passphrase(value).map_err(key_err)?),
        "HMAC_KEY_BASE64" => s.hmac_key = Some(HmacKey::from_base64(value).map_err(key_err)?),
        "USE_HMAC" => {
            let on = parse_bool(key, value)?;
            if !on {
                unsupported(
                    s,
                    "USE_HMAC N".to_string(),
                    "SPA without an HMAC is not supported",
                );
            }
            s.use_hmac = Some(on);
        }
        "HMAC_DIGEST_TYPE" | "DIGEST_TYPE" => {
            if !value.eq_ignore_ascii_case("sha256") {
                unsupported(
                    s,
                    format!("{key} {value}"),
                    "only SHA256 (fwknop's default) is supported",
                );
            }
        }
        "ENCRYPTION_MODE" => {
            if !value.eq_ignore_ascii_case("cbc") {
                unsupported(
                    s,
                    format!("{key} {value}"),
                    "only CBC (fwknop's default) is supported",
                );
            }
        }
        "FW_TIMEOUT" => {
            let t = value
                .parse::<u32>()
                .ok()
                .filter(|t| {
                    *t <= crate::spa::MAX_CLIENT_TIMEOUT
                        && value.bytes().all(|b| b.is_ascii_digit())
                })
                .ok_or_else(|| bad("seconds, 0-65536"))?;
            s.fw_timeout = Some(t);
        }
        "SPOOF_USER" => {
            s.spoof_user = Some(
                value
                    .parse::<Username>()
                    .map_err(|_| bad("a user name fwknop allows"))?,
            )
        }
        "TIME_OFFSET" => {
            s.time_offset =
                Some(parse_time_offset(value).ok_or_else(|| bad("[-]N[m|h|d], e.g. -5m"))?)
        }
        "VERBOSE" => {}
        _ => unreachable!("every supported key is handled above"),
    }
    Ok(())
}

/// fwknop reads Y (any case) as yes; we take Y.../N... and refuse the rest.
fn parse_bool(key: &'static str, value: &str) -> Result<bool, RcErrorKind> {
    match value.chars().next().map(|c| c.to_ascii_uppercase()) {
        Some('Y') => Ok(true),
        Some('N') => Ok(false),
        _ => Err(ValueError::BadValue {
            key,
            value: value.to_string(),
            expected: "Y or N",
        }
        .into()),
    }
}

/// `TIME_OFFSET`: `[-]DIGITS[m|h|d]` (seconds by default), at most 65536 units.
fn parse_time_offset(value: &str) -> Option<i64> {
    let (sign, rest) = match value.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, value.strip_prefix('+').unwrap_or(value)),
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(end);
    let n: i64 = digits.parse().ok().filter(|n| *n <= 65_536)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    Some(sign * n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fwknop_keys::parse_key_gen;

    const REAL: &str = include_str!("../testdata/spa/fwknoprc");
    const KEYS: &str = include_str!("../testdata/spa/keys");

    fn parse(text: &str) -> Result<RcFile, RcError> {
        RcFile::parse(text, Path::new("/home/alice/.fwknoprc"))
    }

    #[test]
    fn reads_what_fwknop_save_rc_stanza_wrote() {
        let rc = parse(REAL).expect("parses");
        assert!(rc.warnings.is_empty(), "{:?}", rc.warnings);
        let names: Vec<&str> = rc.stanzas.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["default", "vault", "web"]);
        let named: Vec<&str> = rc.named().map(|s| s.name.as_str()).collect();
        assert_eq!(named, ["vault", "web"]);

        let vault = rc.resolve("vault").expect("vault");
        assert_eq!(vault.spa_server.as_deref(), Some("192.0.2.1"));
        assert_eq!(vault.spa_server_port, Some(62202));
        assert_eq!(vault.fw_timeout, Some(120));
        assert_eq!(
            vault.allow_ip,
            Some(RcAllowIp::Addr(Ipv4Addr::new(192, 0, 2, 2)))
        );
        assert_eq!(
            vault.access.map(|a| a.to_string()).as_deref(),
            Some("tcp/22,udp/53")
        );
        assert_eq!(
            vault.spoof_user.map(|u| u.to_string()).as_deref(),
            Some("alice")
        );
        assert_eq!(vault.use_hmac, Some(true));
        assert_eq!(vault.keys(), Some(parse_key_gen(KEYS).expect("keys")));
        assert!(vault.unsupported.is_empty());

        let web = rc.resolve("web").expect("web");
        assert_eq!(
            web.access.map(|a| a.to_string()).as_deref(),
            Some("tcp/443")
        );
        assert_eq!(web.spa_server_port, None, "fwknop's default applies");
        let keys = web.keys().expect("generated keys");
        assert_eq!(keys.encryption.as_bytes().len(), 32);
        assert_eq!(keys.hmac.as_bytes().len(), 64);
        assert_ne!(Some(keys), vault.keys());
        assert!(rc.resolve("nope").is_none());
    }

    #[test]
    fn named_stanzas_inherit_default_settings() {
        let text = "[default]\nSPA_SERVER_PORT 62299\nSPOOF_USER bob\nUSE_GPG N\n\n\
                    [a]\nSPA_SERVER 192.0.2.1\nSPOOF_USER carol\n[b]\nSPA_SERVER 192.0.2.9\n";
        let rc = parse(text).expect("parses");
        let a = rc.resolve("a").expect("a");
        let b = rc.resolve("b").expect("b");
        assert_eq!(
            (a.spa_server_port, b.spa_server_port),
            (Some(62299), Some(62299))
        );
        assert_eq!(
            a.spoof_user.map(|u| u.to_string()).as_deref(),
            Some("carol")
        );
        assert_eq!(b.spoof_user.map(|u| u.to_string()).as_deref(), Some("bob"));
        assert_eq!(b.spa_server.as_deref(), Some("192.0.2.9"));
        assert_eq!(rc.resolve("default").expect("d").spa_server, None);
    }

    #[test]
    fn settings_a_profile_cannot_carry_are_listed_with_their_line() {
        let text = "[default]\nUSE_GPG Y\n[g]\nGPG_RECIPIENT 1234ABCD\nALLOW_IP resolve\n\
                    NAT_ACCESS 192.0.2.9,22\nDIGEST_TYPE sha512\nSPA_SERVER_PROTO tcp\nRAND_PORT N\nUSE_HMAC N\n";
        let rc = parse(text).expect("parses");
        let g = rc.resolve("g").expect("g");
        let listed: Vec<String> = g.unsupported.iter().map(ToString::to_string).collect();
        assert_eq!(
            listed,
            [
                "line 2: USE_GPG Y (GnuPG-encrypted SPA is not supported)",
                "line 4: GPG_RECIPIENT (GnuPG-encrypted SPA is not supported)",
                "line 5: ALLOW_IP resolve (resolving the external address is not supported; use \"source\" or an address)",
                "line 6: NAT_ACCESS (NAT access is not supported)",
                "line 7: DIGEST_TYPE sha512 (only SHA256 (fwknop's default) is supported)",
                "line 8: SPA_SERVER_PROTO tcp (SPA is sent over UDP only)",
                "line 10: USE_HMAC N (SPA without an HMAC is not supported)",
            ]
        );
    }

    #[test]
    fn values_end_at_the_first_blank_as_in_fwknop() {
        let text = "[s]\nKEY correct horse battery\nHMAC_KEY mac;comment\nALLOW_IP source # as -s\nTIME_OFFSET -5m\n";
        let rc = parse(text).expect("parses");
        let s = rc.resolve("s").expect("s");
        assert_eq!(
            s.encryption_key.as_ref().map(|k| k.as_bytes()),
            Some(&b"correct"[..])
        );
        assert_eq!(s.hmac_key.as_ref().map(|k| k.as_bytes()), Some(&b"mac"[..]));
        assert_eq!(s.allow_ip, Some(RcAllowIp::Source));
        assert_eq!(s.time_offset, Some(-300));
        let w: Vec<String> = rc.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            [
                "/home/alice/.fwknoprc:2: warning: KEY: the value ends at the first blank, as in fwknop; the rest of the line is ignored"
            ]
        );
        assert!(!w[0].contains("horse"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[a]\nSPA_SERVR 192.0.2.1\n",
                2,
                "unknown .fwknoprc variable \"SPA_SERVR\" (did you mean \"SPA_SERVER\"?)",
            ),
            (
                "[a]\nSPA_SERVER_PORT 70000\n",
                2,
                "bad SPA_SERVER_PORT \"70000\" (expected a port 1-65535)",
            ),
            (
                "[a]\nACCESS tcp/22,sctp/9\n",
                2,
                "bad ACCESS \"tcp/22,sctp/9\"",
            ),
            ("[a]\nFW_TIMEOUT 70000\n", 2, "bad FW_TIMEOUT"),
            (
                "[a]\nUSE_HMAC maybe\n",
                2,
                "bad USE_HMAC \"maybe\" (expected Y or N)",
            ),
            ("[a]\nSPOOF_USER a/b\n", 2, "bad SPOOF_USER"),
            ("[a]\nALLOW_IP 2001:db8::2\n", 2, "bad ALLOW_IP"),
            ("[a]\nTIME_OFFSET 5w\n", 2, "bad TIME_OFFSET"),
            (
                "[a]\n[b]\n[a]\n",
                3,
                "second [a] stanza (the first is on line 1)",
            ),
            (
                "[a]\nKEY_BASE64 secret*value\n",
                2,
                "KEY_BASE64: encryption key is not base64",
            ),
        ];
        for (text, line, want) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, *line, "{e}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("/home/alice/.fwknoprc:{line}: ")),
                "{msg}"
            );
            assert!(msg.contains(want), "{msg:?} should say {want:?}");
            assert!(!msg.contains("secret*value"), "{msg}");
        }
    }

    #[test]
    fn lines_outside_a_stanza_are_ignored_with_a_warning() {
        let rc = parse("SPA_SERVER 192.0.2.1\n[a]\nACCESS\n").expect("parses");
        let w: Vec<String> = rc.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains(":1: warning: SPA_SERVER before the first [stanza]"),
            "{w:?}"
        );
        assert!(w[1].contains(":3: warning: ACCESS has no value"), "{w:?}");
    }

    #[test]
    fn time_offsets_like_fwknop() {
        assert_eq!(parse_time_offset("30"), Some(30));
        assert_eq!(parse_time_offset("-2h"), Some(-7200));
        assert_eq!(parse_time_offset("1D"), Some(86_400));
        assert_eq!(parse_time_offset("m"), None);
        assert_eq!(parse_time_offset("99999"), None);
    }

    #[test]
    fn reads_a_file_from_disk() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(".fwknoprc");
        std::fs::write(&path, REAL).expect("write");
        assert_eq!(RcFile::read(&path).expect("reads").stanzas.len(), 3);
        let e = RcFile::read(&dir.path().join("missing")).expect_err("missing");
        assert_eq!(e.line, 0);
    }
}
