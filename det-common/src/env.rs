//! The normalized build environment: the variables det sets for every build, the ones it
//! passes through from the user's environment (everything else is dropped), the umask,
//! and the resolution of SOURCE_DATE_EPOCH (flag > environment > last git commit >
//! 1980-01-01), which remembers where its value came from.
//!
//! Nothing here reads or changes the process environment implicitly: callers pass a
//! lookup function (`&|k| std::env::var_os(k)` in the binaries, a map in tests).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The umask of every build process: files 0644, directories and executables 0755,
/// whatever the user's umask (002 on many desktops, 077 on hardened hosts). It is not an
/// environment variable; [`BuildEnv::apply`] sets it in the child.
pub const UMASK: u32 = 0o022;

/// 1980-01-01T00:00:00Z: the earliest time a zip entry can hold, so every archive format
/// can represent the fallback SOURCE_DATE_EPOCH.
pub const DEFAULT_SOURCE_DATE_EPOCH: u64 = 315_532_800;

/// Set for every build, whatever the user's environment says. Each one, and why:
const FIXED: &[(&str, &str)] = &[
    // Dates formatted by the build (`date`, strftime, __DATE__-like code in build
    // scripts) must not depend on the host's zone.
    ("TZ", "UTC"),
    // The locale changes sort order (`sort`, `ls`, glob order in shells), number and
    // date formats, and translated compiler messages that end up in logs and outputs.
    // C.UTF-8 sorts by code point and keeps UTF-8 file names working; glibc >= 2.35 and
    // Debian/Ubuntu have it (where it is missing glibc falls back to "C", which sorts the
    // same). LC_ALL overrides every LC_* variable; LANG is set too for the few tools
    // that read only LANG. LANGUAGE is not passed through: it would override message
    // translation (gettext) despite LC_ALL.
    ("LC_ALL", "C.UTF-8"),
    ("LANG", "C.UTF-8"),
    // Python: fixed str/bytes hash seed, so set and dict-of-set iteration order in
    // build scripts and code generators does not change from run to run.
    ("PYTHONHASHSEED", "0"),
    // Python: no implicit .pyc files next to imported build helpers (they carry the
    // source mtime and would appear in the source tree and in packaged outputs).
    // py_compile/compileall, which packaging uses on purpose, are not affected.
    ("PYTHONDONTWRITEBYTECODE", "1"),
    // Apple ld64 and ar: write zero instead of the current time into archive members
    // and debug map entries (N_OSO). Ignored everywhere else.
    ("ZERO_AR_DATE", "1"),
    // Cargo: no incremental compilation, whose output depends on the state left by
    // earlier builds (and is off in release builds anyway).
    ("CARGO_INCREMENTAL", "0"),
];
// Deliberately NOT set:
// - GZIP=-n (no name/mtime in gzip headers): gzip >= 1.10 warns that the GZIP variable
//   is obsolete on every call, and builds that treat warnings on stderr as errors break.
//   Gzip headers are normalized by `cargo det-build normalize` instead.
// - TAR_OPTIONS (--sort=name --mtime=... --owner=0): GNU tar rejects options it does not
//   know (--sort needs tar >= 1.28), so an old tar would fail on every call, including
//   extractions in build scripts; bsdtar ignores it. Archives are normalized afterwards.
// - RUSTC_BOOTSTRAP: changes what compiles, not how reproducibly; passed through as is.

/// Taken from the user's environment when set; everything not listed here (USER,
/// HOSTNAME, TMPDIR, LANGUAGE, LD_PRELOAD, CFLAGS, RUSTFLAGS, ...) is dropped. Flags and
/// compilers are injected by det-build itself and recorded in the manifest.
pub const PASSTHROUGH: &[&str] = &[
    // Where to find tools, and the per-user state cargo, rustup and zig keep.
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTC_BOOTSTRAP",
    "XDG_CACHE_HOME",
    "ZIG",
    // Fetching dependencies: proxies, certificates, SSH agent for git dependencies.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SSH_AUTH_SOCK",
    // Only the colour of diagnostics on the terminal.
    "TERM",
    "NO_COLOR",
];

/// Where the SOURCE_DATE_EPOCH of a build came from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceDateEpochSource {
    /// `--source-date-epoch` on the command line.
    Flag,
    /// SOURCE_DATE_EPOCH in the environment det was started in.
    Environment,
    /// The committer time of the workspace's last git commit.
    GitCommit,
    /// None of the above: 1980-01-01.
    Default,
}

impl fmt::Display for SourceDateEpochSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceDateEpochSource::Flag => "the --source-date-epoch flag",
            SourceDateEpochSource::Environment => "SOURCE_DATE_EPOCH in the environment",
            SourceDateEpochSource::GitCommit => "the time of the last git commit",
            SourceDateEpochSource::Default => "the default (1980-01-01)",
        })
    }
}

/// A resolved SOURCE_DATE_EPOCH (seconds since 1970-01-01 UTC) and its source.
/// (Fields in alphabetical order: manifests serialize with sorted keys.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDateEpoch {
    pub source: SourceDateEpochSource,
    pub value: u64,
}

impl fmt::Display for SourceDateEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.value, self.source)
    }
}

/// Resolve SOURCE_DATE_EPOCH: `flag` (the raw `--source-date-epoch` value) > the
/// variable in `env` > the committer time of the last commit of the git repository
/// holding `workspace` > [`DEFAULT_SOURCE_DATE_EPOCH`].
///
/// An invalid value (not a number, negative, too large) is an error naming where it came
/// from; it never falls through to the next source. An empty variable counts as unset
/// (CI templates often export `SOURCE_DATE_EPOCH=`). No git, not a repository, or a
/// repository without commits fall through to the default.
pub fn resolve_source_date_epoch(
    flag: Option<&str>,
    workspace: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<SourceDateEpoch> {
    if let Some(v) = flag {
        return Ok(SourceDateEpoch {
            value: parse_epoch(v, SourceDateEpochSource::Flag)?,
            source: SourceDateEpochSource::Flag,
        });
    }
    if let Some(v) = env("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) {
        let v = v.to_str().ok_or_else(|| {
            Error::Other(format!(
                "{}: not valid UTF-8 ({v:?})",
                SourceDateEpochSource::Environment
            ))
        })?;
        return Ok(SourceDateEpoch {
            value: parse_epoch(v, SourceDateEpochSource::Environment)?,
            source: SourceDateEpochSource::Environment,
        });
    }
    if let Some(value) = last_commit_time(workspace)? {
        return Ok(SourceDateEpoch {
            value,
            source: SourceDateEpochSource::GitCommit,
        });
    }
    Ok(SourceDateEpoch {
        value: DEFAULT_SOURCE_DATE_EPOCH,
        source: SourceDateEpochSource::Default,
    })
}

fn parse_epoch(v: &str, source: SourceDateEpochSource) -> Result<u64> {
    let t = v.trim();
    // u64::from_str accepts a leading '+'; the reproducible-builds specification asks
    // for ASCII digits only.
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        let why = if t.starts_with('-') {
            "negative"
        } else {
            "not a non-negative integer"
        };
        return Err(Error::Other(format!(
            "invalid SOURCE_DATE_EPOCH {v:?} from {source}: {why} (seconds since 1970-01-01 UTC)"
        )));
    }
    // Beyond year 9999 no archive or date format can hold it, and i64 time_t overflows
    // long before u64 does.
    const MAX: u64 = 253_402_300_799;
    match t.parse::<u64>() {
        Ok(n) if n <= MAX => Ok(n),
        _ => Err(Error::Other(format!(
            "invalid SOURCE_DATE_EPOCH {v:?} from {source}: too large (the maximum is {MAX}, 9999-12-31T23:59:59Z)"
        ))),
    }
}

/// The committer time of HEAD in the repository holding `workspace`, or None when git is
/// missing, `workspace` is not in a repository, or the repository has no commit yet.
fn last_commit_time(workspace: &Path) -> Result<Option<u64>> {
    let out = match Command::new("git")
        .arg("-C")
        .arg(workspace)
        .args(["log", "-1", "--format=%ct"])
        // A user's GIT_DIR/GIT_WORK_TREE would point git at another repository.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Other(format!(
                "running git in {}: {e}",
                workspace.display()
            )));
        }
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("not a git repository")
            || stderr.contains("does not have any commits")
            || stderr.contains("bad default revision")
        {
            return Ok(None);
        }
        return Err(Error::invalid(
            workspace,
            format!("git log -1 failed: {}", stderr.trim()),
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.trim();
    if line.is_empty() {
        return Ok(None);
    }
    parse_epoch(line, SourceDateEpochSource::GitCommit)
        .map(Some)
        .map_err(|e| Error::invalid(workspace, e.to_string()))
}

/// The environment of a build: the fixed variables, SOURCE_DATE_EPOCH, and the
/// [`PASSTHROUGH`] variables found in the user's environment. Sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEnv {
    vars: BTreeMap<String, OsString>,
}

impl BuildEnv {
    pub fn new(sde: &SourceDateEpoch, env: &dyn Fn(&str) -> Option<OsString>) -> BuildEnv {
        let mut vars = BTreeMap::new();
        for name in PASSTHROUGH {
            if let Some(v) = env(name) {
                vars.insert((*name).to_string(), v);
            }
        }
        vars.extend(
            Self::fixed(sde)
                .into_iter()
                .map(|(k, v)| (k, OsString::from(v))),
        );
        BuildEnv { vars }
    }

    /// The variables det sets, whatever the host: what a manifest records (the
    /// pass-through values are host-specific, PATH and HOME differ on every machine).
    pub fn fixed(sde: &SourceDateEpoch) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = FIXED
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        m.insert("SOURCE_DATE_EPOCH".to_string(), sde.value.to_string());
        m
    }

    /// Every variable of the build, sorted by name.
    pub fn vars(&self) -> &BTreeMap<String, OsString> {
        &self.vars
    }

    /// Add or replace a variable (det-build's own: LD_PRELOAD of the shim, RUSTFLAGS...).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<OsString>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Drop a variable.
    pub fn remove(&mut self, name: &str) {
        self.vars.remove(name);
    }

    /// Make `cmd` run in exactly this environment (the inherited one is cleared) with
    /// umask [`UMASK`].
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env_clear();
        cmd.envs(&self.vars);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: umask(2) is async-signal-safe and allocates nothing, as required
            // between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::umask(UMASK as libc::mode_t);
                    Ok(())
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_what_the_spec_rejects() {
        let s = SourceDateEpochSource::Flag;
        assert_eq!(parse_epoch("1700000000", s).unwrap(), 1_700_000_000);
        assert_eq!(parse_epoch(" 0\n", s).unwrap(), 0);
        for bad in ["", "abc", "+5", "1.5", "1e9", "0x10"] {
            let e = parse_epoch(bad, s).unwrap_err().to_string();
            assert!(e.contains("not a non-negative integer"), "{bad}: {e}");
            assert!(e.contains("--source-date-epoch flag"), "{bad}: {e}");
        }
        let e = parse_epoch("-1", s).unwrap_err().to_string();
        assert!(e.contains("negative"), "{e}");
        let e = parse_epoch("99999999999999999999999", s)
            .unwrap_err()
            .to_string();
        assert!(e.contains("too large"), "{e}");
        assert!(parse_epoch("253402300800", s).is_err());
        assert_eq!(parse_epoch("253402300799", s).unwrap(), 253_402_300_799);
    }
}
