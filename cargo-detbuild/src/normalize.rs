//! `cargo det-build normalize FILE...`: strip-nondeterminism in det — archives rewritten in
//! place by det-common's `normalize`, in parallel, each reported on its own status line.

use crate::statusline::{Tone, status};
use det_common::normalize::{Options, Outcome, normalize_file};
use rayon::prelude::*;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub(crate) struct NormalizeArgs {
    /// The files to rewrite in place: zip, jar, wheel, tar (also .tar.gz, .tar.xz, .tar.zst,
    /// .tar.bz2), gzip, ar (.a, .rlib, .deb) and .pyc. Other files are left untouched.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The time every timestamp becomes, in seconds since the epoch [default:
    /// $SOURCE_DATE_EPOCH, else the time of the last git commit here, else 1980-01-01]
    #[arg(long, value_name = "SECONDS")]
    source_date_epoch: Option<String>,
    /// Only lower the timestamps later than SOURCE_DATE_EPOCH; earlier ones are kept
    #[arg(long)]
    clamp: bool,
    /// Report only problems
    #[arg(short, long)]
    quiet: bool,
}

pub(crate) const AFTER_HELP: &str = "\
Zip entries are sorted and get SOURCE_DATE_EPOCH as their time, lose extended-timestamp and
owner extra fields, and get modes 0644/0755; a wheel's RECORD is kept correct. tar members
are sorted with owner 0/root and the time; ar members get mtime, uid and gid 0 and mode
644; gzip headers lose their time and file name; a .pyc becomes a checked-hash pyc (as
py_compile writes with SOURCE_DATE_EPOCH) when its source is next to it. Content is never
changed. A corrupt file is left as it is and named in an error (exit status 2).

Example:
  cargo det-build normalize --source-date-epoch 1704067200 dist/*.whl target/*.tar.gz";

pub(crate) fn run(args: NormalizeArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let sde = det_common::env::resolve_source_date_epoch(
        args.source_date_epoch.as_deref(),
        &cwd,
        &|k| std::env::var_os(k),
    )?;
    let mut opts = Options::new(i64::try_from(sde.value)?);
    opts.clamp = args.clamp;
    let results: Vec<_> = args
        .files
        .par_iter()
        .map(|f| (f, normalize_file(f, &opts)))
        .collect();
    let mut failed = false;
    for (file, result) in results {
        let shown = file.display();
        match result {
            Ok(r) => {
                match &r.outcome {
                    Outcome::Normalized if !args.quiet => status(
                        Tone::Good,
                        "Normalized",
                        &format!("{shown} ({})", r.format.name()),
                    ),
                    Outcome::Unchanged if !args.quiet => status(
                        Tone::Good,
                        "Unchanged",
                        &format!("{shown} ({}, already normalized)", r.format.name()),
                    ),
                    Outcome::Unsupported(why) => status(
                        Tone::Warn,
                        "Skipped",
                        &format!("{shown}: {why}; left untouched"),
                    ),
                    _ => {}
                }
                for note in &r.notes {
                    status(Tone::Warn, "Note", note);
                }
            }
            Err(e) => {
                failed = true;
                status(Tone::Bad, "error", &format!("{e}; left untouched"));
            }
        }
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
