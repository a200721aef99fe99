//! Hostile input (issue 7): small files that used to crash det-scan, hang it or drive it to
//! many GiB. Every input is made here; every case runs the real binary as a child process
//! bounded to 5 s of CPU and 512 MiB of peak RSS. See `hostile_support` for the harness and for how
//! to measure another binary (`DET_HOSTILE_BIN`, `DET_HOSTILE_REPORT=1`).

mod hostile_support;

use hostile_support::*;
use std::path::{Path, PathBuf};

fn bin() -> PathBuf {
    binary(env!("CARGO_BIN_EXE_cargo-det-scan"))
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).unwrap();
}

/// Lines with a home path, so that a member's content gives findings.
fn leaky(size: usize) -> Vec<u8> {
    b"/home/alice/src/x.c\n"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}); stderr: {}", run.stderr()))
}

fn findings_of<'a>(v: &'a serde_json::Value, rule: &str) -> Vec<&'a serde_json::Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

// ---- 1. the crash ----

fn elf_empty_build_id() -> Vec<u8> {
    let mut note = Vec::new();
    note.extend_from_slice(&4u32.to_le_bytes());
    note.extend_from_slice(&0u32.to_le_bytes()); // descsz 0
    note.extend_from_slice(&3u32.to_le_bytes()); // NT_GNU_BUILD_ID
    note.extend_from_slice(b"GNU\0");
    let mut blob = note.clone();
    blob.extend_from_slice(b"\0/home/alice/proj/x.c\0");
    elf64(
        &blob,
        &[
            ElfSection {
                name: ".note.gnu.build-id".into(),
                sh_type: SHT_NOTE,
                flags: SHF_ALLOC,
                offset: 0,
                size: 16,
            },
            ElfSection {
                name: ".rodata".into(),
                sh_type: SHT_PROGBITS,
                flags: SHF_ALLOC,
                offset: 16,
                size: blob.len() as u64 - 16,
            },
        ],
    )
}

#[test]
fn elf_with_an_empty_build_id_note() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "empty-id.o", &elf_empty_build_id());
    write(dir.path(), "other.txt", b"built in /home/alice/proj\n");
    let Some(run) = case(
        "elf-empty-build-id",
        &bin(),
        &["--format", "sarif", "-o", "r.sarif", "."],
        dir.path(),
    ) else {
        return;
    };
    assert_ne!(run.code, Some(101), "panicked: {}", run.stderr());
    let sarif = std::fs::read_to_string(dir.path().join("r.sarif")).expect("report written");
    // The rest of the file and the other file are still scanned.
    assert!(sarif.contains("/home/alice/proj/x.c"), "{sarif}");
    assert!(sarif.contains("other.txt"), "{sarif}");
}

// ---- 2-5. unbounded work ----

#[test]
fn universal_macho_whose_slices_are_the_file_itself() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fat", &macho_fat_self(5));
    let Some(run) = case(
        "macho-fat-self-overlap-n5",
        &bin(),
        &["--format", "json", "fat"],
        dir.path(),
    ) else {
        return;
    };
    let v = json(&run);
    let errors = findings_of(&v, "parse-error");
    assert!(
        errors
            .iter()
            .any(|f| f["evidence"].as_str().unwrap().contains("overlaps")),
        "{v:#}"
    );
}

#[test]
fn zip_entries_that_overlap_one_local_member() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..size(20_000, 20_000))
        .map(|i| format!("m{i:05}.txt"))
        .collect();
    write(
        dir.path(),
        "overlap.zip",
        &zip_overlapping(&leaky(1 << 20), &names),
    );
    let Some(run) = case(
        "zip-overlap-20k-entries",
        &bin(),
        &["--format", "json", "overlap.zip"],
        dir.path(),
    ) else {
        return;
    };
    let v = json(&run);
    let text = v.to_string();
    assert!(
        text.contains("overlap"),
        "{}",
        &text[..text.len().min(4000)]
    );
    assert!(text.len() < 8 << 20, "report of {} bytes", text.len());
}

#[test]
fn elf_sections_sharing_one_compressed_region() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let blob = elf_compressed(&leaky(1 << 20), 1 << 20);
    let sections: Vec<ElfSection> = (0..2000)
        .map(|_| ElfSection {
            name: ".data".into(),
            sh_type: SHT_PROGBITS,
            flags: SHF_ALLOC | SHF_WRITE | SHF_COMPRESSED,
            offset: 0,
            size: blob.len() as u64,
        })
        .collect();
    write(dir.path(), "shared.o", &elf64(&blob, &sections));
    let Some(run) = case(
        "elf-2000-sections-one-region",
        &bin(),
        &["--format", "json", "shared.o"],
        dir.path(),
    ) else {
        return;
    };
    let v = json(&run);
    assert!(!findings_of(&v, "home-path").is_empty(), "scanned once");
    assert!(v.to_string().contains("overlap"));
}

#[test]
fn tar_with_many_global_pax_headers() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Vec::new();
    for i in 0..size(8_000, 20_000) {
        let rec = pax_record(&format!("comment{i}"), b"x");
        tar_member(&mut t, "pax_global_header", b'g', &rec);
        tar_member(&mut t, &format!("f{i}"), b'0', b"");
    }
    t.extend_from_slice(&[0u8; 1024]);
    write(dir.path(), "g.tar", &t);
    if let Some(run) = case(
        "tar-20k-global-pax",
        &bin(),
        &["--format", "json", "g.tar"],
        dir.path(),
    ) {
        json(&run);
    }
}

#[test]
fn pattern_scanner_on_repeated_relative_paths() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    {
        let data: Vec<u8> = b"a/src/"
            .iter()
            .copied()
            .cycle()
            .take(size(24 << 20, 200 << 20))
            .collect();
        write(dir.path(), "paths.gz", &gzip(&data));
    }
    if let Some(run) = case(
        "patterns-a-src-200MiB-gz",
        &bin(),
        &["--format", "json", "paths.gz"],
        dir.path(),
    ) {
        json(&run);
    }
}

// ---- 6-7. unbounded memory ----

/// 4 KiB of pseudo-random bytes repeated: about 250:1 under deflate, inside the ratio limit.
fn padding(size: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let block: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    block.iter().copied().cycle().take(size).collect()
}

#[test]
fn nine_stacked_gzip_layers() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    {
        let mut layer = leaky(4096);
        for _ in 0..9 {
            let mut content = gzip(&layer);
            content.extend_from_slice(&padding(size(32 << 20, 96 << 20)));
            layer = content;
        }
        write(dir.path(), "stacked.gz", &gzip(&layer));
    }
    if let Some(run) = case(
        "gzip-9-stacked-layers",
        &bin(),
        &["--format", "json", "--max-memory", "96", "stacked.gz"],
        dir.path(),
    ) {
        json(&run);
    }
}

#[test]
fn elf_with_nine_compressed_debug_sections() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let names = [
        ".debug_info",
        ".debug_abbrev",
        ".debug_line",
        ".debug_str",
        ".debug_line_str",
        ".debug_addr",
        ".debug_str_offsets",
        ".debug_rnglists",
        ".debug_ranges",
    ];
    let mut blob = Vec::new();
    let mut sections = Vec::new();
    for name in names {
        let n = size(24 << 20, 96 << 20);
        let c = elf_compressed(&padding(n), n as u64);
        sections.push(ElfSection {
            name: name.into(),
            sh_type: SHT_PROGBITS,
            flags: SHF_COMPRESSED,
            offset: blob.len() as u64,
            size: c.len() as u64,
        });
        blob.extend_from_slice(&c);
    }
    write(dir.path(), "dwarf.o", &elf64(&blob, &sections));
    if let Some(run) = case(
        "elf-9-compressed-debug-sections",
        &bin(),
        &["--format", "json", "--max-memory", "64", "dwarf.o"],
        dir.path(),
    ) {
        json(&run);
    }
}

#[test]
fn elf_section_claiming_900_mib() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let blob = elf_compressed(b"", 900 << 20);
    let sections = [ElfSection {
        name: ".debug_str".into(),
        sh_type: SHT_PROGBITS,
        flags: SHF_COMPRESSED,
        offset: 0,
        size: blob.len() as u64,
    }];
    write(dir.path(), "claim.o", &elf64(&blob, &sections));
    if let Some(run) = case(
        "elf-section-claims-900MiB",
        &bin(),
        &["--format", "json", "claim.o"],
        dir.path(),
    ) {
        json(&run);
    }
}

#[test]
fn tar_member_with_a_10_mb_pax_path() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Vec::new();
    let path: Vec<u8> = b"d/".iter().copied().cycle().take(10 << 20).collect();
    tar_member(&mut t, "PaxHeader", b'x', &pax_record("path", &path));
    tar_member(&mut t, "x", b'0', &leaky(64 << 10));
    t.extend_from_slice(&[0u8; 1024]);
    write(dir.path(), "longname.tar", &t);
    let Some(run) = case(
        "tar-10MB-pax-path",
        &bin(),
        &["--format", "json", "longname.tar"],
        dir.path(),
    ) else {
        return;
    };
    assert!(
        run.stdout.len() < 2 << 20,
        "report of {} bytes",
        run.stdout.len()
    );
}

// ---- 8. inputs that are not regular files ----

#[test]
fn compile_commands_and_build_log_from_dev_zero() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    for (name, flag) in [
        ("compile-commands-dev-zero", "--compile-commands"),
        ("build-log-dev-zero", "--build-log"),
    ] {
        if let Some(run) = case(name, &bin(), &[flag, "/dev/zero"], dir.path()) {
            assert_eq!(run.code, Some(2), "{}", run.stderr());
            assert!(run.stderr().contains("/dev/zero"), "{}", run.stderr());
        }
    }
}

// ---- 7. findings and names bounded per file, names shared ----

/// 200 000 N_OSO stabs (two findings each: the object's path and its mtime) in one thin
/// Mach-O: the findings are capped at the per-file limit as they are found, not after the
/// debug map was read whole, and a `findings-capped` note says what was dropped, by rule.
#[test]
fn macho_with_200k_n_oso_stabs() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Under `cargo test` shorter names (the debug binary judges each one); measured with
    // names of 4000 bytes, as long as a debug map's entry may be.
    let len = size(300, 4000);
    let strings: Vec<Vec<u8>> = (0..1000)
        .map(|i| {
            let mut s = format!("/home/alice/build/{i:04}/").into_bytes();
            s.resize(len - 2, b'o');
            s.extend_from_slice(b".o");
            s
        })
        .collect();
    write(dir.path(), "app", &macho_oso(200_000, &strings));
    let Some(run) = case(
        "macho-200k-n-oso",
        &bin(),
        &["--format", "json", "app"],
        dir.path(),
    ) else {
        return;
    };
    let v = json(&run);
    let oso = findings_of(&v, "macho-oso-path").len() + findings_of(&v, "macho-oso-mtime").len();
    assert!(
        oso > 0 && oso <= 10_000,
        "{oso} N_OSO findings listed; at most 10000 per file"
    );
    let capped = findings_of(&v, "findings-capped");
    assert_eq!(capped.len(), 1, "{capped:#?}");
    let note = capped[0]["evidence"].as_str().unwrap();
    // 400 000 found, 10 000 kept (the repeated paths then listed once each).
    assert!(
        note.starts_with("390000 more findings in this file not listed")
            && note.contains("195000 macho-oso-path")
            && note.contains("195000 macho-oso-mtime"),
        "{note}"
    );
}

/// Many findings in deep members with long names, in files with long paths: every finding
/// of one member shares the member's names and the file's path (`finding::Name`), so the
/// findings held until the report cost what they say, not a copy of 5 KiB of names each.
/// Measured with 20 files × 10 000 findings (the per-file cap) × 5 KiB of names: 1 GiB of
/// copied names before, a tenth of it now (4 files under `cargo test`, for the debug binary).
#[test]
fn findings_in_deep_members_with_long_names() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let long = |tag: &str| -> String {
        let mut s = format!("{tag}-");
        s.extend(std::iter::repeat_n('n', 1000 - tag.len() - 1));
        s
    };
    // Innermost: 20 text members of 1000 matches each (the per-rule cap of one member).
    let inner: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (long(&format!("src{i:02}.txt")), leaky(20 * 1000)))
        .collect();
    let mut data = tar_long_names(&inner);
    for level in 0..3 {
        data = tar_long_names(&[(long(&format!("level{level}.tar")), data)]);
    }
    // Four directories of 250 bytes: a file path of 1 KiB.
    let mut sub = dir.path().to_path_buf();
    for d in 0..4 {
        sub.push(format!("d{d}{}", "p".repeat(248)));
    }
    std::fs::create_dir_all(&sub).unwrap();
    let files = size(4, 20);
    for f in 0..files {
        std::fs::write(sub.join(format!("deep{f:02}.tar")), &data).unwrap();
    }
    let Some(run) = case(
        "findings-deep-long-names",
        &bin(),
        &["--format", "text", "--min-severity", "info", "."],
        dir.path(),
    ) else {
        return;
    };
    let text = run.stdout();
    assert_eq!(
        text.matches("more findings in this file not listed")
            .count(),
        files,
        "every file capped: {}",
        &text[text.len().saturating_sub(3000)..]
    );
}

// ---- 9, 11. the file system: a file swapped after the walk, a signal during a write ----
//
// Both act at one exact moment of a real run, through det's pause points
// (`det_common::test_hook`): the run opens a FIFO there and blocks, so the test knows where
// it is — no sleeping, no dependence on the machine's speed.

fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// The writing end of `fifo`, opened once `child` has reached its pause point (opened the
/// reading end). Closing it lets the child go on.
fn paused_at(fifo: &Path, child: &Child) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(f) => return f,
            // No reader yet.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => panic!("{}: {e}", fifo.display()),
        }
        let state =
            std::fs::read_to_string(format!("/proc/{}/stat", child.pid)).unwrap_or_default();
        let state = state.rsplit_once(") ").map_or("", |(_, s)| &s[..1]);
        assert!(
            state != "Z" && std::time::Instant::now() < deadline,
            "the child ended (or hung) before its pause point"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".det-") && n.ends_with(".tmp"))
        .collect()
}

/// SIGTERM or SIGINT while `-o` is half written: the temporary file is removed, the report
/// that was there is untouched, and the process ends by that signal (as a shell expects).
#[test]
fn a_signal_while_the_report_is_written_leaves_no_temporary_file() {
    let _serial = serial();
    for (sig, signame) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (0, "none"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        // 8 000 findings (1 000 per file): a report of several MB.
        for i in 0..8 {
            write(&input, &format!("log{i:02}.txt"), &leaky(64 << 10));
        }
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let report = out.join("report.json");
        std::fs::write(&report, b"the previous report\n").unwrap();
        let fifo = dir.path().join("pause");
        mkfifo(&fifo);
        let pause = format!("atomic-write:{}", fifo.display());
        let child = spawn(
            &bin(),
            &["--format", "json", "-o", report.to_str().unwrap(), "in"],
            dir.path(),
            &[("DET_TEST_PAUSE", &pause)],
        );
        let release = paused_at(&fifo, &child);
        // Half of the new report is in its temporary file now.
        let temps = temp_files(&out);
        assert_eq!(temps.len(), 1, "{temps:?}");
        assert!(std::fs::metadata(out.join(&temps[0])).unwrap().len() > 1 << 20);
        if sig != 0 {
            // SAFETY: signals our own child, paused and unreaped.
            unsafe { libc::kill(child.pid, sig) };
        } else {
            drop(release);
        }
        let run = wait_bounded(child, HANG_SECONDS, MAX_RSS_MIB * 2);
        assert!(run.killed_by_harness.is_none(), "{signame}: {run:?}");
        assert_eq!(temp_files(&out), Vec::<String>::new(), "{signame}");
        let now = std::fs::read(&report).unwrap();
        if sig != 0 {
            assert_eq!(run.signal, Some(sig), "{signame}: {}", run.stderr());
            assert_eq!(now, b"the previous report\n", "{signame}");
        } else {
            // Not stopped: the run completes and replaces the report.
            assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr());
            let v: serde_json::Value = serde_json::from_slice(&now).unwrap();
            assert!(v["findings"].as_array().unwrap().len() >= 8_000);
        }
    }
}

/// After the directory walk, a file is replaced by a symlink out of the tree, another by a
/// FIFO, and a directory by a symlink to a directory outside holding a file of the same
/// name. The walk opened each file as it found it: what is scanned is those files, never
/// what was swapped in (no secret from outside is reported, the FIFO does not block the
/// scan), and the scan is complete. (A file the walk could not open is opened by its path
/// later and must then be the file the walk found: the unit tests of `Bytes` cover that.)
#[test]
fn files_swapped_after_the_walk_are_read_as_the_walk_found_them() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let outside = dir.path().join("outside");
    for d in [tree.join("sub"), outside.join("sub")] {
        std::fs::create_dir_all(d).unwrap();
    }
    for name in ["a.txt", "b.txt", "sub/c.txt", "z.txt"] {
        std::fs::write(tree.join(name), b"built in /build/pkg-1.0/src\n").unwrap();
    }
    std::fs::write(outside.join("secret"), b"/home/alice/.ssh/id_ed25519\n").unwrap();
    std::fs::write(outside.join("sub/c.txt"), b"/home/alice/.ssh/config\n").unwrap();
    let fifo = dir.path().join("pause");
    mkfifo(&fifo);
    let pause = format!("after-walk:{}", fifo.display());
    let child = spawn(
        &bin(),
        &["--format", "json", "tree"],
        dir.path(),
        &[("DET_TEST_PAUSE", &pause)],
    );
    let release = paused_at(&fifo, &child);
    // The walk has listed a.txt, b.txt, sub/c.txt and z.txt; now swap three of them.
    std::fs::remove_file(tree.join("a.txt")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), tree.join("a.txt")).unwrap();
    std::fs::remove_file(tree.join("b.txt")).unwrap();
    mkfifo(&tree.join("b.txt"));
    std::fs::rename(tree.join("sub"), dir.path().join("sub.old")).unwrap();
    std::os::unix::fs::symlink(outside.join("sub"), tree.join("sub")).unwrap();
    drop(release);
    let run = wait_bounded(child, HANG_SECONDS, MAX_RSS_MIB * 2);
    assert!(
        run.killed_by_harness.is_none() && run.cpu_seconds <= MAX_SECONDS,
        "{run:?}"
    );
    let v = json(&run);
    assert!(!v["findings"].to_string().contains(".ssh"), "{v:#}");
    assert_eq!(v["errors"], serde_json::json!([]), "{v:#}");
    // Each file's own content was read: its build path is reported.
    let mut read: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["evidence"] == "/build/pkg-1.0/src")
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    read.sort();
    assert_eq!(
        read,
        ["tree/a.txt", "tree/b.txt", "tree/sub/c.txt", "tree/z.txt"],
        "{v:#}"
    );
    assert!(matches!(run.code, Some(0 | 1)), "{}", run.stderr());
    assert_eq!(v["summary"]["files_scanned"], 4, "{:#}", v["summary"]);
}
