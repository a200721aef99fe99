//! Toolchains: discovery and identity of rustc, the system C compiler and zig; version
//! parsing and comparison.
//!
//! A toolchain's identity is its version and its id: BLAKE3 over the compiler binary and
//! its library directory (sorted walk, [`crate::hash::hash_tree`]), so two machines that
//! claim the same version but ship different bits are told apart.

use std::cmp::Ordering;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The zig binary: `$ZIG`, then `zig` on PATH, then the binary shipped by the `ziglang`
/// package on PyPI (found through `python3 -c 'import ziglang'`).
pub fn find_zig() -> Option<PathBuf> {
    if let Some(z) = std::env::var_os("ZIG").filter(|z| !z.is_empty()) {
        let z = PathBuf::from(z);
        return is_runnable_zig(&z).then_some(z);
    }
    if let Some(z) = find_on_path("zig").filter(|z| is_runnable_zig(z)) {
        return Some(z);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import ziglang, os; print(os.path.dirname(ziglang.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let z = dir.join(if cfg!(windows) { "zig.exe" } else { "zig" });
    is_runnable_zig(&z).then_some(z)
}

fn is_runnable_zig(p: &Path) -> bool {
    Command::new(p)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The first executable named `name` in PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// For tests that need zig: the zig binary, or `None` (the test skips) — but when
/// `DET_REQUIRE_ZIG=1` (as `cargo xtask test` and CI set it) a missing zig is a failure.
#[doc(hidden)]
pub fn zig_for_test(test: &str) -> Option<PathBuf> {
    match find_zig() {
        Some(z) => Some(z),
        None if std::env::var("DET_REQUIRE_ZIG").as_deref() == Ok("1") => panic!(
            "{test}: zig is required (DET_REQUIRE_ZIG=1) but was not found: set ZIG, put zig on PATH, or `python3 -m pip install ziglang`"
        ),
        None => {
            eprintln!(
                "{test}: skipped, zig not found (set DET_REQUIRE_ZIG=1 to make this an error)"
            );
            None
        }
    }
}

/// A compiler version: `major.minor.patch`, an optional pre-release (`dev.123`,
/// `nightly`, `beta.2`) and optional build metadata (`abcdef`). Ordered like semver:
/// a pre-release sorts before its release; build metadata only breaks ties.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Option<String>,
    pub build: Option<String>,
}

static VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^0-9A-Za-z.])(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?(?:\+([0-9A-Za-z][0-9A-Za-z.-]*))?",
    )
    .expect("valid regex")
});
static PARENS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\([^()]*\)").expect("valid regex"));

impl Version {
    /// Parse a bare version: `1.95.0`, `0.14.0-dev.123+abcdef`, `16.0`.
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let caps = VERSION_RE.captures(s)?;
        let whole = caps.get(0)?;
        (whole.start() == 0 && whole.end() == s.len()).then(|| Self::from_captures(&caps))?
    }

    /// The version in the first line of a tool's `--version` output:
    /// `gcc (Debian 12.2.0-14+deb12u1) 12.2.0` → 12.2.0, `clang version 16.0.6`,
    /// `rustc 1.95.0 (59807616e 2026-04-14)`, `0.17.1`. Parenthesized groups are skipped
    /// first: they hold distribution package versions and commit dates.
    pub fn from_version_output(output: &str) -> Option<Version> {
        let line = output.lines().find(|l| !l.trim().is_empty())?;
        let stripped = PARENS_RE.replace_all(line, " ");
        VERSION_RE
            .captures(&stripped)
            .and_then(|c| Self::from_captures(&c))
            .or_else(|| {
                VERSION_RE
                    .captures(line)
                    .and_then(|c| Self::from_captures(&c))
            })
    }

    fn from_captures(c: &regex::Captures<'_>) -> Option<Version> {
        let num = |i: usize| -> Option<u64> {
            match c.get(i) {
                Some(m) => m.as_str().parse().ok(),
                None => Some(0),
            }
        };
        Some(Version {
            major: num(1)?,
            minor: num(2)?,
            patch: num(3)?,
            pre: c.get(4).map(|m| m.as_str().to_string()),
            build: c.get(5).map(|m| m.as_str().to_string()),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        if let Some(b) = &self.build {
            write!(f, "+{b}")?;
        }
        Ok(())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => cmp_pre(a, b),
            })
            .then_with(|| self.build.cmp(&other.build))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Semver pre-release order: dot-separated identifiers, numeric ones compared as numbers
/// and before alphanumeric ones, a shorter list first when all else is equal.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Version::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid version {s:?}")))
    }
}

/// A compiler as a manifest records it. (Fields in alphabetical order: manifests
/// serialize with sorted keys.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toolchain {
    /// BLAKE3 (hex) over the binary and its library directory; see [`toolchain_id`].
    pub id: String,
    /// `rustc`, `gcc`, `clang` or `zig`.
    pub name: String,
    /// The compiler binary that was hashed (for rustc the real one in the sysroot, not
    /// the rustup proxy on PATH).
    pub path: PathBuf,
    pub version: Version,
}

/// What `rustc -vV` and `rustc --print sysroot` say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RustcInfo {
    pub release: Version,
    pub commit_hash: Option<String>,
    pub commit_date: Option<String>,
    pub host: String,
    pub llvm_version: Option<Version>,
    pub sysroot: PathBuf,
}

/// The C compiler families det knows how to identify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CFamily {
    Gcc,
    Clang,
}

impl CFamily {
    pub fn name(self) -> &'static str {
        match self {
            CFamily::Gcc => "gcc",
            CFamily::Clang => "clang",
        }
    }
}

/// What a C compiler says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CCompilerInfo {
    pub family: CFamily,
    pub version: Version,
    /// gcc: the directory of cc1 (the real compiler and its plug-ins); clang: its
    /// resource directory (built-in headers and runtime libraries).
    pub lib_dir: PathBuf,
}

/// rustc: `$RUSTC`, then `rustc` on PATH (often the rustup proxy; [`identify_rustc`]
/// resolves the real binary through the sysroot).
pub fn find_rustc(env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(r) = env("RUSTC").filter(|r| !r.is_empty()) {
        return resolve_program(Path::new(&r));
    }
    find_on_path("rustc")
}

/// The system C compiler: `$CC` (its first word after a ccache/sccache/distcc wrapper),
/// then `cc`, `gcc`, `clang` on PATH.
pub fn find_cc(env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    if let Some(cc) = env("CC").filter(|c| !c.is_empty()) {
        let cc = cc.to_string_lossy().into_owned();
        let word = cc
            .split_whitespace()
            .find(|w| {
                let base = w.rsplit('/').next().unwrap_or(w);
                !matches!(base, "ccache" | "sccache" | "distcc")
            })?
            .to_string();
        return resolve_program(Path::new(&word));
    }
    ["cc", "gcc", "clang"].iter().find_map(|n| find_on_path(n))
}

fn resolve_program(p: &Path) -> Option<PathBuf> {
    if p.components().count() > 1 {
        is_executable(p).then(|| p.to_path_buf())
    } else {
        find_on_path(&p.to_string_lossy())
    }
}

fn run(program: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        // Untranslated, stable output to parse.
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| Error::io(program, e))?;
    if !out.status.success() {
        return Err(Error::invalid(
            program,
            format!(
                "`{} {}` failed ({}): {}",
                program.display(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| {
        Error::invalid(
            program,
            format!("`{}` printed non-UTF-8 output", args.join(" ")),
        )
    })
}

/// Run `rustc -vV` and `rustc --print sysroot`.
pub fn rustc_info(rustc: &Path) -> Result<RustcInfo> {
    let vv = run(rustc, &["-vV"])?;
    let field = |name: &str| {
        vv.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
            .filter(|v| v != "unknown")
    };
    let release = field("release")
        .and_then(|r| Version::parse(&r))
        .ok_or_else(|| Error::invalid(rustc, format!("`rustc -vV` has no release line: {vv:?}")))?;
    let host = field("host")
        .ok_or_else(|| Error::invalid(rustc, format!("`rustc -vV` has no host line: {vv:?}")))?;
    let sysroot = PathBuf::from(run(rustc, &["--print", "sysroot"])?.trim());
    if !sysroot.is_dir() {
        return Err(Error::invalid(
            rustc,
            format!("sysroot {} is not a directory", sysroot.display()),
        ));
    }
    Ok(RustcInfo {
        release,
        commit_hash: field("commit-hash"),
        commit_date: field("commit-date"),
        host,
        llvm_version: field("LLVM version").and_then(|v| Version::from_version_output(&v)),
        sysroot,
    })
}

/// rustc's identity: the binary in its sysroot (not a rustup proxy) and `<sysroot>/lib`.
pub fn identify_rustc(rustc: &Path) -> Result<Toolchain> {
    let info = rustc_info(rustc)?;
    let real = info
        .sysroot
        .join("bin")
        .join(if cfg!(windows) { "rustc.exe" } else { "rustc" });
    let binary = if real.is_file() {
        real
    } else {
        rustc.to_path_buf()
    };
    let id = toolchain_id(&binary, &info.sysroot.join("lib"))?;
    Ok(Toolchain {
        name: "rustc".into(),
        path: binary,
        version: info.release,
        id,
    })
}

/// Ask a C compiler what it is: family and version from `--version` (with
/// `-dumpfullversion` for gcc, whose banner is vendor-formatted), and its library dir.
pub fn c_compiler_info(cc: &Path) -> Result<CCompilerInfo> {
    let banner = run(cc, &["--version"])?;
    let first = banner.lines().next().unwrap_or("");
    if banner.contains("clang version") {
        let version = Version::from_version_output(
            banner
                .lines()
                .find(|l| l.contains("clang version"))
                .unwrap_or(first),
        )
        .ok_or_else(|| Error::invalid(cc, format!("no version in {first:?}")))?;
        let lib_dir = PathBuf::from(run(cc, &["-print-resource-dir"])?.trim());
        return Ok(CCompilerInfo {
            family: CFamily::Clang,
            version,
            lib_dir,
        });
    }
    if banner.contains("Free Software Foundation") || first.contains("gcc") || first.contains("GCC")
    {
        let version = run(cc, &["-dumpfullversion"])
            .ok()
            .and_then(|v| Version::parse(v.trim()))
            .or_else(|| Version::from_version_output(first))
            .ok_or_else(|| Error::invalid(cc, format!("no version in {first:?}")))?;
        let cc1 = PathBuf::from(run(cc, &["-print-prog-name=cc1"])?.trim());
        let lib_dir = cc1
            .parent()
            .filter(|_| cc1.is_absolute())
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                Error::invalid(
                    cc,
                    format!("cc1 not found (-print-prog-name=cc1 said {cc1:?})"),
                )
            })?;
        return Ok(CCompilerInfo {
            family: CFamily::Gcc,
            version,
            lib_dir,
        });
    }
    Err(Error::invalid(
        cc,
        format!("neither gcc nor clang: `--version` said {first:?}"),
    ))
}

/// The C compiler's identity: its binary (symlinks such as cc → gcc-12 resolved) and
/// its library directory. `zig` (from `CC="zig cc"`) is identified as zig.
pub fn identify_cc(cc: &Path) -> Result<Toolchain> {
    if cc.file_stem().is_some_and(|n| n == "zig") {
        return identify_zig(cc);
    }
    let info = c_compiler_info(cc)?;
    let binary = std::fs::canonicalize(cc).map_err(|e| Error::io(cc, e))?;
    let id = toolchain_id(&binary, &info.lib_dir)?;
    Ok(Toolchain {
        name: info.family.name().into(),
        path: binary,
        version: info.version,
        id,
    })
}

/// zig's identity: `zig version`, the binary and the `lib` directory next to it.
/// zig's install directory and the binary's path within it: the directory holding both
/// the (real) binary and its lib/ — the binary's own directory for release tarballs and
/// the PyPI package (`zig`, `lib/`), the prefix for distribution packages (`bin/zig`,
/// `lib/zig/`). zig finds its lib/ from its own path, so the directory can be moved (or
/// mounted elsewhere) as a whole.
pub fn zig_install_dir(zig: &Path) -> Result<(PathBuf, PathBuf)> {
    let binary = std::fs::canonicalize(zig).map_err(|e| Error::io(zig, e))?;
    let dir = binary.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = PathBuf::from(binary.file_name().unwrap_or_default());
    if dir.join("lib/std").is_dir() {
        return Ok((dir, name));
    }
    if let Some(prefix) = dir.parent()
        && prefix.join("lib/zig/std").is_dir()
        && let Some(bin) = dir.file_name()
    {
        return Ok((prefix.to_path_buf(), Path::new(bin).join(name)));
    }
    Err(Error::invalid(
        &binary,
        "zig's lib directory (with std/) not found",
    ))
}

pub fn identify_zig(zig: &Path) -> Result<Toolchain> {
    let out = run(zig, &["version"])?;
    let version = Version::parse(out.trim())
        .ok_or_else(|| Error::invalid(zig, format!("`zig version` said {:?}", out.trim())))?;
    let binary = std::fs::canonicalize(zig).map_err(|e| Error::io(zig, e))?;
    let lib = zig_lib_dir(&binary)?;
    let id = toolchain_id(&binary, &lib)?;
    Ok(Toolchain {
        name: "zig".into(),
        path: binary,
        version,
        id,
    })
}

/// The `lib` directory of the zig binary `binary` (canonical): release tarballs and the
/// PyPI package put it next to the binary, distribution packages at `../lib/zig`.
pub fn zig_lib_dir(binary: &Path) -> Result<PathBuf> {
    let dir = binary.parent().unwrap_or(Path::new("."));
    [dir.join("lib"), dir.join("../lib/zig")]
        .into_iter()
        .find(|d| d.join("std").is_dir())
        .ok_or_else(|| Error::invalid(binary, "zig's lib directory (with std/) not found"))
}

/// BLAKE3 over a compiler binary's content and the tree hash of its library directory.
/// Python bytecode caches (`__pycache__`), which tools write into their own directories
/// on first use, are skipped.
pub fn toolchain_id(binary: &Path, lib_dir: &Path) -> Result<String> {
    let bin = crate::hash::hash_file(binary)?;
    let filter = crate::hash::TreeFilter::default().skip_name("__pycache__");
    let tree = crate::hash::tree_blake3(lib_dir, &filter)?;
    let mut h = blake3::Hasher::new();
    h.update(b"det-toolchain/1\0");
    h.update(bin.blake3.as_bytes());
    h.update(b"\0");
    h.update(tree.as_bytes());
    Ok(h.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_version_lines() {
        let cases = [
            ("gcc (Debian 12.2.0-14+deb12u1) 12.2.0", "12.2.0"),
            ("cc (GCC) 13.2.1 20230801", "13.2.1"),
            ("clang version 16.0.6", "16.0.6"),
            ("Debian clang version 14.0.6", "14.0.6"),
            ("Apple clang version 15.0.0 (clang-1500.1.0.2.5)", "15.0.0"),
            ("rustc 1.95.0 (59807616e 2026-04-14)", "1.95.0"),
            (
                "rustc 1.97.0-nightly (abcdef012 2026-05-01)",
                "1.97.0-nightly",
            ),
            ("0.17.1", "0.17.1"),
            ("0.14.0-dev.123+abcdef", "0.14.0-dev.123+abcdef"),
            ("22.1.2", "22.1.2"),
        ];
        for (line, want) in cases {
            let got = Version::from_version_output(line)
                .unwrap_or_else(|| panic!("no version in {line:?}"));
            assert_eq!(got.to_string(), want, "{line}");
        }
        assert_eq!(Version::from_version_output("no digits here"), None);
        assert_eq!(Version::parse("1.2.3 trailing"), None);
        assert_eq!(v("16.0"), v("16.0.0"));
    }

    #[test]
    fn orders_like_semver() {
        let ordered = [
            "0.9.9",
            "0.14.0-dev.2",
            "0.14.0-dev.10",
            "0.14.0-dev.10+abc",
            "0.14.0-nightly",
            "0.14.0",
            "0.14.1",
            "1.0.0",
            "1.10.0",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        let json = serde_json::to_string(&v("0.14.0-dev.123+abcdef")).unwrap();
        assert_eq!(json, "\"0.14.0-dev.123+abcdef\"");
        let back: Version = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v("0.14.0-dev.123+abcdef"));
        assert!(serde_json::from_str::<Version>("\"x.y\"").is_err());
    }
}
