//! `cargo det-verify compare`: several build manifests checked against the first, output
//! by output, rendered as text or as JSON (det-compare/1).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use det_common::hash::FileHash;
use det_common::manifest::{Manifest, compare, read_manifest_limited};
use serde::Serialize;

use crate::cli::{CompareArgs, Format};

/// The JSON document. Fields of every type here are in alphabetical order, so its keys are
/// sorted; lists are sorted by path, then by manifest.
#[derive(Serialize, Debug)]
struct Comparison {
    /// What the builds used that differs from the reference, manifest by manifest.
    context: Vec<ContextEntry>,
    /// Outputs missing from a manifest or with different content.
    differing_outputs: Vec<OutputEntry>,
    identical_outputs: usize,
    /// The manifest paths as given; index 0 is the reference.
    manifests: Vec<String>,
    reproducible: bool,
    schema: &'static str,
}

#[derive(Serialize, Debug)]
struct OutputEntry {
    /// One per manifest, in the order of `manifests`; `null` where the output is missing.
    hashes: Vec<Option<FileHash>>,
    path: String,
}

#[derive(Serialize, Debug)]
struct ContextEntry {
    key: String,
    /// The manifest whose value differs from the reference's.
    manifest: String,
    reference: Option<String>,
    section: String,
    value: Option<String>,
}

pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    // Read every manifest before printing anything: a bad one is exit 2, not half a report.
    let manifests: Vec<Manifest> = args
        .manifests
        .iter()
        .map(|p| {
            read_manifest_limited(p, args.max_manifest_size.saturating_mul(1 << 20))
                .context("cannot read build manifest")
        })
        .collect::<anyhow::Result<_>>()?;
    let names: Vec<String> = args
        .manifests
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let result = build(&names, &manifests);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            // Terminal-safe: a manifest's strings can hold bidi or invisible characters.
            out.write_all(det_common::report::terminal_safe_json(&result, 4096).as_bytes())?;
        }
        Format::Text => render_text(&mut out, &result)?,
    }
    out.flush()?;
    Ok(if result.reproducible {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn build(names: &[String], manifests: &[Manifest]) -> Comparison {
    let reference = &manifests[0];
    let paths: BTreeSet<&String> = manifests.iter().flat_map(|m| m.outputs.keys()).collect();
    let mut differing = Vec::new();
    let mut identical = 0;
    for path in paths {
        let hashes: Vec<Option<FileHash>> = manifests
            .iter()
            .map(|m| m.outputs.get(path).cloned())
            .collect();
        if hashes.iter().all(|h| h.is_some() && *h == hashes[0]) {
            identical += 1;
        } else {
            differing.push(OutputEntry {
                hashes,
                path: path.clone(),
            });
        }
    }
    let mut context = Vec::new();
    let mut reproducible = true;
    for (name, other) in names.iter().zip(manifests).skip(1) {
        let diff = compare(reference, other);
        reproducible &= diff.is_reproducible();
        context.extend(diff.context.into_iter().map(|c| ContextEntry {
            key: c.key,
            manifest: name.clone(),
            reference: c.a,
            section: c.section,
            value: c.b,
        }));
    }
    // The pairwise diffs and the output table must agree; both come from the same data.
    debug_assert_eq!(reproducible, differing.is_empty());
    Comparison {
        context,
        differing_outputs: differing,
        identical_outputs: identical,
        manifests: names.to_vec(),
        reproducible,
        schema: "det-compare/1",
    }
}

fn render_text(out: &mut impl Write, c: &Comparison) -> std::io::Result<()> {
    let total = c.identical_outputs + c.differing_outputs.len();
    let n = c.manifests.len();
    if c.reproducible {
        writeln!(
            out,
            "reproducible: {total} outputs identical in all {n} manifests"
        )?;
    } else {
        writeln!(
            out,
            "not reproducible: {} of {total} outputs differ across {n} manifests (reference: {})",
            c.differing_outputs.len(),
            printable(&c.manifests[0])
        )?;
    }
    let width = c
        .manifests
        .iter()
        .map(|m| printable(m).chars().count())
        .max()
        .unwrap_or(0);
    for o in &c.differing_outputs {
        writeln!(out)?;
        let missing: Vec<String> = c
            .manifests
            .iter()
            .zip(&o.hashes)
            .filter(|(_, h)| h.is_none())
            .map(|(m, _)| printable(m))
            .collect();
        if missing.is_empty() {
            writeln!(out, "{}: content differs", printable(&o.path))?;
        } else {
            writeln!(
                out,
                "{}: missing in {}",
                printable(&o.path),
                missing.join(", ")
            )?;
        }
        for (m, h) in c.manifests.iter().zip(&o.hashes) {
            let m = printable(m);
            match h {
                // Hashes were checked to be hex when the manifest was read; escaped all the same.
                Some(h) => writeln!(
                    out,
                    "  {m:<width$}  blake3 {}  sha256 {}  {} bytes",
                    printable(&h.blake3),
                    printable(&h.sha256),
                    h.size
                )?,
                None => writeln!(out, "  {m:<width$}  (missing)")?,
            }
        }
    }
    if !c.context.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "build context differing from {} (may explain differences; not by itself a failure):",
            printable(&c.manifests[0])
        )?;
        let show = |v: &Option<String>| v.as_deref().map_or("(absent)".to_string(), printable);
        for e in &c.context {
            writeln!(
                out,
                "  {}: {} {}: {} -> {}",
                printable(&e.manifest),
                e.section,
                printable(&e.key),
                show(&e.reference),
                show(&e.value)
            )?;
        }
    }
    Ok(())
}

/// A string from a manifest made safe for a terminal: det's one escaping of controls, escape
/// sequences, bidi and invisible characters.
fn printable(s: &str) -> String {
    det_common::report::escape_terminal(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bidi_and_invisible_characters_are_escaped() {
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\x1b[2Jb\\n");
        assert_eq!(printable("ünïcode/ok"), "ünïcode/ok");
        assert_eq!(printable("x\u{202e}y\u{2060}"), "x\\u{202e}y\\u{2060}");
    }
}
