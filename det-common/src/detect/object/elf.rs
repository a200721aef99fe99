//! ELF: the build-id note, `.comment`, GCC LTO section names, DWARF (in [`super::dwarf`]),
//! and the string-bearing sections through [`patterns`].

use super::{ScanOptions, parse_error, patterns, unparsed};
use crate::finding::{Finding, Location};
use crate::rules;
use object::{CompressionFormat, Object, ObjectSection, SectionKind};
use std::borrow::Cow;

pub(super) fn detect(data: &[u8], loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    let file = match object::File::parse(data) {
        Ok(f) => f,
        Err(e) => return unparsed(data, loc, "ELF", e, opts, out),
    };
    build_id(&file, loc, out);
    lto_sections(&file, loc, out);
    // DWARF first, so its precise findings win over pattern matches of the same strings.
    super::dwarf::detect(&file, loc, opts, out);
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
        if skip_section(name, section.kind()) {
            continue;
        }
        let bytes = match section_data(&section, opts) {
            Ok(b) => b,
            Err(e) => {
                out.push(parse_error(&loc.at(name, None), e));
                continue;
            }
        };
        if name == ".comment" {
            comment(&bytes, loc, out);
        }
        patterns::detect_in(&bytes, loc, Some(name), 0, opts, out);
    }
}

/// Sections that hold no strings worth scanning: code, zero-fill, symbol, relocation and
/// hash tables, unwind info.
fn skip_section(name: &str, kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::Text | SectionKind::UninitializedData | SectionKind::UninitializedTls
    ) || matches!(
        name,
        ".symtab"
            | ".dynsym"
            | ".gnu.hash"
            | ".hash"
            | ".eh_frame"
            | ".eh_frame_hdr"
            | ".gcc_except_table"
            | ".init_array"
            | ".fini_array"
            | ".got"
            | ".got.plt"
    ) || name.starts_with(".rela")
        || name.starts_with(".rel.")
        || name.starts_with(".gnu.version")
        || name.starts_with(".gnu.lto_")
        || name.is_empty()
}

/// A section's content, decompressed within the limits when it is compressed
/// (SHF_COMPRESSED or `.zdebug_*`).
pub(crate) fn section_data<'d>(
    section: &object::Section<'d, '_>,
    opts: &ScanOptions,
) -> Result<Cow<'d, [u8]>, String> {
    let c = section
        .compressed_data()
        .map_err(|e| format!("section data unreadable: {e}"))?;
    if c.format != CompressionFormat::None && c.uncompressed_size > opts.limits.max_decompressed {
        return Err(format!(
            "compressed section claims {} bytes decompressed, over the limit of {}; not scanned",
            c.uncompressed_size, opts.limits.max_decompressed
        ));
    }
    c.decompress()
        .map_err(|e| format!("compressed section could not be decompressed: {e}"))
}

/// NT_GNU_BUILD_ID: its kind from its length.
///
/// `--build-id=uuid` (GNU ld, gold, lld) writes 16 bytes read from the system's random
/// source; GNU ld 2.40 does not set the RFC 4122 version/variant bits (checked: three links
/// gave `85a80f75912ffd7d...`, `c410b6b62f15d5c2...`, `60ba18207949f079...`), so the bytes
/// alone cannot tell it from `--build-id=md5`, which also writes 16 bytes. A 16-byte id is
/// reported as random: uuid is the common reason for one, md5 is rarely chosen, and the fix
/// (sha1) is harmless either way. 20 bytes is sha1 (the default of GNU ld and gold), 8 is
/// lld's fast hash (xxhash), 32 is sha256: content hashes.
fn build_id(file: &object::File, loc: &Location, out: &mut Vec<Finding>) {
    let Ok(Some(id)) = file.build_id() else {
        return;
    };
    let (section, offset) = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Note || s.name().is_ok_and(|n| n.starts_with(".note")))
        .find_map(|s| {
            let d = s.data().ok()?;
            let at = d.windows(id.len()).position(|w| w == id)?;
            Some((s.name().ok()?.to_owned(), Some(at as u64)))
        })
        .unwrap_or_else(|| (".note.gnu.build-id".to_owned(), None));
    let hex = hex::encode(id);
    let (rule, kind) = match id.len() {
        16 => ("elf-build-id-random", "uuid or md5"),
        20 => ("elf-build-id", "sha1"),
        8 => ("elf-build-id", "xxhash"),
        32 => ("elf-build-id", "sha256"),
        _ => ("elf-build-id", "hash"),
    };
    out.push(Finding::new(
        rules::get(rule),
        loc.at(section, offset),
        format!("{kind} {hex}"),
    ));
}

/// `.gnu.lto_<name>.<hex>`: GCC appends a number to LTO section names. Without
/// -frandom-seed it is a random 64-bit value (printed as up to 16 hex digits); with
/// -frandom-seed=S it is the CRC32 of S (at most 8 digits), stable across compiles. So a
/// suffix longer than 8 digits means a random seed (a random value fits 8 digits one time
/// in 2^32). One finding per file, at the first such section.
fn lto_sections(file: &object::File, loc: &Location, out: &mut Vec<Finding>) {
    let mut random = file.sections().filter_map(|s| {
        let name = s.name().ok()?;
        let rest = name.strip_prefix(".gnu.lto_")?;
        let suffix = &rest[rest.rfind('.')? + 1..];
        (suffix.len() > 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit())).then(|| name.to_owned())
    });
    if let Some(first) = random.next() {
        let more = random.count();
        let evidence = if more == 0 {
            first.clone()
        } else {
            format!("{first} (and {more} more sections with the same suffix)")
        };
        out.push(Finding::new(
            rules::get("gcc-lto-random-section"),
            loc.at(first, None),
            evidence,
        ));
    }
}

/// Each NUL-separated string of `.comment` (`GCC: (Debian 12.2.0-14) 12.2.0`).
fn comment(bytes: &[u8], loc: &Location, out: &mut Vec<Finding>) {
    let mut off = 0;
    for s in bytes.split(|&b| b == 0) {
        let text = String::from_utf8_lossy(s);
        let text = text.trim();
        if !text.is_empty() {
            out.push(Finding::new(
                rules::get("elf-comment"),
                loc.at(".comment", Some(off as u64)),
                text.chars().take(512).collect::<String>(),
            ));
        }
        off += s.len() + 1;
    }
}
