//! docs/scan-json.md is true to det-scan's real JSON: every key of a real report is in the
//! doc's field table, every documented key is in the report, and the exit statuses are the
//! documented ones.

mod schema_doc;

use serde_json::Value;
use std::process::{Command, Output};

fn det_scan(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-det-scan"))
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1")
        .output()
        .expect("cargo-det-scan runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn scan_json_matches_its_doc_and_exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("build-info.txt"),
        "version 1.0 built 2024-05-01T12:00:00Z in /home/alice/proj/src/main.rs\n",
    )
    .unwrap();
    // A finding in a file and an error (a file that does not exist): exit 2.
    let out = det_scan(
        dir.path(),
        &["--format", "json", "build-info.txt", "missing.bin"],
    );
    assert_eq!(out.status.code(), Some(2));
    let with_error = json(&out);
    assert_eq!(with_error["errors"][0]["file"], "missing.bin");
    assert_eq!(with_error["summary"]["max_severity"], "low");
    // Filtered: the filter is named and the left-out findings counted.
    let out = det_scan(
        dir.path(),
        &[
            "--format",
            "json",
            "--min-severity",
            "medium",
            "--fail-on",
            "low",
            "build-info.txt",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "--fail-on judges hidden findings too"
    );
    let filtered = json(&out);
    assert_eq!(filtered["summary"]["hidden"], 2);
    assert_eq!(filtered["summary"]["min_severity"], "medium");
    assert_eq!(filtered["summary"]["max_severity"], Value::Null);
    let out = det_scan(
        dir.path(),
        &["--format", "json", "--fail-on", "medium", "build-info.txt"],
    );
    assert_eq!(out.status.code(), Some(0));
    schema_doc::check(
        "scan-json.md",
        "det-scan/1",
        &[&with_error, &filtered, &json(&out)],
        &[],
    );
}
