//! `cargo det-verify compare` run as a real binary on manifests written by det-common.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use det_common::env::{BuildEnv, SourceDateEpoch, SourceDateEpochSource};
use det_common::hash::hash_bytes;
use det_common::manifest::{Manifest, write_manifest};

fn manifest() -> Manifest {
    let sde = SourceDateEpoch {
        value: 1_700_000_000,
        source: SourceDateEpochSource::Flag,
    };
    let mut m = Manifest::new(sde, BuildEnv::fixed(&sde));
    m.inputs.insert("Cargo.lock".into(), "11".repeat(32));
    m.outputs
        .insert("target/release/app".into(), hash_bytes(b"app"));
    m.outputs
        .insert("target/release/libapp.rlib".into(), hash_bytes(b"rlib"));
    m
}

fn write(dir: &Path, name: &str, m: &Manifest) -> PathBuf {
    let p = dir.join(name);
    write_manifest(&p, m).unwrap();
    p
}

fn verify(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-det-verify"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn identical_manifests_are_reproducible() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &manifest());
    let b = write(d.path(), "b.json", &manifest());
    let c = write(d.path(), "c.json", &manifest());
    // Run directly and as cargo runs it (with the subcommand name first).
    for prefix in [&[][..], &["det-verify".as_ref()][..]] {
        let mut args: Vec<&std::ffi::OsStr> = prefix.to_vec();
        args.extend([
            "compare".as_ref(),
            a.as_os_str(),
            b.as_os_str(),
            c.as_os_str(),
        ]);
        let out = verify(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "reproducible: 2 outputs identical in all 3 manifests\n"
        );
    }
}

#[test]
fn one_output_is_said_in_the_singular() {
    let d = tempfile::tempdir().unwrap();
    let mut one = manifest();
    one.outputs.remove("target/release/libapp.rlib");
    let a = write(d.path(), "a.json", &one);
    let b = write(d.path(), "b.json", &one);
    let out = verify(&["compare".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "reproducible: 1 output identical in all 2 manifests\n"
    );
}

#[test]
fn a_differing_output_is_exit_1_and_named_with_both_hashes() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &manifest());
    let mut other = manifest();
    other.outputs.insert(
        "target/release/app".into(),
        hash_bytes(b"app, built at 12:00"),
    );
    other.outputs.remove("target/release/libapp.rlib");
    other.env.insert("TZ".into(), "Europe/Paris".into());
    let b = write(d.path(), "b.json", &other);

    let out = verify(&["compare".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (ha, hb) = (hash_bytes(b"app"), hash_bytes(b"app, built at 12:00"));
    let (an, bn) = (a.display().to_string(), b.display().to_string());
    let rlib = hash_bytes(b"rlib");
    let want = format!(
        "not reproducible: 2 of 2 outputs differ across 2 manifests (reference: {an})\n\
         \n\
         target/release/app: content differs\n  \
         {an}  blake3 {}  sha256 {}  3 bytes\n  \
         {bn}  blake3 {}  sha256 {}  19 bytes\n\
         \n\
         target/release/libapp.rlib: missing in {bn}\n  \
         {an}  blake3 {}  sha256 {}  4 bytes\n  \
         {bn}  (missing)\n\
         \n\
         build context differing from {an} (may explain differences; not by itself a failure):\n  \
         {bn}: env TZ: UTC -> Europe/Paris\n",
        ha.blake3, ha.sha256, hb.blake3, hb.sha256, rlib.blake3, rlib.sha256
    );
    assert_eq!(stdout, want);

    let out = verify(&[
        "compare".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], "det-compare/1");
    assert_eq!(json["reproducible"], false);
    assert_eq!(json["identical_outputs"], 0);
    assert_eq!(json["manifests"], serde_json::json!([an, bn]));
    let outputs = json["differing_outputs"].as_array().unwrap();
    assert_eq!(outputs[0]["path"], "target/release/app");
    assert_eq!(outputs[0]["hashes"][0]["sha256"], ha.sha256.as_str());
    assert_eq!(outputs[0]["hashes"][1]["blake3"], hb.blake3.as_str());
    assert_eq!(outputs[1]["path"], "target/release/libapp.rlib");
    assert!(outputs[1]["hashes"][1].is_null());
    assert_eq!(
        json["context"],
        serde_json::json!([{"key": "TZ", "manifest": bn, "reference": "UTC", "section": "env", "value": "Europe/Paris"}])
    );
    // Stable: the same input gives the same bytes.
    let again = verify(&[
        "compare".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn context_differences_alone_are_still_reproducible() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &manifest());
    let mut other = manifest();
    other.inputs.insert("Cargo.lock".into(), "22".repeat(32));
    let b = write(d.path(), "b.json", &other);
    let out = verify(&["compare".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{}: inputs Cargo.lock: {} -> {}",
            b.display(),
            "11".repeat(32),
            "22".repeat(32)
        )),
        "{stdout}"
    );
}

#[test]
fn malformed_or_missing_manifest_is_exit_2_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &manifest());
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{\"schema\": \"det-manifest/1\", \"outputs\": {").unwrap();
    let out = verify(&["compare".as_ref(), a.as_os_str(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing printed before the error");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: cannot read build manifest: {}: not valid JSON",
            bad.display()
        )),
        "{stderr}"
    );

    let other_schema = d.path().join("v2.json");
    std::fs::write(&other_schema, "{\"schema\": \"det-manifest/2\"}").unwrap();
    let out = verify(&["compare".as_ref(), other_schema.as_os_str(), a.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!(
            "{}: unsupported manifest schema \"det-manifest/2\"",
            other_schema.display()
        )),
        "{}",
        text(&out.stderr)
    );

    let missing = d.path().join("missing.json");
    let out = verify(&["compare".as_ref(), a.as_os_str(), missing.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("{}: ", missing.display())));

    // Usage errors are exit 2 too.
    let out = verify(&["compare".as_ref(), a.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let out = verify(&["rebuild".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_reads_well_and_lists_only_what_exists() {
    let out = verify(&["--help".as_ref()]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(
        help.contains(
            "Usage: cargo det-verify [OPTIONS] [-- <BUILD>...]\n       cargo det-verify <COMMAND>"
        ),
        "{help}"
    );
    assert!(help.contains("--vary <SPEC>"), "{help}");
    assert!(
        help.contains("compare  Compare build manifests from several machines"),
        "{help}"
    );
    assert!(!help.to_lowercase().contains("not implemented"));
    let out = verify(&["compare".as_ref(), "--help".as_ref()]);
    let help = text(&out.stdout);
    assert!(
        help.contains("cargo det-verify compare ci-linux.json laptop.json"),
        "{help}"
    );
    assert!(help.contains("Exit status: 0"), "{help}");
}

#[test]
fn majority_names_the_dissenter_and_another_closure_is_different_inputs() {
    let d = tempfile::tempdir().unwrap();
    let with = |closure: &str, app: &[u8]| {
        let mut m = manifest();
        m.closure = Some(closure.repeat(64));
        m.outputs
            .insert("target/release/app".into(), hash_bytes(app));
        m
    };
    let a = write(d.path(), "a.json", &with("a", b"app"));
    let b = write(d.path(), "b.json", &with("a", b"app"));
    let c = write(d.path(), "c.json", &with("a", b"app, built at noon"));
    // Another toolchain and Cargo.lock: another closure, whatever its outputs.
    let mut other = with("b", b"app for another rustc");
    other.inputs.insert("Cargo.lock".into(), "33".repeat(32));
    other.toolchains.insert(
        "rustc".into(),
        det_common::toolchain::Toolchain {
            name: "rustc".into(),
            version: det_common::toolchain::Version::parse("1.99.0").unwrap(),
            id: "44".repeat(32),
            path: "/x/rustc".into(),
        },
    );
    let x = write(d.path(), "x.json", &other);
    let args = [a.as_os_str(), b.as_os_str(), c.as_os_str(), x.as_os_str()];
    let mut argv: Vec<&std::ffi::OsStr> = vec!["compare".as_ref()];
    argv.extend(args);
    let out = verify(&argv);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (an, bn, cn, xn) = (
        a.display().to_string(),
        b.display().to_string(),
        c.display().to_string(),
        x.display().to_string(),
    );
    assert!(
        stdout.contains(&format!(
            "target/release/app: content differs; majority 2 of 3, dissenting: {cn}"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 of 4 manifests (the others have other inputs)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  {xn}: inputs Cargo.lock, toolchains rustc")),
        "{stdout}"
    );

    argv.insert(1, "--format".as_ref());
    argv.insert(2, "json".as_ref());
    let json: serde_json::Value = serde_json::from_slice(&verify(&argv).stdout).unwrap();
    assert_eq!(json["dissenters"], serde_json::json!([cn]));
    assert_eq!(
        json["groups"][0]["manifests"],
        serde_json::json!([an, bn, cn])
    );
    assert_eq!(json["groups"][1]["manifests"], serde_json::json!([xn]));
    assert_eq!(
        json["different_inputs"][0]["differs_in"],
        serde_json::json!(["inputs Cargo.lock", "toolchains rustc"])
    );
    let app = &json["differing_outputs"][0];
    assert_eq!(
        app["majority"]["blake3"],
        hash_bytes(b"app").blake3.as_str()
    );
    assert_eq!(app["dissenters"], serde_json::json!([cn]));

    // Without the dissenter the group agrees: reproducible, the other closure still said.
    let out = verify(&[
        "compare".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        x.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("different inputs"));
    // No two manifests with the same inputs: nothing verified.
    let out = verify(&["compare".as_ref(), a.as_os_str(), x.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("not verified"),
        "{}",
        text(&out.stdout)
    );
}
