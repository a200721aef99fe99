//! What every det binary needs to work both as a cargo subcommand and on its own.

use std::ffi::OsString;

/// The arguments clap should parse for the cargo subcommand `name` (e.g. `det-scan`).
///
/// Cargo runs `cargo-det-scan det-scan ARGS` for `cargo det-scan ARGS`; a user running the
/// binary directly types `cargo-det-scan ARGS`. The subcommand name is inserted in the
/// second case, so one clap definition (`bin_name = "cargo"`) serves both.
pub fn cargo_subcommand_args(
    name: &str,
    args: impl IntoIterator<Item = OsString>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_none_or(|a| a != name) {
        args.insert(1.min(args.len()), OsString::from(name));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn inserts_the_subcommand_only_when_missing() {
        let want = os(&["cargo-det-scan", "det-scan", "--format", "json"]);
        assert_eq!(
            cargo_subcommand_args("det-scan", os(&["cargo-det-scan", "--format", "json"])),
            want
        );
        assert_eq!(cargo_subcommand_args("det-scan", want.clone()), want);
        assert_eq!(
            cargo_subcommand_args("det-scan", os(&["cargo-det-scan"])),
            os(&["cargo-det-scan", "det-scan"])
        );
        assert_eq!(
            cargo_subcommand_args("det-scan", Vec::new()),
            os(&["det-scan"])
        );
    }
}
