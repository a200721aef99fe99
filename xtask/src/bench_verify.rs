//! `cargo xtask bench verify` (also at the end of `cargo xtask bench`): what verification
//! costs beyond its builds — `cargo det-verify --raw --no-explain --runs N` against N plain
//! `cargo build`s from scratch of the same fixture (goal: at most 5% over), and the same
//! without the jobs variation (whose -j1 run is a cost of what is varied, not of det-verify),
//! with the load average before and after — and what the
//! culprit search costs: the extra builds it used against the number of variations varied,
//! beside the bound 1 + log2(n) per culprit (plus the rerun).

use crate::measure::{Sample, Stats, Table, measure_ok, not_error, success};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const FIXTURE: &str = "rust-cc-sys";
const ARGS: &[&str] = &["--release", "--examples"];
const RUNS: u32 = 2;

pub fn run(ws: &Path, t: &mut Table) -> Result<()> {
    super::cargo(
        ws,
        &[
            "build",
            "--release",
            "-p",
            "cargo-detbuild",
            "-p",
            "cargo-detverify",
        ],
        &[],
    )?;
    let verify = super::target_dir(ws).join("release/cargo-det-verify");
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join(FIXTURE);
    copy_tree(&ws.join("testdata").join(FIXTURE), &dir)?;
    // The dependencies once, so that no build below downloads.
    let st = Command::new("cargo")
        .args(["fetch", "--locked"])
        .current_dir(&dir)
        .status()?;
    if !st.success() {
        bail!("cargo fetch for {FIXTURE} failed");
    }

    println!(
        "\n== cargo det-verify --raw --no-explain --runs {RUNS} against {RUNS} plain builds ({FIXTURE}, {ARGS:?}) =="
    );
    println!("load average before: {}", load_average());
    let mut plain = Vec::new();
    let mut verified = Vec::new();
    let mut same_jobs = Vec::new();
    let mut plain_as_varied = Vec::new();
    let det_verify = |extra: &[&str]| -> Result<Sample> {
        let _ = std::fs::remove_dir_all(dir.join("target"));
        let mut c = Command::new(&verify);
        c.args(["det-verify", "--raw", "--no-explain", "-q", "--runs"])
            .arg(RUNS.to_string())
            .args(extra)
            .arg("--")
            .args(ARGS)
            .current_dir(&dir);
        // 1: not reproducible (rust-cc-sys's debug paths with --raw) is a finished run.
        measure_ok(&mut c, not_error)
    };
    // Plain builds one after the other, from scratch: their times summed, the largest peak.
    let plain_builds = |jobs: &[Option<&str>]| -> Result<Sample> {
        let mut sum = Sample {
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
            max_rss_kib: 0,
        };
        for j in jobs {
            let _ = std::fs::remove_dir_all(dir.join("target"));
            let mut c = Command::new("cargo");
            c.arg("build").args(ARGS).args(j.iter()).current_dir(&dir);
            let s = measure_ok(&mut c, success)?;
            sum.wall += s.wall;
            sum.cpu += s.cpu;
            sum.max_rss_kib = sum.max_rss_kib.max(s.max_rss_kib);
        }
        Ok(sum)
    };
    // Interleaved, one warm-up round, median of ROUNDS.
    const ROUNDS: usize = 5;
    for round in 0..=ROUNDS {
        let p = plain_builds(&vec![None; RUNS as usize])?;
        // The builds det-verify's default set makes, plainly: the control at cargo's -j,
        // each varied run at -j1 (the jobs variation).
        let mut jobs = vec![Some("-j1"); RUNS as usize];
        jobs[0] = None;
        let pv = plain_builds(&jobs)?;
        let v = det_verify(&[])?;
        // The jobs variation builds the varied run with -j1: a cost of what is varied, not
        // of det-verify; without it the runs build as the plain builds do.
        let j = det_verify(&["--vary=-jobs"])?;
        if round > 0 {
            plain.push(p);
            verified.push(v);
            same_jobs.push(j);
            plain_as_varied.push(pv);
        }
    }
    let case = format!("{FIXTURE} {}, {RUNS} builds", ARGS.join(" "));
    t.add(
        "verify",
        &case,
        &format!("cargo build x {RUNS}"),
        Stats::of(&plain),
    );
    let as_varied = format!("cargo build, then -j1 x {}", RUNS - 1);
    t.add("verify", &case, &as_varied, Stats::of(&plain_as_varied));
    t.add(
        "verify",
        &case,
        "cargo det-verify --raw",
        Stats::of(&verified),
    )
    .against = Some((as_varied.clone(), Some(1.05)));
    t.add(
        "verify",
        &case,
        "cargo det-verify --raw --vary=-jobs",
        Stats::of(&same_jobs),
    )
    .against = Some((format!("cargo build x {RUNS}"), Some(1.05)));
    let wall = |v: &[Sample]| Stats::of(v).wall;
    let (p, v, j, pv) = (
        wall(&plain),
        wall(&verified),
        wall(&same_jobs),
        wall(&plain_as_varied),
    );
    let pct = |x: Duration| (x.as_secs_f64() / p.as_secs_f64() - 1.0) * 100.0;
    println!(
        "{RUNS} x cargo build                         {:>8.2} s (median of {ROUNDS})",
        p.as_secs_f64()
    );
    println!(
        "cargo build, then -j1 x {}                {:>8.2} s (median of {ROUNDS}): the same builds as det-verify's runs",
        RUNS - 1,
        pv.as_secs_f64()
    );
    println!(
        "cargo det-verify --runs {RUNS}                {:>8.2} s (median of {ROUNDS}) {:>+6.1} % over the same builds (goal: at most +5 %), {:>+6.1} % over {RUNS} x cargo build",
        v.as_secs_f64(),
        (v.as_secs_f64() / pv.as_secs_f64() - 1.0) * 100.0,
        pct(v)
    );
    println!(
        "cargo det-verify --runs {RUNS} --vary=-jobs   {:>8.2} s (median of {ROUNDS}) {:>+6.1} % (goal: at most +5 %; the varied run at -jN too)",
        j.as_secs_f64(),
        pct(j)
    );
    println!("load average after: {}", load_average());

    println!("\n== culprit search: extra builds against the number of variations varied ==");
    println!(
        "{:<16} {:<11} {:>10} {:>12} {:>24}",
        "fixture", "culprit", "variations", "extra builds", "bound 1 + ceil(log2 n) + 1"
    );
    let sets: &[&[&str]] = &[
        &["build-path"],
        &["build-path", "time"],
        &["build-path", "time", "host", "file-order"],
        &[
            "build-path",
            "time",
            "timezone",
            "locale",
            "umask",
            "environment",
            "host",
            "file-order",
            "jobs",
        ],
    ];
    for (fixture, output, culprit) in [
        ("c-paths", "paths", "build-path"),
        ("c-date-time", "date-time", "time"),
        ("c-file-order", "prog", "file-order"),
    ] {
        let d = tmp.path().join(fixture);
        copy_tree(&ws.join("testdata").join(fixture), &d)?;
        let mut done: Vec<Vec<&str>> = Vec::new();
        for set in sets {
            let mut set: Vec<&str> = set.to_vec();
            if !set.contains(&culprit) {
                set.push(culprit);
            }
            set.sort();
            if done.contains(&set) {
                continue;
            }
            done.push(set.clone());
            let spec = format!("-all,+{}", set.join(",+"));
            let out = Command::new(&verify)
                .args(["det-verify", "--raw", "-q", "--format", "json"])
                .arg(format!("--vary={spec}"))
                .args(["--artifacts", output, "--", "make"])
                .current_dir(&d)
                .output()
                .context("running cargo det-verify")?;
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
                format!(
                    "det-verify on {fixture}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
            let found: Vec<String> = r["differences"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["culprits"].as_array().cloned().unwrap_or_default())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let n = set.len();
            let bound = 1 + (n as f64).log2().ceil() as usize + 1;
            t.add(
                "verify",
                &format!("culprit search, {fixture}, {n} variations"),
                "cargo det-verify",
                Stats::of_durations(&[Duration::ZERO]),
            )
            .note = Some(format!(
                "{} extra builds (bound {bound}), culprits {found:?}",
                r["extra_builds"].as_u64().unwrap_or(0)
            ));
            println!(
                "{fixture:<16} {:<11} {n:>10} {:>12} {bound:>24}",
                if found.iter().all(|f| f == culprit) && !found.is_empty() {
                    culprit.to_string()
                } else {
                    format!("{found:?}")
                },
                r["extra_builds"].as_u64().unwrap_or(0)
            );
        }
    }
    Ok(())
}

/// The 1, 5 and 15 minute load averages (/proc/loadavg): the bench is only as quiet as the
/// machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e?;
        let rel = e.path().strip_prefix(from)?;
        if rel.starts_with("target") {
            continue;
        }
        let dest: PathBuf = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &dest)
                .with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}
