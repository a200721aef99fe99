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
pub const MAX_MANIFEST_BYTES: u64 = 512 << 20;

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
        Manifest::from_reader(bytes, path)
    }

    /// [`Manifest::from_json`] streaming from a reader: the JSON is never held whole, nor
    /// as a `serde_json::Value` (a 500 MB manifest took 11 GiB that way).
    pub fn from_reader<R: std::io::Read>(reader: R, path: &Path) -> Result<Manifest> {
        // Every field optional, so that the schema is judged before anything else is missed.
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            build: BTreeMap<String, String>,
            #[serde(default)]
            canonical_root: Option<crate::build::RootMode>,
            #[serde(default)]
            closure: Option<String>,
            env: Option<BTreeMap<String, String>>,
            flags: Option<BTreeMap<String, Vec<String>>>,
            inputs: Option<BTreeMap<String, String>>,
            outputs: Option<BTreeMap<String, FileHash>>,
            schema: Option<String>,
            source_date_epoch: Option<SourceDateEpoch>,
            toolchains: Option<BTreeMap<String, Toolchain>>,
            umask: Option<String>,
        }
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(reader);
        // A document that is not a JSON object cannot be a manifest of any version.
        loop {
            let buf = reader.fill_buf().map_err(|e| Error::io(path, e))?;
            let Some(&first) = buf.first() else { break };
            if first.is_ascii_whitespace() {
                reader.consume(1);
                continue;
            }
            if first != b'{' && (first == b'[' || first == b'"' || first.is_ascii_digit()) {
                return Err(Error::invalid(
                    path,
                    format!("not a det manifest: no \"schema\": {SCHEMA:?} field"),
                ));
            }
            break;
        }
        let raw: Raw = serde_json::from_reader(reader).map_err(|e| match e.classify() {
            serde_json::error::Category::Io => Error::invalid(path, e.to_string()),
            serde_json::error::Category::Data => {
                Error::invalid(path, format!("malformed {SCHEMA} manifest: {e}"))
            }
            _ => Error::invalid(path, format!("not valid JSON: {e}")),
        })?;
        match raw.schema.as_deref() {
            Some(SCHEMA) => {}
            Some(s) => {
                return Err(Error::invalid(
                    path,
                    format!(
                        "unsupported manifest schema {} (expected {SCHEMA:?})",
                        crate::report::escape::quoted(s)
                    ),
                ));
            }
            None => {
                return Err(Error::invalid(
                    path,
                    format!("not a det manifest: no \"schema\": {SCHEMA:?} field"),
                ));
            }
        }
        let missing = |field: &str| {
            Error::invalid(
                path,
                format!("malformed {SCHEMA} manifest: missing field `{field}`"),
            )
        };
        let manifest = Manifest {
            build: raw.build,
            canonical_root: raw.canonical_root,
            closure: raw.closure,
            env: raw.env.ok_or_else(|| missing("env"))?,
            flags: raw.flags.ok_or_else(|| missing("flags"))?,
            inputs: raw.inputs.ok_or_else(|| missing("inputs"))?,
            outputs: raw.outputs.ok_or_else(|| missing("outputs"))?,
            schema: SCHEMA.to_owned(),
            source_date_epoch: raw
                .source_date_epoch
                .ok_or_else(|| missing("source_date_epoch"))?,
            toolchains: raw.toolchains.ok_or_else(|| missing("toolchains"))?,
            umask: raw.umask.ok_or_else(|| missing("umask"))?,
        };
        manifest.check_hashes().map_err(|message| {
            Error::invalid(path, format!("malformed {SCHEMA} manifest: {message}"))
        })?;
        Ok(manifest)
    }

    /// Every hash is lowercase hex of its algorithm's length (BLAKE3 and SHA-256: 64
    /// digits), so that what is compared and printed is a hash and nothing else.
    fn check_hashes(&self) -> std::result::Result<(), String> {
        let hex64 =
            |v: &str| v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let bad = |what: String, v: &str| {
            format!(
                "{what} is not a 64-digit lowercase hex hash: {}",
                crate::report::escape::quoted(&crate::report::escape::bounded(v, 80))
            )
        };
        for (path, h) in &self.outputs {
            let path = crate::report::escape::quoted(path);
            if !hex64(&h.blake3) {
                return Err(bad(format!("outputs.{path}.blake3"), &h.blake3));
            }
            if !hex64(&h.sha256) {
                return Err(bad(format!("outputs.{path}.sha256"), &h.sha256));
            }
        }
        for (name, v) in &self.inputs {
            if !hex64(v) {
                return Err(bad(
                    format!("inputs.{}", crate::report::escape::quoted(name)),
                    v,
                ));
            }
        }
        for (name, t) in &self.toolchains {
            if !hex64(&t.id) {
                return Err(bad(
                    format!("toolchains.{}.id", crate::report::escape::quoted(name)),
                    &t.id,
                ));
            }
        }
        Ok(())
    }
}

/// Read a manifest file (a FIFO too), streaming and bounded: devices are refused, and more
/// than [`MAX_MANIFEST_BYTES`] is an error whatever the file's metadata says.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    read_manifest_limited(path, MAX_MANIFEST_BYTES)
}

/// [`read_manifest`] with another bound than [`MAX_MANIFEST_BYTES`] (`--max-manifest-size`).
pub fn read_manifest_limited(path: &Path, limit: u64) -> Result<Manifest> {
    let file = crate::input::open(path)?;
    Manifest::from_reader(
        crate::input::Limited::new(
            file,
            limit,
            "a manifest (raise it with --max-manifest-size)",
        ),
        path,
    )
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
    diff_maps(ctx, "build", &a.build, &b.build);
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
