//! SARIF 2.1.0 output (the `serde-sarif` types), shaped for GitHub code scanning.
//!
//! - One run. `tool.driver` carries name, version, semanticVersion, informationUri and every
//!   rule of the rules table (plus any rule a finding uses that the table lacks), in table
//!   order, so `ruleIndex` is stable across runs. Each rule has id, a PascalCase name, short
//!   and full descriptions, help (text and Markdown, with the fix), helpUri (the rule's
//!   reference), defaultConfiguration.level and properties.tags = [category].
//! - A result's physical location is the outer file the user named (a relative URI reference,
//!   percent-encoded; `file://` only when that path was absolute). The container chain and the
//!   section are in the message, in a logical location and in the result's properties
//!   (`file`, `container`, `section`, `offset`: the JSON report's fields).
//! - `region.startLine` is the line when the finding is on a line of a text file (a section
//!   named `line N`, as build-log and source detectors write it), else 1: GitHub requires a
//!   start line to show a result and binary artifacts have no lines. `region.byteOffset` is given only when the offset is an offset in
//!   that outer file (no container, no section); an offset inside a member or section is not
//!   one, and is in the properties instead.
//! - `partialFingerprints["detFinding/v1"]`: BLAKE3 of rule, file, containers, section and the
//!   whole evidence — not the offset, which moves whenever unrelated code changes size.
//! - Errors are `invocations[0].toolExecutionNotifications` (level error), and make
//!   `executionSuccessful` false.
//! - No timestamps, GUIDs or absolute paths the input did not have: the same report gives the
//!   same bytes. Written compact (one line plus a newline), terminal-safe like the JSON report.

use super::escape::{bounded, markdown, markdown_code, uri_reference, visible};
use super::json::to_compact_json;
use super::text::place;
use super::{INFORMATION_URI, RenderOptions, Report};
use crate::finding::Finding;
use crate::rules::{self, Rule};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use serde_json::{Value, json};
use serde_sarif::sarif;
use std::collections::BTreeMap;

/// The `$schema` of the log: the SARIF 2.1.0 schema at SchemaStore, where GitHub's and
/// Microsoft's tools point.
pub(super) const SARIF_SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The `partialFingerprints` key; bump the version if what is hashed ever changes.
const FINGERPRINT_KEY: &str = "detFinding/v1";

pub(super) fn render(report: &Report, opts: &RenderOptions) -> String {
    let findings = report.sorted_findings();

    // Every rule of the table, then any others the findings use, each once.
    let mut rule_list: Vec<&'static Rule> = rules::RULES.iter().collect();
    let mut index: BTreeMap<&'static str, usize> = rule_list
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, i))
        .collect();
    for f in &findings {
        if !index.contains_key(f.rule.id) {
            index.insert(f.rule.id, rule_list.len());
            rule_list.push(f.rule);
        }
    }

    // Each rule's text, made once rather than once per finding.
    let texts: Vec<RuleText> = rule_list.iter().map(|r| RuleText::new(r)).collect();

    let notifications: Vec<sarif::Notification> = report
        .sorted_errors()
        .into_iter()
        .map(|e| {
            sarif::Notification::builder()
                .level(json!("error"))
                .message(message_text(format!(
                    "{}: {}",
                    visible(&e.file),
                    sentence(&visible(&e.message))
                )))
                .locations(vec![
                    sarif::Location::builder()
                        .physical_location(
                            sarif::PhysicalLocation::builder()
                                .artifact_location(
                                    sarif::ArtifactLocation::builder()
                                        .uri(uri_reference(&e.file))
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                ])
                .build()
        })
        .collect();
    let mut invocation = sarif::Invocation::builder()
        .execution_successful(notifications.is_empty())
        .build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }

    let driver = sarif::ToolComponent::builder()
        .name(report.tool.name.clone())
        .full_name(format!("{} {}", report.tool.name, report.tool.version))
        .version(report.tool.version.clone())
        .semantic_version(report.tool.version.clone())
        .information_uri(INFORMATION_URI)
        .rules(rule_list.iter().map(|r| descriptor(r)).collect::<Vec<_>>())
        .build();

    let log = Log {
        schema: SARIF_SCHEMA_URI,
        version: "2.1.0",
        runs: [RunOut {
            tool: sarif::Tool::builder().driver(driver).build(),
            invocations: vec![invocation],
            column_kind: "unicodeCodePoints",
            results: LazyResults {
                findings: &findings,
                index: &index,
                texts: &texts,
                opts,
            },
        }],
    };
    // Compact: SARIF is for machines (viewers and `jq .` indent it), and indentation would
    // make a large log half as big again and take nearly twice as long to write.
    // About 1.2 KB per result, plus ~50 KB of rule metadata.
    to_compact_json(&log, 60_000 + findings.len() * 1_300)
}

/// The log's outer objects. The parts with few instances use serde-sarif's types; results
/// are built one at a time while they are written ([`LazyResults`]), so a report of 100 000
/// findings never holds 100 000 `sarif::Result`s in memory.
#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [RunOut<'a>; 1],
}

#[derive(Serialize)]
struct RunOut<'a> {
    tool: sarif::Tool,
    invocations: Vec<sarif::Invocation>,
    #[serde(rename = "columnKind")]
    column_kind: &'static str,
    results: LazyResults<'a>,
}

struct LazyResults<'a> {
    findings: &'a [&'a Finding],
    index: &'a BTreeMap<&'static str, usize>,
    texts: &'a [RuleText],
    opts: &'a RenderOptions,
}

impl Serialize for LazyResults<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.findings.len()))?;
        for f in self.findings {
            let i = self.index[f.rule.id];
            seq.serialize_element(&result(f, i, &self.texts[i], self.opts))?;
        }
        seq.end()
    }
}

fn message_text(text: String) -> sarif::Message {
    sarif::Message::builder().text(text).build()
}

/// `AbsolutePath` for `absolute-path`: the friendly name SARIF wants (PascalCase).
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|first| first.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `s` as a sentence: first letter upper-case, ending with a full stop (SARIF asks for
/// messages that end with one).
fn sentence(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    let mut chars = s.chars();
    if let Some(first) = chars.next() {
        out.push(first.to_ascii_uppercase());
        out.push_str(chars.as_str());
    }
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The first clause of a rule's message (up to `: ` or `; `), as a sentence.
fn short_description(message: &str) -> String {
    let end = [": ", "; "]
        .iter()
        .filter_map(|sep| message.find(sep))
        .min()
        .unwrap_or(message.len());
    sentence(message[..end].trim_end())
}

fn descriptor(r: &Rule) -> sarif::ReportingDescriptor {
    let help_text = format!(
        "{} Fix: {} Reference: {}",
        sentence(r.message),
        sentence(r.fix),
        r.reference
    );
    let help_md = format!(
        "{}\n\n**Fix:** {}\n\n**Reference:** <{}>",
        markdown(&sentence(r.message)),
        markdown(&sentence(r.fix)),
        r.reference
    );
    let mut props = BTreeMap::new();
    props.insert("severity".to_owned(), json!(r.severity.as_str()));
    sarif::ReportingDescriptor::builder()
        .id(r.id)
        .name(pascal_case(r.id))
        .short_description(
            sarif::MultiformatMessageString::builder()
                .text(short_description(r.message))
                .build(),
        )
        .full_description(
            sarif::MultiformatMessageString::builder()
                .text(sentence(r.message))
                .build(),
        )
        .help(
            sarif::MultiformatMessageString::builder()
                .text(help_text)
                .markdown(help_md)
                .build(),
        )
        .help_uri(r.reference)
        .default_configuration(
            sarif::ReportingConfiguration::builder()
                .level(json!(r.severity.sarif_level()))
                .build(),
        )
        .properties(
            sarif::PropertyBag::builder()
                .tags(vec![r.category.as_str().to_owned()])
                .additional_properties(props)
                .build(),
        )
        .build()
}

/// A rule's message and fix as sentences, in text and Markdown.
struct RuleText {
    message: String,
    message_md: String,
    fix: String,
    fix_md: String,
}

impl RuleText {
    fn new(r: &Rule) -> Self {
        let message = sentence(r.message);
        let fix = sentence(r.fix);
        RuleText {
            message_md: markdown(&message).into_owned(),
            fix_md: markdown(&fix).into_owned(),
            message,
            fix,
        }
    }
}

fn result(
    f: &Finding,
    rule_index: usize,
    rule_text: &RuleText,
    opts: &RenderOptions,
) -> sarif::Result {
    let loc = &f.location;
    let evidence = bounded(&f.evidence, opts.max_evidence_chars);

    // Where inside the outer file, for people: "pkg/_speedups.so, .debug_str+0x1a".
    let mut inside: Vec<String> = Vec::new();
    if !loc.container.is_empty() {
        let members: Vec<String> = loc
            .container
            .iter()
            .map(|c| visible(c).into_owned())
            .collect();
        inside.push(members.join("!"));
    }
    inside.extend(place(loc));
    let inside = inside.join(", ");

    let mut text = rule_text.message.clone();
    let mut md = rule_text.message_md.clone();
    if !inside.is_empty() {
        text.push_str(&format!(" Location: {inside}."));
        md.push_str(&format!(" Location: {}\\.", markdown(&inside)));
    }
    if !evidence.is_empty() {
        // Quoted, as SARIF asks of dynamic content; a code span in Markdown.
        text.push_str(&format!(" Evidence: '{}'.", visible(&evidence)));
        md.push_str(&format!("\n\n**Evidence:** {}", markdown_code(&evidence)));
    }
    match &f.fix {
        // A specific fix may quote a command line or a path from the artifact.
        Some(fix) => {
            let fix = sentence(fix);
            text.push_str(&format!(" Fix: {}", visible(&fix)));
            md.push_str(&format!("\n\n**Fix:** {}", markdown(&fix)));
        }
        None => {
            text.push_str(" Fix: ");
            text.push_str(&rule_text.fix);
            md.push_str("\n\n**Fix:** ");
            md.push_str(&rule_text.fix_md);
        }
    }

    let mut region = sarif::Region::builder()
        .start_line(text_line(loc).unwrap_or(1))
        .build();
    let label = loc.label();
    if loc.container.is_empty() && label.is_none() {
        region.byte_offset = loc.offset.and_then(|o| i64::try_from(o).ok());
    }
    let mut location = sarif::Location::builder()
        .physical_location(
            sarif::PhysicalLocation::builder()
                .artifact_location(
                    sarif::ArtifactLocation::builder()
                        .uri(uri_reference(&loc.file))
                        .build(),
                )
                .region(region)
                .build(),
        )
        .build();
    if !loc.container.is_empty() || label.is_some() {
        let mut fqn = visible(&loc.display_path()).into_owned();
        if let Some(s) = &label {
            fqn.push_str(" [");
            fqn.push_str(&visible(s));
            fqn.push(']');
        }
        let name = match (&label, loc.container.last()) {
            (Some(s), _) => visible(s).into_owned(),
            (None, Some(m)) => visible(m).into_owned(),
            (None, None) => unreachable!("checked above"),
        };
        location.logical_locations = Some(vec![
            sarif::LogicalLocation::builder()
                .name(name)
                .fully_qualified_name(fqn)
                .build(),
        ]);
    }

    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(FINGERPRINT_KEY.to_owned(), fingerprint(f));

    let mut props: BTreeMap<String, Value> = BTreeMap::new();
    props.insert("severity".into(), json!(f.severity().as_str()));
    props.insert("category".into(), json!(f.category().as_str()));
    props.insert("file".into(), json!(loc.file));
    props.insert("container".into(), json!(loc.container));
    props.insert("section".into(), json!(label));
    props.insert("offset".into(), json!(loc.offset));
    props.insert("evidence".into(), json!(evidence));

    sarif::Result::builder()
        .rule_id(f.rule.id)
        .rule_index(rule_index as i64)
        .level(level(f))
        .message(sarif::Message::builder().text(text).markdown(md).build())
        .locations(vec![location])
        .partial_fingerprints(fingerprints)
        .properties(
            sarif::PropertyBag::builder()
                .tags(vec![f.category().as_str().to_owned()])
                .additional_properties(props)
                .build(),
        )
        .build()
}

/// The line of a finding in a text file (a build log, a source file; no container, no
/// section). GitHub then annotates that line.
fn text_line(loc: &crate::finding::Location) -> Option<i64> {
    if !loc.container.is_empty() || loc.section.is_some() {
        return None;
    }
    let n = i64::try_from(loc.line?).ok()?;
    (n >= 1).then_some(n)
}

fn level(f: &Finding) -> sarif::ResultLevel {
    match f.severity().sarif_level() {
        "error" => sarif::ResultLevel::Error,
        "warning" => sarif::ResultLevel::Warning,
        _ => sarif::ResultLevel::Note,
    }
}

/// Hex BLAKE3 (128 bits) of the finding's identity; each field length-prefixed so that no
/// two different field lists hash the same bytes.
fn fingerprint(f: &Finding) -> String {
    let mut h = blake3::Hasher::new();
    let mut field = |s: &str| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(f.rule.id);
    field(&f.location.file);
    field(&f.location.container.len().to_string());
    for c in &f.location.container {
        field(c);
    }
    field(f.location.label().as_deref().unwrap_or("\0none"));
    field(&f.evidence);
    let hash = h.finalize();
    hex::encode(&hash.as_bytes()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sentences() {
        assert_eq!(pascal_case("gcc-lto-random-section"), "GccLtoRandomSection");
        assert_eq!(sentence("a thing: b"), "A thing: b.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(
            short_description("an absolute build path is embedded: the output changes"),
            "An absolute build path is embedded."
        );
    }
}
