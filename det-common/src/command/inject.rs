//! The flags det adds to a C compiler or archiver command so that its output does not
//! depend on the build directory or on chance: the one table `cargo det-build cc|c++|ar`
//! applies. Every C flag det writes anywhere is spelled here: the wrapper's flags, the
//! CFLAGS/CXXFLAGS of det-build's plan ([`prefix_map_flags`]) and the fixes det-scan's
//! command checker proposes ([`prefix_map_flag`], [`random_seed_flag`], [`CC_BUILD_ID`]).
//!
//! | tool | when | flags |
//! |---|---|---|
//! | gcc, clang, zig cc | compiling, preprocessing or linking | `-ffile-prefix-map=DIR=TO` for every mapped directory (the canonical root, the working directory), longest last (the last match wins) |
//! | gcc | compiling | `-frandom-seed=<16 hex digits of BLAKE3 of the output's path relative to the root>` (names of anonymous namespaces, LTO symbols) |
//! | gcc, clang, zig cc | linking an ELF | `-Wl,--build-id=sha1` (a build id from the content, not random) unless one is given |
//! | zig cc | any non-probe command with SOURCE_DATE_EPOCH set | `-Wno-error=date-time`: zig makes `__DATE__`/`__TIME__` an error, but its clang takes them from SOURCE_DATE_EPOCH |
//! | ar, gcc-ar, llvm-ar, zig ar | writing an archive | `D` added to the operation, `U` removed |
//!
//! A command with no input (`cc --version`, `-dumpmachine`, `-print-file-name=...`) gets
//! nothing; unknown options are never touched. Response files (`@file`) are read to
//! understand the command, and passed on as they are.

use super::{C_OPTS_WITH_VALUE, SOURCE_EXTENSIONS, ToolFamily};
use std::path::Path;

/// gcc's and clang's option that maps a directory prefix in debug information and in
/// `__FILE__` (gcc 8, clang 10).
pub const FILE_PREFIX_MAP: &str = "-ffile-prefix-map";
/// The option that maps a prefix in `__FILE__` only (for commands that map debug
/// information with `-fdebug-prefix-map` already).
pub const MACRO_PREFIX_MAP: &str = "-fmacro-prefix-map";
/// The linker option for a build id computed from the content (not random, not absent).
pub const LINKER_BUILD_ID: &str = "--build-id=sha1";
/// [`LINKER_BUILD_ID`] through a compiler driver.
pub const CC_BUILD_ID: &str = "-Wl,--build-id=sha1";

/// `OPTION=FROM=TO`; an empty TO becomes `.` (gcc before 13 takes an empty replacement
/// as no map at all).
pub fn prefix_map_flag(option: &str, from: &str, to: &str) -> String {
    let to = if to.is_empty() { "." } else { to };
    format!("{option}={from}={to}")
}

/// [`FILE_PREFIX_MAP`] for each `(from, to)` pair, duplicates dropped, the longest FROM
/// last: gcc and clang apply the last map that matches, so a directory inside another
/// (the target dir in the project) gets its own replacement.
pub fn prefix_map_flags(pairs: &[(String, String)]) -> Vec<String> {
    let mut maps = pairs.to_vec();
    maps.sort_by_key(|(from, _)| from.len());
    maps.dedup();
    maps.iter()
        .map(|(from, to)| prefix_map_flag(FILE_PREFIX_MAP, from, to))
        .collect()
}

/// gcc's `-frandom-seed=SEED` (names of anonymous namespaces and LTO sections).
pub fn random_seed_flag(seed: &str) -> String {
    format!("-frandom-seed={seed}")
}

/// What a compiler driver command does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CcMode {
    /// No input file: a probe (`--version`, `-v`, `-dumpmachine`, `-print-*`).
    Probe,
    /// `-E`, `-M`/`-MM` without compiling.
    Preprocess,
    /// `-c` or `-S`: an object or assembly.
    Compile,
    /// Inputs and no `-c`/`-S`/`-E`: an executable or shared library.
    Link,
}

/// The arguments with `@file` response files expanded (recursively, at most 8 deep), for
/// understanding the command; files that cannot be read stay as they are, as the compiler
/// itself treats them.
pub fn expand_response_files(args: &[String], cwd: &Path) -> Vec<String> {
    fn expand(args: &[String], cwd: &Path, depth: u8, out: &mut Vec<String>) {
        for a in args {
            match a.strip_prefix('@') {
                Some(file) if depth < 8 && !file.is_empty() => {
                    match std::fs::read_to_string(cwd.join(file)) {
                        Ok(text) => {
                            let words = super::shell_split(&text).unwrap_or_else(|_| {
                                text.split_whitespace().map(str::to_owned).collect()
                            });
                            expand(&words, cwd, depth + 1, out);
                        }
                        Err(_) => out.push(a.clone()),
                    }
                }
                _ => out.push(a.clone()),
            }
        }
    }
    let mut out = Vec::with_capacity(args.len());
    expand(args, cwd, 0, &mut out);
    out
}

fn is_input(arg: &str) -> bool {
    let ext = arg.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    SOURCE_EXTENSIONS.contains(&ext)
        || matches!(ext, "o" | "obj" | "a" | "so" | "lo")
        || arg.contains(".so.")
}

/// The arguments that are input files (sources, objects, libraries named by path).
pub fn inputs(args: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut after_dashdash = false;
    while i < args.len() {
        let a = args[i].as_str();
        if after_dashdash {
            out.push(a);
        } else if a == "--" {
            after_dashdash = true;
        } else if C_OPTS_WITH_VALUE.contains(&a) {
            i += 1;
        } else if a == "-" || (!a.starts_with('-') && !a.starts_with('@') && is_input(a)) {
            out.push(a);
        }
        i += 1;
    }
    out
}

/// What the (expanded) arguments ask the driver to do.
pub fn cc_mode(args: &[String]) -> CcMode {
    if inputs(args).is_empty() {
        return CcMode::Probe;
    }
    let has = |f: &str| args.iter().any(|a| a == f);
    if has("-E") || ((has("-M") || has("-MM")) && !has("-MD") && !has("-MMD")) {
        CcMode::Preprocess
    } else if has("-c") || has("-S") {
        CcMode::Compile
    } else {
        CcMode::Link
    }
}

/// The value of `-o` (`-o x`, `-ox`).
pub fn output(args: &[String]) -> Option<&str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-o" {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix("-o")
            && !v.is_empty()
        {
            return Some(v);
        }
    }
    None
}

/// Where the command's settings come from.
#[derive(Clone, Debug, Default)]
pub struct CcContext {
    /// Directory prefixes to replace, `(from, to)`: the canonical root and the working
    /// directory, usually to `.`.
    pub prefix_maps: Vec<(String, String)>,
    /// The directory output paths are taken relative to for the random seed (the project
    /// root); the working directory when unset.
    pub root: Option<String>,
    pub cwd: String,
    /// SOURCE_DATE_EPOCH is set for the compiler.
    pub source_date_epoch: bool,
}

/// A path made relative to the first of `bases` it is under, else kept as written.
fn relative(path: &str, bases: &[&str]) -> String {
    for base in bases {
        let base = base.trim_end_matches('/');
        if base.is_empty() {
            continue;
        }
        if let Some(rest) = path.strip_prefix(base)
            && let Some(rest) = rest.strip_prefix('/')
        {
            return rest.to_owned();
        }
    }
    path.to_owned()
}

/// The flags det adds to a C/C++ compiler driver of `family` whose (expanded) arguments are
/// `args`; nothing for a probe.
pub fn c_flags(family: ToolFamily, args: &[String], cx: &CcContext) -> Vec<String> {
    let mode = cc_mode(args);
    if mode == CcMode::Probe {
        return Vec::new();
    }
    let mut out = prefix_map_flags(&cx.prefix_maps);
    if mode == CcMode::Compile
        && family == ToolFamily::Gcc
        && !args.iter().any(|a| a.starts_with("-frandom-seed"))
    {
        // The output's path relative to the root; without -o, the inputs name the outputs.
        let named = match output(args) {
            Some(o) => o.to_owned(),
            None => inputs(args).join(" "),
        };
        let mut bases: Vec<&str> = Vec::new();
        if let Some(r) = &cx.root {
            bases.push(r);
        }
        bases.push(&cx.cwd);
        let rel = relative(&named, &bases);
        let seed = &blake3::hash(rel.as_bytes()).to_hex()[..16];
        out.push(random_seed_flag(seed));
    }
    if family == ToolFamily::ZigCc && cx.source_date_epoch {
        out.push("-Wno-error=date-time".to_owned());
    }
    let target = args
        .iter()
        .position(|a| a == "-target" || a == "--target")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .or_else(|| args.iter().find_map(|a| a.strip_prefix("--target=")))
        .unwrap_or("");
    let elf = !["macos", "darwin", "ios", "windows", "mingw", "wasm", "uefi"]
        .iter()
        .any(|t| target.contains(t));
    // `-r` (a relocatable link) makes an object, which gets no build id.
    if mode == CcMode::Link && elf && !args.iter().any(|a| a.contains("--build-id") || a == "-r") {
        out.push(CC_BUILD_ID.to_owned());
    }
    out
}

/// An ar command line with the operation made deterministic: `D` added and `U` removed.
/// Arguments it does not understand are returned as they are.
pub fn ar_args(args: &[String]) -> Vec<String> {
    let mut out = args.to_vec();
    let mut i = 0;
    // gcc-ar and build systems may put long options before the operation.
    while let Some(a) = out.get(i) {
        match a.as_str() {
            "--plugin" | "--target" | "--output" | "--record-libdeps" => i += 2,
            s if s.starts_with("--") || s.starts_with("-X") || s.starts_with('@') => i += 1,
            _ => break,
        }
    }
    let Some(keys) = out.get(i) else {
        return out;
    };
    let dash = keys.starts_with('-');
    let letters = keys.trim_start_matches('-');
    if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return out;
    }
    // Only operations that write the archive: replace, quick append, move, delete, index.
    if !letters.contains(['r', 'q', 'm', 'd', 's']) || letters.contains(['t', 'x', 'p']) {
        return out;
    }
    let mut fixed: String = letters.chars().filter(|&c| c != 'U').collect();
    if !fixed.contains('D') {
        fixed.push('D');
    }
    out[i] = if dash { format!("-{fixed}") } else { fixed };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn modes() {
        assert_eq!(cc_mode(&v("--version")), CcMode::Probe);
        assert_eq!(cc_mode(&v("-print-file-name=libc.a")), CcMode::Probe);
        assert_eq!(cc_mode(&v("-E a.c")), CcMode::Preprocess);
        assert_eq!(cc_mode(&v("-c a.c -o a.o -MD")), CcMode::Compile);
        assert_eq!(cc_mode(&v("a.o b.o -o prog -lm")), CcMode::Link);
        assert_eq!(cc_mode(&v("-I inc.c -c x.c")), CcMode::Compile);
    }

    #[test]
    fn flags_for_a_compile_and_a_link() {
        let cx = CcContext {
            prefix_maps: vec![
                ("/build/proj/sub".into(), ".".into()),
                ("/build/proj".into(), ".".into()),
            ],
            root: Some("/build/proj".into()),
            cwd: "/build/proj/sub".into(),
            source_date_epoch: false,
        };
        let f = c_flags(ToolFamily::Gcc, &v("-c a.c -o /build/proj/sub/a.o"), &cx);
        let seed = &blake3::hash(b"sub/a.o").to_hex()[..16];
        assert_eq!(
            f,
            [
                "-ffile-prefix-map=/build/proj=.".to_owned(),
                "-ffile-prefix-map=/build/proj/sub=.".to_owned(),
                format!("-frandom-seed={seed}"),
            ]
        );
        let f = c_flags(ToolFamily::ZigCc, &v("a.o -o prog"), &cx);
        assert_eq!(f.last().unwrap(), "-Wl,--build-id=sha1");
        assert!(!f.iter().any(|x| x.starts_with("-frandom-seed")));
        assert!(c_flags(ToolFamily::Gcc, &v("--version"), &cx).is_empty());
        let mac = c_flags(ToolFamily::ZigCc, &v("-target aarch64-macos a.o"), &cx);
        assert!(!mac.iter().any(|x| x.contains("build-id")));
    }

    #[test]
    fn ar_operations() {
        assert_eq!(ar_args(&v("rcU lib.a a.o")), v("rcD lib.a a.o"));
        assert_eq!(ar_args(&v("-rcs lib.a a.o")), v("-rcsD lib.a a.o"));
        assert_eq!(
            ar_args(&v("--plugin x.so rc lib.a")),
            v("--plugin x.so rcD lib.a")
        );
        assert_eq!(ar_args(&v("t lib.a")), v("t lib.a"));
        assert_eq!(ar_args(&v("--version")), v("--version"));
    }

    #[test]
    fn response_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r"), "-c 'a b.c' @inner\n").unwrap();
        std::fs::write(dir.path().join("inner"), "-o x.o").unwrap();
        let args = expand_response_files(&v("@r @missing"), dir.path());
        assert_eq!(args, ["-c", "a b.c", "-o", "x.o", "@missing"]);
        assert_eq!(cc_mode(&args), CcMode::Compile);
    }
}
