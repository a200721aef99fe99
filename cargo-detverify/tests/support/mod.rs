//! What the det-verify tests share: the testdata fixtures, copying one, and the
//! cargo-det-build that det-verify runs its builds through.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fixture under testdata/.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// Copies a directory tree, leaving out any `target/` (a fixture is never built in place).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() != "target" {
                copy_dir(&e.path(), &dest);
            }
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// cargo-det-build beside cargo-det-verify, where det-verify finds it: built first when
/// only this package's tests were.
pub fn det_build() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_cargo-det-verify")).with_file_name("cargo-det-build");
    if !exe.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", "cargo-detbuild", "--bin", "cargo-det-build"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(st.success(), "building cargo-det-build");
    }
    exe
}
