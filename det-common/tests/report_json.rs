//! The JSON report, byte for byte: schema name, key order, `null` for absent section/offset,
//! the specific fix winning over the rule's, sorted findings and errors, the summary.

use det_common::report::{OutputFormat, RenderOptions, Report, ToolInfo, render};
use det_common::rules;
use det_common::{Finding, Location};
use serde_json::Value;

fn small_report() -> Report {
    let mut r = Report::empty(ToolInfo::new("det-scan", "9.8.7"));
    // Given out of order on purpose: the renderer sorts.
    r.push(
        Finding::new(
            rules::get("cmd-native-cpu"),
            Location::file("make.log"),
            "-march=native",
        )
        .with_fix("drop -march=native; use -march=x86-64-v2"),
    );
    r.push(Finding::new(
        rules::get("gzip-mtime"),
        Location::file("dist/x.tar.gz")
            .member("inner.gz")
            .at("MTIME", Some(4)),
        "1700000000",
    ));
    r.push_error("z/unreadable", "Permission denied (os error 13)");
    r.push_error("a/gone", "No such file or directory (os error 2)");
    r.files_scanned = 3;
    r
}

const EXPECTED: &str = r#"{
  "schema": "det-scan/1",
  "tool": {
    "name": "det-scan",
    "version": "9.8.7"
  },
  "findings": [
    {
      "rule": "gzip-mtime",
      "severity": "high",
      "category": "timestamp",
      "file": "dist/x.tar.gz",
      "container": [
        "inner.gz"
      ],
      "section": "MTIME",
      "offset": 4,
      "evidence": "1700000000",
      "message": "GZIP_MESSAGE",
      "fix": "GZIP_FIX"
    },
    {
      "rule": "cmd-native-cpu",
      "severity": "high",
      "category": "flags",
      "file": "make.log",
      "container": [],
      "section": null,
      "offset": null,
      "evidence": "-march=native",
      "message": "NATIVE_MESSAGE",
      "fix": "drop -march=native; use -march=x86-64-v2"
    }
  ],
  "errors": [
    {
      "file": "a/gone",
      "message": "No such file or directory (os error 2)"
    },
    {
      "file": "z/unreadable",
      "message": "Permission denied (os error 13)"
    }
  ],
  "summary": {
    "files_scanned": 3,
    "findings": 2,
    "errors": 2,
    "max_severity": "high",
    "by_severity": {
      "info": 0,
      "low": 0,
      "medium": 0,
      "high": 2,
      "critical": 0
    },
    "by_category": {
      "timestamp": 1,
      "flags": 1
    },
    "hidden": 0,
    "min_severity": null
  }
}
"#;

#[test]
fn json_report_is_exactly_the_documented_shape() {
    // The rules table owns the wording of messages and fixes (and escapes nothing JSON
    // would); the snapshot pins everything else, severities included.
    let native = rules::get("cmd-native-cpu");
    let gzip = rules::get("gzip-mtime");
    assert_eq!(
        (native.severity, gzip.severity),
        (rules::Severity::High, rules::Severity::High)
    );
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    let expected = EXPECTED
        .replace("\"GZIP_MESSAGE\"", &quote(gzip.message))
        .replace("\"GZIP_FIX\"", &quote(gzip.fix))
        .replace("\"NATIVE_MESSAGE\"", &quote(native.message));
    let json = render(
        &small_report(),
        OutputFormat::Json,
        &RenderOptions::default(),
    );
    assert_eq!(json, expected);
}

#[test]
fn every_finding_has_every_key_and_parses_back() {
    let json = render(
        &small_report(),
        OutputFormat::Json,
        &RenderOptions::default(),
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    // serde_json's Map (no preserve_order) lists keys sorted; the order on the wire is
    // pinned by the snapshot above.
    assert_eq!(top, ["errors", "findings", "schema", "summary", "tool"]);
    for f in v["findings"].as_array().unwrap() {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "category",
                "container",
                "evidence",
                "file",
                "fix",
                "message",
                "offset",
                "rule",
                "section",
                "severity"
            ]
        );
    }
    assert_eq!(v["findings"][1]["section"], Value::Null);
    assert_eq!(v["findings"][1]["offset"], Value::Null);
}

#[test]
fn schema_name_follows_the_tool() {
    let r = Report::empty(ToolInfo::new("det-verify", "1.0.0"));
    let v: Value =
        serde_json::from_str(&render(&r, OutputFormat::Json, &RenderOptions::default())).unwrap();
    assert_eq!(v["schema"], "det-verify/1");
    assert_eq!(v["findings"], Value::Array(vec![]));
    assert_eq!(v["summary"]["max_severity"], Value::Null);
    assert_eq!(v["summary"]["findings"], 0);
}

#[test]
fn filtered_report_counts_what_it_hides() {
    let mut r = small_report();
    r.push(Finding::new(
        rules::get("elf-comment"),
        Location::file("a.so").at(".comment", None),
        "GCC: 12",
    ));
    assert_eq!(r.max_severity(), Some(rules::Severity::High));
    assert!(r.reaches(rules::Severity::Info) && r.reaches(rules::Severity::High));
    r.filter(rules::Severity::Low);
    assert_eq!(r.hidden, 1);
    assert_eq!(r.findings.len(), 2);
    let v: Value =
        serde_json::from_str(&render(&r, OutputFormat::Json, &RenderOptions::default())).unwrap();
    assert_eq!(v["summary"]["hidden"], 1);
    assert_eq!(v["summary"]["min_severity"], "low");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "elf-comment")
    );
}
