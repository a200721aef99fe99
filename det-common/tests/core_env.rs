//! SOURCE_DATE_EPOCH resolution order with real git repositories, and the normalized
//! build environment applied to a real child process.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use det_common::env::{
    BuildEnv, DEFAULT_SOURCE_DATE_EPOCH, SourceDateEpoch, SourceDateEpochSource,
    resolve_source_date_epoch,
};

/// 2021-06-01T12:00:00Z
const COMMIT_TIME: u64 = 1_622_548_800;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let m: BTreeMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    move |k| m.get(k).cloned()
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "det")
        .env("GIT_AUTHOR_EMAIL", "det@example.invalid")
        .env("GIT_COMMITTER_NAME", "det")
        .env("GIT_COMMITTER_EMAIL", "det@example.invalid")
        .env("GIT_AUTHOR_DATE", "2000-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2021-06-01T12:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn repo_with_commit() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    git(d.path(), &["init", "-q"]);
    std::fs::write(d.path().join("f"), "x").unwrap();
    git(d.path(), &["add", "f"]);
    git(d.path(), &["commit", "-q", "-m", "one"]);
    d
}

#[test]
fn explicit_flag_beats_environment_beats_git_beats_default() {
    let repo = repo_with_commit();
    let env = lookup(&[("SOURCE_DATE_EPOCH", "1000")]);
    let no_env = lookup(&[]);

    let r = resolve_source_date_epoch(Some("42"), repo.path(), &env).unwrap();
    assert_eq!(
        r,
        SourceDateEpoch {
            value: 42,
            source: SourceDateEpochSource::Flag
        }
    );

    let r = resolve_source_date_epoch(None, repo.path(), &env).unwrap();
    assert_eq!(
        r,
        SourceDateEpoch {
            value: 1000,
            source: SourceDateEpochSource::Environment
        }
    );

    // The committer date, not the author date.
    let r = resolve_source_date_epoch(None, repo.path(), &no_env).unwrap();
    assert_eq!(
        r,
        SourceDateEpoch {
            value: COMMIT_TIME,
            source: SourceDateEpochSource::GitCommit
        }
    );
    assert_eq!(
        r.to_string(),
        "1622548800 (from the time of the last git commit)"
    );

    // From a subdirectory of the repository too.
    std::fs::create_dir(repo.path().join("sub")).unwrap();
    let r = resolve_source_date_epoch(None, &repo.path().join("sub"), &no_env).unwrap();
    assert_eq!(r.source, SourceDateEpochSource::GitCommit);

    // An empty variable counts as unset.
    let r = resolve_source_date_epoch(None, repo.path(), &lookup(&[("SOURCE_DATE_EPOCH", "")]))
        .unwrap();
    assert_eq!(r.source, SourceDateEpochSource::GitCommit);
}

#[test]
fn not_a_repository_or_no_commit_falls_back_to_1980() {
    let plain = tempfile::tempdir().unwrap();
    let want = SourceDateEpoch {
        value: DEFAULT_SOURCE_DATE_EPOCH,
        source: SourceDateEpochSource::Default,
    };
    assert_eq!(
        resolve_source_date_epoch(None, plain.path(), &lookup(&[])).unwrap(),
        want
    );
    assert_eq!(DEFAULT_SOURCE_DATE_EPOCH, 315_532_800);

    let empty_repo = tempfile::tempdir().unwrap();
    git(empty_repo.path(), &["init", "-q"]);
    assert_eq!(
        resolve_source_date_epoch(None, empty_repo.path(), &lookup(&[])).unwrap(),
        want
    );
}

#[test]
fn invalid_values_are_errors_naming_their_source_and_never_fall_through() {
    let repo = repo_with_commit();
    let e = resolve_source_date_epoch(Some("yesterday"), repo.path(), &lookup(&[]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid SOURCE_DATE_EPOCH \"yesterday\" from the --source-date-epoch flag: not a non-negative integer (seconds since 1970-01-01 UTC)"
    );
    let e = resolve_source_date_epoch(None, repo.path(), &lookup(&[("SOURCE_DATE_EPOCH", "-5")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SOURCE_DATE_EPOCH in the environment: negative"),
        "{e}"
    );
    let e = resolve_source_date_epoch(
        None,
        repo.path(),
        &lookup(&[("SOURCE_DATE_EPOCH", "184467440737095516160")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("in the environment: too large"), "{e}");
    // A bad variable is an error even though a valid flag-less fallback (git) exists,
    // and a valid flag wins over a bad variable.
    let r = resolve_source_date_epoch(
        Some("7"),
        repo.path(),
        &lookup(&[("SOURCE_DATE_EPOCH", "x")]),
    )
    .unwrap();
    assert_eq!(r.value, 7);
}

#[test]
fn build_env_is_fixed_plus_passthrough_and_applies_umask() {
    let sde = SourceDateEpoch {
        value: 1234,
        source: SourceDateEpochSource::Flag,
    };
    let user = lookup(&[
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/home/u"),
        ("USER", "someone"),
        ("TZ", "Europe/Paris"),
        ("LANGUAGE", "fr"),
        ("RUSTFLAGS", "-Cdebuginfo=2"),
    ]);
    let env = BuildEnv::new(&sde, &user);
    let vars: Vec<(String, String)> = env
        .vars()
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
        .collect();
    let want: Vec<(String, String)> = [
        ("CARGO_INCREMENTAL", "0"),
        ("HOME", "/home/u"),
        ("LANG", "C.UTF-8"),
        ("LC_ALL", "C.UTF-8"),
        ("PATH", "/usr/bin:/bin"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
        ("PYTHONHASHSEED", "0"),
        ("SOURCE_DATE_EPOCH", "1234"),
        ("TZ", "UTC"),
        ("ZERO_AR_DATE", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(vars, want);
    assert!(!BuildEnv::fixed(&sde).contains_key("PATH"));

    // The real thing: a shell started in this environment sees exactly it and umask 022.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "umask; env | LC_ALL=C sort"]);
    BuildEnv::new(&sde, &lookup(&[("USER", "someone")])).apply(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("0022"));
    let env_lines: Vec<&str> = lines
        .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_="))
        .collect();
    assert_eq!(
        env_lines,
        [
            "CARGO_INCREMENTAL=0",
            "LANG=C.UTF-8",
            "LC_ALL=C.UTF-8",
            "PYTHONDONTWRITEBYTECODE=1",
            "PYTHONHASHSEED=0",
            "SOURCE_DATE_EPOCH=1234",
            "TZ=UTC",
            "ZERO_AR_DATE=1",
        ]
    );
}
