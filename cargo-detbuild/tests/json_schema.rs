//! docs/manifest-json.md is true to the manifest `cargo det-build` really writes: every key
//! of a real target/det/manifest.json is in the doc's field table and every documented key
//! is in it.

#[path = "../../cargo-detscan/tests/schema_doc/mod.rs"]
mod schema_doc;
mod support;

use std::process::Command;

#[test]
fn manifest_json_matches_its_doc() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("rust-clean");
    support::copy_tree(&support::testdata("rust-clean"), &project);
    let out = Command::new(support::det_build())
        .args(["det-build", "-q"])
        .current_dir(&project)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("DET_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(project.join("target/det/manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        m["outputs"]["debug/rust-clean"]["sha256"].is_string(),
        "{m:#}"
    );
    schema_doc::check("manifest-json.md", "det-manifest/1", &[&m], &[]);
}
