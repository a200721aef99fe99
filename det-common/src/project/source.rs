//! Heuristics over the Rust source of build scripts and proc macros: the code that runs at
//! build time and decides what the compiled crate contains. Comments are ignored; each
//! pattern is kept narrow so a clean build script gives no finding.

use crate::error::{Error, Result};
use crate::finding::{Finding, Location};
use crate::rules;
use regex::Regex;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// At most this much of one source file is read.
const MAX_SOURCE_BYTES: u64 = 1024 * 1024;
/// At most this many files of one proc-macro crate are read.
const MAX_FILES_PER_TARGET: usize = 256;

/// The files to read for a target: a build script is its file (and, when it lives in its own
/// directory such as `build/main.rs`, that directory); a proc macro is its crate's source
/// directory.
pub(super) fn code_files(src_path: &Path, is_build_script: bool) -> Vec<PathBuf> {
    let Some(dir) = src_path.parent() else {
        return vec![src_path.to_owned()];
    };
    let package_root_script = is_build_script && dir.join("Cargo.toml").is_file();
    if package_root_script {
        return vec![src_path.to_owned()];
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .take(MAX_FILES_PER_TARGET)
        .collect();
    if !files.iter().any(|f| f == src_path) {
        files.insert(0, src_path.to_owned());
    }
    files
}

static CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\bSystemTime::now\s*\(|\b(?:Local|Utc)::now\s*\(|\bOffsetDateTime::now_(?:utc|local)\s*\(|\bUNIX_EPOCH\s*\.\s*elapsed\s*\(|\b(?:Timestamp|Zoned)::now\s*\(",
    )
    .unwrap()
});
static HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\bgethostname\s*\(|\bhostname::get\s*\(|\bwhoami::|\bsys_info::hostname\b|\buname\s*\(|\b(?:var|var_os|env!|option_env!)\s*\(\s*"(?:HOSTNAME|USER|USERNAME|LOGNAME|COMPUTERNAME)"\s*\)"#,
    )
    .unwrap()
});
static PATH_READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\b(?:var|var_os|env!|option_env!)\s*\(\s*"(?:CARGO_MANIFEST_DIR|OUT_DIR)"\s*\)|\bcurrent_dir\s*\(\s*\)"#,
    )
    .unwrap()
});
static LET_BINDING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\blet\s+(?:mut\s+)?([A-Za-z_]\w*)").unwrap());
/// Macros whose arguments become generated text.
static EMITTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(format|write|writeln|println|print|quote|concat)!\s*[\(\{\[]").unwrap()
});
/// Signs that formatted text is Rust code or a cargo instruction that reaches the crate.
const CODE_HINTS: &[&str] = &[
    "const ",
    "static ",
    "fn ",
    "pub ",
    "let ",
    "&str",
    "include",
    "mod ",
    "#[",
    ":?}",
    "cargo:rustc-env=",
    "cargo::rustc-env=",
];
static HASH_TYPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([A-Za-z_]\w*)\s*:\s*&?(?:mut\s+)?(?:[\w:]*::)?Hash(?:Map|Set)\b").unwrap()
});
static HASH_NEW: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\blet\s+(?:mut\s+)?([A-Za-z_]\w*)\s*=\s*(?:[\w:]*::)?Hash(?:Map|Set)\s*(?:::\s*<[^>]*>)?\s*::",
    )
    .unwrap()
});
static HASH_COLLECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\blet\s+(?:mut\s+)?([A-Za-z_]\w*)[^=;]*=[^;]*collect\s*::\s*<\s*(?:[\w:]*::)?Hash(?:Map|Set)",
    )
    .unwrap()
});
/// Iterations whose order cannot show in the output (a sum, a lookup) or is fixed.
static ORDER_FREE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\.(?:sum|count|len|max|min|any|all|contains|find|position|is_empty)\s*\(|BTree|\bsorted\b")
        .unwrap()
});
/// Iterations that visit entries in hash order. `iter_mut`/`values_mut` are left out: they
/// update entries in place, which order cannot change (strum_macros does this).
const ITER_METHODS: &str = "iter|keys|values|into_iter|drain|into_keys|into_values";

/// Scan one build-script or proc-macro source file; findings name it relative to `root`.
pub(super) fn scan_file(root: &Path, file: &Path, out: &mut Vec<Finding>) -> Result<()> {
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_SOURCE_BYTES).read_to_end(&mut bytes))
        .map_err(|e| Error::io(file, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .to_string_lossy()
        .replace('\\', "/");
    scan_text(&rel, &text, out);
    Ok(())
}

/// The heuristics over source text; `rel` names the file in the findings.
pub(super) fn scan_text(rel: &str, text: &str, out: &mut Vec<Finding>) {
    let code = strip_comments(text);
    let original: Vec<&str> = text.lines().collect();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(code.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&s| s <= offset) - 1;
    let finding = |rule: &str, line: usize| {
        Finding::new(
            rules::get(rule),
            Location::file(rel).line(line as u64 + 1),
            original.get(line).map_or("", |l| l.trim()),
        )
    };
    let reads_sde = code.contains("SOURCE_DATE_EPOCH");

    for (i, line) in code.lines().enumerate() {
        if CLOCK.is_match(line) {
            out.push(if reads_sde {
                finding("cargo-build-script-clock-sde", i).with_fix(
                    "check that SOURCE_DATE_EPOCH, when set, replaces every clock read (and emit cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH)",
                )
            } else {
                finding("cargo-build-script-clock", i)
            });
        }
        if HOST.is_match(line) {
            out.push(finding("cargo-build-script-host", i));
        }
    }

    // Absolute paths into generated text: names bound from a path read (and names derived
    // from them), then any code-like formatting of one of them.
    let mut tainted: BTreeSet<String> = BTreeSet::new();
    for line in code.lines() {
        if PATH_READ.is_match(line)
            && let Some(c) = LET_BINDING.captures(line)
        {
            tainted.insert(c[1].to_owned());
        }
    }
    for _ in 0..3 {
        let before = tainted.len();
        for line in code.lines() {
            if let Some(c) = LET_BINDING.captures(line)
                && tainted.iter().any(|t| contains_word(line, t))
            {
                tainted.insert(c[1].to_owned());
            }
        }
        if tainted.len() == before {
            break;
        }
    }
    let mut path_lines = BTreeSet::new();
    for m in EMITTER.captures_iter(&code) {
        let name = m.get(1).unwrap().as_str();
        let open = m.get(0).unwrap().end();
        let args = balanced_args(&code[open..]);
        // write!(w, ...): the writer is where the text goes, not what it says.
        let args = if matches!(name, "write" | "writeln") {
            top_level_split_first(args)
        } else {
            args
        };
        let code_like = match name {
            "quote" => true,
            "println" | "print" => {
                args.contains("cargo:rustc-env=") || args.contains("cargo::rustc-env=")
            }
            _ => CODE_HINTS.iter().any(|h| args.contains(h)),
        };
        if !code_like {
            continue;
        }
        let leaks = PATH_READ.is_match(args)
            || tainted.iter().any(|t| {
                if name == "quote" {
                    args.contains(&format!("#{t}"))
                } else {
                    contains_word(args, t)
                }
            });
        if leaks {
            path_lines.insert(line_of(m.get(0).unwrap().start()));
        }
    }
    for line in path_lines {
        out.push(finding("cargo-build-script-path", line));
    }

    // HashMap/HashSet iteration.
    let mut maps: BTreeSet<String> = BTreeSet::new();
    for re in [&*HASH_TYPED, &*HASH_NEW, &*HASH_COLLECT] {
        for c in re.captures_iter(&code) {
            maps.insert(c[1].to_owned());
        }
    }
    let lines: Vec<&str> = code.lines().collect();
    for name in &maps {
        let n = regex::escape(name);
        let iterated = Regex::new(&format!(
            r"\bfor\b[^;{{]*\bin\s+&?(?:mut\s+)?(?:self\.)?{n}\s*(?:\{{|\.\s*(?:{ITER_METHODS})\s*\()|(?:^|[^\w.])(?:self\.)?{n}\s*\.\s*(?:{ITER_METHODS})\s*\(\s*\)"
        ))
        .expect("escaped identifier makes a valid pattern");
        for (i, line) in lines.iter().enumerate() {
            if !iterated.is_match(line) || ORDER_FREE.is_match(line) {
                continue;
            }
            // `let v: Vec<_> = map.iter().collect(); v.sort();` fixes the order.
            if let Some(c) = LET_BINDING.captures(line) {
                let v = &c[1];
                let sorted_later = lines[i + 1..lines.len().min(i + 6)]
                    .iter()
                    .any(|l| l.contains(&format!("{v}.sort")));
                if sorted_later {
                    continue;
                }
            }
            out.push(finding("cargo-hashmap-codegen", i));
        }
    }
}

fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !is_ident(before) && !is_ident(after)
    })
}

/// The text up to the bracket that closes the one just opened (bounded, so a broken file
/// costs little).
fn balanced_args(s: &str) -> &str {
    let mut depth = 1usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices().take(4096) {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    &s[..s.char_indices().nth(4096).map_or(s.len(), |(i, _)| i)]
}

/// Everything after the first top-level comma.
fn top_level_split_first(args: &str) -> &str {
    let mut depth = 0i32;
    let mut in_str = false;
    for (i, c) in args.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' | '[' | '{' if !in_str => depth += 1,
            ')' | ']' | '}' if !in_str => depth -= 1,
            ',' if !in_str && depth == 0 => return &args[i + 1..],
            _ => {}
        }
    }
    ""
}

/// The source with `//` and `/* */` comments blanked out (newlines kept, so line numbers
/// stay), string and char literals left intact.
fn strip_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i)
        {
            // Raw string r"..." / r#"..."#: copy through to the matching close.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(&chars[i..j.min(chars.len())]);
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '\'' {
            // A char literal ('"', '\'', 'x') is copied whole; a lifetime is just a quote.
            let len = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| p + 3)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(3)
            } else {
                None
            };
            let len = len.unwrap_or(1).min(chars.len() - i);
            out.extend(&chars[i..i + len]);
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(src: &str) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        scan_text("build.rs", src, &mut out);
        out.sort();
        out.into_iter()
            .map(|f| (f.rule.id, f.location.label().unwrap()))
            .collect()
    }

    #[test]
    fn clock_host_and_comments() {
        assert_eq!(
            scan(
                "// SystemTime::now() in a comment\nfn main() {\n    let t = chrono::Utc::now();\n    let h = hostname::get();\n    let u = std::env::var(\"USER\");\n    let target = std::env::var(\"HOST\");\n    let s = \"/* not a comment */ Instant::now()\";\n}\n"
            ),
            vec![
                ("cargo-build-script-clock", "line 3".to_owned()),
                ("cargo-build-script-host", "line 4".to_owned()),
                ("cargo-build-script-host", "line 5".to_owned()),
            ]
        );
        assert_eq!(
            scan(
                "fn main() {\n    let t = std::env::var(\"SOURCE_DATE_EPOCH\").ok().unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs().to_string());\n}\n"
            ),
            vec![("cargo-build-script-clock-sde", "line 2".to_owned())]
        );
    }

    #[test]
    fn paths_only_when_written_as_content() {
        // Reading OUT_DIR to know where to write is what build scripts do.
        let clean = "fn main() {\n    let out_dir = env::var(\"OUT_DIR\").unwrap();\n    let dest = Path::new(&out_dir).join(\"gen.rs\");\n    let mut f = File::create(&dest).unwrap();\n    writeln!(f, \"pub const N: u32 = {};\", 4).unwrap();\n    fs::write(&dest, format!(\"pub const M: u32 = {};\", 5)).unwrap();\n    println!(\"cargo:rustc-link-search=native={}\", out_dir);\n}\n";
        assert_eq!(scan(clean), vec![]);
        let leaky = "fn main() {\n    let dir = env::var(\"CARGO_MANIFEST_DIR\").unwrap();\n    let data = PathBuf::from(&dir).join(\"data\");\n    println!(\"cargo:rustc-env=DATA={}\", data.display());\n    let s = format!(\"pub static ROOT: &str = {dir:?};\");\n}\n";
        assert_eq!(
            scan(leaky),
            vec![
                ("cargo-build-script-path", "line 4".to_owned()),
                ("cargo-build-script-path", "line 5".to_owned()),
            ]
        );
        assert_eq!(
            scan(
                "fn m() -> TokenStream {\n    let root = std::env::var(\"CARGO_MANIFEST_DIR\").unwrap();\n    quote! { const ROOT: &str = #root; }\n}\n"
            ),
            vec![("cargo-build-script-path", "line 3".to_owned())]
        );
    }

    #[test]
    fn hashmap_iteration_unless_sorted() {
        let leaky = "fn gen() {\n    let mut m = HashMap::new();\n    m.insert(1, 2);\n    for (k, v) in &m {\n        out.push_str(&format!(\"{k}{v}\"));\n    }\n    let names: Vec<_> = m.keys().collect();\n}\n";
        assert_eq!(
            scan(leaky),
            vec![
                ("cargo-hashmap-codegen", "line 4".to_owned()),
                ("cargo-hashmap-codegen", "line 7".to_owned()),
            ]
        );
        let clean = "fn gen(set: &HashSet<String>, arms_by_kind: &mut HashMap<u8, Vec<u8>>) {\n    let mut v: Vec<_> = set.iter().collect();\n    v.sort();\n    let n = set.iter().count();\n    for (_, arms) in arms_by_kind.iter_mut() { arms.push(1); }\n    let b: BTreeSet<_> = set.iter().collect();\n    let other = vec![1];\n    for x in other.iter() {}\n}\n";
        assert_eq!(scan(clean), vec![]);
    }

    #[test]
    fn comment_stripping_keeps_strings_and_lines() {
        let s = strip_comments("a // x\nb /* y\n z */ c \"// s\" '\"' r#\"/*\"# d\n");
        assert_eq!(s, "a \nb \n c \"// s\" '\"' r#\"/*\"# d\n");
    }
}

#[cfg(test)]
mod random_inputs {
    /// Random source text from a token soup: the heuristics never panic.
    #[test]
    fn never_panic() {
        const TOKENS: &[&str] = &[
            "let ",
            "mut ",
            "x",
            " = ",
            "HashMap::new()",
            "for ",
            "in ",
            "&x",
            ".iter()",
            "{",
            "}",
            "(",
            ")",
            "\"",
            "'",
            "\\",
            "//",
            "/*",
            "*/",
            "r#\"",
            "\"#",
            "\n",
            "format!(",
            "write!(",
            "quote! {",
            "#x",
            "env::var(\"CARGO_MANIFEST_DIR\")",
            "SystemTime::now()",
            ";",
            ",",
            "const ",
            "é",
            "'a",
            "'\\''",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| TOKENS[(next() % TOKENS.len() as u64) as usize])
                .collect();
            let mut out = Vec::new();
            super::scan_text("f.rs", &text, &mut out);
        }
    }
}
