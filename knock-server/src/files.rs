//! The files the daemon writes as root: the log, the pid file and the
//! journal of pending stops. A local user who can write to their directory
//! must not be able to aim them elsewhere, so they are never opened through
//! a symlink (`O_NOFOLLOW`), only regular files are written, new files are
//! created private, replacements are written to a fresh temporary file
//! (exclusive, random name) and renamed over the old one, and a file whose
//! contents the daemon acts on (the journal: its lines run as commands) is
//! only trusted when it belongs to the daemon's own user and nobody else
//! can write to it.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of files only the daemon reads (the journal).
pub const PRIVATE: u32 = 0o600;
/// Mode of files an admin group may read (the log).
pub const GROUP_READABLE: u32 = 0o640;

fn refuse(path: &Path, why: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!("{}: {why}", path.display()),
    )
}

/// `open(2)` errors for a symlink at the last component say "Too many
/// levels of symbolic links"; say what it means.
fn explain_symlink(path: &Path, e: std::io::Error) -> std::io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        refuse(path, "is a symbolic link; not following it")
    } else {
        e
    }
}

fn regular(path: &Path, f: &File) -> std::io::Result<()> {
    if f.metadata()?.file_type().is_file() {
        Ok(())
    } else {
        Err(refuse(path, "is not a regular file"))
    }
}

/// Opens `path` for appending, creating it with `mode`; refuses a symlink
/// and anything but a regular file.
pub fn open_append(path: &Path, mode: u32) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| explain_symlink(path, e))?;
    regular(path, &f)?;
    Ok(f)
}

/// Checks that `f` (opened from `path`) belongs to the daemon's user and
/// that neither its group nor others may write to it.
pub fn check_trusted(path: &Path, f: &File) -> std::io::Result<()> {
    let m = f.metadata()?;
    let me = crate::sys::euid();
    if m.uid() != me {
        return Err(refuse(
            path,
            format!(
                "belongs to uid {}, not to uid {me} (this daemon); not trusting it",
                m.uid()
            ),
        ));
    }
    if m.mode() & 0o022 != 0 {
        return Err(refuse(
            path,
            format!(
                "may be written by group or others (mode {:o}); not trusting it",
                m.mode() & 0o777
            ),
        ));
    }
    Ok(())
}

/// Reads `path` if it exists (`None` if it does not), refusing a symlink,
/// anything but a regular file, and a file [`check_trusted`] refuses.
pub fn read_trusted(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(explain_symlink(path, e)),
    };
    regular(path, &f)?;
    check_trusted(path, &f)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Replaces `path` with `bytes` atomically: a fresh temporary file in the
/// same directory (exclusive create, random name: nothing planted there is
/// written through), synced, given `mode`, renamed over `path` (a symlink
/// at `path` is replaced, not followed). Returns the new file, open for
/// appending.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<File> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".knock-server.")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    open_append(path, mode)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("shadow");
        std::fs::write(&victim, "secret\n").unwrap();
        let link = dir.path().join("knock.log");
        symlink(&victim, &link).unwrap();
        let e = open_append(&link, GROUP_READABLE).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        let e = read_trusted(&link).unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        // Replacing the path swaps the link out; the target is untouched.
        replace(&link, b"new\n", PRIVATE).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret\n");
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "new\n");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn new_files_are_private_and_only_regular_files_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        open_append(&p, PRIVATE).unwrap();
        let mode = std::fs::metadata(&p).unwrap().mode() & 0o777;
        assert_eq!(mode, PRIVATE);
        let r = dir.path().join("replaced");
        replace(&r, b"x", GROUP_READABLE).unwrap();
        assert_eq!(
            std::fs::metadata(&r).unwrap().mode() & 0o777,
            GROUP_READABLE
        );
        let e = open_append(dir.path(), PRIVATE).unwrap_err();
        assert!(
            e.to_string().contains("Is a directory")
                || e.to_string().contains("not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn a_file_others_may_write_or_own_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pending");
        std::fs::write(&p, "+1\t0\tssh\tid\n").unwrap();
        std::fs::set_permissions(&p, Permissions::from_mode(0o666)).unwrap();
        let e = read_trusted(&p).unwrap_err();
        assert!(
            e.to_string()
                .contains("may be written by group or others (mode 666)"),
            "{e}"
        );
        std::fs::set_permissions(&p, Permissions::from_mode(0o600)).unwrap();
        assert!(read_trusted(&p).unwrap().is_some());
        if crate::sys::euid() != 0 {
            eprintln!("skipped: giving a file to another user needs root");
            return;
        }
        std::os::unix::fs::chown(&p, Some(1000), Some(1000)).unwrap();
        let e = read_trusted(&p).unwrap_err();
        assert!(
            e.to_string().contains("belongs to uid 1000, not to uid 0"),
            "{e}"
        );
    }
}
