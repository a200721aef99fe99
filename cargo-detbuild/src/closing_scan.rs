//! The closing det-scan of a build's outputs: a brief summary on stderr; it fails the
//! build (exit 1) only with `--fail-on`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use det_common::detect::ScanOptions;
use det_common::hash::FileHash;

use crate::cli::FailOn;
use crate::status::Status;

/// How many findings are shown before "and N more".
const SHOWN: usize = 5;

/// Scan every output (relative to `target_dir`); true when `fail_on` is given and a
/// finding reaches it.
pub fn scan(
    target_dir: &Path,
    outputs: &BTreeMap<String, FileHash>,
    fail_on: Option<FailOn>,
    sde: i64,
    build_roots: Vec<String>,
    status: &Status,
) -> Result<bool> {
    let opts = ScanOptions {
        source_date_epoch: Some(sde),
        limits: Default::default(),
        build_roots,
        ..ScanOptions::default()
    };
    let mut findings = Vec::new();
    for (rel, h) in outputs {
        let path: PathBuf = target_dir.join(rel);
        let t = det_common::scan::ScanTarget {
            path,
            display: rel.clone(),
            size: h.size,
            identity: None,
            file: None,
        };
        match det_common::scan::scan_file(&t, &opts) {
            Ok(f) => findings.extend(f),
            Err(e) => status.warn(&format!("closing scan: {e}")),
        }
    }
    // Paths the Rust toolchain's own build left in the standard library (its CI's
    // checkout, the remapped /rustc/<commit>) are the same for every user of that
    // toolchain; canonical-root paths (/det/...) are the same on every machine. Neither
    // makes a build differ, so neither is shown or fails the build; they are counted. The
    // list is det-scan's (which does not report them at all): the two never disagree.
    let (same_everywhere, findings): (Vec<_>, Vec<_>) = findings.into_iter().partition(|f| {
        matches!(f.rule.id, "absolute-path" | "home-path")
            && det_common::detect::calibrate::same_on_every_machine(&f.evidence)
    });
    let floor = det_common::Severity::Medium;
    let threshold = fail_on.map(crate::cargo_build::threshold);
    let shown: Vec<_> = findings
        .iter()
        .filter(|f| f.severity() >= threshold.unwrap_or(floor).min(floor))
        .collect();
    let canonical_note = if same_everywhere.is_empty() {
        String::new()
    } else {
        format!(
            " ({} path(s) of the toolchain or the canonical root, the same on every machine)",
            same_everywhere.len()
        )
    };
    if shown.is_empty() {
        status.status(
            "Scanned",
            &format!(
                "{} output(s): nothing at medium or above{canonical_note}",
                outputs.len()
            ),
        );
    } else {
        status.status(
            "Scanned",
            &format!(
                "{} output(s): {} finding(s){canonical_note}",
                outputs.len(),
                shown.len()
            ),
        );
        for f in shown.iter().take(SHOWN) {
            let mut ev = f.evidence.clone();
            if ev.len() > 80 {
                let mut cut = 80;
                while !ev.is_char_boundary(cut) {
                    cut -= 1;
                }
                ev.truncate(cut);
                ev.push('…');
            }
            status.detail(&format!(
                "{}: {} ({:?}): {}",
                f.location.file,
                f.rule.id,
                f.severity(),
                ev.escape_debug()
            ));
        }
        if shown.len() > SHOWN {
            status.detail(&format!(
                "and {} more: cargo det-scan {}",
                shown.len() - SHOWN,
                target_dir.display()
            ));
        }
    }
    let failed = threshold.is_some_and(|t| findings.iter().any(|f| f.severity() >= t));
    if failed {
        status.error("the closing scan found outputs at or above --fail-on");
    }
    Ok(failed)
}
