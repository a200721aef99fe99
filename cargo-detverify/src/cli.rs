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

Without a subcommand, det-verify builds the project --runs times (default 2), each in a
fresh copy of the sources (without target/ and git-ignored files) at another path, with
its own target dir: the first run pinned, the others varied (--vary). The artifacts are
paired by relative path and compared; where they differ, the structural diff names each
root cause, and extra builds (group testing over the varied set, about 1 + log2 of the
number of variations per culprit) name the variation behind it, with the shim's log as
evidence. The builds go through det-build (its promise, for this project), or with --raw
through plain cargo. The source tree is never written; the copies are removed at the end,
also on Ctrl-C, unless --keep.

A build manifest (det-manifest/1) records every output's BLAKE3 and SHA-256 with the
toolchains, flags and environment of the build; `compare` checks manifests from several
machines against each other.";

const AFTER_HELP: &str = "\
Variations (--vary, reprotest's syntax: `+x` or `x` adds, `-x` removes, `all` is every one):
  build-path   the sources and target dir at another absolute path of another length
  time         another wall clock (the shim) and other mtimes on the copied sources
  timezone     TZ
  locale       LC_ALL and LANG: a locale the machine has, else fr_CH.UTF-8 built by localedef
  umask        0002 against 0022
  environment  HOME, USER, LOGNAME and an extra variable
  host         host name, domain name and kernel release (the shim's uname)
  file-order   directory listings reversed or shuffled (the shim's readdir)
  jobs         -j1 against -jN
  aslr         address-space layout randomization (not in the default set)
What the machine does not allow (no locale but C, ASLR that cannot be turned off or on) is
noted in the report.
The control run (run-0) is pinned: clock, TZ=UTC, C.UTF-8, umask 0022, host `det`,
sorted listings, no ASLR. Every later run varies the selected variations.

Examples:
  cargo det-verify                           # det-build's promise for this project
  cargo det-verify --raw -- --release        # what plain `cargo build --release` does
  cargo det-verify --raw --vary=-jobs,-aslr
  cargo det-verify --artifacts 'build/*.so' -- make -j4

Exit status: 0 reproducible, 1 not reproducible, 2 usage error or a failed build (its log
tail and which run it was are shown).";

/// Prove that builds are reproducible.
#[derive(clap::Args, Debug)]
#[command(
    version,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct VerifyArgs {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Rebuild under variations (the default verb).
#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// How many builds: the control and N-1 varied runs
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub runs: u32,

    /// Select the variations, reprotest-style: `+all,-jobs`, `-time`, `-all,+build-path`
    /// (repeatable; see below)
    #[arg(long, value_name = "SPEC", allow_hyphen_values = true)]
    pub vary: Vec<String>,

    /// Build with plain cargo (or the command itself) instead of det-build: what the
    /// project does on its own (such a build has no closure: no --store)
    #[arg(long)]
    pub raw: bool,

    /// The det store (also DET_STORE, or `store = "DIR"` in [workspace.metadata.det], as
    /// for det-build): a closure found reproducible is recorded there as verified (its
    /// entry published from the control run if missing); a closure already verified with
    /// the same or more variations and at least as many runs is not built again
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Another build (make, cmake, a script) given after `--`: the files it makes, as
    /// globs relative to the working directory (repeatable); run through det-build exec
    #[arg(long, value_name = "GLOB")]
    pub artifacts: Vec<String>,

    /// Skip the extra builds that find the culprit variation of each difference
    #[arg(long)]
    pub no_explain: bool,

    /// Keep every run's directory (the sources as built with their target dir, the
    /// artifacts, the build log, the shim log) and print where; the report then names the
    /// real paths instead of `<verify-dir>`
    #[arg(long)]
    pub keep: bool,

    /// SOURCE_DATE_EPOCH for det-build [default: $SOURCE_DATE_EPOCH, else the last git
    /// commit, else 1980-01-01]
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<String>,

    /// Report format
    #[arg(long, value_enum, default_value_t = VerifyFormat::Text)]
    pub format: VerifyFormat,

    /// Write the report to this file (atomically) instead of standard output; repeatable,
    /// each file in the format its name ends with (.json, .html or .htm, .txt), any other
    /// name in --format: `-o verify.json -o verify.html` writes both from one verification
    #[arg(short, long, value_name = "FILE")]
    pub output: Vec<PathBuf>,

    /// No status lines
    #[arg(short, long)]
    pub quiet: bool,

    /// cargo build's options (or, with --artifacts, the build command)
    #[arg(last = true, value_name = "BUILD")]
    pub build: Vec<OsString>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VerifyFormat {
    /// For people: the verdict, then each cause with its culprit, evidence and fix
    #[default]
    Text,
    /// For programs: schema det-verify/1, keys sorted
    Json,
    /// One self-contained page: the verdict first, causes, runs, artifacts and the diff
    /// with both sides next to each other, each collapsible
    Html,
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
sections, symbols and DWARF attributes and line rows (ELF, Mach-O, PE/COFF), text lines, raw
bytes. Each difference is classified by det-scan's detectors (a build path, a time stamp, a
UUID, an order, another compiler or flags), and differences that follow from another (a
build-id, a checksum, offsets that shift) are grouped under their root cause. A fix names
what to change in both builds.

A member that would decompress past the limits (a bomb) is reported as not compared on the
side it stopped, and what both sides could read is compared.";

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

    /// How deep containers may nest before det stops opening them (a .so in a wheel in a
    /// tar.gz is depth 3)
    #[arg(long, default_value_t = 8, value_name = "N", help_heading = "Limits")]
    pub max_depth: u32,

    /// The largest decompressed member or stream, in MiB (bomb protection): a member that
    /// exceeds it on either side is reported, and compared only as far as both sides were
    /// read
    #[arg(
        long,
        default_value_t = 1024,
        value_name = "MIB",
        help_heading = "Limits"
    )]
    pub max_decompressed: u64,

    /// The largest ratio of decompressed to compressed size, for outputs over 1 MiB (bomb
    /// protection)
    #[arg(
        long,
        default_value_t = 1000,
        value_name = "N",
        help_heading = "Limits"
    )]
    pub max_ratio: u64,

    /// The most decompressed data held at once by the whole comparison (both sides, all
    /// nesting levels), in MiB
    #[arg(
        long,
        default_value_t = 2048,
        value_name = "MIB",
        help_heading = "Limits"
    )]
    pub max_memory: u64,
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
Manifests are grouped by their closure hash (det-build's address of everything that
determines the outputs): only manifests built from the same inputs are expected to agree.
A group with another closure than the first manifest's is reported as different inputs,
naming which (toolchains, Cargo.lock, the source tree, flags, the build's parameters), not
as a dissent. Within a group every output must exist in each manifest with the same BLAKE3
and SHA-256; where they disagree, the majority's hash wins and the dissenting manifests are
named. Manifests without a closure form one group, compared with each other. Differences in
what the builds of the first group used are listed too: they often explain a differing
output, but they do not by themselves make the builds non-reproducible.";

const COMPARE_AFTER_HELP: &str = "\
Examples:
  cargo det-verify compare ci-linux.json laptop.json
  cargo det-verify compare --format json a.json b.json c.json > compare.json

Exit status: 0 when every output is identical within every group, 1 when one differs or is
missing (or when no two manifests share their inputs: nothing was verified), 2 on a usage
error or a manifest that cannot be read.";

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
            let Some(Command::Compare(c)) = v.command else {
                panic!("compare")
            };
            assert_eq!(c.manifests, [PathBuf::from("a"), PathBuf::from("b")]);
            assert_eq!(c.format, Format::Text);
        }
        let one = cargo_style_args(["cargo-det-verify", "compare", "a"].map(OsString::from));
        assert!(Cargo::try_parse_from(one).is_err());
    }

    #[test]
    fn the_rebuild_is_the_default_verb_and_takes_cargo_options_after_dashes() {
        let argv = [
            "cargo-det-verify",
            "det-verify",
            "--raw",
            "--vary=-jobs",
            "--runs",
            "3",
            "--",
            "--release",
            "-p",
            "x",
        ];
        let args = cargo_style_args(argv.map(OsString::from));
        let Cargo::DetVerify(v) = Cargo::try_parse_from(args).unwrap();
        assert!(v.command.is_none());
        assert!(v.run.raw);
        assert_eq!(v.run.runs, 3);
        assert_eq!(v.run.vary, ["-jobs"]);
        assert_eq!(v.run.build, ["--release", "-p", "x"].map(OsString::from));
        let bare = cargo_style_args(["cargo-det-verify"].map(OsString::from));
        let Cargo::DetVerify(v) = Cargo::try_parse_from(bare).unwrap();
        assert!(v.command.is_none() && v.run.build.is_empty());
    }
}
