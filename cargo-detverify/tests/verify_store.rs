//! `cargo det-verify --store DIR` (issue 12): real det-verify runs of the rust-clean
//! fixture against a real store. A reproducible closure is recorded as verified in its
//! entry (published from the control run when the store has none); a second verification
//! with the same or fewer variations and runs is skipped without building; a larger set of
//! variations or more runs verifies again; and `cargo det-build --require-verified`
//! refuses the closure before the verification and substitutes it after.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod support;
use support::{copy_dir, det_build};

struct Fixture {
    _dir: tempfile::TempDir,
    project: PathBuf,
    store: PathBuf,
    tmp: PathBuf,
}

fn fixture() -> Fixture {
    det_build();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("rust-clean");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/rust-clean"),
        &project,
    );
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    Fixture {
        store: dir.path().join("store"),
        project,
        tmp,
        _dir: dir,
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Fixture {
    /// `cargo det-verify --format json --store STORE ARGS`: the report, the stderr.
    fn verify(&self, args: &[&str]) -> (Value, String) {
        let store = ["--store", self.store.to_str().unwrap()];
        self.verify_with(&[&store[..], args].concat())
    }

    /// `cargo det-verify --format json ARGS` (no DET_STORE), which must succeed and leave
    /// nothing in TMPDIR: the report, the stderr.
    fn verify_with(&self, args: &[&str]) -> (Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_cargo-det-verify"))
            .args(["--format", "json"])
            .args(args)
            .current_dir(&self.project)
            .env("TMPDIR", &self.tmp)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("DET_STORE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let left: Vec<_> = std::fs::read_dir(&self.tmp).unwrap().collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
        (
            serde_json::from_slice(&out.stdout).unwrap(),
            text(&out.stderr),
        )
    }

    fn det_build(&self, args: &[&str]) -> Output {
        Command::new(det_build())
            .arg("det-build")
            .args(args)
            .current_dir(&self.project)
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("DET_STORE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn verified(&self, closure: &str) -> Value {
        let p = self
            .store
            .join("entries")
            .join(closure)
            .join("verified.json");
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

fn built(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.trim_start().starts_with("Building run-"))
}

#[test]
fn a_verified_closure_is_recorded_skipped_and_substituted() {
    let f = fixture();
    let store = f.store.to_str().unwrap();

    // Before any verification: --require-verified refuses, and builds nothing.
    let refused = f.det_build(&["--store", store, "--require-verified"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("is not in the store")
            && !f.project.join("target/debug/rust-clean").exists(),
        "{}",
        text(&refused.stderr)
    );

    // A first verification: the control's outputs published as the entry, the
    // verification recorded beside them.
    let small = "--vary=-all,+build-path,+time";
    let (r, err) = f.verify(&[small]);
    assert_eq!(r["reproducible"], true, "{err}");
    let s = &r["store"];
    let closure = s["closure"].as_str().unwrap().to_string();
    assert_eq!(closure.len(), 64);
    assert_eq!(
        (&s["recorded"], &s["published"], &s["skipped"]),
        (&Value::Bool(true), &Value::Bool(true), &Value::Bool(false)),
        "{s}"
    );
    assert!(
        err.contains(&format!("Recorded closure {}…", &closure[..12])),
        "{err}"
    );
    let rec = f.verified(&closure);
    assert_eq!(rec["schema"], "det-verified/2");
    let vs = rec["verifications"].as_array().unwrap();
    assert_eq!(vs.len(), 1, "{rec}");
    assert_eq!(strings(&vs[0]["variations"]), ["build-path", "time"]);
    assert_eq!(vs[0]["runs"], 2);
    assert!(vs[0]["tool"].as_str().unwrap().starts_with("det-verify "));
    // In the metadata, not in the outputs: the entry still checks.
    let check = Command::new(det_build())
        .args(["det-build", "store", "verify", "--store", store])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stderr));

    // Again with the same variations: skipped, nothing built, and the report says why.
    let (r, err) = f.verify(&[small]);
    assert!(!built(&err), "{err}");
    assert!(
        err.contains(&format!("Skipped the runs: closure {}…", &closure[..12])),
        "{err}"
    );
    assert_eq!(r["store"]["skipped"], true);
    assert_eq!(r["store"]["closure"], closure.as_str());
    assert_eq!(r["runs"].as_array().unwrap().len(), 0);
    assert_eq!(r["artifacts"][0]["path"], "debug/rust-clean");
    assert_eq!(
        f.verified(&closure)["verifications"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A subset of the variations is covered too; more runs or a larger set is not.
    let (r, err) = f.verify(&["--vary=-all,+time"]);
    assert!(r["store"]["skipped"] == true && !built(&err), "{err}");
    let (r, err) = f.verify(&["--vary=-all,+build-path,+time,+umask"]);
    assert!(r["store"]["skipped"] == false && built(&err), "{err}");
    assert_eq!(r["store"]["recorded"], true);
    assert_eq!(r["store"]["published"], false, "the entry was there");
    let (r, err) = f.verify(&[small, "--runs", "3"]);
    assert!(r["store"]["skipped"] == false && built(&err), "{err}");
    let rec = f.verified(&closure);
    let sets: Vec<(u64, Vec<&str>)> = rec["verifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["runs"].as_u64().unwrap(), strings(&v["variations"])))
        .collect();
    let mut sets = sets;
    sets.sort();
    assert_eq!(
        sets,
        [
            (2, vec!["build-path", "time"]),
            (2, vec!["build-path", "time", "umask"]),
            (3, vec!["build-path", "time"]),
        ]
    );

    // The user's own checkout has the verified closure: substituted, cargo never runs.
    let ok = f.det_build(&["--store", store, "--require-verified"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let err = text(&ok.stderr);
    assert!(
        err.contains(&format!(
            "Substituted 1 output from the store (closure {}…)",
            &closure[..12]
        )) && !err.contains("Compiling"),
        "{err}"
    );
    assert!(
        !f.project.join("target/debug/.fingerprint").exists(),
        "cargo ran"
    );
    let run = Command::new(f.project.join("target/debug/rust-clean"))
        .output()
        .unwrap();
    assert!(run.status.success(), "the substituted binary runs");
    let ls = Command::new(det_build())
        .args(["det-build", "store", "ls", "--store", store])
        .output()
        .unwrap();
    assert!(
        text(&ls.stdout).contains("verified: yes (3)"),
        "{}",
        text(&ls.stdout)
    );
}

#[test]
fn a_store_makes_no_sense_for_a_raw_build() {
    let f = fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-det-verify"))
        .args(["--raw", "--store"])
        .arg(&f.store)
        .current_dir(&f.project)
        .env("TMPDIR", &f.tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--store") && text(&out.stderr).contains("--raw"),
        "{}",
        text(&out.stderr)
    );
    assert!(!f.store.exists(), "nothing was created");
}

/// A store entry of the closure whose outputs are not the ones the runs made (stored by a
/// build elsewhere that came out differently): the runs agree, but the closure is not
/// reproducible across the two, so it is not marked verified.
#[test]
fn an_entry_with_other_outputs_is_not_marked_verified() {
    let f = fixture();
    let store = f.store.to_str().unwrap();
    let out = f.det_build(&["--store", store]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entries = f.store.join("entries");
    let closure = std::fs::read_dir(&entries)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    // Another binary under the same closure, with a manifest that matches it (an intact
    // entry: only its content differs from what this machine builds).
    let entry = entries.join(&closure);
    let exe = entry.join("outputs/debug/rust-clean");
    let mut bytes = std::fs::read(&exe).unwrap();
    bytes.extend_from_slice(b"built elsewhere");
    std::fs::write(&exe, &bytes).unwrap();
    let mpath = entry.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["outputs"]["debug/rust-clean"] =
        serde_json::to_value(det_common::hash::hash_file(&exe).unwrap()).unwrap();
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let check = Command::new(det_build())
        .args(["det-build", "store", "verify", "--store", store])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "an intact entry: {}",
        text(&check.stdout)
    );

    let (r, err) = f.verify(&["--vary=-all,+time"]);
    assert_eq!(r["reproducible"], true, "the runs agree: {err}");
    let s = &r["store"];
    assert_eq!(s["closure"], closure.as_str());
    assert_eq!(
        (&s["recorded"], &s["published"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    let why = s["not_recorded"].as_str().unwrap();
    assert!(
        why.contains("other outputs") && why.contains("debug/rust-clean"),
        "{why}"
    );
    assert!(err.contains("was not recorded in the store"), "{err}");
    assert!(!entry.join("verified.json").exists());
}

/// The store named by `store` in the project's `[workspace.metadata.det]` (read from the
/// one `cargo metadata` det-verify runs to find the workspace) is the one recorded in, with
/// no `--store` and no DET_STORE.
#[test]
fn the_store_set_in_workspace_metadata_is_used() {
    let f = fixture();
    let manifest = f.project.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str(&format!(
        "\n[workspace.metadata.det]\nstore = {:?}\n",
        f.store.to_str().unwrap()
    ));
    std::fs::write(&manifest, toml).unwrap();
    let (r, err) = f.verify_with(&["--vary=-all,+time"]);
    assert_eq!(r["store"]["recorded"], true, "{}\n{err}", r["store"]);
    let closure = r["store"]["closure"].as_str().unwrap();
    let rec = f.verified(closure);
    assert_eq!(strings(&rec["verifications"][0]["variations"]), ["time"]);
}
