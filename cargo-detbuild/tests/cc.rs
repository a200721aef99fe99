//! The C compiler wrapper (`cargo det-build cc|c++|ar`, and the same binary through links
//! named cc, c++ and ar), with the real compilers: gcc and `zig cc` compiling and linking
//! the same C program in two directories of different path lengths (bit-identical through
//! the wrapper, different with plain gcc), `ar rcU` through the wrapper (zeroed metadata),
//! a probe (`--version`), a failing compile (its error and exit status passed through), a
//! missing zig (the message says how to install it), a Rust binary linked by zig through
//! the wrapper as cargo's linker, and response files.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_cargo-det-build");

/// A directory with links cc, c++, ar to cargo-det-build (argv[0] dispatch).
fn links() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for n in ["cc", "c++", "ar"] {
        std::os::unix::fs::symlink(EXE, d.path().join(n)).unwrap();
    }
    d
}

fn zig() -> Option<PathBuf> {
    det_common::toolchain::zig_for_test("cc wrapper")
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const HELLO: &str = r#"#include <assert.h>
#include <stdio.h>
static int twice(int x) { assert(x < 1000); return 2 * x; }
int main(void) { printf("%s %s %d\n", __FILE__, __DATE__, twice(21)); return 0; }
"#;

/// Compile and link hello.c in `dir` through the wrapper (`links`), with `toolchain`.
/// With zig, `zig_cache` is zig's cache: zig builds its libc start files once per cache,
/// with the working directory of that first build (and zig's own install path) in their
/// DWARF, so executables are identical across directories that share one cache (det-build
/// keeps one cache per canonical root, which is what makes that path the same everywhere).
fn build_in(
    dir: &Path,
    links: &Path,
    toolchain: &str,
    zig: Option<(&Path, &Path)>,
) -> (Vec<u8>, Vec<u8>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("hello.c"), HELLO).unwrap();
    let cc = |args: &[&str]| {
        let mut c = Command::new(links.join("cc"));
        c.args(args)
            .current_dir(dir)
            .env("DET_CC_TOOLCHAIN", toolchain)
            .env("SOURCE_DATE_EPOCH", "1704067200")
            .env("DET_ROOT", dir);
        if let Some((z, cache)) = zig {
            c.env("DET_ZIG", z).env("DET_ZIG_CACHE", cache);
        }
        ok(c.output().unwrap(), &format!("cc {args:?}"));
    };
    // The source named by its absolute path, as make's $(CURDIR)/main.c does.
    let src = dir.join("hello.c");
    cc(&["-O2", "-g", "-c", src.to_str().unwrap(), "-o", "hello.o"]);
    cc(&["hello.o", "-o", "hello"]);
    let run = Command::new(dir.join("hello")).output().unwrap();
    assert!(String::from_utf8_lossy(&run.stdout).contains("Jan  1 2024 42"));
    (
        std::fs::read(dir.join("hello.o")).unwrap(),
        std::fs::read(dir.join("hello")).unwrap(),
    )
}

#[test]
fn gcc_through_the_wrapper_is_identical_in_two_directories_plain_gcc_is_not() {
    let l = links();
    let t = tempfile::tempdir().unwrap();
    let a = build_in(&t.path().join("a"), l.path(), "system", None);
    let b = build_in(
        &t.path().join("much/longer/path/b"),
        l.path(),
        "system",
        None,
    );
    assert!(a.0 == b.0, "objects differ");
    assert!(a.1 == b.1, "executables differ");
    // Plain gcc with the same flags keeps the directory (DWARF, __FILE__).
    let plain = |d: &Path| {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("hello.c"), HELLO).unwrap();
        let src = d.join("hello.c");
        ok(
            Command::new("gcc")
                .args(["-O2", "-g", "-c", src.to_str().unwrap(), "-o", "hello.o"])
                .current_dir(d)
                .env("SOURCE_DATE_EPOCH", "1704067200")
                .output()
                .unwrap(),
            "gcc",
        );
        std::fs::read(d.join("hello.o")).unwrap()
    };
    assert_ne!(
        plain(&t.path().join("p")),
        plain(&t.path().join("much/longer/p"))
    );
    // The link got a content build id.
    let notes = Command::new("readelf")
        .args(["-n"])
        .arg(t.path().join("a/hello"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&notes.stdout).contains("Build ID"));
}

#[test]
fn zig_cc_through_the_wrapper_is_identical_in_two_directories() {
    let Some(z) = zig() else { return };
    let l = links();
    let t = tempfile::tempdir().unwrap();
    let cache = t.path().join("zig-cache");
    let a = build_in(&t.path().join("a"), l.path(), "zig", Some((&z, &cache)));
    let b = build_in(
        &t.path().join("much/longer/path/b"),
        l.path(),
        "zig",
        Some((&z, &cache)),
    );
    assert!(a.0 == b.0, "objects differ");
    assert!(a.1 == b.1, "executables differ");
    // zig's clang made it, for the explicit host target.
    let comment = Command::new("readelf")
        .args(["-p", ".comment"])
        .arg(t.path().join("a/hello.o"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&comment.stdout).contains("clang"),
        "{}",
        String::from_utf8_lossy(&comment.stdout)
    );
}

#[test]
fn ar_through_the_wrapper_zeroes_member_metadata() {
    let l = links();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::write(d.join("a.o"), "not really an object\n").unwrap();
    std::fs::write(d.join("b.o"), "another\n").unwrap();
    ok(
        Command::new("touch")
            .args(["-d", "2026-01-02 03:04:05", "a.o", "b.o"])
            .current_dir(d)
            .output()
            .unwrap(),
        "touch",
    );
    // `U` asks for real times and owners: the wrapper turns it into `D`.
    ok(
        Command::new(l.path().join("ar"))
            .args(["rcU", "lib.a", "a.o", "b.o"])
            .current_dir(d)
            .output()
            .unwrap(),
        "ar",
    );
    let tv = ok(
        Command::new("ar")
            .args(["tv", "lib.a"])
            .current_dir(d)
            .output()
            .unwrap(),
        "ar tv",
    );
    let listing = String::from_utf8_lossy(&tv.stdout);
    for line in listing.lines() {
        assert!(
            line.starts_with("rw-r--r-- 0/0") && line.contains("Jan  1 00:00 1970"),
            "{listing}"
        );
    }
    // And the subcommand form.
    ok(
        Command::new(EXE)
            .args(["det-build", "ar", "--", "rcU", "lib2.a", "a.o"])
            .current_dir(d)
            .output()
            .unwrap(),
        "det-build ar",
    );
    let tv = ok(
        Command::new("ar")
            .args(["tv", "lib2.a"])
            .current_dir(d)
            .output()
            .unwrap(),
        "ar tv",
    );
    assert!(String::from_utf8_lossy(&tv.stdout).contains("0/0"));
}

#[test]
fn probes_failures_and_a_missing_zig() {
    let l = links();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // A probe goes through untouched.
    let v = ok(
        Command::new(l.path().join("cc"))
            .arg("--version")
            .output()
            .unwrap(),
        "cc --version",
    );
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(
        text.contains("Free Software Foundation") || text.contains("clang"),
        "{text}"
    );
    // -E works, and a compile that fails keeps its message and status.
    std::fs::write(d.join("bad.c"), "int x = ;\n").unwrap();
    let out = Command::new(l.path().join("cc"))
        .args(["-c", "bad.c"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.c:1:9: error"), "{err}");
    // No zig anywhere: the message says how to get one.
    let out = Command::new(EXE)
        .args(["det-build", "cc", "--cc", "zig", "--", "-c", "bad.c"])
        .current_dir(d)
        .env("ZIG", d.join("no-such-zig"))
        .env_remove("DET_ZIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zig not found") && err.contains("pip install ziglang"),
        "{err}"
    );
}

#[test]
fn response_files_are_understood_and_passed_on() {
    let l = links();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::write(d.join("hello.c"), HELLO).unwrap();
    std::fs::write(d.join("args.rsp"), "-g -c hello.c -o hello.o\n").unwrap();
    ok(
        Command::new(l.path().join("cc"))
            .arg("@args.rsp")
            .current_dir(d)
            .env("SOURCE_DATE_EPOCH", "1")
            .output()
            .unwrap(),
        "cc @args.rsp",
    );
    // The wrapper saw a compile: the working directory is mapped away in the DWARF.
    let dump = ok(
        Command::new("readelf")
            .args(["--debug-dump=info"])
            .arg(d.join("hello.o"))
            .output()
            .unwrap(),
        "readelf",
    );
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        !text.contains(d.to_str().unwrap()),
        "the build directory is in the DWARF"
    );
}

#[test]
fn a_rust_binary_linked_by_zig() {
    let Some(z) = zig() else { return };
    let l = links();
    let t = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/rust-clean");
    let proj = t.path().join("proj");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&proj)
        .status()
        .unwrap();
    assert!(status.success());
    let host = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let linker_var = format!(
        "CARGO_TARGET_{}_LINKER",
        host.replace('-', "_").to_uppercase()
    );
    ok(
        Command::new("cargo")
            .args(["build", "--offline", "-q", "--target", &host])
            .current_dir(&proj)
            .env(&linker_var, l.path().join("cc"))
            .env("CARGO_TARGET_DIR", t.path().join("target"))
            .env("DET_CC_TOOLCHAIN", "zig")
            .env("DET_ZIG", &z)
            .env("DET_ZIG_CACHE", t.path().join("zig-cache"))
            .output()
            .unwrap(),
        "cargo build with zig as the linker",
    );
    let bin = std::fs::read_dir(t.path().join("target").join(&host).join("debug"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.is_file() && p.extension().is_none() && std::fs::metadata(p).unwrap().len() > 10_000
        })
        .expect("the binary");
    let out = ok(Command::new(&bin).output().unwrap(), "the binary");
    let _ = out;
    // lld (zig's linker) signed it, with a sha1 build id from det's flags.
    let comment = Command::new("readelf")
        .args(["-p", ".comment"])
        .arg(&bin)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&comment.stdout).contains("Linker: LLD"),
        "{}",
        String::from_utf8_lossy(&comment.stdout)
    );
    let notes = Command::new("readelf")
        .args(["-n"])
        .arg(&bin)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&notes.stdout).contains("Build ID"));
}
