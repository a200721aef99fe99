//! Helpers shared by the scan_* tests: copy a fixture, run real tools, scan a file, filter
//! findings.
#![allow(dead_code)]

use det_common::Finding;
use det_common::artifact::Node;
use det_common::detect::{ScanOptions, scan_node};
use det_common::finding::Location;
use det_common::rules::Severity;
use std::path::Path;
use std::process::Command;

/// A copy of `testdata/<name>` in a fresh temporary directory (tests never build in the
/// source tree).
pub fn fixture(name: &str) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// The findings of one rule.
pub fn with_rule<'a>(fs: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    fs.iter().filter(|f| f.rule.id == rule).collect()
}

/// Findings at medium severity or above, as `rule section evidence`.
pub fn medium_or_above(fs: &[Finding]) -> Vec<String> {
    fs.iter()
        .filter(|f| f.severity() >= Severity::Medium)
        .map(|f| format!("{} {:?} {}", f.rule.id, f.location.label(), f.evidence))
        .collect()
}

/// Run a command in `dir`, panicking with its output when it fails.
pub fn run(dir: &Path, cmd: &[&str], env: &[(&str, &str)]) {
    let mut c = Command::new(cmd[0]);
    c.args(&cmd[1..]).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Scan `path` as a root file named by its file name, findings sorted.
pub fn scan_with(path: &Path, opts: &ScanOptions) -> Vec<Finding> {
    let node = Node::open(path).unwrap();
    let loc = Location::file(path.file_name().unwrap().to_string_lossy());
    let mut out = Vec::new();
    scan_node(&node, &loc, None, opts, 0, &mut out);
    out.sort();
    out
}

pub fn scan(path: &Path) -> Vec<Finding> {
    scan_with(path, &ScanOptions::default())
}

/// The archive-metadata findings (the rules these tests are about), as (rule, container
/// chain) pairs: content detectors (paths, dates in bytes) are another module's business.
pub fn archive_findings(findings: &[Finding]) -> Vec<(&'static str, Vec<String>)> {
    const OURS: &[&str] = &[
        "ar-member-mtime",
        "ar-member-owner",
        "ar-member-mode",
        "zip-entry-mtime",
        "zip-extended-timestamp",
        "zip-entry-order",
        "zip-external-attributes",
        "wheel-record-order",
        "gzip-mtime",
        "gzip-filename",
        "tar-member-mtime",
        "tar-member-owner",
        "tar-member-order",
        "tar-pax-time",
        "pyc-timestamp",
        "parse-error",
    ];
    findings
        .iter()
        .filter(|f| OURS.contains(&f.rule.id))
        .map(|f| {
            (
                f.rule.id,
                f.location.container.iter().map(|c| c.to_string()).collect(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Findings at medium severity or above.
pub fn medium_plus(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.severity() >= Severity::Medium)
        .map(|f| {
            format!(
                "{} at {}: {}",
                f.rule.id,
                f.location.display_path(),
                f.evidence
            )
        })
        .collect()
}

/// Set a file's mtime (so that a real tool records a known, non-normalized time).
pub fn touch(path: &Path, when: &str) {
    run(
        path.parent().unwrap(),
        &["touch", "-d", when, path.to_str().unwrap()],
        &[],
    );
}

/// Truncated copies of `data`, cut at a few points inside its meaningful part (trailing
/// zero padding, as tar's, can be lost without harm), must scan without a panic and give
/// a parse-error.
pub fn assert_truncations_report_parse_errors(dir: &Path, name: &str, data: &[u8]) {
    let len = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    for cut in [len / 4, len / 2, len * 3 / 4, len - 1] {
        let p = dir.join(format!("cut-{cut}-{name}"));
        std::fs::write(&p, &data[..cut]).unwrap();
        let findings = scan(&p);
        assert!(
            findings.iter().any(|f| f.rule.id == "parse-error"),
            "{name} cut at {cut}/{len}: no parse-error in {findings:#?}"
        );
    }
}

/// Whether `tool` runs here. A missing tool skips the test that needs it, except under
/// `DET_REQUIRE_TOOLS=1` (`cargo xtask test`, CI), where it fails with a clear message.
pub fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty());
    if !found && std::env::var("DET_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("`{tool}` is missing (DET_REQUIRE_TOOLS=1): `cargo xtask test` installs it");
    }
    if !found {
        eprintln!("skipped: `{tool}` is not installed");
    }
    found
}
