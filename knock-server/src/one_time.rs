//! One_Time_Sequences: each line of the file is used once. After a
//! successful knock the line is disabled by writing `#` over its first
//! character (as knockd does) and the door moves to the next unused line;
//! when the file runs out the door is disabled.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use knock_profiles::Sequence;
use knock_profiles::knockd_conf::first_unused_sequence;

#[derive(Debug)]
pub struct OneTimeFile {
    path: PathBuf,
    /// Byte offset and length of the line in use.
    offset: usize,
    len: usize,
    pub sequence: Sequence,
}

impl OneTimeFile {
    /// The file's first unused sequence, or `Ok(None)` when all are used.
    pub fn open(path: &Path) -> Result<Option<OneTimeFile>, String> {
        Self::find(path, 0)
    }

    fn find(path: &Path, from: usize) -> Result<Option<OneTimeFile>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read One_Time_Sequences file {}: {e}",
                path.display()
            )
        })?;
        let tail = text.get(from..).unwrap_or("");
        let found = first_unused_sequence(tail, path).map_err(|e| e.to_string())?;
        Ok(found.map(|u| {
            let offset = from + u.offset;
            let len = text[offset..].find('\n').unwrap_or(text.len() - offset);
            OneTimeFile {
                path: path.to_path_buf(),
                offset,
                len,
                sequence: u.sequence,
            }
        }))
    }

    /// Disables the sequence in use (unless `dry_run`) and returns the
    /// next one, or `None` when the file has run out.
    pub fn advance(self, dry_run: bool) -> Result<Option<OneTimeFile>, String> {
        if !dry_run {
            let mut f = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(|e| format!("cannot update {}: {e}", self.path.display()))?;
            f.seek(SeekFrom::Start(self.offset as u64))
                .and_then(|_| f.write_all(b"#"))
                .map_err(|e| format!("cannot update {}: {e}", self.path.display()))?;
        }
        Self::find(&self.path, self.offset + self.len)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uses_each_line_once_and_comments_it_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ots");
        std::fs::write(&p, "# header\n 1,2,3\n\n 4,5:udp\n").unwrap();
        let f = OneTimeFile::open(&p).unwrap().unwrap();
        assert_eq!(f.sequence.to_string(), "1,2,3");
        let f = f.advance(false).unwrap().unwrap();
        assert_eq!(f.sequence.to_string(), "4,5:udp");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "# header\n#1,2,3\n\n 4,5:udp\n"
        );
        assert!(f.advance(false).unwrap().is_none());
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "# header\n#1,2,3\n\n#4,5:udp\n"
        );
        assert!(OneTimeFile::open(&p).unwrap().is_none());
    }

    #[test]
    fn dry_run_leaves_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ots");
        std::fs::write(&p, "1\n2").unwrap();
        let f = OneTimeFile::open(&p)
            .unwrap()
            .unwrap()
            .advance(true)
            .unwrap()
            .unwrap();
        assert_eq!(f.sequence.to_string(), "2");
        assert!(f.advance(true).unwrap().is_none());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "1\n2");
    }
}
