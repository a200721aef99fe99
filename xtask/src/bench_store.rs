//! `cargo xtask bench store` (also in `cargo xtask bench`): what a det store hit costs. On
//! a generated project of a few binaries (no dependencies: nothing to download), side by
//! side, each the median of several runs, wall and CPU time (user + system of the whole
//! process tree):
//!
//! - a store hit in a second checkout at another path (its target directory empty): the
//!   closure computed, every output checked and put in place, cargo never started;
//! - the closure alone (`--print-closure`): the floor of a hit;
//! - a full `cargo det-build --store` from scratch (a miss: the build and the store write);
//! - a plain `cargo build` from scratch;
//! - a no-op `cargo build` of the already built project.
//!
//! The goal (issue 12): a hit well under a second for a project of a few binaries.

use crate::measure::{Stats, Table, measure_ok, repeat, success};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

const BINARIES: usize = 4;
const ROUNDS: usize = 5;
const PROFILE: &[&str] = &["--release"];

pub fn run(ws: &Path, t: &mut Table) -> Result<()> {
    super::cargo(ws, &["build", "--release", "-p", "cargo-detbuild"], &[])?;
    let det_build = super::target_dir(ws).join("release/cargo-det-build");
    let tmp = tempfile::tempdir()?;
    let a = tmp.path().join("a/store-bench");
    let b = tmp.path().join("second/checkout/store-bench");
    generate(&a)?;
    generate(&b)?;
    let store = tmp.path().join("store");
    let s = store
        .to_str()
        .context("a UTF-8 temporary path")?
        .to_string();

    println!(
        "\n== the det store: a hit against a full build and a no-op cargo build ({BINARIES} binaries, {PROFILE:?}, median of {ROUNDS}) =="
    );
    let det = |dir: &Path, extra: &[&str]| {
        let mut c = Command::new(&det_build);
        c.arg("det-build")
            .args(PROFILE)
            .args(extra)
            .current_dir(dir)
            .env("CARGO_NET_OFFLINE", "true")
            .env_remove("DET_STORE")
            .env_remove("CARGO_TARGET_DIR");
        c
    };
    let cargo = |dir: &Path| {
        let mut c = Command::new("cargo");
        c.arg("build")
            .args(PROFILE)
            .current_dir(dir)
            .env_remove("CARGO_TARGET_DIR");
        c
    };
    let clean = |dir: &Path| {
        let _ = std::fs::remove_dir_all(dir.join("target"));
    };

    // A full det-build from scratch with an empty store: the miss (build and store write).
    let full = repeat(1, ROUNDS, || {
        clean(&a);
        let _ = std::fs::remove_dir_all(&store);
        measure_ok(&mut det(&a, &["--store", &s]), success)
    })?;
    // The store now holds A's entry: B, at another path with an empty target, is a hit.
    let hit = repeat(1, ROUNDS, || {
        clean(&b);
        measure_ok(&mut det(&b, &["--store", &s]), success)
    })?;
    // It was a hit: a substitution, and no cargo fingerprints in B's target.
    clean(&b);
    let out = det(&b, &["--store", &s]).output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success()
        || !err.contains(&format!("Substituted {BINARIES} outputs"))
        || b.join("target/release/.fingerprint").exists()
    {
        bail!("the second checkout was not a store hit:\n{err}");
    }
    let closure = repeat(1, ROUNDS, || {
        measure_ok(&mut det(&b, &["--print-closure"]), success)
    })?;
    let scratch = repeat(1, ROUNDS, || {
        clean(&a);
        measure_ok(&mut cargo(&a), success)
    })?;
    let noop = repeat(1, ROUNDS, || measure_ok(&mut cargo(&a), success))?;

    let case = format!("{BINARIES} binaries, {}", PROFILE.join(" "));
    const MISS: &str = "det-build --store, a miss from scratch";
    let rows: [(&str, &Stats, Option<&str>); 5] = [
        ("det-build --store, a hit (2nd checkout)", &hit, Some(MISS)),
        ("det-build --print-closure", &closure, None),
        (MISS, &full, None),
        ("cargo build from scratch", &scratch, None),
        ("cargo build, nothing to do", &noop, None),
    ];
    println!("{:<42}{:>9}  {:>9}", "", "wall", "cpu");
    for (tool, st, against) in rows {
        println!(
            "{tool:<42}{:>8.2}s  {:>8.2}s",
            st.wall.as_secs_f64(),
            st.cpu.as_secs_f64()
        );
        let row = t.add("store", &case, tool, st.clone());
        if let Some(a) = against {
            row.against = Some((a.to_string(), None));
            row.note = Some(format!(
                "goal: well under 1 s; {:.1}x a no-op cargo build",
                hit.wall.as_secs_f64() / noop.wall.as_secs_f64().max(1e-9)
            ));
        }
    }
    Ok(())
}

/// A package of `BINARIES` binaries with some code each (no dependencies).
fn generate(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("src/bin"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"store-bench\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n",
    )?;
    std::fs::write(
        dir.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"store-bench\"\nversion = \"0.1.0\"\n",
    )?;
    let mut lib = String::from("//! Shared code of the store bench's binaries.\n");
    for i in 0..40 {
        lib.push_str(&format!(
            "pub fn f{i}(v: &[u64]) -> u64 {{ v.iter().enumerate().map(|(k, x)| x.wrapping_mul({i} + k as u64)).fold({i}, |a, b| a.rotate_left(5) ^ b) }}\n"
        ));
    }
    std::fs::write(dir.join("src/lib.rs"), lib)?;
    for b in 0..BINARIES {
        let mut main = String::from("use std::collections::BTreeMap;\n\nfn main() {\n");
        main.push_str("    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();\n    let mut m = BTreeMap::new();\n");
        for i in 0..40 {
            main.push_str(&format!(
                "    m.insert({i}, store_bench::f{i}(&args) + {b});\n"
            ));
        }
        main.push_str("    println!(\"{m:?}\");\n}\n");
        std::fs::write(dir.join(format!("src/bin/tool{b}.rs")), main)?;
    }
    Ok(())
}
