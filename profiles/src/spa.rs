//! Single Packet Authorization in fwknop's FKO format (protocol 3.0.0), the
//! format Debian's fwknop 2.6.10 client sends and its fwknopd accepts:
//! [`encode`] builds a packet, [`decode`] checks and opens one. No sockets
//! here: a packet is the payload of one UDP datagram (port [`DEFAULT_PORT`]).
//!
//! # The format
//!
//! The *encoded message* is `:`-separated ASCII:
//!
//! ```text
//! RANDOM:B64(USER):TIMESTAMP:VERSION:TYPE:B64(ACCESS)[:CLIENT_TIMEOUT]
//! 1823497406283806:cm9vdA:1796141766:3.0.0:1:MTkyLjAuMi4yLHRjcC8yMg
//! ```
//!
//! - RANDOM: 16 random decimal digits;
//! - USER: the user name, in base64 (fwknop's `-U`, default the login name);
//! - TIMESTAMP: seconds since the Unix epoch, decimal;
//! - VERSION: `3.0.0`;
//! - TYPE: `1` (access), or `3` (access with a client timeout); fwknop's other
//!   types (command 0, NAT access 2, 4, 5, 6) are refused;
//! - ACCESS: `IP,proto/port[,proto/port...]` in base64, e.g.
//!   `192.0.2.2,tcp/22`; IP `0.0.0.0` asks the server to allow the packet's
//!   source address ([`AllowIp::Source`], fwknop's `-s`);
//! - CLIENT_TIMEOUT: seconds the server should keep the rule (fwknop's `-f`),
//!   only with type 3.
//!
//! "Base64" is the standard alphabet with the `=` padding stripped, as
//! fwknop writes it everywhere. The plaintext is the encoded message, `:`,
//! and the base64 SHA-256 digest of the encoded message.
//!
//! The plaintext is encrypted with AES-256 in CBC mode with PKCS#7 padding,
//! OpenSSL-style: `Salted__`, an 8-byte random salt, then the ciphertext;
//! the AES key and IV come from the encryption key (`KEY_BASE64`, used as a
//! passphrase of up to 32 bytes) and the salt as in OpenSSL's
//! `EVP_BytesToKey` with MD5 and one round: `D1 = MD5(key || salt)`,
//! `Dn = MD5(Dn-1 || key || salt)`, AES key = `D1 || D2`, IV = `D3`.
//! That byte string in base64 always starts with `U2FsdGVkX1` (from
//! `Salted__`), which fwknop strips from the packet. The HMAC-SHA256
//! (`HMAC_KEY_BASE64`) of the base64 text *with* the prefix, in base64, is
//! appended:
//!
//! ```text
//! packet = B64(Salted__ || salt || AES-CBC(plaintext))[10..] || B64(HMAC)
//! ```
//!
//! # Decoding
//!
//! [`decode`] checks, in this order and before decrypting anything: the
//! length (fwknopd's 140..=1500 bytes), the alphabet, that the packet does
//! not start with `U2FsdGVkX1` (fwknopd refuses that too: it would be a
//! replayed packet with the prefix put back, so a new replay digest), and the
//! HMAC, compared as text in constant time. Only then is anything decoded
//! and decrypted; the digest and every field are checked after. It never
//! panics and never allocates: every buffer is on the stack and bounded by
//! [`MAX_PACKET_LEN`]; a packet that fails the HMAC costs one HMAC-SHA256.
//! Its errors ([`SpaError`]) are small `Copy` values that hold no packet
//! data, so a server can log them as they are.
//!
//! Replay and clock checks are the server's (see [`crate::spa_replay`]);
//! [`replay_digest`] is the digest fwknopd keeps for that: SHA-256 of the
//! whole packet.

use std::fmt;
use std::net::Ipv4Addr;
use std::num::NonZeroU32;
use std::str::FromStr;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use data_encoding::BASE64_NOPAD;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::sequence::Proto;

/// fwknop's default SPA port (UDP).
pub const DEFAULT_PORT: u16 = 62201;
/// The FKO protocol version this module speaks (fwknop 2.5 and later).
pub const PROTOCOL_VERSION: &str = "3.0.0";
/// The shortest payload fwknopd looks at (its `MIN_SPA_DATA_SIZE`).
pub const MIN_PACKET_LEN: usize = 140;
/// The longest payload fwknopd looks at (its `MAX_SPA_PACKET_LEN`).
pub const MAX_PACKET_LEN: usize = 1500;
/// The longest encryption key (passphrase) fwknop uses (`RIJNDAEL_MAX_KEYSIZE`).
pub const MAX_ENCRYPTION_KEY_LEN: usize = 32;
/// The longest HMAC key fwknop uses (the SHA-512 block size).
pub const MAX_HMAC_KEY_LEN: usize = 128;
/// The longest user name that fits fwknopd's 64-character base64 field.
pub const MAX_USER_LEN: usize = 48;
/// The longest access string (`IP,proto/port,...`) that fits fwknopd's
/// 256-character base64 field.
pub const MAX_ACCESS_LEN: usize = 192;
/// The most `proto/port` entries an access string of [`MAX_ACCESS_LEN`]
/// characters can hold (`0.0.0.0,` then `tcp/1,` 30 times and one more).
pub const MAX_PORTS: usize = 32;
/// The longest client timeout fwknop sends, in seconds (`2 << 15`).
pub const MAX_CLIENT_TIMEOUT: u32 = 65_536;

/// Base64 of `Salted__` as the packet would start without fwknop's stripping.
const SALTED_B64: &[u8; 10] = b"U2FsdGVkX1";
const SALTED: &[u8; 8] = b"Salted__";
const SALT_LEN: usize = 8;
const BLOCK: usize = 16;
/// Base64 length of a SHA-256 value without padding.
const SHA256_B64_LEN: usize = 43;
const RANDOM_LEN: usize = 16;
const MAX_USER_B64: usize = 64;
const MAX_ACCESS_B64: usize = 256;
const MAX_VERSION_LEN: usize = 8;
const MAX_TIMESTAMP_DIGITS: usize = 12;
/// The longest base64 text of `Salted__ || salt || ciphertext` (prefix put back).
const MAX_CIPHER_B64: usize = MAX_PACKET_LEN - SHA256_B64_LEN + SALTED_B64.len();
/// Room for that text decoded.
const MAX_CIPHER_RAW: usize = MAX_CIPHER_B64 * 3 / 4;

type HmacSha256 = Hmac<Sha256>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

// ------------------------------------------------------------------ keys

/// Which of the two keys a [`KeyError`] is about, named as fwknop's files
/// name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `KEY_BASE64` / `KEY`: encrypts the packet.
    Encryption,
    /// `HMAC_KEY_BASE64` / `HMAC_KEY`: authenticates the packet.
    Hmac,
}

impl KeyKind {
    /// The base64 key's name in fwknop's files.
    pub const fn name(self) -> &'static str {
        match self {
            KeyKind::Encryption => "KEY_BASE64",
            KeyKind::Hmac => "HMAC_KEY_BASE64",
        }
    }

    const fn max_len(self) -> usize {
        match self {
            KeyKind::Encryption => MAX_ENCRYPTION_KEY_LEN,
            KeyKind::Hmac => MAX_HMAC_KEY_LEN,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Encryption => "encryption key",
            KeyKind::Hmac => "HMAC key",
        })
    }
}

/// A key that cannot be used. Never holds key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{which} is empty")]
    Empty { which: KeyKind },
    #[error("{which} is {len} bytes long, fwknop allows at most {max}")]
    TooLong {
        which: KeyKind,
        len: usize,
        max: usize,
    },
    #[error("{which} is not base64")]
    NotBase64 { which: KeyKind },
    #[error("{which} is still fwknop's placeholder __CHANGEME__")]
    Placeholder { which: KeyKind },
    #[error("no random numbers from the operating system: {0}")]
    Random(getrandom::Error),
}

/// Key bytes, zeroed on drop; `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq)]
struct KeyBytes(Zeroizing<Vec<u8>>);

impl KeyBytes {
    fn new(which: KeyKind, bytes: Vec<u8>) -> Result<KeyBytes, KeyError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.is_empty() {
            return Err(KeyError::Empty { which });
        }
        if bytes.len() > which.max_len() {
            return Err(KeyError::TooLong {
                which,
                len: bytes.len(),
                max: which.max_len(),
            });
        }
        Ok(KeyBytes(bytes))
    }

    fn from_base64(which: KeyKind, text: &str) -> Result<KeyBytes, KeyError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("__CHANGEME__") {
            return Err(KeyError::Placeholder { which });
        }
        let bytes = decode_b64_padded(text).ok_or(KeyError::NotBase64 { which })?;
        KeyBytes::new(which, bytes)
    }

    fn generate(len: usize) -> Result<KeyBytes, KeyError> {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        getrandom::fill(&mut bytes).map_err(KeyError::Random)?;
        Ok(KeyBytes(bytes))
    }

    fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE64.encode(&self.0))
    }
}

/// What [`EncryptionKey`] and [`HmacKey`] share, for the key kind each is:
/// `new`, `from_base64` (as in the `$b64` line), `from_passphrase` (as in
/// the `$pass` line: its bytes, as fwknop uses them), `to_base64`,
/// `as_bytes`, and a `Debug` that shows only the length.
macro_rules! spa_key {
    ($name:ident, $kind:expr, $b64:literal, $pass:literal) => {
        impl $name {
            pub fn new(bytes: Vec<u8>) -> Result<$name, KeyError> {
                KeyBytes::new($kind, bytes).map($name)
            }

            #[doc = concat!("From base64 as in `", $b64, "` (`=` padding optional).")]
            pub fn from_base64(text: &str) -> Result<$name, KeyError> {
                KeyBytes::from_base64($kind, text).map($name)
            }

            #[doc = concat!("From a passphrase as in `", $pass, "` (its bytes, as fwknop uses them).")]
            pub fn from_passphrase(text: &str) -> Result<$name, KeyError> {
                if text.eq_ignore_ascii_case("__CHANGEME__") {
                    return Err(KeyError::Placeholder { which: $kind });
                }
                $name::new(text.as_bytes().to_vec())
            }

            /// Base64 with padding, as `fwknop --key-gen` prints it.
            pub fn to_base64(&self) -> Zeroizing<String> {
                self.0.to_base64()
            }

            pub fn as_bytes(&self) -> &[u8] {
                &self.0.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({} bytes)"), self.0.0.len())
            }
        }
    };
}

/// The encryption key: fwknop's `KEY_BASE64` (or a `KEY` passphrase), 1 to
/// 32 bytes, used as the passphrase of the key derivation.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey(KeyBytes);

impl EncryptionKey {
    /// The size of a key made by [`SpaKeys::generate`] (fwknop's `--key-gen`).
    pub const GENERATED_LEN: usize = 32;
}

spa_key!(EncryptionKey, KeyKind::Encryption, "KEY_BASE64", "KEY");

/// The HMAC key: fwknop's `HMAC_KEY_BASE64` (or an `HMAC_KEY`), 1 to 128 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacKey(KeyBytes);

impl HmacKey {
    /// The size of a key made by [`SpaKeys::generate`] (fwknop's `--key-gen`
    /// for HMAC-SHA256: the SHA-256 block size).
    pub const GENERATED_LEN: usize = 64;

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length; this cannot fail.
        match HmacSha256::new_from_slice(&self.0.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }
}

spa_key!(HmacKey, KeyKind::Hmac, "HMAC_KEY_BASE64", "HMAC_KEY");

/// The two keys of an fwknop access stanza or `.fwknoprc` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaKeys {
    pub encryption: EncryptionKey,
    pub hmac: HmacKey,
}

impl SpaKeys {
    /// New random keys of the sizes `fwknop --key-gen` makes (32-byte
    /// encryption key, 64-byte HMAC-SHA256 key).
    pub fn generate() -> Result<SpaKeys, KeyError> {
        Ok(SpaKeys {
            encryption: EncryptionKey(KeyBytes::generate(EncryptionKey::GENERATED_LEN)?),
            hmac: HmacKey(KeyBytes::generate(HmacKey::GENERATED_LEN)?),
        })
    }
}

// ------------------------------------------------------------------ fields

/// The 16 random decimal digits that start every message.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RandomValue([u8; RANDOM_LEN]);

impl RandomValue {
    /// 16 uniformly random digits from the operating system.
    pub fn generate() -> Result<RandomValue, getrandom::Error> {
        let mut digits = [b'0'; RANDOM_LEN];
        let mut filled = 0;
        let mut pool = [0u8; 32];
        while filled < RANDOM_LEN {
            getrandom::fill(&mut pool)?;
            // Bytes below 250 are uniform modulo 10.
            for &b in pool.iter().filter(|&&b| b < 250) {
                if filled == RANDOM_LEN {
                    break;
                }
                digits[filled] = b'0' + b % 10;
                filled += 1;
            }
        }
        Ok(RandomValue(digits))
    }

    /// From 16 decimal digits.
    pub fn from_digits(text: &str) -> Option<RandomValue> {
        let bytes: [u8; RANDOM_LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_digit)
            .then_some(RandomValue(bytes))
    }

    pub fn as_str(&self) -> &str {
        ascii_str(&self.0)
    }
}

impl fmt::Debug for RandomValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RandomValue({})", self.as_str())
    }
}

impl fmt::Display for RandomValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a user name cannot go in a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("empty user name")]
    Empty,
    #[error("user name of {len} characters is too long (at most {MAX_USER_LEN})")]
    TooLong { len: usize },
    #[error(
        "user name has {found:?}, which fwknop does not allow (printable ASCII except \" / \\ [ ] : ; | = , + * ? < >)"
    )]
    BadChar { found: char },
}

/// The user name of a message: fwknop's rules (printable ASCII without
/// `" / \ [ ] : ; | = , + * ? < >`), 1 to [`MAX_USER_LEN`] characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Username {
    bytes: [u8; MAX_USER_LEN],
    len: u8,
}

impl Username {
    pub fn new(name: &str) -> Result<Username, UsernameError> {
        if name.is_empty() {
            return Err(UsernameError::Empty);
        }
        if let Some(found) = name.chars().find(|&c| !user_char_ok(c)) {
            return Err(UsernameError::BadChar { found });
        }
        Username::from_bytes(name.as_bytes()).ok_or(UsernameError::TooLong { len: name.len() })
    }

    /// Checked bytes (fwknop's rules, length 1..=48), or `None`.
    fn from_bytes(name: &[u8]) -> Option<Username> {
        if name.is_empty() || name.len() > MAX_USER_LEN {
            return None;
        }
        if !name.iter().all(|&b| user_char_ok(char::from(b))) {
            return None;
        }
        let mut bytes = [0u8; MAX_USER_LEN];
        bytes[..name.len()].copy_from_slice(name);
        Some(Username {
            bytes,
            // At most 48: fits.
            len: name.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        ascii_str(&self.bytes[..usize::from(self.len)])
    }
}

fn user_char_ok(c: char) -> bool {
    c == ' ' || (c.is_ascii_graphic() && !"\"/\\[]:;|=,+*?<>".contains(c))
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.as_str())
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Username {
    type Err = UsernameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Username::new(s)
    }
}

/// The protocol version a message names (digits and dots, up to 8).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    bytes: [u8; MAX_VERSION_LEN],
    len: u8,
}

impl Version {
    /// [`PROTOCOL_VERSION`], the version this module writes.
    pub const CURRENT: Version = Version {
        bytes: *b"3.0.0\0\0\0",
        len: 5,
    };

    fn from_bytes(text: &[u8]) -> Option<Version> {
        if text.is_empty() || text.len() > MAX_VERSION_LEN {
            return None;
        }
        if !text.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let mut bytes = [0u8; MAX_VERSION_LEN];
        bytes[..text.len()].copy_from_slice(text);
        Some(Version {
            bytes,
            len: text.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        ascii_str(&self.bytes[..usize::from(self.len)])
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.as_str())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address a message asks the server to let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowIp {
    /// `0.0.0.0` on the wire (fwknop's `-s`): the packet's source address,
    /// if the server's stanza allows it (no `REQUIRE_SOURCE_ADDRESS`).
    Source,
    /// This address (fwknop's `-a`).
    Addr(Ipv4Addr),
}

impl AllowIp {
    /// The address as written in the access string.
    pub fn wire(self) -> Ipv4Addr {
        match self {
            AllowIp::Source => Ipv4Addr::UNSPECIFIED,
            AllowIp::Addr(a) => a,
        }
    }

    fn from_wire(addr: Ipv4Addr) -> AllowIp {
        if addr.is_unspecified() {
            AllowIp::Source
        } else {
            AllowIp::Addr(addr)
        }
    }
}

impl fmt::Display for AllowIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.wire())
    }
}

/// One `proto/port` of an access request (`tcp/22`); the port is 1..=65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtoPort {
    pub proto: Proto,
    pub port: u16,
}

impl fmt::Display for ProtoPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.proto, self.port)
    }
}

/// Why a `proto/port` list (fwknop's `-A`, `ACCESS`, `OPEN_PORTS`) is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("empty port list (expected proto/port entries like \"tcp/22,udp/53\")")]
    Empty,
    #[error("bad entry \"{token}\" (expected proto/port like \"tcp/22\")")]
    BadEntry { token: String },
    #[error("unknown protocol in \"{token}\" (expected tcp or udp)")]
    UnknownProto { token: String },
    #[error("bad port in \"{token}\" (expected a number 1-65535)")]
    BadPort { token: String },
    #[error("more than {MAX_PORTS} entries")]
    TooMany,
}

/// A non-empty list of up to [`MAX_PORTS`] `proto/port` entries, in order,
/// held inline (no allocation).
#[derive(Clone, Copy)]
pub struct PortList {
    items: [ProtoPort; MAX_PORTS],
    len: u8,
}

impl PortList {
    /// The entries as a list; `None` when empty or longer than [`MAX_PORTS`].
    pub fn new(entries: &[ProtoPort]) -> Option<PortList> {
        let mut list = PortList::empty();
        for &e in entries {
            if e.port == 0 || !list.push(e) {
                return None;
            }
        }
        (list.len > 0).then_some(list)
    }

    const fn empty() -> PortList {
        PortList {
            items: [ProtoPort {
                proto: Proto::Tcp,
                port: 0,
            }; MAX_PORTS],
            len: 0,
        }
    }

    fn push(&mut self, entry: ProtoPort) -> bool {
        let len = usize::from(self.len);
        if len == MAX_PORTS {
            return false;
        }
        self.items[len] = entry;
        self.len += 1;
        true
    }

    pub fn as_slice(&self) -> &[ProtoPort] {
        &self.items[..usize::from(self.len)]
    }

    /// Parses fwknop's `-A` / `OPEN_PORTS` syntax: `tcp/22,udp/53`
    /// (protocol case-insensitive, blanks around entries allowed).
    pub fn parse(text: &str) -> Result<PortList, AccessError> {
        let mut list = PortList::empty();
        if text.trim().is_empty() {
            return Err(AccessError::Empty);
        }
        for token in text.split(',') {
            let token = token.trim();
            let entry = parse_proto_port(token)?;
            if !list.push(entry) {
                return Err(AccessError::TooMany);
            }
        }
        Ok(list)
    }
}

/// One `proto/port`.
pub fn parse_proto_port(token: &str) -> Result<ProtoPort, AccessError> {
    let Some((proto, port)) = token.split_once('/') else {
        return Err(AccessError::BadEntry {
            token: token.to_string(),
        });
    };
    // No allocation here: the server parses requests with this.
    let proto = proto.trim();
    let proto = if proto.eq_ignore_ascii_case("tcp") {
        Proto::Tcp
    } else if proto.eq_ignore_ascii_case("udp") {
        Proto::Udp
    } else {
        return Err(AccessError::UnknownProto {
            token: token.to_string(),
        });
    };
    let port = port.trim();
    let port = (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .then(|| port.parse::<u16>().ok())
        .flatten()
        .filter(|&p| p != 0)
        .ok_or_else(|| AccessError::BadPort {
            token: token.to_string(),
        })?;
    Ok(ProtoPort { proto, port })
}

impl PartialEq for PortList {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for PortList {}

impl std::hash::Hash for PortList {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for PortList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl fmt::Display for PortList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl FromStr for PortList {
    type Err = AccessError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PortList::parse(s)
    }
}

/// A client timeout (fwknop's `-f`): 1 to [`MAX_CLIENT_TIMEOUT`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientTimeout(NonZeroU32);

impl ClientTimeout {
    pub fn new(secs: u32) -> Option<ClientTimeout> {
        NonZeroU32::new(secs)
            .filter(|s| s.get() <= MAX_CLIENT_TIMEOUT)
            .map(ClientTimeout)
    }

    pub fn secs(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for ClientTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ------------------------------------------------------------------ message

/// An access request: what a packet carries once decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Message {
    pub random: RandomValue,
    pub user: Username,
    /// Seconds since the Unix epoch on the client's clock (at most `u32::MAX`).
    pub timestamp: u64,
    pub version: Version,
    pub allow: AllowIp,
    pub ports: PortList,
    pub client_timeout: Option<ClientTimeout>,
}

/// fwknop's access message type.
const TYPE_ACCESS: u8 = 1;
/// fwknop's access message type with a client timeout.
const TYPE_CLIENT_TIMEOUT_ACCESS: u8 = 3;

impl Message {
    /// A new access request with a fresh random value and version 3.0.0.
    pub fn new(
        user: Username,
        allow: AllowIp,
        ports: PortList,
        client_timeout: Option<ClientTimeout>,
        timestamp: u64,
    ) -> Result<Message, EncodeError> {
        Ok(Message {
            random: RandomValue::generate().map_err(EncodeError::Random)?,
            user,
            timestamp,
            version: Version::CURRENT,
            allow,
            ports,
            client_timeout,
        })
    }

    /// fwknop's message type number: 1 (access) or 3 (access with a client timeout).
    pub fn message_type(&self) -> u8 {
        if self.client_timeout.is_some() {
            TYPE_CLIENT_TIMEOUT_ACCESS
        } else {
            TYPE_ACCESS
        }
    }

    /// The access string, `IP,proto/port,...`, as in the packet.
    pub fn access_string(&self) -> String {
        format!("{},{}", self.allow, self.ports)
    }

    /// The encoded message (before the digest), as `fwknop -v` prints it
    /// under "Encoded Data".
    pub fn encoded(&self) -> Result<String, EncodeError> {
        if self.timestamp > u64::from(u32::MAX) {
            return Err(EncodeError::Timestamp {
                timestamp: self.timestamp,
            });
        }
        let access = self.access_string();
        if access.len() > MAX_ACCESS_LEN {
            return Err(EncodeError::AccessTooLong { len: access.len() });
        }
        let mut out = format!(
            "{}:{}:{}:{}:{}:{}",
            self.random,
            BASE64_NOPAD.encode(self.user.as_str().as_bytes()),
            self.timestamp,
            self.version,
            self.message_type(),
            BASE64_NOPAD.encode(access.as_bytes()),
        );
        if let Some(t) = self.client_timeout {
            out.push(':');
            out.push_str(&t.to_string());
        }
        Ok(out)
    }
}

/// The fields as `fwknop -v` lists them (for `--dry-run`; no key material).
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.client_timeout {
            Some(_) => "Client timeout access msg",
            None => "Access msg",
        };
        writeln!(f, "   Random Value: {}", self.random)?;
        writeln!(f, "       Username: {}", self.user)?;
        writeln!(f, "      Timestamp: {}", self.timestamp)?;
        writeln!(f, "    FKO Version: {}", self.version)?;
        writeln!(f, "   Message Type: {} ({kind})", self.message_type())?;
        writeln!(f, " Message String: {},{}", self.allow, self.ports)?;
        write!(
            f,
            " Client Timeout: {}",
            self.client_timeout.map_or(0, ClientTimeout::secs)
        )
    }
}

// ------------------------------------------------------------------ encode

/// Why a message cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("the access string is {len} characters long; fwknop allows at most {MAX_ACCESS_LEN}")]
    AccessTooLong { len: usize },
    #[error("timestamp {timestamp} does not fit fwknop's 32-bit field")]
    Timestamp { timestamp: u64 },
    #[error("no random numbers from the operating system: {0}")]
    Random(getrandom::Error),
}

/// Encodes, encrypts and authenticates a message with a fresh random salt:
/// the packet to send as one UDP payload.
pub fn encode(message: &Message, keys: &SpaKeys) -> Result<String, EncodeError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(EncodeError::Random)?;
    encode_with_salt(message, keys, salt)
}

/// [`encode`] with a given salt (for tests: the same inputs give the same packet).
pub fn encode_with_salt(
    message: &Message,
    keys: &SpaKeys,
    salt: [u8; SALT_LEN],
) -> Result<String, EncodeError> {
    let encoded = message.encoded()?;
    let digest = BASE64_NOPAD.encode(&Sha256::digest(encoded.as_bytes()));
    let plaintext = Zeroizing::new(format!("{encoded}:{digest}"));

    let (key, iv) = derive_key_iv(keys.encryption.as_bytes(), &salt);
    let pt_len = plaintext.len();
    let mut raw = Zeroizing::new(vec![0u8; BLOCK + pt_len + BLOCK]);
    raw[..SALT_LEN].copy_from_slice(SALTED);
    raw[SALT_LEN..BLOCK].copy_from_slice(&salt);
    raw[BLOCK..BLOCK + pt_len].copy_from_slice(plaintext.as_bytes());
    let ct_len = match Aes256CbcEnc::new(&(*key).into(), &(*iv).into())
        .encrypt_padded::<Pkcs7>(&mut raw[BLOCK..], pt_len)
    {
        Ok(ct) => ct.len(),
        Err(_) => unreachable!("the buffer has a whole block of room for the padding"),
    };
    let text = BASE64_NOPAD.encode(&raw[..BLOCK + ct_len]);

    let mut mac = keys.hmac.mac();
    mac.update(text.as_bytes());
    let tag = BASE64_NOPAD.encode(&mac.finalize().into_bytes());

    let mut packet = String::with_capacity(text.len() - SALTED_B64.len() + tag.len());
    packet.push_str(&text[SALTED_B64.len()..]);
    packet.push_str(&tag);
    Ok(packet)
}

/// AES-256 key and IV from the encryption key and the salt, as OpenSSL's
/// `EVP_BytesToKey(md5, salt, key, 1 round)` (what fwknop 2.5+ does).
fn derive_key_iv(
    key: &[u8],
    salt: &[u8; SALT_LEN],
) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; BLOCK]>) {
    let mut out = Zeroizing::new([0u8; 48]);
    let mut prev: Option<md5::digest::Output<Md5>> = None;
    for chunk in out.chunks_mut(16) {
        let mut h = Md5::new();
        if let Some(p) = &prev {
            h.update(p);
        }
        h.update(key);
        h.update(salt);
        let d = h.finalize();
        chunk.copy_from_slice(&d);
        prev = Some(d);
    }
    if let Some(p) = prev.as_mut() {
        p.zeroize();
    }
    let mut aes_key = Zeroizing::new([0u8; 32]);
    let mut iv = Zeroizing::new([0u8; BLOCK]);
    aes_key.copy_from_slice(&out[..32]);
    iv.copy_from_slice(&out[32..]);
    (aes_key, iv)
}

// ------------------------------------------------------------------ decode

/// A message field, as named in [`SpaError::BadField`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Random,
    User,
    Timestamp,
    Version,
    MessageType,
    Access,
    ClientTimeout,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Random => "random value",
            Field::User => "user name",
            Field::Timestamp => "timestamp",
            Field::Version => "version",
            Field::MessageType => "message type",
            Field::Access => "access",
            Field::ClientTimeout => "client timeout",
        })
    }
}

/// Why a packet was refused. Small and `Copy`; holds no packet data, so a
/// server may log it as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SpaError {
    #[error("{len} bytes is too short for an SPA packet (at least {MIN_PACKET_LEN})")]
    TooShort { len: usize },
    #[error("{len} bytes is too long for an SPA packet (at most {MAX_PACKET_LEN})")]
    TooLong { len: usize },
    #[error("not base64 (byte {pos})")]
    NotBase64 { pos: usize },
    #[error("starts with the \"Salted__\" prefix that fwknop strips (a replayed packet?)")]
    SaltedPrefix,
    #[error("bad HMAC (wrong HMAC key, or the packet was changed)")]
    BadHmac,
    #[error("encrypted data of {len} bytes is not salt and whole AES blocks")]
    CipherLength { len: usize },
    #[error("encrypted data does not start with \"Salted__\"")]
    NotSalted,
    #[error("does not decrypt (wrong encryption key?)")]
    Decrypt,
    #[error(
        "digest of {len} characters is not SHA-256 (only fwknop's default digest, SHA-256, is supported)"
    )]
    UnsupportedDigest { len: usize },
    #[error("digest does not match the message")]
    DigestMismatch,
    #[error("bad {field} field")]
    BadField { field: Field },
    #[error("message type {kind} ({}) is not supported (only access requests are)", type_name(*kind))]
    UnsupportedMessageType { kind: u8 },
    #[error("the message has a server-auth field, which is not supported")]
    ServerAuth,
}

fn type_name(kind: u8) -> &'static str {
    match kind {
        0 => "command",
        1 => "access",
        2 => "NAT access",
        3 => "client timeout access",
        4 => "client timeout NAT access",
        5 => "local NAT access",
        6 => "client timeout local NAT access",
        _ => "unknown",
    }
}

/// SHA-256 of the whole packet: the digest fwknopd keeps in its replay cache.
pub fn replay_digest(packet: &[u8]) -> [u8; 32] {
    Sha256::digest(packet).into()
}

/// Checks the length, alphabet, prefix and HMAC of a packet, then decrypts
/// and parses it. See the module documentation for the order of the
/// checks; nothing is decrypted before the HMAC matches.
pub fn decode(packet: &[u8], keys: &SpaKeys) -> Result<Message, SpaError> {
    let body = authenticate(packet, &keys.hmac)?;
    let mut plain = Zeroizing::new([0u8; MAX_CIPHER_RAW]);
    let len = decrypt(body, &keys.encryption, &mut plain)?;
    parse_plaintext(&plain[..len])
}

/// The length, alphabet, prefix and HMAC checks of [`decode`]; returns the
/// ciphertext part (the packet without its HMAC).
pub fn authenticate<'p>(packet: &'p [u8], key: &HmacKey) -> Result<&'p [u8], SpaError> {
    let len = packet.len();
    if len < MIN_PACKET_LEN {
        return Err(SpaError::TooShort { len });
    }
    if len > MAX_PACKET_LEN {
        return Err(SpaError::TooLong { len });
    }
    // Every byte, without branches or an early exit, so the loop runs on
    // vectors: a server checks every packet to its SPA port, and random
    // text defeats branch prediction. The position only for a refusal.
    if packet
        .iter()
        .fold(0u8, |bad, &b| bad | u8::from(!is_b64_char(b)))
        != 0
    {
        let pos = packet.iter().position(|&b| !is_b64_char(b)).unwrap_or(0);
        return Err(SpaError::NotBase64 { pos });
    }
    if packet.starts_with(SALTED_B64) {
        return Err(SpaError::SaltedPrefix);
    }
    let (body, tag) = packet.split_at(len - SHA256_B64_LEN);
    let mut mac = key.mac();
    mac.update(SALTED_B64);
    mac.update(body);
    let mut expected = [0u8; SHA256_B64_LEN];
    BASE64_NOPAD.encode_mut(&mac.finalize().into_bytes(), &mut expected);
    if bool::from(expected.ct_eq(tag)) {
        Ok(body)
    } else {
        Err(SpaError::BadHmac)
    }
}

/// Decrypts an authenticated ciphertext part into `out`; returns the
/// plaintext length.
fn decrypt(
    body: &[u8],
    key: &EncryptionKey,
    out: &mut [u8; MAX_CIPHER_RAW],
) -> Result<usize, SpaError> {
    let mut text = [0u8; MAX_CIPHER_B64];
    let text_len = SALTED_B64.len() + body.len();
    if text_len > text.len() {
        return Err(SpaError::TooLong { len: body.len() });
    }
    text[..SALTED_B64.len()].copy_from_slice(SALTED_B64);
    text[SALTED_B64.len()..text_len].copy_from_slice(body);
    let text = &text[..text_len];

    let raw_len = BASE64_NOPAD
        .decode_len(text.len())
        .map_err(|e| SpaError::NotBase64 {
            pos: e.position.saturating_sub(SALTED_B64.len()),
        })?;
    if raw_len > out.len() {
        return Err(SpaError::TooLong { len: body.len() });
    }
    let raw = &mut out[..raw_len];
    BASE64_NOPAD
        .decode_mut(text, raw)
        .map_err(|e| SpaError::NotBase64 {
            pos: e.error.position.saturating_sub(SALTED_B64.len()),
        })?;
    if raw_len < BLOCK + BLOCK || !(raw_len - BLOCK).is_multiple_of(BLOCK) {
        return Err(SpaError::CipherLength { len: raw_len });
    }
    if &raw[..SALT_LEN] != SALTED {
        return Err(SpaError::NotSalted);
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&raw[SALT_LEN..BLOCK]);
    let (aes_key, iv) = derive_key_iv(key.as_bytes(), &salt);
    let plain_len = Aes256CbcDec::new(&(*aes_key).into(), &(*iv).into())
        .decrypt_padded::<Pkcs7>(&mut raw[BLOCK..])
        .map_err(|_| SpaError::Decrypt)?
        .len();
    // Move the plaintext to the front of `out` over the salt block.
    out.copy_within(BLOCK..BLOCK + plain_len, 0);
    out[plain_len..].zeroize();
    Ok(plain_len)
}

/// Parses a decrypted plaintext: `ENCODED:DIGEST`.
fn parse_plaintext(plain: &[u8]) -> Result<Message, SpaError> {
    // Garbage from a wrong key: not printable, or not 16 digits and ':'.
    if !plain.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return Err(SpaError::Decrypt);
    }
    if plain.len() <= RANDOM_LEN
        || !plain[..RANDOM_LEN].iter().all(u8::is_ascii_digit)
        || plain[RANDOM_LEN] != b':'
    {
        return Err(SpaError::Decrypt);
    }
    let Some(cut) = plain.iter().rposition(|&b| b == b':') else {
        return Err(SpaError::Decrypt);
    };
    let (encoded, digest) = (&plain[..cut], &plain[cut + 1..]);
    if digest.len() != SHA256_B64_LEN {
        return Err(SpaError::UnsupportedDigest { len: digest.len() });
    }
    let mut expected = [0u8; SHA256_B64_LEN];
    BASE64_NOPAD.encode_mut(&Sha256::digest(encoded), &mut expected);
    if !bool::from(expected.ct_eq(digest)) {
        return Err(SpaError::DigestMismatch);
    }
    parse_encoded(encoded)
}

/// Parses the encoded message (digest removed).
fn parse_encoded(encoded: &[u8]) -> Result<Message, SpaError> {
    let mut fields = encoded.split(|&b| b == b':');
    let mut next = |field| fields.next().ok_or(SpaError::BadField { field });

    let random = next(Field::Random)?;
    let random = random
        .try_into()
        .ok()
        .map(RandomValue)
        .filter(|r| r.0.iter().all(u8::is_ascii_digit))
        .ok_or(SpaError::BadField {
            field: Field::Random,
        })?;

    let user = next(Field::User)?;
    let mut user_buf = [0u8; MAX_USER_B64 * 3 / 4];
    let user = decode_b64_field(user, MAX_USER_B64, &mut user_buf)
        .and_then(Username::from_bytes)
        .ok_or(SpaError::BadField { field: Field::User })?;

    let timestamp = next(Field::Timestamp)?;
    let timestamp = parse_decimal(timestamp, MAX_TIMESTAMP_DIGITS)
        .filter(|&t| t <= u64::from(u32::MAX))
        .ok_or(SpaError::BadField {
            field: Field::Timestamp,
        })?;

    let version = next(Field::Version)?;
    let version = Version::from_bytes(version).ok_or(SpaError::BadField {
        field: Field::Version,
    })?;

    let kind = next(Field::MessageType)?;
    let kind = parse_decimal(kind, 2)
        .and_then(|k| u8::try_from(k).ok())
        .ok_or(SpaError::BadField {
            field: Field::MessageType,
        })?;
    if kind != TYPE_ACCESS && kind != TYPE_CLIENT_TIMEOUT_ACCESS {
        return Err(SpaError::UnsupportedMessageType { kind });
    }

    let access = next(Field::Access)?;
    let mut access_buf = [0u8; MAX_ACCESS_B64 * 3 / 4];
    let access =
        decode_b64_field(access, MAX_ACCESS_B64, &mut access_buf).ok_or(SpaError::BadField {
            field: Field::Access,
        })?;
    let (allow, ports) = parse_access(access)?;

    let client_timeout = if kind == TYPE_CLIENT_TIMEOUT_ACCESS {
        let t = next(Field::ClientTimeout)?;
        let secs = parse_decimal(t, 6)
            .filter(|&s| s <= u64::from(MAX_CLIENT_TIMEOUT))
            .ok_or(SpaError::BadField {
                field: Field::ClientTimeout,
            })?;
        // fwknopd treats 0 as "no client timeout".
        ClientTimeout::new(secs as u32)
    } else {
        None
    };
    if fields.next().is_some() {
        // fwknop's optional server-auth field; nothing sends it.
        return Err(SpaError::ServerAuth);
    }
    Ok(Message {
        random,
        user,
        timestamp,
        version,
        allow,
        ports,
        client_timeout,
    })
}

/// `IP,proto/port[,proto/port...]`.
fn parse_access(access: &[u8]) -> Result<(AllowIp, PortList), SpaError> {
    let bad = SpaError::BadField {
        field: Field::Access,
    };
    let mut parts = access.split(|&b| b == b',');
    let ip = parts.next().ok_or(bad)?;
    let ip = std::str::from_utf8(ip)
        .ok()
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
        .ok_or(bad)?;
    let mut ports = PortList::empty();
    for part in parts {
        let entry = std::str::from_utf8(part)
            .ok()
            .and_then(|s| parse_proto_port(s).ok())
            .ok_or(bad)?;
        // Cannot overflow: MAX_ACCESS_LEN characters hold fewer entries.
        if !ports.push(entry) {
            return Err(bad);
        }
    }
    if ports.len == 0 {
        return Err(bad);
    }
    Ok((AllowIp::from_wire(ip), ports))
}

/// Decodes a base64 field of at most `max` characters into `buf`.
fn decode_b64_field<'b>(field: &[u8], max: usize, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    if field.is_empty() || field.len() > max {
        return None;
    }
    let len = BASE64_NOPAD.decode_len(field.len()).ok()?;
    let out = buf.get_mut(..len)?;
    let n = BASE64_NOPAD.decode_mut(field, out).ok()?;
    Some(&out[..n])
}

/// 1 to `max_digits` decimal digits.
fn parse_decimal(text: &[u8], max_digits: usize) -> Option<u64> {
    if text.is_empty() || text.len() > max_digits || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// The base64 alphabet, branch-free: `b | 0x20` maps `A-Z` onto `a-z` (and
/// nothing else onto them).
#[inline]
fn is_b64_char(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter | digit | (b == b'+') | (b == b'/')
}

/// Base64 as fwknop's key files hold it: `=` padding optional.
pub(crate) fn decode_b64_padded(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    BASE64_NOPAD.decode(text.as_bytes()).ok()
}

/// Bytes this module has checked to be ASCII, as text.
fn ascii_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> SpaKeys {
        SpaKeys {
            encryption: EncryptionKey::new(vec![0x11; 32]).expect("key"),
            hmac: HmacKey::new(vec![0x22; 64]).expect("key"),
        }
    }

    fn message(user: &str, access: &str, timeout: Option<u32>) -> Message {
        Message::new(
            Username::new(user).expect("user"),
            AllowIp::Addr(Ipv4Addr::new(192, 0, 2, 2)),
            PortList::parse(access).expect("ports"),
            timeout.and_then(ClientTimeout::new),
            1_796_141_766,
        )
        .expect("random")
    }

    /// Encrypts and authenticates any plaintext the way [`encode_with_salt`]
    /// does, so the decoder's later stages can be fed anything.
    fn seal(plain: &[u8], keys: &SpaKeys, salt: [u8; SALT_LEN]) -> Vec<u8> {
        let (key, iv) = derive_key_iv(keys.encryption.as_bytes(), &salt);
        let mut raw = vec![0u8; BLOCK + plain.len() + BLOCK];
        raw[..SALT_LEN].copy_from_slice(SALTED);
        raw[SALT_LEN..BLOCK].copy_from_slice(&salt);
        raw[BLOCK..BLOCK + plain.len()].copy_from_slice(plain);
        let n = Aes256CbcEnc::new(&(*key).into(), &(*iv).into())
            .encrypt_padded::<Pkcs7>(&mut raw[BLOCK..], plain.len())
            .expect("room")
            .len();
        let text = BASE64_NOPAD.encode(&raw[..BLOCK + n]);
        let mut mac = keys.hmac.mac();
        mac.update(text.as_bytes());
        let tag = BASE64_NOPAD.encode(&mac.finalize().into_bytes());
        format!("{}{tag}", &text[SALTED_B64.len()..]).into_bytes()
    }

    /// A plaintext with a correct digest.
    fn with_digest(encoded: &str) -> String {
        format!(
            "{encoded}:{}",
            BASE64_NOPAD.encode(&Sha256::digest(encoded.as_bytes()))
        )
    }

    #[test]
    fn key_derivation_is_openssl_evp_bytes_to_key_md5() {
        // `openssl enc -aes-256-cbc -md md5 -P -S 0102030405060708 -pass pass:secret`
        let (key, iv) = derive_key_iv(b"secret", &[1, 2, 3, 4, 5, 6, 7, 8]);
        let d1 = Md5::digest(b"secret\x01\x02\x03\x04\x05\x06\x07\x08");
        let mut second = d1.to_vec();
        second.extend_from_slice(b"secret\x01\x02\x03\x04\x05\x06\x07\x08");
        let d2 = Md5::digest(&second);
        let mut third = d2.to_vec();
        third.extend_from_slice(b"secret\x01\x02\x03\x04\x05\x06\x07\x08");
        let d3 = Md5::digest(&third);
        assert_eq!(&key[..16], &d1[..]);
        assert_eq!(&key[16..], &d2[..]);
        assert_eq!(&iv[..], &d3[..]);
    }

    #[test]
    fn packets_start_without_the_salted_prefix_and_end_with_the_hmac() {
        let keys = keys();
        let msg = message("alice", "tcp/22", None);
        let a = encode(&msg, &keys).expect("encodes");
        let b = encode(&msg, &keys).expect("encodes");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(!a.starts_with("U2FsdGVkX1"));
        assert!(a.bytes().all(is_b64_char));
        assert!((MIN_PACKET_LEN..=MAX_PACKET_LEN).contains(&a.len()));
        assert_eq!(decode(a.as_bytes(), &keys), Ok(msg));
        assert_eq!(decode(b.as_bytes(), &keys), Ok(msg));
    }

    #[test]
    fn the_hmac_is_checked_before_decrypting() {
        let keys = keys();
        let pkt = encode(&message("alice", "tcp/22", None), &keys).expect("encodes");
        let other = SpaKeys {
            encryption: keys.encryption.clone(),
            hmac: HmacKey::new(vec![0x23; 64]).expect("key"),
        };
        assert_eq!(decode(pkt.as_bytes(), &other), Err(SpaError::BadHmac));
        // Valid HMAC around junk: refused at decryption, not by the HMAC.
        let junk = seal(&[b'x'; 200], &keys, [9; 8]);
        assert_eq!(decode(&junk, &keys), Err(SpaError::Decrypt));
    }

    #[test]
    fn the_alphabet_is_base64_without_padding() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
            assert_eq!(is_b64_char(b), want, "byte {b:#04x}");
        }
    }

    #[test]
    fn length_and_alphabet_come_first() {
        let keys = keys();
        assert_eq!(decode(b"", &keys), Err(SpaError::TooShort { len: 0 }));
        assert_eq!(
            decode(&[b'A'; MAX_PACKET_LEN + 1], &keys),
            Err(SpaError::TooLong { len: 1501 })
        );
        let mut pkt = vec![b'A'; 200];
        pkt[150] = b'=';
        assert_eq!(decode(&pkt, &keys), Err(SpaError::NotBase64 { pos: 150 }));
        pkt[150] = b'\n';
        assert_eq!(decode(&pkt, &keys), Err(SpaError::NotBase64 { pos: 150 }));
    }

    #[test]
    fn each_field_is_checked() {
        let keys = keys();
        let good = message("alice", "tcp/22", None).encoded().expect("enc");
        let fields: Vec<&str> = good.split(':').collect();
        let b64 = |s: &str| BASE64_NOPAD.encode(s.as_bytes());
        let with = |i: usize, v: &str| {
            let mut f = fields.clone();
            f[i] = v;
            f.join(":")
        };
        let user_bad = b64("a/b");
        let access_v6 = b64("2001:db8::1,tcp/22");
        let access_port0 = b64("192.0.2.2,tcp/0");
        let access_icmp = b64("192.0.2.2,icmp/0");
        let access_none = b64("192.0.2.2");
        let access_long = b64(&format!("192.0.2.2{}", ",tcp/1".repeat(31)));
        let cases: Vec<(String, SpaError)> = vec![
            (
                with(1, &user_bad),
                SpaError::BadField { field: Field::User },
            ),
            (with(1, "!!"), SpaError::BadField { field: Field::User }),
            (
                with(2, "17961x1766"),
                SpaError::BadField {
                    field: Field::Timestamp,
                },
            ),
            (
                with(2, "99999999999"),
                SpaError::BadField {
                    field: Field::Timestamp,
                },
            ),
            (
                with(3, "3.0.0-rc1"),
                SpaError::BadField {
                    field: Field::Version,
                },
            ),
            (with(4, "2"), SpaError::UnsupportedMessageType { kind: 2 }),
            (with(4, "0"), SpaError::UnsupportedMessageType { kind: 0 }),
            (
                with(4, "x"),
                SpaError::BadField {
                    field: Field::MessageType,
                },
            ),
            (
                with(5, &access_v6),
                SpaError::BadField {
                    field: Field::Access,
                },
            ),
            (
                with(5, &access_port0),
                SpaError::BadField {
                    field: Field::Access,
                },
            ),
            (
                with(5, &access_icmp),
                SpaError::BadField {
                    field: Field::Access,
                },
            ),
            (
                with(5, &access_none),
                SpaError::BadField {
                    field: Field::Access,
                },
            ),
            (
                with(5, &access_long),
                SpaError::BadField {
                    field: Field::Access,
                },
            ),
            (format!("{good}:c2VydmVy"), SpaError::ServerAuth),
            (
                with(4, "3"),
                SpaError::BadField {
                    field: Field::ClientTimeout,
                },
            ),
            (
                format!("{}:65537", with(4, "3")),
                SpaError::BadField {
                    field: Field::ClientTimeout,
                },
            ),
        ];
        for (encoded, want) in cases {
            let pkt = seal(with_digest(&encoded).as_bytes(), &keys, [3; 8]);
            assert_eq!(decode(&pkt, &keys), Err(want), "{encoded}");
        }
        let pkt = seal(
            format!("{good}:{}", "A".repeat(43)).as_bytes(),
            &keys,
            [3; 8],
        );
        assert_eq!(decode(&pkt, &keys), Err(SpaError::DigestMismatch));
        // A client timeout of 0 is no client timeout (as in fwknopd).
        let zero = format!("{}:0", with(4, "3"));
        let pkt = seal(with_digest(&zero).as_bytes(), &keys, [3; 8]);
        assert_eq!(decode(&pkt, &keys).map(|m| m.client_timeout), Ok(None));
    }

    #[test]
    fn values_a_client_cannot_send_are_refused_when_built() {
        assert_eq!(Username::new(""), Err(UsernameError::Empty));
        assert_eq!(
            Username::new("a:b"),
            Err(UsernameError::BadChar { found: ':' })
        );
        assert_eq!(
            Username::new(&"a".repeat(49)),
            Err(UsernameError::TooLong { len: 49 })
        );
        assert!(Username::new("carol.d_e").is_ok());
        assert!(Username::new("a b").is_ok(), "fwknop allows a space");
        assert_eq!(ClientTimeout::new(0), None);
        assert_eq!(ClientTimeout::new(65_537), None);
        assert_eq!(
            ClientTimeout::new(65_536).map(ClientTimeout::secs),
            Some(65_536)
        );
        let mut msg = message("alice", "tcp/22", None);
        msg.timestamp = u64::from(u32::MAX) + 1;
        assert!(matches!(
            encode(&msg, &keys()),
            Err(EncodeError::Timestamp { .. })
        ));
    }

    #[test]
    fn port_lists_parse_fwknop_syntax() {
        let l = PortList::parse(" tcp/22, UDP/53 ,tcp/443").expect("parses");
        assert_eq!(l.to_string(), "tcp/22,udp/53,tcp/443");
        let bad = |s: &str| PortList::parse(s).expect_err(s).to_string();
        assert!(bad("").contains("empty"));
        assert!(bad("22").contains("bad entry \"22\""));
        assert!(bad("sctp/22").contains("unknown protocol in \"sctp/22\""));
        assert!(bad("tcp/0").contains("bad port in \"tcp/0\""));
        assert!(bad("tcp/65536").contains("bad port"));
        assert!(bad("tcp/+22").contains("bad port"));
        assert!(bad("tcp/22,").contains("bad entry \"\""));
        let many = vec!["tcp/1"; MAX_PORTS + 1].join(",");
        assert_eq!(PortList::parse(&many), Err(AccessError::TooMany));
        assert!(PortList::new(&[]).is_none());
    }

    #[test]
    fn keys_debug_shows_no_key_material() {
        let keys = keys();
        let text = format!("{keys:?}");
        assert!(
            text.contains("32 bytes") && text.contains("64 bytes"),
            "{text}"
        );
        assert!(!text.contains("17") && !text.contains("34"), "{text}");
    }

    #[test]
    fn the_longest_message_fits_and_one_more_port_does_not() {
        let keys = keys();
        // 0.0.0.0 and 23 five-digit UDP ports: 8 + 23*10 - 1 = 237 > 192.
        let ports: Vec<String> = (0..18).map(|i| format!("udp/{}", 60000 + i)).collect();
        let list = PortList::parse(&ports.join(",")).expect("ports");
        let mut msg = message(&"u".repeat(MAX_USER_LEN), "tcp/22", Some(65_536));
        msg.ports = list;
        msg.allow = AllowIp::Source;
        let len = msg.access_string().len();
        assert!(len <= MAX_ACCESS_LEN, "{len}");
        let pkt = encode(&msg, &keys).expect("fits");
        assert!(pkt.len() <= MAX_PACKET_LEN);
        assert_eq!(decode(pkt.as_bytes(), &keys), Ok(msg));
        let ports: Vec<String> = (0..19).map(|i| format!("udp/{}", 60000 + i)).collect();
        msg.ports = PortList::parse(&ports.join(",")).expect("ports");
        assert_eq!(
            encode(&msg, &keys),
            Err(EncodeError::AccessTooLong { len: 197 })
        );
    }

    fn any_message() -> impl Strategy<Value = Message> {
        let user = "[a-zA-Z0-9 ._~@$-]{1,48}";
        let port = (
            prop_oneof![Just(Proto::Tcp), Just(Proto::Udp)],
            1u16..=65535,
        )
            .prop_map(|(proto, port)| ProtoPort { proto, port });
        (
            user,
            any::<u32>(),
            prop::option::of(1u32..=MAX_CLIENT_TIMEOUT),
            any::<[u8; 4]>(),
            prop::collection::vec(port, 1..=12),
            any::<u64>(),
        )
            .prop_map(|(user, ts, timeout, ip, ports, seed)| Message {
                random: RandomValue(std::array::from_fn(|i| {
                    b'0' + ((seed >> (i * 4)) % 10) as u8
                })),
                user: Username::new(&user).expect("strategy makes valid names"),
                timestamp: u64::from(ts),
                version: Version::CURRENT,
                allow: AllowIp::from_wire(Ipv4Addr::from(ip)),
                ports: PortList::new(&ports).expect("1..=12 ports"),
                client_timeout: timeout.and_then(ClientTimeout::new),
            })
    }

    proptest! {
        #[test]
        fn encode_then_decode_gives_the_message_back(msg in any_message(), salt in any::<[u8; 8]>()) {
            let keys = keys();
            let pkt = encode_with_salt(&msg, &keys, salt).expect("encodes");
            prop_assert!(pkt.len() <= MAX_PACKET_LEN);
            prop_assert_eq!(decode(pkt.as_bytes(), &keys), Ok(msg));
        }

        #[test]
        fn decode_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1600)) {
            let _ = decode(&bytes, &keys());
        }

        #[test]
        fn base64_junk_costs_one_hmac(text in "[A-Za-z0-9+/]{140,1500}") {
            prop_assert_eq!(decode(text.as_bytes(), &keys()), Err(SpaError::BadHmac));
        }

        #[test]
        fn authenticated_junk_never_panics(plain in prop::collection::vec(any::<u8>(), 0..1000)) {
            let keys = keys();
            let pkt = seal(&plain, &keys, [5; 8]);
            let _ = decode(&pkt, &keys);
        }

        #[test]
        fn authenticated_fko_like_text_never_panics(
            encoded in "[0-9]{16}:[A-Za-z0-9+/:=.,]{0,300}"
        ) {
            let keys = keys();
            let pkt = seal(with_digest(&encoded).as_bytes(), &keys, [6; 8]);
            let _ = decode(&pkt, &keys);
            let _ = parse_plaintext(with_digest(&encoded).as_bytes());
        }

        #[test]
        fn parse_never_panics_on_strings(text in "\\PC{0,400}") {
            let _ = parse_plaintext(text.as_bytes());
            let _ = parse_encoded(text.as_bytes());
            let _ = PortList::parse(&text);
            let _ = Username::new(&text);
        }
    }
}
