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

/// A library of 12 000 members (an import library's size), each with its own mtime and a
/// 0600 mode. Read by det-scan, the member findings fold as they are found: one finding per
/// rule, counting every member (none is lost to the per-file cap, none is formatted past
/// the first). Unfolded (det-verify's diff), each member keeps its own finding up to the
/// per-file cap, which counts them in member order; the rest are counted by rule in the
/// `findings-capped` note, never built. (Written directly in GNU ar's format: GNU ar takes
/// 26 s to add 12 000 members one by one.)
#[test]
fn member_findings_fold_as_found_and_unfolded_ones_are_capped_by_rule() {
    const MEMBERS: usize = 12_000;
    let dir = tempfile::tempdir().unwrap();
    let mut ar = b"!<arch>\n".to_vec();
    for i in 0..MEMBERS {
        let name = format!("m{i:05}.o/");
        let mtime = 1_700_000_000 + i;
        ar.extend_from_slice(
            format!(
                "{name:<16}{mtime:<12}{:<6}{:<6}{:<8o}{:<10}`\n",
                0, 0, 0o100600, 2
            )
            .as_bytes(),
        );
        ar.extend_from_slice(b"x\n");
    }
    let lib = dir.path().join("libmany.a");
    std::fs::write(&lib, &ar).unwrap();
    let (targets, errors) = det_common::scan::walk(std::slice::from_ref(&lib), false);
    assert!(errors.is_empty(), "{errors:?}");

    let findings =
        det_common::scan::scan_file(&targets[0], &det_common::detect::ScanOptions::default())
            .unwrap();
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.id).collect();
    assert_eq!(
        rules,
        ["ar-member-mode", "ar-member-mtime"],
        "{findings:#?}"
    );
    let mode = &findings[0];
    assert!(
        mode.location
            .display_path()
            .ends_with("/libmany.a!m00000.o"),
        "{mode:?}"
    );
    assert_eq!(
        mode.evidence,
        format!(
            "mode 0600; and {} more members of this archive (m00001.o, m00002.o, m00003.o, ...), all with this same value",
            MEMBERS - 1
        )
    );
    assert_eq!(
        findings[1].evidence,
        format!(
            "mtime 1700000000 (2023-11-14T22:13:20Z); and {} more members of this archive (m00001.o, m00002.o, m00003.o, ...)",
            MEMBERS - 1
        )
    );

    let unfolded = det_common::detect::ScanOptions {
        unfold_members: true,
        ..Default::default()
    };
    let findings = det_common::scan::scan_file(&targets[0], &unfolded).unwrap();
    // Each member's findings in the order they are made; the cap keeps the first ones.
    let per_member = ["ar-member-mtime", "ar-member-mode"];
    let cap = det_common::detect::MAX_FINDINGS_PER_FILE;
    let kept = |rule: &str| {
        let at = per_member.iter().position(|r| *r == rule).unwrap();
        (0..cap).filter(|i| i % per_member.len() == at).count()
    };
    for rule in per_member {
        assert_eq!(
            findings.iter().filter(|f| f.rule.id == rule).count(),
            kept(rule),
            "{rule}"
        );
    }
    let capped = findings
        .iter()
        .find(|f| f.rule.id == "findings-capped")
        .expect("a findings-capped note");
    let mut rules = per_member.to_vec();
    rules.sort();
    let dropped: Vec<String> = rules
        .iter()
        .map(|r| format!("{} {r}", MEMBERS - kept(r)))
        .collect();
    assert_eq!(
        capped.evidence,
        format!(
            "{} more findings in this file not listed (at most {cap} per file): {}",
            MEMBERS * per_member.len() - cap,
            dropped.join(", ")
        )
    );
}
