//! What `cargo det-build` does besides reproducing: freshness (no-op, one touch, alternating
//! with plain cargo), the user's rustc flags kept, the read-only source tree, no network,
//! the fallback without a namespace, toolchain pins, the provenance checked by the
//! `in-toto-attestation` package, cargo's JSON messages, and bad input.

mod support;

use std::process::Command;

use support::*;

fn compiled(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Compiling "))
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect()
}

fn touch(path: &std::path::Path) {
    // A later mtime than the last build's (file systems with 1 s resolution included).
    pause();
    let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
}

#[test]
fn freshness_noop_one_touch_and_alternating_with_plain_cargo() {
    let m = Machine::new("rust-proc-macro-hashmap", 1, "UTC", "C.UTF-8");
    let first = m.det_build(&[]);
    assert_ok(&first, "first det-build");
    assert_eq!(
        compiled(&first),
        ["hashmap-macros", "rust-proc-macro-hashmap"]
    );
    let noop = m.det_build(&[]);
    assert_ok(&noop, "no-op det-build");
    assert!(compiled(&noop).is_empty(), "{}", stderr(&noop));

    touch(&m.file("src/main.rs"));
    let one = m.det_build(&[]);
    assert_ok(&one, "det-build after a touch");
    assert_eq!(
        compiled(&one),
        ["rust-proc-macro-hashmap"],
        "only the dependent"
    );

    // Plain cargo builds its own units once, then neither rebuilds the other's.
    let plain = m.cargo_build(&[], &[]);
    assert_ok(&plain, "plain cargo");
    assert_eq!(
        compiled(&plain),
        ["hashmap-macros", "rust-proc-macro-hashmap"]
    );
    for round in 0..2 {
        let d = m.det_build(&[]);
        assert_ok(&d, "det-build after plain cargo");
        assert!(compiled(&d).is_empty(), "round {round}: {}", stderr(&d));
        let p = m.cargo_build(&[], &[]);
        assert_ok(&p, "plain cargo after det-build");
        assert!(compiled(&p).is_empty(), "round {round}: {}", stderr(&p));
    }
    // The manifest describes det's binary even though plain cargo ran last before it.
    let d = m.det_build(&[]);
    assert_ok(&d, "det-build");
    manifest_outputs(&m);
}

fn run_output(m: &Machine, bin: &str) -> String {
    let out = Command::new(m.file(&format!("target/debug/{bin}")))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_users_rustflags_are_kept() {
    let m = Machine::new("rust-user-flags", 1, "UTC", "C.UTF-8");
    // build.rustflags from .cargo/config.toml.
    assert_ok(&m.det_build(&[]), "det-build");
    assert_eq!(run_output(&m, "rust-user-flags"), "det_config_flag\n");
    let manifest = std::fs::read_to_string(m.file("target/det/manifest.json")).unwrap();
    assert!(manifest.contains("--cfg det_config_flag"), "{manifest}");
    // A list from --config joins the file's (cargo's merge rule for lists).
    assert_ok(
        &m.det_build(&["--config", "build.rustflags=['--cfg','det_env_flag']"]),
        "det-build --config",
    );
    assert_eq!(
        run_output(&m, "rust-user-flags"),
        "det_config_flag\ndet_env_flag\n"
    );
    // RUSTFLAGS replaces config rustflags, as in cargo.
    let mut cmd = Command::new(det_build());
    cmd.args(["det-build"])
        .current_dir(&m.cwd)
        .env("CARGO_HOME", &m.cargo_home)
        .env("RUSTFLAGS", "--cfg det_env_flag --cfg det_config_flag");
    assert_ok(&cmd.output().unwrap(), "det-build with RUSTFLAGS");
    assert_eq!(
        run_output(&m, "rust-user-flags"),
        "det_config_flag\ndet_env_flag\n"
    );
}

#[test]
fn a_build_writing_into_the_source_fails_and_names_the_file() {
    let m = Machine::new("rust-writes-source", 1, "UTC", "C.UTF-8");
    let out = m.det_build(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let file = m.file("src/generated_version.rs");
    assert!(
        err.contains(&format!(
            "the build wrote into the source tree: {}",
            file.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("build scripts write only to OUT_DIR") && err.contains("--writable-source"),
        "{err}"
    );
    assert!(!file.exists(), "the source tree is unchanged");
    assert!(
        !m.file("target/det/manifest.json").exists(),
        "no manifest for a failed build"
    );
    let out = m.det_build(&["--writable-source"]);
    assert_ok(&out, "det-build --writable-source");
    assert!(file.is_file());
}

#[test]
fn network_none_stops_a_download_in_a_build_script() {
    let m = Machine::new("rust-downloads", 1, "UTC", "C.UTF-8");
    let out = m.det_build(&["--network", "none"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("download from index.crates.io:443 failed"),
        "{err}"
    );
    assert!(err.contains("runs without one (--network none)"), "{err}");
    // --strict implies it.
    let out = m.det_build(&["--strict"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn fallback_without_a_namespace_says_so_and_names_what_remapping_misses() {
    let m = Machine::new("rust-manifest-dir", 1, "UTC", "C.UTF-8");
    let mut cmd = Command::new(det_build());
    cmd.args(["det-build", "--release"])
        .current_dir(&m.cwd)
        .env("CARGO_HOME", &m.cargo_home)
        .env("DET_NO_NAMESPACE", "1");
    let out = cmd.output().unwrap();
    assert_ok(&out, "det-build in the fallback");
    let err = stderr(&out);
    assert!(
        err.contains("no canonical root (DET_NO_NAMESPACE is set)"),
        "{err}"
    );
    assert!(err.contains("remapping cannot fix: build.rs"), "{err}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.file("target/det/manifest.json")).unwrap())
            .unwrap();
    let root = &manifest["canonical_root"];
    assert_eq!(root["mode"], "remap", "{root}");
    assert_eq!(root["reason"], "DET_NO_NAMESPACE is set");
    assert!(
        root["uncovered"][0].as_str().unwrap().contains("build.rs"),
        "{root}"
    );
    let flags = manifest["flags"]["CARGO_ENCODED_RUSTFLAGS"].to_string();
    assert!(
        flags.contains(&format!("--remap-path-prefix={}=", m.cwd.display())),
        "{flags}"
    );
    // --no-canonical-root is the same switch.
    let out = m.det_build(&["--release", "--no-canonical-root"]);
    assert_ok(&out, "det-build --no-canonical-root");
    assert!(stderr(&out).contains("--no-canonical-root was given"));
}

#[test]
fn a_toolchain_pin_mismatch_warns_and_fails_under_strict() {
    let m = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let pinned = "0".repeat(64);
    let manifest = m.file("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!(
        "\n[workspace.metadata.det]\nrustc-id = \"{pinned}\"\n"
    ));
    std::fs::write(&manifest, text).unwrap();
    let out = m.det_build(&[]);
    assert_ok(&out, "det-build with a mismatching pin");
    assert!(
        stderr(&out).contains("warning: toolchain pin mismatch"),
        "{}",
        stderr(&out)
    );
    let out = m.det_build(&["--strict", "--network", "host"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for want in [
        &format!("pins rustc-id {pinned}"),
        "found ",
        "fix: ",
        "Cargo.toml",
    ] {
        assert!(err.contains(want), "{want:?} in {err}");
    }
    // The id det reports is the one to pin: with it, --strict passes.
    let found = err
        .split("found ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace(&pinned, &found);
    std::fs::write(&manifest, text).unwrap();
    assert_ok(
        &m.det_build(&["--strict", "--network", "host"]),
        "det-build --strict with the right pin",
    );
}

#[test]
fn provenance_is_a_valid_in_toto_slsa_statement() {
    let m = Machine::new("rust-cc-sys", 1, "UTC", "C.UTF-8");
    let prov = m.root.path().join("provenance.json");
    let out = m.det_build(&[
        "--release",
        "--examples",
        "--provenance",
        prov.to_str().unwrap(),
    ]);
    assert_ok(&out, "det-build --provenance");
    let outputs = manifest_outputs(&m);
    let script = r#"
import json, sys
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
doc = json.load(open(sys.argv[1]))
pb = json_format.ParseDict(doc, statement_pb2.Statement())
Statement.copy_from_pb(pb).validate()
assert pb.predicate_type == "https://slsa.dev/provenance/v1", pb.predicate_type
prov = json_format.ParseDict(doc["predicate"], provenance_pb2.Provenance())
assert prov.build_definition.build_type, "buildType"
assert prov.run_details.builder.id, "builder.id"
assert len(prov.build_definition.resolved_dependencies) >= 3
for s in pb.subject:
    print(s.name, s.digest["sha256"])
"#;
    let v = Command::new("python3")
        .args(["-c", script])
        .arg(&prov)
        .output()
        .unwrap();
    if !v.status.success() && stderr(&v).contains("No module named") {
        assert!(
            std::env::var("DET_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "in-toto-attestation is required (DET_REQUIRE_TOOLS=1): {}",
            stderr(&v)
        );
        eprintln!("skipped: python3 -m pip install in-toto-attestation");
        return;
    }
    assert_ok(&v, "in-toto-attestation validation");
    let subjects: std::collections::BTreeMap<String, String> = String::from_utf8_lossy(&v.stdout)
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    assert_eq!(
        subjects, outputs,
        "subjects are the outputs with their sha256"
    );
}

#[test]
fn json_messages_pass_through_with_host_paths() {
    let m = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    let out = m.det_build(&["--message-format", "json"]);
    assert_ok(&out, "det-build --message-format json");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let artifact = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["reason"] == "compiler-artifact")
        .expect("a compiler-artifact message");
    let exe = artifact["executable"].as_str().unwrap();
    assert_eq!(
        std::path::Path::new(exe),
        m.file("target/debug/rust-clean"),
        "{artifact}"
    );
    assert!(!stdout.contains("\"/det/"), "{stdout}");
}

#[test]
fn bad_input_is_named_and_nothing_is_written() {
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]| {
        let mut c = Command::new(det_build());
        c.arg("det-build").args(args).current_dir(dir);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    // Not a cargo project.
    let out = run(&[], empty.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("could not find `Cargo.toml`"), "{err}");
    assert!(err.contains(&empty.path().display().to_string()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // An unknown option.
    let out = run(&["--no-such-option"], empty.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-such-option"));

    let m = Machine::new("rust-clean", 1, "UTC", "C.UTF-8");
    // A toolchain that cannot be found.
    let out = run(&[], &m.cwd, &[("RUSTC", "/nonexistent/rustc")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/rustc"),
        "{}",
        stderr(&out)
    );
    // A target dir that cannot be made.
    let file = m.file("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = m.det_build(&["--target-dir", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("target directory") && err.contains(&file.display().to_string()),
        "{err}"
    );
    // A build that fails: cargo's error, exit 2, no manifest.
    std::fs::write(
        m.file("src/main.rs"),
        "fn main() { let x: u32 = \"no\"; }\n",
    )
    .unwrap();
    let out = m.det_build(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("error[E0308]: mismatched types"), "{err}");
    assert!(!m.file("target/det/manifest.json").exists());
}

#[test]
fn an_interrupt_stops_cargo_and_leaves_no_manifest_nor_mounts() {
    let m = Machine::new("rust-cc-sys", 1, "UTC", "C.UTF-8");
    // The build script sleeps, so the build is surely running when the signal comes: a
    // fixed wait raced a fast machine (the whole build took 2.2 s, the signal came at 2.5).
    let script = m.file("build.rs");
    let original = std::fs::read_to_string(&script).unwrap();
    std::fs::write(
        &script,
        original.replacen(
            "fn main() {",
            "fn main() {\n    std::thread::sleep(std::time::Duration::from_secs(20));",
            1,
        ),
    )
    .unwrap();
    let mut cmd = Command::new(det_build());
    cmd.args(["det-build", "--release", "--examples"])
        .current_dir(&m.cwd)
        .env("CARGO_HOME", &m.cargo_home)
        .env("CARGO_NET_OFFLINE", "true")
        .stderr(std::process::Stdio::piped());
    // A test run started in the background of a shell without job control (`cmd &` in a
    // script, `nohup`) inherits SIGINT ignored, and so would cargo: the interrupt must be
    // det-build's to forward, as in a terminal, whatever started the tests.
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: signal(2) is async-signal-safe; it only resets a disposition.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().unwrap();
    // Wait until cargo compiles the package (its build script then sleeps).
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("Compiling rust-cc-sys") => break,
            Ok(_) => {}
            Err(e) => panic!("cargo never compiled rust-cc-sys: {e}"),
        }
    }
    // SAFETY: sending SIGINT to the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = std::time::Instant::now();
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "det-build took {:?} to stop",
        start.elapsed()
    );
    let out = std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: err.into_bytes(),
    };
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no manifest was written"),
        "{}",
        stderr(&out)
    );
    assert!(!m.file("target/det/manifest.json").exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(" /det"), "{mounts}");
    // No process is left in the namespace: nothing holds the checkout.
    let procs = Command::new("pgrep")
        .args(["-f", &m.cwd.display().to_string()])
        .output()
        .unwrap();
    assert!(
        procs.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&procs.stdout)
    );
}
