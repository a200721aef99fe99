//! `cargo det-build` on real fixture projects, each built on two simulated machines
//! (checkouts at paths of different lengths, other HOME and CARGO_HOME with its own
//! registry copy, other TZ and locale, a later clock): the outputs must be bit-identical
//! (SHA-256, and the manifest's hashes equal the files'). For the leaks no remapping flag
//! fixes, plain cargo and an expert's remapping must both differ on the same two machines.

mod support;

use support::*;

fn machines(fixture: &str) -> (Machine, Machine) {
    (
        Machine::new(fixture, 1, "UTC", "C.UTF-8"),
        Machine::new(fixture, 4, "Asia/Kolkata", "de_DE.UTF-8"),
    )
}

/// det-build on both machines; the outputs by relative path and SHA-256.
fn det_build_twice(fixture: &str, args: &[&str]) {
    let (a, b) = machines(fixture);
    let out_a = a.det_build(args);
    assert_ok(&out_a, &format!("det-build {fixture} on machine A"));
    assert!(
        stderr(&out_a).contains("Canonical root /det/src"),
        "{}",
        stderr(&out_a)
    );
    pause();
    let out_b = b.det_build(args);
    assert_ok(&out_b, &format!("det-build {fixture} on machine B"));
    let (ha, hb) = (manifest_outputs(&a), manifest_outputs(&b));
    assert_eq!(
        ha, hb,
        "{fixture}: det-build outputs differ between machines"
    );
    // The manifests agree on everything but host paths (the toolchain's install path).
    let m = |x: &Machine| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(x.file("target/det/manifest.json")).unwrap())
                .unwrap();
        v["toolchains"]["rustc"]["path"] = serde_json::Value::Null;
        v
    };
    assert_eq!(m(&a), m(&b), "{fixture}: manifests differ");
}

/// Plain cargo, and cargo with the expert's remapping, on both machines: the outputs
/// differ (the leak is real and remapping does not fix it).
fn plain_and_remapped_differ(fixture: &str, bin: &str) {
    let (a, b) = machines(fixture);
    for expert in [false, true] {
        let build = |m: &Machine| {
            let env: Vec<(&str, String)> = if expert {
                vec![("RUSTFLAGS", m.expert_rustflags())]
            } else {
                vec![]
            };
            let out = m.cargo_build(&["--release"], &env);
            assert_ok(&out, &format!("cargo build {fixture}"));
            sha256(&m.file(&format!("target/release/{bin}")))
        };
        let (ha, hb) = (build(&a), build(&b));
        assert_ne!(
            ha, hb,
            "{fixture}: plain cargo (expert remapping: {expert}) was expected to differ between the two checkouts"
        );
    }
}

#[test]
fn manifest_dir_literal_identical_only_with_det_build() {
    plain_and_remapped_differ("rust-manifest-dir", "rust-manifest-dir");
    det_build_twice("rust-manifest-dir", &["--release"]);
}

#[test]
fn out_dir_path_in_generated_code_identical_only_with_det_build() {
    plain_and_remapped_differ("rust-out-dir-codegen", "rust-out-dir-codegen");
    det_build_twice("rust-out-dir-codegen", &["--release"]);
}

#[test]
fn dependency_file_macro_identical_only_with_det_build() {
    plain_and_remapped_differ("rust-dep-file-panic", "rust-dep-file-panic");
    det_build_twice("rust-dep-file-panic", &["--release"]);
}

#[test]
fn build_script_clock_identical_with_det_build() {
    det_build_twice("rust-buildrs-time", &["--release"]);
}

#[test]
fn cc_sys_crate_identical_with_det_build() {
    // The C object carries __DATE__/__TIME__ and the build directory in DWARF.
    det_build_twice("rust-cc-sys", &["--release", "--examples"]);
}

#[test]
fn clean_project_identical_with_det_build() {
    det_build_twice("rust-clean", &[]);
}

#[test]
fn proc_macro_hashmap_order_identical_with_det_build() {
    // std seeds HashMap from getrandom: the shim's seeded stream fixes the order.
    det_build_twice("rust-proc-macro-hashmap", &["--release"]);
}
