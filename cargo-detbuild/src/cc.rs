//! The C compiler wrapper: `cargo det-build cc|c++|ar -- ARGS`, also run as `cc`, `c++`,
//! `gcc`, `g++`, `clang`, `clang++` or `ar` through a symbolic link (argv[0]). It calls the
//! chosen toolchain — `zig cc`/`zig c++`/`zig ar` with an explicit target, or the system's
//! gcc/clang/ar — with the flags det-common's table adds (`command::inject`), everything
//! else passed through untouched, and replaces itself with the compiler (exec), so the
//! compiler's output and exit status are the build's.
//!
//! Its settings come from the environment that `det-build` sets for a build:
//! `DET_CC_TOOLCHAIN` (`zig` or `system`), `DET_ZIG` (the zig binary), `DET_ZIG_TARGET`,
//! `DET_ZIG_CACHE` (zig's cache for this root), `DET_CC_REAL`/`DET_CXX_REAL`/`DET_AR_REAL`
//! (the user's own CC/CXX/AR, called in system mode) and `DET_ROOT` (the project root,
//! mapped to `.` like the working directory).

use anyhow::{Context, Result, bail};
use det_common::command::ToolFamily;
use det_common::command::inject::{
    CcContext, CcMode, ar_args, c_flags, cc_mode, expand_response_files,
};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// What the wrapper stands in for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tool {
    Cc,
    Cxx,
    Ar,
}

impl Tool {
    /// The tool a program name stands for (`x86_64-linux-gnu-gcc-12` included).
    pub(crate) fn from_argv0(argv0: &OsStr) -> Option<Tool> {
        let name = Path::new(argv0).file_name()?.to_str()?;
        let (family, _) = det_common::command::classify(&[name.to_owned()])?;
        match family {
            ToolFamily::Ar => Some(Tool::Ar),
            ToolFamily::Gcc | ToolFamily::Clang if name.contains("++") => Some(Tool::Cxx),
            ToolFamily::Gcc | ToolFamily::Clang => Some(Tool::Cc),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tool::Cc => "cc",
            Tool::Cxx => "c++",
            Tool::Ar => "ar",
        }
    }
}

/// Which C toolchain a build uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CcChoice {
    /// zig cc / zig c++ / zig ar: one binary with its sysroots, the hermetic choice.
    Zig,
    /// gcc or clang as found ($CC honoured), and ar.
    System,
}

impl CcChoice {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CcChoice::Zig => "zig",
            CcChoice::System => "system",
        }
    }
}

/// How to install zig, for the message when it is missing.
pub(crate) const ZIG_MISSING: &str = "zig not found: install it with `python3 -m pip install ziglang` (det finds it there), put `zig` on PATH, or set ZIG=/path/to/zig";

/// The zig target for this host: `<arch>-linux-gnu` (zig's default glibc version; give
/// `--zig-target x86_64-linux-gnu.2.17` to target an older glibc, or `...-linux-musl`).
pub(crate) fn host_zig_target() -> String {
    let abi = if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    };
    format!("{}-{}-{abi}", std::env::consts::ARCH, std::env::consts::OS)
}

fn env_path(k: &str) -> Option<PathBuf> {
    std::env::var_os(k)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The first program named one of `names` on PATH that is not this wrapper.
fn find_real(names: &[&str]) -> Option<PathBuf> {
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            let Ok(real) = p.canonicalize() else { continue };
            if Some(&real) == me.as_ref() || !real.is_file() {
                continue;
            }
            return Some(p);
        }
    }
    None
}

/// The wrapper's settings (from the environment det sets, or from the command line).
#[derive(Clone, Debug, Default)]
pub(crate) struct WrapConfig {
    pub zig_mode: bool,
    pub zig: Option<PathBuf>,
    pub zig_target: Option<String>,
    pub zig_cache: Option<PathBuf>,
    pub root: Option<String>,
}

impl WrapConfig {
    pub(crate) fn from_env() -> WrapConfig {
        WrapConfig {
            zig_mode: std::env::var("DET_CC_TOOLCHAIN").as_deref() == Ok("zig"),
            zig: env_path("DET_ZIG"),
            zig_target: std::env::var("DET_ZIG_TARGET")
                .ok()
                .filter(|t| !t.is_empty()),
            zig_cache: env_path("DET_ZIG_CACHE"),
            root: std::env::var("DET_ROOT").ok().filter(|r| !r.is_empty()),
        }
    }
}

/// A Rust target triple as zig names it (`x86_64-unknown-linux-gnu` → `x86_64-linux-gnu`,
/// `aarch64-apple-darwin` → `aarch64-macos`); `None` when it is not one.
pub(crate) fn zig_triple(t: &str) -> Option<String> {
    let parts: Vec<&str> = t.split('-').collect();
    match parts.as_slice() {
        [arch, _vendor, os, abi] => Some(format!("{arch}-{os}-{abi}")),
        [arch, "apple", "darwin"] => Some(format!("{arch}-macos")),
        [arch, "unknown" | "pc", os] => Some(format!("{arch}-{os}")),
        _ => None,
    }
}

/// The program and leading words to run, and the family that decides the flags.
fn resolve(tool: Tool, cfg: &WrapConfig) -> Result<(PathBuf, Vec<OsString>, ToolFamily)> {
    if cfg.zig_mode {
        let zig = cfg
            .zig
            .clone()
            .or_else(det_common::toolchain::find_zig)
            .context(ZIG_MISSING)?;
        let lead: Vec<OsString> = vec![tool.name().into()];
        return Ok((zig, lead, ToolFamily::ZigCc));
    }
    let (var, names): (&str, &[&str]) = match tool {
        Tool::Cc => ("DET_CC_REAL", &["cc", "gcc", "clang"]),
        Tool::Cxx => ("DET_CXX_REAL", &["c++", "g++", "clang++"]),
        Tool::Ar => ("DET_AR_REAL", &["ar", "llvm-ar"]),
    };
    let program = match env_path(var) {
        Some(p) => p,
        None => find_real(names).with_context(|| {
            format!(
                "no system {} found on PATH (looked for {})",
                tool.name(),
                names.join(", ")
            )
        })?,
    };
    // `cc` is a link to gcc or clang: the resolved name says which.
    let real_name = program
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let family = det_common::command::classify(&[real_name])
        .or_else(|| det_common::command::classify(&[program.to_string_lossy().into_owned()]))
        .map(|(f, _)| f)
        .unwrap_or(if tool == Tool::Ar {
            ToolFamily::Ar
        } else {
            ToolFamily::Gcc
        });
    Ok((program, Vec::new(), family))
}

/// The command the wrapper runs for `tool` with `args`.
pub(crate) fn command(
    tool: Tool,
    args: &[OsString],
    cfg: &WrapConfig,
) -> Result<std::process::Command> {
    let text: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (program, lead, family) = resolve(tool, cfg)?;
    let mut cmd = std::process::Command::new(&program);
    cmd.args(&lead);
    let zig_mode = family == ToolFamily::ZigCc;
    if zig_mode && let Some(cache) = &cfg.zig_cache {
        cmd.env("ZIG_GLOBAL_CACHE_DIR", cache.join("global"))
            .env("ZIG_LOCAL_CACHE_DIR", cache.join("local"));
    }
    if tool == Tool::Ar {
        // Only a plain operation word is rewritten; anything else goes through.
        let fixed = ar_args(&text);
        for (orig, new) in args.iter().zip(&fixed) {
            if orig.to_str() == Some(new.as_str()) {
                cmd.arg(orig);
            } else {
                cmd.arg(new);
            }
        }
        return Ok(cmd);
    }
    let cwd = std::env::current_dir().context("the working directory")?;
    let expanded = expand_response_files(&text, &cwd);
    let mode = cc_mode(&expanded);
    let root = cfg.root.clone();
    let cwd_s = cwd.to_string_lossy().into_owned();
    let mut maps = vec![(cwd_s.clone(), ".".to_owned())];
    if let Some(r) = &root {
        maps.push((r.clone(), ".".to_owned()));
    }
    let cx = CcContext {
        prefix_maps: maps,
        root,
        cwd: cwd_s,
        source_date_epoch: std::env::var_os("SOURCE_DATE_EPOCH").is_some_and(|v| !v.is_empty()),
    };
    // zig takes its own target names: a Rust triple (the cc crate passes
    // `--target=x86_64-unknown-linux-gnu`) is translated, and the host's gets det's
    // zig target (with its glibc version); without one, zig gets det's explicitly.
    let mut zig_target: Option<String> = None;
    let mut skip_next = false;
    let mut passed: Vec<&OsString> = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        if zig_mode {
            let value = match a.to_str() {
                Some("-target" | "--target") => {
                    skip_next = true;
                    args.get(i + 1).and_then(|v| v.to_str())
                }
                Some(s) => s.strip_prefix("--target="),
                None => None,
            };
            if let Some(v) = value {
                zig_target = Some(zig_triple(v).unwrap_or_else(|| v.to_owned()));
                continue;
            }
            // zig links Rust binaries with its own libunwind, which replaces libgcc_s.
            if mode == CcMode::Link && a == "-lgcc_s" {
                cmd.arg("-lunwind");
                continue;
            }
        }
        passed.push(a);
    }
    if zig_mode && tool != Tool::Ar {
        let host = host_zig_target();
        let target = match zig_target {
            Some(t) if t != host => t,
            _ => cfg.zig_target.clone().unwrap_or(host),
        };
        cmd.arg("-target").arg(target);
    }
    cmd.args(passed);
    cmd.args(c_flags(family, &expanded, &cx));
    Ok(cmd)
}

/// Run the wrapper: replace this process with the compiler. Returns only on failure.
pub(crate) fn exec(
    tool: Tool,
    args: &[OsString],
    cfg: &WrapConfig,
) -> Result<std::convert::Infallible> {
    use std::os::unix::process::CommandExt;
    let mut cmd = command(tool, args, cfg)?;
    let err = cmd.exec();
    bail!("running {:?}: {err}", cmd.get_program())
}

/// A directory of symbolic links named `cc`, `c++`, `gcc`, `g++`, `ar` to this binary, in
/// the cache directory, for CC/CXX/AR to point at.
pub(crate) fn wrapper_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("locating cargo-det-build")?;
    let key = blake3::hash(exe.as_os_str().as_encoded_bytes()).to_hex();
    let base = crate::shim::cache_dir()?;
    let dir = base.join(format!("cc-wrappers-{}", &key[..16]));
    let names = ["cc", "c++", "gcc", "g++", "ar"];
    if names
        .iter()
        .all(|n| std::fs::read_link(dir.join(n)).is_ok_and(|t| t == exe))
    {
        return Ok(dir);
    }
    std::fs::create_dir_all(&base)
        .with_context(|| format!("creating the cache directory {}", base.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".cc-wrappers-")
        .tempdir_in(&base)
        .with_context(|| format!("creating a directory in {}", base.display()))?;
    for n in names {
        std::os::unix::fs::symlink(&exe, tmp.path().join(n))
            .with_context(|| format!("linking {}", tmp.path().join(n).display()))?;
    }
    let tmp = tmp.keep();
    if std::fs::rename(&tmp, &dir).is_err() {
        // Someone else made it (or an old one is in the way): replace an old one.
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok(dir)
}

/// zig as a build sees it: the binary and the cache directory (in the canonical root
/// [`det_common::sandbox::ZIG`] and [`det_common::sandbox::ZIG_CACHE`], mounted from the
/// host; in the fallback the host's own paths).
#[derive(Clone, Debug)]
pub(crate) struct ZigSeen {
    pub binary: PathBuf,
    pub cache: PathBuf,
    /// zig is at a path that is the same on every machine (the canonical root).
    pub canonical: bool,
}

/// What remapping cannot fix when zig runs from its host path (no canonical root).
pub(crate) fn zig_path_uncovered(install: &Path) -> String {
    format!(
        "zig's libc start files (crt1.o, libc_nonshared.a) are built with zig's install directory {} in their debug information: zig-linked outputs match only where zig is installed at that same path",
        install.display()
    )
}

/// Mount zig (its install directory) and a cache for this project into the plan's
/// canonical root, and say where the build sees them. The host cache is one per project
/// root and zig (`zig-cache-<hash>` in det's cache directory): zig's cache ignores
/// SOURCE_DATE_EPOCH and keeps the working directory of the first compile, so it is never
/// shared between roots.
pub(crate) fn mount_zig(
    plan: &mut det_common::build::BuildPlan,
    zig: &Path,
    zig_id: &str,
    root_host: &Path,
) -> Result<ZigSeen> {
    use det_common::sandbox::{ZIG, ZIG_CACHE};
    let (install, rel) = det_common::toolchain::zig_install_dir(zig)?;
    let mut h = blake3::Hasher::new();
    h.update(root_host.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    h.update(zig_id.as_bytes());
    let key = h.finalize().to_hex();
    let cache = crate::shim::cache_dir()?.join(format!("zig-cache-{}", &key[..16]));
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("creating zig's cache {}", cache.display()))?;
    let seen_install = plan.mount(&install, ZIG, false);
    let cache = plan.mount(&cache, ZIG_CACHE, true);
    let canonical = plan.sandbox.is_some();
    if let det_common::build::RootMode::Remap { uncovered, .. } = &mut plan.mode {
        uncovered.push(zig_path_uncovered(&install));
    }
    Ok(ZigSeen {
        binary: seen_install.join(rel),
        cache,
        canonical,
    })
}

/// The environment that makes a build's C compilers the wrapper: CC, CXX, AR, the forms
/// the `cc` crate reads per target (`CC_x86_64-unknown-linux-gnu`,
/// `CC_x86_64_unknown_linux_gnu`, `HOST_CC`, `TARGET_CC`, and the same for CXX and AR),
/// the wrapper's own settings, and with zig, zig as the Rust linker for `host` (the Rust
/// target triple).
pub(crate) fn cc_env(
    choice: CcChoice,
    zig: Option<&ZigSeen>,
    zig_target: Option<&str>,
    root: &Path,
    host: &str,
) -> Result<Vec<(String, OsString)>> {
    let dir = wrapper_dir()?;
    let mut env: Vec<(String, OsString)> = Vec::new();
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let us = host.replace('-', "_");
    for (tool, real_var, name) in [
        ("CC", "DET_CC_REAL", "cc"),
        ("CXX", "DET_CXX_REAL", "c++"),
        ("AR", "DET_AR_REAL", "ar"),
    ] {
        // The user's own choice is what the wrapper calls in system mode.
        let theirs = [
            format!("{tool}_{host}"),
            format!("{tool}_{us}"),
            format!("TARGET_{tool}"),
            tool.to_owned(),
        ]
        .iter()
        .find_map(|k| var(k));
        if let Some(t) = theirs {
            let first = t
                .to_string_lossy()
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned();
            if !first.is_empty() && !first.contains("det-build") {
                env.push((real_var.to_owned(), first.into()));
            }
        }
        let w: OsString = dir.join(name).into();
        for k in [
            tool.to_owned(),
            format!("{tool}_{host}"),
            format!("{tool}_{us}"),
            format!("HOST_{tool}"),
            format!("TARGET_{tool}"),
        ] {
            env.push((k, w.clone()));
        }
    }
    env.push(("DET_CC_TOOLCHAIN".into(), choice.name().into()));
    env.push(("DET_ROOT".into(), root.as_os_str().to_owned()));
    if choice == CcChoice::Zig {
        let zig = zig.context(ZIG_MISSING)?;
        env.push(("DET_ZIG".into(), zig.binary.as_os_str().to_owned()));
        env.push((
            "DET_ZIG_TARGET".into(),
            zig_target
                .map_or_else(host_zig_target, str::to_owned)
                .into(),
        ));
        env.push(("DET_ZIG_CACHE".into(), zig.cache.as_os_str().to_owned()));
        env.push((
            format!("CARGO_TARGET_{}_LINKER", us.to_uppercase()),
            dir.join("cc").into(),
        ));
    }
    Ok(env)
}

pub(crate) const WRAPPER_HELP: &str = "\
The same wrapper runs when this binary is called through a symbolic link named cc, c++, gcc,
g++, clang, clang++ or ar; det's builds point CC, CXX and AR (and the cc crate's CC_<target>
forms) at such links. Everything besides det's flags reaches the compiler untouched, and
its output and exit status are the command's.

Example:
  cargo det-build cc --cc zig -- -O2 -c hello.c -o hello.o";

#[derive(clap::Args)]
pub(crate) struct WrapperArgs {
    /// The toolchain: zig (zig cc/c++/ar, hermetic) or system (gcc/clang as found, $CC
    /// honoured)
    #[arg(long, value_enum, default_value = "system", value_name = "TOOLCHAIN")]
    cc: CcChoice,
    /// zig's target: the host's `<arch>-linux-gnu` by default; a glibc version
    /// (x86_64-linux-gnu.2.17) or musl (x86_64-linux-musl) when asked
    #[arg(long, value_name = "TRIPLE")]
    zig_target: Option<String>,
    /// The compiler's arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    args: Vec<OsString>,
}

/// `cargo det-build cc|c++|ar [--cc zig|system] -- ARGS`: the environment's settings, with
/// the command line's toolchain choice over them.
pub(crate) fn wrap(tool: Tool, w: WrapperArgs) -> Result<std::process::ExitCode> {
    let mut cfg = WrapConfig::from_env();
    cfg.zig_mode = w.cc == CcChoice::Zig;
    if w.zig_target.is_some() {
        cfg.zig_target = w.zig_target;
    }
    match exec(tool, &w.args, &cfg)? {}
}
