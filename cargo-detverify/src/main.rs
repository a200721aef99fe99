//! cargo-det-verify: prove that builds are reproducible. `compare` checks build manifests
//! written on several machines against each other, output by output; `diff` compares two
//! builds structurally and names the cause of every difference.

mod cli;
mod compare;
mod diff;

use std::process::ExitCode;

fn main() -> ExitCode {
    let result = match cli::parse().command {
        cli::Command::Compare(args) => compare::run(&args),
        cli::Command::Diff(args) => diff::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                // Output cut short by `| head` is not an error (as ripgrep does).
                return ExitCode::SUCCESS;
            }
            // The chain quotes files det read (a Cargo.toml line, a manifest value): one escaping
            // for all of it, line by line so that multi-line messages keep their shape.
            eprintln!(
                "error: {}",
                det_common::report::escape_lines(&format!("{e:#}"))
            );
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
