//! `cargo xtask bench`, the hashing part: the throughput of det's tree hashing (BLAKE3 + SHA-256 per file,
//! parallel, memory-mapped above 1 MiB) on a generated ~1 GiB tree of mixed file sizes,
//! beside `b3sum` (when installed) and `sha256sum` on the same files. Prints figures; it is
//! a benchmark, not a test.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::measure::{Sample, Stats, Table, measure_ok, repeat, success};
use anyhow::{Context, Result};

/// (number of files, size of each): 256 MiB per class, 1 GiB in all, from a few huge
/// outputs (memory-mapped, hashed in parallel inside the file) to many small sources
/// (read through a buffer, parallel across files).
const CLASSES: &[(usize, usize)] = &[
    (2, 128 << 20),
    (64, 4 << 20),
    (2048, 128 << 10),
    (16384, 16 << 10),
];

/// Files per directory, so the walk sees a realistic shape rather than one huge directory.
const FILES_PER_DIR: usize = 256;

pub fn run(ws: &Path, t: &mut Table) -> Result<()> {
    // det's hashing as released: the optimized xtask's hidden `hash-tree` job, a process of
    // its own so its CPU time and peak memory are measured like the other tools'.
    super::cargo(ws, &["build", "--release", "-p", "xtask"], &[])?;
    let xtask = super::target_dir(ws).join("release/xtask");
    let parent = ws.join("target");
    fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("det-bench-hash.")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temp dir in {}", parent.display()))?;
    let root = dir.path();

    let start = Instant::now();
    let (files, bytes) = generate(root)?;
    println!(
        "tree: {} files, {:.0} MiB in {} (written in {:.1} s)",
        files.len(),
        mib(bytes),
        root.display(),
        start.elapsed().as_secs_f64()
    );
    let case = format!(
        "generated tree, {} files, {:.0} MiB",
        files.len(),
        mib(bytes)
    );
    let mut hash = || measure_ok(Command::new(&xtask).arg("hash-tree").arg(root), success);

    // Cold-ish: ask the kernel to drop the files' cached pages (no root needed, unlike
    // drop_caches). The kernel may keep some, and the disk may have its own cache.
    let evicted = evict(&files);
    let cold = Stats::of(&[hash()?]);
    let cold_name = if evicted {
        "det hash_tree, cold-ish (evicted)"
    } else {
        "det hash_tree, first run"
    };
    report(cold_name, bytes, &cold);
    t.add("hash", &case, cold_name, cold).bytes = Some(bytes);
    let warm = repeat(0, 3, &mut hash)?;
    report("det hash_tree, warm (median of 3)", bytes, &warm);
    t.add("hash", &case, "det hash_tree, warm", warm).bytes = Some(bytes);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("  ({threads} threads; BLAKE3 and SHA-256 of every file, sorted walk, root hash)");

    for (tool, label) in [
        ("b3sum", "b3sum (BLAKE3 only)"),
        ("sha256sum", "sha256sum (one thread)"),
    ] {
        match det_common::toolchain::find_on_path(tool) {
            Some(path) => {
                let s = repeat(0, 3, || run_batched(&path, &files))?;
                report(&format!("{label}, warm (median of 3)"), bytes, &s);
                let r = t.add("hash", &case, label, s);
                r.bytes = Some(bytes);
                r.against = Some(("det hash_tree, warm".into(), None));
            }
            None => println!("{tool}: not installed, skipped"),
        }
    }
    dir.close().context("removing the benchmark tree")?;
    Ok(())
}

/// Write the tree: deterministic pseudo-random content (incompressible, so no file system
/// or disk can shortcut it), in directories of [`FILES_PER_DIR`] files.
fn generate(root: &Path) -> Result<(Vec<PathBuf>, u64)> {
    let mut files = Vec::new();
    let mut bytes = 0u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = Vec::new();
    for (class, &(count, size)) in CLASSES.iter().enumerate() {
        for i in 0..count {
            let dir = root.join(format!("c{class}/d{:03}", i / FILES_PER_DIR));
            if i % FILES_PER_DIR == 0 {
                fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            let path = dir.join(format!("f{i:05}.bin"));
            fill(&mut buf, size, &mut rng);
            let mut f =
                fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            f.write_all(&buf)
                .with_context(|| format!("writing {}", path.display()))?;
            files.push(path);
            bytes += size as u64;
        }
    }
    Ok((files, bytes))
}

fn fill(buf: &mut Vec<u8>, size: usize, state: &mut u64) {
    buf.clear();
    buf.resize(size.next_multiple_of(8), 0);
    for word in buf.chunks_exact_mut(8) {
        // xorshift64: fast, and good enough to defeat compression.
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        word.copy_from_slice(&state.to_le_bytes());
    }
    buf.truncate(size);
}

/// Flush every file and drop its pages from the page cache (posix_fadvise DONTNEED), so
/// the next read comes from the disk. Returns false where that is not possible.
fn evict(files: &[PathBuf]) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        files.iter().all(|p| {
            let Ok(f) = fs::File::open(p) else {
                return false;
            };
            // Dirty pages cannot be dropped: write them out first.
            if f.sync_all().is_err() {
                return false;
            }
            // SAFETY: a plain syscall on a file descriptor we own for its duration.
            unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) == 0 }
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = files;
        false
    }
}

/// Run `tool` on every file, in batches that stay well under the argument-size limit: the
/// batches' times summed, the largest peak memory.
pub fn run_batched(tool: &Path, files: &[PathBuf]) -> Result<Sample> {
    let mut sum = Sample {
        wall: Duration::ZERO,
        cpu: Duration::ZERO,
        max_rss_kib: 0,
    };
    for chunk in files.chunks(1000) {
        let s = measure_ok(Command::new(tool).args(chunk), success)?;
        sum.wall += s.wall;
        sum.cpu += s.cpu;
        sum.max_rss_kib = sum.max_rss_kib.max(s.max_rss_kib);
    }
    Ok(sum)
}

fn report(what: &str, bytes: u64, s: &Stats) {
    println!(
        "{what:<45} {:>7.0} MiB/s  ({:.2} s)",
        mib(bytes) / s.wall.as_secs_f64(),
        s.wall.as_secs_f64()
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
