//! det-manifest/1: round trip, deterministic bytes, atomic writes, schema checks, and
//! the comparison of two manifests.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use det_common::env::{BuildEnv, SourceDateEpoch, SourceDateEpochSource};
use det_common::hash::hash_bytes;
use det_common::manifest::{
    ContextDifference, Manifest, SCHEMA, compare, read_manifest, write_manifest,
};
use det_common::toolchain::{Toolchain, Version};

fn sample() -> Manifest {
    let sde = SourceDateEpoch {
        value: 1_622_548_800,
        source: SourceDateEpochSource::GitCommit,
    };
    let mut m = Manifest::new(sde, BuildEnv::fixed(&sde));
    m.toolchains.insert(
        "rustc".into(),
        Toolchain {
            name: "rustc".into(),
            path: PathBuf::from("/opt/rust/bin/rustc"),
            version: Version::parse("1.95.0").unwrap(),
            id: "aa".repeat(32),
        },
    );
    m.flags.insert(
        "RUSTFLAGS".into(),
        vec!["--remap-path-prefix=/src=.".into()],
    );
    m.inputs.insert("Cargo.lock".into(), "11".repeat(32));
    m.inputs.insert("source-tree".into(), "22".repeat(32));
    m.outputs
        .insert("target/release/app".into(), hash_bytes(b"app"));
    m.outputs
        .insert("target/release/libx.rlib".into(), hash_bytes(b"rlib"));
    m
}

fn stray_files(dir: &Path, keep: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect();
    v.sort();
    v
}

/// Every object's keys in the pretty JSON are in sorted order, at every depth. (Works on
/// the text, since a parsed `serde_json::Value` may itself sort or keep order.)
fn assert_keys_sorted(text: &str) {
    let mut last_key_at_indent: BTreeMap<usize, String> = BTreeMap::new();
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        // A line at a lower indent closes or opens objects: keys deeper than it restart.
        last_key_at_indent.retain(|&i, _| i <= indent);
        if let Some(rest) = line.trim_start().strip_prefix('"') {
            if let Some((key, _)) = rest.split_once("\": ") {
                if let Some(prev) = last_key_at_indent.get(&indent) {
                    assert!(prev.as_str() < key, "{prev:?} before {key:?} in\n{text}");
                }
                last_key_at_indent.insert(indent, key.to_string());
            }
        }
        if line.trim_end().ends_with('{') {
            last_key_at_indent.retain(|&i, _| i <= indent);
            last_key_at_indent.remove(&(indent + 2));
        }
    }
}

#[test]
fn round_trip_is_exact_and_bytes_are_deterministic() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("det-manifest.json");
    let m = sample();
    write_manifest(&p, &m).unwrap();
    assert_eq!(read_manifest(&p).unwrap(), m);
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    assert!(
        text.starts_with("{\n  \"env\": {\n    \"CARGO_INCREMENTAL\": \"0\","),
        "{text}"
    );
    // Top-level keys in sorted order.
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  \"")?.split('"').next())
        .collect();
    assert_eq!(
        keys,
        [
            "env",
            "flags",
            "inputs",
            "outputs",
            "schema",
            "source_date_epoch",
            "toolchains",
            "umask"
        ]
    );
    assert_keys_sorted(&text);
    let unsorted = "{\n  \"a\": {\n    \"z\": 1,\n    \"b\": 2\n  }\n}\n";
    assert!(std::panic::catch_unwind(|| assert_keys_sorted(unsorted)).is_err());
    assert_keys_sorted("{\n  \"a\": {\n    \"z\": 1\n  },\n  \"b\": {\n    \"c\": 1\n  }\n}\n");
    assert!(text.contains("\"source\": \"git-commit\""), "{text}");
    assert!(text.contains("\"umask\": \"022\""), "{text}");
    // Writing the same manifest again gives the same bytes, whatever the insert order.
    let mut m2 = Manifest::new(m.source_date_epoch, BTreeMap::new());
    for (k, v) in m.env.iter().rev() {
        m2.env.insert(k.clone(), v.clone());
    }
    for (k, v) in m.outputs.iter().rev() {
        m2.outputs.insert(k.clone(), v.clone());
    }
    m2.toolchains = m.toolchains.clone();
    m2.flags = m.flags.clone();
    m2.inputs = m.inputs.clone();
    assert_eq!(m2.to_json(), text.as_bytes());
    assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o644);
}

#[test]
fn write_replaces_by_rename_and_leaves_no_temp_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("m.json");
    write_manifest(&p, &sample()).unwrap();
    let ino1 = fs::metadata(&p).unwrap().ino();
    // A reader holding the old file keeps reading the old, complete content.
    let old = fs::File::open(&p).unwrap();
    let mut m = sample();
    m.outputs
        .insert("target/release/new".into(), hash_bytes(b"new"));
    write_manifest(&p, &m).unwrap();
    let ino2 = fs::metadata(&p).unwrap().ino();
    assert_ne!(
        ino1, ino2,
        "the new manifest is a new file renamed into place"
    );
    assert_eq!(old.metadata().unwrap().ino(), ino1);
    let old_text = std::io::read_to_string(old).unwrap();
    assert_eq!(
        Manifest::from_json(old_text.as_bytes(), &p).unwrap(),
        sample()
    );
    assert_eq!(read_manifest(&p).unwrap(), m);
    assert_eq!(stray_files(d.path(), &["m.json"]), Vec::<String>::new());
}

#[test]
fn failed_write_keeps_the_old_file_and_cleans_up() {
    let d = tempfile::tempdir().unwrap();
    // The target is a non-empty directory: the rename fails after the temp file was
    // written; the directory and its content stay, and the temp file is removed.
    let target = d.path().join("m.json");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), "old").unwrap();
    let e = write_manifest(&target, &sample()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", target.display())), "{e}");
    assert_eq!(fs::read_to_string(target.join("keep")).unwrap(), "old");
    assert_eq!(stray_files(d.path(), &["m.json"]), Vec::<String>::new());

    // A missing directory: nothing created.
    let e = write_manifest(&d.path().join("no/such/dir/m.json"), &sample()).unwrap_err();
    assert!(e.to_string().contains("no/such/dir"), "{e}");

    // A read-only directory (only meaningful when not root, who may write anyway).
    let ro = d.path().join("ro");
    fs::create_dir(&ro).unwrap();
    let p = ro.join("m.json");
    write_manifest(&p, &sample()).unwrap();
    let before = fs::read(&p).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    if fs::write(ro.join("probe"), "").is_err() {
        let mut m = sample();
        m.outputs.clear();
        let e = write_manifest(&p, &m).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", ro.display())), "{e}");
        assert_eq!(fs::read(&p).unwrap(), before);
        assert_eq!(stray_files(&ro, &["m.json"]), Vec::<String>::new());
    } else {
        eprintln!("read-only directory case skipped: running as root");
    }
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn bad_manifests_are_errors_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.json");
    let cases: [(&str, &str); 5] = [
        ("{not json", "not valid JSON"),
        (
            "[1, 2]",
            "not a det manifest: no \"schema\": \"det-manifest/1\" field",
        ),
        (
            "{\"schema\": \"det-manifest/2\"}",
            "unsupported manifest schema \"det-manifest/2\"",
        ),
        (
            "{\"schema\": \"det-manifest/1\"}",
            "malformed det-manifest/1 manifest: missing field",
        ),
        ("", "not valid JSON"),
    ];
    for (content, want) in cases {
        fs::write(&p, content).unwrap();
        let e = read_manifest(&p).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: {want}", p.display())),
            "{content:?}: {e}"
        );
    }
    let mut v: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
    v["outputs"]["target/release/app"]["size"] = serde_json::json!("big");
    fs::write(&p, v.to_string()).unwrap();
    let e = read_manifest(&p).unwrap_err().to_string();
    assert!(
        e.contains("malformed det-manifest/1 manifest: invalid type"),
        "{e}"
    );
    let e = read_manifest(&d.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.json: "), "{e}");
    assert_eq!(SCHEMA, "det-manifest/1");
}

#[test]
fn compare_finds_every_kind_of_difference() {
    let a = sample();
    let same = compare(&a, &a.clone());
    assert!(same.is_reproducible());
    assert_eq!(same, Default::default());

    // Install path alone is not a toolchain difference.
    let mut b = a.clone();
    b.toolchains.get_mut("rustc").unwrap().path = PathBuf::from("/home/x/.rustup/rustc");
    assert_eq!(compare(&a, &b), Default::default());

    let mut b = a.clone();
    b.outputs.remove("target/release/libx.rlib");
    b.outputs
        .insert("target/release/extra".into(), hash_bytes(b"extra"));
    b.outputs
        .insert("target/release/app".into(), hash_bytes(b"app2"));
    b.toolchains.get_mut("rustc").unwrap().id = "bb".repeat(32);
    b.flags.insert("CFLAGS".into(), vec!["-g0".into()]);
    b.env.insert("TZ".into(), "Europe/Paris".into());
    b.inputs.remove("Cargo.lock");
    b.umask = "002".into();
    b.source_date_epoch.value = 1;
    let d = compare(&a, &b);
    assert!(!d.is_reproducible());
    assert_eq!(d.only_in_a, ["target/release/libx.rlib"]);
    assert_eq!(d.only_in_b, ["target/release/extra"]);
    assert_eq!(d.differing.len(), 1);
    assert_eq!(d.differing[0].path, "target/release/app");
    assert_eq!(d.differing[0].a, hash_bytes(b"app"));
    assert_eq!(d.differing[0].b, hash_bytes(b"app2"));
    let ctx: Vec<(&str, &str, Option<&str>, Option<&str>)> = d
        .context
        .iter()
        .map(|c: &ContextDifference| {
            (
                c.section.as_str(),
                c.key.as_str(),
                c.a.as_deref(),
                c.b.as_deref(),
            )
        })
        .collect();
    let rustc_a = format!("rustc 1.95.0 (id {})", "aa".repeat(32));
    let rustc_b = format!("rustc 1.95.0 (id {})", "bb".repeat(32));
    let lock = "11".repeat(32);
    assert_eq!(
        ctx,
        [
            (
                "source_date_epoch",
                "value",
                Some("1622548800 (from the time of the last git commit)"),
                Some("1 (from the time of the last git commit)")
            ),
            (
                "toolchains",
                "rustc",
                Some(rustc_a.as_str()),
                Some(rustc_b.as_str())
            ),
            ("flags", "CFLAGS", None, Some("-g0")),
            ("env", "TZ", Some("UTC"), Some("Europe/Paris")),
            ("umask", "umask", Some("022"), Some("002")),
            ("inputs", "Cargo.lock", Some(lock.as_str()), None),
        ]
    );

    // Context differences alone do not make a build non-reproducible.
    let mut c = a.clone();
    c.env.insert("TZ".into(), "Asia/Tokyo".into());
    let d = compare(&a, &c);
    assert!(d.is_reproducible());
    assert_eq!(d.context.len(), 1);
}
