//! The structural diff of two builds: two paths → pairs by relative path → hash compare →
//! both node trees walked in step → differences → the detectors name each cause → derived
//! differences grouped under their root cause → [`DiffReport`] (rendered by
//! [`render`] as text, JSON `det-diff/1` or HTML).
//!
//! Cost follows the difference: equal files are recognised by comparing their bytes
//! (memory-mapped, pages released as they are passed), equal members and sections by their
//! bytes (zip entries by CRC and size, unopened), and only what differs is opened, decoded
//! and diffed. The report holds the differences, never the inputs.
//!
//! What a difference is, by format:
//! - containers (ar, rlib, .deb, zip, wheel, jar, tar, gzip, xz, zstd, bzip2, universal
//!   Mach-O): members added, removed, reordered; member metadata; then the members, recursed;
//! - objects (ELF, Mach-O, PE, COFF): header fields, the segment table, sections added or
//!   removed, section-table fields, each differing section's byte ranges with context from
//!   both sides (string tables string by string), symbols added/removed/changed, the
//!   build-id, LC_UUID and N_OSO, PE time stamps, CodeView and checksum, and where debug
//!   sections differ the DWARF decoded ([`dwarf`]): every entry's string and constant
//!   attributes (DW_AT_producer, DW_AT_name, DW_AT_decl_line, ...), line-table directories,
//!   files and rows;
//! - text: a bounded unified diff; anything else: differing byte ranges with hex context.
//!
//! A member or stream that a limit stops (a decompression bomb, `--max-decompressed`,
//! `--max-ratio`) is an `error` difference naming the limit for each side it stopped; what
//! both sides could read is still compared. Directory pairs are compared in parallel.
//!
//! Every root difference is classified by running det-scan's detectors over the differing
//! bytes of both sides ([`cause`]); differences that only follow from another (a build-id or
//! checksum over changed content, offsets and addresses that shift because something got
//! longer, a zip entry's CRC) are marked `derived_from` it and do not count as root causes.

mod cause;
mod dwarf;
mod object;
pub mod render;
mod seq;

use crate::artifact::{Format, Meta, MetaKey, Node, NodeKind, zip as zipfmt};
use crate::detect::ScanOptions;
use crate::finding::{Location, Name};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use render::{DiffFormat, HTML_STYLE, html_differences, render};

/// The schema id of the JSON document.
pub const SCHEMA: &str = "det-diff/1";

/// How much a diff reports at most, and how it judges times.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    pub scan: ScanOptions,
    /// Differing byte ranges listed per section or member (the rest are counted).
    pub max_ranges: usize,
    /// Lines of a unified text diff listed per file.
    pub max_text_lines: usize,
    /// Symbols added, removed or changed listed per object.
    pub max_symbols: usize,
    /// Bytes of context shown on each side of a range.
    pub context: usize,
    /// Differences listed in all (the rest are counted in the summary).
    pub max_differences: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            scan: ScanOptions {
                unfold_members: true,
                ..ScanOptions::default()
            },
            max_ranges: 16,
            max_text_lines: 200,
            max_symbols: 50,
            context: 24,
            max_differences: 10_000,
        }
    }
}

/// What changed, in one word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffKind {
    /// A file or member only in A.
    Removed,
    /// A file or member only in B.
    Added,
    /// The two sides are of different formats (an ELF against a zip).
    Format,
    /// The members of a container come in a different order.
    Order,
    /// A header field or member metadata (mtime, uid, mode, e_shoff, TimeDateStamp).
    Field,
    /// Bytes of a section, a member or a file.
    Bytes,
    /// A string of a string table (`.debug_str`, `.dynstr`, `__cstring`).
    String,
    /// Lines of a text file.
    Text,
    /// A symbol added, removed or changed.
    Symbol,
    /// A decoded DWARF value: a compilation unit's attribute, a line-table entry.
    Dwarf,
    /// Something that could not be compared (a truncated side, a bomb): see the message.
    Error,
}

/// One side of a difference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The value on this side (a field's value, a string, a symbol), when there is one.
    pub value: Option<String>,
    /// The byte range `[start, end)` inside the section (or member, or file).
    pub range: Option<[u64; 2]>,
    /// The bytes around and in the range, printable (`\0`, `\xNN`) or as hex.
    pub context: Option<String>,
}

/// Why a difference exists: the rule whose detector matched its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub rule: &'static str,
    pub message: &'static str,
    pub fix: String,
    /// What the detector matched, on side A or B.
    pub evidence: String,
}

/// One difference between the two builds.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    pub id: usize,
    pub kind: DiffKind,
    /// The file, relative to the paths compared, `/`-separated.
    pub path: String,
    /// Members of containers from outermost to innermost.
    pub container: Vec<String>,
    /// A section of an object file, or a named part (`ELF header`, `segment 2`).
    pub section: Option<String>,
    /// A header field, a metadata key, a symbol, a DWARF attribute.
    pub field: Option<String>,
    /// One sentence: what differs.
    pub summary: String,
    pub a: Side,
    pub b: Side,
    pub cause: Option<Cause>,
    /// The difference this one follows from (it disappears when that one is fixed).
    pub derived_from: Option<usize>,
    /// Why it is derived, when it is.
    pub derived_because: Option<String>,
    /// Index in [`DiffReport::root_causes`] of the root cause it belongs to.
    pub root_cause: Option<usize>,
}

impl Difference {
    /// `file!member [section field]`.
    pub fn place(&self) -> String {
        let mut s = self.path.clone();
        for c in &self.container {
            s.push('!');
            s.push_str(c);
        }
        s
    }

    /// Section and field as one label.
    pub fn label(&self) -> Option<String> {
        match (&self.section, &self.field) {
            (Some(s), Some(f)) => Some(format!("{s} {f}")),
            (Some(s), None) => Some(s.clone()),
            (None, Some(f)) => Some(f.clone()),
            (None, None) => None,
        }
    }
}

/// A root cause: the root differences of one kind (a build path, a time stamp), where they
/// are and the one fix.
#[derive(Clone, Debug, Serialize)]
pub struct RootCause {
    /// Short name: `build path`, `a timestamp`, `member order`, `unexplained change`.
    pub what: String,
    /// The rule, when a detector named it.
    pub rule: Option<&'static str>,
    pub message: Option<&'static str>,
    pub fix: Option<String>,
    /// Where: section or field names (`.debug_str`, `.rodata`, `mtime`), sorted.
    pub places: Vec<String>,
    /// The root differences (ids).
    pub differences: Vec<usize>,
    /// How many derived differences follow from them.
    pub derived: usize,
}

/// How a pair of files compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairStatus {
    Identical,
    Different,
    /// Only in A.
    Removed,
    /// Only in B.
    Added,
    /// Could not be compared (unreadable).
    Error,
}

#[derive(Clone, Debug, Serialize)]
pub struct Pair {
    pub path: String,
    pub status: PairStatus,
    pub size_a: Option<u64>,
    pub size_b: Option<u64>,
    pub format_a: Option<Format>,
    pub format_b: Option<Format>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DiffSummary {
    pub files: usize,
    pub identical: usize,
    pub different: usize,
    pub removed: usize,
    pub added: usize,
    pub errors: usize,
    pub differences: usize,
    /// Differences found but not listed (over `max_differences`).
    pub not_listed: usize,
    pub root_causes: usize,
    pub derived: usize,
    /// "2 root causes (build path in .debug_str and .rodata; a timestamp in .rodata), 41
    /// derived differences".
    pub headline: String,
}

/// The whole result of `diff A B`.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub schema: &'static str,
    pub a: String,
    pub b: String,
    pub identical: bool,
    pub summary: DiffSummary,
    pub root_causes: Vec<RootCause>,
    /// The file pairs that are not identical (identical ones are only counted).
    pub pairs: Vec<Pair>,
    pub differences: Vec<Difference>,
}

/// The walk's state: the differences found so far.
pub(crate) struct Walker<'o> {
    opts: &'o DiffOptions,
    diffs: Vec<Difference>,
    not_listed: usize,
}

impl<'o> Walker<'o> {
    /// Record a difference; returns its id (or `None` when over the listing bound).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push(
        &mut self,
        kind: DiffKind,
        loc: &Location,
        summary: String,
        a: Side,
        b: Side,
        cause: Option<Cause>,
    ) -> Option<usize> {
        if self.diffs.len() >= self.opts.max_differences {
            self.not_listed += 1;
            return None;
        }
        let id = self.diffs.len();
        self.diffs.push(Difference {
            id,
            kind,
            path: loc.file.to_string(),
            container: loc.container.iter().map(Name::to_string).collect(),
            section: loc.section.as_deref().map(str::to_owned),
            field: loc.field.clone(),
            summary,
            a,
            b,
            cause,
            derived_from: None,
            derived_because: None,
            root_cause: None,
        });
        Some(id)
    }

    /// Take over the differences of another walk (one file pair), renumbered after these;
    /// those over the listing bound are counted, and a link to one of them is dropped.
    fn append(&mut self, diffs: Vec<Difference>, not_listed: usize) {
        let base = self.diffs.len();
        let room = self.opts.max_differences.saturating_sub(base);
        self.not_listed += not_listed + diffs.len().saturating_sub(room);
        let kept = diffs.len().min(room);
        for mut d in diffs.into_iter().take(kept) {
            d.id += base;
            match d.derived_from {
                Some(f) if f < kept => d.derived_from = Some(f + base),
                Some(_) => {
                    d.derived_from = None;
                    d.derived_because = None;
                }
                None => {}
            }
            self.diffs.push(d);
        }
    }

    pub(crate) fn derive(&mut self, id: Option<usize>, from: Option<usize>, because: &str) {
        if let (Some(id), Some(from)) = (id, from)
            && id != from
        {
            let d = &mut self.diffs[id];
            d.derived_from = Some(from);
            d.derived_because = Some(because.to_owned());
        }
    }

    fn error(&mut self, loc: &Location, message: String) -> Option<usize> {
        // The artifact layer says what a scan does with a cut stream; a diff compares it.
        let message = match message.strip_suffix("; the part before the cut was scanned") {
            Some(m) => format!("{m}; compared as far as both sides were read"),
            None => message,
        };
        self.push(
            DiffKind::Error,
            loc,
            message,
            Side::default(),
            Side::default(),
            None,
        )
    }

    /// Compare two nodes found at `loc`, recording what differs.
    pub(crate) fn node(&mut self, a: &Node, b: &Node, loc: &Location, depth: u32) {
        let structured = a.format == b.format
            && (a.format.is_container()
                || matches!(
                    a.format,
                    Format::Elf | Format::MachO | Format::Pe | Format::Coff
                ));
        if !structured && a.data.len().max(b.data.len()) > LARGE {
            // One pass that compares, finds the ranges and releases the pages.
            return self.bytes_large(&a.data, &b.data, loc);
        }
        if bytes_equal(&a.data, &b.data) {
            return;
        }
        if a.format != b.format {
            self.push(
                DiffKind::Format,
                loc,
                format!(
                    "formats differ: {} vs {}",
                    format_name(a.format),
                    format_name(b.format)
                ),
                Side {
                    value: Some(format_name(a.format).into()),
                    ..Side::default()
                },
                Side {
                    value: Some(format_name(b.format).into()),
                    ..Side::default()
                },
                None,
            );
            return;
        }
        match a.format {
            Format::Elf | Format::MachO | Format::Pe | Format::Coff => {
                object::diff_object(self, a, b, loc)
            }
            f if f.is_container() => {
                if depth >= self.opts.scan.limits.max_depth {
                    self.error(
                        loc,
                        format!(
                            "containers nested deeper than {} levels; not opened",
                            self.opts.scan.limits.max_depth
                        ),
                    );
                    return;
                }
                self.container(a, b, loc, depth)
            }
            Format::Text => self.text(a, b, loc),
            _ => {
                self.bytes(&a.data, &b.data, loc, None);
            }
        }
    }

    /// Differing ranges of two large buffers, [`CHUNK`] bytes at a time: equal chunks are
    /// skipped by comparison and their pages released, so two 4 GiB files that differ in
    /// one byte keep a few MiB resident. Different lengths: the common prefix is found the
    /// same way, then the rest is one range.
    fn bytes_large(
        &mut self,
        a: &crate::artifact::Bytes,
        b: &crate::artifact::Bytes,
        loc: &Location,
    ) {
        let n = a.len().min(b.len());
        let mut i = 0;
        let mut listed = 0;
        while i < n && listed < self.opts.max_ranges {
            let end = (i + CHUNK).min(n);
            if a[i..end] != b[i..end] {
                let before = self.diffs.len();
                let ids = self.bytes(&a[i..end], &b[i..end], loc, None);
                listed += ids.len();
                // Ranges are relative to the chunk: shift them to the file.
                for d in &mut self.diffs[before..] {
                    for side in [&mut d.a, &mut d.b] {
                        if let Some(r) = &mut side.range {
                            r[0] += i as u64;
                            r[1] += i as u64;
                        }
                    }
                    d.summary = format!(
                        "bytes {:#x}..{:#x}",
                        d.a.range.map_or(0, |r| r[0]),
                        d.a.range.map_or(0, |r| r[1])
                    );
                }
            }
            a.release(i..end);
            b.release(i..end);
            i = end;
        }
        if a.len() != b.len() {
            let r = [n as u64, a.len().max(b.len()) as u64];
            self.push(
                DiffKind::Bytes,
                loc,
                format!(
                    "sizes differ: {} vs {} bytes; the longer side continues at {:#x}",
                    a.len(),
                    b.len(),
                    n
                ),
                Side {
                    range: Some([r[0], a.len() as u64]),
                    ..Side::default()
                },
                Side {
                    range: Some([r[0], b.len() as u64]),
                    ..Side::default()
                },
                None,
            );
        }
    }

    /// Differing byte ranges of a member, section or file, each classified.
    /// Returns the ids of the differences recorded.
    pub(crate) fn bytes(
        &mut self,
        a: &[u8],
        b: &[u8],
        loc: &Location,
        what: Option<&str>,
    ) -> Vec<usize> {
        let (hunks, more) = seq::byte_hunks(a, b, self.opts.max_ranges, 1 << 20);
        let mut ids = Vec::new();
        let n = hunks.len();
        for h in hunks {
            let cause = cause::classify(a, h.a.clone(), b, h.b.clone(), &self.opts.scan);
            let text =
                seq::mostly_printable(&a[h.a.clone()]) && seq::mostly_printable(&b[h.b.clone()]);
            let (sa, sb) = (
                side_of(a, &h.a, self.opts.context, text),
                side_of(b, &h.b, self.opts.context, text),
            );
            let summary = format!(
                "{}bytes {:#x}..{:#x} vs {:#x}..{:#x}",
                what.map(|w| format!("{w}: ")).unwrap_or_default(),
                h.a.start,
                h.a.end,
                h.b.start,
                h.b.end
            );
            if let Some(id) = self.push(DiffKind::Bytes, loc, summary, sa, sb, cause) {
                ids.push(id);
            }
        }
        if more > 0 {
            let id = self.push(
                DiffKind::Bytes,
                loc,
                format!("and {more} more differing ranges after the first {n}"),
                Side::default(),
                Side::default(),
                None,
            );
            if let (Some(id), Some(&first)) = (id, ids.first()) {
                self.derive(Some(id), Some(first), "more ranges of the same section");
            }
        }
        ids
    }

    /// A string table compared string by string (NUL-separated).
    pub(crate) fn strings(&mut self, a: &[u8], b: &[u8], loc: &Location) -> Vec<usize> {
        let ta = seq::tokens(a);
        let tb = seq::tokens(b);
        let ea: Vec<&[u8]> = ta.iter().map(|r| &a[r.clone()]).collect();
        let eb: Vec<&[u8]> = tb.iter().map(|r| &b[r.clone()]).collect();
        let Some(hunks) = seq::myers(&ea, &eb, 4000) else {
            return self.bytes(a, b, loc, None);
        };
        let mut ids = Vec::new();
        let mut shown = 0;
        let total = hunks.len();
        for h in hunks {
            let ra = span(&ta, &h.a, a.len());
            let rb = span(&tb, &h.b, b.len());
            if shown >= self.opts.max_ranges {
                continue;
            }
            shown += 1;
            let cause = cause::classify(a, ra.clone(), b, rb.clone(), &self.opts.scan);
            let va = seq::printable(&a[ra.clone()], 512);
            let vb = seq::printable(&b[rb.clone()], 512);
            let summary = match (ra.is_empty(), rb.is_empty()) {
                (true, _) => format!("string added at {:#x}: \"{vb}\"", rb.start),
                (_, true) => format!("string removed at {:#x}: \"{va}\"", ra.start),
                _ => format!("string at {:#x}: \"{va}\" vs \"{vb}\"", ra.start),
            };
            let side = |r: &std::ops::Range<usize>, v: String| Side {
                value: Some(v),
                range: Some([r.start as u64, r.end as u64]),
                context: None,
            };
            if let Some(id) = self.push(
                DiffKind::String,
                loc,
                summary,
                side(&ra, va),
                side(&rb, vb),
                cause,
            ) {
                ids.push(id);
            }
        }
        if total > shown {
            let id = self.push(
                DiffKind::String,
                loc,
                format!(
                    "and {} more differing strings after the first {shown}",
                    total - shown
                ),
                Side::default(),
                Side::default(),
                None,
            );
            if let Some(&first) = ids.first() {
                self.derive(id, Some(first), "more strings of the same table");
            }
        }
        ids
    }

    /// A bounded unified diff of two text files, one difference per hunk.
    fn text(&mut self, a: &Node, b: &Node, loc: &Location) {
        let ta = seq::tokens(&a.data);
        let tb = seq::tokens(&b.data);
        let la: Vec<&[u8]> = ta.iter().map(|r| &a.data[r.clone()]).collect();
        let lb: Vec<&[u8]> = tb.iter().map(|r| &b.data[r.clone()]).collect();
        // Strip the common head and tail first: Myers then sees only the middle.
        let p = la.iter().zip(&lb).take_while(|(x, y)| x == y).count();
        let s = la[p..]
            .iter()
            .rev()
            .zip(lb[p..].iter().rev())
            .take_while(|(x, y)| x == y)
            .count();
        let (ma, mb) = (&la[p..la.len() - s], &lb[p..lb.len() - s]);
        let hunks = seq::myers(ma, mb, 2000).unwrap_or_else(|| {
            vec![seq::Hunk {
                a: 0..ma.len(),
                b: 0..mb.len(),
            }]
        });
        let mut budget = self.opts.max_text_lines;
        let total = hunks.len();
        let mut listed = 0;
        for h in hunks {
            if budget == 0 {
                break;
            }
            listed += 1;
            let (a0, b0) = (p + h.a.start, p + h.b.start);
            let mut lines = Vec::new();
            let ctx = 3;
            for l in &la[a0.saturating_sub(ctx)..a0] {
                lines.push(format!(" {}", line_text(l)));
            }
            for l in &la[p + h.a.start..p + h.a.end] {
                lines.push(format!("-{}", line_text(l)));
            }
            for l in &lb[p + h.b.start..p + h.b.end] {
                lines.push(format!("+{}", line_text(l)));
            }
            let after = p + h.a.end;
            for l in la.iter().skip(after).take(ctx) {
                lines.push(format!(" {}", line_text(l)));
            }
            lines.truncate(budget);
            budget -= lines.len();
            let head = format!("@@ -{},{} +{},{} @@", a0 + 1, h.a.len(), b0 + 1, h.b.len());
            let ra = span(&ta, &(p + h.a.start..p + h.a.end), a.data.len());
            let rb = span(&tb, &(p + h.b.start..p + h.b.end), b.data.len());
            let cause = cause::classify(&a.data, ra.clone(), &b.data, rb.clone(), &self.opts.scan);
            let text_loc = loc.line(a0 as u64 + 1);
            self.push(
                DiffKind::Text,
                &Location {
                    line: None,
                    ..text_loc
                },
                format!("{head}\n{}", lines.join("\n")),
                Side {
                    value: Some(
                        la[p + h.a.start..p + h.a.end]
                            .iter()
                            .map(|l| line_text(l))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                    range: Some([ra.start as u64, ra.end as u64]),
                    context: None,
                },
                Side {
                    value: Some(
                        lb[p + h.b.start..p + h.b.end]
                            .iter()
                            .map(|l| line_text(l))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                    range: Some([rb.start as u64, rb.end as u64]),
                    context: None,
                },
                cause,
            );
        }
        if total > listed {
            self.push(
                DiffKind::Text,
                loc,
                format!(
                    "and {} more hunks (diff bounded at {} lines)",
                    total - listed,
                    self.opts.max_text_lines
                ),
                Side::default(),
                Side::default(),
                None,
            );
        }
    }

    /// The members of two containers matched by name: added, removed, reordered, metadata,
    /// then their content, recursed.
    fn container(&mut self, a: &Node, b: &Node, loc: &Location, depth: u32) {
        let limits = &self.opts.scan.limits;
        let is_zip = a.format == Format::Zip;
        let list = |n: &Node| -> (Vec<Node>, Option<String>) {
            if is_zip {
                return match zipfmt::listing(&n.data, limits) {
                    Ok(v) => (v, None),
                    Err(e) => (Vec::new(), Some(e)),
                };
            }
            let mut v = Vec::new();
            let mut err = None;
            for c in n.children(limits) {
                match c {
                    Ok(c) => v.push(c),
                    Err(e) => {
                        err = Some(if e.name.is_empty() {
                            e.message
                        } else {
                            format!("{}: {}", e.name, e.message)
                        })
                    }
                }
            }
            (v, err)
        };
        let (ma, ea) = list(a);
        let (mb, eb) = list(b);
        let cut = ea.is_some() || eb.is_some();
        for (side, e) in [("A", ea), ("B", eb)] {
            if let Some(e) = e {
                self.error(loc, format!("side {side}: {e}"));
            }
        }
        // A decompressed stream is not a member: `x.tar.gz!pkg/a.zip`.
        let stream = ma.first().is_some_and(|n| n.kind == NodeKind::Stream);
        if stream {
            if let (Some(x), Some(y)) = (ma.first(), mb.first()) {
                self.meta(x, y, loc, a.format, None, None);
                if cut {
                    // A stream stopped by a limit (a bomb) or by corruption: what both
                    // sides could read is compared; where each was cut is not a difference.
                    let (x, y) = common_prefix_nodes(x, y);
                    self.node(&x, &y, loc, depth + 1);
                } else {
                    self.node(x, y, loc, depth + 1);
                }
            }
            return;
        }
        let key = |v: &[Node]| -> Vec<(String, usize)> {
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            v.iter()
                .map(|n| {
                    let k = seen.entry(&n.name).or_default();
                    *k += 1;
                    (n.name.clone(), *k)
                })
                .collect()
        };
        let (ka, kb) = (key(&ma), key(&mb));
        let ia: BTreeMap<&(String, usize), usize> =
            ka.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let ib: BTreeMap<&(String, usize), usize> =
            kb.iter().enumerate().map(|(i, k)| (k, i)).collect();
        let mut changed_list = None;
        for (k, &i) in &ia {
            if !ib.contains_key(k) {
                let id = self.push(
                    DiffKind::Removed,
                    &loc.member(&k.0),
                    format!("member only in A ({} bytes)", ma[i].data.len()),
                    Side {
                        value: Some(k.0.clone()),
                        ..Side::default()
                    },
                    Side::default(),
                    None,
                );
                changed_list = changed_list.or(id);
            }
        }
        for (k, &i) in &ib {
            if !ia.contains_key(k) {
                let id = self.push(
                    DiffKind::Added,
                    &loc.member(&k.0),
                    format!("member only in B ({} bytes)", mb[i].data.len()),
                    Side::default(),
                    Side {
                        value: Some(k.0.clone()),
                        ..Side::default()
                    },
                    None,
                );
                changed_list = changed_list.or(id);
            }
        }
        // Order of the common members.
        let common_a: Vec<&(String, usize)> = ka.iter().filter(|k| ib.contains_key(k)).collect();
        let common_b: Vec<&(String, usize)> = kb.iter().filter(|k| ia.contains_key(k)).collect();
        let mut order_id = None;
        if common_a != common_b {
            let first = common_a
                .iter()
                .zip(&common_b)
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            let rule = match a.format {
                Format::Zip => Some("zip-entry-order"),
                Format::Tar => Some("tar-member-order"),
                _ => None,
            };
            let cause = rule.map(|r| {
                cause::of_rule(
                    r,
                    format!(
                        "`{}` vs `{}` at position {first}",
                        common_a[first].0, common_b[first].0
                    ),
                )
            });
            let cause =
                cause.or_else(|| Some(cause::file_order(&common_a[first].0, &common_b[first].0)));
            order_id = self.push(
                DiffKind::Order,
                &loc.at("member order", None),
                format!(
                    "members in a different order: position {first} holds `{}` in A, `{}` in B",
                    common_a[first].0, common_b[first].0
                ),
                Side {
                    value: Some(
                        common_a
                            .iter()
                            .take(first + 3)
                            .map(|k| k.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    ..Side::default()
                },
                Side {
                    value: Some(
                        common_b
                            .iter()
                            .take(first + 3)
                            .map(|k| k.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    ..Side::default()
                },
                cause,
            );
        }
        let index_cause = order_id.or(changed_list);
        // Common members, in A's order.
        let mut zip_archives = None;
        for k in &common_a {
            let (x, y) = (&ma[ia[k]], &mb[ib[k]]);
            let mloc = loc.member(&k.0);
            let content_id = if is_zip {
                let same = x.meta.get(&MetaKey::named("crc32"))
                    == y.meta.get(&MetaKey::named("crc32"))
                    && x.meta.get(&MetaKey::Size) == y.meta.get(&MetaKey::Size);
                if same {
                    None
                } else {
                    let arcs = zip_archives
                        .get_or_insert_with(|| (zipfmt::open(&a.data), zipfmt::open(&b.data)));
                    // An entry cut short by a limit (a bomb) is compared as far as it was
                    // read, and the limit is said for each side it stopped.
                    let open = |arc: &mut Result<_, String>,
                                data,
                                n: &Node|
                     -> (Option<Node>, Option<String>) {
                        let arc = match arc.as_mut() {
                            Ok(arc) => arc,
                            Err(e) => return (None, Some(e.clone())),
                        };
                        let i = n.meta_int(&MetaKey::Index).unwrap_or(0) as usize;
                        let (out, err) = match zipfmt::read_entry(arc, data, i, limits) {
                            Ok(out) => (Some(out), None),
                            Err(e) => (e.partial, Some(e.message)),
                        };
                        let node = out.map(|out| {
                            let mut node = Node::new(n.name.clone(), out.into_bytes());
                            node.meta = n.meta.clone();
                            node
                        });
                        (node, err)
                    };
                    let (nx, ex) = open(&mut arcs.0, &a.data, x);
                    let (ny, ey) = open(&mut arcs.1, &b.data, y);
                    let mut first = None;
                    for (side, e) in [("A", ex), ("B", ey)] {
                        if let Some(e) = e {
                            first = first.or(self.error(&mloc, format!("side {side}: {e}")));
                        }
                    }
                    let content = self.diffs.len();
                    if let (Some(nx), Some(ny)) = (nx, ny) {
                        if first.is_some() {
                            let (nx, ny) = common_prefix_nodes(&nx, &ny);
                            self.node(&nx, &ny, &mloc, depth + 1);
                        } else {
                            self.node(&nx, &ny, &mloc, depth + 1);
                        }
                    }
                    // A CRC and sizes follow from the content that differs, else from
                    // the limit that kept it from being read.
                    (self.diffs.len() > content).then_some(content).or(first)
                }
            } else {
                let before = self.diffs.len();
                self.node(x, y, &mloc, depth + 1);
                (self.diffs.len() > before).then_some(before)
            };
            self.meta(x, y, &mloc, a.format, content_id, index_cause);
        }
    }

    /// Metadata of two members (or streams) compared key by key. `content` is the first
    /// difference of the member's content, which a CRC or a size follows from; `order` the
    /// one (reordering, members added or removed) its index follows from.
    fn meta(
        &mut self,
        x: &Node,
        y: &Node,
        loc: &Location,
        parent: Format,
        content: Option<usize>,
        order: Option<usize>,
    ) {
        let mut mtime_id = None;
        // The first differing time of an extra field (UT, NTFS, Info-ZIP Unix) when the
        // mtime itself does not differ (times within one DOS two-second step).
        let mut extra_time_id = None;
        let keys: BTreeSet<&MetaKey> = x.meta.keys().chain(y.meta.keys()).collect();
        let mut scan_a = Vec::new();
        let mut scan_b = Vec::new();
        let mut scanned = false;
        for k in keys {
            let (va, vb) = (x.meta.get(k), y.meta.get(k));
            if va == vb {
                continue;
            }
            if !scanned {
                crate::detect::detect_member_meta(x, loc, parent, &self.opts.scan, &mut scan_a);
                crate::detect::detect_member_meta(y, loc, parent, &self.opts.scan, &mut scan_b);
                scanned = true;
            }
            let extra_time = is_extra_time(k);
            let derived = matches!(k, MetaKey::Index | MetaKey::Size)
                || matches!(k, MetaKey::Other(s) if matches!(&**s, "crc32" | "compressed-size" | "thin-size" | "dos-mtime" | "members"))
                || (extra_time && mtime_id.or(extra_time_id).is_some());
            let cause = if derived {
                None
            } else {
                cause::for_meta(k, parent, &scan_a, &scan_b)
            };
            let show = |v: Option<&Meta>| Side {
                value: v.map(|v| meta_text(k, v)),
                ..Side::default()
            };
            let id = self.push(
                DiffKind::Field,
                &loc.field(k.as_str()),
                format!(
                    "{k}: {} vs {}",
                    va.map_or("(none)".into(), |v| meta_text(k, v)),
                    vb.map_or("(none)".into(), |v| meta_text(k, v))
                ),
                show(va),
                show(vb),
                cause,
            );
            if *k == MetaKey::Mtime {
                mtime_id = id;
            }
            if extra_time && !derived {
                extra_time_id = id;
            }
            if derived {
                let (from, because) = match k {
                    MetaKey::Index => (order, "members were added, removed or reordered"),
                    MetaKey::Other(s) if s == "dos-mtime" => {
                        (mtime_id, "the DOS time is the mtime in another encoding")
                    }
                    _ if extra_time => (
                        mtime_id.or(extra_time_id),
                        "the extra field's times (extended timestamp, NTFS, Info-ZIP Unix) are the file's times the mtime was taken from, in another encoding",
                    ),
                    _ => (content, "the member's content differs"),
                };
                self.derive(id, from, because);
            }
        }
    }
}

/// A time of a zip extra field: extended timestamp (`ut-`), NTFS (`ntfs-`), Info-ZIP or
/// PKWARE Unix (`unix-`).
fn is_extra_time(k: &MetaKey) -> bool {
    matches!(k, MetaKey::Other(s) if ["ut-", "ntfs-", "unix-"].iter().any(|p| s.starts_with(p)) && s.ends_with("time"))
}

/// Two nodes cut to the length of the shorter: the parts of two streams or entries that a
/// limit (or corruption) stopped at different points, compared as far as both were read.
fn common_prefix_nodes(x: &Node, y: &Node) -> (Node, Node) {
    let n = x.data.len().min(y.data.len());
    let cut = |v: &Node| {
        let mut c = Node::new(v.name.clone(), v.data.slice(0..n)).with_kind(v.kind);
        c.meta = v.meta.clone();
        c
    };
    (cut(x), cut(y))
}

/// `[start, end)` as covered by tokens `t` (indices into `tokens`).
fn span(
    tokens: &[std::ops::Range<usize>],
    t: &std::ops::Range<usize>,
    len: usize,
) -> std::ops::Range<usize> {
    let start = tokens.get(t.start).map_or(len, |r| r.start);
    let end = if t.end > t.start {
        tokens[t.end - 1].end
    } else {
        start
    };
    start..end
}

fn line_text(l: &[u8]) -> String {
    let l = l.strip_suffix(b"\n").unwrap_or(l);
    crate::report::escape::visible(&String::from_utf8_lossy(l)).into_owned()
}

fn meta_text(k: &MetaKey, v: &Meta) -> String {
    match (k, v) {
        (MetaKey::Mode, Meta::Int(m)) => format!("{m:04o}"),
        (k, Meta::Int(t)) if *k == MetaKey::Mtime || is_extra_time(k) => {
            format!("{t} ({})", crate::detect::utc(*t))
        }
        (_, v) => v.to_string(),
    }
}

pub(crate) fn side_of(d: &[u8], r: &std::ops::Range<usize>, ctx: usize, text: bool) -> Side {
    let lo = r.start.saturating_sub(ctx);
    let hi = (r.end + ctx).min(d.len());
    let window = &d[lo..hi];
    let context = if text {
        format!(
            "{}[{}]{}",
            seq::printable(&d[lo..r.start], ctx * 4),
            seq::printable(&d[r.clone()], 256),
            seq::printable(&d[r.end..hi], ctx * 4)
        )
    } else {
        format!(
            "{} [{}] {}",
            seq::hex_context(&d[lo..r.start], ctx),
            seq::hex_context(&d[r.clone()], 64),
            seq::hex_context(&d[r.end..hi], ctx)
        )
    };
    let _ = window;
    Side {
        value: None,
        range: Some([r.start as u64, r.end as u64]),
        context: Some(context),
    }
}

pub(crate) fn format_name(f: Format) -> &'static str {
    match f {
        Format::Elf => "ELF",
        Format::MachO => "Mach-O",
        Format::MachOFat => "universal Mach-O",
        Format::Pe => "PE",
        Format::Coff => "COFF",
        Format::Ar(_) => "ar",
        Format::Zip => "zip",
        Format::Gzip => "gzip",
        Format::Xz => "xz",
        Format::Zstd => "zstd",
        Format::Bzip2 => "bzip2",
        Format::Tar => "tar",
        Format::Pyc => "pyc",
        Format::Text => "text",
        Format::Other => "data",
    }
}

/// Inputs larger than this are compared chunk by chunk ([`Walker::bytes_large`]).
const LARGE: usize = 64 << 20;
/// The chunk of a large comparison.
const CHUNK: usize = 8 << 20;

/// Whether two buffers hold the same bytes, compared in blocks; the pages of a
/// memory-mapped file are handed back as they are passed, so comparing two 4 GiB files
/// keeps a few MiB resident.
pub(crate) fn bytes_equal(a: &crate::artifact::Bytes, b: &crate::artifact::Bytes) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let end = (i + CHUNK).min(a.len());
        let same = a[i..end] == b[i..end];
        if a.len() > CHUNK {
            a.release(i..end);
            b.release(i..end);
        }
        if !same {
            return false;
        }
        i = end;
    }
    true
}

/// A file to compare, found under a root.
struct Listed {
    rel: String,
    path: PathBuf,
    size: u64,
}

fn list(root: &Path, errors: &mut Vec<(String, String)>) -> Vec<Listed> {
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) => {
            errors.push((root.display().to_string(), e.to_string()));
            return Vec::new();
        }
    };
    if meta.is_file() {
        return vec![Listed {
            rel: String::new(),
            path: root.to_path_buf(),
            size: meta.len(),
        }];
    }
    let (targets, errs) = crate::scan::walk(&[root.to_path_buf()], false);
    for e in errs {
        errors.push((e.path, e.message));
    }
    targets
        .into_iter()
        .map(|t| {
            let rel = t
                .path
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_else(|_| t.display.clone());
            Listed {
                rel,
                path: t.path,
                size: t.size,
            }
        })
        .collect()
}

/// Compare two files or two directories (paired by relative path).
///
/// Errors only when neither side can be read at all; unreadable files inside are
/// differences of kind `error`.
pub fn diff_paths(a: &Path, b: &Path, opts: &DiffOptions) -> crate::Result<DiffReport> {
    let mut errors = Vec::new();
    let la = list(a, &mut errors);
    let lb = list(b, &mut errors);
    if let Some((p, m)) = errors.first()
        && la.is_empty()
        && lb.is_empty()
    {
        return Err(crate::Error::io(
            Path::new(p),
            std::io::Error::other(m.clone()),
        ));
    }
    let a_is_file = std::fs::metadata(a).is_ok_and(|m| m.is_file());
    let b_is_file = std::fs::metadata(b).is_ok_and(|m| m.is_file());
    let mut w = Walker {
        opts,
        diffs: Vec::new(),
        not_listed: 0,
    };
    for (p, m) in &errors {
        w.error(&Location::file(p.clone()), m.clone());
    }
    let mut pairs = Vec::new();
    let mut identical = 0;
    if a_is_file != b_is_file {
        w.error(
            &Location::file(""),
            format!(
                "{} is a {} and {} a {}: compare two files or two directories",
                a.display(),
                if a_is_file { "file" } else { "directory" },
                b.display(),
                if b_is_file { "file" } else { "directory" }
            ),
        );
    } else {
        // Merge the two sorted listings into steps: a file only in A, only in B, or in both.
        let mut ra: Vec<&Listed> = la.iter().collect();
        let mut rb: Vec<&Listed> = lb.iter().collect();
        ra.sort_by(|x, y| x.rel.cmp(&y.rel));
        rb.sort_by(|x, y| x.rel.cmp(&y.rel));
        let single = a_is_file;
        let mut steps: Vec<(Option<&Listed>, Option<&Listed>)> = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < ra.len() || j < rb.len() {
            let ord = match (ra.get(i), rb.get(j)) {
                (Some(_), Some(_)) if single => std::cmp::Ordering::Equal,
                (Some(x), Some(y)) => x.rel.cmp(&y.rel),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match ord {
                std::cmp::Ordering::Less => {
                    steps.push((Some(ra[i]), None));
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    steps.push((None, Some(rb[j])));
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    steps.push((Some(ra[i]), Some(rb[j])));
                    i += 1;
                    j += 1;
                }
            }
        }
        // Each pair in both is compared on its own (in parallel: a directory of 100 000
        // files is mostly opening and comparing), each with its own account of the one
        // memory budget; the differences are then numbered in listing order.
        use rayon::prelude::*;
        let results: Vec<(Pair, Vec<Difference>, usize)> = steps
            .par_iter()
            .map(|step| {
                let mut o = opts.clone();
                o.scan.limits = opts.scan.limits.for_file();
                let mut pw = Walker {
                    opts: &o,
                    diffs: Vec::new(),
                    not_listed: 0,
                };
                let pair = match *step {
                    (Some(x), None) => {
                        pw.push(
                            DiffKind::Removed,
                            &Location::file(x.rel.clone()),
                            format!("file only in A ({} bytes)", x.size),
                            Side {
                                value: Some(x.rel.clone()),
                                ..Side::default()
                            },
                            Side::default(),
                            None,
                        );
                        Pair {
                            path: x.rel.clone(),
                            status: PairStatus::Removed,
                            size_a: Some(x.size),
                            size_b: None,
                            format_a: None,
                            format_b: None,
                        }
                    }
                    (None, Some(y)) => {
                        pw.push(
                            DiffKind::Added,
                            &Location::file(y.rel.clone()),
                            format!("file only in B ({} bytes)", y.size),
                            Side::default(),
                            Side {
                                value: Some(y.rel.clone()),
                                ..Side::default()
                            },
                            None,
                        );
                        Pair {
                            path: y.rel.clone(),
                            status: PairStatus::Added,
                            size_a: None,
                            size_b: Some(y.size),
                            format_a: None,
                            format_b: None,
                        }
                    }
                    (Some(x), Some(y)) => {
                        let name = if single {
                            x.path
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default()
                        } else {
                            x.rel.clone()
                        };
                        pw.pair(&name, x, y)
                    }
                    (None, None) => unreachable!("a step has a side"),
                };
                (pair, pw.diffs, pw.not_listed)
            })
            .collect();
        for (pair, diffs, not_listed) in results {
            w.append(diffs, not_listed);
            if pair.status == PairStatus::Identical {
                identical += 1;
            } else {
                pairs.push(pair);
            }
        }
    }
    Ok(finish(w, a, b, pairs, identical))
}

impl Walker<'_> {
    fn pair(&mut self, name: &str, x: &Listed, y: &Listed) -> Pair {
        let loc = Location::file(name.to_owned());
        let (na, nb) = match (Node::open(&x.path), Node::open(&y.path)) {
            (Ok(na), Ok(nb)) => (na, nb),
            (Err(e), _) | (_, Err(e)) => {
                self.error(&loc, e.to_string());
                return Pair {
                    path: name.into(),
                    status: PairStatus::Error,
                    size_a: Some(x.size),
                    size_b: Some(y.size),
                    format_a: None,
                    format_b: None,
                };
            }
        };
        let before = self.diffs.len() + self.not_listed;
        self.node(&na, &nb, &loc, 0);
        let status = if self.diffs.len() + self.not_listed > before {
            PairStatus::Different
        } else if na.data.len() == nb.data.len()
            && (na.data.len() > LARGE || bytes_equal(&na.data, &nb.data))
        {
            // (A large pair was compared byte for byte by the walk already.)
            PairStatus::Identical
        } else {
            // Bytes differ but no structural difference was named: say so.
            self.bytes(&na.data, &nb.data, &loc, None);
            PairStatus::Different
        };
        Pair {
            path: name.into(),
            status,
            size_a: Some(x.size),
            size_b: Some(y.size),
            format_a: Some(na.format),
            format_b: Some(nb.format),
        }
    }
}

fn finish(w: Walker<'_>, a: &Path, b: &Path, pairs: Vec<Pair>, identical: usize) -> DiffReport {
    let Walker {
        mut diffs,
        not_listed,
        ..
    } = w;
    // Follow derivation chains to their root.
    for i in 0..diffs.len() {
        let mut r = i;
        let mut hops = 0;
        while let Some(f) = diffs[r].derived_from {
            r = f;
            hops += 1;
            if hops > diffs.len() {
                break;
            }
        }
        if r != i {
            diffs[i].derived_from = Some(r);
        }
    }
    let root_causes = cause::group(&mut diffs);
    let derived = diffs.iter().filter(|d| d.derived_from.is_some()).count();
    let mut summary = DiffSummary {
        files: pairs.len() + identical,
        identical,
        different: pairs
            .iter()
            .filter(|p| p.status == PairStatus::Different)
            .count(),
        removed: pairs
            .iter()
            .filter(|p| p.status == PairStatus::Removed)
            .count(),
        added: pairs
            .iter()
            .filter(|p| p.status == PairStatus::Added)
            .count(),
        errors: diffs.iter().filter(|d| d.kind == DiffKind::Error).count(),
        differences: diffs.len(),
        not_listed,
        root_causes: root_causes.len(),
        derived,
        headline: String::new(),
    };
    summary.headline = cause::headline(&root_causes, derived);
    DiffReport {
        schema: SCHEMA,
        a: a.display().to_string(),
        b: b.display().to_string(),
        identical: diffs.is_empty() && not_listed == 0,
        summary,
        root_causes,
        pairs,
        differences: diffs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_bytes_compare_equal_in_chunks() {
        let a = crate::artifact::Bytes::from_vec(vec![7u8; 20 << 20]);
        let mut v = vec![7u8; 20 << 20];
        assert!(bytes_equal(
            &a,
            &crate::artifact::Bytes::from_vec(v.clone())
        ));
        v[19 << 20] = 8;
        assert!(!bytes_equal(&a, &crate::artifact::Bytes::from_vec(v)));
    }
}
