//! ar archives made by GNU ar: `ar rcU` keeps mtimes, uid/gid and modes; `ar rcD` zeroes them.

mod scan_support;
use scan_support::*;

fn build(flags: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.c"), "int a(void) { return 1; }\n").unwrap();
    std::fs::write(
        d.join("a_rather_long_object_name.c"),
        "int b(void) { return 2; }\n",
    )
    .unwrap();
    run(d, &["gcc", "-c", "a.c", "a_rather_long_object_name.c"], &[]);
    // A group-writable member, as a umask of 002 would leave it.
    std::fs::set_permissions(
        d.join("a.o"),
        std::os::unix::fs::PermissionsExt::from_mode(0o664),
    )
    .unwrap();
    touch(&d.join("a.o"), "2026-11-23 01:02:04 UTC");
    run(
        d,
        &["ar", flags, "libx.a", "a.o", "a_rather_long_object_name.o"],
        &[],
    );
    let p = d.join("libx.a");
    (dir, p)
}

#[test]
fn ar_without_deterministic_mode_leaks_member_metadata() {
    let (_dir, lib) = build("rcU");
    let findings = scan(&lib);
    let got = archive_findings(&findings);
    let a = vec!["a.o".to_string()];
    // Owner only when the test runs as non-root (ar records the real uid).
    let uid = current_uid();
    let mut want = vec![
        ("ar-member-mode", a.clone()),
        ("ar-member-mtime", a.clone()),
    ];
    if uid != 0 {
        want.push(("ar-member-owner", a.clone()));
    }
    want.sort();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    assert_eq!(got_sorted, want, "{findings:#?}");
    let mtime = findings
        .iter()
        .find(|f| f.rule.id == "ar-member-mtime")
        .unwrap();
    // Both members keep an mtime: one finding, naming the other member.
    assert_eq!(
        mtime.evidence,
        "mtime 1795395724 (2026-11-23T01:02:04Z); and 1 more member of this archive (a_rather_long_object_name.o)"
    );
    assert_eq!(mtime.location.display_path(), "libx.a!a.o");
    assert_eq!(
        findings
            .iter()
            .find(|f| f.rule.id == "ar-member-mode")
            .unwrap()
            .evidence,
        "mode 0664"
    );
}

fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m))
}

#[test]
fn ar_in_deterministic_mode_is_clean() {
    let (_dir, lib) = build("rcD");
    let findings = scan(&lib);
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
    assert_eq!(medium_plus(&findings), Vec::<String>::new());
}

#[test]
fn truncated_ar_gives_parse_errors() {
    let (dir, lib) = build("rcU");
    let data = std::fs::read(&lib).unwrap();
    assert_truncations_report_parse_errors(dir.path(), "libx.a", &data);
}

#[test]
fn thin_archive_members_are_listed_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.c"), "int a(void) { return 1; }\n").unwrap();
    run(d, &["gcc", "-c", "a.c"], &[]);
    touch(&d.join("a.o"), "2026-11-23 01:02:04 UTC");
    run(d, &["ar", "rcTU", "libthin.a", "a.o"], &[]);
    let findings = scan(&d.join("libthin.a"));
    assert_eq!(
        archive_findings(&findings),
        vec![("ar-member-mtime", vec!["a.o".to_string()])],
        "{findings:#?}"
    );
    run(d, &["ar", "rcTD", "libthin-d.a", "a.o"], &[]);
    let findings = scan(&d.join("libthin-d.a"));
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
}

#[test]
fn rlib_from_rustc_has_no_member_metadata_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lib.rs"), "pub fn f() -> u32 { 42 }\n").unwrap();
    run(
        d,
        &[
            "rustc",
            "--crate-type=rlib",
            "--crate-name=detlib",
            "-O",
            "lib.rs",
        ],
        &[],
    );
    let rlib = d.join("libdetlib.rlib");
    let node = det_common::artifact::Node::open(&rlib).unwrap();
    assert_eq!(
        node.format,
        det_common::artifact::Format::Ar(det_common::artifact::ArKind::Rlib)
    );
    let limits = det_common::artifact::Limits::default();
    let names: Vec<String> = node.children(&limits).map(|c| c.unwrap().name).collect();
    assert!(names.iter().any(|n| n == "lib.rmeta"), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".o")), "{names:?}");
    let findings = scan(&rlib);
    assert_eq!(archive_findings(&findings), vec![], "{findings:#?}");
}
