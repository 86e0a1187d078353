//! Command-line flags: knockd's, plus `--check`, `--read` and `--dry-run`;
//! and the man page (`--man`), built from the same definitions.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Parser;
use clap_mangen::roff::{Roff, bold, roman};

const ABOUT: &str = "knockd-compatible port-knock server: watches the wire with pcap and runs \
                     commands when a knock sequence arrives";

const LONG_ABOUT: &str = "\
knockd-compatible port-knock server: watches the wire with pcap and runs commands when a \
knock sequence arrives.

It reads knockd.conf unchanged (an [options] section and one section per door: Sequence, \
Seq_Timeout, TCPFlags, Start_Command, Cmd_Timeout, Stop_Command, the _6 variants for IPv6 \
knockers, Target), and also the headerless form many tutorials print, with a warning. \
When a source address completes a door's sequence in time, its Start_Command runs via \
/bin/sh -c with %IP% replaced by that address; its Stop_Command runs Cmd_Timeout seconds \
later.

Doors are independent, a retransmitted SYN does not break a sequence, and attempts live \
in a fixed-size table (--table-size), so a flood of spoofed knocks costs constant memory \
and cannot push out a real knocker part-way through its sequence.

A door with SPA = yes opens for fwknop clients instead: one Single Packet Authorization \
packet, checked against fwknopd's access.conf (Access_File) unchanged.";

const AFTER_HELP: &str = "Reads knockd.conf unchanged (and the headerless form many tutorials \
                          print). SIGHUP reloads the config; SIGTERM/SIGINT run every pending \
                          Stop_Command before exiting. More with --help.";

/// A section of notes shown after `--help` and in the man page.
struct Notes {
    /// Man page section heading (upper case); `--help` uses it too.
    heading: &'static str,
    paragraphs: &'static [&'static str],
    /// Tagged items: (term, description).
    items: &'static [(&'static str, &'static str)],
}

const NOTES: &[Notes] = &[
    Notes {
        heading: "SIGNALS",
        paragraphs: &[],
        items: &[
            (
                "SIGHUP",
                "Reload the config file (and the secret files of rotating doors). A config \
                 that does not load or validate is refused with a log line saying why, and \
                 the old one keeps running. Pending Stop_Commands are kept.",
            ),
            (
                "SIGTERM, SIGINT",
                "Run every pending Stop_Command at once, then exit, so that no door stays \
                 open after the server stops.",
            ),
        ],
    },
    Notes {
        heading: "PENDING STOPS JOURNAL",
        paragraphs: &[
            "Before a door opens, its Stop_Command is written to the journal (--journal, \
             default /var/lib/knock-server/pending-stops), and removed when it has run. \
             After a crash or a kill -9, the next start runs the stops left in the journal: \
             overdue ones at once, the others when they fall due. So a door opened before a \
             crash is still closed (fail-closed). Due times are written as wall-clock times \
             and turned back into remaining durations at start; while running, stops are \
             timed on the monotonic clock, so a step of the system clock does not move them. \
             The journal is appended to (one line per change) and compacted now and then; \
             each line carries a checksum, so a line cut short by a crash or a full disk is \
             never run as a command.",
            "A door whose Stop_Command cannot be written to the journal (a full or read-only \
             filesystem, a missing directory) does not open: each such knock is refused and \
             logged with the reason, until the journal can be written again. \
             --open-without-journal opens such doors anyway (logged too); a crash then \
             leaves them open.",
            "At most 64 commands run at once: more opens wait for a free slot, in order, \
             up to 16384 (a burst of that many knockers all open); stop commands wait for a \
             free slot too, go first and are never dropped. At most 16384 stops are pending: \
             beyond that a knock that completes is refused and logged, not opened \
             (fail-closed). A door knocked open again runs Start_Command again with its own \
             Stop_Command, as knockd does, so inserted and deleted rules stay balanced.",
            "--no-journal keeps no journal; --dry-run and --read never write one.",
        ],
        items: &[],
    },
    Notes {
        heading: "SPA DOORS",
        paragraphs: &[
            "A door with SPA = yes, Access_File = /etc/fwknop/access.conf (fwknopd's file, \
             unchanged; mode 0600) and SPA_Port (default 62201) opens on one fwknop SPA \
             packet (FKO 3.0.0, HMAC-SHA256, AES). A packet whose HMAC, timestamp (within \
             120 s), digest (not seen before), user, address or ports the access.conf stanza \
             for its source does not allow is refused and logged with the reason. An accepted \
             one runs Start_Command once per requested port, with %IP% (the address to open), \
             %PROTO% and %PORT%, and each Stop_Command after the client's timeout (within \
             MAX_FW_TIMEOUT), else FW_ACCESS_TIMEOUT, else Cmd_Timeout (default 30 s).",
            "The digests of accepted packets are written to the journal before their door \
             opens, so after a restart or a crash a replayed packet is still refused.",
        ],
        items: &[],
    },
    Notes {
        heading: "FILES",
        paragraphs: &[],
        items: &[
            ("/etc/knockd.conf", "The config file (-c)."),
            (
                "/var/lib/knock-server/pending-stops",
                "The journal of pending Stop_Commands and SPA replay digests (--journal).",
            ),
            (
                "/etc/fwknop/access.conf",
                "fwknopd's access file, read by SPA doors (Access_File).",
            ),
            (
                "/run/knock-server.pid",
                "The pid file with -d, unless -p or PidFile names another.",
            ),
        ],
    },
    Notes {
        heading: "EXAMPLES",
        paragraphs: &[],
        items: &[
            (
                "knock-server --check -c /etc/knockd.conf",
                "Validate the config, print each door, exit 0 if it is valid.",
            ),
            (
                "knock-server -c /etc/knockd.conf -i eth0 -v",
                "Run in the foreground and log to stderr too.",
            ),
            (
                "knock-server -c /etc/knockd.conf --read knocks.pcap --dry-run",
                "Replay a capture offline (time from the packet timestamps) and print the \
                 commands instead of running them. Logs go to stderr (and -g FILE), not to \
                 the config's LogFile.",
            ),
        ],
    },
];

/// The text after `--help`: the notes, as plain text.
fn after_long_help() -> String {
    let mut s = String::new();
    for n in NOTES {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&title_case(n.heading));
        s.push_str(":\n");
        for p in n.paragraphs {
            s.push_str("  ");
            s.push_str(p);
            s.push('\n');
        }
        for (term, what) in n.items {
            s.push_str(&format!("  {term}\n      {what}\n"));
        }
    }
    s
}

/// "PENDING STOPS JOURNAL" -> "Pending stops journal".
fn title_case(heading: &str) -> String {
    let lower = heading.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "knock-server",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    after_long_help = after_long_help(),
)]
pub struct Args {
    /// Config file.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        default_value = "/etc/knockd.conf"
    )]
    pub config: PathBuf,
    /// Network interface to listen on (default: Interface from the config, else eth0; "any" works).
    #[arg(short = 'i', long = "interface", value_name = "IF")]
    pub interface: Option<String>,
    /// Run as a daemon (detach from the terminal, write the pid file).
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,
    /// Output debug messages.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Be verbose (log lines also to stderr).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Look up DNS names of knockers for OPEN SESAME lines, on a thread of their own
    /// (may be a security risk).
    #[arg(short = 'l', long = "lookup")]
    pub lookup: bool,
    /// Pid file (default: PidFile from the config, else /run/knock-server.pid).
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Log file (default: LogFile from the config).
    #[arg(short = 'g', long = "logfile", value_name = "FILE")]
    pub logfile: Option<PathBuf>,
    /// Ignore IPv6 knocks.
    #[arg(short = '4', long = "only-ip-v4")]
    pub only_ipv4: bool,
    /// Validate the config, print its doors and exit (0 if valid).
    #[arg(long)]
    pub check: bool,
    /// Replay a capture file instead of listening (time comes from packet timestamps,
    /// stop commands run at their Cmd_Timeout in packet time, commands one at a time).
    /// Logs to stderr, and to -g FILE if given; never to the config's LogFile or syslog.
    #[arg(long, value_name = "FILE.pcap", conflicts_with_all = ["daemon", "check"])]
    pub read: Option<PathBuf>,
    /// Print the commands instead of running them: one "dry-run: DOOR: COMMAND" line each
    /// on stdout (the log file says "DOOR: dry-run, not running: COMMAND").
    #[arg(long)]
    pub dry_run: bool,
    /// Journal of pending Stop_Commands (closed after a crash and restart) and of the
    /// digests of accepted SPA packets (still refused as replays after a restart).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/var/lib/knock-server/pending-stops"
    )]
    pub journal: PathBuf,
    /// Keep no journal of pending Stop_Commands.
    #[arg(long)]
    pub no_journal: bool,
    /// Open a door even when its Stop_Command cannot be journaled (a crash then leaves it open).
    #[arg(long, conflicts_with = "no_journal")]
    pub open_without_journal: bool,
    /// Knock attempts tracked at once (memory: 24 bytes each).
    #[arg(long, value_name = "N", default_value_t = crate::detector::DEFAULT_CAPACITY)]
    pub table_size: usize,
    /// Kill a command still running after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub kill_after: u64,
    /// Kernel capture buffer in MiB: packets arriving while it is full are lost (and reported).
    #[arg(long, value_name = "MIB", default_value_t = crate::capture::DEFAULT_BUFFER_MIB,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub capture_buffer: u32,
    /// When the interface goes away, wait this long for it to come back before exiting.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub interface_wait: u64,
    /// Knock log lines (Stage N, timeouts, refused SPA packets) per second, 0 = unlimited;
    /// OPEN SESAME is never limited.
    #[arg(long, value_name = "N", default_value_t = crate::pipeline::DEFAULT_LOG_RATE)]
    pub log_rate: u32,
    /// Print the man page (roff, section 8) to stdout and exit.
    #[arg(long, exclusive = true)]
    pub man: bool,
}

pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

/// Writes the man page (section 8): name, synopsis, description and options
/// from the flags above, then the signals, journal, files and examples notes
/// (instead of clap_mangen's plain "EXTRA" section), then the version.
pub fn man_page(w: &mut dyn Write) -> io::Result<()> {
    let cmd = command()
        .after_help(None::<&str>)
        .after_long_help(None::<&str>);
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .manual("System Manager's Manual");
    let mut page = Vec::new();
    man.render(&mut page)?;
    let page = String::from_utf8_lossy(&page);
    let notes = notes_roff().to_roff();
    let (before, after) = match page.find("\n.SH VERSION\n") {
        Some(i) => page.split_at(i + 1),
        None => (page.as_ref(), ""),
    };
    w.write_all(before.as_bytes())?;
    w.write_all(notes.as_bytes())?;
    w.write_all(after.as_bytes())
}

/// The notes (and SEE ALSO) as man page sections.
fn notes_roff() -> Roff {
    let mut roff = Roff::default();
    for n in NOTES {
        roff.control("SH", [n.heading]);
        for (i, p) in n.paragraphs.iter().enumerate() {
            if i > 0 {
                roff.control("PP", []);
            }
            roff.text([roman(*p)]);
        }
        for (term, what) in n.items {
            roff.control("TP", []);
            roff.text([bold(*term)]);
            roff.text([roman(*what)]);
        }
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("knock"),
        roman("(1), "),
        bold("knockd"),
        roman("(1), "),
        bold("iptables"),
        roman("(8), "),
        bold("nft"),
        roman("(8), "),
        bold("pcap-filter"),
        roman("(7)"),
    ]);
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> String {
        let mut out = Vec::new();
        man_page(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn man_page_is_section_8_with_the_notes() {
        let p = page();
        let th = p.lines().find(|l| l.starts_with(".TH ")).unwrap();
        assert!(th.starts_with(".TH knock-server 8 "), "{th}");
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "SIGNALS",
            "\"PENDING STOPS JOURNAL\"",
            "\"SPA DOORS\"",
            "FILES",
            "EXAMPLES",
            "\"SEE ALSO\"",
        ] {
            assert!(
                p.contains(&format!("\n.SH {section}\n")),
                "no {section} in\n{p}"
            );
        }
        // The long description, the flags and the notes are all there.
        assert!(p.contains("headerless form"));
        assert!(p.contains("\\-\\-check"));
        assert!(p.contains("\\-\\-table\\-size"));
        assert!(p.contains("SIGHUP"));
        assert!(p.contains("/var/lib/knock\\-server/pending\\-stops"));
        // One title and one preamble; the notes come before VERSION; no EXTRA.
        assert_eq!(p.matches(".TH ").count(), 1);
        assert_eq!(p.matches(".ds Aq").count(), 2, "{p}"); // .ie / .el of one preamble
        let (see_also, version) = (p.find(".SH \"SEE ALSO\""), p.find(".SH VERSION"));
        assert!(see_also.is_some() && version.is_some() && see_also < version);
        assert!(!p.contains(".SH EXTRA"));
    }

    #[test]
    fn long_help_has_the_notes_and_short_help_does_not() {
        let long = command().render_long_help().to_string();
        let short = command().render_help().to_string();
        for s in [
            "Signals:",
            "SIGHUP",
            "Pending stops journal:",
            "--no-journal",
            "Examples:",
        ] {
            assert!(long.contains(s), "no {s:?} in --help:\n{long}");
        }
        assert!(!short.contains("Pending stops journal:"), "{short}");
        assert!(short.contains("--help"));
    }

    #[test]
    fn man_is_alone_and_needs_nothing_else() {
        let a = Args::try_parse_from(["knock-server", "--man"]).unwrap();
        assert!(a.man);
        assert!(Args::try_parse_from(["knock-server", "--man", "--check"]).is_err());
    }
}
