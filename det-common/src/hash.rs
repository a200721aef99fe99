//! Hashes: BLAKE3 and SHA-256 of files, and of whole trees (sorted walk, relative paths,
//! the executable bit, symlinks as links) — the identity of outputs, inputs and toolchains.
//!
//! Files are read with bounded memory: below [`MMAP_THRESHOLD`] through a fixed buffer,
//! above it through a read-only memory map (no copy, and BLAKE3 can hash the map in
//! parallel). A tree is walked once, sorted, and its files are hashed in parallel (rayon).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::{Error, Result};

/// Files at least this large are memory-mapped rather than read through a buffer: below it
/// the map's set-up and page faults cost more than a copy.
pub const MMAP_THRESHOLD: u64 = 1 << 20;

/// BLAKE3 and SHA-256 of one file's content, as lowercase hex, and its size in bytes.
/// (Fields of the serialized types here are in alphabetical order, so JSON keys sort.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FileHash {
    pub blake3: String,
    pub sha256: String,
    pub size: u64,
}

/// What a tree entry is. A symlink is recorded as its target, never followed, so a link
/// loop or a link out of the tree cannot change (or hang) the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    File,
    /// A regular file with any execute bit set.
    Executable,
    Symlink,
    Directory,
}

impl EntryKind {
    /// The byte that stands for the kind in a tree's root hash; never change these.
    fn tag(self) -> u8 {
        match self {
            EntryKind::File => b'f',
            EntryKind::Executable => b'x',
            EntryKind::Symlink => b'l',
            EntryKind::Directory => b'd',
        }
    }
}

/// One entry of a hashed tree. For a symlink the hashes and size are those of its target
/// path's bytes; for a directory they are those of empty content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    pub blake3: String,
    pub kind: EntryKind,
    /// Relative to the tree's root, `/`-separated (lossy for non-UTF-8 names, which are
    /// hashed by their bytes).
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// A hashed tree: its entries in byte-wise order of their relative paths, and the BLAKE3
/// root hash over all of them (path, kind, size, content hash), as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHash {
    pub blake3: String,
    pub entries: Vec<TreeEntry>,
}

/// Hash one file (following a symlink given as `path`: the caller asked for this file).
/// Anything but a regular file is an error (a FIFO would block, a device never end).
pub fn hash_file(path: &Path) -> Result<FileHash> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(path, "not a regular file"));
    }
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    hash_open_file(path, file, true)
}

/// Which entries a tree hash leaves out. A skipped directory is skipped with all it holds.
/// The default skips nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeFilter {
    /// Relative paths (`target`, `.git`), `/`-separated.
    paths: BTreeSet<PathBuf>,
    /// Names skipped at any depth (`__pycache__`).
    names: BTreeSet<OsString>,
}

impl TreeFilter {
    /// The filter for a cargo workspace's sources: skips `target` and `.git` at the root.
    pub fn workspace() -> TreeFilter {
        TreeFilter::default().skip_path("target").skip_path(".git")
    }

    /// Skip this path, relative to the root (`target`, `vendor/big`).
    pub fn skip_path(mut self, rel: impl Into<PathBuf>) -> TreeFilter {
        self.paths.insert(rel.into());
        self
    }

    /// Skip every entry with this file name, at any depth (`__pycache__`).
    pub fn skip_name(mut self, name: impl Into<OsString>) -> TreeFilter {
        self.names.insert(name.into());
        self
    }

    /// Whether the entry at `rel` (relative to the root) is left out.
    pub fn skips(&self, rel: &Path) -> bool {
        self.paths.contains(rel) || rel.file_name().is_some_and(|n| self.names.contains(n))
    }
}

/// Hash every entry under `root` that `filter` keeps:
/// `hash_tree(ws, &TreeFilter::workspace())`.
///
/// Errors name the file: an unreadable file or directory, or a file type a tree of
/// sources and outputs cannot hold (FIFO, socket, device — opening a FIFO would block).
pub fn hash_tree(root: &Path, filter: &TreeFilter) -> Result<TreeHash> {
    tree(root, filter, true)
}

/// The root hash of [`hash_tree`] alone, without SHA-256 (about twice as fast): for
/// identities such as toolchain ids, which need no SHA-256.
pub(crate) fn tree_blake3(root: &Path, filter: &TreeFilter) -> Result<String> {
    Ok(tree(root, filter, false)?.blake3)
}

fn tree(root: &Path, filter: &TreeFilter, sha256: bool) -> Result<TreeHash> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(root, "not a directory"));
    }

    // The walk is sequential (directory reads are cheap and ordered); the hashing of
    // contents, which is where the time goes, is parallel below.
    let mut pending = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| match e.path().strip_prefix(root) {
            Ok(rel) => !filter.skips(rel),
            Err(_) => true,
        });
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            match e.into_io_error() {
                Some(io) => Error::io(path, io),
                None => Error::invalid(path, "file system loop"),
            }
        })?;
        let path = entry.path().to_path_buf();
        let rel = path
            .strip_prefix(root)
            .map_err(|_| Error::invalid(&path, "outside the hashed tree"))?
            .to_path_buf();
        let meta = entry.metadata().map_err(|e| {
            let io = e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("metadata"));
            Error::io(&path, io)
        })?;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            EntryKind::Symlink
        } else if ft.is_dir() {
            EntryKind::Directory
        } else if ft.is_file() {
            if is_executable(&meta) {
                EntryKind::Executable
            } else {
                EntryKind::File
            }
        } else {
            return Err(Error::invalid(
                &path,
                "not a regular file, directory or symlink (FIFO, socket or device)",
            ));
        };
        pending.push(Pending {
            key: path_key(&rel),
            path,
            kind,
        });
    }
    // Byte-wise order of the whole relative path, not the walk's per-directory order:
    // "a-b" (0x2d) sorts before "a/b" (0x2f) whatever the walk did.
    pending.sort_by(|a, b| a.key.cmp(&b.key));

    let entries: Vec<TreeEntry> = pending
        .par_iter()
        .map(|p| {
            let hash = match p.kind {
                EntryKind::File | EntryKind::Executable => hash_regular(&p.path, sha256)?,
                EntryKind::Symlink => {
                    let target = std::fs::read_link(&p.path).map_err(|e| Error::io(&p.path, e))?;
                    hash_bytes(&os_bytes(target.as_os_str()))
                }
                EntryKind::Directory => hash_bytes(&[]),
            };
            Ok(TreeEntry {
                path: String::from_utf8_lossy(&p.key).into_owned(),
                kind: p.kind,
                size: hash.size,
                blake3: hash.blake3,
                sha256: hash.sha256,
            })
        })
        .collect::<Result<_>>()?;

    let mut root_hasher = blake3::Hasher::new();
    // A domain tag and version, so a change of this encoding can never collide silently.
    root_hasher.update(b"det-tree/1\0");
    for (p, e) in pending.iter().zip(&entries) {
        root_hasher.update(&(p.key.len() as u64).to_le_bytes());
        root_hasher.update(&p.key);
        root_hasher.update(&[e.kind.tag()]);
        root_hasher.update(&e.size.to_le_bytes());
        let digest = hex::decode(&e.blake3).expect("our own hex");
        root_hasher.update(&digest);
    }
    Ok(TreeHash {
        blake3: root_hasher.finalize().to_hex().to_string(),
        entries,
    })
}

/// BLAKE3 and SHA-256 of bytes in memory.
pub fn hash_bytes(bytes: &[u8]) -> FileHash {
    FileHash {
        blake3: blake3::hash(bytes).to_hex().to_string(),
        sha256: hex::encode(sha2::Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

struct Pending {
    /// The relative path's bytes, `/`-separated: the sort key and what the root hashes.
    key: Vec<u8>,
    path: PathBuf,
    kind: EntryKind,
}

/// Open a regular file from the walk without following a symlink swapped in since.
fn hash_regular(path: &Path, sha256: bool) -> Result<FileHash> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    hash_open_file(path, file, sha256)
}

/// With `sha256` false the SHA-256 field is left empty.
fn hash_open_file(path: &Path, mut file: File, sha256: bool) -> Result<FileHash> {
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut b3 = blake3::Hasher::new();
    let mut sha = sha2::Sha256::new();
    // SAFETY: the map is read-only and lives only for this call. A file truncated by
    // another process meanwhile could fault (SIGBUS); the trees we hash are build inputs
    // and outputs that nothing else writes while det reads them. Where a file cannot be
    // mapped (some network and special file systems) it is read instead.
    let map = (len >= MMAP_THRESHOLD)
        .then(|| unsafe { memmap2::Mmap::map(&file) }.ok())
        .flatten();
    if let Some(map) = map {
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        // The two digests in parallel: SHA-256 is the slower one, BLAKE3 spreads over
        // the remaining cores.
        rayon::join(
            || {
                b3.update_rayon(&map);
            },
            || {
                if sha256 {
                    sha.update(&map[..])
                }
            },
        );
        return Ok(FileHash {
            blake3: b3.finalize().to_hex().to_string(),
            sha256: if sha256 {
                hex::encode(sha.finalize())
            } else {
                String::new()
            },
            size: map.len() as u64,
        });
    }
    // One read buffer per thread, reused: a fresh 64 KiB buffer per file would cost more
    // than hashing the typical small source file.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 64 * 1024]);
    }
    let size = BUF.with_borrow_mut(|buf| -> Result<u64> {
        let mut size = 0u64;
        loop {
            let n = match file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, e)),
            };
            b3.update(&buf[..n]);
            if sha256 {
                sha.update(&buf[..n]);
            }
            size += n as u64;
        }
        Ok(size)
    })?;
    Ok(FileHash {
        blake3: b3.finalize().to_hex().to_string(),
        sha256: if sha256 {
            hex::encode(sha.finalize())
        } else {
            String::new()
        },
        size,
    })
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

fn path_key(rel: &Path) -> Vec<u8> {
    let mut key = Vec::new();
    for (i, c) in rel.components().enumerate() {
        if i > 0 {
            key.push(b'/');
        }
        key.extend_from_slice(&os_bytes(c.as_os_str()));
    }
    key
}

fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        s.as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        s.to_string_lossy().into_owned().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_published_vectors() {
        let empty = hash_bytes(b"");
        assert_eq!(
            empty.blake3,
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(
            empty.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let abc = hash_bytes(b"abc");
        assert_eq!(
            abc.blake3,
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(
            abc.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(abc.size, 3);
    }

    #[test]
    fn blake3_only_walk_gives_the_same_root() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(
            d.path().join("sub/a"),
            vec![7u8; (MMAP_THRESHOLD + 1) as usize],
        )
        .unwrap();
        std::fs::write(d.path().join("b"), b"b").unwrap();
        let full = hash_tree(d.path(), &TreeFilter::default()).unwrap();
        assert_eq!(full.entries.len(), 3);
        assert_eq!(
            tree_blake3(d.path(), &TreeFilter::default()).unwrap(),
            full.blake3
        );
    }

    #[test]
    fn filter_matches_paths_at_the_root_and_names_anywhere() {
        let f = TreeFilter::workspace().skip_name("__pycache__");
        assert!(f.skips(Path::new("target")));
        assert!(f.skips(Path::new(".git")));
        assert!(!f.skips(Path::new("src/target")));
        assert!(!f.skips(Path::new("targets")));
        assert!(f.skips(Path::new("a/b/__pycache__")));
        assert!(!TreeFilter::default().skips(Path::new("target")));
    }

    #[test]
    fn path_key_is_slash_separated() {
        assert_eq!(path_key(Path::new("a/b/c.txt")), b"a/b/c.txt".to_vec());
    }
}
