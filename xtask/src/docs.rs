//! `cargo xtask docs`: docs/rules.md from det-common's rules table.

use anyhow::{Context, Result};
use std::path::Path;

pub fn run(ws: &Path) -> Result<()> {
    let path = ws.join("docs/rules.md");
    std::fs::create_dir_all(ws.join("docs")).context("creating docs/")?;
    std::fs::write(&path, det_common::rules::render_markdown())
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}
