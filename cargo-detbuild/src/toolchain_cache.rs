//! rustc's toolchain id (BLAKE3 over the compiler and its whole `lib` directory, about a
//! gigabyte) is computed once per installed toolchain and remembered in the cache
//! directory, keyed by the size, modification time and inode of every file it covers: a
//! changed or reinstalled toolchain gets a new key, an unchanged one costs a `stat` walk.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Result;
use det_common::toolchain::{RustcInfo, Toolchain};

fn stat_key(binary: &Path, lib: &Path) -> Option<String> {
    let mut h = blake3::Hasher::new();
    h.update(b"det-toolchain-stat/1\0");
    let mut add = |p: &Path, m: &std::fs::Metadata| {
        h.update(p.as_os_str().as_encoded_bytes());
        for n in [m.len(), m.mtime() as u64, m.mtime_nsec() as u64, m.ino()] {
            h.update(&n.to_le_bytes());
        }
    };
    add(binary, &std::fs::metadata(binary).ok()?);
    for e in walkdir::WalkDir::new(lib).sort_by_file_name() {
        let e = e.ok()?;
        add(e.path(), &e.metadata().ok()?);
    }
    Some(h.finalize().to_hex().to_string())
}

/// [`det_common::toolchain::identify_rustc`], remembered.
pub fn identify_rustc(rustc: &Path, info: &RustcInfo) -> Result<Toolchain> {
    let binary = info.sysroot.join("bin").join("rustc");
    let lib = info.sysroot.join("lib");
    let key = stat_key(&binary, &lib);
    let file = crate::shim::cache_dir()
        .ok()
        .zip(key)
        .map(|(d, k)| d.join("toolchain-ids").join(k));
    if let Some(f) = &file
        && let Ok(bytes) = std::fs::read(f)
        && let Ok(t) = serde_json::from_slice::<Toolchain>(&bytes)
    {
        return Ok(t);
    }
    let t = det_common::toolchain::identify_rustc(rustc)?;
    if let Some(f) = &file {
        // A cache that cannot be written only costs time next run.
        let _ = std::fs::create_dir_all(f.parent().expect("a file in a directory"));
        let _ = det_common::atomic_file::write(f, &serde_json::to_vec(&t).unwrap_or_default());
    }
    Ok(t)
}
