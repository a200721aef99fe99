//! Toolchain discovery and identity against the real rustc, gcc and zig of this machine.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use det_common::toolchain::{
    CFamily, Version, c_compiler_info, find_cc, find_rustc, identify_cc, identify_rustc,
    identify_zig, rustc_info, toolchain_id, zig_for_test,
};

fn process_env(k: &str) -> Option<OsString> {
    std::env::var_os(k)
}

fn stdout(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{} {args:?}", program.display());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn real_rustc_is_found_and_identified() {
    let rustc = find_rustc(&process_env).expect("rustc is on PATH (cargo runs the tests)");
    let info = rustc_info(&rustc).unwrap();
    let vv = stdout(&rustc, &["-vV"]);
    let release = vv
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .unwrap();
    assert_eq!(info.release.to_string(), release);
    let host = vv.lines().find_map(|l| l.strip_prefix("host: ")).unwrap();
    assert_eq!(info.host, host);
    if let Some(c) = vv.lines().find_map(|l| l.strip_prefix("commit-hash: ")) {
        assert_eq!(
            info.commit_hash.as_deref(),
            Some(c).filter(|c| *c != "unknown")
        );
    }
    if let Some(llvm) = vv.lines().find_map(|l| l.strip_prefix("LLVM version: ")) {
        assert_eq!(info.llvm_version.as_ref().unwrap().to_string(), llvm);
    }
    assert_eq!(
        info.sysroot.to_str().unwrap(),
        stdout(&rustc, &["--print", "sysroot"]).trim()
    );

    let start = Instant::now();
    let t = identify_rustc(&rustc).unwrap();
    eprintln!(
        "rustc toolchain id over {} in {:?}",
        info.sysroot.display(),
        start.elapsed()
    );
    assert_eq!(t.name, "rustc");
    assert_eq!(t.version, info.release);
    assert!(t.path.starts_with(&info.sysroot), "{}", t.path.display());
    assert_eq!(t.id.len(), 64);
    // Stable: the same bits give the same id.
    assert_eq!(identify_rustc(&rustc).unwrap().id, t.id);
}

#[test]
fn real_gcc_is_identified_through_cc_and_its_cc1_directory() {
    let gcc = det_common::toolchain::find_on_path("gcc").expect("gcc is installed");
    let info = c_compiler_info(&gcc).unwrap();
    assert_eq!(info.family, CFamily::Gcc);
    let full = stdout(&gcc, &["-dumpfullversion"]);
    assert_eq!(info.version.to_string(), full.trim());
    // The banner's last word is the same version on Debian.
    let banner = stdout(&gcc, &["--version"]);
    assert_eq!(Version::from_version_output(&banner).unwrap(), info.version);
    let cc1 = stdout(&gcc, &["-print-prog-name=cc1"]);
    assert_eq!(info.lib_dir, Path::new(cc1.trim()).parent().unwrap());

    let t = identify_cc(&gcc).unwrap();
    assert_eq!((t.name.as_str(), &t.version), ("gcc", &info.version));

    // CC wins over PATH; a ccache wrapper is skipped.
    let env = |k: &str| (k == "CC").then(|| OsString::from("ccache gcc -m64"));
    assert_eq!(find_cc(&env).unwrap(), gcc);
    assert!(find_cc(&|_| None).is_some());
}

#[test]
fn real_zig_is_identified() {
    let Some(zig) = zig_for_test("real_zig_is_identified") else {
        return;
    };
    let t = identify_zig(&zig).unwrap();
    assert_eq!(t.name, "zig");
    assert_eq!(t.version.to_string(), stdout(&zig, &["version"]).trim());
    assert_eq!(t.id.len(), 64);

    // CC="zig cc": the C compiler is zig.
    let cc = OsString::from(format!("{} cc", zig.display()));
    let env = |k: &str| (k == "CC").then(|| cc.clone());
    let found = find_cc(&env).unwrap();
    assert_eq!(found, zig);
    assert_eq!(identify_cc(&found).unwrap(), t);
}

#[test]
fn toolchain_id_depends_on_binary_and_library() {
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("cc");
    let lib = d.path().join("lib");
    std::fs::create_dir(&lib).unwrap();
    std::fs::write(&bin, "binary").unwrap();
    std::fs::write(lib.join("crt.o"), "crt").unwrap();
    let a = toolchain_id(&bin, &lib).unwrap();
    std::fs::write(lib.join("crt.o"), "crt2").unwrap();
    let b = toolchain_id(&bin, &lib).unwrap();
    std::fs::write(&bin, "binary2").unwrap();
    let c = toolchain_id(&bin, &lib).unwrap();
    assert!(a != b && b != c && a != c);
    // Python caches written on first use do not change the identity.
    std::fs::create_dir(lib.join("__pycache__")).unwrap();
    std::fs::write(lib.join("__pycache__/x.pyc"), "pyc").unwrap();
    assert_eq!(toolchain_id(&bin, &lib).unwrap(), c);
    let e = toolchain_id(&d.path().join("nope"), &lib)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
}
