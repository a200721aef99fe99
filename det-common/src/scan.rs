//! The entry points of a scan: the sorted walk over the paths a user names, and the scan of
//! one file through the artifact tree and the detectors.

use crate::artifact::Node;
use crate::detect::{ScanOptions, scan_node};
use crate::finding::{Finding, Location};
use std::path::{Path, PathBuf};

/// A regular file to scan.
#[derive(Debug)]
pub struct ScanTarget {
    pub path: PathBuf,
    /// The path as the user will read it: the root as they named it, then `/`-separated
    /// components below it.
    pub display: String,
    pub size: u64,
    /// The device and inode the walk found at `path` (`None`: not checked). The open must
    /// find the same file, else it was replaced between the walk and the open.
    pub identity: Option<(u64, u64)>,
    /// The file itself, opened by the walk when it found it ([`walk_each`] with
    /// `open_files`), and its metadata then: the scan reads it, whatever has been put at
    /// `path` since.
    pub file: Option<(std::fs::File, std::fs::Metadata)>,
}

/// The device and inode of `m` (Unix), for [`ScanTarget::identity`].
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        None
    }
}

/// A path the walk could not read (unreadable directory, broken symlink, symlink loop).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalkError {
    pub path: String,
    pub message: String,
}

/// Every regular file below `roots`, each root in the order given and its contents in
/// byte-wise sorted order. Symlinks are skipped unless `follow_symlinks` (loops are then
/// reported, not followed); FIFOs, sockets and devices are always skipped, since opening a
/// FIFO would block.
pub fn walk(roots: &[PathBuf], follow_symlinks: bool) -> (Vec<ScanTarget>, Vec<WalkError>) {
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    walk_each(roots, follow_symlinks, false, |found| match found {
        Ok(t) => targets.push(t),
        Err(e) => errors.push(e),
    });
    (targets, errors)
}

/// The walk of [`walk`], handing each file found (or what could not be read) to `each` in
/// walk order as soon as it is found, so that a caller can scan the first files while the
/// walk reads the next directories. Each file's size and identity are taken as the walk
/// finds it (an `lstat` in the directory just read), so that a file or directory swapped
/// later is found out at the open.
///
/// With `open_files`, each regular file is opened as the walk finds it, in place of that
/// `lstat` ([`ScanTarget::file`]): one lookup of its path instead of two, and what is read
/// is the file the walk found, whatever is swapped in later. The caller bounds how many
/// targets it holds at once (each holds a descriptor). A file the walk cannot open (no
/// permission, no descriptor left) is handed on unopened, with its identity, for the scan's
/// own open to report or retry.
pub fn walk_each(
    roots: &[PathBuf],
    follow_symlinks: bool,
    open_files: bool,
    mut each: impl FnMut(Result<ScanTarget, WalkError>),
) {
    for root in roots {
        let root_display = display_root(root);
        // A symlink named on the command line is followed (as ripgrep does): the user asked
        // for it. Only symlinks met during the walk need `follow_symlinks`.
        if root.is_symlink()
            && let Ok(meta) = std::fs::metadata(root)
            && meta.is_file()
        {
            // Opened at its target: the open itself never follows a link (`Bytes::map_file`).
            let path = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
            each(Ok(ScanTarget {
                path,
                display: root_display,
                size: meta.len(),
                identity: identity(&meta),
                file: None,
            }));
            continue;
        }
        let walker = walkdir::WalkDir::new(root)
            .follow_links(follow_symlinks)
            .follow_root_links(true)
            .sort_by(|a, b| {
                a.file_name()
                    .as_encoded_bytes()
                    .cmp(b.file_name().as_encoded_bytes())
            })
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_vcs_dir(e));
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e
                        .path()
                        .map(|p| display_path(p.as_os_str()))
                        .unwrap_or_else(|| root_display.clone());
                    let message = if e.loop_ancestor().is_some() {
                        "symbolic link loop; not followed".to_owned()
                    } else {
                        e.io_error()
                            .map(|io| io.to_string())
                            .unwrap_or_else(|| e.to_string())
                    };
                    each(Err(WalkError { path, message }));
                    continue;
                }
            };
            let ft = entry.file_type();
            if !ft.is_file() {
                if entry.depth() == 0 && !ft.is_dir() {
                    // Named by the user, so say why nothing was scanned.
                    each(Err(WalkError {
                        path: root_display.clone(),
                        message: "not a regular file or directory (a device, FIFO or socket); not scanned".into(),
                    }));
                }
                continue;
            }
            each(resolve(entry, root, &root_display, open_files));
        }
    }
}

/// The target a walked regular file is: its size and identity, and for a link the file it
/// points to.
fn resolve(
    entry: walkdir::DirEntry,
    root: &Path,
    root_display: &str,
    open_files: bool,
) -> Result<ScanTarget, WalkError> {
    if open_files
        && !entry.path_is_symlink()
        && entry.depth() > 0
        && let Ok(file) = crate::artifact::open_no_follow(entry.path())
        && let Ok(meta) = file.metadata()
    {
        let display = display_below(&entry, root, root_display);
        return Ok(ScanTarget {
            size: meta.len(),
            identity: identity(&meta),
            file: Some((file, meta)),
            path: entry.into_path(),
            display,
        });
    }
    let (size, mut id) = match entry.metadata() {
        Ok(m) => (m.len(), identity(&m)),
        Err(e) => {
            return Err(WalkError {
                path: display_path(entry.path().as_os_str()),
                message: e.to_string(),
            });
        }
    };
    let display = display_below(&entry, root, root_display);
    // A link the user asked to follow (`-L`, or named as a root) is opened at its
    // target: the open itself never follows a link (see `Bytes::map_file`).
    let is_link = entry.path_is_symlink()
        || (entry.depth() == 0
            && std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.file_type().is_symlink()));
    let path = if is_link {
        // The link's target is what is opened: its identity, not the link's.
        id = std::fs::metadata(entry.path())
            .ok()
            .and_then(|m| identity(&m));
        match std::fs::canonicalize(entry.path()) {
            Ok(p) => p,
            Err(e) => {
                return Err(WalkError {
                    path: display,
                    message: e.to_string(),
                });
            }
        }
    } else {
        entry.into_path()
    };
    Ok(ScanTarget {
        path,
        display,
        size,
        identity: id,
        file: None,
    })
}

/// How reports name the file `entry` below `root`.
fn display_below(entry: &walkdir::DirEntry, root: &Path, root_display: &str) -> String {
    match entry.path().strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => join_display(root_display, rel),
        _ => root_display.to_owned(),
    }
}

/// Version-control metadata (`.git`, `.hg`, `.svn`, ...) is not a build output: below a
/// root it is skipped, as ripgrep does; named as a root it is scanned.
fn is_vcs_dir(e: &walkdir::DirEntry) -> bool {
    const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn", ".bzr", ".jj", "_darcs", "CVS"];
    e.file_type().is_dir()
        && e.file_name()
            .to_str()
            .is_some_and(|n| VCS_DIRS.contains(&n))
}

fn display_root(root: &Path) -> String {
    let s = display_path(root.as_os_str());
    let trimmed = s.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn join_display(root: &str, rel: &Path) -> String {
    let rel = display_path(rel.as_os_str());
    if root == "." {
        rel
    } else if root == "/" {
        format!("/{rel}")
    } else {
        format!("{root}/{rel}")
    }
}

/// A path as reports show it: distinct for every distinct path. A backslash is escaped as
/// `\\` (a file named `a\b` is not the file `a/b`), and each byte that is not UTF-8 as
/// `\xNN` (two names that differ only in invalid bytes do not both read as U+FFFD).
pub fn display_path(p: &std::ffi::OsStr) -> String {
    let bytes = p.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Scan one file: open (memory-mapped), detect its format, run the detectors over it and
/// everything inside it. Errors only when the file cannot be opened at all.
///
/// The detectors of one file run behind a panic boundary: a bug that panics on some input
/// becomes a `parse-error` finding for that file (with what was found before it), and the
/// scan of the other files goes on.
pub fn scan_file(target: &ScanTarget, opts: &ScanOptions) -> crate::Result<Vec<Finding>> {
    let node = match &target.file {
        Some((file, meta)) => Node::open_opened(file, meta, &target.path)?,
        None => Node::open_expecting(&target.path, target.identity)?,
    };
    let opts = opts.for_file();
    let loc = Location::file(target.display.clone());
    let mut out = Vec::new();
    let scanned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scan_node(&node, &loc, None, &opts, 0, &mut out)
    }));
    if let Err(payload) = scanned {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        out.push(Finding::new(
            crate::rules::get("parse-error"),
            loc.clone(),
            format!(
                "det bug: the scan of this file panicked ({what}); the findings before the panic are listed. Please report it with the file"
            ),
        ));
    }
    opts.finish_file(&loc, &mut out);
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files a walk of `dir` finds, as reports name them below it.
    fn names_below(dir: &Path) -> Vec<String> {
        let (targets, _) = walk(&[dir.to_path_buf()], false);
        relative_names(dir, &targets)
    }

    /// How reports name `targets` below `dir`.
    fn relative_names(dir: &Path, targets: &[ScanTarget]) -> Vec<String> {
        let rd = display_root(dir);
        targets
            .iter()
            .map(|t| {
                t.display
                    .strip_prefix(&format!("{rd}/"))
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn walk_is_sorted_skips_symlinks_and_names_files_relative_to_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in ["b", "a", "C", "sub/z", "sub/y"] {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, name).unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
        let (targets, errors) = walk(&[root.to_path_buf()], false);
        assert!(errors.is_empty(), "{errors:?}");
        let names = relative_names(root, &targets);
        assert_eq!(names, ["C", "a", "b", "sub/y", "sub/z"]);
    }

    #[test]
    fn version_control_directories_are_skipped_below_a_root() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            ".git/objects/ab/cdef",
            ".hg/store",
            "src/.gitignore",
            "out/app",
        ] {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, name).unwrap();
        }
        let names = names_below(dir.path());
        assert_eq!(names, ["out/app", "src/.gitignore"]);
        let (targets, _) = walk(&[dir.path().join(".git")], false);
        assert_eq!(
            targets.len(),
            1,
            "a VCS directory named as a root is scanned"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_file_named_as_a_root_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("f"), dir.path().join("l")).unwrap();
        let (targets, errors) = walk(&[dir.path().join("l")], false);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(targets.len(), 1);
        assert!(targets[0].display.ends_with("/l"), "{targets:?}");
    }

    #[cfg(unix)]
    #[test]
    fn reported_paths_are_distinct_and_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/b"), b"clean").unwrap();
        std::fs::write(dir.path().join("a\\b"), b"other").unwrap();
        let bad = std::ffi::OsStr::from_bytes(b"x\xff\xfe.bin");
        std::fs::write(dir.path().join(bad), b"z").unwrap();
        let names = names_below(dir.path());
        assert_eq!(names, ["a/b", "a\\\\b", "x\\xff\\xfe.bin"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_replaced_after_the_walk_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"walked").unwrap();
        let (targets, _) = walk(&[dir.path().to_path_buf()], false);
        assert!(targets[0].identity.is_some());
        // Another regular file at the same path (a rename over it): the same name, another inode.
        std::fs::write(dir.path().join("g"), b"/home/alice/.ssh/id_rsa\n").unwrap();
        std::fs::rename(dir.path().join("g"), dir.path().join("f")).unwrap();
        let e = scan_file(&targets[0], &ScanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("another file than the directory walk found"),
            "{e}"
        );
        // Unchanged, it is read.
        let (targets, _) = walk(&[dir.path().to_path_buf()], false);
        assert!(scan_file(&targets[0], &ScanOptions::default()).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_reported_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("d/up")).unwrap();
        let (targets, errors) = walk(&[dir.path().to_path_buf()], true);
        assert_eq!(targets.len(), 1, "{targets:?}");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].message.contains("loop"), "{errors:?}");
        let (targets, errors) = walk(&[dir.path().to_path_buf()], false);
        assert_eq!((targets.len(), errors.len()), (1, 0));
    }

    #[cfg(unix)]
    #[test]
    fn fifos_are_skipped_and_missing_roots_reported() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let (targets, errors) = walk(
            &[dir.path().to_path_buf(), dir.path().join("missing")],
            false,
        );
        assert!(targets.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].path.ends_with("missing"), "{errors:?}");
        // Named explicitly, a FIFO is reported rather than silently skipped (and never opened).
        let (targets, errors) = walk(std::slice::from_ref(&fifo), false);
        assert!(targets.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].message.contains("not a regular file"),
            "{errors:?}"
        );
    }
}
