//! The build plan: where a build's paths appear (the canonical root, or the fallback to
//! remapping flags), its environment, the flags det adds (merged with the user's), and the
//! shim settings — for cargo or for any command. [`BuildPlan::command`] gives a
//! `std::process::Command` that runs a program under the plan.
//!
//! In the canonical root the command is started through the calling binary itself (a
//! hidden verb, see [`sandbox_exec_main`]): a fresh single-threaded process is the only
//! place `unshare(CLONE_NEWUSER)` works.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::env::{BuildEnv, SourceDateEpoch};
use crate::sandbox::{self, Bind, Spec};
use crate::{Error, Result};

/// The host name every build process sees (through the shim).
pub const HOSTNAME: &str = "det";

/// The exit status of the sandbox helper when the canonical root could not be set up
/// (the command never started). Not one cargo or a compiler uses.
pub const SANDBOX_SETUP_FAILED: i32 = 121;

/// The host directories of a build, each of which has a canonical place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The directory mapped to [`sandbox::SRC`]: the workspace root, or the closest
    /// directory holding both it and every path dependency outside it (so relative
    /// `path = "../x"` dependencies resolve the same way inside).
    pub source_root: PathBuf,
    /// The workspace root (at or below `source_root`).
    pub workspace: PathBuf,
    pub target_dir: PathBuf,
    pub cargo_home: PathBuf,
    /// The Rust sysroot (`rustc --print sysroot`), when it holds `bin/rustc`.
    pub sysroot: Option<PathBuf>,
}

impl Layout {
    /// The layout for a workspace whose path packages live in `package_dirs`.
    pub fn new(
        workspace: &Path,
        package_dirs: &[PathBuf],
        target_dir: &Path,
        cargo_home: &Path,
        sysroot: Option<&Path>,
    ) -> Layout {
        let mut root = workspace.to_path_buf();
        for d in package_dirs {
            while !d.starts_with(&root) {
                match root.parent() {
                    Some(p) => root = p.to_path_buf(),
                    None => break,
                }
            }
        }
        Layout {
            source_root: root,
            workspace: workspace.to_path_buf(),
            target_dir: target_dir.to_path_buf(),
            cargo_home: cargo_home.to_path_buf(),
            sysroot: sysroot
                .filter(|s| s.join("bin").join("rustc").is_file())
                .map(Path::to_path_buf),
        }
    }

    /// The host → canonical pairs, most specific last (what a later pair covers wins).
    pub fn canonical_pairs(&self) -> Vec<(PathBuf, PathBuf)> {
        let mut v = vec![(self.source_root.clone(), PathBuf::from(sandbox::SRC))];
        if let Some(s) = &self.sysroot {
            v.push((s.clone(), PathBuf::from(sandbox::TOOLCHAIN)));
        }
        v.push((self.cargo_home.clone(), PathBuf::from(sandbox::CARGO_HOME)));
        v.push((self.target_dir.clone(), PathBuf::from(sandbox::TARGET)));
        v
    }

    /// Where a host path appears in the canonical root (None: not under a mapped dir).
    pub fn to_canonical(&self, host: &Path) -> Option<PathBuf> {
        self.canonical_pairs()
            .iter()
            .rev()
            .find_map(|(h, c)| host.strip_prefix(h).ok().map(|rest| join(c, rest)))
    }

    /// The host path of a canonical one (the inverse of [`Layout::to_canonical`]).
    pub fn to_host(&self, canonical: &Path) -> PathBuf {
        self.canonical_pairs()
            .iter()
            .rev()
            .find_map(|(h, c)| canonical.strip_prefix(c).ok().map(|rest| join(h, rest)))
            .unwrap_or_else(|| canonical.to_path_buf())
    }
}

fn join(base: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rest)
    }
}

/// How the build's paths are made the same everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum RootMode {
    /// The canonical root in a mount namespace (`user_namespace`: also a user namespace).
    MountNamespace {
        network: bool,
        source_read_only: bool,
        user_namespace: bool,
    },
    /// No namespace: remapping flags only. `reason`: why no namespace; `uncovered`: what
    /// remapping cannot fix in this project.
    Remap {
        reason: String,
        uncovered: Vec<String>,
    },
}

/// What to prefix paths with after the canonical root (or in the fallback, instead of it):
/// `(from, to)` for `--remap-path-prefix` and `-ffile-prefix-map`, most specific last.
/// The workspace's own sources become relative (`src/main.rs`), CARGO_HOME becomes
/// `/cargo`, the target dir `/target`, the sysroot `/rust`.
pub fn remaps(layout: &Layout, canonical: bool) -> Vec<(PathBuf, String)> {
    let pairs = layout.canonical_pairs();
    pairs
        .into_iter()
        .map(|(host, canon)| {
            let to = match canon.to_str() {
                Some(sandbox::SRC) => String::new(),
                Some(sandbox::TOOLCHAIN) => "/rust".into(),
                Some(sandbox::CARGO_HOME) => "/cargo".into(),
                _ => "/target".into(),
            };
            (if canonical { canon } else { host }, to)
        })
        .collect()
}

/// `--remap-path-prefix=FROM=TO` for each pair.
pub fn rustc_remap_flags(pairs: &[(PathBuf, String)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect()
}

/// The C compiler flags for `pairs` (CFLAGS/CXXFLAGS): det's one C flag table,
/// [`crate::command::inject::prefix_map_flags`].
pub fn c_prefix_map_flags(pairs: &[(PathBuf, String)]) -> Vec<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(from, to)| (from.to_string_lossy().into_owned(), to.clone()))
        .collect();
    crate::command::inject::prefix_map_flags(&pairs)
}

/// The shim's settings for a normalized build: the clock at SOURCE_DATE_EPOCH, a fixed
/// host name, sorted directory listings, and a seeded random stream. The last one makes
/// `HashMap` iteration order inside proc macros and build scripts (std seeds its hasher
/// from `getrandom`) the same on every run; the shim's README lists why it is opt-in in
/// general (programs that use randomness to stay apart), and within a build the one
/// consequence is that parallel compilers draw the same temporary names, which they
/// already handle (`O_EXCL` and a retry).
pub fn shim_vars(sde: &SourceDateEpoch) -> Vec<(String, String)> {
    vec![
        ("DET_SHIM_TIME".into(), sde.value.to_string()),
        ("DET_SHIM_HOSTNAME".into(), HOSTNAME.into()),
        ("DET_SHIM_READDIR".into(), "sorted".into()),
        ("DET_SHIM_RANDOM".into(), sde.value.to_string()),
    ]
}

/// A build's plan: the environment and how the root is made.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub layout: Layout,
    /// `Some`: run in the canonical root described; `None`: the remapping fallback.
    pub sandbox: Option<Spec>,
    pub mode: RootMode,
    pub env: BuildEnv,
    /// What det added, by variable (`CARGO_ENCODED_RUSTFLAGS` → det's own flags only),
    /// for the manifest.
    pub injected: BTreeMap<String, Vec<String>>,
}

/// The inputs of [`BuildPlan::new`].
pub struct PlanOptions<'a> {
    pub layout: Layout,
    pub sde: SourceDateEpoch,
    /// The user's environment.
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
    /// Extra variables passed through (`--keep-env`).
    pub keep_env: Vec<String>,
    /// Try the canonical root (false: `--no-canonical-root`).
    pub canonical_root: bool,
    pub network: bool,
    pub writable_source: bool,
    /// The shim library on the host (None: no shim on this platform).
    pub shim: Option<PathBuf>,
    /// The rustc flags cargo would have used without det.
    pub user_rustflags: Vec<String>,
    /// `-v`: show what det runs around the build (a compiler cache's statistics).
    pub verbose: bool,
}

/// Variables a build passes through besides [`crate::env::PASSTHROUGH`]: compiler
/// wrappers (sccache) and their settings, and the user's C flags (det adds to them).
const BUILD_PASSTHROUGH_PREFIXES: &[&str] = &["SCCACHE_", "CARGO_BUILD_", "CARGO_PROFILE_"];
const BUILD_PASSTHROUGH: &[&str] = &[
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CC",
    "CXX",
    "AR",
    "CFLAGS",
    "CXXFLAGS",
    "LDFLAGS",
    "CARGO_NET_OFFLINE",
    "CARGO_TERM_COLOR",
    "CARGO_TERM_VERBOSE",
    "CARGO_TERM_PROGRESS_WHEN",
    "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
];

impl BuildPlan {
    /// Decide the root (probing the kernel when asked for the canonical root), the
    /// environment and the flags.
    pub fn new(opts: PlanOptions<'_>) -> BuildPlan {
        let env = opts.env;
        let forced_off = env("DET_NO_NAMESPACE").is_some_and(|v| !v.is_empty() && v != "0");
        let probe = if !opts.canonical_root {
            Err(sandbox::Unavailable(
                "--no-canonical-root was given".to_string(),
            ))
        } else if forced_off {
            Err(sandbox::Unavailable("DET_NO_NAMESPACE is set".to_string()))
        } else {
            sandbox::probe(opts.network)
        };
        let layout = opts.layout;
        let canonical = probe.is_ok();
        let mut vars = BuildEnv::new(&opts.sde, env);
        let mut keep: Vec<String> = BUILD_PASSTHROUGH.iter().map(|s| s.to_string()).collect();
        keep.extend(opts.keep_env.iter().cloned());
        for k in keep {
            if let Some(v) = env(&k) {
                vars.set(k, v);
            }
        }
        for (k, v) in std::env::vars_os() {
            let Some(k) = k.to_str() else { continue };
            if BUILD_PASSTHROUGH_PREFIXES.iter().any(|p| k.starts_with(p)) && env(k).is_some() {
                vars.set(k.to_string(), v);
            }
        }
        let pairs = remaps(&layout, canonical);
        let mut injected = BTreeMap::new();
        let det_rustflags = rustc_remap_flags(&pairs);
        let mut rustflags = opts.user_rustflags.clone();
        rustflags.extend(det_rustflags.iter().cloned());
        vars.set("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"));
        injected.insert("CARGO_ENCODED_RUSTFLAGS".to_string(), det_rustflags);
        let cflags = c_prefix_map_flags(&pairs);
        for var in ["CFLAGS", "CXXFLAGS"] {
            let mut v: Vec<String> = env(var)
                .map(|v| {
                    v.to_string_lossy()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            v.extend(cflags.iter().cloned());
            vars.set(var, v.join(" "));
            injected.insert(var.to_string(), cflags.clone());
        }
        for (k, v) in shim_vars(&opts.sde) {
            vars.set(k, v);
        }
        let mut binds = Vec::new();
        let mut exec_env = BTreeMap::new();
        let mut finally = Vec::new();
        let sandbox = if canonical {
            let mut dirs = vec![PathBuf::from(sandbox::HOME)];
            binds.push(Bind {
                source: layout.source_root.clone(),
                dest: PathBuf::from(sandbox::SRC),
                writable: opts.writable_source,
            });
            if let Some(s) = &layout.sysroot {
                binds.push(Bind {
                    source: s.clone(),
                    dest: PathBuf::from(sandbox::TOOLCHAIN),
                    writable: false,
                });
            }
            binds.push(Bind {
                source: layout.cargo_home.clone(),
                dest: PathBuf::from(sandbox::CARGO_HOME),
                writable: true,
            });
            binds.push(Bind {
                source: layout.target_dir.clone(),
                dest: PathBuf::from(sandbox::TARGET),
                writable: true,
            });
            if let Some(shim) = &opts.shim {
                binds.push(Bind {
                    source: shim.clone(),
                    dest: PathBuf::from(sandbox::LIB).join("libdetshim.so"),
                    writable: false,
                });
                exec_env.insert(
                    "LD_PRELOAD".to_string(),
                    format!("{}/libdetshim.so", sandbox::LIB),
                );
            }
            // HOME is /det/home everywhere; it shows the user's home directory, so tools
            // that find themselves through HOME (rustup and pyenv shims, sccache's cache,
            // git's configuration) keep working while no build sees the host's path.
            if let Some(home) = env("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute() && h.is_dir())
            {
                binds.push(Bind {
                    source: home,
                    dest: PathBuf::from(sandbox::HOME),
                    writable: true,
                });
            }
            dirs.sort();
            vars.set("HOME", sandbox::HOME);
            vars.set("CARGO_HOME", sandbox::CARGO_HOME);
            vars.set("CARGO_TARGET_DIR", sandbox::TARGET);
            vars.remove("CARGO_BUILD_TARGET_DIR");
            if layout.sysroot.is_some() {
                vars.set("RUSTC", format!("{}/bin/rustc", sandbox::TOOLCHAIN));
                let path = env("PATH").unwrap_or_default();
                let mut p = OsString::from(format!("{}/bin:", sandbox::TOOLCHAIN));
                p.push(path);
                vars.set("PATH", p);
            }
            // sccache runs the compiler in its server: the server must see this root, so
            // it is started in it (on a port of its own) and stopped when the build ends.
            let wrapper = env("RUSTC_WRAPPER").or_else(|| env("CARGO_BUILD_RUSTC_WRAPPER"));
            if let Some(w) =
                wrapper.filter(|w| Path::new(w).file_stem().is_some_and(|s| s == "sccache"))
                && let Some(port) = free_port()
            {
                vars.set("SCCACHE_SERVER_PORT", port.to_string());
                finally.push(vec![w.clone(), OsString::from("--stop-server")]);
            }
            Some(Spec {
                binds,
                dirs,
                network: opts.network,
                cwd: layout
                    .to_canonical(&layout.workspace)
                    .unwrap_or_else(|| PathBuf::from(sandbox::SRC)),
                exec_env,
                finally,
                finally_shown: opts.verbose,
            })
        } else {
            if let Some(shim) = &opts.shim {
                vars.set("LD_PRELOAD", shim);
            }
            None
        };
        let mode = match (&sandbox, probe) {
            (Some(_), _) => RootMode::MountNamespace {
                network: opts.network,
                source_read_only: !opts.writable_source,
                // SAFETY: geteuid has no preconditions.
                user_namespace: unsafe { libc::geteuid() } != 0,
            },
            (None, Err(why)) => RootMode::Remap {
                reason: why.0,
                uncovered: Vec::new(),
            },
            (None, Ok(())) => unreachable!("a probe that succeeded gives a sandbox"),
        };
        BuildPlan {
            layout,
            sandbox,
            mode,
            env: vars,
            injected,
        }
    }

    /// `program args` under the plan: in the canonical root through `helper` (the calling
    /// binary, which must dispatch its first argument `__sandbox-exec` to
    /// [`sandbox_exec_main`]), or directly in the fallback. `cwd` is a host path (mapped
    /// into the root).
    pub fn command(
        &self,
        helper: &Path,
        program: &OsStr,
        args: &[OsString],
        cwd: &Path,
    ) -> Command {
        match &self.sandbox {
            Some(spec) => {
                let mut spec = spec.clone();
                if let Some(c) = self.layout.to_canonical(cwd) {
                    spec.cwd = c;
                }
                let mut cmd = Command::new(helper);
                self.env.apply(&mut cmd);
                cmd.env(sandbox::SPEC_VAR, spec.to_json());
                cmd.arg(SANDBOX_EXEC_VERB).arg(program).args(args);
                cmd
            }
            None => {
                let mut cmd = Command::new(program);
                self.env.apply(&mut cmd);
                cmd.args(args).current_dir(cwd);
                cmd
            }
        }
    }
}

impl BuildPlan {
    /// Make the host directory `source` appear at `dest` (under [`sandbox::ROOT`]) in the
    /// canonical root, after the plan's own mounts. Returns where the build sees it:
    /// `dest`, or `source` itself in the fallback (no root).
    pub fn mount(&mut self, source: &Path, dest: &str, writable: bool) -> PathBuf {
        match &mut self.sandbox {
            Some(spec) => {
                spec.binds.push(Bind {
                    source: source.to_path_buf(),
                    dest: PathBuf::from(dest),
                    writable,
                });
                PathBuf::from(dest)
            }
            None => source.to_path_buf(),
        }
    }
}

/// The hidden verb of a binary that hosts [`sandbox_exec_main`].
pub const SANDBOX_EXEC_VERB: &str = "__sandbox-exec";

/// A TCP port on localhost that is free now (the kernel's choice).
fn free_port() -> Option<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).ok()?;
    l.local_addr().ok().map(|a| a.port())
}

/// The body of the hidden `__sandbox-exec PROGRAM ARGS...` verb: read the spec from
/// [`sandbox::SPEC_VAR`], enter the canonical root and `exec` the program. Returns only
/// on failure, with the exit status to use ([`SANDBOX_SETUP_FAILED`]) after printing why.
pub fn sandbox_exec_main(program: &OsStr, args: &[OsString]) -> i32 {
    let run = || -> Result<std::io::Error> {
        let spec = std::env::var(sandbox::SPEC_VAR)
            .map_err(|_| Error::Other(format!("{} is not set (internal)", sandbox::SPEC_VAR)))?;
        let spec = Spec::from_json(&spec)?;
        sandbox::enter(&spec)?;
        use std::os::fd::AsFd;
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_remove(sandbox::SPEC_VAR)
            .envs(&spec.exec_env);
        if spec.finally.is_empty() {
            return Ok(cmd.exec());
        }
        // Commands to run after the program, in the same root: the helper stays as its
        // parent (ignoring Ctrl-C, which the program receives and acts on).
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return Ok(e),
        };
        // SAFETY: setting SIGINT/SIGQUIT to be ignored in this single-threaded helper.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        }
        let status = child.wait();
        for f in &spec.finally {
            if let Some((p, a)) = f.split_first() {
                let shown = || {
                    if spec.finally_shown {
                        std::io::stderr()
                            .as_fd()
                            .try_clone_to_owned()
                            .map(std::process::Stdio::from)
                            .unwrap_or_else(|_| std::process::Stdio::null())
                    } else {
                        std::process::Stdio::null()
                    }
                };
                let _ = Command::new(p)
                    .args(a)
                    .env_remove(sandbox::SPEC_VAR)
                    .stdin(std::process::Stdio::null())
                    .stdout(shown())
                    .stderr(shown())
                    .status();
            }
        }
        use std::os::unix::process::ExitStatusExt;
        let code = match status {
            Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
            Err(_) => SANDBOX_SETUP_FAILED,
        };
        std::process::exit(code);
    };
    match run() {
        Ok(exec_error) => eprintln!(
            "error: canonical root: starting {}: {exec_error}",
            Path::new(program).display()
        ),
        Err(e) => eprintln!("error: {e}"),
    }
    SANDBOX_SETUP_FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_maps_both_ways_and_takes_the_common_root_of_path_deps() {
        let l = Layout::new(
            Path::new("/home/u/repo/ws"),
            &[
                PathBuf::from("/home/u/repo/ws/member"),
                PathBuf::from("/home/u/repo/libs/x"),
            ],
            Path::new("/home/u/repo/ws/target"),
            Path::new("/home/u/.cargo"),
            None,
        );
        assert_eq!(l.source_root, Path::new("/home/u/repo"));
        assert_eq!(
            l.to_canonical(Path::new("/home/u/repo/ws/src/main.rs")),
            Some(PathBuf::from("/det/src/ws/src/main.rs"))
        );
        assert_eq!(
            l.to_canonical(Path::new("/home/u/repo/ws/target/release/x")),
            Some(PathBuf::from("/det/target/release/x"))
        );
        assert_eq!(
            l.to_host(Path::new("/det/target/release/x")),
            Path::new("/home/u/repo/ws/target/release/x")
        );
        assert_eq!(l.to_canonical(Path::new("/etc/passwd")), None);
        let flags = rustc_remap_flags(&remaps(&l, true));
        assert_eq!(
            flags,
            [
                "--remap-path-prefix=/det/src=",
                "--remap-path-prefix=/det/cargo=/cargo",
                "--remap-path-prefix=/det/target=/target"
            ]
        );
        let c = c_prefix_map_flags(&remaps(&l, false));
        assert_eq!(c[0], "-ffile-prefix-map=/home/u/repo=.");
    }
}
