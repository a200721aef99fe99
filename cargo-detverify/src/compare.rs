//! `cargo det-verify compare`: build manifests grouped by closure hash (only manifests of
//! the same inputs are expected to agree; another closure is "different inputs", with which
//! ones), then within each group output by output by majority vote, the dissenting
//! manifests named; rendered as text or as JSON (det-compare/1).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use det_common::hash::FileHash;
use det_common::manifest::{Manifest, compare, read_manifest_limited};
use serde::Serialize;

use crate::cli::{CompareArgs, Format};

/// The JSON document. Fields of every type here are in alphabetical order, so its keys are
/// sorted; lists are sorted by group, then path, then manifest.
#[derive(Serialize, Debug)]
struct Comparison {
    /// What the builds used that differs from the reference, manifest by manifest (within
    /// the reference's group; other groups are `different_inputs`).
    context: Vec<ContextEntry>,
    /// Groups built from other inputs than the reference's (another closure hash), and
    /// which inputs differ. Not a dissent: they are not expected to agree.
    different_inputs: Vec<InputsEntry>,
    /// Outputs missing from a manifest or with different content, within a group.
    differing_outputs: Vec<OutputEntry>,
    /// Manifests that disagree with their group's majority on some output.
    dissenters: Vec<String>,
    /// The manifests grouped by closure hash (the reference's group first).
    groups: Vec<GroupEntry>,
    identical_outputs: usize,
    /// The manifest paths as given; index 0 is the reference.
    manifests: Vec<String>,
    reproducible: bool,
    schema: &'static str,
    /// Whether any two manifests had the same inputs (else nothing was verified).
    verified: bool,
}

#[derive(Serialize, Debug)]
struct GroupEntry {
    /// The closure hash (det-build's input address); `null` for manifests without one,
    /// which are compared with each other as before closures existed.
    closure: Option<String>,
    manifests: Vec<String>,
    reproducible: bool,
}

#[derive(Serialize, Debug)]
struct InputsEntry {
    closure: Option<String>,
    /// `section key` of each difference from the reference: `toolchains rustc`,
    /// `inputs Cargo.lock`, `inputs source-tree`, `flags CARGO_ENCODED_RUSTFLAGS`, ...
    differs_in: Vec<String>,
    manifests: Vec<String>,
}

#[derive(Serialize, Debug)]
struct OutputEntry {
    /// Manifests of the group whose hash is not the majority's.
    dissenters: Vec<String>,
    /// Index in `groups`.
    group: usize,
    /// One per manifest of the group, in its order; `null` where the output is missing.
    hashes: Vec<Option<FileHash>>,
    /// The hash more than half the group's manifests have (`null`: no majority, or the
    /// majority lacks the output).
    majority: Option<FileHash>,
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

/// The manifests' indices grouped by closure, in order of first appearance (the
/// reference's group first).
fn group_by_closure(manifests: &[Manifest]) -> Vec<(Option<String>, Vec<usize>)> {
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, m) in manifests.iter().enumerate() {
        match groups.iter_mut().find(|(c, _)| *c == m.closure) {
            Some((_, v)) => v.push(i),
            None => groups.push((m.closure.clone(), vec![i])),
        }
    }
    groups
}

fn build(names: &[String], manifests: &[Manifest]) -> Comparison {
    let groups = group_by_closure(manifests);
    let mut differing = Vec::new();
    let mut identical = 0;
    let mut group_entries = Vec::new();
    let mut dissenters: BTreeSet<String> = BTreeSet::new();
    for (gi, (closure, members)) in groups.iter().enumerate() {
        let paths: BTreeSet<&String> = members
            .iter()
            .flat_map(|&i| manifests[i].outputs.keys())
            .collect();
        let mut group_ok = true;
        for path in paths {
            let hashes: Vec<Option<FileHash>> = members
                .iter()
                .map(|&i| manifests[i].outputs.get(path).cloned())
                .collect();
            if hashes.iter().all(|h| h.is_some() && *h == hashes[0]) {
                if members.len() > 1 {
                    identical += 1;
                }
                continue;
            }
            group_ok = false;
            // The value (a hash, or absence) more than half the group has.
            let majority: Option<Option<FileHash>> = hashes
                .iter()
                .find(|h| hashes.iter().filter(|x| x == h).count() * 2 > hashes.len())
                .cloned();
            let out_dissenters: Vec<String> = match &majority {
                Some(m) => members
                    .iter()
                    .zip(&hashes)
                    .filter(|(_, h)| *h != m)
                    .map(|(&i, _)| names[i].clone())
                    .collect(),
                None => Vec::new(),
            };
            let majority = majority.flatten();
            dissenters.extend(out_dissenters.iter().cloned());
            differing.push(OutputEntry {
                dissenters: out_dissenters,
                group: gi,
                hashes,
                majority,
                path: path.clone(),
            });
        }
        group_entries.push(GroupEntry {
            closure: closure.clone(),
            manifests: members.iter().map(|&i| names[i].clone()).collect(),
            reproducible: group_ok,
        });
    }
    let reference = &manifests[0];
    let mut context = Vec::new();
    for &i in groups[0].1.iter().skip(1) {
        let diff = compare(reference, &manifests[i]);
        context.extend(diff.context.into_iter().map(|c| ContextEntry {
            key: c.key,
            manifest: names[i].clone(),
            reference: c.a,
            section: c.section,
            value: c.b,
        }));
    }
    let different_inputs = groups
        .iter()
        .skip(1)
        .map(|(closure, members)| {
            let diff = compare(reference, &manifests[members[0]]);
            let differs_in: BTreeSet<String> = diff
                .context
                .iter()
                .map(|c| format!("{} {}", c.section, c.key))
                .collect();
            InputsEntry {
                closure: closure.clone(),
                differs_in: differs_in.into_iter().collect(),
                manifests: members.iter().map(|&i| names[i].clone()).collect(),
            }
        })
        .collect();
    let verified = groups.iter().any(|(_, m)| m.len() > 1);
    Comparison {
        context,
        different_inputs,
        reproducible: verified && differing.is_empty(),
        differing_outputs: differing,
        dissenters: dissenters.into_iter().collect(),
        groups: group_entries,
        identical_outputs: identical,
        manifests: names.to_vec(),
        schema: "det-compare/1",
        verified,
    }
}

fn render_text(out: &mut impl Write, c: &Comparison) -> std::io::Result<()> {
    let total = c.identical_outputs + c.differing_outputs.len();
    let n = c.manifests.len();
    let compared: usize = c
        .groups
        .iter()
        .filter(|g| g.manifests.len() > 1)
        .map(|g| g.manifests.len())
        .sum();
    let (all, across) = if compared == n {
        (format!("all {n} manifests"), format!("{n} manifests"))
    } else {
        let s = format!("{compared} of {n} manifests (the others have other inputs)");
        (s.clone(), s)
    };
    if !c.verified {
        writeln!(
            out,
            "not verified: no two of the {n} manifests were built from the same inputs (closure)"
        )?;
    } else if c.reproducible {
        let outputs = if total == 1 { "output" } else { "outputs" };
        writeln!(out, "reproducible: {total} {outputs} identical in {all}")?;
    } else {
        writeln!(
            out,
            "not reproducible: {} of {total} outputs differ across {across} (reference: {})",
            c.differing_outputs.len(),
            printable(&c.manifests[0])
        )?;
        if !c.dissenters.is_empty() {
            let shown: Vec<String> = c.dissenters.iter().map(|d| printable(d)).collect();
            writeln!(out, "dissenting from the majority: {}", shown.join(", "))?;
        }
    }
    let width = c
        .manifests
        .iter()
        .map(|m| printable(m).chars().count())
        .max()
        .unwrap_or(0);
    for o in &c.differing_outputs {
        writeln!(out)?;
        let members = &c.groups[o.group].manifests;
        let missing: Vec<String> = members
            .iter()
            .zip(&o.hashes)
            .filter(|(_, h)| h.is_none())
            .map(|(m, _)| printable(m))
            .collect();
        let verdict = if missing.is_empty() {
            "content differs".to_string()
        } else {
            format!("missing in {}", missing.join(", "))
        };
        if !o.dissenters.is_empty() {
            let agree = members.len() - o.dissenters.len();
            let d: Vec<String> = o.dissenters.iter().map(|d| printable(d)).collect();
            writeln!(
                out,
                "{}: {verdict}; majority {agree} of {}, dissenting: {}",
                printable(&o.path),
                members.len(),
                d.join(", ")
            )?;
        } else {
            writeln!(out, "{}: {verdict}", printable(&o.path))?;
        }
        for (m, h) in members.iter().zip(&o.hashes) {
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
    if !c.different_inputs.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "different inputs (another closure than {}: not expected to agree, not compared with it):",
            printable(&c.manifests[0])
        )?;
        for g in &c.different_inputs {
            let ms: Vec<String> = g.manifests.iter().map(|m| printable(m)).collect();
            let what = if g.differs_in.is_empty() {
                "the closure hash only".to_string()
            } else {
                g.differs_in
                    .iter()
                    .map(|d| printable(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            writeln!(out, "  {}: {what}", ms.join(", "))?;
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
