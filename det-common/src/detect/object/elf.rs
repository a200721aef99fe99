//! ELF: the build-id note, `.comment`, GCC LTO section names, DWARF (in [`super::dwarf`]),
//! and the string-bearing sections through [`patterns`].

use super::{ScanOptions, parse_error, patterns, unparsed};
use crate::artifact::compress::{
    BoundedBuf, InflateError, SectionCompression, human_size, inflate_section,
};
use crate::finding::{Finding, Location};
use crate::rules;
use object::{CompressionFormat, Object, ObjectSection, SectionKind};

pub(super) fn detect(data: &[u8], loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    let file = match object::File::parse(data) {
        Ok(f) => f,
        Err(e) => return unparsed(data, loc, "ELF", e, opts, out),
    };
    build_id(&file, loc, out);
    lto_sections(&file, loc, out);
    // DWARF first, so its precise findings win over pattern matches of the same strings.
    // The sections it decompressed are scanned from the same buffers below.
    let mut dwarf = super::dwarf::detect(&file, loc, opts, out);
    let mut scanned: Vec<(u64, u64, String)> = Vec::new();
    let mut overlapping: Vec<(String, String)> = Vec::new();
    let mut sections: Vec<_> = file
        .sections()
        .filter_map(|section| {
            let name = section.name().ok()?.to_owned();
            if skip_section(&name, section.kind()) {
                return None;
            }
            Some((section.file_range(), section.index().0, name, section))
        })
        .collect();
    // A section is scanned once per byte range: section headers that share (or overlap) the
    // bytes of another are not read again, so 60k headers over one compressed region cost
    // one decompression, not 60k.
    sections.sort_by_key(|(range, index, _, _)| (*range, *index));
    let mut reach: Option<(u64, usize)> = None;
    for (range, _, name, section) in &sections {
        if let Some((offset, size)) = *range
            && size > 0
        {
            let end = offset.saturating_add(size);
            match reach {
                Some((max_end, owner)) if offset < max_end => {
                    overlapping.push((name.clone(), scanned[owner].2.clone()));
                    continue;
                }
                _ => {}
            }
            if reach.is_none_or(|(max_end, _)| end > max_end) {
                reach = Some((end, scanned.len()));
            }
            scanned.push((offset, end, name.clone()));
        }
        let bytes = match dwarf.remove(&section.index().0) {
            Some(b) => b,
            None => match section_data(section, opts) {
                Ok(b) => b,
                Err(e) => {
                    out.push(parse_error(&loc.at(name.as_str(), None), e.message));
                    match e.partial {
                        Some(b) => b,
                        None => continue,
                    }
                }
            },
        };
        if name == ".comment" {
            comment(&bytes, loc, out);
        }
        patterns::detect_in(&bytes, loc, Some(name), 0, opts, out);
    }
    if let Some((first, other)) = overlapping.first() {
        let n = overlapping.len();
        out.push(parse_error(
            &loc.at(first.as_str(), None),
            format!(
                "{n} section header{} overlap the bytes of another section (`{first}` overlaps `{other}`); each byte range was scanned once",
                if n == 1 { "" } else { "s" }
            ),
        ));
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

/// A section's bytes: a slice of the file, or its decompressed content (holding its share of
/// the scan's memory budget).
pub(crate) enum SectionData<'d> {
    Raw(&'d [u8]),
    Decompressed(BoundedBuf),
}

impl<'d> SectionData<'d> {
    /// The bytes as a `Cow`: borrowed from the file, or the decompressed buffer (whose
    /// memory reservation is then given back).
    pub(crate) fn into_cow(self) -> std::borrow::Cow<'d, [u8]> {
        match self {
            SectionData::Raw(d) => std::borrow::Cow::Borrowed(d),
            SectionData::Decompressed(b) => std::borrow::Cow::Owned(b.into_vec()),
        }
    }
}

impl std::ops::Deref for SectionData<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SectionData::Raw(d) => d,
            SectionData::Decompressed(b) => b.as_slice(),
        }
    }
}

/// Why a section could not be read (whole): the message, and what could be decompressed.
pub(crate) struct SectionError<'d> {
    pub message: String,
    pub partial: Option<SectionData<'d>>,
}

/// A section's content, decompressed within the limits when it is compressed
/// (SHF_COMPRESSED or `.zdebug_*`): the scan's memory budget, the size limit and the ratio
/// limit, growing with what the data produces rather than with the size the header claims.
pub(crate) fn section_data<'d>(
    section: &object::Section<'d, '_>,
    opts: &ScanOptions,
) -> Result<SectionData<'d>, SectionError<'d>> {
    let c = section.compressed_data().map_err(|e| SectionError {
        message: format!("section data unreadable: {e}"),
        partial: None,
    })?;
    let format = match c.format {
        CompressionFormat::None => return Ok(SectionData::Raw(c.data)),
        CompressionFormat::Zlib => SectionCompression::Zlib,
        CompressionFormat::Zstandard => SectionCompression::Zstd,
        other => {
            return Err(SectionError {
                message: format!("section compressed with {other:?}, which det does not read"),
                partial: None,
            });
        }
    };
    match inflate_section(c.data, format, &opts.limits) {
        Ok(out) if out.len() as u64 == c.uncompressed_size => Ok(SectionData::Decompressed(out)),
        Ok(out) => Err(SectionError {
            message: format!(
                "compressed section claims {} bytes decompressed, holds {}; what it holds was scanned",
                c.uncompressed_size,
                out.len()
            ),
            partial: Some(SectionData::Decompressed(out)),
        }),
        Err(InflateError::Limit(msg, partial)) => Err(SectionError {
            message: format!(
                "compressed section cut at {} of output: {msg}; the part before the cut was scanned",
                human_size(partial.len() as u64)
            ),
            partial: Some(SectionData::Decompressed(partial)),
        }),
        Err(InflateError::Corrupt(msg, partial)) => Err(SectionError {
            message: format!("compressed section could not be decompressed: {msg}"),
            partial: Some(SectionData::Decompressed(partial)),
        }),
    }
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
    if id.is_empty() {
        // A note with no descriptor (`descsz` 0) names no build: nothing to judge.
        out.push(parse_error(
            &loc.at(".note.gnu.build-id", None),
            "build-id note with an empty descriptor",
        ));
        return;
    }
    let (section, offset) = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Note || s.name().is_ok_and(|n| n.starts_with(".note")))
        .find_map(|s| {
            let d = s.data().ok()?;
            let at = memchr::memmem::find(d, id)?;
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
