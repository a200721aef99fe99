//! DWARF (versions 2 to 5, through gimli): the compilation directory and the name of each
//! compilation unit, and the line tables' include directories and file names. Each string
//! is located where its bytes are (`.debug_str`, `.debug_line_str`, or inline in
//! `.debug_info` / `.debug_line`), so the offset points at the evidence.

use super::elf::SectionData;
use super::{ScanOptions, parse_error, patterns};
use crate::finding::{Finding, Location, Name};
use crate::rules;
use gimli::{EndianSlice, RunTimeEndian, SectionId};
use object::{Object, ObjectSection};
use std::collections::BTreeMap;

type Slice<'a> = EndianSlice<'a, RunTimeEndian>;

/// Returns the sections it read, by section index, so that the caller scans their content
/// from the same buffers instead of decompressing them again.
pub(super) fn detect<'d>(
    file: &object::File<'d>,
    loc: &Location,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) -> BTreeMap<usize, SectionData<'d>> {
    if file.section_by_name(".debug_info").is_none() {
        return BTreeMap::new();
    }
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let ids = [
        SectionId::DebugAbbrev,
        SectionId::DebugAddr,
        SectionId::DebugInfo,
        SectionId::DebugLine,
        SectionId::DebugLineStr,
        SectionId::DebugStr,
        SectionId::DebugStrOffsets,
        SectionId::DebugRngLists,
        SectionId::DebugRanges,
    ];
    // Each section's content and its name as the other detectors give it (`.debug_str`,
    // `.zdebug_str`, `__DWARF,__debug_str`), so that findings of the same bytes coincide.
    let mut loaded: BTreeMap<SectionId, (String, usize, SectionData<'d>)> = BTreeMap::new();
    for id in ids {
        let Some(section) = file.section_by_name(id.name()) else {
            continue;
        };
        let name = section.name().unwrap_or(id.name());
        let name = match section.segment_name() {
            Ok(Some(seg)) if file.format() == object::BinaryFormat::MachO => {
                format!("{seg},{name}")
            }
            _ => name.to_owned(),
        };
        let index = section.index().0;
        match super::elf::section_data(&section, opts) {
            Ok(b) => {
                loaded.insert(id, (name, index, b));
            }
            Err(e) => {
                out.push(parse_error(
                    &loc.at(name.as_str(), None),
                    format!("DWARF: {}", e.message),
                ));
                if let Some(b) = e.partial {
                    loaded.insert(id, (name, index, b));
                }
            }
        }
    }
    let dwarf = gimli::Dwarf::load(|id| -> Result<Slice, gimli::Error> {
        Ok(EndianSlice::new(
            loaded.get(&id).map_or(&[][..], |c| &*c.2),
            endian,
        ))
    });
    let Ok(dwarf) = dwarf else {
        return into_sections(loaded);
    };
    // Each section's name made once and shared by its findings.
    let names: Vec<(Name, &[u8])> = loaded
        .values()
        .map(|(name, _, buf)| (Name::from(name.as_str()), &**buf))
        .collect();
    let debug_info = Name::from(SectionId::DebugInfo.name());
    let locate = |s: &[u8]| -> (Name, Option<u64>) {
        let p = s.as_ptr() as usize;
        for (name, buf) in &names {
            let b = buf.as_ptr() as usize;
            if p >= b && p + s.len() <= b + buf.len() {
                return (name.clone(), Some((p - b) as u64));
            }
        }
        (debug_info.clone(), None)
    };
    // A unit or line table per string: the file decides how many, so past the file's cap
    // findings are counted, not built (`ScanOptions::push_capped`).
    let mut report = |rule: &'static str, s: &[u8], out: &mut Vec<Finding>| {
        opts.push_capped(out, rule, || {
            let (section, offset) = locate(s);
            let evidence = String::from_utf8_lossy(&s[..s.len().min(1024)]).into_owned();
            let mut f = Finding::new(rules::get(rule), loc.at(section, offset), String::new());
            if rule != "elf-comment" {
                // The directory to remap, named (a cargo home, a checkout, a build root).
                f = f.with_fix(crate::detect::fixes::path_fix(
                    &evidence,
                    crate::detect::calibrate::Content::Compiled,
                    crate::rules::Severity::High,
                    opts,
                ));
            }
            f.evidence = evidence;
            f
        });
    };
    if let Err(e) = walk(&dwarf, &mut report, out) {
        out.push(parse_error(
            &loc.at(".debug_info", None),
            format!("DWARF: {e}; the units before the error were scanned"),
        ));
    }
    drop(dwarf);
    into_sections(loaded)
}

fn into_sections<'d>(
    loaded: BTreeMap<SectionId, (String, usize, SectionData<'d>)>,
) -> BTreeMap<usize, SectionData<'d>> {
    loaded
        .into_values()
        .map(|(_, index, data)| (index, data))
        .collect()
}

/// A compiler's name and version (`GNU C17 12.2.0 ...`, `clang LLVM (rustc version ...)`).
/// In a relocatable object the string offsets are not yet relocated and may point at
/// another string: only one that reads like a producer is taken as one.
fn looks_like_producer(s: &[u8]) -> bool {
    !s.is_empty()
        && s[0].is_ascii_alphabetic()
        && s.windows(3)
            .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
}

fn walk<'a>(
    dwarf: &gimli::Dwarf<Slice<'a>>,
    report: &mut impl FnMut(&'static str, &[u8], &mut Vec<Finding>),
    out: &mut Vec<Finding>,
) -> gimli::Result<()> {
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        // DW_AT_producer names the compiler (`clang LLVM (rustc version 1.83.0 ...)`, a
        // clang built at `/checkout/...`): toolchain identity, the same for everyone with that
        // toolchain, reported like `.comment`; paths inside it are not the build's.
        let mut entries = unit.entries();
        if let Some(root) = entries.next_dfs()?
            && let Some(value) = root.attr_value(gimli::DW_AT_producer)
            && let Ok(s) = dwarf.attr_string(&unit, value)
            && looks_like_producer(&s)
        {
            report("elf-comment", &s, out);
        }
        if let Some(dir) = unit.comp_dir {
            // rustc's remapped standard library (`/rustc/<commit>`) is the same everywhere.
            if patterns::is_absolute_build_path(&dir) {
                report("debug-comp-dir", &dir, out);
            }
        }
        if let Some(name) = unit.name
            && patterns::is_absolute_build_path(&name)
        {
            report("debug-path", &name, out);
        }
        let Some(program) = unit.line_program.as_ref() else {
            continue;
        };
        let header = program.header();
        for dir in header.include_directories() {
            if let Ok(s) = dwarf.attr_string(&unit, *dir)
                && patterns::is_absolute_build_path(&s)
            {
                report("debug-path", &s, out);
            }
        }
        for file in header.file_names() {
            if let Ok(s) = dwarf.attr_string(&unit, file.path_name())
                && patterns::is_absolute_build_path(&s)
            {
                report("debug-path", &s, out);
            }
        }
    }
    Ok(())
}
