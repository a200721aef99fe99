//! The command line: cargo build's own options at the top level (passed through to cargo,
//! as `cargo zigbuild` does), det's few options, and subcommands beside the default build.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cargo", bin_name = "cargo", version, styles = clap::builder::Styles::plain())]
pub enum Cargo {
    /// Build a cargo project so that its outputs are bit-identical on any machine: same
    /// paths (a canonical root), same time, environment and flags, without a flag from you.
    #[command(
        name = "det-build",
        version,
        after_help = AFTER_HELP,
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    DetBuild(DetBuild),
}

const AFTER_HELP: &str = "\
Examples:
  cargo det-build --release                 # instead of `cargo build --release`
  cargo det-build --release --strict --provenance target/det/provenance.json

Outputs go where cargo puts them (target/<profile>/); the manifest of the build is
target/det/manifest.json. Every DET_SHIM_* setting of the shim: shim/README.md.";

#[derive(Args)]
pub struct DetBuild {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print the path of libdetshim.so (the LD_PRELOAD library), writing it to the cache
    /// directory ($DET_CACHE_DIR, $XDG_CACHE_HOME/det or ~/.cache/det) if needed.
    ShimPath,
    /// Rewrite archives in place so that they hold no time, owner, order or name from the
    /// machine that made them (zip, jar, wheel, tar, gzip, ar, pyc), content unchanged.
    #[command(after_help = crate::normalize::AFTER_HELP)]
    Normalize(crate::normalize::NormalizeArgs),
    /// Check this machine: toolchains and pins, namespaces, the shim, and C and Rust
    /// programs built twice and compared
    #[command(after_help = crate::doctor::AFTER_HELP)]
    Doctor(crate::doctor::DoctorArgs),
    /// Run any build command (make, cmake, meson, python -m build, a script) in det's
    /// environment: canonical root, shim, det's C compiler wrapper; a manifest of its outputs
    #[command(after_help = crate::exec::AFTER_HELP)]
    Exec(crate::exec::ExecArgs),
    /// Run the C compiler with det's flags (file-prefix maps, a random seed from the
    /// output's path, a content build id): what CC points at in det's builds
    #[command(after_help = crate::cc::WRAPPER_HELP)]
    Cc(crate::cc::WrapperArgs),
    /// Run the C++ compiler with det's flags: what CXX points at in det's builds
    #[command(name = "c++", after_help = crate::cc::WRAPPER_HELP)]
    Cxx(crate::cc::WrapperArgs),
    /// Run ar deterministically (`D`, never `U`): what AR points at in det's builds
    #[command(after_help = crate::cc::WRAPPER_HELP)]
    Ar(crate::cc::WrapperArgs),
    /// The det store: list, show, verify and clean up its entries
    #[command(after_help = crate::store_cmd::AFTER_HELP)]
    Store(crate::store_cmd::StoreArgs),
    /// Internal: enter the canonical root described by DET_SANDBOX_SPEC and exec PROGRAM.
    #[command(name = "__sandbox-exec", hide = true)]
    SandboxExec {
        program: OsString,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Network {
    /// The host's network (the default without --strict).
    Host,
    /// No network at all: a new network namespace (dependencies are fetched first,
    /// outside, with your network). The default under --strict.
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
}

#[derive(Args, Default)]
pub struct BuildArgs {
    // ---- cargo build's options, passed through ----
    /// Package(s) to build
    #[arg(
        short = 'p',
        long = "package",
        value_name = "SPEC",
        help_heading = "Package Selection"
    )]
    pub package: Vec<String>,
    /// Build all packages in the workspace
    #[arg(long, help_heading = "Package Selection")]
    pub workspace: bool,
    /// Exclude packages from the build
    #[arg(long, value_name = "SPEC", help_heading = "Package Selection")]
    pub exclude: Vec<String>,
    /// Build only this package's library
    #[arg(long, help_heading = "Target Selection")]
    pub lib: bool,
    /// Build only the specified binary
    #[arg(long, value_name = "NAME", help_heading = "Target Selection")]
    pub bin: Vec<String>,
    /// Build all binaries
    #[arg(long, help_heading = "Target Selection")]
    pub bins: bool,
    /// Build only the specified example
    #[arg(long, value_name = "NAME", help_heading = "Target Selection")]
    pub example: Vec<String>,
    /// Build all examples
    #[arg(long, help_heading = "Target Selection")]
    pub examples: bool,
    /// Build all targets
    #[arg(long, help_heading = "Target Selection")]
    pub all_targets: bool,
    /// Space or comma separated list of features to activate
    #[arg(
        short = 'F',
        long,
        value_name = "FEATURES",
        help_heading = "Feature Selection"
    )]
    pub features: Vec<String>,
    /// Activate all available features
    #[arg(long, help_heading = "Feature Selection")]
    pub all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long, help_heading = "Feature Selection")]
    pub no_default_features: bool,
    /// Build artifacts in release mode, with optimizations
    #[arg(short = 'r', long, help_heading = "Compilation Options")]
    pub release: bool,
    /// Build artifacts with the specified profile
    #[arg(
        long,
        value_name = "PROFILE-NAME",
        help_heading = "Compilation Options"
    )]
    pub profile: Option<String>,
    /// Number of parallel jobs, defaults to # of CPUs
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Compilation Options"
    )]
    pub jobs: Option<String>,
    /// Do not abort the build as soon as there is an error
    #[arg(long, help_heading = "Compilation Options")]
    pub keep_going: bool,
    /// Build for the target triple
    #[arg(long, value_name = "TRIPLE", help_heading = "Compilation Options")]
    pub target: Vec<String>,
    /// Directory for all generated artifacts
    #[arg(long, value_name = "DIRECTORY", help_heading = "Compilation Options")]
    pub target_dir: Option<PathBuf>,
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH", help_heading = "Manifest Options")]
    pub manifest_path: Option<PathBuf>,
    /// Assert that `Cargo.lock` will remain unchanged
    #[arg(long, help_heading = "Manifest Options")]
    pub locked: bool,
    /// Run without accessing the network
    #[arg(long, help_heading = "Manifest Options")]
    pub offline: bool,
    /// Equivalent to specifying both --locked and --offline
    #[arg(long, help_heading = "Manifest Options")]
    pub frozen: bool,
    /// Error format
    #[arg(long, value_name = "FMT")]
    pub message_format: Vec<String>,
    /// Use verbose output (-vv very verbose/build.rs output)
    #[arg(short = 'v', long, action = ArgAction::Count)]
    pub verbose: u8,
    /// Do not print cargo log messages
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Coloring: auto, always, never
    #[arg(long, value_name = "WHEN")]
    pub color: Option<String>,
    /// Override a configuration value
    #[arg(long, value_name = "KEY=VALUE|PATH")]
    pub config: Vec<String>,
    /// Unstable (nightly-only) flags to Cargo
    #[arg(short = 'Z', value_name = "FLAG")]
    pub unstable: Vec<String>,

    // ---- det's own options ----
    /// Pass this environment variable through to the build (repeatable; everything not
    /// needed for the build is dropped)
    #[arg(long, value_name = "VAR", help_heading = "det Options")]
    pub keep_env: Vec<String>,
    /// Errors instead of warnings: a toolchain that differs from its pin; no network
    /// unless --network says otherwise
    #[arg(long, help_heading = "det Options")]
    pub strict: bool,
    /// Seconds since 1970 for the build's clock and SOURCE_DATE_EPOCH (default: the
    /// environment, then the last git commit, then 1980-01-01)
    #[arg(long, value_name = "SECONDS", help_heading = "det Options")]
    pub source_date_epoch: Option<String>,
    /// Let the build write into the source tree (read-only in the canonical root)
    #[arg(long, help_heading = "det Options")]
    pub writable_source: bool,
    /// The build's network
    #[arg(long, value_enum, value_name = "MODE", help_heading = "det Options")]
    pub network: Option<Network>,
    /// Do not build in the canonical root (a mount namespace); remap paths with flags only
    /// (also DET_NO_NAMESPACE=1)
    #[arg(long, help_heading = "det Options")]
    pub no_canonical_root: bool,
    /// Point CC, CXX and AR (and the cc crate's per-target forms) at det's C compiler
    /// wrapper calling this toolchain: zig (zig cc/c++/ar, hermetic, also the Rust linker)
    /// or system (gcc/clang as found, $CC honoured). Without it, C compiled by build
    /// scripts gets det's prefix maps through CFLAGS only
    #[arg(
        long,
        value_enum,
        value_name = "TOOLCHAIN",
        help_heading = "det Options"
    )]
    pub cc: Option<crate::cc::CcChoice>,
    /// zig's target with --cc zig (default: the build target's; e.g.
    /// x86_64-linux-gnu.2.17 for an older glibc)
    #[arg(
        long,
        value_name = "TRIPLE",
        help_heading = "det Options",
        requires = "cc"
    )]
    pub zig_target: Option<String>,
    /// Write an in-toto Statement v1 with an SLSA Provenance v1 predicate for the outputs
    #[arg(long, value_name = "FILE", help_heading = "det Options")]
    pub provenance: Option<PathBuf>,
    /// The det store: a build whose closure (its inputs' hash) is stored there is not
    /// built but put in place from the store, each output checked; a new build is stored
    /// (also DET_STORE, or `store = "DIR"` in [workspace.metadata.det])
    #[arg(long, value_name = "DIR", help_heading = "det Options")]
    pub store: Option<PathBuf>,
    /// Produce only outputs whose closure the store records as verified reproducible
    /// (substituted from the store); anything else is refused before building
    #[arg(long, help_heading = "det Options", conflicts_with = "no_store")]
    pub require_verified: bool,
    /// Build without the store, whatever DET_STORE or [workspace.metadata.det] say (the
    /// closure stays the same: a store inside the workspace is never an input)
    #[arg(long, help_heading = "det Options", conflicts_with = "store")]
    pub no_store: bool,
    /// Print the build's closure hash (what the store files its outputs under) on standard
    /// output and exit without building: a key for a CI cache of the store
    #[arg(long, help_heading = "det Options")]
    pub print_closure: bool,
    /// Fail (exit 1) when the closing scan of the outputs finds something at or above
    /// this severity
    #[arg(
        long,
        value_enum,
        value_name = "SEVERITY",
        help_heading = "det Options"
    )]
    pub fail_on: Option<FailOn>,
}

impl BuildArgs {
    /// The network of the build: `--network`, else none under `--strict`, else the host's.
    pub fn network(&self) -> bool {
        match self.network {
            Some(Network::Host) => true,
            Some(Network::None) => false,
            None => !self.strict,
        }
    }

    /// cargo build's arguments, without `--manifest-path` and `--target-dir` (det maps
    /// them) and without `--message-format` (det adds its own).
    pub fn cargo_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        let mut many = |flag: &str, v: &[String]| {
            for x in v {
                a.push(format!("{flag}={x}"));
            }
        };
        many("--package", &self.package);
        many("--exclude", &self.exclude);
        many("--bin", &self.bin);
        many("--example", &self.example);
        many("--features", &self.features);
        many("--target", &self.target);
        many("--config", &self.config);
        for z in &self.unstable {
            a.push("-Z".into());
            a.push(z.clone());
        }
        for (on, flag) in [
            (self.workspace, "--workspace"),
            (self.lib, "--lib"),
            (self.bins, "--bins"),
            (self.examples, "--examples"),
            (self.all_targets, "--all-targets"),
            (self.all_features, "--all-features"),
            (self.no_default_features, "--no-default-features"),
            (self.release, "--release"),
            (self.keep_going, "--keep-going"),
            (self.locked, "--locked"),
            (self.offline, "--offline"),
            (self.frozen, "--frozen"),
            (self.quiet, "--quiet"),
        ] {
            if on {
                a.push(flag.to_string());
            }
        }
        if let Some(p) = &self.profile {
            a.push(format!("--profile={p}"));
        }
        if let Some(j) = &self.jobs {
            a.push(format!("--jobs={j}"));
        }
        if let Some(c) = &self.color {
            a.push(format!("--color={c}"));
        }
        for _ in 0..self.verbose {
            a.push("--verbose".into());
        }
        a
    }

    /// The arguments that decide what is built (for the closure hash and the manifest):
    /// cargo's arguments without output, parallelism and network options.
    pub fn output_args(&self) -> Vec<String> {
        let noise = [
            "--quiet",
            "--verbose",
            "--keep-going",
            "--locked",
            "--offline",
            "--frozen",
        ];
        self.cargo_args()
            .into_iter()
            .filter(|a| {
                !noise.contains(&a.as_str())
                    && !a.starts_with("--jobs=")
                    && !a.starts_with("--color=")
            })
            .collect()
    }

    /// The profile's name as cargo calls it (`dev`, `release`, or `--profile`).
    pub fn profile_name(&self) -> String {
        match (&self.profile, self.release) {
            (Some(p), _) => p.clone(),
            (None, true) => "release".into(),
            (None, false) => "dev".into(),
        }
    }

    /// Whether the user asked for cargo's JSON messages on stdout.
    pub fn wants_json(&self) -> bool {
        self.message_format.iter().any(|m| m.starts_with("json"))
    }
}
