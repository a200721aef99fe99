//! docs/verify-json.md and docs/diff-json.md are true to det-verify's real JSON: every key
//! of a real report is in the doc's field table and every documented key is in the report
//! (real builds of the testdata fixtures, a real diff of two directories).

#[path = "../../cargo-detscan/tests/schema_doc/mod.rs"]
mod schema_doc;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod support;
use support::{copy_dir, det_build};

const BIN: &str = env!("CARGO_BIN_EXE_cargo-det-verify");

/// `fixture` copied into `dir`, with a TMPDIR of its own.
fn fixture(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let path = dir.join(name);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata")
            .join(name),
        &path,
    );
    let tmp = dir.join(format!("{name}-tmp"));
    std::fs::create_dir(&tmp).unwrap();
    (path, tmp)
}

fn run(dir: &Path, tmp: &Path, args: &[&str], code: i32) -> Value {
    let out: Output = Command::new(BIN)
        .arg("det-verify")
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", tmp)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DET_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn verify_json_matches_its_doc() {
    det_build();
    let dir = tempfile::tempdir().unwrap();
    // Not reproducible (plain cargo, a build script embedding the time): causes and a diff.
    let (p, tmp) = fixture(dir.path(), "rust-buildrs-time");
    let differs = run(
        &p,
        &tmp,
        &["--raw", "--no-explain", "-q", "--format", "json"],
        1,
    );
    assert_eq!(differs["reproducible"], false);
    assert!(!differs["differences"].as_array().unwrap().is_empty());
    // Reproducible through det-build, recorded in a det store.
    let (p, tmp) = fixture(dir.path(), "rust-clean");
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();
    let recorded = run(
        &p,
        &tmp,
        &["-q", "--store", store_arg, "--format", "json"],
        0,
    );
    assert_eq!(recorded["reproducible"], true);
    assert_eq!(recorded["store"]["recorded"], true, "{recorded:#}");
    schema_doc::check(
        "verify-json.md",
        "det-verify/1",
        &[&differs, &recorded],
        &["diff"],
    );
    // The diff inside is a whole det-diff/1 report.
    schema_doc::check("diff-json.md", "det-diff/1", &[&differs["diff"]], &[]);
}

#[test]
fn diff_json_matches_its_doc() {
    let dir = tempfile::tempdir().unwrap();
    // Two builds' outputs: a text with a date, an ar archive whose member keeps its mtime,
    // a file only in A and one only in B.
    for (side, epoch, date) in [
        ("a", "@1000000000", "2024-05-01T12:00:00Z"),
        ("b", "@1100000000", "2025-06-02T13:30:00Z"),
    ] {
        let d = dir.path().join(side);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(
            d.join("build-info.txt"),
            format!("version 1.0\nbuilt {date}\n"),
        )
        .unwrap();
        let member = dir.path().join("m.txt");
        std::fs::write(&member, "version 1.0\n").unwrap();
        let st = Command::new("touch")
            .args(["-d", epoch])
            .arg(&member)
            .status()
            .unwrap();
        assert!(st.success());
        let st = Command::new("ar")
            .args(["rcU", "lib.a"])
            .arg(&member)
            .current_dir(&d)
            .status()
            .expect("ar (binutils) runs");
        assert!(st.success());
        std::fs::write(d.join(format!("only-{side}.txt")), side).unwrap();
    }
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let r = run(dir.path(), &tmp, &["diff", "a", "b", "--format", "json"], 1);
    assert_eq!(r["pairs"][1]["format_a"]["ar"], "plain", "{r:#}");
    schema_doc::check("diff-json.md", "det-diff/1", &[&r], &[]);
    let same = run(dir.path(), &tmp, &["diff", "a", "a", "--format", "json"], 0);
    assert_eq!(same["identical"], true);
}

#[test]
fn compare_json_matches_its_doc() {
    det_build();
    let dir = tempfile::tempdir().unwrap();
    let (p, _tmp) = fixture(dir.path(), "rust-clean");
    let out = Command::new(Path::new(BIN).with_file_name("cargo-det-build"))
        .args(["det-build", "-q"])
        .current_dir(&p)
        // The manifest is read from the fixture's own target/.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DET_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let real: Value =
        serde_json::from_slice(&std::fs::read(p.join("target/det/manifest.json")).unwrap())
            .unwrap();
    // Other machines' manifests: one agreeing, one with another binary, one built from
    // another Cargo.lock (another closure); and two without a closure (as other producers
    // write them) whose builds ran with another TZ.
    let write = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut m = real.clone();
        edit(&mut m);
        std::fs::write(
            dir.path().join(name),
            serde_json::to_vec_pretty(&m).unwrap(),
        )
        .unwrap();
    };
    write("a.json", &|_| {});
    write("b.json", &|_| {});
    write("c.json", &|m| {
        m["outputs"]["debug/rust-clean"]["sha256"] = "0".repeat(64).into();
    });
    write("d.json", &|m| {
        m["closure"] = "2".repeat(64).into();
        m["inputs"]["Cargo.lock"] = "3".repeat(64).into();
    });
    write("e.json", &|m| {
        m.as_object_mut().unwrap().remove("closure");
    });
    write("f.json", &|m| {
        m.as_object_mut().unwrap().remove("closure");
        m["env"]["TZ"] = "Europe/Zurich".into();
    });
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let args = |names: &[&'static str]| {
        let mut a = vec!["compare", "--format", "json"];
        a.extend(names);
        a
    };
    let dissent = run(
        dir.path(),
        &tmp,
        &args(&["a.json", "b.json", "c.json", "d.json"]),
        1,
    );
    assert_eq!(dissent["dissenters"][0], "c.json", "{dissent:#}");
    assert_eq!(
        dissent["different_inputs"][0]["differs_in"][0],
        "inputs Cargo.lock"
    );
    let context = run(dir.path(), &tmp, &args(&["e.json", "f.json"]), 0);
    assert_eq!(context["context"][0]["key"], "TZ", "{context:#}");
    schema_doc::check(
        "compare-json.md",
        "det-compare/1",
        &[&dissent, &context],
        &[],
    );
}
