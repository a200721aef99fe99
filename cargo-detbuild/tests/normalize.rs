//! `cargo det-build normalize` on real archives made here by the real tools: Python's
//! zipfile (with extended-timestamp fields, as Info-ZIP writes them), a pip-built wheel of
//! testdata/py-pkg (plus one that ships a timestamp pyc), GNU tar (plain, gzip, xz, zstd,
//! bzip2; hard links, symlinks, long names), GNU ar, gzip and py_compile. Each is
//! extracted before and after and compared, scanned by det-scan's detectors (nothing at
//! medium or above), normalized twice (the second run changes nothing), and built twice
//! at different times in different orders (the normalized files are identical). Debian's
//! strip-nondeterminism runs on the same inputs as the anchor.
//!
//! Needs python3 (pip, setuptools, wheel), tar, gzip, xz, zstd, bzip2, binutils and
//! strip-nondeterminism: missing tools fail under DET_REQUIRE_TOOLS=1, else skip.
#![cfg(unix)]

use det_common::artifact::Node;
use det_common::detect::{ScanOptions, scan_node};
use det_common::finding::Location;
use det_common::rules::Severity;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SDE: i64 = 1_704_067_200;

fn have(tool: &str, test: &str) -> bool {
    let found = det_common::toolchain::find_on_path(tool).is_some();
    if !found {
        assert!(
            std::env::var("DET_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{test}: `{tool}` is not installed (DET_REQUIRE_TOOLS=1); `cargo xtask test` installs it"
        );
        eprintln!("{test}: skipped, `{tool}` is not installed");
    }
    found
}

fn run(dir: &Path, cmd: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(cmd[0]);
    c.args(&cmd[1..]).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn normalize(files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-det-build"))
        .arg("normalize")
        .arg(format!("--source-date-epoch={SDE}"))
        .args(files)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn normalize_ok(files: &[&Path]) -> String {
    let out = normalize(files);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

/// det-scan's findings at medium severity or above.
fn findings(path: &Path) -> Vec<String> {
    let opts = ScanOptions {
        source_date_epoch: Some(SDE),
        ..ScanOptions::default()
    };
    let node = Node::open(path).unwrap();
    let mut out = Vec::new();
    scan_node(&node, &Location::file("f"), None, &opts, 0, &mut out);
    out.iter()
        .filter(|f| f.severity() >= Severity::Medium)
        .map(|f| format!("{} {:?} {}", f.rule.id, f.location, f.evidence))
        .collect()
}

/// Everything in a directory: path → (kind and mode, content or link target).
fn tree(root: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(
                    rel,
                    ("link".into(), t.into_os_string().into_encoded_bytes()),
                );
            } else if m.is_dir() {
                out.insert(rel, (format!("dir {:o}", m.mode() & 0o7777), Vec::new()));
                walk(root, &p, out);
            } else {
                let kind = format!("file {:o} links {}", m.mode() & 0o7777, m.nlink());
                out.insert(rel, (kind, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn unzip(zip: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        &[
            "python3",
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
            zip.to_str().unwrap(),
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    tree(dir.path())
}

fn untar(tar: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        &["tar", "-xf", tar.to_str().unwrap(), "--no-same-owner"],
        &[],
    );
    tree(dir.path())
}

/// A source tree whose order on disk is not sorted and whose files have odd modes.
fn source_tree(dir: &Path, mtime: &str) {
    let files: &[(&str, &[u8], u32)] = &[
        ("pkg/zeta.txt", b"zeta\n", 0o664),
        ("pkg/alpha.txt", b"alpha\n", 0o644),
        ("pkg-b/tool.sh", b"#!/bin/sh\necho hi\n", 0o775),
        ("pkg/sub/deep.bin", &[0, 1, 2, 255], 0o600),
        (
            "pkg/a-very-long-directory-name-that-goes-on-and-on/and-a-file-name-long-enough-to-need-gnu-long-names.txt",
            b"long\n",
            0o644,
        ),
    ];
    for (name, body, mode) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    std::os::unix::fs::symlink("alpha.txt", dir.join("pkg/link-to-alpha")).unwrap();
    std::fs::hard_link(dir.join("pkg/zeta.txt"), dir.join("pkg/a-hard-link")).unwrap();
    run(
        dir,
        &["find", ".", "-exec", "touch", "-h", "-d", mtime, "{}", "+"],
        &[],
    );
}

/// Make every kind of archive from `source_tree` in `dir` (time `mtime`, `reverse` order
/// of the members where the tool takes a list).
fn make_archives(dir: &Path, mtime: &str, reverse: bool) -> Vec<PathBuf> {
    let src = dir.join("src");
    source_tree(&src, mtime);
    let order = if reverse {
        "reverse=True"
    } else {
        "reverse=False"
    };
    // Python's zipfile, in file-system walk order (optionally reversed), with the
    // extended-timestamp extra field Info-ZIP writes.
    let script = format!(
        r#"
import os, struct, sys, zipfile
names = []
for root, dirs, files in os.walk('src'):
    for f in files: names.append(os.path.join(root, f))
names.sort({order})
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for n in names:
        if os.path.islink(n): continue
        st = os.stat(n)
        zi = zipfile.ZipInfo.from_file(n)
        zi.extra = struct.pack('<HHBI', 0x5455, 5, 1, int(st.st_mtime))
        zi.compress_type = zipfile.ZIP_DEFLATED
        with open(n, 'rb') as f: z.writestr(zi, f.read())
"#
    );
    run(dir, &["python3", "-c", &script, "t.zip"], &[]);
    // GNU tar in directory order (unsorted), every compression.
    for (name, flag) in [
        ("t.tar", None),
        ("t.tar.gz", Some("-z")),
        ("t.tar.xz", Some("-J")),
        ("t.tar.zst", Some("--zstd")),
        ("t.tar.bz2", Some("-j")),
    ] {
        let mut cmd = vec!["tar", "-c", "-f", name];
        cmd.extend(flag);
        cmd.push("src");
        run(dir, &cmd, &[]);
    }
    // GNU ar with real times and owners (U), gzip with name and time.
    // (ar member order is the build's choice, which det keeps: a linker may depend on it.)
    run(
        dir,
        &["ar", "rcU", "t.a", "src/pkg/zeta.txt", "src/pkg/alpha.txt"],
        &[],
    );
    std::fs::copy(src.join("pkg/alpha.txt"), dir.join("alpha.txt")).unwrap();
    run(dir, &["touch", "-d", mtime, "alpha.txt"], &[]);
    run(dir, &["gzip", "-f", "alpha.txt"], &[]);
    [
        "t.zip",
        "t.tar",
        "t.tar.gz",
        "t.tar.xz",
        "t.tar.zst",
        "t.tar.bz2",
        "t.a",
        "alpha.txt.gz",
    ]
    .iter()
    .map(|n| dir.join(n))
    .collect()
}

fn contents(p: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    if name.ends_with(".zip") || name.ends_with(".whl") {
        unzip(p)
    } else if name.contains(".tar") {
        untar(p)
    } else if name.ends_with(".a") {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &["ar", "x", p.to_str().unwrap()], &[]);
        // ar x applies the member modes; content is what matters here.
        tree(dir.path())
            .into_iter()
            .map(|(k, (_, v))| (k, (String::new(), v)))
            .collect()
    } else {
        let out = run(Path::new("."), &["gzip", "-dc", p.to_str().unwrap()], &[]);
        BTreeMap::from([(String::new(), (String::new(), out.stdout))])
    }
}

fn tools(test: &str) -> bool {
    ["python3", "tar", "gzip", "xz", "zstd", "bzip2", "ar"]
        .iter()
        .all(|t| have(t, test))
}

#[test]
fn archives_are_normalized_with_content_kept_and_det_scan_clean() {
    if !tools("archives_are_normalized") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = make_archives(dir.path(), "2026-03-04 05:06:07", false);
    let before: Vec<_> = files.iter().map(|f| contents(f)).collect();
    for f in &files {
        assert!(
            !findings(f).is_empty(),
            "{}: the test archive should have findings before",
            f.display()
        );
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let err = normalize_ok(&refs);
    for (f, b) in files.iter().zip(&before) {
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(
            err.contains(&format!("Normalized {}", f.display())),
            "{name}: {err}"
        );
        assert_eq!(&contents(f), b, "{name}: content changed");
        assert_eq!(findings(f), Vec::<String>::new(), "{name}");
    }
    // The hard link survived the new order (tar extracts it as a link).
    let t = untar(&dir.path().join("t.tar"));
    assert!(
        t["src/pkg/zeta.txt"].0.ends_with("links 2"),
        "{:?}",
        t["src/pkg/zeta.txt"]
    );
    // A second run changes nothing.
    let snapshot: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let err = normalize_ok(&refs);
    assert!(err.matches("Unchanged").count() == files.len(), "{err}");
    for (f, s) in files.iter().zip(&snapshot) {
        assert_eq!(&std::fs::read(f).unwrap(), s, "{}", f.display());
    }
}

#[test]
fn the_same_content_made_twice_differently_normalizes_to_identical_bytes() {
    if !tools("the_same_content_made_twice") {
        return;
    }
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let fa = make_archives(a.path(), "2025-01-02 03:04:05", false);
    let fb = make_archives(b.path(), "2026-06-07 08:09:10", true);
    for (x, y) in fa.iter().zip(&fb) {
        assert_ne!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
    }
    let all: Vec<&Path> = fa.iter().chain(&fb).map(PathBuf::as_path).collect();
    normalize_ok(&all);
    for (x, y) in fa.iter().zip(&fb) {
        assert!(
            std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
            "{} differs between the two builds after normalizing",
            x.file_name().unwrap().to_string_lossy()
        );
    }
}

fn py_pkg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/py-pkg")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let t = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// testdata/py-pkg's wheel, built by pip (setuptools + wheel, no build isolation).
fn build_wheel(dir: &Path) -> PathBuf {
    let src = dir.join("py-pkg");
    copy_tree(&py_pkg(), &src);
    run(
        &src,
        &[
            "python3",
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-cache-dir",
            "-q",
            "-w",
            "dist",
            ".",
        ],
        &[],
    );
    let wheel = src.join("dist/detpkg-0.1.0-py3-none-any.whl");
    assert!(wheel.exists(), "pip did not build {}", wheel.display());
    wheel
}

/// `wheel unpack` checks every file against RECORD's hash and size.
fn wheel_unpack(wheel: &Path) -> BTreeMap<String, (String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        &[
            "python3",
            "-m",
            "wheel",
            "unpack",
            "-d",
            ".",
            wheel.to_str().unwrap(),
        ],
        &[],
    );
    tree(dir.path())
        .into_iter()
        .map(|(k, (_, v))| (k, (String::new(), v)))
        .collect()
}

#[test]
fn pip_wheels_keep_a_correct_record() {
    if !have("python3", "pip_wheels") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wheel = build_wheel(dir.path());
    assert!(!findings(&wheel).is_empty(), "pip's wheel keeps file times");
    let before = wheel_unpack(&wheel);
    normalize_ok(&[&wheel]);
    assert_eq!(findings(&wheel), Vec::<String>::new());
    assert_eq!(wheel_unpack(&wheel), before);

    // A wheel that ships a timestamp-based pyc: it becomes checked-hash (its source is in
    // the wheel), and RECORD gets its new hash; `wheel unpack` verifies them.
    let shipped = dir.path().join("detpkg-0.1.0-py3-none-any.whl");
    let script = r#"
import base64, csv, hashlib, io, py_compile, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
zin = zipfile.ZipFile(src)
names = zin.namelist()
open('detpkg_init.py', 'wb').write(zin.read('detpkg/__init__.py'))
py_compile.compile('detpkg_init.py', cfile='init.pyc', invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
pyc = open('init.pyc', 'rb').read()
tag = sys.implementation.cache_tag
pyc_name = f'detpkg/__pycache__/__init__.{tag}.pyc'
record_name = [n for n in names if n.endswith('.dist-info/RECORD')][0]
rows = list(csv.reader(io.StringIO(zin.read(record_name).decode())))
digest = base64.urlsafe_b64encode(hashlib.sha256(pyc).digest()).rstrip(b'=').decode()
rows.insert(0, [pyc_name, 'sha256=' + digest, str(len(pyc))])
out = io.StringIO()
csv.writer(out, lineterminator='\n').writerows(rows)
with zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr(pyc_name, pyc)
    for n in names:
        if n != record_name: z.writestr(zin.getinfo(n), zin.read(n))
    z.writestr(record_name, out.getvalue())
print(tag)
"#;
    let out = run(
        dir.path(),
        &[
            "python3",
            "-c",
            script,
            wheel.to_str().unwrap(),
            shipped.to_str().unwrap(),
        ],
        &[],
    );
    let tag = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let pyc_name = format!("detpkg/__pycache__/__init__.{tag}.pyc");
    let before = wheel_unpack(&shipped);
    assert!(
        findings(&shipped)
            .iter()
            .any(|f| f.starts_with("pyc-timestamp"))
    );
    normalize_ok(&[&shipped]);
    assert_eq!(findings(&shipped), Vec::<String>::new());
    let after = wheel_unpack(&shipped);
    let key = format!("detpkg-0.1.0/{pyc_name}");
    // The code is the same; the header says checked-hash (flags 3).
    assert_eq!(after[&key].1[16..], before[&key].1[16..]);
    assert_eq!(after[&key].1[4..8], [3, 0, 0, 0]);
    // Byte for byte what py_compile writes with SOURCE_DATE_EPOCH set.
    run(
        dir.path(),
        &[
            "python3",
            "-c",
            "import py_compile; py_compile.compile('detpkg_init.py', cfile='ref.pyc')",
        ],
        &[("SOURCE_DATE_EPOCH", "1")],
    );
    assert_eq!(
        after[&key].1,
        std::fs::read(dir.path().join("ref.pyc")).unwrap()
    );
}

#[test]
fn pyc_next_to_its_source_becomes_what_py_compile_writes_with_source_date_epoch() {
    if !have("python3", "pyc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("m.py"), "X = [1, 2, 3]\ndef f():\n    return X\n").unwrap();
    run(
        d,
        &[
            "python3",
            "-c",
            "import py_compile; print(py_compile.compile('m.py', invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP))",
        ],
        &[],
    );
    let pyc = std::fs::read_dir(d.join("__pycache__"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(!findings(&pyc).is_empty());
    normalize_ok(&[&pyc]);
    let normalized = std::fs::read(&pyc).unwrap();
    std::fs::remove_file(&pyc).unwrap();
    run(
        d,
        &[
            "python3",
            "-c",
            "import py_compile; py_compile.compile('m.py')",
        ],
        &[("SOURCE_DATE_EPOCH", "1")],
    );
    assert_eq!(normalized, std::fs::read(&pyc).unwrap());
    // Python imports it (a checked-hash pyc whose hash matches is used as it is).
    let out = run(
        d,
        &["python3", "-c", "import m; print(m.f())"],
        &[("PYTHONDONTWRITEBYTECODE", "1")],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[1, 2, 3]");
}

#[test]
fn unknown_files_are_reported_and_corrupt_archives_fail_untouched() {
    if !have("tar", "corrupt") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("notes.txt"), "just text\n").unwrap();
    let out = normalize(&[&d.join("notes.txt")]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Skipped") && err.contains("notes.txt"),
        "{err}"
    );
    assert_eq!(std::fs::read(d.join("notes.txt")).unwrap(), b"just text\n");

    std::fs::write(d.join("a.txt"), "a".repeat(5000)).unwrap();
    run(d, &["tar", "-czf", "t.tar.gz", "a.txt"], &[]);
    run(d, &["tar", "-cf", "t.tar", "a.txt"], &[]);
    for name in ["t.tar.gz", "t.tar"] {
        let p = d.join(name);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&p, &bytes).unwrap();
        let out = normalize(&[&p]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "{name} was modified");
    }
    // No temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".det-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn strip_nondeterminism_anchor_det_is_at_least_as_normalized() {
    if !tools("anchor") || !have("strip-nondeterminism", "anchor") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = make_archives(dir.path(), "2026-03-04 05:06:07", false);
    let theirs = tempfile::tempdir().unwrap();
    let mut sn_findings = 0;
    for f in &files {
        let copy = theirs.path().join(f.file_name().unwrap());
        std::fs::copy(f, &copy).unwrap();
        // strip-nondeterminism handles what it knows (zip, ar, gzip); tar it leaves.
        let _ = Command::new("strip-nondeterminism")
            .arg(format!("--timestamp={SDE}"))
            .arg(&copy)
            .output()
            .unwrap();
        sn_findings += findings(&copy).len();
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    normalize_ok(&refs);
    let ours: usize = files.iter().map(|f| findings(f).len()).sum();
    assert_eq!(ours, 0);
    assert!(ours <= sn_findings);
    eprintln!("det-scan findings at medium+: det {ours}, strip-nondeterminism {sn_findings}");
}

/// Every rule id det-scan reports on `path`, any severity.
fn rule_ids(path: &Path) -> Vec<String> {
    let opts = ScanOptions {
        source_date_epoch: Some(SDE),
        ..ScanOptions::default()
    };
    let node = Node::open(path).unwrap();
    let mut out = Vec::new();
    scan_node(&node, &Location::file("f"), None, &opts, 0, &mut out);
    out.iter().map(|f| f.rule.id.to_string()).collect()
}

/// What normalize writes is what det-scan calls sorted (one definition: det-common
/// `sorted`), for zip and tar, with names where the orders part ways: `a-b/` against
/// `a/` (`-` sorts before `/` byte-wise, after it component-wise), `a.b`, and nested
/// directories.
#[test]
fn normalized_order_is_sorted_for_det_scan_with_tricky_names() {
    if !have("tar", "tricky order") || !have("python3", "tricky order") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    // Directories end in `/`; written in reverse byte order (a file-system-like order).
    let mut names = vec![
        "a/", "a/b/", "a/b/c/", "a/b/c/d", "a/b.c", "a/y", "a-b/", "a-b/x", "a.b", "a0", "A",
    ];
    names.reverse();
    for n in &names {
        let p = src.join(n);
        if n.ends_with('/') {
            std::fs::create_dir_all(&p).unwrap();
        } else {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, n.as_bytes()).unwrap();
        }
    }
    let zip = t.path().join("tricky.zip");
    run(
        &src,
        &[
            "python3",
            "-c",
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
             \x20   for n in sys.argv[2:]: z.write(n, n)",
            zip.to_str().unwrap(),
        ]
        .into_iter()
        .chain(names.iter().copied())
        .collect::<Vec<_>>(),
        &[],
    );
    let tar = t.path().join("tricky.tar");
    let list = t.path().join("list");
    std::fs::write(&list, names.join("\n") + "\n").unwrap();
    run(
        &src,
        &[
            "tar",
            "--no-recursion",
            "-cf",
            tar.to_str().unwrap(),
            "-T",
            list.to_str().unwrap(),
        ],
        &[],
    );
    // Before: out of order for det-scan.
    assert!(rule_ids(&zip).contains(&"zip-entry-order".to_string()));
    assert!(rule_ids(&tar).contains(&"tar-member-order".to_string()));
    normalize_ok(&[&zip, &tar]);

    // det's normalizer order: component by component, so `a/...` before `a-b/`.
    let expected = [
        "A", "a/", "a/b/", "a/b/c/", "a/b/c/d", "a/b.c", "a/y", "a-b/", "a-b/x", "a.b", "a0",
    ];
    let zip_names = run(
        t.path(),
        &[
            "python3",
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
            zip.to_str().unwrap(),
        ],
        &[],
    );
    let tar_names = run(t.path(), &["tar", "-tf", tar.to_str().unwrap()], &[]);
    for (what, listing, ids) in [
        ("zip", zip_names, rule_ids(&zip)),
        ("tar", tar_names, rule_ids(&tar)),
    ] {
        let got: Vec<String> = String::from_utf8_lossy(&listing.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(got, expected, "{what}: the normalized order");
        assert_eq!(
            det_common::sorted::first_unsorted_pair(&got),
            None,
            "{what}: det-scan's order check"
        );
        assert!(
            !ids.iter().any(|id| id.ends_with("-order")),
            "{what}: det-scan reports an order finding on normalize's output: {ids:?}"
        );
    }
}
