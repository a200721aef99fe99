//! Normalizing archives after the fact (what Debian's strip-nondeterminism does): rewrite
//! zip/jar/wheel, tar (plain or gzip/xz/zstd/bzip2-compressed), ar (.a, .rlib, .deb),
//! gzip and .pyc files so that nothing in them depends on when, where or by whom they were
//! made, with their content unchanged.
//!
//! - zip: entry times set to SOURCE_DATE_EPOCH (as a DOS time, UTC), entries in sorted
//!   order, extended-timestamp, NTFS-time and Unix uid/gid extra fields dropped, Unix
//!   permissions 0644/0755 (directories 0755, symlinks kept), data descriptors folded into
//!   the headers. Compressed data is copied, not recompressed, unless a member is itself
//!   normalized (a .pyc or a nested archive), in which case a wheel's RECORD gets the new
//!   hash and size. RECORD lines are sorted like the entries.
//! - tar: members sorted, times SOURCE_DATE_EPOCH, owner 0/`root`, pax times dropped,
//!   hard links re-pointed at the first name in the new order.
//! - ar: mtime, uid and gid 0, mode 644 (GNU `ar D`); member order kept (it can matter to
//!   a linker), and members normalized in place only when there is no symbol table whose
//!   offsets a size change would break (a .deb's data.tar).
//! - gzip: MTIME 0, no FNAME or header CRC; the deflate data is kept unless the stream
//!   holds something normalized (a tar), which is then recompressed.
//! - pyc: a timestamp-based pyc becomes a checked-hash pyc (what `py_compile` writes when
//!   SOURCE_DATE_EPOCH is set), when its source is found next to it; otherwise its source
//!   mtime is set to SOURCE_DATE_EPOCH.
//!
//! "Sorted" is the order det-scan checks for: path component by path component, byte
//! order, with the places writers reserve kept (`mimetype` and `META-INF/MANIFEST.MF`
//! first, a wheel's `*.dist-info` last with RECORD at its end).

mod ar;
mod compress;
mod pyc;
mod tar;
mod zip;

use crate::artifact::{Bytes, Format, Limits, detect};
use std::path::Path;

/// How to normalize.
#[derive(Clone, Debug)]
pub struct Options {
    /// The time every timestamp becomes (seconds since the epoch).
    pub source_date_epoch: i64,
    /// Only lower times later than SOURCE_DATE_EPOCH; earlier ones are kept.
    pub clamp: bool,
    pub limits: Limits,
}

impl Options {
    pub fn new(source_date_epoch: i64) -> Options {
        Options {
            source_date_epoch,
            clamp: false,
            limits: Limits {
                // Normalizing rewrites whole archives: allow bigger streams than a scan.
                max_decompressed: 16 << 30,
                ..Limits::default()
            },
        }
    }

    /// The normalized form of the time `t`.
    pub(crate) fn time(&self, t: i64) -> i64 {
        if self.clamp {
            t.min(self.source_date_epoch)
        } else {
            self.source_date_epoch
        }
    }
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Rewritten.
    Normalized,
    /// Already normalized: left as it was.
    Unchanged,
    /// Not a format det normalizes, or a feature it does not rewrite: left untouched.
    Unsupported(String),
}

/// The result of normalizing one file.
#[derive(Clone, Debug)]
pub struct Report {
    pub format: Format,
    pub outcome: Outcome,
    /// Things worth telling (a pyc whose source was not found, ...), sorted.
    pub notes: Vec<String>,
}

/// The outcome of normalizing some bytes.
pub(crate) enum Step {
    Same,
    Changed(Vec<u8>),
    Unsupported(String),
}

/// Finds the source of a pyc by the pyc's name (in the same container or directory).
pub(crate) type Sources<'a> = &'a (dyn Fn(&str) -> Option<Vec<u8>> + Sync);

/// What every step needs: the options, the nesting depth, and notes collected on the way.
pub(crate) struct Ctx<'a> {
    pub opts: &'a Options,
    pub depth: u32,
    pub notes: &'a std::sync::Mutex<Vec<String>>,
}

impl Ctx<'_> {
    pub(crate) fn note(&self, s: String) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(s);
        }
    }

    fn nested(&self) -> Ctx<'_> {
        Ctx {
            opts: self.opts,
            depth: self.depth + 1,
            notes: self.notes,
        }
    }
}

/// Normalize `data` (named `name`, for notes and for finding a pyc's source).
/// `Err` is a corrupt or truncated input, with the problem.
pub(crate) fn run(data: &Bytes, name: &str, cx: &Ctx, sources: Sources) -> Result<Step, String> {
    if cx.depth > cx.opts.limits.max_depth {
        return Ok(Step::Same);
    }
    let format = detect(data);
    match format {
        Format::Zip => zip::normalize(data, cx),
        Format::Tar => tar::normalize(data, cx),
        Format::Gzip | Format::Xz | Format::Zstd | Format::Bzip2 => {
            compress::normalize(data, format, name, cx)
        }
        Format::Ar(kind) => ar::normalize(data, kind, cx),
        Format::Pyc => pyc::normalize(data, name, cx, sources),
        other => Ok(Step::Unsupported(format!(
            "{} is not a format det normalizes",
            other.name()
        ))),
    }
}

/// Normalize a member nested in a container; `None` when it stays as it is (also when it
/// is not something det normalizes).
pub(crate) fn run_nested(
    data: &[u8],
    name: &str,
    cx: &Ctx,
    sources: Sources,
) -> Result<Option<Vec<u8>>, String> {
    if !worth_opening(&data[..data.len().min(1024)]) {
        return Ok(None);
    }
    let bytes = Bytes::from_vec(data.to_vec());
    match run(&bytes, name, &cx.nested(), sources)? {
        Step::Changed(v) if v[..] != data[..] => Ok(Some(v)),
        _ => Ok(None),
    }
}

/// Whether a member whose content starts with `prefix` might need normalizing (so that
/// big archives are not inflated member by member for nothing).
pub(crate) fn worth_opening(prefix: &[u8]) -> bool {
    matches!(
        detect(prefix),
        Format::Zip
            | Format::Tar
            | Format::Gzip
            | Format::Xz
            | Format::Zstd
            | Format::Bzip2
            | Format::Ar(_)
            | Format::Pyc
    )
}

/// Normalize bytes in memory: the report, and the new bytes when anything changed. `Err`
/// is a corrupt input, with the problem.
pub fn normalize_bytes(
    data: &[u8],
    name: &str,
    opts: &Options,
) -> Result<(Report, Option<Vec<u8>>), String> {
    let notes = std::sync::Mutex::new(Vec::new());
    let cx = Ctx {
        opts,
        depth: 0,
        notes: &notes,
    };
    let none = |_: &str| None;
    let step = run(&Bytes::from_vec(data.to_vec()), name, &cx, &none)?;
    let mut notes = notes.into_inner().unwrap_or_default();
    notes.sort();
    notes.dedup();
    let (outcome, new) = match step {
        Step::Changed(v) if v != data => (Outcome::Normalized, Some(v)),
        Step::Changed(_) | Step::Same => (Outcome::Unchanged, None),
        Step::Unsupported(why) => (Outcome::Unsupported(why), None),
    };
    let report = Report {
        format: detect(data),
        outcome,
        notes,
    };
    Ok((report, new))
}

/// Normalize the file at `path` in place: the new content is written atomically (a
/// temporary file renamed over it, its permissions kept), and only when something changed.
/// A corrupt archive is an error naming the file, and the file is left as it was.
pub fn normalize_file(path: &Path, opts: &Options) -> crate::Result<Report> {
    use crate::Error;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::invalid(path, "not a regular file"));
    }
    let data = crate::artifact::Bytes::map_file(path)?;
    let format = detect(&data);
    let notes = std::sync::Mutex::new(Vec::new());
    let cx = Ctx {
        opts,
        depth: 0,
        notes: &notes,
    };
    // A pyc's source is looked for on disk, next to it (or above its __pycache__).
    let sources = |pyc_path: &str| {
        pyc::source_candidates(pyc_path)
            .into_iter()
            .find_map(|p| std::fs::read(p).ok())
    };
    let name = path.to_string_lossy();
    let step = run(&data, &name, &cx, &sources).map_err(|m| Error::invalid(path, m))?;
    let mut notes = notes.into_inner().unwrap_or_default();
    notes.sort();
    notes.dedup();
    let outcome = match step {
        Step::Changed(v) if v[..] != data[..] => {
            drop(data);
            crate::atomic_file::write(path, &v)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o7777;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io(path, e))?;
            }
            Outcome::Normalized
        }
        Step::Changed(_) | Step::Same => Outcome::Unchanged,
        Step::Unsupported(why) => Outcome::Unsupported(why),
    };
    Ok(Report {
        format,
        outcome,
        notes,
    })
}
