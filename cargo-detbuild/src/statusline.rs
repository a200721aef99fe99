//! Status lines in cargo's style: a right-aligned verb (green, or yellow for a warning, red
//! for an error, bold), then the message; colour only on a terminal and never with NO_COLOR.

use std::io::{IsTerminal, Write};

#[derive(Clone, Copy)]
pub(crate) enum Tone {
    Good,
    Warn,
    Bad,
}

pub(crate) fn status(tone: Tone, verb: &str, message: &str) {
    let color = det_common::report::color_wanted(std::io::stderr().is_terminal());
    let mut err = std::io::stderr().lock();
    let line = if color {
        let code = match tone {
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "31",
        };
        format!("\x1b[1;{code}m{verb:>12}\x1b[0m {message}\n")
    } else {
        format!("{verb:>12} {message}\n")
    };
    let _ = err.write_all(line.as_bytes());
}
