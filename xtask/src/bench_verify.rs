//! `cargo xtask bench verify` (also at the end of `cargo xtask bench`): what verification
//! costs beyond its builds — `cargo det-verify --raw --no-explain --runs N` against N plain
//! `cargo build`s from scratch of the same fixture (goal: at most 5% over), and the same
//! without the jobs variation (whose -j1 run is a cost of what is varied, not of det-verify),
//! with the load average before and after — and what the
//! culprit search costs: the extra builds it used against the number of variations varied,
//! beside the bound 1 + log2(n) per culprit (plus the rerun).

use crate::measure::{Sample, Stats, Table, measure, measure_ok, not_error, round_ratio, success};
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
    // det-verify's wall time, and its own part of it: the wall time less its runs' (each
    // run's copy, build and collection, from its `Built ... in 2.61s` status line), which is
    // what verification adds to the builds whatever the builds cost that minute.
    let mut own = Vec::new();
    let mut det_verify = |extra: &[&str]| -> Result<Sample> {
        let _ = std::fs::remove_dir_all(dir.join("target"));
        let mut c = Command::new(&verify);
        c.args(["det-verify", "--raw", "--no-explain", "--runs"])
            .arg(RUNS.to_string())
            .args(extra)
            .arg("--")
            .args(ARGS)
            .current_dir(&dir);
        let m = measure(&mut c)?;
        // 1: not reproducible (rust-cc-sys's debug paths with --raw) is a finished run.
        if !not_error(m.status.code()) {
            bail!(
                "{c:?} failed ({}): {}",
                m.status,
                String::from_utf8_lossy(&m.stderr)
            );
        }
        let runs: f64 = String::from_utf8_lossy(&m.stderr)
            .lines()
            .filter(|l| l.trim_start().starts_with("Built "))
            .filter_map(|l| {
                l.rsplit_once(" in ")?
                    .1
                    .strip_suffix('s')?
                    .parse::<f64>()
                    .ok()
            })
            .sum();
        own.push(m.sample.wall.as_secs_f64() - runs);
        Ok(m.sample)
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
    const ROUNDS: usize = 7;
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
    // Each round's det-verify against the same round's plain builds, minutes apart at most:
    // on a machine whose speed drifts (a shared VM: the same build takes 2.1 s or 3.2 s
    // from one minute to the next) the median of these ratios is the steadier figure.
    let ratio = |a: &[Sample], b: &[Sample]| round_ratio(a, b).0;
    let (rv, rj) = (
        ratio(&verified, &plain_as_varied),
        ratio(&same_jobs, &plain),
    );
    // Both verifications of every measured round (the warm-up round's two left out).
    let mut own = own.split_off(2);
    own.sort_by(f64::total_cmp);
    let own_median = own[own.len() / 2];
    let case = format!("{FIXTURE} {}, {RUNS} builds", ARGS.join(" "));
    t.add(
        "verify",
        &case,
        &format!("cargo build x {RUNS}"),
        Stats::of(&plain),
    );
    let as_varied = format!("cargo build, then -j1 x {}", RUNS - 1);
    t.add("verify", &case, &as_varied, Stats::of(&plain_as_varied));
    let row = t.add(
        "verify",
        &case,
        "cargo det-verify --raw",
        Stats::of(&verified),
    );
    row.against = Some((as_varied.clone(), Some(1.05)));
    row.note = Some(format!(
        "median of the {ROUNDS} rounds' ratios to the same builds: {:+.1} %; its own time (wall less its runs'): median {own_median:.2} s",
        (rv - 1.0) * 100.0
    ));
    let row = t.add(
        "verify",
        &case,
        "cargo det-verify --raw --vary=-jobs",
        Stats::of(&same_jobs),
    );
    row.against = Some((format!("cargo build x {RUNS}"), Some(1.05)));
    row.note = Some(format!(
        "median of the {ROUNDS} rounds' ratios to {RUNS} x cargo build: {:+.1} %",
        (rj - 1.0) * 100.0
    ));
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
    println!(
        "per round (median of {ROUNDS} ratios): det-verify {:>+6.1} % over the same builds, --vary=-jobs {:>+6.1} % over {RUNS} x cargo build (goal: at most +5 %)",
        (rv - 1.0) * 100.0,
        (rj - 1.0) * 100.0
    );
    println!(
        "det-verify's own time (its wall time less its runs'): median {own_median:.2} s of {:.2} s ({:.1} %), over {} verifications",
        v.as_secs_f64(),
        own_median / v.as_secs_f64() * 100.0,
        own.len()
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
