//! The SARIF log validates against the official SARIF 2.1.0 schema (the copy shipped in
//! Microsoft's `@microsoft/sarif-multitool` npm package) and passes Microsoft's own validator,
//! `Sarif.Multitool validate`, with no error-level result — including its GitHub rule set.
//!
//! The tools are set up by `cargo xtask test` (npm install into `<workspace>/target/det-tools`,
//! or `DET_TOOLS_DIR`). Missing tools skip these tests, unless `DET_REQUIRE_TOOLS=1` (CI),
//! where they fail.

#[path = "data/report_fixture.rs"]
mod fixture;

use det_common::report::{OutputFormat, RenderOptions, render};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGE: &str = "node_modules/@microsoft/sarif-multitool-linux";

fn tools_dir() -> PathBuf {
    match std::env::var_os("DET_TOOLS_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("det-common lives in the workspace")
            .join("target/det-tools"),
    }
}

/// The multitool package directory, or `None` (skip) when it is not installed and
/// `DET_REQUIRE_TOOLS` is not `1`.
fn multitool_package(test: &str) -> Option<PathBuf> {
    let pkg = tools_dir().join(PACKAGE);
    let exe = pkg.join("Sarif.Multitool");
    if pkg.join("sarif-2.1.0.json").is_file() && exe.is_file() {
        make_executable(&exe);
        return Some(pkg);
    }
    if std::env::var("DET_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!(
            "{test}: the SARIF validator is missing from {} (DET_REQUIRE_TOOLS=1). Run `cargo xtask test`, \
             which installs @microsoft/sarif-multitool@5.7.0 there with npm.",
            pkg.display()
        );
    }
    eprintln!(
        "{test}: skipped: {} not found; `cargo xtask test` installs it",
        pkg.display()
    );
    None
}

/// The package's own postinstall script does `chmod u+x Sarif.Multitool`, but npm may skip
/// install scripts (`allowScripts`); do it here so a plain `npm install` is enough.
fn make_executable(exe: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(exe) {
        let mode = meta.permissions().mode();
        if mode & 0o100 == 0 {
            let _ = std::fs::set_permissions(exe, std::fs::Permissions::from_mode(mode | 0o100));
        }
    }
}

fn official_schema(pkg: &Path) -> Value {
    let text = std::fs::read_to_string(pkg.join("sarif-2.1.0.json")).expect("read the schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// Every schema violation of `instance`, as `path: message` lines.
fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("the official SARIF schema compiles offline");
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect()
}

fn sarif_log() -> String {
    render(
        &fixture::report(),
        OutputFormat::Sarif,
        &RenderOptions::default(),
    )
}

#[test]
fn sarif_log_validates_against_the_official_schema() {
    let Some(pkg) = multitool_package("sarif_log_validates_against_the_official_schema") else {
        return;
    };
    let schema = official_schema(&pkg);
    let log: Value = serde_json::from_str(&sarif_log()).expect("SARIF output is JSON");
    let errors = schema_errors(&schema, &log);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}

#[test]
fn schema_validation_can_fail() {
    let Some(pkg) = multitool_package("schema_validation_can_fail") else {
        return;
    };
    let schema = official_schema(&pkg);
    let log: Value = serde_json::from_str(&sarif_log()).unwrap();

    let mut no_version = log.clone();
    no_version.as_object_mut().unwrap().remove("version");
    let errors = schema_errors(&schema, &no_version);
    assert!(
        errors.iter().any(|e| e.contains("version")),
        "a log without `version` must be rejected, got {errors:?}"
    );

    let mut bad_level = log.clone();
    bad_level["runs"][0]["results"][0]["level"] = Value::from("severe");
    assert!(!schema_errors(&schema, &bad_level).is_empty());

    let mut bad_offset = log;
    bad_offset["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["byteOffset"] =
        Value::from(-2); // -1 is the schema's "unset"
    assert!(!schema_errors(&schema, &bad_offset).is_empty());
}

/// Runs `Sarif.Multitool validate` on `log` and returns its results as
/// (effective level, rule id, message) triples.
fn multitool_validate(pkg: &Path, log: &str, extra: &[&str]) -> Vec<(String, String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("det-scan.sarif");
    let output = dir.path().join("validation.sarif");
    std::fs::write(&input, log).unwrap();
    let exe = pkg.join("Sarif.Multitool");
    let run = Command::new(&exe)
        .arg("validate")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(extra)
        // .NET needs no ICU for this; without it the tool aborts on machines lacking libicu.
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); after npm install it needs `chmod u+x`",
                exe.display()
            )
        });
    let text = std::fs::read_to_string(&output).unwrap_or_else(|e| {
        panic!(
            "the validator wrote no output ({e}); status {}, stdout:\n{}\nstderr:\n{}",
            run.status,
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let out: Value = serde_json::from_str(&text).expect("validator output is JSON");
    let run0 = &out["runs"][0];
    let rules = run0["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut found = Vec::new();
    for r in run0["results"].as_array().into_iter().flatten() {
        let rule_id = r["ruleId"].as_str().unwrap_or("?").to_owned();
        // A result without `level` takes its rule's default level, else "warning" (SARIF §3.27.10).
        let level = r["level"]
            .as_str()
            .or_else(|| {
                let idx = r["ruleIndex"].as_u64()? as usize;
                rules.get(idx)?["defaultConfiguration"]["level"].as_str()
            })
            .unwrap_or("warning")
            .to_owned();
        let message = r["message"]["text"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| r["message"].to_string());
        found.push((level, rule_id, message));
    }
    // Tool failures (a crash, an unreadable file) are notifications, not results.
    for inv in run0["invocations"].as_array().into_iter().flatten() {
        for n in inv["toolExecutionNotifications"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if n["level"].as_str() == Some("error") {
                found.push((
                    "error".into(),
                    "notification".into(),
                    n["message"].to_string(),
                ));
            }
        }
    }
    found
}

#[test]
fn microsoft_validator_reports_no_errors() {
    let Some(pkg) = multitool_package("microsoft_validator_reports_no_errors") else {
        return;
    };
    let log = sarif_log();
    // The default (SARIF) rules, then GitHub's: "Gh" are code scanning's upload requirements.
    for extra in [&[][..], &["--rule-kind", "Sarif;Gh"][..]] {
        let results = multitool_validate(&pkg, &log, extra);
        for (level, rule, message) in &results {
            eprintln!("validator {extra:?}: {level} {rule}: {message}");
        }
        let errors: Vec<_> = results.iter().filter(|(l, _, _)| l == "error").collect();
        assert!(
            errors.is_empty(),
            "validator errors with {extra:?}: {errors:#?}"
        );
    }
}

#[test]
fn microsoft_validator_can_fail() {
    let Some(pkg) = multitool_package("microsoft_validator_can_fail") else {
        return;
    };
    let mut log: Value = serde_json::from_str(&sarif_log()).unwrap();
    log.as_object_mut().unwrap().remove("version");
    let results = multitool_validate(&pkg, &serde_json::to_string(&log).unwrap(), &[]);
    assert!(
        results.iter().any(|(l, _, _)| l == "error"),
        "a log without `version` must give an error, got {results:#?}"
    );

    // GitHub's rules: code scanning wants help text on every rule.
    let mut no_help: Value = serde_json::from_str(&sarif_log()).unwrap();
    for rule in no_help["runs"][0]["tool"]["driver"]["rules"]
        .as_array_mut()
        .unwrap()
    {
        rule.as_object_mut().unwrap().remove("help");
    }
    let results = multitool_validate(
        &pkg,
        &serde_json::to_string(&no_help).unwrap(),
        &["--rule-kind", "Sarif;Gh"],
    );
    assert!(
        results
            .iter()
            .any(|(l, r, _)| l == "error" && r.starts_with("GH")),
        "rules without help must fail GitHub's checks, got {results:#?}"
    );
}

/// The log's content, without the external tools: rules, indices, levels, locations, errors.
#[test]
fn sarif_log_carries_rules_locations_and_errors() {
    let log: Value = serde_json::from_str(&sarif_log()).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"].as_array().unwrap().len(), 1);
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "det-scan");
    assert_eq!(driver["version"], "0.1.0");
    assert_eq!(
        driver["informationUri"],
        det_common::report::INFORMATION_URI
    );
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let table: Vec<&str> = det_common::rules::RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids, table);
    let abs = &rules[ids.iter().position(|&i| i == "absolute-path").unwrap()];
    assert_eq!(abs["name"], "AbsolutePath");
    assert_eq!(abs["defaultConfiguration"]["level"], "error");
    assert_eq!(abs["properties"]["tags"], serde_json::json!(["path"]));
    assert_eq!(
        abs["helpUri"],
        det_common::rules::get("absolute-path").reference
    );
    assert!(
        abs["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("**Fix:**")
    );

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), fixture::findings().len());
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        let rule = det_common::rules::get(r["ruleId"].as_str().unwrap());
        assert_eq!(r["level"], rule.severity.sarif_level());
        assert!(r["message"]["text"].as_str().unwrap().ends_with('.'));
    }
    let by_file = |file: &str, rule: &str| -> &Value {
        results
            .iter()
            .find(|r| r["properties"]["file"] == file && r["ruleId"] == rule)
            .unwrap_or_else(|| panic!("no {rule} result for {file}"))
    };
    let region = |r: &Value| r["locations"][0]["physicalLocation"]["region"].clone();
    // A file offset is a byteOffset; an offset inside a section or member is not.
    assert_eq!(
        region(by_file("logs/build.log", "cmd-missing-prefix-map")),
        serde_json::json!({"byteOffset": 16, "startLine": 1})
    );
    assert_eq!(
        region(by_file("logs/build.log", "cmd-native-cpu")),
        serde_json::json!({"startLine": 12})
    );
    let so = by_file("dist/x.whl", "absolute-path");
    assert_eq!(region(so), serde_json::json!({"startLine": 1}));
    assert_eq!(
        so["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "dist/x.whl"
    );
    assert_eq!(
        so["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "dist/x.whl!pkg/_speedups.so [.debug_str]"
    );
    assert_eq!(
        so["properties"]["container"],
        serde_json::json!(["pkg/_speedups.so"])
    );
    assert_eq!(so["properties"]["offset"], 0x1a2b);
    assert!(so["message"]["text"].as_str().unwrap().contains(
        " Location: pkg/_speedups.so, .debug_str+0x1a2b. Evidence: '/home/alice/src/x.c'."
    ));
    let specific = by_file("logs/build.log", "cmd-missing-prefix-map");
    assert!(
        specific["message"]["text"]
            .as_str()
            .unwrap()
            .ends_with(" Fix: Add -ffile-prefix-map=/work/ü b=. to this gcc command.")
    );

    let inv = &run["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(
        notes[1]["message"]["text"],
        "secret/unreadable.so: Permission denied (os error 13)."
    );
    assert_eq!(notes[1]["level"], "error");
    // Determinism: no time stamps, GUIDs or machine details anywhere.
    let text = sarif_log();
    for key in [
        "Utc\":",
        "Guid\":",
        "\"guid\"",
        "\"machine\"",
        "\"account\"",
        "\"processId\"",
        "\"workingDirectory\"",
    ] {
        assert!(!text.contains(key), "the log contains {key}");
    }
}
