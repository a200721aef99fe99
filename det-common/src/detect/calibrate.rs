//! How strong the evidence of a pattern match is, and the fix that fits where it was found.
//!
//! The pattern detectors ([`super::patterns`]) find strings that *can* be build-time leaks;
//! whether one is depends on the string and on the file it is in:
//!
//! - a path under a build directory — `/build/...`, a CI work directory, a cargo registry,
//!   a checkout (`.../src/...`), a temporary directory with a generated name
//!   (`/tmp/build-env-h0n7oq3a/...`), a home directory two levels down, or one of the
//!   scan's build roots — is strong evidence (the rule's severity, high). A short path
//!   under `/tmp` or a home directory (`/tmp/node-repl-sock`, `/home/user/hello.c`) is
//!   what help text, examples and run-time defaults look like: weak (low). A mktemp
//!   template (`/tmp/ccXXXXXX`) and the source of Debian's rustc (`/usr/src/rustc-<v>/`,
//!   its `/rustc/<hash>`) are not findings;
//! - a `__DATE__`/`__TIME__`/`__TIMESTAMP__` expansion exists only in compiled code; in
//!   text it is a date like any other. A `__TIMESTAMP__`-form date at exactly midnight
//!   (git's `Mon Sep 17 00:00:00 2001`) is a constant;
//! - a date or UUID in text that is plainly source (a script, a module, documentation, a
//!   changelog, a gettext catalogue) is written by people, the same in every build: weak
//!   (low, or info for changelogs and catalogues). In compiled code a UUID is nearly always
//!   a constant (a protocol or type identifier): low. In other text (generated data) the
//!   rule's severity stands. Well-known constant GUIDs (GPT partition types, the WebSocket
//!   key GUID) are not findings.
//!
//! Calibration runs on the matches only, after the scan: it costs nothing per byte.

use super::ScanOptions;
use crate::rules::Severity;

/// What a buffer of bytes is, for judging what is found in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// An object file's section, or a binary of unknown format.
    Compiled,
    /// Text, and what kind of text.
    Text(TextKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// A script or a source module (`#!` first line, `.py`, `.pl`, `.sh`, `.c`, ...).
    Source,
    /// Documentation (`.md`, `.txt`, `.html`, man pages, README).
    Docs,
    /// A changelog or news file.
    Changelog,
    /// A gettext catalogue (`.mo`, `.po`, `.pot`): its header dates come from the source.
    Catalog,
    /// Any other text (configuration, generated data): judged like a build output.
    Other,
}

const SOURCE_EXT: &[&str] = &[
    "py", "pyi", "pl", "pm", "sh", "bash", "zsh", "rb", "js", "mjs", "cjs", "ts", "lua", "tcl",
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "rs", "go", "java", "kt", "scala", "swift", "m",
    "el", "vim", "awk", "sed", "cmake", "mk", "php", "r", "jl",
];
const DOC_EXT: &[&str] = &[
    "md", "rst", "txt", "html", "htm", "xhtml", "adoc", "texi", "info", "tex", "1", "2", "3", "4",
    "5", "6", "7", "8", "9", "man", "pod",
];

/// What the node called `name` with content `data` is (`data`: its first bytes suffice).
pub fn classify(name: &str, data: &[u8], is_text: bool) -> Content {
    // This runs for every text file and every member (460 000 of them in the Windows import
    // libraries of a cargo registry): bytes, no allocation, until the name must be lowered.
    let b = name.as_bytes();
    let base = match memchr::memrchr2(b'/', b'!', b) {
        Some(i) => &name[i + 1..],
        None => name,
    };
    let ext = match memchr::memrchr(b'.', base.as_bytes()) {
        Some(i) => &base[i + 1..],
        None => "",
    };
    let magic = data.get(..4);
    if ["mo", "po", "pot"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
        || magic == Some(&[0xde, 0x12, 0x04, 0x95])
        || magic == Some(&[0x95, 0x04, 0x12, 0xde])
    {
        return Content::Text(TextKind::Catalog);
    }
    if !is_text {
        return Content::Compiled;
    }
    // Lowercased only when it has capitals.
    let lower;
    let base = if base.bytes().any(|b| b.is_ascii_uppercase()) {
        lower = base.to_ascii_lowercase();
        lower.as_str()
    } else {
        base
    };
    let stem = base.split('.').next().unwrap_or("");
    let ext = base.rsplit_once('.').map_or("", |(_, e)| e);
    if matches!(
        stem,
        "changelog" | "changes" | "news" | "history" | "releasenotes"
    ) {
        return Content::Text(TextKind::Changelog);
    }
    if data.starts_with(b"#!") || SOURCE_EXT.contains(&ext) {
        return Content::Text(TextKind::Source);
    }
    if DOC_EXT.contains(&ext) || matches!(stem, "readme" | "license" | "copying" | "authors") {
        return Content::Text(TextKind::Docs);
    }
    Content::Text(TextKind::Other)
}

/// How strongly a path says "this is where it was built".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathStrength {
    /// Not a build path at all (a template, the toolchain's own source).
    None,
    Weak,
    Strong,
}

/// A component generated by mktemp, tempfile or a build tool (`build-env-h0n7oq3a`,
/// `build-env-tqcyv_u7`, `.tmpk3J9xQ`, `gdb-kUlB6r`, `tmp.AbCdEf1234`): a word (between `-`
/// and `.`) of at least six letters and digits that is Python tempfile's eight characters
/// of `[a-z0-9_]` with a digit, or scatters upper case among lower case. Digits alone do
/// not make a name generated (`20x_dapi_cy3_20100185_1`, `python3`).
fn looks_generated(comp: &str) -> bool {
    // tempfile's default name: `.tmp` and exactly six random letters and digits, all
    // lower case about one time in 185 (`.tmpudikeu`), so the case does not matter.
    if comp
        .strip_prefix(".tmp")
        .is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return true;
    }
    // tempfile's `.tmpGvIjil`, mktemp's `tmp.k3J9xQa1b2`: a temporary-file prefix and six or
    // more random letters and digits.
    let rest = comp
        .strip_prefix(".tmp")
        .or_else(|| comp.strip_prefix("tmp."))
        .or_else(|| comp.strip_prefix("tmp"));
    if rest.is_some_and(|r| {
        r.len() >= 6
            && r.bytes().all(|b| b.is_ascii_alphanumeric())
            && r.bytes()
                .any(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    }) {
        return true;
    }
    comp.split(['-', '.']).any(|w| {
        let bytes = w.as_bytes();
        if bytes.len() < 6
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return false;
        }
        let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
        let lower = bytes.iter().any(u8::is_ascii_lowercase);
        let upper_inside = bytes[1..].iter().any(u8::is_ascii_uppercase);
        let python_tempfile =
            bytes.len() == 8 && digits > 0 && !bytes.iter().any(u8::is_ascii_uppercase);
        let arch = [
            "x86_64", "aarch64", "i686", "amd64", "arm64", "sha256", "sha512", "utf8",
        ]
        .iter()
        .any(|a| w.contains(a));
        !arch && (python_tempfile || (lower && upper_inside && mixed_case_random(bytes)))
    })
}

/// Upper case letters scattered among lower case ones (`kUlB6r`, `k3J9xQ`), not a
/// CamelCase word or an acronym (`PerlIO`, `MyProject`): at least two upper-case letters,
/// each after a lower-case letter or a digit, that do not start a run of lower-case ones
/// longer than two (or one, with a digit in the word).
fn mixed_case_random(w: &[u8]) -> bool {
    let mut scattered = 0;
    for (i, b) in w.iter().enumerate().skip(1) {
        if b.is_ascii_uppercase() && !w[i - 1].is_ascii_uppercase() {
            let run = w[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_lowercase())
                .count();
            if run <= 2 {
                scattered += 1;
            }
        }
    }
    scattered >= 2 || (scattered >= 1 && w.iter().any(u8::is_ascii_digit))
}

/// Components that mark a checkout or a build tree.
const BUILD_MARKERS: &[&str] = &[
    "src",
    "source",
    "sources",
    "target",
    "build",
    "builds",
    "out",
    "obj",
    "release",
    "debug",
    ".cargo",
    "registry",
    "checkout",
    "_work",
    "work",
    "workspace",
    "repos",
    "projects",
    "git",
    "node_modules",
    "site-packages",
    "dist",
];

/// Whether `path` is the same on every machine that builds with the same tools, so that it
/// never makes two builds differ: the Rust toolchain's own CI checkout (rust-lang/rust's
/// layout, left in the prebuilt standard library, compiler-rt and rust-lld's version
/// string), the standard library's remapped source (`/rustc/<commit>/`), and det-build's
/// canonical root (`/det/src`, `/det/target`, ...: the same absolute paths everywhere).
/// det-scan does not report such a path as a build path, and det-build's closing scan
/// counts it apart: one list for both.
pub fn same_on_every_machine(path: &str) -> bool {
    const TOOLCHAIN_CHECKOUT: &[&str] = &[
        "/checkout/library/",
        "/checkout/src/llvm-project/",
        "/checkout/vendor/",
        "/checkout/compiler/",
        "/checkout/obj/build/",
    ];
    TOOLCHAIN_CHECKOUT.iter().any(|p| path.starts_with(p))
        || path.strip_prefix("/rustc/").is_some_and(|rest| {
            let commit = rest.split('/').next().unwrap_or("");
            commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())
        })
        // The canonical root and anything in it: `/det/src` itself, and det's own binaries'
        // string constants laid end to end (`/det/zigno-store...`).
        || path
            .strip_prefix(crate::sandbox::ROOT)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The strength of the Unix or Windows path `path` as evidence of a build directory.
pub(crate) fn path_strength(path: &str, opts: &ScanOptions) -> PathStrength {
    // A mktemp template; Debian's packaged crate sources (a system directory, met in
    // strings the compiler laid end to end).
    if path.contains("XXX") || path.contains("/usr/share/cargo/registry/") {
        return PathStrength::None;
    }
    if same_on_every_machine(path) {
        return PathStrength::None;
    }
    for r in &opts.build_roots {
        let r = r.trim_end_matches('/');
        if path.starts_with(r) && path[r.len()..].starts_with('/') {
            return PathStrength::Strong;
        }
    }
    let comps: Vec<&str> = path
        .trim_start_matches("\\\\?\\")
        .split(['/', '\\'])
        .filter(|c| !c.is_empty())
        .collect();
    let Some(&first) = comps.first() else {
        return PathStrength::Weak;
    };
    let marker = |cs: &[&str]| {
        cs.iter()
            .any(|c| BUILD_MARKERS.iter().any(|m| c.eq_ignore_ascii_case(m)))
    };
    let generated = comps.iter().any(|c| looks_generated(c));
    if first.len() == 2 && first.ends_with(':') {
        // Windows: `D:\a\_work\x.c`, `C:\Users\bob\src\x.pdb`.
        let rest = &comps[1..];
        let home = rest
            .first()
            .is_some_and(|c| c.eq_ignore_ascii_case("users"));
        let strong = generated
            || marker(rest)
            || (home && rest.len() >= 3)
            || (rest.len() >= 3 && has_build_ext(path));
        return if strong {
            PathStrength::Strong
        } else {
            PathStrength::Weak
        };
    }
    match first {
        // Debian's rustc: the standard library's source, the same for everyone with it.
        "usr"
            if comps.get(1) == Some(&"src")
                && comps.get(2).is_some_and(|c| c.starts_with("rustc-")) =>
        {
            PathStrength::None
        }
        "usr" | "var" => {
            // /usr/src/linux-headers-6.1.0/..., /var/tmp/<generated>/...
            let under = &comps[2.min(comps.len())..];
            let versioned = under
                .first()
                .is_some_and(|c| c.bytes().any(|b| b.is_ascii_digit()));
            if versioned || generated || (under.len() >= 3 && marker(under)) {
                PathStrength::Strong
            } else {
                PathStrength::Weak
            }
        }
        "tmp" | "private" => {
            let under = &comps[1..];
            if generated || under.len() >= 3 || (under.len() >= 2 && marker(under)) {
                PathStrength::Strong
            } else {
                PathStrength::Weak
            }
        }
        "home" | "Users" | "root" => {
            // The user's directory, then at least two more levels: a project, not
            // `/home/user/hello.c` in a help text.
            let below_user = if first == "root" {
                &comps[1..]
            } else {
                &comps[2.min(comps.len())..]
            };
            if below_user.len() >= 2 || generated {
                PathStrength::Strong
            } else {
                PathStrength::Weak
            }
        }
        _ => PathStrength::Strong,
    }
}

/// A path with a generated component, under one of the scan's build roots, or under this
/// machine's cargo home.
fn generated_or_known(path: &str, opts: &ScanOptions) -> bool {
    let under = |dir: &str| {
        let dir = dir.trim_end_matches('/');
        !dir.is_empty() && path.starts_with(dir) && path[dir.len()..].starts_with('/')
    };
    opts.build_roots.iter().any(|r| under(r))
        || opts.cargo_home.as_deref().is_some_and(under)
        || path.split(['/', '\\']).any(looks_generated)
}

fn has_build_ext(path: &str) -> bool {
    let ext = path
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    SOURCE_EXT.contains(&ext.as_str())
        || matches!(
            ext.as_str(),
            "o" | "obj" | "a" | "lib" | "pdb" | "so" | "dll" | "rlib"
        )
}

/// GUIDs that are constants of a standard, compiled into every program that speaks it.
const WELL_KNOWN_UUIDS: &[&str] = &[
    // RFC 6455: the WebSocket accept-key GUID.
    "258eafa5-e914-47da-95ca-c5ab0dc85b11",
    // RFC 4122 name-space ids.
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
    "6ba7b812-9dad-11d1-80b4-00c04fd430c8",
    "6ba7b814-9dad-11d1-80b4-00c04fd430c8",
];

/// GPT partition type GUIDs (UEFI, Linux, BSD, ...): constants. The Discoverable
/// Partitions Specification types end in well-known suffixes too many to list; these are
/// the families' shared tails.
fn is_well_known_uuid(u: &str) -> bool {
    let l = u.to_ascii_lowercase();
    WELL_KNOWN_UUIDS.contains(&l.as_str())
        // EFI system, BIOS boot, Microsoft basic data / reserved, Linux filesystem/swap/LVM/RAID,
        // Apple, FreeBSD: the GPT type families.
        || [
            "-11d2-ba4b-00a0c93ec93b",
            "-6e6f-744e-656564454649",
            "-4433-87c0-68b6b72699c7",
            "-4a4f-9be2-0d0f6fe2e0ee",
            "-11aa-aa11-00306543ecac",
            "-11dc-b8b4-c8d4b8e8a7e5",
            "-11dc-9f8e-c8d4b8e8a7e5",
            "-11d6-ba0a-00030d80d82c",
            "-11d6-ba4b-00a0c93ec93b",
            "-4741-a8b2-b6c1e5d5cc96",
        ]
        .iter()
        .any(|tail| l.ends_with(tail))
        || l.starts_with("0fc63daf-8483-4772-8e79-3d69d8477de4")
        || l.starts_with("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f")
        || l.starts_with("e6d6d379-f507-44c2-a23c-238f2a3df928")
        || l.starts_with("a19d880f-05fc-4d3b-a006-743f0f84911e")
        || l.starts_with("933ac7e1-2eb4-4f13-b844-0e14e2aef915")
        || l.starts_with("4f68bce3-e8cd-4db1-96e7-fbcaf984b709")
        || l.starts_with("44479540-f297-41b2-9af7-d131d5f0458a")
        || l.starts_with("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
        || l.starts_with("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7")
}

/// The rule and severity a pattern match of `rule` with `evidence` in `content` gets, and a
/// fix fitting it, or `None` when it is not a finding at all.
pub(crate) fn calibrate(
    rule: &'static str,
    evidence: &str,
    content: Content,
    opts: &ScanOptions,
) -> Option<(&'static str, Severity, Option<String>)> {
    use Content::*;
    use TextKind::*;
    let plain_source = |k: TextKind| k != Other;
    match (rule, content) {
        ("absolute-path" | "home-path", _) => {
            let strength = match (path_strength(evidence, opts), content) {
                // In text people write (a docstring, a help page), only a directory with a
                // generated name or one of this scan's build directories is the build's:
                // `/home/guido/src/data.txt` in a docstring is an example.
                (PathStrength::Strong, Text(k))
                    if plain_source(k) && !generated_or_known(evidence, opts) =>
                {
                    PathStrength::Weak
                }
                (s, _) => s,
            };
            let sev = match strength {
                PathStrength::None => return None,
                PathStrength::Weak => Severity::Low,
                PathStrength::Strong => crate::rules::get(rule).severity,
            };
            Some((
                rule,
                sev,
                Some(super::fixes::path_fix(evidence, content, sev, opts)),
            ))
        }
        ("date-time-macro", Compiled) => {
            // A __TIMESTAMP__ form at midnight to the second is a constant (git's mbox
            // `From` line); asctime pads the day with a space, so `Jun 06` is not one.
            if evidence.contains(" 00:00:00 ") {
                return None;
            }
            let zero_padded_day = evidence
                .split(' ')
                .nth(2)
                .is_some_and(|d| d.len() == 2 && d.starts_with('0'))
                && evidence.len() > 20;
            let sev = if zero_padded_day {
                Severity::Low
            } else {
                Severity::High
            };
            Some((rule, sev, None))
        }
        // Text has no __DATE__: a date there is a date.
        ("date-time-macro", Text(k)) => {
            if evidence.len() <= 8 {
                // A lone `HH:MM:SS` in text is no date at all.
                return None;
            }
            calibrate("embedded-date", evidence, Text(k), opts)
        }
        // 8-byte literals laid end to end (see `patterns::GLUED_PATH`).
        (super::patterns::GLUED_PATH, _) => Some((
            "absolute-path",
            Severity::Low,
            Some(super::fixes::path_fix(
                evidence,
                content,
                Severity::Low,
                opts,
            )),
        )),
        // An option's example value in help text, or a date quoted as code in prose (see
        // `patterns::EXAMPLE_DATE`).
        (super::patterns::EXAMPLE_DATE, _) => Some((
            "embedded-date",
            Severity::Low,
            match content {
                Text(k) => Some(super::fixes::text_date_fix(k)),
                Compiled => None,
            },
        )),
        ("embedded-date", Text(k @ (Changelog | Catalog))) => Some((
            "embedded-date",
            Severity::Info,
            Some(super::fixes::text_date_fix(k)),
        )),
        ("embedded-date", Text(k)) if plain_source(k) => Some((
            "embedded-date",
            Severity::Low,
            Some(super::fixes::text_date_fix(k)),
        )),
        ("uuid-string", _) if is_well_known_uuid(evidence) => None,
        ("uuid-string", Compiled) => Some((rule, Severity::Low, None)),
        ("uuid-string", Text(k)) if plain_source(k) => {
            Some((rule, Severity::Info, Some(super::fixes::text_date_fix(k))))
        }
        _ => Some((rule, crate::rules::get(rule).severity, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strength(p: &str) -> PathStrength {
        path_strength(p, &ScanOptions::default())
    }

    /// One list for det-scan and det-build's closing scan: the toolchain's own CI checkout,
    /// the standard library's remapped source and det-build's canonical root are no build
    /// path; look-alikes are judged as any other path.
    #[test]
    fn paths_the_same_on_every_machine_are_no_build_path() {
        let commit = "59807616e1fa2540724bfbac14d7976d7e4a3860";
        for p in [
            "/checkout/src/llvm-project/llvm",
            "/checkout/library/core/src/num/mod.rs",
            "/checkout/obj/build/x86_64-unknown-linux-gnu/native/sanitizers",
            &format!("/rustc/{commit}/library/std/src/io/mod.rs"),
            "/det/src/src/main.rs",
            "/det/target/release/build/x-1/out/gen.rs",
            "/det/cargo/registry/src/index.crates.io-1/a-1.0/src/lib.rs",
            "/det/src",
            "/det/zigno-storenegative",
        ] {
            assert!(same_on_every_machine(p), "{p}");
            assert_eq!(strength(p), PathStrength::None, "{p}");
        }
        for p in [
            "/checkout2/src/main.rs",
            "/checkout/src/main.rs",
            "/rustc/abc123/library/std/src/lib.rs",
            "/detail/src/main.rs",
            "/home/alice/det/src/main.rs",
        ] {
            assert!(!same_on_every_machine(p), "{p}");
        }
        assert_eq!(
            strength("/home/alice/det/src/main.rs"),
            PathStrength::Strong
        );
    }

    #[test]
    fn build_directories_are_strong_examples_weak() {
        use PathStrength::*;
        for p in [
            "/build/gdb-kUlB6r/gdb-13.1/gdb/ada-lang.c",
            "/build/reproducible-path/vim-9.0.1378",
            "/tmp/build-env-h0n7oq3a/bin/python",
            "/tmp/build-env-tqcyv_u7/bin/python",
            "/tmp/.tmpk3J9xQ/x.c",
            "/tmp/.tmpudikeu/main.c",
            "/home/iojs/build/ws/out/Release/obj/x.o",
            "/home/alice/proj/x.c",
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.0/src/de.rs",
            "/data/ci/proj/src/main.c",
            "/work/proj/Makefile",
            "/usr/src/linux-headers-6.1.0-18-amd64/include/x.h",
            "D:\\a\\_work\\x.c",
            "C:\\Users\\bob\\src\\x.pdb",
        ] {
            assert_eq!(strength(p), Strong, "{p}");
        }
        for p in [
            "/tmp/node-repl-sock",
            "/tmp/myimport.zip/mydirectory",
            "/tmp/.X11-unix/X",
            "/home/user/hello.c",
            "/root/x",
            "/usr/src/lib/libc/",
            "C:\\foo\\bar",
            "C:\\abc\\def",
        ] {
            assert_eq!(strength(p), Weak, "{p}");
        }
        for p in [
            "/tmp/gdbobj-XXXXXX",
            "/usr/src/rustc-1.63.0/library/std/src/io/mod.rs",
        ] {
            assert_eq!(strength(p), None, "{p}");
        }
        let opts = ScanOptions {
            build_roots: vec!["/srv/x".into()],
            ..ScanOptions::default()
        };
        assert_eq!(path_strength("/srv/x/a", &opts), Strong);
    }

    #[test]
    fn generated_names() {
        for c in [
            "build-env-h0n7oq3a",
            "build-env-tqcyv_u7",
            ".tmpk3J9xQ",
            ".tmpudikeu",
            "gdb-kUlB6r",
            "tmp.AbCdEf1234",
            "lsof-D9SkAG",
        ] {
            assert!(looks_generated(c), "{c}");
        }
        for c in [
            "python3",
            "node-repl-sock",
            "heaptrack_fifo",
            "x86_64-linux-gnu",
            "PerlIOOctal",
            "MyProject",
            "gcc-12",
            "sqlite3",
            "v8_tmp_file",
            "proj",
        ] {
            assert!(!looks_generated(c), "{c}");
        }
    }

    #[test]
    fn content_kinds() {
        use TextKind::*;
        assert_eq!(
            classify("usr/bin/ucf", b"#!/bin/sh\n", true),
            Content::Text(Source)
        );
        assert_eq!(
            classify("x/CHANGELOG.md", b"# 1.0", true),
            Content::Text(Changelog)
        );
        assert_eq!(classify("doc/README", b"hi", true), Content::Text(Docs));
        assert_eq!(
            classify("de/LC_MESSAGES/x.mo", b"\xde\x12\x04\x95", false),
            Content::Text(Catalog)
        );
        assert_eq!(
            classify("build-info.json", b"{}", true),
            Content::Text(Other)
        );
        assert_eq!(classify("a.out", b"\x7fELF", false), Content::Compiled);
    }

    #[test]
    fn dates_and_uuids_by_where_they_are() {
        let o = ScanOptions::default();
        let c = |rule, ev, content| calibrate(rule, ev, content, &o).map(|x| (x.0, x.1));
        assert_eq!(
            c(
                "date-time-macro",
                "Mon Sep 17 00:00:00 2001",
                Content::Compiled
            ),
            Option::None
        );
        assert_eq!(
            c("date-time-macro", "Nov 23 2026", Content::Compiled),
            Some(("date-time-macro", Severity::High))
        );
        assert_eq!(
            c(
                "date-time-macro",
                "Tue Jun  6 09:48:22 2006",
                Content::Text(TextKind::Source)
            ),
            Some(("embedded-date", Severity::Low))
        );
        assert_eq!(
            c(
                "embedded-date",
                "2023-01-02 12:00+0000",
                Content::Text(TextKind::Catalog)
            ),
            Some(("embedded-date", Severity::Info))
        );
        assert_eq!(
            c(
                "embedded-date",
                "2023-01-02T12:00:00Z",
                Content::Text(TextKind::Other)
            ),
            Some(("embedded-date", Severity::Medium))
        );
        assert_eq!(
            c(
                "uuid-string",
                "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                Content::Compiled
            ),
            Option::None
        );
        assert_eq!(
            c(
                "uuid-string",
                "0fc63daf-8483-4772-8e79-3d69d8477de4",
                Content::Compiled
            ),
            Option::None
        );
        assert_eq!(
            c(
                "uuid-string",
                "123e4567-e89b-42d3-a456-426614174000",
                Content::Compiled
            ),
            Some(("uuid-string", Severity::Low))
        );
    }
}
