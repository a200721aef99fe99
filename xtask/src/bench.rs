//! `cargo xtask bench`: det-scan's throughput beside BLAKE3 hashing, b3sum and ripgrep on
//! the same trees, then every other part's figures beside the tool a user would otherwise
//! pick; at the end one table of every figure, also written to `target/bench.json`. A
//! benchmark, not a timed test: it prints figures.

use crate::measure::{
    Stats, Table, interleaved_samples, measure_ok, not_error, repeat, round_ratio, success,
};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The patterns of det's text detectors as one regular expression for ripgrep.
const RG_PATTERNS: &str = concat!(
    r"/(home|Users|root|tmp|build|builds|work|workspace|private|__w|src|target|\.cargo)/|/var/tmp/|/usr/src/|/opt/build",
    r"|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9]?[0-9] [0-9]{4}",
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}",
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
);

pub fn run(ws: &Path) -> Result<()> {
    let mut t = Table::default();
    let r = run_all(ws, &mut t);
    // What was measured is shown and written even when a later part failed.
    t.finish(ws)?;
    r
}

fn run_all(ws: &Path, t: &mut Table) -> Result<()> {
    super::setup::ensure_bench_tools()?;
    scan(ws, t)?;

    println!("\n== tree hashing on a generated tree ==");
    super::bench_hash::run(ws, t)?;

    println!("\n== the shim's overhead ==");
    super::bench_shim::run(ws, t)?;

    super::bench_build::run(ws, t)?;

    println!("\n== normalize beside strip-nondeterminism ==");
    super::bench_normalize::run(ws, t)?;
    super::bench_diff::run(ws, "", t)?;
    super::bench_verify::run(ws, t)?;
    super::bench_store::run(ws, t)?;
    Ok(())
}

/// `cargo xtask bench <part>`: one part alone, still ending with the table and bench.json.
pub fn part(ws: &Path, f: impl FnOnce(&mut Table) -> Result<()>) -> Result<()> {
    super::setup::ensure_bench_tools()?;
    let mut t = Table::default();
    let r = f(&mut t);
    t.finish(ws)?;
    r
}

/// `cargo xtask bench scan`: det-scan beside BLAKE3 hashing, b3sum and ripgrep on two real
/// corpora. Each tool once to warm the page cache, then the median of three runs (five for
/// ripgrep and det-scan, alternating; wall, CPU and peak memory from wait4): we measure the
/// tools, not the disk.
pub fn scan(ws: &Path, t: &mut Table) -> Result<()> {
    super::cargo(
        ws,
        &["build", "--release", "-p", "cargo-detscan", "-p", "xtask"],
        &[],
    )?;
    let release = super::target_dir(ws).join("release");
    let scan = release.join("cargo-det-scan");
    let xtask = release.join("xtask");

    // Two real corpora on every machine that can build det: the toolchain's libraries (large
    // ELF shared objects and hundreds of rlibs: det-scan reads the sections that can carry a
    // leak, not .text) and the sources cargo downloaded (text: every byte is scanned; and the
    // Windows import libraries the windows-* crates ship, 460 000 ar members that det-scan
    // opens one by one where ripgrep reads their bytes as one).
    // The third: the same sources without the crates that ship libraries (text, and a few
    // test fixtures), on which ripgrep and det-scan do about the same work.
    let mut corpora = vec![(
        vec![toolchain_libs()?],
        "toolchain libs (ELF .so, .rlib)".to_owned(),
    )];
    if let Some(src) = registry_sources().filter(|p| p.is_dir()) {
        let text = crates_without_libraries(&src)?;
        corpora.push((
            vec![src],
            "registry sources (text, and import libraries)".to_owned(),
        ));
        corpora.push((
            text.dirs,
            format!(
                "registry sources without the {1} crates that ship libraries ({0} crates)",
                text.kept, text.left_out
            ),
        ));
    }
    for (paths, what) in &corpora {
        let bytes = paths.iter().map(|p| tree_size(p)).sum::<Result<u64>>()?;
        let case = format!("{what}, {:.0} MiB", mib(bytes));
        let shown = match paths.as_slice() {
            [one] => one.display().to_string(),
            _ => format!("{} directories", paths.len()),
        };
        println!("\ncorpus: {shown} ({case})");
        println!(
            "{:<34}{:>10}  {:>8}  {:>8}  {:>9}",
            "", "MiB/s", "wall", "cpu", "peak MiB"
        );
        let mut row = |name: &str, s: Stats, against: Option<(&str, f64)>| {
            println!(
                "{name:<34}{:>10.0}  {:>7.2}s  {:>7.2}s  {:>9.0}",
                mib(bytes) / s.wall.as_secs_f64(),
                s.wall.as_secs_f64(),
                s.cpu.as_secs_f64(),
                s.max_rss_kib as f64 / 1024.0
            );
            let r = t.add("scan", &case, name, s);
            r.bytes = Some(bytes);
            r.against = against.map(|(b, g)| (b.to_string(), Some(g)));
        };
        // Hashing, the floor for reading every byte, on the corpora that are one tree.
        let hash = match paths.as_slice() {
            [corpus] => {
                let hash = repeat(1, 3, || {
                    measure_ok(Command::new(&xtask).arg("hash-tree").arg(corpus), success)
                })?;
                row("det BLAKE3 + SHA-256 tree hash", hash.clone(), None);
                if let Some(b3) = det_common::toolchain::find_on_path("b3sum") {
                    let files = files_of(corpus)?;
                    // In batches: the whole tree's file list exceeds the kernel's argument limit.
                    let s = repeat(0, 3, || super::bench_hash::run_batched(&b3, &files))?;
                    row("b3sum", s, None);
                }
                Some(hash)
            }
            _ => None,
        };
        // What a user would otherwise run: ripgrep searching the patterns det's text
        // detectors look for (build and home path anchors, __DATE__ and ISO dates, UUIDs),
        // binary files included, counting matches.
        let rg_name = "ripgrep, det's text patterns";
        let rg_bin = det_common::toolchain::find_on_path("rg");
        if rg_bin.is_none() {
            println!("ripgrep: not installed (apt-get install ripgrep), skipped");
        }
        let mut run_rg = || {
            measure_ok(
                Command::new(rg_bin.as_deref().expect("checked"))
                    .args([
                        "--count",
                        "--no-messages",
                        "--binary",
                        "--no-ignore",
                        "--hidden",
                    ])
                    .args(["-e", RG_PATTERNS])
                    .args(paths),
                not_error,
            )
        };
        let mut run_scan = || {
            measure_ok(
                Command::new(&scan)
                    .args([
                        "--quiet",
                        "--fail-on",
                        "none",
                        // Crates ship corrupt archives as test data: reported, not fatal.
                        "--ignore",
                        "parse-error",
                        "--format",
                        "json",
                        "-o",
                        "/dev/null",
                    ])
                    .args(paths),
                not_error,
            )
        };
        // ripgrep and det-scan in alternating rounds (one warm-up, nine measured), so a
        // machine getting busier hurts both alike.
        const ROUNDS: usize = 9;
        let (rg, scan_samples) = if rg_bin.is_some() {
            let mut s = interleaved_samples(1, ROUNDS, &mut [&mut run_rg, &mut run_scan])?;
            let scan_s = s.pop().expect("two");
            (s.pop(), scan_s)
        } else {
            let s = (0..=ROUNDS)
                .map(|_| run_scan())
                .collect::<Result<Vec<_>>>()?;
            (None, s[1..].to_vec())
        };
        let scan_t = Stats::of(&scan_samples);
        if let Some(s) = &rg {
            row(rg_name, Stats::of(s), None);
        }
        // The goals: at least ripgrep's speed, at least half of hashing's.
        let against = if rg.is_some() {
            Some((rg_name, 1.0))
        } else {
            hash.as_ref()
                .map(|_| ("det BLAKE3 + SHA-256 tree hash", 2.0))
        };
        row("det-scan", scan_t.clone(), against);
        if let Some(hash) = &hash {
            println!(
                "det-scan / hashing               {:>10.2}  (wall; goal: >= 0.50)",
                hash.wall.as_secs_f64() / scan_t.wall.as_secs_f64()
            );
        }
        if let Some(rg) = &rg {
            let rg_t = Stats::of(rg);
            println!(
                "det-scan / ripgrep               {:>10.2}  wall, {:.2} cpu  (speed, ratio of the medians; goal: >= 1.00)",
                rg_t.wall.as_secs_f64() / scan_t.wall.as_secs_f64(),
                rg_t.cpu.as_secs_f64() / scan_t.cpu.as_secs_f64()
            );
            // Each round's two runs are seconds apart: their ratio does not see the machine's
            // drift from one minute to the next.
            let (median, low, high) = round_ratio(rg, &scan_samples);
            println!(
                "det-scan / ripgrep, per round    {median:>10.2}  (median of {ROUNDS} rounds' speed ratios; lowest {low:.2}, highest {high:.2})"
            );
            if let Some(r) = t.rows.last_mut() {
                r.note = Some(format!(
                    "per round: {median:.2}x ripgrep's speed (median of {ROUNDS}; {low:.2} to {high:.2})"
                ));
            }
        }
    }
    Ok(())
}

/// Hidden job for the benchmark: hash a tree with det's own (release-built) hashing.
pub fn hash_tree(dir: &Path) -> Result<()> {
    let start = Instant::now();
    let tree = det_common::hash::hash_tree(dir, &det_common::hash::TreeFilter::default())
        .with_context(|| format!("hashing {}", dir.display()))?;
    eprintln!(
        "{} entries in {:.2} s",
        tree.entries.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn toolchain_libs() -> Result<PathBuf> {
    // The toolchain's own libraries: large real ELF shared objects (LLVM, rustc_driver) and
    // hundreds of rlibs (ar archives of ELF objects), on every machine that can build det.
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc")?;
    if !out.status.success() {
        bail!("rustc --print sysroot failed");
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("lib"))
}

fn registry_sources() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    Some(home.join("registry/src"))
}

/// The crate directories of a registry's sources, split by whether they ship a static or
/// import library (`.a`, `.lib`: the windows-* and winapi-*-gnu crates).
struct TextCrates {
    dirs: Vec<PathBuf>,
    kept: usize,
    left_out: usize,
}

fn crates_without_libraries(src: &Path) -> Result<TextCrates> {
    let mut crates = Vec::new();
    for index in sorted_dirs(src)? {
        crates.extend(sorted_dirs(&index)?);
    }
    let mut dirs = Vec::new();
    let mut left_out = 0;
    for c in crates {
        let has_lib = files_of(&c)?.iter().any(|f| {
            f.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("a") || e.eq_ignore_ascii_case("lib"))
        });
        if has_lib {
            left_out += 1;
        } else {
            dirs.push(c);
        }
    }
    Ok(TextCrates {
        kept: dirs.len(),
        dirs,
        left_out,
    })
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        if e.file_type()?.is_dir() {
            v.push(e.path());
        }
    }
    v.sort();
    Ok(v)
}

fn files_of(dir: &Path) -> Result<Vec<PathBuf>> {
    let (targets, errors) = det_common::scan::walk(&[dir.to_path_buf()], false);
    if let Some(e) = errors.first() {
        bail!("{}: {}", e.path, e.message);
    }
    Ok(targets.into_iter().map(|t| t.path).collect())
}

fn tree_size(dir: &Path) -> Result<u64> {
    let (targets, _) = det_common::scan::walk(&[dir.to_path_buf()], false);
    Ok(targets.iter().map(|t| t.size).sum())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
