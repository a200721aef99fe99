//! Finding compiler commands in build records: `compile_commands.json` (clang's JSON
//! compilation database) and build logs (`cargo build -v`, `make V=1`, `ninja -v`, cmake's
//! `cd dir && cc ...`, libtool's `libtool: compile:` lines, `sh -x` traces).

use super::shell::{shell_split, split_command_list};
use super::{StaticCache, analyze_list, analyze_with_env, classify, env_assignment, tool_name};
use crate::error::{Error, Result};
use crate::finding::{Finding, Location};
use crate::rules;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// A compilation database larger than this is refused rather than loaded into memory.
const MAX_COMPILE_COMMANDS_BYTES: u64 = 512 * 1024 * 1024;
/// Build log lines longer than this are skipped (reported as a parse error), so one
/// pathological line cannot take unbounded memory.
const MAX_LOG_LINE_BYTES: u64 = 4 * 1024 * 1024;
/// A build log larger than this is refused (a FIFO fed without end must not run forever).
const MAX_LOG_BYTES: u64 = 4 << 30;
/// How much of an unparsable line is quoted as evidence.
const EVIDENCE_CHARS: usize = 160;

#[derive(Deserialize)]
struct CompileCommand {
    directory: String,
    #[serde(default)]
    arguments: Option<Vec<String>>,
    #[serde(default)]
    command: Option<String>,
}

/// Check every entry of a `compile_commands.json`. Each entry's `directory` is its working
/// directory; `arguments` is used as is, `command` is split like `sh` would. Findings are at
/// `section = "entry N"` (N counts from 0, as the JSON array does).
pub fn analyze_compile_commands(path: &Path) -> Result<Vec<Finding>> {
    let text = crate::input::read(path, MAX_COMPILE_COMMANDS_BYTES, "a compilation database")?;
    let text = String::from_utf8(text)
        .map_err(|e| Error::invalid(path, format!("not UTF-8 text: {e}")))?;
    analyze_compile_commands_text(&text, &path.to_string_lossy())
        .map_err(|message| Error::invalid(path, message))
}

/// [`analyze_compile_commands`] on text already read; `file` names it in the findings. The
/// error is a message about the JSON.
pub fn analyze_compile_commands_text(
    text: &str,
    file: &str,
) -> std::result::Result<Vec<Finding>, String> {
    let entries: Vec<CompileCommand> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON compilation database: {e}"))?;
    let mut out = Vec::new();
    let mut statics = StaticCache::default();
    for (i, entry) in entries.iter().enumerate() {
        let loc = Location::file(file).at(format!("entry {i}"), None);
        let argv = match (&entry.arguments, &entry.command) {
            (Some(args), _) => args.clone(),
            (None, Some(cmd)) => match shell_split(cmd) {
                Ok(argv) => argv,
                Err(e) => {
                    out.push(parse_error(&loc, cmd, &e.to_string()));
                    continue;
                }
            },
            (None, None) => {
                out.push(parse_error(
                    &loc,
                    "",
                    "entry has neither `arguments` nor `command`",
                ));
                continue;
            }
        };
        let cwd = PathBuf::from(&entry.directory);
        analyze_with_env(
            &argv,
            Some(&cwd),
            BTreeMap::new(),
            &loc,
            &mut statics,
            &mut out,
        );
    }
    Ok(out)
}

/// Check every compiler, linker, ar, rustc and go command in a build log. Findings are at
/// `line` N (counting from 1).
pub fn analyze_build_log(path: &Path) -> Result<Vec<Finding>> {
    analyze_build_log_counted(path).map(|(f, _)| f)
}

/// Like [`analyze_build_log`], also saying how many commands the log held.
pub fn analyze_build_log_counted(path: &Path) -> Result<(Vec<Finding>, u64)> {
    let file = crate::input::open(path)?;
    let mut reader = BufReader::new(crate::input::Limited::new(
        file,
        MAX_LOG_BYTES,
        "a build log",
    ));
    let mut scanner = LogScanner::new(&path.to_string_lossy());
    let mut line = Vec::new();
    let mut lineno = 0u64;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LOG_LINE_BYTES)
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        if line.last() != Some(&b'\n') && n as u64 == MAX_LOG_LINE_BYTES {
            // Skip the rest of the overlong line without holding it.
            let mut skip = Vec::new();
            loop {
                skip.clear();
                let m = (&mut reader)
                    .take(MAX_LOG_LINE_BYTES)
                    .read_until(b'\n', &mut skip)
                    .map_err(|e| Error::io(path, e))?;
                if m == 0 || skip.last() == Some(&b'\n') {
                    break;
                }
            }
            let loc = Location::file(scanner.file.clone()).line(lineno);
            scanner.out.push(parse_error(
                &loc,
                &String::from_utf8_lossy(&line[..EVIDENCE_CHARS]),
                &format!("line longer than {MAX_LOG_LINE_BYTES} bytes, skipped"),
            ));
            continue;
        }
        scanner.line(lineno, &String::from_utf8_lossy(&line));
    }
    Ok((scanner.out, scanner.invocations))
}

/// [`analyze_build_log`] on text already read; `file` names it in the findings.
pub fn analyze_build_log_text(text: &str, file: &str) -> Vec<Finding> {
    let mut scanner = LogScanner::new(file);
    for (i, line) in text.lines().enumerate() {
        scanner.line(i as u64 + 1, line);
    }
    scanner.out
}

static ANSI: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").unwrap());
static MAKE_DIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\S*make(?:\[\d+\])?: (Entering|Leaving) directory ['`"](.*)['"]\s*$"#).unwrap()
});
static CARGO_RUNNING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Running `(.*)`\s*$").unwrap());
static LIBTOOL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^libtool: [a-z]+: +(.*)$").unwrap());
/// cargo's `Compiling name vX.Y.Z (/path)`: where a path package lives (`-v` does not print
/// the CARGO_MANIFEST_DIR of each rustc, `-vv` does).
static CARGO_COMPILING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Compiling|Checking|Documenting|Fresh) (\S+) v\S+ \((/[^)]*)\)\s*$").unwrap()
});
/// cc-rs's `running: "cc" "-c" ...` as `cargo build -vv` shows build-script output (cc-rs
/// prints it when CC_ENABLE_DEBUG_OUTPUT=1, older releases always).
static CC_RS_RUNNING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(\S+) [^\]]*\] running: (.*)$").unwrap());
static NINJA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[\d+/\d+\] (.*)$").unwrap());

struct LogScanner {
    file: String,
    /// make's `Entering directory` stack: the working directory of the commands that follow.
    dirs: Vec<PathBuf>,
    /// Path packages cargo announced, in order: (package name, directory).
    cargo_packages: Vec<(String, String)>,
    statics: StaticCache,
    out: Vec<Finding>,
    /// Commands checked (a `cd x && gcc ...` line counts each command).
    invocations: u64,
}

impl LogScanner {
    fn new(file: &str) -> Self {
        LogScanner {
            file: file.to_owned(),
            dirs: Vec::new(),
            cargo_packages: Vec::new(),
            statics: StaticCache::default(),
            out: Vec::new(),
            invocations: 0,
        }
    }

    fn line(&mut self, lineno: u64, raw: &str) {
        let clean = ANSI.replace_all(raw, "");
        let text = clean.trim();
        if let Some(c) = MAKE_DIR.captures(text) {
            if &c[1] == "Entering" {
                self.dirs.push(PathBuf::from(&c[2]));
            } else {
                self.dirs.pop();
            }
            return;
        }
        if let Some(c) = CARGO_COMPILING.captures(text) {
            self.cargo_packages.push((c[1].to_owned(), c[2].to_owned()));
            return;
        }
        let mut from_cargo = false;
        let mut cwd = self.dirs.last().cloned();
        // Prefixes that announce a command for sure; a plain line must start with a tool.
        let (command, announced) = if let Some(c) = CARGO_RUNNING.captures(text) {
            from_cargo = true;
            (c.get(1).unwrap().as_str(), true)
        } else if let Some(c) = CC_RS_RUNNING.captures(text) {
            // A build script's compiler run: cc-rs runs it in the package directory.
            let package = &c[1];
            if let Some((_, dir)) = self.cargo_packages.iter().rev().find(|(n, _)| n == package) {
                cwd = Some(PathBuf::from(dir));
            }
            (c.get(2).unwrap().as_str(), true)
        } else if let Some(c) = LIBTOOL.captures(text) {
            (c.get(1).unwrap().as_str(), true)
        } else if let Some(c) = NINJA.captures(text) {
            (c.get(1).unwrap().as_str(), false)
        } else {
            // `sh -x` traces: `+ gcc ...`, `++ ...` for nested shells.
            (text.trim_start_matches('+').trim_start(), false)
        };
        if !announced && !starts_with_command(command) {
            return;
        }
        let loc = Location::file(self.file.clone()).line(lineno);
        let commands = match split_command_list(command) {
            Ok(c) => c,
            Err(e) => {
                self.out.push(parse_error(&loc, command, &e.to_string()));
                return;
            }
        };
        self.invocations += commands.len() as u64;
        let mut env = BTreeMap::new();
        if from_cargo && let Some(dir) = commands.first().and_then(|a| self.cargo_package_dir(a)) {
            env.insert("CARGO_MANIFEST_DIR".to_owned(), dir);
        }
        analyze_list(
            &commands,
            cwd.as_deref(),
            &env,
            &loc,
            &mut self.statics,
            &mut self.out,
            0,
        );
    }
}

impl LogScanner {
    /// The directory of the path package a `cargo -v` rustc line compiles: the package whose
    /// name is the crate name (`-` as `_`) or names the build-script `--out-dir`, else the
    /// package cargo announced last. Registry crates need none: their source path is absolute.
    fn cargo_package_dir(&self, argv: &[String]) -> Option<String> {
        let value = |flag: &str| {
            argv.iter()
                .position(|a| a == flag)
                .and_then(|i| argv.get(i + 1))
                .map(String::as_str)
        };
        let crate_name = value("--crate-name").unwrap_or_default();
        let out_dir = value("--out-dir").unwrap_or_default();
        let build_dir = out_dir.rsplit('/').next().unwrap_or_default();
        self.cargo_packages
            .iter()
            .rev()
            .find(|(name, _)| {
                name.replace('-', "_") == crate_name
                    || build_dir
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with('-'))
            })
            // Guessing is only safe for workspace members (relative source paths).
            .or_else(|| {
                let absolute_source = argv
                    .iter()
                    .any(|a| a.starts_with('/') && a.ends_with(".rs"));
                (!absolute_source)
                    .then(|| self.cargo_packages.last())
                    .flatten()
            })
            .map(|(_, dir)| dir.clone())
    }
}

/// Whether a log line looks like a command det knows: its first word (after environment
/// assignments) is `cd`, `env`, a wrapper or a tool of a known family. Cheap, so prose lines
/// with unbalanced quotes are never parsed.
fn starts_with_command(line: &str) -> bool {
    for word in line.split_whitespace() {
        if env_assignment(word).is_some() {
            continue;
        }
        let name = tool_name(word);
        return name == "cd"
            || name == "env"
            || super::SHELLS.contains(&name.as_str())
            || super::WRAPPERS.contains(&name.as_str())
            || classify(&[word.to_owned(), "cc".to_owned()]).is_some();
    }
    false
}

fn parse_error(loc: &Location, text: &str, why: &str) -> Finding {
    let shown: String = text.chars().take(EVIDENCE_CHARS).collect();
    Finding::new(rules::get("parse-error"), loc.clone(), shown)
        .with_fix(format!("{why}; det could not read this command"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_at(findings: &[Finding]) -> Vec<(String, &'static str)> {
        findings
            .iter()
            .map(|f| (f.location.label().unwrap_or_default(), f.rule.id))
            .collect()
    }

    #[test]
    fn log_prefixes_and_directories() {
        let log = "\
make[1]: Entering directory '/src/proj'
gcc -g -c a.c -o a.o
  Compiling foo v0.1.0
make[1]: Leaving directory '/src/proj'
[2/3] cd /src/other && /usr/bin/cc -O2 -flto -c b.c -o b.o
libtool: compile:  gcc -march=native -c c.c -fPIC -DPIC -o .libs/c.o
+ ar rcsU libx.a a.o
Don't worry, 'this line is prose
     Running `CARGO_MANIFEST_DIR=/ws CARGO_PKG_NAME=x rustc --crate-name x --edition=2021 src/main.rs -C incremental=/ws/target/debug/incremental`
";
        let f = analyze_build_log_text(log, "build.log");
        assert_eq!(
            rules_at(&f),
            vec![
                ("line 2".into(), "cmd-missing-prefix-map"),
                ("line 5".into(), "cmd-lto-no-random-seed"),
                ("line 6".into(), "cmd-native-cpu"),
                ("line 7".into(), "cmd-ar-nondeterministic"),
                ("line 9".into(), "cmd-rustc-incremental"),
                ("line 9".into(), "cmd-rustc-no-remap"),
            ]
        );
        assert_eq!(f[0].fix.as_deref(), Some("-ffile-prefix-map=/src/proj=."));
        assert_eq!(f[1].fix.as_deref(), Some("-frandom-seed=b.o"));
        assert_eq!(f[3].fix.as_deref(), Some("ar rcsD"));
        assert_eq!(f[5].fix.as_deref(), Some("--remap-path-prefix=/ws=."));
        assert_eq!(f[5].evidence, "rustc --crate-name x src/main.rs (cwd /ws)");
    }

    #[test]
    fn unparsable_announced_command_is_a_parse_error() {
        let f = analyze_build_log_text("     Running `rustc 'src/main.rs`\n", "b.log");
        assert_eq!(rules_at(&f), vec![("line 1".into(), "parse-error")]);
    }

    #[test]
    fn compile_commands_errors_and_forms() {
        let db = r#"[
 {"directory": "/src/p/build", "file": "/src/p/src/a.c", "command": "cc -c -g \"/src/p/src/a.c\" -o a.o"},
 {"directory": "/src/p/build", "file": "b.c", "arguments": ["cc", "-c", "b.c", "-ffile-prefix-map=/src/p=."]},
 {"directory": "/p", "command": "cc 'x.c"},
 {"directory": "/p"}
]"#;
        let f = analyze_compile_commands_text(db, "compile_commands.json").unwrap();
        assert_eq!(
            rules_at(&f),
            vec![
                ("entry 0".into(), "cmd-missing-prefix-map"),
                ("entry 2".into(), "parse-error"),
                ("entry 3".into(), "parse-error"),
            ]
        );
        assert_eq!(f[0].fix.as_deref(), Some("-ffile-prefix-map=/src/p=."));
        let err = analyze_compile_commands_text("{", "cc.json").unwrap_err();
        assert!(err.starts_with("not a JSON compilation database"), "{err}");
    }

    #[test]
    fn missing_files_name_the_path() {
        let err = analyze_build_log(Path::new("/nonexistent/build.log")).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/build.log: "),
            "{err}"
        );
        let err = analyze_compile_commands(Path::new("/nonexistent/cc.json")).unwrap_err();
        assert!(
            err.to_string().starts_with("/nonexistent/cc.json: "),
            "{err}"
        );
    }
}
