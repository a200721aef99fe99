//! Detectors over a node: absolute paths, dates and times, UUIDs, header time fields,
//! build ids, archive metadata. Scan runs them over every node of an artifact tree; verify
//! runs them over the bytes that differ to name a difference's cause.

pub(crate) mod archive;
pub mod calibrate;
pub(crate) mod fixes;
mod object;

pub(crate) use archive::utc;
pub(crate) use object::section_data;

pub mod patterns;

use crate::artifact::{Format, Limits, Node};
use crate::finding::{Finding, Location};
use crate::rules;
use std::sync::{Arc, Mutex};

/// At most this many findings per file (top-level file, members included), parse errors
/// apart: overlapping or repeated members must not multiply findings without end.
pub const MAX_FINDINGS_PER_FILE: usize = 10_000;
/// At most this many `parse-error` findings per file.
pub const MAX_PARSE_ERRORS_PER_FILE: usize = 1_000;

/// What a scan needs to know besides the bytes.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Timestamps equal to this are the normalized build time, not a finding.
    pub source_date_epoch: Option<i64>,
    pub limits: Limits,
    /// Absolute directories the artifacts were built in (e.g. the scanned project's root):
    /// any path under one of them is a build path, whatever its prefix.
    pub build_roots: Vec<String>,
    /// Keep one finding per member for member metadata (`ar-member-mtime` on each of 5000
    /// members) instead of folding them into one finding per rule and container. Off for
    /// det-scan's reading; det-verify's diff turns it on, since it classifies each member's
    /// difference on its own.
    pub unfold_members: bool,
    /// The cargo home of the machine det runs on (`$CARGO_HOME`, else `$HOME/.cargo`), named
    /// in fixes so that they work when pasted.
    pub cargo_home: Option<String>,
    /// The count of findings kept and dropped for the file being scanned: set by
    /// [`ScanOptions::for_file`] (det-scan's per-file scan); `None` caps nothing (det-verify's
    /// diff runs the detectors over many separate pieces with one set of options).
    pub file: Option<Arc<FileFindings>>,
}

/// How many findings of one file were kept and dropped (see [`MAX_FINDINGS_PER_FILE`]).
#[derive(Debug, Default)]
pub struct FileFindings {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// `out[..checked]` has been counted.
    checked: usize,
    findings: usize,
    errors: usize,
    findings_dropped: usize,
    errors_dropped: usize,
    /// Findings let through by [`ScanOptions::push_capped`] since the last [`ScanOptions::cap`]
    /// (which counts them).
    provisional: usize,
    /// `findings_dropped` by rule, for the note that says what was dropped.
    dropped_by_rule: std::collections::BTreeMap<&'static str, usize>,
}

impl ScanOptions {
    /// The options for scanning one file: the same settings and scan-wide memory budget, and
    /// a fresh account of the file's memory and findings.
    pub fn for_file(&self) -> ScanOptions {
        ScanOptions {
            limits: self.limits.for_file(),
            file: Some(Arc::default()),
            ..self.clone()
        }
    }

    /// Drop the findings of `out` beyond the per-file caps (the first ones found are kept:
    /// the scan of a file is sequential, so which ones is deterministic).
    fn cap(&self, out: &mut Vec<Finding>) {
        let Some(file) = &self.file else { return };
        let mut c = file.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.checked = c.checked.min(out.len());
        let mut kept = c.checked;
        for i in c.checked..out.len() {
            let error = out[i].rule.id == "parse-error";
            let keep = if error {
                c.errors < MAX_PARSE_ERRORS_PER_FILE
            } else {
                c.findings < MAX_FINDINGS_PER_FILE
            };
            match (keep, error) {
                (true, true) => c.errors += 1,
                (true, false) => c.findings += 1,
                (false, true) => c.errors_dropped += 1,
                (false, false) => {
                    c.findings_dropped += 1;
                    *c.dropped_by_rule.entry(out[i].rule.id).or_default() += 1;
                }
            }
            if keep {
                out.swap(kept, i);
                kept += 1;
            }
        }
        out.truncate(kept);
        c.checked = kept;
        c.provisional = 0;
    }

    /// Push the finding `make` builds for `rule` unless the file's cap on findings is
    /// reached, in which case it is only counted (and never built): for detectors that can
    /// meet one finding per entry of a table the file sizes itself (200 000 N_OSO stabs, a
    /// line table's file names), so that what they hold stays bounded before the per-node
    /// cap runs. `out` may be a detector's own vector, appended to the file's later.
    pub(crate) fn push_capped(
        &self,
        out: &mut Vec<Finding>,
        rule: &'static str,
        make: impl FnOnce() -> Finding,
    ) {
        let Some(file) = &self.file else {
            out.push(make());
            return;
        };
        let mut c = file.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.findings + c.provisional < MAX_FINDINGS_PER_FILE {
            c.provisional += 1;
            drop(c);
            out.push(make());
        } else {
            c.findings_dropped += 1;
            *c.dropped_by_rule.entry(rule).or_default() += 1;
        }
    }

    /// After the last node of a file: say how many findings the caps dropped.
    pub fn finish_file(&self, loc: &Location, out: &mut Vec<Finding>) {
        self.cap(out);
        let Some(file) = &self.file else { return };
        let c = file.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.findings_dropped > 0 {
            let by_rule: Vec<String> = c
                .dropped_by_rule
                .iter()
                .map(|(rule, n)| format!("{n} {rule}"))
                .collect();
            out.push(Finding::new(
                rules::get("findings-capped"),
                loc.clone(),
                format!(
                    "{} more findings in this file not listed (at most {MAX_FINDINGS_PER_FILE} per file): {}",
                    c.findings_dropped,
                    by_rule.join(", ")
                ),
            ));
        }
        if c.errors_dropped > 0 {
            out.push(Finding::new(
                rules::get("parse-error"),
                loc.clone(),
                format!(
                    "{} more parse errors in this file not listed (at most {MAX_PARSE_ERRORS_PER_FILE} per file)",
                    c.errors_dropped
                ),
            ));
        }
    }
}

/// 1980-01-01T00:00:00Z, the earliest time a zip (DOS) timestamp can hold.
pub const ZIP_EPOCH: i64 = 315_532_800;

impl ScanOptions {
    /// True when `t` is a normalized time: 0, the zip epoch, or SOURCE_DATE_EPOCH.
    pub fn is_normalized_time(&self, t: i64) -> bool {
        t == 0 || t == ZIP_EPOCH || Some(t) == self.source_date_epoch
    }
}

/// Findings about one member's metadata (`mtime`, `uid`, `mode`, ...) as its container of
/// format `parent` recorded them, never folded: what det-verify's diff asks about the one
/// member whose metadata differs.
pub fn detect_member_meta(
    node: &Node,
    loc: &Location,
    parent: Format,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    archive::detect_member(node, loc, parent, opts, out);
}

/// Scan `node` (found at `loc`) and everything inside it, appending findings to `out`.
///
/// `parent` is the format of the container `node` is a member of, so that member metadata
/// (an ar member's mtime, a zip entry's external attributes) is judged by the right rule.
pub fn scan_node(
    node: &Node,
    loc: &Location,
    parent: Option<Format>,
    opts: &ScanOptions,
    depth: u32,
    out: &mut Vec<Finding>,
) {
    if let Some(parent) = parent {
        archive::detect_member(node, loc, parent, opts, out);
    }
    match node.format {
        Format::Elf | Format::MachO | Format::Pe | Format::Coff => {
            object::detect(node, loc, opts, out)
        }
        Format::MachOFat => {}
        Format::Ar(_)
        | Format::Zip
        | Format::Gzip
        | Format::Xz
        | Format::Zstd
        | Format::Bzip2
        | Format::Tar
        | Format::Pyc => archive::detect(node, loc, opts, out),
        Format::Text | Format::Other => {
            let head = &node.data[..node.data.len().min(4)];
            let content = calibrate::classify(&node.name, head, node.format == Format::Text);
            patterns::detect_bytes(&node.data, loc, content, opts, out)
        }
    }
    opts.cap(out);
    if !node.format.is_container() {
        return;
    }
    if depth >= opts.limits.max_depth {
        out.push(Finding::new(
            rules::get("parse-error"),
            loc.clone(),
            format!(
                "containers nested deeper than {} levels; not opened (raise the limit with --max-depth)",
                opts.limits.max_depth
            ),
        ));
        return;
    }
    // A decompressed stream is not a member: `x.tar.gz!pkg/a.zip`, not `x.tar.gz!(gzip stream)!...`.
    let stream = matches!(
        node.format,
        Format::Gzip | Format::Xz | Format::Zstd | Format::Bzip2
    );
    let first_member_finding = out.len();
    let mut mtimes = Vec::new();
    // Member metadata findings fold into one per rule as they are found, unless each
    // member must keep its own (det-verify's diff) or the members are a stream's content.
    let mut fold = (!stream && !opts.unfold_members).then(archive::MemberFold::default);
    // One location for the members, renamed for each (the detectors copy what they keep).
    let mut child_loc = if stream { loc.clone() } else { loc.member("") };
    for child in node.children(&opts.limits) {
        match child {
            Ok(child) => {
                if let Some(t) = child.meta_int(&crate::artifact::MetaKey::Mtime) {
                    mtimes.push(archive::MemberTime {
                        mtime: t,
                        is_dir: child.name.ends_with('/'),
                        stamped: archive::header_time(&child),
                    });
                }
                if !stream {
                    child_loc.set_member(&child.name);
                }
                match fold.as_mut() {
                    Some(fold) => {
                        let mut to = archive::MemberOut::Fold(fold);
                        archive::detect_member_to(&child, &child_loc, node.format, opts, &mut to);
                        scan_node(&child, &child_loc, None, opts, depth + 1, out);
                    }
                    None => scan_node(&child, &child_loc, Some(node.format), opts, depth + 1, out),
                }
            }
            Err(e) => {
                let err_loc = if e.name.is_empty() {
                    loc.clone()
                } else {
                    loc.member(&e.name)
                };
                out.push(Finding::new(rules::get("parse-error"), err_loc, e.message));
                opts.cap(out);
            }
        }
    }
    if let Some(fold) = fold {
        fold.finish(out);
        archive::aggregate_members(loc, first_member_finding, &mtimes, opts, out);
    }
}
