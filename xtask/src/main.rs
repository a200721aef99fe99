//! `cargo xtask <job>`: project automation in Rust (test, release-check, demo, bench, docs).

mod bench;
mod bench_build;
mod bench_diff;
mod bench_hash;
mod bench_normalize;
mod bench_shim;
mod bench_store;
mod bench_verify;
mod demo;
mod docs;
mod measure;
mod release_check;
mod setup;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "\
cargo xtask <job>

jobs:
  test     set up what the tests need on this machine (zig, Python wheel, the SARIF
           validator, Debian packages), then cargo fmt --check, clippy -D warnings and
           cargo test --workspace with DET_REQUIRE_ZIG=1
  release-check
           det checks its own release: det's release binaries rebuilt twice under every
           variation with cargo det-verify (recorded as verified in a det store), put in
           place from that store by cargo det-build --require-verified, scanned with
           cargo det-scan --fail-on high; the manifest, provenance, verify report (JSON,
           HTML), SARIF and SHA256SUMS under target/release-check/ (--keep-going: run
           every step and report every problem)
  demo     build testdata fixtures the ordinary way and with det's flags, and show what
           det-scan finds in each, with the fix; then the det-verify story: --raw on
           rust-buildrs-time (not reproducible: the .rodata time, culprit `time`, the fix),
           and with det-build (reproducible)
  bench    one table of every figure, also written to target/bench.json (det-bench/1:
           medians of repeated runs, CPU time and peak memory from wait4): det-scan's
           throughput beside BLAKE3 hashing, b3sum and ripgrep, det's tree hashing beside
           b3sum and sha256sum, the shim's overhead, cargo det-build beside cargo build
           (from scratch; sccache hits across two checkouts), normalize beside
           strip-nondeterminism, cargo det-verify diff beside diffoscope (wall time, peak
           memory, every place diffoscope reports as differing checked against det's
           report), cargo det-verify against N plain builds and the culprit search's extra
           builds, a det store hit beside a full build and a no-op cargo build; `bench
           scan`, `bench hash`, `bench shim`, `bench build`, `bench normalize`, `bench diff`
           (`bench diff ac`: only pairs a and c), `bench verify` and `bench store` run one
           part (and still end with the table)
  docs     regenerate docs/rules.md from the rules table
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ws = workspace_root();
    match args.first().map(String::as_str) {
        Some("test") => test(&ws, &args[1..]),
        Some("release-check") => release_check::run(&ws, &args[1..]),
        Some("demo") => demo::run(&ws),
        Some("bench") => {
            // det's own builds keep the target dir (given to cargo explicitly); the
            // fixtures the benchmarks build must not inherit it, or their "from scratch"
            // builds land in det's warm target dir and measure nothing.
            target_dir(&ws);
            // SAFETY: xtask is single-threaded until the benchmarks start.
            unsafe { std::env::remove_var("CARGO_TARGET_DIR") };
            bench_job(&ws, &args)
        }
        Some("docs") => docs::run(&ws),
        Some("hash-tree") if args.len() == 2 => bench::hash_tree(Path::new(&args[1])),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown job `{other}`\n\n{USAGE}"),
    }
}

/// cargo's target directory for this workspace: `CARGO_TARGET_DIR` when set (cargo honours
/// it, so the binaries the jobs build are there), else `target/`.
/// Read once: the benchmarks take it out of the environment (see `run`).
pub(crate) fn target_dir(ws: &Path) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { ws.join(t) })
            .unwrap_or_else(|| ws.join("target"))
    })
    .clone()
}

fn bench_job(ws: &Path, args: &[String]) -> Result<()> {
    let ws = ws.to_path_buf();
    match args.get(1).map(String::as_str) {
        None => bench::run(&ws),
        Some("build") => bench::part(&ws, |t| bench_build::run(&ws, t)),
        Some("normalize") => bench::part(&ws, |t| bench_normalize::run(&ws, t)),
        Some("diff") => bench::part(&ws, |t| {
            bench_diff::run(&ws, args.get(2).map_or("", String::as_str), t)
        }),
        Some("verify") => bench::part(&ws, |t| bench_verify::run(&ws, t)),
        Some("store") => bench::part(&ws, |t| bench_store::run(&ws, t)),
        Some("scan") => bench::part(&ws, |t| bench::scan(&ws, t)),
        Some("hash") => bench::part(&ws, |t| bench_hash::run(&ws, t)),
        Some("shim") => bench::part(&ws, |t| bench_shim::run(&ws, t)),
        Some(other) => bail!("unknown bench part `{other}`\n\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The one test command: set-up, format check, lints, tests.
fn test(ws: &Path, extra: &[String]) -> Result<()> {
    let tools = setup::ensure_test_tools(ws)?;
    cargo(ws, &["fmt", "--all", "--check"], &[])?;
    cargo(
        ws,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // Every failing test in one run: CI shows them all, not the first binary's.
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    args.extend(extra.iter().map(String::as_str));
    let envs = tools.test_env();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    cargo(ws, &args, &envs)
}

pub(crate) fn cargo(ws: &Path, args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("xtask: cargo {}", args.join(" "));
    let mut cmd = Command::new(&cargo);
    // The benchmarks take CARGO_TARGET_DIR out of the environment (their fixtures must not
    // build into det's target dir) and give it back to det's own builds here. Never set
    // it otherwise: the tests build fixtures that must use their own target/.
    let target = target_dir(ws);
    if std::env::var_os("CARGO_TARGET_DIR").is_none() && target != ws.join("target") {
        cmd.env("CARGO_TARGET_DIR", &target);
    }
    let status = cmd
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(ws)
        .status()
        .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
