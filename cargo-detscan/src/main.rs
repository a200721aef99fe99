//! cargo-det-scan: find what will make binaries, archives, compiler command lines and cargo
//! projects differ between two builds, where exactly, and the fix.

mod cli;
mod config;
mod run;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    match run::run(args) {
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
