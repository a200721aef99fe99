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
    /// The structural diff of the control against the first differing run.
    pub diff: Option<DiffReport>,
    /// The root causes of the first differing run, with their culprits.
    pub differences: Vec<CauseReport>,
    /// Whether the culprit search ran (`--no-explain` turns it off).
    pub explained: bool,
    /// Builds made beyond the requested runs (the rerun and the culprit search).
    pub extra_builds: usize,
    /// A rebuild with no variation already differed from the control.
    pub inside_build: bool,
    /// `det-build` or `raw`.
    pub mode: &'static str,
    /// What this machine could not vary or pin (ASLR refused, a locale missing), as
    /// sentences: the verification holds except for these.
    pub notes: Vec<String>,
    pub reproducible: bool,
    pub runs: Vec<RunReport>,
    pub schema: &'static str,
    /// The det store's part, when one is configured (`--store`): the closure, whether the
    /// runs were skipped as already verified, or the verification recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<super::store::StoreReport>,
    /// The variations varied in the runs after the control.
    pub varied: Vec<Variation>,
}

#[derive(Serialize, Debug)]
pub struct RunReport {
    /// Whether its artifacts differ from the control's (`null` for the control).
    pub differs: Option<bool>,
    pub id: String,
    /// With --keep: where the run's directory was kept (its sources and target dir under
    /// `tree/`, its artifacts, build log and shim log).
    pub kept: Option<String>,
    /// Where the sources were built, relative to the verification's temporary directory
    /// (`c/NAME` for the control's path, `v1-varied-path/deeper/NAME` for another).
    pub path: String,
    /// `control`, `varied`, `rerun` (no variation) or `search` (a culprit-search build).
    pub role: &'static str,
    /// The value of each variation in this run (a path in the verification's temporary
    /// directory as `<verify-dir>/...`).
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
    /// What the detectors matched in the differing bytes (both sides), for the first few
    /// root differences of this cause.
    pub matched: Vec<String>,
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

fn write_notes(out: &mut impl Write, r: &VerifyReport) -> std::io::Result<()> {
    for n in &r.notes {
        writeln!(out, "  note: {}", esc(n))?;
    }
    Ok(())
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
        write_notes(out, r)?;
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
    write_notes(out, r)?;
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
        for m in &c.matched {
            writeln!(out, "  matched:  {}", esc(m))?;
        }
        if c.inside_build {
            writeln!(
                out,
                "  culprit:  {} — a rebuild with no variation differs too: the build itself is \
                 nondeterministic (a HashMap's order in a proc macro or build script, threads, \
                 randomness); no variation is to blame",
                paint("1;33", "inside the build")
            )?;
            if !c.culprits.is_empty() {
                writeln!(
                    out,
                    "  also:     {} for some of its differences",
                    names(&c.culprits)
                )?;
            }
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

/// The HTML view: one self-contained page (inline style, a CSP that loads nothing, no
/// script), the verdict first, then each cause, the runs, the artifacts and the structural
/// diff with both sides next to each other; every section collapsible, every string escaped.
pub fn render_html(r: &VerifyReport) -> String {
    use std::fmt::Write as _;
    let h = |s: &str| det_common::report::escape::html(s).into_owned();
    let mut out = String::with_capacity(16 << 10);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>det-verify: {}</title>\n<style>\n{}\
         .verdict{{font-size:1.5em;font-weight:bold;padding:.4em .6em;border-radius:4px}}\
         .ok{{background:#e6f6e6;color:#064}}.bad{{background:#fde8e8;color:#a00}}\
         .culprit{{font-weight:bold;color:#850}}dl{{margin:.3em 0 .3em 1em}}dt{{font-weight:bold}}\
         dd{{margin:0 0 .3em 1.2em;overflow-wrap:anywhere}}\n</style>\n</head>\n<body>\n",
        if r.reproducible {
            "reproducible"
        } else {
            "not reproducible"
        },
        det_common::diff::HTML_STYLE
    );
    let _ = writeln!(
        out,
        "<h1>det-verify <code>{}</code></h1>",
        h(&r.command.join(" "))
    );
    let total = r.artifacts.len();
    let differing = r
        .artifacts
        .iter()
        .filter(|a| a.status != "reproducible")
        .count();
    let varied = if r.varied.is_empty() {
        "nothing".to_string()
    } else {
        names(&r.varied)
    };
    if r.reproducible {
        let _ = writeln!(
            out,
            "<p class=\"verdict ok\">Reproducible: {total} artifact(s) identical ({}; varied: {})</p>",
            h(r.mode),
            h(&varied)
        );
    } else {
        let _ = writeln!(
            out,
            "<p class=\"verdict bad\">Not reproducible: {differing} of {total} artifact(s) differ ({}; varied: {})</p>",
            h(r.mode),
            h(&varied)
        );
        if let Some(d) = &r.diff {
            let _ = writeln!(out, "<p class=\"headline\">{}</p>", h(&d.summary.headline));
        }
    }
    if !r.notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in &r.notes {
            let _ = writeln!(out, "<li>note: {}</li>", h(n));
        }
        out.push_str("</ul>\n");
    }
    if !r.differences.is_empty() {
        out.push_str("<h2>Causes</h2>\n");
        for (i, c) in r.differences.iter().enumerate() {
            let culprit = if c.inside_build {
                "inside the build".to_string()
            } else if c.culprits.is_empty() {
                if r.explained {
                    "none found"
                } else {
                    "not searched"
                }
                .to_string()
            } else {
                names(&c.culprits)
            };
            let _ = writeln!(
                out,
                "<details open><summary>cause {}: {} in {} — culprit: <span class=\"culprit\">{}</span></summary>\n<dl>",
                i + 1,
                h(&c.what),
                h(&c.places.join(", ")),
                h(&culprit)
            );
            let mut item = |k: &str, v: &str| {
                let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", h(k), h(v));
            };
            item(
                "differences",
                &format!("{} root, {} derived", c.differences, c.derived),
            );
            if let (Some(rule), Some(m)) = (&c.rule, &c.message) {
                item("rule", &format!("{rule}: {m}"));
            }
            for m in &c.matched {
                item("matched", m);
            }
            if c.inside_build {
                item(
                    "inside the build",
                    "a rebuild with no variation differs too: the build itself is nondeterministic (a HashMap's order in a proc macro or build script, threads, randomness); no variation is to blame",
                );
            }
            for v in &c.culprits {
                item(v.name(), v.description());
            }
            if !c.unresolved.is_empty() {
                item(
                    "unresolved",
                    &format!(
                        "no single variation explains some differences; seen with {}",
                        names(&c.unresolved)
                    ),
                );
            }
            for e in &c.evidence {
                item("evidence", e);
            }
            for s in &c.source {
                item("source", s);
            }
            if let Some(f) = &c.fix {
                item("fix", f);
            }
            out.push_str("</dl>\n</details>\n");
        }
    }
    let _ = writeln!(
        out,
        "<details><summary>Runs ({}; {} extra for the explanation)</summary>\n<table><tr><th style=\"width:12%\">run</th><th style=\"width:10%\">role</th><th style=\"width:10%\">differs</th><th>variations and values</th></tr>",
        r.runs.len(),
        r.extra_builds
    );
    for run in &r.runs {
        let values: Vec<String> = run
            .values
            .iter()
            .map(|(v, s)| {
                let mark = if run.variations.contains(v) {
                    "varied"
                } else {
                    "pinned"
                };
                format!("{v} ({mark}): {s}")
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"side\">{}\n{}</td></tr>",
            h(&run.id),
            h(run.role),
            match run.differs {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            },
            h(&run.path),
            h(&values.join("\n"))
        );
    }
    out.push_str("</table>\n</details>\n");
    let _ = writeln!(
        out,
        "<details{}><summary>Artifacts ({total}, {differing} differing)</summary>\n<table><tr><th>artifact</th><th style=\"width:14%\">status</th><th style=\"width:20%\">runs differing</th></tr>",
        if differing > 0 { " open" } else { "" }
    );
    for a in &r.artifacts {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            h(&a.path),
            h(a.status),
            h(&a.runs_differing.join(", "))
        );
    }
    out.push_str("</table>\n</details>\n");
    if let Some(d) = &r.diff {
        let _ = writeln!(
            out,
            "<h2>Differences: control (A) against the first differing run (B)</h2>"
        );
        out.push_str(&det_common::diff::html_differences(d));
    }
    out.push_str("</body>\n</html>\n");
    out
}
