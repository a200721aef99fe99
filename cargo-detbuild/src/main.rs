//! `cargo det-build`: build a cargo project so that its outputs are bit-identical on any
//! machine. The default verb is the build (cargo build's options at the top level); the
//! subcommands sit beside it (`shim-path`, `normalize`, and hidden internal ones).

mod cargo_build;
mod cc;
mod cli;
mod closing_scan;
mod doctor;
mod exec;
mod normalize;
mod provenance;
mod shim;
mod signals;
mod status;
mod statusline;
mod stderr_tee;
mod store_cmd;
mod toolchain_cache;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

use cli::{Cargo, Command, DetBuild};

fn main() -> ExitCode {
    // Called as cc/c++/ar through a link: the wrapper, with its settings from the environment.
    let mut argv = std::env::args_os();
    if let Some(tool) = argv.next().as_deref().and_then(cc::Tool::from_argv0) {
        let args: Vec<_> = argv.collect();
        let Err(e) = cc::exec(tool, &args, &cc::WrapConfig::from_env());
        eprintln!("error: det-build {tool:?} wrapper: {e:#}");
        return ExitCode::from(2);
    }
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
    run(cli)
}

fn run(cli: DetBuild) -> ExitCode {
    let status = status::Status::new(cli.build.color.as_deref(), cli.build.quiet);
    let result = match cli.command {
        Some(Command::ShimPath) => shim_path().map(|()| ExitCode::SUCCESS),
        Some(Command::Normalize(args)) => normalize::run(args),
        Some(Command::Exec(a)) => exec::run(a, &status),
        Some(Command::Doctor(a)) => doctor::run(a),
        Some(Command::Cc(w)) => cc::wrap(cc::Tool::Cc, w),
        Some(Command::Cxx(w)) => cc::wrap(cc::Tool::Cxx, w),
        Some(Command::Ar(w)) => cc::wrap(cc::Tool::Ar, w),
        Some(Command::Store(a)) => store_cmd::run(a),
        Some(Command::SandboxExec { program, args }) => {
            let code = det_common::build::sandbox_exec_main(&program, &args);
            return ExitCode::from(code as u8);
        }
        None => cargo_build::run(&cli.build, &status).map(|o| match o {
            cargo_build::Outcome::Ok => ExitCode::SUCCESS,
            cargo_build::Outcome::Findings => ExitCode::from(1),
        }),
    };
    match result {
        Ok(c) => c,
        Err(e) if e.downcast_ref::<cargo_build::Reported>().is_some() => ExitCode::from(2),
        Err(e) => {
            status.error(&format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}

fn shim_path() -> anyhow::Result<()> {
    let path = shim::shim_path()?;
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error.
    match writeln!(out, "{}", path.display()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
