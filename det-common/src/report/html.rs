//! The HTML report: one self-contained page for people — inline CSS, no script, no external
//! resource — with a summary table, the findings grouped by file, and the errors. Every
//! artifact string is HTML-escaped (after its control and bidi characters are made visible).

use super::escape::{bounded, html};
use super::text::{place, summary_line};
use super::{INFORMATION_URI, RenderOptions, Report};
use crate::finding::{Finding, Location};
use crate::rules::Severity;
use std::fmt::Write as _;

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff;max-width:80em}
h1{font-size:1.5em}h2{font-size:1.15em;font-family:monospace;margin-top:2em;word-break:break-all}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left}
.finding{border-left:4px solid #999;padding:.4em .8em;margin:.8em 0;background:#fafafa}
.finding p{margin:.25em 0}code{font-family:monospace;word-break:break-all}
.sev{font-weight:bold;text-transform:uppercase;font-size:.85em}
.critical{border-color:#8b008b}.critical .sev{color:#8b008b}
.high{border-color:#c00}.high .sev{color:#c00}
.medium{border-color:#b8860b}.medium .sev{color:#b8860b}
.low{border-color:#1e90ff}.low .sev{color:#1e90ff}
.info{border-color:#999}.info .sev{color:#666}
.fix{color:#064}.errors li{font-family:monospace}
";

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let findings = report.sorted_findings();
    let summary = report.summary();
    let tool = html(&report.tool.name);
    let version = html(&report.tool.version);
    let mut out = String::with_capacity(4096 + findings.len() * 600);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{tool} report</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>{tool} {version} report</h1>\n<p>{}</p>\n",
        html(&summary_line(report))
    );

    out.push_str("<table class=\"summary\">\n<tr><th>severity</th><th>findings</th></tr>\n");
    for (sev, n) in summary.by_severity.iter().rev() {
        let _ = writeln!(
            out,
            "<tr class=\"{sev}\"><td class=\"sev\">{sev}</td><td>{n}</td></tr>"
        );
    }
    let _ = writeln!(
        out,
        "<tr><td>files scanned</td><td>{}</td></tr>\n<tr><td>errors</td><td>{}</td></tr>\n</table>",
        summary.files_scanned, summary.errors
    );
    if !summary.by_category.is_empty() {
        out.push_str("<table class=\"categories\">\n<tr><th>category</th><th>findings</th></tr>\n");
        for (cat, n) in &summary.by_category {
            let _ = writeln!(out, "<tr><td>{cat}</td><td>{n}</td></tr>");
        }
        out.push_str("</table>\n");
    }

    let mut current: Option<&Location> = None;
    for f in &findings {
        let same_file = current
            .is_some_and(|c| c.file == f.location.file && c.container == f.location.container);
        if !same_file {
            let _ = writeln!(out, "<h2>{}</h2>", html(&f.location.display_path()));
            current = Some(&f.location);
        }
        finding(&mut out, f, opts);
    }

    let errors = report.sorted_errors();
    if !errors.is_empty() {
        out.push_str("<h2>errors</h2>\n<ul class=\"errors\">\n");
        for e in errors {
            let _ = writeln!(out, "<li>{}: {}</li>", html(&e.file), html(&e.message));
        }
        out.push_str("</ul>\n");
    }
    let _ = write!(
        out,
        "<footer><p>Made by <a href=\"{INFORMATION_URI}\">{tool}</a> {version}.</p></footer>\n</body>\n</html>\n"
    );
    out
}

fn finding(out: &mut String, f: &Finding, opts: &RenderOptions) {
    let sev: Severity = f.severity();
    let reference = html(f.rule.reference);
    let _ = write!(
        out,
        "<div class=\"finding {sev}\">\n<p><span class=\"sev\">{sev}</span> \
         <a href=\"{reference}\"><code>{}</code></a>",
        f.rule.id
    );
    if let Some(p) = place(&f.location) {
        // `place` has already made controls visible; only markup is left to escape.
        let _ = write!(out, " at <code>{}</code>", html(&p));
    }
    out.push_str("</p>\n");
    if !f.evidence.is_empty() {
        let _ = writeln!(
            out,
            "<p>evidence: <code>{}</code></p>",
            html(&bounded(&f.evidence, opts.max_evidence_chars))
        );
    }
    let _ = write!(
        out,
        "<p>{}</p>\n<p class=\"fix\">fix: {}</p>\n</div>\n",
        html(f.rule.message),
        html(f.fix_text())
    );
}
