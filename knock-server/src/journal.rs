//! Pending Stop_Commands on disk, so that a crash and restart still closes
//! every door that was opened (fail-closed).
//!
//! The file is a log, appended to on every change (O(1) per change, not a
//! rewrite of the whole file):
//!
//! - `*ID<TAB>DUE_UNIX_MS<TAB>DOOR<TAB>COMMAND<TAB>#CRC`: a pending stop
//!   (added, or its due time changed); flushed to disk (`fdatasync`) before
//!   the door opens. DOOR and COMMAND are escaped (`\\`, `\t`, `\n`, `\r`),
//!   so a TAB or a newline in either cannot shift the fields; CRC is the
//!   CRC-32 (hex) of everything before its TAB, so a line that was cut short
//!   or mangled is never replayed as a command;
//! - `-ID`: that stop ran (not synced: losing it in a crash only runs an
//!   already-run stop again);
//! - `=DIGEST<TAB>FORGET_UNIX_S<TAB>#CRC`: the replay digest (SHA-256, hex)
//!   of an SPA packet that opened a door, and when the replay cache may
//!   forget it (its timestamp can no longer pass the clock check then);
//!   flushed to disk before the door opens, so that after a crash the
//!   packet is still refused as a replay. Digests are not removed: they
//!   expire, and are dropped from the file when it is compacted.
//!
//! Only complete lines count: a last line without its newline (a crash in
//! the middle of a write) is ignored, and a write that fails part-way is
//! cut back off the file, so the next line cannot be glued to it.
//!
//! `+ID<TAB>DUE...` and unsigned lines (the formats of earlier versions,
//! unescaped, unchecked) are still read, so an upgrade closes the doors the
//! old version opened. When the log holds many more lines than pending
//! stops it is compacted: rewritten atomically (temporary file + rename)
//! with only the pending stops, so its size stays proportional to them.
//!
//! The file is created 0600 and only read when it is a regular file of the
//! daemon's own user that nobody else may write ([`files::read_trusted`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
#[cfg(test)]
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::files;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub due_ms: u64,
    pub door: String,
    pub command: String,
}

/// Lines beyond twice the pending stops (plus this slack) trigger compaction.
const COMPACT_SLACK: usize = 64;

/// A replay digest and when it may be forgotten (Unix seconds).
pub type Digest = ([u8; 32], u64);

pub struct Journal {
    path: PathBuf,
    file: File,
    entries: BTreeMap<u64, Entry>,
    /// SPA replay digests -> when they may be forgotten.
    digests: BTreeMap<[u8; 32], u64>,
    /// Lines in the file now.
    lines: usize,
    /// Bytes in the file now (a failed append is cut back to this).
    bytes: u64,
}

/// What [`Journal::open`] found.
pub struct Opened {
    pub journal: Journal,
    /// The stops a previous run left pending, by id.
    pub left: Vec<(u64, Entry)>,
    /// The SPA replay digests a previous run journaled.
    pub digests: Vec<Digest>,
    /// Lines that were not replayed, and why (`line N: reason`).
    pub skipped: Vec<String>,
}

impl Journal {
    /// Opens (or creates) the journal and returns the stops a previous run
    /// left pending, with their ids (still in the journal: the caller
    /// schedules them under the same ids and removes each when it runs).
    /// The file is compacted first.
    pub fn open(path: &Path) -> std::io::Result<Opened> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let Parsed {
            entries,
            digests,
            skipped,
        } = read(path)?;
        let left = entries.iter().map(|(id, e)| (*id, e.clone())).collect();
        let (file, bytes) = rewrite(path, &entries, &digests)?;
        let lines = entries.len() + digests.len();
        Ok(Opened {
            journal: Journal {
                path: path.to_path_buf(),
                file,
                entries,
                digests: digests.clone(),
                lines,
                bytes,
            },
            left,
            digests: digests.into_iter().collect(),
            skipped,
        })
    }

    /// The SPA replay digests in the journal at `path`, without opening it
    /// for writing (the packet thread reads them at start, before the
    /// worker opens the journal). Empty if there is no journal.
    pub fn read_digests(path: &Path) -> std::io::Result<Vec<Digest>> {
        Ok(read(path)?.digests.into_iter().collect())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The largest id in the journal (0 if none).
    pub fn max_id(&self) -> u64 {
        self.entries.keys().next_back().copied().unwrap_or(0)
    }

    /// Adds (or re-dates) pending stop `id`, on disk before it returns. On
    /// an error nothing changed: the journal holds what it held before.
    pub fn put(&mut self, id: u64, entry: Entry) -> std::io::Result<()> {
        let line = entry_line(id, &entry);
        let old = self.entries.insert(id, entry);
        let r = self.append(line.as_bytes(), true);
        if r.is_err() {
            match old {
                Some(old) => self.entries.insert(id, old),
                None => self.entries.remove(&id),
            };
        }
        r
    }

    /// Records the replay digest of an SPA packet that opens a door, to be
    /// forgotten after `forget_at` (Unix seconds), on disk before it returns;
    /// digests already past `now` are dropped from memory (the file loses
    /// them when it is next compacted). On an error nothing changed.
    pub fn put_digest(
        &mut self,
        digest: [u8; 32],
        forget_at: u64,
        now: u64,
    ) -> std::io::Result<()> {
        self.digests.retain(|_, &mut t| t >= now);
        let old = self.digests.insert(digest, forget_at);
        let r = self.append(digest_line(&digest, forget_at).as_bytes(), true);
        if r.is_err() {
            match old {
                Some(t) => self.digests.insert(digest, t),
                None => self.digests.remove(&digest),
            };
        }
        r
    }

    /// Replay digests held.
    pub fn digests(&self) -> usize {
        self.digests.len()
    }

    /// Stop `id` ran.
    pub fn remove(&mut self, id: u64) -> std::io::Result<()> {
        if self.entries.remove(&id).is_some() {
            self.append(format!("-{id}\n").as_bytes(), false)
        } else {
            Ok(())
        }
    }

    fn append(&mut self, line: &[u8], sync: bool) -> std::io::Result<()> {
        if let Err(e) = self
            .file
            .write_all(line)
            .and_then(|()| if sync { self.file.sync_data() } else { Ok(()) })
        {
            // Cut off whatever part of the line reached the file (a full
            // disk takes part of a write); truncating frees space, so this
            // works where the write did not.
            let _ = self.file.set_len(self.bytes);
            return Err(e);
        }
        self.bytes += line.len() as u64;
        self.lines += 1;
        if self.lines > 2 * (self.entries.len() + self.digests.len()) + COMPACT_SLACK {
            // The line is on disk already; a failed compaction leaves the
            // (longer, still valid) log as it is.
            let _ = self.compact();
        }
        Ok(())
    }

    /// Rewrites the file with only the pending stops and the digests held.
    pub fn compact(&mut self) -> std::io::Result<()> {
        let (file, bytes) = rewrite(&self.path, &self.entries, &self.digests)?;
        self.file = file;
        self.bytes = bytes;
        self.lines = self.entries.len() + self.digests.len();
        Ok(())
    }

    /// Lines in the file (for tests: the log stays proportional to the
    /// pending stops).
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Points the journal's appends at `/dev/full` (every write fails with
    /// "No space left on device"), for tests of a full disk.
    #[cfg(test)]
    pub(crate) fn fill_disk(&mut self) {
        if let Ok(f) = OpenOptions::new().append(true).open("/dev/full") {
            self.file = f;
        }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match it.next()? {
            '\\' => '\\',
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(out)
}

/// One checked entry line, newline included.
fn entry_line(id: u64, e: &Entry) -> String {
    let body = format!(
        "*{id}\t{}\t{}\t{}",
        e.due_ms,
        escape(&e.door),
        escape(&e.command)
    );
    let crc = crc32fast::hash(body.as_bytes());
    format!("{body}\t#{crc:08x}\n")
}

/// One checked digest line, newline included.
fn digest_line(digest: &[u8; 32], forget_at: u64) -> String {
    let mut body = String::with_capacity(96);
    body.push('=');
    for b in digest {
        let _ = write!(body, "{b:02x}");
    }
    let _ = write!(body, "\t{forget_at}");
    let crc = crc32fast::hash(body.as_bytes());
    format!("{body}\t#{crc:08x}\n")
}

/// A checked digest line (`=...`, without its newline).
fn parse_digest(line: &str) -> Result<Digest, &'static str> {
    let (body, crc) = line.rsplit_once("\t#").ok_or("no checksum")?;
    let crc = u32::from_str_radix(crc, 16).map_err(|_| "bad checksum")?;
    if crc32fast::hash(body.as_bytes()) != crc {
        return Err("checksum mismatch (a damaged line)");
    }
    let (hex, forget_at) = body[1..].split_once('\t').ok_or("wrong number of fields")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("bad digest");
    }
    let mut digest = [0u8; 32];
    for (i, d) in digest.iter_mut().enumerate() {
        *d = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| "bad digest")?;
    }
    Ok((digest, forget_at.parse().map_err(|_| "bad time")?))
}

/// Writes `entries` and `digests` to `path` atomically (see
/// [`files::replace`]) and returns it open for appending, with its length.
fn rewrite(
    path: &Path,
    entries: &BTreeMap<u64, Entry>,
    digests: &BTreeMap<[u8; 32], u64>,
) -> std::io::Result<(File, u64)> {
    let mut text = String::new();
    for (id, e) in entries {
        text.push_str(&entry_line(*id, e));
    }
    for (d, t) in digests {
        text.push_str(&digest_line(d, *t));
    }
    let file = files::replace(path, text.as_bytes(), files::PRIVATE)?;
    Ok((file, text.len() as u64))
}

/// A checked entry line (`*...`, without its newline).
fn parse_checked(line: &str) -> Result<(u64, Entry), &'static str> {
    let (body, crc) = line.rsplit_once("\t#").ok_or("no checksum")?;
    let crc = u32::from_str_radix(crc, 16).map_err(|_| "bad checksum")?;
    if crc32fast::hash(body.as_bytes()) != crc {
        return Err("checksum mismatch (a damaged line)");
    }
    let mut it = body[1..].split('\t');
    let (Some(id), Some(due), Some(door), Some(command), None) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err("wrong number of fields");
    };
    Ok((
        id.parse().map_err(|_| "bad id")?,
        Entry {
            due_ms: due.parse().map_err(|_| "bad due time")?,
            door: unescape(door).ok_or("bad escape")?,
            command: unescape(command).ok_or("bad escape")?,
        },
    ))
}

/// An entry line of earlier versions (`+ID<TAB>...` or unsigned).
fn parse_legacy(line: &str) -> Option<(u64, Entry)> {
    let line = line.strip_prefix('+').unwrap_or(line);
    let mut it = line.splitn(4, '\t');
    let id = it.next()?.parse::<u64>().ok()?;
    let due_ms = it.next()?.parse().ok()?;
    let door = it.next()?.to_string();
    let command = it.next()?.to_string();
    Some((
        id,
        Entry {
            due_ms,
            door,
            command,
        },
    ))
}

/// What a journal file holds.
struct Parsed {
    entries: BTreeMap<u64, Entry>,
    digests: BTreeMap<[u8; 32], u64>,
    /// Lines skipped, with their number and why.
    skipped: Vec<String>,
}

/// Reads the journal at `path` if there is one, and only if it can be
/// trusted (see [`files::read_trusted`]).
fn read(path: &Path) -> std::io::Result<Parsed> {
    // Its lines run as commands (as root): a journal that is a symlink,
    // or that another user owns or may write, is not read at all.
    Ok(match files::read_trusted(path)? {
        Some(bytes) => parse(&String::from_utf8_lossy(&bytes)),
        None => Parsed {
            entries: BTreeMap::new(),
            digests: BTreeMap::new(),
            skipped: Vec::new(),
        },
    })
}

/// The pending stops and replay digests a log describes, and the lines
/// skipped.
fn parse(text: &str) -> Parsed {
    let mut out = BTreeMap::new();
    let mut digests = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut rest = text;
    let mut n = 0;
    while !rest.is_empty() {
        n += 1;
        let Some((line, next)) = rest.split_once('\n') else {
            skipped.push(format!(
                "line {n}: incomplete (no newline: a write cut short)"
            ));
            break;
        };
        rest = next;
        if line.is_empty() {
            continue;
        }
        if let Some(id) = line.strip_prefix('-') {
            match id.trim().parse::<u64>() {
                Ok(id) => {
                    out.remove(&id);
                }
                Err(_) => skipped.push(format!("line {n}: bad id")),
            }
            continue;
        }
        if line.starts_with('=') {
            match parse_digest(line) {
                Ok((d, t)) => {
                    let held = digests.entry(d).or_insert(t);
                    *held = (*held).max(t);
                }
                Err(why) => skipped.push(format!("line {n}: {why}")),
            }
            continue;
        }
        let parsed = if line.starts_with('*') {
            parse_checked(line).map_err(str::to_string)
        } else {
            parse_legacy(line).ok_or_else(|| "not an entry".to_string())
        };
        match parsed {
            Ok((id, e)) => {
                out.insert(id, e);
            }
            Err(why) => skipped.push(format!("line {n}: {why}")),
        }
    }
    Parsed {
        entries: out,
        digests,
        skipped,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(due_ms: u64) -> Entry {
        Entry {
            due_ms,
            door: "ssh".into(),
            command: "iptables -D INPUT -s 192.0.2.7 -j ACCEPT".into(),
        }
    }

    #[test]
    fn entries_survive_a_restart_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/pending");
        let Opened {
            journal: mut j,
            left,
            ..
        } = Journal::open(&p).unwrap();
        assert!(left.is_empty());
        j.put(1, entry(42)).unwrap();
        j.put(2, entry(7)).unwrap();
        j.put(1, entry(43)).unwrap();
        j.remove(2).unwrap();
        drop(j);
        let Opened {
            journal: j, left, ..
        } = Journal::open(&p).unwrap();
        assert_eq!(left, vec![(1, entry(43))]);
        assert_eq!(j.max_id(), 1);
        // Opening compacted the log to the one pending stop.
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 1);
    }

    #[test]
    fn changes_append_and_the_log_stays_proportional_to_pending_stops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let mut j = Journal::open(&p).unwrap().journal;
        j.put(1, entry(1)).unwrap();
        let before = std::fs::read_to_string(&p).unwrap();
        j.put(2, entry(2)).unwrap();
        let after = std::fs::read_to_string(&p).unwrap();
        assert!(after.starts_with(&before), "appended, not rewritten");
        for id in 3..2_000 {
            j.put(id, entry(id)).unwrap();
            j.remove(id).unwrap();
            assert!(j.lines() <= 2 * j.len() + COMPACT_SLACK + 1);
        }
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.lines().count() <= 2 * 2 + COMPACT_SLACK + 1, "{text}");
        drop(j);
        let left = Journal::open(&p).unwrap().left;
        assert_eq!(left, vec![(1, entry(1)), (2, entry(2))]);
    }

    #[test]
    fn reads_the_unsigned_format_of_earlier_versions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        std::fs::write(&p, "7\t0\tssh\techo a\tb\n8\t5\tssh\techo c\n-8\n").unwrap();
        let left = Journal::open(&p).unwrap().left;
        assert_eq!(
            left,
            vec![(
                7,
                Entry {
                    due_ms: 0,
                    door: "ssh".into(),
                    command: "echo a\tb".into()
                }
            )]
        );
    }
    #[test]
    fn tabs_and_newlines_in_names_and_commands_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let odd = Entry {
            due_ms: 9,
            door: "door\tname\\x".into(),
            command: "echo CLOSE\t%IP%\nrm -rf /tmp/x\r".into(),
        };
        let mut j = Journal::open(&p).unwrap().journal;
        j.put(3, odd.clone()).unwrap();
        drop(j);
        // One line on disk, whatever the fields held.
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 1);
        let o = Journal::open(&p).unwrap();
        assert_eq!(o.left, vec![(3, odd)]);
        assert!(o.skipped.is_empty(), "{:?}", o.skipped);
    }

    #[test]
    fn a_line_cut_short_or_damaged_is_never_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let mut j = Journal::open(&p).unwrap().journal;
        j.put(1, entry(1)).unwrap();
        drop(j);
        let whole = std::fs::read_to_string(&p).unwrap();
        let line2 = entry_line(2, &entry(2));
        // A crash in the middle of the second line's write: cut anywhere.
        for cut in 1..line2.len() {
            std::fs::write(&p, format!("{whole}{}", &line2[..cut])).unwrap();
            let o = Journal::open(&p).unwrap();
            assert_eq!(o.left, vec![(1, entry(1))], "cut at {cut}");
            assert_eq!(o.skipped.len(), 1, "cut at {cut}: {:?}", o.skipped);
        }
        // A cut-short line with another glued to it, and a changed byte.
        let damaged = line2.replace("192.0.2.7", "192.0.2.8");
        let glued = format!("{}{}", &line2[..20], entry_line(3, &entry(3)));
        std::fs::write(&p, format!("{whole}{damaged}{glued}")).unwrap();
        let o = Journal::open(&p).unwrap();
        assert_eq!(o.left, vec![(1, entry(1))]);
        assert_eq!(o.skipped.len(), 2, "{:?}", o.skipped);
        assert!(
            o.skipped[0].starts_with("line 2: checksum mismatch"),
            "{:?}",
            o.skipped
        );
    }

    #[test]
    fn spa_digests_survive_a_restart_beside_the_stops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let mut j = Journal::open(&p).unwrap().journal;
        let (a, b) = ([0xabu8; 32], [7u8; 32]);
        j.put(1, entry(42)).unwrap();
        j.put_digest(a, 1_000, 900).unwrap();
        j.put_digest(b, 2_000, 900).unwrap();
        j.remove(1).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains(&format!("={}\t1000\t#", "ab".repeat(32))),
            "{text}"
        );
        assert_eq!(
            Journal::read_digests(&p).unwrap(),
            vec![(b, 2_000), (a, 1_000)]
        );
        drop(j);
        let o = Journal::open(&p).unwrap();
        assert!(o.left.is_empty());
        assert_eq!(o.digests, vec![(b, 2_000), (a, 1_000)]);
        assert!(o.skipped.is_empty(), "{:?}", o.skipped);
        // A stop-free shutdown compacts: the digests stay, the stops went.
        let mut j = o.journal;
        j.compact().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 2);
        // Digests past their time are dropped as new ones come.
        j.put_digest([1; 32], 3_000, 1_500).unwrap();
        assert_eq!(j.digests(), 2);
        j.compact().unwrap();
        drop(j);
        let mut left = Journal::read_digests(&p).unwrap();
        left.sort();
        assert_eq!(left, vec![([1; 32], 3_000), (b, 2_000)]);
    }

    #[test]
    fn a_damaged_digest_line_is_skipped_and_others_still_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let good = digest_line(&[3; 32], 500);
        let changed = digest_line(&[4; 32], 500).replace("\t500\t", "\t900\t");
        let short = &digest_line(&[5; 32], 500)[..40];
        std::fs::write(&p, format!("{good}{changed}{short}")).unwrap();
        let o = Journal::open(&p).unwrap();
        assert_eq!(o.digests, vec![([3; 32], 500)]);
        assert_eq!(o.skipped.len(), 2, "{:?}", o.skipped);
        assert!(o.skipped[0].starts_with("line 2: checksum mismatch"));
        assert!(o.skipped[1].starts_with("line 3: incomplete"));
    }

    #[test]
    fn a_digest_that_cannot_be_written_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let mut j = Journal::open(&p).unwrap().journal;
        j.fill_disk();
        let e = j.put_digest([9; 32], 100, 0).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(j.digests(), 0);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let mut j = Journal::open(&p).unwrap().journal;
        j.put(1, entry(1)).unwrap();
        j.fill_disk();
        let e = j.put(2, entry(2)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        // Re-dating an entry that is on disk fails the same way and keeps
        // the old due time.
        assert!(j.put(1, entry(5)).is_err());
        assert_eq!(j.len(), 1);
        drop(j);
        assert_eq!(Journal::open(&p).unwrap().left, vec![(1, entry(1))]);
    }
}
