//! `cargo det-verify [-- CARGO BUILD OPTIONS]`: build N times, each in its own copy of the
//! sources under its own variations (det-common `variation`), pair the artifacts by
//! relative path, compare them with the diff engine, and when they differ find the
//! variation behind each root cause by group testing (`culprit`).

mod culprit;
mod locale;
mod report;
mod runner;
mod store;
mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use det_common::diff::{DiffOptions, DiffReport, diff_paths};
use det_common::variation::{self, Conditions, Host, Variation};

use crate::cli::{RunArgs, VerifyFormat};
use crate::interrupt;
use crate::status::Status;
use culprit::Verdict;
use report::{ArtifactReport, CauseReport, RunReport, VerifyReport};
use runner::{Job, Mode, RunOutput, Setup};

/// The usage errors of a verification (exit 2 before anything is built).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The temporary directory of a verification: removed when dropped (success, failure, an
/// interrupt unwinding through `?`), unless `--keep`. Its `.lock` is held (flock) while the
/// verification runs; a `kept` file marks a directory --keep left.
struct Base {
    path: PathBuf,
    keep: bool,
    _lock: std::fs::File,
}

impl Base {
    /// `$TMPDIR/det-verify-N` for the first N free, claimed by mkdir (mode 0700; mkdir never
    /// follows a planted link). Not a random name: the builds compile their paths into the
    /// artifacts (debug info, build ids), so a random directory would make the report's
    /// bytes differ on every invocation; this one is the same whenever no other
    /// verification holds it. A directory a killed verification left (ours, its lock free,
    /// not kept) is taken back, so that one kill does not move every later verification.
    fn claim(keep: bool) -> Result<Base> {
        use std::os::unix::fs::DirBuilderExt;
        let tmp = std::env::temp_dir();
        for n in 0..10_000 {
            let path = tmp.join(format!("det-verify-{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if !Self::reclaim(&path, n)
                        || std::fs::DirBuilder::new()
                            .mode(0o700)
                            .create(&path)
                            .is_err()
                    {
                        continue;
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("creating {}", path.display()));
                }
            }
            // Locked under another name, then renamed: whoever sees `.lock` sees it held.
            let fresh = path.join(".lock.new");
            let lock = std::fs::File::create(&fresh)
                .with_context(|| format!("creating {}", fresh.display()))?;
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
                bail!("locking {}", fresh.display());
            }
            std::fs::rename(&fresh, path.join(".lock"))
                .with_context(|| format!("renaming {}", fresh.display()))?;
            if keep {
                std::fs::write(path.join("kept"), b"")
                    .with_context(|| format!("writing {}", path.join("kept").display()))?;
            }
            return Ok(Base {
                path,
                keep,
                _lock: lock,
            });
        }
        bail!(
            "{}: det-verify-0 to det-verify-9999 all exist (left by --keep or other users)",
            tmp.display()
        )
    }

    /// Remove `path` when a killed verification of ours left it: a directory (not a link)
    /// owned by this user, with a `.lock` nobody holds and no `kept` mark.
    fn reclaim(path: &Path, n: u32) -> bool {
        use std::os::unix::fs::MetadataExt;
        let ours = path.symlink_metadata().is_ok_and(|m| {
            // SAFETY: geteuid has no preconditions.
            m.is_dir() && m.uid() == unsafe { libc::geteuid() }
        });
        if !ours || path.join("kept").symlink_metadata().is_ok() {
            return false;
        }
        let Ok(lock) = std::fs::File::open(path.join(".lock")) else {
            return false;
        };
        // SAFETY: flock on a descriptor we own.
        let free = unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        } == 0;
        if !free {
            return false;
        }
        // Out of the way first (the name is free at once), then removed.
        let stale = path.with_file_name(format!(".det-verify-{n}-stale-{}", std::process::id()));
        if std::fs::rename(path, &stale).is_err() {
            return false;
        }
        drop(lock);
        let _ = tree::remove(&stale);
        true
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        if !self.keep {
            let _ = tree::remove(&self.path);
        }
    }
}

pub fn run(args: &RunArgs, status: &Status) -> Result<ExitCode> {
    let varied = variation::parse_vary(&args.vary).map_err(UsageError)?;
    if args.runs < 2 {
        return Err(UsageError(format!("--runs {}: at least 2 runs are needed", args.runs)).into());
    }
    let job = if args.artifacts.is_empty() {
        Job::Cargo {
            args: args.build.clone(),
        }
    } else {
        if args.build.is_empty() {
            return Err(UsageError(
                "--artifacts needs the build command after `--` (e.g. `-- make`)".into(),
            )
            .into());
        }
        Job::Exec {
            cmd: args.build.clone(),
            artifacts: args.artifacts.clone(),
        }
    };
    interrupt::install();
    let notes = runner::aslr_notes(varied.contains(&Variation::Aslr));
    let cwd = std::env::current_dir().context("the working directory")?;
    let cargo: OsString = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (source_root, rel_cwd, workspace) = match &job {
        Job::Cargo { .. } => {
            let roots = tree::cargo_roots(&cwd, &cargo)?;
            let rel = cwd
                .strip_prefix(&roots.source_root)
                .or_else(|_| roots.workspace.strip_prefix(&roots.source_root))
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let workspace = (roots.workspace, roots.metadata);
            (roots.source_root, rel, Some(workspace))
        }
        Job::Exec { .. } => (cwd.clone(), PathBuf::new(), None),
    };
    let mut store = store::open(args, &cwd, &cargo, workspace)?;
    let det_build = find_det_build()?;
    let shim = shim_path(&det_build)?;
    let user_env = |k: &str| std::env::var_os(k);
    let sde = det_common::env::resolve_source_date_epoch(
        args.source_date_epoch.as_deref(),
        &source_root,
        &user_env,
    )?;
    let files = tree::source_files(&source_root)?;
    let base = Base::claim(args.keep)?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let resolved_home = |var: &str, dir: &str| {
        std::env::var_os(var).filter(|v| !v.is_empty()).or_else(|| {
            home.as_ref()
                .map(|h| h.join(dir))
                .filter(|p| p.is_dir())
                .map(Into::into)
        })
    };
    let setup = Setup {
        source_root: source_root.clone(),
        files,
        rel_cwd,
        base: base.path.clone(),
        mode: if args.raw { Mode::Raw } else { Mode::DetBuild },
        job: job.clone(),
        det_build,
        cargo,
        shim,
        source_date_epoch: sde.value,
        cargo_home: resolved_home("CARGO_HOME", ".cargo"),
        rustup_home: resolved_home("RUSTUP_HOME", ".rustup"),
        keep: args.keep,
        removing: Default::default(),
    };
    // A locale the varied runs really get (the machine's, or one built into the verification's
    // directory), or a note that only the variables differ.
    let mut notes = notes;
    let other_locale = if varied.contains(&Variation::Locale) {
        match locale::find(&base.path.join("locale")) {
            Ok(o) => Some(o),
            Err(note) => {
                notes.push(note);
                None
            }
        }
    } else {
        None
    };
    let host = Host {
        jobs: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(2)
            .max(2),
        other_locale: other_locale.as_ref().map(|o| o.name.clone()),
        locale_path: other_locale
            .as_ref()
            .and_then(|o| o.locpath.as_ref())
            .map(|p| p.display().to_string()),
        home_control: base.path.join("home").display().to_string(),
        home_varied: base.path.join("home-varied").display().to_string(),
    };
    let mode_name = if args.raw { "raw" } else { "det-build" };
    status.status(
        "Verifying",
        &format!(
            "{} ({} runs, {}; varied: {})",
            source_root.display(),
            args.runs,
            if args.raw { "plain build" } else { "det-build" },
            variation::names(&varied)
        ),
    );
    let mut v = Verification {
        base: &base,
        setup: &setup,
        host: &host,
        status,
        varied: varied.clone(),
        runs: Vec::new(),
        control: None,
        diff_opts: DiffOptions {
            max_differences: 2_000,
            ..DiffOptions::default()
        },
    };
    let control_cond = Conditions::new(&varied, 0, &host);
    if let Some(s) = store.as_mut() {
        let closure = s.closure(&setup, &control_cond)?;
        if s.already_verified(&closure, &varied, args.runs).is_some() {
            return s.emit_skipped(args, &job, &varied, status);
        }
    }
    let control = v.build("run-0", "control", &control_cond)?;
    v.control = Some(control);
    let mut diffs: Vec<(String, DiffReport, Conditions, RunOutput)> = Vec::new();
    for k in 1..args.runs {
        let cond = Conditions::new(&varied, k, &host);
        let out = v.build(&format!("run-{k}"), "varied", &cond)?;
        let d = v.compare(&out)?;
        v.mark(&out.id, !d.identical);
        diffs.push((out.id.clone(), d, cond, out));
    }
    let reproducible = diffs.iter().all(|(_, d, _, _)| d.identical);
    let control_out = v.control.clone().expect("the control ran");
    let artifacts = artifact_table(&control_out, &diffs);
    if let (true, Some(s)) = (reproducible, store.as_mut()) {
        s.record(&job, &control_out, &varied, args.runs);
        s.say(status);
    }

    let mut report = VerifyReport {
        artifacts,
        command: command_words(&job, args.raw),
        differences: Vec::new(),
        diff: None,
        explained: false,
        extra_builds: 0,
        inside_build: false,
        mode: mode_name,
        reproducible,
        runs: Vec::new(),
        schema: report::SCHEMA,
        notes,
        store: store.as_ref().map(|s| s.report()),
        varied: varied.iter().copied().collect(),
    };
    if let Some((_, d, cond, out)) = diffs.iter().find(|(_, d, _, _)| !d.identical) {
        report.differences = causes_of(d);
        if !args.no_explain {
            v.explain(&mut report, d, cond, out)?;
            report.explained = true;
        }
        report.diff = Some(d.clone());
    }
    report.runs = std::mem::take(&mut v.runs);
    if args.keep {
        for run in &report.runs {
            if let Some(k) = &run.kept {
                status.status("Kept", &format!("{} ({}) in {k}", run.id, run.role));
            }
        }
        status.status("Kept", &format!("everything in {}", base.path.display()));
    }
    // The verification's directory is named in the report only with --keep (where the
    // user goes to look); otherwise as `<verify-dir>`, in the strings the diff found in the
    // artifacts too, so that two verifications of the same tree give the same report.
    emit(args, &report, (!args.keep).then_some(base.path.as_path()))?;
    Ok(if report.reproducible {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The state of one verification while it builds.
struct Verification<'a> {
    base: &'a Base,
    setup: &'a Setup,
    host: &'a Host,
    status: &'a Status,
    varied: BTreeSet<Variation>,
    runs: Vec<RunReport>,
    control: Option<RunOutput>,
    diff_opts: DiffOptions,
}

impl Verification<'_> {
    fn build(&mut self, id: &str, role: &'static str, cond: &Conditions) -> Result<RunOutput> {
        let what = match role {
            "control" => "control, pinned".to_string(),
            "rerun" => "rerun with no variation".to_string(),
            _ => runner::describe(cond),
        };
        let started = std::time::Instant::now();
        // On a terminal a spinner while it builds and a line when done; elsewhere a line
        // when it starts (a CI log shows what is running).
        let spinner = self.status.spinner(&format!("{id} ({what})"));
        if spinner.is_none() {
            self.status.status("Building", &format!("{id} ({what})"));
        }
        let out = self.setup.build(id, cond);
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
        // How long each run took (the copy, the build, collecting its outputs), as cargo's
        // `Finished` line says: on the terminal and in a CI log alike.
        if out.is_ok() {
            self.status.status(
                "Built",
                &format!("{id} ({what}) in {:.2}s", started.elapsed().as_secs_f64()),
            );
        }
        let out = out?;
        let built_at = self.setup.location(cond.path_slot);
        self.runs.push(RunReport {
            differs: None,
            id: id.to_string(),
            kept: out.kept.as_ref().map(|k| k.display().to_string()),
            path: built_at
                .strip_prefix(&self.base.path)
                .unwrap_or(&built_at)
                .display()
                .to_string(),
            role,
            values: cond.values.clone(),
            variations: cond.varied.iter().copied().collect(),
        });
        Ok(out)
    }

    fn mark(&mut self, id: &str, differs: bool) {
        if let Some(r) = self.runs.iter_mut().find(|r| r.id == id) {
            r.differs = Some(differs);
        }
    }

    fn compare(&self, out: &RunOutput) -> Result<DiffReport> {
        let control = self.control.as_ref().expect("the control ran first");
        let mut d = diff_paths(&control.out, &out.out, &self.diff_opts)
            .with_context(|| format!("comparing run-0 with {}", out.id))?;
        // The sides by run, not by temporary path.
        d.a = control.id.clone();
        d.b = out.id.clone();
        Ok(d)
    }

    /// The rerun with no variation, then the culprit search over what it did not explain.
    fn explain(
        &mut self,
        report: &mut VerifyReport,
        d: &DiffReport,
        cond: &Conditions,
        out: &RunOutput,
    ) -> Result<()> {
        let sigs = signatures(d);
        let control_cond = Conditions::new(&self.varied, 0, self.host);
        let rerun = self.build("rerun", "rerun", &control_cond)?;
        let rd = self.compare(&rerun)?;
        self.mark("rerun", !rd.identical);
        // What the rerun shows is inside the build; so is whatever differs in a file (or
        // archive member) where the rerun differs: nondeterminism does not repeat itself
        // exactly (a HashMap's order moves strings in .rodata in one build, code offsets in
        // .text in the next), and a search over it would blame whichever variation was on by
        // chance.
        let rerun_sigs = signatures(&rd);
        let regions: BTreeSet<&String> = rerun_sigs.values().map(|(_, r)| r).collect();
        let inside: BTreeSet<String> = sigs
            .iter()
            .filter(|(s, (_, region))| rerun_sigs.contains_key(*s) || regions.contains(region))
            .map(|(s, _)| s.clone())
            .collect();
        report.inside_build = !rd.identical;
        let mut extra = 1;
        let remaining: BTreeSet<String> = sigs
            .keys()
            .filter(|s| !inside.contains(*s))
            .cloned()
            .collect();
        let mut verdicts = BTreeMap::new();
        if !remaining.is_empty() && !cond.varied.is_empty() {
            let k = cond.variant;
            let mut n = 0;
            let max = 2 * cond.varied.len() + 2;
            let (found, builds) = culprit::search(&remaining, &cond.varied, max, |t| {
                n += 1;
                let c = Conditions::new(t, k, self.host);
                let o = self.build(&format!("search-{n}"), "search", &c)?;
                let dd = self.compare(&o)?;
                self.mark(&o.id, !dd.identical);
                Ok(signatures(&dd).into_keys().collect())
            })?;
            verdicts = found;
            extra += builds;
        }
        report.extra_builds = extra;
        let findings = self.project_findings();
        for (i, c) in report.differences.iter_mut().enumerate() {
            let mine: Vec<&String> = sigs
                .iter()
                .filter(|(_, (rc, _))| *rc == i)
                .map(|(s, _)| s)
                .collect();
            c.inside_build = mine.iter().any(|s| inside.contains(*s));
            let mut culprits = BTreeSet::new();
            let mut unresolved = BTreeSet::new();
            for s in &mine {
                match verdicts.get(*s) {
                    Some(Verdict::Culprit(v)) => {
                        culprits.insert(*v);
                    }
                    Some(Verdict::Unresolved(set)) => unresolved.extend(set.iter().copied()),
                    None => {}
                }
            }
            c.culprits = culprits.iter().copied().collect();
            c.unresolved = unresolved.into_iter().collect();
            if let Some(log) = &out.shim_log {
                c.evidence = culprits
                    .iter()
                    .filter_map(|v| shim_evidence(log, *v))
                    .collect();
            }
            let categories: Vec<det_common::Category> = if c.inside_build {
                variation::INSIDE_BUILD_CATEGORIES.to_vec()
            } else {
                culprits
                    .iter()
                    .flat_map(|v| v.categories().iter().copied())
                    .collect()
            };
            c.source = findings
                .iter()
                .filter(|f| categories.contains(&f.rule.category))
                .map(|f| {
                    let line = f.location.line.map(|l| format!(":{l}")).unwrap_or_default();
                    format!(
                        "{}{line}: {} ({}); fix: {}",
                        f.location.file,
                        f.rule.message,
                        f.rule.id,
                        f.fix.as_deref().unwrap_or(f.rule.fix)
                    )
                })
                .collect();
        }
        Ok(())
    }

    /// det-scan's analysis of the cargo project, on a copy (cargo metadata may write).
    fn project_findings(&self) -> Vec<det_common::Finding> {
        if !matches!(self.setup.job, Job::Cargo { .. }) {
            return Vec::new();
        }
        let copy = self.setup.base.join("scan").join(
            self.setup
                .source_root
                .file_name()
                .unwrap_or_else(|| "src".as_ref()),
        );
        if tree::copy(&self.setup.source_root, &self.setup.files, &copy, 0).is_err() {
            return Vec::new();
        }
        let manifest = copy.join(&self.setup.rel_cwd).join("Cargo.toml");
        det_common::project::analyze_cargo_project(Some(&manifest)).unwrap_or_default()
    }
}

/// The root differences of a diff, by a signature that names the same difference in
/// another build (file, member, section or field, kind, rule), each with its root cause
/// and its region (file, member, section).
fn signatures(d: &DiffReport) -> BTreeMap<String, (usize, String)> {
    d.differences
        .iter()
        .filter(|x| x.derived_from.is_none())
        .map(|x| {
            let region = x.place();
            (
                format!(
                    "{} [{}] {:?} {}",
                    x.place(),
                    x.label().unwrap_or_default(),
                    x.kind,
                    x.cause.as_ref().map_or("", |c| c.rule)
                ),
                (x.root_cause.unwrap_or(usize::MAX), region),
            )
        })
        .collect()
}

fn causes_of(d: &DiffReport) -> Vec<CauseReport> {
    d.root_causes
        .iter()
        .map(|rc| {
            let mut matched: Vec<String> = rc
                .differences
                .iter()
                .filter_map(|&id| d.differences.iter().find(|x| x.id == id))
                .filter_map(|x| x.cause.as_ref().map(|c| c.evidence.clone()))
                .collect();
            matched.dedup();
            matched.truncate(3);
            (rc, matched)
        })
        .map(|(rc, matched)| CauseReport {
            culprits: Vec::new(),
            derived: rc.derived,
            differences: rc.differences.len(),
            evidence: Vec::new(),
            fix: rc.fix.clone(),
            inside_build: false,
            matched,
            message: rc.message.map(str::to_string),
            places: rc.places.clone(),
            rule: rc.rule.map(str::to_string),
            source: Vec::new(),
            unresolved: Vec::new(),
            what: rc.what.clone(),
        })
        .collect()
}

fn artifact_table(
    control: &RunOutput,
    diffs: &[(String, DiffReport, Conditions, RunOutput)],
) -> Vec<ArtifactReport> {
    let mut all: BTreeSet<String> = control.artifacts.clone();
    for (_, _, _, o) in diffs {
        all.extend(o.artifacts.iter().cloned());
    }
    all.into_iter()
        .map(|path| {
            let mut runs = Vec::new();
            let mut missing = !control.artifacts.contains(&path);
            for (id, d, _, o) in diffs {
                let differs = d.pairs.iter().any(|p| p.path == path);
                missing |= !o.artifacts.contains(&path);
                if differs || missing {
                    runs.push(id.clone());
                }
            }
            let status = if missing {
                "missing"
            } else if runs.is_empty() {
                "reproducible"
            } else {
                "differs"
            };
            ArtifactReport {
                path,
                runs_differing: runs,
                status,
            }
        })
        .collect()
}

fn command_words(job: &Job, raw: bool) -> Vec<String> {
    let mut v: Vec<String> = match (job, raw) {
        (Job::Cargo { .. }, true) => vec!["cargo".into(), "build".into()],
        (Job::Cargo { .. }, false) => vec!["cargo".into(), "det-build".into()],
        (Job::Exec { .. }, true) => Vec::new(),
        (Job::Exec { .. }, false) => vec!["cargo".into(), "det-build".into(), "exec".into()],
    };
    match job {
        Job::Cargo { args } => v.extend(args.iter().map(|a| a.to_string_lossy().into_owned())),
        Job::Exec { cmd, .. } => v.extend(cmd.iter().map(|a| a.to_string_lossy().into_owned())),
    }
    v
}

/// What the shim's log says the build did that this variation changes.
fn shim_evidence(log: &Path, v: Variation) -> Option<String> {
    let hooks = v.shim_hooks();
    if hooks.is_empty() {
        return None;
    }
    let text = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(&text[..text.len().min(64 << 20)]);
    let mut calls: BTreeMap<String, u64> = BTreeMap::new();
    for line in text.lines() {
        let fields: BTreeMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|f| f.split_once('='))
            .collect();
        if fields.get("active") != Some(&"1") {
            continue;
        }
        let (Some(hook), Some(prog)) = (fields.get("hook"), fields.get("prog")) else {
            continue;
        };
        if hooks.contains(hook) {
            let n: u64 = fields
                .get("calls")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            *calls.entry((*prog).to_string()).or_default() += n;
        }
    }
    if calls.is_empty() {
        return None;
    }
    let what = match v {
        Variation::Time => "read the clock",
        Variation::Host => "asked the host name",
        _ => "listed directories",
    };
    let shown: Vec<String> = calls
        .iter()
        .take(8)
        .map(|(p, n)| format!("{p} ({n} call{})", if *n == 1 { "" } else { "s" }))
        .collect();
    let more = calls.len().saturating_sub(8);
    Some(format!(
        "the shim's log: {what}: {}{}",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}

/// The placeholder for the verification's directory in a report.
pub const VERIFY_DIR: &str = "<verify-dir>";

fn emit(args: &RunArgs, report: &VerifyReport, hide: Option<&Path>) -> Result<()> {
    emit_with(args, report, hide, None)
}

/// The format a report file gets: the one its name ends with, else --format.
fn format_for(path: &Path, default: VerifyFormat) -> VerifyFormat {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => VerifyFormat::Json,
        Some("html" | "htm") => VerifyFormat::Html,
        Some("txt") => VerifyFormat::Text,
        _ => default,
    }
}

/// Writes the report to every `-o` file (each in its own format) or to standard output;
/// `text` replaces the rendered text report when given.
pub(crate) fn emit_with(
    args: &RunArgs,
    report: &VerifyReport,
    hide: Option<&Path>,
    text: Option<&str>,
) -> Result<()> {
    if args.output.is_empty() {
        let color = det_common::report::color_wanted(std::io::stdout().is_terminal());
        let doc = render(args.format, report, hide, text, color)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&doc)?;
        out.flush()?;
    }
    for p in &args.output {
        let doc = render(format_for(p, args.format), report, hide, text, false)?;
        det_common::atomic_file::write(p, &doc)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

fn render(
    format: VerifyFormat,
    report: &VerifyReport,
    hide: Option<&Path>,
    text: Option<&str>,
    color: bool,
) -> Result<Vec<u8>> {
    let base = hide.map(|p| p.display().to_string());
    Ok(match format {
        VerifyFormat::Text => {
            let text = match text {
                Some(t) => t.to_string(),
                None => {
                    let mut buf = Vec::new();
                    report::render_text(&mut buf, report, color)?;
                    String::from_utf8_lossy(&buf).into_owned()
                }
            };
            match &base {
                Some(b) => text.replace(&*det_common::report::escape_terminal(b), VERIFY_DIR),
                None => text,
            }
        }
        VerifyFormat::Json => {
            let json = det_common::report::terminal_safe_json(report, 1 << 16);
            match &base {
                Some(b) => {
                    let quoted = serde_json::to_string(b)?;
                    json.replace(&quoted[1..quoted.len() - 1], VERIFY_DIR)
                }
                None => json,
            }
        }
        VerifyFormat::Html => {
            let html = report::render_html(report);
            match &base {
                Some(b) => html.replace(
                    &*det_common::report::escape::html(b),
                    &det_common::report::escape::html(VERIFY_DIR),
                ),
                None => html,
            }
        }
    }
    .into_bytes())
}

/// cargo-det-build: beside this binary (an install or a target dir), else on PATH.
fn find_det_build() -> Result<PathBuf> {
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let p = dir.join("cargo-det-build");
        if p.is_file() {
            return Ok(p);
        }
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("cargo-det-build");
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "cargo-det-build not found beside cargo-det-verify or on PATH: det-verify builds \
         through it and takes the shim from it (cargo install --path cargo-detbuild)"
    )
}

fn shim_path(det_build: &Path) -> Result<PathBuf> {
    let out = std::process::Command::new(det_build)
        .args(["det-build", "shim-path"])
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {} shim-path", det_build.display()))?;
    if !out.status.success() {
        bail!(
            "{} shim-path failed: {}",
            det_build.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
