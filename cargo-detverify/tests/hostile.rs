//! Hostile input to `cargo det-verify compare` (issue 7): inputs that are not files, values
//! that would rewrite a terminal, hashes that are not hashes. Run as a child process of the
//! real binary, bounded to 5 s and 512 MiB of peak RSS (harness shared with det-scan's suite).

#[path = "../../cargo-detscan/tests/hostile_support/mod.rs"]
mod hostile_support;

use det_common::env::{BuildEnv, SourceDateEpoch, SourceDateEpochSource};
use det_common::hash::hash_bytes;
use det_common::manifest::{Manifest, write_manifest};
use hostile_support::*;
use std::path::PathBuf;

fn bin() -> PathBuf {
    binary(env!("CARGO_BIN_EXE_cargo-det-verify"))
}

fn manifest() -> Manifest {
    let sde = SourceDateEpoch {
        value: 1_700_000_000,
        source: SourceDateEpochSource::Flag,
    };
    let mut m = Manifest::new(sde, BuildEnv::fixed(&sde));
    m.outputs.insert("app".into(), hash_bytes(b"app"));
    m
}

#[test]
fn dev_zero_and_a_fifo_as_manifests() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    write_manifest(&a, &manifest()).unwrap();
    let a = a.to_str().unwrap();
    if let Some(run) = case(
        "compare-dev-zero",
        &bin(),
        &["compare", "/dev/zero", a],
        dir.path(),
    ) {
        assert_eq!(run.code, Some(2), "{}", run.stderr());
        assert!(run.stderr().contains("/dev/zero"), "{}", run.stderr());
    }
    // A FIFO fed without end: read up to the manifest limit, never more.
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let feeder = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                let block = [b' '; 65536];
                while f.write_all(&block).is_ok() {}
            }
        })
    };
    if let Some(run) = case(
        "compare-endless-fifo",
        &bin(),
        &[
            "compare",
            "--max-manifest-size",
            "16",
            fifo.to_str().unwrap(),
            a,
        ],
        dir.path(),
    ) {
        assert_eq!(run.code, Some(2), "{}", run.stderr());
        assert!(
            run.stderr().contains("larger than 16 MiB")
                && run.stderr().contains("--max-manifest-size"),
            "{}",
            run.stderr()
        );
    }
    // The reader is gone: unblock a writer still waiting in open.
    let _ = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&fifo);
    feeder.join().unwrap();
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

#[test]
fn manifest_values_cannot_reach_the_terminal_raw() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    write_manifest(&a, &manifest()).unwrap();
    let mut m = manifest();
    m.outputs.insert(
        "x\u{1b}]0;pwned\u{7}\u{202e}\u{2060}\u{e0041}".into(),
        hash_bytes(b"x"),
    );
    m.env.insert("TZ".into(), "\u{1b}[2J".into());
    write_manifest(&b, &m).unwrap();
    for format in ["text", "json"] {
        let Some(run) = case(
            &format!("compare-escapes-{format}"),
            &bin(),
            &[
                "compare",
                "--format",
                format,
                a.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
            dir.path(),
        ) else {
            continue;
        };
        assert_eq!(run.code, Some(1), "{}", run.stderr());
        let out = run.stdout();
        for raw in ['\u{1b}', '\u{7}', '\u{202e}', '\u{2060}', '\u{e0041}'] {
            assert!(!out.contains(raw), "{format}: raw {raw:?} in {out}");
        }
        assert!(out.contains("pwned"), "{out}");
    }
}

#[test]
fn hashes_that_are_not_hex_are_rejected() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    write_manifest(&a, &manifest()).unwrap();
    let mut m = manifest();
    m.outputs.get_mut("app").unwrap().blake3 = "\u{1b}]0;pwned\u{7}\u{1b}[2J".into();
    let b = dir.path().join("b.json");
    write_manifest(&b, &m).unwrap();
    let Some(run) = case(
        "compare-non-hex-hash",
        &bin(),
        &["compare", a.to_str().unwrap(), b.to_str().unwrap()],
        dir.path(),
    ) else {
        return;
    };
    assert_eq!(run.code, Some(2), "{}", run.stderr());
    let err = run.stderr();
    assert!(err.contains("not a 64-digit lowercase hex hash"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
}
