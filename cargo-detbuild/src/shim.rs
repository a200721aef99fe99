//! The embedded libdetshim.so and its on-disk copy: the library is compiled by the
//! build script, embedded in this binary, and written on first use to the cache
//! directory under a name that is its BLAKE3 hash, so an installed `cargo-det-build`
//! needs no extra files and every version of it finds its own library.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The library's bytes (empty on targets the shim does not support).
static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libdetshim.so"));

/// The cache directory: `$DET_CACHE_DIR`, else `$XDG_CACHE_HOME/det`, else
/// `$HOME/.cache/det` (empty values are ignored, as the XDG spec asks).
pub(crate) fn cache_dir() -> Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("DET_CACHE_DIR") {
        return Ok(d);
    }
    if let Some(d) = var("XDG_CACHE_HOME") {
        return Ok(d.join("det"));
    }
    match var("HOME") {
        Some(h) => Ok(h.join(".cache").join("det")),
        None => bail!("no cache directory: set DET_CACHE_DIR, XDG_CACHE_HOME or HOME"),
    }
}

/// The path of a ready libdetshim.so in the cache directory, writing it first if it is
/// missing or not what this binary embeds.
pub(crate) fn shim_path() -> Result<PathBuf> {
    ensure_in(&cache_dir()?)
}

/// `ensure_in(dir)` writes the library as `dir/libdetshim-<blake3>.so` unless a file
/// with exactly those bytes is there. The write goes to a temporary file in the same
/// directory, then a rename: a concurrent first use by another process either sees no
/// file or a complete one, and two writers rename identical bytes over each other.
pub(crate) fn ensure_in(dir: &Path) -> Result<PathBuf> {
    if cfg!(det_no_shim) || SHIM.is_empty() {
        bail!(
            "libdetshim is only built for 64-bit Linux with glibc (x86_64, aarch64); this cargo-det-build was built for another target"
        );
    }
    let hash = blake3::hash(SHIM).to_hex();
    let path = dir.join(format!("libdetshim-{hash}.so"));
    if let Ok(existing) = std::fs::read(&path)
        && existing == SHIM
    {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the cache directory {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".libdetshim-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(SHIM)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("setting the mode of {}", tmp.path().display()))?;
    }
    tmp.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the shim to {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_under_its_hash_and_repairs_a_damaged_copy() {
        if cfg!(det_no_shim) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = ensure_in(dir.path()).unwrap();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(
            name,
            format!("libdetshim-{}.so", blake3::hash(SHIM).to_hex())
        );
        assert_eq!(std::fs::read(&p).unwrap(), SHIM);
        std::fs::write(&p, b"truncated").unwrap();
        assert_eq!(ensure_in(dir.path()).unwrap(), p);
        assert_eq!(std::fs::read(&p).unwrap(), SHIM);
        // Only the library is left: no temporary file behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn concurrent_first_use_gives_one_complete_file() {
        if cfg!(det_no_shim) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| ensure_in(dir.path()).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(paths.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(std::fs::read(&paths[0]).unwrap(), SHIM);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
