//! PE images and COFF objects: the COFF header TimeDateStamp, the debug directory (CodeView
//! RSDS PDB path and GUID, REPRO entry, entry time stamps), the export and resource
//! directory time stamps, and the string-bearing sections through [`patterns`]. Parsed by
//! hand from the headers so that a truncated file still yields what comes before the cut.
//!
//! With `/Brepro` (lld-link, MSVC) the time stamps and the PDB GUID are a hash of the
//! output and a REPRO debug entry says so: then none of them is a finding.

use super::{Reader, ScanOptions, iso_time, parse_error, patterns, unparsed};
use crate::finding::{Finding, Location};
use crate::rules;

const IMAGE_DEBUG_TYPE_CODEVIEW: u32 = 2;
const IMAGE_DEBUG_TYPE_REPRO: u32 = 16;
/// IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE.
const SCN_CODE: u32 = 0x20 | 0x2000_0000;

struct Section<'a> {
    /// Borrowed from the file when it is valid UTF-8 (an import library has 20 000 members
    /// of five sections each: no copy of their names).
    name: std::borrow::Cow<'a, str>,
    vaddr: u32,
    vsize: u32,
    raw_ptr: u32,
    raw_size: u32,
    flags: u32,
}

/// The file offset of an RVA, with the section holding it and the offset inside it.
fn rva_to_file<'s, 'a>(
    sections: &'s [Section<'a>],
    rva: u32,
) -> Option<(usize, &'s Section<'a>, usize)> {
    sections.iter().find_map(|s| {
        let span = s.vsize.max(s.raw_size);
        (rva >= s.vaddr && rva - s.vaddr < span && rva - s.vaddr < s.raw_size).then(|| {
            let inner = (rva - s.vaddr) as usize;
            (s.raw_ptr as usize + inner, s, inner)
        })
    })
}

pub(super) fn detect_image(
    data: &[u8],
    loc: &Location,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    let r = Reader {
        d: data,
        big: false,
    };
    let Some(pe) = r.u32(0x3c).map(|o| o as usize) else {
        return unparsed(data, loc, "PE", "truncated DOS header", opts, out);
    };
    if r.bytes(pe, 4) != Some(b"PE\0\0") {
        return unparsed(data, loc, "PE", "no PE signature", opts, out);
    }
    let coff = pe + 4;
    let Some(header) = coff_header(r, coff) else {
        return unparsed(data, loc, "PE", "truncated COFF header", opts, out);
    };
    let opt = coff + 20;
    let dirs = match r.u16(opt) {
        Some(0x10b) => Some((opt + 92, opt + 96)),
        Some(0x20b) => Some((opt + 108, opt + 112)),
        _ => None,
    };
    let dir = |i: u32| -> Option<(u32, u32)> {
        let (count_at, first) = dirs?;
        if i >= r.u32(count_at)? {
            return None;
        }
        let at = first + 8 * i as usize;
        let (rva, size) = (r.u32(at)?, r.u32(at + 4)?);
        (rva != 0 && size != 0).then_some((rva, size))
    };
    let (sections, sections_cut) =
        section_table(r, opt + header.opt_size, header.nsections, header.strtab);

    // The debug directory decides how the time stamps are judged.
    let mut repro = false;
    let mut stamps = Vec::new();
    let mut codeview = None;
    if let Some((rva, size)) = dir(6) {
        match rva_to_file(&sections, rva) {
            Some((at, sec, inner)) => {
                for k in 0..(size as usize / 28).min(64) {
                    let e = at + 28 * k;
                    let (Some(ts), Some(ty), Some(ptr)) =
                        (r.u32(e + 4), r.u32(e + 12), r.u32(e + 24))
                    else {
                        out.push(parse_error(loc, "PE: debug directory is cut off; the entries before the cut were scanned"));
                        break;
                    };
                    if ty == IMAGE_DEBUG_TYPE_REPRO {
                        repro = true;
                    }
                    stamps.push((
                        ts,
                        loc.at(sec.name.clone(), Some((inner + 28 * k + 4) as u64)),
                        "debug directory entry",
                    ));
                    if ty == IMAGE_DEBUG_TYPE_CODEVIEW {
                        codeview = Some(ptr as usize);
                    }
                }
            }
            None => out.push(parse_error(
                loc,
                format!("PE: debug directory RVA 0x{rva:x} lies in no section"),
            )),
        }
    }
    for (i, what) in [(0, "export directory"), (2, "resource directory")] {
        if let Some((rva, _)) = dir(i)
            && let Some((at, sec, inner)) = rva_to_file(&sections, rva)
            && let Some(ts) = r.u32(at + 4)
        {
            stamps.push((ts, loc.at(sec.name.clone(), Some(inner as u64 + 4)), what));
        }
    }

    if !repro {
        header_stamp(header.timestamp, coff, loc, opts, out);
        for (ts, l, what) in stamps {
            if ts != 0 && !opts.is_normalized_time(ts as i64) {
                out.push(Finding::new(
                    rules::get("pe-directory-timestamp"),
                    l,
                    format!("{what} TimeDateStamp {ts} ({})", iso_time(ts as i64)),
                ));
            }
        }
        out.push(Finding::new(
            rules::get("pe-no-repro"),
            loc.at("debug directory", None),
            if dir(6).is_some() {
                "no IMAGE_DEBUG_TYPE_REPRO entry"
            } else {
                "no debug directory"
            },
        ));
    }
    if let Some(ptr) = codeview {
        rsds(r, ptr, &sections, repro, loc, out);
    }
    dwarf(data, loc, opts, out);
    scan_sections(r, &sections, loc, opts, out);
    if let Some(cut) = sections_cut {
        out.push(parse_error(loc, format!("PE: {cut}")));
    }
}

/// A COFF object (.obj): its header time stamp and its sections' strings.
pub(super) fn detect_coff(data: &[u8], loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    let r = Reader {
        d: data,
        big: false,
    };
    let Some(header) = coff_header(r, 0) else {
        return unparsed(data, loc, "COFF", "truncated header", opts, out);
    };
    header_stamp(header.timestamp, 0, loc, opts, out);
    let (sections, cut) = section_table(r, 20 + header.opt_size, header.nsections, header.strtab);
    if may_have_long_section_names(r, 20 + header.opt_size, header.nsections) {
        dwarf(data, loc, opts, out);
    }
    scan_sections(r, &sections, loc, opts, out);
    if let Some(cut) = cut {
        out.push(parse_error(loc, format!("COFF: {cut}")));
    }
}

struct CoffHeader {
    nsections: usize,
    timestamp: u32,
    opt_size: usize,
    /// File offset of the COFF string table (long section names), if there is one.
    strtab: Option<usize>,
}

fn coff_header(r: Reader, at: usize) -> Option<CoffHeader> {
    let nsections = r.u16(at + 2)? as usize;
    let timestamp = r.u32(at + 4)?;
    let symptr = r.u32(at + 8)? as usize;
    let nsyms = r.u32(at + 12)? as usize;
    let opt_size = r.u16(at + 16)? as usize;
    let strtab = (symptr != 0).then(|| symptr.saturating_add(nsyms.saturating_mul(18)));
    Some(CoffHeader {
        nsections,
        timestamp,
        opt_size,
        strtab,
    })
}

fn header_stamp(ts: u32, coff: usize, loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    if ts != 0 && !opts.is_normalized_time(ts as i64) {
        out.push(Finding::new(
            rules::get("pe-timestamp"),
            loc.at("COFF header", Some(coff as u64 + 4)),
            format!("TimeDateStamp {ts} ({})", iso_time(ts as i64)),
        ));
    }
}

/// The section table at `at`; long names (`/123`) are looked up in the string table.
fn section_table<'a>(
    r: Reader<'a>,
    at: usize,
    n: usize,
    strtab: Option<usize>,
) -> (Vec<Section<'a>>, Option<String>) {
    let mut v = Vec::with_capacity(n.min(96));
    for i in 0..n.min(96) {
        let s = at + 40 * i;
        let (Some(raw_name), Some(vsize), Some(vaddr), Some(raw_size), Some(raw_ptr), Some(flags)) = (
            r.bytes(s, 8),
            r.u32(s + 8),
            r.u32(s + 12),
            r.u32(s + 16),
            r.u32(s + 20),
            r.u32(s + 36),
        ) else {
            return (
                v,
                Some(format!(
                    "section table is cut off at section {i} of {n}; the sections before it were scanned"
                )),
            );
        };
        let short = lossy(&raw_name[..raw_name.iter().position(|&b| b == 0).unwrap_or(8)]);
        let name = short
            .strip_prefix('/')
            .and_then(|n| n.parse::<usize>().ok())
            .zip(strtab)
            .and_then(|(n, t)| r.cstr(t + n, 256))
            .map(lossy)
            .unwrap_or(short);
        v.push(Section {
            name,
            vaddr,
            vsize,
            raw_ptr,
            raw_size,
            flags,
        });
    }
    (v, None)
}

/// `b` as text, borrowed when it is UTF-8 (checked first: the lossy conversion's own walk
/// is slower, and this runs for every section of every member of an import library).
fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => s.into(),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// CodeView PDB 7.0: `RSDS`, GUID, age, NUL-terminated PDB path.
fn rsds(
    r: Reader,
    ptr: usize,
    sections: &[Section],
    repro: bool,
    loc: &Location,
    out: &mut Vec<Finding>,
) {
    if r.bytes(ptr, 4) != Some(b"RSDS") {
        return;
    }
    // Locate by section when the file offset falls in one, for a section-relative offset.
    let place = |file_off: usize| -> Location {
        sections
            .iter()
            .find(|s| {
                (s.raw_ptr as usize..s.raw_ptr as usize + s.raw_size as usize).contains(&file_off)
            })
            .map(|s| loc.at(s.name.clone(), Some((file_off - s.raw_ptr as usize) as u64)))
            .unwrap_or_else(|| loc.at("debug data", Some(file_off as u64)))
    };
    if let Some(g) = r.bytes(ptr + 4, 16)
        && !repro
    {
        let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
        let d2 = u16::from_le_bytes([g[4], g[5]]);
        let d3 = u16::from_le_bytes([g[6], g[7]]);
        let guid = format!(
            "{d1:08X}-{d2:04X}-{d3:04X}-{}-{}",
            hex::encode_upper(&g[8..10]),
            hex::encode_upper(&g[10..16])
        );
        out.push(Finding::new(
            rules::get("pe-pdb-guid"),
            place(ptr + 4),
            guid,
        ));
    }
    if let Some(path) = r.cstr(ptr + 24, 1024)
        && patterns::is_absolute_build_path(path)
    {
        out.push(Finding::new(
            rules::get("pe-pdb-path"),
            place(ptr + 24),
            String::from_utf8_lossy(path).into_owned(),
        ));
    }
}

fn scan_sections(
    r: Reader,
    sections: &[Section],
    loc: &Location,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    for s in sections {
        if s.flags & SCN_CODE != 0 || s.raw_size == 0 || s.name == ".reloc" || s.name == ".pdata" {
            continue;
        }
        let start = s.raw_ptr as usize;
        let end = start.saturating_add(s.raw_size as usize);
        match r.d.get(start..end.min(r.d.len())) {
            Some(bytes) => {
                if end > r.d.len() {
                    out.push(parse_error(&loc.at(s.name.clone(), None), format!("section content {start}..{end} is cut off at {}; the part present was scanned", r.d.len())));
                }
                patterns::detect_in(bytes, loc, Some(&s.name), 0, opts, out);
            }
            None => out.push(parse_error(
                &loc.at(s.name.clone(), None),
                format!("section content at {start}..{end} lies past the end of the file"),
            )),
        }
    }
}

/// Whether a section of the COFF section table at `at` may have a long name (`/4`, `//AAAAAA`:
/// an offset into the string table), or the table cannot be read whole. DWARF needs one:
/// `.debug_info` is longer than the 8 bytes a section header holds. An import library's
/// 20 000 members have none, and need not be parsed a second time to say so.
fn may_have_long_section_names(r: Reader, at: usize, n: usize) -> bool {
    (0..n).any(|i| {
        at.checked_add(40 * i)
            .and_then(|s| r.bytes(s, 8))
            .is_none_or(|name| name[0] == b'/')
    })
}

/// DWARF in `.debug_*` sections (MinGW gcc, clang with -gdwarf), when the object crate can
/// read the file.
fn dwarf(data: &[u8], loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    if let Ok(file) = object::File::parse(data) {
        super::dwarf::detect(&file, loc, opts, out);
    }
}
