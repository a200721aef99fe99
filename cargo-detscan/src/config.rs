//! `[workspace.metadata.det.scan]` and `[package.metadata.det.scan]` in Cargo.toml:
//! project-wide suppressions, so a team can record "we accept this" once.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScanConfig {
    /// Rule ids not to report.
    pub ignore: Vec<String>,
    /// The manifests the settings came from.
    pub sources: Vec<PathBuf>,
}

/// Settings from `manifest_path`, or from the nearest Cargo.toml above `cwd` and the
/// workspace root above it. No Cargo.toml is no settings, not an error.
pub fn load(manifest_path: Option<&Path>, cwd: &Path) -> Result<ScanConfig> {
    let mut config = ScanConfig::default();
    let first = match manifest_path {
        Some(p) => {
            if !p.is_file() {
                bail!("{}: manifest not found", p.display());
            }
            Some(p.to_path_buf())
        }
        None => cwd
            .ancestors()
            .map(|d| d.join("Cargo.toml"))
            .find(|p| p.is_file()),
    };
    let Some(first) = first else {
        return Ok(config);
    };
    let mut manifest = first;
    loop {
        let has_workspace = read_manifest(&manifest, &mut config)?;
        if has_workspace {
            break;
        }
        // A package manifest: its workspace root, if any, is further up.
        let parent = manifest.parent().and_then(Path::parent);
        match parent.and_then(|d| {
            d.ancestors()
                .map(|a| a.join("Cargo.toml"))
                .find(|p| p.is_file())
        }) {
            Some(next) => manifest = next,
            None => break,
        }
    }
    config.ignore.sort();
    config.ignore.dedup();
    Ok(config)
}

/// Adds the manifest's settings to `config`; true when it is a workspace root.
fn read_manifest(path: &Path, config: &mut ScanConfig) -> Result<bool> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let doc: toml::Table = text
        .parse()
        .with_context(|| format!("{}: not valid TOML", path.display()))?;
    let mut found = false;
    for table in ["workspace", "package"] {
        let scan = doc
            .get(table)
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("det"))
            .and_then(|d| d.get("scan"));
        let Some(scan) = scan else { continue };
        found = true;
        if let Some(ignore) = scan.get("ignore") {
            let list = ignore.as_array().with_context(|| {
                format!(
                    "{}: [{table}.metadata.det.scan] ignore must be a list of rule ids",
                    path.display()
                )
            })?;
            for item in list {
                let id = item.as_str().with_context(|| {
                    format!(
                        "{}: [{table}.metadata.det.scan] ignore must hold strings, found {item}",
                        path.display()
                    )
                })?;
                if det_common::rules::by_id(id).is_none() {
                    bail!(
                        "{}: [{table}.metadata.det.scan] ignore names unknown rule `{id}`",
                        path.display()
                    );
                }
                config.ignore.push(id.to_owned());
            }
        }
    }
    if found {
        config.sources.push(path.to_path_buf());
    }
    Ok(doc.contains_key("workspace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_and_workspace_settings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[workspace]\nmembers=[\"a\"]\n[workspace.metadata.det.scan]\nignore = [\"elf-comment\"]\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(
            dir.path().join("a/Cargo.toml"),
            "[package]\nname=\"a\"\n[package.metadata.det.scan]\nignore = [\"uuid-string\", \"elf-comment\"]\n",
        )
        .unwrap();
        let c = load(None, &dir.path().join("a")).unwrap();
        assert_eq!(c.ignore, ["elf-comment", "uuid-string"]);
        assert_eq!(c.sources.len(), 2);
    }

    #[test]
    fn unknown_rules_and_bad_types_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Cargo.toml");
        std::fs::write(
            &p,
            "[workspace.metadata.det.scan]\nignore = [\"no-such-rule\"]\n",
        )
        .unwrap();
        let e = load(Some(&p), dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("Cargo.toml") && e.contains("no-such-rule"),
            "{e}"
        );
        std::fs::write(
            &p,
            "[workspace.metadata.det.scan]\nignore = \"elf-comment\"\n",
        )
        .unwrap();
        let e = load(Some(&p), dir.path()).unwrap_err().to_string();
        assert!(e.contains("must be a list"), "{e}");
        std::fs::write(&p, "not toml [").unwrap();
        let e = load(Some(&p), dir.path()).unwrap_err().to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn no_manifest_is_no_settings() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(None, dir.path()).unwrap(), ScanConfig::default());
    }
}
