//! Status lines in cargo's style: a right-aligned bold green verb (`   Canonical root
//! /det/src (mount namespace)`), `warning:` in yellow, `note:`; colour only on a terminal
//! and never with NO_COLOR; nothing but warnings and errors with `--quiet`.

use std::io::{IsTerminal, Write};

pub struct Status {
    color: bool,
    quiet: bool,
}

impl Status {
    /// `color`: cargo's `--color` value (`auto`, `always`, `never`).
    pub fn new(color: Option<&str>, quiet: bool) -> Status {
        let auto = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let color = match color {
            Some("always") => true,
            Some("never") => false,
            _ => auto,
        };
        Status { color, quiet }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// `{verb:>12} {message}`, as cargo prints `   Compiling foo`.
    pub fn status(&self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let verb = self.paint("1;32", &format!("{verb:>12}"));
        let _ = writeln!(std::io::stderr().lock(), "{verb} {message}");
    }

    pub fn warn(&self, message: &str) {
        let w = self.paint("1;33", "warning");
        let _ = writeln!(std::io::stderr().lock(), "{w}: {message}");
    }

    pub fn note(&self, message: &str) {
        let n = self.paint("1;36", "note");
        let _ = writeln!(std::io::stderr().lock(), "{n}: {message}");
    }

    /// A `note:` that `--quiet` hides (details of a status line).
    pub fn detail(&self, message: &str) {
        if !self.quiet {
            self.note(message);
        }
    }

    pub fn error(&self, message: &str) {
        let e = self.paint("1;31", "error");
        let _ = writeln!(std::io::stderr().lock(), "{e}: {message}");
    }
}
