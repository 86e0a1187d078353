//! Command-line flags: knockd's, plus `--check`, `--read` and `--dry-run`.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "knock-server",
    version,
    about = "knockd-compatible port-knock server: watches the wire with pcap and runs \
             commands when a knock sequence arrives",
    after_help = "Reads knockd.conf unchanged (and the headerless form many tutorials print). \
                  SIGHUP reloads the config; SIGTERM/SIGINT run every pending Stop_Command \
                  before exiting."
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
    /// Look up DNS names of knockers for log lines (may be a security risk).
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
    /// Replay a capture file instead of listening (time comes from packet timestamps).
    #[arg(long, value_name = "FILE.pcap", conflicts_with_all = ["daemon", "check"])]
    pub read: Option<PathBuf>,
    /// Print the commands instead of running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Journal of pending Stop_Commands (closed after a crash and restart).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/var/lib/knock-server/pending-stops"
    )]
    pub journal: PathBuf,
    /// Keep no journal of pending Stop_Commands.
    #[arg(long)]
    pub no_journal: bool,
    /// Knock attempts tracked at once (memory: 20 bytes each).
    #[arg(long, value_name = "N", default_value_t = crate::detector::DEFAULT_CAPACITY)]
    pub table_size: usize,
    /// Kill a command still running after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub kill_after: u64,
    /// Knock log lines (Stage N, timeouts) per second, 0 = unlimited; OPEN SESAME is never limited.
    #[arg(long, value_name = "N", default_value_t = crate::pipeline::DEFAULT_LOG_RATE)]
    pub log_rate: u32,
}
