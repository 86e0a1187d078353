//! Pending Stop_Commands on disk, so that a crash and restart still closes
//! every door that was opened (fail-closed).
//!
//! The file is a log, appended to on every change (O(1) per change, not a
//! rewrite of the whole file):
//!
//! - `+ID<TAB>DUE_UNIX_MS<TAB>DOOR<TAB>COMMAND`: a pending stop (added, or
//!   its due time changed); flushed to disk (`fdatasync`) before the door
//!   opens;
//! - `-ID`: that stop ran (not synced: losing it in a crash only runs an
//!   already-run stop again).
//!
//! Lines without a sign (`ID<TAB>DUE...`, the format of earlier versions)
//! read as `+`. When the log holds many more lines than pending stops it is
//! compacted: rewritten atomically (temporary file + rename) with only the
//! pending stops, so its size stays proportional to them.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub due_ms: u64,
    pub door: String,
    pub command: String,
}

/// Lines beyond twice the pending stops (plus this slack) trigger compaction.
const COMPACT_SLACK: usize = 64;

pub struct Journal {
    path: PathBuf,
    file: File,
    entries: BTreeMap<u64, Entry>,
    /// Lines in the file now.
    lines: usize,
}

impl Journal {
    /// Opens (or creates) the journal and returns the stops a previous run
    /// left pending, with their ids (still in the journal: the caller
    /// schedules them under the same ids and removes each when it runs).
    /// The file is compacted first.
    pub fn open(path: &Path) -> std::io::Result<(Journal, Vec<(u64, Entry)>)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let entries = match std::fs::read_to_string(path) {
            Ok(text) => parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        let left = entries.iter().map(|(id, e)| (*id, e.clone())).collect();
        let file = rewrite(path, &entries)?;
        let lines = entries.len();
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                entries,
                lines,
            },
            left,
        ))
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

    /// Adds (or re-dates) pending stop `id`, on disk before it returns.
    pub fn put(&mut self, id: u64, entry: Entry) -> std::io::Result<()> {
        let line = format!(
            "+{id}\t{}\t{}\t{}\n",
            entry.due_ms, entry.door, entry.command
        );
        self.entries.insert(id, entry);
        self.append(line.as_bytes(), true)
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
        self.file.write_all(line)?;
        self.lines += 1;
        if self.lines > 2 * self.entries.len() + COMPACT_SLACK {
            return self.compact();
        }
        if sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Rewrites the file with only the pending stops.
    pub fn compact(&mut self) -> std::io::Result<()> {
        self.file = rewrite(&self.path, &self.entries)?;
        self.lines = self.entries.len();
        Ok(())
    }

    /// Lines in the file (for tests: the log stays proportional to the
    /// pending stops).
    pub fn lines(&self) -> usize {
        self.lines
    }
}

/// Writes `entries` to `path` atomically and returns it open for appending.
fn rewrite(path: &Path, entries: &BTreeMap<u64, Entry>) -> std::io::Result<File> {
    let mut text = String::new();
    for (id, e) in entries {
        text.push_str(&format!("+{id}\t{}\t{}\t{}\n", e.due_ms, e.door, e.command));
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    OpenOptions::new().append(true).open(path)
}

/// The pending stops a log describes, by id.
fn parse(text: &str) -> BTreeMap<u64, Entry> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(id) = line.strip_prefix('-') {
            if let Ok(id) = id.trim().parse::<u64>() {
                out.remove(&id);
            }
            continue;
        }
        let line = line.strip_prefix('+').unwrap_or(line);
        let mut it = line.splitn(4, '\t');
        let parsed = (|| {
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
        })();
        if let Some((id, e)) = parsed {
            out.insert(id, e);
        }
    }
    out
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
        let (mut j, left) = Journal::open(&p).unwrap();
        assert!(left.is_empty());
        j.put(1, entry(42)).unwrap();
        j.put(2, entry(7)).unwrap();
        j.put(1, entry(43)).unwrap();
        j.remove(2).unwrap();
        drop(j);
        let (j, left) = Journal::open(&p).unwrap();
        assert_eq!(left, vec![(1, entry(43))]);
        assert_eq!(j.max_id(), 1);
        // Opening compacted the log to the one pending stop.
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 1);
    }

    #[test]
    fn changes_append_and_the_log_stays_proportional_to_pending_stops() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        let (mut j, _) = Journal::open(&p).unwrap();
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
        let (_, left) = Journal::open(&p).unwrap();
        assert_eq!(left, vec![(1, entry(1)), (2, entry(2))]);
    }

    #[test]
    fn reads_the_unsigned_format_of_earlier_versions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        std::fs::write(&p, "7\t0\tssh\techo a\tb\n8\t5\tssh\techo c\n-8\n").unwrap();
        let (_, left) = Journal::open(&p).unwrap();
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
}
