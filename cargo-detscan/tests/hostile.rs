//! Hostile input (issue 7): small files that used to crash det-scan, hang it or drive it to
//! many GiB. Every input is made here; every case runs the real binary as a child process
//! bounded to 5 s and 512 MiB of peak RSS. See `hostile_support` for the harness and for how
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
