//! The copies of the source tree each run builds in: the files git would consider part of
//! the project (tracked, and untracked but not ignored) when the tree is in a git
//! repository, every file otherwise; never `target/` or `.git`. The user's tree is only read.

use std::fs::{self, File, FileTimes};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// The relative paths of the files to copy, sorted.
pub fn source_files(root: &Path) -> Result<Vec<PathBuf>> {
    // A tree git lists nothing of is not git's to describe (a project inside an ignored
    // directory of another repository, such as a copy under its target/): every file.
    let mut files = match git_files(root).filter(|f| !f.is_empty()) {
        Some(f) => f,
        None => walk(root)?,
    };
    files.retain(|p| {
        let first = p.components().next().map(|c| c.as_os_str().to_owned());
        !matches!(
            first.as_deref().and_then(|s| s.to_str()),
            Some("target" | ".git")
        )
    });
    files.sort();
    files.dedup();
    Ok(files)
}

/// `git ls-files --cached --others --exclude-standard` under `root`, when it is in a work tree.
fn git_files(root: &Path) -> Option<Vec<PathBuf>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    use std::os::unix::ffi::OsStrExt;
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(std::ffi::OsStr::from_bytes(s)))
            // A tracked file deleted in the work tree is not part of the build.
            .filter(|p| root.join(p).symlink_metadata().is_ok())
            .collect(),
    )
}

fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for e in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e.with_context(|| format!("reading {}", dir.display()))?;
            let r = rel.join(e.file_name());
            let t = e.file_type()?;
            if t.is_dir() {
                if rel.as_os_str().is_empty()
                    && (e.file_name() == "target" || e.file_name() == ".git")
                {
                    continue;
                }
                stack.push(r);
            } else {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Copy `files` from `src` to `dest` (created), keeping permissions and symlinks, every
/// file and directory with the mtime `mtime` (seconds since 1970).
pub fn copy(src: &Path, files: &[PathBuf], dest: &Path, mtime: u64) -> Result<()> {
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut dirs = vec![dest.to_path_buf()];
    for rel in files {
        let from = src.join(rel);
        let to = dest.join(rel);
        if let Some(parent) = to.parent()
            && !parent.exists()
        {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            let mut p = parent.to_path_buf();
            while p.starts_with(dest) && p != dest {
                dirs.push(p.clone());
                p.pop();
            }
        }
        let meta = from
            .symlink_metadata()
            .with_context(|| format!("reading {}", from.display()))?;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&from)?;
            std::os::unix::fs::symlink(&target, &to)
                .with_context(|| format!("creating {}", to.display()))?;
            continue;
        }
        if !meta.is_file() {
            // A socket or a FIFO in the tree is not a source.
            continue;
        }
        fs::copy(&from, &to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        set_mtime(&to, mtime)?;
    }
    dirs.sort();
    dirs.dedup();
    for d in dirs.iter().rev() {
        set_mtime(d, mtime)?;
    }
    Ok(())
}

fn set_mtime(path: &Path, mtime: u64) -> Result<()> {
    let t = UNIX_EPOCH + Duration::from_secs(mtime);
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    f.set_times(FileTimes::new().set_modified(t).set_accessed(t))
        .with_context(|| format!("setting the mtime of {}", path.display()))
}

/// Remove a directory tree, making read-only directories writable first (a build may
/// leave some, cargo's registry sources are read-only).
pub fn remove(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_writable(path);
    fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = path.symlink_metadata() else {
        return;
    };
    if meta.is_dir() {
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o755));
        if let Ok(rd) = fs::read_dir(path) {
            for e in rd.flatten() {
                make_writable(&e.path());
            }
        }
    }
}

/// The closest directory holding the workspace and every path package (cargo metadata),
/// or the workspace itself when metadata cannot be had without writing the tree.
pub fn cargo_source_root(workspace: &Path, cargo: &std::ffi::OsStr) -> PathBuf {
    // --locked: metadata never writes a Cargo.lock into the user's tree.
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else {
        return workspace.to_path_buf();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return workspace.to_path_buf();
    };
    let mut root = workspace.to_path_buf();
    for p in v["packages"].as_array().into_iter().flatten() {
        if !p["source"].is_null() {
            continue;
        }
        let Some(dir) = p["manifest_path"]
            .as_str()
            .and_then(|m| Path::new(m).parent())
        else {
            continue;
        };
        while !dir.starts_with(&root) {
            match root.parent() {
                Some(parent) => root = parent.to_path_buf(),
                None => break,
            }
        }
    }
    root
}

/// Where a cargo project is: see [`cargo_roots`].
pub struct CargoRoots {
    /// The workspace root.
    pub workspace: PathBuf,
    /// The closest directory holding the workspace and every path package it builds.
    pub source_root: PathBuf,
    /// `[workspace.metadata]` (null when there is none): where the store may be set.
    pub metadata: serde_json::Value,
}

/// The workspace root of the cargo project at `dir`, the closest directory holding it and
/// every path package it builds, and its `[workspace.metadata]`. One `cargo metadata
/// --no-deps` (no dependency resolution: about a third of the full call) answers all three
/// when every path dependency is a workspace member; a path package outside the members may
/// have path dependencies of its own that only resolution lists, so then the full `cargo
/// metadata` decides the source root.
pub fn cargo_roots(dir: &Path, cargo: &std::ffi::OsStr) -> Result<CargoRoots> {
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", Path::new(cargo).display()))?;
    if !out.status.success() {
        bail!(
            "{}: not a cargo project ({}); for another build give `--artifacts GLOB -- CMD...`",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{}: reading cargo metadata's output", dir.display()))?;
    let Some(ws) = v["workspace_root"].as_str().map(PathBuf::from) else {
        bail!("{}: cargo metadata names no workspace root", dir.display());
    };
    let members: Vec<&Path> = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["manifest_path"].as_str())
        .filter_map(|m| Path::new(m).parent())
        .collect();
    let outside = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["dependencies"].as_array().into_iter().flatten())
        .filter_map(|d| d["path"].as_str())
        .any(|d| !members.contains(&Path::new(d)));
    let metadata = v["metadata"].clone();
    if outside {
        let source_root = cargo_source_root(&ws, cargo);
        return Ok(CargoRoots {
            workspace: ws,
            source_root,
            metadata,
        });
    }
    let mut root = ws.clone();
    for dir in members {
        while !dir.starts_with(&root) {
            match root.parent() {
                Some(parent) => root = parent.to_path_buf(),
                None => break,
            }
        }
    }
    Ok(CargoRoots {
        workspace: ws,
        source_root: root,
        metadata,
    })
}
