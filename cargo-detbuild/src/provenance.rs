//! `--provenance FILE`: an in-toto Statement v1 whose predicate is SLSA Provenance v1, so
//! that cosign, slsa-verifier and GitHub's attestations take det's result as it is.
//! Subjects: the outputs with their SHA-256. The build definition: cargo's parameters
//! (external), det's environment, flags and canonical root (internal), and the resolved
//! dependencies (the toolchain, Cargo.lock and every locked package with its checksum).
//! Deterministic: no timestamps, keys sorted.

use std::path::Path;

use anyhow::{Context, Result};
use det_common::manifest::Manifest;
use serde_json::{Value, json};

use crate::cli::BuildArgs;

pub const BUILD_TYPE: &str = "https://github.com/det-rs/det/cargo-det-build/v1";

pub fn statement(m: &Manifest, args: &BuildArgs, workspace: &Path) -> Result<Vec<u8>> {
    let subjects: Vec<Value> = m
        .outputs
        .iter()
        .map(|(name, h)| json!({"name": name, "digest": {"sha256": h.sha256}}))
        .collect();
    let mut deps: Vec<Value> = m
        .toolchains
        .values()
        .map(|t| {
            json!({
                "name": t.name,
                "uri": format!("pkg:generic/{}@{}", t.name, t.version),
                "digest": {"blake3": t.id},
            })
        })
        .collect();
    let lock = workspace.join("Cargo.lock");
    if lock.is_file() {
        let h = det_common::hash::hash_file(&lock)?;
        deps.push(json!({"name": "Cargo.lock", "digest": {"sha256": h.sha256}}));
        let text = std::fs::read_to_string(&lock)
            .with_context(|| format!("reading {}", lock.display()))?;
        let t: toml::Table = text
            .parse()
            .with_context(|| format!("parsing {}", lock.display()))?;
        for p in t
            .get("package")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(version), Some(sum)) = (
                p.get("name").and_then(|v| v.as_str()),
                p.get("version").and_then(|v| v.as_str()),
                p.get("checksum").and_then(|v| v.as_str()),
            ) else {
                continue;
            };
            deps.push(json!({
                "uri": format!("pkg:cargo/{name}@{version}"),
                "digest": {"sha256": sum},
            }));
        }
    }
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "command": "cargo det-build",
                    "cargoArgs": args.cargo_args(),
                    "profile": m.build.get("profile"),
                    "target": m.build.get("target"),
                    "features": m.build.get("features"),
                    "sourceDateEpoch": m.source_date_epoch.value,
                },
                "internalParameters": {
                    "env": m.env,
                    "flags": m.flags,
                    "canonicalRoot": m.canonical_root,
                    "umask": m.umask,
                    "inputs": m.inputs,
                    "closure": m.closure,
                },
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {
                    "id": format!("https://github.com/det-rs/det/cargo-det-build@{}", env!("CARGO_PKG_VERSION")),
                },
            },
        },
    });
    let mut out = serde_json::to_vec_pretty(&statement)?;
    out.push(b'\n');
    Ok(out)
}
