//! `cargo det-build doctor` on this machine: every check passes (the real toolchains, the
//! namespace, the shim in date(1), C and Rust probes built twice and compared), and with a
//! wrong pin in det.toml it fails under --strict, naming the fix.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::process::Command;

fn doctor(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-det-build"))
        .args(["det-build", "doctor", "--format", "json"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

#[test]
fn doctor_passes_here_and_a_wrong_pin_fails_under_strict_with_its_fix() {
    let Some(_) = det_common::toolchain::zig_for_test("doctor") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let (code, v) = doctor(t.path(), &[]);
    let checks = v["checks"].as_array().unwrap();
    let bad: Vec<_> = checks.iter().filter(|c| c["state"] != "ok").collect();
    assert!(bad.is_empty(), "{bad:#?}");
    assert_eq!(code, Some(0));
    for name in [
        "rustc",
        "zig",
        "namespace",
        "shim",
        "C probe (system)",
        "C probe (zig)",
        "Rust probe",
    ] {
        assert!(
            checks.iter().any(|c| c["name"] == name),
            "no `{name}` check: {v}"
        );
    }

    std::fs::write(t.path().join("det.toml"), "zig-version = \"0.0.1\"\n").unwrap();
    let (code, v) = doctor(t.path(), &["--strict"]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["ready"], false);
    let pin = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "zig pin")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(pin["state"], "fail");
    assert_eq!(pin["fix"], "python3 -m pip install ziglang==0.0.1");

    // In a cargo workspace, doctor reads the pins where det-build does: the workspace's
    // `[workspace.metadata.det]` (over det.toml for the same key), also from a member's
    // subdirectory.
    std::fs::write(
        t.path().join("Cargo.toml"),
        "[package]\nname = \"pinned\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [workspace]\n\n[workspace.metadata.det]\nrustc-id = \"0123456789abcdef\"\n\
         zig-version = \"0.0.2\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(t.path().join("src")).unwrap();
    std::fs::write(t.path().join("src/lib.rs"), "").unwrap();
    let (code, v) = doctor(&t.path().join("src"), &[]);
    assert_eq!(code, Some(1), "{v}");
    let named = |name: &str| -> serde_json::Value {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {v}"))
            .clone()
    };
    let rustc_pin = named("rustc pin");
    assert_eq!(rustc_pin["state"], "fail", "{v}");
    let detail = rustc_pin["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("[workspace.metadata.det] in ")
            && detail.contains("Cargo.toml pins rustc-id 0123456789abcdef"),
        "{detail}"
    );
    assert!(
        rustc_pin["fix"]
            .as_str()
            .unwrap()
            .contains("in [workspace.metadata.det] in "),
        "{rustc_pin}"
    );
    let zig_pin = named("zig pin");
    assert_eq!(
        zig_pin["fix"], "python3 -m pip install ziglang==0.0.2",
        "{v}"
    );
}
