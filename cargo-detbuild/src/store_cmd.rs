//! `cargo det-build store ls|show|verify|gc`: what the det store holds (see
//! `det_common::store` for its layout and guarantees).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use det_common::store::{Lookup, Store};

pub const AFTER_HELP: &str = "\
The store is the directory of --store (or DET_STORE, or `store` in [workspace.metadata.det]
of the project in the working directory). `cargo det-build --store DIR` fills
it: each entry is one build's outputs and manifest under the build's closure hash.

  cargo det-build store --store /srv/det ls
  cargo det-build store --store /srv/det show 1f2e3d
  cargo det-build store --store /srv/det verify
  cargo det-build store --store /srv/det gc --keep 20

Exit status: 0 done, 1 `verify` found damage, 2 usage error or bad input.";

#[derive(Args)]
pub struct StoreArgs {
    /// The store directory (also DET_STORE, or `store` in [workspace.metadata.det])
    #[arg(long, value_name = "DIR", global = true)]
    pub store: Option<PathBuf>,
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// List the entries: closure, profile, target, size, verified, outputs
    Ls {
        /// One JSON object per entry, one per line
        #[arg(long)]
        json: bool,
    },
    /// Print one entry's manifest (the closure, or a prefix naming one entry)
    Show { closure: String },
    /// Re-hash every output of every entry against its manifest, and every stored
    /// toolchain against its id; report damage (exit 1)
    Verify,
    /// Record a toolchain's files (the compiler and its lib directory) under its id, so
    /// that a manifest's toolchain id can be resolved back to the exact bytes
    AddToolchain {
        /// Which toolchain: the rustc cargo would use (rustup's active one, or $RUSTC), or
        /// zig ($ZIG, PATH, or Python's ziglang package)
        #[arg(value_parser = ["rustc", "zig"])]
        which: String,
    },
    /// Remove the least recently used entries beyond N (never one a build is using), and
    /// what interrupted builds left behind
    Gc {
        /// How many entries to keep
        #[arg(long, value_name = "N")]
        keep: usize,
    },
}

fn open(args: &StoreArgs) -> Result<Store> {
    let cwd = std::env::current_dir()?;
    let conf = det_common::store::configured(
        args.store.as_deref(),
        &|k| std::env::var_os(k),
        &cwd,
        || det_common::store::workspace_metadata(&crate::cargo_build::host_cargo(), &cwd, None),
    );
    let Some(conf) = conf else {
        bail!(
            "no store: pass --store DIR, set DET_STORE, or set store in [workspace.metadata.det]"
        );
    };
    if !conf.dir.is_dir() {
        bail!(
            "{}: no store there (not a directory; from {})",
            conf.dir.display(),
            conf.setting
        );
    }
    Ok(Store::open(&conf.dir)?)
}

pub fn run(args: StoreArgs) -> Result<ExitCode> {
    let store = open(&args)?;
    let mut out = std::io::stdout().lock();
    let mut write = |s: String| -> Result<()> {
        match writeln!(out, "{s}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => Ok(r?),
        }
    };
    match args.command {
        StoreCommand::Ls { json } => {
            for c in store.closures()? {
                let row = match store.lookup(&c) {
                    Lookup::Hit(e) => {
                        let m = &e.manifest;
                        let size: u64 = m.outputs.values().map(|h| h.size).sum();
                        let get = |k: &str| m.build.get(k).cloned().unwrap_or_default();
                        let verified = match store.verifications(&c) {
                            Ok(v) if v.is_empty() => "no".to_string(),
                            Ok(v) => format!("yes ({})", v.len()),
                            Err(e) => format!("unreadable record ({e})"),
                        };
                        if json {
                            serde_json::json!({
                                "closure": c,
                                "profile": get("profile"),
                                "target": get("target"),
                                "outputs": m.outputs.keys().collect::<Vec<_>>(),
                                "size": size,
                                "verified": store.verifications(&c).map(|v| !v.is_empty()).unwrap_or(false),
                            })
                            .to_string()
                        } else {
                            format!(
                                "{}  {:<8} {:<26} {:>10}  verified: {:<8} {}",
                                &c[..16],
                                get("profile"),
                                get("target"),
                                size,
                                verified,
                                m.outputs.keys().cloned().collect::<Vec<_>>().join(" ")
                            )
                        }
                    }
                    Lookup::Damaged(why) if json => {
                        serde_json::json!({"closure": c, "damaged": why}).to_string()
                    }
                    Lookup::Damaged(why) => format!("{}  damaged: {why}", &c[..16]),
                    Lookup::Miss => continue,
                };
                write(row)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Show { closure } => {
            let c = store.resolve(&closure)?;
            match store.lookup(&c) {
                Lookup::Hit(e) => {
                    write(
                        String::from_utf8_lossy(&e.manifest.to_json())
                            .trim_end()
                            .to_string(),
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                Lookup::Damaged(why) => bail!("entry {c} is damaged: {why}"),
                Lookup::Miss => bail!("no entry has closure {c}"),
            }
        }
        StoreCommand::Verify => {
            let (mut good, mut bad) = (0, 0);
            for c in store.closures()? {
                let why = match store.lookup(&c) {
                    Lookup::Hit(e) => match store.check(&e) {
                        Ok(()) => {
                            good += 1;
                            continue;
                        }
                        Err(why) => why,
                    },
                    Lookup::Damaged(why) => why,
                    Lookup::Miss => continue,
                };
                bad += 1;
                write(format!("damaged {c}: {why}"))?;
            }
            let (mut tgood, mut tbad) = (0, 0);
            for t in store.toolchains()? {
                match store.check_toolchain(&t) {
                    Ok(()) => tgood += 1,
                    Err(why) => {
                        tbad += 1;
                        write(format!(
                            "damaged toolchain {} {} {}: {why}",
                            t.name, t.version, t.id
                        ))?;
                    }
                }
            }
            write(format!("{good} entries good, {bad} damaged"))?;
            if tgood + tbad > 0 {
                write(format!("{tgood} toolchains good, {tbad} damaged"))?;
            }
            bad += tbad;
            Ok(if bad > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        StoreCommand::AddToolchain { which } => {
            let (toolchain, binary, lib) = if which == "zig" {
                let zig = det_common::toolchain::find_zig().ok_or_else(|| {
                    anyhow::anyhow!("zig not found: set ZIG, put zig on PATH, or `python3 -m pip install ziglang`")
                })?;
                let t = det_common::toolchain::identify_zig(&zig)?;
                let lib = det_common::toolchain::zig_lib_dir(&t.path)?;
                let bin = t.path.clone();
                (t, bin, lib)
            } else {
                let env = |k: &str| std::env::var_os(k);
                let rustc = det_common::toolchain::find_rustc(&env)
                    .ok_or_else(|| anyhow::anyhow!("no rustc found: install Rust or set RUSTC"))?;
                let info = det_common::toolchain::rustc_info(&rustc)?;
                let t = det_common::toolchain::identify_rustc(&rustc)?;
                let bin = t.path.clone();
                (t, bin, info.sysroot.join("lib"))
            };
            match store.add_toolchain(&toolchain, &binary, &lib)? {
                det_common::store::AddedToolchain::New {
                    files,
                    bytes,
                    linked,
                    copied,
                } => write(format!(
                    "stored {} {} as toolchain {} ({files} files, {bytes} bytes; {linked} hard-linked from the read-only installation, {copied} copied)",
                    toolchain.name, toolchain.version, toolchain.id
                ))?,
                det_common::store::AddedToolchain::Existing => write(format!(
                    "{} {} (toolchain {}) is already in the store",
                    toolchain.name, toolchain.version, toolchain.id
                ))?,
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Gc { keep } => {
            let r = store.gc(keep)?;
            for c in &r.removed {
                write(format!("removed {c}"))?;
            }
            for c in &r.in_use {
                write(format!("kept {c} (in use by a build)"))?;
            }
            write(format!(
                "{} entries removed, {} in use kept, {} left over by interrupted builds removed",
                r.removed.len(),
                r.in_use.len(),
                r.leftovers
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
