//! `cargo xtask bench`: det-scan's throughput beside BLAKE3 hashing on the same tree, then
//! the other engines' benchmarks. A benchmark, not a timed test: it prints figures.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The patterns of det's text detectors as one regular expression for ripgrep.
const RG_PATTERNS: &str = concat!(
    r"/(home|Users|root|tmp|build|builds|work|workspace|private|__w|src|target|\.cargo)/|/var/tmp/|/usr/src/|/opt/build",
    r"|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9]?[0-9] [0-9]{4}",
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}",
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
);

pub fn run(ws: &Path) -> Result<()> {
    scan(ws)?;

    println!("\n== tree hashing on a generated tree ==");
    super::bench_hash::run(ws)?;

    println!("\n== the shim's overhead ==");
    super::bench_shim::run(ws)?;

    super::bench_build::run(ws)?;

    println!("\n== normalize beside strip-nondeterminism ==");
    super::bench_normalize::run(ws)?;
    super::bench_diff::run(ws, "")?;
    super::bench_verify::run(ws)?;
    Ok(())
}

/// `cargo xtask bench scan`: det-scan beside BLAKE3 hashing, b3sum and ripgrep on two real
/// corpora. Each tool's best wall time of three, and its CPU time (user + system of the
/// best run): on a busy machine the CPU time is the fairer comparison.
pub fn scan(ws: &Path) -> Result<()> {
    super::cargo(
        ws,
        &["build", "--release", "-p", "cargo-detscan", "-p", "xtask"],
        &[],
    )?;
    let release = ws.join("target/release");
    let scan = release.join("cargo-det-scan");
    let xtask = release.join("xtask");

    // Two real corpora on every machine that can build det: the toolchain's libraries (large
    // ELF shared objects and hundreds of rlibs: det-scan reads the sections that can carry a
    // leak, not .text) and the sources cargo downloaded (text: every byte is scanned).
    let mut corpora = vec![(
        toolchain_libs()?,
        "the Rust toolchain's libraries: ELF .so and .rlib",
    )];
    if let Some(src) = registry_sources().filter(|p| p.is_dir()) {
        corpora.push((src, "crate sources in CARGO_HOME: text, every byte scanned"));
    }
    for (corpus, what) in &corpora {
        let bytes = tree_size(corpus)?;
        println!(
            "\ncorpus: {} ({:.0} MiB, {what})",
            corpus.display(),
            mib(bytes)
        );
        println!("{:<34}{:>10}  {:>8}  {:>8}", "", "MiB/s", "wall", "cpu");
        let row = |name: &str, t: Timing| {
            println!(
                "{name:<34}{:>10.0}  {:>7.2}s  {:>7.2}s",
                mib(bytes) / t.wall.as_secs_f64(),
                t.wall.as_secs_f64(),
                t.cpu.as_secs_f64()
            )
        };
        // Warm the page cache once, then take the best of three: we measure the tools, not the disk.
        best_of(1, || {
            time_cmd(Command::new(&xtask).arg("hash-tree").arg(corpus))
        })?;
        let hash = best_of(3, || {
            time_cmd(Command::new(&xtask).arg("hash-tree").arg(corpus))
        })?;
        row("det BLAKE3 + SHA-256 tree hash", hash);
        if let Some(b3) = det_common::toolchain::find_on_path("b3sum") {
            let files = files_of(corpus)?;
            // In batches: the whole tree's file list exceeds the kernel's argument limit.
            let batched = || -> Result<Timing> {
                let mut sum = Timing {
                    wall: Duration::ZERO,
                    cpu: Duration::ZERO,
                };
                for chunk in files.chunks(1000) {
                    let t = time_cmd(Command::new(&b3).args(chunk))?;
                    sum.wall += t.wall;
                    sum.cpu += t.cpu;
                }
                Ok(sum)
            };
            row("b3sum", best_of(3, batched)?);
        }
        // What a user would otherwise run: ripgrep searching the patterns det's text
        // detectors look for (build and home path anchors, __DATE__ and ISO dates, UUIDs),
        // binary files included, counting matches.
        let rg = det_common::toolchain::find_on_path("rg").map(|rg| {
            best_of(3, || {
                time_cmd(
                    Command::new(&rg)
                        .args([
                            "--count",
                            "--no-messages",
                            "--binary",
                            "--no-ignore",
                            "--hidden",
                        ])
                        .args(["-e", RG_PATTERNS])
                        .arg(corpus),
                )
            })
        });
        let rg = rg.transpose()?;
        if let Some(t) = rg {
            row("ripgrep, det's text patterns", t);
        }
        let scan_t = best_of(3, || {
            time_cmd(
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
                    .arg(corpus),
            )
        })?;
        row("det-scan", scan_t);
        println!(
            "det-scan / hashing               {:>10.2}  (wall; goal: >= 0.50)",
            hash.wall.as_secs_f64() / scan_t.wall.as_secs_f64()
        );
        if let Some(t) = rg {
            println!(
                "det-scan / ripgrep               {:>10.2}  wall, {:.2} cpu  (goal: >= 1.00)",
                t.wall.as_secs_f64() / scan_t.wall.as_secs_f64(),
                t.cpu.as_secs_f64() / scan_t.cpu.as_secs_f64()
            );
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

/// A command's wall time and CPU time (user + system, its children included).
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

/// The CPU time of this process's waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn time_cmd(cmd: &mut Command) -> Result<Timing> {
    let cpu0 = children_cpu();
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let wall = start.elapsed();
    // det-scan exits 1 when it finds something; only 2 (or a signal) is a failure here.
    if out.status.code().is_none_or(|c| c >= 2) {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(Timing {
        wall,
        cpu: children_cpu().saturating_sub(cpu0),
    })
}

/// The run with the best wall time of `n`.
fn best_of(n: usize, mut f: impl FnMut() -> Result<Timing>) -> Result<Timing> {
    let mut best: Option<Timing> = None;
    for _ in 0..n {
        let t = f()?;
        if best.is_none_or(|b| t.wall < b.wall) {
            best = Some(t);
        }
    }
    best.context("best_of(0)")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
