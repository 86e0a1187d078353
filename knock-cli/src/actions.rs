//! What each command-line mode does. `main` maps the result to an exit code.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use knock_profiles::launch::{self, Platform};
use knock_profiles::options::{Host, Launch, Millis, Options, Port, Retries};
use knock_profiles::profile::{Knocks, Profile, RotatingProfile, Settings};
use knock_profiles::resolve::{self, Overrides, ResolveError, Resolved};
use knock_profiles::secret::SystemSecrets;
use knock_profiles::send::{
    self, KnockPlan, Net, Progress, Sequences, SystemNet, SystemTimer, SystemWall,
};
use knock_profiles::store::{self, Store, StoreError};
use knock_profiles::{Proto, Sequence};

use crate::cli::{Args, Mode};
use crate::exit::{Code, ConfigMessage, LaunchError, UsageError};

/// Runs the mode the arguments ask for.
pub fn run(args: &Args) -> Result<Code> {
    match args.mode() {
        Mode::Completions(shell) => {
            let mut cmd = crate::cli::command();
            clap_complete::generate(shell, &mut cmd, "knock", &mut io::stdout());
            Ok(Code::OK)
        }
        Mode::Man => {
            clap_mangen::Man::new(crate::cli::command())
                .render(&mut io::stdout())
                .context("cannot write the man page")?;
            Ok(Code::OK)
        }
        Mode::List => list(args),
        Mode::Show(name) => show(args, name),
        Mode::Save(name) => save(args, name),
        Mode::Remove(name) => remove(args, name),
        Mode::Import(conf) => import(args, conf),
        Mode::GenSecret(name) => crate::secrets::gen_secret(&open_store(args)?, name, args.force),
        Mode::ShowSecret(name) => crate::secrets::show_secret(&open_store(args)?, name),
        Mode::SetSecret(name) => crate::secrets::set_secret(&open_store(args)?, name, args.force),
        Mode::Knock => knock(args),
    }
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

fn profiles_path(args: &Args) -> Result<PathBuf> {
    Ok(store::locate(args.profiles.as_deref())?)
}

fn open_store(args: &Args) -> Result<Store> {
    let path = profiles_path(args)?;
    Ok(Store::open(&path)?)
}

/// `--list`: one line per profile.
fn list(args: &Args) -> Result<Code> {
    let store = open_store(args)?;
    let file = store.file();
    let mut out = io::stdout().lock();
    if file.profiles.is_empty() && file.rotating.is_empty() {
        writeln!(
            out,
            "no profiles in {} (add one: knock --save NAME HOST PORTS...)",
            store.path().display()
        )?;
        return Ok(Code::OK);
    }
    let names = file.profiles.keys().chain(file.rotating.keys());
    let width = names.map(|n| n.len()).max().unwrap_or(0);
    let hosts = file.profiles.values().map(|p| p.host.len());
    let host_width = hosts
        .chain(file.rotating.values().map(|p| p.host.len()))
        .max()
        .unwrap_or(0);
    for (name, profile) in &file.profiles {
        writeln!(
            out,
            "{name:width$}  {host:host_width$}  {seq}",
            host = profile.host,
            seq = profile.sequence
        )?;
    }
    for (name, profile) in &file.rotating {
        let host = &profile.host;
        let what = crate::secrets::list_line(profile);
        writeln!(out, "{name:width$}  {host:host_width$}  {what}")?;
    }
    Ok(Code::OK)
}

/// `--show NAME`: the effective settings, defaults filled in, as TOML
/// that the profile file reads back.
fn show(args: &Args, name: &str) -> Result<Code> {
    let store = open_store(args)?;
    let text = store::settings_toml(&store.settings(name)?);
    let mut out = io::stdout().lock();
    writeln!(out, "# {} (defaults filled in)", store.path().display())?;
    write!(out, "{text}")?;
    Ok(Code::OK)
}

/// A port given with `flag`; 0 is a usage error.
fn port_flag(port: Option<u16>, flag: &str) -> Result<Option<Port>> {
    match port {
        None => Ok(None),
        Some(n) => Port::new(n)
            .map(Some)
            .ok_or_else(|| usage(format!("{flag}: port {n} is not a port (expected 1-65535)"))),
    }
}

/// The shared keys the flags set (`-d`, `-4`/`-6`, `--open-port`,
/// `--wait`, `--retries`, `--user`, `--ssh-port`; `--launch` with `launch`).
fn flag_options(args: &Args, launch: bool) -> Result<Options> {
    let launch = match args.launch.as_deref() {
        Some(l) if launch => Some(
            l.parse::<Launch>()
                .map_err(|e| usage(format!("--launch: {e}")))?,
        ),
        _ => None,
    };
    // Keys without a flag stay unset (the update is for keys added later).
    #[allow(clippy::needless_update)]
    Ok(Options {
        delay_ms: args.delay.map(Millis::new),
        family: args.family(),
        open_port: port_flag(args.open_port, "--open-port")?,
        wait_ms: args.wait_ms.map(Millis::new),
        retries: args.retries.map(Retries::new),
        launch,
        user: args.user.clone(),
        ssh_port: port_flag(args.ssh_port, "--ssh-port")?,
        ..Options::default()
    })
}

/// `--save NAME HOST PORTS... [options]`
fn save(args: &Args, name: &str) -> Result<Code> {
    knock_profiles::profile::validate_name(name)
        .map_err(|reason| usage(format!("--save: bad profile name \"{name}\": {reason}")))?;
    let host = args.target.clone().ok_or_else(|| {
        usage("--save NAME needs HOST and PORTS: knock --save NAME HOST 7000,8000,9000")
    })?;
    if args.ports.is_empty() {
        return Err(usage(format!(
            "--save {name} {host}: no ports given (e.g. knock --save {name} {host} 7000 8000 9000)"
        )));
    }
    let sequence = ports_sequence(args)?;
    let close_sequence = args
        .close_sequence
        .as_deref()
        .map(|s| {
            Sequence::parse_with_default(s, default_proto(args))
                .map_err(|e| usage(format!("--close-sequence: {e}")))
        })
        .transpose()?;
    let host = Host::parse(&host).map_err(|e| usage(format!("--save {name}: {e}")))?;
    let profile = Profile {
        host,
        sequence,
        close_sequence,
        options: flag_options(args, true)?,
    };
    let mut store = open_store(args)?;
    let existed = store.file().contains(name);
    if existed && !args.force {
        return Err(usage(format!(
            "profile \"{name}\" already exists in {} (use --force to replace it)",
            store.path().display()
        )));
    }
    store.upsert(name, &profile)?;
    store.save()?;
    eprintln!(
        "knock: {} profile \"{name}\" in {}",
        if existed { "replaced" } else { "saved" },
        store.path().display()
    );
    Ok(Code::OK)
}

/// `--remove NAME`
fn remove(args: &Args, name: &str) -> Result<Code> {
    let mut store = open_store(args)?;
    if !store.remove(name)? {
        return Err(store.not_found(name).into());
    }
    store.save()?;
    eprintln!(
        "knock: removed profile \"{name}\" from {}",
        store.path().display()
    );
    Ok(Code::OK)
}

/// `--import knockd.conf --host HOST`: one profile per door.
fn import(args: &Args, conf: &Path) -> Result<Code> {
    use knock_profiles::knockd_conf::KnockdConfig;
    let host = args
        .host
        .as_deref()
        .ok_or_else(|| usage("--import needs --host HOST (the knockd server's address)"))?;
    let host = Host::parse(host).map_err(|e| usage(format!("--host: {e}")))?;
    let options = flag_options(args, false)?;
    let text =
        std::fs::read_to_string(conf).with_context(|| format!("cannot read {}", conf.display()))?;
    let config = KnockdConfig::parse(&text, conf)?;
    let mut store = open_store(args)?;
    let mut imported = 0;
    for door in &config.doors {
        if door.one_time_sequences.is_some() {
            eprintln!(
                "knock: skipped door \"{}\": it uses One_Time_Sequences (a list, not one sequence)",
                door.name
            );
            continue;
        }
        let tcp = door.sequence.iter().any(|k| k.proto == Proto::Tcp);
        let Some(name) = import_name(&store, args.force, "door", &door.name, door.tcpflags, tcp)
        else {
            continue;
        };
        let profile = Profile {
            options: options.clone(),
            ..Profile::new(host.clone(), door.sequence.clone())
        };
        store.upsert(&name, &profile)?;
        eprintln!(
            "knock: imported door \"{}\" as profile \"{name}\" ({})",
            door.name, door.sequence
        );
        imported += 1;
    }
    let mut next_steps = Vec::new();
    for door in &config.rotating {
        let tcp = door.params.protos != knock_profiles::rotate::ProtoChoice::Udp;
        let kind = "rotating door";
        let Some(name) = import_name(&store, args.force, kind, &door.name, door.tcpflags, tcp)
        else {
            continue;
        };
        let mut profile = RotatingProfile::new(host.clone(), door.name.clone());
        profile.rotation.params = door.params.clone();
        profile.options = options.clone();
        store.upsert_rotating(&name, &profile)?;
        eprintln!(
            "knock: imported rotating door \"{}\" as profile \"{name}\" ({})",
            door.name,
            crate::secrets::list_line(&profile)
        );
        next_steps.push(format!(
            "knock --set-secret {name} < {}",
            door.secret_file.display()
        ));
        imported += 1;
    }
    if imported == 0 {
        return Err(usage(format!("nothing imported from {}", conf.display())));
    }
    store.save()?;
    eprintln!(
        "knock: {imported} profile(s) saved in {}",
        store.path().display()
    );
    if !next_steps.is_empty() {
        eprintln!(
            "knock: next, give each rotating profile its door's secret (a copy of the server's Secret_File, or the URI of knock --show-secret):"
        );
        for step in &next_steps {
            eprintln!("  {step}");
        }
    }
    Ok(Code::OK)
}

/// The profile name for `door` (a `kind`, "door" or "rotating door"), or
/// `None` when a profile has that name and `force` is not given (said on
/// stderr). Warns when the door's TCP flags do not match knock's SYNs.
fn import_name(
    store: &Store,
    force: bool,
    kind: &str,
    door: &str,
    flags: knock_profiles::TcpFlags,
    tcp: bool,
) -> Option<String> {
    if tcp && !flags.matches(knock_profiles::TcpFlags::SYN) {
        eprintln!(
            "knock: warning: door \"{door}\" wants TCP flags {flags} but knock sends SYN packets; it will not open"
        );
    }
    let name = profile_name_for(door);
    if store.file().contains(&name) && !force {
        eprintln!(
            "knock: skipped {kind} \"{door}\": profile \"{name}\" exists (use --force to replace)"
        );
        return None;
    }
    Some(name)
}

/// A profile name from a knockd door name: `openSSH` stays, `[my door]` -> `my-door`.
fn profile_name_for(door: &str) -> String {
    let name: String = door
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "door".to_string()
    } else {
        name
    }
}

/// `knock TARGET` without ports where TARGET names no profile: a host given
/// without its ports is a usage error; anything else, an unknown profile.
fn no_such_profile(store: &Store, target: &str) -> anyhow::Error {
    let looks_like_host =
        target.parse::<std::net::IpAddr>().is_ok() || target.contains(['.', ':', '[']);
    let not_found = store.not_found(target);
    if looks_like_host && matches!(&not_found, StoreError::NotFound { hint: None, .. }) {
        return usage(format!(
            "no ports to knock on {target} (and no profile of that name in {}): knock {target} PORT[:PROTO]...",
            store.path().display()
        ));
    }
    ConfigMessage(format!(
        "{not_found}; to knock a host, give its ports: knock {target} PORT..."
    ))
    .into()
}

fn default_proto(args: &Args) -> Proto {
    if args.udp { Proto::Udp } else { Proto::Tcp }
}

fn ports_sequence(args: &Args) -> Result<Sequence> {
    Sequence::from_args(args.ports.iter().map(String::as_str), default_proto(args))
        .map_err(|e| usage(format!("{e}")))
}

/// What to knock: the settings of the profile named, or of HOST PORT...
/// as knock(1) knocks them; and how to name it in messages.
fn target(args: &Args) -> Result<(Settings, String)> {
    let Some(target) = args.target.as_deref() else {
        return Err(usage(
            "nothing to knock: give HOST PORT... or a profile NAME (knock --help; saved profiles: knock --list)",
        ));
    };
    if args.ports.is_empty() {
        // A profile.
        if args.udp {
            return Err(usage(
                "-u applies to PORTS on the command line; a profile marks UDP knocks as PORT:udp",
            ));
        }
        let store = open_store(args)?;
        if !store.file().contains(target) {
            return Err(no_such_profile(&store, target));
        }
        let settings = store.settings(target)?;
        if args.close && settings.close_sequence.is_none() {
            return Err(usage(format!(
                "--close: profile \"{target}\" has no close_sequence in {}",
                store.path().display()
            )));
        }
        let label = format!("profile \"{target}\" ({})", settings.host);
        return Ok((settings, label));
    }
    if args.close {
        return Err(usage("--close needs a profile NAME with a close_sequence"));
    }
    // Like knock(1): no delay, no verify, nothing from the profile file.
    let options = Options {
        delay_ms: Some(Millis::new(0)),
        ..Options::default()
    };
    let settings = Settings {
        name: target.to_string(),
        host: Host::parse(target).map_err(|e| usage(e.to_string()))?,
        options: options.effective(),
        knocks: Knocks::Fixed(ports_sequence(args)?),
        close_sequence: None,
    };
    Ok((settings, target.to_string()))
}

/// A knock as the arguments ask for it, with its secret loaded.
struct Ready {
    resolved: Resolved,
    plan: KnockPlan,
    label: String,
}

fn ready(args: &Args) -> Result<Ready> {
    let (settings, label) = target(args)?;
    let overrides = Overrides {
        options: flag_options(args, false)?,
        close: args.close,
        connect: args.ssh,
    };
    let resolved = resolve::resolve(settings, &overrides).map_err(|e| match e {
        ResolveError::WaitWithoutPort => {
            usage("--wait needs a port to wait for: add --open-port PORT")
        }
        other => usage(format!("--close: {other}")),
    })?;
    let plan = resolved.load(&SystemSecrets)?;
    Ok(Ready {
        resolved,
        plan,
        label,
    })
}

impl Ready {
    /// The rotation and its door, for a rotating profile.
    fn rotation(&self) -> Option<(&knock_profiles::rotate::Rotation, &str)> {
        match &self.plan.sequences {
            Sequences::Rotating { rotation, door } => Some((rotation, door)),
            Sequences::Fixed(_) => None,
        }
    }
}

/// Knocks (and verifies, and launches with --ssh).
fn knock(args: &Args) -> Result<Code> {
    let job = ready(args)?;
    let mut net = SystemNet;
    let verbose = args.verbose > 0;
    if args.dry_run {
        return dry_run(args, &job, &mut net, verbose);
    }
    let cancel = AtomicBool::new(false);
    let mut report = |p: &Progress| report_progress(p, verbose, &job);
    let outcome = send::run(
        &job.plan,
        &mut net,
        &SystemTimer,
        &SystemWall,
        &cancel,
        &mut report,
    )?;
    if !args.ssh {
        return Ok(Code::OK);
    }
    let argv = connect_argv(&job, outcome.addr, &args.ssh_args)?;
    if verbose {
        eprintln!("knock: {}: starting {}", job.label, argv.join(" "));
    }
    exec(&argv)
}

fn report_progress(p: &Progress, verbose: bool, job: &Ready) {
    let plan = &job.plan;
    let family = plan.family;
    match p {
        Progress::Resolved { host, addr, others } => {
            if *others > 0 && family == knock_profiles::options::Family::Any {
                eprintln!(
                    "knock: {host} has {} addresses; knocking {addr} (use -4 or -6 to choose)",
                    others + 1
                );
            } else if verbose && host != &addr.to_string() {
                eprintln!("knock: {host} is {addr}");
            }
        }
        Progress::Knocked { knock, to, .. } if verbose => {
            // The same words as knock(1) -v.
            println!("hitting {} {}", knock.proto, to);
        }
        Progress::Verifying { attempt, to } if verbose => {
            eprintln!("knock: waiting for {to} to accept connections (attempt {attempt})");
        }
        Progress::Opened { to, after } if verbose => {
            eprintln!("knock: {to} is open (after {} ms)", after.as_millis());
        }
        // Said only when a retry follows (the final error says the rest);
        // for a rotating profile, the wait for the next period says it.
        Progress::NotOpened { attempt, to }
            if verbose || (job.rotation().is_none() && *attempt <= plan.retries) =>
        {
            let total = plan.retries.saturating_add(1);
            let next = if *attempt < total {
                "; knocking again"
            } else {
                ""
            };
            eprintln!("knock: {to} did not open (attempt {attempt} of {total}){next}");
        }
        Progress::WaitingForPeriod {
            attempt: 1,
            wait,
            period,
        } => {
            eprintln!(
                "knock: waiting {} ms for the next {} s period",
                wait.as_millis(),
                period.as_secs()
            );
        }
        Progress::WaitingForPeriod { wait, .. } => {
            let port = plan.verify.map_or(0, |v| v.port);
            eprintln!(
                "knock: port {port} did not open; waiting {} ms for the next period to knock again",
                wait.as_millis()
            );
        }
        Progress::Derived { step, sequence, .. } if verbose => {
            let period = job.rotation().map_or(0, |(r, _)| r.params().period_secs());
            eprintln!(
                "knock: {}, step {step} of {period} s: {sequence}",
                job.label
            );
        }
        _ => {}
    }
}

/// What `--ssh` starts after knocking `addr`.
fn connect_argv(job: &Ready, addr: std::net::IpAddr, extra: &[String]) -> Result<Vec<String>> {
    let resolved = &job.resolved;
    let launch = resolved.connect.clone().unwrap_or(Launch::Ssh);
    if !extra.is_empty() && !matches!(launch, Launch::Ssh) {
        eprintln!(
            "knock: warning: arguments after -- are for ssh; launch = \"{launch}\" does not take them"
        );
    }
    let target = resolved.target(Some(addr));
    Ok(launch::argv(&launch, &target, extra, Platform::current())
        .ok_or_else(|| LaunchError("nothing to launch".into()))?)
}

fn dry_run(args: &Args, job: &Ready, net: &mut dyn Net, verbose: bool) -> Result<Code> {
    let plan = &job.plan;
    // A real knock derives each attempt's sequence as it goes; a dry run
    // shows the step in force now.
    let (sequence, label) = match &plan.sequences {
        Sequences::Fixed(sequence) => (sequence.clone(), job.label.clone()),
        Sequences::Rotating { rotation, door } => {
            let (step, sequence) = crate::secrets::dry_run_sequence(rotation, door, plan.delay);
            let label = format!(
                "{}, step {step} of {} s",
                job.label,
                rotation.params().period_secs()
            );
            if verbose {
                eprintln!("knock: {label}: {sequence}");
            }
            (sequence, label)
        }
    };
    // The address a real knock would use, found the same way.
    let send::Address { addr, others } = send::resolve_once(&plan.host, plan.family, net)?;
    report_progress(
        &Progress::Resolved {
            host: plan.host.clone(),
            addr,
            others,
        },
        verbose,
        job,
    );
    let mut out = io::stdout().lock();
    writeln!(out, "would knock {label} at {addr}:")?;
    for (i, k) in sequence.iter().enumerate() {
        if i > 0 && !plan.delay.is_zero() {
            writeln!(out, "  wait {} ms", plan.delay.as_millis())?;
        }
        let to = std::net::SocketAddr::new(addr, k.port);
        writeln!(out, "  {} {to}", k.proto)?;
    }
    if let Some(v) = plan.verify {
        writeln!(
            out,
            "then wait up to {} ms for tcp port {} to accept connections{}",
            v.wait.as_millis(),
            v.port,
            if plan.retries > 0 {
                format!(", knocking again up to {} times", plan.retries)
            } else {
                String::new()
            }
        )?;
    }
    if args.ssh {
        let argv = connect_argv(job, addr, &args.ssh_args)?;
        writeln!(out, "then start: {}", argv.join(" "))?;
    }
    Ok(Code::OK)
}

#[cfg(unix)]
fn exec(argv: &[String]) -> Result<Code> {
    use std::os::unix::process::CommandExt;
    let Some((program, rest)) = argv.split_first() else {
        return Err(LaunchError("empty launch command".into()).into());
    };
    let err = std::process::Command::new(program).args(rest).exec();
    Err(LaunchError(format!("cannot start {program}: {err}")).into())
}

/// Without exec: runs the command and exits with its own status (ssh's
/// 255 stays 255), so scripts see what ssh said.
#[cfg(not(unix))]
fn exec(argv: &[String]) -> Result<Code> {
    let Some((program, rest)) = argv.split_first() else {
        return Err(LaunchError("empty launch command".into()).into());
    };
    let status = launch::process(program, rest)
        .status()
        .map_err(|err| LaunchError(format!("cannot start {program}: {err}")))?;
    Ok(Code(status.code().map_or(Code::OTHER.0, |c| {
        u8::try_from(c).unwrap_or(Code::OTHER.0)
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn door_names_become_profile_names() {
        assert_eq!(profile_name_for("openSSH"), "openSSH");
        assert_eq!(profile_name_for(" my door! "), "my-door");
        assert_eq!(profile_name_for("!!"), "door");
    }
}
