//! Target `store_edits`: the profile store as `knock --save/--remove/
//! --rename` and the GUI edit it.
//!
//! Input: the file's text, then a NUL byte, then edits (read with
//! [`Bytes`]): `op:u8` (`op % 5`: upsert, upsert rotating, rename, remove,
//! save and reopen) and its operands, names and values picked from pools
//! by one byte each; at most [`MAX_EDITS`] edits.
//!
//! Checked:
//! - `Store::open` accepts the text exactly when `ProfileFile::parse`
//!   does, with the same profiles;
//! - an edit that succeeds did what it says: the profile written reads
//!   back equal, a removed one is gone, a renamed one is there under its
//!   new name (a rotating one keeps its door), and every other profile and
//!   `[defaults]` are as before;
//! - an edit that fails leaves the store as it was (text and profiles);
//! - what is saved opens again to the same text and profiles;
//! - the values of an edit, built as the CLI and the GUI build them: a
//!   host or launch command the type refuses is refused by its key's name
//!   (no profile can hold it, so that edit is not made); a number of
//!   milliseconds past `Millis::MAX` saturates in `Millis::new` and is
//!   refused as typed text (`Options::set_text`), as are a port 0 and a
//!   count past `u32::MAX`.
//!
//! Profiles had a `validate()` that `upsert` ran; a profile now holds
//! validated types (`Host`, `Port`, `Millis`, `Launch`), so what it refused
//! cannot be built, and the checks above take its place.
//!
//! The file lives in a directory of its own under /dev/shm (else the temp
//! directory), one per process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use knock_profiles::Sequence;
use knock_profiles::options::{Family, Host, Launch, Millis, Options, Port, Retries};
use knock_profiles::profile::{Profile, ProfileFile, RotatingProfile};
use knock_profiles::rotate::{self, ProtoChoice};
use knock_profiles::secret::SecretSource;
use knock_profiles::store::Store;

use crate::Bytes;

const NAMES: [&str; 12] = [
    "web", "db", "vault", "a.b", "x-1", "-bad", "", "b c", "web2", "Ünï", "_", "0",
];
const HOSTS: [&str; 8] = [
    "192.0.2.1",
    "example.org",
    "2001:db8::1",
    "",
    "we\"b\\x",
    "host name",
    "[2001:db8::2]",
    "h\n",
];
const SEQUENCES: [&str; 5] = [
    "7000,8000,9000",
    "1",
    "8000:udp,7000",
    "65535:udp",
    "22 80 443",
];
const LAUNCHES: [&str; 7] = [
    "ssh",
    "putty",
    "none",
    "mosh {user}@{host}",
    "xterm -e 'ssh {host} -p {port}' # \"q\"",
    "{host}",
    "mosh {user}",
];
const USERS: [&str; 5] = ["admin", "o'neil \\ \"x\"", "", "root\n", "ü"];
const SECRET_CMDS: [&str; 3] = ["pass show knock/vault", "", "printf '%s' \"$K\""];
const RANGES: [&str; 3] = ["10000-60000", "1-65535", "7000-7010"];

const MAX_EDITS: usize = 12;
const PREFIX: &str = "knock-fuzz-store-";

fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        // Directories of runs that have ended (libFuzzer exits without
        // cleaning up) go first.
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name();
                let pid = name.to_str().and_then(|n| n.strip_prefix(PREFIX));
                if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let d = base.join(format!("{PREFIX}{}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&d) {
            panic!("cannot create {}: {e}", d.display());
        }
        d
    })
}

fn pick<'a>(b: &mut Bytes, pool: &[&'a str]) -> &'a str {
    pool[usize::from(b.u8()) % pool.len()]
}

/// A name: one of [`NAMES`], or (high bit) one already in the file.
fn name(b: &mut Bytes, file: &ProfileFile) -> String {
    let x = b.u8();
    let existing: Vec<&String> = file.profiles.keys().chain(file.rotating.keys()).collect();
    if x & 0x80 != 0 && !existing.is_empty() {
        existing[usize::from(x & 0x7f) % existing.len()].clone()
    } else {
        NAMES[usize::from(x) % NAMES.len()].to_string()
    }
}

/// A number for a key of milliseconds or a count, past the file's range
/// too: `Millis::new` saturates at `Millis::MAX` (i64::MAX, TOML integers
/// being i64), typed text above it is refused
/// (fuzz/regressions/store_edits/store_edits-u64-clamp).
fn number(b: &mut Bytes) -> u64 {
    match b.u8() {
        0xff => u64::MAX,
        0xfe => Millis::MAX + 1,
        0xfd => Millis::MAX,
        x => u64::from(x) * 50,
    }
}

fn port(b: &mut Bytes) -> u16 {
    match b.u8() {
        0 => 0,
        1 => 65535,
        x => u16::from(x) * 7,
    }
}

fn pick_sequence(b: &mut Bytes) -> Sequence {
    let text = pick(b, &SEQUENCES);
    match Sequence::parse(text) {
        Ok(s) => s,
        Err(e) => panic!("pool sequence {text:?}: {e}"),
    }
}

/// `n` typed into `key` is read as `want` (`None`: refused, by name, and
/// nothing set).
fn typed<T: std::fmt::Debug + PartialEq>(
    key: &'static str,
    n: impl std::fmt::Display,
    want: Option<T>,
    get: impl Fn(&Options) -> Option<T>,
) {
    let mut o = Options::default();
    let text = n.to_string();
    match (o.set_text(key, &text), want) {
        (Ok(()), Some(want)) => assert_eq!(get(&o), Some(want), "{key} = {text}"),
        (Err(e), None) => {
            assert_eq!(e.key, key, "{key} = {text}: {e}");
            assert_eq!(o, Options::default(), "refused {key} = {text} set it");
        }
        (r, want) => panic!("{key} = {text}: {r:?}, expected {want:?}"),
    }
}

/// A number of milliseconds: the value as given (saturated), and the same
/// number typed, which reads as it or is refused above `Millis::MAX`.
fn millis(b: &mut Bytes, key: &'static str, get: fn(&Options) -> Option<Millis>) -> Millis {
    let n = number(b);
    let m = Millis::new(n);
    assert_eq!(m.get(), n.min(Millis::MAX), "Millis::new({n})");
    typed(key, n, (n <= Millis::MAX).then_some(m), get);
    m
}

/// A port: `None` for 0, which typed is refused.
fn pick_port(b: &mut Bytes, key: &'static str, get: fn(&Options) -> Option<Port>) -> Option<Port> {
    let n = port(b);
    let p = Port::new(n);
    assert_eq!(p.map(Port::get), (n != 0).then_some(n), "Port::new({n})");
    typed(key, n, p, get);
    p
}

/// The keys both kinds share, each set when its bit of a mask byte is;
/// a launch command that `Launch` refuses is left unset.
fn options(b: &mut Bytes) -> Options {
    let mask = b.u8();
    let on = |bit: u8| mask & (1 << bit) != 0;
    let mut o = Options::default();
    if on(0) {
        o.delay_ms = Some(millis(b, "delay_ms", |o| o.delay_ms));
    }
    if on(1) {
        o.family = Some([Family::Any, Family::Ipv4, Family::Ipv6][usize::from(b.u8() % 3)]);
    }
    if on(2) {
        o.open_port = pick_port(b, "open_port", |o| o.open_port);
    }
    if on(3) {
        o.wait_ms = Some(millis(b, "wait_ms", |o| o.wait_ms));
    }
    if on(4) {
        let n = number(b);
        let r = u32::try_from(n).ok().map(Retries::new);
        typed("retries", n, r, |o| o.retries);
        o.retries = Some(r.unwrap_or(Retries::new(u32::MAX)));
    }
    if on(5) {
        let text = pick(b, &LAUNCHES);
        o.launch = match text.parse::<Launch>() {
            Ok(l) => Some(l),
            Err(e) => {
                assert_eq!(e.key, "launch", "{text:?}: {e}");
                None
            }
        };
    }
    if on(6) {
        o.user = Some(pick(b, &USERS).to_string());
    }
    if on(7) {
        o.ssh_port = pick_port(b, "ssh_port", |o| o.ssh_port);
    }
    o
}

/// A host from [`HOSTS`]: `None` when `Host` refuses it (by its name), so
/// no profile can hold it.
fn host(b: &mut Bytes) -> Option<Host> {
    let text = pick(b, &HOSTS);
    match Host::parse(text) {
        Ok(h) => Some(h),
        Err(e) => {
            assert_eq!(e.key, "host", "{text:?}: {e}");
            None
        }
    }
}

fn profile(b: &mut Bytes) -> Option<Profile> {
    let host = host(b);
    let sequence = pick_sequence(b);
    let close = b.u8() & 1 != 0;
    let close_sequence = close.then(|| pick_sequence(b));
    let options = options(b);
    Some(Profile {
        host: host?,
        sequence,
        close_sequence,
        options,
    })
}

fn rotating(b: &mut Bytes, name: &str) -> Option<RotatingProfile> {
    let host = host(b);
    let mut p = RotatingProfile::new(host.clone().unwrap_or_else(placeholder), name);
    let x = b.u8();
    if x & 1 != 0 {
        p.rotation.door = pick(b, &NAMES).to_string();
    }
    if x & 2 != 0 {
        p.rotation.secret = SecretSource::Command(pick(b, &SECRET_CMDS).to_string());
    }
    let params = &mut p.rotation.params;
    if x & 4 != 0 {
        params.period = std::time::Duration::from_secs(u64::from(b.u8()) * 5);
    }
    if x & 8 != 0 {
        params.length = usize::from(b.u8() % 40);
    }
    // Mostly a small range: checking a rotating profile lists its allowed
    // ports, 50,000 of them in the default range, slow under the fuzzer.
    let range = if x & 16 != 0 {
        pick(b, &RANGES)
    } else {
        "7000-7010"
    };
    if let Ok(r) = rotate::parse_range(range) {
        params.range = r;
    }
    if x & 32 != 0 {
        params.exclude = vec![22, port(b)];
    }
    if x & 64 != 0 {
        params.protos =
            [ProtoChoice::Tcp, ProtoChoice::Udp, ProtoChoice::Both][usize::from(b.u8() % 3)];
    }
    p.options = options(b);
    host.map(|_| p)
}

/// A host that parses, for reading the rest of a profile whose host was
/// refused (the input's bytes then mean the same whatever the host).
fn placeholder() -> Host {
    match Host::parse("192.0.2.1") {
        Ok(h) => h,
        Err(e) => panic!("placeholder host: {e}"),
    }
}

/// Every profile but `skip` is as it was, and so is `[defaults]`.
fn others_kept(before: &ProfileFile, after: &ProfileFile, skip: &[&str], what: &str) {
    assert_eq!(
        after.defaults, before.defaults,
        "{what}: [defaults] changed"
    );
    for (n, p) in &before.profiles {
        if !skip.contains(&n.as_str()) {
            assert_eq!(
                after.profiles.get(n),
                Some(p),
                "{what}: profile {n:?} changed"
            );
        }
    }
    for (n, p) in &before.rotating {
        if !skip.contains(&n.as_str()) {
            assert_eq!(
                after.rotating.get(n),
                Some(p),
                "{what}: profile {n:?} changed"
            );
        }
    }
    for n in after.profiles.keys().chain(after.rotating.keys()) {
        assert!(
            before.contains(n) || skip.contains(&n.as_str()),
            "{what}: profile {n:?} appeared"
        );
    }
}

/// `text` with LF line endings and without trailing ones.
fn lf(text: &str) -> String {
    text.replace("\r\n", "\n")
        .trim_end_matches('\n')
        .to_string()
}

pub fn run(data: &[u8]) {
    let (text, ops) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = crate::text(text);
    let path = dir().join("profiles.toml");
    if let Err(e) = std::fs::write(&path, text.as_bytes()) {
        panic!("cannot write {}: {e}", path.display());
    }
    let parsed = ProfileFile::parse(&text, &path);
    let mut store = match Store::open(&path) {
        Ok(s) => s,
        Err(e) => {
            assert!(parsed.is_err(), "Store::open refuses what parses: {e}");
            return;
        }
    };
    match parsed {
        Ok(p) => assert_eq!(store.file(), &p),
        Err(e) => panic!("Store::open accepts what does not parse: {e}"),
    }
    // Unedited, the text stays as it was, but for line endings: toml_edit
    // writes CRLF as LF and ends the text with one (toml-rs/toml#1158, #1213).
    assert_eq!(
        lf(&store.text()),
        lf(&text),
        "the unedited text changed: {:?}",
        store.text()
    );
    let mut b = Bytes::new(ops);
    let mut done = Vec::new();
    // Each edit parses the whole file again: a few per input keep the
    // fuzzer fast.
    while !b.is_empty() && done.len() < MAX_EDITS {
        let before = store.file().clone();
        let before_text = store.text();
        let op = b.u8() % 5;
        let (what, ok) = match op {
            0 => {
                let n = name(&mut b, &before);
                let Some(p) = profile(&mut b) else {
                    done.push(format!("upsert {n:?}: host refused"));
                    continue;
                };
                let what = format!("upsert {n:?} {p:?}");
                let r = store.upsert(&n, &p);
                if r.is_ok() {
                    assert_eq!(store.get(&n).ok(), Some(&p), "{what}\n{}", store.text());
                    assert!(!store.file().rotating.contains_key(&n), "{what}");
                    assert_eq!(
                        store.settings(&n).ok(),
                        Some(p.settings(&n, &before.defaults)),
                        "{what}"
                    );
                    others_kept(&before, store.file(), &[&n], &what);
                }
                (what, r.is_ok())
            }
            1 => {
                let n = name(&mut b, &before);
                let Some(p) = rotating(&mut b, &n) else {
                    done.push(format!("upsert_rotating {n:?}: host refused"));
                    continue;
                };
                let what = format!("upsert_rotating {n:?} {p:?}");
                let r = store.upsert_rotating(&n, &p);
                if r.is_ok() {
                    assert_eq!(
                        store.get_rotating(&n).ok(),
                        Some(&p),
                        "{what}\n{}",
                        store.text()
                    );
                    assert!(!store.file().profiles.contains_key(&n), "{what}");
                    assert_eq!(
                        store.settings(&n).ok(),
                        Some(p.settings(&n, &before.defaults)),
                        "{what}"
                    );
                    others_kept(&before, store.file(), &[&n], &what);
                }
                (what, r.is_ok())
            }
            2 => {
                let old = name(&mut b, &before);
                let new = name(&mut b, &before);
                let what = format!("rename {old:?} {new:?}");
                let r = store.rename(&old, &new);
                if r.is_ok() && old != new {
                    let after = store.file();
                    assert!(!after.contains(&old), "{what}");
                    match (before.profiles.get(&old), before.rotating.get(&old)) {
                        (Some(p), _) => assert_eq!(after.profiles.get(&new), Some(p), "{what}"),
                        (_, Some(p)) => assert_eq!(after.rotating.get(&new), Some(p), "{what}"),
                        _ => panic!("{what}: renamed a profile that was not there"),
                    }
                    others_kept(&before, after, &[&old, &new], &what);
                }
                (what, r.is_ok())
            }
            3 => {
                let n = name(&mut b, &before);
                let what = format!("remove {n:?}");
                let r = store.remove(&n);
                if let Ok(existed) = r {
                    assert_eq!(existed, before.contains(&n), "{what}");
                    assert!(!store.file().contains(&n), "{what}");
                    others_kept(&before, store.file(), &[&n], &what);
                }
                (what, r.is_ok())
            }
            _ => {
                if let Err(e) = store.save() {
                    panic!("save: {e}");
                }
                let again = match Store::open(&path) {
                    Ok(s) => s,
                    Err(e) => panic!("saved file does not open: {e}\n{}", store.text()),
                };
                assert_eq!(again.text(), store.text());
                assert_eq!(again.file(), store.file());
                ("save".to_string(), true)
            }
        };
        if !ok {
            assert_eq!(store.text(), before_text, "failed {what} changed the text");
            assert_eq!(store.file(), &before, "failed {what} changed the profiles");
        }
        done.push(what);
    }
    // What the store holds is what its text says.
    match ProfileFile::parse(&store.text(), &path) {
        Ok(f) => assert_eq!(&f, store.file(), "after {done:?}"),
        Err(e) => panic!(
            "after {done:?} the text does not parse: {e}\n{}",
            store.text()
        ),
    }
}
