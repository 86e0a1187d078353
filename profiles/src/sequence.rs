//! Knock sequences and TCP flag filters, in knockd's syntax.
//!
//! A sequence is written the way `knockd.conf` writes it, `7000,8000:udp,9000`,
//! or the way knock(1) takes it on the command line, `7000 8000:udp 9000`
//! (commas and whitespace both separate knocks). A knock without a protocol
//! uses the default protocol (TCP, or UDP for `knock -u`).
//!
//! These types are shared by the sender and the server's matcher, so they
//! carry no socket code.

use std::fmt;
use std::str::FromStr;

words! {
    /// Transport protocol of one knock.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub enum Proto {
        #[default]
        Tcp = "tcp",
        Udp = "udp",
    }
}

impl FromStr for Proto {
    type Err = SequenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Proto::from_word(s).ok_or_else(|| SequenceError::UnknownProto {
            token: s.trim().to_string(),
        })
    }
}

/// One knock: a packet to `port` over `proto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Knock {
    pub port: u16,
    pub proto: Proto,
}

impl Knock {
    pub const fn tcp(port: u16) -> Self {
        Knock {
            port,
            proto: Proto::Tcp,
        }
    }

    pub const fn udp(port: u16) -> Self {
        Knock {
            port,
            proto: Proto::Udp,
        }
    }

    /// Parses one token: `PORT` or `PORT:PROTO`; a bare port uses `default`.
    pub fn parse_with_default(token: &str, default: Proto) -> Result<Self, SequenceError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(SequenceError::EmptyKnock);
        }
        let (port_text, proto) = match token.split_once(':') {
            Some((port, proto)) => {
                let proto = proto
                    .parse::<Proto>()
                    .map_err(|_| SequenceError::UnknownProto {
                        token: token.to_string(),
                    })?;
                (port.trim(), proto)
            }
            None => (token, default),
        };
        let port = parse_port(port_text).map_err(|kind| match kind {
            PortError::NotANumber => SequenceError::BadPort {
                token: token.to_string(),
            },
            PortError::OutOfRange => SequenceError::PortOutOfRange {
                token: token.to_string(),
            },
        })?;
        Ok(Knock { port, proto })
    }
}

enum PortError {
    NotANumber,
    OutOfRange,
}

fn parse_port(text: &str) -> Result<u16, PortError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::NotANumber);
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(PortError::OutOfRange),
    }
}

/// Formats as knockd writes it: `7000` for TCP, `8000:udp` for UDP.
impl fmt::Display for Knock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.proto {
            Proto::Tcp => write!(f, "{}", self.port),
            Proto::Udp => write!(f, "{}:udp", self.port),
        }
    }
}

impl FromStr for Knock {
    type Err = SequenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Knock::parse_with_default(s, Proto::Tcp)
    }
}

/// What is wrong with a sequence, naming the token at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("empty knock sequence (expected ports like \"7000,8000:udp,9000\")")]
    Empty,
    #[error("empty knock between separators (expected ports like \"7000,8000:udp,9000\")")]
    EmptyKnock,
    #[error("bad port \"{token}\" (expected a number 1-65535, optionally with :tcp or :udp)")]
    BadPort { token: String },
    #[error("port out of range in \"{token}\" (expected 1-65535)")]
    PortOutOfRange { token: String },
    #[error("unknown protocol in \"{token}\" (expected tcp or udp)")]
    UnknownProto { token: String },
}

/// A non-empty, ordered list of knocks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sequence {
    knocks: Vec<Knock>,
}

impl Sequence {
    /// A sequence of the given knocks; empty is an error.
    pub fn new(knocks: Vec<Knock>) -> Result<Self, SequenceError> {
        if knocks.is_empty() {
            return Err(SequenceError::Empty);
        }
        Ok(Sequence { knocks })
    }

    /// Parses knockd syntax (`7000,8000:udp,9000`) or the client form
    /// (`7000 8000:udp 9000`), with TCP for bare ports.
    pub fn parse(text: &str) -> Result<Self, SequenceError> {
        Self::parse_with_default(text, Proto::Tcp)
    }

    /// Like [`Sequence::parse`] with `default` for ports written without a protocol.
    ///
    /// Commas separate knocks strictly (`7000,,8000` is an error); runs of
    /// whitespace separate them loosely.
    pub fn parse_with_default(text: &str, default: Proto) -> Result<Self, SequenceError> {
        let mut knocks = Vec::new();
        for field in text.split(',') {
            let mut any = false;
            for token in field.split_whitespace() {
                knocks.push(Knock::parse_with_default(token, default)?);
                any = true;
            }
            if !any && text.contains(',') {
                return Err(SequenceError::EmptyKnock);
            }
        }
        Self::new(knocks)
    }

    /// Parses command-line arguments, each one knock or a list of them.
    pub fn from_args<'a, I>(args: I, default: Proto) -> Result<Self, SequenceError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut knocks = Vec::new();
        for arg in args {
            knocks.extend(Self::parse_with_default(arg, default)?.knocks);
        }
        Self::new(knocks)
    }

    pub fn knocks(&self) -> &[Knock] {
        &self.knocks
    }

    pub fn len(&self) -> usize {
        self.knocks.len()
    }

    /// Always false: a sequence has at least one knock.
    pub fn is_empty(&self) -> bool {
        self.knocks.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Knock> {
        self.knocks.iter()
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, knock) in self.knocks.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{knock}")?;
        }
        Ok(())
    }
}

impl FromStr for Sequence {
    type Err = SequenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sequence::parse(s)
    }
}

impl<'a> IntoIterator for &'a Sequence {
    type Item = &'a Knock;
    type IntoIter = std::slice::Iter<'a, Knock>;

    fn into_iter(self) -> Self::IntoIter {
        self.knocks.iter()
    }
}

/// A TCP flag filter as knockd's `TCPFlags = syn,!ack`: every listed flag
/// must be set, every `!`-negated flag must be clear, others are free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags {
    /// Bits that must be set.
    pub set: u8,
    /// Bits that must be clear.
    pub clear: u8,
}

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;

    const NAMES: [(&'static str, u8); 6] = [
        ("fin", Self::FIN),
        ("syn", Self::SYN),
        ("rst", Self::RST),
        ("psh", Self::PSH),
        ("ack", Self::ACK),
        ("urg", Self::URG),
    ];

    /// No constraint: every packet matches.
    pub const ANY: TcpFlags = TcpFlags { set: 0, clear: 0 };

    /// Whether a packet with these header flag bits satisfies the filter.
    #[inline]
    pub const fn matches(self, flags: u8) -> bool {
        flags & self.set == self.set && flags & self.clear == 0
    }

    pub const fn is_any(self) -> bool {
        self.set == 0 && self.clear == 0
    }

    /// Parses `syn`, `syn,ack`, `syn,!ack` (case-insensitive; `,` or
    /// whitespace between flags). An empty string means no constraint.
    pub fn parse(text: &str) -> Result<Self, TcpFlagsError> {
        let mut flags = TcpFlags::ANY;
        for token in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let (negated, name) = match token.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, token),
            };
            let lower = name.to_ascii_lowercase();
            let bit = Self::NAMES
                .iter()
                .find(|(n, _)| *n == lower)
                .map(|(_, b)| *b)
                .ok_or_else(|| TcpFlagsError::Unknown {
                    token: token.to_string(),
                })?;
            if (negated && flags.set & bit != 0) || (!negated && flags.clear & bit != 0) {
                return Err(TcpFlagsError::Contradiction {
                    flag: lower.to_string(),
                });
            }
            if negated {
                flags.clear |= bit;
            } else {
                flags.set |= bit;
            }
        }
        Ok(flags)
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_any() {
            return f.write_str("any");
        }
        let mut first = true;
        for (name, bit) in Self::NAMES {
            let prefix = if self.set & bit != 0 {
                ""
            } else if self.clear & bit != 0 {
                "!"
            } else {
                continue;
            };
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{prefix}{name}")?;
        }
        Ok(())
    }
}

impl FromStr for TcpFlags {
    type Err = TcpFlagsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TcpFlags::parse(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TcpFlagsError {
    #[error(
        "unknown TCP flag \"{token}\" (expected fin, syn, rst, psh, ack or urg, optionally negated with !)"
    )]
    Unknown { token: String },
    #[error("TCP flag \"{flag}\" is both required and negated")]
    Contradiction { flag: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seq(s: &str) -> Vec<Knock> {
        Sequence::parse(s)
            .map(|s| s.knocks().to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn parses_knockd_syntax() {
        assert_eq!(
            seq("7000,8000:udp,9000"),
            vec![Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)]
        );
        assert_eq!(
            seq(" 7000 , 8000:UDP ,9000:tcp "),
            seq("7000,8000:udp,9000")
        );
        assert_eq!(seq("1,65535"), vec![Knock::tcp(1), Knock::tcp(65535)]);
    }

    #[test]
    fn parses_client_form() {
        assert_eq!(
            seq("7000 8000:udp\t9000"),
            vec![Knock::tcp(7000), Knock::udp(8000), Knock::tcp(9000)]
        );
        let args = ["7000", "8000:tcp", "9000,9001"];
        let s = Sequence::from_args(args, Proto::Udp).map(|s| s.knocks().to_vec());
        assert_eq!(
            s,
            Ok(vec![
                Knock::udp(7000),
                Knock::tcp(8000),
                Knock::udp(9000),
                Knock::udp(9001)
            ])
        );
    }

    #[test]
    fn default_protocol_applies_to_bare_ports_only() {
        let s = Sequence::parse_with_default("1,2:tcp", Proto::Udp).map(|s| s.knocks().to_vec());
        assert_eq!(s, Ok(vec![Knock::udp(1), Knock::tcp(2)]));
    }

    #[test]
    fn rejects_bad_input_naming_the_token() {
        let cases: &[(&str, SequenceError)] = &[
            ("", SequenceError::Empty),
            ("   ", SequenceError::Empty),
            (",", SequenceError::EmptyKnock),
            ("7000,,8000", SequenceError::EmptyKnock),
            ("7000,", SequenceError::EmptyKnock),
            ("0", SequenceError::PortOutOfRange { token: "0".into() }),
            (
                "65536",
                SequenceError::PortOutOfRange {
                    token: "65536".into(),
                },
            ),
            (
                "99999999999",
                SequenceError::PortOutOfRange {
                    token: "99999999999".into(),
                },
            ),
            ("-1", SequenceError::BadPort { token: "-1".into() }),
            (
                "ssh",
                SequenceError::BadPort {
                    token: "ssh".into(),
                },
            ),
            (
                "7000:icmp",
                SequenceError::UnknownProto {
                    token: "7000:icmp".into(),
                },
            ),
            (
                "7000:",
                SequenceError::UnknownProto {
                    token: "7000:".into(),
                },
            ),
            (
                ":udp",
                SequenceError::BadPort {
                    token: ":udp".into(),
                },
            ),
            (
                "7000;8000",
                SequenceError::BadPort {
                    token: "7000;8000".into(),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                Sequence::parse(input).as_ref().err(),
                Some(want),
                "input {input:?}"
            );
        }
        let msg = Sequence::parse("7000,80x0").err().map(|e| e.to_string());
        assert_eq!(
            msg.as_deref(),
            Some("bad port \"80x0\" (expected a number 1-65535, optionally with :tcp or :udp)")
        );
    }

    #[test]
    fn displays_as_knockd_writes_it() {
        let s = Sequence::parse("7000:tcp 8000:udp 9000");
        assert_eq!(
            s.map(|s| s.to_string()).as_deref(),
            Ok("7000,8000:udp,9000")
        );
    }

    #[test]
    fn tcp_flags_parse_and_match() {
        let f = TcpFlags::parse("syn,!ack");
        assert_eq!(
            f,
            Ok(TcpFlags {
                set: TcpFlags::SYN,
                clear: TcpFlags::ACK
            })
        );
        let f = f.unwrap_or_default();
        assert!(f.matches(TcpFlags::SYN));
        assert!(f.matches(TcpFlags::SYN | TcpFlags::PSH));
        assert!(!f.matches(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!f.matches(TcpFlags::RST));
        assert_eq!(f.to_string(), "syn,!ack");
        assert_eq!(TcpFlags::parse(""), Ok(TcpFlags::ANY));
        assert!(TcpFlags::ANY.matches(0xff));
        assert_eq!(
            TcpFlags::parse("SYN ACK").map(|f| f.set),
            Ok(TcpFlags::SYN | TcpFlags::ACK)
        );
        assert_eq!(
            TcpFlags::parse("syn,bogus"),
            Err(TcpFlagsError::Unknown {
                token: "bogus".into()
            })
        );
        assert_eq!(
            TcpFlags::parse("syn,!syn"),
            Err(TcpFlagsError::Contradiction { flag: "syn".into() })
        );
        assert_eq!(
            TcpFlags::parse("fin,syn,rst,psh,ack,urg").map(|f| f.set),
            Ok(0x3f)
        );
    }

    fn arb_knock() -> impl Strategy<Value = Knock> {
        (
            1u16..=65535,
            prop_oneof![Just(Proto::Tcp), Just(Proto::Udp)],
        )
            .prop_map(|(port, proto)| Knock { port, proto })
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(knocks in prop::collection::vec(arb_knock(), 1..20)) {
            let s = Sequence::new(knocks.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Sequence::parse(&s.to_string()), Ok(s.clone()));
            // The client form (spaces, explicit protocols) parses to the same.
            let spaced: Vec<String> = knocks.iter().map(|k| format!("{}:{}", k.port, k.proto)).collect();
            prop_assert_eq!(Sequence::parse(&spaced.join(" ")), Ok(s));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Sequence::parse(&text);
            let _ = TcpFlags::parse(&text);
        }

        #[test]
        fn flags_display_round_trips(set in 0u8..64, clear in 0u8..64) {
            let f = TcpFlags { set, clear: clear & !set };
            let text = f.to_string();
            let text = if text == "any" { String::new() } else { text };
            prop_assert_eq!(TcpFlags::parse(&text), Ok(f));
        }
    }
}
