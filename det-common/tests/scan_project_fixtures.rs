//! `analyze_cargo_project` on the testdata/rust-* fixtures and on small projects written by
//! the tests: each leaky fixture gives its one exact finding, the clean one none.

use det_common::Finding;
use det_common::project::analyze_cargo_project;
use std::path::{Path, PathBuf};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// A copy of a fixture in a fresh temp dir, so the test never writes into testdata/.
fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = testdata(name);
    let dst = tmp.path().join(name);
    for entry in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&src).unwrap();
        let to = dst.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    (tmp, dst)
}

fn summary(findings: &[Finding]) -> Vec<(&'static str, String, String, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f.rule.id,
                f.location.file.to_string(),
                f.location.label().unwrap_or_default(),
                f.evidence.clone(),
            )
        })
        .collect()
}

fn scan_fixture(name: &str) -> Vec<Finding> {
    let (_tmp, dir) = copy_fixture(name);
    analyze_cargo_project(Some(&dir.join("Cargo.toml"))).unwrap()
}

#[test]
fn rust_clean_has_no_finding() {
    assert_eq!(summary(&scan_fixture("rust-clean")), vec![]);
}

#[test]
fn rust_buildrs_time_reads_the_clock() {
    assert_eq!(
        summary(&scan_fixture("rust-buildrs-time")),
        vec![(
            "cargo-build-script-clock",
            "build.rs".to_owned(),
            "line 5".to_owned(),
            "let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();".to_owned()
        )]
    );
}

#[test]
fn rust_manifest_dir_writes_its_path_into_code() {
    assert_eq!(
        summary(&scan_fixture("rust-manifest-dir")),
        vec![(
            "cargo-build-script-path",
            "build.rs".to_owned(),
            "line 7".to_owned(),
            "fs::write(&out, format!(\"pub const DATA_DIR: &str = {:?};\\n\", manifest_dir)).unwrap();"
                .to_owned()
        )]
    );
}

#[test]
fn rust_proc_macro_hashmap_iterates_a_hashmap() {
    assert_eq!(
        summary(&scan_fixture("rust-proc-macro-hashmap")),
        vec![(
            "cargo-hashmap-codegen",
            "macros/src/lib.rs".to_owned(),
            "line 17".to_owned(),
            "for (word, i) in &index {".to_owned()
        )]
    );
}

#[test]
fn rust_cc_sys_build_script_is_clean_at_the_cargo_level() {
    // Its leaks (__DATE__, -g without a prefix map) are in the C compile, which the command
    // and artifact scans find; the cargo project itself embeds nothing.
    assert_eq!(summary(&scan_fixture("rust-cc-sys")), vec![]);
}

/// A workspace written by the test: `deps` are local stand-ins for crates in the table
/// (`name`, `version`) outside the workspace (like registry crates), so version thresholds
/// are checked without fetching anything. A name starting with `dev:` becomes a
/// dev-dependency, which never ships and must not be reported.
fn project_with_deps(deps: &[(&str, &str)], extra_manifest: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut dep_lines = String::new();
    let mut dev_lines = String::from("\n[dev-dependencies]\n");
    for (name, version) in deps {
        let (name, lines) = match name.strip_prefix("dev:") {
            Some(n) => (n, &mut dev_lines),
            None => (*name, &mut dep_lines),
        };
        let dir = root.join("vendor").join(name);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n"),
        )
        .unwrap();
        std::fs::write(dir.join("src/lib.rs"), "").unwrap();
        lines.push_str(&format!("{name} = {{ path = \"vendor/{name}\" }}\n"));
    }
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\nexclude = [\"vendor\"]\n\n[dependencies]\n{dep_lines}{dev_lines}{extra_manifest}"
        ),
    )
    .unwrap();
    tmp
}

#[test]
fn dependency_table_versions_decide_the_rule() {
    let tmp = project_with_deps(
        &[
            ("built", "0.7.3"),
            ("vergen", "8.3.2"),
            ("build-time", "0.1.3"),
            ("const-random", "0.1.18"),
            ("chrono", "0.4.40"),
            ("dev:compile-time", "0.2.0"),
        ],
        "",
    );
    let f = analyze_cargo_project(Some(&tmp.path().join("Cargo.toml"))).unwrap();
    assert_eq!(
        summary(&f),
        vec![
            (
                "cargo-dep-build-time",
                "Cargo.lock".to_owned(),
                "package build-time 0.1.3".to_owned(),
                "build-time 0.1.3 (required by app)".to_owned()
            ),
            (
                "cargo-dep-build-time",
                "Cargo.lock".to_owned(),
                "package built 0.7.3".to_owned(),
                "built 0.7.3 (required by app)".to_owned()
            ),
            (
                "cargo-dep-randomness",
                "Cargo.lock".to_owned(),
                "package const-random 0.1.18".to_owned(),
                "const-random 0.1.18 (required by app)".to_owned()
            ),
            (
                "cargo-dep-build-time-honours-sde",
                "Cargo.lock".to_owned(),
                "package vergen 8.3.2".to_owned(),
                "vergen 8.3.2 (required by app)".to_owned()
            ),
        ]
    );
    assert!(
        f[1].fix
            .as_deref()
            .unwrap()
            .contains("update to built >= 0.7.7")
    );
    assert!(f[2].fix.as_deref().unwrap().contains("CONST_RANDOM_SEED"));
}

#[test]
fn release_incremental_is_reported_at_its_line() {
    let tmp = project_with_deps(
        &[],
        "\n[profile.release]\nopt-level = 3\nincremental = true\n",
    );
    let f = analyze_cargo_project(Some(&tmp.path().join("Cargo.toml"))).unwrap();
    assert_eq!(
        summary(&f),
        vec![(
            "cargo-release-incremental",
            "Cargo.toml".to_owned(),
            "line 15".to_owned(),
            "[profile.release] incremental = true".to_owned()
        )]
    );
    let tmp = project_with_deps(&[], "\n[profile.release]\nincremental = false\n");
    assert_eq!(
        summary(&analyze_cargo_project(Some(&tmp.path().join("Cargo.toml"))).unwrap()),
        vec![]
    );
}

#[test]
fn bad_manifests_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope/Cargo.toml");
    let err = analyze_cargo_project(Some(&missing))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}: cargo metadata failed", missing.display())),
        "{err}"
    );
    let broken = tmp.path().join("Cargo.toml");
    std::fs::write(&broken, "[package\nname = ").unwrap();
    let err = analyze_cargo_project(Some(&broken))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{}: ", broken.display())), "{err}");
}

#[test]
fn real_const_random_from_crates_io() {
    // The one test that resolves a real registry crate: const-random and its five small
    // dependencies resolve in about a second (CI reaches crates.io; a built machine has them
    // cached). `built`/`vergen` pull far more, so their version logic uses stand-ins above.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("src")).unwrap();
    std::fs::write(tmp.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[dependencies]\nconst-random = \"=0.1.18\"\n",
    )
    .unwrap();
    let f = analyze_cargo_project(Some(&tmp.path().join("Cargo.toml"))).unwrap();
    assert_eq!(
        summary(&f),
        vec![(
            "cargo-dep-randomness",
            "Cargo.lock".to_owned(),
            "package const-random 0.1.18".to_owned(),
            "const-random 0.1.18 (required by app)".to_owned()
        )]
    );
}
