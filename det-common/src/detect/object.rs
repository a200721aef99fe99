//! Detectors for object files: ELF (with its DWARF), thin Mach-O, PE images and COFF
//! objects. Each format module reads header fields (build ids, UUIDs, time stamps, debug
//! directories) and hands the string-bearing sections to [`patterns`] with their names, so
//! every finding names the section and the offset inside it.
//!
//! Locations: a finding in a section's content has `section` = the section name (`.rodata`,
//! `__TEXT,__cstring`, `.rdata`; the name of the section's node among the object's
//! children, see `artifact::object_sections`) and `offset` = the byte offset inside the
//! section (for a compressed ELF section, inside its decompressed content). A Mach-O load
//! command or stab (`LC_UUID`, `N_OSO`, `N_SO`) is a `field` with `offset` = its offset in
//! the file (member); a PE header structure (`COFF header`) is a `section` with the field's
//! offset in the file. A file that cannot be parsed (fully) gives a `parse-error` finding
//! and whatever could be read is still scanned — with no structure at all, the raw bytes go
//! through [`patterns`].

mod dwarf;
mod elf;
mod macho;
mod pe;

pub(crate) use elf::section_data;

use super::{ScanOptions, patterns};
use crate::artifact::{Format, Node};
use crate::finding::{Finding, Location};
use crate::rules::{self, Category};
use std::collections::BTreeSet;

pub(crate) fn detect(node: &Node, loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    let mut found = Vec::new();
    match node.format {
        Format::Elf => elf::detect(&node.data, loc, opts, &mut found),
        Format::MachO => macho::detect(&node.data, loc, opts, &mut found),
        Format::Pe => pe::detect_image(&node.data, loc, opts, &mut found),
        Format::Coff => pe::detect_coff(&node.data, loc, opts, &mut found),
        _ => {}
    }
    // The structural detectors run first; a pattern match of the same bytes (the path a
    // DW_AT_comp_dir points at, found again in .debug_str) adds nothing.
    let mut seen = BTreeSet::new();
    found.retain(|f| {
        f.location.offset.is_none() || seen.insert((f.location.section.clone(), f.location.offset))
    });
    // Toolchain identity (`.comment`, DWARF producers) is reported as `elf-comment`: a path
    // or date inside it (rust-lld's `Linker: LLD 22.1.2 (/checkout/src/llvm-project/llvm
    // ...)`, a clang built in `/home/me/llvm-project`) is the toolchain's own build, the same
    // for everyone with that toolchain. Only the options a producer records (GCC's
    // `-fprofile-dir=/tmp/b/prof`) are the build's own, and stay findings.
    let identity: Vec<(Option<crate::finding::Name>, u64, String)> = found
        .iter()
        .filter(|f| f.rule.id == "elf-comment")
        .filter_map(|f| {
            Some((
                f.location.section.clone(),
                f.location.offset?,
                f.evidence.clone(),
            ))
        })
        .collect();
    if !identity.is_empty() {
        found.retain(|f| {
            let (Some(o), true) = (
                f.location.offset,
                matches!(
                    f.category(),
                    Category::Path | Category::Timestamp | Category::User
                ),
            ) else {
                return true;
            };
            !identity.iter().any(|(s, at, text)| {
                *s == f.location.section
                    && (*at..=*at + text.len() as u64).contains(&o)
                    && !in_option(text, (o - at) as usize)
            })
        });
        // One identity finding per distinct string: a producer repeated in every
        // compilation unit says nothing new.
        let mut strings = BTreeSet::new();
        found.retain(|f| f.rule.id != "elf-comment" || strings.insert(f.evidence.clone()));
    }
    out.extend(found);
}

/// Whether byte `at` of a producer string lies in a recorded command-line option (a
/// space-separated token starting with `-`), rather than in the toolchain's own name.
fn in_option(text: &str, at: usize) -> bool {
    let at = at.min(text.len());
    let start = text.as_bytes()[..at]
        .iter()
        .rposition(|&b| b == b' ')
        .map_or(0, |i| i + 1);
    text.as_bytes().get(start) == Some(&b'-')
}

fn parse_error(loc: &Location, message: impl Into<String>) -> Finding {
    Finding::new(rules::get("parse-error"), loc.clone(), message)
}

/// When nothing of the structure could be read: report why, then scan the raw bytes.
fn unparsed(
    data: &[u8],
    loc: &Location,
    what: &str,
    err: impl std::fmt::Display,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    out.push(parse_error(
        loc,
        format!("{what}: {err}; scanned the raw bytes instead"),
    ));
    patterns::detect(data, loc, opts, out);
}

/// A Unix time stamp as ISO 8601, for evidence.
fn iso_time(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        Err(_) => t.to_string(),
    }
}

/// Little/big-endian reads that never panic.
#[derive(Clone, Copy)]
struct Reader<'a> {
    d: &'a [u8],
    big: bool,
}

impl<'a> Reader<'a> {
    fn bytes(&self, off: usize, n: usize) -> Option<&'a [u8]> {
        self.d.get(off..off.checked_add(n)?)
    }
    fn u16(&self, off: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes(off, 2)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, off: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes(off, 4)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, off: usize) -> Option<u64> {
        let b: [u8; 8] = self.bytes(off, 8)?.try_into().ok()?;
        Some(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
    /// The NUL-terminated string at `off` (to the end of the data when unterminated),
    /// at most `max` bytes.
    fn cstr(&self, off: usize, max: usize) -> Option<&'a [u8]> {
        let rest = self.d.get(off..)?;
        let rest = &rest[..rest.len().min(max)];
        Some(&rest[..memchr::memchr(0, rest).unwrap_or(rest.len())])
    }
}
