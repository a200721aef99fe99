//! `cargo det-build exec [--cc zig|system] [--outputs GLOB]... -- CMD...`: any build (make,
//! cmake, meson, `python -m build`, a script) under det's plan (det-common `build`): the
//! normalized environment, the canonical root (or the remapping fallback, said and
//! recorded), the shim, and the C compiler wrapper as CC/CXX/AR; then a manifest of the
//! outputs named by `--outputs`.

use crate::cc::{CcChoice, ZIG_MISSING, cc_env, mount_zig};
use crate::status::Status;
use anyhow::{Context, Result, bail};
use det_common::build::{BuildPlan, Layout, PlanOptions, RootMode, SANDBOX_SETUP_FAILED};
use det_common::manifest::Manifest;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub(crate) struct ExecArgs {
    /// The C toolchain behind CC, CXX and AR: zig (zig cc/c++/ar, hermetic) or system
    /// (gcc/clang as found, $CC honoured)
    #[arg(long, value_enum, default_value = "system", value_name = "TOOLCHAIN")]
    cc: CcChoice,
    /// zig's target (default: the host's `<arch>-linux-gnu`; e.g. x86_64-linux-gnu.2.17
    /// for an older glibc, x86_64-linux-musl)
    #[arg(long, value_name = "TRIPLE")]
    zig_target: Option<String>,
    /// Files the build makes, recorded in the manifest: a glob relative to the working
    /// directory (`*`, `?`, `**`); repeatable
    #[arg(long = "outputs", value_name = "GLOB")]
    outputs: Vec<String>,
    /// Where the manifest goes
    #[arg(long, value_name = "FILE", default_value = "det-manifest.json")]
    manifest: PathBuf,
    /// SOURCE_DATE_EPOCH [default: $SOURCE_DATE_EPOCH, else the last git commit, else
    /// 1980-01-01]
    #[arg(long, value_name = "SECONDS")]
    source_date_epoch: Option<String>,
    /// Keep this environment variable (repeatable)
    #[arg(long, value_name = "VAR")]
    keep_env: Vec<String>,
    /// The build's output directory, relative to the working directory (created if
    /// missing; repeatable): the project is then read-only and only these are writable.
    /// Without it the whole working directory is writable (in-tree builds)
    #[arg(long, value_name = "DIR")]
    build_dir: Vec<PathBuf>,
    /// Build where the project is, with path remapping only
    #[arg(long)]
    no_canonical_root: bool,
    /// The build command
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    cmd: Vec<OsString>,
}

pub(crate) const AFTER_HELP: &str = "\
The working directory is the project: it appears at /det/src in the canonical root and is
writable (in-tree builds write there), or read-only but for each --build-dir; CC, CXX and AR (and the cc crate's per-target forms)
are det's wrapper. The command's output and exit status are its own.

Example:
  cargo det-build exec --cc zig --outputs 'build/*.so' -- make -j4";

pub(crate) fn run(args: ExecArgs, status: &Status) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("the working directory")?;
    let user_env = |k: &str| std::env::var_os(k);
    let sde = det_common::env::resolve_source_date_epoch(
        args.source_date_epoch.as_deref(),
        &cwd,
        &user_env,
    )?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("no CARGO_HOME and no HOME")?;
    let rustc_info = det_common::toolchain::find_rustc(&user_env)
        .and_then(|r| det_common::toolchain::rustc_info(&r).ok());
    let host = rustc_info
        .as_ref()
        .map(|i| i.host.clone())
        .unwrap_or_else(|| format!("{}-unknown-linux-gnu", std::env::consts::ARCH));
    // The target dir of a cargo build inside (or an empty one: the root needs one).
    let scratch = tempfile::Builder::new().prefix("det-exec-").tempdir()?;
    let target_dir = if cwd.join("target").is_dir() {
        cwd.join("target")
    } else {
        scratch.path().to_path_buf()
    };
    let layout = Layout::new(
        &cwd,
        &[],
        &target_dir,
        &cargo_home,
        rustc_info.as_ref().map(|i| i.sysroot.as_path()),
    );
    let shim = match crate::shim::shim_path() {
        Ok(p) => Some(p),
        Err(e) => {
            status.warn(&format!("no shim: {e:#}"));
            None
        }
    };
    // The user's own rustc flags (RUSTFLAGS, .cargo/config.toml, CARGO_HOME's config), as
    // cargo would compute them here: det's CARGO_ENCODED_RUSTFLAGS must add to them, not
    // replace them, for a cargo build run under exec as for `cargo det-build`.
    let user_rustflags = {
        let files = det_common::cargo_config::config_files(&cwd, &cargo_home);
        let config = det_common::cargo_config::CargoConfig::load(&files, &[])?;
        let triple = det_common::cargo_config::configured_target(&config, &user_env)
            .unwrap_or_else(|| host.clone());
        let cfgs = match det_common::toolchain::find_rustc(&user_env) {
            Some(rustc) if config.has_cfg_targets() => {
                crate::cargo_build::rustc_cfgs(&rustc, &triple)?
            }
            _ => Vec::new(),
        };
        det_common::cargo_config::user_rustflags(&config, &triple, &cfgs, &user_env)
    };
    let mut plan = BuildPlan::new(PlanOptions {
        layout,
        sde,
        env: &user_env,
        keep_env: args.keep_env.clone(),
        canonical_root: !args.no_canonical_root,
        network: true,
        writable_source: args.build_dir.is_empty(),
        shim,
        user_rustflags: user_rustflags.clone(),
        verbose: false,
    });
    // The root the wrapper maps away (as the build sees it).
    let root_seen = plan
        .layout
        .to_canonical(&cwd)
        .filter(|_| plan.sandbox.is_some())
        .unwrap_or_else(|| cwd.clone());
    // Read-only inputs, writable build directories (`--build-dir`): each mounted writable
    // over the read-only project, after it.
    for dir in &args.build_dir {
        if dir.is_absolute()
            || dir
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            bail!(
                "--build-dir {}: must be a directory inside the working directory, given relative to it",
                dir.display()
            );
        }
        let host_dir = cwd.join(dir);
        std::fs::create_dir_all(&host_dir)
            .with_context(|| format!("creating the build directory {}", host_dir.display()))?;
        match plan
            .layout
            .to_canonical(&host_dir)
            .filter(|_| plan.sandbox.is_some())
        {
            Some(seen) => {
                plan.mount(&host_dir, &seen.to_string_lossy(), true);
            }
            None => status.warn(&format!(
                "--build-dir {}: the project cannot be made read-only without the canonical root",
                dir.display()
            )),
        }
    }
    // zig and its cache at fixed paths in the root (zig's libc start files carry its
    // install path); in the fallback, at the host's paths, said and recorded.
    let zig = match args.cc {
        CcChoice::Zig => {
            let host_zig = det_common::toolchain::find_zig().context(ZIG_MISSING)?;
            let toolchain = det_common::toolchain::identify_zig(&host_zig)?;
            let seen = mount_zig(&mut plan, &host_zig, &toolchain.id, &cwd)?;
            Some((toolchain, seen))
        }
        CcChoice::System => None,
    };
    for (k, v) in cc_env(
        args.cc,
        zig.as_ref().map(|(_, seen)| seen),
        args.zig_target.as_deref(),
        &root_seen,
        &host,
    )? {
        plan.env.set(k, v);
    }
    match &plan.mode {
        RootMode::MountNamespace { .. } => status.status(
            "Canonical",
            &format!("root {} (mount namespace)", det_common::sandbox::SRC),
        ),
        RootMode::Remap { reason, .. } => status.warn(&format!(
            "no canonical root ({reason}): building with path remapping only"
        )),
    }
    if let Some((t, seen)) = &zig {
        if seen.canonical {
            status.status(
                "Zig",
                &format!(
                    "{} at {} (from {})",
                    t.version,
                    det_common::sandbox::ZIG,
                    t.path.parent().unwrap_or(&t.path).display()
                ),
            );
        } else {
            let (install, _) = det_common::toolchain::zig_install_dir(&t.path)?;
            status.warn(&format!(
                "without the canonical root, {}",
                crate::cc::zig_path_uncovered(&install)
            ));
        }
    }
    status.status("Epoch", &format!("{sde}"));
    status.status(
        "Compiler",
        &format!("{} (CC, CXX, AR are det's wrapper)", args.cc.name()),
    );

    let helper = std::env::current_exe().context("locating cargo-det-build")?;
    let (program, rest) = args.cmd.split_first().context("no command")?;
    let mut cmd = plan.command(&helper, program, rest, &cwd);
    let st = cmd
        .status()
        .with_context(|| format!("running {}", Path::new(program).display()))?;
    match st.code() {
        Some(0) => {}
        Some(SANDBOX_SETUP_FAILED) => bail!("the canonical root could not be set up (above)"),
        Some(c) => {
            status.error(&format!(
                "`{}` failed with exit status {c}",
                Path::new(program).display()
            ));
            return Ok(ExitCode::from(u8::try_from(c).unwrap_or(2)));
        }
        None => bail!("`{}` was killed by a signal", Path::new(program).display()),
    }

    let mut build = BTreeMap::new();
    let mut manifest = Manifest::new(sde, det_common::env::BuildEnv::fixed(&sde));
    manifest.flags = plan.injected.clone();
    manifest.canonical_root = Some(plan.mode.clone());
    if let Some((t, seen)) = &zig {
        manifest.toolchains.insert("zig".to_string(), t.clone());
        build.insert("zig".to_string(), seen.binary.display().to_string());
    } else if let Some(cc) = det_common::toolchain::find_cc(&user_env)
        && let Ok(t) = det_common::toolchain::identify_cc(&cc)
    {
        manifest.toolchains.insert(t.name.clone(), t);
    }
    build.insert(
        "command".to_string(),
        args.cmd
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    );
    build.insert("cc".to_string(), args.cc.name().to_string());
    build.insert("user-rustflags".to_string(), user_rustflags.join(" "));
    if let Some(t) = &args.zig_target {
        build.insert("zig-target".to_string(), t.clone());
    }
    manifest.build = build;
    for rel in det_common::glob::matching_files(&cwd, &args.outputs)? {
        let hash = det_common::hash::hash_file(&cwd.join(&rel))?;
        manifest.outputs.insert(rel, hash);
    }
    if !args.outputs.is_empty() && manifest.outputs.is_empty() {
        status.warn("no file matched --outputs");
    }
    let path = cwd.join(&args.manifest);
    det_common::manifest::write_manifest(&path, &manifest)?;
    status.status(
        "Manifest",
        &format!(
            "{} ({} outputs)",
            args.manifest.display(),
            manifest.outputs.len()
        ),
    );
    Ok(ExitCode::SUCCESS)
}
