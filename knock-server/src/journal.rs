//! Pending Stop_Commands on disk, so that a crash and restart still closes
//! every door that was opened (fail-closed).
//!
//! One line per pending stop: `ID<TAB>DUE_UNIX_MS<TAB>DOOR<TAB>COMMAND`.
//! The file is rewritten atomically (temporary file + rename) on every
//! change; it is small (one line per open door).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub due_ms: u64,
    pub door: String,
    pub command: String,
}

pub struct Journal {
    path: PathBuf,
    entries: BTreeMap<u64, Entry>,
}

impl Journal {
    /// Opens (or creates) the journal and returns the entries left by a
    /// previous run. The returned journal is empty: the caller re-adds
    /// the entries it schedules.
    pub fn open(path: &Path) -> std::io::Result<(Journal, Vec<Entry>)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let left = match std::fs::read_to_string(path) {
            Ok(text) => parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let j = Journal {
            path: path.to_path_buf(),
            entries: BTreeMap::new(),
        };
        Ok((j, left))
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

    pub fn put(&mut self, id: u64, entry: Entry) -> std::io::Result<()> {
        self.entries.insert(id, entry);
        self.save()
    }

    pub fn remove(&mut self, id: u64) -> std::io::Result<()> {
        if self.entries.remove(&id).is_some() {
            self.save()
        } else {
            Ok(())
        }
    }

    fn save(&self) -> std::io::Result<()> {
        let mut text = String::new();
        for (id, e) in &self.entries {
            text.push_str(&format!("{id}\t{}\t{}\t{}\n", e.due_ms, e.door, e.command));
        }
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)
    }
}

fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.splitn(4, '\t');
            let _id = it.next()?;
            let due_ms = it.next()?.parse().ok()?;
            let door = it.next()?.to_string();
            let command = it.next()?.to_string();
            Some(Entry {
                due_ms,
                door,
                command,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_restart_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/pending");
        let (mut j, left) = Journal::open(&p).unwrap();
        assert!(left.is_empty());
        let e = Entry {
            due_ms: 42,
            door: "ssh".into(),
            command: "iptables -D INPUT -s 192.0.2.7 -j ACCEPT".into(),
        };
        j.put(1, e.clone()).unwrap();
        j.put(
            2,
            Entry {
                due_ms: 7,
                ..e.clone()
            },
        )
        .unwrap();
        j.remove(2).unwrap();
        drop(j);
        let (_j, left) = Journal::open(&p).unwrap();
        assert_eq!(left, vec![e]);
    }
}
