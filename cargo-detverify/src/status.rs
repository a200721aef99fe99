//! Status lines in cargo's style on stderr: a right-aligned bold green verb, then the
//! message; colour only on a terminal and never with NO_COLOR; nothing with `--quiet`.

use std::io::{IsTerminal, Write};

pub struct Status {
    color: bool,
    quiet: bool,
}

impl Status {
    pub fn new(quiet: bool) -> Status {
        Status {
            color: det_common::report::color_wanted(std::io::stderr().is_terminal()),
            quiet,
        }
    }

    /// `{verb:>12} {message}`, as cargo prints `   Compiling foo`.
    pub fn status(&self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let verb = if self.color {
            format!("\x1b[1;32m{verb:>12}\x1b[0m")
        } else {
            format!("{verb:>12}")
        };
        let msg = det_common::report::escape_terminal(message);
        let _ = writeln!(std::io::stderr().lock(), "{verb} {msg}");
    }
}
