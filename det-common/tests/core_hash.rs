//! det_common::hash against real tools (`sha256sum`) and published BLAKE3 vectors, and
//! the stability of tree hashes.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use det_common::hash::{EntryKind, MMAP_THRESHOLD, TreeFilter, hash_bytes, hash_file, hash_tree};

fn all() -> TreeFilter {
    TreeFilter::default()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Deterministic pseudo-random bytes (xorshift), so sizes above the mmap threshold test
/// real content, not zero pages.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn file_hashes_match_sha256sum_and_blake3_below_and_above_the_mmap_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let t = MMAP_THRESHOLD as usize;
    for (i, len) in [0, 1, 3, 65_536, 65_537, t - 1, t, t + 12_345, 3 * t]
        .into_iter()
        .enumerate()
    {
        let data = noise(len, i as u64 + 7);
        let p = dir.path().join(format!("f{i}"));
        fs::write(&p, &data).unwrap();
        let h = hash_file(&p).unwrap();
        assert_eq!(h.size, len as u64, "len {len}");
        assert_eq!(h.sha256, sha256sum(&p), "sha256 of {len} bytes");
        assert_eq!(
            h.blake3,
            blake3::hash(&data).to_hex().to_string(),
            "blake3 of {len} bytes"
        );
        assert_eq!(h, hash_bytes(&data));
    }
}

#[test]
fn file_hash_of_abc_is_the_published_vector() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("abc");
    fs::write(&p, b"abc").unwrap();
    let h = hash_file(&p).unwrap();
    assert_eq!(
        h.blake3,
        "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
    );
    assert_eq!(
        h.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let e = dir.path().join("empty");
    fs::write(&e, b"").unwrap();
    assert_eq!(
        hash_file(&e).unwrap().blake3,
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    );
}

/// The official BLAKE3 test vectors (test_vectors/test_vectors.json in the BLAKE3
/// repository): input of `len` bytes 0, 1, ..., 250, 0, 1, ...; the first 32 bytes of the
/// extended output are the default hash. Lengths around the 1024-byte chunk boundary.
#[test]
fn file_hashes_match_the_official_blake3_test_vectors() {
    let vectors = [
        (
            1,
            "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
        ),
        (
            1023,
            "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
        ),
        (
            1024,
            "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
        ),
        (
            1025,
            "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
        ),
        (
            2049,
            "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
        ),
        (
            4097,
            "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
        ),
        (
            7169,
            "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (len, want) in vectors {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let p = dir.path().join(format!("v{len}"));
        fs::write(&p, &data).unwrap();
        let h = hash_file(&p).unwrap();
        assert_eq!(h.blake3, want, "input_len {len}");
        assert_eq!(h.sha256, sha256sum(&p), "input_len {len}");
    }
}

#[test]
fn missing_or_special_file_error_names_the_file() {
    let e = hash_file(Path::new("/dev/zero")).unwrap_err().to_string();
    assert_eq!(e, "/dev/zero: not a regular file");
    let d = tempfile::tempdir().unwrap();
    let e = hash_file(d.path()).unwrap_err().to_string();
    assert_eq!(e, format!("{}: not a regular file", d.path().display()));
    let e = hash_file(Path::new("/nonexistent/det-test-file"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/nonexistent/det-test-file: "), "{e}");
}

/// One change to a tree on disk.
type Step = Box<dyn Fn(&Path)>;

/// Build the same tree, creating entries in the given order.
fn make_tree(root: &Path, reverse: bool) {
    let mut steps: Vec<Step> = vec![
        Box::new(|r| fs::write(r.join("b.txt"), "bee").unwrap()),
        Box::new(|r| {
            fs::create_dir_all(r.join("a/deep")).unwrap();
            fs::write(
                r.join("a/deep/x.bin"),
                noise(2 * MMAP_THRESHOLD as usize, 3),
            )
            .unwrap();
        }),
        Box::new(|r| fs::write(r.join("a-b"), "dash").unwrap()),
        Box::new(|r| {
            fs::write(r.join("run.sh"), "#!/bin/sh\n").unwrap();
            fs::set_permissions(r.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        }),
        Box::new(|r| symlink("b.txt", r.join("link")).unwrap()),
        Box::new(|r| fs::create_dir_all(r.join("empty")).unwrap()),
    ];
    if reverse {
        steps.reverse();
    }
    for s in steps {
        s(root);
    }
}

#[test]
fn tree_hash_is_independent_of_creation_order_and_sorted_bytewise() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    make_tree(d1.path(), false);
    make_tree(d2.path(), true);
    let (t1, t2) = (
        hash_tree(d1.path(), &all()).unwrap(),
        hash_tree(d2.path(), &all()).unwrap(),
    );
    assert_eq!(t1, t2);
    let paths: Vec<(&str, EntryKind)> = t1
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.kind))
        .collect();
    assert_eq!(
        paths,
        [
            ("a", EntryKind::Directory),
            ("a-b", EntryKind::File),
            ("a/deep", EntryKind::Directory),
            ("a/deep/x.bin", EntryKind::File),
            ("b.txt", EntryKind::File),
            ("empty", EntryKind::Directory),
            ("link", EntryKind::Symlink),
            ("run.sh", EntryKind::Executable),
        ]
    );
    let link = &t1.entries[6];
    assert_eq!(
        link.blake3,
        hash_bytes(b"b.txt").blake3,
        "a symlink is hashed as its target"
    );
    let x = &t1.entries[3];
    assert_eq!(x.sha256, sha256sum(&d1.path().join("a/deep/x.bin")));
}

#[test]
fn tree_hash_changes_with_content_mode_link_target_and_names() {
    let base = || {
        let d = tempfile::tempdir().unwrap();
        make_tree(d.path(), false);
        d
    };
    let reference = hash_tree(base().path(), &all()).unwrap().blake3;
    let changes: Vec<(&str, Step)> = vec![
        (
            "content",
            Box::new(|r| fs::write(r.join("b.txt"), "bee!").unwrap()),
        ),
        (
            "exec bit",
            Box::new(|r| {
                fs::set_permissions(r.join("b.txt"), fs::Permissions::from_mode(0o744)).unwrap()
            }),
        ),
        (
            "exec bit off",
            Box::new(|r| {
                fs::set_permissions(r.join("run.sh"), fs::Permissions::from_mode(0o644)).unwrap()
            }),
        ),
        (
            "link target",
            Box::new(|r| {
                fs::remove_file(r.join("link")).unwrap();
                symlink("a-b", r.join("link")).unwrap();
            }),
        ),
        (
            "rename",
            Box::new(|r| fs::rename(r.join("a-b"), r.join("a-c")).unwrap()),
        ),
        (
            "empty dir",
            Box::new(|r| fs::create_dir(r.join("empty/more")).unwrap()),
        ),
        (
            "big file byte",
            Box::new(|r| {
                let p = r.join("a/deep/x.bin");
                let mut d = fs::read(&p).unwrap();
                d[1_500_000] ^= 1;
                fs::write(&p, d).unwrap();
            }),
        ),
    ];
    for (what, change) in changes {
        let d = base();
        change(d.path());
        assert_ne!(
            hash_tree(d.path(), &all()).unwrap().blake3,
            reference,
            "{what}"
        );
    }
    // A mode change that keeps the kind (read bits only) does not count.
    let d = base();
    fs::set_permissions(d.path().join("b.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(hash_tree(d.path(), &all()).unwrap().blake3, reference);
}

#[test]
fn tree_filter_skips_whole_directories() {
    let d = tempfile::tempdir().unwrap();
    make_tree(d.path(), false);
    let reference = hash_tree(d.path(), &all()).unwrap();
    fs::create_dir_all(d.path().join("target/debug")).unwrap();
    fs::write(d.path().join("target/debug/out"), "x").unwrap();
    fs::create_dir(d.path().join(".git")).unwrap();
    assert_eq!(
        hash_tree(d.path(), &TreeFilter::workspace()).unwrap(),
        reference
    );
    let skip_deep = TreeFilter::default().skip_path("a/deep");
    let t = hash_tree(d.path(), &skip_deep).unwrap();
    assert!(t.entries.iter().all(|e| !e.path.starts_with("a/deep")));
    assert!(t.entries.iter().any(|e| e.path == "a"));
    assert_ne!(
        hash_tree(d.path(), &all()).unwrap().blake3,
        reference.blake3
    );
}

#[test]
fn links_are_not_followed_even_in_a_loop() {
    let d = tempfile::tempdir().unwrap();
    symlink(".", d.path().join("self")).unwrap();
    symlink("/nonexistent", d.path().join("dangling")).unwrap();
    let t = hash_tree(d.path(), &all()).unwrap();
    assert_eq!(t.entries.len(), 2);
    assert!(t.entries.iter().all(|e| e.kind == EntryKind::Symlink));
}

#[test]
fn special_files_and_non_directories_are_errors_naming_the_path() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let e = hash_tree(d.path(), &all()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", fifo.display())), "{e}");
    assert!(e.contains("FIFO"), "{e}");

    let f = d.path().join("file");
    fs::write(&f, "x").unwrap();
    let e = hash_tree(&f, &all()).unwrap_err().to_string();
    assert_eq!(e, format!("{}: not a directory", f.display()));
}

#[test]
fn unreadable_file_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("secret");
    fs::write(&f, "x").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(&f).is_ok() {
        eprintln!("skipped: running as root, mode 000 does not stop reads");
        return;
    }
    let e = hash_tree(d.path(), &all()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: ", f.display())), "{e}");
}
