//! Artifacts: format detection by magic bytes, and the lazy tree of nodes that scan walks
//! and verify diffs. One submodule per format fills nodes in; nothing else parses bytes.

mod detect_format;

pub use detect_format::{ArKind, Format, detect};
