//! The det store: builds addressed by their inputs. An entry is the outputs of one build
//! and its manifest, filed under the build's closure hash (BLAKE3 over everything that
//! determines the outputs, see `Manifest::closure`). A build whose closure is in the store
//! needs no build: its outputs are put in place from the entry, each checked first.
//!
//! The store is a plain directory, shared the way files are (a network file system, a CI
//! cache keyed by the closure):
//!
//! ```text
//! DIR/entries/<closure>/manifest.json     the build's manifest (outputs with BLAKE3, size)
//! DIR/entries/<closure>/outputs/<path>    each output, by its path under the target dir
//! DIR/tmp/                                entries being written, and entries being removed
//! ```
//!
//! An entry is written in full under `tmp/` (every file synced) and then renamed into
//! `entries/` in one step: a reader sees a whole entry or none, whatever kills the writer
//! and whenever. Two writers of one closure both rename; the first wins, the second finds
//! the entry there and discards its own copy. An entry is immutable once made: a file that
//! no longer matches the manifest's BLAKE3 and size is damage, detected before any output
//! is used.
//!
//! `entries/<closure>/verified.json` (`det-verified/2`) is the entry's record of
//! verification, written beside the outputs (never in them) by whoever rebuilt the closure
//! and found it reproducible, and rewritten whole (atomically) when another verification is
//! added:
//!
//! ```json
//! {
//!   "closure": "1f2e…",
//!   "schema": "det-verified/2",
//!   "verifications": [
//!     { "runs": 3, "tool": "det-verify 0.1.0",
//!       "variations": ["path", "time", "timezone"] }
//!   ]
//! }
//! ```
//!
//! `variations` are the names of what differed between the runs, sorted; the verifications
//! are sorted and each is listed once, so the record is a function of what was verified,
//! not of when (det writes no time of its own). A closure counts as verified for a set of
//! variations when one verification covers all of them ([`Store::verified_for`]).
//! `det-verified/1` records, which also held the time of each verification, are read (the
//! time ignored) and rewritten as `det-verified/2` when a verification is added.
//!
//! The store trusts its writers: whoever may write DIR may put any bytes in an entry (with a
//! manifest to match). It protects against damage and interrupted writes, not forgery.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::manifest::Manifest;
use crate::{Error, Result};

/// The file of an entry's manifest.
pub const MANIFEST: &str = "manifest.json";
/// The directory of an entry's outputs.
pub const OUTPUTS: &str = "outputs";

/// An opened store directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// An entry found in the store (not yet checked: see [`Store::check`]).
#[derive(Debug, Clone)]
pub struct Entry {
    pub closure: String,
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// What looking a closure up found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Box<Entry>),
    Miss,
    /// An entry is there but cannot be used: why.
    Damaged(String),
}

/// What [`Store::insert`] did.
#[derive(Debug)]
pub enum Inserted {
    /// The entry is new.
    New(Entry),
    /// Another build of the closure stored it first; this build's copy was discarded.
    Existing(Entry),
}

/// Whether `closure` is a closure hash: 64 lowercase hex digits (it names a directory).
pub fn is_closure(closure: &str) -> bool {
    closure.len() == 64
        && closure
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An output's path in a manifest as a relative path that stays inside the directory it
/// is joined to: no root, no `..`, nothing empty.
pub fn safe_relative(rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if rel.is_empty() || p.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Where a store was configured, and by which setting (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    /// The store directory, absolute.
    pub dir: PathBuf,
    /// `--store`, `DET_STORE`, or `store in [workspace.metadata.det] (/w/Cargo.toml)`.
    pub setting: String,
}

/// The store a build uses, resolved the one way det-build and det-verify share: `--store
/// DIR` (`given`, relative to `cwd`), else `DET_STORE` (relative to `cwd`; empty is
/// unset), else `store = "DIR"` in `[workspace.metadata.det]` (relative to the workspace
/// root). `workspace` gives the workspace root and its `[workspace.metadata]`; it is only
/// asked when neither of the first two is set. `None`: no store.
pub fn configured(
    given: Option<&Path>,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    cwd: &Path,
    workspace: impl FnOnce() -> Option<(PathBuf, serde_json::Value)>,
) -> Option<Configured> {
    if let Some(d) = given {
        return Some(Configured {
            dir: cwd.join(d),
            setting: "--store".into(),
        });
    }
    if let Some(d) = env("DET_STORE").filter(|d| !d.is_empty()) {
        return Some(Configured {
            dir: cwd.join(d),
            setting: "DET_STORE".into(),
        });
    }
    let (ws, metadata) = workspace()?;
    let d = metadata.get("det")?.get("store")?.as_str()?;
    Some(Configured {
        dir: ws.join(d),
        setting: format!(
            "store in [workspace.metadata.det] ({})",
            ws.join("Cargo.toml").display()
        ),
    })
}

/// The workspace root and `[workspace.metadata]` of the cargo project at `dir` (`cargo
/// metadata --no-deps` run with `cargo`), for [`configured`]; `None` outside a project.
pub fn workspace_metadata(
    cargo: &Path,
    dir: &Path,
    manifest_path: Option<&Path>,
) -> Option<(PathBuf, serde_json::Value)> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.cargo_path(cargo).no_deps().current_dir(dir);
    if let Some(m) = manifest_path {
        cmd.manifest_path(m);
    }
    let m = cmd.exec().ok()?;
    Some((m.workspace_root.into_std_path_buf(), m.workspace_metadata))
}

impl Store {
    /// Open the store at `root`, creating it (and its `entries/` and `tmp/`) if needed.
    /// Errors name the directory: not a directory, not writable.
    pub fn open(root: &Path) -> Result<Store> {
        let root = std::path::absolute(root).map_err(|e| Error::io(root, e))?;
        match std::fs::metadata(&root) {
            Ok(m) if !m.is_dir() => return Err(Error::invalid(&root, "is not a directory")),
            _ => {}
        }
        for d in ["entries", "tmp"] {
            std::fs::create_dir_all(root.join(d)).map_err(|e| Error::io(root.join(d), e))?;
        }
        // `../store` shown as the directory it is.
        let root = root.canonicalize().unwrap_or(root);
        // Writable? (A read-only store could still serve hits, but a store det cannot
        // write is most often a mistake worth saying.)
        tempfile::Builder::new()
            .prefix(".det-write-check")
            .tempfile_in(root.join("tmp"))
            .map_err(|e| Error::invalid(&root, format!("is not writable: {e}")))?;
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the entry of `closure` (which need not exist).
    pub fn entry_dir(&self, closure: &str) -> PathBuf {
        self.root.join("entries").join(closure)
    }

    /// The entry of `closure`, if there is one; its manifest is read, its files are not
    /// checked yet.
    pub fn lookup(&self, closure: &str) -> Lookup {
        if !is_closure(closure) {
            return Lookup::Damaged(format!("{closure:?} is not a closure hash"));
        }
        let dir = self.entry_dir(closure);
        if std::fs::symlink_metadata(&dir).is_err() {
            return Lookup::Miss;
        }
        match self.read_entry(closure, dir) {
            Ok(e) => Lookup::Hit(Box::new(e)),
            Err(why) => Lookup::Damaged(why),
        }
    }

    fn read_entry(&self, closure: &str, dir: PathBuf) -> std::result::Result<Entry, String> {
        let path = dir.join(MANIFEST);
        let manifest = crate::manifest::read_manifest(&path).map_err(|e| e.to_string())?;
        if manifest.closure.as_deref() != Some(closure) {
            return Err(format!(
                "{}: records closure {:?}, not the entry's",
                path.display(),
                manifest.closure.as_deref().unwrap_or("")
            ));
        }
        if let Some(bad) = manifest
            .outputs
            .keys()
            .find(|rel| safe_relative(rel).is_none())
        {
            return Err(format!(
                "{}: output path {bad:?} leaves the target directory",
                path.display()
            ));
        }
        Ok(Entry {
            closure: closure.to_string(),
            dir,
            manifest,
        })
    }

    /// Check every output of `entry` against its manifest (size and BLAKE3). The error
    /// says which file and how it differs.
    pub fn check(&self, entry: &Entry) -> std::result::Result<(), String> {
        for (rel, want) in &entry.manifest.outputs {
            let Some(r) = safe_relative(rel) else {
                return Err(format!("output path {rel:?} leaves the target directory"));
            };
            let p = entry.dir.join(OUTPUTS).join(r);
            let got = crate::hash::hash_file(&p).map_err(|e| e.to_string())?;
            if got.size != want.size || got.blake3 != want.blake3 {
                return Err(format!(
                    "{}: BLAKE3 {} ({} bytes), the manifest records {} ({} bytes)",
                    p.display(),
                    got.blake3,
                    got.size,
                    want.blake3,
                    want.size
                ));
            }
        }
        Ok(())
    }

    /// Put the outputs of `entry` in place under `target_dir` (each through a temporary
    /// file renamed over the old one: a reflink where the file system can, else a copy),
    /// after checking the entry. Returns how many outputs were placed.
    pub fn place(&self, entry: &Entry, target_dir: &Path) -> std::result::Result<usize, String> {
        self.check(entry)?;
        for rel in entry.manifest.outputs.keys() {
            let r = safe_relative(rel).expect("checked");
            let from = entry.dir.join(OUTPUTS).join(&r);
            let to = target_dir.join(&r);
            copy_atomically(&from, &to).map_err(|e| e.to_string())?;
        }
        Ok(entry.manifest.outputs.len())
    }

    /// Store the outputs of a finished build: `manifest` (with its closure and outputs)
    /// and each output read from `target_dir`, checked against the manifest as copied.
    pub fn insert(&self, manifest: &Manifest, target_dir: &Path) -> Result<Inserted> {
        let closure = manifest
            .closure
            .clone()
            .filter(|c| is_closure(c))
            .ok_or_else(|| Error::invalid(&self.root, "the manifest has no closure hash"))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{}.", &closure[..16]))
            .tempdir_in(self.root.join("tmp"))
            .map_err(|e| Error::io(self.root.join("tmp"), e))?;
        // Held until the rename: `gc` leaves a directory alone while its writer lives.
        let writing = std::fs::File::open(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
        // SAFETY: an open descriptor.
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&writing), libc::LOCK_EX) };
        for (rel, want) in &manifest.outputs {
            let r = safe_relative(rel).ok_or_else(|| {
                Error::invalid(
                    target_dir,
                    format!("output {rel:?} leaves the target directory"),
                )
            })?;
            let to = tmp.path().join(OUTPUTS).join(&r);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let from = target_dir.join(&r);
            clone_or_copy(&from, &to)?;
            let got = crate::hash::hash_file(&to)?;
            if got.blake3 != want.blake3 || got.size != want.size {
                return Err(Error::invalid(
                    &from,
                    "changed while it was copied into the store (its BLAKE3 is not the manifest's)",
                ));
            }
        }
        crate::test_hook::pause("store-insert");
        let mpath = tmp.path().join(MANIFEST);
        let mut f = std::fs::File::create(&mpath).map_err(|e| Error::io(&mpath, e))?;
        f.write_all(&manifest.to_json())
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io(&mpath, e))?;
        sync_dir(tmp.path());
        let dest = self.entry_dir(&closure);
        let built = tmp.keep();
        let renamed = std::fs::rename(&built, &dest);
        drop(writing);
        match renamed {
            Ok(()) => {
                sync_dir(&self.root.join("entries"));
                Ok(Inserted::New(Entry {
                    closure,
                    dir: dest,
                    manifest: manifest.clone(),
                }))
            }
            Err(e)
                if dest.exists()
                    || matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) =>
            {
                let _ = std::fs::remove_dir_all(&built);
                match self.lookup(&closure) {
                    Lookup::Hit(entry) => Ok(Inserted::Existing(*entry)),
                    Lookup::Miss => Err(Error::io(&dest, e)),
                    Lookup::Damaged(why) => Err(Error::invalid(&dest, why)),
                }
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&built);
                Err(Error::io(&dest, e))
            }
        }
    }

    /// Every entry's closure, sorted (names in `entries/` that are not closures are left
    /// alone).
    pub fn closures(&self) -> Result<Vec<String>> {
        let dir = self.root.join("entries");
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_closure(n))
            .collect();
        v.sort();
        Ok(v)
    }

    /// The closure a prefix names, when exactly one entry starts with it.
    pub fn resolve(&self, prefix: &str) -> Result<String> {
        let all = self.closures()?;
        let found: Vec<&String> = all.iter().filter(|c| c.starts_with(prefix)).collect();
        match found.as_slice() {
            [one] if !prefix.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(Error::invalid(
                &self.root,
                format!("no entry has closure {prefix:?}"),
            )),
            many => Err(Error::invalid(
                &self.root,
                format!(
                    "{} entries start with {prefix:?}: give more of the closure",
                    many.len()
                ),
            )),
        }
    }

    /// Mark an entry used (its directory's modification time: what `gc` keeps by) and hold
    /// it against `gc` while the returned lock lives (a shared `flock` on the directory).
    pub fn use_entry(&self, closure: &str) -> Option<std::fs::File> {
        let dir = std::fs::File::open(self.entry_dir(closure)).ok()?;
        // SAFETY: an open descriptor; flock has no memory effects.
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&dir), libc::LOCK_SH) };
        let _ = dir.set_modified(std::time::SystemTime::now());
        Some(dir)
    }

    /// Remove the entries beyond the `keep` most recently used (built or substituted),
    /// never one a build holds right now, and whatever interrupted writers left in `tmp/`.
    pub fn gc(&self, keep: usize) -> Result<Gc> {
        let mut by_use: Vec<(std::time::SystemTime, String)> = Vec::new();
        for c in self.closures()? {
            let t = std::fs::metadata(self.entry_dir(&c))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            by_use.push((t, c));
        }
        // Most recent first; ties by closure, so the result does not depend on the listing.
        by_use.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut report = Gc::default();
        for (_, c) in by_use.into_iter().skip(keep) {
            let Some(lock) = try_lock(&self.entry_dir(&c)) else {
                report.in_use.push(c);
                continue;
            };
            self.remove(&c)?;
            drop(lock);
            report.removed.push(c);
        }
        let tmp = self.root.join("tmp");
        for e in std::fs::read_dir(&tmp).map_err(|e| Error::io(&tmp, e))? {
            let Ok(e) = e else { continue };
            let p = e.path();
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            // A writer holds its directory locked until the rename: one that is not held
            // was left by a build that was killed.
            if let Some(lock) = try_lock(&p) {
                let _ = std::fs::remove_dir_all(&p);
                drop(lock);
                report.leftovers += 1;
            }
        }
        Ok(report)
    }

    /// Take a damaged entry out of `entries/` (renamed under `tmp/` first, so that it
    /// disappears in one step, then deleted).
    pub fn remove(&self, closure: &str) -> Result<()> {
        if !is_closure(closure) {
            return Err(Error::invalid(
                &self.root,
                format!("{closure:?} is not a closure hash"),
            ));
        }
        let dir = self.entry_dir(closure);
        let aside = tempfile::Builder::new()
            .prefix(&format!("removed-{}.", &closure[..16]))
            .tempdir_in(self.root.join("tmp"))
            .map_err(|e| Error::io(self.root.join("tmp"), e))?
            .keep();
        let target = aside.join("entry");
        std::fs::rename(&dir, &target).map_err(|e| Error::io(&dir, e))?;
        std::fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))
    }
}

/// The schema of `verified.json`.
pub const VERIFIED_SCHEMA: &str = "det-verified/2";
/// The schema it replaced, still read: its verifications also held their time (`at`).
const VERIFIED_SCHEMA_1: &str = "det-verified/1";
/// The file of an entry's verification record.
pub const VERIFIED: &str = "verified.json";

/// One verification of a closure: rebuilt `runs` times under `variations`, all identical.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    pub runs: u32,
    /// What verified it (`det-verify 0.1.0`).
    pub tool: String,
    /// What was varied between the runs, sorted.
    pub variations: Vec<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct VerifiedFile {
    closure: String,
    schema: String,
    verifications: Vec<Verification>,
}

impl Store {
    /// The verifications recorded for `closure` (none: never verified).
    pub fn verifications(&self, closure: &str) -> Result<Vec<Verification>> {
        let path = self.entry_dir(closure).join(VERIFIED);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let f: VerifiedFile = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(&path, format!("malformed {VERIFIED_SCHEMA}: {e}")))?;
        if (f.schema != VERIFIED_SCHEMA && f.schema != VERIFIED_SCHEMA_1) || f.closure != closure {
            return Err(Error::invalid(
                &path,
                format!("not the {VERIFIED_SCHEMA} record of closure {closure}"),
            ));
        }
        Ok(f.verifications)
    }

    /// Add a verification to the record of `closure` (an entry must exist).
    pub fn record_verified(&self, closure: &str, mut v: Verification) -> Result<()> {
        let dir = self.entry_dir(closure);
        if !is_closure(closure) || !dir.join(MANIFEST).is_file() {
            return Err(Error::invalid(&dir, "no store entry for this closure"));
        }
        v.variations.sort();
        v.variations.dedup();
        let mut all = self.verifications(closure)?;
        all.push(v);
        all.sort();
        all.dedup();
        let f = VerifiedFile {
            closure: closure.to_string(),
            schema: VERIFIED_SCHEMA.to_string(),
            verifications: all,
        };
        let mut json = serde_json::to_vec_pretty(&f).expect("serializes");
        json.push(b'\n');
        crate::atomic_file::write(&dir.join(VERIFIED), &json)
    }

    /// Whether one recorded verification of `closure` covers every one of `variations`
    /// (an empty set: any verification at all).
    pub fn verified_for(&self, closure: &str, variations: &[String]) -> Result<bool> {
        Ok(self
            .verifications(closure)?
            .iter()
            .any(|v| variations.iter().all(|w| v.variations.contains(w))))
    }
}

/// The schema of a stored toolchain's `toolchain.json`.
pub const TOOLCHAIN_SCHEMA: &str = "det-toolchain/1";

/// A toolchain in the store: `toolchains/<id>/toolchain.json` and its files under
/// `toolchains/<id>/files/` (`bin/<binary>` and `lib/`), whose toolchain id
/// ([`crate::toolchain::toolchain_id`]) is `<id>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredToolchain {
    /// The binary, relative to `files/` (`bin/zig`).
    pub binary: String,
    pub id: String,
    /// The library directory, relative to `files/` (`lib`).
    pub lib: String,
    /// `rustc`, `zig`, ...
    pub name: String,
    pub schema: String,
    pub version: String,
}

/// What [`Store::add_toolchain`] did.
#[derive(Debug)]
pub enum AddedToolchain {
    /// Stored: `files` files of `bytes` bytes, `linked` of them hard links to read-only
    /// sources, `copied` reflinked or copied.
    New {
        files: u64,
        bytes: u64,
        linked: u64,
        copied: u64,
    },
    Existing,
}

impl Store {
    /// The directory of the toolchain `id` (which need not exist).
    pub fn toolchain_dir(&self, id: &str) -> PathBuf {
        self.root.join("toolchains").join(id)
    }

    /// Record `toolchain` (its `binary` and `lib` directory, which it was identified from)
    /// under its id: copied under `tmp/`, hashed again there (the copy must have the id),
    /// and renamed into `toolchains/` in one step.
    pub fn add_toolchain(
        &self,
        toolchain: &crate::toolchain::Toolchain,
        binary: &Path,
        lib: &Path,
    ) -> Result<AddedToolchain> {
        let id = &toolchain.id;
        if !is_closure(id) {
            return Err(Error::invalid(
                binary,
                format!("{id:?} is not a toolchain id"),
            ));
        }
        let dest = self.toolchain_dir(id);
        if dest.join("toolchain.json").is_file() {
            return Ok(AddedToolchain::Existing);
        }
        std::fs::create_dir_all(self.root.join("toolchains"))
            .map_err(|e| Error::io(self.root.join("toolchains"), e))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("toolchain-{}.", &id[..16]))
            .tempdir_in(self.root.join("tmp"))
            .map_err(|e| Error::io(self.root.join("tmp"), e))?;
        let writing = std::fs::File::open(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
        // SAFETY: an open descriptor.
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&writing), libc::LOCK_EX) };
        let name = binary
            .file_name()
            .ok_or_else(|| Error::invalid(binary, "no file name"))?
            .to_string_lossy()
            .into_owned();
        let files = tmp.path().join("files");
        std::fs::create_dir_all(files.join("bin")).map_err(|e| Error::io(&files, e))?;
        let (mut linked, mut n_copied) = (0u64, 0u64);
        let mut tally = |l: bool| {
            if l { linked += 1 } else { n_copied += 1 }
        };
        tally(link_or_copy(binary, &files.join("bin").join(&name))?);
        let (mut count, mut bytes) = (1u64, std::fs::metadata(binary).map_or(0, |m| m.len()));
        for e in walkdir::WalkDir::new(lib)
            .follow_links(false)
            .sort_by_file_name()
        {
            let e = e.map_err(|e| {
                let p = e.path().unwrap_or(lib).to_path_buf();
                Error::invalid(p, e.to_string())
            })?;
            let rel = e.path().strip_prefix(lib).expect("below lib");
            let to = files.join("lib").join(rel);
            let ft = e.file_type();
            if ft.is_dir() {
                std::fs::create_dir_all(&to).map_err(|e| Error::io(&to, e))?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(e.path()).map_err(|x| Error::io(e.path(), x))?;
                std::os::unix::fs::symlink(&target, &to).map_err(|e| Error::io(&to, e))?;
            } else if ft.is_file() {
                tally(link_or_copy(e.path(), &to)?);
                count += 1;
                bytes += e.metadata().map_or(0, |m| m.len());
            }
        }
        // Thousands of files: one syncfs for all of them, before the rename publishes them.
        // SAFETY: an open descriptor.
        unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&writing)) };
        let copied =
            crate::toolchain::toolchain_id(&files.join("bin").join(&name), &files.join("lib"))?;
        if &copied != id {
            return Err(Error::invalid(
                binary,
                format!(
                    "its copy in the store hashes to {copied}, not {id} (did it change while it was copied?)"
                ),
            ));
        }
        let record = StoredToolchain {
            binary: format!("bin/{name}"),
            id: id.clone(),
            lib: "lib".into(),
            name: toolchain.name.clone(),
            schema: TOOLCHAIN_SCHEMA.into(),
            version: toolchain.version.to_string(),
        };
        let mut json = serde_json::to_vec_pretty(&record).expect("serializes");
        json.push(b'\n');
        let rpath = tmp.path().join("toolchain.json");
        std::fs::write(&rpath, json).map_err(|e| Error::io(&rpath, e))?;
        let built = tmp.keep();
        let renamed = std::fs::rename(&built, &dest);
        drop(writing);
        match renamed {
            Ok(()) => Ok(AddedToolchain::New {
                files: count,
                bytes,
                linked,
                copied: n_copied,
            }),
            Err(_) if dest.join("toolchain.json").is_file() => {
                let _ = std::fs::remove_dir_all(&built);
                Ok(AddedToolchain::Existing)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&built);
                Err(Error::io(&dest, e))
            }
        }
    }

    /// The toolchains in the store, by id.
    pub fn toolchains(&self) -> Result<Vec<StoredToolchain>> {
        let dir = self.root.join("toolchains");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path().join("toolchain.json");
            let bytes = std::fs::read(&p).map_err(|x| Error::io(&p, x))?;
            let t: StoredToolchain = serde_json::from_slice(&bytes)
                .map_err(|x| Error::invalid(&p, format!("malformed {TOOLCHAIN_SCHEMA}: {x}")))?;
            out.push(t);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Hash a stored toolchain's files again: they must still have its id.
    pub fn check_toolchain(&self, t: &StoredToolchain) -> std::result::Result<(), String> {
        let files = self.toolchain_dir(&t.id).join("files");
        let (Some(b), Some(l)) = (safe_relative(&t.binary), safe_relative(&t.lib)) else {
            return Err("its record names files outside it".into());
        };
        let got = crate::toolchain::toolchain_id(&files.join(b), &files.join(l))
            .map_err(|e| e.to_string())?;
        if got != t.id {
            return Err(format!("its files hash to {got}"));
        }
        Ok(())
    }
}

/// What [`Store::gc`] did.
#[derive(Debug, Default)]
pub struct Gc {
    pub removed: Vec<String>,
    /// Beyond the number kept, but held by a running build.
    pub in_use: Vec<String>,
    /// Directories of interrupted writers removed from `tmp/`.
    pub leftovers: usize,
}

/// An exclusive `flock` on the directory `dir`, if nobody else holds one.
fn try_lock(dir: &Path) -> Option<std::fs::File> {
    let f = std::fs::File::open(dir).ok()?;
    // SAFETY: an open descriptor.
    let r = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    };
    (r == 0).then_some(f)
}

/// Copy `from` to `to` through a temporary file beside `to`, renamed over it: a running
/// program at `to` keeps its old file, and no reader sees a partial one. Permissions
/// are `from`'s.
fn copy_atomically(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".det-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let _guard = crate::atomic_file::remove_on_signal(tmp.path());
    clone_into(from, tmp.as_file(), to)?;
    let perm = std::fs::metadata(from)
        .map_err(|e| Error::io(from, e))?
        .permissions();
    tmp.as_file()
        .set_permissions(perm)
        .map_err(|e| Error::io(to, e))?;
    tmp.persist(to).map_err(|e| Error::io(to, e.error))?;
    Ok(())
}

/// A toolchain's file into the store: a hard link when the source is read-only (no write
/// bit for anyone: an installation nobody edits in place, such as a Nix-style store or a
/// toolchain made read-only) on the same file system, else a reflink or a copy. A
/// writable source is never linked: an edit of either would change both. Whatever was
/// made, the copy is hashed to the toolchain id before it is published, and `store
/// verify` checks it again. Returns whether it linked.
fn link_or_copy(from: &Path, to: &Path) -> Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(from).map_err(|e| Error::io(from, e))?;
    if meta.permissions().mode() & 0o222 == 0 && std::fs::hard_link(from, to).is_ok() {
        return Ok(true);
    }
    clone_or_copy_unsynced(from, to)?;
    Ok(false)
}

/// Copy `from` to the new file `to` (reflink or copy), keeping its permissions, synced.
fn clone_or_copy(from: &Path, to: &Path) -> Result<()> {
    clone_or_copy_unsynced(from, to)?;
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(to, e))
}

/// [`clone_or_copy`] without the sync (for many files, synced at once by `syncfs`).
fn clone_or_copy_unsynced(from: &Path, to: &Path) -> Result<()> {
    let f = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
    clone_into(from, &f, to)?;
    let perm = std::fs::metadata(from)
        .map_err(|e| Error::io(from, e))?
        .permissions();
    f.set_permissions(perm).map_err(|e| Error::io(to, e))
}

/// The content of `from` into the empty file `to` (at `to_path`, for messages): a reflink
/// (FICLONE: the blocks are shared until either is written) where the file system allows
/// it, else a copy. A failed write names the file written (a full store, say).
fn clone_into(from: &Path, to: &std::fs::File, to_path: &Path) -> Result<()> {
    let mut src = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: two open descriptors; FICLONE only reads src and replaces dst's content.
        if unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) } == 0 {
            return Ok(());
        }
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut dst = to;
    loop {
        let n = match std::io::Read::read(&mut src, &mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(from, e)),
        };
        dst.write_all(&buf[..n])
            .map_err(|e| Error::io(to_path, e))?;
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_file;

    fn manifest_for(target: &Path, files: &[(&str, &[u8])]) -> Manifest {
        let mut m = Manifest::new(
            crate::env::SourceDateEpoch {
                value: 1,
                source: crate::env::SourceDateEpochSource::Flag,
            },
            Default::default(),
        );
        for (rel, bytes) in files {
            let p = target.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
            m.outputs.insert(rel.to_string(), hash_file(&p).unwrap());
        }
        m.closure = Some("ab".repeat(32));
        m
    }

    #[test]
    fn an_entry_is_stored_found_checked_and_placed() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("store")).unwrap();
        let target = d.path().join("target");
        let m = manifest_for(
            &target,
            &[("release/app", b"binary"), ("release/lib.so", b"so")],
        );
        let closure = m.closure.clone().unwrap();
        assert!(matches!(store.lookup(&closure), Lookup::Miss));
        assert!(matches!(
            store.insert(&m, &target).unwrap(),
            Inserted::New(_)
        ));
        // A second insert of the same closure finds the first.
        assert!(matches!(
            store.insert(&m, &target).unwrap(),
            Inserted::Existing(_)
        ));
        let Lookup::Hit(entry) = store.lookup(&closure) else {
            panic!("stored")
        };
        let other = d.path().join("other");
        assert_eq!(store.place(&entry, &other).unwrap(), 2);
        assert_eq!(std::fs::read(other.join("release/app")).unwrap(), b"binary");
        // Nothing left in tmp/ but the write probe's absence.
        assert_eq!(
            std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
            0
        );
        // Damage is found before anything is placed.
        std::fs::write(entry.dir.join("outputs/release/lib.so"), b"SO").unwrap();
        let e = store.place(&entry, &d.path().join("third")).unwrap_err();
        assert!(e.contains("lib.so") && e.contains("BLAKE3"), "{e}");
        store.remove(&closure).unwrap();
        assert!(matches!(store.lookup(&closure), Lookup::Miss));
    }

    #[test]
    fn entries_that_would_write_outside_the_target_are_damaged() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let mut m = manifest_for(&d.path().join("t"), &[("a", b"x")]);
        let h = m.outputs["a"].clone();
        m.outputs.insert("../../etc/x".into(), h);
        let dir = store.entry_dir(m.closure.as_deref().unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(MANIFEST), m.to_json()).unwrap();
        let Lookup::Damaged(why) = store.lookup(m.closure.as_deref().unwrap()) else {
            panic!()
        };
        assert!(why.contains("leaves the target directory"), "{why}");
        assert!(matches!(store.lookup("../x"), Lookup::Damaged(_)));
    }

    /// The record says what was verified, not when: the same verification recorded again
    /// leaves it byte for byte as it was, and a det-verified/1 record (with times) is read
    /// and rewritten without them.
    #[test]
    fn the_verification_record_holds_no_time() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("store")).unwrap();
        let target = d.path().join("target");
        let m = manifest_for(&target, &[("release/app", b"binary")]);
        let c = m.closure.clone().unwrap();
        store.insert(&m, &target).unwrap();
        let path = store.entry_dir(&c).join(VERIFIED);
        std::fs::write(
            &path,
            format!(
                r#"{{"closure":"{c}","schema":"det-verified/1","verifications":[{{"at":1764380000,"runs":2,"tool":"det-verify 0.1.0","variations":["time"]}}]}}"#
            ),
        )
        .unwrap();
        assert!(store.verified_for(&c, &["time".into()]).unwrap());
        let v = Verification {
            runs: 3,
            tool: "det-verify 0.1.0".into(),
            variations: vec!["path".into(), "time".into()],
        };
        store.record_verified(&c, v.clone()).unwrap();
        let first = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&first);
        assert!(
            text.contains("\"det-verified/2\"") && !text.contains("\"at\""),
            "{text}"
        );
        assert_eq!(store.verifications(&c).unwrap().len(), 2, "{text}");
        store.record_verified(&c, v).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first);
    }

    #[test]
    fn verifications_are_recorded_beside_the_outputs() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("store")).unwrap();
        let target = d.path().join("target");
        let m = manifest_for(&target, &[("release/app", b"binary")]);
        let c = m.closure.clone().unwrap();
        assert!(
            store
                .record_verified(
                    &c,
                    Verification {
                        runs: 2,
                        tool: "t".into(),
                        variations: vec![]
                    }
                )
                .is_err(),
            "no entry yet"
        );
        store.insert(&m, &target).unwrap();
        assert!(store.verifications(&c).unwrap().is_empty());
        assert!(!store.verified_for(&c, &[]).unwrap());
        let v = Verification {
            runs: 3,
            tool: "det-verify 0.1.0".into(),
            variations: vec!["time".into(), "path".into()],
        };
        store.record_verified(&c, v).unwrap();
        assert!(store.verified_for(&c, &[]).unwrap());
        assert!(store.verified_for(&c, &["path".into()]).unwrap());
        assert!(
            !store
                .verified_for(&c, &["path".into(), "timezone".into()])
                .unwrap()
        );
        let text = std::fs::read_to_string(store.entry_dir(&c).join(VERIFIED)).unwrap();
        assert!(
            text.contains("\"det-verified/2\"")
                && text.contains("[\n        \"path\",\n        \"time\"\n      ]"),
            "{text}"
        );
        // The outputs are untouched: the entry still checks.
        let Lookup::Hit(e) = store.lookup(&c) else {
            panic!()
        };
        store.check(&e).unwrap();
    }

    #[test]
    fn a_file_is_not_a_store() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), b"").unwrap();
        let e = Store::open(&d.path().join("f")).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
    }
}

#[cfg(test)]
mod toolchain_tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn read_only_toolchain_files_are_linked_and_writable_ones_copied() {
        let d = tempfile::tempdir().unwrap();
        let tc = d.path().join("tc");
        std::fs::create_dir_all(tc.join("bin")).unwrap();
        std::fs::create_dir_all(tc.join("lib/rustlib")).unwrap();
        let bin = tc.join("bin/rustc");
        std::fs::write(&bin, b"#!/bin/sh\n").unwrap();
        std::fs::write(tc.join("lib/librustc_driver.so"), b"driver").unwrap();
        std::fs::write(tc.join("lib/rustlib/writable"), b"w").unwrap();
        for (p, mode) in [
            (bin.clone(), 0o555),
            (tc.join("lib/librustc_driver.so"), 0o444),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let id = crate::toolchain::toolchain_id(&bin, &tc.join("lib")).unwrap();
        let t = crate::toolchain::Toolchain {
            name: "rustc".into(),
            path: bin.clone(),
            version: crate::toolchain::Version::parse("1.0.0").unwrap(),
            id: id.clone(),
        };
        let store = Store::open(&d.path().join("store")).unwrap();
        let AddedToolchain::New {
            files,
            linked,
            copied,
            ..
        } = store.add_toolchain(&t, &bin, &tc.join("lib")).unwrap()
        else {
            panic!("new")
        };
        assert_eq!((files, linked, copied), (3, 2, 1));
        let stored = store.toolchain_dir(&id).join("files");
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&stored.join("bin/rustc")), ino(&bin));
        assert_eq!(
            ino(&stored.join("lib/librustc_driver.so")),
            ino(&tc.join("lib/librustc_driver.so"))
        );
        assert_ne!(
            ino(&stored.join("lib/rustlib/writable")),
            ino(&tc.join("lib/rustlib/writable"))
        );
        let [rec] = store.toolchains().unwrap().try_into().unwrap();
        store.check_toolchain(&rec).unwrap();
        // A writable source edited afterwards leaves the store's copy alone.
        std::fs::write(tc.join("lib/rustlib/writable"), b"edited").unwrap();
        store.check_toolchain(&rec).unwrap();
    }
}
