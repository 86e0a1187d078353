//! fwknopd's `access.conf`, read as fwknopd 2.6.10 reads it, for a server
//! door with `SPA = yes` and `Access_File = /etc/fwknop/access.conf`.
//!
//! ```text
//! SOURCE              192.0.2.0/24, 198.51.100.7
//! OPEN_PORTS          tcp/22, udp/1194
//! KEY_BASE64          SlKsg/Emot0DmRMNGG85hb71jajSLUr86cFSFzfdMXM=
//! HMAC_KEY_BASE64     9Ev3pHvwgeWpNADYHcCqCd+8bM53Co4mZQ1M...==
//! FW_ACCESS_TIMEOUT   30
//! REQUIRE_SOURCE_ADDRESS  Y
//! ```
//!
//! Each `SOURCE` line starts a stanza; the lines after it, up to the next
//! `SOURCE`, belong to it. A line is a variable name (case-insensitive, a
//! trailing `:` allowed), blanks, and a value up to the end of the line or a
//! `;`. Lines whose first character is `#` or `;` are comments (we also
//! take `#` after leading blanks as one). `%include FILE` and
//! `%include_folder DIR` (its `*.conf` files, in name order) read more
//! stanzas, as in fwknopd; each file's lines belong to that file's stanzas.
//!
//! Supported keys: `SOURCE`, `DESTINATION`, `OPEN_PORTS`,
//! `RESTRICT_PORTS`, `KEY`, `KEY_BASE64`, `HMAC_KEY`, `HMAC_KEY_BASE64`,
//! `HMAC_DIGEST_TYPE` (SHA256 only), `ENCRYPTION_MODE` (CBC only),
//! `FW_ACCESS_TIMEOUT`, `MAX_FW_TIMEOUT`, `REQUIRE_USERNAME`, `REQUIRE_SOURCE_ADDRESS` (and
//! its synonym `REQUIRE_SOURCE`), `ACCESS_EXPIRE_EPOCH`; and, set to `N`,
//! the switches of features we do not have (`ENABLE_CMD_EXEC`, ...).
//! Every other fwknopd key (GnuPG, NAT, command execution, command cycles,
//! `ACCESS_EXPIRE`) is refused by name with `file:line`, as is a key
//! fwknopd does not know, with a "did you mean" hint: a file that asks for
//! more than we do is not silently half-honoured. Unlike fwknopd, a stanza
//! must have an HMAC key: we accept only authenticated packets.
//!
//! Where fwknopd ignores a line (a line before the first `SOURCE`, a name
//! with no value) or lets a later line win (a key given twice in a
//! stanza), so do we, with a [`Warning`].
//!
//! Addresses are IPv4, as in fwknopd 2.6.10; `ANY` matches every source,
//! IPv6 ones included. Error messages never quote a key's value.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::fwknop_keys::ValueError;
use crate::spa::{
    self, AllowIp, ClientTimeout, EncryptionKey, HmacKey, PortList, ProtoPort, SpaKeys,
};

/// fwknopd's `DEF_FW_ACCESS_TIMEOUT`, in seconds.
pub const DEFAULT_FW_ACCESS_TIMEOUT: u32 = 30;
/// fwknopd's default `MAX_FW_TIMEOUT`: the longest client timeout honoured, in seconds.
pub const DEFAULT_MAX_FW_TIMEOUT: u32 = 300;
/// How deep `%include` may nest (fwknopd has no limit; a loop would not end).
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// An IPv4 network: `192.0.2.0/24`, or one address (`/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) & self.mask()) == (u32::from(self.addr) & self.mask())
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `SOURCE` / `DESTINATION`: `ANY`, or a list of networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrList {
    Any,
    Nets(Vec<Ipv4Net>),
}

impl AddrList {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (AddrList::Any, _) => true,
            (AddrList::Nets(nets), IpAddr::V4(v4)) => nets.iter().any(|n| n.contains(v4)),
            (AddrList::Nets(nets), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => nets.iter().any(|n| n.contains(v4)),
                None => false,
            },
        }
    }
}

/// Why a request's ports are refused by a stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortRefusal {
    #[error("{0} is in RESTRICT_PORTS")]
    Restricted(ProtoPort),
    #[error("{0} is not in OPEN_PORTS")]
    NotOpen(ProtoPort),
}

/// Why a request's address is refused by a stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressRefusal {
    #[error("the packet asks for its source address (0.0.0.0) but REQUIRE_SOURCE_ADDRESS is set")]
    SourceRequired,
}

/// One `SOURCE` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// The file and line of its `SOURCE`.
    pub path: PathBuf,
    pub line: usize,
    pub source: AddrList,
    /// `DESTINATION`; `None` is any destination.
    pub destination: Option<AddrList>,
    /// `OPEN_PORTS`; `None` honours any requested port not restricted.
    pub open_ports: Option<Vec<ProtoPort>>,
    /// `RESTRICT_PORTS`: never opened.
    pub restrict_ports: Vec<ProtoPort>,
    pub keys: SpaKeys,
    /// `FW_ACCESS_TIMEOUT`, seconds; `None` when the stanza does not set it
    /// (or sets it below 1), and fwknopd uses [`DEFAULT_FW_ACCESS_TIMEOUT`].
    pub fw_access_timeout: Option<u32>,
    /// `MAX_FW_TIMEOUT`, seconds (default [`DEFAULT_MAX_FW_TIMEOUT`]): a
    /// client timeout above it is cut to it.
    pub max_fw_timeout: u32,
    /// `REQUIRE_USERNAME`.
    pub require_username: Option<String>,
    /// `REQUIRE_SOURCE_ADDRESS`: refuse requests for `0.0.0.0`.
    pub require_source_address: bool,
    /// `ACCESS_EXPIRE_EPOCH`: the stanza is ignored after this time.
    pub access_expire: Option<u64>,
}

impl Stanza {
    /// Does this stanza apply to a packet from `source`?
    pub fn matches_source(&self, source: IpAddr) -> bool {
        self.source.contains(source)
    }

    /// Does it apply to a packet sent to `destination`?
    pub fn matches_destination(&self, destination: IpAddr) -> bool {
        self.destination
            .as_ref()
            .is_none_or(|d| d.contains(destination))
    }

    /// Has `ACCESS_EXPIRE_EPOCH` passed?
    pub fn expired(&self, now: u64) -> bool {
        self.access_expire.is_some_and(|t| now > t)
    }

    /// fwknopd's port check: no requested port may be in RESTRICT_PORTS,
    /// and with OPEN_PORTS set, every requested port must be in it.
    pub fn check_ports(&self, requested: &[ProtoPort]) -> Result<(), PortRefusal> {
        for p in requested {
            if self.restrict_ports.contains(p) {
                return Err(PortRefusal::Restricted(*p));
            }
            if let Some(open) = &self.open_ports
                && !open.contains(p)
            {
                return Err(PortRefusal::NotOpen(*p));
            }
        }
        Ok(())
    }

    /// The address to open for: the one in the request, or the packet's
    /// source for `0.0.0.0` unless REQUIRE_SOURCE_ADDRESS is set.
    pub fn address_to_open(
        &self,
        allow: AllowIp,
        packet_source: IpAddr,
    ) -> Result<IpAddr, AddressRefusal> {
        match allow {
            AllowIp::Addr(a) => Ok(IpAddr::V4(a)),
            AllowIp::Source if self.require_source_address => Err(AddressRefusal::SourceRequired),
            AllowIp::Source => Ok(packet_source),
        }
    }

    /// How long to keep the door open: the request's client timeout (cut
    /// to MAX_FW_TIMEOUT), else FW_ACCESS_TIMEOUT, else fwknopd's default.
    pub fn open_for(&self, client_timeout: Option<ClientTimeout>) -> u32 {
        self.open_for_or(client_timeout, DEFAULT_FW_ACCESS_TIMEOUT)
    }

    /// [`Stanza::open_for`] with `default` for a stanza without
    /// FW_ACCESS_TIMEOUT (a server door's own timeout).
    pub fn open_for_or(&self, client_timeout: Option<ClientTimeout>, default: u32) -> u32 {
        match client_timeout {
            Some(t) => t.secs().min(self.max_fw_timeout),
            None => self.fw_access_timeout.unwrap_or(default),
        }
    }

    /// Does the request's user name satisfy REQUIRE_USERNAME?
    pub fn user_allowed(&self, user: &str) -> bool {
        self.require_username.as_deref().is_none_or(|u| u == user)
    }
}

/// A line fwknopd would ignore, which we ignore too.
pub use crate::diagnostic::Warning;

/// What is wrong, without the place (see [`AccessConfError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessConfErrorKind {
    #[error("unknown access.conf key \"{key}\"{}", hint.as_ref().map(|h| format!(" (did you mean \"{h}\"?)")).unwrap_or_default())]
    UnknownKey {
        key: String,
        hint: Option<&'static str>,
    },
    #[error("{key} is not supported by knock-server: {why}")]
    Unsupported { key: String, why: &'static str },
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("the stanza has no KEY_BASE64 (or KEY)")]
    NoKey,
    #[error(
        "the stanza has no HMAC_KEY_BASE64 (or HMAC_KEY): knock-server accepts only HMAC-authenticated SPA packets"
    )]
    NoHmacKey,
    #[error("no SOURCE stanza")]
    NoStanza,
    #[error("%include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)")]
    IncludeDepth,
    #[error("cannot read {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
}

/// An access.conf error: `path:line: what` (line 0: the whole file).
pub type AccessConfError = crate::diagnostic::LineError<AccessConfErrorKind>;

/// Where `%include` and `%include_folder` read from.
pub trait IncludeSource {
    fn read(&mut self, path: &Path) -> io::Result<String>;
    /// The `*.conf` files of a directory, in any order.
    fn conf_files(&mut self, dir: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystem;

impl IncludeSource for FileSystem {
    fn read(&mut self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn conf_files(&mut self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "conf") && path.is_file() {
                out.push(path);
            }
        }
        Ok(out)
    }
}

/// A parsed access.conf: its stanzas in file order (includes where they
/// were included), and the lines ignored on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConf {
    pub stanzas: Vec<Stanza>,
    pub warnings: Vec<Warning>,
}

impl AccessConf {
    /// Reads and parses the file at `path`, includes from disk.
    pub fn read(path: &Path) -> Result<AccessConf, AccessConfError> {
        let text = std::fs::read_to_string(path).map_err(|e| AccessConfError {
            path: path.to_path_buf(),
            line: 0,
            kind: AccessConfErrorKind::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        })?;
        Self::parse(&text, path)
    }

    /// Parses access.conf text; `origin` names it in messages and is where
    /// relative `%include` paths start. Includes are read from disk.
    pub fn parse(text: &str, origin: &Path) -> Result<AccessConf, AccessConfError> {
        Self::parse_with(text, origin, &mut FileSystem)
    }

    /// [`AccessConf::parse`] with includes read from `source`.
    pub fn parse_with(
        text: &str,
        origin: &Path,
        source: &mut dyn IncludeSource,
    ) -> Result<AccessConf, AccessConfError> {
        let mut conf = AccessConf {
            stanzas: Vec::new(),
            warnings: Vec::new(),
        };
        parse_file(text, origin, source, 0, &mut conf)?;
        if conf.stanzas.is_empty() {
            return Err(AccessConfError {
                path: origin.to_path_buf(),
                line: 0,
                kind: AccessConfErrorKind::NoStanza,
            });
        }
        Ok(conf)
    }

    /// The stanzas that apply to a packet from `source` (fwknopd tries
    /// them in this order until one accepts the packet).
    pub fn matching(&self, source: IpAddr) -> impl Iterator<Item = &Stanza> + '_ {
        self.stanzas
            .iter()
            .filter(move |s| s.matches_source(source))
    }
}

/// An access.conf stanza for these keys, as `knock --gen-keys` prints it
/// for the server: `SOURCE ANY`, the ports (`OPEN_PORTS`, when given) and
/// both keys in base64. fwknopd and [`AccessConf::parse`] read it as it is.
pub fn format_stanza(keys: &SpaKeys, open_ports: Option<&PortList>) -> Zeroizing<String> {
    let mut out = String::from("SOURCE              ANY\n");
    if let Some(ports) = open_ports {
        out.push_str(&format!("OPEN_PORTS          {ports}\n"));
    }
    out.push_str(&format!(
        "KEY_BASE64          {}\nHMAC_KEY_BASE64     {}\n",
        keys.encryption.to_base64().as_str(),
        keys.hmac.to_base64().as_str()
    ));
    Zeroizing::new(out)
}

/// The keys fwknopd 2.6.10 knows that we refuse, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "ACCESS_EXPIRE",
        "its date is in the server's local time zone; use ACCESS_EXPIRE_EPOCH",
    ),
    ("CMD_CYCLE_OPEN", "use the door's Start_Command"),
    ("CMD_CYCLE_CLOSE", "use the door's Stop_Command"),
    ("CMD_CYCLE_TIMER", "use the door's Cmd_Timeout"),
    ("CMD_EXEC_USER", "SPA command messages are not supported"),
    ("CMD_EXEC_GROUP", "SPA command messages are not supported"),
    (
        "CMD_SUDO_EXEC_USER",
        "SPA command messages are not supported",
    ),
    (
        "CMD_SUDO_EXEC_GROUP",
        "SPA command messages are not supported",
    ),
    ("SUDO_EXE", "SPA command messages are not supported"),
    ("FORCE_NAT", "NAT access is not supported"),
    ("FORCE_SNAT", "NAT access is not supported"),
    ("GPG_HOME_DIR", "GnuPG-encrypted SPA is not supported"),
    ("GPG_EXE", "GnuPG-encrypted SPA is not supported"),
    ("GPG_DECRYPT_ID", "GnuPG-encrypted SPA is not supported"),
    ("GPG_DECRYPT_PW", "GnuPG-encrypted SPA is not supported"),
    ("GPG_ALLOW_NO_PW", "GnuPG-encrypted SPA is not supported"),
    ("GPG_REQUIRE_SIG", "GnuPG-encrypted SPA is not supported"),
    ("GPG_DISABLE_SIG", "GnuPG-encrypted SPA is not supported"),
    (
        "GPG_IGNORE_SIG_VERIFY_ERROR",
        "GnuPG-encrypted SPA is not supported",
    ),
    ("GPG_REMOTE_ID", "GnuPG-encrypted SPA is not supported"),
    ("GPG_FINGERPRINT_ID", "GnuPG-encrypted SPA is not supported"),
];

/// Switches of features we lack: accepted when off.
const OFF_ONLY: &[(&str, &str)] = &[
    ("ENABLE_CMD_EXEC", "SPA command messages are not supported"),
    (
        "ENABLE_CMD_SUDO_EXEC",
        "SPA command messages are not supported",
    ),
    ("FORCE_MASQUERADE", "NAT access is not supported"),
    ("FORWARD_ALL", "NAT access is not supported"),
    ("DISABLE_DNAT", "NAT access is not supported"),
];

const SUPPORTED: &[&str] = &[
    "SOURCE",
    "DESTINATION",
    "OPEN_PORTS",
    "RESTRICT_PORTS",
    "KEY",
    "KEY_BASE64",
    "HMAC_KEY",
    "HMAC_KEY_BASE64",
    "HMAC_DIGEST_TYPE",
    "ENCRYPTION_MODE",
    "FW_ACCESS_TIMEOUT",
    "MAX_FW_TIMEOUT",
    "REQUIRE_USERNAME",
    "REQUIRE_SOURCE_ADDRESS",
    "REQUIRE_SOURCE",
    "ACCESS_EXPIRE_EPOCH",
];

/// The access.conf key most like `upper`, for a did-you-mean hint.
fn did_you_mean(upper: &str) -> Option<&'static str> {
    crate::diagnostic::closest_fwknop_key(SUPPORTED, &[OFF_ONLY, UNSUPPORTED], upper)
}

/// A stanza being read.
struct Draft {
    line: usize,
    source: AddrList,
    destination: Option<AddrList>,
    open_ports: Option<Vec<ProtoPort>>,
    restrict_ports: Vec<ProtoPort>,
    key: Option<EncryptionKey>,
    hmac: Option<HmacKey>,
    fw_access_timeout: Option<u32>,
    max_fw_timeout: u32,
    require_username: Option<String>,
    require_source_address: bool,
    access_expire: Option<u64>,
    /// Keys seen, for the "given twice" warning.
    seen: Vec<(&'static str, usize)>,
}

impl Draft {
    fn finish(self, path: &Path) -> Result<Stanza, AccessConfError> {
        let err = |kind| AccessConfError {
            path: path.to_path_buf(),
            line: self.line,
            kind,
        };
        let Some(key) = self.key else {
            return Err(err(AccessConfErrorKind::NoKey));
        };
        let Some(hmac) = self.hmac else {
            return Err(err(AccessConfErrorKind::NoHmacKey));
        };
        Ok(Stanza {
            path: path.to_path_buf(),
            line: self.line,
            source: self.source,
            destination: self.destination,
            open_ports: self.open_ports,
            restrict_ports: self.restrict_ports,
            keys: SpaKeys {
                encryption: key,
                hmac,
            },
            fw_access_timeout: self.fw_access_timeout,
            max_fw_timeout: self.max_fw_timeout,
            require_username: self.require_username,
            require_source_address: self.require_source_address,
            access_expire: self.access_expire,
        })
    }
}

fn parse_file(
    text: &str,
    path: &Path,
    source: &mut dyn IncludeSource,
    depth: usize,
    conf: &mut AccessConf,
) -> Result<(), AccessConfError> {
    let mut draft: Option<Draft> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let err = |kind| AccessConfError {
            path: path.to_path_buf(),
            line: n,
            kind,
        };
        let warn = |conf: &mut AccessConf, message: String| {
            conf.warnings.push(Warning {
                path: path.to_path_buf(),
                line: n,
                message,
            })
        };
        // fwknopd looks at the first character only; blanks then `#` would
        // be an unknown variable there, a comment here.
        if raw.starts_with(';') || raw.trim_start().starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        let line = raw.trim();
        let (name, rest) = line
            .split_once(|c: char| c.is_whitespace())
            .unwrap_or((line, ""));
        let value = rest.split(';').next().unwrap_or("").trim();
        let name = name.rsplit_once(':').map_or(name, |(n, _)| n);
        let upper = name.to_ascii_uppercase();

        if upper == "%INCLUDE" || upper == "%INCLUDE_FOLDER" {
            if value.is_empty() {
                warn(conf, format!("{name} has no value; ignored"));
                continue;
            }
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(err(AccessConfErrorKind::IncludeDepth));
            }
            let target = match path.parent() {
                Some(dir) => dir.join(value),
                None => PathBuf::from(value),
            };
            let read_err = |e: io::Error, p: &Path| {
                err(AccessConfErrorKind::Read {
                    path: p.to_path_buf(),
                    message: e.to_string(),
                })
            };
            let files = if upper == "%INCLUDE" {
                vec![target]
            } else {
                let mut files = source
                    .conf_files(&target)
                    .map_err(|e| read_err(e, &target))?;
                files.sort();
                files
            };
            for file in files {
                let text = source.read(&file).map_err(|e| read_err(e, &file))?;
                parse_file(&text, &file, source, depth + 1, conf)?;
            }
            continue;
        }

        if value.is_empty() {
            warn(
                conf,
                format!("{name} has no value; ignored (as fwknopd does)"),
            );
            continue;
        }

        if upper == "SOURCE" {
            if let Some(d) = draft.take() {
                conf.stanzas.push(d.finish(path)?);
            }
            draft = Some(Draft {
                line: n,
                source: parse_addr_list("SOURCE", value).map_err(err)?,
                destination: None,
                open_ports: None,
                restrict_ports: Vec::new(),
                key: None,
                hmac: None,
                fw_access_timeout: None,
                max_fw_timeout: DEFAULT_MAX_FW_TIMEOUT,
                require_username: None,
                require_source_address: false,
                access_expire: None,
                seen: Vec::new(),
            });
            continue;
        }

        // Refused keys are refused wherever they are.
        if let Some((k, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == upper) {
            return Err(err(AccessConfErrorKind::Unsupported {
                key: (*k).to_string(),
                why,
            }));
        }
        let off_only = OFF_ONLY.iter().find(|(k, _)| *k == upper);
        let known = SUPPORTED.iter().find(|k| **k == upper);
        let Some(canonical) = known.copied().or(off_only.map(|(k, _)| *k)) else {
            return Err(err(AccessConfErrorKind::UnknownKey {
                key: name.to_string(),
                hint: did_you_mean(&upper),
            }));
        };

        let Some(d) = draft.as_mut() else {
            warn(
                conf,
                format!("{canonical} before the first SOURCE line; ignored (as fwknopd does)"),
            );
            continue;
        };
        let seen_key = match canonical {
            "REQUIRE_SOURCE" => "REQUIRE_SOURCE_ADDRESS",
            "KEY_BASE64" => "KEY",
            "HMAC_KEY_BASE64" => "HMAC_KEY",
            k => k,
        };
        if let Some((_, first)) = d.seen.iter().find(|(k, _)| *k == seen_key) {
            let first = *first;
            warn(
                conf,
                format!(
                    "{canonical} again (first on line {first}); the later one counts, as in fwknopd"
                ),
            );
        }
        d.seen.push((seen_key, n));

        if let Some((k, why)) = off_only {
            if parse_bool(k, value).map_err(err)? {
                return Err(err(AccessConfErrorKind::Unsupported {
                    key: (*k).to_string(),
                    why,
                }));
            }
            continue;
        }
        match canonical {
            "DESTINATION" => {
                d.destination = Some(parse_addr_list("DESTINATION", value).map_err(err)?)
            }
            "OPEN_PORTS" => d.open_ports = Some(parse_ports("OPEN_PORTS", value).map_err(err)?),
            "RESTRICT_PORTS" => {
                d.restrict_ports = parse_ports("RESTRICT_PORTS", value).map_err(err)?
            }
            "KEY" | "KEY_BASE64" | "HMAC_KEY" | "HMAC_KEY_BASE64" => {
                let key_err = |source| {
                    err(ValueError::Key {
                        key: canonical,
                        source,
                    }
                    .into())
                };
                match canonical {
                    "KEY" => d.key = Some(EncryptionKey::from_passphrase(value).map_err(key_err)?),
                    "KEY_BASE64" => {
                        d.key = Some(EncryptionKey::from_base64(value).map_err(key_err)?)
                    }
                    "HMAC_KEY" => d.hmac = Some(HmacKey::from_passphrase(value).map_err(key_err)?),
                    _ => d.hmac = Some(HmacKey::from_base64(value).map_err(key_err)?),
                }
            }
            "HMAC_DIGEST_TYPE" => {
                if !value.eq_ignore_ascii_case("sha256") {
                    return Err(err(AccessConfErrorKind::Unsupported {
                        key: format!("HMAC_DIGEST_TYPE {value}"),
                        why: "only SHA256 (fwknop's default) is supported",
                    }));
                }
            }
            "ENCRYPTION_MODE" => {
                if !value.eq_ignore_ascii_case("cbc") {
                    return Err(err(AccessConfErrorKind::Unsupported {
                        key: format!("ENCRYPTION_MODE {value}"),
                        why: "only CBC (fwknop's default) is supported",
                    }));
                }
            }
            "FW_ACCESS_TIMEOUT" | "MAX_FW_TIMEOUT" => {
                let t = parse_u64(canonical, value, "a number of seconds")
                    .ok()
                    .and_then(|t| u32::try_from(t).ok())
                    .ok_or_else(|| err(bad_value(canonical, value, "a number of seconds")))?;
                // fwknopd: anything below 1 is the default.
                if canonical == "FW_ACCESS_TIMEOUT" {
                    d.fw_access_timeout = (t > 0).then_some(t);
                } else {
                    d.max_fw_timeout = if t == 0 { DEFAULT_MAX_FW_TIMEOUT } else { t };
                }
            }
            "REQUIRE_USERNAME" => d.require_username = Some(value.to_string()),
            "REQUIRE_SOURCE_ADDRESS" | "REQUIRE_SOURCE" => {
                d.require_source_address = parse_bool(canonical, value).map_err(err)?
            }
            "ACCESS_EXPIRE_EPOCH" => {
                d.access_expire = Some(
                    parse_u64("ACCESS_EXPIRE_EPOCH", value, "seconds since the Unix epoch")
                        .map_err(err)?,
                )
            }
            _ => unreachable!("every supported key is handled above"),
        }
    }
    if let Some(d) = draft.take() {
        conf.stanzas.push(d.finish(path)?);
    }
    Ok(())
}

fn bad_value(key: &'static str, value: &str, expected: &'static str) -> AccessConfErrorKind {
    ValueError::BadValue {
        key,
        value: value.to_string(),
        expected,
    }
    .into()
}

/// fwknopd reads the first letter only: Y... is yes, anything else no. We
/// take Y... and N... and refuse the rest rather than read "true" as no.
fn parse_bool(key: &'static str, value: &str) -> Result<bool, AccessConfErrorKind> {
    match value.chars().next().map(|c| c.to_ascii_uppercase()) {
        Some('Y') => Ok(true),
        Some('N') => Ok(false),
        _ => Err(bad_value(key, value, "Y or N")),
    }
}

fn parse_u64(
    key: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<u64, AccessConfErrorKind> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_value(key, value, expected));
    }
    value.parse().map_err(|_| bad_value(key, value, expected))
}

fn parse_addr_list(key: &'static str, value: &str) -> Result<AddrList, AccessConfErrorKind> {
    let expected = "ANY or IPv4 addresses and networks like 192.0.2.0/24, comma-separated";
    let mut nets = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        if item.eq_ignore_ascii_case("ANY") {
            return Ok(AddrList::Any);
        }
        let (addr, prefix) = match item.split_once('/') {
            Some((a, p)) => {
                let p = p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= 32)
                    .ok_or_else(|| bad_value(key, item, expected))?;
                (a, p)
            }
            None => (item, 32),
        };
        let addr = addr
            .parse::<Ipv4Addr>()
            .map_err(|_| bad_value(key, item, expected))?;
        nets.push(Ipv4Net { addr, prefix });
    }
    Ok(AddrList::Nets(nets))
}

fn parse_ports(key: &'static str, value: &str) -> Result<Vec<ProtoPort>, AccessConfErrorKind> {
    value
        .split(',')
        .map(|t| {
            spa::parse_proto_port(t.trim())
                .map_err(|_| bad_value(key, t.trim(), "proto/port entries like tcp/22,udp/53"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fwknop_keys::parse_key_gen;
    use crate::sequence::Proto;
    use std::collections::HashMap;

    const REAL: &str = include_str!("../testdata/spa/access.conf");
    const KEYS: &str = include_str!("../testdata/spa/keys");

    fn parse(text: &str) -> Result<AccessConf, AccessConfError> {
        AccessConf::parse_with(text, Path::new("/etc/fwknop/access.conf"), &mut NoIncludes)
    }

    struct NoIncludes;
    impl IncludeSource for NoIncludes {
        fn read(&mut self, p: &Path) -> io::Result<String> {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                p.display().to_string(),
            ))
        }
        fn conf_files(&mut self, _: &Path) -> io::Result<Vec<PathBuf>> {
            Ok(Vec::new())
        }
    }

    struct Files(HashMap<PathBuf, String>);
    impl IncludeSource for Files {
        fn read(&mut self, p: &Path) -> io::Result<String> {
            self.0
                .get(p)
                .cloned()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
        }
        fn conf_files(&mut self, dir: &Path) -> io::Result<Vec<PathBuf>> {
            let mut v: Vec<PathBuf> = self
                .0
                .keys()
                .filter(|p| p.parent() == Some(dir) && p.extension().is_some_and(|e| e == "conf"))
                .cloned()
                .collect();
            v.reverse();
            Ok(v)
        }
    }

    const K: &str =
        "KEY_BASE64 SlKsg/Emot0DmRMNGG85hb71jajSLUr86cFSFzfdMXM=\nHMAC_KEY_BASE64 c2VjcmV0\n";

    fn stanza(body: &str) -> String {
        format!("SOURCE ANY\n{K}{body}")
    }

    fn tcp(port: u16) -> ProtoPort {
        ProtoPort {
            proto: Proto::Tcp,
            port,
        }
    }

    fn udp(port: u16) -> ProtoPort {
        ProtoPort {
            proto: Proto::Udp,
            port,
        }
    }

    fn error(text: &str) -> (usize, String) {
        let e = parse(text).expect_err(text);
        (e.line, e.to_string())
    }

    #[test]
    fn reads_the_test_access_conf_as_fwknopd_does() {
        let conf = parse(REAL).expect("parses");
        assert!(conf.warnings.is_empty(), "{:?}", conf.warnings);
        let [a, b] = &conf.stanzas[..] else {
            panic!("two stanzas: {:?}", conf.stanzas)
        };
        // What `fwknopd -a access.conf -D` prints for this file.
        assert_eq!(a.line, 5);
        assert_eq!(
            a.source,
            AddrList::Nets(vec![
                Ipv4Net {
                    addr: Ipv4Addr::new(192, 0, 2, 0),
                    prefix: 24
                },
                Ipv4Net {
                    addr: Ipv4Addr::new(198, 51, 100, 7),
                    prefix: 32
                },
            ])
        );
        assert_eq!(a.open_ports, Some(vec![tcp(22), udp(53)]));
        assert_eq!(a.keys, parse_key_gen(KEYS).expect("keys"));
        assert_eq!(a.fw_access_timeout, Some(5));
        assert_eq!(a.max_fw_timeout, 600);
        assert_eq!(a.require_username.as_deref(), Some("alice"));
        assert!(!a.require_source_address);
        assert_eq!(b.source, AddrList::Any);
        assert_eq!(b.open_ports, None);
        assert_eq!(b.restrict_ports, vec![tcp(23)]);
        assert_eq!(b.keys.encryption.as_bytes(), b"correct horse battery");
        assert_eq!(b.keys.hmac.as_bytes(), b"staple hmac key");
        assert_eq!(b.fw_access_timeout, None);
        assert_eq!(b.open_for(None), DEFAULT_FW_ACCESS_TIMEOUT);
        assert_eq!(b.max_fw_timeout, DEFAULT_MAX_FW_TIMEOUT);
        assert!(b.require_source_address);
        assert_eq!(b.access_expire, Some(4_102_444_800));
    }

    #[test]
    fn stanzas_decide_as_fwknopd_does() {
        let conf = parse(REAL).expect("parses");
        let (a, b) = (&conf.stanzas[0], &conf.stanzas[1]);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(a.matches_source(ip("192.0.2.200")));
        assert!(a.matches_source(ip("198.51.100.7")));
        assert!(a.matches_source(ip("::ffff:192.0.2.9")));
        assert!(!a.matches_source(ip("198.51.100.8")));
        assert!(!a.matches_source(ip("2001:db8::2")));
        assert!(b.matches_source(ip("2001:db8::2")));
        let m: Vec<usize> = conf.matching(ip("192.0.2.2")).map(|s| s.line).collect();
        assert_eq!(m, [5, 13]);
        let m: Vec<usize> = conf.matching(ip("203.0.113.1")).map(|s| s.line).collect();
        assert_eq!(m, [13]);

        assert_eq!(a.check_ports(&[tcp(22)]), Ok(()));
        assert_eq!(a.check_ports(&[udp(53), tcp(22)]), Ok(()));
        assert_eq!(
            a.check_ports(&[tcp(22), tcp(80)]),
            Err(PortRefusal::NotOpen(tcp(80)))
        );
        assert_eq!(
            a.check_ports(&[udp(22)]),
            Err(PortRefusal::NotOpen(udp(22)))
        );
        assert_eq!(b.check_ports(&[tcp(80), udp(23)]), Ok(()));
        assert_eq!(
            b.check_ports(&[tcp(80), tcp(23)]),
            Err(PortRefusal::Restricted(tcp(23)))
        );

        let src = ip("192.0.2.2");
        let asked = AllowIp::Addr(Ipv4Addr::new(203, 0, 113, 5));
        assert_eq!(a.address_to_open(AllowIp::Source, src), Ok(src));
        assert_eq!(a.address_to_open(asked, src), Ok(ip("203.0.113.5")));
        assert_eq!(
            b.address_to_open(AllowIp::Source, src),
            Err(AddressRefusal::SourceRequired)
        );
        assert_eq!(b.address_to_open(asked, src), Ok(ip("203.0.113.5")));

        assert!(a.user_allowed("alice") && !a.user_allowed("bob"));
        assert!(b.user_allowed("bob"));
        assert!(!b.expired(4_102_444_800) && b.expired(4_102_444_801));
        assert!(!a.expired(u64::MAX));

        assert_eq!(a.open_for(None), 5);
        assert_eq!(a.open_for(ClientTimeout::new(120)), 120);
        assert_eq!(a.open_for(ClientTimeout::new(65_536)), 600);
        // A server door's own default applies only where FW_ACCESS_TIMEOUT is not set.
        assert_eq!(a.open_for_or(None, 12), 5);
        assert_eq!(b.open_for_or(None, 12), 12);
        assert_eq!(b.open_for_or(ClientTimeout::new(7), 12), 7);
    }

    #[test]
    fn fwknopd_syntax_details() {
        // Colon after the name, ';' ending the value, '#' and ';' comment
        // lines, blanks around list items, mixed case names.
        let text = "# c\n; c\n  # c\nsource:  192.0.2.1 ,192.0.2.3/31\nOpen_Ports: tcp/22 ;x\n\
                    Key_Base64: SlKsg/Emot0DmRMNGG85hb71jajSLUr86cFSFzfdMXM=\nhmac_key  a b c ; d\n\
                    REQUIRE_SOURCE yes\nDESTINATION 192.0.2.1\nHMAC_DIGEST_TYPE sha256\nENCRYPTION_MODE CBC\n\
                    ENABLE_CMD_EXEC N\nFW_ACCESS_TIMEOUT 0\n";
        let conf = parse(text).expect("parses");
        let s = &conf.stanzas[0];
        assert_eq!(
            s.source,
            AddrList::Nets(vec![
                Ipv4Net {
                    addr: Ipv4Addr::new(192, 0, 2, 1),
                    prefix: 32
                },
                Ipv4Net {
                    addr: Ipv4Addr::new(192, 0, 2, 3),
                    prefix: 31
                },
            ])
        );
        assert!(s.matches_source("192.0.2.2".parse().expect("ip")));
        assert_eq!(s.open_ports, Some(vec![tcp(22)]));
        assert_eq!(s.keys.hmac.as_bytes(), b"a b c");
        assert!(s.require_source_address);
        assert!(s.matches_destination("192.0.2.1".parse().expect("ip")));
        assert!(!s.matches_destination("192.0.2.9".parse().expect("ip")));
        assert_eq!(s.fw_access_timeout, None);
        assert_eq!(s.open_for(None), DEFAULT_FW_ACCESS_TIMEOUT);
    }

    #[test]
    fn lines_fwknopd_ignores_are_ignored_with_a_warning() {
        let text = format!(
            "OPEN_PORTS tcp/22\n{}\nOPEN_PORTS tcp/1\nOPEN_PORTS tcp/2\nREQUIRE_USERNAME\n",
            stanza("")
        );
        let conf = parse(&text).expect("parses");
        let w: Vec<String> = conf.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(conf.warnings.len(), 3, "{w:?}");
        assert!(
            w[0].starts_with(
                "/etc/fwknop/access.conf:1: warning: OPEN_PORTS before the first SOURCE"
            ),
            "{w:?}"
        );
        assert!(
            w[1].contains(":7: warning: OPEN_PORTS again (first on line 6)"),
            "{w:?}"
        );
        assert!(
            w[2].contains(":8: warning: REQUIRE_USERNAME has no value"),
            "{w:?}"
        );
        assert_eq!(conf.stanzas[0].open_ports, Some(vec![tcp(2)]));
    }

    #[test]
    fn unsupported_and_unknown_keys_are_refused_by_name_with_file_and_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "GPG_DECRYPT_ID ABCD1234\n",
                4,
                "GPG_DECRYPT_ID is not supported by knock-server: GnuPG",
            ),
            (
                "FORCE_NAT 192.0.2.9 22\n",
                4,
                "FORCE_NAT is not supported by knock-server: NAT access",
            ),
            (
                "CMD_CYCLE_OPEN /bin/true\n",
                4,
                "CMD_CYCLE_OPEN is not supported by knock-server: use the door's Start_Command",
            ),
            ("ACCESS_EXPIRE 01/01/2030\n", 4, "use ACCESS_EXPIRE_EPOCH"),
            ("ENABLE_CMD_EXEC Y\n", 4, "ENABLE_CMD_EXEC is not supported"),
            (
                "HMAC_DIGEST_TYPE sha512\n",
                4,
                "HMAC_DIGEST_TYPE sha512 is not supported by knock-server: only SHA256",
            ),
            (
                "ENCRYPTION_MODE ofb\n",
                4,
                "ENCRYPTION_MODE ofb is not supported",
            ),
            (
                "OPEN_PORT tcp/22\n",
                4,
                "unknown access.conf key \"OPEN_PORT\" (did you mean \"OPEN_PORTS\"?)",
            ),
            (
                "FROBNICATE 1\n",
                4,
                "unknown access.conf key \"FROBNICATE\"",
            ),
        ];
        for (body, line, want) in cases {
            let (l, msg) = error(&stanza(body));
            assert_eq!(l, *line, "{msg}");
            assert!(
                msg.starts_with(&format!("/etc/fwknop/access.conf:{line}: ")),
                "{msg}"
            );
            assert!(msg.contains(want), "{msg:?} should say {want:?}");
        }
        // Even before the first SOURCE.
        let (l, msg) = error("GPG_HOME_DIR /root/.gnupg\n");
        assert_eq!(l, 1, "{msg}");
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "SOURCE 192.0.2.300\n",
                1,
                "bad SOURCE \"192.0.2.300\" (expected ANY or IPv4",
            ),
            ("SOURCE 192.0.2.0/33\n", 1, "bad SOURCE \"192.0.2.0/33\""),
            ("SOURCE 2001:db8::/32\n", 1, "bad SOURCE"),
        ];
        for (text, line, want) in cases {
            let (l, msg) = error(text);
            assert_eq!(l, *line, "{msg}");
            assert!(msg.contains(want), "{msg:?} should say {want:?}");
        }
        let cases: &[(&str, &str)] = &[
            (
                "OPEN_PORTS tcp/22,icmp/0\n",
                "bad OPEN_PORTS \"icmp/0\" (expected proto/port",
            ),
            ("RESTRICT_PORTS tcp/0\n", "bad RESTRICT_PORTS \"tcp/0\""),
            (
                "FW_ACCESS_TIMEOUT soon\n",
                "bad FW_ACCESS_TIMEOUT \"soon\" (expected a number of seconds)",
            ),
            (
                "REQUIRE_SOURCE_ADDRESS true\n",
                "bad REQUIRE_SOURCE_ADDRESS \"true\" (expected Y or N)",
            ),
            ("ACCESS_EXPIRE_EPOCH -1\n", "bad ACCESS_EXPIRE_EPOCH"),
            ("DESTINATION nowhere\n", "bad DESTINATION \"nowhere\""),
        ];
        for (body, want) in cases {
            let (l, msg) = error(&stanza(body));
            assert_eq!(l, 4, "{msg}");
            assert!(msg.contains(want), "{msg:?} should say {want:?}");
        }
    }

    #[test]
    fn key_errors_never_quote_the_key() {
        let (l, msg) =
            error("SOURCE ANY\nKEY_BASE64 not*base64*secret\nHMAC_KEY_BASE64 c2VjcmV0\n");
        assert_eq!(
            (l, msg.contains("KEY_BASE64: encryption key is not base64")),
            (2, true),
            "{msg}"
        );
        assert!(!msg.contains("secret"), "{msg}");
        let (l, msg) = error("SOURCE ANY\nKEY_BASE64 __CHANGEME__\nHMAC_KEY_BASE64 __CHANGEME__\n");
        assert_eq!(l, 2);
        assert!(msg.contains("placeholder __CHANGEME__"), "{msg}");
        let long = format!("SOURCE ANY\nKEY {}\nHMAC_KEY x\n", "k".repeat(33));
        let (l, msg) = error(&long);
        assert_eq!(l, 2);
        assert!(
            msg.contains("KEY: encryption key is 33 bytes long, fwknop allows at most 32"),
            "{msg}"
        );
        assert!(!msg.contains("kkk"), "{msg}");
    }

    #[test]
    fn a_stanza_needs_both_keys_and_a_file_needs_a_stanza() {
        let (l, msg) = error("SOURCE ANY\nHMAC_KEY_BASE64 c2VjcmV0\n\nSOURCE 192.0.2.1\n");
        assert_eq!(l, 1);
        assert!(
            msg.ends_with("the stanza has no KEY_BASE64 (or KEY)"),
            "{msg}"
        );
        let (l, msg) = error(&format!("{}SOURCE 192.0.2.1\nKEY x\n", stanza("")));
        assert_eq!(l, 4);
        assert!(
            msg.contains(
                "no HMAC_KEY_BASE64 (or HMAC_KEY): knock-server accepts only HMAC-authenticated"
            ),
            "{msg}"
        );
        let (l, msg) = error("# nothing here\n");
        assert_eq!(l, 0);
        assert_eq!(msg, "/etc/fwknop/access.conf: no SOURCE stanza");
    }

    #[test]
    fn includes_add_their_stanzas_in_place() {
        let mut files = Files(HashMap::from([
            (
                PathBuf::from("/etc/fwknop/extra.conf"),
                stanza("OPEN_PORTS tcp/2\n"),
            ),
            (
                PathBuf::from("/etc/fwknop/access.d/b.conf"),
                stanza("OPEN_PORTS tcp/4\n"),
            ),
            (
                PathBuf::from("/etc/fwknop/access.d/a.conf"),
                stanza("OPEN_PORTS tcp/3\n"),
            ),
            (
                PathBuf::from("/etc/fwknop/access.d/notes.txt"),
                "junk".to_string(),
            ),
            (
                PathBuf::from("/etc/fwknop/bad.conf"),
                stanza("GPG_EXE /usr/bin/gpg\n"),
            ),
            (
                PathBuf::from("/etc/fwknop/loop.conf"),
                "%include loop.conf\n".to_string(),
            ),
        ]));
        let mut read = |text: &str| {
            AccessConf::parse_with(text, Path::new("/etc/fwknop/access.conf"), &mut files)
        };
        let text = format!(
            "{}%include extra.conf\nOPEN_PORTS tcp/1\n%include_folder access.d\n",
            stanza("")
        );
        let conf = read(&text).expect("parses");
        let ports: Vec<(String, u16)> = conf
            .stanzas
            .iter()
            .map(|s| {
                (
                    s.path.display().to_string(),
                    s.open_ports.as_ref().expect("set")[0].port,
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                ("/etc/fwknop/extra.conf".to_string(), 2),
                ("/etc/fwknop/access.d/a.conf".to_string(), 3),
                ("/etc/fwknop/access.d/b.conf".to_string(), 4),
                // The outer stanza, with the OPEN_PORTS after the %include.
                ("/etc/fwknop/access.conf".to_string(), 1),
            ]
        );
        let err = read("%include bad.conf\n").expect_err("GPG");
        assert_eq!(
            (err.path.as_path(), err.line),
            (Path::new("/etc/fwknop/bad.conf"), 4)
        );
        let err = read("%include nope.conf\n").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "/etc/fwknop/access.conf:1: cannot read /etc/fwknop/nope.conf: No such file or directory"
        );
        let err = read("%include loop.conf\n").expect_err("loop");
        assert!(err.to_string().contains("nested more than 8 deep"), "{err}");
    }

    #[test]
    fn a_formatted_stanza_reads_back_with_the_same_keys() {
        let keys = SpaKeys::generate().expect("random");
        let ports = PortList::parse("tcp/22,udp/53").expect("ports");
        let text = format_stanza(&keys, Some(&ports));
        let conf = parse(&text).expect("parses");
        assert!(conf.warnings.is_empty());
        let s = &conf.stanzas[0];
        assert_eq!(s.keys, keys);
        assert_eq!(s.source, AddrList::Any);
        assert_eq!(s.open_ports.as_deref(), Some(ports.as_slice()));
        let any = parse(&format_stanza(&keys, None)).expect("parses");
        assert_eq!(any.stanzas[0].open_ports, None);
    }

    #[test]
    fn reads_a_real_file_from_disk() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("access.conf");
        std::fs::write(&path, format!("{}%include more.conf\n", stanza(""))).expect("write");
        std::fs::write(dir.path().join("more.conf"), stanza("OPEN_PORTS udp/53\n")).expect("write");
        let conf = AccessConf::read(&path).expect("reads");
        assert_eq!(conf.stanzas.len(), 2);
        let err = AccessConf::read(&dir.path().join("missing.conf")).expect_err("missing");
        assert_eq!(err.line, 0);
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
