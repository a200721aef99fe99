// Compiling libdetshim.so with one `rustc` call. Shared by build.rs (`include!`) and by
// the reproducibility test (`#[path]`), so both compile the shim the same way.
//
// Why plain `rustc` and not a nested `cargo build`: the shim has no dependency (it
// declares the few libc functions it needs itself), so one `rustc` call builds it; a
// nested cargo would need its own target dir to avoid deadlocking on the outer build's
// lock, and possibly the network. Why the shim's source travels inside this package
// (`shim-src`, a symlink to `../shim/src` that `cargo package` turns into files): an
// installed `cargo-det-build` (from crates.io) has no workspace next to it.

use std::path::Path;
use std::process::Command;

/// Compile the shim crate rooted at `src_dir/lib.rs` into the cdylib `out`.
///
/// The flags make the library reproducible: paths of the sources are remapped to
/// `detshim/`, no debug info or local symbols, one codegen unit, a build-id that is a hash of the
/// content (`--build-id=sha1`), and `-C metadata` fixed so symbol hashes do not depend
/// on where it is built. `-C panic=abort`: no unwinding machinery is needed in code
/// that must never panic.
#[allow(dead_code)]
pub fn compile_shim(
    rustc: &Path,
    target: &str,
    src_dir: &Path,
    out: &Path,
    linker: Option<&Path>,
) -> Result<(), String> {
    let mut cmd = Command::new(rustc);
    cmd.arg("--crate-name")
        .arg("detshim")
        .args(["--crate-type", "cdylib", "--edition", "2024"])
        .args(["--target", target])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "panic=abort",
            "-C",
            "codegen-units=1",
        ])
        .args([
            "-C",
            "debuginfo=0",
            "-C",
            "strip=symbols",
            "-C",
            "metadata=detshim",
        ])
        .args([
            "-C",
            "link-arg=-Wl,--build-id=sha1",
            "-C",
            "link-arg=-Wl,-z,now",
        ])
        .arg(format!("--remap-path-prefix={}=detshim", src_dir.display()))
        .arg("-o")
        .arg(out)
        .arg(src_dir.join("lib.rs"))
        // The outer build's flags are for cargo-det-build, not for the shim.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS");
    if let Some(l) = linker {
        cmd.arg("-C").arg(format!("linker={}", l.display()));
    }
    let output = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", rustc.display()))?;
    if !output.status.success() {
        return Err(format!(
            "compiling the shim {} failed ({}):\n{}",
            src_dir.join("lib.rs").display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}
