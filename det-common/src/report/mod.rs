//! The report model — what a det tool found, what went wrong, and a summary — and its
//! renderers: human text, JSON (`<tool>/1` schema), SARIF 2.1.0 and a self-contained HTML page.
//!
//! Findings are data; each format is a view of the same [`Report`]. Every renderer sorts
//! (findings by location, rule, evidence and fix; errors by file and message), so output does
//! not depend on the order findings were found in, and escapes every string that comes from
//! an artifact (see [`escape`]).
//!
//! Typical use in a binary:
//!
//! ```
//! use det_common::report::{OutputFormat, RenderOptions, Report, ToolInfo, color_wanted, render};
//! use std::io::IsTerminal;
//!
//! let report = Report::new(ToolInfo::new("det-scan", "0.1.0"), Vec::new(), Vec::new(), 1);
//! let opts = RenderOptions { color: color_wanted(std::io::stdout().is_terminal()), ..RenderOptions::default() };
//! let out = render(&report, OutputFormat::Text, &opts);
//! assert!(out.ends_with('\n'));
//! ```

pub mod escape;
/// [`escape::visible`] under the name the binaries use for their own stderr messages.
pub use escape::visible as escape_terminal;
/// [`escape::visible_lines`]: error chains printed to stderr.
pub use escape::visible_lines as escape_lines;
/// Pretty JSON that is safe to print to a terminal (every unsafe character as `\uXXXX`).
pub use json::to_pretty_json as terminal_safe_json;
mod html;
mod json;
mod sarif;
mod text;

use crate::finding::Finding;
use crate::rules::{Category, Severity};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Version of the JSON report schema; the schema name is `<tool name>/<this>` (`det-scan/1`).
pub const SCHEMA_VERSION: u32 = 1;

/// Where people learn about det: SARIF `informationUri` and the HTML page's link.
/// (The same project the rules table's `parse-error` reference points at.)
pub const INFORMATION_URI: &str = "https://github.com/det-rs/det";

/// Evidence longer than this many characters is cut in every format (see [`escape::bounded`]).
pub const DEFAULT_MAX_EVIDENCE_CHARS: usize = 256;

/// The tool that made a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolInfo {
    /// `det-scan`, `det-verify`, `det-build`: names the JSON schema (`det-scan/1`).
    pub name: String,
    /// The tool's version (the binary's `CARGO_PKG_VERSION`).
    pub version: String,
}

impl ToolInfo {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        ToolInfo {
            name: name.into(),
            version: version.into(),
        }
    }

    /// The JSON schema name of this tool's reports: `det-scan/1`.
    pub fn schema(&self) -> String {
        format!("{}/{}", self.name, SCHEMA_VERSION)
    }
}

/// Something that stopped a file from being examined (unreadable, vanished, ...). Unlike a
/// `parse-error` finding, nothing of the file was looked at. Its presence makes exit code 2.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ReportError {
    /// The file as the user named it (`/`-separated, like [`crate::Location::file`]).
    pub file: String,
    pub message: String,
}

impl ReportError {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        ReportError {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// What a det tool found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub tool: ToolInfo,
    /// In any order: renderers sort.
    pub findings: Vec<Finding>,
    /// In any order: renderers sort.
    pub errors: Vec<ReportError>,
    /// Top-level files examined (members of containers not counted).
    pub files_scanned: u64,
    /// Findings removed by [`Report::filter`]; shown in the summary so a reader knows the
    /// report is partial.
    pub hidden: u64,
    /// The threshold of the last [`Report::filter`] (the highest, if filtered several times).
    pub min_severity: Option<Severity>,
    /// What was checked besides files, said in the summary (`1 cargo project: 12 packages,
    /// 2 build scripts, 1 proc macro`, `45 compiler invocations in build.log`), so that "no
    /// findings" never hides that nothing was looked at.
    pub checked: Vec<String>,
}

impl Report {
    /// A report of `findings` and `errors` (in any order) over `files_scanned` files.
    pub fn new(
        tool: ToolInfo,
        findings: Vec<Finding>,
        errors: Vec<ReportError>,
        files_scanned: u64,
    ) -> Self {
        Report {
            tool,
            findings,
            errors,
            files_scanned,
            hidden: 0,
            min_severity: None,
            checked: Vec::new(),
        }
    }

    /// A report with nothing in it yet.
    pub fn empty(tool: ToolInfo) -> Self {
        Report::new(tool, Vec::new(), Vec::new(), 0)
    }

    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub fn push_error(&mut self, file: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ReportError::new(file, message));
    }

    /// The highest severity among the findings, `None` when there are none.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(Finding::severity).max()
    }

    /// True when a finding is at or above `threshold` (`--fail-on`). Decide this before
    /// [`Report::filter`] with a higher threshold, which drops findings.
    pub fn reaches(&self, threshold: Severity) -> bool {
        self.max_severity().is_some_and(|s| s >= threshold)
    }

    /// Drops findings below `min`, counting them in [`Report::hidden`].
    pub fn filter(&mut self, min: Severity) {
        let before = self.findings.len();
        self.findings.retain(|f| f.severity() >= min);
        self.hidden += (before - self.findings.len()) as u64;
        self.min_severity = Some(self.min_severity.map_or(min, |m| m.max(min)));
    }

    /// Sorts findings and errors into report order (renderers do this on their own view too;
    /// this is for callers that iterate `findings` themselves).
    pub fn sort(&mut self) {
        self.findings.sort_by(finding_order);
        self.errors.sort();
    }

    /// Counts for the summary line / object.
    pub fn summary(&self) -> Summary {
        let mut by_severity: BTreeMap<Severity, u64> =
            Severity::ALL.into_iter().map(|s| (s, 0)).collect();
        let mut by_category: BTreeMap<Category, u64> = BTreeMap::new();
        for f in &self.findings {
            *by_severity.entry(f.severity()).or_default() += 1;
            *by_category.entry(f.category()).or_default() += 1;
        }
        Summary {
            files_scanned: self.files_scanned,
            findings: self.findings.len() as u64,
            errors: self.errors.len() as u64,
            max_severity: self.max_severity(),
            by_severity,
            by_category,
            hidden: self.hidden,
            min_severity: self.min_severity,
        }
    }

    /// Findings in report order, without copying them.
    pub(crate) fn sorted_findings(&self) -> Vec<&Finding> {
        use rayon::slice::ParallelSliceMut;
        let mut v: Vec<&Finding> = self.findings.iter().collect();
        // A total order, so the parallel sort gives the one result a sequential one would.
        v.par_sort_by(|a, b| finding_order(a, b));
        v
    }

    pub(crate) fn sorted_errors(&self) -> Vec<&ReportError> {
        let mut v: Vec<&ReportError> = self.errors.iter().collect();
        v.sort();
        v
    }
}

/// A total order on findings: [`Finding`]'s own order (location, rule, evidence), then the
/// specific fix, so that two findings differing only in their fix still sort the same way
/// whatever order they came in.
fn finding_order(a: &Finding, b: &Finding) -> Ordering {
    a.cmp(b).then_with(|| a.fix.cmp(&b.fix))
}

/// The numbers of a report. In JSON: `summary`, keys in this order; `by_severity` holds every
/// severity (`info` … `critical`), `by_category` only the categories that occur, in the
/// order of the rules table's categories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub files_scanned: u64,
    pub findings: u64,
    pub errors: u64,
    /// `null` when there is no finding.
    pub max_severity: Option<Severity>,
    pub by_severity: BTreeMap<Severity, u64>,
    pub by_category: BTreeMap<Category, u64>,
    /// Findings dropped by a severity filter, and that filter (`null` when none).
    pub hidden: u64,
    pub min_severity: Option<Severity>,
}

/// The output formats of every det tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum OutputFormat {
    /// For people at a terminal; colour when [`RenderOptions::color`].
    #[default]
    Text,
    /// `{"schema":"det-scan/1","tool":{..},"findings":[..],"errors":[..],"summary":{..}}`.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// A self-contained HTML page.
    Html,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Text,
        OutputFormat::Json,
        OutputFormat::Sarif,
        OutputFormat::Html,
    ];

    /// The name on the command line (`--format sarif`).
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Json => "json",
            OutputFormat::Sarif => "sarif",
            OutputFormat::Html => "html",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown format `{s}` (expected text, json, sarif or html)"))
    }
}

/// Findings of one rule shown per file in text output, by default.
pub const DEFAULT_TEXT_MAX_PER_RULE: usize = 5;

/// How to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colour in text output. Decide with [`color_wanted`]; other formats ignore it.
    pub color: bool,
    /// Evidence longer than this many characters is cut (0: no bound). Applies to every format
    /// so that one pathological string cannot make any report huge; the cut string ends with
    /// `…[N chars]`. SARIF fingerprints hash the whole evidence.
    pub max_evidence_chars: usize,
    /// Text output shows at most this many findings of one rule in one file (0: all), then
    /// says how many more there are; a binary with 500 leaked paths stays readable. The
    /// machine formats always carry every finding.
    pub text_max_per_rule: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            max_evidence_chars: DEFAULT_MAX_EVIDENCE_CHARS,
            text_max_per_rule: DEFAULT_TEXT_MAX_PER_RULE,
        }
    }
}

/// `report` in `format`. Always ends with a newline; the same report gives the same bytes.
pub fn render(report: &Report, format: OutputFormat, opts: &RenderOptions) -> String {
    match format {
        OutputFormat::Text => text::render(report, opts),
        OutputFormat::Json => json::render(report, opts),
        OutputFormat::Sarif => sarif::render(report, opts),
        OutputFormat::Html => html::render(report, opts),
    }
}

/// Whether text output should be coloured, from the process environment: see
/// [`color_wanted_with`].
pub fn color_wanted(is_terminal: bool) -> bool {
    color_wanted_with(is_terminal, |name| std::env::var_os(name))
}

/// Whether text output should be coloured, `env` looking up an environment variable:
/// - `NO_COLOR` set to any non-empty value: never (<https://no-color.org>; it wins over
///   everything, as the issue demands: "never with NO_COLOR");
/// - `CLICOLOR_FORCE` set and not `0`: always, terminal or not;
/// - otherwise only on a terminal, and not when `CLICOLOR=0` or `TERM=dumb`.
pub fn color_wanted_with(
    is_terminal: bool,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> bool {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        return false;
    }
    if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    is_terminal
        && set("CLICOLOR").is_none_or(|v| v != "0")
        && set("TERM").is_none_or(|v| v != "dumb")
}

/// `value` as det's pretty, terminal-safe JSON (keys in struct-field order, trailing
/// newline): what every JSON document det writes goes through.
pub(crate) fn json_value<T: serde::Serialize>(value: &T) -> String {
    json::to_pretty_json(value, 4096)
}
