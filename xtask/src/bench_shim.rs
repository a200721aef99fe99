//! `cargo xtask bench`, the shim part: what libdetshim.so costs the processes it is
//! loaded into — 1M `clock_gettime(CLOCK_REALTIME)` calls (ns per call) and listing a
//! 100k-entry directory (ms), each without the shim, with the shim and no setting
//! (fall-through), and with the settings on. Small C programs compiled with gcc time
//! themselves with `CLOCK_MONOTONIC` (which the shim never touches); the median of 5 runs.
//! The library measured is the shipped one, from `cargo-det-build shim-path` (the build
//! script compiles it with the same flags whatever the profile, so the debug build of
//! cargo-det-build embeds the same bytes), or the file `DET_BENCH_SHIM` names.

use crate::measure::{Stats, Table};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const CLOCK_C: &str = r#"
#include <stdio.h>
#include <time.h>
int main(void) {
    struct timespec a, b, t;
    long long sink = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 1000000; i++) { clock_gettime(CLOCK_REALTIME, &t); sink += t.tv_nsec; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.2f %lld\n", ns / 1e6, sink & 1);
    return 0;
}
"#;

const LIST_C: &str = r#"
#include <dirent.h>
#include <stdio.h>
#include <time.h>
int main(int argc, char **argv) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    DIR *d = opendir(argv[1]);
    if (!d) return 2;
    long n = 0;
    while (readdir(d)) n++;
    closedir(d);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    printf("%.2f %ld\n", ms, n);
    return 0;
}
"#;

const ENTRIES: usize = 100_000;

pub fn run(ws: &Path, t: &mut Table) -> Result<()> {
    let shim = match std::env::var_os("DET_BENCH_SHIM") {
        Some(p) => PathBuf::from(p),
        None => shim_path(ws)?,
    };
    let tmp = std::env::temp_dir().join(format!("det-bench-shim-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let result = bench(&shim, &tmp, t);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn bench(shim: &Path, tmp: &Path, t: &mut Table) -> Result<()> {
    let clock = gcc(tmp, "clock", CLOCK_C)?;
    let list = gcc(tmp, "list", LIST_C)?;
    let log = tmp.join("shim.log");
    let log = log.to_str().context("temporary path is not UTF-8")?;

    println!("shim: {}", shim.display());
    println!("clock_gettime(CLOCK_REALTIME), 1,000,000 calls: ns per call (median of 5)");
    let case = "clock_gettime x 1,000,000 (the loop's time)";
    // ns per call over a million calls: the loop took that many milliseconds.
    let per_call = |v: &[f64]| {
        let d: Vec<Duration> = v
            .iter()
            .map(|ns| Duration::from_secs_f64(ns / 1000.0))
            .collect();
        Stats::of_durations(&d)
    };
    let runs = runs_of(&clock, &[], None, &[])?;
    let base = median(&runs);
    println!("  {:<38} {base:>8.2}", "no shim");
    t.add("shim", case, "no shim", per_call(&runs));
    for (label, env) in [
        ("shim, no setting (fall-through)", &[][..]),
        ("shim, DET_SHIM_TIME=0", &[("DET_SHIM_TIME", "0")][..]),
        (
            "shim, DET_SHIM_TIME=0+ (advancing)",
            &[("DET_SHIM_TIME", "0+")][..],
        ),
        (
            "shim, DET_SHIM_TIME=0 + DET_SHIM_LOG",
            &[("DET_SHIM_TIME", "0"), ("DET_SHIM_LOG", log)][..],
        ),
    ] {
        let runs = runs_of(&clock, &[], Some(shim), env)?;
        let v = median(&runs);
        println!("  {label:<38} {v:>8.2}  ({:+.2})", v - base);
        t.add("shim", case, label, per_call(&runs)).against = Some(("no shim".into(), None));
    }

    let dir = tmp.join("entries");
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for i in 0..ENTRIES {
        // Names in a scrambled order so sorting has work to do.
        let p = dir.join(format!("e{:06}", (i * 7919) % ENTRIES));
        std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?;
    }
    let d = dir.to_str().context("temporary path is not UTF-8")?;
    println!("listing a {ENTRIES}-entry directory (opendir + readdir): ms (median of 5)");
    let case = format!("listing a {ENTRIES}-entry directory");
    let ms = |v: &[f64]| {
        let d: Vec<Duration> = v
            .iter()
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .collect();
        Stats::of_durations(&d)
    };
    let runs = runs_of(&list, &[d], None, &[])?;
    let base = median(&runs);
    println!("  {:<38} {base:>8.2}", "no shim");
    t.add("shim", &case, "no shim", ms(&runs));
    for (label, env) in [
        ("shim, no setting (fall-through)", &[][..]),
        (
            "shim, DET_SHIM_READDIR=sorted",
            &[("DET_SHIM_READDIR", "sorted")][..],
        ),
        (
            "shim, DET_SHIM_READDIR=reverse",
            &[("DET_SHIM_READDIR", "reverse")][..],
        ),
        (
            "shim, DET_SHIM_READDIR=shuffle:1",
            &[("DET_SHIM_READDIR", "shuffle:1")][..],
        ),
    ] {
        let runs = runs_of(&list, &[d], Some(shim), env)?;
        let v = median(&runs);
        println!("  {label:<38} {v:>8.2}  ({:+.2})", v - base);
        t.add("shim", &case, label, ms(&runs)).against = Some(("no shim".into(), None));
    }
    Ok(())
}

/// cargo-det-build's shim, written to a cache under the target directory.
fn shim_path(ws: &Path) -> Result<PathBuf> {
    let target = super::target_dir(ws);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(ws)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "cargo-detbuild",
            "--",
            "shim-path",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env("DET_CACHE_DIR", target.join("bench-shim-cache"))
        .output()
        .context("running cargo run -p cargo-detbuild -- shim-path")?;
    if !out.status.success() {
        bail!(
            "cargo-det-build shim-path failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

fn gcc(dir: &Path, name: &str, source: &str) -> Result<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).with_context(|| format!("writing {}", src.display()))?;
    let exe = dir.join(name);
    let st = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .context("running gcc")?;
    if !st.success() {
        bail!("gcc failed on {}", src.display());
    }
    Ok(exe)
}

/// The first number printed by each of 5 runs of `exe`.
fn runs_of(
    exe: &Path,
    args: &[&str],
    shim: Option<&Path>,
    env: &[(&str, &str)],
) -> Result<Vec<f64>> {
    let mut values = Vec::new();
    for _ in 0..5 {
        let mut cmd = Command::new(exe);
        cmd.args(args).env_remove("LD_PRELOAD");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("DET_SHIM_") {
                cmd.env_remove(k);
            }
        }
        if let Some(s) = shim {
            cmd.env("LD_PRELOAD", s);
        }
        cmd.envs(env.iter().copied());
        let out = cmd
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        if !out.status.success() {
            bail!("{} failed: {}", exe.display(), out.status);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let v: f64 = text
            .split_whitespace()
            .next()
            .and_then(|x| x.parse().ok())
            .with_context(|| format!("{} printed {text:?}", exe.display()))?;
        values.push(v);
    }
    Ok(values)
}

/// The lower middle of the values (one that was measured).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}
