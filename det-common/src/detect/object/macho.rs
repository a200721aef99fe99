//! Thin Mach-O: LC_UUID, the debug map (N_OSO object paths and their mtimes, N_SO source
//! paths) and the string-bearing sections through [`patterns`]. Parsed by hand from the
//! load commands so that a truncated file still yields everything before the cut.

use super::{Reader, ScanOptions, iso_time, parse_error, patterns, unparsed};
use crate::finding::{Finding, Location};
use crate::rules;

const LC_SEGMENT: u32 = 0x1;
const LC_SYMTAB: u32 = 0x2;
const LC_SEGMENT_64: u32 = 0x19;
const LC_UUID: u32 = 0x1b;
const N_SO: u8 = 0x64;
const N_OSO: u8 = 0x66;
/// Section types without file content: S_ZEROFILL, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL.
const ZEROFILL: [u32; 3] = [0x1, 0xc, 0x12];
/// S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS: code, not scanned.
const CODE: u32 = 0x8000_0000 | 0x400;

pub(super) fn detect(data: &[u8], loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    let Some(magic) = data.get(..4) else {
        return unparsed(data, loc, "Mach-O", "shorter than its magic", opts, out);
    };
    let (is64, big) = match magic {
        [0xcf, 0xfa, 0xed, 0xfe] => (true, false),
        [0xfe, 0xed, 0xfa, 0xcf] => (true, true),
        [0xce, 0xfa, 0xed, 0xfe] => (false, false),
        [0xfe, 0xed, 0xfa, 0xce] => (false, true),
        _ => return unparsed(data, loc, "Mach-O", "bad magic", opts, out),
    };
    // DWARF (in objects and dSYMs: `__DWARF,__debug_info`), when the object crate can read
    // the file; first, so its findings win over pattern matches of the same strings.
    if let Ok(file) = object::File::parse(data) {
        super::dwarf::detect(&file, loc, opts, out);
    }
    let r = Reader { d: data, big };
    let header_len = if is64 { 32 } else { 28 };
    let (Some(ncmds), Some(_)) = (r.u32(16), r.u32(20)) else {
        return unparsed(data, loc, "Mach-O", "truncated header", opts, out);
    };
    let mut off = header_len;
    let mut symtab = None;
    let mut truncated = None;
    for i in 0..ncmds.min(1 << 16) {
        let (Some(cmd), Some(size)) = (r.u32(off), r.u32(off + 4)) else {
            truncated = Some(format!(
                "load command {i} of {ncmds} is cut off at offset {off}"
            ));
            break;
        };
        let size = size as usize;
        if size < 8 || off + size > data.len() {
            truncated = Some(format!(
                "load command {i} (0x{cmd:x}) at offset {off} has a bad size {size}"
            ));
            break;
        }
        match cmd {
            LC_UUID => {
                if let Some(u) = r.bytes(off + 8, 16) {
                    out.push(Finding::new(
                        rules::get("macho-uuid"),
                        loc.field_at("LC_UUID", Some(off as u64 + 8)),
                        uuid_text(u),
                    ));
                }
            }
            LC_SYMTAB => {
                symtab = Some((
                    r.u32(off + 8),
                    r.u32(off + 12),
                    r.u32(off + 16),
                    r.u32(off + 20),
                ))
            }
            LC_SEGMENT_64 | LC_SEGMENT => segment(r, off, cmd == LC_SEGMENT_64, loc, opts, out),
            _ => {}
        }
        off += size;
    }
    if let Some((Some(symoff), Some(nsyms), Some(stroff), Some(strsize))) = symtab {
        debug_map(
            r,
            is64,
            symoff as usize,
            nsyms as usize,
            stroff as usize,
            strsize as usize,
            loc,
            opts,
            out,
        );
    }
    if let Some(t) = truncated {
        out.push(parse_error(
            loc,
            format!("Mach-O: {t}; the load commands before it were scanned"),
        ));
    }
}

/// The sections of one segment command at `off`: their content through [`patterns`].
fn segment(
    r: Reader,
    off: usize,
    is64: bool,
    loc: &Location,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    let (nsects_at, first, step) = if is64 { (64, 72, 80) } else { (48, 56, 68) };
    let Some(nsects) = r.u32(off + nsects_at) else {
        return;
    };
    for k in 0..nsects.min(1 << 12) as usize {
        let s = off + first + k * step;
        let Some(names) = r.bytes(s, 32) else { return };
        let (size, offset, flags) = if is64 {
            (r.u64(s + 40), r.u32(s + 48).map(u64::from), r.u32(s + 64))
        } else {
            (
                r.u32(s + 36).map(u64::from),
                r.u32(s + 40).map(u64::from),
                r.u32(s + 56),
            )
        };
        let (Some(size), Some(offset), Some(flags)) = (size, offset, flags) else {
            return;
        };
        if ZEROFILL.contains(&(flags & 0xff)) || flags & CODE != 0 || size == 0 {
            continue;
        }
        let name = format!(
            "{},{}",
            fixed_name(&names[16..32]),
            fixed_name(&names[..16])
        );
        let start = offset as usize;
        let end = start.saturating_add(size as usize);
        let Some(bytes) = r.d.get(start..end.min(r.d.len())) else {
            out.push(parse_error(
                &loc.at(name, None),
                format!("section content at {start}..{end} lies past the end of the file"),
            ));
            continue;
        };
        if end > r.d.len() {
            out.push(parse_error(
                &loc.at(name.clone(), None),
                format!(
                    "section content {start}..{end} is cut off at {}; the part present was scanned",
                    r.d.len()
                ),
            ));
        }
        patterns::detect_in(bytes, loc, Some(&name), 0, opts, out);
    }
}

fn fixed_name(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.iter().position(|&b| b == 0).unwrap_or(b.len())]).into_owned()
}

/// The symbol table's stabs: N_OSO (object path, mtime in n_value) and N_SO (source path).
#[allow(clippy::too_many_arguments)]
fn debug_map(
    r: Reader,
    is64: bool,
    symoff: usize,
    nsyms: usize,
    stroff: usize,
    strsize: usize,
    loc: &Location,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    let entry = if is64 { 16 } else { 12 };
    let strings_end = stroff.saturating_add(strsize).min(r.d.len());
    for i in 0..nsyms.min(r.d.len() / entry) {
        let e = symoff + i * entry;
        let (Some(strx), Some(ty)) = (r.u32(e), r.bytes(e + 4, 1)) else {
            out.push(parse_error(
                &loc.at("symbol table", None),
                format!("symbol {i} of {nsyms} is cut off; the symbols before it were scanned"),
            ));
            return;
        };
        let ty = ty[0];
        if ty != N_OSO && ty != N_SO {
            continue;
        }
        let name_at = stroff + strx as usize;
        let name = if name_at < strings_end {
            Reader {
                d: &r.d[..strings_end],
                big: r.big,
            }
            .cstr(name_at, 4096)
            .unwrap_or_default()
        } else {
            &[][..]
        };
        // Built only for a finding that is kept (see `ScanOptions::push_capped`).
        let text = || String::from_utf8_lossy(name).into_owned();
        if ty == N_SO {
            if patterns::is_absolute_build_path(name) {
                opts.push_capped(out, "debug-path", || {
                    Finding::new(
                        rules::get("debug-path"),
                        loc.field_at("N_SO", Some(name_at as u64)),
                        text(),
                    )
                });
            }
            continue;
        }
        if patterns::is_absolute_build_path(name) {
            opts.push_capped(out, "macho-oso-path", || {
                Finding::new(
                    rules::get("macho-oso-path"),
                    loc.field_at("N_OSO", Some(name_at as u64)),
                    text(),
                )
            });
        }
        let mtime = if is64 {
            r.u64(e + 8)
        } else {
            r.u32(e + 8).map(u64::from)
        };
        if let Some(t) = mtime
            && t != 0
            && !opts.is_normalized_time(t as i64)
        {
            opts.push_capped(out, "macho-oso-mtime", || {
                Finding::new(
                    rules::get("macho-oso-mtime"),
                    loc.field_at("N_OSO", Some(e as u64 + 8)),
                    format!("{}: mtime {t} ({})", text(), iso_time(t as i64)),
                )
            });
        }
    }
}

fn uuid_text(u: &[u8]) -> String {
    let h = hex::encode_upper(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
