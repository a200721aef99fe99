//! Orchestration: gather inputs, scan them in parallel with a progress bar, filter, render,
//! and choose the exit code.

use crate::cli::{Color, Format, ScanArgs};
use crate::config;
use anyhow::{Context, Result, bail};
use det_common::artifact::Limits;
use det_common::detect::ScanOptions;
use det_common::report::{OutputFormat, RenderOptions, Report, ReportError, ToolInfo};
use det_common::scan::{ScanTarget, WalkError, walk_each};
use det_common::{Finding, Location, rules};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn run(args: ScanArgs) -> Result<ExitCode> {
    if args.list_rules {
        return list_rules();
    }
    if !args.command && !args.command_argv.is_empty() {
        bail!(
            "a command line after `--` needs --command (e.g. `cargo det-scan --command -- gcc -g -c x.c`)"
        );
    }
    if args.command && args.command_argv.is_empty() {
        bail!(
            "--command needs the command line after `--` (e.g. `cargo det-scan --command -- gcc -g -c x.c`)"
        );
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let config = config::load(args.manifest_path.as_deref(), &cwd)?;
    let mut ignore = config.ignore.clone();
    for id in &args.ignore {
        if rules::by_id(id).is_none() {
            bail!("--ignore names unknown rule `{id}` (see `cargo det-scan --list-rules`)");
        }
        ignore.push(id.clone());
    }

    let mut paths = args.paths.clone();
    let nothing_else = !args.command
        && args.compile_commands.is_empty()
        && args.build_log.is_empty()
        && !args.cargo;
    if paths.is_empty() && nothing_else {
        paths.push(".".into());
    }

    let opts = ScanOptions {
        source_date_epoch: args.source_date_epoch,
        limits: Limits {
            max_depth: args.max_depth,
            max_decompressed: args.max_decompressed.saturating_mul(1 << 20),
            max_ratio: args.max_ratio.max(1),
            ..Limits::default()
        }
        .with_memory_budget(args.max_memory.saturating_mul(1 << 20)),
        build_roots: build_roots(&args.build_root, &cwd)?,
        cargo_home: cargo_home(),
        ..ScanOptions::default()
    };
    if let Some(jobs) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global()
            .context("cannot start the scan threads")?;
    }

    let mut findings: Vec<Finding> = Vec::new();
    let mut errors: Vec<ReportError> = Vec::new();

    let (file_findings, file_errors, files_scanned) =
        scan_paths(&paths, args.follow_symlinks, &opts, progress_bar(&args));
    findings.extend(file_findings);
    errors.extend(file_errors);

    let mut checked = Vec::new();
    if args.command {
        checked.push("1 command line".to_owned());
        findings.extend(det_common::command::analyze_command(
            &args.command_argv,
            Some(&cwd),
            &Location::file("<command line>"),
        ));
    }
    for path in &args.compile_commands {
        match det_common::command::analyze_compile_commands(path) {
            Ok(f) => findings.extend(f),
            Err(e) => errors.push(ReportError {
                file: path.display().to_string(),
                message: error_message(&e),
            }),
        }
    }
    for path in &args.build_log {
        match det_common::command::analyze_build_log_counted(path) {
            Ok((f, n)) => {
                findings.extend(f);
                checked.push(format!(
                    "{n} compiler and tool invocation{} in {}",
                    if n == 1 { "" } else { "s" },
                    path.display()
                ));
            }
            Err(e) => errors.push(ReportError {
                file: path.display().to_string(),
                message: error_message(&e),
            }),
        }
    }
    if args.cargo {
        match det_common::project::analyze_cargo_project_checked(
            args.manifest_path.as_deref(),
            opts.cargo_home.as_deref(),
        ) {
            Ok((f, what)) => {
                findings.extend(f);
                checked.push(what.to_string());
            }
            Err(e) => errors.push(ReportError {
                file: args
                    .manifest_path
                    .as_deref()
                    .unwrap_or(Path::new("Cargo.toml"))
                    .display()
                    .to_string(),
                message: error_message(&e),
            }),
        }
    }

    findings.retain(|f| !ignore.iter().any(|id| id == f.rule.id));
    // A file det could not read completely (truncated, corrupt, cut at a limit, a det bug)
    // was scanned only in part: its findings are reported, and the scan is incomplete.
    let incomplete: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f.rule.id == "parse-error")
        .map(|f| (f.location.display_path(), f.evidence.clone()))
        .collect();
    let mut report = Report::new(
        ToolInfo {
            name: "det-scan".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        findings,
        errors,
        files_scanned,
    );
    report.checked = checked;
    // --min-severity shapes the report; --fail-on judges everything found (the summary
    // says how many findings the report does not show).
    let fails = args.fail_on.threshold().is_some_and(|t| report.reaches(t));
    // Info findings say "nothing to do" (a content-hash build id, the toolchain's name):
    // people at a terminal see low and above; machines get everything.
    let min_severity = args.min_severity.map_or(
        if args.format == Format::Text {
            det_common::Severity::Low
        } else {
            det_common::Severity::Info
        },
        |m| m.severity(),
    );
    report.filter(min_severity);

    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            args.output.is_none()
                && det_common::report::color_wanted(std::io::stdout().is_terminal())
        }
    };
    let format = match args.format {
        Format::Text => OutputFormat::Text,
        Format::Json => OutputFormat::Json,
        Format::Sarif => OutputFormat::Sarif,
        Format::Html => OutputFormat::Html,
    };
    let rendered = det_common::report::render(
        &report,
        format,
        &RenderOptions {
            color,
            ..RenderOptions::default()
        },
    );
    match &args.output {
        Some(path) => det_common::atomic_file::write(path, rendered.as_bytes())?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.as_bytes())?;
            out.flush()?;
        }
    }

    if !incomplete.is_empty() {
        const SHOWN: usize = 10;
        for (file, message) in incomplete.iter().take(SHOWN) {
            eprintln!(
                "error: {}: not read completely: {}",
                det_common::report::escape_terminal(file),
                det_common::report::escape_terminal(message)
            );
        }
        if incomplete.len() > SHOWN {
            eprintln!(
                "error: and {} more parse errors (see the report)",
                incomplete.len() - SHOWN
            );
        }
        eprintln!(
            "error: the scan is incomplete: what could be read was scanned and is reported (`--ignore parse-error` accepts this)"
        );
    }
    if !report.errors.is_empty() {
        // A text report on the terminal lists the errors already: say them once.
        let shown_on_terminal = args.output.is_none()
            && format == OutputFormat::Text
            && std::io::stdout().is_terminal();
        for e in report.errors.iter().filter(|_| !shown_on_terminal) {
            eprintln!(
                "error: {}: {}",
                det_common::report::escape_terminal(&e.file),
                det_common::report::escape_terminal(&e.message)
            );
        }
    }
    let code = if !report.errors.is_empty() || !incomplete.is_empty() {
        ExitCode::from(2)
    } else if fails {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends now: its memory goes back to the kernel at once, not finding by
    // finding (freeing 12 000 findings and a 9 MiB report took 10 ms on one core).
    std::mem::forget(report);
    std::mem::forget(rendered);
    Ok(code)
}

/// The cargo home of this machine, as cargo resolves it: `$CARGO_HOME`, else `$HOME/.cargo`
/// (a default rustup install leaves CARGO_HOME unset, so a fix naming `$CARGO_HOME` would
/// remap the empty prefix).
fn cargo_home() -> Option<String> {
    let home = std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|h| h.join(".cargo")))?;
    Some(home.to_string_lossy().trim_end_matches('/').to_owned())
}

/// The directories paths are judged against: those given, or else the project around the
/// working directory (the nearest ancestor with `.git` or `Cargo.toml`), never `/` alone.
fn build_roots(given: &[PathBuf], cwd: &Path) -> Result<Vec<String>> {
    let mut roots = Vec::new();
    if given.is_empty() {
        let project = cwd
            .ancestors()
            .find(|d| d.join(".git").exists() || d.join("Cargo.toml").is_file());
        roots.extend(project.map(Path::to_path_buf));
    } else {
        for dir in given {
            let abs = std::fs::canonicalize(dir)
                .with_context(|| format!("--build-root {}", dir.display()))?;
            roots.push(abs);
        }
    }
    Ok(roots
        .into_iter()
        .filter(|r| r.components().count() > 2)
        .map(|r| r.to_string_lossy().into_owned())
        .collect())
}

/// What became of one file the walk found.
enum Outcome {
    Scanned(Vec<Finding>),
    /// Opened as the walk found it, but not read.
    Failed(ReportError),
    /// What the walk could not read.
    WalkFailed(WalkError),
}

/// How many files the walk may have opened that wait for their scan: 256, or a quarter of
/// the descriptors this process may open when that is less (`ulimit -n 64`), so that the
/// scans' own opens (of a file the walk could not open, of det's output) always find one.
fn max_in_flight() -> usize {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            let quarter = usize::try_from(lim.rlim_cur / 4).unwrap_or(usize::MAX);
            return quarter.clamp(1, 256);
        }
    }
    256
}

/// Walk `paths` and scan every file found, the scan starting while the walk goes on: each
/// file is a task of its own, which an idle thread takes at once (and a run of slow files,
/// such as the Windows import libraries crates ship, which sort last, is shared between the
/// threads instead of ending the scan on one core). The results are put back in walk order.
/// Returns the findings, the errors, and the number of files scanned.
fn scan_paths(
    paths: &[PathBuf],
    follow_symlinks: bool,
    opts: &ScanOptions,
    bar: Progress,
) -> (Vec<Finding>, Vec<ReportError>, u64) {
    let results = std::sync::Mutex::new(Vec::new());
    // A test that swaps files between the walk and the scan needs the whole walk first.
    let walk_first = det_common::test_hook::armed("after-walk");
    // Files the walk has opened and no scan has finished with: each holds a descriptor.
    let in_flight = AtomicUsize::new(0);
    let max_in_flight = max_in_flight();
    rayon::scope(|s| {
        let spawn = |i: usize, found: Result<ScanTarget, WalkError>| {
            let (results, bar, in_flight) = (&results, &bar, &in_flight);
            in_flight.fetch_add(1, Ordering::Relaxed);
            s.spawn(move |_| {
                let outcome = match found {
                    Err(e) => {
                        // Counted as found: counted as done, so the bar can reach its end.
                        bar.scanned(0);
                        Outcome::WalkFailed(e)
                    }
                    Ok(t) => {
                        let r = match det_common::scan::scan_file(&t, opts) {
                            Ok(f) => Outcome::Scanned(f),
                            Err(e) => Outcome::Failed(ReportError {
                                file: t.display.clone(),
                                message: error_message(&e),
                            }),
                        };
                        bar.scanned(t.size);
                        r
                    }
                };
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, outcome));
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        };
        let mut held = Vec::new();
        let mut n = 0;
        // The walk opens each file as it finds it (one lookup of its path, not two) and runs
        // ahead of the scans: past `max_in_flight` open files it scans some itself.
        walk_each(paths, follow_symlinks, true, |found| {
            bar.found();
            if walk_first {
                held.push(found);
            } else {
                while in_flight.load(Ordering::Relaxed) >= max_in_flight {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::yield_now();
                    }
                }
                spawn(n, found);
                n += 1;
            }
        });
        if walk_first {
            det_common::test_hook::pause("after-walk");
            for (i, found) in held.into_iter().enumerate() {
                spawn(i, found);
            }
        }
    });
    bar.finish();
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_unstable_by_key(|(i, _)| *i);
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    let mut files = 0;
    for (_, outcome) in results {
        match outcome {
            Outcome::Scanned(f) => {
                files += 1;
                findings.extend(f);
            }
            Outcome::Failed(e) => {
                files += 1;
                errors.push(e);
            }
            Outcome::WalkFailed(e) => errors.push(ReportError {
                file: e.path,
                message: e.message,
            }),
        }
    }
    (findings, errors, files)
}

/// The error without the path prefix the library adds (the report names the file already).
fn error_message(e: &det_common::Error) -> String {
    match e {
        det_common::Error::Io { source, .. } => source.to_string(),
        det_common::Error::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The progress bar of a scan on a terminal: files found and scanned while the walk goes
/// on, and bytes read. It appears only once a scan has run for half a second, so that a
/// quick scan leaves no trace on the terminal.
struct Progress {
    bar: Option<ProgressBar>,
    shown: std::sync::atomic::AtomicBool,
    bytes: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn found(&self) {
        if let Some(bar) = &self.bar {
            bar.inc_length(1);
        }
    }

    fn scanned(&self, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(bar) = &self.bar else { return };
        let read = self.bytes.fetch_add(bytes, Relaxed) + bytes;
        bar.inc(1);
        bar.set_message(format!("{} read", indicatif::HumanBytes(read)));
        if !self.shown.load(Relaxed)
            && bar.elapsed() >= std::time::Duration::from_millis(500)
            && !self.shown.swap(true, Relaxed)
        {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn progress_bar(args: &ScanArgs) -> Progress {
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} scanning [{bar:30}] {pos}/{len} files, {msg} {elapsed}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar
    });
    Progress {
        bar,
        shown: Default::default(),
        bytes: Default::default(),
    }
}

fn list_rules() -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut sorted: Vec<_> = rules::RULES.iter().collect();
    sorted.sort_by_key(|r| (r.category, r.id));
    for r in sorted {
        writeln!(
            out,
            "{:<34} {:<12} {:<9} {}",
            r.id,
            r.category.as_str(),
            r.severity.as_str(),
            r.message
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_roots_default_to_the_enclosing_project_and_never_the_file_system_root() {
        let dir = tempfile::tempdir().unwrap();
        let project = std::fs::canonicalize(dir.path()).unwrap().join("proj");
        std::fs::create_dir_all(project.join("src/deep")).unwrap();
        std::fs::write(project.join("Cargo.toml"), "[package]\n").unwrap();
        assert_eq!(
            build_roots(&[], &project.join("src/deep")).unwrap(),
            [project.display().to_string()]
        );
        let given = build_roots(&[project.join("src")], Path::new("/")).unwrap();
        assert_eq!(given, [project.join("src").display().to_string()]);
        assert!(
            build_roots(&[PathBuf::from("/")], Path::new("/"))
                .unwrap()
                .is_empty()
        );
        let missing = build_roots(&[project.join("nope")], Path::new("/")).unwrap_err();
        assert!(format!("{missing:#}").contains("nope"), "{missing:#}");
    }
}
