//! Malformed object files never panic: real gcc/zig outputs with bytes overwritten at
//! random (a fixed-seed generator, so a failure names a reproducible case), mostly in the
//! headers, load commands and section tables where the parsers make their decisions.

use det_common::artifact::{Bytes, Node};
use det_common::detect::{ScanOptions, scan_node};
use det_common::{Finding, Location};
use std::path::Path;
use std::process::Command;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate_and_scan(what: &str, original: &[u8], rounds: u64) {
    for seed in 1..=rounds {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut d = original.to_vec();
        for _ in 0..1 + rng.below(8) {
            // Three times in four, hit the first 4 KiB: headers and tables live there.
            let span = if rng.below(4) < 3 {
                d.len().min(4096)
            } else {
                d.len()
            };
            let at = rng.below(span);
            d[at] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                2 => d[at].wrapping_add(1 + rng.below(3) as u8),
                _ => rng.next() as u8,
            };
        }
        if rng.below(4) == 0 {
            let keep = rng.below(d.len());
            d.truncate(keep);
        }
        let node = Node::new("m", Bytes::from_vec(d));
        let result = std::panic::catch_unwind(|| {
            let mut out: Vec<Finding> = Vec::new();
            scan_node(
                &node,
                &Location::file("m"),
                None,
                &ScanOptions::default(),
                0,
                &mut out,
            );
        });
        assert!(
            result.is_ok(),
            "{what}: scanning mutation seed {seed} panicked"
        );
    }
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn source_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/c-paths")
}

#[test]
fn mutated_elf_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("paths");
    run(Command::new("gcc")
        .args(["-O2", "-g", "-o"])
        .arg(&out)
        .arg(source_dir().join("main.c")));
    mutate_and_scan("ELF", &std::fs::read(&out).unwrap(), 400);
    let obj = d.path().join("paths.o");
    run(Command::new("gcc")
        .args(["-O2", "-g", "-gz=zlib", "-c", "-o"])
        .arg(&obj)
        .arg(source_dir().join("main.c")));
    mutate_and_scan(
        "ELF object, compressed DWARF",
        &std::fs::read(&obj).unwrap(),
        400,
    );
}

#[test]
fn mutated_macho_and_pe_never_panic() {
    let Some(zig) = det_common::toolchain::zig_for_test("mutated_macho_and_pe_never_panic") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    for (target, name, extra) in [
        ("aarch64-macos", "m", None),
        ("x86_64-windows-gnu", "p.exe", None),
        ("x86_64-windows-gnu", "p.obj", Some("-c")),
    ] {
        let out = d.path().join(name);
        let mut cmd = Command::new(&zig);
        cmd.args(["cc", "-target", target, "-O2", "-g"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(source_dir().join("main.c"));
        cmd.current_dir(d.path());
        run(&mut cmd);
        mutate_and_scan(target, &std::fs::read(&out).unwrap(), 400);
    }
}
