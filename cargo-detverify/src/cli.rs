//! Command-line arguments: `cargo det-verify <COMMAND>`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "cargo", bin_name = "cargo", disable_help_subcommand = true)]
enum Cargo {
    DetVerify(VerifyArgs),
}

const LONG_ABOUT: &str = "\
Prove that a build is reproducible: the same source and toolchain must give bit-for-bit
identical outputs on every machine, whatever the time, path, user, host or locale.

A build manifest (det-manifest/1) records every output's BLAKE3 and SHA-256 with the
toolchains, flags and environment of the build; `compare` checks manifests from several
machines against each other.";

/// Prove that builds are reproducible.
#[derive(clap::Args, Debug)]
#[command(version, long_about = LONG_ABOUT, disable_help_subcommand = true)]
pub struct VerifyArgs {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Compare(CompareArgs),
    Diff(DiffArgs),
}

const DIFF_LONG_ABOUT: &str = "\
Compare two builds structurally and name the cause of every difference.
A and B are two files or two directories (files paired by relative path). Equal files are
recognised by their bytes; where they differ, both are walked in step: archive members
(ar, rlib, .deb, zip, wheel, jar, tar, gzip, xz, zstd, bzip2), object-file headers, segments,
sections, symbols and DWARF (ELF, Mach-O, PE/COFF), text lines, raw bytes. Each difference is
classified by det-scan's detectors (a build path, a time stamp, a UUID, an order), and
differences that follow from another (a build-id, a checksum, offsets that shift) are
grouped under their root cause.";

const DIFF_AFTER_HELP: &str = "\
Examples:
  cargo det-verify diff build-a/app build-b/app
  cargo det-verify diff --format html -o diff.html dist-a/ dist-b/
  cargo det-verify diff --format json a.whl b.whl > diff.json

Exit status: 0 when A and B are identical, 1 when they differ, 2 on a usage error or when
neither side can be read.";

/// Compare two builds (files or directories) and explain every difference
#[derive(clap::Args, Debug)]
#[command(long_about = DIFF_LONG_ABOUT, after_help = DIFF_AFTER_HELP)]
pub struct DiffArgs {
    /// The first build: a file or a directory
    #[arg(value_name = "A")]
    pub a: PathBuf,

    /// The second build, of the same kind as A
    #[arg(value_name = "B")]
    pub b: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormatArg::Text)]
    pub format: DiffFormatArg,

    /// Write the report to this file (atomically) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Times equal to this are normalized, not a cause
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<i64>,

    /// How many differences to list at most (the rest are counted)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_differences: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormatArg {
    /// For people: the summary and root causes first, then each file and section
    Text,
    /// For programs: schema det-diff/1 (docs/diff-json.md)
    Json,
    /// One self-contained page: summary first, collapsible files and sections, sides next to each other
    Html,
}

const COMPARE_LONG_ABOUT: &str = "\
Compare build manifests (det-manifest/1), output by output.
The first manifest is the reference; every output must exist in each manifest with the
same BLAKE3 and SHA-256. Differences in what the builds used (toolchains, injected flags,
environment, inputs, SOURCE_DATE_EPOCH) are listed too: they often explain a differing
output, but they do not by themselves make the builds non-reproducible.";

const COMPARE_AFTER_HELP: &str = "\
Examples:
  cargo det-verify compare ci-linux.json laptop.json
  cargo det-verify compare --format json a.json b.json c.json > compare.json

Exit status: 0 when every output is identical in every manifest, 1 when one differs or is
missing, 2 on a usage error or a manifest that cannot be read.";

/// Compare build manifests from several machines, output by output
#[derive(clap::Args, Debug)]
#[command(long_about = COMPARE_LONG_ABOUT, after_help = COMPARE_AFTER_HELP)]
pub struct CompareArgs {
    /// Build manifests to compare; the first is the reference
    #[arg(value_name = "MANIFEST", num_args = 2.., required = true)]
    pub manifests: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The largest manifest read, in MiB (a FIFO or a device is never read without end)
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub max_manifest_size: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people: the differing outputs with every manifest's hashes
    Text,
    /// For programs: schema det-compare/1, keys sorted
    Json,
}

pub fn parse() -> VerifyArgs {
    let Cargo::DetVerify(args) = Cargo::parse_from(cargo_style_args(std::env::args_os()));
    args
}

fn cargo_style_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    det_common::cargo_cli::cargo_subcommand_args("det-verify", args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cargo::command().debug_assert();
    }

    #[test]
    fn works_both_through_cargo_and_directly() {
        let through_cargo = ["cargo-det-verify", "det-verify", "compare", "a", "b"];
        let direct = ["cargo-det-verify", "compare", "a", "b"];
        for argv in [&through_cargo[..], &direct[..]] {
            let args = cargo_style_args(argv.iter().map(OsString::from));
            let Cargo::DetVerify(v) = Cargo::try_parse_from(args).unwrap();
            let Command::Compare(c) = v.command else {
                panic!("compare")
            };
            assert_eq!(c.manifests, [PathBuf::from("a"), PathBuf::from("b")]);
            assert_eq!(c.format, Format::Text);
        }
        let one = cargo_style_args(["cargo-det-verify", "compare", "a"].map(OsString::from));
        assert!(Cargo::try_parse_from(one).is_err());
    }
}
