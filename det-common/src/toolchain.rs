//! Toolchains: discovery and identity of rustc, the system C compiler and zig; version
//! parsing and comparison.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The zig binary: `$ZIG`, then `zig` on PATH, then the binary shipped by the `ziglang`
/// package on PyPI (found through `python3 -c 'import ziglang'`).
pub fn find_zig() -> Option<PathBuf> {
    if let Some(z) = std::env::var_os("ZIG").filter(|z| !z.is_empty()) {
        let z = PathBuf::from(z);
        return is_runnable_zig(&z).then_some(z);
    }
    if let Some(z) = find_on_path("zig").filter(|z| is_runnable_zig(z)) {
        return Some(z);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import ziglang, os; print(os.path.dirname(ziglang.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let z = dir.join(if cfg!(windows) { "zig.exe" } else { "zig" });
    is_runnable_zig(&z).then_some(z)
}

fn is_runnable_zig(p: &Path) -> bool {
    Command::new(p)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The first executable named `name` in PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// For tests that need zig: the zig binary, or `None` (the test skips) — but when
/// `DET_REQUIRE_ZIG=1` (as `cargo xtask test` and CI set it) a missing zig is a failure.
#[doc(hidden)]
pub fn zig_for_test(test: &str) -> Option<PathBuf> {
    match find_zig() {
        Some(z) => Some(z),
        None if std::env::var("DET_REQUIRE_ZIG").as_deref() == Ok("1") => panic!(
            "{test}: zig is required (DET_REQUIRE_ZIG=1) but was not found: set ZIG, put zig on PATH, or `python3 -m pip install ziglang`"
        ),
        None => {
            eprintln!(
                "{test}: skipped, zig not found (set DET_REQUIRE_ZIG=1 to make this an error)"
            );
            None
        }
    }
}
