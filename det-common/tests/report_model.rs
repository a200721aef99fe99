//! The report model's API: colour decision, format names, summary counts, the text layout.

use det_common::report::{
    OutputFormat, RenderOptions, Report, ToolInfo, color_wanted_with, render,
};
use det_common::rules::{self, Category, Severity};
use det_common::{Finding, Location};
use std::collections::BTreeMap;
use std::ffi::OsString;

/// An environment lookup over a fixed map: tests never touch the process environment.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: BTreeMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    assert!(color_wanted_with(true, env(&[])));
    assert!(!color_wanted_with(false, env(&[])));
    // no-color.org: any non-empty value disables colour; an empty one does not.
    assert!(!color_wanted_with(true, env(&[("NO_COLOR", "1")])));
    assert!(!color_wanted_with(true, env(&[("NO_COLOR", "0")])));
    assert!(color_wanted_with(true, env(&[("NO_COLOR", "")])));
    // CLICOLOR_FORCE forces colour into a pipe, but NO_COLOR still wins.
    assert!(color_wanted_with(false, env(&[("CLICOLOR_FORCE", "1")])));
    assert!(!color_wanted_with(false, env(&[("CLICOLOR_FORCE", "0")])));
    assert!(!color_wanted_with(
        true,
        env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "yes")])
    ));
    assert!(!color_wanted_with(true, env(&[("CLICOLOR", "0")])));
    assert!(!color_wanted_with(true, env(&[("TERM", "dumb")])));
    assert!(color_wanted_with(true, env(&[("TERM", "xterm-256color")])));
}

#[test]
fn format_names_parse_and_print() {
    for f in OutputFormat::ALL {
        assert_eq!(f.as_str().parse::<OutputFormat>().unwrap(), f);
        assert_eq!(f.to_string(), f.as_str());
    }
    assert_eq!(
        "SARIF".parse::<OutputFormat>().unwrap(),
        OutputFormat::Sarif
    );
    let err = "xml".parse::<OutputFormat>().unwrap_err();
    assert!(err.contains("xml") && err.contains("sarif"), "{err}");
}

fn report() -> Report {
    let mut r = Report::empty(ToolInfo::new("det-scan", "0.1.0"));
    let so = Location::file("dist/x.whl").member("pkg/_speedups.so");
    r.push(Finding::new(
        rules::get("absolute-path"),
        so.at(".debug_str", Some(0x1a2b)),
        "/home/a/x.c",
    ));
    r.push(Finding::new(
        rules::get("elf-build-id-random"),
        so.at(".note.gnu.build-id", Some(0x10)),
        "ab12",
    ));
    r.push(Finding::new(
        rules::get("elf-comment"),
        Location::file("b.o").at(".comment", None),
        "GCC: 12",
    ));
    r.push(Finding::new(
        rules::get("parse-error"),
        Location::file("c.bin"),
        "truncated",
    ));
    r.files_scanned = 4;
    r
}

#[test]
fn summary_counts_by_severity_and_category() {
    let s = report().summary();
    assert_eq!(
        (s.files_scanned, s.findings, s.errors, s.hidden),
        (4, 4, 0, 0)
    );
    assert_eq!(s.max_severity, Some(Severity::Critical));
    let sev: Vec<(Severity, u64)> = s.by_severity.into_iter().collect();
    assert_eq!(
        sev,
        [
            (Severity::Info, 2),
            (Severity::Low, 0),
            (Severity::Medium, 0),
            (Severity::High, 1),
            (Severity::Critical, 1)
        ]
    );
    let cat: Vec<(Category, u64)> = s.by_category.into_iter().collect();
    assert_eq!(
        cat,
        [
            (Category::Path, 1),
            (Category::BuildId, 1),
            (Category::Toolchain, 1),
            (Category::ParseError, 1)
        ]
    );
    assert_eq!(
        Report::empty(ToolInfo::new("det-scan", "0")).max_severity(),
        None
    );
}

#[test]
fn text_groups_by_file_with_hex_offsets_and_a_summary_line() {
    let mut r = report();
    r.push_error("gone.so", "No such file or directory (os error 2)");
    let out = render(&r, OutputFormat::Text, &RenderOptions::default());
    let f = |id: &str| rules::get(id);
    let expected = format!(
        "b.o
  info elf-comment at .comment
    evidence: GCC: 12
    {}
    fix: {}

c.bin
  info parse-error
    evidence: truncated
    {}
    fix: {}

dist/x.whl!pkg/_speedups.so
  high absolute-path at .debug_str+0x1a2b
    evidence: /home/a/x.c
    {}
    fix: {}
  critical elf-build-id-random at .note.gnu.build-id+0x10
    evidence: ab12
    {}
    fix: {}

errors:
  gone.so: No such file or directory (os error 2)

det-scan 0.1.0: 4 findings (1 critical, 1 high, 2 info) in 4 files scanned; 1 error
",
        f("elf-comment").message,
        f("elf-comment").fix,
        f("parse-error").message,
        f("parse-error").fix,
        f("absolute-path").message,
        f("absolute-path").fix,
        f("elf-build-id-random").message,
        f("elf-build-id-random").fix,
    );
    assert_eq!(out, expected);
}

#[test]
fn text_summary_mentions_hidden_findings_and_empty_reports() {
    let mut r = report();
    r.filter(Severity::High);
    let out = render(&r, OutputFormat::Text, &RenderOptions::default());
    assert!(
        out.ends_with("det-scan 0.1.0: 2 findings (1 critical, 1 high) in 4 files scanned; 2 below high not shown\n"),
        "{out}"
    );
    let mut empty = Report::empty(ToolInfo::new("det-scan", "0.1.0"));
    empty.files_scanned = 1;
    assert_eq!(
        render(&empty, OutputFormat::Text, &RenderOptions::default()),
        "det-scan 0.1.0: no findings in 1 file scanned\n"
    );
}
