//! Shared by the det-build tests: fixture copies at chosen paths, simulated machines
//! (path, HOME, CARGO_HOME with its own registry copy, TZ, locale, time), runs of
//! `cargo det-build` and of plain cargo, output hashes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use sha2::Digest;

pub fn det_build() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-det-build"))
}

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// Copy a directory tree (no `target/`).
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        if rel.starts_with("target") {
            continue;
        }
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// The registry (index and downloaded crates) every simulated machine starts from: the
/// fixtures' dependencies fetched once into a private CARGO_HOME.
fn seed_registry() -> &'static Path {
    static SEED: OnceLock<PathBuf> = OnceLock::new();
    SEED.get_or_init(|| {
        // Under the test target's tmp dir: kept between runs (cargo fetch is then a no-op).
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("det-build-seed-cargo-home");
        std::fs::create_dir_all(&dir).unwrap();
        // The fixtures with registry dependencies.
        const WITH_REGISTRY_DEPS: &[&str] = &["rust-cc-sys"];
        for fixture in WITH_REGISTRY_DEPS {
            let src = testdata(fixture);
            let st = Command::new("cargo")
                .args(["fetch", "--locked", "--manifest-path"])
                .arg(src.join("Cargo.toml"))
                .env("CARGO_HOME", &dir)
                .status()
                .unwrap();
            assert!(st.success(), "cargo fetch for {fixture}");
        }
        dir
    })
}

/// A simulated machine: where the checkout lives, who the user is (HOME, CARGO_HOME with
/// its own registry copy), the zone, the locale and the clock's starting point.
pub struct Machine {
    pub root: tempfile::TempDir,
    /// The copy of the fixture.
    pub project: PathBuf,
    /// Where cargo runs (the project, or its `app/` for fixtures with a sibling dep).
    pub cwd: PathBuf,
    pub home: PathBuf,
    pub cargo_home: PathBuf,
    pub tz: &'static str,
    pub lang: &'static str,
}

impl Machine {
    /// `fixture` copied to a path `depth` directories deep (different lengths per
    /// machine).
    pub fn new(fixture: &str, depth: usize, tz: &'static str, lang: &'static str) -> Machine {
        let root = tempfile::Builder::new()
            .prefix("det-machine-")
            .tempdir()
            .unwrap();
        let mut project = root.path().to_path_buf();
        for i in 0..depth {
            project.push(format!("checkout{i}"));
        }
        project.push(fixture);
        copy_tree(&testdata(fixture), &project);
        let home = root.path().join("home/user");
        let cargo_home = home.join(".cargo");
        std::fs::create_dir_all(&cargo_home).unwrap();
        let seed = seed_registry();
        if seed.join("registry").is_dir() {
            copy_tree(&seed.join("registry"), &cargo_home.join("registry"));
        }
        let cwd = if project.join("app/Cargo.toml").is_file() {
            project.join("app")
        } else {
            project.clone()
        };
        Machine {
            root,
            project,
            cwd,
            home,
            cargo_home,
            tz,
            lang,
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.current_dir(&self.cwd)
            .env("HOME", &self.home)
            .env("CARGO_HOME", &self.cargo_home)
            .env("RUSTUP_HOME", rustup_home())
            .env("TZ", self.tz)
            .env("LANG", self.lang)
            .env("LC_ALL", self.lang)
            .env("CARGO_NET_OFFLINE", "true")
            .env("DET_CACHE_DIR", det_cache())
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTC_WRAPPER");
    }

    /// `cargo det-build ARGS` on this machine, to be started by the caller.
    pub fn det_build_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(det_build());
        cmd.arg("det-build").args(args);
        self.env(&mut cmd);
        cmd
    }

    /// `cargo det-build ARGS` on this machine.
    pub fn det_build(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(det_build());
        cmd.arg("det-build").args(args);
        self.env(&mut cmd);
        cmd.output().unwrap()
    }

    /// `cargo det-build ARGS` on this machine with extra environment.
    pub fn det_build_with(&self, args: &[&str], extra_env: &[(&str, &std::ffi::OsStr)]) -> Output {
        let mut cmd = Command::new(det_build());
        cmd.arg("det-build").args(args);
        self.env(&mut cmd);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Plain `cargo build ARGS` on this machine (with extra environment).
    pub fn cargo_build(&self, args: &[&str], extra_env: &[(&str, String)]) -> Output {
        let mut cmd = Command::new("cargo");
        cmd.arg("build").args(args);
        self.env(&mut cmd);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// The expert's remapping: the checkout and CARGO_HOME remapped by hand.
    pub fn expert_rustflags(&self) -> String {
        format!(
            "--remap-path-prefix={}=. --remap-path-prefix={}=/cargo",
            self.cwd.display(),
            self.cargo_home.display()
        )
    }

    /// A path relative to where cargo runs.
    pub fn file(&self, rel: &str) -> PathBuf {
        self.cwd.join(rel)
    }
}

fn rustup_home() -> PathBuf {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".rustup"))
}

/// One shim cache for all tests (the library is written once).
fn det_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("det-build-cache")
}

pub fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex(&sha2::Sha256::digest(&bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The manifest's outputs (relative path → sha256), each checked against the file.
pub fn manifest_outputs(m: &Machine) -> BTreeMap<String, String> {
    let path = m.file("target/det/manifest.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for (rel, h) in json["outputs"].as_object().unwrap() {
        let sha = h["sha256"].as_str().unwrap().to_string();
        let file = m.file("target").join(rel);
        assert_eq!(
            sha256(&file),
            sha,
            "manifest hash of {rel} equals sha256sum"
        );
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            h["size"].as_u64().unwrap()
        );
        out.insert(rel.clone(), sha);
    }
    assert!(!out.is_empty(), "the manifest lists outputs");
    out
}

/// The time the build sees: faked through the shim for det-build; plain cargo builds run
/// at the real time, one after another, so build-time leaks differ by seconds.
pub fn pause() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}
