//! One build of a verification: a fresh copy of the sources at the run's path, the build
//! (det-build, plain cargo, or any command) under the run's conditions, its artifacts
//! gathered by relative path into the run's own directory, the copy removed.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use det_common::variation::Conditions;

use super::tree;
use crate::interrupt;

/// How each run builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Through `cargo det-build` (and `cargo det-build exec` for other builds).
    DetBuild,
    /// Plain cargo (or the command itself), only the variations applied.
    Raw,
}

/// What is built.
#[derive(Clone, Debug)]
pub enum Job {
    /// `cargo build` with these options; artifacts from cargo's JSON messages.
    Cargo { args: Vec<OsString> },
    /// Any command; artifacts named by globs relative to the working directory.
    Exec {
        cmd: Vec<OsString>,
        artifacts: Vec<String>,
    },
}

/// Everything the runs share.
pub struct Setup {
    /// The tree copied (the workspace, or the directory holding it and its path packages).
    pub source_root: PathBuf,
    /// The files copied, relative to `source_root`.
    pub files: Vec<PathBuf>,
    /// Where the build runs, relative to `source_root`.
    pub rel_cwd: PathBuf,
    /// The verification's temporary directory.
    pub base: PathBuf,
    pub mode: Mode,
    pub job: Job,
    pub det_build: PathBuf,
    pub cargo: OsString,
    /// libdetshim.so on the host.
    pub shim: PathBuf,
    pub source_date_epoch: u64,
    /// The user's CARGO_HOME and RUSTUP_HOME, pinned so that another HOME finds them.
    pub cargo_home: Option<OsString>,
    pub rustup_home: Option<OsString>,
    /// Keep each run's copy of the sources (`--keep`).
    pub keep: bool,
    /// Trees being removed while the next run builds.
    pub removing: Removals,
}

/// Removals of finished runs' trees, in threads of their own: a tree is renamed out of the
/// build location at once (the next run at that path starts at once) and removed while
/// the next run builds. Dropping waits for them (before the verification's directory is
/// removed, also after an error or an interrupt).
#[derive(Default)]
pub struct Removals(std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>);

impl Removals {
    /// Move `tree` to `trash` (a fresh name in the verification's directory) and remove it
    /// in the background; remove it here when it cannot be moved.
    fn remove(&self, tree: &Path, trash: PathBuf) -> Result<()> {
        if let Some(p) = trash.parent() {
            fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
        }
        if fs::rename(tree, &trash).is_err() {
            return tree::remove(tree);
        }
        let handle = std::thread::spawn(move || {
            let _ = tree::remove(&trash);
        });
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
        Ok(())
    }
}

impl Drop for Removals {
    fn drop(&mut self) {
        let handles = std::mem::take(self.0.get_mut().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

/// A finished run: its artifacts under `out`, by relative path.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub id: String,
    pub out: PathBuf,
    /// With --keep: the run's directory (`tree/` the sources as built, `out/`, the logs).
    pub kept: Option<PathBuf>,
    pub artifacts: BTreeSet<String>,
    /// The shim's log (raw mode; det-build keeps the shim to itself).
    pub shim_log: Option<PathBuf>,
}

impl Setup {
    fn name(&self) -> OsString {
        self.source_root
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "src".into())
    }

    /// The build location of a path slot: slot 0 the control's, slot k another path of
    /// another depth and length.
    pub fn location(&self, slot: u32) -> PathBuf {
        if slot == 0 {
            self.base.join("c").join(self.name())
        } else {
            self.base
                .join(format!("v{slot}-{}", "varied-path".repeat(slot as usize)))
                .join("deeper")
                .join(self.name())
        }
    }

    /// Build once under `cond`; `id` names the run's directory (`run-0`, `search-3`).
    pub fn build(&self, id: &str, cond: &Conditions) -> Result<RunOutput> {
        if interrupt::interrupted() {
            return Err(interrupt::Interrupted.into());
        }
        let run_dir = self.base.join("runs").join(id);
        let out = run_dir.join("out");
        fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let loc = self.location(cond.path_slot);
        tree::remove(&loc)?;
        tree::copy(&self.source_root, &self.files, &loc, cond.source_mtime)?;
        for home in cond.env.get("HOME").into_iter().flatten() {
            fs::create_dir_all(home).with_context(|| format!("creating {home}"))?;
        }
        let cwd = loc.join(&self.rel_cwd);
        let target = loc.join("target");
        let log = run_dir.join("build.log");
        let messages = run_dir.join("messages.json");
        let shim_log = (self.mode == Mode::Raw).then(|| run_dir.join("shim.log"));

        let (program, args) = self.command_line(&cwd, &run_dir, cond);
        let mut cmd = Command::new(&program);
        cmd.args(&args).current_dir(&cwd);
        self.environment(&mut cmd, cond, &target, shim_log.as_deref());
        cmd.stdin(Stdio::null())
            .stdout(File::create(&messages).with_context(|| messages.display().to_string())?)
            .stderr(File::create(&log).with_context(|| log.display().to_string())?);
        let umask = cond.umask;
        let no_aslr = cond.no_aslr;
        let randomize = !no_aslr
            && cond
                .varied
                .contains(&det_common::variation::Variation::Aslr);
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: umask(2) and personality(2) are async-signal-safe and allocate nothing.
            unsafe {
                cmd.pre_exec(move || {
                    libc::umask(umask as libc::mode_t);
                    // A refusal leaves the kernel's default (aslr_notes says so).
                    let cur = libc::personality(0xffff_ffff) as libc::c_ulong;
                    if no_aslr {
                        libc::personality(cur | ADDR_NO_RANDOMIZE);
                    } else if randomize {
                        libc::personality(cur & !ADDR_NO_RANDOMIZE);
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("run {id}: starting {}", Path::new(&program).display()))?;
        interrupt::set_child(child.id());
        let status = child.wait();
        interrupt::set_child(0);
        let status = status.with_context(|| format!("run {id}: waiting for the build"))?;
        if interrupt::interrupted() {
            return Err(interrupt::Interrupted.into());
        }
        if !status.success() {
            bail!(
                "run {id} ({}) failed: {status}\n{}",
                describe(cond),
                log_tail(&log, 30)
            );
        }
        let found = match &self.job {
            Job::Cargo { .. } => cargo_artifacts(&messages, &loc, &target)?,
            Job::Exec { artifacts, .. } => det_common::glob::matching_files(&cwd, artifacts)?
                .into_iter()
                .map(|rel| (cwd.join(&rel), rel))
                .collect(),
        };
        if found.is_empty() {
            bail!(
                "run {id}: the build made no artifact to compare{}",
                match &self.job {
                    Job::Exec { .. } => " (no file matches --artifacts)",
                    Job::Cargo { .. } => "",
                }
            );
        }
        let mut artifacts = BTreeSet::new();
        for (host, rel) in found {
            let dest = out.join(&rel);
            if let Some(p) = dest.parent() {
                fs::create_dir_all(p)?;
            }
            if fs::hard_link(&host, &dest).is_err() {
                fs::copy(&host, &dest).with_context(|| {
                    format!("run {id}: copying {} to {}", host.display(), dest.display())
                })?;
            }
            artifacts.insert(rel);
        }
        if self.mode == Mode::DetBuild && matches!(self.job, Job::Cargo { .. }) {
            // det-build's manifest of the run (its closure), for the store (verify::store).
            let _ = fs::copy(
                target.join("det/manifest.json"),
                run_dir.join(super::store::RUN_MANIFEST),
            );
        }
        // The next run at the same path (the rerun and the search builds share the
        // control's or a varied run's path) starts from a fresh copy: a kept tree moves
        // into the run's own directory.
        if self.keep {
            let kept = run_dir.join("tree");
            fs::rename(&loc, &kept).with_context(|| {
                format!("run {id}: moving {} to {}", loc.display(), kept.display())
            })?;
        } else {
            self.removing
                .remove(&loc, self.base.join("trash").join(id))?;
        }
        Ok(RunOutput {
            id: id.to_string(),
            out,
            kept: self.keep.then_some(run_dir),
            artifacts,
            shim_log,
        })
    }

    pub(super) fn command_line(
        &self,
        cwd: &Path,
        run_dir: &Path,
        cond: &Conditions,
    ) -> (OsString, Vec<OsString>) {
        let jobs = format!("-j{}", cond.jobs);
        let sde = self.source_date_epoch.to_string();
        match (&self.mode, &self.job) {
            (Mode::Raw, Job::Cargo { args }) => {
                let mut a: Vec<OsString> = vec![
                    "build".into(),
                    "--message-format=json-render-diagnostics".into(),
                ];
                a.extend(args.iter().cloned());
                a.push(jobs.into());
                (self.cargo.clone(), a)
            }
            (Mode::DetBuild, Job::Cargo { args }) => {
                let mut a: Vec<OsString> = vec![
                    "det-build".into(),
                    "--message-format=json-render-diagnostics".into(),
                    // Each run builds: a store hit would compare the store with itself.
                    "--no-store".into(),
                    "--source-date-epoch".into(),
                    sde.into(),
                ];
                a.extend(args.iter().cloned());
                a.push(jobs.into());
                (self.det_build.clone().into(), a)
            }
            (Mode::Raw, Job::Exec { cmd, .. }) => (cmd[0].clone(), cmd[1..].to_vec()),
            (Mode::DetBuild, Job::Exec { cmd, artifacts }) => {
                let mut a: Vec<OsString> = vec![
                    "det-build".into(),
                    "exec".into(),
                    "--source-date-epoch".into(),
                    sde.into(),
                    "--manifest".into(),
                    run_dir.join("exec-manifest.json").into(),
                ];
                for g in artifacts {
                    a.push("--outputs".into());
                    a.push(g.into());
                }
                a.push("--".into());
                a.extend(cmd.iter().cloned());
                let _ = cwd;
                (self.det_build.clone().into(), a)
            }
        }
    }

    pub(super) fn environment(
        &self,
        cmd: &mut Command,
        cond: &Conditions,
        target: &Path,
        log: Option<&Path>,
    ) {
        for (k, v) in &cond.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        // Another HOME must not lose the toolchain or the registry.
        if let Some(h) = &self.cargo_home {
            cmd.env("CARGO_HOME", h);
        }
        if let Some(h) = &self.rustup_home {
            cmd.env("RUSTUP_HOME", h);
        }
        cmd.env("CARGO_TARGET_DIR", target);
        cmd.env_remove("CARGO_BUILD_TARGET_DIR");
        if matches!(self.job, Job::Exec { .. }) {
            cmd.env("MAKEFLAGS", format!("-j{}", cond.jobs));
            cmd.env("CARGO_BUILD_JOBS", cond.jobs.to_string());
        }
        let mut preload = OsString::from(&self.shim);
        if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
            preload.push(":");
            preload.push(old);
        }
        cmd.env("LD_PRELOAD", preload);
        for (k, v) in &cond.shim {
            cmd.env(k, v);
        }
        // make compares file times with the clock: it stays on the real one (shim README).
        cmd.env("DET_SHIM_EXCLUDE", "make,gmake");
        match log {
            Some(l) => cmd.env("DET_SHIM_LOG", l),
            None => cmd.env_remove("DET_SHIM_LOG"),
        };
    }
}

const ADDR_NO_RANDOMIZE: libc::c_ulong = 0x0040000;

/// What this machine does not let det-verify do about address-space layout randomization,
/// as report notes: pin it off in the runs not varying it (personality(2) with
/// ADDR_NO_RANDOMIZE; a container's seccomp profile may refuse it), and randomize it in the
/// runs varying it (the kernel's `kernel.randomize_va_space`).
pub fn aslr_notes(aslr_varied: bool) -> Vec<String> {
    let mut notes = Vec::new();
    // SAFETY: personality(2) only reads or sets this thread's execution domain, which
    // takes effect at the next exec; the old value is restored at once.
    let pinned = unsafe {
        let cur = libc::personality(0xffff_ffff);
        cur != -1 && {
            let ok = libc::personality(cur as libc::c_ulong | ADDR_NO_RANDOMIZE) != -1
                && libc::personality(0xffff_ffff) as libc::c_ulong & ADDR_NO_RANDOMIZE != 0;
            libc::personality(cur as libc::c_ulong);
            ok
        }
    };
    if !pinned {
        notes.push(format!(
            "ASLR could not be turned off (personality ADDR_NO_RANDOMIZE: {}; a container's \
             seccomp profile may forbid it): every run, the control too, ran with the kernel's \
             address randomization, so a difference that follows addresses shows as inside \
             the build",
            std::io::Error::last_os_error()
        ));
    }
    if aslr_varied {
        let level = fs::read_to_string("/proc/sys/kernel/randomize_va_space").unwrap_or_default();
        if level.trim() == "0" {
            notes.push(
                "the aslr variation changed nothing: the kernel randomizes no address \
                 (kernel.randomize_va_space = 0)"
                    .to_string(),
            );
        }
    }
    notes
}

/// `varied: time, host` or `control (pinned)`.
pub fn describe(cond: &Conditions) -> String {
    if cond.varied.is_empty() {
        "no variation".to_string()
    } else {
        format!("varied: {}", det_common::variation::names(&cond.varied))
    }
}

/// The files cargo reported for the packages of the copied tree (not build scripts),
/// as (host path, path relative to the target dir).
fn cargo_artifacts(messages: &Path, tree: &Path, target: &Path) -> Result<Vec<(PathBuf, String)>> {
    let f = File::open(messages).with_context(|| messages.display().to_string())?;
    let mut out = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let kinds = v["target"]["kind"].as_array().cloned().unwrap_or_default();
        if kinds.iter().any(|k| k == "custom-build") {
            continue;
        }
        if !v["manifest_path"]
            .as_str()
            .is_some_and(|m| Path::new(m).starts_with(tree))
        {
            continue;
        }
        let mut files: Vec<&str> = v["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .collect();
        files.extend(v["executable"].as_str());
        for f in files {
            let p = Path::new(f);
            if let Ok(rel) = p.strip_prefix(target)
                && p.is_file()
            {
                out.push((p.to_path_buf(), rel.to_string_lossy().into_owned()));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The last `n` lines of a build log (at most 64 KiB read), escaped for the terminal.
pub fn log_tail(log: &Path, n: usize) -> String {
    let Ok(mut f) = File::open(log) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 << 10)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(n)..];
    tail.iter()
        .map(|l| format!("  | {}", det_common::report::escape_terminal(l)))
        .collect::<Vec<_>>()
        .join("\n")
}
