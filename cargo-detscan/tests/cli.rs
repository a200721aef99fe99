//! The real cargo-det-scan binary on real artifacts built by the tests: exit codes, output
//! formats, suppressions, errors.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_cargo-det-scan");
const SDE: &str = "1704067200";

const C_SRC: &str = r#"#include <stdio.h>
#include <assert.h>
int main(int argc, char **argv) {
    assert(argc > 0);
    printf("built %s %s from %s\n", __DATE__, __TIME__, __FILE__);
    return 0;
}
"#;

fn det_scan(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1")
        .output()
        .expect("cargo-det-scan runs")
}

fn gcc(dir: &Path, out: &str, extra: &[&str], sde: bool) {
    std::fs::write(dir.join("main.c"), C_SRC).unwrap();
    let mut cmd = Command::new("gcc");
    cmd.args(extra)
        .args(["-O1", "-o", out, "main.c"])
        .current_dir(dir);
    if sde {
        cmd.env("SOURCE_DATE_EPOCH", SDE);
    } else {
        cmd.env_remove("SOURCE_DATE_EPOCH");
    }
    let st = cmd.status().expect("gcc runs");
    assert!(st.success());
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn rules_in(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn leaky_binary_fails_with_exact_findings_and_clean_one_passes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("leaky")).unwrap();
    std::fs::create_dir(d.join("clean")).unwrap();
    gcc(&d.join("leaky"), "app", &["-g"], false);
    let map = format!("-ffile-prefix-map={}=.", d.join("clean").display());
    gcc(
        &d.join("clean"),
        "app",
        &["-g", &map, "-Wno-builtin-macro-redefined"],
        true,
    );

    let out = det_scan(d, &["--format", "json", "leaky/app"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["schema"], "det-scan/1");
    let rules = rules_in(&v);
    assert!(rules.iter().any(|r| r == "date-time-macro"), "{rules:?}");
    assert!(rules.iter().any(|r| r == "debug-comp-dir"), "{rules:?}");
    let comp_dir = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "debug-comp-dir")
        .unwrap();
    assert_eq!(comp_dir["file"], "leaky/app");
    assert_eq!(comp_dir["severity"], "high");
    assert!(
        comp_dir["evidence"]
            .as_str()
            .unwrap()
            .contains(&d.join("leaky").display().to_string())
    );
    assert!(comp_dir["fix"].as_str().unwrap().contains("prefix-map"));

    let out = det_scan(
        d,
        &["--format", "json", "--source-date-epoch", SDE, "clean/app"],
    );
    let v = json(&out);
    let medium_or_above: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !matches!(f["severity"].as_str(), Some("info" | "low")))
        .collect();
    assert!(medium_or_above.is_empty(), "{medium_or_above:#?}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn ignore_flag_and_cargo_metadata_suppress_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("leaky")).unwrap();
    gcc(&d.join("leaky"), "app", &["-g"], false);
    let out = det_scan(
        d,
        &[
            "--format",
            "json",
            "--ignore",
            "debug-comp-dir,date-time-macro",
            "--ignore",
            "debug-path",
            "leaky",
        ],
    );
    let rules = rules_in(&json(&out));
    assert!(
        !rules
            .iter()
            .any(|r| r == "debug-comp-dir" || r == "date-time-macro"),
        "{rules:?}"
    );

    std::fs::write(
        d.join("Cargo.toml"),
        "[workspace]\n[workspace.metadata.det.scan]\nignore = [\"date-time-macro\"]\n",
    )
    .unwrap();
    let rules = rules_in(&json(&det_scan(d, &["--format", "json", "leaky"])));
    assert!(!rules.iter().any(|r| r == "date-time-macro"), "{rules:?}");
    assert!(rules.iter().any(|r| r == "debug-comp-dir"), "{rules:?}");

    let out = det_scan(d, &["--ignore", "no-such-rule", "leaky"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-rule"));
}

#[test]
fn missing_file_is_exit_2_after_scanning_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gcc(d, "app", &["-g"], false);
    let out = det_scan(d, &["--format", "json", "app", "does-not-exist"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert!(
        !v["findings"].as_array().unwrap().is_empty(),
        "app was still scanned"
    );
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["file"]
            .as_str()
            .unwrap()
            .contains("does-not-exist"),
        "{errors:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist"));
}

#[test]
fn truncated_binary_is_a_parse_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gcc(d, "app", &["-g"], false);
    let bytes = std::fs::read(d.join("app")).unwrap();
    for (name, len) in [("t100", 100), ("thalf", bytes.len() / 2), ("t64", 64)] {
        std::fs::write(d.join(name), &bytes[..len]).unwrap();
    }
    for name in ["t100", "thalf", "t64"] {
        let out = det_scan(d, &["--format", "json", name]);
        // What could be read is reported; the scan is incomplete, so the status is 2.
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not read completely"),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rules = rules_in(&json(&out));
        assert!(
            rules.iter().any(|r| r == "parse-error"),
            "{name}: {rules:?}"
        );
    }
}

#[test]
fn output_file_is_written_atomically_and_formats_parse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gcc(d, "app", &["-g"], false);
    std::fs::create_dir(d.join("out")).unwrap();
    for (format, file) in [
        ("json", "r.json"),
        ("sarif", "r.sarif"),
        ("html", "r.html"),
        ("text", "r.txt"),
    ] {
        let target = format!("out/{file}");
        let out = det_scan(d, &["--format", format, "-o", &target, "app"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{format}: report went to stdout too");
        let body = std::fs::read_to_string(d.join(&target)).unwrap();
        match format {
            "json" => assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["schema"],
                "det-scan/1"
            ),
            "sarif" => assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["version"],
                "2.1.0"
            ),
            "html" => assert!(body.contains("<html") && body.contains("debug-comp-dir")),
            _ => assert!(body.contains("debug-comp-dir")),
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(d.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["r.html", "r.json", "r.sarif", "r.txt"],
        "no temporary files left behind"
    );
}

#[test]
fn same_input_gives_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    gcc(d, "app", &["-g"], false);
    Command::new("gzip")
        .args(["-k", "main.c"])
        .current_dir(d)
        .status()
        .unwrap();
    let a = det_scan(d, &["--format", "json", "-j", "1", "."]);
    let b = det_scan(d, &["--format", "json", "-j", "4", "."]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn command_line_analysis_names_the_flags_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let out = det_scan(
        dir.path(),
        &[
            "--format",
            "json",
            "--command",
            "--",
            "gcc",
            "-g",
            "-march=native",
            "-c",
            "x.c",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let rules = rules_in(&v);
    assert!(
        rules.iter().any(|r| r == "cmd-missing-prefix-map"),
        "{rules:?}"
    );
    assert!(rules.iter().any(|r| r == "cmd-native-cpu"), "{rules:?}");
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    let fix = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "cmd-missing-prefix-map")
        .unwrap()["fix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        fix.contains(&format!("-ffile-prefix-map={}=.", cwd.display())),
        "{fix}"
    );

    let clean = det_scan(
        dir.path(),
        &[
            "--command",
            "--",
            "gcc",
            "-g",
            &format!("-ffile-prefix-map={}=.", cwd.display()),
            "-c",
            "x.c",
        ],
    );
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );

    let usage = det_scan(dir.path(), &["--command"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn broken_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    gcc(dir.path(), "app", &["-g"], false);
    let mut child = Command::new(BIN)
        .args(["--format", "json", "app"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{:?}", out.status);
}

#[test]
fn runs_as_cargo_subcommand_and_directly() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    assert!(
        text.contains("cargo det-scan") && text.contains("--fail-on"),
        "{text}"
    );
    let via_cargo = Command::new(BIN)
        .args(["det-scan", "--list-rules"])
        .output()
        .unwrap();
    let direct = Command::new(BIN).arg("--list-rules").output().unwrap();
    assert!(via_cargo.status.success());
    assert_eq!(via_cargo.stdout, direct.stdout);
    let listed = String::from_utf8_lossy(&direct.stdout);
    assert_eq!(listed.lines().count(), det_common::rules::RULES.len());
}

/// Regression: `-o /dev/null` once renamed a regular file over the device node.
#[cfg(unix)]
#[test]
fn output_to_a_device_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    gcc(dir.path(), "app", &["-g"], false);
    let out = det_scan(dir.path(), &["--format", "json", "-o", "/dev/null", "app"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let out = det_scan(dir.path(), &["/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

/// Issue 14.9: a symlink named on the command line is followed; only symlinks met during
/// the walk need -L.
#[cfg(unix)]
#[test]
fn symlink_named_on_the_command_line_is_followed() {
    let d = tempfile::tempdir().unwrap();
    gcc(d.path(), "app", &[], false);
    std::os::unix::fs::symlink(d.path().join("app"), d.path().join("link")).unwrap();
    let out = det_scan(d.path(), &["--format", "json", "link"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["summary"]["files_scanned"], 1);
    assert!(rules_in(&v).contains(&"date-time-macro".to_string()), "{v}");
    // Met during the walk, it is skipped unless -L.
    std::fs::create_dir(d.path().join("dir")).unwrap();
    std::os::unix::fs::symlink(d.path().join("app"), d.path().join("dir/link")).unwrap();
    let v = json(&det_scan(d.path(), &["--format", "json", "dir"]));
    assert_eq!(v["summary"]["files_scanned"], 0);
    let v = json(&det_scan(d.path(), &["--format", "json", "-L", "dir"]));
    assert_eq!(v["summary"]["files_scanned"], 1);
}

/// Issue 14.12: each thing said once; no temporary file name for an unwritable -o.
#[test]
fn errors_say_each_thing_once() {
    let d = tempfile::tempdir().unwrap();
    let out = det_scan(d.path(), &["--build-log", "/nonexistent.log"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("/nonexistent.log: /nonexistent.log")
                && text.matches("(os error 2)").count() <= 1,
            "{text}"
        );
    }
    assert!(
        stderr.contains("/nonexistent.log: No such file"),
        "{stderr}"
    );

    let out = det_scan(d.path(), &["-o", "/proc/det-report.json", "."]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(".det-") && !stderr.contains(".tmp"),
        "{stderr}"
    );
    assert!(stderr.contains("/proc/det-report.json"), "{stderr}");
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");

    // A repeated option is not an error that prints a usage line with it as required.
    let out = det_scan(d.path(), &["--format", "json", "--format", "text", "."]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A usage error does not print a usage line that makes the options given look required.
    let out = det_scan(d.path(), &["--format", "json", "--bogus", "."]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Usage: cargo det-scan [OPTIONS] [PATH]..."),
        "{stderr}"
    );
    assert!(!stderr.contains("--format <FORMAT>"), "{stderr}");
}

/// Issue 14.5: the text view shows low and above; JSON keeps the info findings.
#[test]
fn text_hides_info_findings_json_keeps_them() {
    let d = tempfile::tempdir().unwrap();
    gcc(d.path(), "app", &["-ffile-prefix-map=/=/"], true);
    let text = det_scan(d.path(), &["app"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(!text.contains("elf-build-id"), "{text}");
    assert!(text.contains("below low not shown"), "{text}");
    let v = json(&det_scan(d.path(), &["--format", "json", "app"]));
    assert!(rules_in(&v).contains(&"elf-build-id".to_string()), "{v}");
    let all = det_scan(d.path(), &["--min-severity", "info", "app"]);
    assert!(String::from_utf8_lossy(&all.stdout).contains("elf-build-id"));
}

/// Issue 14.10: --cargo and --build-log say what they checked; a release profile that
/// keeps debug info without remapping is reported (ripgrep's `debug = 1`).
#[test]
fn cargo_and_build_log_say_what_was_checked() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::create_dir_all(p.join("src")).unwrap();
    std::fs::write(p.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(p.join("build.rs"), "fn main() {}\n").unwrap();
    std::fs::write(
        p.join("Cargo.toml"),
        "[package]\nname = \"dbg\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[profile.release]\ndebug = 1\n",
    )
    .unwrap();
    let out = det_scan(p, &["--cargo", "--format", "json"]);
    let v = json(&out);
    assert!(
        rules_in(&v).contains(&"cargo-release-debug-no-remap".to_string()),
        "{v}"
    );
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "cargo-release-debug-no-remap")
        .unwrap();
    let fix = f["fix"].as_str().unwrap();
    assert!(!fix.contains("$CARGO_HOME"), "{fix}");
    assert!(fix.contains("--remap-path-prefix="), "{fix}");
    let text = det_scan(p, &["--cargo"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("1 cargo project (1 package, 1 build script and 0 proc macros"),
        "{text}"
    );
    // Remapped in .cargo/config.toml: nothing to report.
    std::fs::create_dir_all(p.join(".cargo")).unwrap();
    std::fs::write(
        p.join(".cargo/config.toml"),
        "[build]\nrustflags = [\"--remap-path-prefix=/x=.\"]\n",
    )
    .unwrap();
    let v = json(&det_scan(p, &["--cargo", "--format", "json"]));
    assert!(
        !rules_in(&v).contains(&"cargo-release-debug-no-remap".to_string()),
        "{v}"
    );

    std::fs::write(
        p.join("build.log"),
        "gcc -g -c x.c\ncc -O2 -o y y.c\nnot a command\n",
    )
    .unwrap();
    let text = det_scan(p, &["--build-log", "build.log"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("2 compiler and tool invocations in build.log"),
        "{text}"
    );
}

/// Issue 14.11: HTML groups by severity and rule, highest first, the message and fix once
/// per group, with a summary table and a severity filter.
#[test]
fn html_groups_findings_highest_first() {
    let d = tempfile::tempdir().unwrap();
    gcc(d.path(), "app", &["-g"], false);
    let out = det_scan(d.path(), &["--format", "html", "app"]);
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("<table class=\"summary\">"), "{html}");
    assert!(html.contains("id=\"show-info\""), "{html}");
    let groups: Vec<&str> = html
        .split("<details class=\"group ")
        .skip(1)
        .map(|g| g.split('"').next().unwrap())
        .collect();
    assert!(groups.len() >= 3, "{groups:?}");
    let rank = |s: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
    };
    let ranks: Vec<_> = groups.iter().map(|g| rank(g)).collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(ranks, sorted, "{groups:?}");
    let msg = det_common::rules::get("debug-comp-dir").message;
    assert_eq!(html.matches(msg).count(), 1, "the message once per group");
}

/// Issue 14 (precision on fd-find): a date that is an option's example in a program's help
/// text (`--change-newer-than '2018-10-27 10:00:00'`) is low, while the build's own time
/// (`__DATE__ " " __TIME__`) in the same binary stays high.
#[test]
fn an_options_example_date_in_help_text_is_low() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("help.c"),
        "#include <stdio.h>\n\
         static const char *help = \"Examples:\\n    --change-newer-than '2018-10-27 10:00:00'\\n\";\n\
         static const char *built = \"built \" __DATE__ \" \" __TIME__;\n\
         int main(int argc, char **argv) { puts(argc > 1 ? help : built); return 0; }\n",
    )
    .unwrap();
    let st = Command::new("gcc")
        .args(["-O1", "-Wno-date-time", "-o", "help", "help.c"])
        .current_dir(d.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .status()
        .expect("gcc runs");
    assert!(st.success());
    let v = json(&det_scan(
        d.path(),
        &["--format", "json", "--fail-on", "none", "help"],
    ));
    let sev_of = |pred: &dyn Fn(&str) -> bool| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| pred(f["evidence"].as_str().unwrap()))
            .map(|f| format!("{} {}", f["rule"], f["severity"]))
            .collect()
    };
    assert_eq!(
        sev_of(&|e| e.contains("2018-10-27")),
        vec![r#""embedded-date" "low""#],
        "{v:#}"
    );
    let build_time = sev_of(&|e| !e.contains("2018") && e.contains(':'));
    assert!(
        build_time.iter().any(|s| s.ends_with(r#""high""#)),
        "{build_time:?} {v:#}"
    );
}
