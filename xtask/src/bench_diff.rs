//! `cargo xtask bench`, det-verify diff's part: `cargo det-verify diff` beside `diffoscope`
//! on the same pairs, wall time and peak memory (max RSS) of each, in one table:
//! (a) a real crate (testdata/rust-cc-sys, C and Rust, debug info) built in two directories;
//! (b) two bytes patched in a 24 MiB shared library;
//! (c) two wheels that differ in their mtimes and one member.
//! Goals (issue 10): 50x faster than diffoscope on (a) and (c), reporting every section
//! diffoscope reports as differing; under 0.5 s on (b).
//!
//! diffoscope is Debian's; the set-up installs it when it is missing (apt-get).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub fn run(ws: &Path) -> Result<()> {
    super::cargo(ws, &["build", "--release", "-p", "cargo-detverify"], &[])?;
    let det = ws.join("target/release/cargo-det-verify");
    ensure_diffoscope()?;
    let tmp = tempfile::tempdir()?;
    let t = tmp.path();
    let pairs = [
        (
            "(a) rust-cc-sys, debug build in two directories",
            crate_pair(ws, t)?,
        ),
        ("(b) 24 MiB .so, two bytes patched", so_pair(t)?),
        (
            "(c) two wheels: mtimes and one member differ",
            wheel_pair(t)?,
        ),
    ];
    println!("\n== det-verify diff beside diffoscope ==");
    println!(
        "{:<50} {:>10} {:>9} {:>12} {:>9} {:>8}",
        "pair", "det s", "det MiB", "diffoscope s", "dfs MiB", "speedup"
    );
    for (what, (a, b)) in &pairs {
        let (dt, dm) = measure(
            Command::new(&det)
                .args(["diff", "--format", "text"])
                .arg(a)
                .arg(b),
        )?;
        let (ft, fm) = measure(
            Command::new("diffoscope")
                .arg("--no-progress")
                .arg(a)
                .arg(b),
        )?;
        println!(
            "{what:<50} {dt:>10.3} {:>9.1} {ft:>12.2} {:>9.1} {:>7.0}x",
            dm as f64 / 1024.0,
            fm as f64 / 1024.0,
            ft / dt
        );
        // What each tool reports as differing: det's sections against diffoscope's.
        let json = Command::new(&det)
            .args(["diff", "--format", "json"])
            .arg(a)
            .arg(b)
            .output()?;
        let v: serde_json::Value = serde_json::from_slice(&json.stdout)?;
        let mut sections: Vec<String> = v["differences"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|d| d["section"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        sections.sort();
        sections.dedup();
        println!(
            "    det: {}",
            v["summary"]["headline"].as_str().unwrap_or("")
        );
        println!("    det sections: {}", sections.join(" "));
    }
    println!("goals: (a), (c) >= 50x faster than diffoscope; (b) det under 0.5 s");
    Ok(())
}

fn ensure_diffoscope() -> Result<()> {
    if Command::new("diffoscope")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    let st = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "diffoscope"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("diffoscope is missing and apt-get could not run")?;
    if !st.success() {
        bail!("apt-get install diffoscope failed");
    }
    Ok(())
}

/// Wall seconds and max RSS (KiB) of `cmd`, through /usr/bin/time; exit 0 or 1 (differ).
fn measure(cmd: &mut Command) -> Result<(f64, u64)> {
    let rss = tempfile::NamedTempFile::new()?;
    let prog = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(rss.path())
        .arg(&prog)
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .with_context(|| format!("{} (is /usr/bin/time installed?)", prog.to_string_lossy()))?;
    let secs = start.elapsed().as_secs_f64();
    if !matches!(out.code(), Some(0 | 1)) {
        bail!("{} failed: {out}", prog.to_string_lossy());
    }
    let kib = std::fs::read_to_string(rss.path())?
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Ok((secs, kib))
}

fn sh(dir: &Path, prog: &str, args: &[&str]) -> Result<()> {
    let st = Command::new(prog).args(args).current_dir(dir).status()?;
    if !st.success() {
        bail!("{prog} {args:?} failed in {}", dir.display());
    }
    Ok(())
}

fn crate_pair(ws: &Path, t: &Path) -> Result<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for dir in ["a", "a-longer-checkout-b"] {
        let d = t.join(dir).join("rust-cc-sys");
        std::fs::create_dir_all(&d)?;
        sh(
            ws,
            "cp",
            &[
                "-a",
                ws.join("testdata/rust-cc-sys/.").to_str().unwrap(),
                d.to_str().unwrap(),
            ],
        )?;
        let st = Command::new("cargo")
            .args(["build", "--quiet", "--examples"])
            .current_dir(&d)
            .env("CARGO_TARGET_DIR", d.join("target"))
            .status()?;
        if !st.success() {
            bail!("cargo build of rust-cc-sys failed");
        }
        out.push(d.join("target/debug/examples/stamp"));
    }
    Ok((out[0].clone(), out[1].clone()))
}

fn so_pair(t: &Path) -> Result<(PathBuf, PathBuf)> {
    let d = t.join("so");
    std::fs::create_dir_all(&d)?;
    // 24 MiB of pseudo-random read-only data and some code: a large real shared library.
    let mut blob = vec![0u8; 24 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for c in blob.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
    }
    std::fs::write(d.join("blob.bin"), &blob)?;
    std::fs::write(
        d.join("lib.c"),
        "__asm__(\".section .rodata\\n.global blob\\nblob: .incbin \\\"blob.bin\\\"\\n.previous\\n\");\n\
         extern const unsigned char blob[];\n\
         const char *greeting(void) { return \"hello, reproducible world\"; }\n\
         unsigned char at(unsigned long i) { return blob[i]; }\n",
    )?;
    sh(
        &d,
        "gcc",
        &["-shared", "-fPIC", "-O2", "-g", "-o", "liba.so", "lib.c"],
    )?;
    let mut bytes = std::fs::read(d.join("liba.so"))?;
    let at = bytes
        .windows(5)
        .position(|w| w == b"hello")
        .context("no greeting")?;
    bytes[at] = b'j';
    bytes[at + 1] = b'E';
    std::fs::write(d.join("libb.so"), &bytes)?;
    Ok((d.join("liba.so"), d.join("libb.so")))
}

fn wheel_pair(t: &Path) -> Result<(PathBuf, PathBuf)> {
    let d = t.join("whl");
    std::fs::create_dir_all(&d)?;
    // 400 modules; side B is written a day later (every mtime differs) and one module changed.
    let script = r#"
import sys, zipfile
for side, day, changed in (("a", 1, "x = 1\n"), ("b", 2, "x = 2\n")):
    with zipfile.ZipFile(f"demo-1.0-py3-none-any-{side}.whl", "w", zipfile.ZIP_DEFLATED) as z:
        names = []
        for i in range(400):
            n = f"demo/m{i:03}.py"
            body = (changed if i == 7 else f"def f{i}():\n    return {i}\n") * 20
            z.writestr(zipfile.ZipInfo(n, (2024, 1, day, 12, 0, 0)), body, zipfile.ZIP_DEFLATED)
            names.append(n)
        rec = "".join(f"{n},,\n" for n in names) + "demo-1.0.dist-info/RECORD,,\n"
        z.writestr(zipfile.ZipInfo("demo-1.0.dist-info/RECORD", (2024, 1, day, 12, 0, 0)), rec)
"#;
    sh(&d, "python3", &["-c", script])?;
    Ok((
        d.join("demo-1.0-py3-none-any-a.whl"),
        d.join("demo-1.0-py3-none-any-b.whl"),
    ))
}
