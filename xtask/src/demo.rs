//! `cargo xtask demo`: det-scan at work. Builds testdata fixtures twice — the ordinary way
//! and with det's flags and environment — then scans both trees, so a newcomer sees in one
//! screen what det finds, where, and the fix, with the clean variant beside it.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The normalized build time the det variant is built with (2024-01-01T00:00:00Z).
const SOURCE_DATE_EPOCH: &str = "1704067200";

pub fn run(ws: &Path) -> Result<()> {
    let tools = super::setup::ensure_test_tools(ws)?;
    super::cargo(ws, &["build", "--quiet", "-p", "cargo-detscan"], &[])?;
    let scan = super::target_dir(ws).join("debug/cargo-det-scan");

    let demo = ws.join("target/demo");
    if demo.exists() {
        std::fs::remove_dir_all(&demo).with_context(|| format!("removing {}", demo.display()))?;
    }
    let ordinary = demo.join("ordinary");
    let det = demo.join("det");
    let work = demo.join("work");
    for d in [&ordinary, &det, &work] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let testdata = ws.join("testdata");

    // C with __DATE__/__TIME__: gcc reads the clock, unless SOURCE_DATE_EPOCH is set.
    let date_src = c_sources(&testdata.join("c-date-time"))?;
    sh(Command::new("gcc")
        .args(["-O1", "-o"])
        .arg(ordinary.join("date-time"))
        .args(&date_src))?;
    sh(Command::new("gcc")
        .args(["-O1", "-Wno-builtin-macro-redefined", "-o"])
        .arg(det.join("date-time"))
        .args(&date_src)
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH))?;

    // C with -g and __FILE__/assert: the build directory leaks unless a prefix map is given.
    let paths_dir = testdata.join("c-paths");
    let paths_src = c_sources(&paths_dir)?;
    let prefix_map = format!("-ffile-prefix-map={}=.", paths_dir.display());
    // gcc runs in the fixture's directory (DW_AT_comp_dir is the working directory).
    sh(Command::new("gcc")
        .args(["-g", "-O1", "-o"])
        .arg(ordinary.join("paths"))
        .args(&paths_src)
        .current_dir(&paths_dir))?;
    sh(Command::new("gcc")
        .args(["-g", "-O1", &prefix_map, "-o"])
        .arg(det.join("paths"))
        .args(&paths_src)
        .current_dir(&paths_dir))?;

    // The same C cross-compiled by zig cc to Windows (PE) and macOS (Mach-O). zig's linker
    // stamps PE files deterministically (/Brepro) already, and refuses __DATE__ unless told
    // (-Wno-date-time). With -g, the debug info of zig's own C runtime (built in zig's cache
    // under $HOME) and the Mach-O debug map (N_OSO: object paths and mtimes) leak; the det
    // variant maps the source path, strips (-s), and gives zig a cache of its own: zig's
    // cache key ignores SOURCE_DATE_EPOCH, so a shared cache would hand back the object
    // compiled with the clock.
    let zig = &tools.zig;
    let zig_cache = |variant: &str| work.join(format!("zig-cache-{variant}"));
    let zig_cc = |variant: &str| {
        let mut cmd = Command::new(zig);
        cmd.arg("cc")
            .env("ZIG_GLOBAL_CACHE_DIR", zig_cache(variant))
            .env("ZIG_LOCAL_CACHE_DIR", zig_cache(variant));
        cmd
    };
    sh(zig_cc("ordinary")
        .args(["-target", "x86_64-windows-gnu", "-O1", "-g", "-o"])
        .arg(ordinary.join("paths.exe"))
        .args(&paths_src))?;
    sh(zig_cc("det")
        .args([
            "-target",
            "x86_64-windows-gnu",
            "-O1",
            "-s",
            &prefix_map,
            "-o",
        ])
        .arg(det.join("paths.exe"))
        .args(&paths_src))?;
    sh(zig_cc("ordinary")
        .args([
            "-target",
            "aarch64-macos",
            "-O1",
            "-g",
            "-Wno-date-time",
            "-o",
        ])
        .arg(ordinary.join("date-time-macos"))
        .args(&date_src))?;
    sh(zig_cc("det")
        .args([
            "-target",
            "aarch64-macos",
            "-O1",
            "-s",
            "-Wno-date-time",
            "-o",
        ])
        .arg(det.join("date-time-macos"))
        .args(&date_src)
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH))?;

    // A static library: `ar rcU` keeps mtime, uid, gid and mode; `ar rcD` zeroes them.
    let obj = work.join("paths.o");
    sh(Command::new("gcc")
        .args(["-c", "-O1", &prefix_map, "-o"])
        .arg(&obj)
        .arg(&paths_src[0]))?;
    sh(Command::new("ar")
        .arg("rcU")
        .arg(ordinary.join("libpaths.a"))
        .arg(&obj))?;
    sh(Command::new("ar")
        .arg("rcD")
        .arg(det.join("libpaths.a"))
        .arg(&obj))?;

    // A wheel of testdata/py-pkg: zip entries keep file mtimes unless SOURCE_DATE_EPOCH is set.
    let py_pkg = work.join("py-pkg");
    copy_tree(&testdata.join("py-pkg"), &py_pkg)?;
    let wheel = |out: &Path, sde: Option<&str>| -> Result<()> {
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
        ])
        .arg(out)
        .arg(&py_pkg);
        match sde {
            Some(v) => cmd.env("SOURCE_DATE_EPOCH", v),
            None => cmd.env_remove("SOURCE_DATE_EPOCH"),
        };
        sh(&mut cmd)?;
        // pip leaves a build/ directory behind in the (copied) project; start each build clean.
        let _ = std::fs::remove_dir_all(py_pkg.join("build"));
        Ok(())
    };
    wheel(&ordinary, None)?;
    wheel(&det, Some(SOURCE_DATE_EPOCH))?;

    // A source tarball: tar keeps mtimes, owners and directory order; gzip its name and time.
    let tar_script = |out: &Path, deterministic: bool| -> Result<()> {
        let opts = if deterministic {
            format!("--sort=name --mtime=@{SOURCE_DATE_EPOCH} --owner=0 --group=0 --numeric-owner")
        } else {
            String::new()
        };
        let gzip = if deterministic { "gzip -n" } else { "gzip" };
        let script = format!(
            "tar -C \"$1\" {opts} -cf - . > \"$2.tar\" && {gzip} -f \"$2.tar\" && mv \"$2.tar.gz\" \"$3\""
        );
        sh(Command::new("sh")
            .args(["-c", &script, "sh"])
            .arg(testdata.join("c-paths"))
            .arg(work.join(if deterministic {
                "det-src"
            } else {
                "ordinary-src"
            }))
            .arg(out.join("c-paths-src.tar.gz")))
    };
    tar_script(&ordinary, false)?;
    tar_script(&det, true)?;

    println!("\n== det-scan on the ordinary builds (target/demo/ordinary) ==\n");
    let ordinary_code = show_scan(&scan, &demo, "ordinary")?;
    println!(
        "\n== det-scan on the same builds with det's flags and SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH} (target/demo/det) ==\n"
    );
    let det_code = show_scan(&scan, &demo, "det")?;
    println!(
        "\nordinary: det-scan exit {ordinary_code} (findings at high or above); with det's flags: exit {det_code}.\n\
         Formats: --format json|sarif|html. Every rule and fix: docs/rules.md."
    );
    if det_code != 0 {
        bail!(
            "the det variant should scan clean at the default --fail-on high, but det-scan exited {det_code}"
        );
    }
    verify_story(ws, &work)
}

/// The det-verify story: a build script that embeds the clock, rebuilt under variations with
/// plain cargo (not reproducible: the .rodata time, the culprit `time` found by extra builds,
/// the shim's log, the line and the fix), then with det-build (reproducible).
fn verify_story(ws: &Path, work: &Path) -> Result<()> {
    super::cargo(
        ws,
        &[
            "build",
            "--quiet",
            "-p",
            "cargo-detverify",
            "-p",
            "cargo-detbuild",
        ],
        &[],
    )?;
    let verify = super::target_dir(ws).join("debug/cargo-det-verify");
    let fixture = work.join("rust-buildrs-time");
    copy_tree(&ws.join("testdata/rust-buildrs-time"), &fixture)?;
    let run = |raw: bool| -> Result<i32> {
        let mut c = Command::new(&verify);
        c.arg("det-verify");
        if raw {
            c.arg("--raw");
        }
        // Release: no debug info, so the story is the clock alone.
        c.args(["--", "--release"]).current_dir(&fixture);
        let status = c
            .status()
            .with_context(|| format!("running {}", verify.display()))?;
        match status.code() {
            Some(code @ (0 | 1)) => Ok(code),
            _ => bail!("cargo det-verify failed ({status})"),
        }
    };
    println!(
        "\n== cargo det-verify --raw -- --release on testdata/rust-buildrs-time: plain cargo, rebuilt under variations ==\n"
    );
    let raw = run(true)?;
    println!("\n== cargo det-verify -- --release on the same fixture: through det-build ==\n");
    let det = run(false)?;
    println!(
        "\nplain cargo: det-verify exit {raw} (not reproducible); det-build: exit {det} (reproducible).\n\
         Formats: --format json|html. Any build: cargo det-verify --artifacts GLOB -- make."
    );
    if (raw, det) != (1, 0) {
        bail!(
            "expected plain cargo not reproducible (1) and det-build reproducible (0), got {raw} and {det}"
        );
    }
    Ok(())
}

fn show_scan(scan: &Path, demo: &Path, dir: &str) -> Result<i32> {
    let status = Command::new(scan)
        .args(["--min-severity", "medium", dir])
        .current_dir(demo)
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
        .status()
        .with_context(|| format!("running {}", scan.display()))?;
    match status.code() {
        Some(c @ (0 | 1)) => Ok(c),
        _ => bail!("det-scan failed on {dir} ({status})"),
    }
}

fn c_sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    v.sort();
    if v.is_empty() {
        bail!("{}: no C sources", dir.display());
    }
    Ok(v)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir(from)? {
        let rel = entry.strip_prefix(from).expect("walk stays below its root");
        let dest = to.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else {
            std::fs::create_dir_all(dest.parent().expect("a file has a parent"))?;
            std::fs::copy(&entry, &dest).with_context(|| format!("copying {}", entry.display()))?;
        }
    }
    Ok(())
}

fn walkdir(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(&out[i])
                .with_context(|| format!("reading {}", out[i].display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    Ok(out)
}

fn sh(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
