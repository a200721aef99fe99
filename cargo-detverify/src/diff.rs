//! `cargo det-verify diff A B`: the structural diff of two builds (det_common::diff),
//! rendered as text, JSON (det-diff/1) or HTML.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use det_common::artifact::Limits;
use det_common::diff::{DiffFormat, DiffOptions, diff_paths, render};

use crate::cli::{DiffArgs, DiffFormatArg};

pub fn run(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    for p in [&args.a, &args.b] {
        if std::fs::metadata(p).is_err() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
    }
    let mut opts = DiffOptions::default();
    opts.scan.source_date_epoch = args.source_date_epoch;
    opts.max_differences = args.max_differences;
    opts.scan.limits = Limits {
        max_depth: args.max_depth,
        max_decompressed: args.max_decompressed.saturating_mul(1 << 20),
        max_ratio: args.max_ratio.max(1),
        ..Limits::default()
    }
    .with_memory_budget(args.max_memory.saturating_mul(1 << 20));
    let report = diff_paths(&args.a, &args.b, &opts).with_context(|| {
        format!(
            "cannot compare {} and {}",
            args.a.display(),
            args.b.display()
        )
    })?;
    let format = match args.format {
        DiffFormatArg::Text => DiffFormat::Text,
        DiffFormatArg::Json => DiffFormat::Json,
        DiffFormatArg::Html => DiffFormat::Html,
    };
    match &args.output {
        Some(path) => {
            let doc = render(&report, format, false);
            det_common::atomic_file::write(path, doc.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let color = format == DiffFormat::Text
                && det_common::report::color_wanted(stdout.is_terminal());
            let doc = render(&report, format, color);
            let mut out = stdout.lock();
            out.write_all(doc.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(if report.identical {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
