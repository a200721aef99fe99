//! `cargo xtask demo`: det-scan at work on fixtures built the ordinary way and with det's flags.

use anyhow::Result;
use std::path::Path;

pub fn run(_ws: &Path) -> Result<()> {
    anyhow::bail!("demo: being written")
}
