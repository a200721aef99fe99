//! The build manifest, `det-manifest/1`: what a build used (SOURCE_DATE_EPOCH and its
//! source, toolchains, injected flags, the normalized environment, input hashes) and what
//! it produced (every output's BLAKE3, SHA-256 and size by relative path).
//!
//! Written as pretty JSON with sorted keys and a trailing newline, atomically (a temp
//! file in the same directory, fsync, rename), so a reader never sees a partial manifest.
//! Two manifests — say from two machines — compare output by output ([`compare`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::env::SourceDateEpoch;
use crate::hash::FileHash;
use crate::toolchain::Toolchain;
use crate::{Error, Result};

/// The value of the `schema` field this module reads and writes.
pub const SCHEMA: &str = "det-manifest/1";

/// Manifests larger than this are refused rather than read into memory: a million
/// outputs take about 250 MB.
const MAX_MANIFEST_BYTES: u64 = 512 << 20;

/// A build manifest. Every map is a `BTreeMap` and the fields are declared in
/// alphabetical order, so every key of the JSON is sorted (a test checks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// What was built: `profile`, `target`, `features`, the cargo arguments, ...
    /// (det-build; empty in manifests of other producers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build: BTreeMap<String, String>,
    /// How the build's paths were made the same everywhere: the canonical root (a mount
    /// namespace) or the remapping fallback, with why and what it leaves uncovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_root: Option<crate::build::RootMode>,
    /// BLAKE3 (hex) over everything that determines the outputs: toolchain ids, inputs,
    /// flags, environment, target, profile, features — the build's input address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<String>,
    /// The variables det set for the build ([`crate::env::BuildEnv::fixed`]); host
    /// specific pass-through values such as PATH are not recorded.
    pub env: BTreeMap<String, String>,
    /// The flags det injected, by variable: `RUSTFLAGS` → its pieces, `CFLAGS` → ...
    pub flags: BTreeMap<String, Vec<String>>,
    /// BLAKE3 (hex) of each input by name: `Cargo.lock`, `source-tree`, ...
    pub inputs: BTreeMap<String, String>,
    /// Every output by relative, `/`-separated path.
    pub outputs: BTreeMap<String, FileHash>,
    /// Always [`SCHEMA`].
    pub schema: String,
    pub source_date_epoch: SourceDateEpoch,
    /// By name: `rustc`, `gcc`, `zig`, ...
    pub toolchains: BTreeMap<String, Toolchain>,
    /// The umask of the build, in octal (`"022"`).
    pub umask: String,
}

impl Manifest {
    /// An empty manifest for a build with this SOURCE_DATE_EPOCH and environment.
    pub fn new(source_date_epoch: SourceDateEpoch, env: BTreeMap<String, String>) -> Manifest {
        Manifest {
            build: BTreeMap::new(),
            canonical_root: None,
            closure: None,
            schema: SCHEMA.to_string(),
            source_date_epoch,
            toolchains: BTreeMap::new(),
            flags: BTreeMap::new(),
            env,
            umask: format!("{:03o}", crate::env::UMASK),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// The manifest as written: pretty JSON, keys sorted, a trailing newline.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing these types cannot fail: every map key is a string and there is no
        // float or custom serializer that errors.
        // Through a Value, whose maps are sorted: tagged enums (canonical_root) would
        // otherwise put their tag first.
        let value = serde_json::to_value(self).expect("manifest serializes");
        let mut out = serde_json::to_vec_pretty(&value).expect("manifest serializes");
        out.push(b'\n');
        out
    }

    /// Parse a manifest, checking its schema first so that a manifest of another
    /// version is reported as such rather than as a missing field. `path` names the
    /// source in errors.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Manifest> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(path, format!("not valid JSON: {e}")))?;
        match value.get("schema") {
            Some(serde_json::Value::String(s)) if s == SCHEMA => {}
            Some(serde_json::Value::String(s)) => {
                return Err(Error::invalid(
                    path,
                    format!("unsupported manifest schema {s:?} (expected {SCHEMA:?})"),
                ));
            }
            _ => {
                return Err(Error::invalid(
                    path,
                    format!("not a det manifest: no \"schema\": {SCHEMA:?} field"),
                ));
            }
        }
        serde_json::from_value(value)
            .map_err(|e| Error::invalid(path, format!("malformed {SCHEMA} manifest: {e}")))
    }
}

/// Read a manifest file.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(Error::invalid(
            path,
            format!(
                "{} bytes, more than a manifest can be ({MAX_MANIFEST_BYTES})",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Manifest::from_json(&bytes, path)
}

/// Write a manifest atomically: the JSON goes to a temp file in the same directory,
/// is flushed to disk, and then renamed over `path`. A failure at any step leaves the
/// previous file (if any) untouched and no temp file behind.
pub fn write_manifest(path: &Path, manifest: &Manifest) -> Result<()> {
    // Serialize first: nothing touches the disk unless the whole document exists.
    let json = manifest.to_json();
    crate::atomic_file::write(path, &json)
}

/// One output that both manifests have, with different content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputDifference {
    pub path: String,
    pub a: FileHash,
    pub b: FileHash,
}

/// A difference in what the two builds used: `section` is `source_date_epoch`,
/// `toolchains`, `flags`, `env`, `umask` or `inputs`; `key` the entry within it; `a` and
/// `b` its value on each side (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextDifference {
    pub section: String,
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// How manifest B differs from manifest A. Every list is sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDiff {
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    pub differing: Vec<OutputDifference>,
    /// Why outputs may differ: toolchains, flags, environment, inputs. These do not by
    /// themselves make the builds non-reproducible.
    pub context: Vec<ContextDifference>,
}

impl ManifestDiff {
    /// The same set of outputs with the same content. (Context differences do not count:
    /// a build that gives the same bits with another flag or toolchain build is still
    /// bit-for-bit reproducible.)
    pub fn is_reproducible(&self) -> bool {
        self.only_in_a.is_empty() && self.only_in_b.is_empty() && self.differing.is_empty()
    }
}

/// Compare two manifests output by output, and note every difference in what the builds
/// used. Toolchains are compared by version and id, not by install path.
pub fn compare(a: &Manifest, b: &Manifest) -> ManifestDiff {
    let mut diff = ManifestDiff::default();
    for (path, ha) in &a.outputs {
        match b.outputs.get(path) {
            None => diff.only_in_a.push(path.clone()),
            Some(hb) if hb != ha => diff.differing.push(OutputDifference {
                path: path.clone(),
                a: ha.clone(),
                b: hb.clone(),
            }),
            Some(_) => {}
        }
    }
    diff.only_in_b = b
        .outputs
        .keys()
        .filter(|p| !a.outputs.contains_key(*p))
        .cloned()
        .collect();

    let ctx = &mut diff.context;
    if a.source_date_epoch.value != b.source_date_epoch.value {
        ctx.push(ContextDifference {
            section: "source_date_epoch".into(),
            key: "value".into(),
            a: Some(a.source_date_epoch.to_string()),
            b: Some(b.source_date_epoch.to_string()),
        });
    }
    let tc = |m: &Manifest| -> BTreeMap<String, String> {
        m.toolchains
            .iter()
            .map(|(k, t)| (k.clone(), format!("{} {} (id {})", t.name, t.version, t.id)))
            .collect()
    };
    diff_maps(ctx, "toolchains", &tc(a), &tc(b));
    let flags = |m: &Manifest| -> BTreeMap<String, String> {
        m.flags
            .iter()
            .map(|(k, v)| (k.clone(), v.join(" ")))
            .collect()
    };
    diff_maps(ctx, "flags", &flags(a), &flags(b));
    diff_maps(ctx, "env", &a.env, &b.env);
    if a.umask != b.umask {
        ctx.push(ContextDifference {
            section: "umask".into(),
            key: "umask".into(),
            a: Some(a.umask.clone()),
            b: Some(b.umask.clone()),
        });
    }
    diff_maps(ctx, "inputs", &a.inputs, &b.inputs);
    diff
}

fn diff_maps(
    out: &mut Vec<ContextDifference>,
    section: &str,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (va, vb) = (a.get(k), b.get(k));
        if va != vb {
            out.push(ContextDifference {
                section: section.to_string(),
                key: k.clone(),
                a: va.cloned(),
                b: vb.cloned(),
            });
        }
    }
}
