//! Compiler command lines: the one place that knows the tool families det meets in builds
//! (gcc, g++, cc, c++, clang, clang++, `zig cc`/`zig c++`, rustc, go, ar/llvm-ar/gcc-ar,
//! ranlib, ld/lld/gold/mold) and which of their flags make an output depend on the build
//! directory, the build machine, the clock or chance.
//!
//! [`analyze_command`] checks one argv; [`analyze_compile_commands`] and
//! [`analyze_build_log`] (module `log`) find the commands in a `compile_commands.json` or in
//! the output of `cargo build -v`, `make V=1`, ninja, cmake, libtool or `sh -x`.
//! Every finding carries, in its `fix`, the exact flags to add to that command.

pub mod inject;
mod log;
mod shell;

pub use log::{
    analyze_build_log, analyze_build_log_counted, analyze_build_log_text, analyze_compile_commands,
    analyze_compile_commands_text,
};
pub use shell::{ShellError, shell_split};

use crate::finding::{Finding, Location};
use crate::rules;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// A family of tools that take the same flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ToolFamily {
    /// gcc, g++, and `cc`/`c++` (gcc on the Linux distributions det targets).
    Gcc,
    /// clang, clang++.
    Clang,
    /// `zig cc`, `zig c++` (clang inside a statically linked zig).
    ZigCc,
    Rustc,
    /// cargo itself: the flags it hands rustc through RUSTFLAGS and CARGO_INCREMENTAL.
    Cargo,
    /// The go command (`go build`, `go install`, ...).
    Go,
    /// GNU ar, gcc-ar, llvm-ar.
    Ar,
    Ranlib,
    /// ld, ld.bfd, ld.gold, ld.lld, lld, mold, gold invoked directly.
    Linker,
}

/// Tool base names, most specific first (`llvm-ar` before `ar`, `clang++` before `clang`).
/// A name matches itself or a cross prefix (`x86_64-linux-gnu-gcc`); version suffixes
/// (`gcc-12`, `clang-16`) are stripped before matching.
const TOOL_NAMES: &[(&str, ToolFamily)] = &[
    ("clang++", ToolFamily::Clang),
    ("clang", ToolFamily::Clang),
    ("gcc-ar", ToolFamily::Ar),
    ("llvm-ar", ToolFamily::Ar),
    ("ar", ToolFamily::Ar),
    ("gcc-ranlib", ToolFamily::Ranlib),
    ("llvm-ranlib", ToolFamily::Ranlib),
    ("ranlib", ToolFamily::Ranlib),
    ("g++", ToolFamily::Gcc),
    ("gcc", ToolFamily::Gcc),
    ("c++", ToolFamily::Gcc),
    ("cc", ToolFamily::Gcc),
    ("ld.lld", ToolFamily::Linker),
    ("ld.gold", ToolFamily::Linker),
    ("ld.bfd", ToolFamily::Linker),
    ("ld.mold", ToolFamily::Linker),
    ("ld", ToolFamily::Linker),
    ("lld", ToolFamily::Linker),
    ("mold", ToolFamily::Linker),
    ("gold", ToolFamily::Linker),
    ("rustc", ToolFamily::Rustc),
    ("go", ToolFamily::Go),
    ("cargo", ToolFamily::Cargo),
];

/// Commands that run the command after them (and their own leading options).
const WRAPPERS: &[&str] = &[
    "ccache",
    "sccache",
    "distcc",
    "icecc",
    "buildcache",
    "time",
    "nice",
    "nohup",
    "libtool",
];

/// Shells: `sh -c 'script'` runs a command list, `sh script args` runs the script.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh"];

/// How deep `sh -c "sh -c '...'"` nesting is followed.
const MAX_SHELL_DEPTH: u8 = 4;

/// The tool's name as matched: file name without `.exe` and without a version suffix.
fn tool_name(arg0: &str) -> String {
    let base = arg0.rsplit(['/', '\\']).next().unwrap_or(arg0);
    let base = base.strip_suffix(".exe").unwrap_or(base);
    // `gcc-12`, `clang-16`, `ld.lld-15`, `gcc-ar-12.2`: drop a trailing `-<digits and dots>`.
    match base.rsplit_once('-') {
        Some((stem, ver))
            if !stem.is_empty()
                && !ver.is_empty()
                && ver.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && ver.as_bytes()[0].is_ascii_digit() =>
        {
            stem.to_owned()
        }
        _ => base.to_owned(),
    }
}

/// The family of the tool `argv` runs, and how many words name it (2 for `zig cc`).
pub fn classify(argv: &[String]) -> Option<(ToolFamily, usize)> {
    let name = tool_name(argv.first()?);
    if name == "zig" {
        return match argv.get(1).map(String::as_str) {
            Some("cc" | "c++") => Some((ToolFamily::ZigCc, 2)),
            _ => None,
        };
    }
    TOOL_NAMES.iter().find_map(|&(n, family)| {
        let matches = name == n
            || (name.len() > n.len() + 1
                && name.ends_with(n)
                && name.as_bytes()[name.len() - n.len() - 1] == b'-');
        matches.then_some((family, 1))
    })
}

/// One simple command with what det learnt about where it runs.
struct Invocation<'a> {
    family: ToolFamily,
    /// As the user would recognise it: `gcc`, `zig cc`, `x86_64-linux-gnu-ar`.
    display: String,
    /// The matched tool name (`llvm-ar`, `gcc`).
    name: String,
    /// argv[0] as written, to find the binary.
    program: &'a str,
    /// The arguments after the tool words.
    args: &'a [String],
    cwd: Option<PathBuf>,
    env: BTreeMap<String, String>,
}

/// Check one command (`argv` as the process gets it; leading `NAME=value` assignments, `env`
/// and wrappers such as `ccache` are understood) run in `cwd`. Findings are placed at `loc`.
/// A command det does not know gives no finding.
pub fn analyze_command(argv: &[String], cwd: Option<&Path>, loc: &Location) -> Vec<Finding> {
    let mut out = Vec::new();
    analyze_with_env(
        argv,
        cwd,
        BTreeMap::new(),
        loc,
        &mut StaticCache::default(),
        &mut out,
    );
    out
}

/// Which tool binaries are statically linked; a build log runs the same few tools often.
#[derive(Default)]
pub(crate) struct StaticCache(BTreeMap<PathBuf, bool>);

impl StaticCache {
    fn is_static(&mut self, path: &Path) -> bool {
        if let Some(&known) = self.0.get(path) {
            return known;
        }
        let known = is_static_elf(path);
        self.0.insert(path.to_owned(), known);
        known
    }
}

pub(crate) fn analyze_with_env(
    argv: &[String],
    cwd: Option<&Path>,
    env: BTreeMap<String, String>,
    loc: &Location,
    statics: &mut StaticCache,
    out: &mut Vec<Finding>,
) {
    analyze_nested(argv, cwd, env, loc, statics, out, 0);
}

/// Each simple command of a list (`cd build && cc -c a.c`), `cd` moving the working
/// directory of the commands after it.
pub(crate) fn analyze_list(
    commands: &[Vec<String>],
    cwd: Option<&Path>,
    env: &BTreeMap<String, String>,
    loc: &Location,
    statics: &mut StaticCache,
    out: &mut Vec<Finding>,
    depth: u8,
) {
    let mut cwd = cwd.map(Path::to_owned);
    for argv in commands {
        if argv.first().map(String::as_str) == Some("cd") {
            cwd = argv.get(1).and_then(|d| resolve_dir(cwd.as_deref(), d));
            continue;
        }
        analyze_nested(argv, cwd.as_deref(), env.clone(), loc, statics, out, depth);
    }
}

fn analyze_nested(
    argv: &[String],
    cwd: Option<&Path>,
    mut env: BTreeMap<String, String>,
    loc: &Location,
    statics: &mut StaticCache,
    out: &mut Vec<Finding>,
    depth: u8,
) {
    let mut rest = argv;
    // Peel `A=b`, `env [-i] A=b`, and wrappers until the tool itself.
    while let Some(first) = rest.first() {
        if let Some((k, v)) = env_assignment(first) {
            env.insert(k.to_owned(), v.to_owned());
            rest = &rest[1..];
        } else if tool_name(first) == "env" {
            rest = &rest[1..];
            while rest.first().is_some_and(|a| a.starts_with('-')) {
                let takes_value = matches!(rest[0].as_str(), "-u" | "-C" | "--unset" | "--chdir");
                let skip: usize = if takes_value { 2 } else { 1 };
                rest = &rest[skip.min(rest.len())..];
            }
        } else if WRAPPERS.contains(&tool_name(first).as_str()) {
            rest = &rest[1..];
            while rest.first().is_some_and(|a| a.starts_with('-')) {
                rest = &rest[1..];
            }
        } else if SHELLS.contains(&tool_name(first).as_str()) {
            rest = &rest[1..];
            // `-c`, `-ec`, `-xc`: the next word is a script; other options are skipped.
            while let Some(opt) = rest.first().filter(|a| a.starts_with('-')) {
                if !opt.starts_with("--") && opt.ends_with('c') {
                    if let Some(script) = rest.get(1)
                        && depth < MAX_SHELL_DEPTH
                        && let Ok(commands) = shell::split_command_list(script)
                    {
                        analyze_list(&commands, cwd, &env, loc, statics, out, depth + 1);
                    }
                    return;
                }
                rest = &rest[1..];
            }
        } else {
            break;
        }
    }
    let Some((family, words)) = classify(rest) else {
        return;
    };
    let inv = Invocation {
        family,
        display: if words == 2 {
            format!("zig {}", rest[1])
        } else {
            tool_name(&rest[0])
        },
        name: tool_name(&rest[0]),
        program: &rest[0],
        args: &rest[words..],
        cwd: cwd.map(Path::to_owned),
        env,
    };
    let start = out.len();
    match family {
        ToolFamily::Gcc | ToolFamily::Clang | ToolFamily::ZigCc => analyze_c(&inv, loc, out),
        ToolFamily::Rustc => analyze_rustc(&inv, loc, out),
        ToolFamily::Go => analyze_go(&inv, loc, out),
        ToolFamily::Cargo => analyze_cargo(&inv, loc, out),
        ToolFamily::Ar => analyze_ar(&inv, loc, out),
        ToolFamily::Ranlib => analyze_ranlib(&inv, loc, out),
        ToolFamily::Linker => analyze_linker_args(
            &inv,
            inv.args.iter().map(String::as_str),
            inject::LINKER_BUILD_ID,
            loc,
            out,
        ),
    }
    let reported_shim = out[start..].iter().any(|f| f.rule.id == "shim-unreachable");
    if !reported_shim
        && let Some(path) = resolve_program(inv.program, inv.cwd.as_deref(), &inv.env)
        && statics.is_static(&path)
    {
        out.push(
            Finding::new(
                rules::get("shim-unreachable"),
                loc.clone(),
                format!("{}: statically linked ({})", inv.display, path.display()),
            )
            .with_fix(format!(
                "check {}'s own determinism flags (SOURCE_DATE_EPOCH, prefix maps); det's LD_PRELOAD shim cannot normalize it",
                inv.display
            )),
        );
    }
}

fn env_assignment(word: &str) -> Option<(&str, &str)> {
    let (k, v) = word.split_once('=')?;
    let mut bytes = k.bytes();
    let first = bytes.next()?;
    ((first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then_some((k, v))
}

// ---------------------------------------------------------------------------------------
// Paths and prefix maps

/// `dir` is `prefix` or below it, compared as text the way gcc and rustc apply prefix maps.
fn path_covered(dir: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        // `-ffile-prefix-map=/=...` maps every absolute path.
        return dir.starts_with('/');
    }
    dir == prefix || (dir.starts_with(prefix) && dir.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// Lexically normalized absolute path (`a/./b/../c` → `a/c`), as a `/`-joined string.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

fn resolve_dir(cwd: Option<&Path>, dir: &str) -> Option<PathBuf> {
    let p = Path::new(dir);
    if p.is_absolute() {
        Some(p.to_owned())
    } else {
        cwd.map(|c| c.join(p))
    }
}

/// The smallest set of `old=new` pairs covering `dirs`: one common ancestor when it is at
/// least two levels deep (`/home/u/proj`), else one pair per top-level tree.
fn prefix_map_roots(dirs: &[String]) -> Vec<String> {
    let mut dirs: Vec<String> = dirs.to_vec();
    dirs.sort();
    dirs.dedup();
    let split: Vec<Vec<&str>> = dirs
        .iter()
        .map(|d| d.split('/').filter(|s| !s.is_empty()).collect())
        .collect();
    let mut common = split.first().cloned().unwrap_or_default();
    for s in &split[1.min(split.len())..] {
        let n = common.iter().zip(s).take_while(|(a, b)| a == b).count();
        common.truncate(n);
    }
    if common.len() >= 2 || dirs.len() == 1 {
        return vec![format!("/{}", common.join("/"))];
    }
    let mut roots: Vec<String> = Vec::new();
    for d in dirs {
        if !roots.iter().any(|r| path_covered(&d, r)) {
            roots.push(d);
        }
    }
    roots
}

// ---------------------------------------------------------------------------------------
// C and C++ drivers: gcc, clang, zig cc

#[derive(Clone, Copy, PartialEq, Eq)]
enum MapKind {
    /// -ffile-prefix-map / -ffile-compilation-dir: debug info and __FILE__.
    File,
    /// -fdebug-prefix-map / -fdebug-compilation-dir: debug info only.
    Debug,
    /// -fmacro-prefix-map: __FILE__ only.
    Macro,
}

/// What one prefix-map option rewrites.
enum PrefixMap {
    /// `-f...-prefix-map=OLD=NEW`: paths starting with OLD.
    Old(String),
    /// clang's `-f...-compilation-dir=DIR`: the working directory.
    CompDir,
}

const SOURCE_EXTENSIONS: &[&str] = &[
    "c", "cc", "cp", "cpp", "cxx", "c++", "C", "CC", "CPP", "m", "mm", "M", "i", "ii", "s", "S",
    "sx", "cu",
];

/// C driver options whose value is the next argument.
const C_OPTS_WITH_VALUE: &[&str] = &[
    "-o",
    "-I",
    "-isystem",
    "-iquote",
    "-idirafter",
    "-include",
    "-imacros",
    "-isysroot",
    "--sysroot",
    "-D",
    "-U",
    "-x",
    "-MF",
    "-MT",
    "-MQ",
    "-L",
    "-l",
    "-T",
    "-u",
    "-z",
    "-e",
    "-target",
    "--target",
    "-arch",
    "-aux-info",
    "-mllvm",
    "-Xclang",
    "-Xlinker",
    "-Xassembler",
    "-Xpreprocessor",
    "-fdebug-compilation-dir",
    "-ffile-compilation-dir",
];

/// Whether a `-g...` option turns debug information on (`Some(true)`), off (`Some(false)`),
/// or is a modifier that does neither (`None`, e.g. `-gsplit-dwarf`, `-gz`).
fn debug_option(arg: &str) -> Option<bool> {
    let rest = arg.strip_prefix("-g")?;
    if rest.is_empty() {
        return Some(true);
    }
    let kinds = [
        "gdb", "dwarf", "stabs+", "stabs", "xcoff+", "xcoff", "vms", "btf", "ctf",
    ];
    for kind in kinds {
        if let Some(level) = rest.strip_prefix(kind) {
            // -gdwarf-4 names a version, not a level: debug info on.
            let level = level.strip_prefix('-').map_or(level, |_| "");
            return match level {
                "" | "1" | "2" | "3" => Some(true),
                "0" => Some(false),
                _ => None,
            };
        }
    }
    match rest {
        "0" => Some(false),
        "1"
        | "2"
        | "3"
        | "codeview"
        | "full"
        | "line-tables-only"
        | "line-directives-only"
        | "mlt"
        | "used" => Some(true),
        _ => None,
    }
}

fn analyze_c(inv: &Invocation, loc: &Location, out: &mut Vec<Finding>) {
    let args = inv.args;
    let mut debug_flag: Option<&str> = None;
    let mut maps: Vec<(MapKind, PrefixMap)> = Vec::new();
    let mut sources: Vec<&str> = Vec::new();
    let mut includes: Vec<&str> = Vec::new();
    let mut output: Option<&str> = None;
    let mut lto: Option<&str> = None;
    let mut random_seed = false;
    let mut native: Vec<&str> = Vec::new();
    let mut linker_args: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let next = args.get(i + 1).map(String::as_str);
        if C_OPTS_WITH_VALUE.contains(&a) {
            match (a, next) {
                ("-o", Some(v)) => output = Some(v),
                ("-I" | "-isystem" | "-iquote" | "-idirafter", Some(v)) => includes.push(v),
                ("-Xlinker", Some(v)) => linker_args.push(v),
                ("-fdebug-compilation-dir", Some(_)) => {
                    maps.push((MapKind::Debug, PrefixMap::CompDir))
                }
                ("-ffile-compilation-dir", Some(_)) => {
                    maps.push((MapKind::File, PrefixMap::CompDir))
                }
                _ => {}
            }
            i += 2;
            continue;
        }
        i += 1;
        if let Some(on) = debug_option(a) {
            debug_flag = on.then_some(a);
        } else if let Some(v) = a.strip_prefix("-ffile-prefix-map=") {
            maps.push((MapKind::File, PrefixMap::Old(map_old(v))));
        } else if let Some(v) = a.strip_prefix("-fdebug-prefix-map=") {
            maps.push((MapKind::Debug, PrefixMap::Old(map_old(v))));
        } else if let Some(v) = a.strip_prefix("-fmacro-prefix-map=") {
            maps.push((MapKind::Macro, PrefixMap::Old(map_old(v))));
        } else if a.starts_with("-fdebug-compilation-dir=") {
            maps.push((MapKind::Debug, PrefixMap::CompDir));
        } else if a.starts_with("-ffile-compilation-dir=") {
            maps.push((MapKind::File, PrefixMap::CompDir));
        } else if a == "-flto" || a.starts_with("-flto=") {
            lto = Some(a);
        } else if a == "-fno-lto" {
            lto = None;
        } else if a.starts_with("-frandom-seed") {
            random_seed = true;
        } else if matches!(a, "-march=native" | "-mtune=native" | "-mcpu=native") {
            native.push(a);
        } else if let Some(v) = a.strip_prefix("-Wl,") {
            linker_args.extend(v.split(','));
        } else if let Some(v) = a.strip_prefix("-o") {
            output = Some(v);
        } else if let Some(v) = a
            .strip_prefix("-isystem")
            .or_else(|| a.strip_prefix("-iquote"))
            .or_else(|| a.strip_prefix("-idirafter"))
            .or_else(|| a.strip_prefix("-I"))
        {
            includes.push(v);
        } else if !a.starts_with('-')
            && a.rsplit_once('.')
                .is_some_and(|(_, ext)| SOURCE_EXTENSIONS.contains(&ext))
        {
            sources.push(a);
        }
    }

    let cwd = inv.cwd.as_deref();
    // Paths the compiler writes: the working directory into DW_AT_comp_dir, absolute sources
    // and include directories into line tables and __FILE__. /usr is the same on every
    // builder of one distribution, so its headers do not make a build path leak.
    let mut written_dirs: Vec<String> = Vec::new();
    for s in &sources {
        if s.starts_with('/') {
            let p = normalize(Path::new(s));
            let parent = p
                .rsplit_once('/')
                .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
            written_dirs.push(parent.to_owned());
        }
    }
    for inc in &includes {
        if let Some(p) = resolve_dir(cwd, inc).filter(|_| inc.starts_with('/')) {
            let p = normalize(&p);
            if !path_covered(&p, "/usr") {
                written_dirs.push(p);
            }
        }
    }
    let covers = |kinds: &[MapKind], dir: &str| {
        maps.iter().any(|(k, old)| {
            kinds.contains(k)
                && match old {
                    PrefixMap::Old(old) => path_covered(dir, old),
                    // A compilation-dir override replaces the working directory itself.
                    PrefixMap::CompDir => cwd.is_some_and(|c| normalize(c) == dir),
                }
        })
    };
    let cwd_norm = cwd.map(normalize);
    // cc-rs compiles probe files in OUT_DIR to test flags; their objects never ship.
    let probe_only = !sources.is_empty()
        && sources.iter().all(|s| {
            s.contains("/out/")
                && (s.ends_with("/flag_check.c") || s.ends_with("detect_compiler_family.c"))
        });
    let preprocess_only = args.iter().any(|a| a == "-E");
    let mut fired_debug = false;
    if let Some(flag) = debug_flag.filter(|_| !sources.is_empty() && !probe_only) {
        let kinds = [MapKind::File, MapKind::Debug];
        let mut uncovered: Vec<String> = written_dirs
            .iter()
            .filter(|d| !covers(&kinds, d))
            .cloned()
            .collect();
        let cwd_uncovered = match &cwd_norm {
            Some(c) => !covers(&kinds, c),
            // Unknown working directory: any debug map is taken to be the right one.
            None => !maps.iter().any(|(k, _)| kinds.contains(k)),
        };
        if let Some(c) = cwd_norm.clone().filter(|_| cwd_uncovered) {
            uncovered.push(c);
        }
        if cwd_uncovered || !uncovered.is_empty() {
            fired_debug = true;
            let mut fix = map_flags(inject::FILE_PREFIX_MAP, &uncovered, ".");
            if cwd_norm.is_none() && cwd_uncovered {
                // The working directory is unknown here: name it the shell's way.
                let pwd = inject::prefix_map_flag(inject::FILE_PREFIX_MAP, "$PWD", ".");
                fix = format!("{fix} {pwd}").trim_start().to_owned();
            }
            out.push(
                Finding::new(
                    rules::get("cmd-missing-prefix-map"),
                    loc.clone(),
                    format!("{} {} {}", inv.display, flag, sources[0]),
                )
                .with_fix(fix),
            );
        }
    }
    if !fired_debug && !sources.is_empty() && !probe_only && !preprocess_only {
        let kinds = [MapKind::File, MapKind::Macro];
        let uncovered: Vec<String> = written_dirs
            .iter()
            .filter(|d| !covers(&kinds, d))
            .cloned()
            .collect();
        if !uncovered.is_empty() {
            let has_debug_map = maps.iter().any(|(k, _)| *k == MapKind::Debug);
            let flag = if has_debug_map {
                inject::MACRO_PREFIX_MAP
            } else {
                inject::FILE_PREFIX_MAP
            };
            let evidence_path = sources
                .iter()
                .find(|s| s.starts_with('/'))
                .copied()
                .or_else(|| includes.iter().find(|s| s.starts_with('/')).copied())
                .unwrap_or(sources[0]);
            out.push(
                Finding::new(
                    rules::get("cmd-missing-macro-prefix-map"),
                    loc.clone(),
                    format!("{} {}", inv.display, evidence_path),
                )
                .with_fix(map_flags(flag, &uncovered, ".")),
            );
        }
    }
    if !native.is_empty() {
        let fix = native
            .iter()
            .map(|n| match *n {
                "-march=native" => {
                    "-march=x86-64-v2 (instead of -march=native; or the oldest CPU you support)"
                }
                "-mtune=native" => "-mtune=generic (instead of -mtune=native)",
                _ => "-mcpu=generic (instead of -mcpu=native; or the oldest CPU you support)",
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(
            Finding::new(
                rules::get("cmd-native-cpu"),
                loc.clone(),
                format!("{} {}", inv.display, native.join(" ")),
            )
            .with_fix(fix),
        );
    }
    // Only GCC's LTO streams random section names; clang (and zig cc) do not need a seed.
    if let (ToolFamily::Gcc, Some(flag), false) = (inv.family, lto, random_seed) {
        let seed = output
            .or_else(|| sources.first().copied())
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned())
            .unwrap_or_else(|| "<output file name>".to_owned());
        out.push(
            Finding::new(
                rules::get("cmd-lto-no-random-seed"),
                loc.clone(),
                format!("{} {}", inv.display, flag),
            )
            .with_fix(inject::random_seed_flag(&seed)),
        );
    }
    analyze_linker_args(inv, linker_args.into_iter(), inject::CC_BUILD_ID, loc, out);
}

/// The old prefix of an `old=new` map (split at the first `=`, as gcc and clang do).
fn map_old(v: &str) -> String {
    v.split_once('=').map_or(v, |(old, _)| old).to_owned()
}

fn map_flags(flag: &str, dirs: &[String], to: &str) -> String {
    prefix_map_roots(dirs)
        .iter()
        .map(|d| inject::prefix_map_flag(flag, d, to))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--build-id=uuid` among the arguments the linker gets.
fn analyze_linker_args<'a>(
    inv: &Invocation,
    args: impl Iterator<Item = &'a str>,
    fix: &str,
    loc: &Location,
    out: &mut Vec<Finding>,
) {
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        let uuid = a == "--build-id=uuid"
            || a == "-build-id=uuid"
            || (a == "--build-id" && args.peek() == Some(&"uuid"));
        if uuid {
            out.push(
                Finding::new(
                    rules::get("cmd-build-id-uuid"),
                    loc.clone(),
                    format!("{} {}", inv.display, a),
                )
                .with_fix(fix),
            );
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// rustc

/// rustc options whose value is the next argument.
const RUSTC_OPTS_WITH_VALUE: &[&str] = &[
    "--crate-name",
    "--crate-type",
    "--edition",
    "--emit",
    "--cfg",
    "--check-cfg",
    "--out-dir",
    "-o",
    "--target",
    "--cap-lints",
    "--extern",
    "--json",
    "--error-format",
    "--diagnostic-width",
    "--explain",
    "--print",
    "--sysroot",
    "-L",
    "-l",
    "-A",
    "-W",
    "-D",
    "-F",
    "-Z",
    "--remap-path-prefix",
    "-C",
    "--codegen",
];

fn analyze_rustc(inv: &Invocation, loc: &Location, out: &mut Vec<Finding>) {
    let args = inv.args;
    let mut remaps: Vec<String> = Vec::new();
    let mut codegen: Vec<(String, &str)> = Vec::new();
    let mut crate_name: Option<&str> = None;
    let mut source: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let next = args.get(i + 1).map(String::as_str);
        if RUSTC_OPTS_WITH_VALUE.contains(&a) {
            if let Some(v) = next {
                match a {
                    "--remap-path-prefix" => remaps.push(remap_from(v)),
                    "-C" | "--codegen" => codegen.push((format!("{a} {v}"), v)),
                    "--crate-name" => crate_name = Some(v),
                    _ => {}
                }
            }
            i += 2;
            continue;
        }
        i += 1;
        if let Some(v) = a.strip_prefix("--remap-path-prefix=") {
            remaps.push(remap_from(v));
        } else if let Some(v) = a.strip_prefix("--codegen=") {
            codegen.push((a.to_owned(), v));
        } else if let Some(v) = a.strip_prefix("-C") {
            codegen.push((a.to_owned(), v));
        } else if source.is_none() && !a.starts_with('-') && a.ends_with(".rs") {
            source = Some(a);
        }
    }
    let who = match crate_name {
        Some(n) => format!("{} --crate-name {n}", inv.display),
        None => inv.display.clone(),
    };
    for (written, opt) in &codegen {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        match (key.trim(), value.trim()) {
            ("incremental", _) => out.push(
                Finding::new(rules::get("cmd-rustc-incremental"), loc.clone(), format!("{who} {written}"))
                    .with_fix(format!("drop {written}: CARGO_INCREMENTAL=0 (or incremental = false in the profile)")),
            ),
            ("target-cpu", "native") => out.push(
                Finding::new(rules::get("cmd-native-cpu"), loc.clone(), format!("{who} {written}"))
                    .with_fix("-C target-cpu=x86-64-v2 (instead of target-cpu=native; or the oldest CPU you support)"),
            ),
            ("link-arg" | "link-args", v) => analyze_linker_args(
                inv,
                v.split([' ', ',']),
                &format!("-C link-arg={}", inject::CC_BUILD_ID),
                loc,
                out,
            ),
            _ => {}
        }
    }
    let Some(source) = source else {
        // `rustc -vV`, `rustc - --print cfg`: nothing is compiled from a file.
        return;
    };
    // Where rustc runs: the given directory, else what cargo's environment says. Cargo runs
    // rustc in the workspace root with a relative source path for workspace members, and in
    // the package directory with an absolute source path for everything else.
    let manifest_dir = inv.env.get("CARGO_MANIFEST_DIR").map(String::as_str);
    let cwd: Option<String> = inv.cwd.as_deref().map(normalize).or_else(|| {
        let m = manifest_dir?;
        if source.starts_with('/') {
            Some(normalize(Path::new(m)))
        } else {
            Some(strip_shared_suffix(&normalize(Path::new(m)), source))
        }
    });
    let mut needed: Vec<(String, String)> = Vec::new(); // (dir, remap target)
    let source_abs = if source.starts_with('/') {
        Some(normalize(Path::new(source)))
    } else {
        cwd.as_ref().map(|c| normalize(&Path::new(c).join(source)))
    };
    let cargo_home = source_abs.as_deref().and_then(cargo_home_of);
    match (&cargo_home, &cwd) {
        (Some(home), _) => needed.push((home.clone(), "/cargo".to_owned())),
        (None, Some(c)) => needed.push((c.clone(), ".".to_owned())),
        (None, None) => {}
    }
    if let (Some(abs), Some(c)) = (&source_abs, &cwd)
        && cargo_home.is_none()
        && !path_covered(abs, c)
    {
        let dir = abs.rsplit_once('/').map_or("/", |(d, _)| d).to_owned();
        needed.push((dir, ".".to_owned()));
    }
    let missing: Vec<&(String, String)> = needed
        .iter()
        .filter(|(dir, _)| !remaps.iter().any(|r| path_covered(dir, r)))
        .collect();
    let unknown_cwd_without_remap = cwd.is_none() && remaps.is_empty() && !source.starts_with('/');
    if !missing.is_empty() || unknown_cwd_without_remap {
        let mut fix: Vec<String> = missing
            .iter()
            .map(|(d, to)| format!("--remap-path-prefix={d}={to}"))
            .collect();
        if unknown_cwd_without_remap {
            fix.push("--remap-path-prefix=$PWD=.".to_owned());
        }
        let place = match (&cargo_home, &cwd) {
            (Some(h), _) => format!(" (CARGO_HOME {h})"),
            (None, Some(c)) => format!(" (cwd {c})"),
            _ => String::new(),
        };
        out.push(
            Finding::new(
                rules::get("cmd-rustc-no-remap"),
                loc.clone(),
                format!("{who} {source}{place}"),
            )
            .with_fix(fix.join(" ")),
        );
    }
}

/// The FROM of `FROM=TO` (rustc splits at the last `=`).
fn remap_from(v: &str) -> String {
    v.rsplit_once('=').map_or(v, |(from, _)| from).to_owned()
}

/// The workspace root from a member's manifest dir and its workspace-relative source path:
/// `/ws/macros` with `macros/src/lib.rs` gives `/ws`.
fn strip_shared_suffix(manifest_dir: &str, source: &str) -> String {
    let dir: Vec<&str> = manifest_dir.split('/').filter(|s| !s.is_empty()).collect();
    let src: Vec<&str> = source
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let max = dir.len().min(src.len().saturating_sub(1));
    let k = (1..=max)
        .rev()
        .find(|&k| dir[dir.len() - k..] == src[..k])
        .unwrap_or(0);
    format!("/{}", dir[..dir.len() - k].join("/"))
}

/// `$CARGO_HOME` for a source under its registry or git checkouts.
fn cargo_home_of(path: &str) -> Option<String> {
    ["/registry/src/", "/git/checkouts/"]
        .iter()
        .find_map(|m| path.find(m).map(|i| path[..i].to_owned()))
        .filter(|h| !h.is_empty())
}

// ---------------------------------------------------------------------------------------
// cargo

/// `RUSTFLAGS=... cargo build`: the rustc flags cargo will pass, and CARGO_INCREMENTAL. The
/// path remapping is not judged here: `[build] rustflags` in `.cargo/config.toml` may carry
/// it; a `cargo build -v` log shows each rustc command with its real flags.
fn analyze_cargo(inv: &Invocation, loc: &Location, out: &mut Vec<Finding>) {
    let sub = inv
        .args
        .iter()
        .find(|a| !a.starts_with('-') && !a.starts_with('+'))
        .map(String::as_str);
    if !matches!(sub, Some("build" | "b" | "rustc" | "install" | "run" | "r")) {
        return;
    }
    let flags: Vec<String> = if let Some(enc) = inv.env.get("CARGO_ENCODED_RUSTFLAGS") {
        enc.split('\x1f').map(str::to_owned).collect()
    } else {
        let plain = inv
            .env
            .get("RUSTFLAGS")
            .or_else(|| inv.env.get("CARGO_BUILD_RUSTFLAGS"));
        plain.map_or_else(Vec::new, |f| {
            f.split_whitespace().map(str::to_owned).collect()
        })
    };
    let mut i = 0;
    while i < flags.len() {
        let (written, opt) = match flags[i].as_str() {
            "-C" | "--codegen" => {
                i += 1;
                match flags.get(i) {
                    Some(v) => (format!("{} {v}", flags[i - 1]), v.as_str()),
                    None => break,
                }
            }
            f => match f
                .strip_prefix("-C")
                .or_else(|| f.strip_prefix("--codegen="))
            {
                Some(v) => (f.to_owned(), v),
                None => {
                    i += 1;
                    continue;
                }
            },
        };
        i += 1;
        if opt.replace(' ', "") == "target-cpu=native" {
            out.push(
                Finding::new(
                    rules::get("cmd-native-cpu"),
                    loc.clone(),
                    format!("RUSTFLAGS {written}"),
                )
                .with_fix("-C target-cpu=x86-64-v2 in RUSTFLAGS (instead of target-cpu=native; or the oldest CPU you support)"),
            );
        }
    }
    if inv.env.get("CARGO_INCREMENTAL").map(String::as_str) == Some("1") {
        out.push(
            Finding::new(
                rules::get("cmd-rustc-incremental"),
                loc.clone(),
                "CARGO_INCREMENTAL=1 cargo",
            )
            .with_fix("CARGO_INCREMENTAL=0"),
        );
    }
}

// ---------------------------------------------------------------------------------------
// go

fn analyze_go(inv: &Invocation, loc: &Location, out: &mut Vec<Finding>) {
    let Some(sub) = inv.args.first().map(String::as_str) else {
        return;
    };
    if !matches!(sub, "build" | "install" | "run" | "test" | "generate") {
        return;
    }
    let trimpath = |a: &str| a == "-trimpath" || a == "--trimpath" || a == "-trimpath=true";
    let in_goflags = inv
        .env
        .get("GOFLAGS")
        .is_some_and(|f| f.split_whitespace().any(trimpath));
    if sub != "generate" && !inv.args.iter().any(|a| trimpath(a)) && !in_goflags {
        out.push(
            Finding::new(
                rules::get("cmd-go-no-trimpath"),
                loc.clone(),
                format!("go {sub}"),
            )
            .with_fix("-trimpath"),
        );
    }
    out.push(
        Finding::new(
            rules::get("shim-unreachable"),
            loc.clone(),
            format!("go {sub}: Go programs make their own system calls"),
        )
        .with_fix("go build -trimpath -buildvcs=false with SOURCE_DATE_EPOCH set; check the result with cargo det-verify"),
    );
}

// ---------------------------------------------------------------------------------------
// ar and ranlib

fn analyze_ar(inv: &Invocation, loc: &Location, out: &mut Vec<Finding>) {
    let mut args = inv.args;
    // gcc-ar and some build systems put long options before the operation.
    while let Some(a) = args.first() {
        match a.as_str() {
            "--plugin" | "--target" | "--output" | "--record-libdeps" => {
                args = &args[2.min(args.len())..]
            }
            s if s.starts_with("--") || s.starts_with("-X") => args = &args[1..],
            _ => break,
        }
    }
    let Some(keys) = args.first() else { return };
    let letters = keys.strip_prefix('-').unwrap_or(keys);
    if !letters.bytes().all(|b| b.is_ascii_alphanumeric()) || letters.is_empty() {
        return;
    }
    // Only operations that write the archive matter: replace, quick-append, move, delete,
    // and `s` alone (the symbol index).
    if !letters.contains(['r', 'q', 'm', 'd', 's']) {
        return;
    }
    let fixed: String = letters.chars().filter(|&c| c != 'U').collect::<String>()
        + if letters.contains('D') { "" } else { "D" };
    let written = format!("{} {}", inv.display, keys);
    let fix = format!(
        "{} {}{}",
        inv.display,
        if keys.starts_with('-') { "-" } else { "" },
        fixed
    );
    if letters.contains('U') {
        out.push(
            Finding::new(rules::get("cmd-ar-nondeterministic"), loc.clone(), written).with_fix(fix),
        );
    } else if !letters.contains('D') && inv.name != "llvm-ar" {
        // llvm-ar is deterministic unless told `U`; GNU ar only when built with
        // --enable-deterministic-archives (Debian, Ubuntu, Fedora do; others may not).
        out.push(
            Finding::new(rules::get("cmd-ar-default-mode"), loc.clone(), written).with_fix(fix),
        );
    }
}

fn analyze_ranlib(inv: &Invocation, loc: &Location, out: &mut Vec<Finding>) {
    let flags: Vec<&str> = inv
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with('-'))
        .collect();
    let written = format!("{} {}", inv.display, flags.join(" "))
        .trim_end()
        .to_owned();
    let fix = format!("{} -D", inv.display);
    if flags.contains(&"-U") {
        out.push(
            Finding::new(rules::get("cmd-ar-nondeterministic"), loc.clone(), written).with_fix(fix),
        );
    } else if !flags.contains(&"-D") && inv.name != "llvm-ranlib" {
        out.push(
            Finding::new(rules::get("cmd-ar-default-mode"), loc.clone(), written).with_fix(fix),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Statically linked tools

/// The binary `program` names: a path (relative to `cwd`), or the first match on PATH.
fn resolve_program(
    program: &str,
    cwd: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Option<PathBuf> {
    if program.contains('/') {
        let p = resolve_dir(cwd, program)?;
        return p.is_file().then_some(p);
    }
    let path = env
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// An ELF executable without a PT_INTERP program header: nothing loads LD_PRELOAD into it.
fn is_static_elf(path: &Path) -> bool {
    let mut head = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .is_ok();
    read && elf_without_interp(&head).unwrap_or(false)
}

fn elf_without_interp(b: &[u8]) -> Option<bool> {
    if b.get(..4)? != b"\x7fELF" {
        return None;
    }
    let is64 = *b.get(4)? == 2;
    let le = *b.get(5)? == 1;
    let u16_at = |o: usize| -> Option<u64> {
        let s: [u8; 2] = b.get(o..o.checked_add(2)?)?.try_into().ok()?;
        Some(u64::from(if le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        }))
    };
    let u32_at = |o: usize| -> Option<u64> {
        let s: [u8; 4] = b.get(o..o.checked_add(4)?)?.try_into().ok()?;
        Some(u64::from(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        }))
    };
    let u64_at = |o: usize| -> Option<u64> {
        let s: [u8; 8] = b.get(o..o.checked_add(8)?)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    };
    let e_type = u16_at(16)?;
    // Executables and PIEs only: a shared library has no interpreter either.
    if e_type != 2 && e_type != 3 {
        return None;
    }
    let (phoff, phentsize, phnum) = if is64 {
        (u64_at(32)?, u16_at(54)?, u16_at(56)?)
    } else {
        (u32_at(28)?, u16_at(42)?, u16_at(44)?)
    };
    let mut has_dynamic = false;
    for n in 0..phnum {
        let off = usize::try_from(phoff.checked_add(n.checked_mul(phentsize)?)?).ok()?;
        match u32_at(off)? {
            3 => return Some(false), // PT_INTERP
            2 => has_dynamic = true, // PT_DYNAMIC
            _ => {}
        }
    }
    // A PIE without an interpreter is static-pie; a DYN without PT_DYNAMIC cannot be a
    // shared library either. A DYN with PT_DYNAMIC and no interpreter is most likely a
    // shared library (or ld.so itself): not a tool det would see.
    // A DYN with PT_DYNAMIC and no interpreter may be a shared library (or ld.so itself) or
    // a static-pie; telling them apart is not worth a false `shim-unreachable`.
    Some(e_type == 2 || !has_dynamic)
}

#[cfg(test)]
mod tests;
