//! Rendering a [`DiffReport`]: text (summary first, then each file and section), JSON
//! (`det-diff/1`, documented in docs/diff-json.md) and one self-contained HTML page.
//!
//! Every string that comes from an artifact (names, values, context) goes through the
//! report module's escaping: [`visible`] for text, [`html`] for HTML, and the terminal-safe
//! JSON writer.

use super::{DiffReport, Difference, Side};
use crate::report::escape::{html, visible};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Output formats of `cargo det-verify diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Text,
    Json,
    Html,
}

/// Render `r` in `format`; text is coloured when `color`.
pub fn render(r: &DiffReport, format: DiffFormat, color: bool) -> String {
    match format {
        DiffFormat::Text => text(r, color),
        DiffFormat::Json => crate::report::json_value(r),
        DiffFormat::Html => page(r),
    }
}

/// Differences grouped by file and container chain, in order of appearance.
fn by_place(r: &DiffReport) -> BTreeMap<String, Vec<&Difference>> {
    let mut m: BTreeMap<String, Vec<&Difference>> = BTreeMap::new();
    for d in &r.differences {
        m.entry(d.place()).or_default().push(d);
    }
    m
}

fn side_text(s: &Side) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &s.value {
        parts.push(v.clone());
    }
    if let Some(c) = &s.context {
        parts.push(c.clone());
    }
    visible(&parts.join("  ")).into_owned()
}

fn text(r: &DiffReport, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let s = &r.summary;
    let _ = writeln!(
        out,
        "{} {} vs {}",
        paint("1", "det-verify diff"),
        visible(&r.a),
        visible(&r.b)
    );
    if r.identical {
        let _ = writeln!(
            out,
            "identical: {} file{} compared",
            s.files,
            if s.files == 1 { "" } else { "s" }
        );
        return out;
    }
    let _ = writeln!(out, "{}", paint("1", &visible(&s.headline)));
    let _ = writeln!(
        out,
        "files: {} compared, {} identical, {} different, {} only in A, {} only in B; {} differences{}",
        s.files,
        s.identical,
        s.different,
        s.removed,
        s.added,
        s.differences,
        if s.not_listed > 0 {
            format!(" (+{} not listed)", s.not_listed)
        } else {
            String::new()
        }
    );
    out.push('\n');
    let _ = writeln!(out, "{}", paint("1", "Root causes"));
    for (i, rc) in r.root_causes.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {} in {} ({} difference{}, {} derived){}",
            i + 1,
            paint("31", &rc.what),
            visible(&rc.places.join(", ")),
            rc.differences.len(),
            if rc.differences.len() == 1 { "" } else { "s" },
            rc.derived,
            rc.rule.map(|r| format!(" [{r}]")).unwrap_or_default()
        );
        if let Some(m) = rc.message {
            let _ = writeln!(out, "     {m}");
        }
        if let Some(f) = &rc.fix {
            let _ = writeln!(out, "     {} {f}", paint("32", "fix:"));
        }
    }
    out.push('\n');
    let _ = writeln!(out, "{}", paint("1", "Differences"));
    for (place, ds) in by_place(r) {
        let _ = writeln!(
            out,
            "  {}",
            paint(
                "1",
                &visible(if place.is_empty() { "(input)" } else { &place })
            )
        );
        for d in ds {
            let tag = match (d.derived_from, d.root_cause) {
                (Some(f), _) => format!(" (derived from #{f})"),
                (None, Some(rc)) => format!(" (root cause {})", rc + 1),
                _ => String::new(),
            };
            let label = d
                .label()
                .map(|l| format!("[{}] ", visible(&l)))
                .unwrap_or_default();
            let first = d.summary.lines().next().unwrap_or_default();
            let _ = writeln!(out, "    #{} {label}{}{tag}", d.id, visible(first));
            for l in d.summary.lines().skip(1) {
                let _ = writeln!(out, "        {}", visible(l));
            }
            if d.a.context.is_some() || d.b.context.is_some() {
                let _ = writeln!(out, "        A: {}", side_text(&d.a));
                let _ = writeln!(out, "        B: {}", side_text(&d.b));
            }
            if let Some(c) = &d.cause {
                let _ = writeln!(out, "        cause: {} — {}", c.rule, visible(&c.evidence));
            }
            if let Some(b) = &d.derived_because {
                let _ = writeln!(out, "        because {b}");
            }
        }
    }
    out
}

/// The style sheet of det's diff pages (inline: the pages load nothing).
pub const HTML_STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}
h1{font-size:1.4em}summary{cursor:pointer;font-family:monospace;font-weight:bold;word-break:break-all}
table{border-collapse:collapse;width:100%;table-layout:fixed}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
td.side{font-family:monospace;white-space:pre-wrap;word-break:break-all}
.a{background:#fff0f0}.b{background:#f0fff0}.derived{color:#777}.cause{color:#a00}.fix{color:#064}
.headline{font-size:1.15em;font-weight:bold}details{margin:.4em 0}details details{margin-left:1.2em}
code{font-family:monospace;word-break:break-all}
";

fn page(r: &DiffReport) -> String {
    let mut out = String::with_capacity(4096 + r.differences.len() * 400);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>det-verify diff: {} vs {}</title>\n<style>\n{HTML_STYLE}</style>\n</head>\n<body>\n",
        html(&r.a),
        html(&r.b)
    );
    let s = &r.summary;
    let _ = writeln!(
        out,
        "<h1>det-verify diff: <code>{}</code> vs <code>{}</code></h1>",
        html(&r.a),
        html(&r.b)
    );
    if r.identical {
        let _ = writeln!(
            out,
            "<p class=\"headline\">Identical ({} files compared).</p>",
            s.files
        );
    } else {
        let _ = writeln!(out, "<p class=\"headline\">{}</p>", html(&s.headline));
        let _ = writeln!(
            out,
            "<p>{} files compared: {} identical, {} different, {} only in A, {} only in B; {} differences.</p>",
            s.files, s.identical, s.different, s.removed, s.added, s.differences
        );
        out.push_str("<h2>Root causes</h2>\n<ol>\n");
        for rc in &r.root_causes {
            let _ = write!(
                out,
                "<li><span class=\"cause\">{}</span> in <code>{}</code> ({} differences, {} derived)",
                html(&rc.what),
                html(&rc.places.join(", ")),
                rc.differences.len(),
                rc.derived
            );
            if let Some(rule) = rc.rule {
                let _ = write!(out, " <code>{}</code>", html(rule));
            }
            if let Some(m) = rc.message {
                let _ = write!(out, "<br>{}", html(m));
            }
            if let Some(f) = &rc.fix {
                let _ = write!(out, "<br><span class=\"fix\">fix: {}</span>", html(f));
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n<h2>Differences</h2>\n");
    }
    out.push_str(&html_differences(r));
    out.push_str("</body>\n</html>\n");
    out
}

/// The differences of a report as HTML (no page around them): one collapsible block per
/// file and member, one per section inside it, the two sides next to each other. Every
/// string is escaped. Used by the diff page and by det-verify's report.
pub fn html_differences(r: &DiffReport) -> String {
    let mut out = String::with_capacity(r.differences.len() * 400);
    for (place, ds) in by_place(r) {
        let _ = writeln!(
            out,
            "<details open><summary>{} ({} differences)</summary>",
            html(if place.is_empty() { "(input)" } else { &place }),
            ds.len()
        );
        let mut sections: BTreeMap<String, Vec<&Difference>> = BTreeMap::new();
        for d in ds {
            sections
                .entry(d.section.clone().unwrap_or_default())
                .or_default()
                .push(d);
        }
        for (section, ds) in sections {
            let _ = writeln!(
                out,
                "<details{}><summary>{}</summary>\n<table><tr><th style=\"width:22%\">difference</th><th>A</th><th>B</th></tr>",
                if ds.iter().any(|d| d.derived_from.is_none()) {
                    " open"
                } else {
                    ""
                },
                html(if section.is_empty() {
                    "(whole member)"
                } else {
                    &section
                })
            );
            for d in ds {
                let class = if d.derived_from.is_some() {
                    " class=\"derived\""
                } else {
                    ""
                };
                let _ = write!(
                    out,
                    "<tr{class}><td>#{} {}",
                    d.id,
                    html(d.summary.lines().next().unwrap_or_default())
                );
                if let Some(f) = &d.field {
                    let _ = write!(out, "<br><code>{}</code>", html(f));
                }
                if let Some(c) = &d.cause {
                    let _ = write!(
                        out,
                        "<br><span class=\"cause\">{}</span>: {}",
                        html(c.rule),
                        html(&c.evidence)
                    );
                }
                if let (Some(f), Some(b)) = (d.derived_from, &d.derived_because) {
                    let _ = write!(out, "<br>derived from #{f}: {}", html(b));
                }
                let _ = writeln!(
                    out,
                    "</td><td class=\"side a\">{}</td><td class=\"side b\">{}</td></tr>",
                    html(&side_html(&d.a, d, true)),
                    html(&side_html(&d.b, d, false))
                );
            }
            out.push_str("</table>\n</details>\n");
        }
        out.push_str("</details>\n");
    }
    out
}

/// One side as plain text (escaped by the caller): value, range, context; for text diffs
/// the hunk's lines.
fn side_html(s: &Side, d: &Difference, a: bool) -> String {
    let mut parts = Vec::new();
    if d.kind == super::DiffKind::Text {
        let lines: Vec<&str> = d
            .summary
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with(if a { '+' } else { '-' }))
            .collect();
        return lines.join("\n");
    }
    if let Some(v) = &s.value {
        parts.push(v.clone());
    }
    if let Some([x, y]) = s.range {
        parts.push(format!("{x:#x}..{y:#x}"));
    }
    if let Some(c) = &s.context {
        parts.push(c.clone());
    }
    parts.join("\n")
}
