//! `cargo det-build`: build a cargo project, any command, or one compiler call
//! deterministically. The verbs so far: `shim-path` and `normalize`.

mod normalize;
mod shim;
mod statusline;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo", bin_name = "cargo", version, styles = clap::builder::Styles::plain())]
enum Cargo {
    /// Deterministic builds: the LD_PRELOAD shim that pins (or perturbs) the wall clock, the
    /// host name and directory order of a build's processes.
    #[command(name = "det-build", version, after_help = AFTER_HELP)]
    DetBuild(DetBuild),
}

const AFTER_HELP: &str = "\
Example: a build whose processes see 2024-01-01T00:00:00Z, host name `build` and sorted
directory listings:
  LD_PRELOAD=$(cargo det-build shim-path) DET_SHIM_TIME=1704067200 \\
    DET_SHIM_HOSTNAME=build DET_SHIM_READDIR=sorted make
Every DET_SHIM_* setting: shim/README.md.";

#[derive(clap::Args)]
struct DetBuild {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the path of libdetshim.so (the LD_PRELOAD library), writing it to the cache
    /// directory ($DET_CACHE_DIR, $XDG_CACHE_HOME/det or ~/.cache/det) if needed.
    ShimPath,
    /// Rewrite archives in place so that they hold no time, owner, order or name from the
    /// machine that made them (zip, jar, wheel, tar, gzip, ar, pyc), content unchanged.
    #[command(after_help = normalize::AFTER_HELP)]
    Normalize(normalize::NormalizeArgs),
}

fn main() -> ExitCode {
    let Cargo::DetBuild(cli) = match Cargo::try_parse_from(
        det_common::cargo_cli::cargo_subcommand_args("det-build", std::env::args_os()),
    ) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: DetBuild) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Normalize(args) => normalize::run(args),
        Command::ShimPath => {
            let path = shim::shim_path()?;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error.
            match writeln!(out, "{}", path.display()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                r => r.map(|()| ExitCode::SUCCESS).map_err(Into::into),
            }
        }
    }
}
