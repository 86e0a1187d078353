//! From a parsed knockd.conf to what the packet thread (matching specs)
//! and the worker (names, commands, timers) need, and the `--check` report.

use std::fmt::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use knock_profiles::fwknop_access::{AccessConf, AddrList, Stanza};
use knock_profiles::knockd_conf::{
    Door, DoorCommands, KnockdConfError, KnockdConfig, RotatingDoor, SpaDoor,
};
use knock_profiles::rotate;
use knock_profiles::{Knock, TcpFlags};

use crate::detector::{self, DoorSpec, MAX_DOORS};
use crate::rotation::SLOTS;

/// What the worker needs to know about a door: its name and its commands
/// (a fixed and a rotating door share the command keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorInfo {
    pub name: String,
    pub commands: DoorCommands,
}

impl DoorInfo {
    pub fn of(name: &str, commands: &DoorCommands) -> DoorInfo {
        DoorInfo {
            name: name.to_string(),
            commands: commands.clone(),
        }
    }
}

pub fn spec(d: &Door) -> DoorSpec {
    DoorSpec {
        knocks: d.sequence.knocks().to_vec(),
        flags: d.tcpflags,
        seq_timeout_ms: timeout_ms(d.seq_timeout),
        target: d.target,
        enabled: true,
    }
}

fn timeout_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// The detector doors of a rotating door's [`SLOTS`] steps: disabled,
/// with a placeholder sequence of the right length, until the rotation
/// timer puts a step in.
pub fn rotating_spec(d: &RotatingDoor) -> DoorSpec {
    DoorSpec {
        knocks: vec![Knock::tcp(1); d.params.length],
        flags: d.tcpflags,
        seq_timeout_ms: timeout_ms(d.seq_timeout),
        target: d.target,
        enabled: false,
    }
}

/// Matching specs, worker infos and one-time-sequence files, door by door
/// (detector index): the fixed doors, then [`SLOTS`] for each rotating door.
/// The SPA doors follow in `infos` only (they are not the detector's).
pub struct Layout {
    pub specs: Vec<DoorSpec>,
    pub infos: Vec<DoorInfo>,
    pub one_time: Vec<Option<PathBuf>>,
    /// Per rotating door of the config (same order): its first detector door.
    pub rotating_base: Vec<usize>,
    /// The worker index of the first SPA door (the others follow in order).
    pub spa_base: usize,
}

pub fn layout(cfg: &KnockdConfig) -> Layout {
    let mut p = Layout {
        specs: cfg.doors.iter().map(spec).collect(),
        infos: cfg
            .doors
            .iter()
            .map(|d| DoorInfo::of(&d.name, &d.commands))
            .collect(),
        one_time: cfg
            .doors
            .iter()
            .map(|d| d.one_time_sequences.clone())
            .collect(),
        rotating_base: Vec::new(),
        spa_base: 0,
    };
    for d in &cfg.rotating {
        p.rotating_base.push(p.specs.len());
        for _ in 0..SLOTS {
            p.specs.push(rotating_spec(d));
            p.infos.push(DoorInfo::of(&d.name, &d.commands));
            p.one_time.push(None);
        }
    }
    p.spa_base = p.infos.len();
    for d in &cfg.spa {
        p.infos.push(DoorInfo::of(&d.name, &d.commands));
    }
    p
}

/// Whether the config fits the detector, checked the same way by
/// `--check`, start-up and reload: at most [`MAX_DOORS`] matching slots (a
/// rotating door takes [`SLOTS`]) and [`detector::MAX_KNOCKS`] knocks per sequence.
/// Errors read `origin:line: door "NAME": ...` and name the limit.
pub fn check_capacity(cfg: &KnockdConfig, origin: &Path) -> Result<(), KnockdConfError> {
    for d in &cfg.doors {
        check_length(
            origin,
            &d.name,
            d.line,
            d.sequence.knocks().len(),
            "sequence",
        )?;
    }
    for d in &cfg.rotating {
        check_length(
            origin,
            &d.name,
            d.line,
            d.params.length,
            "rotating sequence",
        )?;
    }
    let used = cfg.doors.len() + SLOTS * cfg.rotating.len();
    // The first door (in slot order) that does not fit.
    let mut slots = 0;
    for (name, line, n) in cfg
        .doors
        .iter()
        .map(|d| (&d.name, d.line, 1))
        .chain(cfg.rotating.iter().map(|d| (&d.name, d.line, SLOTS)))
    {
        slots += n;
        if !detector::doors_fit(slots) {
            return Err(KnockdConfError::door(
                origin,
                line,
                name,
                format!(
                    "too many doors: {} fixed and {} rotating use {used} of {MAX_DOORS} matching \
                     slots (a rotating door takes {SLOTS}: one per accepted time step)",
                    cfg.doors.len(),
                    cfg.rotating.len()
                ),
            ));
        }
    }
    Ok(())
}

/// A sequence of `len` knocks for door `name` (config line `line`) fits
/// the detector; `what` names it in the error ("one-time sequence").
pub fn check_length(
    origin: &Path,
    name: &str,
    line: usize,
    len: usize,
    what: &str,
) -> Result<(), KnockdConfError> {
    detector::check_length(len)
        .map_err(|e| KnockdConfError::door(origin, line, name, format!("{what} {e}")))
}

fn or_none(c: Option<&str>) -> &str {
    c.unwrap_or("(none)")
}

/// The `--check` report: options, then each door; `access[i]` is the
/// access.conf of SPA door `cfg.spa[i]`.
pub fn describe(cfg: &KnockdConfig, origin: &str, access: &[AccessConf]) -> String {
    let mut out = String::new();
    let o = &cfg.options;
    let _ = writeln!(
        out,
        "config {origin}: {} door(s)",
        cfg.doors.len() + cfg.rotating.len() + cfg.spa.len()
    );
    let _ = writeln!(
        out,
        "options: interface={} logfile={} pidfile={} syslog={}",
        o.interface.as_deref().unwrap_or("(default)"),
        o.log_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(none)".into()),
        o.pid_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(default)".into()),
        if o.use_syslog { "yes" } else { "no" },
    );
    for d in &cfg.doors {
        let _ = writeln!(out, "door {} ({origin}:{})", d.name, d.line);
        let _ = writeln!(out, "  sequence:       {}", d.sequence);
        if let Some(p) = &d.one_time_sequences {
            let _ = writeln!(out, "  one-time file:  {}", p.display());
        }
        describe_matching(&mut out, d.tcpflags, d.seq_timeout, d.target);
        describe_commands(&mut out, &d.commands);
    }
    for d in &cfg.rotating {
        describe_rotating(&mut out, d, origin);
    }
    for (d, a) in cfg.spa.iter().zip(access) {
        describe_spa(&mut out, d, a, origin);
    }
    out
}

/// An SPA door for `--check`: its port and access file, each stanza's
/// rules (never a key), the destination and the commands.
fn describe_spa(out: &mut String, d: &SpaDoor, access: &AccessConf, origin: &str) {
    let _ = writeln!(out, "door {} ({origin}:{})", d.name, d.line);
    let _ = writeln!(
        out,
        "  spa:            fwknop SPA packets to udp/{}",
        d.port
    );
    let _ = writeln!(
        out,
        "  access file:    {} ({} stanza(s))",
        d.access_file.display(),
        access.stanzas.len()
    );
    for s in &access.stanzas {
        describe_stanza(out, s, d.commands.cmd_timeout);
    }
    let _ = writeln!(
        out,
        "  target:         {}",
        d.target
            .map(|t| t.to_string())
            .unwrap_or_else(|| "(interface addresses)".into())
    );
    describe_commands(out, &d.commands);
}

fn addr_list(a: &AddrList) -> String {
    match a {
        AddrList::Any => "ANY".into(),
        AddrList::Nets(nets) => nets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn port_list(ports: &[knock_profiles::spa::ProtoPort]) -> String {
    ports
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One access.conf stanza for `--check`: what it lets in, not its keys.
fn describe_stanza(out: &mut String, s: &Stanza, door_timeout: Duration) {
    let _ = writeln!(out, "  stanza {}:{}", s.path.display(), s.line);
    let _ = writeln!(out, "    source:       {}", addr_list(&s.source));
    if let Some(d) = &s.destination {
        let _ = writeln!(out, "    destination:  {}", addr_list(d));
    }
    let _ = writeln!(
        out,
        "    open ports:   {}",
        s.open_ports
            .as_deref()
            .map(port_list)
            .unwrap_or_else(|| "any requested".into())
    );
    if !s.restrict_ports.is_empty() {
        let _ = writeln!(out, "    restricted:   {}", port_list(&s.restrict_ports));
    }
    let open = s
        .fw_access_timeout
        .map(|t| format!("{t}s (FW_ACCESS_TIMEOUT)"))
        .unwrap_or_else(|| format!("{}s (the door's)", door_timeout.as_secs()));
    let _ = writeln!(
        out,
        "    open for:     {open}; a client's timeout up to {}s",
        s.max_fw_timeout
    );
    if let Some(u) = &s.require_username {
        let _ = writeln!(out, "    user:         {u} only");
    }
    if s.require_source_address {
        let _ = writeln!(
            out,
            "    address:      the packet must name it (no 0.0.0.0)"
        );
    }
    if let Some(t) = s.access_expire {
        let _ = writeln!(out, "    expires:      {t} (Unix time)");
    }
}

/// A rotating door for `--check`: its parameters, never a sequence (that
/// would put the knock of the current period in logs and terminals).
fn describe_rotating(out: &mut String, d: &RotatingDoor, origin: &str) {
    let p = &d.params;
    let _ = writeln!(out, "door {} ({origin}:{})", d.name, d.line);
    let _ = writeln!(
        out,
        "  sequence:       rotating ({} knocks, new every {}s; steps T-1, T, T+1 accepted, each opens once)",
        p.length,
        p.period_secs()
    );
    let _ = writeln!(out, "  secret file:    {}", d.secret_file.display());
    let _ = writeln!(out, "  port range:     {}", rotate::format_range(&p.range));
    if !p.exclude.is_empty() {
        let list: Vec<String> = p.exclude.iter().map(u16::to_string).collect();
        let _ = writeln!(out, "  exclude:        {}", list.join(","));
    }
    let _ = writeln!(out, "  protocol:       {}", p.protos);
    describe_matching(out, d.tcpflags, d.seq_timeout, d.target);
    describe_commands(out, &d.commands);
}

/// What every door matches with, for `--check`.
fn describe_matching(
    out: &mut String,
    flags: TcpFlags,
    seq_timeout: Duration,
    target: Option<IpAddr>,
) {
    let _ = writeln!(out, "  tcpflags:       {flags}");
    let _ = writeln!(out, "  seq_timeout:    {}s", seq_timeout.as_secs());
    let _ = writeln!(
        out,
        "  target:         {}",
        target
            .map(|t| t.to_string())
            .unwrap_or_else(|| "(interface addresses)".into())
    );
}

/// A door's commands, for `--check`.
fn describe_commands(out: &mut String, c: &DoorCommands) {
    for (label, cmd) in [
        ("start_command: ", c.start_for(false)),
        ("start_command6:", c.start_for(true)),
    ] {
        let _ = writeln!(out, "  {label} {}", or_none(cmd));
    }
    let _ = writeln!(out, "  cmd_timeout:    {}s", c.cmd_timeout.as_secs());
    for (label, cmd) in [
        ("stop_command:  ", c.stop_for(false)),
        ("stop_command6: ", c.stop_for(true)),
    ] {
        let _ = writeln!(out, "  {label} {}", or_none(cmd));
    }
}
