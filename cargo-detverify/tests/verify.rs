//! `cargo det-verify` (the rebuild) on the testdata fixtures: real cargo, gcc and make
//! builds under real variations, the report read as det-verify/1 JSON. Each test gives
//! det-verify a TMPDIR of its own and checks that nothing is left in it.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod support;
use support::{copy_dir, det_build, testdata};

/// A fixture copied to a fresh directory, with a TMPDIR of its own beside it.
struct Project {
    _dir: tempfile::TempDir,
    path: PathBuf,
    tmp: PathBuf,
}

fn project(fixture: &str) -> Project {
    det_build();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(fixture);
    copy_dir(&testdata(fixture), &path);
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    Project {
        _dir: dir,
        path,
        tmp,
    }
}

impl Project {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cargo-det-verify"));
        c.args(args)
            .current_dir(&self.path)
            .env("TMPDIR", &self.tmp)
            .env_remove("SOURCE_DATE_EPOCH")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        self.assert_clean();
        out
    }

    /// The report of a run that must exit with `code`.
    fn report(&self, args: &[&str], code: i32) -> Value {
        let mut a = vec!["--format", "json"];
        a.extend(args);
        let out = self.run(&a);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// No temporary tree left behind.
    fn assert_clean(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}

/// The causes of a report whose places include `place`.
fn causes_in<'a>(r: &'a Value, place: &str) -> Vec<&'a Value> {
    r["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["places"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_str().unwrap().contains(place))
        })
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

/// Every culprit named in the report was varied in the run it explains.
fn culprits_were_varied(r: &Value) {
    let varied = strings(&r["varied"]);
    for c in r["differences"].as_array().unwrap() {
        for v in strings(&c["culprits"]) {
            assert!(varied.contains(&v), "{v} blamed but not varied: {c}");
        }
    }
}

#[test]
fn buildrs_time_raw_is_a_rodata_timestamp_caused_by_time_and_det_build_fixes_it() {
    let p = project("rust-buildrs-time");
    let r = p.report(&["--raw"], 1);
    assert_eq!(r["schema"], "det-verify/1");
    assert_eq!(r["reproducible"], false);
    assert_eq!(r["mode"], "raw");
    assert_eq!(r["inside_build"], false);
    let rodata = causes_in(&r, ".rodata");
    assert_eq!(rodata.len(), 1, "{r:#}");
    let c = rodata[0];
    assert_eq!(c["rule"], "embedded-date");
    assert_eq!(strings(&c["culprits"]), ["time"]);
    assert!(
        strings(&c["evidence"])
            .iter()
            .any(|e| e.contains("read the clock") && e.contains("build-script-build")),
        "{c:#}"
    );
    assert!(
        strings(&c["source"])
            .iter()
            .any(|s| s.starts_with("build.rs:5:") && s.contains("cargo-build-script-clock")),
        "{c:#}"
    );
    // The debug info's paths are the other cause, blamed on the path.
    let debug = causes_in(&r, ".debug_str");
    assert_eq!(strings(&debug[0]["culprits"]), ["build-path"]);
    culprits_were_varied(&r);
    // Group testing: the rerun, log2(9) halvings, a confirmation.
    let extra = r["extra_builds"].as_u64().unwrap();
    assert!((2..=6).contains(&extra), "{extra} extra builds");
    let roles: Vec<&str> = r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["role"].as_str().unwrap())
        .collect();
    assert_eq!(&roles[..3], ["control", "varied", "rerun"]);
    assert_eq!(roles.len() as u64, 2 + extra);

    let r = p.report(&[], 0);
    assert_eq!(r["reproducible"], true);
    assert_eq!(r["mode"], "det-build");
    assert_eq!(r["runs"].as_array().unwrap().len(), 2);
    assert_eq!(r["artifacts"][0]["path"], "debug/rust-buildrs-time");
    assert_eq!(r["artifacts"][0]["status"], "reproducible");
}

#[test]
fn manifest_dir_raw_is_build_path() {
    let p = project("rust-manifest-dir");
    let r = p.report(&["--raw"], 1);
    let rodata = causes_in(&r, ".rodata");
    assert!(!rodata.is_empty(), "{r:#}");
    for c in &rodata {
        assert_eq!(strings(&c["culprits"]), ["build-path"], "{r:#}");
    }
    assert!(
        strings(&rodata[0]["source"])
            .iter()
            .any(|s| s.contains("cargo-build-script-path")),
        "{r:#}"
    );
    culprits_were_varied(&r);
    // The canonical root gives the build script the same CARGO_MANIFEST_DIR everywhere.
    let r = p.report(&["--vary=-all,+build-path,+environment"], 0);
    assert_eq!(r["reproducible"], true);
}

#[test]
fn proc_macro_hashmap_raw_is_inside_the_build_and_blames_no_variation() {
    let p = project("rust-proc-macro-hashmap");
    // Only the host varies: nothing the build reads, so the difference it still shows
    // must be put inside the build, and the host never blamed.
    let r = p.report(&["--raw", "--vary=-all,+host"], 1);
    assert_eq!(r["inside_build"], true);
    assert_eq!(r["extra_builds"], 1, "the rerun alone: {r:#}");
    for c in r["differences"].as_array().unwrap() {
        assert_eq!(c["inside_build"], true, "{c:#}");
        assert!(strings(&c["culprits"]).is_empty(), "{c:#}");
    }
    let rodata = causes_in(&r, ".rodata");
    assert!(
        strings(&rodata[0]["source"])
            .iter()
            .any(|s| s.contains("cargo-hashmap-codegen")),
        "{r:#}"
    );
    // det-build seeds the random stream: reproducible.
    let r = p.report(&["--vary=-all,+host,+file-order"], 0);
    assert_eq!(r["reproducible"], true);
}

#[test]
fn c_builds_through_make_name_path_time_and_order() {
    let p = project("c-paths");
    let r = p.report(&["--raw", "--artifacts", "paths", "--", "make"], 1);
    let rodata = causes_in(&r, ".rodata");
    assert_eq!(strings(&rodata[0]["culprits"]), ["build-path"], "{r:#}");
    culprits_were_varied(&r);
    let r = p.report(&["--artifacts", "paths", "--", "make"], 0);
    assert_eq!(r["reproducible"], true);

    let p = project("c-date-time");
    let r = p.report(&["--raw", "--artifacts", "date-time", "--", "make"], 1);
    let rodata = causes_in(&r, ".rodata");
    assert_eq!(rodata[0]["rule"], "date-time-macro");
    assert_eq!(strings(&rodata[0]["culprits"]), ["time"], "{r:#}");
    assert!(
        strings(&rodata[0]["evidence"])
            .iter()
            .any(|e| e.contains("cc1")),
        "{r:#}"
    );
    // __TIME__ is local time: with the clock pinned, the time zone alone still shows.
    let r = p.report(
        &[
            "--raw",
            "--vary=-time",
            "--artifacts",
            "date-time",
            "--",
            "make",
        ],
        1,
    );
    assert_eq!(strings(&r["differences"][0]["culprits"]), ["timezone"]);
    let r = p.report(
        &[
            "--raw",
            "--vary=-time,-timezone",
            "--artifacts",
            "date-time",
            "--",
            "make",
        ],
        0,
    );
    assert_eq!(r["reproducible"], true);

    let p = project("c-file-order");
    let r = p.report(&["--raw", "--artifacts", "prog", "--", "make"], 1);
    let causes = r["differences"].as_array().unwrap();
    assert!(!causes.is_empty());
    for c in causes {
        assert_eq!(strings(&c["culprits"]), ["file-order"], "{r:#}");
    }
    assert!(
        strings(&causes[0]["evidence"])
            .iter()
            .any(|e| e.contains("listed directories") && e.contains("find")),
        "{r:#}"
    );
    // det-build's shim sorts every listing; three runs (reversed, then shuffled).
    let r = p.report(&["--runs", "3", "--artifacts", "prog", "--", "make"], 0);
    assert_eq!(r["reproducible"], true);
    assert_eq!(r["runs"].as_array().unwrap().len(), 3);
}

#[test]
fn usage_errors_and_failed_builds_exit_2_and_leave_nothing() {
    let p = project("c-paths");
    for (args, says) in [
        (&["--vary=+tme"][..], "unknown variation `tme`"),
        (&["--vary=-all,+time,-time"][..], "leaves no variation"),
        (&["--artifacts", "paths"][..], "needs the build command"),
        (&["--runs", "1"][..], "at least 2 runs"),
    ] {
        let out = p.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = p.run(&[
        "--raw",
        "--artifacts",
        "paths",
        "--",
        "sh",
        "-c",
        "echo the-compiler-said-no >&2; exit 3",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("run run-0") && err.contains("the-compiler-said-no"),
        "{err}"
    );
}

#[test]
fn html_report_is_one_escaped_page_with_the_verdict_first() {
    let p = project("c-paths");
    let out = p.run(&[
        "--raw",
        "--no-explain",
        "--format",
        "html",
        "--artifacts",
        "a*",
        "--",
        "sh",
        "-c",
        "make && cp paths 'a<script>x'",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Content-Security-Policy"));
    assert!(!html.contains("<script"), "unescaped name");
    assert!(html.contains("a&lt;script&gt;x"));
    let verdict = html.find("Not reproducible").unwrap();
    assert!(verdict < html.find("Causes").unwrap());
    assert!(html.contains("<details") && html.contains("side a") && html.contains("side b"));
}

#[test]
fn one_verification_writes_each_output_in_the_format_its_name_gives() {
    let p = project("c-paths");
    let out_dir = tempfile::tempdir().unwrap();
    let file = |n: &str| out_dir.path().join(n);
    let arg = |n: &str| file(n).to_str().unwrap().to_string();
    let (json, html, txt, other) = (arg("r.json"), arg("r.HTML"), arg("r.txt"), arg("r.out"));
    let out = p.run(&[
        "--raw",
        "--no-explain",
        "--format",
        "json",
        "-o",
        &json,
        "-o",
        &html,
        "-o",
        &txt,
        "-o",
        &other,
        "--artifacts",
        "paths",
        "--",
        "make",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing on standard output when every report goes to a file.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let read = |n: &str| std::fs::read_to_string(file(n)).unwrap();
    let r: Value = serde_json::from_str(&read("r.json")).unwrap();
    assert_eq!(r["schema"], "det-verify/1");
    assert_eq!(r["reproducible"], false);
    assert!(read("r.HTML").starts_with("<!DOCTYPE html>"));
    let text = read("r.txt");
    assert!(
        text.contains("not reproducible") || text.contains("Not reproducible"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour in a file");
    // A name with no known ending takes --format; the same report as the .json file.
    assert_eq!(read("r.out"), read("r.json"));
}

#[test]
fn ctrl_c_during_a_run_leaves_no_temporary_tree() {
    let p = project("c-paths");
    // A build that takes a while: the interrupt arrives while it runs.
    let child = p
        .command(&[
            "--raw",
            "--artifacts",
            "paths",
            "--",
            "sh",
            "-c",
            "make && sleep 30",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the control's tree to exist.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let found = std::fs::read_dir(&p.tmp)
            .unwrap()
            .flatten()
            .any(|e| e.path().join("c").join("c-paths").join("paths").exists());
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the build never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: sending SIGINT to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    p.assert_clean();
}

/// Two verifications of the same tree give the same report, byte for byte: runs named by
/// index, paths relative to the verification's directory, which is itself not random (the
/// builds compile it into the artifacts the diff shows).
#[test]
fn reports_are_the_same_bytes_on_every_invocation() {
    let p = project("rust-buildrs-time");
    let twice = |args: &[&str], code: i32| {
        let docs: Vec<Vec<u8>> = (0..2)
            .map(|_| {
                let out = p.run(args);
                assert_eq!(
                    out.status.code(),
                    Some(code),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            })
            .collect();
        let doc = String::from_utf8(docs[0].clone()).unwrap();
        assert!(docs[0] == docs[1], "{args:?}: two reports differ:\n{doc}");
        // The temporary directory is never named (the test's TMPDIR is private).
        assert!(!doc.contains(p.tmp.to_str().unwrap()), "{args:?}: {doc}");
        assert!(!doc.contains("det-verify-0"), "{args:?}: {doc}");
        doc
    };
    let vary = "--vary=-all,+build-path,+time";
    let json = twice(&["--raw", vary, "--format", "json"], 1);
    let r: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["reproducible"], false);
    // The debug info holds the build paths: shown under the placeholder.
    assert!(json.contains("<verify-dir>/c/rust-buildrs-time"), "{json}");
    let ids: Vec<&str> = r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(&ids[..3], ["run-0", "run-1", "rerun"]);
    assert_eq!(r["runs"][0]["path"], "c/rust-buildrs-time");
    assert_eq!(
        r["runs"][1]["path"],
        "v1-varied-path/deeper/rust-buildrs-time"
    );
    assert_eq!(r["diff"]["a"], "run-0");
    assert_eq!(r["diff"]["b"], "run-1");
    let html = twice(&["--raw", vary, "--format", "html"], 1);
    assert!(html.contains("&lt;verify-dir&gt;/c/rust-buildrs-time"));
    let text = twice(&["--raw", vary, "--no-explain"], 1);
    assert!(text.starts_with("not reproducible"), "{text}");
    // And a reproducible one.
    let json = twice(&["--format", "json"], 0);
    let r: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["reproducible"], true);
    twice(&["--format", "html"], 0);
}

/// --keep keeps every run's tree (the rerun and the search builds at the control's path
/// too) and prints where; without it nothing is left.
#[test]
fn keep_keeps_every_runs_tree_and_prints_it() {
    let p = project("c-paths");
    let args = [
        "--raw",
        "--vary=-all,+build-path,+umask",
        "--format",
        "json",
        "--artifacts",
        "paths",
        "--",
        "make",
    ];
    let mut with_keep = vec!["--keep"];
    with_keep.extend(args);
    let out = p.command(&with_keep).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = r["runs"].as_array().unwrap();
    assert!(runs.len() >= 4, "control, run, rerun, a search: {r:#}");
    let mut kept = std::collections::BTreeSet::new();
    for run in runs {
        let id = run["id"].as_str().unwrap();
        let dir = PathBuf::from(run["kept"].as_str().unwrap());
        assert!(dir.starts_with(&p.tmp), "{}", dir.display());
        // The sources as built (the binary beside them), the artifacts, the build log.
        for f in [
            "tree/Makefile",
            "tree/main.c",
            "tree/paths",
            "out/paths",
            "build.log",
        ] {
            assert!(
                dir.join(f).is_file(),
                "{id}: no {f} in {}: {:?}\n{err}",
                dir.display(),
                std::fs::read_dir(&dir)
                    .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            );
        }
        assert!(
            err.lines()
                .any(|l| l.contains("Kept") && l.contains(id) && l.contains(dir.to_str().unwrap())),
            "{id} not printed:\n{err}"
        );
        // Each run built at its own path (not the kept one).
        let built = std::fs::read(dir.join("tree/paths")).unwrap();
        let at = format!("/{}/main.c", run["path"].as_str().unwrap());
        assert!(
            built.windows(at.len()).any(|w| w == at.as_bytes()),
            "{id} was not built at {}",
            run["path"]
        );
        assert!(kept.insert(dir), "two runs kept in one place");
    }
    let at_control = runs.iter().filter(|x| x["path"] == "c/c-paths").count();
    assert!(at_control >= 2, "{r:#}");
    // With --keep the report names the real directories.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("<verify-dir>"));
    std::fs::remove_dir_all(p.tmp.join("det-verify-0")).unwrap();
    p.assert_clean();

    // Without --keep: nothing is left (report checks), and nothing said kept.
    let r = p.report(&[args[0], args[1], "--artifacts", "paths", "--", "make"], 1);
    assert!(
        r["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["kept"].is_null())
    );
}

/// A generator run during the build orders its output by its functions' addresses: with
/// `--vary=+aslr` the culprit is aslr; by default (the runs pinned to no randomization) it
/// is reproducible, and aslr never blamed.
#[test]
fn aslr_is_the_culprit_only_when_varied() {
    let p = project("c-aslr");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/randomize_va_space").unwrap();
    let r = p.report(
        &["--raw", "--vary=+aslr", "--artifacts", "prog", "--", "make"],
        if kernel.trim() == "0" { 0 } else { 1 },
    );
    if kernel.trim() == "0" {
        // A kernel that randomizes nothing: said, not hidden.
        assert!(
            strings(&r["notes"])
                .iter()
                .any(|n| n.contains("randomize_va_space = 0")),
            "{r:#}"
        );
        return;
    }
    assert!(
        strings(&r["notes"]).is_empty(),
        "ASLR cannot be pinned here: {r:#}"
    );
    assert_eq!(r["inside_build"], false, "the control is not pinned: {r:#}");
    let rodata = causes_in(&r, ".rodata");
    assert!(!rodata.is_empty(), "{r:#}");
    for c in r["differences"].as_array().unwrap() {
        assert_eq!(strings(&c["culprits"]), ["aslr"], "{r:#}");
    }
    culprits_were_varied(&r);
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs[0]["values"]["aslr"], "off");
    assert_eq!(runs[1]["values"]["aslr"], "randomized");

    // The default set leaves ASLR off in every run: the addresses agree.
    let r = p.report(&["--raw", "--artifacts", "prog", "--", "make"], 0);
    assert_eq!(r["reproducible"], true, "{r:#}");
    assert!(!strings(&r["varied"]).contains(&"aslr"));
}

/// The locale variation gives the build a locale it really has (one the machine lists, or
/// one det-verify builds with localedef): a generator that formats in the builder's locale
/// makes another program, and the culprit is the locale.
#[test]
fn locale_variation_reaches_the_programs_of_the_build() {
    let p = project("c-locale");
    let r = p.report(
        &[
            "--raw",
            "--vary=-all,+locale",
            "--artifacts",
            "prog",
            "--",
            "make",
        ],
        1,
    );
    let notes = strings(&r["notes"]);
    if notes
        .iter()
        .any(|n| n.contains("changed the variables only"))
    {
        // No locale to be had: said in the report; a machine set up for the tests has one.
        assert!(
            std::env::var_os("DET_REQUIRE_TOOLS").is_none(),
            "no locale but C on this machine and localedef failed (install Debian's \
             `locales` package: cargo xtask setup): {notes:?}"
        );
        return;
    }
    assert!(notes.is_empty(), "{notes:?}");
    for c in r["differences"].as_array().unwrap() {
        assert_eq!(strings(&c["culprits"]), ["locale"], "{r:#}");
    }
    assert!(!causes_in(&r, ".rodata").is_empty(), "{r:#}");
    let varied = r["runs"][1]["values"]["locale"].as_str().unwrap();
    assert!(!varied.contains("LC_ALL=C"), "{varied}");
    // What the program in the build printed: "1234567 2.5 Sunday" (C) in the control,
    // another grouping or day name in the varied run.
    let hex = |s: &str| {
        s.bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rodata = r["diff"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["section"] == ".rodata" && d["kind"] == "bytes")
        .unwrap_or_else(|| panic!("no .rodata bytes: {r:#}"));
    let (a, b) = (
        rodata["a"]["context"].as_str().unwrap(),
        rodata["b"]["context"].as_str().unwrap(),
    );
    assert!(a.contains(&hex("234567 2.5 Sunday")), "{a}");
    assert!(!b.contains(&hex("234567 2.5 Sunday")), "{b}");
}

/// A verification killed outright (SIGKILL: no cleanup) leaves its directory; the next one
/// takes it back, so one kill does not move every later verification's paths (and reports).
/// A kept directory and one that is not a verification's are left alone.
#[test]
fn a_killed_verifications_directory_is_taken_back_a_kept_one_is_not() {
    let p = project("c-paths");
    let mut child = p
        .command(&[
            "--raw",
            "--artifacts",
            "paths",
            "--",
            "sh",
            "-c",
            "make && sleep 5",
        ])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let left = p.tmp.join("det-verify-0");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !left.join("c/c-paths/paths").exists() {
        assert!(std::time::Instant::now() < deadline, "the build never ran");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(left.is_dir());

    let kept_in = |r: &Value| {
        PathBuf::from(r["runs"][0]["kept"].as_str().unwrap())
            .strip_prefix(&p.tmp)
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned()
    };
    let keep = [
        "--format",
        "json",
        "--keep",
        "--raw",
        "--no-explain",
        "--vary=-all,+umask",
        "--artifacts",
        "paths",
        "--",
        "make",
    ];
    let run = |args: &[&str]| {
        let out = p.command(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // Taken back, and the stale copy removed.
    assert_eq!(kept_in(&run(&keep)), "det-verify-0");
    // Kept: left alone.
    assert_eq!(kept_in(&run(&keep)), "det-verify-1");
    // Not a verification's (no lock): left alone.
    std::fs::create_dir(p.tmp.join("det-verify-2")).unwrap();
    assert_eq!(kept_in(&run(&keep)), "det-verify-3");
    let mut names: Vec<String> = std::fs::read_dir(&p.tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "det-verify-0",
            "det-verify-1",
            "det-verify-2",
            "det-verify-3"
        ]
    );
    for n in names {
        std::fs::remove_dir_all(p.tmp.join(n)).unwrap();
    }
    p.assert_clean();
}

/// A workspace whose package depends on a path package beside it (outside the workspace):
/// the copies hold both (the full cargo metadata decides when `--no-deps` shows a path
/// dependency outside the members), and the build in the copy finds it.
#[test]
fn a_path_dependency_outside_the_workspace_is_copied_too() {
    det_build();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("tree/app");
    let lib = dir.path().join("tree/lib");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::create_dir_all(lib.join("src")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [workspace]\n\n[dependencies]\nlib = { path = \"../lib\" }\n",
    )
    .unwrap();
    std::fs::write(
        app.join("src/main.rs"),
        "fn main() { println!(\"{}\", lib::answer()); }\n",
    )
    .unwrap();
    std::fs::write(
        lib.join("Cargo.toml"),
        "[package]\nname = \"lib\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(lib.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n").unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(&cargo)
        .args(["generate-lockfile", "--offline"])
        .current_dir(&app)
        .status()
        .unwrap();
    assert!(st.success());
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-det-verify"))
        .args([
            "--raw",
            "--no-explain",
            "--vary=-all,+build-path",
            "--format",
            "json",
            "--",
            "--release",
        ])
        .current_dir(&app)
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    // The copies are of the directory holding both packages.
    assert!(
        err.contains(&format!("Verifying {}", dir.path().join("tree").display())),
        "{err}"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["runs"][0]["path"], "c/tree");
    assert!(
        strings(
            &r["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["path"].clone())
                .collect()
        )
        .contains(&"release/app"),
        "{r:#}"
    );
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}
