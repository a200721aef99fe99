//! `cargo xtask release-check`: det checks its own release with its own tools, the way
//! the README tells a user to check theirs.
//!
//! 1. `cargo det-verify --runs 2 --vary=all --store` builds det's release binaries twice
//!    with det-build, in fresh copies at other paths under every variation (ASLR too), and
//!    compares them; when they agree the store records the closure as verified, its
//!    outputs published from the control run.
//! 2. `cargo det-build --store --require-verified --provenance` puts exactly those verified
//!    outputs in place (a store hit: no third build) with their manifest and provenance;
//!    anything but the verified closure is refused.
//! 3. `cargo det-scan --fail-on high` scans what is released.
//!
//! Everything a release publishes is written under `target/release-check/`: the manifest,
//! the provenance, the verify report (JSON and HTML), the SARIF and `SHA256SUMS`. Any
//! problem is a non-zero exit, so a change that makes det's own binaries irreproducible
//! cannot land.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What det releases: the three cargo subcommands and the shim library.
const PACKAGES: &[&str] = &[
    "cargo-detscan",
    "cargo-detbuild",
    "cargo-detverify",
    "detshim",
];

pub fn run(ws: &Path, args: &[String]) -> Result<()> {
    let mut keep_going = false;
    for a in args {
        match a.as_str() {
            "--keep-going" => keep_going = true,
            other => bail!(
                "release-check: unknown option `{other}` (usage: cargo xtask release-check [--keep-going])"
            ),
        }
    }
    // The checking tools: det as this commit builds it (debug: what the tests exercise).
    let mut build = vec!["build", "--quiet", "--locked"];
    for p in ["cargo-detscan", "cargo-detbuild", "cargo-detverify"] {
        build.extend(["-p", p]);
    }
    super::cargo(ws, &build, &[])?;
    let bin = super::target_dir(ws).join("debug");

    let out = ws.join("target/release-check");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let mut cargo_args: Vec<String> = vec!["--release".into(), "--locked".into()];
    for p in PACKAGES {
        cargo_args.extend(["-p".to_string(), p.to_string()]);
    }
    let mut problems = Vec::new();
    let mut check = |what: &str, r: Result<()>| -> Result<()> {
        if let Err(e) = r {
            eprintln!("release-check: {what}: {e:#}");
            problems.push(format!("{what}: {e:#}"));
            if !keep_going {
                bail!("{what} failed (see above)");
            }
        }
        Ok(())
    };

    // The store outlives a run: a second release-check of the same commit finds the closure
    // verified and skips the builds (its report says so).
    let store = ws.join("target/release-check-store");

    // 1. det-verify: two builds in fresh copies at other paths, every variation (ASLR too).
    step("verify", "cargo det-verify --runs 2 --vary=all --store");
    let verify = verify(ws, &bin, &out, &store, &cargo_args);
    check("cargo det-verify", verify)?;

    // 2. det-build in the real tree: the verified outputs from the store, their manifest,
    //    the provenance, and det-build's closing scan failing on a high finding.
    step(
        "build",
        "cargo det-build --release --store --require-verified",
    );
    let built = det_build(ws, &bin, &out, &store, &cargo_args);
    let outputs = match built {
        Ok(o) => o,
        Err(e) => {
            check("cargo det-build", Err(e))?;
            BTreeMap::new()
        }
    };

    // 3. det-scan on what is released, SARIF for code scanning, failing on high.
    if !outputs.is_empty() {
        step(
            "scan",
            "cargo det-scan --fail-on high on the release binaries",
        );
        let files: Vec<PathBuf> = outputs
            .keys()
            .map(|rel| super::target_dir(ws).join(rel))
            .collect();
        let scanned = scan(&bin, &out, &files);
        check("cargo det-scan", scanned)?;
        write_sums(&out, &outputs)?;
    }

    if !problems.is_empty() {
        bail!(
            "{} problem(s) with det's own release:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    println!(
        "\nrelease-check: det's release is reproducible and scans clean; see {}",
        out.display()
    );
    for (rel, sha) in &outputs {
        println!("  {sha}  {rel}");
    }
    Ok(())
}

fn step(what: &str, how: &str) {
    eprintln!("\nrelease-check [{what}]: {how}");
}

fn verify(ws: &Path, bin: &Path, out: &Path, store: &Path, cargo_args: &[String]) -> Result<()> {
    let json = out.join("verify.json");
    let html = out.join("verify.html");
    let status = Command::new(bin.join("cargo-det-verify"))
        .args(["det-verify", "--runs", "2", "--vary=all", "--store"])
        .arg(store)
        .arg("-o")
        .arg(&json)
        .arg("-o")
        .arg(&html)
        .arg("--")
        .args(cargo_args)
        .current_dir(ws)
        .status()
        .context("running cargo-det-verify")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!(
            "det's own release binaries are not reproducible: every difference, its cause, \
             culprit and fix in {} (and {})",
            json.display(),
            html.display()
        ),
        _ => bail!("cargo det-verify failed ({status})"),
    }
}

/// Builds the release with det-build; returns each output's SHA-256 by its path relative to
/// the target dir.
fn det_build(
    ws: &Path,
    bin: &Path,
    out: &Path,
    store: &Path,
    cargo_args: &[String],
) -> Result<BTreeMap<String, String>> {
    let status = Command::new(bin.join("cargo-det-build"))
        .arg("det-build")
        .args(cargo_args)
        .arg("--store")
        .arg(store)
        .arg("--require-verified")
        .arg("--provenance")
        .arg(out.join("provenance.json"))
        .args(["--fail-on", "high"])
        .current_dir(ws)
        .status()
        .context("running cargo-det-build")?;
    if !status.success() {
        bail!("cargo det-build failed ({status})");
    }
    let manifest = super::target_dir(ws).join("det/manifest.json");
    std::fs::copy(&manifest, out.join("manifest.json"))
        .with_context(|| format!("copying {}", manifest.display()))?;
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let m: det_common::manifest::Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a det manifest", manifest.display()))?;
    if m.outputs.is_empty() {
        bail!("{}: no outputs recorded", manifest.display());
    }
    Ok(m.outputs
        .into_iter()
        .map(|(rel, h)| (rel, h.sha256))
        .collect())
}

fn scan(bin: &Path, out: &Path, files: &[PathBuf]) -> Result<()> {
    let status = Command::new(bin.join("cargo-det-scan"))
        .args(["det-scan", "--format", "sarif", "--fail-on", "high", "-o"])
        .arg(out.join("scan.sarif"))
        .args(files)
        .status()
        .context("running cargo-det-scan")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => {
            // The findings in text, for the log.
            let _ = Command::new(bin.join("cargo-det-scan"))
                .args(["det-scan", "--fail-on", "high"])
                .args(files)
                .status();
            bail!(
                "a high finding in det's own release binaries (see {})",
                out.join("scan.sarif").display()
            )
        }
        _ => bail!("cargo det-scan failed ({status})"),
    }
}

/// `SHA256SUMS` in the format `sha256sum -c` reads, sorted by path.
fn write_sums(out: &Path, outputs: &BTreeMap<String, String>) -> Result<()> {
    let mut text = String::new();
    for (rel, sha) in outputs {
        text.push_str(&format!("{sha}  {rel}\n"));
    }
    let path = out.join("SHA256SUMS");
    det_common::atomic_file::write(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
