//! What cargo would pass to rustc as its flags, computed the way cargo does, so that det
//! can add its own through `CARGO_ENCODED_RUSTFLAGS` (which overrides every other source in
//! cargo) without dropping the user's.
//!
//! Sources, first match wins: `CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`, then every matching
//! `target.<triple>.rustflags` and `target.'cfg(..)'.rustflags` joined, then
//! `build.rustflags`. Config values come from `--config` on the command line (highest),
//! `CARGO_BUILD_RUSTFLAGS` / `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`, the `.cargo/config.toml`
//! files from the working directory up to `/` (deeper wins), and `$CARGO_HOME/config.toml`
//! (lowest). Lists from several files are joined (lower precedence first), a string
//! replaces what lower levels said — cargo's merge rules.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// One config source, in increasing precedence once loaded.
#[derive(Debug, Clone)]
struct Source {
    /// The file, or `--config` for a command-line value.
    origin: PathBuf,
    table: toml::Table,
}

/// The merged view of every cargo config level that decides rustc flags.
#[derive(Debug, Clone, Default)]
pub struct CargoConfig {
    /// Lowest precedence first.
    sources: Vec<Source>,
}

/// The config files cargo reads for a build started in `cwd`, lowest precedence first:
/// `$CARGO_HOME/config.toml`, then `<dir>/.cargo/config.toml` from `/` down to `cwd`
/// (`config` without extension where `config.toml` is missing).
pub fn config_files(cwd: &Path, cargo_home: &Path) -> Vec<PathBuf> {
    let find = |dir: &Path| -> Option<PathBuf> {
        ["config.toml", "config"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    };
    let mut files = Vec::new();
    let home_file = find(cargo_home);
    if let Some(f) = &home_file {
        files.push(f.clone());
    }
    let mut dirs: Vec<&Path> = cwd.ancestors().collect();
    dirs.reverse();
    for d in dirs {
        if let Some(f) = find(&d.join(".cargo")) {
            let same = home_file
                .as_ref()
                .is_some_and(|h| std::fs::canonicalize(h).ok() == std::fs::canonicalize(&f).ok());
            if !same {
                files.push(f);
            }
        }
    }
    files
}

impl CargoConfig {
    /// Load the config files (lowest precedence first) and then the `--config` values of
    /// the command line (each `KEY=VALUE` in TOML, or a path to a TOML file).
    pub fn load(files: &[PathBuf], cli: &[String]) -> Result<CargoConfig> {
        let mut sources = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| Error::invalid(f, one_line(&e.to_string())))?;
            sources.push(Source {
                origin: f.clone(),
                table,
            });
        }
        for c in cli {
            let p = Path::new(c);
            let table: toml::Table = if !c.contains('=') || (p.is_file() && c.ends_with(".toml")) {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                text.parse()
                    .map_err(|e: toml::de::Error| Error::invalid(p, one_line(&e.to_string())))?
            } else {
                c.parse().map_err(|e: toml::de::Error| {
                    Error::Other(format!(
                        "--config {c:?}: not a TOML KEY=VALUE: {}",
                        one_line(&e.to_string())
                    ))
                })?
            };
            sources.push(Source {
                origin: PathBuf::from("--config"),
                table,
            });
        }
        Ok(CargoConfig { sources })
    }

    /// The merged value of a dotted key (`build.rustflags`), with the environment
    /// variable cargo maps it to (`CARGO_BUILD_RUSTFLAGS`), as a list of flags.
    fn flags_at(&self, path: &[&str], env_value: Option<String>) -> Option<Vec<String>> {
        let mut merged: Option<Vec<String>> = None;
        let mut apply = |v: Vec<String>, is_list: bool| {
            merged = Some(match (merged.take(), is_list) {
                (Some(mut m), true) => {
                    m.extend(v);
                    m
                }
                _ => v,
            });
        };
        // Files and the environment; command-line values come last (highest).
        let (files, cli): (Vec<&Source>, Vec<&Source>) = self
            .sources
            .iter()
            .partition(|s| s.origin != Path::new("--config"));
        let get = |t: &toml::Table| -> Option<(Vec<String>, bool)> {
            let mut v = t.get(path[0])?;
            for k in &path[1..] {
                v = v.get(k)?;
            }
            match v {
                toml::Value::String(s) => Some((split(s), false)),
                toml::Value::Array(a) => Some((
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                    true,
                )),
                _ => None,
            }
        };
        for s in files {
            if let Some((v, l)) = get(&s.table) {
                apply(v, l);
            }
        }
        if let Some(e) = env_value {
            apply(split(&e), false);
        }
        for s in cli {
            if let Some((v, l)) = get(&s.table) {
                apply(v, l);
            }
        }
        merged
    }

    /// Whether any level has a `target.'cfg(..)'` table (then `rustc --print cfg` is
    /// needed to tell which apply).
    pub fn has_cfg_targets(&self) -> bool {
        self.target_keys().iter().any(|k| k.starts_with("cfg("))
    }

    /// The `target.*` keys of every level, merged (for `cfg(...)` matching).
    fn target_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .sources
            .iter()
            .filter_map(|s| s.table.get("target")?.as_table())
            .flat_map(|t| t.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The flags cargo would give rustc for `triple` (whose `rustc --print cfg` lines are
/// `cfgs`), before det adds anything. `env` is the user's environment.
pub fn user_rustflags(
    config: &CargoConfig,
    triple: &str,
    cfgs: &[String],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Vec<String> {
    let var = |k: &str| env(k).map(|v| v.to_string_lossy().into_owned());
    if let Some(v) = var("CARGO_ENCODED_RUSTFLAGS") {
        return if v.is_empty() {
            Vec::new()
        } else {
            v.split('\x1f').map(str::to_string).collect()
        };
    }
    if let Some(v) = var("RUSTFLAGS") {
        return split(&v);
    }
    let mut target_flags: Option<Vec<String>> = None;
    // cargo: target.<triple> first, then the matching cfg(..) tables in key order.
    let mut keys = config.target_keys();
    keys.sort_by_key(|k| k != triple);
    for key in keys {
        let matches = if key == triple {
            true
        } else if let Some(expr) = key.strip_prefix("cfg(").and_then(|k| k.strip_suffix(')')) {
            cfg_matches(expr, cfgs)
        } else {
            false
        };
        if !matches {
            continue;
        }
        let env_name = (key == triple).then(|| {
            format!(
                "CARGO_TARGET_{}_RUSTFLAGS",
                triple.to_uppercase().replace(['-', '.'], "_")
            )
        });
        if let Some(f) = config.flags_at(
            &["target", &key, "rustflags"],
            env_name.and_then(|n| var(&n)),
        ) {
            target_flags.get_or_insert_with(Vec::new).extend(f);
        }
    }
    if target_flags.is_none() {
        // The environment form of target.<triple>.rustflags with no file entry.
        let n = format!(
            "CARGO_TARGET_{}_RUSTFLAGS",
            triple.to_uppercase().replace(['-', '.'], "_")
        );
        if let Some(v) = var(&n) {
            target_flags = Some(split(&v));
        }
    }
    if let Some(f) = target_flags {
        return f;
    }
    config
        .flags_at(&["build", "rustflags"], var("CARGO_BUILD_RUSTFLAGS"))
        .unwrap_or_default()
}

/// The build's `build.target` from config (`--target` absent): cargo builds for it.
pub fn configured_target(
    config: &CargoConfig,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Option<String> {
    if let Some(t) = env("CARGO_BUILD_TARGET").filter(|t| !t.is_empty()) {
        return Some(t.to_string_lossy().into_owned());
    }
    config.sources.iter().rev().find_map(|s| {
        s.table
            .get("build")?
            .get("target")?
            .as_str()
            .map(str::to_string)
    })
}

fn split(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Evaluate a `cfg(...)` expression (without the outer `cfg(`…`)`) against the lines of
/// `rustc --print cfg` (`unix`, `target_os="linux"`).
pub fn cfg_matches(expr: &str, cfgs: &[String]) -> bool {
    let tokens = tokenize(expr);
    let mut pos = 0;
    let r = eval(&tokens, &mut pos, cfgs);
    r.unwrap_or(false) && pos == tokens.len()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Eq,
    Comma,
    Open,
    Close,
}

fn tokenize(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                out.push(Tok::Eq);
            }
            ',' => {
                chars.next();
                out.push(Tok::Comma);
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    v.push(c);
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut v = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' {
                        v.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if v.is_empty() {
                    chars.next();
                }
                out.push(Tok::Ident(v));
            }
        }
    }
    out
}

fn eval(t: &[Tok], pos: &mut usize, cfgs: &[String]) -> Option<bool> {
    let Tok::Ident(name) = t.get(*pos)?.clone() else {
        return None;
    };
    *pos += 1;
    match (name.as_str(), t.get(*pos)) {
        ("all" | "any", Some(Tok::Open)) => {
            *pos += 1;
            let mut vals = Vec::new();
            while t.get(*pos) != Some(&Tok::Close) {
                vals.push(eval(t, pos, cfgs)?);
                if t.get(*pos) == Some(&Tok::Comma) {
                    *pos += 1;
                }
            }
            *pos += 1;
            Some(if name == "all" {
                vals.iter().all(|v| *v)
            } else {
                vals.iter().any(|v| *v)
            })
        }
        ("not", Some(Tok::Open)) => {
            *pos += 1;
            let v = eval(t, pos, cfgs)?;
            if t.get(*pos) != Some(&Tok::Close) {
                return None;
            }
            *pos += 1;
            Some(!v)
        }
        (_, Some(Tok::Eq)) => {
            *pos += 1;
            let Some(Tok::Str(v)) = t.get(*pos).cloned() else {
                return None;
            };
            *pos += 1;
            Some(cfgs.iter().any(|c| *c == format!("{name}=\"{v}\"")))
        }
        _ => Some(cfgs.contains(&name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfgs() -> Vec<String> {
        ["unix", "target_os=\"linux\"", "target_arch=\"x86_64\""]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn cfg_expressions() {
        let c = cfgs();
        assert!(cfg_matches("unix", &c));
        assert!(!cfg_matches("windows", &c));
        assert!(cfg_matches("target_os = \"linux\"", &c));
        assert!(cfg_matches("all(unix, target_arch=\"x86_64\")", &c));
        assert!(!cfg_matches("all(unix, target_arch=\"aarch64\")", &c));
        assert!(cfg_matches("any(windows, not(target_os=\"macos\"))", &c));
        assert!(!cfg_matches("not(unix)", &c));
        assert!(!cfg_matches("unix)", &c));
    }

    #[test]
    fn precedence_and_merging() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let ws = dir.path().join("a/ws");
        std::fs::create_dir_all(home.clone()).unwrap();
        std::fs::create_dir_all(ws.join(".cargo")).unwrap();
        std::fs::create_dir_all(dir.path().join("a/.cargo")).unwrap();
        std::fs::write(home.join("config.toml"), "build.rustflags = [\"-Chome\"]\n").unwrap();
        std::fs::write(
            dir.path().join("a/.cargo/config.toml"),
            "build.rustflags = [\"-Cparent\"]\n",
        )
        .unwrap();
        std::fs::write(
            ws.join(".cargo/config"),
            "[build]\nrustflags = [\"-Cws\"]\n[target.'cfg(unix)']\nrustflags = \"-Cunix -Cx\"\n[target.x86_64-unknown-linux-gnu]\nrustflags = [\"-Ctriple\"]\n",
        )
        .unwrap();
        let files = config_files(&ws, &home);
        assert_eq!(files.len(), 3, "{files:?}");
        let none = |_: &str| None;
        let cfg = CargoConfig::load(&files, &[]).unwrap();
        // target.* entries are joined (the triple's first, then cfg(..) ones) and win
        // over build.rustflags.
        assert_eq!(
            user_rustflags(&cfg, "x86_64-unknown-linux-gnu", &cfgs(), &none),
            ["-Ctriple", "-Cunix", "-Cx"]
        );
        // Without a matching target entry: build.rustflags lists joined, lowest first.
        assert_eq!(
            user_rustflags(&cfg, "aarch64-apple-darwin", &[], &none),
            ["-Chome", "-Cparent", "-Cws"]
        );
        // --config wins last; a string replaces.
        let cfg2 = CargoConfig::load(&files, &["build.rustflags=\"-Ccli\"".to_string()]).unwrap();
        assert_eq!(user_rustflags(&cfg2, "riscv", &[], &none), ["-Ccli"]);
        // RUSTFLAGS beats config, CARGO_ENCODED_RUSTFLAGS beats RUSTFLAGS.
        let env = |k: &str| match k {
            "RUSTFLAGS" => Some(OsString::from("-Cenv  -Cy")),
            _ => None,
        };
        assert_eq!(user_rustflags(&cfg, "x", &[], &env), ["-Cenv", "-Cy"]);
        let env2 = |k: &str| match k {
            "RUSTFLAGS" => Some(OsString::from("-Cenv")),
            "CARGO_ENCODED_RUSTFLAGS" => Some(OsString::from("-Ca b\x1f-Cc")),
            _ => None,
        };
        assert_eq!(user_rustflags(&cfg, "x", &[], &env2), ["-Ca b", "-Cc"]);
    }
}
