//! `cargo det-verify --store DIR` (issue 12): what a verification knows about the det store.
//!
//! The store is resolved as det-build resolves it (`det_common::store::configured`:
//! `--store`, `DET_STORE`, `store` in `[workspace.metadata.det]`). Before anything is
//! built, the closure of the control run is computed by det-build itself (`cargo det-build
//! --print-closure`, in the control's copy of the sources under the control's conditions:
//! the very closure the control run's manifest will carry). When the store records that
//! closure as verified with the same or a larger set of variations and at least as many
//! runs, the runs are skipped and the report says so. Otherwise, when every run agrees,
//! the verification is recorded in the entry's metadata (`verified.json`, never in the
//! outputs); an entry that does not exist yet is first published from the control run,
//! whose outputs are det-build outputs of that closure.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use det_common::store::{Configured, Inserted, Lookup, Store, Verification};
use det_common::variation::{Conditions, Variation};
use serde::Serialize;

use super::runner::{Job, RunOutput, Setup};
use super::tree;
use crate::cli::RunArgs;
use crate::status::Status;

/// Where the runner leaves det-build's manifest of a run (beside the run's `out/`).
pub const RUN_MANIFEST: &str = "det-manifest.json";

/// The report's account of the store (`store` in det-verify/1, present when one is
/// configured). Fields in alphabetical order.
#[derive(Serialize, Debug, Clone, Default)]
pub struct StoreReport {
    /// The closure of the control run.
    pub closure: Option<String>,
    /// The store directory.
    pub dir: String,
    /// Why nothing was recorded (a store entry that differs, a store that failed).
    pub not_recorded: Option<String>,
    /// The control run's outputs were published as the closure's entry.
    pub published: bool,
    /// A verification was added to the entry's `verified.json`.
    pub recorded: bool,
    /// The runs were skipped: the store already records this verification.
    pub skipped: bool,
    /// The recorded verification that covers this one (when skipped), or the one added.
    pub verification: Option<Verification>,
}

/// A usable store for a verification.
pub struct StoreSide {
    store: Store,
    report: StoreReport,
}

fn warn(message: &str) {
    eprintln!(
        "warning: {}",
        det_common::report::escape_terminal(message).trim_end()
    );
}

/// The configured store, if any and usable. An explicit `--store` that makes no sense
/// (`--raw`, `--artifacts`: those builds have no closure) is a usage error; a store det
/// cannot open is said, and the verification goes on without it (as det-build does).
/// `workspace` is the cargo project's root and `[workspace.metadata]` when already read.
pub fn open(
    args: &RunArgs,
    cwd: &Path,
    cargo: &std::ffi::OsStr,
    workspace: Option<(PathBuf, serde_json::Value)>,
) -> Result<Option<StoreSide>> {
    let cargo_path = PathBuf::from(cargo);
    let conf: Option<Configured> =
        det_common::store::configured(args.store.as_deref(), &|k| std::env::var_os(k), cwd, || {
            workspace.or_else(|| det_common::store::workspace_metadata(&cargo_path, cwd, None))
        });
    let Some(conf) = conf else { return Ok(None) };
    let without = if args.raw {
        Some("--raw builds with plain cargo, which has no closure")
    } else if !args.artifacts.is_empty() {
        Some("--artifacts builds a command, which has no cargo closure")
    } else {
        None
    };
    if let Some(why) = without {
        if args.store.is_some() {
            return Err(super::UsageError(format!(
                "--store records det-build's closures as verified: {why}"
            ))
            .into());
        }
        return Ok(None);
    }
    match Store::open(&conf.dir) {
        Ok(store) => Ok(Some(StoreSide {
            report: StoreReport {
                dir: store.root().display().to_string(),
                ..StoreReport::default()
            },
            store,
        })),
        Err(e) => {
            warn(&format!(
                "the store cannot be used ({}): {e}; verifying without it",
                conf.setting
            ));
            Ok(None)
        }
    }
}

/// The sorted names of a set of variations, as the record keeps them.
fn variation_names(varied: &BTreeSet<Variation>) -> Vec<String> {
    let mut v: Vec<String> = varied.iter().map(|x| x.name().to_string()).collect();
    v.sort();
    v
}

/// Whether `recorded` covers a verification of `runs` runs varying `wanted`.
pub fn covers(recorded: &Verification, wanted: &[String], runs: u32) -> bool {
    recorded.runs >= runs && wanted.iter().all(|w| recorded.variations.contains(w))
}

impl StoreSide {
    /// The closure the control run will have: det-build's `--print-closure` in the
    /// control's copy of the sources, under the control's conditions.
    pub fn closure(&mut self, setup: &Setup, control: &Conditions) -> Result<String> {
        let loc = setup.location(control.path_slot);
        tree::remove(&loc)?;
        tree::copy(&setup.source_root, &setup.files, &loc, control.source_mtime)?;
        let run_dir = setup.base.join("runs").join("closure");
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        let cwd = loc.join(&setup.rel_cwd);
        let (program, mut args) = setup.command_line(&cwd, &run_dir, control);
        args.insert(1, "--print-closure".into());
        let mut cmd = std::process::Command::new(&program);
        cmd.args(&args).current_dir(&cwd);
        setup.environment(&mut cmd, control, &loc.join("target"), None);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {} --print-closure", program.to_string_lossy()))?;
        let _ = tree::remove(&loc);
        let text = String::from_utf8_lossy(&out.stdout);
        let closure = text.trim();
        if !out.status.success() || !det_common::store::is_closure(closure) {
            bail!(
                "computing the closure (cargo det-build --print-closure) failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        self.report.closure = Some(closure.to_string());
        Ok(closure.to_string())
    }

    /// The recorded verification that makes this one unnecessary: the closure's entry is
    /// there, intact, and verified with the same or a larger set of variations and at
    /// least as many runs.
    pub fn already_verified(
        &mut self,
        closure: &str,
        varied: &BTreeSet<Variation>,
        runs: u32,
    ) -> Option<Verification> {
        let entry = match self.store.lookup(closure) {
            Lookup::Hit(e) => e,
            Lookup::Miss => return None,
            Lookup::Damaged(why) => {
                warn(&format!(
                    "the store entry of closure {closure} is damaged ({why}): verifying again"
                ));
                return None;
            }
        };
        let wanted = variation_names(varied);
        let recorded = match self.store.verifications(closure) {
            Ok(v) => v,
            Err(e) => {
                warn(&format!("{e}: verifying again"));
                return None;
            }
        };
        // The smallest covering verification (then the first in the record's order): a
        // stable choice.
        let found = recorded
            .into_iter()
            .filter(|v| covers(v, &wanted, runs))
            .min_by(|a, b| (a.variations.len(), a.runs).cmp(&(b.variations.len(), b.runs)))?;
        if let Err(why) = self.store.check(&entry) {
            warn(&format!(
                "the store entry of closure {closure} is damaged ({why}): verifying again"
            ));
            return None;
        }
        self.report.skipped = true;
        self.report.verification = Some(found.clone());
        Some(found)
    }

    /// After runs that all agreed: publish the control's outputs when the closure has no
    /// entry, then add the verification to the entry's record. Problems are said (and in
    /// the report); the verification's own verdict stands.
    pub fn record(
        &mut self,
        job: &Job,
        control: &RunOutput,
        varied: &BTreeSet<Variation>,
        runs: u32,
    ) {
        if let Err(why) = self.try_record(job, control, varied, runs) {
            warn(&format!(
                "the verification was not recorded in the store: {why}"
            ));
            self.report.not_recorded = Some(why);
        }
    }

    fn try_record(
        &mut self,
        job: &Job,
        control: &RunOutput,
        varied: &BTreeSet<Variation>,
        runs: u32,
    ) -> std::result::Result<(), String> {
        if !matches!(job, Job::Cargo { .. }) {
            return Err("only det-build's cargo builds have a closure".into());
        }
        let run_dir = control.out.parent().unwrap_or(&control.out);
        let mpath = run_dir.join(RUN_MANIFEST);
        let manifest = det_common::manifest::read_manifest(&mpath).map_err(|e| e.to_string())?;
        let Some(closure) = manifest.closure.clone() else {
            return Err(format!("{}: the manifest has no closure", mpath.display()));
        };
        if let Some(before) = &self.report.closure
            && before != &closure
        {
            warn(&format!(
                "the control run's closure is {closure}, not {before} as computed before the runs (did the sources change?): recording {closure}"
            ));
        }
        self.report.closure = Some(closure.clone());
        let stored = match self.store.lookup(&closure) {
            Lookup::Hit(e) => Some(*e),
            Lookup::Miss => None,
            Lookup::Damaged(why) => {
                warn(&format!(
                    "the store entry of closure {closure} is damaged ({why}): replaced by the control run's outputs"
                ));
                self.store.remove(&closure).map_err(|e| e.to_string())?;
                None
            }
        };
        let entry = match stored {
            Some(e) => e,
            None => match self
                .store
                .insert(&manifest, &control.out)
                .map_err(|e| e.to_string())?
            {
                Inserted::New(e) => {
                    self.report.published = true;
                    e
                }
                Inserted::Existing(e) => e,
            },
        };
        // The entry may come from another machine: it is this closure's outputs only if
        // they are the ones every run here made.
        let differ: Vec<&String> = manifest
            .outputs
            .iter()
            .filter(|(rel, h)| {
                entry.manifest.outputs.get(*rel).map(|x| &x.blake3) != Some(&h.blake3)
            })
            .map(|(rel, _)| rel)
            .chain(
                entry
                    .manifest
                    .outputs
                    .keys()
                    .filter(|rel| !manifest.outputs.contains_key(*rel)),
            )
            .collect();
        if !differ.is_empty() {
            return Err(format!(
                "the store's entry of closure {closure} has other outputs than these runs made ({}): the closure is not reproducible across the builds that stored and verified it",
                differ
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let v = Verification {
            runs,
            tool: format!("det-verify {}", env!("CARGO_PKG_VERSION")),
            variations: variation_names(varied),
        };
        self.store
            .record_verified(&closure, v.clone())
            .map_err(|e| e.to_string())?;
        self.report.recorded = true;
        self.report.verification = Some(v);
        Ok(())
    }

    /// What the store did, for the report.
    pub fn report(&self) -> StoreReport {
        self.report.clone()
    }

    /// The status line after a record.
    pub fn say(&self, status: &Status) {
        let r = &self.report;
        if !r.recorded {
            return;
        }
        let closure = r.closure.as_deref().unwrap_or_default();
        status.status(
            "Recorded",
            &format!(
                "closure {} as verified reproducible in the store {}{}",
                short(closure),
                r.dir,
                if r.published {
                    " (its outputs published from the control run)"
                } else {
                    ""
                }
            ),
        );
    }

    /// The runs skipped: the status line and the report (text: one line; JSON and HTML:
    /// the det-verify/1 report with `store.skipped`, the entry's outputs as artifacts).
    pub fn emit_skipped(
        &self,
        args: &RunArgs,
        job: &Job,
        varied: &BTreeSet<Variation>,
        status: &Status,
    ) -> Result<std::process::ExitCode> {
        let mut report = super::report::VerifyReport {
            artifacts: Vec::new(),
            command: super::command_words(job, args.raw),
            differences: Vec::new(),
            diff: None,
            explained: false,
            extra_builds: 0,
            inside_build: false,
            mode: "det-build",
            reproducible: true,
            runs: Vec::new(),
            schema: super::report::SCHEMA,
            notes: Vec::new(),
            store: None,
            varied: varied.iter().copied().collect(),
        };
        let r = &self.report;
        let closure = r.closure.as_deref().unwrap_or_default();
        let v = r.verification.clone().unwrap_or_else(|| Verification {
            runs: 0,
            tool: String::new(),
            variations: Vec::new(),
        });
        let line = format!(
            "closure {} was verified reproducible by {} ({} runs, varied: {}); nothing was built",
            short(closure),
            v.tool,
            v.runs,
            if v.variations.is_empty() {
                "nothing".to_string()
            } else {
                v.variations.join(", ")
            }
        );
        status.status("Skipped", &format!("the runs: {line}"));
        if let Lookup::Hit(e) = self.store.lookup(closure) {
            report.artifacts = e
                .manifest
                .outputs
                .keys()
                .map(|path| super::report::ArtifactReport {
                    path: path.clone(),
                    runs_differing: Vec::new(),
                    status: "reproducible",
                })
                .collect();
        }
        report.reproducible = true;
        report.store = Some(self.report());
        let text = format!(
            "reproducible: {line} (the store {})\n",
            det_common::report::escape_terminal(&r.dir)
        );
        super::emit_with(args, &report, None, Some(&text))?;
        Ok(std::process::ExitCode::SUCCESS)
    }
}

/// The first characters of a closure, for status lines (as det-build shows them).
fn short(closure: &str) -> String {
    format!("{}…", &closure[..closure.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(runs: u32, vars: &[&str]) -> Verification {
        Verification {
            runs,
            tool: "t".into(),
            variations: vars.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_verification_covers_fewer_variations_and_fewer_runs() {
        let w = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let rec = v(3, &["build-path", "time", "umask"]);
        assert!(covers(&rec, &w(&["time"]), 2));
        assert!(covers(&rec, &w(&["build-path", "time", "umask"]), 3));
        assert!(!covers(&rec, &w(&["time"]), 4), "more runs");
        assert!(!covers(&rec, &w(&["time", "host"]), 2), "a larger set");
        assert!(covers(&rec, &[], 2));
    }
}
