//! Shared secrets of rotating profiles ([`crate::rotate`]), and where they
//! come from. A secret is never written in the profile file.
//!
//! - [`Secret`]: at least 128 bits, written as RFC 4648 base32 without
//!   padding (like TOTP secrets), case-insensitive, spaces and dashes
//!   allowed when read. It zeroizes its bytes on drop and its `Debug` shows
//!   only its size.
//! - [`SecretSource`]: `secret = "keyring"` in the profile (the default) is
//!   the OS keyring, service [`KEYRING_SERVICE`] (`knock`), account = the
//!   profile name; `secret_cmd = "pass show knock/NAME"` runs a command
//!   (`sh -c` on Unix, `cmd /C` on Windows) and reads the secret from its
//!   standard output.
//! - [`Keyring`] (feature `keyring`): the OS store (Secret Service over
//!   zbus on Linux/BSD, Credential Manager on Windows, Keychain on macOS), or
//!   any `keyring_core` store, such as its in-memory mock for tests.
//! - [`Secret::read_file`]: the server's `Secret_File`, refused when group
//!   or others can read it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

/// The keyring service name under which secrets are stored (account = profile name).
pub const KEYRING_SERVICE: &str = "knock";

/// A shared secret of at least [`Secret::MIN_BITS`] bits.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// The fewest bits a secret may have.
    pub const MIN_BITS: usize = 128;
    /// The size of a secret made by [`Secret::generate`] (like TOTP's 160).
    pub const GENERATED_BITS: usize = 160;

    /// A secret from raw bytes; fewer than 128 bits is an error.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Secret, SecretError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() * 8 < Self::MIN_BITS {
            return Err(SecretError::TooShort {
                bits: bytes.len() * 8,
            });
        }
        Ok(Secret { bytes })
    }

    /// A new random secret of [`Secret::GENERATED_BITS`] bits from the OS.
    pub fn generate() -> Result<Secret, SecretError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_BITS / 8]);
        getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(Secret { bytes })
    }

    /// Parses base32 (RFC 4648 alphabet `A-Z2-7`): case-insensitive;
    /// spaces, tabs, newlines, dashes and trailing `=` padding are ignored.
    pub fn parse_base32(text: &str) -> Result<Secret, SecretError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
                .trim_end_matches('=')
                .to_string(),
        );
        if cleaned.is_empty() {
            return Err(SecretError::Empty);
        }
        if let Some(c) = cleaned
            .chars()
            .find(|c| !matches!(c, 'A'..='Z' | '2'..='7'))
        {
            return Err(SecretError::BadBase32 {
                reason: format!("{c:?} is not a base32 character (A-Z, 2-7)"),
            });
        }
        let bytes = data_encoding::BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .map_err(|e| SecretError::BadBase32 {
                reason: match e.kind {
                    data_encoding::DecodeKind::Length => {
                        format!(
                            "{} characters is not a whole number of bytes",
                            cleaned.len()
                        )
                    }
                    _ => e.to_string(),
                },
            })?;
        Secret::from_bytes(bytes)
    }

    /// Upper-case base32 without padding (what [`Secret::parse_base32`] reads).
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.bytes)
    }

    /// The base32 text in groups of four, for reading aloud or typing.
    pub fn to_base32_grouped(&self) -> String {
        let text = self.to_base32();
        let chars: Vec<char> = text.chars().collect();
        chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn bits(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Reads a server's `Secret_File`: base32 text (surrounding whitespace
    /// ignored). On Unix the file must not be readable by group or others
    /// (mode 0600 or 0400), or it is refused.
    pub fn read_file(path: &Path) -> Result<Secret, SecretError> {
        let io_err = |error| SecretError::File {
            path: path.to_path_buf(),
            error,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(io_err)?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(SecretError::FileMode {
                    path: path.to_path_buf(),
                    mode: mode & 0o777,
                });
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io_err)?);
        Secret::parse_base32(&text).map_err(|e| SecretError::InFile {
            path: path.to_path_buf(),
            error: Box::new(e),
        })
    }
}

/// Shows the size only, never the secret.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bits)", self.bits())
    }
}

/// Where a rotating profile's secret comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretSource {
    /// The OS keyring: service [`KEYRING_SERVICE`], account = profile name.
    #[default]
    Keyring,
    /// A command whose standard output is the base32 secret, e.g.
    /// `pass show knock/myserver`.
    Command(String),
}

impl SecretSource {
    /// Loads the secret of profile `account`, using the OS keyring for
    /// [`SecretSource::Keyring`].
    pub fn load(&self, account: &str) -> Result<Secret, SecretError> {
        match self {
            SecretSource::Command(cmd) => run_secret_cmd(cmd),
            SecretSource::Keyring => load_from_os_keyring(account),
        }
    }
}

/// Where the secrets of rotating profiles are read: [`SystemSecrets`], or
/// a test's store.
pub trait LoadSecret {
    /// The secret of profile `account`, from `source`.
    fn load(&self, account: &str, source: &SecretSource) -> Result<Secret, SecretError>;
}

/// Any `Fn(account, source)` loads secrets (tests).
impl<F: Fn(&str, &SecretSource) -> Result<Secret, SecretError>> LoadSecret for F {
    fn load(&self, account: &str, source: &SecretSource) -> Result<Secret, SecretError> {
        self(account, source)
    }
}

/// The OS keyring and `secret_cmd`: [`SecretSource::load`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemSecrets;

impl LoadSecret for SystemSecrets {
    fn load(&self, account: &str, source: &SecretSource) -> Result<Secret, SecretError> {
        source.load(account)
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Keyring => write!(f, "the OS keyring (service \"{KEYRING_SERVICE}\")"),
            SecretSource::Command(cmd) => write!(f, "the command `{cmd}`"),
        }
    }
}

#[cfg(feature = "keyring")]
fn load_from_os_keyring(account: &str) -> Result<Secret, SecretError> {
    Keyring::os(account)?.get(account)
}

#[cfg(not(feature = "keyring"))]
fn load_from_os_keyring(account: &str) -> Result<Secret, SecretError> {
    Err(SecretError::NoKeyringSupport {
        account: account.to_string(),
    })
}

/// Runs `cmd` through the shell (`sh -c`, or `cmd /C` on Windows) and parses
/// its standard output (trimmed) as a base32 secret. A non-zero exit is an
/// error naming the command and quoting the first line of its stderr.
pub fn run_secret_cmd(cmd: &str) -> Result<Secret, SecretError> {
    let mut command = shell(cmd);
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|error| SecretError::CommandSpawn {
            cmd: cmd.to_string(),
            error,
        })?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(SecretError::CommandFailed {
            cmd: cmd.to_string(),
            status: output
                .status
                .code()
                .map_or_else(|| "a signal".to_string(), |c| format!("status {c}")),
            stderr: first.trim().to_string(),
        });
    }
    let text = Zeroizing::new(String::from_utf8_lossy(&stdout).into_owned());
    // `pass show` prints the secret on the first line and may add more.
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.is_empty() {
        return Err(SecretError::CommandEmpty {
            cmd: cmd.to_string(),
        });
    }
    Secret::parse_base32(first).map_err(|e| SecretError::FromCommand {
        cmd: cmd.to_string(),
        error: Box::new(e),
    })
}

fn shell(cmd: &str) -> Command {
    #[cfg(windows)]
    {
        // cmd.exe does not split its line like the C runtime: pass it as is.
        use std::os::windows::process::CommandExt;
        let mut c = Command::new("cmd");
        c.arg("/C").raw_arg(cmd);
        c
    }
    #[cfg(not(windows))]
    {
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd);
        c
    }
}

/// A credential store holding secrets under service [`KEYRING_SERVICE`].
#[cfg(feature = "keyring")]
#[derive(Clone)]
pub struct Keyring {
    store: std::sync::Arc<keyring_core::CredentialStore>,
}

#[cfg(feature = "keyring")]
impl Keyring {
    /// The OS store: Secret Service (Linux/BSD, over D-Bus with zbus),
    /// Credential Manager (Windows), Keychain (macOS). `account` only
    /// goes into the error message when no such service is running.
    pub fn os(account: &str) -> Result<Keyring, SecretError> {
        if let Err(e) = keyring::Entry::store_status() {
            return Err(SecretError::NoKeyringService {
                detail: e.to_string(),
                account: account.to_string(),
            });
        }
        match keyring_core::get_default_store() {
            Some(store) => Ok(Keyring { store }),
            None => Err(SecretError::NoKeyringService {
                detail: "no default credential store".to_string(),
                account: account.to_string(),
            }),
        }
    }

    /// Any `keyring_core` store, e.g. `keyring_core::mock::Store::new()` in tests.
    pub fn with_store(store: std::sync::Arc<keyring_core::CredentialStore>) -> Keyring {
        Keyring { store }
    }

    /// An in-memory store (the keyring crate's mock): nothing persists.
    pub fn mock() -> Result<Keyring, SecretError> {
        let store = keyring_core::mock::Store::new().map_err(|e| SecretError::Keyring {
            account: String::new(),
            detail: e.to_string(),
        })?;
        Ok(Keyring { store })
    }

    fn entry(&self, account: &str) -> Result<keyring_core::Entry, SecretError> {
        keyring_core::Entry::new_in_store(&self.store, KEYRING_SERVICE, account)
            .map_err(|e| keyring_error(account, e))
    }

    /// The secret of profile `account`.
    pub fn get(&self, account: &str) -> Result<Secret, SecretError> {
        let text = self
            .entry(account)?
            .get_password()
            .map(Zeroizing::new)
            .map_err(|e| keyring_error(account, e))?;
        Secret::parse_base32(&text).map_err(|e| SecretError::InKeyring {
            account: account.to_string(),
            error: Box::new(e),
        })
    }

    /// Stores (or replaces) the secret of profile `account`, as base32 text.
    pub fn set(&self, account: &str, secret: &Secret) -> Result<(), SecretError> {
        let text = Zeroizing::new(secret.to_base32());
        self.entry(account)?
            .set_password(&text)
            .map_err(|e| keyring_error(account, e))
    }

    /// A new random secret for profile `account`, stored in the keyring.
    /// A secret already there, readable or not, is replaced only when
    /// `replace`; otherwise nothing changes and the answer is
    /// [`Generated::Exists`]. (A locked keyring or a missing service is an
    /// error either way.)
    pub fn generate_for(&self, account: &str, replace: bool) -> Result<Generated, SecretError> {
        match self.get(account) {
            Err(SecretError::NotInKeyring { .. }) => {}
            Ok(_) | Err(SecretError::InKeyring { .. }) if replace => {}
            Ok(_) | Err(SecretError::InKeyring { .. }) => return Ok(Generated::Exists),
            Err(e) => return Err(e),
        }
        let secret = Secret::generate()?;
        self.set(account, &secret)?;
        Ok(Generated::Stored(secret))
    }

    /// Moves the secret of profile `old` to profile `new` (a renamed
    /// profile keeps its secret); `Ok(false)` if `old` had none. Refuses to
    /// replace a secret `new` already has.
    pub fn rename(&self, old: &str, new: &str) -> Result<bool, SecretError> {
        let secret = match self.get(old) {
            Ok(secret) => secret,
            Err(SecretError::NotInKeyring { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        match self.get(new) {
            Err(SecretError::NotInKeyring { .. }) => {}
            Ok(_) => {
                return Err(SecretError::Keyring {
                    account: new.to_string(),
                    detail: format!(
                        "it already has a secret; the secret of \"{old}\" stays under that name"
                    ),
                });
            }
            Err(e) => return Err(e),
        }
        self.set(new, &secret)?;
        self.delete(old)?;
        Ok(true)
    }

    /// Removes the secret of profile `account`; `Ok(false)` if there was none.
    pub fn delete(&self, account: &str) -> Result<bool, SecretError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(keyring_error(account, e)),
        }
    }
}

/// What [`Keyring::generate_for`] came to.
#[cfg(feature = "keyring")]
#[derive(Debug)]
pub enum Generated {
    /// This new secret is now in the keyring.
    Stored(Secret),
    /// The keyring already holds a secret (maybe an unreadable one) and it
    /// was not to be replaced; nothing changed.
    Exists,
}

#[cfg(feature = "keyring")]
fn keyring_error(account: &str, e: keyring_core::Error) -> SecretError {
    match e {
        keyring_core::Error::NoEntry => SecretError::NotInKeyring {
            account: account.to_string(),
        },
        keyring_core::Error::NoDefaultStore => SecretError::NoKeyringService {
            detail: e.to_string(),
            account: account.to_string(),
        },
        keyring_core::Error::NoStorageAccess(_) => SecretError::KeyringLocked {
            account: account.to_string(),
            detail: e.to_string(),
        },
        other => SecretError::Keyring {
            account: account.to_string(),
            detail: other.to_string(),
        },
    }
}

/// What went wrong getting or reading a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("empty secret (expected base32 text, at least 128 bits)")]
    Empty,
    #[error(
        "secret has {bits} bits; at least 128 are needed (make one with knock --gen-secret NAME)"
    )]
    TooShort { bits: usize },
    #[error("secret is not valid base32: {reason}")]
    BadBase32 { reason: String },
    #[error("could not get random bytes from the OS: {0}")]
    Random(String),
    #[error(
        "no keyring service is available ({detail}); use secret_cmd = \"pass show knock/{account}\" instead"
    )]
    NoKeyringService { detail: String, account: String },
    #[error(
        "this knock was built without keyring support; use secret_cmd = \"pass show knock/{account}\" instead"
    )]
    NoKeyringSupport { account: String },
    #[error(
        "no secret for \"{account}\" in the keyring (service \"knock\"); create one with knock --gen-secret {account}"
    )]
    NotInKeyring { account: String },
    #[error("the keyring is locked or refused access to \"{account}\" ({detail})")]
    KeyringLocked { account: String, detail: String },
    #[error("keyring error for \"{account}\": {detail}")]
    Keyring { account: String, detail: String },
    #[error("the secret of \"{account}\" in the keyring is unusable: {error}")]
    InKeyring {
        account: String,
        error: Box<SecretError>,
    },
    #[error("could not run secret_cmd `{cmd}`: {error}")]
    CommandSpawn { cmd: String, error: io::Error },
    #[error("secret_cmd `{cmd}` failed with {status}{}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    CommandFailed {
        cmd: String,
        status: String,
        stderr: String,
    },
    #[error("secret_cmd `{cmd}` printed nothing (expected the base32 secret)")]
    CommandEmpty { cmd: String },
    #[error("secret_cmd `{cmd}` printed an unusable secret: {error}")]
    FromCommand {
        cmd: String,
        error: Box<SecretError>,
    },
    #[error("{}: {error}", path.display())]
    File { path: PathBuf, error: io::Error },
    #[error(
        "{}: secret file is readable by group or others (mode {mode:04o}); run chmod 600 {}",
        path.display(),
        path.display()
    )]
    FileMode { path: PathBuf, mode: u32 },
    #[error("{}: {error}", path.display())]
    InFile {
        path: PathBuf,
        error: Box<SecretError>,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    // RFC 4648 section 10 test vectors (base32), padded up to 16 bytes.
    #[test]
    fn base32_round_trip_and_rfc4648() {
        assert_eq!(data_encoding::BASE32_NOPAD.encode(b"foobar"), "MZXW6YTBOI");
        let s = Secret::from_bytes(b"0123456789abcdefghij".to_vec()).unwrap();
        assert_eq!(s.to_base32(), "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK");
        assert_eq!(Secret::parse_base32(&s.to_base32()).unwrap(), s);
        assert_eq!(s.bits(), 160);
    }

    #[test]
    fn base32_is_forgiving_about_case_spaces_dashes_and_padding() {
        let want = Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK").unwrap();
        for text in [
            "gaytemzugu3doobzmfrggzdfmztwq2lk",
            "GAYT EMZU GU3D OOBZ MFRG GZDF MZTW Q2LK",
            "gayt-emzu-gu3d-oobz-mfrg-gzdf-mztw-q2lk\n",
            "  GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK  ",
        ] {
            assert_eq!(Secret::parse_base32(text).unwrap(), want, "{text}");
        }
        // 16 bytes need padding in RFC 4648; it is accepted and not required.
        let s16 = Secret::from_bytes(vec![7; 16]).unwrap();
        let text = s16.to_base32();
        assert!(!text.contains('='));
        assert_eq!(Secret::parse_base32(&format!("{text}======")).unwrap(), s16);
    }

    #[test]
    fn base32_errors_say_what_is_wrong() {
        let e = Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2L1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret is not valid base32: '1' is not a base32 character (A-Z, 2-7)"
        );
        let e = Secret::parse_base32("MZXW6YTBOI").unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret has 48 bits; at least 128 are needed (make one with knock --gen-secret NAME)"
        );
        let e = Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LKA").unwrap_err();
        assert!(matches!(e, SecretError::BadBase32 { .. }), "{e}");
        assert!(matches!(
            Secret::parse_base32("  \n").unwrap_err(),
            SecretError::Empty
        ));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::parse_base32("GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK").unwrap();
        let shown = format!("{s:?} {:?}", Some(&s));
        assert_eq!(shown, "Secret(160 bits) Some(Secret(160 bits))");
        assert!(!shown.contains("GAYT"));
    }

    #[test]
    fn generated_secrets_are_160_bits_and_differ() {
        let a = Secret::generate().unwrap();
        let b = Secret::generate().unwrap();
        assert_eq!(a.bits(), 160);
        assert_ne!(a, b);
        assert_eq!(a.to_base32().len(), 32);
        assert_eq!(a.to_base32_grouped().len(), 32 + 7);
    }

    #[cfg(unix)]
    #[test]
    fn secret_cmd_reads_stdout_and_names_the_command_on_failure() {
        let s = run_secret_cmd("printf 'gaytemzugu3doobzmfrggzdfmztwq2lk\\nurl: x\\n'").unwrap();
        assert_eq!(s.to_base32(), "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK");
        let e = run_secret_cmd("echo 'not in the store' >&2; exit 3").unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret_cmd `echo 'not in the store' >&2; exit 3` failed with status 3: not in the store"
        );
        let e = run_secret_cmd("true").unwrap_err();
        assert_eq!(
            e.to_string(),
            "secret_cmd `true` printed nothing (expected the base32 secret)"
        );
        let e = run_secret_cmd("echo hello").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("secret_cmd `echo hello` printed an unusable secret"),
            "{e}"
        );
        let source = SecretSource::Command("echo GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK".into());
        assert_eq!(source.load("x").unwrap().bits(), 160);
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("door.secret");
        std::fs::write(&path, "GAYTEMZUGU3DOOBZMFRGGZDFMZTWQ2LK\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Secret::read_file(&path).unwrap_err();
        assert!(
            e.to_string().ends_with(&format!(
                "secret file is readable by group or others (mode 0644); run chmod 600 {}",
                path.display()
            )),
            "{e}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Secret::read_file(&path).unwrap().bits(), 160);
        std::fs::write(&path, "short").unwrap();
        let e = Secret::read_file(&path).unwrap_err();
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
        let e = Secret::read_file(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(e, SecretError::File { .. }), "{e}");
    }

    #[cfg(feature = "keyring")]
    #[test]
    fn keyring_mock_stores_and_reads_back() {
        let ring = Keyring::mock().unwrap();
        let e = ring.get("myserver").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no secret for \"myserver\" in the keyring (service \"knock\"); create one with knock --gen-secret myserver"
        );
        let s = Secret::generate().unwrap();
        ring.set("myserver", &s).unwrap();
        assert_eq!(ring.get("myserver").unwrap(), s);
        let other = Secret::generate().unwrap();
        ring.set("myserver", &other).unwrap();
        assert_eq!(ring.get("myserver").unwrap(), other);
        assert!(ring.delete("myserver").unwrap());
        assert!(!ring.delete("myserver").unwrap());
    }

    #[cfg(feature = "keyring")]
    #[test]
    fn keyring_rename_moves_the_secret_and_never_overwrites() {
        let ring = Keyring::mock().unwrap();
        assert!(!ring.rename("a", "b").unwrap(), "nothing to move");
        let s = Secret::generate().unwrap();
        ring.set("a", &s).unwrap();
        assert!(ring.rename("a", "b").unwrap());
        assert_eq!(ring.get("b").unwrap(), s);
        assert!(matches!(
            ring.get("a"),
            Err(SecretError::NotInKeyring { .. })
        ));
        let t = Secret::generate().unwrap();
        ring.set("c", &t).unwrap();
        let e = ring.rename("b", "c").unwrap_err();
        assert!(e.to_string().contains("already has a secret"), "{e}");
        assert_eq!(ring.get("c").unwrap(), t, "c kept its own secret");
        assert_eq!(ring.get("b").unwrap(), s, "b kept its secret");
    }

    #[cfg(feature = "keyring")]
    #[test]
    fn generate_for_keeps_a_secret_unless_replacing_even_an_unreadable_one() {
        let ring = Keyring::mock().unwrap();
        let Generated::Stored(first) = ring.generate_for("v", false).unwrap() else {
            panic!("not stored");
        };
        assert_eq!(ring.get("v").unwrap(), first);
        assert!(matches!(
            ring.generate_for("v", false).unwrap(),
            Generated::Exists
        ));
        assert_eq!(ring.get("v").unwrap(), first);
        let Generated::Stored(second) = ring.generate_for("v", true).unwrap() else {
            panic!("not replaced");
        };
        assert_ne!(first, second);
        assert_eq!(ring.get("v").unwrap(), second);
        // A secret that no longer parses (edited by hand in the keyring).
        ring.entry("v")
            .unwrap()
            .set_password("not base32!")
            .unwrap();
        assert!(matches!(ring.get("v"), Err(SecretError::InKeyring { .. })));
        assert!(matches!(
            ring.generate_for("v", false).unwrap(),
            Generated::Exists
        ));
        let Generated::Stored(third) = ring.generate_for("v", true).unwrap() else {
            panic!("an unreadable secret was not replaced");
        };
        assert_eq!(ring.get("v").unwrap(), third);
    }

    #[test]
    fn no_keyring_service_points_to_secret_cmd() {
        let e = SecretError::NoKeyringService {
            detail: "no D-Bus session bus".into(),
            account: "myserver".into(),
        };
        assert_eq!(
            e.to_string(),
            "no keyring service is available (no D-Bus session bus); use secret_cmd = \"pass show knock/myserver\" instead"
        );
    }
}
