//! Command-line arguments: `cargo det-scan [OPTIONS] [PATH]...`.

use clap::{Parser, ValueEnum};
use det_common::Severity;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "cargo",
    bin_name = "cargo",
    disable_help_subcommand = true,
    args_override_self = true
)]
enum Cargo {
    DetScan(ScanArgs),
}

const LONG_ABOUT: &str = "\
Find what will make two builds differ: timestamps, absolute build paths, UUIDs, random
build ids, archive metadata, file order, host names — in binaries (ELF, Mach-O, PE),
archives (ar, .rlib, .deb, zip, wheel, jar, tar, gzip, xz, zstd), Python bytecode, text,
compiler command lines, build logs and cargo projects. Every finding names its rule, the
exact location (file, container members, section, offset), the evidence and the fix.

Containers are opened and their members scanned in turn; a finding in a shared object
inside a wheel reads `dist/x.whl!pkg/_speedups.so`.";

const AFTER_HELP: &str = "\
Examples:
  cargo det-scan target/release/myapp            scan a binary
  cargo det-scan dist/                           scan every file below dist/
  cargo det-scan --format sarif -o det.sarif .   SARIF for GitHub code scanning
  cargo det-scan --cargo                         scan the cargo project here
  cargo det-scan --build-log build.log           check a `cargo build -v` / `make V=1` log
  cargo det-scan --command -- gcc -g -c x.c      check one compiler invocation

Exit status: 0 when no finding is at or above --fail-on, 1 when one is, 2 on a usage
error or a file that could not be read (after everything else was scanned).
Rules and their fixes: docs/rules.md, or `--list-rules`.";

/// Scan binaries, archives, command lines and cargo projects for reproducibility leaks.
#[derive(clap::Args, Debug)]
// One usage line for every error: clap's own lists the options the user gave, so
// `--format json --bogus` printed `cargo det-scan --format <FORMAT> [PATH]...`, which reads
// as if --format were required.
#[command(
    version,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    override_usage = "cargo det-scan [OPTIONS] [PATH]... [-- <CMD>...]"
)]
pub struct ScanArgs {
    /// Files or directories to scan (walked recursively in sorted order)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Analyse the compiler or tool invocation given after `--`
    #[arg(long, help_heading = "Inputs")]
    pub command: bool,

    /// The command line to analyse, after `--` (with --command)
    #[arg(last = true, value_name = "CMD", help_heading = "Inputs")]
    pub command_argv: Vec<String>,

    /// Analyse every entry of a compile_commands.json
    #[arg(long, value_name = "FILE", help_heading = "Inputs")]
    pub compile_commands: Vec<PathBuf>,

    /// Analyse the compiler invocations in a build log (`cargo build -v`, `make V=1`, ninja -v)
    #[arg(long, value_name = "FILE", help_heading = "Inputs")]
    pub build_log: Vec<PathBuf>,

    /// Analyse a cargo project: dependencies, build scripts, proc macros, profiles
    #[arg(long, help_heading = "Inputs")]
    pub cargo: bool,

    /// Path to Cargo.toml (for --cargo, and to find [workspace.metadata.det.scan])
    #[arg(long, value_name = "PATH", help_heading = "Inputs")]
    pub manifest_path: Option<PathBuf>,

    /// Follow symbolic links while walking directories (loops are reported, not followed)
    #[arg(short = 'L', long, help_heading = "Inputs")]
    pub follow_symlinks: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text, visible_alias = "message-format", help_heading = "Output")]
    pub format: Format,

    /// Write the report to FILE (atomically) instead of standard output
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Coloured text output
    #[arg(long, value_enum, default_value_t = Color::Auto, value_name = "WHEN", help_heading = "Output")]
    pub color: Color,

    /// Exit 1 when a finding is at or above this severity
    #[arg(long, value_enum, default_value_t = FailOn::High, value_name = "LEVEL", help_heading = "Output")]
    pub fail_on: FailOn,

    /// Report only findings at or above this severity [default: low for text, info for json,
    /// sarif and html]
    #[arg(long, value_enum, value_name = "LEVEL", help_heading = "Output")]
    pub min_severity: Option<MinSeverity>,

    /// Do not report this rule (repeatable, or comma-separated)
    #[arg(
        long,
        value_name = "RULE",
        value_delimiter = ',',
        help_heading = "Output"
    )]
    pub ignore: Vec<String>,

    /// No progress bar
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// List every rule with its severity and exit
    #[arg(long, help_heading = "Output")]
    pub list_rules: bool,

    /// The normalized build time: timestamps equal to it are not findings
    #[arg(
        long,
        env = "SOURCE_DATE_EPOCH",
        value_name = "SECONDS",
        help_heading = "Scan"
    )]
    pub source_date_epoch: Option<i64>,

    /// A directory the artifacts were built in: any path under it is a build path (repeatable;
    /// default: the project, git or cargo workspace, around the current directory)
    #[arg(long, value_name = "DIR", help_heading = "Scan")]
    pub build_root: Vec<PathBuf>,

    /// Scan this many files at once (default: the number of CPUs)
    #[arg(short, long, value_name = "N", help_heading = "Scan")]
    pub jobs: Option<usize>,

    /// How deep containers may nest before det stops opening them
    #[arg(long, default_value_t = 8, value_name = "N", help_heading = "Scan")]
    pub max_depth: u32,

    /// The largest decompressed member or stream, in MiB (bomb protection)
    #[arg(
        long,
        default_value_t = 1024,
        value_name = "MIB",
        help_heading = "Scan"
    )]
    pub max_decompressed: u64,

    /// The most decompressed data held at once by the whole scan (all nesting levels and
    /// parallel jobs together), in MiB
    #[arg(
        long,
        default_value_t = 2048,
        value_name = "MIB",
        help_heading = "Scan"
    )]
    pub max_memory: u64,

    /// The largest ratio of decompressed to compressed size, for outputs over 1 MiB (bomb
    /// protection)
    #[arg(long, default_value_t = 1000, value_name = "N", help_heading = "Scan")]
    pub max_ratio: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Html,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MinSeverity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl MinSeverity {
    pub fn severity(self) -> Severity {
        match self {
            MinSeverity::Info => Severity::Info,
            MinSeverity::Low => Severity::Low,
            MinSeverity::Medium => Severity::Medium,
            MinSeverity::High => Severity::High,
            MinSeverity::Critical => Severity::Critical,
        }
    }
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::None => None,
        }
    }
}

/// Parse the command line, as `cargo det-scan ...` or run directly as `cargo-det-scan ...`.
pub fn parse() -> ScanArgs {
    let Cargo::DetScan(args) = Cargo::parse_from(cargo_style_args(std::env::args_os()));
    args
}

pub fn cargo_style_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    det_common::cargo_cli::cargo_subcommand_args("det-scan", args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cargo::command().debug_assert();
    }

    #[test]
    fn direct_and_cargo_invocations_parse_alike() {
        let direct =
            cargo_style_args(["cargo-det-scan", "--format", "json", "x"].map(OsString::from));
        let via_cargo = cargo_style_args(
            ["cargo-det-scan", "det-scan", "--format", "json", "x"].map(OsString::from),
        );
        assert_eq!(direct, via_cargo);
        let Cargo::DetScan(a) = Cargo::try_parse_from(direct).unwrap();
        assert_eq!(a.format, Format::Json);
        assert_eq!(a.paths, vec![PathBuf::from("x")]);
    }

    #[test]
    fn command_after_double_dash() {
        let argv = cargo_style_args(
            [
                "cargo-det-scan",
                "--command",
                "--",
                "gcc",
                "-g",
                "-c",
                "x.c",
            ]
            .map(OsString::from),
        );
        let Cargo::DetScan(a) = Cargo::try_parse_from(argv).unwrap();
        assert!(a.command);
        assert_eq!(a.command_argv, ["gcc", "-g", "-c", "x.c"]);
    }
}
