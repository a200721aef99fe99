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
            // The chain quotes files det read (a Cargo.toml line, a manifest value): one escaping
            // for all of it, line by line so that multi-line messages keep their shape.
            eprintln!("error: {}", det_common::report::escape_lines(&message(&e)));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once: a cause whose text the message already holds
/// (an I/O error that a library error quotes) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
