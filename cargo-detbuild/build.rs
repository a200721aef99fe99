//! Builds libdetshim.so from `shim-src/` (the shim crate's sources) for the target
//! and leaves it in OUT_DIR, where `src/shim.rs` embeds it with `include_bytes!`.
//! Targets the shim does not support (anything but 64-bit Linux with glibc) get an
//! empty file and the `det_no_shim` cfg: `shim-path` then says so.

include!("build/shim_compile.rs");

fn main() {
    println!("cargo::rerun-if-changed=build/shim_compile.rs");
    println!("cargo::rerun-if-changed=shim-src");
    println!("cargo::rustc-check-cfg=cfg(det_no_shim)");
    let out_dir =
        std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let out = out_dir.join("libdetshim.so");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let supported = var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("CARGO_CFG_TARGET_POINTER_WIDTH") == "64"
        && matches!(var("CARGO_CFG_TARGET_ARCH").as_str(), "x86_64" | "aarch64");
    if !supported {
        std::fs::write(&out, b"").expect("writing to OUT_DIR");
        println!("cargo::rustc-cfg=det_no_shim");
        return;
    }
    let manifest = std::path::PathBuf::from(var("CARGO_MANIFEST_DIR"));
    let src = manifest.join("shim-src");
    let rustc =
        std::path::PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    let linker = std::env::var_os("RUSTC_LINKER").map(std::path::PathBuf::from);
    if let Err(e) = compile_shim(&rustc, &var("TARGET"), &src, &out, linker.as_deref()) {
        panic!("{e}");
    }
}
