//! Finding, loading and saving the profile file.
//!
//! The file belongs to the user (and maybe a dotfile manager or a synced
//! folder): edits go through [`toml_edit`] so comments, blank lines, key order
//! and tables we do not know survive, and saves are atomic (a temp file in the
//! same directory, fsync, rename over the old file, keeping its permissions;
//! a symlinked file is written through to its target).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::field::{FieldValue, int};
use crate::profile::{
    ConfigError, Knocks, NameError, Profile, ProfileFile, RotatingProfile, Settings, validate_name,
};
use crate::rotate::{self, Params, ProtoChoice};
use crate::secret::SecretSource;
use crate::sequence::Sequence;

/// Environment variable naming the profile file.
pub const ENV_VAR: &str = "KNOCK_PROFILES";

/// File name inside the configuration directory.
pub const FILE_NAME: &str = "profiles.toml";

/// Where the profile file is: `flag` (`--profiles`), else `$KNOCK_PROFILES`,
/// else `profiles.toml` in the platform's configuration directory for knock.
pub fn locate(flag: Option<&Path>) -> Result<PathBuf, StoreError> {
    locate_with(flag, std::env::var_os(ENV_VAR))
}

/// [`locate`] with the environment variable's value passed in (an empty
/// value counts as unset).
pub fn locate_with(flag: Option<&Path>, env: Option<OsString>) -> Result<PathBuf, StoreError> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    if let Some(value) = env.filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(value));
    }
    directories::ProjectDirs::from("", "", "knock")
        .map(|dirs| dirs.config_dir().join(FILE_NAME))
        .ok_or(StoreError::NoConfigDir)
}

/// No such file (or a parent is not a directory, so there cannot be one).
fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// What identifies a version of the file on disk: modification time and
/// length (`None` = no file).
type Fingerprint = Option<(Option<SystemTime>, u64)>;

fn fingerprint(path: &Path) -> io::Result<Fingerprint> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some((meta.modified().ok(), meta.len()))),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The profile file, loaded for reading and editing.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    doc: DocumentMut,
    file: ProfileFile,
    seen: Fingerprint,
}

impl Store {
    /// Loads the file; a missing file is an empty store (not an error).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let io_err = |error| StoreError::Io {
            path: path.to_path_buf(),
            error,
        };
        let seen = fingerprint(path).map_err(io_err)?;
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if is_missing(&e) => String::new(),
            Err(e) => return Err(io_err(e)),
        };
        let file = ProfileFile::parse(&text, path)?;
        let doc = text.parse::<DocumentMut>().map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ConfigError::at(path, &text, offset, e.message().trim().to_string(), None)
        })?;
        Ok(Store {
            path: path.to_path_buf(),
            doc,
            file,
            seen,
        })
    }

    /// Loads the file again (after [`Store::changed_on_disk`]), dropping
    /// unsaved edits. On error the store is left as it was.
    pub fn reload(&mut self) -> Result<(), StoreError> {
        *self = Store::open(&self.path)?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The profiles as they are now (including unsaved edits).
    pub fn file(&self) -> &ProfileFile {
        &self.file
    }

    /// The file's text as it would be saved.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Inserts or replaces `[profiles.NAME]` with a fixed-sequence profile.
    /// An existing table is updated key by key in place (comments on kept
    /// keys stay; keys set to `None` are removed, and so are the keys of a
    /// rotating profile if the table was one); a new one is added as a
    /// `[profiles.NAME]` table after the other profiles. Everything else in
    /// the file stays as it was.
    pub fn upsert(&mut self, name: &str, profile: &Profile) -> Result<(), StoreError> {
        self.upsert_values(name, profile_values(profile))
    }

    /// Inserts or replaces `[profiles.NAME]` with a rotating profile
    /// (`rotate = true`), like [`Store::upsert`]: kept keys keep their
    /// comments, keys of a fixed profile (`sequence`, `close_sequence`) are
    /// removed. The secret is never written: `secret = "keyring"` or
    /// `secret_cmd = "..."` names where it is. Keys left at their default
    /// (`door` = the profile name, `period_s`, `length`, `port_range`,
    /// `exclude_ports`, `protocol`) are not added, but one already in the
    /// table is kept (with the new value).
    pub fn upsert_rotating(
        &mut self,
        name: &str,
        profile: &RotatingProfile,
    ) -> Result<(), StoreError> {
        self.upsert_values(name, rotating_values(name, profile))
    }

    fn upsert_values(
        &mut self,
        name: &str,
        values: Vec<(&'static str, Want)>,
    ) -> Result<(), StoreError> {
        validate_name(name).map_err(|reason| StoreError::BadName {
            name: name.to_string(),
            reason,
        })?;
        self.edit(|doc| {
            let blank = is_blank(doc);
            let last_position = last_position(doc.as_table());
            let Some(profiles) = profiles_table(doc) else {
                return;
            };
            if let Some(table) = profiles.get_mut(name).and_then(Item::as_table_like_mut) {
                update_table(table, &values);
                return;
            }
            let mut table = Table::new();
            for (key, want) in &values {
                if let Want::Set(value) = want {
                    table.insert(key, Item::Value(value.clone()));
                }
            }
            if !blank {
                table.decor_mut().set_prefix("\n");
            }
            table.set_position(Some(last_position + 1));
            profiles.remove(name);
            profiles.insert(name, Item::Table(table));
        })
    }

    /// Removes `[profiles.NAME]` (with the comments just above its header).
    /// Returns whether it existed.
    pub fn remove(&mut self, name: &str) -> Result<bool, StoreError> {
        if !self.file.contains(name) {
            return Ok(false);
        }
        self.edit(|doc| {
            if let Some(profiles) = profiles_table(doc) {
                profiles.remove(name);
            }
        })?;
        Ok(true)
    }

    /// Renames a profile, keeping its place, keys and comments.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), StoreError> {
        if !self.file.contains(old) {
            return Err(self.not_found(old));
        }
        validate_name(new).map_err(|reason| StoreError::BadName {
            name: new.to_string(),
            reason,
        })?;
        if old == new {
            return Ok(());
        }
        if self.file.contains(new) {
            return Err(StoreError::Exists {
                name: new.to_string(),
            });
        }
        // A rotating profile's door defaults to its name; the server's door
        // section does not move with a rename, so an implicit door is pinned.
        let pin_door = self.file.rotating.get(old).map(|p| p.rotation.door.clone());
        self.edit(|doc| {
            if let Some(profiles) = profiles_table(doc)
                && let Some(mut item) = profiles.remove(old)
            {
                if let Some(door) = pin_door
                    && let Some(table) = item.as_table_like_mut()
                    && !table.contains_key("door")
                {
                    table.insert("door", Item::Value(Value::from(door)));
                }
                profiles.insert(new, item);
            }
        })
    }

    /// The error for a missing profile, with a "did you mean" hint from the
    /// existing names.
    pub fn not_found(&self, name: &str) -> StoreError {
        StoreError::NotFound {
            name: name.to_string(),
            path: self.path.clone(),
            hint: self.file.closest_name(name).map(str::to_string),
        }
    }

    /// The named profile, fixed or rotating, merged with `[defaults]` and
    /// the built-in defaults; or [`StoreError::NotFound`] with a hint.
    pub fn settings(&self, name: &str) -> Result<Settings, StoreError> {
        self.file.settings(name).ok_or_else(|| self.not_found(name))
    }

    /// The named fixed-sequence profile, or [`StoreError::NotFound`] with a
    /// hint ([`StoreError::OtherKind`] if `name` is a rotating profile).
    pub fn get(&self, name: &str) -> Result<&Profile, StoreError> {
        if let Some(profile) = self.file.profiles.get(name) {
            return Ok(profile);
        }
        if self.file.rotating.contains_key(name) {
            return Err(StoreError::OtherKind {
                name: name.to_string(),
                rotating: true,
            });
        }
        Err(self.not_found(name))
    }

    /// The named rotating profile, or [`StoreError::NotFound`] with a hint
    /// ([`StoreError::OtherKind`] if `name` has a fixed sequence).
    pub fn get_rotating(&self, name: &str) -> Result<&RotatingProfile, StoreError> {
        if let Some(profile) = self.file.rotating.get(name) {
            return Ok(profile);
        }
        if self.file.profiles.contains_key(name) {
            return Err(StoreError::OtherKind {
                name: name.to_string(),
                rotating: false,
            });
        }
        Err(self.not_found(name))
    }

    /// Writes the file atomically: a temp file in the same directory
    /// (created if missing), fsync, rename over the old file. The old file's
    /// permissions are kept; if the path is a symlink, its target is written.
    pub fn save(&mut self) -> Result<(), StoreError> {
        let text = self.doc.to_string();
        let target = match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                fs::canonicalize(&self.path).map_err(|error| StoreError::Write {
                    path: self.path.clone(),
                    error,
                })?
            }
            _ => self.path.clone(),
        };
        write_atomic(&target, text.as_bytes()).map_err(|error| StoreError::Write {
            path: target.clone(),
            error,
        })?;
        self.seen = fingerprint(&self.path).map_err(|error| StoreError::Io {
            path: self.path.clone(),
            error,
        })?;
        Ok(())
    }

    /// True if the file on disk changed (modification time or length) since
    /// it was opened or last saved; also true if it cannot be checked.
    pub fn changed_on_disk(&self) -> bool {
        match fingerprint(&self.path) {
            Ok(now) => now != self.seen,
            Err(_) => true,
        }
    }

    /// Applies `change` to the document and re-parses it; if the result is
    /// not a valid profile file, the change is undone and the error returned.
    fn edit(&mut self, change: impl FnOnce(&mut DocumentMut)) -> Result<(), StoreError> {
        let mut doc = self.doc.clone();
        change(&mut doc);
        let file = ProfileFile::parse(&doc.to_string(), &self.path)?;
        self.doc = doc;
        self.file = file;
        Ok(())
    }
}

/// The `profiles` table, created (without a header of its own) if missing.
/// Always `Some` for a document that parsed as a profile file.
fn profiles_table(doc: &mut DocumentMut) -> Option<&mut dyn TableLike> {
    let implicit = || {
        let mut table = Table::new();
        table.set_implicit(true);
        Item::Table(table)
    };
    let item = doc
        .as_table_mut()
        .entry("profiles")
        .or_insert_with(implicit);
    if !item.is_table_like() {
        *item = implicit();
    }
    item.as_table_like_mut()
}

/// The highest position of any table header in the document, so a new
/// table can go after all of them (at the end of the file).
fn last_position(table: &Table) -> isize {
    let mut last = table.position().unwrap_or(0);
    for (_, item) in table.iter() {
        match item {
            Item::Table(t) => last = last.max(last_position(t)),
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    last = last.max(last_position(t));
                }
            }
            _ => {}
        }
    }
    last
}

fn is_blank(doc: &DocumentMut) -> bool {
    doc.to_string().trim().is_empty()
}

/// What to do with one key of a profile table.
#[derive(Debug, Clone)]
enum Want {
    /// Write this value (keeping the text if it already means it).
    Set(Value),
    /// A default: update the key if the table has it, else do not add it.
    IfPresent(Value),
    /// Remove the key.
    Unset,
}

impl From<Option<Value>> for Want {
    fn from(value: Option<Value>) -> Self {
        value.map_or(Want::Unset, Want::Set)
    }
}

/// The keys only a rotating profile has, all to be removed from a fixed one.
const ROTATION_KEYS: &[&str] = &[
    "rotate",
    "secret",
    "secret_cmd",
    "door",
    "period_s",
    "length",
    "port_range",
    "exclude_ports",
    "protocol",
];

/// A fixed profile's keys in file order, with the values to write; the keys
/// of a rotating profile are removed.
fn profile_values(p: &Profile) -> Vec<(&'static str, Want)> {
    let mut values = vec![
        ("host", Want::Set(p.host.to_toml())),
        ("sequence", Want::Set(p.sequence.to_toml())),
        (
            "close_sequence",
            p.close_sequence.as_ref().map(FieldValue::to_toml).into(),
        ),
    ];
    values.extend(options_values(&p.options));
    values.extend(ROTATION_KEYS.iter().map(|k| (*k, Want::Unset)));
    values
}

/// The shared keys: each set one to write, each unset one to remove.
fn options_values(options: &crate::options::Options) -> impl Iterator<Item = (&'static str, Want)> {
    options
        .values()
        .into_iter()
        .map(|(key, value)| (key, value.into()))
}

/// A rotating profile's keys in file order (as the README lists them), with
/// the values to write; `sequence` and `close_sequence` are removed.
fn rotating_values(name: &str, p: &RotatingProfile) -> Vec<(&'static str, Want)> {
    let spec = &p.rotation;
    let params = &spec.params;
    let defaults = Params::default();
    // A default is written only if the table already has the key.
    let maybe = |value: Value, is_default: bool| {
        if is_default {
            Want::IfPresent(value)
        } else {
            Want::Set(value)
        }
    };
    let (secret, secret_cmd) = match &spec.secret {
        SecretSource::Keyring => (Want::Set(Value::from("keyring")), Want::Unset),
        SecretSource::Command(cmd) => (Want::Unset, Want::Set(Value::from(cmd.as_str()))),
    };
    let exclude: toml_edit::Array = params.exclude.iter().map(|p| i64::from(*p)).collect();
    let mut values = vec![
        ("host", Want::Set(p.host.to_toml())),
        ("sequence", Want::Unset),
        ("close_sequence", Want::Unset),
        ("rotate", Want::Set(Value::from(true))),
        ("secret", secret),
        ("secret_cmd", secret_cmd),
        (
            "door",
            maybe(Value::from(spec.door.as_str()), spec.door == name),
        ),
        (
            "period_s",
            maybe(int(params.period_secs()), params.period == defaults.period),
        ),
        (
            "length",
            maybe(int(params.length), params.length == defaults.length),
        ),
        (
            "port_range",
            maybe(
                Value::from(rotate::format_range(&params.range)),
                params.range == defaults.range,
            ),
        ),
        (
            "exclude_ports",
            maybe(Value::Array(exclude), params.exclude.is_empty()),
        ),
        (
            "protocol",
            maybe(
                Value::from(params.protos.as_str()),
                params.protos == ProtoChoice::default(),
            ),
        ),
    ];
    values.extend(options_values(&p.options));
    values
}

/// `knock --show NAME`: the effective settings of a profile (its keys,
/// then `[defaults]`, then the built-ins) as a `[profiles.NAME]` table with
/// every key written, which [`crate::profile::ProfileFile::parse`] reads
/// back. A rotating profile's rotation keys are all written (defaults
/// filled in); its secret never is. An unset `open_port` is a comment.
pub fn settings_toml(s: &Settings) -> String {
    let mut t = Table::new();
    t.insert("host", toml_edit::value(s.host.to_toml()));
    match &s.knocks {
        Knocks::Fixed(sequence) => {
            t.insert("sequence", toml_edit::value(sequence.to_toml()));
            if let Some(close) = &s.close_sequence {
                t.insert("close_sequence", toml_edit::value(close.to_toml()));
            }
        }
        Knocks::Rotating(spec) => {
            let params = &spec.params;
            t.insert("rotate", toml_edit::value(true));
            match &spec.secret {
                SecretSource::Keyring => t.insert("secret", toml_edit::value("keyring")),
                SecretSource::Command(cmd) => {
                    t.insert("secret_cmd", toml_edit::value(cmd.as_str()))
                }
            };
            t.insert("door", toml_edit::value(spec.door.as_str()));
            t.insert("period_s", toml_edit::value(int(params.period_secs())));
            t.insert("length", toml_edit::value(int(params.length)));
            let range = rotate::format_range(&params.range);
            t.insert("port_range", toml_edit::value(range));
            let exclude: toml_edit::Array = params.exclude.iter().map(|p| i64::from(*p)).collect();
            t.insert("exclude_ports", toml_edit::value(exclude));
            t.insert("protocol", toml_edit::value(params.protos.as_str()));
        }
    }
    for (key, value) in s.options.to_options().values() {
        if let Some(value) = value {
            t.insert(key, toml_edit::value(value));
        }
    }
    if s.options.open_port.is_none()
        && let Some(mut key) = t.key_mut("wait_ms")
    {
        key.leaf_decor_mut()
            .set_prefix("# open_port is not set: no verify\n");
    }
    profile_table_text(&s.name, t)
}

/// `[profiles.NAME]` holding `table`, as text.
fn profile_table_text(name: &str, table: Table) -> String {
    let mut profiles = Table::new();
    profiles.set_implicit(true);
    profiles.insert(name, Item::Table(table));
    let mut doc = DocumentMut::new();
    doc.insert("profiles", Item::Table(profiles));
    doc.to_string()
}

/// Updates an existing profile table in place: unchanged values keep their
/// exact text, changed ones keep their trailing comment, unset keys go, new
/// keys are appended.
fn update_table(table: &mut dyn TableLike, values: &[(&'static str, Want)]) {
    for (key, want) in values {
        let (new, add) = match want {
            Want::Unset => {
                table.remove(key);
                continue;
            }
            Want::Set(new) => (new, true),
            Want::IfPresent(new) => (new, false),
        };
        match table.get_mut(key).and_then(Item::as_value_mut) {
            Some(old) if same_value(key, old, new) => {}
            Some(old) => {
                let decor = old.decor().clone();
                *old = new.clone();
                *old.decor_mut() = decor;
            }
            None if add => {
                table.insert(key, Item::Value(new.clone()));
            }
            None => {}
        }
    }
}

/// Whether the text in the file already means `new`
/// (`"7000, 8000"` is the same sequence as `"7000,8000"`).
fn same_value(key: &str, old: &Value, new: &Value) -> bool {
    match (old, new) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.value(), b.value());
            match key {
                "sequence" | "close_sequence" => {
                    matches!((Sequence::parse(a), Sequence::parse(b)), (Ok(x), Ok(y)) if x == y)
                }
                "port_range" => {
                    matches!((rotate::parse_range(a), rotate::parse_range(b)), (Ok(x), Ok(y)) if x == y)
                }
                "protocol" => {
                    matches!((a.parse::<ProtoChoice>(), b.parse::<ProtoChoice>()), (Ok(x), Ok(y)) if x == y)
                }
                "family" => a.eq_ignore_ascii_case(b),
                _ => a == b,
            }
        }
        (Value::Integer(a), Value::Integer(b)) => a.value() == b.value(),
        (Value::Boolean(a), Value::Boolean(b)) => a.value() == b.value(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same_value(key, x, y))
        }
        _ => false,
    }
}

static TEMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Writes `bytes` to `path` via a temp file in the same directory + rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let old_perms = fs::metadata(path).ok().map(|m| m.permissions());
    let base = path
        .file_name()
        .map_or_else(|| OsString::from("profiles"), OsString::from);
    let (tmp, mut file) = loop {
        let mut name = OsString::from(".");
        name.push(&base);
        name.push(format!(
            ".{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        file.write_all(bytes)?;
        if let Some(perms) = old_perms {
            file.set_permissions(perms)?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Errors of the profile store. Messages name the file or the profile, and
/// carry their cause (there is no `source()` to print after them).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading (or checking) the file failed.
    #[error("cannot read {}: {}", path.display(), io_text(error))]
    Io { path: PathBuf, error: io::Error },
    /// Writing the file failed.
    #[error("cannot write {}: {}", path.display(), io_text(error))]
    Write { path: PathBuf, error: io::Error },
    /// The file's content is wrong (with file:line:col).
    #[error("{0}")]
    Config(ConfigError),
    /// No `--profiles`, no `$KNOCK_PROFILES`, and no home directory.
    #[error(
        "cannot find a configuration directory for {FILE_NAME} (set {ENV_VAR} or use --profiles)"
    )]
    NoConfigDir,
    #[error(
        "no profile named \"{name}\" in {}{}",
        path.display(),
        hint.as_ref().map(|h| format!(" (did you mean \"{h}\"?)")).unwrap_or_default()
    )]
    NotFound {
        name: String,
        /// The profile file that was searched.
        path: PathBuf,
        hint: Option<String>,
    },
    #[error("a profile named \"{name}\" already exists")]
    Exists { name: String },
    #[error("{reason}")]
    BadName { name: String, reason: NameError },
    /// `name` is a profile of the other kind: rotating (`rotating`) where a
    /// fixed sequence was asked for, or the other way round.
    #[error(
        "profile \"{name}\" {}",
        if *rotating {
            "is a rotating profile (rotate = true), not one with a fixed sequence"
        } else {
            "has a fixed sequence, not rotate = true"
        }
    )]
    OtherKind { name: String, rotating: bool },
}

/// `Permission denied`, not `Permission denied (os error 13)`.
fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

impl From<ConfigError> for StoreError {
    fn from(e: ConfigError) -> Self {
        StoreError::Config(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::options::{Family, Host, Millis, Port, Retries};

    const COMMENTED: &str = r#"# My knock profiles.
# Synced with my dotfiles.

[defaults]
delay_ms = 100          # pause between knocks
family = "any"          # "any" | "ipv4" | "ipv6"

# The main box.
[profiles.myserver]
host = "myserver.example.org"   # public name
sequence = "7000, 8000, 9000"   # spaced on purpose
delay_ms = 200
# verify ssh
open_port = 22
user = "admin"

# Old box, going away.
[profiles.old]
host = "192.0.2.9"
sequence = "1,2,3"

[profiles.backup]
host = "198.51.100.4"
sequence = "4000:udp"

[extra]   # a table only some other tool knows
keep = "me"
"#;

    fn seq(s: &str) -> Sequence {
        Sequence::parse(s).unwrap()
    }

    fn host(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    fn port(n: u16) -> Port {
        Port::new(n).unwrap()
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("profiles.toml");
        fs::write(&path, text).unwrap();
        path
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The file as written, minus the `[extra]` table (which the profile
    /// parser rejects as unknown); used to test edits.
    fn commented() -> String {
        let text = COMMENTED.split("\n\n[extra]").next().unwrap();
        format!("{text}\n")
    }

    #[test]
    fn shown_profiles_parse_back_to_the_same_settings() {
        let text = r#"
[defaults]
delay_ms = 50
user = "o'neil \\ \"admin\""

[profiles.web]
host = "we\"b\\x"
sequence = "7000,8000:udp"
close_sequence = "8000:udp,7000"
open_port = 22
launch = "mosh {user}@{host}"

[profiles.plain]
host = "192.0.2.1"
sequence = "1"

[profiles.vault]
host = "va\"ult\\"
rotate = true
secret_cmd = "pass show \"knock/vault\""
exclude_ports = [22, 443]
protocol = "both"
retries = 2
"#;
        let origin = Path::new("profiles.toml");
        let file = ProfileFile::parse(text, origin).unwrap();
        for name in ["web", "plain"] {
            let settings = file.settings(name).unwrap();
            let shown = settings_toml(&settings);
            let back =
                ProfileFile::parse(&shown, origin).unwrap_or_else(|e| panic!("{e}\n{shown}"));
            assert_eq!(back.settings(name).unwrap(), settings, "{shown}");
        }
        let shown = settings_toml(&file.settings("plain").unwrap());
        assert!(
            shown.contains("# open_port is not set: no verify\nwait_ms = 3000\n"),
            "{shown}"
        );
        let vault = &file.rotating["vault"];
        let shown = settings_toml(&file.settings("vault").unwrap());
        let back = ProfileFile::parse(&shown, origin).unwrap_or_else(|e| panic!("{e}\n{shown}"));
        assert_eq!(back.rotating["vault"].rotation, vault.rotation, "{shown}");
        assert_eq!(back.settings("vault"), file.settings("vault"), "{shown}");
        assert!(shown.starts_with("[profiles.vault]\n"), "{shown}");
    }

    #[test]
    fn unknown_tables_are_rejected_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), COMMENTED);
        let e = Store::open(&path).unwrap_err();
        assert!(
            e.to_string().ends_with(":26:2: unknown table \"extra\""),
            "{e}"
        );
        assert!(matches!(e, StoreError::Config(_)));
    }

    #[test]
    fn edits_keep_comments_order_and_formatting() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &commented());
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.file().profiles.len(), 3);

        // Update myserver: change delay, drop user, keep the rest.
        let mut p = store.get("myserver").unwrap().clone();
        p.options.delay_ms = Some(Millis::new(250));
        p.options.user = None;
        p.options.retries = Some(Retries::new(3));
        store.upsert("myserver", &p).unwrap();
        // A new profile, a removal and a rename.
        let mut new = Profile::new(host("203.0.113.5"), seq("1111,2222:udp"));
        new.options.family = Some(Family::Ipv4);
        new.options.launch = Some("mosh {host}".parse().unwrap());
        store.upsert("lab", &new).unwrap();
        assert!(store.remove("old").unwrap());
        assert!(!store.remove("old").unwrap());
        store.rename("backup", "backup2").unwrap();
        store.save().unwrap();

        let text = fs::read_to_string(&path).unwrap();
        let want = r#"# My knock profiles.
# Synced with my dotfiles.

[defaults]
delay_ms = 100          # pause between knocks
family = "any"          # "any" | "ipv4" | "ipv6"

# The main box.
[profiles.myserver]
host = "myserver.example.org"   # public name
sequence = "7000, 8000, 9000"   # spaced on purpose
delay_ms = 250
# verify ssh
open_port = 22
retries = 3

[profiles.backup2]
host = "198.51.100.4"
sequence = "4000:udp"

[profiles.lab]
host = "203.0.113.5"
sequence = "1111,2222:udp"
family = "ipv4"
launch = "mosh {host}"
"#;
        assert_eq!(text, want);

        // And it reads back as the same profiles.
        let again = Store::open(&path).unwrap();
        assert_eq!(again.file(), store.file());
        assert_eq!(again.file().profiles["lab"], new);
        assert_eq!(again.file().profiles["myserver"], p);
        assert_eq!(
            again.file().profiles.keys().collect::<Vec<_>>(),
            ["backup2", "lab", "myserver"]
        );
    }

    #[test]
    fn rotating_profiles_can_be_renamed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "# mine\n[defaults]\ndelay_ms = 50\n\n[profiles.rot]\nhost = \"192.0.2.1\"\nrotate = true\nsecret_cmd = \"cat k\"\n",
        );
        let mut store = Store::open(&path).unwrap();
        store.rename("rot", "rot2").unwrap();
        assert!(store.file().rotating.contains_key("rot2"));
        assert!(matches!(
            store.rename("rot", "x"),
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.remove("rot2").unwrap());
        store.save().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("rotate"), "{text}");
        assert!(text.contains("# mine"), "{text}");
    }

    fn rotating(host: &str, door: &str) -> RotatingProfile {
        RotatingProfile::new(Host::parse(host).unwrap(), door)
    }

    #[test]
    fn upsert_rotating_adds_a_table_with_only_what_is_not_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &commented());
        let mut store = Store::open(&path).unwrap();
        let mut vault = rotating("vault.example.org", "vault");
        vault.options.open_port = Some(port(22));
        store.upsert_rotating("vault", &vault).unwrap();
        let mut lab = rotating("192.0.2.9", "openSSH");
        lab.rotation.secret = SecretSource::Command("pass show knock/lab".into());
        lab.rotation.params = Params {
            period: std::time::Duration::from_secs(60),
            length: 5,
            range: 20000..=30000,
            exclude: vec![22222, 25000],
            protos: ProtoChoice::Both,
        };
        lab.options.delay_ms = Some(Millis::new(50));
        store.upsert_rotating("lab", &lab).unwrap();
        store.save().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let want = format!(
            "{}\n[profiles.vault]\nhost = \"vault.example.org\"\nrotate = true\nsecret = \"keyring\"\nopen_port = 22\n\n\
             [profiles.lab]\nhost = \"192.0.2.9\"\nrotate = true\nsecret_cmd = \"pass show knock/lab\"\n\
             door = \"openSSH\"\nperiod_s = 60\nlength = 5\nport_range = \"20000-30000\"\n\
             exclude_ports = [22222, 25000]\nprotocol = \"both\"\ndelay_ms = 50\n",
            commented()
        );
        assert_eq!(text, want);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.file(), store.file());
        assert_eq!(again.get_rotating("vault").unwrap(), &vault);
        assert_eq!(again.get_rotating("lab").unwrap(), &lab);
        assert_eq!(again.file().profiles.len(), 3);
    }

    const ROTATING_COMMENTED: &str = r#"# mine
[profiles.vault]   # the vault
host = "vault.example.org"   # public name
rotate = true
secret = "keyring"   # OS keyring
period_s = 30        # as on the server
protocol = "TCP"     # upper case on purpose
port_range = "10000 - 60000"
# verify ssh
open_port = 22
"#;

    #[test]
    fn upsert_rotating_updates_in_place_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), ROTATING_COMMENTED);
        let mut store = Store::open(&path).unwrap();
        // Unchanged: the text stays exactly as it was.
        let same = store.get_rotating("vault").unwrap().clone();
        store.upsert_rotating("vault", &same).unwrap();
        assert_eq!(store.text(), ROTATING_COMMENTED);
        // Changed: values change, comments stay, defaults present stay.
        let mut p = same.clone();
        p.host = host("192.0.2.1");
        p.rotation.params.period = std::time::Duration::from_secs(60);
        p.rotation.params.length = 6;
        p.rotation.secret = SecretSource::Command("pass show knock/vault".into());
        p.options.open_port = None;
        p.options.retries = Some(Retries::new(2));
        store.upsert_rotating("vault", &p).unwrap();
        store.save().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            r#"# mine
[profiles.vault]   # the vault
host = "192.0.2.1"   # public name
rotate = true
period_s = 60        # as on the server
protocol = "TCP"     # upper case on purpose
port_range = "10000 - 60000"
secret_cmd = "pass show knock/vault"
length = 6
retries = 2
"#
        );
        assert_eq!(
            Store::open(&path).unwrap().get_rotating("vault").unwrap(),
            &p
        );
    }

    #[test]
    fn upsert_replaces_a_profile_of_the_other_kind_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &commented());
        let mut store = Store::open(&path).unwrap();
        // Fixed -> rotating: the sequence goes, shared keys keep their comments.
        let mut r = rotating("myserver.example.org", "myserver");
        r.options.delay_ms = Some(Millis::new(200));
        r.options.open_port = Some(port(22));
        r.options.user = Some("admin".into());
        r.rotation.params.length = 3;
        store.upsert_rotating("myserver", &r).unwrap();
        let text = store.text();
        assert!(
            text.contains(
                "# The main box.\n[profiles.myserver]\nhost = \"myserver.example.org\"   # public name\n\
                 delay_ms = 200\n# verify ssh\nopen_port = 22\nuser = \"admin\"\n\
                 rotate = true\nsecret = \"keyring\"\nlength = 3\n\n# Old box"
            ),
            "{text}"
        );
        assert!(!text.contains("spaced on purpose"), "{text}");
        assert_eq!(store.file().profiles.len(), 2);
        assert_eq!(store.get_rotating("myserver").unwrap(), &r);
        assert!(matches!(
            store.get("myserver"),
            Err(StoreError::OtherKind { rotating: true, .. })
        ));

        // Rotating -> fixed: every rotation key goes, comments on kept keys stay.
        let mut f = Profile::new(host("myserver.example.org"), seq("7000,8000"));
        f.options.open_port = Some(port(22));
        f.close_sequence = Some(seq("8000,7000"));
        store.upsert("myserver", &f).unwrap();
        store.save().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(
                "# The main box.\n[profiles.myserver]\nhost = \"myserver.example.org\"   # public name\n\
                 # verify ssh\nopen_port = 22\nsequence = \"7000,8000\"\nclose_sequence = \"8000,7000\"\n\n# Old box"
            ),
            "{text}"
        );
        for key in ROTATION_KEYS {
            assert!(!text.contains(&format!("{key} =")), "{key} left in {text}");
        }
        let again = Store::open(&path).unwrap();
        assert_eq!(again.get("myserver").unwrap(), &f);
        assert!(again.file().rotating.is_empty());
        assert!(matches!(
            again.get_rotating("myserver"),
            Err(StoreError::OtherKind {
                rotating: false,
                ..
            })
        ));
        assert_eq!(
            again.get_rotating("myserver").unwrap_err().to_string(),
            "profile \"myserver\" has a fixed sequence, not rotate = true"
        );
        assert_eq!(
            again.get_rotating("myservr").unwrap_err().to_string(),
            format!(
                "no profile named \"myservr\" in {} (did you mean \"myserver\"?)",
                again.path().display()
            )
        );
    }

    #[test]
    fn renaming_a_rotating_profile_keeps_its_door() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "[profiles.vault]\nhost = \"192.0.2.1\"\nrotate = true\n\n[profiles.lab]\nhost = \"192.0.2.2\"\nrotate = true\ndoor = \"openSSH\"\n",
        );
        let mut store = Store::open(&path).unwrap();
        store.rename("vault", "vault2").unwrap();
        store.rename("lab", "lab2").unwrap();
        assert_eq!(
            store.text(),
            "[profiles.vault2]\nhost = \"192.0.2.1\"\nrotate = true\ndoor = \"vault\"\n\n[profiles.lab2]\nhost = \"192.0.2.2\"\nrotate = true\ndoor = \"openSSH\"\n"
        );
        assert_eq!(store.get_rotating("vault2").unwrap().rotation.door, "vault");
    }

    #[test]
    fn changed_value_keeps_its_trailing_comment() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &commented());
        let mut store = Store::open(&path).unwrap();
        let mut p = store.get("myserver").unwrap().clone();
        p.host = host("192.0.2.1");
        p.sequence = seq("7000,8000:udp");
        store.upsert("myserver", &p).unwrap();
        let text = store.text();
        assert!(
            text.contains("host = \"192.0.2.1\"   # public name\n"),
            "{text}"
        );
        assert!(
            text.contains("sequence = \"7000,8000:udp\"   # spaced on purpose\n"),
            "{text}"
        );
        assert!(text.contains("# The main box.\n[profiles.myserver]\n"));
    }

    #[test]
    fn upsert_into_an_empty_or_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/profiles.toml");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.file(), &ProfileFile::default());
        assert!(!store.changed_on_disk());
        store
            .upsert("a", &Profile::new(host("192.0.2.1"), seq("1,2")))
            .unwrap();
        store
            .upsert("b", &Profile::new(host("192.0.2.2"), seq("3")))
            .unwrap();
        store.save().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[profiles.a]\nhost = \"192.0.2.1\"\nsequence = \"1,2\"\n\n\
             [profiles.b]\nhost = \"192.0.2.2\"\nsequence = \"3\"\n"
        );
        // Only the file itself: no temp files left behind.
        assert_eq!(entries(&dir.path().join("sub/dir")), ["profiles.toml"]);
    }

    #[test]
    fn new_profile_after_defaults_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "# settings\n[defaults]\nretries = 1 # once\n");
        let mut store = Store::open(&path).unwrap();
        store
            .upsert("x", &Profile::new(host("192.0.2.1"), seq("5")))
            .unwrap();
        assert_eq!(
            store.text(),
            "# settings\n[defaults]\nretries = 1 # once\n\n\
             [profiles.x]\nhost = \"192.0.2.1\"\nsequence = \"5\"\n"
        );
    }

    #[test]
    fn inline_and_dotted_profiles_are_updated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[profiles]\na = { host = \"h\", sequence = \"1\" }\nb.host = \"i\"\nb.sequence = \"2\"\n";
        let path = write(dir.path(), text);
        let mut store = Store::open(&path).unwrap();
        let mut a = store.get("a").unwrap().clone();
        a.options.retries = Some(Retries::new(1));
        store.upsert("a", &a).unwrap();
        let mut b = store.get("b").unwrap().clone();
        b.host = host("j");
        store.upsert("b", &b).unwrap();
        let out = store.text();
        assert!(
            out.starts_with("[profiles]\na = { host = \"h\", sequence = \"1\""),
            "{out}"
        );
        assert!(out.contains("b.host = \"j\"\n"), "{out}");
        assert_eq!(
            store.file().profiles["a"].options.retries,
            Some(Retries::new(1))
        );
        assert_eq!(Store::open(&path).unwrap().file().profiles.len(), 2);
    }

    #[test]
    fn invalid_edits_are_refused_and_undone() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &commented());
        let mut store = Store::open(&path).unwrap();
        let before = store.text();
        // A port 0 cannot be made; rotation parameters can be out of range.
        assert_eq!(Port::new(0), None);
        let mut p = RotatingProfile::new(host("h"), "d");
        p.rotation.params.length = 0;
        let e = store.upsert_rotating("myserver", &p).unwrap_err();
        assert!(e.to_string().contains("length 0 is out of range"), "{e}");
        let e = store.upsert_rotating("new", &p).unwrap_err();
        assert!(matches!(e, StoreError::Config(_)), "{e}");
        assert_eq!(store.text(), before);

        let e = store.upsert("bad name", &Profile::new(host("h"), seq("1")));
        assert!(matches!(e, Err(StoreError::BadName { .. })), "{e:?}");
        let e = store.rename("myserver", "-x").unwrap_err();
        assert!(matches!(e, StoreError::BadName { .. }), "{e:?}");
        let e = store.rename("myserver", "old").unwrap_err();
        assert_eq!(e.to_string(), "a profile named \"old\" already exists");
        let e = store.rename("myservr", "z").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "no profile named \"myservr\" in {} (did you mean \"myserver\"?)",
                store.path().display()
            )
        );
        assert_eq!(
            store.get("qqqq").unwrap_err().to_string(),
            format!("no profile named \"qqqq\" in {}", store.path().display())
        );
        store.rename("myserver", "myserver").unwrap();
        assert_eq!(store.text(), before);
    }

    #[test]
    fn save_keeps_permissions_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &commented());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        store.remove("old").unwrap();
        store.save().unwrap();
        store.save().unwrap();
        assert_eq!(entries(dir.path()), ["profiles.toml"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        assert!(!fs::read_to_string(&path).unwrap().contains("old"));
    }

    #[cfg(unix)]
    #[test]
    fn save_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("dotfiles");
        fs::create_dir(&real_dir).unwrap();
        let real = write(&real_dir, &commented());
        let link = dir.path().join("profiles.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut store = Store::open(&link).unwrap();
        store.remove("old").unwrap();
        store.save().unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            !fs::read_to_string(&real)
                .unwrap()
                .contains("[profiles.old]")
        );
        assert_eq!(entries(&real_dir), ["profiles.toml"]);
        assert!(!store.changed_on_disk());
    }

    #[test]
    fn failed_save_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // The parent "directory" is a file, so it cannot be created.
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, "").unwrap();
        let path = blocker.join("profiles.toml");
        let mut store = Store::open(&path).unwrap();
        store
            .upsert("a", &Profile::new(host("h"), seq("1")))
            .unwrap();
        let e = store.save().unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("cannot write "), "{msg}");
        assert!(msg.contains("blocker"), "{msg}");
        assert!(!msg.contains("os error"), "{msg}");
    }

    #[test]
    fn unreadable_file_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as text.
        let path = dir.path().join("profiles.toml");
        fs::create_dir(&path).unwrap();
        let e = Store::open(&path).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("cannot read {}: ", path.display())),
            "{e}"
        );
    }

    #[test]
    fn config_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[profiles.a]\nhost = \"h\"\nsequnce = \"1\"\n");
        let e = Store::open(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}:3:1: unknown key \"sequnce\" (did you mean \"sequence\"?)",
                path.display()
            )
        );
    }

    #[test]
    fn notices_outside_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &commented());
        let mut store = Store::open(&path).unwrap();
        assert!(!store.changed_on_disk());
        // Same length, different modification time.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH).unwrap();
        drop(file);
        assert!(store.changed_on_disk());
        store.reload().unwrap();
        assert!(!store.changed_on_disk());
        // Different length.
        fs::write(&path, format!("{}# more\n", commented())).unwrap();
        assert!(store.changed_on_disk());
        // Our own save is not an outside edit.
        store.save().unwrap();
        assert!(!store.changed_on_disk());
        fs::remove_file(&path).unwrap();
        assert!(store.changed_on_disk());
    }

    #[test]
    fn locate_precedence() {
        let flag = Path::new("/flag/profiles.toml");
        let env = Some(OsString::from("/env/profiles.toml"));
        assert_eq!(locate_with(Some(flag), env.clone()).unwrap(), flag);
        assert_eq!(
            locate_with(None, env).unwrap(),
            Path::new("/env/profiles.toml")
        );
        // Empty or unset: the platform's config dir (only computed, never touched).
        for env in [None, Some(OsString::new())] {
            match locate_with(None, env) {
                Ok(path) => {
                    assert!(path.ends_with("profiles.toml"), "{}", path.display());
                    assert_ne!(path, Path::new("/env/profiles.toml"));
                }
                Err(e) => assert!(matches!(e, StoreError::NoConfigDir)),
            }
        }
    }

    #[test]
    fn example_profiles_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/profiles.toml");
        let store = Store::open(&path).unwrap();
        let file = store.file();
        let s = file.settings("myserver").unwrap();
        assert_eq!(&*s.host, "myserver.example.org");
        assert_eq!(s.knocks, Knocks::Fixed(seq("7000,8000,9000")));
        assert_eq!(s.options.open_port, Some(port(22)));
        assert!(file.profiles.len() >= 2);
        for name in file.profiles.keys() {
            assert!(file.settings(name).is_some());
        }
    }
}
