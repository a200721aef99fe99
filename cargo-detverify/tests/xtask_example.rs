//! testdata/xtask-example's own release step, run as a user runs it: `cargo xtask release`
//! in a copy of the workspace, det's freshly built subcommands on PATH (as `cargo install`
//! puts them). It passes as shipped; with a build path compiled into the binary it fails
//! naming det-scan's finding, and with a build id made up at build time it fails naming
//! det-verify's verdict and cause; without det on PATH it says so (exit 2). One copy, so
//! the xtask itself is compiled once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod support;
use support::copy_dir;

const VERIFY: &str = env!("CARGO_BIN_EXE_cargo-det-verify");

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// det's three subcommands side by side (only this package's binaries exist when only its
/// tests were built).
fn det_bin_dir() -> PathBuf {
    let dir = Path::new(VERIFY).parent().unwrap().to_path_buf();
    if !["cargo-det-build", "cargo-det-scan"]
        .iter()
        .all(|b| dir.join(b).is_file())
    {
        let st = Command::new(cargo())
            .args([
                "build",
                "-p",
                "cargo-detbuild",
                "-p",
                "cargo-detscan",
                "--bins",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(st.success(), "building cargo-det-build and cargo-det-scan");
    }
    dir
}

/// `cargo xtask release` in `ws`, with a TMPDIR of its own and nothing of this test's
/// cargo environment but det on PATH.
fn release(ws: &Path, tmp: &Path, bin: &Path) -> (Output, String) {
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    release_with_path(ws, tmp, &path)
}

fn release_with_path(ws: &Path, tmp: &Path, path: &std::ffi::OsStr) -> (Output, String) {
    let mut c = Command::new(cargo());
    c.args(["xtask", "release"])
        .current_dir(ws)
        .env("PATH", path)
        .env("TMPDIR", tmp)
        .stdin(Stdio::null());
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "SOURCE_DATE_EPOCH",
        "DET_STORE",
    ] {
        c.env_remove(var);
    }
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let left: Vec<_> = std::fs::read_dir(tmp).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    (out, err)
}

#[test]
fn xtask_release_passes_and_fails_on_a_finding_or_a_non_reproducible_verdict() {
    let bin = det_bin_dir();
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("xtask-example");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/xtask-example"),
        &ws,
    );
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();

    // As shipped: reproducible and clean, the release's checksum printed from the manifest.
    let (out, err) = release(&ws, &tmp, &bin);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("xtask: release is reproducible and clean"),
        "{err}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ws.join("target/det/manifest.json")).unwrap())
            .unwrap();
    let sha = manifest["outputs"]["release/hello"]["sha256"]
        .as_str()
        .unwrap();
    assert!(
        err.contains(&format!("xtask: {sha}  release/hello")),
        "{err}"
    );

    // A path of the developer's machine written into the source: det-scan finds it
    // (det-verify cannot: it is the same in every build), and the release names the
    // finding. (`env!("CARGO_MANIFEST_DIR")` would not do: under det-build it is the
    // canonical root's /det/src/hello on every machine, which det-scan does not report.)
    let main = ws.join("hello/src/main.rs");
    let clean = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        clean
            .replace(
                "greet::greeting(&name))",
                "greet::greeting(&name), DATA_DIR)",
            )
            .replace("println!(\"{}\"", "println!(\"{} ({})\"")
            + "\nstatic DATA_DIR: &str = \"/home/alice/src/hello/data\";\n",
    )
    .unwrap();
    let (out, err) = release(&ws, &tmp, &bin);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("xtask: release failed: det-scan: home-path (high) in target/release/hello"),
        "{err}"
    );

    // A build id made up by the build script: every build differs; the verdict and its
    // cause are named.
    std::fs::write(
        ws.join("hello/build.rs"),
        r#"fn main() {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("id.rs");
    std::fs::write(out, format!("pub const BUILD_ID: &str = {:?};\n", id.trim())).unwrap();
}
"#,
    )
    .unwrap();
    std::fs::write(
        &main,
        clean
            .replace(
                "greet::greeting(&name))",
                "greet::greeting(&name), BUILD_ID)",
            )
            .replace("println!(\"{}\"", "println!(\"{} ({})\"")
            + "\ninclude!(concat!(env!(\"OUT_DIR\"), \"/id.rs\"));\n",
    )
    .unwrap();
    let (out, err) = release(&ws, &tmp, &bin);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("xtask: release failed: not reproducible: release/hello differs in run-1"),
        "{err}"
    );
    assert!(err.contains("(rule uuid-string)"), "{err}");

    // Without det on PATH (only the toolchain's directory, holding cargo and rustc, and the
    // system's): exit 2, saying what is missing.
    let toolchain = Path::new(&cargo())
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = std::env::join_paths([toolchain, "/usr/bin".into(), "/bin".into()]).unwrap();
    let (out, err) = release_with_path(&ws, &tmp, &path);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("xtask: error: `cargo det-build` is not installed"),
        "{err}"
    );
}
