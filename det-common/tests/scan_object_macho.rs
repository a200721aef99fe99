//! Mach-O detectors on real `zig cc -target aarch64-macos` output, thin and universal.
//!
//! What zig 0.17 produces (checked by hand and pinned here): its Mach-O linker writes a
//! debug map — N_SO stabs naming the source directory and file, and one N_OSO per object
//! naming the object file in zig's cache (`~/.cache/zig/o/<hash>/main.o`) with that file's
//! mtime — whenever debug info is on, which is zig cc's default; it ignores ZERO_AR_DATE.
//! `-g0` (or `-s`) leaves the debug map out. There is no lipo here, so the universal binary
//! is assembled by the test from two thin slices (the fat header is 8 + 20 bytes a slice).

mod scan_support;
use det_common::Severity;
use object::{Object, ObjectSection};
use scan_support::{fixture, medium_or_above, scan, with_rule};
use std::path::{Path, PathBuf};
use std::process::Command;

fn zig_cc(zig: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(zig)
        .arg("cc")
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("ZERO_AR_DATE")
        .output()
        .expect("zig runs");
    assert!(
        out.status.success(),
        "zig cc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Build the c-paths fixture for `target`, by absolute path, with extra flags.
fn build(zig: &Path, d: &tempfile::TempDir, target: &str, out: &str, extra: &[&str]) -> PathBuf {
    let src = format!("{}/main.c", d.path().display());
    let mut args = vec!["-target", target, "-O2", "-o", out];
    args.extend(extra);
    args.push(&src);
    zig_cc(zig, d.path(), &args);
    d.path().join(out)
}

#[test]
fn thin_macho_debug_map_leaks_paths_and_mtimes() {
    let Some(zig) =
        det_common::toolchain::zig_for_test("thin_macho_debug_map_leaks_paths_and_mtimes")
    else {
        return;
    };
    let d = fixture("c-paths");
    let dir = d.path().to_str().unwrap().to_owned();
    let exe = build(&zig, &d, "aarch64-macos", "leaky", &["-g"]);
    let data = std::fs::read(&exe).unwrap();
    let fs = scan(&exe);

    let oso = with_rule(&fs, "macho-oso-path");
    assert_eq!(oso.len(), 1, "{fs:#?}");
    assert!(
        oso[0].evidence.starts_with('/') && oso[0].evidence.ends_with("main.o"),
        "{}",
        oso[0].evidence
    );
    assert_eq!(oso[0].location.field.as_deref(), Some("N_OSO"));
    let off = oso[0].location.offset.unwrap() as usize;
    assert!(data[off..].starts_with(oso[0].evidence.as_bytes()));

    let mtime = with_rule(&fs, "macho-oso-mtime");
    assert_eq!(mtime.len(), 1, "{fs:#?}");
    let off = mtime[0].location.offset.unwrap() as usize;
    let stored = u64::from_le_bytes(data[off..off + 8].try_into().unwrap());
    let object_mtime = std::fs::metadata(&oso[0].evidence)
        .ok()
        .and_then(|m| m.modified().ok())
        .map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    assert!(stored > 1_600_000_000, "{stored}");
    if let Some(t) = object_mtime {
        assert_eq!(stored, t, "n_value is the object file's mtime");
    }
    assert!(
        mtime[0].evidence.contains(&format!("mtime {stored} (")),
        "{}",
        mtime[0].evidence
    );

    // N_SO: the source directory and the source file, both absolute.
    let so: Vec<_> = with_rule(&fs, "debug-path")
        .iter()
        .map(|f| f.evidence.clone())
        .collect();
    assert!(
        so.contains(&dir) && so.contains(&format!("{dir}/main.c")),
        "{so:?}"
    );

    // __FILE__ / assert() in __TEXT,__cstring, at the right section offset.
    let abs: Vec<_> = with_rule(&fs, "absolute-path")
        .into_iter()
        .filter(|f| f.location.section.as_deref() == Some("__TEXT,__cstring"))
        .collect();
    assert_eq!(abs.len(), 1, "{fs:#?}");
    assert_eq!(abs[0].evidence, format!("{dir}/main.c"));
    let file = object::File::parse(&*data).unwrap();
    let cstring = file
        .sections()
        .find(|s| s.name() == Ok("__cstring") && s.segment_name().ok().flatten() == Some("__TEXT"))
        .unwrap();
    let off = abs[0].location.offset.unwrap() as usize;
    assert!(cstring.data().unwrap()[off..].starts_with(abs[0].evidence.as_bytes()));

    let uuid = with_rule(&fs, "macho-uuid");
    assert_eq!(uuid.len(), 1);
    assert_eq!(uuid[0].severity(), Severity::Info);
    let off = uuid[0].location.offset.unwrap() as usize;
    assert_eq!(
        hex::encode_upper(&data[off..off + 16]),
        uuid[0].evidence.replace('-', "")
    );
}

#[test]
fn thin_macho_without_debug_map_and_with_prefix_map_is_clean() {
    let Some(zig) = det_common::toolchain::zig_for_test(
        "thin_macho_without_debug_map_and_with_prefix_map_is_clean",
    ) else {
        return;
    };
    let d = fixture("c-paths");
    let map = format!("-ffile-prefix-map={}=.", d.path().display());
    let exe = build(&zig, &d, "aarch64-macos", "clean", &["-g0", &map]);
    let fs = scan(&exe);
    assert_eq!(medium_or_above(&fs), Vec::<String>::new());
    assert!(
        with_rule(&fs, "macho-oso-path").is_empty() && with_rule(&fs, "macho-oso-mtime").is_empty()
    );
    assert_eq!(with_rule(&fs, "macho-uuid").len(), 1);
}

/// A universal binary from thin slices: big-endian fat header, slices 16 KiB-aligned.
fn make_fat(slices: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut v = 0xcafe_babe_u32.to_be_bytes().to_vec();
    v.extend((slices.len() as u32).to_be_bytes());
    let align = 1u32 << 14;
    let mut off = align;
    let mut placed = Vec::new();
    for (cpu, sub, data) in slices {
        for x in [*cpu, *sub, off, data.len() as u32, 14] {
            v.extend(x.to_be_bytes());
        }
        placed.push(off);
        off += (data.len() as u32).div_ceil(align) * align;
    }
    for ((_, _, data), off) in slices.iter().zip(placed) {
        v.resize(off as usize, 0);
        v.extend_from_slice(data);
    }
    v
}

#[test]
fn universal_macho_slices_are_scanned_by_architecture() {
    let Some(zig) =
        det_common::toolchain::zig_for_test("universal_macho_slices_are_scanned_by_architecture")
    else {
        return;
    };
    let d = fixture("c-paths");
    let dir = d.path().display().to_string();
    let arm = std::fs::read(build(&zig, &d, "aarch64-macos", "arm", &["-g"])).unwrap();
    let x86 = std::fs::read(build(&zig, &d, "x86_64-macos", "x86", &["-g"])).unwrap();
    let fat = make_fat(&[(0x0100_000c, 0, &arm), (0x0100_0007, 3, &x86)]);
    let path = d.path().join("universal");
    std::fs::write(&path, &fat).unwrap();
    let fs = scan(&path);
    for arch in ["arm64", "x86_64"] {
        let in_slice: Vec<_> = fs
            .iter()
            .filter(|f| f.location.container == [arch])
            .collect();
        let rules: Vec<_> = in_slice.iter().map(|f| f.rule.id).collect();
        for r in [
            "macho-uuid",
            "macho-oso-path",
            "macho-oso-mtime",
            "debug-path",
            "absolute-path",
        ] {
            assert!(rules.contains(&r), "{arch}: {r} missing in {rules:?}");
        }
        let abs = in_slice
            .iter()
            .find(|f| f.rule.id == "absolute-path")
            .unwrap();
        assert_eq!(abs.evidence, format!("{dir}/main.c"));
        assert_eq!(abs.location.display_path(), format!("universal!{arch}"));
    }
    assert!(
        fs.iter().all(|f| f.location.container.len() == 1),
        "{fs:#?}"
    );

    // A universal binary cut inside its second slice: the first is scanned, the second
    // reported.
    let cut = d.path().join("cut");
    std::fs::write(&cut, &fat[..fat.len() - x86.len() / 2]).unwrap();
    let fs = scan(&cut);
    assert!(
        fs.iter()
            .any(|f| f.location.container == ["arm64"] && f.rule.id == "macho-oso-path")
    );
    let errs = with_rule(&fs, "parse-error");
    assert_eq!(errs.len(), 1, "{fs:#?}");
    assert_eq!(errs[0].location.container, ["x86_64"]);
}

#[test]
fn truncated_macho_reports_parse_error() {
    let Some(zig) = det_common::toolchain::zig_for_test("truncated_macho_reports_parse_error")
    else {
        return;
    };
    let d = fixture("c-paths");
    let exe = build(&zig, &d, "aarch64-macos", "leaky", &["-g"]);
    let data = std::fs::read(&exe).unwrap();
    // The first 100 bytes: the header promises load commands that are cut off.
    let head = d.path().join("head");
    std::fs::write(&head, &data[..100]).unwrap();
    let fs = scan(&head);
    assert_eq!(
        fs.iter().map(|f| f.rule.id).collect::<Vec<_>>(),
        ["parse-error"],
        "{fs:#?}"
    );
    assert!(
        fs[0].evidence.starts_with("Mach-O: load command"),
        "{}",
        fs[0].evidence
    );
    // The first half: load commands and __TEXT are there, the symbol table is not.
    let half = d.path().join("half");
    std::fs::write(&half, &data[..data.len() / 2]).unwrap();
    let fs = scan(&half);
    assert!(!with_rule(&fs, "parse-error").is_empty(), "{fs:#?}");
    assert!(!with_rule(&fs, "macho-uuid").is_empty());
    // Every prefix parses without a panic.
    for len in (0..data.len()).step_by(997) {
        std::fs::write(&half, &data[..len]).unwrap();
        let _ = scan(&half);
    }
}

#[test]
fn macho_object_dwarf_comp_dir() {
    let Some(zig) = det_common::toolchain::zig_for_test("macho_object_dwarf_comp_dir") else {
        return;
    };
    let d = fixture("c-paths");
    let dir = d.path().to_str().unwrap().to_owned();
    let obj = build(&zig, &d, "aarch64-macos", "main.o", &["-g", "-c"]);
    let data = std::fs::read(&obj).unwrap();
    let fs = scan(&obj);
    let comp = with_rule(&fs, "debug-comp-dir");
    assert_eq!(comp.len(), 1, "{fs:#?}");
    assert_eq!(comp[0].evidence, dir);
    // Located in the __DWARF segment's string section, at the string itself.
    let section = comp[0].location.section.as_deref().unwrap();
    let (seg, sect) = section.split_once(',').unwrap();
    assert_eq!(seg, "__DWARF");
    let file = object::File::parse(&*data).unwrap();
    let s = file
        .sections()
        .find(|s| s.name() == Ok(sect) && s.segment_name().ok().flatten() == Some(seg))
        .unwrap();
    let off = comp[0].location.offset.unwrap() as usize;
    assert!(s.data().unwrap()[off..].starts_with(dir.as_bytes()));
    // The pattern scan of the same section does not report the same string again.
    let same_place = fs
        .iter()
        .filter(|f| {
            f.location.section == comp[0].location.section
                && f.location.offset == comp[0].location.offset
        })
        .count();
    assert_eq!(same_place, 1);

    let map = format!("-ffile-prefix-map={dir}=.");
    let clean = build(&zig, &d, "aarch64-macos", "clean.o", &["-g", "-c", &map]);
    let fs = scan(&clean);
    assert!(with_rule(&fs, "debug-comp-dir").is_empty(), "{fs:#?}");
    assert!(fs.iter().all(|f| !f.evidence.contains(&dir)), "{fs:#?}");
    // What remains is true: the line table names zig's own libc headers by where zig is
    // installed (`.../ziglang/lib/libc/include/...`), which a second prefix map would fix.
    let zig_lib = zig.parent().unwrap().join("lib").display().to_string();
    for f in with_rule(&fs, "debug-path") {
        assert!(f.evidence.starts_with(&zig_lib), "{}", f.evidence);
    }
}
