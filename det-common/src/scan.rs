//! The entry points of a scan: the sorted walk over the paths a user names, and the scan of
//! one file through the artifact tree and the detectors.

use crate::artifact::Node;
use crate::detect::{ScanOptions, scan_node};
use crate::finding::{Finding, Location};
use std::path::{Path, PathBuf};

/// A regular file to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanTarget {
    pub path: PathBuf,
    /// The path as the user will read it: the root as they named it, then `/`-separated
    /// components below it.
    pub display: String,
    pub size: u64,
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
    for root in roots {
        let root_display = display_root(root);
        // A symlink named on the command line is followed (as ripgrep does): the user asked
        // for it. Only symlinks met during the walk need `follow_symlinks`.
        if root.is_symlink()
            && let Ok(meta) = std::fs::metadata(root)
            && meta.is_file()
        {
            targets.push(ScanTarget {
                path: root.clone(),
                display: root_display,
                size: meta.len(),
            });
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
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| root_display.clone());
                    let message = if e.loop_ancestor().is_some() {
                        "symbolic link loop; not followed".to_owned()
                    } else {
                        e.io_error()
                            .map(|io| io.to_string())
                            .unwrap_or_else(|| e.to_string())
                    };
                    errors.push(WalkError { path, message });
                    continue;
                }
            };
            let ft = entry.file_type();
            if !ft.is_file() {
                if entry.depth() == 0 && !ft.is_dir() {
                    // Named by the user, so say why nothing was scanned.
                    errors.push(WalkError {
                        path: root_display.clone(),
                        message: "not a regular file or directory (a device, FIFO or socket); not scanned".into(),
                    });
                }
                continue;
            }
            let size = match entry.metadata() {
                Ok(m) => m.len(),
                Err(e) => {
                    errors.push(WalkError {
                        path: entry.path().display().to_string(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let display = match entry.path().strip_prefix(root) {
                Ok(rel) if !rel.as_os_str().is_empty() => join_display(&root_display, rel),
                _ => root_display.clone(),
            };
            targets.push(ScanTarget {
                path: entry.into_path(),
                display,
                size,
            });
        }
        if !root.exists() && root.symlink_metadata().is_err() {
            // walkdir reports this as an error already; nothing more to add.
        }
    }
    (targets, errors)
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
    let s = root.to_string_lossy().replace('\\', "/");
    let trimmed = s.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn join_display(root: &str, rel: &Path) -> String {
    let rel = rel.to_string_lossy().replace('\\', "/");
    if root == "." {
        rel
    } else if root == "/" {
        format!("/{rel}")
    } else {
        format!("{root}/{rel}")
    }
}

/// Scan one file: open (memory-mapped), detect its format, run the detectors over it and
/// everything inside it. Errors only when the file cannot be opened at all.
pub fn scan_file(target: &ScanTarget, opts: &ScanOptions) -> crate::Result<Vec<Finding>> {
    let node = Node::open(&target.path)?;
    let mut out = Vec::new();
    scan_node(
        &node,
        &Location::file(target.display.clone()),
        None,
        opts,
        0,
        &mut out,
    );
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let rd = display_root(root);
        let names: Vec<String> = targets
            .iter()
            .map(|t| {
                t.display
                    .strip_prefix(&format!("{rd}/"))
                    .unwrap()
                    .to_owned()
            })
            .collect();
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
        let (targets, _) = walk(&[dir.path().to_path_buf()], false);
        let rd = display_root(dir.path());
        let names: Vec<String> = targets
            .iter()
            .map(|t| {
                t.display
                    .strip_prefix(&format!("{rd}/"))
                    .unwrap()
                    .to_owned()
            })
            .collect();
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
