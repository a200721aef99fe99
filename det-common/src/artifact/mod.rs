//! Artifacts: format detection by magic bytes, and the lazy tree of nodes that scan walks
//! and verify diffs. One submodule per format fills nodes in; nothing else parses bytes.
//!
//! A [`Node`] is a file, an archive member or a decompressed stream: a name, a [`Format`],
//! header metadata as sorted key/value pairs, and its content as [`Bytes`] (a slice of a
//! memory-mapped file or of a bounded decompressed buffer). Containers open their members
//! lazily through [`Node::children`].

pub(crate) mod ar;
mod bytes;
pub(crate) mod compress;
mod detect_format;
pub(crate) mod macho_fat;
pub(crate) mod pyc;
pub(crate) mod tar;
pub(crate) mod zip;

pub use bytes::Bytes;
pub use detect_format::{ArKind, Format, SNIFF_LEN, detect};

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Bounds that keep memory and time finite whatever the input (bombs, deep nesting).
#[derive(Clone, Debug)]
pub struct Limits {
    /// How deep containers may nest (a .so in a wheel in a tar.gz is depth 3).
    pub max_depth: u32,
    /// The largest decompressed member or stream, in bytes.
    pub max_decompressed: u64,
    /// The largest ratio of decompressed to compressed size (for inputs over 1 MiB out).
    pub max_ratio: u64,
    /// The most members one container may list.
    pub max_members: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_decompressed: 1 << 30,
            max_ratio: 1000,
            max_members: 1_000_000,
        }
    }
}

/// A header field of a node: an mtime, a uid, a mode, a build-id, a UUID, a flag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Meta {
    Int(i64),
    Text(String),
    /// Raw bytes, rendered as lowercase hex.
    #[serde(serialize_with = "hex_bytes")]
    Bytes(Vec<u8>),
}

fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

impl std::fmt::Display for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Meta::Int(i) => write!(f, "{i}"),
            Meta::Text(t) => f.write_str(t),
            Meta::Bytes(b) => f.write_str(&hex::encode(b)),
        }
    }
}

/// A file, an archive member or a decompressed stream.
#[derive(Clone, Debug)]
pub struct Node {
    /// The member name inside its container (`pkg/_speedups.so`); the path for a root node.
    pub name: String,
    pub format: Format,
    /// Header fields, sorted by key. Keys are kebab-case and shared across formats where
    /// the meaning is shared: `mtime` (seconds since the epoch), `uid`, `gid`, `uname`,
    /// `gname`, `mode`, `index` (position in the container).
    pub meta: BTreeMap<String, Meta>,
    pub data: Bytes,
}

/// A member that could not be opened; the container's other members still are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildError {
    /// The member name, or an empty string when the container itself is broken.
    pub name: String,
    pub message: String,
}

impl Node {
    /// A node over `data`, its format detected from its content.
    pub fn new(name: impl Into<String>, data: Bytes) -> Node {
        let format = detect(&data);
        Node {
            name: name.into(),
            format,
            meta: BTreeMap::new(),
            data,
        }
    }

    /// The root node of a file on disk, memory-mapped.
    pub fn open(path: &Path) -> crate::Result<Node> {
        let data = Bytes::map_file(path)?;
        Ok(Node::new(path.to_string_lossy().into_owned(), data))
    }

    pub fn with_meta(mut self, key: &str, value: Meta) -> Node {
        self.meta.insert(key.to_owned(), value);
        self
    }

    /// The members of a container, in the order the container stores them, opened lazily:
    /// each item is decompressed (within `limits`) only when the iterator reaches it.
    /// Non-containers have no children. A broken container yields what it could read and
    /// then a [`ChildError`].
    pub fn children<'a>(
        &'a self,
        limits: &'a Limits,
    ) -> Box<dyn Iterator<Item = Result<Node, ChildError>> + 'a> {
        match self.format {
            Format::Ar(_) => ar::children(self, limits),
            Format::MachOFat => macho_fat::children(self, limits),
            Format::Zip => self::zip::children(self, limits),
            Format::Tar => tar::children(self, limits),
            Format::Gzip | Format::Xz | Format::Zstd | Format::Bzip2 => {
                compress::children(self, limits)
            }
            _ => Box::new(std::iter::empty()),
        }
    }
}
