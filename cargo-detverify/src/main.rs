//! cargo-det-verify: prove that builds are reproducible. `compare` checks build manifests
//! written on several machines against each other, output by output; `diff` compares two
//! builds structurally and names the cause of every difference.

mod cli;
mod compare;
mod diff;
mod interrupt;
mod status;
mod verify;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    let result = match args.command {
        Some(cli::Command::Compare(a)) => compare::run(&a),
        Some(cli::Command::Diff(a)) => diff::run(&a),
        None => verify::run(&args.run, &status::Status::new(args.run.quiet)),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<interrupt::Interrupted>().is_some() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
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
