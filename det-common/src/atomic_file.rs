//! Writing det's own output files (reports, manifests): atomically — a temp file in the
//! same directory, fsync, rename — so that no reader ever sees a partial file.
//!
//! The rename replaces whatever the path names, so two cases are handled first: a path
//! that is not a regular file (`-o /dev/null`, `/dev/stdout`, a FIFO) is written to
//! directly, since replacing a device node with a regular file would break the system; and
//! a symbolic link is followed, so the link stays a link and its target gets the content.
//! A file that is replaced keeps its permission bits and, where the process may set them,
//! its owner and group; where it may not, the file is rewritten in place rather than
//! handed to another owner.
//!
//! A temp file is removed when det is stopped by SIGINT, SIGTERM or SIGHUP while writing
//! it (the handler then ends the process with the signal's conventional status).

use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// tempfile's errors name the temporary file (`.det-iQHezq.tmp`), which the user never
/// asked for and which does not exist: keep the operating system's error only.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((os, _)) => std::io::Error::new(e.kind(), os.to_owned()),
        None => e,
    }
}

/// Write `bytes` to `path` as described in the module docs. A new file gets mode 0644.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = follow_links(path)?;
    let existing = match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => return Err(Error::invalid(path, "is a directory")),
        Ok(m) if !m.is_file() => return write_in_place(path, &target, bytes),
        Ok(m) => Some(m),
        Err(_) => None,
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".det-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(path, without_temp_path(e)))?;
    let _guard = on_signal::remove(tmp.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // The temp file is created 0600; det's outputs are meant to be read by others, and a
        // file that is replaced keeps its mode.
        let mode = existing.as_ref().map_or(0o644, |m| m.mode() & 0o7777);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(path, e))?;
        if let Some(m) = &existing
            && (m.uid() != tmp.as_file().metadata().map_or(u32::MAX, |t| t.uid())
                || m.gid() != tmp.as_file().metadata().map_or(u32::MAX, |t| t.gid()))
            && std::os::unix::fs::fchown(tmp.as_file(), Some(m.uid()), Some(m.gid())).is_err()
        {
            // Replacing it would give the file to us: rewrite it in place instead.
            drop(tmp);
            return write_in_place(path, &target, bytes);
        }
    }
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    tmp.write_all(first).map_err(|e| Error::io(path, e))?;
    crate::test_hook::pause("atomic-write");
    tmp.write_all(rest).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    // On error the temp file is dropped, which deletes it.
    tmp.persist(&target).map_err(|e| Error::io(path, e.error))?;
    // Make the rename itself durable. Not every file system supports fsync on a directory;
    // the file is complete either way, so that failure is ignored.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Write into the existing file (a device, a FIFO, or a file det may not give away).
fn write_in_place(path: &Path, target: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(std::fs::metadata(target).is_ok_and(|m| m.is_file()))
        .open(target)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))
}

/// Have the temporary file `path` removed if SIGINT, SIGTERM or SIGHUP stops the process
/// before the guard drops (for det's other atomic writes: the store's outputs put in place).
pub(crate) fn remove_on_signal(path: &Path) -> impl Drop + use<> {
    on_signal::remove(path)
}

/// Removing temp files when a signal stops the process.
mod on_signal {
    use std::ffi::CString;
    use std::path::Path;
    use std::sync::Once;
    use std::sync::atomic::{AtomicPtr, Ordering};

    /// Temp files being written, as C strings (read by the signal handler, which may only
    /// call async-signal-safe functions: `unlink`, `signal`, `raise`).
    static SLOTS: [AtomicPtr<libc::c_char>; 16] =
        [const { AtomicPtr::new(std::ptr::null_mut()) }; 16];

    /// Unregisters its path when dropped (after the rename, or after an error removed it).
    pub(super) struct Registered(Option<usize>);

    impl Drop for Registered {
        fn drop(&mut self) {
            // The C string is leaked on purpose: the handler may be reading it right now.
            if let Some(i) = self.0 {
                SLOTS[i].store(std::ptr::null_mut(), Ordering::SeqCst);
            }
        }
    }

    /// Have `path` removed if SIGINT, SIGTERM or SIGHUP arrives before the guard drops.
    pub(super) fn remove(path: &Path) -> Registered {
        #[cfg(unix)]
        {
            static INSTALL: Once = Once::new();
            INSTALL.call_once(install);
            use std::os::unix::ffi::OsStrExt;
            let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
                return Registered(None);
            };
            let raw = c.into_raw();
            for (i, slot) in SLOTS.iter().enumerate() {
                if slot
                    .compare_exchange(
                        std::ptr::null_mut(),
                        raw,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
                {
                    return Registered(Some(i));
                }
            }
        }
        Registered(None)
    }

    #[cfg(unix)]
    fn install() {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: `handler` only calls async-signal-safe functions. A signal the process
            // ignores (nohup) stays ignored.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(sig, std::ptr::null(), &mut old);
                if old.sa_sigaction == libc::SIG_IGN {
                    continue;
                }
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = handler as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    }

    #[cfg(unix)]
    extern "C" fn handler(sig: libc::c_int) {
        for slot in &SLOTS {
            let p = slot.load(Ordering::SeqCst);
            if !p.is_null() {
                // SAFETY: a leaked, never freed, NUL-terminated string.
                unsafe { libc::unlink(p) };
            }
        }
        // SAFETY: restore the default action and re-raise, so the process ends as the
        // signal would have ended it (status 128 + signal for a shell).
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// The path a chain of symbolic links ends at (which need not exist yet).
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p).map_err(|e| Error::io(&p, e))?;
                p = match p.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::invalid(path, "too many levels of symbolic links"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_regular_files_atomically_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write(&p, b"one").unwrap();
        let before = std::fs::metadata(&p).unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let after = std::fs::metadata(&p).unwrap();
            assert_ne!(
                before.ino(),
                after.ino(),
                "replaced by rename, not rewritten in place"
            );
            assert_eq!(after.permissions().mode() & 0o777, 0o644);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["r.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_stay_links_and_their_targets_get_the_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/out.txt");
        std::fs::write(&target, b"old").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink("real/out.txt", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("real/created.txt", &dangling).unwrap();
        write(&dangling, b"made").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("real/created.txt")).unwrap(),
            b"made"
        );
        // A loop is an error naming the path, not a hang.
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        let e = write(&dir.path().join("loop"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("loop") && e.contains("symbolic links"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_written_to_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo(),
            "still a FIFO"
        );
        // /dev/null is a character device on every Unix: it must stay one.
        write(Path::new("/dev/null"), b"discarded").unwrap();
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_written_through_a_symlink_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("private.sarif");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("r.sarif");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write(&link, b"new").unwrap();
        let m = std::fs::metadata(&target).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = write(dir.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }
}
