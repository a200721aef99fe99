//! `cargo det-build exec`: the C fixtures built by their own Makefiles, and a `-sys`-style
//! crate compiling C through the `cc` crate, each twice — in two directories of different
//! path lengths, at two different times, with different TZ and locale — bit-identical
//! through det with `--cc system` and with `--cc zig`, while plain make differs. The
//! manifest names the outputs with their hashes and the toolchain.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_cargo-det-build");

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The two "machines": a short and a long path, different TZ, locale and clock (the
/// second build runs at least a second after the first, so __TIME__ would differ).
const MACHINES: [(&str, &str, &str); 2] = [
    ("a", "UTC", "C.UTF-8"),
    ("much/longer/path/b", "America/New_York", "POSIX"),
];

fn det_exec(dir: &Path, cc: &str, tz: &str, lang: &str, outputs: &str, cmd: &[&str]) {
    let mut c = Command::new(EXE);
    c.args(["det-build", "exec", "--cc", cc, "--outputs", outputs, "--"])
        .args(cmd)
        .current_dir(dir)
        .env("TZ", tz)
        .env("LANG", lang)
        .env("SOURCE_DATE_EPOCH", "1704067200")
        .env("NO_COLOR", "1");
    ok(
        c.output().unwrap(),
        &format!("det-build exec {cmd:?} in {}", dir.display()),
    );
}

fn make_fixture_twice(fixture: &str, output: &str, cc: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let t = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for (i, (sub, tz, lang)) in MACHINES.iter().enumerate() {
        if i == 1 {
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
        let dir = t.path().join(sub);
        copy(&testdata(fixture), &dir);
        match cc {
            Some(cc) => det_exec(&dir, cc, tz, lang, output, &["make"]),
            None => {
                // A plain build's time is its clock's (c-date-time's Makefile exports it).
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                ok(
                    Command::new("make")
                        .current_dir(&dir)
                        .env("TZ", tz)
                        .env("LANG", lang)
                        .env("SOURCE_DATE_EPOCH", now.to_string())
                        .output()
                        .unwrap(),
                    "plain make",
                );
            }
        }
        outs.push(std::fs::read(dir.join(output)).unwrap());
        if cc.is_some() {
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("det-manifest.json")).unwrap())
                    .unwrap();
            assert!(m["outputs"][output]["sha256"].is_string(), "{m}");
            let toolchain = if cc == Some("zig") { "zig" } else { "gcc" };
            assert!(m["toolchains"][toolchain]["id"].is_string(), "{m}");
        }
    }
    let b = outs.pop().unwrap();
    (outs.pop().unwrap(), b)
}

#[test]
fn c_fixtures_through_make_are_identical_with_the_system_compiler() {
    for (fixture, output) in [
        ("c-paths", "paths"),
        ("c-date-time", "date-time"),
        ("c-file-order", "prog"),
    ] {
        let (a, b) = make_fixture_twice(fixture, output, Some("system"));
        assert!(
            a == b,
            "{fixture}: det-build exec -- make differs between the two builds"
        );
    }
    // Plain make leaks the path and the build time.
    for (fixture, output) in [("c-paths", "paths"), ("c-date-time", "date-time")] {
        let (a, b) = make_fixture_twice(fixture, output, None);
        assert!(a != b, "{fixture}: plain make should differ");
    }
}

#[test]
fn c_fixtures_through_make_are_identical_with_zig() {
    if det_common::toolchain::zig_for_test("exec zig").is_none() {
        return;
    }
    for (fixture, output) in [
        ("c-paths", "paths"),
        ("c-date-time", "date-time"),
        ("c-file-order", "prog"),
    ] {
        let (a, b) = make_fixture_twice(fixture, output, Some("zig"));
        assert!(a == b, "{fixture}: det-build exec --cc zig -- make differs");
    }
}

/// rust-cc-sys built with `cargo build` under exec: the static library the cc crate made
/// from csrc/stamp.c (through det's CC and AR) and the example binary.
fn cc_sys_twice(cc: &str) {
    let t = tempfile::tempdir().unwrap();
    let mut libs = Vec::new();
    for (sub, tz, lang) in MACHINES {
        let dir = t.path().join(sub);
        copy(&testdata("rust-cc-sys"), &dir);
        std::fs::create_dir_all(dir.join("target")).unwrap();
        det_exec(
            &dir,
            cc,
            tz,
            lang,
            "target/debug/build/*/out/*.a",
            &["cargo", "build", "--offline", "--example", "stamp"],
        );
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("det-manifest.json")).unwrap()).unwrap();
        let outputs = m["outputs"].as_object().unwrap();
        assert_eq!(outputs.len(), 1, "{m}");
        let (rel, hash) = outputs.iter().next().unwrap();
        libs.push((rel.clone(), hash["sha256"].clone()));
        // ar went through the wrapper: zero times and owners.
        let tv = ok(
            Command::new("ar")
                .arg("tv")
                .arg(dir.join(rel))
                .output()
                .unwrap(),
            "ar tv",
        );
        let listing = String::from_utf8_lossy(&tv.stdout);
        assert!(listing.lines().all(|l| l.contains(" 0/0 ")), "{listing}");
    }
    assert_eq!(libs[0], libs[1], "the cc crate's library differs ({cc})");
}

#[test]
fn a_sys_crate_compiling_c_through_the_cc_crate_is_identical() {
    cc_sys_twice("system");
    if det_common::toolchain::zig_for_test("exec cc-sys zig").is_some() {
        cc_sys_twice("zig");
    }
}

#[test]
fn a_failing_command_keeps_its_status_and_writes_no_manifest() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("bad.c"), "int x = ;\n").unwrap();
    let out = Command::new(EXE)
        .args(["det-build", "exec", "--", "cc", "-c", "bad.c"])
        .current_dir(t.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.c:1:9: error"), "{err}");
    assert!(!t.path().join("det-manifest.json").exists());
}
