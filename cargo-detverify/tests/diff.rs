//! `cargo det-verify diff` run as a real binary on pairs the tests build with real tools:
//! gcc -g in two directories, a shared library with two bytes patched, zig-built Mach-O and
//! PE at two times, ar, tar.gz, zip and wheel pairs that differ in mtimes, order and one
//! member. Each test checks the exact sections, ranges, causes and root-cause grouping in
//! the JSON (det-diff/1), and that identical inputs give no difference.
//!
//! Tools missing here skip a test, unless `DET_REQUIRE_TOOLS=1` (set by `cargo xtask test`),
//! which makes it fail with a message naming the tool.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn verify(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-det-verify"))
        .args(args)
        .output()
        .unwrap()
}

fn diff_json(a: &Path, b: &Path) -> (i32, Value) {
    let out = verify(&[
        "diff".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    let code = out.status.code().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

/// True when `tool` runs; false (skip) when it does not and tools are not required.
fn have(tool: &str, args: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("DET_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!(
            "{tool} is required by this test (DET_REQUIRE_TOOLS=1) but does not run; `cargo xtask setup` installs it"
        );
    }
    if !ok {
        eprintln!("skipped: {tool} not found");
    }
    ok
}

fn run(dir: &Path, cmd: &str, args: &[&str], env: &[(&str, &str)]) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn diffs(v: &Value) -> &Vec<Value> {
    v["differences"].as_array().unwrap()
}

/// Root differences (not derived), as `(section, field, kind, rule)`.
fn roots(v: &Value) -> Vec<(String, String, String, String)> {
    diffs(v)
        .iter()
        .filter(|d| d["derived_from"].is_null())
        .map(|d| {
            (
                d["section"].as_str().unwrap_or("").to_owned(),
                d["field"].as_str().unwrap_or("").to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["cause"]["rule"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn identical(a: &Path) {
    let (code, v) = diff_json(a, a);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["identical"], true);
    assert!(diffs(&v).is_empty());
    assert_eq!(v["summary"]["headline"], "identical");
}

#[test]
fn gcc_debug_builds_in_two_directories_have_one_root_cause_the_build_path() {
    if !have("gcc", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = "#include <stdio.h>\nint main(void) { puts(__FILE__); return 0; }\n";
    for d in ["a", "longer-b"] {
        let dir = t.path().join(d);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.c"), src).unwrap();
        let file = dir.join("src/main.c");
        run(
            &dir,
            "gcc",
            &[
                "-g",
                "-O1",
                "-Wl,--build-id=sha1",
                "-o",
                "app",
                file.to_str().unwrap(),
            ],
            &[],
        );
    }
    let (a, b) = (t.path().join("a/app"), t.path().join("longer-b/app"));
    identical(&a);
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, 1);
    assert_eq!(v["schema"], "det-diff/1");
    // One root cause: the build path, found in .rodata (__FILE__), the DWARF line strings
    // and the decoded compilation unit.
    let rc = v["root_causes"].as_array().unwrap();
    assert_eq!(rc.len(), 1, "{:#}", v["root_causes"]);
    assert_eq!(rc[0]["what"], "build path");
    assert_eq!(rc[0]["rule"], "absolute-path");
    let places: Vec<&str> = rc[0]["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        places.contains(&".rodata") && places.contains(&".debug_line_str"),
        "{places:?}"
    );
    assert!(
        v["summary"]["headline"]
            .as_str()
            .unwrap()
            .starts_with("1 root cause (build path in ")
    );
    // The fix is one for both builds: the directory each was built in, remapped the same
    // way, both directories named.
    let fix = rc[0]["fix"].as_str().unwrap();
    let (dir_a, dir_b) = (t.path().join("a"), t.path().join("longer-b"));
    assert!(
        fix.contains("-ffile-prefix-map=$PWD=.")
            && fix.contains(&format!(
                "{} in A, {} in B",
                dir_a.display(),
                dir_b.display()
            )),
        "{fix}"
    );
    // Every root difference is a build path.
    for (section, field, kind, rule) in roots(&v) {
        assert!(
            matches!(
                rule.as_str(),
                "absolute-path" | "debug-comp-dir" | "debug-path"
            ),
            "root {kind} in {section} {field} has cause `{rule}`"
        );
    }
    // .rodata: exactly the differing part of the path, both sides.
    let rodata = diffs(&v)
        .iter()
        .find(|d| d["section"] == ".rodata" && d["kind"] == "bytes")
        .expect(".rodata");
    let bytes_a = std::fs::read(&a).unwrap();
    let file = object_range(&bytes_a, ".rodata");
    let [s, e] = [
        rodata["a"]["range"][0].as_u64().unwrap() as usize,
        rodata["a"]["range"][1].as_u64().unwrap() as usize,
    ];
    // A's differing bytes: its path up to the directory that differs (B's string moved
    // for alignment, so the range starts at the string).
    let got = String::from_utf8_lossy(&bytes_a[file + s..file + e]).into_owned();
    assert!(got.starts_with('/') && got.ends_with("/a"), "{got}");
    assert!(
        rodata["b"]["context"]
            .as_str()
            .unwrap()
            .contains("/longer-b]/src/main.c")
    );
    // DWARF decoded: the compilation directory with both values.
    let comp = diffs(&v)
        .iter()
        .find(|d| d["field"] == "DW_AT_comp_dir")
        .expect("DW_AT_comp_dir");
    assert_eq!(comp["section"], "DWARF CU 0");
    assert!(comp["a"]["value"].as_str().unwrap().ends_with("/a"));
    assert!(comp["b"]["value"].as_str().unwrap().ends_with("/longer-b"));
    // Derived: the build-id (a hash of the content), e_shoff (the layout shifted).
    for (section, field) in [
        (".note.gnu.build-id", "build-id"),
        ("ELF header", "e_shoff"),
    ] {
        let d = diffs(&v)
            .iter()
            .find(|d| d["section"] == section && d["field"] == field)
            .unwrap_or_else(|| panic!("{section} {field}"));
        assert!(!d["derived_from"].is_null(), "{d:#}");
    }
    assert!(v["summary"]["derived"].as_u64().unwrap() >= 5);
}

#[test]
fn dwarf_differences_are_explained_at_the_attribute_level() {
    if !have("gcc", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = |blank: &str| {
        format!(
            "#include <stdio.h>\n{blank}static const char tag[] = \"v1\";\nint helper(int x) {{ return x * 3; }}\nint main(void) {{ puts(tag); return helper(2); }}\n"
        )
    };
    std::fs::write(t.path().join("m.c"), src("")).unwrap();
    run(t.path(), "gcc", &["-g", "-O1", "-o", "o1", "m.c"], &[]);
    run(t.path(), "gcc", &["-g", "-O2", "-o", "o2", "m.c"], &[]);
    // The same source one line lower.
    std::fs::write(t.path().join("m.c"), src("\n")).unwrap();
    run(
        t.path(),
        "gcc",
        &["-g", "-O1", "-o", "o1-moved", "m.c"],
        &[],
    );

    // -O1 against -O2: DW_AT_producer records the flags; it is the one root cause, and the
    // code, data and DWARF differences follow from it.
    let (code, v) = diff_json(&t.path().join("o1"), &t.path().join("o2"));
    assert_eq!(code, 1);
    let producer = diffs(&v)
        .iter()
        .find(|d| d["field"] == "DW_AT_producer")
        .unwrap_or_else(|| panic!("no DW_AT_producer: {v:#}"));
    assert_eq!(producer["section"], "DWARF CU 0");
    assert!(producer["a"]["value"].as_str().unwrap().contains(" -O1"));
    assert!(producer["b"]["value"].as_str().unwrap().contains(" -O2"));
    let rc = v["root_causes"].as_array().unwrap();
    assert_eq!(rc.len(), 1, "{:#}", v["root_causes"]);
    assert_eq!(rc[0]["rule"], "toolchain-or-flags");
    assert_eq!(rc[0]["what"], "compiler or flags");
    assert!(diffs(&v).iter().any(|d| d["section"] == ".text"));

    // One line lower: each entry's DW_AT_decl_line, both values, and the first line row.
    let (code, v) = diff_json(&t.path().join("o1"), &t.path().join("o1-moved"));
    assert_eq!(code, 1);
    let field = |f: &str| {
        diffs(&v)
            .iter()
            .find(|d| d["field"] == f)
            .unwrap_or_else(|| panic!("no {f}: {v:#}"))
    };
    for (f, a, b) in [
        ("DW_TAG_subprogram helper DW_AT_decl_line", "3", "4"),
        (
            "DW_TAG_formal_parameter helper::x DW_AT_decl_line",
            "3",
            "4",
        ),
        ("DW_TAG_variable tag DW_AT_decl_line", "2", "3"),
        ("DW_TAG_subprogram main DW_AT_decl_line", "4", "5"),
    ] {
        let d = field(f);
        assert_eq!(d["kind"], "dwarf");
        assert_eq!(
            (d["a"]["value"].as_str(), d["b"]["value"].as_str()),
            (Some(a), Some(b)),
            "{f}"
        );
    }
    let row = diffs(&v)
        .iter()
        .find(|d| {
            d["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("line row "))
        })
        .unwrap_or_else(|| panic!("no line row: {v:#}"));
    assert!(
        row["a"]["value"].as_str().unwrap().starts_with("m.c:3:"),
        "{row:#}"
    );
    assert!(
        row["b"]["value"].as_str().unwrap().starts_with("m.c:4:"),
        "{row:#}"
    );
    // The producer is the same: no toolchain cause.
    assert!(!diffs(&v).iter().any(|d| d["field"] == "DW_AT_producer"));
}

/// File offset of a section, by reading the ELF section headers with det's own reader.
fn object_range(elf: &[u8], name: &str) -> usize {
    let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().unwrap()) as usize;
    let shentsize = u16::from_le_bytes(elf[0x3a..0x3c].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(elf[0x3c..0x3e].try_into().unwrap()) as usize;
    let shstrndx = u16::from_le_bytes(elf[0x3e..0x40].try_into().unwrap()) as usize;
    let sh = |i: usize| &elf[shoff + i * shentsize..shoff + (i + 1) * shentsize];
    let strtab = u64::from_le_bytes(sh(shstrndx)[0x18..0x20].try_into().unwrap()) as usize;
    (0..shnum)
        .find_map(|i| {
            let h = sh(i);
            let n = u32::from_le_bytes(h[0..4].try_into().unwrap()) as usize;
            let s = &elf[strtab + n..];
            let s = &s[..s.iter().position(|&c| c == 0).unwrap()];
            (s == name.as_bytes())
                .then(|| u64::from_le_bytes(h[0x18..0x20].try_into().unwrap()) as usize)
        })
        .unwrap()
}

#[test]
fn two_patched_bytes_in_a_shared_library_are_one_range_in_rodata() {
    if !have("gcc", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("lib.c"),
        "const char *greeting(void) { return \"hello, reproducible world\"; }\n",
    )
    .unwrap();
    run(
        t.path(),
        "gcc",
        &["-shared", "-fPIC", "-O1", "-o", "liba.so", "lib.c"],
        &[],
    );
    let mut bytes = std::fs::read(t.path().join("liba.so")).unwrap();
    let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
    bytes[at] = b'j';
    bytes[at + 1] = b'E';
    std::fs::write(t.path().join("libb.so"), &bytes).unwrap();
    let (a, b) = (t.path().join("liba.so"), t.path().join("libb.so"));
    identical(&a);
    let (code, v) = diff_json(&a, &b);
    assert_eq!(code, 1);
    let d = diffs(&v);
    assert_eq!(d.len(), 1, "{v:#}");
    assert_eq!(d[0]["section"], ".rodata");
    assert_eq!(d[0]["kind"], "bytes");
    let off = (at - object_range(&bytes, ".rodata")) as u64;
    assert_eq!(d[0]["a"]["range"], serde_json::json!([off, off + 2]));
    assert_eq!(d[0]["b"]["range"], serde_json::json!([off, off + 2]));
    assert!(d[0]["a"]["context"].as_str().unwrap().contains("[he]llo"));
    assert!(d[0]["b"]["context"].as_str().unwrap().contains("[jE]llo"));
    assert_eq!(v["summary"]["root_causes"], 1);
    assert_eq!(v["summary"]["derived"], 0);
}

/// Two members, `pkg/a.py` (mtime differs between the sides) and `pkg/b.py` (content
/// differs), stored in the reverse order on side B.
fn member_pair(t: &Path) {
    for (side, mtime, b_py) in [
        ("a", "2020-01-01 00:00", "x = 2\n"),
        ("b", "2021-06-01 00:00", "x = 3\n"),
    ] {
        let d = t.join(side).join("pkg");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("a.py"), "print(1)\n").unwrap();
        std::fs::write(d.join("b.py"), b_py).unwrap();
        run(&d, "touch", &["-d", mtime, "a.py"], &[]);
        run(&d, "touch", &["-d", "2019-01-01 00:00", "b.py"], &[]);
    }
}

fn check_member_pair(
    v: &Value,
    container: &str,
    order_rule: &str,
    mtime_rule: &str,
    names: [&str; 2],
) {
    let [a_py, b_py] = names;
    let r = roots(v);
    let order = r
        .iter()
        .find(|x| x.0 == "member order")
        .unwrap_or_else(|| panic!("no order difference: {r:?}"));
    assert_eq!(order.3, order_rule);
    let mtime = diffs(v)
        .iter()
        .find(|d| d["field"] == "mtime" && d["derived_from"].is_null())
        .unwrap_or_else(|| panic!("no mtime difference in {container}: {v:#}"));
    assert_eq!(mtime["container"], serde_json::json!([a_py]));
    assert_eq!(mtime["cause"]["rule"], mtime_rule);
    assert!(
        mtime["a"]["value"]
            .as_str()
            .unwrap()
            .starts_with("1577836800 ")
    );
    let content = diffs(v)
        .iter()
        .find(|d| d["container"] == serde_json::json!([b_py]) && d["kind"] == "text")
        .expect("b.py text diff");
    assert_eq!(content["a"]["value"], "x = 2");
    assert_eq!(content["b"]["value"], "x = 3");
    // The index of each member follows from the reordering, never a root of its own.
    for d in diffs(v).iter().filter(|d| d["field"] == "index") {
        assert_eq!(d["derived_from"].as_u64(), Some(0), "{d:#}");
    }
    let rc: Vec<&str> = v["root_causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        rc,
        [
            "reordering",
            "member times",
            "content change (no known cause)"
        ],
        "{container}"
    );
}

#[test]
fn ar_pair_differs_in_order_mtime_and_one_member() {
    if !have("ar", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    member_pair(t.path());
    run(
        &t.path().join("a/pkg"),
        "ar",
        &["rcU", "../../a.a", "a.py", "b.py"],
        &[],
    );
    run(
        &t.path().join("b/pkg"),
        "ar",
        &["rcU", "../../b.a", "b.py", "a.py"],
        &[],
    );
    let (code, v) = diff_json(&t.path().join("a.a"), &t.path().join("b.a"));
    assert_eq!(code, 1);
    check_member_pair(
        &v,
        "ar",
        "member-order",
        "ar-member-mtime",
        ["a.py", "b.py"],
    );
    identical(&t.path().join("a.a"));
}

#[test]
fn tar_gz_pair_differs_in_order_mtime_and_one_member() {
    if !have("tar", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    member_pair(t.path());
    run(
        &t.path().join("a"),
        "tar",
        &["czf", "../a.tar.gz", "pkg/a.py", "pkg/b.py"],
        &[("GZIP", "-n")],
    );
    run(
        &t.path().join("b"),
        "tar",
        &["czf", "../b.tar.gz", "pkg/b.py", "pkg/a.py"],
        &[("GZIP", "-n")],
    );
    let (code, v) = diff_json(&t.path().join("a.tar.gz"), &t.path().join("b.tar.gz"));
    assert_eq!(code, 1);
    check_member_pair(
        &v,
        "tar",
        "tar-member-order",
        "tar-member-mtime",
        ["pkg/a.py", "pkg/b.py"],
    );
    identical(&t.path().join("a.tar.gz"));
}

/// A zip (or wheel) written by Python's zipfile with the given entry order and times.
fn write_zip(path: &Path, entries: &[(&str, &str, &str)]) {
    let script = "import sys, zipfile, json\n\
        spec = json.loads(sys.argv[2])\n\
        with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
        \x20   for name, date, data in spec:\n\
        \x20       y, mo, d = map(int, date.split('-'))\n\
        \x20       i = zipfile.ZipInfo(name, (y, mo, d, 0, 0, 0))\n\
        \x20       i.external_attr = 0o644 << 16\n\
        \x20       z.writestr(i, data, zipfile.ZIP_DEFLATED)\n";
    let spec = serde_json::to_string(entries).unwrap();
    run(
        Path::new("."),
        "python3",
        &["-c", script, path.to_str().unwrap(), &spec],
        &[],
    );
}

#[test]
fn zip_and_wheel_pairs_differ_in_order_mtime_and_one_member() {
    if !have("python3", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    for ext in ["zip", "whl"] {
        let record = "pkg/a.py,,\npkg/b.py,,\npkg-1.0.dist-info/RECORD,,\n";
        let a = t.path().join(format!("pkg-1.0-py3-none-any-a.{ext}"));
        let b = t.path().join(format!("pkg-1.0-py3-none-any-b.{ext}"));
        write_zip(
            &a,
            &[
                ("pkg/a.py", "2020-01-01", "print(1)\n"),
                ("pkg/b.py", "2019-01-01", "x = 2\n"),
                ("pkg-1.0.dist-info/RECORD", "2019-01-01", record),
            ],
        );
        write_zip(
            &b,
            &[
                ("pkg/b.py", "2019-01-01", "x = 3\n"),
                ("pkg/a.py", "2021-06-01", "print(1)\n"),
                ("pkg-1.0.dist-info/RECORD", "2019-01-01", record),
            ],
        );
        let (code, v) = diff_json(&a, &b);
        assert_eq!(code, 1);
        check_member_pair(
            &v,
            ext,
            "zip-entry-order",
            "zip-entry-mtime",
            ["pkg/a.py", "pkg/b.py"],
        );
        // The CRC follows from the content; the DOS time from the mtime.
        let crc = diffs(&v)
            .iter()
            .find(|d| d["field"] == "crc32")
            .expect("crc32");
        let content = diffs(&v).iter().find(|d| d["kind"] == "text").unwrap();
        assert_eq!(crc["derived_from"], content["id"]);
        let dos = diffs(&v)
            .iter()
            .find(|d| d["field"] == "dos-mtime")
            .expect("dos-mtime");
        let mtime = diffs(&v).iter().find(|d| d["field"] == "mtime").unwrap();
        assert_eq!(dos["derived_from"], mtime["id"]);
        identical(&a);
    }
}

#[test]
fn info_zip_extra_field_times_follow_from_the_entry_mtime() {
    if !have("zip", &["-h"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // Info-ZIP's zip writes the extended-timestamp (UT) and Unix uid/gid (ux) extra fields.
    // Sides a and b a day apart; a and c one second apart, within one DOS two-second step
    // (zip rounds odd seconds up).
    for (side, mtime) in [
        ("a", "2020-01-01 00:00:02"),
        ("b", "2020-01-02 00:00:00"),
        ("c", "2020-01-01 00:00:01"),
    ] {
        let d = t.path().join(side);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("x.txt"), "same\n").unwrap();
        run(&d, "touch", &["-d", mtime, "x.txt"], &[]);
        run(
            &d,
            "zip",
            &["-q", &format!("../{side}.zip"), "x.txt"],
            &[("TZ", "UTC")],
        );
    }
    let extra = |d: &&Value| {
        let f = d["field"].as_str().unwrap_or("");
        f.starts_with("ut-") || f.starts_with("ntfs-") || f.starts_with("unix-")
    };
    // A day apart: one root cause, the entry's mtime; the UT times and the DOS time derive
    // from it.
    let (code, v) = diff_json(&t.path().join("a.zip"), &t.path().join("b.zip"));
    assert_eq!(code, 1);
    let mtime = diffs(&v)
        .iter()
        .find(|d| d["field"] == "mtime")
        .expect("mtime");
    assert_eq!(mtime["cause"]["rule"], "zip-entry-mtime");
    let ut: Vec<&Value> = diffs(&v).iter().filter(extra).collect();
    assert!(
        ut.iter().any(|d| d["field"] == "ut-mtime"),
        "no UT mtime: {v:#}"
    );
    for d in ut {
        assert_eq!(d["derived_from"], mtime["id"], "{d:#}");
    }
    let rc = v["root_causes"].as_array().unwrap();
    assert_eq!(rc.len(), 1, "{:#}", v["root_causes"]);
    assert_eq!(rc[0]["rule"], "zip-entry-mtime");
    // One second apart: the DOS time is equal, the UT field is the root.
    let (code, v) = diff_json(&t.path().join("a.zip"), &t.path().join("c.zip"));
    assert_eq!(code, 1);
    assert!(!diffs(&v).iter().any(|d| d["field"] == "mtime"), "{v:#}");
    let rc = v["root_causes"].as_array().unwrap();
    assert_eq!(rc.len(), 1, "{:#}", v["root_causes"]);
    assert_eq!(rc[0]["rule"], "zip-extended-timestamp");
    let ut_mtime = diffs(&v)
        .iter()
        .find(|d| d["field"] == "ut-mtime")
        .expect("ut-mtime");
    assert!(
        ut_mtime["a"]["value"]
            .as_str()
            .unwrap()
            .starts_with("1577836802")
    );
    assert!(
        ut_mtime["b"]["value"]
            .as_str()
            .unwrap()
            .starts_with("1577836801")
    );
}

#[test]
fn zig_built_macho_and_pe_at_two_times_differ_in_the_date_string() {
    if !have("python3", &["-m", "ziglang", "version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // A build stamp, as build systems pass one: the time of the build, at two times.
    std::fs::write(t.path().join("t.c"), "#include <stdio.h>\nconst char *built(void) { return \"built \" BUILD_TIME; }\nint main(void) { puts(built()); return 0; }\n").unwrap();
    for (target, out) in [("x86_64-macos", "m"), ("x86_64-windows-gnu", "p.exe")] {
        for (side, stamp) in [("a", "2023-11-14T22:13:20Z"), ("b", "2024-03-09T16:00:00Z")] {
            let define = format!("-DBUILD_TIME=\"{stamp}\"");
            let dir = t.path().join(side);
            std::fs::create_dir_all(&dir).unwrap();
            let src = t.path().join("t.c");
            let args = [
                "-m",
                "ziglang",
                "cc",
                "-target",
                target,
                "-O1",
                &define,
                "-o",
                out,
                src.to_str().unwrap(),
            ];
            run(&dir, "python3", &args, &[]);
            // Two builds at two times: the debug map records the object's mtime in whole
            // seconds, so builds within one second would share it.
            if side == "a" {
                std::thread::sleep(std::time::Duration::from_millis(1100));
            }
        }
        let (a, b) = (t.path().join("a").join(out), t.path().join("b").join(out));
        identical(&a);
        let (code, v) = diff_json(&a, &b);
        assert_eq!(code, 1, "{target}");
        let section = if out == "m" {
            "__TEXT,__cstring"
        } else {
            ".rdata"
        };
        let rc = v["root_causes"].as_array().unwrap();
        let stamp = rc
            .iter()
            .find(|r| r["what"] == "a timestamp" && r["rule"] == "embedded-date")
            .unwrap_or_else(|| panic!("{target}: {:#}", v["root_causes"]));
        assert_eq!(
            stamp["places"],
            serde_json::json!([section]),
            "{target}: {:#}",
            v["root_causes"]
        );
        let d = diffs(&v).iter().find(|d| d["section"] == section).unwrap();
        assert!(
            d["a"]["context"]
                .as_str()
                .unwrap()
                .contains("built 202[3-11-14T22:13:2]0Z"),
            "{d:#}"
        );
        assert!(
            d["b"]["context"]
                .as_str()
                .unwrap()
                .contains("built 202[4-03-09T16:00:0]0Z"),
            "{d:#}"
        );
        let what: Vec<&str> = rc.iter().map(|r| r["what"].as_str().unwrap()).collect();
        if out == "m" {
            // LC_UUID is a hash of the content: derived. The debug map names the source
            // directory (N_SO), zig's cache directory in $HOME (N_OSO, keyed by the content)
            // and that object's mtime: real causes.
            let uuid = diffs(&v)
                .iter()
                .find(|d| d["section"] == "LC_UUID")
                .expect("LC_UUID");
            assert!(!uuid["derived_from"].is_null(), "{uuid:#}");
            assert_eq!(
                what,
                [
                    "a timestamp",
                    "build path",
                    "a home directory (user name)",
                    "a timestamp"
                ],
                "{:#}",
                v["root_causes"]
            );
            assert_eq!(rc[1]["places"], serde_json::json!(["N_SO 0"]));
            assert_eq!(rc[3]["rule"], "macho-oso-mtime");
        } else {
            // The link time stamps in the COFF header and the debug directory, the CodeView
            // GUID; the bytes of the CodeView record follow from them.
            assert_eq!(
                what,
                [
                    "a timestamp",
                    "a header time field",
                    "a header time field",
                    "a UUID"
                ],
                "{:#}",
                v["root_causes"]
            );
            let rules: Vec<&str> = rc.iter().map(|r| r["rule"].as_str().unwrap()).collect();
            assert_eq!(
                rules,
                [
                    "embedded-date",
                    "pe-timestamp",
                    "pe-directory-timestamp",
                    "pe-pdb-guid"
                ]
            );
            for d in diffs(&v).iter().filter(|d| d["section"] == ".buildid") {
                assert!(!d["derived_from"].is_null(), "{d:#}");
            }
        }
    }
}

#[test]
fn directories_pair_files_by_relative_path() {
    let t = tempfile::tempdir().unwrap();
    for (side, files) in [
        (
            "a",
            &[
                ("same.txt", "x\n"),
                ("changed.txt", "one\n"),
                ("only-a", "a"),
            ][..],
        ),
        (
            "b",
            &[
                ("same.txt", "x\n"),
                ("changed.txt", "two\n"),
                ("sub/only-b", "b"),
            ][..],
        ),
    ] {
        for (name, text) in files {
            let p = t.path().join(side).join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }
    let (code, v) = diff_json(&t.path().join("a"), &t.path().join("b"));
    assert_eq!(code, 1);
    let s = &v["summary"];
    assert_eq!(
        (
            s["files"].as_u64(),
            s["identical"].as_u64(),
            s["different"].as_u64(),
            s["removed"].as_u64(),
            s["added"].as_u64()
        ),
        (Some(4), Some(1), Some(1), Some(1), Some(1))
    );
    let kinds: Vec<(&str, &str)> = diffs(&v)
        .iter()
        .map(|d| (d["path"].as_str().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("changed.txt", "text"),
            ("only-a", "removed"),
            ("sub/only-b", "added")
        ]
    );
    identical(&t.path().join("a"));
}

#[test]
fn bad_input_is_a_finding_or_a_clear_error_never_a_panic() {
    if !have("gcc", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("m.c"), "int main(void){return 0;}\n").unwrap();
    run(t.path(), "gcc", &["-o", "app", "m.c"], &[]);
    let full = std::fs::read(t.path().join("app")).unwrap();
    std::fs::write(t.path().join("cut"), &full[..full.len() / 3]).unwrap();
    // A truncated side: differences (sections cut off), exit 1, no panic.
    let (code, v) = diff_json(&t.path().join("app"), &t.path().join("cut"));
    assert_eq!(code, 1, "{v:#}");
    assert!(!diffs(&v).is_empty());
    // Two formats.
    write_zip_plain(&t.path().join("x.zip"));
    let (code, v) = diff_json(&t.path().join("app"), &t.path().join("x.zip"));
    assert_eq!(code, 1);
    assert_eq!(diffs(&v)[0]["kind"], "format");
    assert_eq!(diffs(&v)[0]["summary"], "formats differ: ELF vs zip");
    // A missing side: exit 2 with the path named.
    let out = verify(&[
        "diff".as_ref(),
        t.path().join("app").as_os_str(),
        t.path().join("nope").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}

fn write_zip_plain(p: &Path) {
    // A stored zip with one entry, written byte by byte (no tool needed).
    let data = b"hi\n";
    let crc = crc32(data);
    let mut z = Vec::new();
    z.extend_from_slice(b"PK\x03\x04\x14\0\0\0\0\0\0\0\x21\0");
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&3u32.to_le_bytes());
    z.extend_from_slice(&3u32.to_le_bytes());
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(b"a");
    z.extend_from_slice(data);
    let cd = z.len() as u32;
    z.extend_from_slice(b"PK\x01\x02\x14\0\x14\0\0\0\0\0\0\0\x21\0");
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&3u32.to_le_bytes());
    z.extend_from_slice(&3u32.to_le_bytes());
    z.extend_from_slice(&1u16.to_le_bytes());
    z.extend_from_slice(&[0u8; 12]);
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(b"a");
    let cd_len = z.len() as u32 - cd;
    z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
    z.extend_from_slice(&cd_len.to_le_bytes());
    z.extend_from_slice(&cd.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(p, z).unwrap();
}

fn crc32(d: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in d {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn html_escapes_hostile_member_names_and_strings() {
    if !have("tar", &["--version"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // A member name cannot hold `/` as a file name here, so the hostile markup is `<script>`
    // and an attribute-breaking quote.
    let hostile = "<script>alert(1)\"'.txt";
    for (side, text) in [("a", "one <b>\n"), ("b", "two </td><script>x()</script>\n")] {
        let d = t.path().join(side);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(hostile), text).unwrap();
        run(&d, "tar", &["cf", "../x.tar", hostile], &[]);
        std::fs::rename(t.path().join("x.tar"), t.path().join(format!("{side}.tar"))).unwrap();
    }
    let out = t.path().join("d.html");
    let o = verify(&[
        "diff".as_ref(),
        "--format".as_ref(),
        "html".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
        t.path().join("a.tar").as_os_str(),
        t.path().join("b.tar").as_os_str(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(!page.contains("<script"), "unescaped markup in the page");
    assert!(!page.contains("</td><script"));
    assert!(page.contains("&lt;script&gt;alert(1)&quot;&#39;.txt"));
    assert!(page.contains("two &lt;/td&gt;&lt;script&gt;x()&lt;/script&gt;"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Summary first, then collapsible sections.
    let headline = page.find("class=\"headline\"").unwrap();
    assert!(headline < page.find("<details").unwrap());
}
