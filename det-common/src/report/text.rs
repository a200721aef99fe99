//! The human report: findings grouped by file (`dist/x.whl!pkg/_speedups.so`), each with its
//! severity, rule, place (section, offset in hex), evidence, message and fix; then the errors;
//! then one summary line. ANSI colour only when [`RenderOptions::color`] says so.
//!
//! ```text
//! dist/x.whl!pkg/_speedups.so
//!   high absolute-path at .debug_str+0x1a2b
//!     evidence: /home/alice/src/x.c
//!     an absolute build path is embedded: ...
//!     fix: C/C++: -ffile-prefix-map=$PWD=. ...
//!
//! det-scan 0.1.0: 1 finding (1 high) in 3 files scanned
//! ```

use super::escape::{bounded, visible};
use super::{RenderOptions, Report};
use crate::finding::{Finding, Location};
use crate::rules::Severity;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const GREEN: &str = "\x1b[32m";

fn severity_style(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;35m",
        Severity::High => "\x1b[1;31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

/// Writes `text` in `style` when colour is on.
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, out: &mut String, style: &str, text: &str) {
        if self.color {
            out.push_str(style);
            out.push_str(text);
            out.push_str(RESET);
        } else {
            out.push_str(text);
        }
    }
}

/// `at .debug_str+0x1a2b`, `at .comment`, `at offset 0x10`, or nothing.
pub(super) fn place(loc: &Location) -> Option<String> {
    match (loc.label(), loc.offset) {
        (Some(s), Some(o)) => Some(format!("{}+{o:#x}", visible(&s))),
        (Some(s), None) => Some(visible(&s).into_owned()),
        (None, Some(o)) => Some(format!("offset {o:#x}")),
        (None, None) => None,
    }
}

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let p = Painter { color: opts.color };
    let findings = report.sorted_findings();
    let mut out = String::with_capacity(256 + findings.len() * 320);
    // Findings of one file (and container chain) are contiguous in sorted order.
    let mut start = 0;
    while start < findings.len() {
        let loc = &findings[start].location;
        let end = start
            + findings[start..]
                .iter()
                .take_while(|f| {
                    f.location.file == loc.file && f.location.container == loc.container
                })
                .count();
        if start > 0 {
            out.push('\n');
        }
        p.paint(&mut out, BOLD, &visible(&loc.display_path()));
        out.push('\n');
        file_group(&mut out, &p, &findings[start..end], opts);
        start = end;
    }
    let errors = report.sorted_errors();
    if !errors.is_empty() {
        if !findings.is_empty() {
            out.push('\n');
        }
        p.paint(&mut out, BOLD, "errors:");
        out.push('\n');
        for e in errors {
            let _ = writeln!(out, "  {}: {}", visible(&e.file), visible(&e.message));
        }
    }
    if !findings.is_empty() || !report.errors.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// One file's findings: the first of each rule in full (evidence, message, fix), later ones
/// of the same rule with their evidence only, at most `text_max_per_rule` of a rule, then a
/// count of the rest.
fn file_group(out: &mut String, p: &Painter, group: &[&Finding], opts: &RenderOptions) {
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    let mut elided: BTreeMap<&str, usize> = BTreeMap::new();
    for f in group {
        let n = shown.entry(f.rule.id).or_insert(0);
        if opts.text_max_per_rule != 0 && *n >= opts.text_max_per_rule {
            *elided.entry(f.rule.id).or_insert(0) += 1;
            continue;
        }
        finding(out, p, f, opts, *n == 0);
        *n += 1;
    }
    for (rule, n) in elided {
        let _ = writeln!(
            out,
            "  ... and {} more {rule} here (--format json lists every finding)",
            n
        );
    }
}

fn finding(out: &mut String, p: &Painter, f: &Finding, opts: &RenderOptions, explain: bool) {
    let sev = f.severity();
    out.push_str("  ");
    p.paint(out, severity_style(sev), sev.as_str());
    out.push(' ');
    p.paint(out, BOLD, f.rule.id);
    if let Some(place) = place(&f.location) {
        out.push_str(" at ");
        out.push_str(&place);
    }
    out.push('\n');
    if !f.evidence.is_empty() {
        out.push_str("    evidence: ");
        out.push_str(&visible(&bounded(&f.evidence, opts.max_evidence_chars)));
        out.push('\n');
    }
    if !explain && f.fix.is_none() {
        return;
    }
    out.push_str("    ");
    p.paint(out, DIM, f.rule.message);
    out.push('\n');
    out.push_str("    ");
    p.paint(out, GREEN, "fix:");
    out.push(' ');
    // A specific fix may quote a command line or a path from the artifact.
    out.push_str(&visible(f.fix_text()));
    out.push('\n');
}

/// `det-scan 0.1.0: 5 findings (1 critical, 3 high, 1 medium) in 3 files scanned; 1 error`.
pub(super) fn summary_line(report: &Report) -> String {
    let s = report.summary();
    let mut line = format!(
        "{} {}: ",
        visible(&report.tool.name),
        visible(&report.tool.version)
    );
    if s.findings == 0 {
        line.push_str("no findings");
    } else {
        let parts: Vec<String> = s
            .by_severity
            .iter()
            .rev()
            .filter(|(_, n)| **n > 0)
            .map(|(sev, n)| format!("{n} {sev}"))
            .collect();
        let _ = write!(
            line,
            "{} ({})",
            plural(s.findings, "finding"),
            parts.join(", ")
        );
    }
    if s.files_scanned > 0 || report.checked.is_empty() {
        let _ = write!(line, " in {} scanned", plural(s.files_scanned, "file"));
    }
    if !report.checked.is_empty() {
        let sep = if s.files_scanned > 0 || report.checked.is_empty() {
            ";"
        } else {
            " in"
        };
        let _ = write!(line, "{sep} {}", visible(&report.checked.join("; ")));
    }
    if s.errors > 0 {
        let _ = write!(line, "; {}", plural(s.errors, "error"));
    }
    if s.hidden > 0 {
        let min = s.min_severity.map_or("the threshold", Severity::as_str);
        let _ = write!(line, "; {} below {min} not shown", s.hidden);
    }
    line
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
