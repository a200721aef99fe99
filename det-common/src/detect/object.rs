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
use crate::rules;
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
    out.extend(found);
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
        Some(&rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())])
    }
}
