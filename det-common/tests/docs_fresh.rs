//! docs/rules.md is generated from the rules table; it must never go stale.

#[test]
fn docs_rules_md_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rules.md");
    let on_disk = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask docs`", path.display()));
    assert!(
        on_disk == det_common::rules::render_markdown(),
        "{} is stale: run `cargo xtask docs` and commit the result",
        path.display()
    );
}
