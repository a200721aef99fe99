//! Status lines in cargo's style on stderr: a right-aligned bold green verb, then the
//! message; colour only on a terminal and never with NO_COLOR; nothing with `--quiet`.

use std::io::{IsTerminal, Write};

pub struct Status {
    color: bool,
    quiet: bool,
    terminal: bool,
}

impl Status {
    pub fn new(quiet: bool) -> Status {
        let terminal = std::io::stderr().is_terminal();
        Status {
            color: det_common::report::color_wanted(terminal),
            quiet,
            terminal,
        }
    }

    /// A spinner with the elapsed time while a build runs, on a terminal only (off a
    /// terminal the status lines before and after it are the progress).
    pub fn spinner(&self, message: &str) -> Option<indicatif::ProgressBar> {
        if self.quiet || !self.terminal {
            return None;
        }
        let pb = indicatif::ProgressBar::new_spinner();
        let style = indicatif::ProgressStyle::with_template(
            "{spinner:.green.bold} {prefix:>10.green.bold} {msg} [{elapsed}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        pb.set_style(style);
        pb.set_prefix("Building");
        pb.set_message(det_common::report::escape_terminal(message).into_owned());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(pb)
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
