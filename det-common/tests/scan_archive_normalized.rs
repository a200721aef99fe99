//! Archives made reproducible by the real tools (issue 14, points 2 and 3): a Debian .deb
//! built by dpkg-deb with SOURCE_DATE_EPOCH, zips and a jar whose members share one time,
//! tar with `--mtime=@T --clamp-mtime`, and the member orders of `find | LC_ALL=C sort`,
//! Python's `sorted()` and `tar --sort=name`. Normalized archives give one info finding
//! naming the time; real varied mtimes and file-system orders stay findings.

mod scan_support;
use det_common::Finding;
use det_common::detect::ScanOptions;
use det_common::rules::Severity;
use scan_support::*;
use std::path::Path;

/// 2023-01-02T00:00:00Z
const T: i64 = 1_672_617_600;

/// A small tree with names that sort differently by byte and by component
/// (`a-b` < `a/` bytewise, `a` < `a-b` by component) and a dotted sibling.
fn tree(d: &Path) {
    for f in [
        "a/x.txt",
        "a-b/y.txt",
        "a.b",
        "c/d/e.txt",
        "c/z.txt",
        "b.txt",
    ] {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f).unwrap();
    }
}

fn rules_of(fs: &[Finding]) -> Vec<(&'static str, Severity)> {
    let mut v: Vec<_> = fs.iter().map(|f| (f.rule.id, f.severity())).collect();
    v.sort();
    v.dedup();
    v
}

fn normalized(fs: &[Finding]) -> Vec<&Finding> {
    with_rule(fs, "archive-normalized-mtime")
}

/// A .deb built with dpkg-deb under SOURCE_DATE_EPOCH: ar members and tar members all at
/// that time. One info finding per archive naming the time; nothing at medium or above.
#[test]
fn debian_package_built_with_source_date_epoch_is_normalized() {
    if !tool_available("dpkg-deb") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pkg = d.join("pkg");
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/share/doc/hello")).unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        "Package: hello\nVersion: 1.0\nArchitecture: all\nMaintainer: A <a@example.org>\nDescription: test\n",
    )
    .unwrap();
    std::fs::write(pkg.join("usr/share/doc/hello/README"), "hi\n").unwrap();
    // Real, varied file times: dpkg-deb clamps them to SOURCE_DATE_EPOCH.
    touch(
        &pkg.join("usr/share/doc/hello/README"),
        "2026-11-23 01:02:04 UTC",
    );
    run(
        d,
        &[
            "dpkg-deb",
            "--root-owner-group",
            "--build",
            "pkg",
            "hello.deb",
        ],
        &[("SOURCE_DATE_EPOCH", &T.to_string())],
    );
    let fs = scan(&d.join("hello.deb"));
    assert_eq!(medium_plus(&fs), Vec::<String>::new(), "{fs:#?}");
    let n = normalized(&fs);
    assert!(!n.is_empty(), "{fs:#?}");
    for f in &n {
        assert_eq!(f.severity(), Severity::Info);
        assert!(f.evidence.contains("2023-01-02"), "{}", f.evidence);
    }
    // The .deb's own ar members are judged as a whole too.
    assert!(n.iter().any(|f| f.location.container.is_empty()), "{n:#?}");
    // Told the right SOURCE_DATE_EPOCH, det has nothing to say about the times at all.
    let told = scan_with(
        &d.join("hello.deb"),
        &ScanOptions {
            source_date_epoch: Some(T),
            ..ScanOptions::default()
        },
    );
    assert!(normalized(&told).is_empty(), "{told:#?}");
    assert_eq!(medium_plus(&told), Vec::<String>::new());
    // Told another one, the times are not the build's: high.
    let wrong = scan_with(
        &d.join("hello.deb"),
        &ScanOptions {
            source_date_epoch: Some(T + 86_400),
            ..ScanOptions::default()
        },
    );
    assert!(
        wrong
            .iter()
            .any(|f| f.rule.id == "tar-member-mtime" && f.severity() == Severity::High),
        "{wrong:#?}"
    );
}

/// tar with `--mtime=@T --clamp-mtime`: newer files get T, older ones keep their times.
/// Real varied times (plain tar) stay high.
#[test]
fn clamped_tar_is_normalized_and_varied_times_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    let files = [
        "a/x.txt",
        "a-b/y.txt",
        "a.b",
        "c/d/e.txt",
        "c/z.txt",
        "b.txt",
    ];
    // Two sources older than T, four outputs newer (each at its own time).
    for (i, f) in files.iter().enumerate() {
        let when = if i < 2 {
            format!("2022-0{}-01 10:00:00 UTC", i + 1)
        } else {
            format!("2026-11-2{i} 01:02:0{i} UTC")
        };
        touch(&d.join(f), &when);
    }
    let mut args = vec![
        "tar",
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--format=gnu",
    ];
    let varied_args = [
        &args[..],
        &["-cf", "varied.tar", "a", "a-b", "a.b", "b.txt", "c"],
    ]
    .concat();
    run(d, &varied_args, &[]);
    let mtime = format!("--mtime=@{T}");
    args.extend([mtime.as_str(), "--clamp-mtime", "-cf", "clamped.tar"]);
    args.extend(["a", "a-b", "a.b", "b.txt", "c"]);
    run(d, &args, &[]);

    let fs = scan(&d.join("clamped.tar"));
    assert_eq!(medium_plus(&fs), Vec::<String>::new(), "{fs:#?}");
    let n = normalized(&fs);
    assert_eq!(n.len(), 1, "{fs:#?}");
    assert!(
        n[0].evidence.contains("2023-01-02") && n[0].evidence.contains("clamped"),
        "{}",
        n[0].evidence
    );

    let fs = scan(&d.join("varied.tar"));
    assert!(normalized(&fs).is_empty(), "{fs:#?}");
    assert!(
        rules_of(&fs).contains(&("tar-member-mtime", Severity::High)),
        "{fs:#?}"
    );
}

/// A zip and a jar whose members share one time (`touch -d @T` then `zip -X`), against
/// the same files with their real times.
#[test]
fn zip_and_jar_with_one_member_time_are_normalized() {
    if !tool_available("zip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    std::fs::create_dir_all(d.join("META-INF")).unwrap();
    std::fs::write(d.join("META-INF/MANIFEST.MF"), "Manifest-Version: 1.0\n").unwrap();
    let files = [
        "META-INF/MANIFEST.MF",
        "a/x.txt",
        "a-b/y.txt",
        "a.b",
        "b.txt",
        "c/d/e.txt",
        "c/z.txt",
    ];
    for (i, f) in files.iter().enumerate() {
        touch(&d.join(f), &format!("2026-11-2{i} 01:02:0{i} UTC"));
    }
    let zip = |name: &str| {
        let mut args = vec!["zip", "-X", "-q", name];
        args.extend(files);
        run(d, &args, &[("TZ", "UTC")]);
    };
    zip("varied.zip");
    for f in files {
        touch(&d.join(f), &format!("@{T}"));
    }
    zip("one-time.zip");
    zip("one-time.jar");

    for name in ["one-time.zip", "one-time.jar"] {
        let fs = scan(&d.join(name));
        assert_eq!(medium_plus(&fs), Vec::<String>::new(), "{name}: {fs:#?}");
        let n = normalized(&fs);
        assert_eq!(n.len(), 1, "{name}: {fs:#?}");
        assert!(
            n[0].evidence.contains("all 7 members at 2023-01-02"),
            "{}",
            n[0].evidence
        );
    }
    let fs = scan(&d.join("varied.zip"));
    assert!(normalized(&fs).is_empty(), "{fs:#?}");
    assert!(
        rules_of(&fs).contains(&("zip-entry-mtime", Severity::High)),
        "{fs:#?}"
    );
}

/// Byte order of the full member path is sorted, whichever tool produced it:
/// `find . -print0 | LC_ALL=C sort -z | xargs -0 zip -X`, Python `zipfile` in `sorted()`
/// order, tar from an `LC_ALL=C sort` list and `tar --sort=name`. The file system's
/// listing order (here: reversed) is not.
#[test]
fn sorted_orders_of_real_tools_pass() {
    if !tool_available("zip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(d);
    let sh = |cmd: &str| run(d, &["sh", "-c", cmd], &[]);
    sh("find . -mindepth 1 -print0 | LC_ALL=C sort -z | xargs -0 zip -X -q find-sort.zip");
    sh(
        "find . -mindepth 1 -name '*.zip' -prune -o -print | LC_ALL=C sort > list && \
        tar --no-recursion --format=gnu -cf list-sort.tar -T list && rm list",
    );
    sh("tar --sort=name --format=gnu -cf sort-name.tar a a-b a.b b.txt c");
    run(
        d,
        &[
            "python3",
            "-c",
            "import os, zipfile\n\
             names = []\n\
             for root, dirs, files in os.walk('.'):\n\
             \x20   names += [os.path.join(root, f)[2:] for f in files if not f.endswith(('.zip', '.tar'))]\n\
             with zipfile.ZipFile('py-sorted.zip', 'w') as z:\n\
             \x20   for n in sorted(names): z.write(n)\n\
             with zipfile.ZipFile('py-reversed.zip', 'w') as z:\n\
             \x20   for n in sorted(names, reverse=True): z.write(n)\n",
        ],
        &[],
    );
    sh(
        "find . -mindepth 1 -name '*.zip' -prune -o -name '*.tar' -prune -o -print | LC_ALL=C sort -r > list && \
        tar --no-recursion --format=gnu -cf reversed.tar -T list && rm list",
    );
    for name in [
        "find-sort.zip",
        "py-sorted.zip",
        "list-sort.tar",
        "sort-name.tar",
    ] {
        let fs = scan(&d.join(name));
        let order: Vec<_> = fs
            .iter()
            .filter(|f| f.rule.category == det_common::Category::FileOrder)
            .collect();
        assert!(order.is_empty(), "{name}: {order:#?}");
    }
    for (name, rule) in [
        ("py-reversed.zip", "zip-entry-order"),
        ("reversed.tar", "tar-member-order"),
    ] {
        let fs = scan(&d.join(name));
        assert_eq!(with_rule(&fs, rule).len(), 1, "{name}: {fs:#?}");
    }
}
