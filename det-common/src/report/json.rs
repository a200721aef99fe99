//! The JSON report: `{"schema":"<tool>/1","tool":{..},"findings":[..],"errors":[..],"summary":{..}}`.
//!
//! Keys come out in struct-field order (stable, documented here); absent optional values
//! (`section`, `offset`, `summary.max_severity`, `summary.min_severity`) are `null`, never
//! omitted, so every finding has the same keys. Pretty-printed with two-space indentation and a
//! trailing newline. Strings are escaped by serde_json and, beyond it, DEL, C1 controls and
//! bidi/invisible characters are written as `\uXXXX` (see [`TerminalSafeFormatter`]): the
//! parsed value is unchanged, but `cat report.json` cannot drive the terminal.

use super::escape::{bounded, is_unsafe_char, may_hold_unsafe};
use super::{RenderOptions, Report, ReportError, Summary, ToolInfo};
use crate::finding::Finding;
use crate::rules::{Category, Severity};
use serde::Serialize;
use std::borrow::Cow;
use std::io;

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: String,
    tool: &'a ToolInfo,
    findings: Vec<JsonFinding<'a>>,
    errors: Vec<&'a ReportError>,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'static str,
    severity: Severity,
    category: Category,
    file: &'a str,
    container: &'a [crate::finding::Name],
    /// The location's label (section, field and line; see `Location::label`).
    section: Option<String>,
    offset: Option<u64>,
    evidence: Cow<'a, str>,
    message: &'static str,
    fix: &'a str,
}

impl<'a> JsonFinding<'a> {
    fn new(f: &'a Finding, opts: &RenderOptions) -> Self {
        JsonFinding {
            rule: f.rule.id,
            severity: f.severity(),
            category: f.category(),
            file: &f.location.file,
            container: &f.location.container,
            section: f.location.label(),
            offset: f.location.offset,
            evidence: bounded(&f.evidence, opts.max_evidence_chars),
            message: f.rule.message,
            fix: f.fix_text(),
        }
    }
}

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    use rayon::prelude::*;
    let findings = report.sorted_findings();
    let doc = JsonReport {
        schema: report.tool.schema(),
        tool: &report.tool,
        findings: Vec::new(),
        errors: report.sorted_errors(),
        summary: report.summary(),
    };
    let frame = to_pretty_json(&doc, 4096);
    if findings.is_empty() {
        return frame;
    }
    // The findings (9 MiB of JSON for the 12 000 of the registry sources) are written in
    // parallel, each as pretty JSON of its own indented to its place in the array (two
    // levels: strings hold no raw newline, so every line is the JSON's own), and put into the
    // frame's empty array: the bytes a single pretty serialization writes.
    let items: Vec<String> = findings
        .par_iter()
        .map(|f| {
            let one = to_pretty_json(&JsonFinding::new(f, opts), 1024);
            let mut out = String::with_capacity(one.len() + 256);
            for (i, line) in one.trim_end_matches('\n').split('\n').enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str("    ");
                out.push_str(line);
            }
            out
        })
        .collect();
    const EMPTY: &str = "\n  \"findings\": [],\n";
    let at = frame
        .find(EMPTY)
        .expect("det bug: the report frame has no findings array");
    let mut out =
        String::with_capacity(frame.len() + items.iter().map(|s| s.len() + 2).sum::<usize>());
    out.push_str(&frame[..at]);
    out.push_str("\n  \"findings\": [\n");
    out.push_str(&items.join(",\n"));
    out.push_str("\n  ],\n");
    out.push_str(&frame[at + EMPTY.len()..]);
    out
}

/// `value` as pretty JSON with a trailing newline, terminal-safe (see the module docs).
/// `size_hint` pre-sizes the buffer: large reports are not copied over and over as it grows.
pub fn to_pretty_json<T: Serialize>(value: &T, size_hint: usize) -> String {
    write_json(value, size_hint, serde_json::ser::PrettyFormatter::new())
}

/// `value` as compact JSON (one line) with a trailing newline, terminal-safe.
pub(super) fn to_compact_json<T: Serialize>(value: &T, size_hint: usize) -> String {
    write_json(value, size_hint, serde_json::ser::CompactFormatter)
}

fn write_json<T: Serialize, F: serde_json::ser::Formatter>(
    value: &T,
    size_hint: usize,
    inner: F,
) -> String {
    let mut buf = Vec::with_capacity(size_hint);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, TerminalSafeFormatter { inner });
    // Serializing our own structs of strings, numbers and maps into memory cannot fail.
    value
        .serialize(&mut ser)
        .expect("det bug: report serialization failed");
    buf.push(b'\n');
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// A serde_json formatter (pretty or compact) that also writes the characters of
/// [`is_unsafe_char`] serde_json leaves raw (DEL, C1, bidi, separators, BOM) as `\uXXXX`.
struct TerminalSafeFormatter<F> {
    inner: F,
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for TerminalSafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if !may_hold_unsafe(fragment) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe_char(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // JSON escapes UTF-16 code units: a tag character (U+E00xx) is a surrogate pair.
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{:04x}", u)?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // The rest delegates to the inner formatter.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_characters_become_u_escapes_and_parse_back() {
        let s = "a\u{7f}b\u{9b}c\u{202e}d\x1be";
        let json = to_pretty_json(&s, 0);
        assert_eq!(json, "\"a\\u007fb\\u009bc\\u202ed\\u001be\"\n");
        assert_eq!(to_compact_json(&[s], 0), format!("[{}]\n", json.trim_end()));
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    /// The findings written in parallel and put into the frame give the bytes of one pretty
    /// serialization of the whole report: members (a nested array), sections, offsets,
    /// escapes, and an empty report.
    #[test]
    fn findings_written_in_parallel_match_one_serialization() {
        use crate::finding::Location;
        use crate::rules;
        let tool = ToolInfo::new("det-scan", "0.1.0");
        let loc = Location::file("dist/x.whl");
        let findings = vec![
            Finding::new(
                rules::get("absolute-path"),
                loc.member("pkg/_speedups.so").at(".rodata", Some(16)),
                "/home/u/\u{202e}src\n\"q\"",
            ),
            Finding::new(rules::get("zip-entry-mtime"), loc.member("pkg/a.py"), "x"),
            Finding::new(rules::get("uuid-string"), Location::file("a b.txt"), "0"),
        ];
        for findings in [findings, Vec::new()] {
            let report = Report::new(tool.clone(), findings, Vec::new(), 3);
            let opts = RenderOptions::default();
            let whole = JsonReport {
                schema: report.tool.schema(),
                tool: &report.tool,
                findings: report
                    .sorted_findings()
                    .into_iter()
                    .map(|f| JsonFinding::new(f, &opts))
                    .collect(),
                errors: report.sorted_errors(),
                summary: report.summary(),
            };
            assert_eq!(render(&report, &opts), to_pretty_json(&whole, 0));
        }
    }
}
