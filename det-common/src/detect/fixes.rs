//! Fixes with the values det knows: the build directory a path lies in (one of the scan's
//! build roots, the builder's CARGO_HOME, the checkout or temporary directory around the
//! evidence), in the form that fits the file the evidence was found in. A fix pasted as
//! printed must work: no `$CARGO_HOME` that a default rustup install leaves unset.

use super::ScanOptions;
use super::calibrate::{Content, TextKind};
use crate::rules::Severity;

/// The directory to remap for `path`, and whether it is a cargo home (remapped to
/// `/cargo`, where dependencies' sources then appear) rather than a build directory
/// (remapped to `.`).
pub(crate) fn build_dir(path: &str, opts: &ScanOptions) -> (String, bool) {
    let sep = if path.contains('\\') && !path.starts_with('/') {
        '\\'
    } else {
        '/'
    };
    let under = |dir: &str| {
        let dir = dir.trim_end_matches(sep);
        !dir.is_empty() && path.starts_with(dir) && path[dir.len()..].starts_with(sep)
    };
    if let Some(r) = opts
        .build_roots
        .iter()
        .filter(|r| under(r))
        .max_by_key(|r| r.len())
    {
        return (r.trim_end_matches('/').to_owned(), false);
    }
    if let Some(home) = opts.cargo_home.as_deref().filter(|h| under(h)) {
        return (home.trim_end_matches('/').to_owned(), true);
    }
    let comps: Vec<&str> = path.split(sep).collect();
    let prefix = |n: usize| comps[..n].join(&sep.to_string());
    // Another machine's cargo home: `.../.cargo/registry/src/...`, `.../registry/src/`.
    if let Some(i) = comps.iter().position(|c| *c == ".cargo") {
        return (prefix(i + 1), true);
    }
    if let Some(i) = comps
        .windows(2)
        .position(|w| w[0] == "registry" && w[1] == "src")
        .filter(|&i| i > 1)
    {
        return (prefix(i), true);
    }
    // A checkout: the directory holding `src/` or `target/`.
    if let Some(i) = comps
        .iter()
        .enumerate()
        .skip(2)
        .find(|(_, c)| matches!(**c, "src" | "target"))
        .map(|(i, _)| i)
    {
        return (prefix(i), false);
    }
    // Otherwise the first two levels: `/build/gdb-kUlB6r`, `/tmp/build-env-h0n7oq3a`,
    // `/home/alice`, `C:\Users\bob`.
    let n = if comps.first() == Some(&"") { 3 } else { 2 };
    let n = n.min(comps.len().saturating_sub(1)).max(1);
    (prefix(n), false)
}

/// The fix for a build or home path `path` found in `content` at severity `sev`.
pub(crate) fn path_fix(path: &str, content: Content, sev: Severity, opts: &ScanOptions) -> String {
    let (dir, cargo_home) = build_dir(path, opts);
    use crate::command::inject::{FILE_PREFIX_MAP, prefix_map_flag};
    match content {
        Content::Compiled if cargo_home => format!(
            "remap the cargo home the dependencies were built from: RUSTFLAGS=\"--remap-path-prefix={dir}=/cargo\" (this machine's CARGO_HOME is {}); C/C++ compiled by a build script: {}",
            opts.cargo_home
                .as_deref()
                .unwrap_or("unknown: set CARGO_HOME"),
            prefix_map_flag(FILE_PREFIX_MAP, &dir, "/cargo")
        ),
        Content::Compiled if sev >= Severity::Medium => {
            let mut fix = format!(
                "remap the build directory {dir}: C/C++: {} (gcc >= 8, clang >= 10, zig cc); Rust: RUSTFLAGS=\"--remap-path-prefix={dir}=.",
                prefix_map_flag(FILE_PREFIX_MAP, &dir, ".")
            );
            if let Some(home) = &opts.cargo_home {
                fix.push_str(&format!(" --remap-path-prefix={home}=/cargo"));
            }
            fix.push_str(
                "\"; or keep __FILE__ / file!() / env!(\"CARGO_MANIFEST_DIR\") out of the output",
            );
            fix
        }
        Content::Compiled => format!(
            "a short path like this in a binary is usually a run-time default or an example in help text, not where it was built: nothing to do then; if {dir} is the build directory, remap it ({} for C/C++, --remap-path-prefix={dir}=. for Rust)",
            prefix_map_flag(FILE_PREFIX_MAP, &dir, ".")
        ),
        Content::Text(kind) if sev >= Severity::Medium => format!(
            "this {} names the build directory {dir}: if the build writes this file, write paths relative to the package or compute them at run time instead of recording where it was built",
            kind_name(kind)
        ),
        Content::Text(kind) => format!(
            "a path in the text of a {} (an example, a default, a run-time location) is the same in every build: nothing to do, unless the build writes it; then write it relative to the package",
            kind_name(kind)
        ),
    }
}

fn kind_name(kind: TextKind) -> &'static str {
    match kind {
        TextKind::Source => "script or source file",
        TextKind::Docs => "document",
        TextKind::Changelog => "changelog",
        TextKind::Catalog => "gettext catalogue",
        TextKind::Other => "text file",
    }
}

/// The fix for a date or identifier found in plainly-source text of `kind`.
pub(crate) fn text_date_fix(kind: TextKind) -> String {
    match kind {
        TextKind::Changelog => "dates in a changelog are written by people and are the same in every build: nothing to do (if the build generates the changelog, take its dates from SOURCE_DATE_EPOCH)".into(),
        TextKind::Catalog => "a gettext catalogue's header dates (POT-Creation-Date, PO-Revision-Date) come from its .po source, compiled as they are by msgfmt: nothing to do if the .po files are committed; if the build regenerates the template with xgettext, commit the result instead".into(),
        _ => format!(
            "a date or identifier in the text of a {} is part of the source and the same in every build: nothing to do, unless the build writes this file (then take dates from SOURCE_DATE_EPOCH and derive identifiers from the inputs)",
            kind_name(kind)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_dirs_are_concrete() {
        let o = ScanOptions {
            cargo_home: Some("/home/u/.cargo".into()),
            build_roots: vec!["/srv/ci/job".into()],
            ..ScanOptions::default()
        };
        assert_eq!(
            build_dir("/srv/ci/job/src/a.c", &o),
            ("/srv/ci/job".into(), false)
        );
        assert_eq!(
            build_dir(
                "/home/u/.cargo/registry/src/index.crates.io-x/a-1/src/lib.rs",
                &o
            ),
            ("/home/u/.cargo".into(), true)
        );
        assert_eq!(
            build_dir("/opt/ci/.cargo/registry/src/index/a/src/lib.rs", &o),
            ("/opt/ci/.cargo".into(), true)
        );
        assert_eq!(
            build_dir("/build/gdb-kUlB6r/gdb-13.1/gdb/ada-lang.c", &o),
            ("/build/gdb-kUlB6r".into(), false)
        );
        assert_eq!(
            build_dir("/data/ci/proj/src/main.c", &o),
            ("/data/ci/proj".into(), false)
        );
        let fix = path_fix(
            "/home/u/.cargo/registry/src/i/a-1/src/lib.rs",
            Content::Compiled,
            Severity::High,
            &o,
        );
        assert!(
            fix.contains("--remap-path-prefix=/home/u/.cargo=/cargo"),
            "{fix}"
        );
        assert!(!fix.contains('$'), "{fix}");
    }
}
