//! A realistic report shared by the report_* tests: containers, sections, offsets, a specific
//! fix, non-ASCII and hostile (control, bidi, markup) artifact strings, and errors.

use det_common::report::{Report, ToolInfo};
use det_common::rules;
use det_common::{Finding, Location};

/// Evidence an attacker controls: an ANSI colour sequence, a bidi override, a carriage return,
/// a bell, a C1 CSI and markup.
pub const HOSTILE: &str = "\x1b[31mred\u{202e}txt\r\x07\u{9b}2J<script>alert(1)</script>";

pub fn findings() -> Vec<Finding> {
    let whl = Location::file("dist/x.whl");
    let so = whl.member("pkg/_speedups.so");
    vec![
        Finding::new(
            rules::get("absolute-path"),
            so.at(".debug_str", Some(0x1a2b)),
            "/home/alice/src/x.c",
        ),
        Finding::new(
            rules::get("zip-entry-mtime"),
            whl.member("pkg/__init__.py").at("local header", Some(0x1e)),
            "2026-11-23 01:02:04",
        ),
        Finding::new(
            rules::get("elf-comment"),
            so.at(".comment", Some(0)),
            "GCC: (Debian 12.2.0-14) 12.2.0 — ünïcödé",
        ),
        Finding::new(
            rules::get("date-time-macro"),
            Location::file("build/app").at(".rodata", Some(0x40)),
            "Nov 23 2026",
        ),
        Finding::new(
            rules::get("uuid-string"),
            Location::file("build/app").at(".rodata", Some(0x80)),
            HOSTILE,
        ),
        Finding::new(
            rules::get("gzip-mtime"),
            Location::file("dist/x.tar.gz").at("MTIME", Some(4)),
            "1700000000",
        ),
        Finding::new(
            rules::get("cmd-missing-prefix-map"),
            Location {
                file: "logs/build.log".into(),
                container: vec![],
                offset: Some(0x10),
                ..Location::default()
            },
            "gcc -g -c x.c",
        )
        .with_fix("add -ffile-prefix-map=/work/ü b=. to this gcc command"),
        Finding::new(
            rules::get("cmd-native-cpu"),
            Location::file("logs/build.log").line(12),
            "cc -march=native -c y.c",
        ),
        Finding::new(
            rules::get("parse-error"),
            Location::file("in/weird name #1 %.bin"),
            "truncated ELF header",
        ),
        Finding::new(
            rules::get("elf-build-id-random"),
            Location::file("/abs/out/lib.so").at(".note.gnu.build-id", Some(0x10)),
            "1f3a",
        ),
    ]
}

pub fn report() -> Report {
    let mut r = Report::empty(ToolInfo::new("det-scan", "0.1.0"));
    r.findings = findings();
    r.push_error("secret/unreadable.so", "Permission denied (os error 13)");
    r.push_error("bad\x1b]0;pwned\x07name.o", "vanished during the scan");
    r.files_scanned = 7;
    r
}
