//! `cargo det-build [CARGO BUILD OPTIONS]`: read the project, plan the build (det-common
//! `build`), run cargo in the canonical root, hash the outputs, write the manifest (and
//! the provenance), scan the outputs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use det_common::build::{BuildPlan, Layout, PlanOptions, RootMode, SANDBOX_SETUP_FAILED};
use det_common::hash::FileHash;
use det_common::manifest::Manifest;
use det_common::sandbox;
use det_common::toolchain::Toolchain;

use crate::cli::{BuildArgs, FailOn};
use crate::status::Status;

/// How a build ended, for the exit status.
pub enum Outcome {
    Ok,
    /// The closing scan found something at or above `--fail-on`.
    Findings,
}

/// An error that already printed its message (cargo's own error): exit 2 quietly.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reported")
    }
}

impl std::error::Error for Reported {}

fn user_env(k: &str) -> Option<OsString> {
    std::env::var_os(k)
}

/// The cargo that started us (cargo sets `$CARGO` for subcommands), else `cargo`.
pub(crate) fn host_cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

struct Project {
    metadata: cargo_metadata::Metadata,
    workspace: PathBuf,
    target_dir: PathBuf,
    path_packages: Vec<(String, PathBuf)>,
}

fn read_project(args: &BuildArgs, cargo: &Path) -> Result<Project> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.cargo_path(cargo);
    if let Some(m) = &args.manifest_path {
        cmd.manifest_path(m);
    }
    let mut other = Vec::new();
    for (on, f) in [
        (args.locked, "--locked"),
        (args.offline, "--offline"),
        (args.frozen, "--frozen"),
    ] {
        if on {
            other.push(f.to_string());
        }
    }
    for c in &args.config {
        other.push(format!("--config={c}"));
    }
    cmd.other_options(other);
    let metadata = cmd.exec().map_err(|e| {
        let msg = e.to_string();
        let msg = msg
            .strip_prefix("`cargo metadata` exited with an error: ")
            .unwrap_or(&msg)
            .trim()
            .trim_start_matches("error: ")
            .to_string();
        let where_ = args
            .manifest_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| {
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            });
        anyhow::anyhow!("reading the cargo project at {where_}: {msg}")
    })?;
    let workspace = metadata.workspace_root.clone().into_std_path_buf();
    let target_dir = match &args.target_dir {
        Some(t) => {
            std::path::absolute(t).with_context(|| format!("--target-dir {}", t.display()))?
        }
        None => metadata.target_directory.clone().into_std_path_buf(),
    };
    let path_packages = metadata
        .packages
        .iter()
        .filter(|p| p.source.is_none())
        .filter_map(|p| {
            Some((
                p.name.to_string(),
                p.manifest_path.parent()?.to_path_buf().into_std_path_buf(),
            ))
        })
        .collect();
    Ok(Project {
        metadata,
        workspace,
        target_dir,
        path_packages,
    })
}

fn cargo_home() -> Result<PathBuf> {
    if let Some(h) = user_env("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Ok(std::path::absolute(PathBuf::from(h))?);
    }
    match user_env("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".cargo")),
        None => bail!("no CARGO_HOME: set CARGO_HOME or HOME"),
    }
}

/// `--cc zig|system`: CC, CXX, AR (and the cc crate's forms for `triple`) at det's
/// wrapper; with zig, zig mounted at /det/zig with its cache, the target's zig triple, and
/// zig as the Rust linker. Returns the C toolchain for the manifest.
fn c_wrapper(
    args: &BuildArgs,
    choice: crate::cc::CcChoice,
    plan: &mut BuildPlan,
    ws: &Path,
    triple: &str,
    status: &Status,
) -> Result<Toolchain> {
    use crate::cc::{CcChoice, ZIG_MISSING};
    let root_seen = plan
        .layout
        .to_canonical(ws)
        .filter(|_| plan.sandbox.is_some())
        .unwrap_or_else(|| ws.to_path_buf());
    let (toolchain, zig) = match choice {
        CcChoice::Zig => {
            let host_zig = det_common::toolchain::find_zig().context(ZIG_MISSING)?;
            let t = det_common::toolchain::identify_zig(&host_zig)?;
            let seen = crate::cc::mount_zig(plan, &host_zig, &t.id, ws)?;
            if !seen.canonical {
                let (install, _) = det_common::toolchain::zig_install_dir(&t.path)?;
                status.warn(&format!(
                    "without the canonical root, {}",
                    crate::cc::zig_path_uncovered(&install)
                ));
            }
            (t, Some(seen))
        }
        CcChoice::System => {
            let cc = det_common::toolchain::find_cc(&user_env)
                .context("no C compiler found (CC, cc, gcc, clang)")?;
            (det_common::toolchain::identify_cc(&cc)?, None)
        }
    };
    let zig_target = args
        .zig_target
        .clone()
        .or_else(|| zig.as_ref().and_then(|_| crate::cc::zig_triple(triple)));
    for (k, v) in crate::cc::cc_env(
        choice,
        zig.as_ref(),
        zig_target.as_deref(),
        &root_seen,
        triple,
    )? {
        plan.env.set(k, v);
    }
    status.status(
        "Compiler",
        &format!(
            "{} {} (CC, CXX, AR are det's wrapper{})",
            toolchain.name,
            toolchain.version,
            match &zig {
                Some(z) if z.canonical => format!("; zig at {}", det_common::sandbox::ZIG),
                Some(_) => "; zig is the Rust linker".to_string(),
                None => String::new(),
            }
        ),
    );
    Ok(toolchain)
}

/// One of det's pins (`rustc-id`, `zig-version`, `zig-id`): a string key of
/// `[workspace.metadata.det]` in the workspace's Cargo.toml, or of `det.toml` beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pin {
    pub key: String,
    pub value: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// Read from `[workspace.metadata.det]` (else from det.toml).
    pub in_metadata: bool,
}

impl Pin {
    /// Where to change it, for a fix: `[workspace.metadata.det] in /w/Cargo.toml`.
    pub(crate) fn place(&self) -> String {
        if self.in_metadata {
            format!("[workspace.metadata.det] in {}", self.file.display())
        } else {
            self.file.display().to_string()
        }
    }
}

/// det's pins for the workspace at `workspace` whose `cargo metadata` workspace metadata
/// is `metadata` (`Null` outside a cargo project): `[workspace.metadata.det]` first, then
/// det.toml for the keys it does not set. What det-build checks and doctor reports.
pub(crate) fn det_pins(workspace: &Path, metadata: &serde_json::Value) -> Result<Vec<Pin>> {
    let mut pins: Vec<Pin> = Vec::new();
    if let Some(table) = metadata.get("det").and_then(|d| d.as_object()) {
        for (k, v) in table {
            if let Some(v) = v.as_str() {
                pins.push(Pin {
                    key: k.clone(),
                    value: v.to_string(),
                    file: workspace.join("Cargo.toml"),
                    in_metadata: true,
                });
            }
        }
    }
    let det_toml = workspace.join("det.toml");
    if det_toml.is_file() {
        let text = std::fs::read_to_string(&det_toml)
            .with_context(|| format!("reading {}", det_toml.display()))?;
        let t: toml::Table = text
            .parse()
            .with_context(|| format!("parsing {}", det_toml.display()))?;
        for (k, v) in &t {
            if let Some(v) = v.as_str()
                && !pins.iter().any(|p| &p.key == k)
            {
                pins.push(Pin {
                    key: k.clone(),
                    value: v.to_string(),
                    file: det_toml.clone(),
                    in_metadata: false,
                });
            }
        }
    }
    pins.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(pins)
}

/// The workspace containing `dir` and its `[workspace.metadata]` (`cargo metadata
/// --no-deps`), or `dir` itself and `Null` when it is not in a cargo project.
pub(crate) fn workspace_of(dir: &Path) -> (PathBuf, serde_json::Value) {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.cargo_path(host_cargo()).no_deps().current_dir(dir);
    match cmd.exec() {
        Ok(m) => (m.workspace_root.into_std_path_buf(), m.workspace_metadata),
        Err(_) => (dir.to_path_buf(), serde_json::Value::Null),
    }
}

/// The channel of `rust-toolchain.toml` / `rust-toolchain` in the workspace, if any.
pub(crate) fn toolchain_file_channel(ws: &Path) -> Option<(String, PathBuf)> {
    for name in ["rust-toolchain.toml", "rust-toolchain"] {
        let p = ws.join(name);
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        let channel = match text.parse::<toml::Table>() {
            Ok(t) => t
                .get("toolchain")
                .and_then(|t| t.get("channel"))
                .and_then(|c| c.as_str())
                .map(str::to_string),
            Err(_) => Some(text.trim().to_string()).filter(|s| !s.is_empty()),
        };
        if let Some(c) = channel {
            return Some((c, p));
        }
    }
    None
}

pub fn run(args: &BuildArgs, status: &Status) -> Result<Outcome> {
    let cargo = host_cargo();
    let project = read_project(args, &cargo)?;
    let ws = project.workspace.clone();

    // The toolchain: rustup resolves rust-toolchain.toml from the working directory.
    let rustc = det_common::toolchain::find_rustc(&user_env)
        .context("no rustc found: install Rust (https://rustup.rs) or set RUSTC")?;
    let info = det_common::toolchain::rustc_info(&rustc).map_err(|e| {
        let pin = toolchain_file_channel(&ws)
            .map(|(c, p)| format!(" (the toolchain {c:?} pinned by {})", p.display()))
            .unwrap_or_default();
        anyhow::anyhow!("the Rust toolchain{pin} cannot be used: {e}")
    })?;
    let toolchain = crate::toolchain_cache::identify_rustc(&rustc, &info)?;
    check_pins(args, &project, &info, &toolchain, status)?;

    let sde = det_common::env::resolve_source_date_epoch(
        args.source_date_epoch.as_deref(),
        &ws,
        &user_env,
    )?;
    let cargo_home = cargo_home()?;
    let target_dir = project.target_dir.clone();
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("creating the target directory {}", target_dir.display()))?;
    check_writable(&target_dir)?;
    std::fs::create_dir_all(&cargo_home)
        .with_context(|| format!("creating CARGO_HOME {}", cargo_home.display()))?;

    let package_dirs: Vec<PathBuf> = project
        .path_packages
        .iter()
        .map(|(_, d)| d.clone())
        .collect();
    let layout = Layout::new(
        &ws,
        &package_dirs,
        &target_dir,
        &cargo_home,
        Some(&info.sysroot),
    );

    // The user's own rustc flags, as cargo would have computed them.
    let cwd = std::env::current_dir().context("the current directory")?;
    let files = det_common::cargo_config::config_files(&cwd, &cargo_home);
    let config = det_common::cargo_config::CargoConfig::load(&files, &args.config)?;
    let triple = args
        .target
        .first()
        .cloned()
        .or_else(|| det_common::cargo_config::configured_target(&config, &user_env))
        .unwrap_or_else(|| info.host.clone());
    let cfgs = if config.has_cfg_targets() {
        rustc_cfgs(&rustc, &triple)?
    } else {
        Vec::new()
    };
    let user_rustflags =
        det_common::cargo_config::user_rustflags(&config, &triple, &cfgs, &user_env);
    let user_rustflags_shown = user_rustflags.join(" ");

    let shim = match crate::shim::shim_path() {
        Ok(p) => Some(p),
        Err(e) => {
            status.warn(&format!("no shim: {e:#}"));
            None
        }
    };
    let network = args.network();
    let mut plan = BuildPlan::new(PlanOptions {
        layout,
        sde,
        env: &user_env,
        keep_env: args.keep_env.clone(),
        canonical_root: !args.no_canonical_root,
        network,
        writable_source: args.writable_source,
        shim,
        user_rustflags,
        verbose: args.verbose > 0,
    });
    if args.writable_source {
        status.warn("--writable-source: the build may change the source tree");
    }
    if let RootMode::Remap { reason, uncovered } = &mut plan.mode {
        *uncovered = uncovered_by_remapping(args.manifest_path.as_deref());
        status.warn(&format!(
            "no canonical root ({reason}): building with path remapping only"
        ));
        if uncovered.is_empty() {
            status.note("remapping covers everything the project analysis found");
        } else {
            for u in uncovered.iter() {
                status.note(&format!("remapping cannot fix: {u}"));
            }
        }
        if !network {
            status.warn("--network none needs the canonical root: the build keeps the network");
        }
    }
    if plan.sandbox.is_some() {
        let how = match &plan.mode {
            RootMode::MountNamespace {
                user_namespace: true,
                ..
            } => "mount and user namespace",
            _ => "mount namespace",
        };
        status.status("Canonical", &format!("root {} ({how})", sandbox::SRC));
    }
    status.status("Epoch", &format!("{sde}"));
    let c_toolchain = match args.cc {
        Some(choice) => Some(c_wrapper(args, choice, &mut plan, &ws, &triple, status)?),
        None => None,
    };

    // The manifest, all but the outputs: what determines them, and so the closure.
    let mut manifest = Manifest::new(sde, det_common::env::BuildEnv::fixed(&sde));
    manifest.flags = plan.injected.clone();
    manifest
        .toolchains
        .insert("rustc".to_string(), toolchain.clone());
    manifest.canonical_root = Some(plan.mode.clone());
    if let Some(t) = &c_toolchain {
        manifest.toolchains.insert(t.name.clone(), t.clone());
    }
    let store_conf = det_common::store::configured(args.store.as_deref(), &user_env, &cwd, || {
        Some((
            project.workspace.clone(),
            project.metadata.workspace_metadata.clone(),
        ))
    });
    // A store kept inside the workspace holds outputs, not inputs: the one configured
    // here and the one the project's own metadata names are left out of the tree hash.
    let metadata_store = det_common::store::configured(None, &|_| None, &cwd, || {
        Some((
            project.workspace.clone(),
            project.metadata.workspace_metadata.clone(),
        ))
    });
    let stores: Vec<&Path> = [&store_conf, &metadata_store]
        .into_iter()
        .flatten()
        .map(|c| c.dir.as_path())
        .collect();
    manifest.inputs = input_hashes(&plan.layout, &project, &stores)?;
    let mut build = BTreeMap::new();
    // det itself decides the outputs too (its flags, sandbox and post-processing): another
    // release is another closure, so a store never serves what an older det built.
    build.insert(
        "det".to_string(),
        format!("cargo-det-build {}", env!("CARGO_PKG_VERSION")),
    );
    build.insert("profile".to_string(), args.profile_name());
    build.insert("target".to_string(), triple.clone());
    build.insert("cargo-args".to_string(), args.output_args().join(" "));
    let mut features = args.features.clone();
    features.sort();
    build.insert("features".to_string(), features.join(","));
    build.insert("user-rustflags".to_string(), user_rustflags_shown);
    if let Some(choice) = args.cc {
        build.insert("cc".to_string(), choice.name().to_string());
    }
    build.insert(
        "shim".to_string(),
        if plan.env.vars().contains_key("LD_PRELOAD")
            || plan
                .sandbox
                .as_ref()
                .is_some_and(|s| s.exec_env.contains_key("LD_PRELOAD"))
        {
            det_common::build::shim_vars(&sde)
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            "none".to_string()
        },
    );
    manifest.build = build;
    manifest.closure = Some(closure_hash(&manifest));
    let closure = manifest.closure.clone().unwrap_or_default();
    if args.print_closure {
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{closure}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r.context("writing the closure")?,
        }
        return Ok(Outcome::Ok);
    }

    let store = match store_conf {
        Some(conf) if !args.no_store => open_store(&conf, status),
        _ => None,
    };
    if args.require_verified {
        require_verified(store.as_ref(), &closure)?;
    }
    let substituted = match &store {
        Some(store) => substitute(store, &closure, &target_dir, status),
        None => None,
    };
    let hit = substituted.is_some();
    if args.require_verified && !hit {
        bail!(
            "--require-verified: the store entry of closure {closure} could not be used (said above); nothing was built"
        );
    }
    let outputs = match substituted {
        Some(outputs) => outputs,
        None => {
            if !network && plan.sandbox.is_some() && !args.offline && !args.frozen {
                // Everything the build needs is fetched first, with the user's network.
                let mut fetch = Command::new(&cargo);
                fetch.arg("fetch");
                if let Some(m) = &args.manifest_path {
                    fetch.arg("--manifest-path").arg(m);
                }
                if args.locked {
                    fetch.arg("--locked");
                }
                for c in &args.config {
                    fetch.arg(format!("--config={c}"));
                }
                if args.quiet {
                    fetch.arg("--quiet");
                }
                let st = fetch
                    .status()
                    .with_context(|| format!("running {} fetch", cargo.display()))?;
                if !st.success() {
                    return Err(Reported.into());
                }
            }
            run_cargo(args, &plan, &project, &cargo, &cwd, status)?
        }
    };
    manifest.outputs = outputs.clone();
    if let (Some(store), false) = (&store, hit) {
        store_outputs(store, &manifest, &target_dir, status);
    }
    let manifest_path = target_dir.join("det").join("manifest.json");
    std::fs::create_dir_all(target_dir.join("det"))
        .with_context(|| format!("creating {}", target_dir.join("det").display()))?;
    det_common::manifest::write_manifest(&manifest_path, &manifest)?;
    status.status("Manifest", &shown(&manifest_path, &cwd));

    if let Some(p) = &args.provenance {
        let json = crate::provenance::statement(&manifest, args, &ws)?;
        det_common::atomic_file::write(p, &json)?;
        status.status("Provenance", &shown(p, &cwd));
    }

    let build_roots = [
        Path::new(sandbox::ROOT),
        &plan.layout.source_root,
        &cargo_home,
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    let failed = crate::closing_scan::scan(
        &target_dir,
        &outputs,
        args.fail_on,
        sde.value as i64,
        build_roots,
        status,
    )?;
    Ok(if failed {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

/// The configured store (`det_common::store::configured`: `--store`, DET_STORE, or
/// `store` in `[workspace.metadata.det]`), opened. A store det cannot use is said, naming
/// the setting, and the build goes on without it.
fn open_store(
    conf: &det_common::store::Configured,
    status: &Status,
) -> Option<det_common::store::Store> {
    match det_common::store::Store::open(&conf.dir) {
        Ok(s) => Some(s),
        Err(e) => {
            status.warn(&format!(
                "the store cannot be used ({}): {e}; building without it",
                conf.setting
            ));
            None
        }
    }
}

/// `--require-verified`: the closure must have a store entry with a verification record,
/// else nothing is built nor substituted.
fn require_verified(store: Option<&det_common::store::Store>, closure: &str) -> Result<()> {
    let Some(store) = store else {
        bail!(
            "--require-verified needs a store (--store DIR, DET_STORE, or store in [workspace.metadata.det]) that can be used"
        );
    };
    if !store
        .entry_dir(closure)
        .join(det_common::store::MANIFEST)
        .is_file()
    {
        bail!(
            "--require-verified: closure {closure} is not in the store {}; nothing was built (build it with --store, then verify it with cargo det-verify)",
            store.root().display()
        );
    }
    if !store.verified_for(closure, &[])? {
        bail!(
            "--require-verified: closure {closure} is in the store {} but was never verified reproducible; nothing was substituted (cargo det-verify records a verification)",
            store.root().display()
        );
    }
    Ok(())
}

/// The first characters of a closure, for status lines.
fn short(closure: &str) -> String {
    format!("{}…", &closure[..closure.len().min(12)])
}

/// A store hit: the entry's outputs put in place (each checked first), or `None` to build
/// (a miss, or a damaged entry, which is said and removed).
fn substitute(
    store: &det_common::store::Store,
    closure: &str,
    target_dir: &Path,
    status: &Status,
) -> Option<BTreeMap<String, FileHash>> {
    use det_common::store::Lookup;
    // Held until the outputs are in place: `store gc` leaves the entry alone meanwhile.
    let _in_use = store.use_entry(closure);
    let why = match store.lookup(closure) {
        Lookup::Miss => return None,
        Lookup::Hit(entry) => match store.place(&entry, target_dir) {
            Ok(n) => {
                status.status(
                    "Substituted",
                    &format!(
                        "{n} output{} from the store (closure {})",
                        if n == 1 { "" } else { "s" },
                        short(closure)
                    ),
                );
                return Some(entry.manifest.outputs);
            }
            Err(why) => why,
        },
        Lookup::Damaged(why) => why,
    };
    status.warn(&format!(
        "the store entry of closure {} is damaged ({why}); it is removed and the build runs",
        short(closure)
    ));
    if let Err(e) = store.remove(closure) {
        status.warn(&format!("could not remove the damaged entry: {e}"));
    }
    None
}

/// After a build: its outputs into the store. Another build of the same closure may have
/// stored it first: then this build's outputs must be the same (else it is not
/// reproducible, which is said).
fn store_outputs(
    store: &det_common::store::Store,
    manifest: &Manifest,
    target_dir: &Path,
    status: &Status,
) {
    use det_common::store::Inserted;
    let closure = manifest.closure.as_deref().unwrap_or_default();
    match store.insert(manifest, target_dir) {
        Ok(Inserted::New(e)) => status.status(
            "Stored",
            &format!(
                "{} output{} in the store (closure {})",
                e.manifest.outputs.len(),
                if e.manifest.outputs.len() == 1 {
                    ""
                } else {
                    "s"
                },
                short(closure)
            ),
        ),
        Ok(Inserted::Existing(e)) => {
            let differ: Vec<&String> = manifest
                .outputs
                .iter()
                .filter(|(rel, h)| {
                    e.manifest.outputs.get(*rel).map(|x| &x.blake3) != Some(&h.blake3)
                })
                .map(|(rel, _)| rel)
                .chain(
                    e.manifest
                        .outputs
                        .keys()
                        .filter(|rel| !manifest.outputs.contains_key(*rel)),
                )
                .collect();
            if differ.is_empty() {
                status.note(&format!(
                    "another build stored closure {} first, with the same outputs",
                    short(closure)
                ));
            } else {
                status.warn(&format!(
                    "another build stored closure {} first, and these outputs differ from it: {} (the build is not reproducible; `cargo det-verify` finds why)",
                    short(closure),
                    differ.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Err(e) => status.warn(&format!("the outputs could not be stored: {e}")),
    }
}

fn shown(p: &Path, cwd: &Path) -> String {
    p.strip_prefix(cwd).unwrap_or(p).display().to_string()
}

fn check_writable(dir: &Path) -> Result<()> {
    let probe = tempfile::Builder::new()
        .prefix(".det-write-check")
        .tempfile_in(dir);
    match probe {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "the target directory {} is not writable: {e} (choose another with --target-dir)",
            dir.display()
        ),
    }
}

pub(crate) fn rustc_cfgs(rustc: &Path, triple: &str) -> Result<Vec<String>> {
    let out = Command::new(rustc)
        .args(["--print", "cfg", "--target", triple])
        .output()
        .with_context(|| format!("running {} --print cfg", rustc.display()))?;
    if !out.status.success() {
        bail!(
            "`rustc --print cfg --target {triple}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

fn check_pins(
    args: &BuildArgs,
    project: &Project,
    info: &det_common::toolchain::RustcInfo,
    toolchain: &Toolchain,
    status: &Status,
) -> Result<()> {
    let mut problems = Vec::new();
    if let Some((channel, file)) = toolchain_file_channel(&project.workspace)
        && let Some(v) = det_common::toolchain::Version::parse(&channel)
        && v != info.release
        && !(channel.matches('.').count() == 1
            && v.major == info.release.major
            && v.minor == info.release.minor)
    {
        problems.push(format!(
            "{} pins Rust {channel}, but rustc is {} (fix: rustup toolchain install {channel})",
            file.display(),
            info.release
        ));
    }
    let pins = det_pins(&project.workspace, &project.metadata.workspace_metadata)?;
    if let Some(pin) = pins.iter().find(|p| p.key == "rustc-id")
        && pin.value != toolchain.id
    {
        problems.push(format!(
            "{} pins rustc-id {}, found {} for rustc {} at {} (fix: install the toolchain the pin was made with, or set rustc-id = \"{}\" in {})",
            pin.place(),
            pin.value,
            toolchain.id,
            toolchain.version,
            toolchain.path.display(),
            toolchain.id,
            pin.place()
        ));
    }
    for p in &problems {
        if args.strict {
            bail!("toolchain pin mismatch: {p}");
        }
        status.warn(&format!("toolchain pin mismatch: {p}"));
    }
    Ok(())
}

/// What remapping cannot fix in this project: the project analysis's findings of paths
/// baked in by build scripts and `env!("CARGO_MANIFEST_DIR")`-like literals.
fn uncovered_by_remapping(manifest_path: Option<&Path>) -> Vec<String> {
    let Ok(findings) = det_common::project::analyze_cargo_project(manifest_path) else {
        return Vec::new();
    };
    let mut out: Vec<String> = findings
        .iter()
        .filter(|f| {
            let id = f.rule.id;
            id.contains("path") || id.contains("manifest-dir") || id.contains("out-dir")
        })
        .map(|f| format!("{} ({}: {})", f.location.file, f.rule.id, f.evidence))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The message formats cargo is run with: JSON on stdout for det (artifacts), cargo's
/// rendered diagnostics on stderr as the user asked.
fn message_format(args: &BuildArgs) -> String {
    if args.wants_json() {
        return args.message_format.join(",");
    }
    let short = args
        .message_format
        .iter()
        .any(|m| m.split(',').any(|x| x == "short"));
    if short {
        "json-diagnostic-short,json-render-diagnostics".into()
    } else {
        "json-render-diagnostics".into()
    }
}

fn run_cargo(
    args: &BuildArgs,
    plan: &BuildPlan,
    project: &Project,
    host_cargo: &Path,
    cwd: &Path,
    status: &Status,
) -> Result<BTreeMap<String, FileHash>> {
    let layout = &plan.layout;
    let canonical = plan.sandbox.is_some();
    let map = |p: &Path| -> PathBuf {
        if canonical {
            layout.to_canonical(p).unwrap_or_else(|| p.to_path_buf())
        } else {
            p.to_path_buf()
        }
    };
    let program: OsString = match &layout.sysroot {
        Some(s) if canonical && s.join("bin/cargo").is_file() => {
            format!("{}/bin/cargo", sandbox::TOOLCHAIN).into()
        }
        _ => det_common::toolchain::find_on_path(&host_cargo.to_string_lossy())
            .unwrap_or_else(|| host_cargo.to_path_buf())
            .into_os_string(),
    };
    let mut cargo_args: Vec<OsString> = vec!["build".into()];
    cargo_args.push(format!("--message-format={}", message_format(args)).into());
    cargo_args.extend(args.cargo_args().into_iter().map(OsString::from));
    if let Some(m) = &args.manifest_path {
        let abs = std::path::absolute(m).unwrap_or_else(|_| m.clone());
        let mut a = OsString::from("--manifest-path=");
        a.push(map(&abs));
        cargo_args.push(a);
    }
    if !canonical {
        let mut a = OsString::from("--target-dir=");
        a.push(&project.target_dir);
        cargo_args.push(a);
    }
    // cargo's working directory: the user's, when it is inside the sources (cargo reads
    // .cargo/config.toml from there), else the workspace.
    let run_dir = if !canonical
        || layout
            .to_canonical(cwd)
            .is_some_and(|c| c.starts_with(sandbox::SRC))
    {
        cwd.to_path_buf()
    } else {
        project.workspace.clone()
    };
    let helper = std::env::current_exe().context("locating cargo-det-build itself")?;
    let mut cmd = plan.command(&helper, &program, &cargo_args, &run_dir);
    cmd.stdout(Stdio::piped());
    let (child_stderr, tee) = crate::stderr_tee::start().context("setting up cargo's stderr")?;
    cmd.stderr(child_stderr);
    let spawned = cmd.spawn();
    // The command holds our copy of the child's stderr: close it, so the tee sees the
    // end when cargo exits.
    drop(cmd);
    let mut child =
        spawned.with_context(|| format!("starting {}", Path::new(&program).display()))?;
    let _forward = crate::signals::ForwardSignals::new(child.id());
    let stdout = child.stdout.take().expect("piped stdout");
    let wants_json = args.wants_json();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let host_line = if canonical {
            unmap_line(&line, layout)
        } else {
            line.clone()
        };
        if wants_json {
            let _ = writeln!(out, "{host_line}");
        }
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&host_line) else {
            if !wants_json {
                let _ = writeln!(out, "{line}");
            }
            continue;
        };
        if msg.get("reason").and_then(|r| r.as_str()) == Some("compiler-artifact") {
            let kinds: Vec<&str> = msg
                .pointer("/target/kind")
                .and_then(|k| k.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let linked = kinds
                .iter()
                .any(|k| matches!(*k, "bin" | "cdylib" | "dylib" | "staticlib" | "example"));
            if let Some(fs) = msg.get("filenames").and_then(|f| f.as_array())
                && linked
            {
                for f in fs.iter().filter_map(|f| f.as_str()) {
                    let p = PathBuf::from(f);
                    // Debug info beside the binary (.dwp, .pdb) is an output too, but
                    // rlibs and rmetas of a binary target's dependencies are not.
                    if !f.ends_with(".rlib") && !f.ends_with(".rmeta") {
                        files.push(p);
                    }
                }
            }
            if let Some(exe) = msg.get("executable").and_then(|e| e.as_str()) {
                files.push(PathBuf::from(exe));
            }
        }
    }
    drop(out);
    let st = child.wait().context("waiting for cargo")?;
    let explained = tee.finish();
    if st.code() == Some(SANDBOX_SETUP_FAILED) && canonical {
        bail!(
            "the canonical root could not be set up (the reason is above); nothing was built. Build without it with --no-canonical-root"
        );
    }
    if !st.success() {
        if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&st) {
            status.error(&format!(
                "cargo was stopped by signal {sig}; no manifest was written"
            ));
            return Err(Reported.into());
        }
        explain_failure(&explained, plan, args, status);
        return Err(Reported.into());
    }
    let mut outputs = BTreeMap::new();
    files.sort();
    files.dedup();
    for f in files {
        let rel = f
            .strip_prefix(&project.target_dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        let h = det_common::hash::hash_file(&f)?;
        outputs.insert(rel, h);
    }
    Ok(outputs)
}

/// After a failed build: say in det's terms what the lines cargo printed mean — a write
/// into the read-only source tree (naming the file on the host) or a download without
/// network.
fn explain_failure(lines: &[String], plan: &BuildPlan, args: &BuildArgs, status: &Status) {
    let canonical = plan.sandbox.is_some();
    if canonical && !args.writable_source {
        let mut files: Vec<PathBuf> = lines
            .iter()
            .filter(|l| l.contains("Read-only file system"))
            .flat_map(|l| {
                l.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`')
                    .filter(|w| w.starts_with(sandbox::SRC))
                    .map(|w| w.trim_end_matches([':', ',', ')', '.']).to_string())
                    .collect::<Vec<_>>()
            })
            .map(|w| plan.layout.to_host(Path::new(&w)))
            .collect();
        files.sort();
        files.dedup();
        let ro = lines.iter().any(|l| l.contains("Read-only file system"));
        for f in &files {
            status.error(&format!(
                "the build wrote into the source tree: {}: {}",
                f.display(),
                sandbox::read_only_rule()
            ));
        }
        if ro && files.is_empty() {
            status.error(&format!(
                "the build tried to write into the source tree (\"Read-only file system\" above): {}",
                sandbox::read_only_rule()
            ));
        }
    }
    let offline = canonical && !plan.sandbox.as_ref().is_some_and(|s| s.network);
    if offline && lines.iter().any(|l| !l.contains("Read-only file system")) {
        status.error(
            "the build reached for the network, and it runs without one (--network none): a build that downloads is not reproducible; vendor what it fetches, or pass --network host",
        );
    }
}

/// A JSON line of cargo with canonical paths turned back into the host's.
fn unmap_line(line: &str, layout: &Layout) -> String {
    let mut s = line.to_string();
    for (host, canon) in layout.canonical_pairs().iter().rev() {
        let (Some(h), Some(c)) = (host.to_str(), canon.to_str()) else {
            continue;
        };
        let h = serde_json::to_string(h).unwrap_or_default();
        let h = &h[1..h.len().saturating_sub(1)];
        s = s.replace(&format!("\"{c}/"), &format!("\"{h}/"));
        s = s.replace(&format!("\"{c}\""), &format!("\"{h}\""));
        s = s.replace(&format!("+file://{c}"), &format!("+file://{h}"));
    }
    s
}

/// The inputs' hashes: Cargo.lock, the workspace's tree (without the target directory,
/// nor the store when it is kept inside the workspace: its entries are outputs), and each
/// path dependency outside the workspace.
fn input_hashes(
    layout: &Layout,
    project: &Project,
    stores: &[&Path],
) -> Result<BTreeMap<String, String>> {
    let mut inputs = BTreeMap::new();
    let lock = project.workspace.join("Cargo.lock");
    if lock.is_file() {
        inputs.insert(
            "Cargo.lock".to_string(),
            det_common::hash::hash_file(&lock)?.blake3,
        );
    }
    let mut filter = det_common::hash::TreeFilter::workspace();
    if let Ok(rel) = layout.target_dir.strip_prefix(&project.workspace) {
        filter = filter.skip_path(rel);
    }
    let ws = project.workspace.canonicalize();
    for store in stores {
        if let (Ok(s), Ok(ws)) = (store.canonicalize(), ws.as_ref())
            && let Ok(rel) = s.strip_prefix(ws)
            && !rel.as_os_str().is_empty()
        {
            filter = filter.skip_path(rel);
        }
    }
    inputs.insert(
        "source-tree".to_string(),
        det_common::hash::hash_tree(&project.workspace, &filter)?.blake3,
    );
    for (name, dir) in &project.path_packages {
        if !dir.starts_with(&project.workspace) {
            let rel = dir
                .strip_prefix(&layout.source_root)
                .unwrap_or(dir)
                .display()
                .to_string();
            inputs.insert(
                format!("path-dependency:{name}:{rel}"),
                det_common::hash::hash_tree(dir, &det_common::hash::TreeFilter::workspace())?
                    .blake3,
            );
        }
    }
    Ok(inputs)
}

/// BLAKE3 over what determines the outputs: toolchain ids, inputs, the flags det injected,
/// the environment det fixed, the build parameters and SOURCE_DATE_EPOCH. Host paths are
/// not part of it (they do not change the outputs in the canonical root).
fn closure_hash(m: &Manifest) -> String {
    let toolchains: BTreeMap<&String, (&str, String)> = m
        .toolchains
        .iter()
        .map(|(k, t)| (k, (t.id.as_str(), t.version.to_string())))
        .collect();
    let doc = serde_json::json!({
        "build": m.build,
        "env": m.env,
        "flags": m.flags,
        "inputs": m.inputs,
        "source_date_epoch": m.source_date_epoch.value,
        "toolchains": toolchains,
        "umask": m.umask,
    });
    let mut h = blake3::Hasher::new();
    h.update(b"det-closure/1\0");
    h.update(serde_json::to_string(&doc).unwrap_or_default().as_bytes());
    h.finalize().to_hex().to_string()
}

/// For `--fail-on`: the severity threshold.
pub fn threshold(f: FailOn) -> det_common::Severity {
    match f {
        FailOn::Low => det_common::Severity::Low,
        FailOn::Medium => det_common::Severity::Medium,
        FailOn::High => det_common::Severity::High,
    }
}
