//! ELF detectors on real gcc output: the testdata/c-paths and testdata/c-date-time fixtures
//! built with and without -g, -ffile-prefix-map and SOURCE_DATE_EPOCH; build-id kinds; GCC
//! LTO section names; compressed debug sections; truncated copies.

mod scan_support;
use det_common::detect::ScanOptions;
use det_common::{Finding, Severity};
use object::{Object, ObjectSection};
use scan_support::{fixture, medium_or_above, scan, scan_with, with_rule};
use std::path::{Path, PathBuf};
use std::process::Command;

fn gcc(dir: &Path, args: &[&str], sde: Option<&str>) {
    let mut c = Command::new("gcc");
    c.current_dir(dir)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH");
    if let Some(s) = sde {
        c.env("SOURCE_DATE_EPOCH", s);
    }
    let out = c.output().expect("gcc runs");
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The (decompressed) content of an ELF section, read independently of det.
fn section(path: &Path, name: &str) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.section_by_name(name)
        .unwrap()
        .uncompressed_data()
        .unwrap()
        .into_owned()
}

/// The finding's offset points at its evidence inside its section.
fn assert_points_at(path: &Path, f: &Finding) {
    let sec = f.location.section.as_deref().expect("a section");
    let off = f.location.offset.expect("an offset") as usize;
    let bytes = section(path, sec);
    assert!(
        bytes[off..].starts_with(f.evidence.as_bytes()),
        "{} at {sec}+{off} does not hold {:?}",
        f.rule.id,
        f.evidence
    );
}

fn dir_str(d: &tempfile::TempDir) -> String {
    d.path().to_str().unwrap().to_owned()
}

#[test]
fn c_paths_with_debug_info_leaks_the_build_directory() {
    let d = fixture("c-paths");
    let dir = dir_str(&d);
    let src = format!("{dir}/main.c");
    gcc(d.path(), &["-O2", "-g", "-o", "paths", &src], None);
    let exe = d.path().join("paths");
    let fs = scan(&exe);

    let comp = with_rule(&fs, "debug-comp-dir");
    assert_eq!(comp.len(), 1, "{fs:#?}");
    assert_eq!(comp[0].evidence, dir);
    assert_eq!(comp[0].location.section.as_deref(), Some(".debug_line_str"));
    assert_points_at(&exe, comp[0]);

    let dbg = with_rule(&fs, "debug-path");
    assert!(dbg.iter().any(|f| f.evidence == src), "{dbg:#?}");
    for f in &dbg {
        assert_points_at(&exe, f);
    }

    // __FILE__ and assert() put the source path into .rodata (once: the linker merges them).
    let abs: Vec<_> = with_rule(&fs, "absolute-path")
        .into_iter()
        .filter(|f| f.location.section.as_deref() == Some(".rodata"))
        .collect();
    assert_eq!(abs.len(), 1, "{fs:#?}");
    assert_eq!(abs[0].evidence, src);
    assert_points_at(&exe, abs[0]);

    // The same path is never reported twice at one place (DWARF and patterns agree).
    let mut places: Vec<_> = fs
        .iter()
        .filter_map(|f| Some((f.location.section.clone()?, f.location.offset?)))
        .collect();
    let n = places.len();
    places.sort();
    places.dedup();
    assert_eq!(places.len(), n);

    let comment = with_rule(&fs, "elf-comment");
    assert!(
        comment.iter().any(|f| f.evidence.starts_with("GCC: (")),
        "{comment:#?}"
    );
    assert_points_at(&exe, comment[0]);
    let id = with_rule(&fs, "elf-build-id");
    assert_eq!(id.len(), 1);
    assert!(id[0].evidence.starts_with("sha1 "), "{}", id[0].evidence);
}

#[test]
fn c_paths_with_prefix_map_is_clean() {
    let d = fixture("c-paths");
    let dir = dir_str(&d);
    let map = format!("-ffile-prefix-map={dir}=.");
    gcc(
        d.path(),
        &["-O2", "-g", &map, "-o", "paths", &format!("{dir}/main.c")],
        None,
    );
    let fs = scan(&d.path().join("paths"));
    assert_eq!(medium_or_above(&fs), Vec::<String>::new());
    assert!(with_rule(&fs, "debug-comp-dir").is_empty());
}

#[test]
fn c_paths_without_debug_info_still_leaks_file_macro() {
    let d = fixture("c-paths");
    let dir = dir_str(&d);
    gcc(
        d.path(),
        &["-O2", "-o", "paths", &format!("{dir}/main.c")],
        None,
    );
    let fs = scan(&d.path().join("paths"));
    let ids: Vec<_> = medium_or_above(&fs);
    assert_eq!(
        ids,
        vec![format!("absolute-path Some(\".rodata\") {dir}/main.c")]
    );
}

#[test]
fn compressed_debug_sections_are_read() {
    let d = fixture("c-paths");
    let dir = dir_str(&d);
    gcc(
        d.path(),
        &[
            "-O2",
            "-g",
            "-gz=zlib",
            "-o",
            "paths",
            &format!("{dir}/main.c"),
        ],
        None,
    );
    let exe = d.path().join("paths");
    let data = std::fs::read(&exe).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let info = file.section_by_name(".debug_info").unwrap();
    assert_ne!(
        info.compressed_data().unwrap().format,
        object::CompressionFormat::None,
        "gcc -gz did not compress"
    );
    let fs = scan(&exe);
    let comp = with_rule(&fs, "debug-comp-dir");
    assert_eq!(comp.len(), 1, "{fs:#?}");
    assert_eq!(comp[0].evidence, dir);
    assert_points_at(&exe, comp[0]);
}

#[test]
fn date_time_macros_and_source_date_epoch() {
    let d = fixture("c-date-time");
    gcc(d.path(), &["-O2", "-o", "leaky", "main.c"], None);
    let exe = d.path().join("leaky");
    let fs = scan(&exe);
    let dt = with_rule(&fs, "date-time-macro");
    assert_eq!(dt.len(), 2, "{fs:#?}");
    let date = dt
        .iter()
        .find(|f| f.evidence.len() == 11)
        .expect("a __DATE__");
    let time = dt
        .iter()
        .find(|f| f.evidence.len() == 8)
        .expect("a __TIME__");
    assert!(
        date.evidence.as_bytes()[3] == b' ' && date.evidence[7..].parse::<u32>().unwrap() >= 2024
    );
    assert_eq!(time.evidence.as_bytes()[2], b':');
    for f in &dt {
        assert_eq!(f.location.section.as_deref(), Some(".rodata"));
        assert_points_at(&exe, f);
    }
    assert_eq!(medium_or_above(&fs).len(), 2, "{fs:#?}");

    // 2023-11-14T22:13:20Z: gcc expands __DATE__/__TIME__ to it, and det knows it is normal.
    gcc(
        d.path(),
        &["-O2", "-o", "clean", "main.c"],
        Some("1700000000"),
    );
    let clean = d.path().join("clean");
    let opts = ScanOptions {
        source_date_epoch: Some(1_700_000_000),
        ..ScanOptions::default()
    };
    assert_eq!(
        medium_or_above(&scan_with(&clean, &opts)),
        Vec::<String>::new()
    );
    // Without knowing SOURCE_DATE_EPOCH the fixed date is still a date in the binary.
    let fs = scan(&clean);
    let ev: Vec<_> = with_rule(&fs, "date-time-macro")
        .iter()
        .map(|f| f.evidence.clone())
        .collect();
    assert!(
        ev.contains(&"Nov 14 2023".to_owned()) && ev.contains(&"22:13:20".to_owned()),
        "{ev:?}"
    );
    assert_eq!(ev.len(), 2);
}

#[test]
fn build_id_uuid_is_random_sha1_is_not() {
    let d = fixture("c-date-time");
    gcc(
        d.path(),
        &["-O2", "-Wl,--build-id=uuid", "-o", "u", "main.c"],
        Some("1"),
    );
    gcc(
        d.path(),
        &["-O2", "-Wl,--build-id=sha1", "-o", "s", "main.c"],
        Some("1"),
    );
    let u = d.path().join("u");
    let fs = scan(&u);
    let r = with_rule(&fs, "elf-build-id-random");
    assert_eq!(r.len(), 1, "{fs:#?}");
    assert_eq!(r[0].severity(), Severity::Critical);
    assert_eq!(r[0].location.section.as_deref(), Some(".note.gnu.build-id"));
    let id = r[0].evidence.strip_prefix("uuid or md5 ").unwrap();
    let off = r[0].location.offset.unwrap() as usize;
    assert_eq!(
        hex::encode(&section(&u, ".note.gnu.build-id")[off..off + 16]),
        id
    );

    let sde = ScanOptions {
        source_date_epoch: Some(1),
        ..ScanOptions::default()
    };
    let fs = scan_with(&d.path().join("s"), &sde);
    assert!(with_rule(&fs, "elf-build-id-random").is_empty());
    let s = with_rule(&fs, "elf-build-id");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].evidence.len(), "sha1 ".len() + 40);
    assert_eq!(medium_or_above(&fs), Vec::<String>::new());
}

#[test]
fn gcc_lto_sections_random_without_seed() {
    // GCC 12 names LTO sections `.gnu.lto_<name>.<suffix>`: a random 64-bit number without
    // -frandom-seed (different on every compile), the CRC32 of the seed with it.
    let d = fixture("c-date-time");
    let names = |o: &str| -> Vec<String> {
        let data = std::fs::read(d.path().join(o)).unwrap();
        let f = object::File::parse(&*data).unwrap();
        f.sections()
            .filter_map(|s| {
                s.name()
                    .ok()
                    .filter(|n| n.starts_with(".gnu.lto_"))
                    .map(str::to_owned)
            })
            .collect()
    };
    for (o, seed) in [
        ("a.o", None),
        ("b.o", None),
        ("c.o", Some("-frandom-seed=x")),
        ("e.o", Some("-frandom-seed=x")),
    ] {
        let mut args = vec!["-O2", "-c", "-flto", "-o", o, "main.c"];
        args.extend(seed);
        gcc(d.path(), &args, Some("1"));
    }
    assert_ne!(
        names("a.o"),
        names("b.o"),
        "random suffixes differ per compile"
    );
    assert_eq!(names("c.o"), names("e.o"), "seeded suffixes are stable");

    let fs = scan(&d.path().join("a.o"));
    let r = with_rule(&fs, "gcc-lto-random-section");
    assert_eq!(r.len(), 1, "{fs:#?}");
    assert!(
        r[0].location
            .section
            .as_deref()
            .unwrap()
            .starts_with(".gnu.lto_")
    );
    assert!(names("a.o").contains(&r[0].location.section.as_deref().unwrap().to_owned()));
    let fs = scan(&d.path().join("c.o"));
    assert!(
        with_rule(&fs, "gcc-lto-random-section").is_empty(),
        "{fs:#?}"
    );
}

fn truncated(src: &Path, len: usize, to: &Path) -> PathBuf {
    let data = std::fs::read(src).unwrap();
    std::fs::write(to, &data[..len.min(data.len())]).unwrap();
    to.to_owned()
}

#[test]
fn truncated_elf_reports_parse_error_and_scans_what_is_there() {
    let d = fixture("c-paths");
    let dir = dir_str(&d);
    gcc(
        d.path(),
        &["-O2", "-g", "-o", "paths", &format!("{dir}/main.c")],
        None,
    );
    let exe = d.path().join("paths");
    let len = std::fs::metadata(&exe).unwrap().len() as usize;

    let half = truncated(&exe, len / 2, &d.path().join("half"));
    let fs = scan(&half);
    assert_eq!(with_rule(&fs, "parse-error").len(), 1, "{fs:#?}");
    // The section table is at the end, so the raw bytes were scanned: the .rodata path is
    // found at its file offset.
    let data = std::fs::read(&half).unwrap();
    let abs = with_rule(&fs, "absolute-path");
    assert!(!abs.is_empty(), "{fs:#?}");
    for f in abs {
        assert_eq!(f.location.section, None);
        let off = f.location.offset.unwrap() as usize;
        assert!(data[off..].starts_with(f.evidence.as_bytes()));
    }

    let head = truncated(&exe, 100, &d.path().join("head"));
    let fs = scan(&head);
    assert_eq!(
        fs.iter().map(|f| f.rule.id).collect::<Vec<_>>(),
        vec!["parse-error"]
    );
    assert!(fs[0].evidence.starts_with("ELF: "), "{}", fs[0].evidence);
}

/// Regression (issue 14.1): every Rust release binary linked by rust-lld carries
/// `Linker: LLD <version> (/checkout/src/llvm-project/llvm <hash>)` in `.comment`, the
/// toolchain's own build path. It is toolchain identity (info), not a build path.
#[test]
fn toolchain_identity_paths_are_not_build_paths() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("m.rs"), "fn main() { println!(\"hi\"); }\n").unwrap();
    let dir = dir_str(&d);
    let out = Command::new("rustc")
        .current_dir(d.path())
        .args(["-C", "opt-level=2", "-g", "-o", "m", "m.rs"])
        .arg(format!("--remap-path-prefix={dir}=."))
        .output()
        .expect("rustc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exe = d.path().join("m");
    let comment = String::from_utf8_lossy(&section(&exe, ".comment")).into_owned();
    let fs = scan(&exe);
    let identity = with_rule(&fs, "elf-comment");
    assert!(
        identity.iter().all(|f| f.severity() == Severity::Info),
        "{identity:#?}"
    );
    assert!(
        identity
            .iter()
            .any(|f| f.evidence.starts_with("rustc version")),
        "{identity:#?}"
    );
    // The toolchain's paths (rust-lld's, when it links) are not findings of their own.
    let in_identity: Vec<String> = medium_or_above(&fs)
        .into_iter()
        .filter(|f| f.contains(".comment") || f.contains("/checkout/"))
        .collect();
    assert_eq!(in_identity, Vec::<String>::new(), ".comment: {comment:?}");
    // DWARF producers are identity too, reported once per distinct string.
    let producers: Vec<_> = identity
        .iter()
        .filter(|f| f.location.section.as_deref() != Some(".comment"))
        .collect();
    assert!(
        producers
            .iter()
            .any(|f| f.evidence.contains("rustc version")),
        "{identity:#?}"
    );
    let mut texts: Vec<_> = identity.iter().map(|f| &f.evidence).collect();
    let n = texts.len();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), n, "{identity:#?}");
}

/// ... but the options a producer records are the build's: GCC writes
/// `-fprofile-dir=<dir>` into DW_AT_producer, and that directory is a build path.
#[test]
fn build_paths_in_recorded_options_stay_findings() {
    let d = fixture("c-paths");
    let dir = dir_str(&d);
    let prof = format!("{dir}/prof");
    gcc(
        d.path(),
        &[
            "-O2",
            "-g",
            &format!("-fprofile-dir={prof}"),
            &format!("-ffile-prefix-map={dir}=."),
            "-o",
            "paths",
            &format!("{dir}/main.c"),
        ],
        None,
    );
    let fs = scan(&d.path().join("paths"));
    let producer = with_rule(&fs, "elf-comment")
        .into_iter()
        .find(|f| f.evidence.starts_with("GNU C"))
        .unwrap_or_else(|| panic!("no DW_AT_producer in {fs:#?}"));
    assert!(producer.evidence.contains(&prof), "{producer:#?}");
    let leaks: Vec<_> = medium_or_above(&fs)
        .into_iter()
        .filter(|f| f.contains(&prof))
        .collect();
    assert!(!leaks.is_empty(), "{fs:#?}");
}
