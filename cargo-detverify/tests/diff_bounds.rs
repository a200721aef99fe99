//! `cargo det-verify diff` on inputs that are large where it does not matter: decompression
//! bombs inside containers (a gzip bomb in a tar, a zip entry of zeros), different on the
//! two sides, and two directories of many small files of which a few differ. Each case runs
//! the real binary as a child process bounded in wall time and peak RSS (the child's
//! `ru_maxrss`, the harness shared with det-scan's hostile-input suite) and checks the exact
//! differences reported.
//!
//! Under `cargo test` the inputs are small enough for a debug build on a loaded machine;
//! `DET_DIFF_FULL=1` runs the full sizes (bombs of 4 GiB, 100 000 files a side), with the
//! same checks, best with a release binary: `DET_HOSTILE_BIN=target/release/cargo-det-verify
//! DET_DIFF_FULL=1 cargo test --test diff_bounds`.

#[path = "../../cargo-detscan/tests/hostile_support/mod.rs"]
mod hostile_support;

use hostile_support::{HANG_SECONDS, Run, binary, run_bounded, serial};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> PathBuf {
    binary(env!("CARGO_BIN_EXE_cargo-det-verify"))
}

fn full() -> bool {
    std::env::var_os("DET_DIFF_FULL").is_some()
}

/// The bounds of one case: CPU seconds (all threads; load-independent, unlike wall time)
/// and peak RSS in MiB.
fn bounds() -> (f64, u64) {
    if full() { (60.0, 512) } else { (10.0, 256) }
}

/// Run `cargo det-verify diff --format json args` in `dir` within [`bounds`].
fn diff(name: &str, args: &[&str], dir: &Path) -> (Run, Value) {
    let (secs, mib) = bounds();
    let mut all = vec!["diff", "--format", "json"];
    all.extend_from_slice(args);
    let run = run_bounded(&bin(), &all, dir, HANG_SECONDS, mib * 2);
    eprintln!(
        "{name}: {:.2} s CPU ({:.2} s wall), {} MiB peak RSS, exit {:?}",
        run.cpu_seconds, run.seconds, run.peak_rss_mib, run.code
    );
    assert!(
        run.killed_by_harness.is_none() && run.cpu_seconds <= secs && run.peak_rss_mib <= mib,
        "{name}: {:.2} s CPU, {} MiB peak RSS ({:?}); bounds {secs} s CPU, {mib} MiB\nstderr: {}",
        run.cpu_seconds,
        run.peak_rss_mib,
        run.killed_by_harness,
        run.stderr()
    );
    assert_eq!(run.code, Some(1), "{name}: {}", run.stderr());
    let v: Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{name}: not JSON ({e}); stderr: {}", run.stderr()));
    (run, v)
}

fn diffs(v: &Value) -> &Vec<Value> {
    v["differences"].as_array().unwrap()
}

fn python(dir: &Path, script: &str, args: &[&str]) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required by this test ({e}); `cargo xtask setup`"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The bombs of both sides, written without holding them: raw deflate segments of 16 MiB of
/// zeros, each ended by a full flush so that they can be repeated, then a final block. Side
/// B's first segment holds a build time 1000 bytes in, so the two differ within the part
/// det decompresses before its limits stop it, and again at their ends (the trailers).
/// `a.tar`/`b.tar` hold `pkg/bomb.gz` and `pkg/same.txt`; `a.zip`/`b.zip` an entry
/// `zeros.bin` (deflated, its headers claiming 1000 bytes) and `same.txt`.
const MAKE_BOMBS: &str = r#"
import io, struct, sys, tarfile, zipfile, zlib
mib = int(sys.argv[1])
def deflated(marker):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = bytearray(16 << 20)
    first[1000:1000 + len(marker)] = marker
    head = c.compress(bytes(first)) + c.flush(zlib.Z_FULL_FLUSH)
    seg = c.compress(bytes(16 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return head + seg * (mib // 16 - 1) + c.flush()
for side, marker, crc in (("a", b"", 1), ("b", b"built 2024-03-09T16:00:00Z", 2)):
    data = deflated(marker)
    gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + data + struct.pack("<II", crc, (mib << 20) & 0xffffffff)
    with tarfile.open(f"{side}.tar", "w", format=tarfile.GNU_FORMAT) as t:
        for name, body in (("pkg/bomb.gz", gz), ("pkg/same.txt", b"same\n")):
            i = tarfile.TarInfo(name)
            i.size, i.mtime, i.mode = len(body), 1700000000, 0o644
            t.addfile(i, io.BytesIO(body))
    # A zip entry of `mib` MiB, deflated, its headers lying about the size (1000 bytes), so
    # that only counting the output while inflating stops it.
    name = b"zeros.bin"
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0x21, crc,
                        len(data), 1000, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(data), 1000, len(name), 0, 0, 0, 0, 0, 0) + name
    same = b"same\n"
    scrc = zlib.crc32(same)
    local2 = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0x21, scrc,
                         len(same), len(same), 8, 0) + b"same.txt"
    off2 = len(local) + len(data)
    central2 = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 0, 0, 0x21, scrc,
                           len(same), len(same), 8, 0, 0, 0, 0, 0, off2) + b"same.txt"
    with open(f"{side}.zip", "wb") as f:
        f.write(local + data + local2 + same)
        cd = off2 + len(local2) + len(same)
        f.write(central + central2)
        f.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 2, 2, len(central) + len(central2), cd, 0))
"#;

#[test]
fn decompression_bombs_inside_containers_on_both_sides() {
    let _serial = serial();
    let t = tempfile::tempdir().unwrap();
    let mib = if full() { 4096 } else { 256 };
    python(t.path(), MAKE_BOMBS, &[&mib.to_string()]);

    for (ext, member) in [("tar", "pkg/bomb.gz"), ("zip", "zeros.bin")] {
        let (a, b) = (format!("a.{ext}"), format!("b.{ext}"));
        // Default limits: the ratio stops both sides after about 1 MiB of output.
        let (_, v) = diff(&format!("bomb-in-{ext}"), &[&a, &b], t.path());
        let errors: Vec<&Value> = diffs(&v).iter().filter(|d| d["kind"] == "error").collect();
        assert!(!errors.is_empty(), "{ext}: {v:#}");
        for e in &errors {
            assert_eq!(e["container"][0], member, "{e:#}");
            let s = e["summary"].as_str().unwrap();
            assert!(
                s.contains("compression ratio above 1000:1") && s.contains("--max-ratio"),
                "{s}"
            );
        }
        // What could be read is compared: the build time 1000 bytes in, nothing else of the
        // member but the limit, and the other member is equal.
        let content: Vec<&Value> = diffs(&v)
            .iter()
            .filter(|d| d["kind"] == "bytes" && d["container"][0] == member)
            .collect();
        assert_eq!(content.len(), 1, "{ext}: {v:#}");
        assert_eq!(content[0]["cause"]["rule"], "embedded-date", "{ext}");
        let r = content[0]["b"]["range"].as_array().unwrap();
        let (s, e) = (r[0].as_u64().unwrap(), r[1].as_u64().unwrap());
        assert!(s >= 1000 && e <= 1026, "{ext}: {s}..{e}");
        if ext == "zip" {
            // The CRC follows from the content that differs, not from the limit.
            let crc = diffs(&v)
                .iter()
                .find(|d| d["field"] == "crc32")
                .expect("crc32");
            assert_eq!(crc["derived_from"], content[0]["id"], "{crc:#}");
        }
        assert!(
            diffs(&v).iter().all(|d| d["container"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c != "pkg/same.txt" && c != "same.txt")),
            "{ext}: {v:#}"
        );

        // --max-decompressed, with the ratio raised out of the way: stopped at 8 MiB, said.
        let (_, v) = diff(
            &format!("bomb-in-{ext}-max-decompressed"),
            &[
                "--max-ratio",
                "100000000",
                "--max-decompressed",
                "8",
                &a,
                &b,
            ],
            t.path(),
        );
        let msg: Vec<&str> = diffs(&v)
            .iter()
            .filter(|d| d["kind"] == "error")
            .map(|d| d["summary"].as_str().unwrap())
            .collect();
        assert!(!msg.is_empty(), "{ext}: {v:#}");
        for m in msg {
            assert!(
                m.contains("exceeds the 8 MiB limit") && m.contains("--max-decompressed"),
                "{ext}: {m}"
            );
        }
    }

    // --max-depth: a tar inside nothing deeper than 0 is not opened.
    let (_, v) = diff(
        "bomb-max-depth",
        &["--max-depth", "0", "a.tar", "b.tar"],
        t.path(),
    );
    let d = diffs(&v);
    assert_eq!(d.len(), 1, "{v:#}");
    assert!(
        d[0]["summary"]
            .as_str()
            .unwrap()
            .contains("containers nested deeper than 0 levels"),
        "{v:#}"
    );
}

#[test]
fn two_directories_of_many_files_with_a_few_differing() {
    let _serial = serial();
    let t = tempfile::tempdir().unwrap();
    let n: usize = if full() { 100_000 } else { 4_000 };
    let per_dir = 500;
    for side in ["a", "b"] {
        for i in 0..n {
            let dir = t.path().join(side).join(format!("d{:03}", i / per_dir));
            if i % per_dir == 0 {
                std::fs::create_dir_all(&dir).unwrap();
            }
            let name = format!("f{i:06}.txt");
            let body = match (side, i) {
                ("b", 3210) => "file 3210\nchanged in B\n".to_owned(),
                ("a", 7) => continue,
                _ => format!("file {i}\nthe same on both sides\n"),
            };
            std::fs::write(dir.join(name), body).unwrap();
        }
    }
    std::fs::write(t.path().join("b/d000/extra.txt"), "only in B\n").unwrap();
    let (_, v) = diff("dirs-many-files", &["a", "b"], t.path());
    let s = &v["summary"];
    assert_eq!(s["files"], n + 1, "{s:#}");
    assert_eq!(s["identical"], n - 2, "{s:#}");
    assert_eq!(
        (&s["different"], &s["removed"], &s["added"]),
        (&Value::from(1), &Value::from(0), &Value::from(2)),
        "{s:#}"
    );
    let got: Vec<(&str, &str)> = diffs(&v)
        .iter()
        .map(|d| (d["path"].as_str().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("d000/extra.txt", "added"),
            ("d000/f000007.txt", "added"),
            ("d006/f003210.txt", "text"),
        ]
    );
    let text = &diffs(&v)[2];
    assert_eq!(text["a"]["value"], "the same on both sides");
    assert_eq!(text["b"]["value"], "changed in B");
    // Only the differing pairs are listed.
    assert_eq!(v["pairs"].as_array().unwrap().len(), 3);
}

#[test]
fn two_large_files_differing_in_one_byte() {
    let _serial = serial();
    let t = tempfile::tempdir().unwrap();
    // Sparse files: no disk written, every page read is real work for the comparison.
    let size: u64 = if full() { 4 << 30 } else { 256 << 20 };
    let at = size / 2 + 12_345;
    for (side, byte) in [("a", b'x'), ("b", b'y')] {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(t.path().join(side)).unwrap();
        f.set_len(size).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(&[byte]).unwrap();
    }
    let (run, v) = diff("large-pair-one-byte", &["a", "b"], t.path());
    let d = diffs(&v);
    assert_eq!(d.len(), 1, "{v:#}");
    assert_eq!(d[0]["kind"], "bytes");
    assert_eq!(d[0]["a"]["range"], serde_json::json!([at, at + 1]));
    assert_eq!(d[0]["b"]["range"], serde_json::json!([at, at + 1]));
    // The pages passed are released: resident memory stays far below the two inputs.
    assert!(run.peak_rss_mib < 128, "{} MiB", run.peak_rss_mib);
}
