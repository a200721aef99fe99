//! The one table of every rule det knows: id, category, severity, message, fix, reference.
//!
//! Scan, build and verify name rules by id and never restate their text; `cargo xtask docs`
//! renders this table to `docs/rules.md`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How much a finding threatens reproducibility. Ordered: `Info < Low < ... < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The SARIF 2.1.0 `level` of a result with this severity.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info => "note",
            Severity::Low | Severity::Medium => "warning",
            Severity::High | Severity::Critical => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown severity `{s}` (expected info, low, medium, high or critical)")
            })
    }
}

/// What kind of non-determinism a rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Timestamp,
    Path,
    Uuid,
    BuildId,
    Randomness,
    FileOrder,
    Host,
    User,
    Locale,
    Toolchain,
    Flags,
    Metadata,
    ParseError,
}

impl Category {
    pub const ALL: [Category; 13] = [
        Category::Timestamp,
        Category::Path,
        Category::Uuid,
        Category::BuildId,
        Category::Randomness,
        Category::FileOrder,
        Category::Host,
        Category::User,
        Category::Locale,
        Category::Toolchain,
        Category::Flags,
        Category::Metadata,
        Category::ParseError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Timestamp => "timestamp",
            Category::Path => "path",
            Category::Uuid => "uuid",
            Category::BuildId => "build-id",
            Category::Randomness => "randomness",
            Category::FileOrder => "file-order",
            Category::Host => "host",
            Category::User => "user",
            Category::Locale => "locale",
            Category::Toolchain => "toolchain",
            Category::Flags => "flags",
            Category::Metadata => "metadata",
            Category::ParseError => "parse-error",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule: everything a report needs to explain a finding and how to fix it.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable kebab-case identifier, used in `--ignore`, JSON and SARIF.
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// One sentence: what was found and why it breaks reproducibility.
    pub message: &'static str,
    /// The concrete fix: flags to add, environment to set, or code to change.
    pub fix: &'static str,
    /// Where to read more.
    pub reference: &'static str,
}

const RB_SDE: &str = "https://reproducible-builds.org/docs/source-date-epoch/";
const RB_TS: &str = "https://reproducible-builds.org/docs/timestamps/";
const RB_PATHS: &str = "https://reproducible-builds.org/docs/build-path/";
const RB_ARCHIVES: &str = "https://reproducible-builds.org/docs/archives/";
const RB_ORDER: &str = "https://reproducible-builds.org/docs/stable-inputs/";
const RB_RANDOM: &str = "https://reproducible-builds.org/docs/randomness/";
const RB_VALUES: &str = "https://reproducible-builds.org/docs/value-initialization/";
const RUSTC_REMAP: &str = "https://doc.rust-lang.org/rustc/remap-source-paths.html";
const GCC_DEBUG: &str = "https://gcc.gnu.org/onlinedocs/gcc/Debugging-Options.html";
const LD_BUILD_ID: &str = "https://sourceware.org/binutils/docs/ld/Options.html";
const PE_FORMAT: &str = "https://learn.microsoft.com/en-us/windows/win32/debug/pe-format";
const PYC_INVALIDATION: &str = "https://docs.python.org/3/library/py_compile.html";

/// Every rule det knows, grouped by what finds it.
pub static RULES: &[Rule] = &[
    // ---- timestamps embedded in content ----
    Rule {
        id: "date-time-macro",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a date or time in the form of C's __DATE__ / __TIME__ (`Nov 23 2026`, `12:34:56`) is embedded: it changes with every build",
        fix: "remove __DATE__/__TIME__/__TIMESTAMP__ from the code (compile with -Wdate-time to find them), or build with SOURCE_DATE_EPOCH set: gcc >= 7 and clang >= 10 then expand them to that date",
        reference: RB_SDE,
    },
    Rule {
        id: "embedded-date",
        category: Category::Timestamp,
        severity: Severity::Medium,
        message: "an ISO 8601 or RFC 2822 date is embedded; if it is the build time, it changes with every build",
        fix: "take the date from SOURCE_DATE_EPOCH instead of the clock (e.g. in build.rs read env SOURCE_DATE_EPOCH and emit cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH), or drop it",
        reference: RB_TS,
    },
    // ---- paths ----
    Rule {
        id: "absolute-path",
        category: Category::Path,
        severity: Severity::High,
        message: "an absolute build path is embedded: the output changes with the directory it was built in",
        fix: "C/C++: -ffile-prefix-map=$PWD=. (gcc >= 8, clang >= 10, zig cc); Rust: RUSTFLAGS=\"--remap-path-prefix=$PWD=. --remap-path-prefix=$CARGO_HOME=/cargo\"; or avoid __FILE__ / file!() / env!(\"CARGO_MANIFEST_DIR\") in output",
        reference: RB_PATHS,
    },
    Rule {
        id: "home-path",
        category: Category::User,
        severity: Severity::High,
        message: "a path inside a user's home directory is embedded: the output depends on who built it and where",
        fix: "remap the home directory: -ffile-prefix-map=$HOME=/home (C/C++), --remap-path-prefix=$HOME=/home and --remap-path-prefix=$CARGO_HOME=/cargo (Rust)",
        reference: RB_PATHS,
    },
    Rule {
        id: "debug-comp-dir",
        category: Category::Path,
        severity: Severity::High,
        message: "DWARF DW_AT_comp_dir holds the absolute compilation directory",
        fix: "add -fdebug-prefix-map=$PWD=. (or -ffile-prefix-map=$PWD=., which also covers __FILE__); Rust: --remap-path-prefix=$PWD=.",
        reference: GCC_DEBUG,
    },
    Rule {
        id: "debug-path",
        category: Category::Path,
        severity: Severity::High,
        message: "DWARF debug information (DW_AT_name, line-table directories or file names) holds an absolute build path",
        fix: "add -ffile-prefix-map=$PWD=. (C/C++) or --remap-path-prefix=$PWD=. (Rust), or build without -g",
        reference: GCC_DEBUG,
    },
    // ---- uuids and build ids ----
    Rule {
        id: "uuid-string",
        category: Category::Uuid,
        severity: Severity::Medium,
        message: "a UUID string is embedded; a UUID generated at build time differs on every build",
        fix: "derive the identifier from the content (e.g. a hash of the inputs) or fix it in the source; never generate it during the build",
        reference: RB_RANDOM,
    },
    Rule {
        id: "elf-build-id-random",
        category: Category::BuildId,
        severity: Severity::Critical,
        message: "the ELF build-id is 16 bytes, what --build-id=uuid writes: random, different on every link (--build-id=md5 also writes 16 bytes; the bytes cannot tell the two apart)",
        fix: "link with -Wl,--build-id=sha1 (a hash of the content) instead of --build-id=uuid or md5",
        reference: LD_BUILD_ID,
    },
    Rule {
        id: "elf-build-id",
        category: Category::BuildId,
        severity: Severity::Info,
        message: "the ELF build-id is a hash of the content: it is stable, and differs only when something else differs",
        fix: "nothing to do; fix the other differences and the build-id follows",
        reference: LD_BUILD_ID,
    },
    Rule {
        id: "macho-uuid",
        category: Category::BuildId,
        severity: Severity::Info,
        message: "the Mach-O LC_UUID is derived by the linker from the output: it is stable, and differs whenever anything else differs",
        fix: "nothing to do for the UUID itself; fix the other differences (paths, N_OSO mtimes). Linking with -Wl,-no_uuid removes it but breaks debugging",
        reference: RB_VALUES,
    },
    Rule {
        id: "macho-oso-path",
        category: Category::Path,
        severity: Severity::High,
        message: "a Mach-O debug-map (N_OSO) entry names an object file by its absolute path",
        fix: "link with -Wl,-oso_prefix,$PWD/ (ld64 >= 609) so object paths become relative, or strip the debug map (strip -S)",
        reference: RB_PATHS,
    },
    Rule {
        id: "macho-oso-mtime",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a Mach-O debug-map (N_OSO) entry records the object file's modification time",
        fix: "set ZERO_AR_DATE=1 in the link environment (ld64 then writes 0), or strip the debug map (strip -S)",
        reference: RB_ARCHIVES,
    },
    // ---- ELF specifics ----
    Rule {
        id: "elf-comment",
        category: Category::Toolchain,
        severity: Severity::Info,
        message: "the toolchain that built this file names itself (ELF .comment, DWARF DW_AT_producer); it differs only when the toolchain differs. Paths inside it (rust-lld's `Linker: LLD ... (/checkout/src/llvm-project/llvm ...)`) are the toolchain's own build, the same for everyone using it, and are not reported as build paths; options a producer records (`-fprofile-dir=/tmp/b`) are",
        fix: "nothing to do for reproducibility: pin the toolchain version (rust-toolchain.toml, a fixed compiler package) so that every build names the same one; gcc/clang -fno-ident drops .comment",
        reference: RB_VALUES,
    },
    Rule {
        id: "gcc-lto-random-section",
        category: Category::Randomness,
        severity: Severity::High,
        message: "a GCC LTO section name carries a random suffix (.gnu.lto_*.<hex>): it differs on every compile",
        fix: "compile with -frandom-seed=<a stable string, e.g. the output file name>",
        reference: RB_RANDOM,
    },
    // ---- PE/COFF ----
    Rule {
        id: "pe-timestamp",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "the PE/COFF header TimeDateStamp is the link time",
        fix: "MinGW / zig cc: -Wl,--no-insert-timestamp; lld-link / MSVC: /Brepro; or set SOURCE_DATE_EPOCH for linkers that honour it",
        reference: PE_FORMAT,
    },
    Rule {
        id: "pe-directory-timestamp",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a PE debug, export or resource directory carries a TimeDateStamp of the link time",
        fix: "MinGW / zig cc: -Wl,--no-insert-timestamp; lld-link / MSVC: /Brepro",
        reference: PE_FORMAT,
    },
    Rule {
        id: "pe-pdb-path",
        category: Category::Path,
        severity: Severity::High,
        message: "the CodeView (RSDS) debug entry names the PDB by an absolute path",
        fix: "lld-link / MSVC: /PDBALTPATH:%_PDB% (file name only); MinGW: link with -Wl,--pdb= only when needed, or strip the debug directory",
        reference: PE_FORMAT,
    },
    Rule {
        id: "pe-pdb-guid",
        category: Category::Uuid,
        severity: Severity::Medium,
        message: "the CodeView (RSDS) PDB GUID is not derived from the content (no REPRO debug entry): it is likely random per link",
        fix: "lld-link / MSVC: /Brepro makes the GUID a hash of the output and adds a REPRO entry",
        reference: PE_FORMAT,
    },
    Rule {
        id: "pe-no-repro",
        category: Category::Toolchain,
        severity: Severity::Info,
        message: "the PE debug directory has no REPRO entry: the linker did not promise a deterministic output",
        fix: "lld-link / MSVC: link with /Brepro",
        reference: PE_FORMAT,
    },
    // ---- archives ----
    Rule {
        id: "ar-member-mtime",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "an ar archive member keeps its file modification time",
        fix: "create the archive in deterministic mode: ar rcsD (GNU ar, llvm-ar; the default on Debian), or set ZERO_AR_DATE=1 for Apple's libtool/ar",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "archive-normalized-mtime",
        category: Category::Timestamp,
        severity: Severity::Info,
        message: "the archive's member times are normalized to one time det was not told about: every member at that time, or clamped to it (no member later, the time shared by many, older members keeping theirs, as `tar --mtime=@T --clamp-mtime` writes); reproducible if that time is the build's SOURCE_DATE_EPOCH",
        fix: "nothing to do if the time named is your SOURCE_DATE_EPOCH; scan with --source-date-epoch (or SOURCE_DATE_EPOCH set) and det checks it: a different time is then reported as the member-time finding",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "ar-member-owner",
        category: Category::User,
        severity: Severity::Medium,
        message: "an ar archive member keeps the uid/gid of the user who built it",
        fix: "create the archive in deterministic mode: ar rcsD (uid and gid 0)",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "ar-member-mode",
        category: Category::Metadata,
        severity: Severity::Low,
        message: "an ar archive member keeps a file mode that depends on the builder's umask",
        fix: "create the archive in deterministic mode: ar rcsD (mode 644), or build with umask 022",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "zip-entry-mtime",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a zip entry keeps its file modification time (DOS date/time)",
        fix: "set SOURCE_DATE_EPOCH when building (pip/wheel, maven >= 3.2.2 via project.build.outputTimestamp, setuptools honour it), or normalize with `strip-nondeterminism`",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "zip-extended-timestamp",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a zip entry carries an extended-timestamp (UT), NTFS or Info-ZIP Unix extra field with real file times",
        fix: "create the zip without extra fields (zip -X) and with times from SOURCE_DATE_EPOCH",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "zip-entry-order",
        category: Category::FileOrder,
        severity: Severity::Medium,
        message: "zip entries are not in sorted order: the order likely follows the file system's directory listing. Sorted means byte order of the full member path (what `LC_ALL=C sort` and Python's `sorted()` give), or the orders of tools that sort as they walk: `tar --sort=name` (component by component) and `wheel` (a directory's files before its subdirectories, `*.dist-info` last); `mimetype` and `META-INF/MANIFEST.MF` may come first",
        fix: "add files in sorted order: `find . -print0 | LC_ALL=C sort -z | xargs -0 zip -X out.zip`, or in Python `for name in sorted(names): zf.write(name)`",
        reference: RB_ORDER,
    },
    Rule {
        id: "zip-external-attributes",
        category: Category::Metadata,
        severity: Severity::Low,
        message: "zip entries carry Unix permission bits that depend on the builder's umask",
        fix: "build with umask 022, or normalize permissions (0644 files, 0755 executables) before zipping",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "wheel-record-order",
        category: Category::FileOrder,
        severity: Severity::Low,
        message: "the wheel's RECORD lists files in an order that differs from the archive's sorted order",
        fix: "build the wheel with a current `wheel`/`build` backend and SOURCE_DATE_EPOCH set; both sort entries",
        reference: RB_ORDER,
    },
    Rule {
        id: "gzip-mtime",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "the gzip header MTIME field holds a timestamp",
        fix: "compress with `gzip -n` (or GZIP=-n), Python gzip.GzipFile(mtime=0), or tar's `--use-compress-program='gzip -n'`",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "gzip-filename",
        category: Category::Metadata,
        severity: Severity::Medium,
        message: "the gzip header FNAME field holds the original file name",
        fix: "compress with `gzip -n` (drops name and time) or from standard input",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "tar-member-mtime",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a tar member keeps its file modification time",
        fix: "tar --mtime=@$SOURCE_DATE_EPOCH --clamp-mtime (GNU tar >= 1.29)",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "tar-member-owner",
        category: Category::User,
        severity: Severity::Medium,
        message: "a tar member keeps the builder's uid/gid or user/group name",
        fix: "tar --owner=0 --group=0 --numeric-owner",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "tar-member-order",
        category: Category::FileOrder,
        severity: Severity::Medium,
        message: "tar members are not in sorted order: the order follows the file system's directory listing. Sorted means byte order of the full member path (what `LC_ALL=C sort` gives), or GNU `tar --sort=name` order (component by component)",
        fix: "tar --sort=name (GNU tar >= 1.28), or a sorted list: `find . | LC_ALL=C sort > list && tar --no-recursion -cf out.tar -T list`",
        reference: RB_ORDER,
    },
    Rule {
        id: "tar-pax-time",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a pax extended header records atime/ctime or a high-precision mtime",
        fix: "tar --format=gnu, or --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "pyc-timestamp",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "the .pyc is timestamp-invalidated: its header holds the source file's mtime",
        fix: "set SOURCE_DATE_EPOCH when compiling: py_compile / compileall then write checked-hash pycs (or pass --invalidation-mode checked-hash)",
        reference: PYC_INVALIDATION,
    },
    // ---- compiler command lines ----
    Rule {
        id: "cmd-missing-prefix-map",
        category: Category::Path,
        severity: Severity::High,
        message: "the compiler emits debug information or expands __FILE__ without a path prefix map: the build directory leaks into the output",
        fix: "add -ffile-prefix-map=<build dir>=. (or -fdebug-prefix-map=<build dir>=. for debug info only)",
        reference: RB_PATHS,
    },
    Rule {
        id: "cmd-missing-macro-prefix-map",
        category: Category::Path,
        severity: Severity::Low,
        message: "a source file or include directory is named by an absolute path and no -ffile-prefix-map/-fmacro-prefix-map covers it: __FILE__ (e.g. in assert) would embed the build path",
        fix: "add -ffile-prefix-map=<source root>=. (or -fmacro-prefix-map=<source root>=. for __FILE__ only)",
        reference: RB_PATHS,
    },
    Rule {
        id: "cmd-native-cpu",
        category: Category::Flags,
        severity: Severity::High,
        message: "code is tuned for the build machine's CPU (-march=native, -mtune=native, -C target-cpu=native): output depends on the host",
        fix: "name a CPU explicitly, e.g. -march=x86-64-v2 / -C target-cpu=x86-64-v2",
        reference: RB_VALUES,
    },
    Rule {
        id: "cmd-lto-no-random-seed",
        category: Category::Randomness,
        severity: Severity::High,
        message: "GCC link-time optimization without -frandom-seed: LTO section names and symbols get random suffixes",
        fix: "add -frandom-seed=<a stable string, e.g. the output file name>",
        reference: RB_RANDOM,
    },
    Rule {
        id: "cmd-build-id-uuid",
        category: Category::BuildId,
        severity: Severity::Critical,
        message: "the link uses --build-id=uuid: a random build-id on every link",
        fix: "use -Wl,--build-id=sha1",
        reference: LD_BUILD_ID,
    },
    Rule {
        id: "cmd-ar-nondeterministic",
        category: Category::Metadata,
        severity: Severity::High,
        message: "ar runs without deterministic mode (no `D` modifier, or `U`): members keep mtime, uid, gid and mode",
        fix: "use the `D` modifier (ar rcsD) and drop `U`",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "cmd-ar-default-mode",
        category: Category::Metadata,
        severity: Severity::Medium,
        message: "ar runs without the `D` modifier: whether members keep mtime, uid, gid and mode depends on how this ar was built (GNU ar configured with --enable-deterministic-archives, as on Debian and Fedora, defaults to D; others do not)",
        fix: "add the `D` modifier (ar rcsD) so the archive is deterministic with any ar",
        reference: RB_ARCHIVES,
    },
    Rule {
        id: "cmd-rustc-no-remap",
        category: Category::Path,
        severity: Severity::High,
        message: "rustc runs without --remap-path-prefix for its working directory: paths in panics, file!() and debug info leak",
        fix: "add --remap-path-prefix=<working dir>=. (RUSTFLAGS or [build] rustflags), and --remap-path-prefix=$CARGO_HOME=/cargo for dependencies",
        reference: RUSTC_REMAP,
    },
    Rule {
        id: "cmd-rustc-incremental",
        category: Category::Flags,
        severity: Severity::Medium,
        message: "rustc runs with -C incremental: incremental compilation is not guaranteed to give the same output as a clean build",
        fix: "build release artifacts with CARGO_INCREMENTAL=0 (or incremental = false in the profile)",
        reference: RB_VALUES,
    },
    Rule {
        id: "cmd-go-no-trimpath",
        category: Category::Path,
        severity: Severity::High,
        message: "go build without -trimpath: GOPATH and module paths are embedded",
        fix: "add -trimpath (and -buildvcs=false when the VCS state may differ)",
        reference: RB_PATHS,
    },
    Rule {
        id: "shim-unreachable",
        category: Category::Toolchain,
        severity: Severity::Info,
        message: "this tool is statically linked or makes its own system calls (Go, static binaries): det's LD_PRELOAD shim cannot normalize its clock, host name or directory order",
        fix: "make the tool itself deterministic (SOURCE_DATE_EPOCH, -trimpath, sorted inputs), or verify it with cargo det-verify",
        reference: RB_SDE,
    },
    // ---- cargo projects ----
    Rule {
        id: "cargo-dep-build-time",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a dependency embeds the build time, host or build path into the binary",
        fix: "set SOURCE_DATE_EPOCH for the build (the crates that honour it then use it), or configure the crate to leave these out",
        reference: RB_SDE,
    },
    Rule {
        id: "cargo-dep-build-time-honours-sde",
        category: Category::Timestamp,
        severity: Severity::Low,
        message: "a dependency embeds the build time but honours SOURCE_DATE_EPOCH",
        fix: "build with SOURCE_DATE_EPOCH set (cargo det-build does this)",
        reference: RB_SDE,
    },
    Rule {
        id: "cargo-dep-randomness",
        category: Category::Randomness,
        severity: Severity::High,
        message: "a dependency generates random values at compile time",
        fix: "replace it, or seed it from a fixed value (const-random: no seed option, use a constant instead)",
        reference: RB_RANDOM,
    },
    Rule {
        id: "cargo-build-script-clock",
        category: Category::Timestamp,
        severity: Severity::High,
        message: "a build script or proc macro reads the wall clock",
        fix: "read SOURCE_DATE_EPOCH instead (and emit cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH)",
        reference: RB_SDE,
    },
    Rule {
        id: "cargo-build-script-clock-sde",
        category: Category::Timestamp,
        severity: Severity::Low,
        message: "a build script or proc macro reads the wall clock, and also reads SOURCE_DATE_EPOCH (probably as an override)",
        fix: "build with SOURCE_DATE_EPOCH set, and check that it replaces every clock read",
        reference: RB_SDE,
    },
    Rule {
        id: "cargo-build-script-host",
        category: Category::Host,
        severity: Severity::High,
        message: "a build script or proc macro reads the host name, user name or another property of the build machine",
        fix: "do not embed properties of the build machine; if needed, take them from an explicit environment variable with a fixed default",
        reference: RB_VALUES,
    },
    Rule {
        id: "cargo-build-script-path",
        category: Category::Path,
        severity: Severity::High,
        message: "a build script or proc macro writes CARGO_MANIFEST_DIR, OUT_DIR or another absolute path into generated code",
        fix: "emit paths relative to the package, or use include!/include_bytes! with concat!(env!(\"OUT_DIR\"), ...) and build with --remap-path-prefix",
        reference: RB_PATHS,
    },
    Rule {
        id: "cargo-hashmap-codegen",
        category: Category::Randomness,
        severity: Severity::High,
        message: "a build script or proc macro iterates a HashMap/HashSet while generating code: the order is random per process",
        fix: "use BTreeMap/BTreeSet (or sort before emitting)",
        reference: RB_RANDOM,
    },
    Rule {
        id: "cargo-release-incremental",
        category: Category::Flags,
        severity: Severity::Medium,
        message: "the release profile enables incremental compilation",
        fix: "set incremental = false in [profile.release] (it is the default) and CARGO_INCREMENTAL=0",
        reference: RB_VALUES,
    },
    Rule {
        id: "cargo-release-debug-no-remap",
        category: Category::Path,
        severity: Severity::High,
        message: "the release profile keeps debug info (debug = 1, 2, true, \"limited\", \"line-tables-only\"...) and nothing remaps paths (no --remap-path-prefix in RUSTFLAGS or .cargo/config.toml, no trim-paths): the workspace's directory and the cargo home of the machine that builds are written into the binary",
        fix: "add --remap-path-prefix=<workspace>=. and --remap-path-prefix=<cargo home>=/cargo to [build] rustflags in .cargo/config.toml, build with `cargo det-build`, or set debug = false",
        reference: RUSTC_REMAP,
    },
    // ---- input problems ----
    Rule {
        id: "parse-error",
        category: Category::ParseError,
        severity: Severity::Info,
        message: "the file could not be parsed completely (truncated, malformed, or beyond det's limits); what could be read was scanned",
        fix: "check that the file is complete; if it is valid, report it to det with the file",
        reference: "https://github.com/det-rs/det/issues",
    },
    Rule {
        id: "findings-capped",
        category: Category::ParseError,
        severity: Severity::Info,
        message: "more findings than det lists for one file or section; the first ones are listed and the rest counted",
        fix: "fix the listed findings and scan again; the count says how many more there are",
        reference: "https://github.com/det-rs/det/issues",
    },
];

/// The rule with this id, if det knows it.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// The rule with this id; for ids named in det's own code, where a missing rule is a bug.
pub fn get(id: &str) -> &'static Rule {
    by_id(id).unwrap_or_else(|| panic!("det bug: rule `{id}` is not in the rules table"))
}

/// The rules table as Markdown (`docs/rules.md`), grouped by category, sorted by id.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "# det rules\n\n<!-- Generated by `cargo xtask docs` from det-common/src/rules.rs. Do not edit. -->\n\n",
    );
    out.push_str("Every finding of det names one of these rules. Suppress one with `--ignore <id>` or\n`[workspace.metadata.det.scan] ignore = [\"<id>\"]`.\n\n");
    out.push_str("| id | category | severity | message |\n|---|---|---|---|\n");
    let mut sorted: Vec<&Rule> = RULES.iter().collect();
    sorted.sort_by_key(|r| (r.category, r.id));
    for r in &sorted {
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | {} | {} |\n",
            r.id,
            r.id,
            r.category,
            r.severity,
            md_escape(r.message)
        ));
    }
    for r in &sorted {
        out.push_str(&format!(
            "\n## {}\n\n- category: {}\n- severity: {}\n\n{}\n\n**Fix:** {}\n\n**Reference:** <{}>\n",
            r.id,
            r.category,
            r.severity,
            md_escape(r.message),
            md_escape(r.fix),
            r.reference
        ));
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                !r.id.is_empty()
                    && r.id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !r.id.starts_with('-')
                    && !r.id.ends_with('-')
                    && !r.id.contains("--"),
                "rule id {} is not kebab-case",
                r.id
            );
        }
    }

    #[test]
    fn every_rule_has_text_fix_and_reference() {
        for r in RULES {
            assert!(r.message.len() > 20, "{}: message too short", r.id);
            assert!(r.fix.len() > 10, "{}: fix too short", r.id);
            assert!(
                r.reference.starts_with("https://"),
                "{}: reference is not a link",
                r.id
            );
        }
    }

    #[test]
    fn severity_order_and_parsing() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("severe".parse::<Severity>().is_err());
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
    }

    #[test]
    fn parse_error_rule_is_info() {
        assert_eq!(get("parse-error").severity, Severity::Info);
        assert_eq!(get("parse-error").category, Category::ParseError);
        assert!(by_id("no-such-rule").is_none());
    }
}
