//! The verification's report model (det-verify/1) and its text view.

use std::collections::BTreeMap;
use std::io::Write;

use det_common::diff::DiffReport;
use det_common::variation::Variation;
use serde::Serialize;

pub const SCHEMA: &str = "det-verify/1";

/// The whole result. Fields in alphabetical order (JSON keys come out sorted).
#[derive(Serialize, Debug)]
pub struct VerifyReport {
    pub artifacts: Vec<ArtifactReport>,
    /// What was built: `det-build`'s or cargo's options, or the command.
    pub command: Vec<String>,
    /// The root causes of the first differing run, with their culprits.
    pub differences: Vec<CauseReport>,
    /// The structural diff of the control against the first differing run.
    pub diff: Option<DiffReport>,
    /// Whether the culprit search ran (`--no-explain` turns it off).
    pub explained: bool,
    /// Builds made beyond the requested runs (the rerun and the culprit search).
    pub extra_builds: usize,
    /// A rebuild with no variation already differed from the control.
    pub inside_build: bool,
    /// `det-build` or `raw`.
    pub mode: &'static str,
    pub reproducible: bool,
    pub runs: Vec<RunReport>,
    pub schema: &'static str,
    /// The variations varied in the runs after the control.
    pub varied: Vec<Variation>,
}

#[derive(Serialize, Debug)]
pub struct RunReport {
    /// Whether its artifacts differ from the control's (`null` for the control).
    pub differs: Option<bool>,
    pub id: String,
    /// Where the sources were built.
    pub path: String,
    /// `control`, `varied`, `rerun` (no variation) or `search` (a culprit-search build).
    pub role: &'static str,
    /// The value of each variation in this run.
    pub values: BTreeMap<Variation, String>,
    pub variations: Vec<Variation>,
}

#[derive(Serialize, Debug)]
pub struct ArtifactReport {
    pub path: String,
    /// The runs whose copy differs from the control's (or lacks it).
    pub runs_differing: Vec<String>,
    /// `reproducible`, `differs`, `missing` (absent from some run).
    pub status: &'static str,
}

#[derive(Serialize, Debug)]
pub struct CauseReport {
    /// The variations that make this difference (each alone), from the culprit search.
    pub culprits: Vec<Variation>,
    /// The number of root differences and of differences derived from them.
    pub derived: usize,
    pub differences: usize,
    /// What the shim saw: which programs read the clock, listed directories, asked the
    /// host name (raw mode).
    pub evidence: Vec<String>,
    pub fix: Option<String>,
    /// The rebuild with no variation differed here too: the build itself is nondeterministic.
    pub inside_build: bool,
    pub message: Option<String>,
    /// Where: sections, fields (sorted).
    pub places: Vec<String>,
    pub rule: Option<String>,
    /// Findings of det-scan's project analysis that match the culprit (file:line, rule, fix).
    pub source: Vec<String>,
    /// Differences of this cause no single variation explained: the set last seen making them.
    pub unresolved: Vec<Variation>,
    /// `build path`, `a timestamp`, ...
    pub what: String,
}

fn names(vs: &[Variation]) -> String {
    vs.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
}

fn esc(s: &str) -> String {
    det_common::report::escape_terminal(s).into_owned()
}

/// The text view: the verdict first, then each cause with its culprit, evidence and fix.
pub fn render_text(out: &mut impl Write, r: &VerifyReport, color: bool) -> std::io::Result<()> {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let total = r.artifacts.len();
    let runs = r
        .runs
        .iter()
        .filter(|x| matches!(x.role, "control" | "varied"))
        .count();
    if r.reproducible {
        writeln!(
            out,
            "{}: {total} artifact{} identical in {runs} runs ({}; varied: {})",
            paint("1;32", "reproducible"),
            if total == 1 { "" } else { "s" },
            r.mode,
            if r.varied.is_empty() {
                "nothing".to_string()
            } else {
                names(&r.varied)
            }
        )?;
        return Ok(());
    }
    let bad: Vec<&ArtifactReport> = r
        .artifacts
        .iter()
        .filter(|a| a.status != "reproducible")
        .collect();
    writeln!(
        out,
        "{}: {} of {total} artifact{} differ{} ({}; varied: {})",
        paint("1;31", "not reproducible"),
        bad.len(),
        if total == 1 { "" } else { "s" },
        if bad.len() == 1 { "s" } else { "" },
        r.mode,
        if r.varied.is_empty() {
            "nothing".to_string()
        } else {
            names(&r.varied)
        }
    )?;
    for a in &bad {
        writeln!(
            out,
            "  {} {} (runs {})",
            esc(&a.path),
            if a.status == "missing" {
                "missing in some runs"
            } else {
                "differs"
            },
            a.runs_differing.join(", ")
        )?;
    }
    if let Some(d) = &r.diff {
        writeln!(out, "\n{}", esc(&d.summary.headline))?;
    }
    for (i, c) in r.differences.iter().enumerate() {
        writeln!(out)?;
        let places = if c.places.is_empty() {
            String::new()
        } else {
            format!(" in {}", c.places.join(", "))
        };
        writeln!(
            out,
            "{} {}{places} ({} difference{}, {} derived)",
            paint("1", &format!("cause {}:", i + 1)),
            esc(&c.what),
            c.differences,
            if c.differences == 1 { "" } else { "s" },
            c.derived
        )?;
        if let (Some(rule), Some(m)) = (&c.rule, &c.message) {
            writeln!(out, "  rule:     {rule}: {}", esc(m))?;
        }
        if c.inside_build {
            writeln!(
                out,
                "  culprit:  {} — a rebuild with no variation differs too: the build itself is \
                 nondeterministic (a HashMap's order in a proc macro or build script, threads, \
                 randomness); no variation is to blame",
                paint("1;33", "inside the build")
            )?;
        } else if !c.culprits.is_empty() {
            writeln!(
                out,
                "  culprit:  {} ({})",
                paint("1;33", &names(&c.culprits)),
                c.culprits
                    .iter()
                    .map(|v| v.description())
                    .collect::<Vec<_>>()
                    .join("; ")
            )?;
        }
        if !c.unresolved.is_empty() {
            writeln!(
                out,
                "  unresolved: no single variation explains some differences; seen with {}",
                names(&c.unresolved)
            )?;
        }
        if !r.explained {
            writeln!(out, "  culprit:  not searched (--no-explain)")?;
        }
        for e in &c.evidence {
            writeln!(out, "  evidence: {}", esc(e))?;
        }
        for s in &c.source {
            writeln!(out, "  source:   {}", esc(s))?;
        }
        if let Some(f) = &c.fix {
            writeln!(out, "  fix:      {}", esc(f))?;
        }
    }
    if r.explained {
        writeln!(
            out,
            "\n{} extra build{} for the explanation",
            r.extra_builds,
            if r.extra_builds == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}
