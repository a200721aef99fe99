//! `cargo xtask bench`, the normalize part: `cargo det-build normalize` beside Debian's
//! strip-nondeterminism on the same large jar (made here by Python's zipfile: 20 000
//! deflated entries in file-system order, real times, group-writable modes, ~120 MiB), each
//! given a fresh copy per run (best of 3), then det-scan's findings at medium or above on
//! both results.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SDE: &str = "1704067200";

const MAKE_JAR: &str = r#"
import os, random, sys, zipfile
random.seed(7)
out = sys.argv[1]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\n')
    for i in range(20000):
        pkg = 'com/example/p%03d' % (i % 400)
        body = (('class C%d { int f() { return %d; } }\n' % (i, i)) * random.randint(20, 200)).encode()
        body += random.randbytes(random.randint(1000, 6000))
        zi = zipfile.ZipInfo('%s/C%05d.class' % (pkg, (i * 7919) % 20000), (2026, 3, 4, 5, 6, 8))
        zi.external_attr = 0o100664 << 16
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, body)
"#;

pub fn run(ws: &Path) -> Result<()> {
    super::cargo(ws, &["build", "--release", "-p", "cargo-detbuild"], &[])?;
    let det = ws.join("target/release/cargo-det-build");
    let Some(sn) = det_common::toolchain::find_on_path("strip-nondeterminism") else {
        println!(
            "strip-nondeterminism is not installed (apt-get install strip-nondeterminism): skipped"
        );
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let jar = dir.path().join("big.jar");
    let st = Command::new("python3")
        .args(["-c", MAKE_JAR])
        .arg(&jar)
        .status()?;
    if !st.success() {
        bail!("python3 could not make the benchmark jar");
    }
    let size = std::fs::metadata(&jar)?.len();
    println!(
        "input: a jar of 20 000 deflated entries, {:.0} MiB (Python zipfile)",
        size as f64 / (1024.0 * 1024.0)
    );
    let work = dir.path().join("work.jar");
    let timed = |cmd: &mut Command| -> Result<Duration> {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            std::fs::copy(&jar, &work)?;
            let start = Instant::now();
            let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
            let t = start.elapsed();
            if !out.status.success() {
                bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            best = best.min(t);
        }
        Ok(best)
    };
    let det_t = timed(
        Command::new(&det)
            .args(["det-build", "normalize", "-q", "--source-date-epoch", SDE])
            .arg(&work),
    )?;
    let det_findings = findings(&work)?;
    let det_out = std::fs::read(&work)?;
    let sn_t = timed(
        Command::new(&sn)
            .arg(format!("--timestamp={SDE}"))
            .arg(&work),
    )?;
    let sn_findings = findings(&work)?;
    println!(
        "cargo det-build normalize   {:>7.2} s   det-scan findings (medium+): {}",
        det_t.as_secs_f64(),
        det_findings
    );
    println!(
        "strip-nondeterminism        {:>7.2} s   det-scan findings (medium+): {}",
        sn_t.as_secs_f64(),
        sn_findings
    );
    println!(
        "speed-up                    {:>7.1}x   (outputs identical: {})",
        sn_t.as_secs_f64() / det_t.as_secs_f64(),
        det_out == std::fs::read(&work)?
    );
    Ok(())
}

/// det-scan's findings at medium or above, judged with the same SOURCE_DATE_EPOCH.
fn findings(path: &Path) -> Result<usize> {
    use det_common::detect::{ScanOptions, scan_node};
    let opts = ScanOptions {
        source_date_epoch: Some(SDE.parse()?),
        ..ScanOptions::default()
    };
    let node = det_common::artifact::Node::open(path)?;
    let mut out = Vec::new();
    scan_node(
        &node,
        &det_common::finding::Location::file("bench.jar"),
        None,
        &opts,
        0,
        &mut out,
    );
    Ok(out
        .iter()
        .filter(|f| f.severity() >= det_common::rules::Severity::Medium)
        .count())
}
