//! Text output stays readable when one file has hundreds of findings of one rule.

use det_common::report::{OutputFormat, RenderOptions, Report, ToolInfo, render};
use det_common::{Finding, Location, rules};

fn many(n: usize) -> Report {
    let rule = rules::get("home-path");
    let mut findings: Vec<Finding> = (0..n)
        .map(|i| {
            Finding::new(
                rule,
                Location::file("app").at(".debug_str", Some(i as u64 * 16)),
                format!("/home/u/src/f{i:03}.c"),
            )
        })
        .collect();
    findings.push(Finding::new(
        rules::get("debug-comp-dir"),
        Location::file("app").at(".debug_line_str", Some(4)),
        "/home/u/src",
    ));
    Report::new(ToolInfo::new("det-scan", "0.1.0"), findings, Vec::new(), 1)
}

#[test]
fn text_caps_findings_per_rule_and_file_and_explains_each_rule_once() {
    let out = render(&many(12), OutputFormat::Text, &RenderOptions::default());
    assert_eq!(
        out.matches("  high home-path at .debug_str+").count(),
        5,
        "{out}"
    );
    assert!(out.contains("  ... and 7 more home-path here"), "{out}");
    assert_eq!(
        out.matches(rules::get("home-path").message).count(),
        1,
        "{out}"
    );
    assert_eq!(
        out.matches(rules::get("debug-comp-dir").message).count(),
        1,
        "{out}"
    );
    assert!(out.contains("13 findings (13 high)"), "{out}");
}

#[test]
fn uncapped_text_and_json_carry_every_finding() {
    let all = RenderOptions {
        text_max_per_rule: 0,
        ..RenderOptions::default()
    };
    let out = render(&many(12), OutputFormat::Text, &all);
    assert_eq!(out.matches("  high home-path at .debug_str+").count(), 12);
    assert!(!out.contains("more home-path"));
    let json: serde_json::Value = serde_json::from_str(&render(
        &many(12),
        OutputFormat::Json,
        &RenderOptions::default(),
    ))
    .unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 13);
}
