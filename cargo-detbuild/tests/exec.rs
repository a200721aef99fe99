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

/// `exec -- cargo build` keeps the user's rustc flags: det's CARGO_ENCODED_RUSTFLAGS is
/// added to them (cargo's own precedence: RUSTFLAGS over `.cargo/config.toml`), as
/// `cargo det-build` does, instead of replacing them.
#[test]
fn cargo_under_exec_keeps_the_users_rustflags() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("p");
    copy(&testdata("rust-user-flags"), &dir);
    std::fs::create_dir_all(dir.join("target")).unwrap();
    let run = |rustflags: Option<&str>| -> (String, serde_json::Value) {
        let mut c = Command::new(EXE);
        c.args([
            "det-build",
            "exec",
            "--outputs",
            "target/debug/rust-user-flags",
            "--",
            "cargo",
            "build",
            "--offline",
        ])
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
        match rustflags {
            Some(f) => c.env("RUSTFLAGS", f),
            None => c.env_remove("RUSTFLAGS"),
        };
        ok(c.output().unwrap(), "det-build exec -- cargo build");
        let out = ok(
            Command::new(dir.join("target/debug/rust-user-flags"))
                .output()
                .unwrap(),
            "the built program",
        );
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("det-manifest.json")).unwrap()).unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), m)
    };
    // build.rustflags from the project's .cargo/config.toml.
    let (printed, m) = run(None);
    assert_eq!(printed, "det_config_flag\n");
    assert_eq!(m["build"]["user-rustflags"], "--cfg det_config_flag", "{m}");
    // det's own flags were still given (after the user's).
    let det_flags = m["flags"]["CARGO_ENCODED_RUSTFLAGS"].as_array().unwrap();
    assert!(
        det_flags
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("--remap-path-prefix=")),
        "{m}"
    );
    // RUSTFLAGS replaces the config's flags, as in cargo.
    let (printed, m) = run(Some("--cfg det_env_flag"));
    assert_eq!(printed, "det_env_flag\n");
    assert_eq!(m["build"]["user-rustflags"], "--cfg det_env_flag", "{m}");
}

/// zig installed at two different paths (two copies of its install directory, each with
/// its own fresh cache, so each builds its libc start files itself) builds c-paths
/// bit-identically: det mounts zig at /det/zig and its cache at /det/zig-cache. Without
/// that, zig's crt1.o and libc_nonshared.a carry each install path in their debug
/// information and the two programs differ. Without a namespace, det says it cannot do
/// this, in its output and in the manifest.
#[test]
fn zig_installed_at_two_paths_gives_identical_outputs() {
    let Some(zig) = det_common::toolchain::zig_for_test("exec zig two paths") else {
        return;
    };
    let (install, rel) = det_common::toolchain::zig_install_dir(&zig).unwrap();
    let t = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for (i, (place, (sub, tz, lang))) in ["zig-one", "a-longer-path/zig-two"]
        .iter()
        .zip(MACHINES)
        .enumerate()
    {
        let copy_dir = t.path().join(place);
        std::fs::create_dir_all(copy_dir.parent().unwrap()).unwrap();
        // Hard links where the file system allows (a copy of 400 MiB otherwise).
        let linked = Command::new("cp")
            .arg("-al")
            .arg(&install)
            .arg(&copy_dir)
            .status()
            .unwrap()
            .success();
        if !linked {
            let _ = std::fs::remove_dir_all(&copy_dir);
            copy(&install, &copy_dir);
        }
        let dir = t.path().join(sub);
        copy(&testdata("c-paths"), &dir);
        let mut c = Command::new(EXE);
        c.args([
            "det-build",
            "exec",
            "--cc",
            "zig",
            "--outputs",
            "paths",
            "--",
        ])
        .arg("make")
        .current_dir(&dir)
        .env("ZIG", copy_dir.join(&rel))
        .env("DET_CACHE_DIR", t.path().join(format!("cache-{i}")))
        .env("TZ", tz)
        .env("LANG", lang)
        .env("SOURCE_DATE_EPOCH", "1704067200")
        .env("NO_COLOR", "1")
        .env_remove("DET_NO_NAMESPACE");
        let out = ok(c.output().unwrap(), "det-build exec --cc zig -- make");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Zig") && err.contains("at /det/zig"), "{err}");
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("det-manifest.json")).unwrap()).unwrap();
        assert_eq!(m["canonical_root"]["mode"], "mount-namespace", "{m}");
        assert_eq!(
            m["build"]["zig"].as_str().unwrap(),
            Path::new("/det/zig").join(&rel).to_str().unwrap(),
            "{m}"
        );
        let bin = std::fs::read(dir.join("paths")).unwrap();
        let needle = copy_dir.to_string_lossy().into_owned();
        assert!(
            !bin.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "zig's install path {needle} is in the program"
        );
        outs.push(bin);
    }
    assert!(
        outs[0] == outs[1],
        "zig at two install paths gave different programs"
    );

    // The fallback cannot put zig at a fixed path: it says so.
    let dir = t.path().join("fallback");
    std::fs::create_dir_all(&dir).unwrap();
    let out = ok(
        Command::new(EXE)
            .args(["det-build", "exec", "--cc", "zig", "--", "true"])
            .current_dir(&dir)
            .env("ZIG", &zig)
            .env("DET_NO_NAMESPACE", "1")
            .env("NO_COLOR", "1")
            .output()
            .unwrap(),
        "det-build exec --cc zig without a namespace",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zig's libc start files") && err.contains(&install.to_string_lossy()[..]),
        "{err}"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("det-manifest.json")).unwrap()).unwrap();
    assert_eq!(m["canonical_root"]["mode"], "remap", "{m}");
    let uncovered = m["canonical_root"]["uncovered"].to_string();
    assert!(uncovered.contains("zig's libc start files"), "{m}");
}

/// Issue 9: read-only inputs with the build directory writable. With `--build-dir out` the
/// command may write in out/ but not in the project: the write fails, the source is
/// untouched, and out/ holds what the build made.
#[test]
fn build_dir_is_writable_and_the_project_read_only() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("src.txt"), "source\n").unwrap();
    let run = |script: &str| {
        Command::new(EXE)
            .args([
                "det-build",
                "exec",
                "--build-dir",
                "out",
                "--",
                "sh",
                "-c",
                script,
            ])
            .current_dir(t.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out = ok(
        run("cp src.txt out/copy.txt"),
        "write into the build directory",
    );
    assert_eq!(
        std::fs::read_to_string(t.path().join("out/copy.txt")).unwrap(),
        "source\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("echo changed > src.txt");
    assert_ne!(
        out.status.code(),
        Some(0),
        "a write into the project must fail"
    );
    assert_eq!(
        std::fs::read_to_string(t.path().join("src.txt")).unwrap(),
        "source\n"
    );
    let out = run("touch new.txt");
    assert_ne!(out.status.code(), Some(0));
    assert!(!t.path().join("new.txt").exists());
    // A build directory outside the project is refused.
    let out = Command::new(EXE)
        .args(["det-build", "exec", "--build-dir", "../x", "--", "true"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--build-dir ../x"));
}
