//! Artifact strings never reach a terminal or a page raw: control characters, bidi overrides
//! and markup in evidence, file names, member and section names, fixes and errors come out
//! escaped in every format; long evidence is bounded.

#[path = "data/report_fixture.rs"]
mod fixture;

use det_common::report::escape::is_unsafe_char;
use det_common::report::{OutputFormat, RenderOptions, Report, ToolInfo, render};
use det_common::rules;
use det_common::{Finding, Location};

/// A report whose every artifact-controlled string is hostile.
fn hostile_report() -> Report {
    let mut r = fixture::report();
    let loc = Location::file("evil\x1b[2J.whl")
        .member("pkg/\u{202e}os.so")
        .at(".data\r\x08", Some(1));
    r.push(
        Finding::new(rules::get("absolute-path"), loc, fixture::HOSTILE)
            .with_fix("add -ffile-prefix-map=\x1b]8;;http://x\x07=."),
    );
    r.push_error("e\u{2066}rr", "line1\nline2\x1b[0m\u{85}");
    r
}

fn all_formats(r: &Report, opts: &RenderOptions) -> Vec<(OutputFormat, String)> {
    OutputFormat::ALL
        .into_iter()
        .map(|f| (f, render(r, f, opts)))
        .collect()
}

#[test]
fn no_format_writes_an_unsafe_character_raw() {
    let r = hostile_report();
    for (format, out) in all_formats(&r, &RenderOptions::default()) {
        let bad: Vec<(usize, char)> = out
            .char_indices()
            .filter(|&(_, c)| is_unsafe_char(c) && c != '\n')
            .collect();
        assert!(bad.is_empty(), "{format}: raw unsafe characters at {bad:?}");
    }
}

#[test]
fn text_shows_escapes_visibly() {
    let out = render(
        &hostile_report(),
        OutputFormat::Text,
        &RenderOptions::default(),
    );
    assert!(!out.contains("\x1b[31m") && !out.contains('\u{202e}') && !out.contains('\r'));
    assert!(out.contains(
        "evidence: \\x1b[31mred\\u{202e}txt\\r\\x07\\u{9b}2J<script>alert(1)</script>\n"
    ));
    assert!(out.contains("evil\\x1b[2J.whl!pkg/\\u{202e}os.so\n"));
    assert!(out.contains(" at .data\\r\\x08+0x1\n"));
    assert!(out.contains("fix: add -ffile-prefix-map=\\x1b]8;;http://x\\x07=.\n"));
    assert!(out.contains("  e\\u{2066}rr: line1\\nline2\\x1b[0m\\u{85}\n"));
}

#[test]
fn colour_uses_only_our_own_escape_sequences() {
    let opts = RenderOptions {
        color: true,
        ..RenderOptions::default()
    };
    let out = render(&hostile_report(), OutputFormat::Text, &opts);
    // The painter's SGR sequences are there …
    assert!(out.contains("\x1b[1;31mhigh\x1b[0m"));
    // … and once they are removed, no ESC is left: the artifact's ESC was never written raw.
    let re = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    let stripped = re.replace_all(&out, "");
    assert!(!stripped.contains('\x1b'));
    assert!(!stripped.chars().any(|c| is_unsafe_char(c) && c != '\n'));
    assert_eq!(
        stripped,
        render(
            &hostile_report(),
            OutputFormat::Text,
            &RenderOptions::default()
        )
    );
}

#[test]
fn html_has_no_markup_from_artifacts() {
    let out = render(
        &hostile_report(),
        OutputFormat::Html,
        &RenderOptions::default(),
    );
    assert!(!out.contains("<script"), "raw <script> in HTML");
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(out.contains("\\x1b[31mred\\u{202e}txt"));
    // Self-contained: no script, no external resource.
    for needle in ["<script", "src=", "<link", "@import", "url("] {
        assert!(!out.contains(needle), "HTML contains {needle}");
    }
    assert!(out.starts_with("<!DOCTYPE html>") && out.ends_with("</html>\n"));
}

#[test]
fn json_keeps_the_data_but_escapes_it() {
    let r = hostile_report();
    let out = render(&r, OutputFormat::Json, &RenderOptions::default());
    assert!(out.contains(
        r#""evidence": "\u001b[31mred\u202etxt\r\u0007\u009b2J<script>alert(1)</script>""#
    ));
    // Parsed back, the evidence is exactly what was found.
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["evidence"] == fixture::HOSTILE && f["file"] == "evil\x1b[2J.whl");
    assert!(found);
}

#[test]
fn sarif_escapes_markdown_and_encodes_uris() {
    let out = render(
        &hostile_report(),
        OutputFormat::Sarif,
        &RenderOptions::default(),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let evil = results
        .iter()
        .find(|r| r["properties"]["file"] == "evil\x1b[2J.whl")
        .expect("the hostile finding is in the log");
    assert_eq!(
        evil["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "evil%1B%5B2J.whl"
    );
    let md = evil["message"]["markdown"].as_str().unwrap();
    assert!(md.contains(
        "**Evidence:** `\\x1b[31mred\\u{202e}txt\\r\\x07\\u{9b}2J<script>alert(1)</script>`"
    ));
    assert!(md.contains("Location: pkg/\\\\u\\{202e\\}os\\.so, \\.data\\\\r\\\\x08\\+0x1\\."));
    let text = evil["message"]["text"].as_str().unwrap();
    assert!(text.contains(
        "Evidence: '\\x1b[31mred\\u{202e}txt\\r\\x07\\u{9b}2J<script>alert(1)</script>'."
    ));
    // An absolute input path stays absolute, as a file URI; relative ones stay relative.
    let abs = results
        .iter()
        .find(|r| r["properties"]["file"] == "/abs/out/lib.so")
        .unwrap();
    assert_eq!(
        abs["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "file:///abs/out/lib.so"
    );
    // Every URI in the log: relative, except the one whose input path was absolute.
    let mut uris = Vec::new();
    collect_uris(&v, &mut uris);
    assert!(uris.len() >= 10, "{uris:?}");
    for uri in &uris {
        assert!(
            !uri.starts_with('/') && (!uri.starts_with("file:") || uri == "file:///abs/out/lib.so"),
            "{uri}"
        );
    }
}

fn collect_uris(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("uri", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_uris(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_uris(x, out)),
        _ => {}
    }
}

#[test]
fn sarif_points_at_lines_of_text_files() {
    let mut r = Report::empty(ToolInfo::new("det-scan", "0.1.0"));
    let log = Location::file("build.log");
    r.push(Finding::new(
        rules::get("cmd-native-cpu"),
        log.line(42),
        "-march=native",
    ));
    r.push(Finding::new(
        rules::get("cmd-native-cpu"),
        log.at("line x", None),
        "-march=native",
    ));
    r.push(Finding::new(
        rules::get("cmd-native-cpu"),
        log.member("inner").line(7),
        "-march=native",
    ));
    let v: serde_json::Value =
        serde_json::from_str(&render(&r, OutputFormat::Sarif, &RenderOptions::default())).unwrap();
    let lines: Vec<i64> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_i64()
                .unwrap()
        })
        .collect();
    // A line of build.log, then a section merely named "line x", then a line of a member
    // (not a line of build.log).
    assert_eq!(lines, [42, 1, 1]);
}

#[test]
fn long_evidence_is_bounded_in_every_format() {
    let mut r = Report::empty(ToolInfo::new("det-scan", "0.1.0"));
    let long = format!("/home/{}", "é".repeat(100_000));
    r.push(Finding::new(
        rules::get("home-path"),
        Location::file("big.so"),
        long.clone(),
    ));
    let opts = RenderOptions {
        max_evidence_chars: 100,
        ..RenderOptions::default()
    };
    let empty = Report::empty(ToolInfo::new("det-scan", "0.1.0"));
    for (format, out) in all_formats(&r, &opts) {
        // The finding costs at most a few KiB over an empty report (SARIF carries every rule).
        let base = render(&empty, format, &opts).len();
        assert!(
            out.len() < base + 4_000,
            "{format}: {} bytes over {base}",
            out.len()
        );
        assert!(
            out.contains(&format!("/home/{}…[100006 chars]", "é".repeat(94))),
            "{format}"
        );
    }
    // The bound can be lifted.
    let all = RenderOptions {
        max_evidence_chars: 0,
        ..RenderOptions::default()
    };
    assert!(render(&r, OutputFormat::Text, &all).contains(&long));
}
