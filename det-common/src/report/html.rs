//! The HTML report: one self-contained page for people — inline CSS, no script, no external
//! resource. A summary table first (one row per severity and rule, highest severity first),
//! a severity filter (checkboxes and CSS), then one collapsible group per severity and rule
//! with the rule's message and each distinct fix once and every location with its evidence
//! (info groups start collapsed), then the errors. Every artifact string is HTML-escaped
//! (after its control and bidi characters are made visible).

use super::escape::{bounded, html};
use super::text::{place, summary_line};
use super::{INFORMATION_URI, RenderOptions, Report};
use crate::finding::Finding;
use crate::rules::Severity;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff;max-width:90em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.5em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
code{font-family:monospace;word-break:break-all}
.sev{font-weight:bold;text-transform:uppercase;font-size:.85em}
.critical .sev,.sev.critical{color:#8b008b}.high .sev,.sev.high{color:#c00}
.medium .sev,.sev.medium{color:#b8860b}.low .sev,.sev.low{color:#1e90ff}.info .sev,.sev.info{color:#666}
details.group{border-left:5px solid #999;margin:.7em 0;padding:.3em .8em;background:#fafafa}
details.critical{border-color:#8b008b}details.high{border-color:#c00}details.medium{border-color:#b8860b}
details.low{border-color:#1e90ff}details.info{border-color:#bbb}
summary{cursor:pointer;font-size:1.05em}summary code{font-weight:bold}
.count{color:#555}.msg{margin:.4em 0}.fix{color:#064;margin:.4em 0}
.where td:first-child{font-family:monospace;word-break:break-all;width:45%}
.filter{margin:1em 0;padding:.5em .8em;background:#f0f0f0}.filter label{margin-right:1.2em}
#show-critical:not(:checked)~main .critical,#show-high:not(:checked)~main .high,
#show-medium:not(:checked)~main .medium,#show-low:not(:checked)~main .low,
#show-info:not(:checked)~main .info{display:none}
#show-critical:not(:checked)~.filter [for=show-critical],#show-high:not(:checked)~.filter [for=show-high],
#show-medium:not(:checked)~.filter [for=show-medium],#show-low:not(:checked)~.filter [for=show-low],
#show-info:not(:checked)~.filter [for=show-info]{text-decoration:line-through;opacity:.45}
.errors li{font-family:monospace}
";

/// Findings of one severity and one rule, shown as one collapsible group: the rule's
/// message and each distinct fix once, then every location with its evidence.
struct Group<'r> {
    severity: Severity,
    findings: Vec<&'r Finding>,
}

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let findings = report.sorted_findings();
    let summary = report.summary();
    let tool = html(&report.tool.name);
    let version = html(&report.tool.version);
    let mut out = String::with_capacity(4096 + findings.len() * 300);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{tool} report</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <h1>{tool} {version} report</h1>\n<p>{}</p>\n",
        html(&summary_line(report))
    );

    // Groups: highest severity first, then by rule.
    let mut groups: BTreeMap<(std::cmp::Reverse<Severity>, &str), Group> = BTreeMap::new();
    for f in &findings {
        groups
            .entry((std::cmp::Reverse(f.severity()), f.rule.id))
            .or_insert_with(|| Group {
                severity: f.severity(),
                findings: Vec::new(),
            })
            .findings
            .push(f);
    }

    // The summary table: one row per group, linking to it.
    out.push_str("<table class=\"summary\">\n<tr><th>severity</th><th>rule</th><th>findings</th><th>files</th></tr>\n");
    for ((_, rule), g) in &groups {
        let files: std::collections::BTreeSet<&str> = g
            .findings
            .iter()
            .map(|f| f.location.file.as_str())
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"{sev}\"><td class=\"sev\">{sev}</td><td><a href=\"#{sev}-{rule}\"><code>{rule}</code></a></td><td>{}</td><td>{}</td></tr>",
            g.findings.len(),
            files.len(),
            sev = g.severity,
        );
    }
    let _ = writeln!(
        out,
        "<tr><td colspan=\"2\">files scanned</td><td colspan=\"2\">{}</td></tr>\n<tr><td colspan=\"2\">errors</td><td colspan=\"2\">{}</td></tr>\n</table>",
        summary.files_scanned, summary.errors
    );

    // The severity filter: checkboxes and CSS, no script.
    for sev in Severity::ALL.iter().rev() {
        let _ = writeln!(
            out,
            "<input type=\"checkbox\" id=\"show-{sev}\" checked hidden>"
        );
    }
    out.push_str("<div class=\"filter\">show: ");
    for sev in Severity::ALL.iter().rev() {
        let n = summary.by_severity.get(sev).copied().unwrap_or(0);
        let _ = write!(
            out,
            "<label for=\"show-{sev}\"><span class=\"sev {sev}\">{sev}</span> ({n})</label>"
        );
    }
    out.push_str(
        " <span class=\"count\">(click a severity to hide or show it)</span></div>\n<main>\n",
    );
    // The checkboxes are hidden; clicking a label toggles its checkbox, and the
    // `:not(:checked) ~ main` rules hide that severity's groups.
    for ((_, rule), g) in &groups {
        group(&mut out, rule, g, opts);
    }
    out.push_str("</main>\n");

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

fn group(out: &mut String, rule: &str, g: &Group, opts: &RenderOptions) {
    let sev = g.severity;
    let first = g.findings[0];
    let reference = html(first.rule.reference);
    // Info says "nothing to do": collapsed; everything else open.
    let open = if sev > Severity::Info { " open" } else { "" };
    let _ = write!(
        out,
        "<details class=\"group {sev}\" id=\"{sev}-{rule}\"{open}>\n<summary><span class=\"sev\">{sev}</span> \
         <code>{rule}</code> <span class=\"count\">{} finding{}</span></summary>\n\
         <p class=\"msg\">{} (<a href=\"{reference}\">reference</a>)</p>\n",
        g.findings.len(),
        if g.findings.len() == 1 { "" } else { "s" },
        html(first.rule.message),
    );
    // Each distinct fix once, with how many findings it applies to when there are several.
    let mut fixes: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &g.findings {
        *fixes.entry(f.fix_text()).or_default() += 1;
    }
    for (fix, n) in &fixes {
        let count = if fixes.len() > 1 {
            format!(" <span class=\"count\">({n})</span>")
        } else {
            String::new()
        };
        let _ = writeln!(out, "<p class=\"fix\">fix{count}: {}</p>", html(fix));
    }
    out.push_str("<table class=\"where\">\n<tr><th>where</th><th>evidence</th></tr>\n");
    for f in &g.findings {
        let mut at = html(&f.location.display_path()).into_owned();
        if let Some(p) = place(&f.location) {
            // `place` has already made controls visible; only markup is left to escape.
            let _ = write!(at, " at {}", html(&p));
        }
        let _ = writeln!(
            out,
            "<tr><td>{at}</td><td><code>{}</code></td></tr>",
            html(&bounded(&f.evidence, opts.max_evidence_chars))
        );
    }
    out.push_str("</table>\n</details>\n");
}
