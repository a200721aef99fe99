//! A multi-GiB file scans in bounded memory: the content detectors read the memory map in
//! windows and hand the pages behind each window back to the kernel.
//!
//! The file is sparse (File::set_len), so it takes no disk, but every page read from it
//! still occupies memory while mapped: without the release, the peak RSS of this test would
//! grow with the file size (4 GiB). Peak RSS is VmHWM from /proc/self/status; this file holds
//! a single test so that no other test shares the process.

use det_common::artifact::Node;
use det_common::detect::{ScanOptions, scan_node};
use det_common::{Finding, Location};
use std::io::{Seek, SeekFrom, Write};

fn vm_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn sparse_4gib_file_scans_in_bounded_rss() {
    const SIZE: u64 = 4 << 30;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    f.set_len(SIZE).unwrap();
    // A few leaks spread over the file, one straddling a 64 MiB window boundary.
    let marks: [(u64, &[u8]); 3] = [
        (1 << 20, b"\0/home/alice/proj/main.c\0"),
        ((64 << 20) - 8, b"\0Nov 23 2026\0"),
        (SIZE - 4096, b"\0/tmp/build-7/x.o\0"),
    ];
    for (at, m) in marks {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(m).unwrap();
    }
    drop(f);

    let before = vm_kib("VmHWM:");
    let node = Node::open(&path).unwrap();
    let mut out: Vec<Finding> = Vec::new();
    scan_node(
        &node,
        &Location::file("sparse.bin"),
        None,
        &ScanOptions::default(),
        0,
        &mut out,
    );
    let after = vm_kib("VmHWM:");
    let grew_mib = after.saturating_sub(before) / 1024;
    eprintln!(
        "peak RSS before {} MiB, after {} MiB (+{grew_mib} MiB) for a {} MiB file",
        before / 1024,
        after / 1024,
        SIZE >> 20
    );

    let got: Vec<_> = out
        .iter()
        .map(|f| (f.rule.id, f.location.offset.unwrap(), f.evidence.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("home-path", (1 << 20) + 1, "/home/alice/proj/main.c"),
            ("date-time-macro", (64 << 20) - 7, "Nov 23 2026"),
            ("absolute-path", SIZE - 4095, "/tmp/build-7/x.o"),
        ]
    );
    assert!(
        grew_mib < 400,
        "peak RSS grew by {grew_mib} MiB scanning a {} MiB file",
        SIZE >> 20
    );
}
