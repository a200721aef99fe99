//! Cargo projects: what in a workspace will make its build differ from one run to the next,
//! found from `cargo metadata`'s resolved graph and the workspace's own build code.
//!
//! - dependencies known to embed the build time, host or paths, or compile-time randomness
//!   (the [`EMBEDDING_CRATES`] table), and whether the resolved version honours
//!   SOURCE_DATE_EPOCH;
//! - workspace build scripts and proc macros that read the clock or the host, write an
//!   absolute path into generated code, or iterate a HashMap while generating code
//!   (module `source`);
//! - `[profile.release] incremental = true` in the workspace manifest.
//!
//! `cargo metadata` resolves the full graph: it needs the registry index and the crates'
//! manifests, so a project whose dependencies were never fetched needs the network once (a
//! project that has been built has everything in `$CARGO_HOME`).

mod source;

use crate::error::{Error, Result};
use crate::finding::{Finding, Location};
use crate::rules;
use cargo_metadata::semver::Version;
use cargo_metadata::{Metadata, MetadataCommand, Package, PackageId, TargetKind};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate known to put something build-dependent into what it generates.
#[derive(Debug)]
pub struct EmbeddingCrate {
    pub name: &'static str,
    /// What it embeds.
    pub embeds: &'static str,
    /// The first version whose build-time values come from SOURCE_DATE_EPOCH when it is set;
    /// `None` when no released version does.
    pub honours_sde_since: Option<(u64, u64, u64)>,
    /// Random values at compile time rather than a timestamp.
    pub randomness: bool,
    /// Where the SOURCE_DATE_EPOCH behaviour is documented.
    pub evidence: &'static str,
}

/// Crates that embed build time, host, paths or randomness. Each version bound was checked in
/// the crate's own source, changelog or pull request (`evidence`), not guessed.
pub static EMBEDDING_CRATES: &[EmbeddingCrate] = &[
    EmbeddingCrate {
        name: "built",
        embeds: "BUILT_TIME_UTC, the rustc version, host and target triples, NUM_JOBS",
        // 0.7.4: "Honor SOURCE_DATE_EPOCH in BUILT_TIME_UTC"; 0.7.7: "Fix NUM_JOB to 1 if
        // SOURCE_DATE_EPOCH is set" (built's CHANGELOG.md). Before 0.7.7 `-j` still leaks.
        honours_sde_since: Some((0, 7, 7)),
        randomness: false,
        evidence: "built CHANGELOG 0.7.4 and 0.7.7",
    },
    EmbeddingCrate {
        name: "vergen",
        embeds: "VERGEN_BUILD_TIMESTAMP / VERGEN_BUILD_DATE and the build host's toolchain",
        // rustyhorde/vergen#134 (2022-08), released in 7.4.2 (rathole-org/rathole#204).
        honours_sde_since: Some((7, 4, 2)),
        randomness: false,
        evidence: "rustyhorde/vergen#134, vergen 7.4.2",
    },
    EmbeddingCrate {
        name: "vergen-gitcl",
        embeds: "VERGEN_BUILD_* timestamps (and git data)",
        // Split out of vergen 9, after SOURCE_DATE_EPOCH support: every release honours it.
        honours_sde_since: Some((0, 0, 0)),
        randomness: false,
        evidence: "built on vergen-lib (vergen >= 9)",
    },
    EmbeddingCrate {
        name: "vergen-git2",
        embeds: "VERGEN_BUILD_* timestamps (and git data)",
        honours_sde_since: Some((0, 0, 0)),
        randomness: false,
        evidence: "built on vergen-lib (vergen >= 9)",
    },
    EmbeddingCrate {
        name: "vergen-gix",
        embeds: "VERGEN_BUILD_* timestamps (and git data)",
        honours_sde_since: Some((0, 0, 0)),
        randomness: false,
        evidence: "built on vergen-lib (vergen >= 9)",
    },
    EmbeddingCrate {
        name: "shadow-rs",
        embeds: "BUILD_TIME, BUILD_OS, the rust toolchain and git data",
        // Asked for in baoyachi/shadow-rs#61 (2021-08); src/time.rs of 0.11.0 reads
        // SOURCE_DATE_EPOCH (documented in baoyachi/shadow-rs#118). Older releases are not
        // checked, so they count as not honouring it.
        honours_sde_since: Some((0, 11, 0)),
        randomness: false,
        evidence: "shadow-rs 0.11.0 src/time.rs; baoyachi/shadow-rs#61",
    },
    EmbeddingCrate {
        name: "build-info-build",
        embeds: "the build timestamp, compiler, target and git data",
        // src/build_script_options/timestamp.rs of 0.0.28 reads SOURCE_DATE_EPOCH.
        honours_sde_since: Some((0, 0, 28)),
        randomness: false,
        evidence: "build-info-build 0.0.28 src/build_script_options/timestamp.rs",
    },
    EmbeddingCrate {
        name: "build-time",
        embeds: "build_time_utc!() / build_time_local!() string literals",
        // 0.1.3 (latest, 2023-05) calls chrono's now(); its docs name no override.
        honours_sde_since: None,
        randomness: false,
        evidence: "build-time 0.1.3 docs",
    },
    EmbeddingCrate {
        name: "compile-time",
        embeds: "compile_time::datetime_str!() and friends",
        honours_sde_since: None,
        randomness: false,
        evidence: "compile-time README (no override)",
    },
    EmbeddingCrate {
        name: "build_timestamp",
        embeds: "build_time!() string literals",
        honours_sde_since: None,
        randomness: false,
        evidence: "the crate build-time is based on; no override",
    },
    EmbeddingCrate {
        name: "build_epoch",
        embeds: "build_epoch!() seconds since 1970",
        honours_sde_since: None,
        randomness: false,
        evidence: "build_epoch 0.1.0 README",
    },
    EmbeddingCrate {
        name: "const-random",
        embeds: "const_random!() values drawn at compile time (pulled in by e.g. ahash's compile-time-rng)",
        // const-random-macro >= 0.1.13 seeds from CONST_RANDOM_SEED when it is set
        // (src/span.rs); unset, every build draws new values.
        honours_sde_since: None,
        randomness: true,
        evidence: "const-random-macro 0.1.13 src/span.rs (CONST_RANDOM_SEED)",
    },
];

/// The table row for a crate name.
pub fn embedding_crate(name: &str) -> Option<&'static EmbeddingCrate> {
    EMBEDDING_CRATES.iter().find(|c| c.name == name)
}

/// Check the cargo project at `manifest_path` (default: `Cargo.toml` found from the current
/// directory, as cargo does). Findings are sorted; their files are relative to the workspace
/// root.
pub fn analyze_cargo_project(manifest_path: Option<&Path>) -> Result<Vec<Finding>> {
    analyze_cargo_project_checked(manifest_path, None).map(|(f, _)| f)
}

/// What [`analyze_cargo_project_checked`] looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CargoChecked {
    /// Packages in the resolved graph that ship (normal and build dependencies, reached from
    /// the workspace members), the members included.
    pub packages: usize,
    pub build_scripts: usize,
    pub proc_macros: usize,
}

impl std::fmt::Display for CargoChecked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        write!(
            f,
            "1 cargo project ({}, {} and {} of the workspace, the release profile)",
            n(self.packages, "package", "packages"),
            n(self.build_scripts, "build script", "build scripts"),
            n(self.proc_macros, "proc macro", "proc macros"),
        )
    }
}

/// [`analyze_cargo_project`], also saying what was checked. `cargo_home` (this machine's)
/// is named in the fix of a release profile that keeps debug info without remapping.
pub fn analyze_cargo_project_checked(
    manifest_path: Option<&Path>,
    cargo_home: Option<&str>,
) -> Result<(Vec<Finding>, CargoChecked)> {
    let shown: PathBuf = manifest_path
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("Cargo.toml"));
    let mut cmd = MetadataCommand::new();
    if let Some(p) = manifest_path {
        cmd.manifest_path(p);
    }
    let metadata = cmd.exec().map_err(|e| {
        Error::invalid(
            &shown,
            format!("cargo metadata failed: {}", one_line(&e.to_string())),
        )
    })?;
    let mut out = Vec::new();
    let mut checked = CargoChecked {
        packages: dependency_findings(&metadata, &mut out),
        ..CargoChecked::default()
    };
    let root = metadata.workspace_root.as_std_path();
    for pkg in metadata.workspace_packages() {
        for target in &pkg.targets {
            let is_build = target.kind.contains(&TargetKind::CustomBuild);
            let is_macro = target.kind.contains(&TargetKind::ProcMacro);
            checked.build_scripts += usize::from(is_build);
            checked.proc_macros += usize::from(is_macro);
            if is_build || is_macro {
                let files = source::code_files(target.src_path.as_std_path(), is_build);
                for file in files {
                    source::scan_file(root, &file, &mut out)?;
                }
            }
        }
    }
    profile_findings(root, cargo_home, &mut out)?;
    out.sort();
    out.dedup();
    Ok((out, checked))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Findings about the dependencies that ship; returns how many packages ship.
fn dependency_findings(metadata: &Metadata, out: &mut Vec<Finding>) -> usize {
    let Some(resolve) = &metadata.resolve else {
        return metadata.workspace_members.len();
    };
    let by_id: BTreeMap<&PackageId, &Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes: BTreeMap<&PackageId, &cargo_metadata::Node> =
        resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    // What ships: packages reached from the workspace members through normal and build
    // dependencies. Dev-dependencies only build tests and examples.
    let mut reached: BTreeSet<&PackageId> = BTreeSet::new();
    let mut todo: Vec<&PackageId> = metadata.workspace_members.iter().collect();
    // Who pulls each package in, for the evidence.
    let mut dependents: BTreeMap<&PackageId, BTreeSet<String>> = BTreeMap::new();
    while let Some(id) = todo.pop() {
        if !reached.insert(id) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let ships = dep.dep_kinds.is_empty()
                || dep
                    .dep_kinds
                    .iter()
                    .any(|k| k.kind != cargo_metadata::DependencyKind::Development);
            if !ships {
                continue;
            }
            if let Some(parent) = by_id.get(id) {
                dependents
                    .entry(&dep.pkg)
                    .or_default()
                    .insert(parent.name.to_string());
            }
            todo.push(&dep.pkg);
        }
    }
    let loc_file = "Cargo.lock";
    for id in &reached {
        let Some(pkg) = by_id.get(id) else {
            continue;
        };
        let Some(row) = embedding_crate(&pkg.name) else {
            continue;
        };
        let via = dependents
            .get(id)
            .map(|d| d.iter().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|| "the workspace".to_owned());
        let evidence = format!("{} {} (required by {via})", pkg.name, pkg.version);
        let loc =
            Location::file(loc_file).at(format!("package {} {}", pkg.name, pkg.version), None);
        let finding = if row.randomness {
            Finding::new(rules::get("cargo-dep-randomness"), loc, evidence).with_fix(format!(
                "{} embeds {}; build with CONST_RANDOM_SEED=<a fixed string> (const-random-macro >= 0.1.13), or drop the feature that pulls it in",
                row.name, row.embeds
            ))
        } else if honours_sde(row, &pkg.version) {
            Finding::new(
                rules::get("cargo-dep-build-time-honours-sde"),
                loc,
                evidence,
            )
            .with_fix(format!(
                "{} embeds {}; build with SOURCE_DATE_EPOCH set (cargo det-build does)",
                row.name, row.embeds
            ))
        } else {
            let fix = match row.honours_sde_since {
                Some((a, b, c)) => format!(
                    "{} embeds {}; update to {} >= {a}.{b}.{c} ({}) and build with SOURCE_DATE_EPOCH set",
                    row.name, row.embeds, row.name, row.evidence
                ),
                None => format!(
                    "{} embeds {} and no release honours SOURCE_DATE_EPOCH; replace it, or read SOURCE_DATE_EPOCH in your own build.rs",
                    row.name, row.embeds
                ),
            };
            Finding::new(rules::get("cargo-dep-build-time"), loc, evidence).with_fix(fix)
        };
        out.push(finding);
    }
    reached.len()
}

fn honours_sde(row: &EmbeddingCrate, version: &Version) -> bool {
    row.honours_sde_since
        .is_some_and(|(a, b, c)| (version.major, version.minor, version.patch) >= (a, b, c))
}

/// `[profile.release] incremental = true` in the workspace manifest, and a release profile
/// that keeps debug info while nothing remaps paths.
fn profile_findings(root: &Path, cargo_home: Option<&str>, out: &mut Vec<Finding>) -> Result<()> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| Error::io(&manifest, e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Error::invalid(&manifest, one_line(&e.to_string())))?;
    let incremental = table
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.get("incremental"))
        .and_then(toml::Value::as_bool);
    if incremental == Some(true) {
        // The line that sets it: `incremental` under [profile.release], or a dotted key.
        let mut section = String::new();
        let mut line_no = None;
        for (n, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.starts_with('[') {
                section = l.replace(' ', "");
            } else if (section == "[profile.release]" && l.starts_with("incremental"))
                || l.replace(' ', "").contains("release.incremental=")
            {
                line_no = Some(n + 1);
                break;
            }
        }
        let cargo_toml = Location::file("Cargo.toml");
        let loc = match line_no {
            Some(n) => cargo_toml.line(n as u64),
            None => cargo_toml.at("[profile.release]", None),
        };
        out.push(
            Finding::new(
                rules::get("cargo-release-incremental"),
                loc,
                "[profile.release] incremental = true",
            )
            .with_fix("incremental = false in [profile.release] (or remove the line: false is the default)"),
        );
    }
    let release = table.get("profile").and_then(|p| p.get("release"));
    let debug = release.and_then(|r| r.get("debug"));
    let keeps_debug = match debug {
        Some(toml::Value::Boolean(b)) => *b,
        Some(toml::Value::Integer(i)) => *i > 0,
        Some(toml::Value::String(s)) => !matches!(s.as_str(), "none" | "0"),
        _ => false,
    };
    let trims = release
        .and_then(|r| r.get("trim-paths"))
        .is_some_and(|t| !matches!(t, toml::Value::Boolean(false)) && t.as_str() != Some("none"));
    if keeps_debug && !trims && !remaps_paths(root) {
        let line = text
            .lines()
            .enumerate()
            .scan(String::new(), |section, (n, l)| {
                let l = l.trim();
                if l.starts_with('[') {
                    *section = l.replace(' ', "");
                }
                Some((n, section.clone(), l.to_owned()))
            });
        let line_no = line
            .filter(|(_, sec, l)| {
                (sec == "[profile.release]" && l.starts_with("debug"))
                    || l.replace(' ', "").contains("release.debug=")
            })
            .map(|(n, _, _)| n + 1)
            .next();
        let cargo_toml = Location::file("Cargo.toml");
        let loc = match line_no {
            Some(n) => cargo_toml.line(n as u64),
            None => cargo_toml.at("[profile.release]", None),
        };
        let home = cargo_home.unwrap_or("$HOME/.cargo");
        out.push(
            Finding::new(
                rules::get("cargo-release-debug-no-remap"),
                loc,
                format!("[profile.release] debug = {}", debug.map(|d| d.to_string()).unwrap_or_default()),
            )
            .with_fix(format!(
                "remap the paths debug info records: in .cargo/config.toml [build] rustflags = [\"--remap-path-prefix={root}=.\", \"--remap-path-prefix={home}=/cargo\"] (or RUSTFLAGS); or build with `cargo det-build`, which builds in a canonical root where these paths are the same on every machine; or set debug = false",
                root = root.display()
            )),
        );
    }
    Ok(())
}

/// Whether the project's cargo configuration or the environment passes
/// `--remap-path-prefix` to rustc.
fn remaps_paths(root: &Path) -> bool {
    let in_env = [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|f| f.contains("remap-path-prefix")));
    in_env
        || root.ancestors().any(|dir| {
            ["config.toml", "config"].iter().any(|name| {
                std::fs::read_to_string(dir.join(".cargo").join(name))
                    .is_ok_and(|t| t.contains("remap-path-prefix"))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_unique_and_versions_compare() {
        let mut seen = BTreeSet::new();
        for row in EMBEDDING_CRATES {
            assert!(seen.insert(row.name), "{} twice", row.name);
        }
        let built = embedding_crate("built").unwrap();
        assert!(!honours_sde(built, &Version::parse("0.7.6").unwrap()));
        assert!(honours_sde(built, &Version::parse("0.7.7").unwrap()));
        assert!(honours_sde(built, &Version::parse("0.8.0").unwrap()));
        let vergen = embedding_crate("vergen").unwrap();
        assert!(!honours_sde(vergen, &Version::parse("7.4.1").unwrap()));
        assert!(honours_sde(vergen, &Version::parse("8.3.2").unwrap()));
        assert!(!honours_sde(
            embedding_crate("build-time").unwrap(),
            &Version::parse("0.1.3").unwrap()
        ));
        assert!(embedding_crate("chrono").is_none());
    }
}
