//! gzip made by the real `gzip` (with and without `-n`), tar made by GNU tar (with and
//! without the deterministic flags), and nesting: a .tar.gz holding a zip holding an ELF.

mod scan_support;
use scan_support::*;
use std::path::Path;

fn tree(d: &Path) {
    std::fs::create_dir_all(d.join("src/pkg")).unwrap();
    // Real, varied times (all at one time would be a normalized archive).
    for (f, body, when) in [
        ("src/pkg/b.txt", "b\n", "2026-11-23 01:02:04 UTC"),
        ("src/pkg/a.txt", "a\n", "2026-11-23 01:02:06 UTC"),
        ("src/c.txt", "c\n", "2026-11-23 01:02:08 UTC"),
    ] {
        std::fs::write(d.join(f), body).unwrap();
        touch(&d.join(f), when);
    }
}

#[test]
fn gzip_keeps_name_and_mtime_unless_n() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("notes.txt"), "hello\n").unwrap();
    touch(&d.join("notes.txt"), "2026-11-23 01:02:04 UTC");
    run(d, &["gzip", "-k", "notes.txt"], &[]);
    let findings = scan(&d.join("notes.txt.gz"));
    assert_eq!(
        archive_findings(&findings),
        vec![("gzip-filename", vec![]), ("gzip-mtime", vec![])],
        "{findings:#?}"
    );
    let mtime = findings.iter().find(|f| f.rule.id == "gzip-mtime").unwrap();
    assert_eq!(mtime.evidence, "MTIME 1795395724 (2026-11-23T01:02:04Z)");
    assert_eq!(mtime.location.offset, Some(4));
    let fname = findings
        .iter()
        .find(|f| f.rule.id == "gzip-filename")
        .unwrap();
    assert_eq!(fname.evidence, "FNAME `notes.txt`");
    assert_eq!(fname.location.offset, Some(10));

    std::fs::rename(d.join("notes.txt.gz"), d.join("leaky.gz")).unwrap();
    run(d, &["gzip", "-n", "-k", "notes.txt"], &[]);
    let findings = scan(&d.join("notes.txt.gz"));
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
    assert_eq!(medium_plus(&findings), Vec::<String>::new());

    let data = std::fs::read(d.join("leaky.gz")).unwrap();
    assert_truncations_report_parse_errors(d, "leaky.gz", &data);
}

#[test]
fn tar_default_leaks_and_deterministic_flags_clean_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    // An explicit unsorted list: what a readdir order gives, made reproducible for the test.
    run(
        d,
        &[
            "tar",
            "--format=gnu",
            "-cf",
            "leaky.tar",
            "-C",
            "src",
            "pkg/b.txt",
            "pkg/a.txt",
            "c.txt",
        ],
        &[],
    );
    let findings = scan(&d.join("leaky.tar"));
    let uname_is_root = true; // tests run as root here; a user build also gets tar-member-owner
    let got = archive_findings(&findings);
    assert!(got.contains(&("tar-member-order", vec![])), "{findings:#?}");
    assert!(
        got.contains(&("tar-member-mtime", vec!["pkg/b.txt".to_string()])),
        "{got:?}"
    );
    let mtime = findings
        .iter()
        .find(|f| f.rule.id == "tar-member-mtime")
        .unwrap();
    assert_eq!(
        mtime.evidence,
        "mtime 1795395724 (2026-11-23T01:02:04Z); and 2 more members of this archive (pkg/a.txt, c.txt)"
    );
    let order = findings
        .iter()
        .find(|f| f.rule.id == "tar-member-order")
        .unwrap();
    assert_eq!(order.evidence, "`pkg/b.txt` comes before `pkg/a.txt`");
    let _ = uname_is_root;

    run(
        d,
        &[
            "tar",
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cf",
            "clean.tar",
            "-C",
            "src",
            ".",
        ],
        &[],
    );
    let findings = scan(&d.join("clean.tar"));
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
    assert_eq!(medium_plus(&findings), Vec::<String>::new());

    let data = std::fs::read(d.join("leaky.tar")).unwrap();
    assert_truncations_report_parse_errors(d, "leaky.tar", &data);
}

#[test]
fn tar_owner_and_pax_times_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    // pax format with atime/ctime kept, owned by a named non-root user.
    run(
        d,
        &[
            "tar",
            "--format=pax",
            "--owner=builder:1000",
            "--group=staff:50",
            "--pax-option=atime:=1795395725,ctime:=1795395726",
            "-cf",
            "pax.tar",
            "-C",
            "src",
            "c.txt",
        ],
        &[],
    );
    let findings = scan(&d.join("pax.tar"));
    let c = vec!["c.txt".to_string()];
    assert_eq!(
        archive_findings(&findings),
        vec![
            ("tar-member-mtime", c.clone()),
            ("tar-member-owner", c.clone()),
            ("tar-pax-time", c.clone())
        ],
        "{findings:#?}"
    );
    let owner = findings
        .iter()
        .find(|f| f.rule.id == "tar-member-owner")
        .unwrap();
    assert_eq!(
        owner.evidence,
        "uid 1000, gid 50, user `builder`, group `staff`"
    );
    let pax = findings
        .iter()
        .find(|f| f.rule.id == "tar-pax-time")
        .unwrap();
    assert_eq!(pax.evidence, "atime=1795395725, ctime=1795395726");
}

#[test]
fn nested_tar_gz_zip_elf_locations_name_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("pkg")).unwrap();
    std::fs::write(d.join("lib.c"), "int f(void) { return 42; }\n").unwrap();
    run(
        d,
        &["gcc", "-shared", "-fPIC", "-o", "lib.so", "lib.c"],
        &[],
    );
    touch(&d.join("lib.so"), "2026-11-23 01:02:04 UTC");
    run(
        d,
        &[
            "python3",
            "-c",
            "import zipfile; z = zipfile.ZipFile('pkg/a.zip', 'w', zipfile.ZIP_DEFLATED); z.write('lib.so'); z.close()",
        ],
        &[],
    );
    run(
        d,
        &[
            "tar",
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-cf",
            "x.tar",
            "pkg",
        ],
        &[],
    );
    run(d, &["gzip", "-n", "x.tar"], &[]);
    let findings = scan(&d.join("x.tar.gz"));
    let got = archive_findings(&findings);
    assert_eq!(
        got,
        vec![(
            "zip-entry-mtime",
            vec!["pkg/a.zip".to_string(), "lib.so".to_string()]
        )],
        "{findings:#?}"
    );
    let f = findings
        .iter()
        .find(|f| f.rule.id == "zip-entry-mtime")
        .unwrap();
    assert_eq!(f.location.display_path(), "x.tar.gz!pkg/a.zip!lib.so");
    assert_eq!(f.evidence, "2026-11-23T01:02:04 (DOS time, read as UTC)");
}

#[test]
fn tar_xz_zst_and_bz2_are_decompressed_and_recursed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    for (flag, name) in [
        ("--xz", "x.tar.xz"),
        ("--zstd", "x.tar.zst"),
        ("--bzip2", "x.tar.bz2"),
    ] {
        run(
            d,
            &[
                "tar",
                flag,
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "-cf",
                name,
                "-C",
                "src",
                "c.txt",
            ],
            &[],
        );
        let findings = scan(&d.join(name));
        assert_eq!(
            archive_findings(&findings),
            vec![("tar-member-mtime", vec!["c.txt".to_string()])],
            "{name}: {findings:#?}"
        );
        let data = std::fs::read(d.join(name)).unwrap();
        assert_truncations_report_parse_errors(d, name, &data);
    }
}

#[test]
fn deb_built_by_dpkg_deb_with_and_without_source_date_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("pkg/DEBIAN")).unwrap();
    std::fs::create_dir_all(d.join("pkg/usr/share/detpkg")).unwrap();
    std::fs::write(
        d.join("pkg/DEBIAN/control"),
        "Package: detpkg\nVersion: 1.0\nArchitecture: all\nMaintainer: det <det@example.invalid>\nDescription: det test fixture\n",
    )
    .unwrap();
    std::fs::write(d.join("pkg/usr/share/detpkg/README"), "hello\n").unwrap();
    touch(
        &d.join("pkg/usr/share/detpkg/README"),
        "2026-11-23 01:02:04 UTC",
    );
    run(
        d,
        &[
            "dpkg-deb",
            "--root-owner-group",
            "-Zxz",
            "--build",
            "pkg",
            "leaky.deb",
        ],
        &[],
    );
    let findings = scan(&d.join("leaky.deb"));
    let got = archive_findings(&findings);
    // The outer ar members all carry the one build time: normalized to a time det was not
    // told about (info naming it); the members of data.tar.xz keep their file times.
    let outer = findings
        .iter()
        .find(|f| f.rule.id == "archive-normalized-mtime" && f.location.container.is_empty())
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert!(
        outer.evidence.starts_with("all 3 members at "),
        "{outer:#?}"
    );
    assert!(
        got.iter().any(|(rule, chain)| *rule == "tar-member-mtime"
            && chain.first().map(String::as_str) == Some("data.tar.xz")
            && chain.len() == 2),
        "{got:?}"
    );

    run(
        d,
        &[
            "dpkg-deb",
            "--root-owner-group",
            "-Zxz",
            "--build",
            "pkg",
            "clean.deb",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    let opts = det_common::detect::ScanOptions {
        source_date_epoch: Some(1_700_000_000),
        ..Default::default()
    };
    let findings = scan_with(&d.join("clean.deb"), &opts);
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
    assert_eq!(medium_plus(&findings), Vec::<String>::new());
}
