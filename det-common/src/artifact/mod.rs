//! Artifacts: format detection by magic bytes, and the lazy tree of nodes that scan walks
//! and verify diffs. One submodule per format fills nodes in; nothing else parses bytes.
//!
//! A [`Node`] is a file, an archive member, a section of an object file or a decompressed
//! stream ([`NodeKind`]): a name, a [`Format`], header metadata keyed by [`MetaKey`] (one
//! enum for the keys several formats share, so a difference in an mtime is named once for
//! ar, tar and zip), and its content as [`Bytes`] (a slice of a memory-mapped file or of a
//! bounded decompressed buffer). Containers open their members, and object files (ELF,
//! Mach-O, PE, COFF) their sections, lazily through [`Node::children`]: a walk — det-scan's
//! over one tree, det-verify diff's over two in step — reaches an archive member and an ELF
//! section the same way.
//!
//! Section nodes carry the bytes as stored in the file (a compressed ELF section stays
//! compressed; [`MetaKey::Other`] `compression` says so) and the section-table fields as
//! metadata (`address`, `file-offset`, `size`, `flags`, `type`, `align`). det-scan's
//! object detectors read their formats directly (they need the headers, DWARF and symbol
//! tables as a whole) and do not walk section children; det-verify's diff does.

pub(crate) mod ar;
mod budget;
mod bytes;
pub(crate) mod compress;
pub use compress::human_size;
mod detect_format;
pub(crate) mod macho_fat;
pub(crate) mod object_sections;
pub(crate) mod pyc;
pub(crate) mod tar;
pub(crate) mod zip;

pub use budget::{FileBudget, MemoryBudget};
pub use bytes::{Bytes, open_no_follow};
pub use detect_format::{ArKind, Format, SNIFF_LEN, detect};

use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// The default memory budget of a scan for decompressed data, all files and levels together.
pub const DEFAULT_MAX_MEMORY: u64 = 2 << 30;

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
    /// The scan's one budget for decompressed data (every level, every parallel job), and
    /// the account of the file being scanned with it (see [`Limits::for_file`]).
    pub memory: Arc<FileBudget>,
}

impl Limits {
    /// These limits with a fresh scan-wide memory budget of `total` bytes.
    pub fn with_memory_budget(mut self, total: u64) -> Limits {
        self.memory = FileBudget::new(MemoryBudget::new(total));
        self
    }

    /// The limits for scanning one file: the same scan-wide budget, a new account for the file.
    pub fn for_file(&self) -> Limits {
        Limits {
            memory: FileBudget::new(Arc::clone(self.memory.shared())),
            ..self.clone()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_decompressed: 1 << 30,
            max_ratio: 1000,
            max_members: 1_000_000,
            memory: FileBudget::new(MemoryBudget::new(DEFAULT_MAX_MEMORY)),
        }
    }
}

/// The key of a header field. The keys several formats share are variants, so that a
/// difference (or a finding) in them is named once for all formats; a field only one
/// format has (`dos-mtime`, `external-attributes`, `pax-atime`, `os`, `link`) is
/// [`MetaKey::Other`] with its kebab-case name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetaKey {
    /// Position of the member in its container, from 0.
    Index,
    /// Modification time, seconds since the epoch (a zip DOS time read as UTC).
    Mtime,
    Uid,
    Gid,
    /// Owner user name (tar).
    Uname,
    /// Owner group name (tar).
    Gname,
    /// Permission bits (`& 0o7777`).
    Mode,
    /// A section's virtual address.
    Address,
    /// Where a section's (or a slice's) content starts in its file.
    FileOffset,
    /// A section's size in the section table (its content may be shorter when truncated).
    Size,
    /// A section's flags word.
    Flags,
    /// A section's type (ELF `sh_type`, Mach-O section type).
    Type,
    /// A section's alignment.
    Align,
    /// A field only one format has.
    Other(std::borrow::Cow<'static, str>),
}

impl MetaKey {
    /// A format-specific key.
    pub fn other(name: impl Into<std::borrow::Cow<'static, str>>) -> MetaKey {
        MetaKey::Other(name.into())
    }

    /// The key named `name`: a shared variant when there is one, else [`MetaKey::Other`]
    /// borrowing `name` (no allocation: lookups by name run for every member).
    pub fn named(name: &'static str) -> MetaKey {
        match name {
            "index" => MetaKey::Index,
            "mtime" => MetaKey::Mtime,
            "uid" => MetaKey::Uid,
            "gid" => MetaKey::Gid,
            "uname" => MetaKey::Uname,
            "gname" => MetaKey::Gname,
            "mode" => MetaKey::Mode,
            "address" => MetaKey::Address,
            "file-offset" => MetaKey::FileOffset,
            "size" => MetaKey::Size,
            "flags" => MetaKey::Flags,
            "type" => MetaKey::Type,
            "align" => MetaKey::Align,
            other => MetaKey::Other(other.into()),
        }
    }

    /// The kebab-case name, as reports print it.
    pub fn as_str(&self) -> &str {
        match self {
            MetaKey::Index => "index",
            MetaKey::Mtime => "mtime",
            MetaKey::Uid => "uid",
            MetaKey::Gid => "gid",
            MetaKey::Uname => "uname",
            MetaKey::Gname => "gname",
            MetaKey::Mode => "mode",
            MetaKey::Address => "address",
            MetaKey::FileOffset => "file-offset",
            MetaKey::Size => "size",
            MetaKey::Flags => "flags",
            MetaKey::Type => "type",
            MetaKey::Align => "align",
            MetaKey::Other(s) => s,
        }
    }

    /// True for keys that record when or by whom a member was written (not its content).
    pub fn is_time_or_owner(&self) -> bool {
        matches!(
            self,
            MetaKey::Mtime | MetaKey::Uid | MetaKey::Gid | MetaKey::Uname | MetaKey::Gname
        ) || matches!(self, MetaKey::Other(s) if s.contains("time"))
    }
}

impl std::fmt::Display for MetaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MetaKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a node is inside its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// A file on disk: the root of a tree.
    File,
    /// A member of an archive (ar, zip, tar) or a slice of a universal Mach-O.
    Member,
    /// A section of an object file (ELF, Mach-O, PE, COFF).
    Section,
    /// The decompressed content of a gzip, xz, zstd or bzip2 stream.
    Stream,
}

/// The longest member name kept, in bytes: a longer one (a tar pax `path` of 10 MB) is cut
/// and marked with its length and a hash of the whole, so distinct names stay distinct.
pub const MAX_NAME_BYTES: usize = 1024;

/// `name`, cut to [`MAX_NAME_BYTES`] when longer.
pub(crate) fn bounded_name(name: String) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let mut cut = MAX_NAME_BYTES;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = blake3::hash(name.as_bytes()).to_hex();
    format!(
        "{}…[{} bytes, blake3 {}]",
        &name[..cut],
        name.len(),
        &hash[..16]
    )
}

/// The value of a header field of a node: an mtime, a uid, a mode, a build-id, a UUID, a flag.
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

/// A node's header fields, sorted by key: a vector kept in order, since a node has a handful
/// of fields (an ar member five, a tar entry up to a dozen) and an import library has
/// 460 000 members: one allocation per node, a scan by key, and no tree to build or free.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaMap(Vec<(MetaKey, Meta)>);

impl MetaMap {
    pub fn new() -> MetaMap {
        MetaMap(Vec::new())
    }

    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> MetaMap {
        MetaMap(Vec::with_capacity(n))
    }

    /// Where `key` is, or where it would go. A linear scan: a node has a handful of fields.
    fn find(&self, key: &MetaKey) -> Result<usize, usize> {
        for (i, (k, _)) in self.0.iter().enumerate() {
            match k.cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Ok(i),
                std::cmp::Ordering::Greater => return Err(i),
            }
        }
        Err(self.0.len())
    }

    /// Set `key` to `value`, returning the value it replaced.
    pub fn insert(&mut self, key: MetaKey, value: Meta) -> Option<Meta> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Set `key` to `value` unless it already has a value.
    pub fn insert_if_absent(&mut self, key: MetaKey, value: Meta) {
        if let Err(i) = self.find(&key) {
            self.0.insert(i, (key, value));
        }
    }

    pub fn get(&self, key: &MetaKey) -> Option<&Meta> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &MetaKey) -> bool {
        self.find(key).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The fields in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&MetaKey, &Meta)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &MetaKey> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl std::ops::Index<&MetaKey> for MetaMap {
    type Output = Meta;

    /// The value of `key`; panics when there is none, as a map's index does.
    fn index(&self, key: &MetaKey) -> &Meta {
        self.get(key)
            .unwrap_or_else(|| panic!("no header field {key}"))
    }
}

impl FromIterator<(MetaKey, Meta)> for MetaMap {
    fn from_iter<I: IntoIterator<Item = (MetaKey, Meta)>>(iter: I) -> MetaMap {
        let mut m = MetaMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl Serialize for MetaMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A file, an archive member, a section of an object file or a decompressed stream.
#[derive(Clone, Debug)]
pub struct Node {
    /// The member or section name inside its parent (`pkg/_speedups.so`, `.rodata`,
    /// `__TEXT,__cstring`); the path for a root node.
    pub name: String,
    pub kind: NodeKind,
    pub format: Format,
    /// Header fields, sorted by key (see [`MetaKey`]).
    pub meta: MetaMap,
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
    /// A member node over `data`, its format detected from its content.
    pub fn new(name: impl Into<String>, data: Bytes) -> Node {
        let format = detect(&data);
        Node {
            name: name.into(),
            kind: NodeKind::Member,
            format,
            meta: MetaMap::new(),
            data,
        }
    }

    /// The root node of a file on disk, memory-mapped.
    pub fn open(path: &Path) -> crate::Result<Node> {
        Self::open_expecting(path, None)
    }

    /// [`Node::open`] of the file a directory walk saw (see [`Bytes::map_file_expecting`]).
    pub fn open_expecting(path: &Path, identity: Option<(u64, u64)>) -> crate::Result<Node> {
        let data = Bytes::map_file_expecting(path, identity)?;
        Ok(Node::new(path.to_string_lossy().into_owned(), data).with_kind(NodeKind::File))
    }

    /// [`Node::open`] of a file the walk has opened already, `meta` its metadata then (see
    /// [`Bytes::map_opened`]); `path` is its name.
    pub fn open_opened(
        file: &std::fs::File,
        meta: &std::fs::Metadata,
        path: &Path,
    ) -> crate::Result<Node> {
        let data = Bytes::map_opened(file, meta, path)?;
        Ok(Node::new(path.to_string_lossy().into_owned(), data).with_kind(NodeKind::File))
    }

    pub fn with_kind(mut self, kind: NodeKind) -> Node {
        self.kind = kind;
        self
    }

    pub fn with_meta(mut self, key: MetaKey, value: Meta) -> Node {
        self.meta.insert(key, value);
        self
    }

    /// An integer header field.
    pub fn meta_int(&self, key: &MetaKey) -> Option<i64> {
        match self.meta.get(key)? {
            Meta::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A text header field.
    pub fn meta_text(&self, key: &MetaKey) -> Option<&str> {
        match self.meta.get(key)? {
            Meta::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The members of a container, in the order the container stores them, opened lazily:
    /// each item is decompressed (within `limits`) only when the iterator reaches it. The
    /// children of an object file are its sections, in section-table order (content-less
    /// sections such as `.bss` included, with empty content). Other nodes have no children.
    /// A broken container yields what it could read and then a [`ChildError`].
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
            Format::Elf | Format::MachO | Format::Pe | Format::Coff => {
                object_sections::children(self, limits)
            }
            _ => Box::new(std::iter::empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_map_keeps_fields_sorted_whatever_the_insert_order() {
        let mut m = MetaMap::new();
        assert_eq!(m.insert(MetaKey::Mode, Meta::Int(0o644)), None);
        assert_eq!(m.insert(MetaKey::other("os"), Meta::Int(3)), None);
        assert_eq!(m.insert(MetaKey::Index, Meta::Int(0)), None);
        assert_eq!(m.insert(MetaKey::Mtime, Meta::Int(5)), None);
        // A second insert replaces; insert_if_absent keeps the first value.
        assert_eq!(m.insert(MetaKey::Mtime, Meta::Int(7)), Some(Meta::Int(5)));
        m.insert_if_absent(MetaKey::Mtime, Meta::Int(9));
        m.insert_if_absent(MetaKey::Uid, Meta::Int(1000));
        let keys: Vec<&str> = m.keys().map(MetaKey::as_str).collect();
        assert_eq!(keys, ["index", "mtime", "uid", "mode", "os"]);
        assert_eq!(m.get(&MetaKey::Mtime), Some(&Meta::Int(7)));
        assert_eq!(m.get(&MetaKey::named("os")), Some(&Meta::Int(3)));
        assert!(!m.contains_key(&MetaKey::Gid));
        assert_eq!(m.len(), 5);
        // Serialized as a map in key order, as the BTreeMap it replaced was.
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"index":0,"mtime":7,"uid":1000,"mode":420,"os":3}"#
        );
    }
}
