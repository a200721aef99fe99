//! `cargo xtask release`: build the release with det, prove it reproducible, scan it.
//!
//! det is used through its installed subcommands (`cargo install` puts `cargo-det-build`,
//! `cargo-det-verify` and `cargo-det-scan` on PATH) and their JSON outputs, read by their
//! documented schemas: det-manifest/1, det-verify/1 and det-scan/1. The release fails
//! (exit 1) on a non-reproducible verdict or on a finding at or above medium, naming each
//! problem; exit 2 when a step could not run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use serde_json::Value;

/// Findings at or above this severity fail the release.
const FAIL_AT: &str = "medium";
const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("release") => match release() {
            Ok(problems) if problems.is_empty() => {
                eprintln!("xtask: release is reproducible and clean");
                ExitCode::SUCCESS
            }
            Ok(problems) => {
                for p in &problems {
                    eprintln!("xtask: release failed: {p}");
                }
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("xtask: error: {e}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("usage: cargo xtask release");
            ExitCode::from(2)
        }
    }
}

/// The problems found (none: the release is good).
fn release() -> Result<Vec<String>, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut problems = Vec::new();
    for tool in ["det-build", "det-verify", "det-scan"] {
        let found = cargo()
            .args([tool, "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !found.is_ok_and(|s| s.success()) {
            return Err(format!("`cargo {tool}` is not installed: install det (see its README) so that cargo-{tool} is on PATH"));
        }
    }

    // 1. Build: det-build writes what it built to target/det/manifest.json (det-manifest/1).
    run(&root, &["det-build", "--release"])?;
    let manifest = read_json(&target.join("det/manifest.json"), "det-manifest/1")?;
    let sde = manifest["source_date_epoch"]["value"]
        .as_u64()
        .ok_or("no source_date_epoch")?;
    let outputs: Vec<PathBuf> = manifest["outputs"]
        .as_object()
        .ok_or("no outputs in the manifest")?
        .keys()
        .map(|rel| target.join(rel))
        .collect();
    if outputs.is_empty() {
        return Err("det-build produced no outputs".into());
    }

    // 2. Verify: rebuild twice under varied paths, times, locales, ... (det-verify/1).
    let verify = json_of(
        &root,
        &[
            "det-verify",
            "--runs",
            "2",
            "-q",
            "--format",
            "json",
            "--",
            "--release",
        ],
        &[0, 1],
    )?;
    check_schema(&verify, "det-verify/1")?;
    if verify["reproducible"] != true {
        for a in array(&verify["artifacts"])
            .iter()
            .filter(|a| a["status"] != "reproducible")
        {
            problems.push(format!(
                "not reproducible: {} {} in {}",
                text(&a["path"]),
                text(&a["status"]),
                text(&a["runs_differing"])
            ));
        }
        for c in array(&verify["differences"]) {
            problems.push(format!(
                "cause: {} in {} (rule {}): fix: {}",
                text(&c["what"]),
                text(&c["places"]),
                text(&c["rule"]),
                text(&c["fix"])
            ));
        }
    }

    // 3. Scan the outputs the manifest lists (det-scan/1); dates equal to the build's
    //    SOURCE_DATE_EPOCH are not findings. The exit status is ours to decide: --fail-on none.
    let mut args = vec![
        "det-scan".to_owned(),
        "--format".into(),
        "json".into(),
        "--fail-on".into(),
        "none".into(),
    ];
    args.extend(["--source-date-epoch".to_owned(), sde.to_string()]);
    // Relative to the workspace when they are inside it: the findings name `target/...`.
    args.extend(
        outputs
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let scan = json_of(&root, &args, &[0])?;
    check_schema(&scan, "det-scan/1")?;
    let floor = rank(FAIL_AT);
    for f in array(&scan["findings"]) {
        if f["severity"].as_str().map(rank) >= Some(floor) {
            problems.push(format!(
                "det-scan: {} ({}) in {} {}: {} — fix: {}",
                text(&f["rule"]),
                text(&f["severity"]),
                text(&f["file"]),
                text(&f["section"]),
                text(&f["evidence"]),
                text(&f["fix"]),
            ));
        }
    }

    if problems.is_empty() {
        for (rel, h) in manifest["outputs"].as_object().into_iter().flatten() {
            eprintln!("xtask: {}  {rel}", h["sha256"].as_str().unwrap_or("?"));
        }
    }
    Ok(problems)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `cargo ARGS` in `dir`, its output shown; it must succeed.
fn run(dir: &Path, args: &[&str]) -> Result<(), String> {
    let st = cargo()
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cargo {}: {e}", args[0]))?;
    if !st.success() {
        return Err(format!("cargo {} failed ({st})", args.join(" ")));
    }
    Ok(())
}

/// The JSON that `cargo ARGS` prints, when it exits with one of `ok` (stderr shown).
fn json_of(dir: &Path, args: &[&str], ok: &[i32]) -> Result<Value, String> {
    let out = cargo()
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo {}: {e}", args[0]))?;
    if !out.status.code().is_some_and(|c| ok.contains(&c)) {
        return Err(format!("cargo {} failed ({})", args[0], out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo {}: not JSON: {e}", args[0]))
}

fn read_json(path: &Path, schema: &str) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    check_schema(&v, schema)?;
    Ok(v)
}

/// The schema a report names must be the one this code was written for: a det that
/// writes another major version fails here, not somewhere in the reading.
fn check_schema(v: &Value, schema: &str) -> Result<(), String> {
    if v["schema"] != schema {
        return Err(format!(
            "expected a {schema} report, got schema {}",
            v["schema"]
        ));
    }
    Ok(())
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(SEVERITIES.len())
}

/// A string as it is, a list of strings joined, `null` as `-`.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(xs) => xs.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
