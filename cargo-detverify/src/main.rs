//! cargo-det-verify: prove that builds are reproducible. `compare` checks build manifests
//! written on several machines against each other, output by output.

mod cli;
mod compare;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli::Command::Compare(args) = cli::parse().command;
    match compare::run(&args) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                // Output cut short by `| head` is not an error (as ripgrep does).
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
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
