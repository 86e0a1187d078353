//! From a parsed knockd.conf to what the packet thread (matching specs)
//! and the worker (names, commands, timers) need, and the `--check` report.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use knock_profiles::knockd_conf::{Door, KnockdConfig};

use crate::detector::DoorSpec;

/// What the worker needs to know about a door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorInfo {
    pub name: String,
    pub start: Option<String>,
    pub start6: Option<String>,
    pub stop: Option<String>,
    pub stop6: Option<String>,
    pub cmd_timeout: Duration,
}

impl DoorInfo {
    pub fn from_door(d: &Door) -> DoorInfo {
        DoorInfo {
            name: d.name.clone(),
            start: d.start_command_for(false).map(str::to_string),
            start6: d.start_command_for(true).map(str::to_string),
            stop: d.stop_command_for(false).map(str::to_string),
            stop6: d.stop_command_for(true).map(str::to_string),
            cmd_timeout: d.cmd_timeout,
        }
    }

    pub fn start_for(&self, ipv6: bool) -> Option<&str> {
        if ipv6 {
            self.start6.as_deref()
        } else {
            self.start.as_deref()
        }
    }

    pub fn stop_for(&self, ipv6: bool) -> Option<&str> {
        if ipv6 {
            self.stop6.as_deref()
        } else {
            self.stop.as_deref()
        }
    }
}

pub fn spec(d: &Door) -> DoorSpec {
    DoorSpec {
        knocks: d.sequence.knocks().to_vec(),
        flags: d.tcpflags,
        seq_timeout_ms: u32::try_from(d.seq_timeout.as_millis()).unwrap_or(u32::MAX / 2),
        target: d.target,
        enabled: true,
    }
}

/// Matching specs, worker infos and one-time-sequence files, door by door.
pub struct Plan {
    pub specs: Vec<DoorSpec>,
    pub infos: Vec<DoorInfo>,
    pub one_time: Vec<Option<PathBuf>>,
}

pub fn plan(cfg: &KnockdConfig) -> Plan {
    Plan {
        specs: cfg.doors.iter().map(spec).collect(),
        infos: cfg.doors.iter().map(DoorInfo::from_door).collect(),
        one_time: cfg
            .doors
            .iter()
            .map(|d| d.one_time_sequences.clone())
            .collect(),
    }
}

fn or_none(c: Option<&str>) -> &str {
    c.unwrap_or("(none)")
}

/// The `--check` report: options, then each door.
pub fn describe(cfg: &KnockdConfig, origin: &str) -> String {
    let mut out = String::new();
    let o = &cfg.options;
    let _ = writeln!(out, "config {origin}: {} door(s)", cfg.doors.len());
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
        let _ = writeln!(out, "  tcpflags:       {}", d.tcpflags);
        let _ = writeln!(out, "  seq_timeout:    {}s", d.seq_timeout.as_secs());
        let _ = writeln!(
            out,
            "  target:         {}",
            d.target
                .map(|t| t.to_string())
                .unwrap_or_else(|| "(interface addresses)".into())
        );
        let _ = writeln!(
            out,
            "  start_command:  {}",
            or_none(d.start_command_for(false))
        );
        let _ = writeln!(
            out,
            "  start_command6: {}",
            or_none(d.start_command_for(true))
        );
        let _ = writeln!(out, "  cmd_timeout:    {}s", d.cmd_timeout.as_secs());
        let _ = writeln!(
            out,
            "  stop_command:   {}",
            or_none(d.stop_command_for(false))
        );
        let _ = writeln!(
            out,
            "  stop_command6:  {}",
            or_none(d.stop_command_for(true))
        );
    }
    out
}
