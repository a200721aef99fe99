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
    det_build_twice_with(fixture, args, &[]);
}

fn det_build_twice_with(fixture: &str, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) {
    let (a, b) = machines(fixture);
    let out_a = a.det_build_with(args, env);
    assert_ok(&out_a, &format!("det-build {fixture} on machine A"));
    assert!(
        stderr(&out_a).contains("Canonical root /det/src"),
        "{}",
        stderr(&out_a)
    );
    pause();
    let out_b = b.det_build_with(args, env);
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

/// `--cc`: the cc crate's CC and AR are det's wrapper (the wrapper's flags, ar headers
/// zeroed): identical on both machines with the system compiler. With zig (one machine:
/// the two-machine comparisons with zig run through `exec`, which shares this set-up),
/// zig is mounted at /det/zig, links the example binary (LLD), and the manifest names it.
#[test]
fn cc_sys_crate_through_the_c_compiler_wrapper() {
    let args = ["--release", "--examples", "--cc"];
    det_build_twice("rust-cc-sys", &[&args[..], &["system"]].concat());
    let Some(zig) = det_common::toolchain::zig_for_test("det-build --cc zig") else {
        return;
    };
    let m = Machine::new("rust-cc-sys", 2, "UTC", "C.UTF-8");
    let out = m.det_build_with(&[&args[..], &["zig"]].concat(), &[("ZIG", zig.as_os_str())]);
    assert_ok(&out, "det-build --cc zig");
    assert!(stderr(&out).contains("zig at /det/zig"), "{}", stderr(&out));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.file("target/det/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["build"]["cc"], "zig", "{manifest}");
    assert!(
        manifest["toolchains"]["zig"]["id"].is_string(),
        "{manifest}"
    );
    manifest_outputs(&m);
    // zig's LLD linked the example: its .comment names the linker.
    let exe = m.file("target/release/examples/stamp");
    let comment = std::process::Command::new("readelf")
        .args(["-p", ".comment"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&comment.stdout).contains("Linker: LLD"),
        "{}",
        String::from_utf8_lossy(&comment.stdout)
    );
    // Neither the checkout nor zig's install directory is in it.
    let bin = std::fs::read(&exe).unwrap();
    let (install, _) = det_common::toolchain::zig_install_dir(&zig).unwrap();
    for p in [m.project.clone(), install] {
        let p = p.to_string_lossy().into_owned();
        assert!(
            !bin.windows(p.len()).any(|w| w == p.as_bytes()),
            "{p} is in the example binary"
        );
    }
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
