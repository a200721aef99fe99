//! zip files made by Python's zipfile, wheels built from testdata/py-pkg by pip, and pycs
//! made by py_compile — each with and without the deterministic settings.

mod scan_support;
use det_common::detect::ScanOptions;
use scan_support::*;
use std::path::{Path, PathBuf};

const LEAKY_ZIP: &str = r#"
import os, struct, zipfile
# Files written in file-system (here: reverse) order, with their real mtimes, a umask-002
# mode and an extended-timestamp extra field, as `zip` and many tools write them.
with zipfile.ZipFile("leaky.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for name in ["pkg/b.txt", "pkg/a.txt"]:
        info = zipfile.ZipInfo.from_file(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (0o100664) << 16
        info.create_system = 3
        info.extra = struct.pack("<HHBi", 0x5455, 5, 1, int(os.stat(name).st_mtime))
        with open(name, "rb") as f:
            z.writestr(info, f.read())
"#;

const CLEAN_ZIP: &str = r#"
import zipfile
with zipfile.ZipFile("clean.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(["pkg/b.txt", "pkg/a.txt"]):
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (0o100644) << 16
        info.create_system = 3
        with open(name, "rb") as f:
            z.writestr(info, f.read())
"#;

fn files(d: &Path) {
    std::fs::create_dir_all(d.join("pkg")).unwrap();
    // Real, varied times (one shared time would be a normalized archive).
    for (f, when) in [
        ("pkg/a.txt", "2026-11-23 01:02:04 UTC"),
        ("pkg/b.txt", "2026-11-23 01:02:06 UTC"),
    ] {
        std::fs::write(d.join(f), "hello\n").unwrap();
        touch(&d.join(f), when);
    }
}

#[test]
fn python_zipfile_with_real_mtimes_and_fixed_dates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    files(d);
    run(d, &["python3", "-c", LEAKY_ZIP], &[("TZ", "UTC")]);
    let findings = scan(&d.join("leaky.zip"));
    let b = vec!["pkg/b.txt".to_string()];
    assert_eq!(
        archive_findings(&findings),
        vec![
            ("zip-entry-mtime", b.clone()),
            ("zip-entry-order", vec![]),
            ("zip-extended-timestamp", b.clone()),
            ("zip-external-attributes", b.clone()),
        ],
        "{findings:#?}"
    );
    let ev = |rule: &str| {
        findings
            .iter()
            .find(|f| f.rule.id == rule)
            .unwrap()
            .evidence
            .clone()
    };
    assert_eq!(
        ev("zip-entry-mtime"),
        "2026-11-23T01:02:06 (DOS time, read as UTC); and 1 more member of this archive (pkg/a.txt)"
    );
    assert_eq!(
        ev("zip-entry-order"),
        "`pkg/b.txt` comes before `pkg/a.txt`"
    );
    assert!(ev("zip-extended-timestamp").starts_with("ut-mtime 2026-11-23T01:02:06Z"));
    assert!(ev("zip-external-attributes").starts_with("mode 0664"));

    run(d, &["python3", "-c", CLEAN_ZIP], &[("TZ", "UTC")]);
    let findings = scan(&d.join("clean.zip"));
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
    assert_eq!(medium_plus(&findings), Vec::<String>::new());

    let data = std::fs::read(d.join("leaky.zip")).unwrap();
    assert_truncations_report_parse_errors(d, "leaky.zip", &data);
}

fn py_pkg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/py-pkg")
}

fn copy_tree(from: &Path, to: &Path) {
    let from = &from.canonicalize().unwrap();
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Build testdata/py-pkg's wheel with pip (setuptools + wheel, no build isolation).
fn build_wheel(env: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
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
        env,
    );
    let wheel = src.join("dist/detpkg-0.1.0-py3-none-any.whl");
    assert!(wheel.exists(), "pip did not build {}", wheel.display());
    (dir, wheel)
}

#[test]
fn wheel_built_without_source_date_epoch_keeps_mtimes() {
    let (dir, wheel) = build_wheel(&[]);
    let findings = scan(&wheel);
    assert_eq!(
        archive_findings(&findings),
        vec![("zip-entry-mtime", vec!["detpkg/__init__.py".to_string()])],
        "{findings:#?}"
    );
    let data = std::fs::read(&wheel).unwrap();
    assert_truncations_report_parse_errors(dir.path(), "detpkg.whl", &data);
}

#[test]
fn wheel_built_with_source_date_epoch_is_clean() {
    // An odd epoch: DOS times have a 2 s resolution, so the wheel holds SDE - 1.
    let (_dir, wheel) = build_wheel(&[("SOURCE_DATE_EPOCH", "1700000001")]);
    let opts = ScanOptions {
        source_date_epoch: Some(1_700_000_001),
        ..ScanOptions::default()
    };
    let findings = scan_with(&wheel, &opts);
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
    assert_eq!(medium_plus(&findings), Vec::<String>::new());
}

#[test]
fn pyc_from_py_compile_with_and_without_source_date_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("m.py"), "X = 1\n").unwrap();
    touch(&d.join("m.py"), "2026-11-23 01:02:04 UTC");
    run(d, &["python3", "-m", "py_compile", "m.py"], &[]);
    let pyc = std::fs::read_dir(d.join("__pycache__"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let findings = scan(&pyc);
    assert_eq!(
        archive_findings(&findings),
        vec![("pyc-timestamp", vec![])],
        "{findings:#?}"
    );
    let f = &findings
        .iter()
        .find(|f| f.rule.id == "pyc-timestamp")
        .unwrap();
    assert_eq!(
        f.evidence,
        "timestamp-based pyc: source mtime 1795395724 (2026-11-23T01:02:04Z), source size 6"
    );
    assert_eq!(f.location.offset, Some(8));

    std::fs::remove_dir_all(d.join("__pycache__")).unwrap();
    run(
        d,
        &["python3", "-m", "py_compile", "m.py"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    let pyc = std::fs::read_dir(d.join("__pycache__"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let findings = scan(&pyc);
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
    assert_eq!(medium_plus(&findings), Vec::<String>::new());

    // A pyc's body is marshal data det does not parse; a cut copy must simply not panic.
    let data = std::fs::read(&pyc).unwrap();
    for cut in [4, 12, 16, data.len() / 2] {
        let p = d.join(format!("cut-{cut}.pyc"));
        std::fs::write(&p, &data[..cut]).unwrap();
        let _ = scan(&p);
    }
}

const WHEEL_LIKE: &str = r#"
import zipfile
def entry(z, name, data):
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    z.writestr(info, data)
with zipfile.ZipFile("x-1.0-py3-none-any.whl", "w") as z:
    entry(z, "x/__init__.py", "")
    entry(z, "x/a.py", "")
    entry(z, "x/b.py", "")
    entry(z, "x-1.0.dist-info/METADATA", "Name: x\n")
    # RECORD in file-system order, not the archive's sorted order.
    entry(z, "x-1.0.dist-info/RECORD",
          "x/b.py,,\nx/__init__.py,,\nx/a.py,,\nx-1.0.dist-info/METADATA,,\nx-1.0.dist-info/RECORD,,\n")
with zipfile.ZipFile("methods.zip", "w") as z:
    z.writestr("bz.txt", "hello " * 100, compress_type=zipfile.ZIP_BZIP2)
    z.writestr("plain.txt", "hello")
"#;

#[test]
fn wheel_record_order_and_unsupported_methods() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(d, &["python3", "-c", WHEEL_LIKE], &[]);
    let findings = scan(&d.join("x-1.0-py3-none-any.whl"));
    assert_eq!(
        archive_findings(&findings),
        vec![(
            "wheel-record-order",
            vec!["x-1.0.dist-info/RECORD".to_string()]
        )],
        "{findings:#?}"
    );
    let f = findings
        .iter()
        .find(|f| f.rule.id == "wheel-record-order")
        .unwrap();
    assert_eq!(f.evidence, "RECORD lists `x/b.py` before `x/__init__.py`");

    let findings = scan(&d.join("methods.zip"));
    let errors: Vec<(Vec<det_common::finding::Name>, &str)> = findings
        .iter()
        .filter(|f| f.rule.id == "parse-error")
        .map(|f| (f.location.container.clone(), f.evidence.as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![(
            vec!["bz.txt".into()],
            "compression method bzip2 not supported"
        )]
    );
}
