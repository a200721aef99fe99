//! PE/COFF detectors on real `zig cc -target x86_64-windows-gnu` output.
//!
//! What zig 0.17 produces (checked by hand and pinned here): lld links with /Brepro — the
//! COFF TimeDateStamp and the debug directory's stamps are a hash of the output, a REPRO
//! debug entry says so, and the CodeView entry names the PDB by file name only. zig rejects
//! `-Wl,--insert-timestamp` and `-Wl,--no-insert-timestamp` ("unsupported linker arg"), so
//! no zig flag makes a link-time stamp. The test for the leaky header fields therefore takes
//! the zig-built image and rewrites it as a linker without /Brepro would have written it
//! (REPRO entry gone, link time in the stamps, absolute PDB path), field by field.

mod scan_support;
use det_common::artifact::{Format, Node};
use det_common::detect::{ScanOptions, scan_node};
use det_common::{Location, Severity};
use object::{Object, ObjectSection};
use scan_support::{fixture, medium_or_above, scan, with_rule};
use std::path::{Path, PathBuf};
use std::process::Command;

fn build(zig: &Path, d: &tempfile::TempDir, out: &str, extra: &[&str]) -> PathBuf {
    let src = format!("{}/main.c", d.path().display());
    let mut args = vec!["cc", "-target", "x86_64-windows-gnu", "-O2", "-o", out];
    args.extend(extra);
    args.push(&src);
    let o = Command::new(zig)
        .args(&args)
        .current_dir(d.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "zig {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    d.path().join(out)
}

fn u16_at(d: &[u8], o: usize) -> usize {
    u16::from_le_bytes([d[o], d[o + 1]]) as usize
}
fn u32_at(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}

/// (file offset of the COFF header, debug directory as (section name, file offset of the
/// section, offset of the directory inside it, entry count)) read independently of det.
fn layout(d: &[u8]) -> (usize, (String, usize, usize, usize)) {
    let coff = u32_at(d, 0x3c) as usize + 4;
    let nsec = u16_at(d, coff + 2);
    let opt = coff + 20;
    let optsz = u16_at(d, coff + 16);
    assert_eq!(u16_at(d, opt), 0x20b, "PE32+");
    let (rva, size) = (u32_at(d, opt + 112 + 48), u32_at(d, opt + 112 + 52));
    for i in 0..nsec {
        let s = opt + optsz + 40 * i;
        let name = String::from_utf8_lossy(&d[s..s + 8])
            .trim_end_matches('\0')
            .to_owned();
        let (va, raw) = (u32_at(d, s + 12), u32_at(d, s + 20) as usize);
        if rva >= va && rva < va + u32_at(d, s + 16) {
            return (coff, (name, raw, (rva - va) as usize, size as usize / 28));
        }
    }
    panic!("no debug directory");
}

#[test]
fn zig_pe_is_brepro_and_leaks_only_file_macro() {
    let Some(zig) =
        det_common::toolchain::zig_for_test("zig_pe_is_brepro_and_leaks_only_file_macro")
    else {
        return;
    };
    let d = fixture("c-paths");
    let dir = d.path().display().to_string();
    let exe = build(&zig, &d, "leaky.exe", &[]);
    let fs = scan(&exe);
    assert_eq!(
        medium_or_above(&fs),
        vec![format!("absolute-path Some(\".rdata\") {dir}/main.c")]
    );
    for r in [
        "pe-timestamp",
        "pe-directory-timestamp",
        "pe-pdb-guid",
        "pe-pdb-path",
        "pe-no-repro",
    ] {
        assert!(with_rule(&fs, r).is_empty(), "{r}: {fs:#?}");
    }
    let abs = with_rule(&fs, "absolute-path")[0];
    let data = std::fs::read(&exe).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let rdata = file.section_by_name(".rdata").unwrap().data().unwrap();
    let off = abs.location.offset.unwrap() as usize;
    assert!(rdata[off..].starts_with(abs.evidence.as_bytes()));

    let map = format!("-ffile-prefix-map={dir}=.");
    let clean = build(&zig, &d, "clean.exe", &[&map]);
    assert_eq!(medium_or_above(&scan(&clean)), Vec::<String>::new());
}

#[test]
fn pe_without_repro_reports_stamps_guid_and_pdb_path() {
    let Some(zig) =
        det_common::toolchain::zig_for_test("pe_without_repro_reports_stamps_guid_and_pdb_path")
    else {
        return;
    };
    let d = fixture("c-paths");
    let map = format!("-ffile-prefix-map={}=.", d.path().display());
    let exe = build(&zig, &d, "app.exe", &[&map]);
    let mut data = std::fs::read(&exe).unwrap();
    let (coff, (sec, raw, dir_in_sec, n)) = layout(&data);
    let link_time: u32 = 1_795_400_000; // 2026-11-23T02:13:20Z
    data[coff + 4..coff + 8].copy_from_slice(&link_time.to_le_bytes());
    let mut codeview = None;
    for k in 0..n {
        let e = raw + dir_in_sec + 28 * k;
        data[e + 4..e + 8].copy_from_slice(&link_time.to_le_bytes());
        match u32_at(&data, e + 12) {
            16 => data[e + 12..e + 16].copy_from_slice(&0u32.to_le_bytes()), // REPRO → UNKNOWN
            2 => codeview = Some(u32_at(&data, e + 24) as usize),
            _ => {}
        }
    }
    let cv = codeview.expect("a CodeView entry");
    assert_eq!(&data[cv..cv + 4], b"RSDS");
    let pdb = b"C:\\b\\out\\app.pdb\0";
    data[cv + 24..cv + 24 + pdb.len()].copy_from_slice(pdb);
    let path = d.path().join("stamped.exe");
    std::fs::write(&path, &data).unwrap();

    let fs = scan(&path);
    let ts = with_rule(&fs, "pe-timestamp");
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].location.section.as_deref(), Some("COFF header"));
    assert_eq!(ts[0].location.offset, Some(coff as u64 + 4));
    assert_eq!(
        ts[0].evidence,
        "TimeDateStamp 1795400000 (2026-11-23T02:13:20Z)"
    );

    let dts = with_rule(&fs, "pe-directory-timestamp");
    assert_eq!(dts.len(), n, "{fs:#?}");
    for (k, f) in dts.iter().enumerate() {
        assert_eq!(f.location.section.as_deref(), Some(sec.as_str()));
        assert_eq!(f.location.offset, Some((dir_in_sec + 28 * k + 4) as u64));
        assert!(
            f.evidence
                .starts_with("debug directory entry TimeDateStamp 1795400000")
        );
    }
    let guid = with_rule(&fs, "pe-pdb-guid");
    assert_eq!(guid.len(), 1);
    assert_eq!(guid[0].severity(), Severity::Medium);
    assert_eq!(guid[0].location.offset, Some((cv + 4 - raw) as u64));
    let g = &data[cv + 4..cv + 20];
    let d1 = u32::from_le_bytes(g[..4].try_into().unwrap());
    assert!(
        guid[0].evidence.starts_with(&format!("{d1:08X}-")),
        "{}",
        guid[0].evidence
    );

    let p = with_rule(&fs, "pe-pdb-path");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].evidence, "C:\\b\\out\\app.pdb");
    assert_eq!(p[0].location.offset, Some((cv + 24 - raw) as u64));
    assert_eq!(with_rule(&fs, "pe-no-repro").len(), 1);

    // With SOURCE_DATE_EPOCH equal to the stamp, the stamps are normalized.
    let node = Node::open(&path).unwrap();
    let mut out = Vec::new();
    let opts = ScanOptions {
        source_date_epoch: Some(link_time as i64),
        ..ScanOptions::default()
    };
    scan_node(&node, &Location::file("x"), None, &opts, 0, &mut out);
    assert!(
        with_rule(&out, "pe-timestamp").is_empty()
            && with_rule(&out, "pe-directory-timestamp").is_empty()
    );
}

#[test]
fn coff_object_stamp_and_strings() {
    let Some(zig) = det_common::toolchain::zig_for_test("coff_object_stamp_and_strings") else {
        return;
    };
    let d = fixture("c-paths");
    let dir = d.path().display().to_string();
    let obj = build(&zig, &d, "main.obj", &["-c"]);
    let mut data = std::fs::read(&obj).unwrap();
    assert_eq!(Node::open(&obj).unwrap().format, Format::Coff);
    assert_eq!(
        u32_at(&data, 4),
        0,
        "clang writes no time stamp into objects"
    );
    let fs = scan(&obj);
    assert!(with_rule(&fs, "pe-timestamp").is_empty());
    let abs = with_rule(&fs, "absolute-path");
    assert!(
        abs.iter().any(|f| f.evidence == format!("{dir}/main.c")),
        "{fs:#?}"
    );

    // As MSVC's cl.exe writes it: the compile time in the header.
    data[4..8].copy_from_slice(&1_795_400_000u32.to_le_bytes());
    let stamped = d.path().join("stamped.obj");
    std::fs::write(&stamped, &data).unwrap();
    let fs = scan(&stamped);
    let ts = with_rule(&fs, "pe-timestamp");
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0].location.offset, Some(4));
}

/// DWARF in a COFF object (`-gdwarf`, as MinGW builds ship): its sections have long names
/// (`/4` for `.debug_info` in the string table), which is what sends the object to the DWARF
/// reader; the compilation directory is found there.
#[test]
fn coff_object_with_dwarf_reports_the_compilation_directory() {
    let Some(zig) = det_common::toolchain::zig_for_test(
        "coff_object_with_dwarf_reports_the_compilation_directory",
    ) else {
        return;
    };
    let d = fixture("c-paths");
    let dir = d.path().display().to_string();
    let obj = build(&zig, &d, "main.obj", &["-c", "-g", "-gdwarf"]);
    assert_eq!(Node::open(&obj).unwrap().format, Format::Coff);
    let fs = scan(&obj);
    let comp_dir = with_rule(&fs, "debug-comp-dir");
    assert!(
        comp_dir
            .iter()
            .any(|f| f.evidence == dir && f.location.section.as_deref() == Some(".debug_str")),
        "{fs:#?}"
    );
    // Without debug information the object has no long section names and no DWARF finding.
    let plain = build(&zig, &d, "plain.obj", &["-c"]);
    assert!(with_rule(&scan(&plain), "debug-comp-dir").is_empty());
}

#[test]
fn truncated_pe_reports_parse_error() {
    let Some(zig) = det_common::toolchain::zig_for_test("truncated_pe_reports_parse_error") else {
        return;
    };
    let d = fixture("c-paths");
    let exe = build(&zig, &d, "app.exe", &[]);
    let data = std::fs::read(&exe).unwrap();
    let half = d.path().join("half.exe");
    std::fs::write(&half, &data[..data.len() / 2]).unwrap();
    assert_eq!(Node::open(&half).unwrap().format, Format::Pe);
    let fs = scan(&half);
    let errs = with_rule(&fs, "parse-error");
    assert!(!errs.is_empty(), "{fs:#?}");
    assert!(
        errs.iter()
            .any(|e| e.evidence.contains("past the end") || e.evidence.contains("cut off")),
        "{errs:#?}"
    );
    // 100 bytes hold no PE signature (e_lfanew points past them): still a PE cut short, and
    // the PE parser says so.
    let head = d.path().join("head.exe");
    std::fs::write(&head, &data[..100]).unwrap();
    assert_eq!(Node::open(&head).unwrap().format, Format::Pe);
    let fs = scan(&head);
    assert!(!with_rule(&fs, "parse-error").is_empty(), "{fs:#?}");
    for len in (0..data.len()).step_by(1009) {
        std::fs::write(&half, &data[..len]).unwrap();
        let _ = scan(&half);
    }
}
