//! Ad-hoc throughput bench (ignored by default): the pattern detectors and the whole
//! `scan_node` against BLAKE3 over the same files, about 500 MB of real binaries from the
//! Rust toolchain (librustc_driver, rlibs). Run it optimized:
//!
//! `cargo test --release -p det-common --test scan_object_bench -- --ignored --nocapture`
//!
//! Each measurement runs over warm page cache (a first pass reads everything), files in
//! parallel (as det-scan walks them) and large buffers split in parallel inside.

use det_common::artifact::Node;
use det_common::detect::{ScanOptions, patterns, scan_node};
use det_common::{Finding, Location};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

fn corpus(limit: u64) -> Vec<PathBuf> {
    // DET_BENCH_DIR: every file under that directory instead (e.g. a source tree, for text).
    if let Some(dir) = std::env::var_os("DET_BENCH_DIR") {
        return walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file() && e.metadata().is_ok_and(|m| m.len() > 0))
            .map(|e| e.path().to_owned())
            .collect();
    }
    let home = std::env::var("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".rustup"));
    let mut files: Vec<(PathBuf, u64)> = walkdir::WalkDir::new(home.join("toolchains"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| Some((e.path().to_owned(), e.metadata().ok()?.len())))
        .filter(|(p, len)| {
            *len > 0
                && p.extension()
                    .is_some_and(|x| x == "so" || x == "rlib" || x == "a")
        })
        .collect();
    files.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut total = 0;
    files
        .into_iter()
        .take_while(|(_, len)| {
            total += len;
            total <= limit + len
        })
        .map(|(p, _)| p)
        .collect()
}

fn rate(bytes: u64, secs: f64) -> String {
    format!("{:.0} MB/s", bytes as f64 / 1e6 / secs)
}

#[test]
#[ignore = "a benchmark; run with --release -- --ignored --nocapture"]
fn pattern_and_scan_throughput_against_blake3() {
    let files = corpus(500_000_000);
    let nodes: Vec<Node> = files.iter().map(|p| Node::open(p).unwrap()).collect();
    let bytes: u64 = nodes.iter().map(|n| n.data.len() as u64).sum();
    assert!(
        bytes > 10_000_000,
        "too little to measure: {bytes} bytes in {} files",
        files.len()
    );
    // Warm the page cache.
    let _: u64 = nodes
        .par_iter()
        .map(|n| n.data.iter().step_by(4096).map(|&b| b as u64).sum::<u64>())
        .sum();

    let t = Instant::now();
    let hashes: Vec<_> = nodes
        .par_iter()
        .map(|n| {
            let mut h = blake3::Hasher::new();
            h.update_rayon(&n.data);
            h.finalize()
        })
        .collect();
    let b3 = t.elapsed().as_secs_f64();
    assert_eq!(hashes.len(), nodes.len());

    let opts = ScanOptions::default();
    let t = Instant::now();
    let raw: usize = nodes
        .par_iter()
        .map(|n| {
            let mut out = Vec::new();
            patterns::detect(&n.data, &Location::file(&n.name), &opts, &mut out);
            out.len()
        })
        .sum();
    let pat = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let scanned: usize = nodes
        .par_iter()
        .map(|n| {
            let mut out: Vec<Finding> = Vec::new();
            scan_node(n, &Location::file(&n.name), None, &opts, 0, &mut out);
            out.len()
        })
        .sum();
    let scan = t.elapsed().as_secs_f64();

    if std::env::var_os("DET_BENCH_DUMP").is_some() {
        // What the findings are: a sample per rule, to judge the noise on release binaries.
        let mut all: Vec<Finding> = Vec::new();
        for n in &nodes {
            scan_node(n, &Location::file(&n.name), None, &opts, 0, &mut all);
        }
        let mut by_rule = std::collections::BTreeMap::<&str, Vec<String>>::new();
        for f in &all {
            by_rule
                .entry(f.rule.id)
                .or_default()
                .push(format!("{:?} {}", f.location.section, f.evidence));
        }
        for (rule, mut ev) in by_rule {
            let n = ev.len();
            ev.sort();
            ev.dedup();
            eprintln!("{rule}: {n} findings, {} distinct", ev.len());
            for e in ev.iter().take(12) {
                eprintln!("    {}", e.chars().take(150).collect::<String>());
            }
        }
    }

    eprintln!(
        "{} files, {:.0} MB, {} threads",
        nodes.len(),
        bytes as f64 / 1e6,
        rayon::current_num_threads()
    );
    eprintln!("blake3:               {:.3} s  {}", b3, rate(bytes, b3));
    eprintln!(
        "patterns (raw bytes): {:.3} s  {}  ({raw} findings)  {:.2}x blake3",
        pat,
        rate(bytes, pat),
        b3 / pat
    );
    eprintln!(
        "scan_node (full):     {:.3} s  {}  ({scanned} findings)  {:.2}x blake3",
        scan,
        rate(bytes, scan),
        b3 / scan
    );
}
