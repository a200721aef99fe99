//! Command-line analysis on records of builds the tests really ran: a `cargo build -v` log of
//! testdata/rust-clean, a `make` log, a `compile_commands.json` of real gcc runs, and the
//! static-binary check on a real static executable and on zig.

use det_common::command::{analyze_build_log, analyze_command, analyze_compile_commands};
use det_common::{Finding, Location};
use std::path::{Path, PathBuf};
use std::process::Command;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

fn copy_dir(src: &Path, dst: &Path) {
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let entry = entry.unwrap();
        let to = dst.join(entry.path().strip_prefix(src).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// (rule, section, fix) of each finding, leaving out the machine-dependent static-tool info.
fn summary(findings: &[Finding]) -> Vec<(&'static str, String, String)> {
    findings
        .iter()
        .filter(|f| f.rule.id != "shim-unreachable")
        .map(|f| {
            (
                f.rule.id,
                f.location.label().unwrap_or_default(),
                f.fix.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// `cargo build -v` of a copy of testdata/rust-clean; returns the log path and the project dir.
fn cargo_build_log(tmp: &Path, release: bool, rustflags: Option<&str>) -> (PathBuf, PathBuf) {
    let proj = tmp.join("rust-clean");
    copy_dir(&testdata("rust-clean"), &proj);
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("build").arg("-v").current_dir(&proj);
    if release {
        cmd.arg("--release");
    }
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_INCREMENTAL",
    ] {
        cmd.env_remove(var);
    }
    if let Some(flags) = rustflags {
        cmd.env("RUSTFLAGS", flags);
    }
    cmd.env("CARGO_TARGET_DIR", tmp.join("target"));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = tmp.join("build.log");
    std::fs::write(&log, &out.stderr).unwrap();
    (log, proj)
}

fn running_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    let n = text
        .lines()
        .position(|l| l.contains("Running `") && l.contains("--crate-name rust_clean"))
        .expect("cargo -v printed the rustc command");
    format!("line {}", n + 1)
}

#[test]
fn cargo_verbose_log_without_remap() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path().canonicalize().unwrap();
    let (log, proj) = cargo_build_log(&tmp, false, None);
    let line = running_line(&log);
    let incremental = tmp.join("target/debug/incremental");
    assert_eq!(
        summary(&analyze_build_log(&log).unwrap()),
        vec![
            (
                "cmd-rustc-incremental",
                line.clone(),
                format!(
                    "drop -C incremental={}: CARGO_INCREMENTAL=0 (or incremental = false in the profile)",
                    incremental.display()
                )
            ),
            (
                "cmd-rustc-no-remap",
                line,
                format!("--remap-path-prefix={}=.", proj.display())
            ),
        ]
    );
}

#[test]
fn cargo_verbose_log_with_remap_is_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path().canonicalize().unwrap();
    let proj = tmp.join("rust-clean");
    let flags = format!("--remap-path-prefix={}=.", proj.display());
    let (log, _) = cargo_build_log(&tmp, true, Some(&flags));
    assert!(std::fs::read_to_string(&log).unwrap().contains(&flags));
    assert_eq!(summary(&analyze_build_log(&log).unwrap()), vec![]);
}

fn write_c_source(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/hello.c"),
        "#include <assert.h>\nint check(int x) { assert(x > 0); return GREETING[0] + x; }\n",
    )
    .unwrap();
}

#[test]
fn make_log_with_and_without_prefix_map() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    write_c_source(&dir);
    std::fs::write(
        dir.join("Makefile"),
        "all:\n\tgcc -g -O1 -DGREETING='\"hi there\"' -c src/hello.c -o hello.o $(EXTRA)\n\tar rcs libhello.a hello.o\n",
    )
    .unwrap();
    let run_make = |extra: &str| {
        let out = Command::new("make")
            .arg("-C")
            .arg(&dir)
            .arg("-B")
            .arg(format!("EXTRA={extra}"))
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = dir.join("make.log");
        std::fs::write(&log, &out.stdout).unwrap();
        (log, std::fs::read(dir.join("hello.o")).unwrap())
    };
    let dir_str = dir.display().to_string();

    let (log, object) = run_make("");
    // The leak is real: the object names the build directory.
    assert!(contains(&object, &dir_str));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("make: Entering directory"), "{text}");
    assert_eq!(
        summary(&analyze_build_log(&log).unwrap()),
        vec![
            (
                "cmd-missing-prefix-map",
                "line 2".to_owned(),
                format!("-ffile-prefix-map={dir_str}=.")
            ),
            (
                "cmd-ar-default-mode",
                "line 3".to_owned(),
                "ar rcsD".to_owned()
            ),
        ]
    );

    // The fix det gave, applied: no finding, and the path is gone from the object.
    let (log, object) = run_make(&format!("-ffile-prefix-map={dir_str}=."));
    assert!(!contains(&object, &dir_str));
    assert_eq!(
        summary(&analyze_build_log(&log).unwrap()),
        vec![(
            "cmd-ar-default-mode",
            "line 3".to_owned(),
            "ar rcsD".to_owned()
        )]
    );
}

#[test]
fn compile_commands_from_real_gcc_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let build = dir.join("build");
    std::fs::create_dir_all(&build).unwrap();
    let src = dir.join("src/stamp.c");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::copy(testdata("rust-cc-sys/csrc/stamp.c"), &src).unwrap();
    let map = format!("-ffile-prefix-map={}=.", dir.display());
    // cmake style: absolute source, run in build/.
    let plain: Vec<String> = [
        "gcc",
        "-g",
        "-O2",
        "-c",
        src.to_str().unwrap(),
        "-o",
        "plain.o",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mapped_cmd = format!(
        "gcc -g -O2 \"-DLABEL=\\\"a b\\\"\" '{map}' -c {} -o mapped.o",
        src.display()
    );
    let mapped = det_common::command::shell_split(&mapped_cmd).unwrap();
    assert_eq!(mapped[3], "-DLABEL=\"a b\"");
    for argv in [&plain, &mapped] {
        let st = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&build)
            .status()
            .unwrap();
        assert!(st.success());
    }
    let dir_str = dir.display().to_string();
    assert!(contains(
        &std::fs::read(build.join("plain.o")).unwrap(),
        &dir_str
    ));
    assert!(!contains(
        &std::fs::read(build.join("mapped.o")).unwrap(),
        &dir_str
    ));

    let db = serde_json::json!([
        {"directory": build, "file": src, "arguments": plain},
        {"directory": build, "file": src, "command": mapped_cmd},
    ]);
    let db_path = dir.join("compile_commands.json");
    std::fs::write(&db_path, serde_json::to_string_pretty(&db).unwrap()).unwrap();
    let findings = analyze_compile_commands(&db_path).unwrap();
    assert_eq!(
        summary(&findings),
        vec![(
            "cmd-missing-prefix-map",
            "entry 0".to_owned(),
            format!("-ffile-prefix-map={dir_str}=.")
        )]
    );
    assert_eq!(findings[0].evidence, format!("gcc -g {}", src.display()));
    assert_eq!(findings[0].location.file, db_path.display().to_string());
}

#[test]
fn static_tools_are_out_of_the_shims_reach() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    std::fs::write(dir.join("tool.c"), "int main(void) { return 0; }\n").unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A statically linked program named like a compiler driver, and a dynamic one.
    for (name, flags) in [("cc", vec!["-static"]), ("gcc", vec![])] {
        let st = Command::new("gcc")
            .args(&flags)
            .arg(dir.join("tool.c"))
            .arg("-o")
            .arg(bin.join(name))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let loc = Location::file("<command line>");
    let argv = |tool: &str| -> Vec<String> {
        vec![
            bin.join(tool).display().to_string(),
            "-O2".into(),
            "-c".into(),
            "a.c".into(),
        ]
    };
    let f = analyze_command(&argv("cc"), Some(&dir), &loc);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].rule.id, "shim-unreachable");
    assert_eq!(
        f[0].evidence,
        format!("cc: statically linked ({})", bin.join("cc").display())
    );
    assert_eq!(analyze_command(&argv("gcc"), Some(&dir), &loc), vec![]);

    if let Some(zig) =
        det_common::toolchain::zig_for_test("static_tools_are_out_of_the_shims_reach")
    {
        let argv: Vec<String> = vec![
            zig.display().to_string(),
            "cc".into(),
            "-c".into(),
            "a.c".into(),
        ];
        let f = analyze_command(&argv, Some(&dir), &loc);
        assert_eq!(
            f.iter()
                .map(|f| (f.rule.id, f.evidence.clone()))
                .collect::<Vec<_>>(),
            vec![(
                "shim-unreachable",
                format!("zig cc: statically linked ({})", zig.display())
            )]
        );
    }
}

#[test]
fn overlong_log_line_is_skipped_not_held() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("huge.log");
    let mut text = "x".repeat(5 * 1024 * 1024);
    text.push_str("\ngcc -g -c a.c\n");
    std::fs::write(&log, text).unwrap();
    let f = analyze_build_log(&log).unwrap();
    assert_eq!(
        summary(&f),
        vec![
            (
                "parse-error",
                "line 1".to_owned(),
                "line longer than 4194304 bytes, skipped; det could not read this command"
                    .to_owned()
            ),
            (
                "cmd-missing-prefix-map",
                "line 2".to_owned(),
                "-ffile-prefix-map=$PWD=.".to_owned()
            ),
        ]
    );
}

/// `cargo build -vv` of a copy of testdata/rust-cc-sys with cc-rs printing its compiler runs.
fn cc_sys_build(proj: &Path, target: &Path, cflags: Option<&str>) -> Vec<Finding> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-vv"]).current_dir(proj);
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CFLAGS", "CC", "AR"] {
        cmd.env_remove(var);
    }
    cmd.env("CC_ENABLE_DEBUG_OUTPUT", "1")
        .env("CARGO_TARGET_DIR", target);
    if let Some(f) = cflags {
        cmd.env("CFLAGS", f);
    }
    // One file for both streams, in the order cargo wrote them (build-script output goes to
    // stdout, cargo's own lines to stderr).
    std::fs::create_dir_all(target).unwrap();
    let log = target.join("build.log");
    let file = std::fs::File::create(&log).unwrap();
    let status = cmd
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    analyze_build_log(&log).unwrap()
}

#[test]
fn cc_rs_compiles_inside_a_cargo_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let proj = dir.join("rust-cc-sys");
    copy_dir(&testdata("rust-cc-sys"), &proj);
    let target = dir.join("target");
    let proj_str = proj.display().to_string();
    let c_rules = |f: &[Finding]| -> Vec<(&'static str, String, String)> {
        f.iter()
            .filter(|f| !f.rule.id.starts_with("cmd-rustc") && f.rule.id != "shim-unreachable")
            .map(|f| {
                (
                    f.rule.id,
                    f.evidence.clone(),
                    f.fix.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    let archive = || {
        let found = walkdir::WalkDir::new(&target)
            .into_iter()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name() == "libstamp.a")
            .expect("cc-rs wrote libstamp.a");
        std::fs::read(found.path()).unwrap()
    };

    // The fixture's leak: cc-rs compiles with -g in the package directory, no prefix map.
    let f = cc_sys_build(&proj, &target, None);
    assert_eq!(
        c_rules(&f),
        vec![(
            "cmd-missing-prefix-map",
            "cc -g csrc/stamp.c".to_owned(),
            format!("-ffile-prefix-map={proj_str}=.")
        )]
    );
    assert!(contains(&archive(), &proj_str));

    // det's fix through CFLAGS (cc-rs passes it on): no C finding, no path in the archive.
    let f = cc_sys_build(
        &proj,
        &target,
        Some(&format!("-ffile-prefix-map={proj_str}=.")),
    );
    assert_eq!(c_rules(&f), vec![]);
    assert!(!contains(&archive(), &proj_str));
}
