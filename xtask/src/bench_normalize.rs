//! `cargo xtask bench normalize`: `cargo det-build normalize` beside Debian's
//! strip-nondeterminism on the same jars (made here by Python's zipfile: N deflated
//! entries in a scrambled order, real times, group-writable modes), at several sizes so
//! the scaling shows. Each run gets a fresh copy of the jar. det: the median of
//! [`DET_RUNS`]; strip-nondeterminism: one run per size, stopped after [`ANCHOR_TIMEOUT`]
//! (it grows about quadratically with the number of entries: on a loaded 2-core machine
//! 30 s at 4 000 entries, more than 11 minutes at 20 000). Then det-scan's findings at
//! medium or above on both results, and whether the two results are the same bytes.

use crate::measure::{Sample, Stats, Table, measure_limited};
use anyhow::{Result, bail};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SDE: &str = "1704067200";

/// Entries per jar: small enough for the anchor to finish, and the large one it does not.
const SIZES: [usize; 4] = [1_000, 2_000, 4_000, 20_000];
/// det's runs per size (the median is shown).
const DET_RUNS: usize = 5;
/// How long strip-nondeterminism gets per jar (one run).
const ANCHOR_TIMEOUT: Duration = Duration::from_secs(120);

const MAKE_JAR: &str = r#"
import random, sys, zipfile
random.seed(7)
out, n = sys.argv[1], int(sys.argv[2])
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\n')
    for i in range(n):
        pkg = 'com/example/p%03d' % (i % 400)
        body = (('class C%d { int f() { return %d; } }\n' % (i, i)) * random.randint(20, 200)).encode()
        body += random.randbytes(random.randint(1000, 6000))
        zi = zipfile.ZipInfo('%s/C%05d.class' % (pkg, (i * 7919) % n), (2026, 3, 4, 5, 6, 8))
        zi.external_attr = 0o100664 << 16
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, body)
"#;

/// Run `cmd` once on a fresh copy of `jar` at `work`, stopping it after `limit` (then `None`).
fn run_once(cmd: &mut Command, jar: &Path, work: &Path, limit: Duration) -> Result<Option<Sample>> {
    std::fs::copy(jar, work)?;
    match measure_limited(cmd, Some(limit))? {
        None => Ok(None),
        Some(m) if m.status.success() => Ok(Some(m.sample)),
        Some(m) => bail!(
            "{cmd:?} failed ({}): {}",
            m.status,
            String::from_utf8_lossy(&m.stderr)
        ),
    }
}

pub fn run(ws: &Path, t: &mut Table) -> Result<()> {
    super::cargo(ws, &["build", "--release", "-p", "cargo-detbuild"], &[])?;
    let det = super::target_dir(ws).join("release/cargo-det-build");
    let sn = det_common::toolchain::find_on_path("strip-nondeterminism");
    if sn.is_none() {
        println!(
            "strip-nondeterminism is not installed (apt-get install strip-nondeterminism): det alone"
        );
    }
    let dir = tempfile::tempdir()?;
    println!(
        "jars made by Python zipfile (deflated classes, scrambled order, real times); \
         det: median of {DET_RUNS} runs; strip-nondeterminism: 1 run, stopped after {} s",
        ANCHOR_TIMEOUT.as_secs()
    );
    println!(
        "{:>8} {:>8}   {:>10} {:>14}   {:>9}   {:>13}   same bytes",
        "entries", "MiB", "det", "strip-nondet.", "speed-up", "findings det/sn"
    );
    for n in SIZES {
        let jar = dir.path().join(format!("in-{n}.jar"));
        let st = Command::new("python3")
            .args(["-c", MAKE_JAR])
            .arg(&jar)
            .arg(n.to_string())
            .status()?;
        if !st.success() {
            bail!("python3 could not make the benchmark jar");
        }
        let size = std::fs::metadata(&jar)?.len() as f64 / (1024.0 * 1024.0);
        let work = dir.path().join(format!("work-{n}.jar"));
        let mut det_cmd = Command::new(&det);
        det_cmd
            .args(["det-build", "normalize", "-q", "--source-date-epoch", SDE])
            .arg(&work);
        let mut samples = Vec::new();
        for _ in 0..DET_RUNS {
            samples.extend(run_once(
                &mut det_cmd,
                &jar,
                &work,
                Duration::from_secs(3600),
            )?);
        }
        let det_s = Stats::of(&samples);
        let det_t = det_s.wall;
        let case = format!("jar, {n} entries, {size:.0} MiB");
        let det_findings = findings(&work)?;
        let det_out = std::fs::read(&work)?;
        let (sn_cell, speedup, sn_findings, same) = match &sn {
            None => ("-".to_string(), "-".to_string(), "-".to_string(), "-"),
            Some(sn) => {
                let mut c = Command::new(sn);
                c.arg(format!("--timestamp={SDE}")).arg(&work);
                match run_once(&mut c, &jar, &work, ANCHOR_TIMEOUT)? {
                    Some(s) => {
                        t.add("normalize", &case, "strip-nondeterminism", Stats::of(&[s]));
                        let t = s.wall;
                        (
                            format!("{:.2} s", t.as_secs_f64()),
                            format!("{:.1}x", t.as_secs_f64() / det_t.as_secs_f64()),
                            findings(&work)?.to_string(),
                            if std::fs::read(&work)? == det_out {
                                "yes"
                            } else {
                                "no"
                            },
                        )
                    }
                    None => (
                        format!("> {} s", ANCHOR_TIMEOUT.as_secs()),
                        format!(
                            "> {:.0}x",
                            ANCHOR_TIMEOUT.as_secs_f64() / det_t.as_secs_f64()
                        ),
                        "-".to_string(),
                        "-",
                    ),
                }
            }
        };
        let row = t.add("normalize", &case, "cargo det-build normalize", det_s);
        if sn_cell.starts_with('>') {
            row.note = Some(format!("strip-nondeterminism {sn_cell} (stopped)"));
        } else if sn_cell != "-" {
            row.against = Some(("strip-nondeterminism".into(), None));
        }
        println!(
            "{n:>8} {size:>8.1}   {:>8.2} s {sn_cell:>14}   {speedup:>9}   {:>13}   {same}",
            det_t.as_secs_f64(),
            format!("{det_findings}/{sn_findings}"),
        );
    }
    println!(
        "(findings: det-scan's at medium or above on the result, with the same SOURCE_DATE_EPOCH)"
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
