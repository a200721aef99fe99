//! Two object files (ELF, Mach-O, PE, COFF) compared: header fields and the segment table,
//! sections matched by name (their table fields and content), symbols, the build-id,
//! LC_UUID and N_OSO, PE time stamps, checksum and CodeView record, and DWARF values.
//!
//! Derived differences: the build-id, LC_UUID, the PE checksum, the GNU debuglink CRC and
//! the code signature follow from any content difference; addresses and file offsets (in
//! headers, the section table, symbols) follow from a section whose size changed; bytes of
//! DWARF and symbol sections without a cause of their own (offsets into a string table that
//! changed) follow from the string difference.

use super::{Cause, DiffKind, Side, Walker, cause, seq};
use crate::artifact::{Meta, MetaKey, Node};
use crate::finding::Location;
use object::{Object, ObjectSection, ObjectSymbol};
use std::collections::{BTreeMap, BTreeSet};

/// A header field: where it lives (`ELF header`, `segment 2 (LOAD)`, `LC_UUID`), its name,
/// its value as text and how it is judged.
struct Field {
    part: String,
    name: String,
    value: String,
    judge: Judge,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Judge {
    /// A root difference unless explained.
    Root,
    /// Follows from the content (a hash or checksum over it).
    Content,
    /// Follows from a layout change (an offset, an address, a size, a count).
    Layout,
    /// A time stamp: rule given.
    Time(&'static str),
    /// A random id: rule given.
    Random(&'static str),
    /// A path string: classified by the detectors.
    Text,
}

fn field(part: &str, name: &str, value: String, judge: Judge) -> Field {
    Field {
        part: part.into(),
        name: name.into(),
        value,
        judge,
    }
}

/// Little/big-endian reads that never panic.
#[derive(Clone, Copy)]
struct Rd<'a> {
    d: &'a [u8],
    big: bool,
}

impl Rd<'_> {
    fn uint(&self, off: usize, n: usize) -> Option<u64> {
        let b = self.d.get(off..off.checked_add(n)?)?;
        let mut x = 0u64;
        if self.big {
            for &c in b {
                x = x << 8 | u64::from(c);
            }
        } else {
            for &c in b.iter().rev() {
                x = x << 8 | u64::from(c);
            }
        }
        Some(x)
    }
}

fn hexv(v: Option<u64>) -> String {
    v.map_or("(none)".into(), |v| format!("{v:#x}"))
}

fn elf_fields(d: &[u8]) -> Vec<Field> {
    let mut out = Vec::new();
    let (Some(&class), Some(&data)) = (d.get(4), d.get(5)) else {
        return out;
    };
    let r = Rd { d, big: data == 2 };
    let is64 = class == 2;
    let w = if is64 { 8 } else { 4 };
    let (entry, phoff, shoff) = (24, 24 + w, 24 + 2 * w);
    let rest = 24 + 3 * w;
    let h = "ELF header";
    use Judge::*;
    out.push(field(h, "e_type", hexv(r.uint(16, 2)), Root));
    out.push(field(h, "e_machine", hexv(r.uint(18, 2)), Root));
    out.push(field(h, "e_entry", hexv(r.uint(entry, w)), Layout));
    out.push(field(h, "e_phoff", hexv(r.uint(phoff, w)), Layout));
    out.push(field(h, "e_shoff", hexv(r.uint(shoff, w)), Layout));
    out.push(field(h, "e_flags", hexv(r.uint(rest, 4)), Root));
    let phentsize = r.uint(rest + 6, 2).unwrap_or(0) as usize;
    let phnum = r.uint(rest + 8, 2).unwrap_or(0) as usize;
    out.push(field(h, "e_phnum", phnum.to_string(), Layout));
    out.push(field(h, "e_shnum", hexv(r.uint(rest + 12, 2)), Layout));
    out.push(field(h, "e_shstrndx", hexv(r.uint(rest + 14, 2)), Layout));
    let ph = r.uint(phoff, w).unwrap_or(0) as usize;
    if phentsize == 0 {
        return out;
    }
    for i in 0..phnum.min(256) {
        let at = ph + i * phentsize;
        let ty = r.uint(at, 4);
        let part = format!("segment {i} ({})", seg_type(ty.unwrap_or(0)));
        let names: &[(&str, usize, usize)] = if is64 {
            &[
                ("p_flags", 4, 4),
                ("p_offset", 8, 8),
                ("p_vaddr", 16, 8),
                ("p_filesz", 32, 8),
                ("p_memsz", 40, 8),
                ("p_align", 48, 8),
            ]
        } else {
            &[
                ("p_offset", 4, 4),
                ("p_vaddr", 8, 4),
                ("p_filesz", 16, 4),
                ("p_memsz", 20, 4),
                ("p_flags", 24, 4),
                ("p_align", 28, 4),
            ]
        };
        out.push(field(&part, "p_type", hexv(ty), Layout));
        for &(n, o, len) in names {
            let j = if n == "p_flags" { Root } else { Layout };
            out.push(field(&part, n, hexv(r.uint(at + o, len)), j));
        }
    }
    out
}

fn seg_type(t: u64) -> &'static str {
    match t {
        1 => "LOAD",
        2 => "DYNAMIC",
        3 => "INTERP",
        4 => "NOTE",
        6 => "PHDR",
        7 => "TLS",
        0x6474_e550 => "GNU_EH_FRAME",
        0x6474_e551 => "GNU_STACK",
        0x6474_e552 => "GNU_RELRO",
        0x6474_e553 => "GNU_PROPERTY",
        _ => "other",
    }
}

const LC_SEGMENT: u64 = 0x1;
const LC_SYMTAB: u64 = 0x2;
const LC_SEGMENT_64: u64 = 0x19;
const LC_UUID: u64 = 0x1b;
const LC_CODE_SIGNATURE: u64 = 0x1d;

fn macho_fields(d: &[u8]) -> Vec<Field> {
    use Judge::*;
    let mut out = Vec::new();
    let (is64, big) = match d.get(..4) {
        Some([0xcf, 0xfa, 0xed, 0xfe]) => (true, false),
        Some([0xfe, 0xed, 0xfa, 0xcf]) => (true, true),
        Some([0xce, 0xfa, 0xed, 0xfe]) => (false, false),
        Some([0xfe, 0xed, 0xfa, 0xce]) => (false, true),
        _ => return out,
    };
    let r = Rd { d, big };
    let h = "Mach-O header";
    out.push(field(h, "cputype", hexv(r.uint(4, 4)), Root));
    out.push(field(h, "filetype", hexv(r.uint(12, 4)), Root));
    out.push(field(h, "ncmds", hexv(r.uint(16, 4)), Layout));
    out.push(field(h, "sizeofcmds", hexv(r.uint(20, 4)), Layout));
    out.push(field(h, "flags", hexv(r.uint(24, 4)), Root));
    let ncmds = r.uint(16, 4).unwrap_or(0);
    let mut off = if is64 { 32 } else { 28 };
    let mut symtab = None;
    for i in 0..ncmds.min(4096) {
        let (Some(cmd), Some(size)) = (r.uint(off, 4), r.uint(off + 4, 4)) else {
            break;
        };
        let size = size as usize;
        if size < 8 || off + size > d.len() {
            break;
        }
        match cmd {
            LC_UUID => {
                let u = d
                    .get(off + 8..off + 24)
                    .map(hex::encode)
                    .unwrap_or_default();
                out.push(field("LC_UUID", "uuid", u, Content));
            }
            LC_SEGMENT | LC_SEGMENT_64 => {
                let name = fixed(d.get(off + 8..off + 24).unwrap_or_default());
                let part = format!("segment {name}");
                let w = if cmd == LC_SEGMENT_64 { 8 } else { 4 };
                let base = off + 24;
                out.push(field(&part, "vmaddr", hexv(r.uint(base, w)), Layout));
                out.push(field(&part, "vmsize", hexv(r.uint(base + w, w)), Layout));
                out.push(field(
                    &part,
                    "fileoff",
                    hexv(r.uint(base + 2 * w, w)),
                    Layout,
                ));
                out.push(field(
                    &part,
                    "filesize",
                    hexv(r.uint(base + 3 * w, w)),
                    Layout,
                ));
            }
            LC_SYMTAB => {
                symtab = Some((
                    r.uint(off + 8, 4),
                    r.uint(off + 12, 4),
                    r.uint(off + 16, 4),
                    r.uint(off + 20, 4),
                ));
                out.push(field(
                    "LC_SYMTAB",
                    "nsyms",
                    hexv(r.uint(off + 12, 4)),
                    Layout,
                ));
                out.push(field(
                    "LC_SYMTAB",
                    "strsize",
                    hexv(r.uint(off + 20, 4)),
                    Layout,
                ));
            }
            LC_CODE_SIGNATURE => {
                let (o, s) = (
                    r.uint(off + 8, 4).unwrap_or(0) as usize,
                    r.uint(off + 12, 4).unwrap_or(0) as usize,
                );
                let sig = d
                    .get(o..o.saturating_add(s))
                    .map(|b| hex::encode(&blake3::hash(b).as_bytes()[..8]))
                    .unwrap_or_default();
                out.push(field("LC_CODE_SIGNATURE", "signature (hash)", sig, Content));
            }
            _ => {
                let bytes = d
                    .get(off..off + size)
                    .map(|b| hex::encode(&b[..b.len().min(64)]))
                    .unwrap_or_default();
                out.push(field(
                    &format!("load command {i} (0x{cmd:x})"),
                    "bytes",
                    bytes,
                    Root,
                ));
            }
        }
        off += size;
    }
    // The debug map: N_OSO object paths and their mtimes, N_SO source paths.
    if let Some((Some(symoff), Some(nsyms), Some(stroff), Some(strsize))) = symtab {
        let entry = if is64 { 16 } else { 12 };
        let strings = d
            .get(stroff as usize..(stroff + strsize).min(d.len() as u64) as usize)
            .unwrap_or_default();
        let (mut oso, mut so) = (0, 0);
        for i in 0..(nsyms as usize).min(d.len() / entry) {
            let e = symoff as usize + i * entry;
            let (Some(strx), Some(ty)) = (r.uint(e, 4), d.get(e + 4)) else {
                break;
            };
            if *ty != 0x66 && *ty != 0x64 {
                continue;
            }
            let name = strings
                .get(strx as usize..)
                .map(|s| &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())])
                .unwrap_or_default();
            let name = String::from_utf8_lossy(name).into_owned();
            if *ty == 0x66 {
                let part = format!("N_OSO {oso}");
                out.push(field(&part, "path", name, Text));
                let mtime = r.uint(e + 8, if is64 { 8 } else { 4 }).unwrap_or(0);
                out.push(field(
                    &part,
                    "mtime",
                    mtime.to_string(),
                    Time("macho-oso-mtime"),
                ));
                oso += 1;
            } else {
                out.push(field(&format!("N_SO {so}"), "path", name, Text));
                so += 1;
            }
        }
    }
    out
}

fn fixed(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]).into_owned()
}

fn pe_fields(d: &[u8], image: bool) -> Vec<Field> {
    use Judge::*;
    let mut out = Vec::new();
    let r = Rd { d, big: false };
    let coff = if image {
        match r.uint(0x3c, 4) {
            Some(p) if d.get(p as usize..p as usize + 4) == Some(b"PE\0\0") => p as usize + 4,
            _ => return out,
        }
    } else {
        0
    };
    let h = "COFF header";
    out.push(field(h, "Machine", hexv(r.uint(coff, 2)), Root));
    out.push(field(
        h,
        "NumberOfSections",
        hexv(r.uint(coff + 2, 2)),
        Layout,
    ));
    out.push(field(
        h,
        "TimeDateStamp",
        r.uint(coff + 4, 4).unwrap_or(0).to_string(),
        Time("pe-timestamp"),
    ));
    out.push(field(
        h,
        "PointerToSymbolTable",
        hexv(r.uint(coff + 8, 4)),
        Layout,
    ));
    out.push(field(
        h,
        "NumberOfSymbols",
        hexv(r.uint(coff + 12, 4)),
        Layout,
    ));
    out.push(field(
        h,
        "Characteristics",
        hexv(r.uint(coff + 18, 2)),
        Root,
    ));
    if !image {
        return out;
    }
    let opt = coff + 20;
    let opt_size = r.uint(coff + 16, 2).unwrap_or(0) as usize;
    let o = "optional header";
    out.push(field(o, "SizeOfCode", hexv(r.uint(opt + 4, 4)), Layout));
    out.push(field(
        o,
        "AddressOfEntryPoint",
        hexv(r.uint(opt + 16, 4)),
        Layout,
    ));
    out.push(field(o, "SizeOfImage", hexv(r.uint(opt + 56, 4)), Layout));
    out.push(field(o, "CheckSum", hexv(r.uint(opt + 64, 4)), Content));
    let (count_at, first) = match r.uint(opt, 2) {
        Some(0x10b) => (opt + 92, opt + 96),
        Some(0x20b) => (opt + 108, opt + 112),
        _ => return out,
    };
    let nsec = r.uint(coff + 2, 2).unwrap_or(0) as usize;
    let sec_table = opt + opt_size;
    let rva_to_file = |rva: u64| -> Option<usize> {
        (0..nsec.min(96)).find_map(|i| {
            let s = sec_table + 40 * i;
            let (vsize, vaddr, raw_size, raw_ptr) = (
                r.uint(s + 8, 4)?,
                r.uint(s + 12, 4)?,
                r.uint(s + 16, 4)?,
                r.uint(s + 20, 4)?,
            );
            (rva >= vaddr && rva - vaddr < vsize.max(raw_size) && rva - vaddr < raw_size)
                .then(|| (raw_ptr + rva - vaddr) as usize)
        })
    };
    if r.uint(count_at, 4).unwrap_or(0) > 6
        && let (Some(rva), Some(size)) = (r.uint(first + 48, 4), r.uint(first + 52, 4))
        && rva != 0
        && let Some(at) = rva_to_file(rva)
    {
        for k in 0..(size as usize / 28).min(64) {
            let e = at + 28 * k;
            let ty = r.uint(e + 12, 4).unwrap_or(0);
            let part = format!("debug directory entry {k} (type {ty})");
            out.push(field(
                &part,
                "TimeDateStamp",
                r.uint(e + 4, 4).unwrap_or(0).to_string(),
                Time("pe-directory-timestamp"),
            ));
            if ty == 2
                && let Some(p) = r.uint(e + 24, 4)
            {
                let p = p as usize;
                if d.get(p..p + 4) == Some(b"RSDS") {
                    let guid = d.get(p + 4..p + 20).map(hex::encode).unwrap_or_default();
                    out.push(field("CodeView", "GUID", guid, Random("pe-pdb-guid")));
                    out.push(field(
                        "CodeView",
                        "Age",
                        r.uint(p + 20, 4).unwrap_or(0).to_string(),
                        Root,
                    ));
                    let path = d
                        .get(p + 24..)
                        .map(|s| fixed(&s[..s.len().min(4096)]))
                        .unwrap_or_default();
                    out.push(field("CodeView", "PDB path", path, Text));
                }
            }
        }
    }
    out
}

/// Sections whose content is a list of NUL-terminated strings.
fn is_string_table(n: &Node) -> bool {
    let name = n.name.as_str();
    let elf_strings = n.meta_int(&MetaKey::Flags).is_some_and(|f| f & 0x20 != 0)
        && n.meta_int(&MetaKey::Type).is_some_and(|t| t == 1);
    elf_strings
        || matches!(
            name,
            ".strtab" | ".dynstr" | ".shstrtab" | ".debug_str" | ".debug_line_str" | ".comment"
        )
        || name.ends_with("__cstring")
        || name.ends_with("__debug_str")
        || name.ends_with("__debug_line_str")
        || n.meta_int(&MetaKey::Type) == Some(3) && name.starts_with('.')
}

fn is_debug(name: &str) -> bool {
    name.starts_with(".debug_")
        || name.starts_with(".zdebug_")
        || name.contains("__debug_")
        || name.starts_with(".eh_frame")
        || name.contains("__eh_frame")
        || name.contains("__compact_unwind")
}

fn is_symbols(name: &str) -> bool {
    matches!(
        name,
        ".symtab"
            | ".dynsym"
            | ".gnu.hash"
            | ".hash"
            | ".gnu.version"
            | ".dynamic"
            | ".got"
            | ".got.plt"
            | ".rela.dyn"
            | ".rela.plt"
            | ".rel.dyn"
            | ".rel.plt"
            | ".data.rel.ro"
            | ".init_array"
            | ".fini_array"
    ) || name.starts_with(".rela")
        || name.starts_with(".rel.")
}

pub(super) fn diff_object(w: &mut Walker, a: &Node, b: &Node, loc: &Location) {
    let first = w.diffs.len();
    let limits = w.opts.scan.limits.clone();
    let collect = |n: &Node| -> Result<Vec<Node>, String> {
        let mut v = Vec::new();
        for c in n.children(&limits) {
            match c {
                Ok(c) => v.push(c),
                Err(e) if e.name.is_empty() => return Err(e.message),
                Err(_) => {}
            }
        }
        Ok(v)
    };
    let (sa, sb) = match (collect(a), collect(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            w.error(loc, format!("{e}; compared as bytes"));
            w.bytes(&a.data, &b.data, loc, None);
            return;
        }
    };
    let key = |v: &[Node]| -> Vec<(String, usize)> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        v.iter()
            .map(|n| {
                let k = seen.entry(n.name.clone()).or_default();
                *k += 1;
                (n.name.clone(), *k)
            })
            .collect()
    };
    let (ka, kb) = (key(&sa), key(&sb));
    let ib: BTreeMap<&(String, usize), usize> =
        kb.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let ia: BTreeMap<&(String, usize), usize> =
        ka.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let label = |k: &(String, usize)| {
        if k.1 > 1 {
            format!("{} #{}", k.0, k.1)
        } else {
            k.0.clone()
        }
    };

    // Sections added and removed.
    let mut layout_root: Option<usize> = None;
    for (k, &i) in &ia {
        if !ib.contains_key(k) {
            let id = w.push(
                DiffKind::Removed,
                &loc.at(label(k), None),
                format!("section only in A ({} bytes)", sa[i].data.len()),
                Side::default(),
                Side::default(),
                None,
            );
            layout_root = layout_root.or(id);
        }
    }
    for (k, &i) in &ib {
        if !ia.contains_key(k) {
            let id = w.push(
                DiffKind::Added,
                &loc.at(label(k), None),
                format!("section only in B ({} bytes)", sb[i].data.len()),
                Side::default(),
                Side::default(),
                None,
            );
            layout_root = layout_root.or(id);
        }
    }

    // Content of the common sections, in A's order.
    let mut content_roots: Vec<usize> = Vec::new();
    let mut string_roots: Vec<usize> = Vec::new();
    let mut pending: Vec<(usize, &'static str)> = Vec::new(); // (diff id, which root kind)
    let mut symbols_differ = false;
    let mut dwarf_differs = false;
    let mut table: Vec<(&Node, &Node, String)> = Vec::new();
    for k in &ka {
        let Some(&j) = ib.get(k) else { continue };
        let (x, y) = (&sa[ia[k]], &sb[j]);
        let name = label(k);
        table.push((x, y, name.clone()));
        if super::bytes_equal(&x.data, &y.data) {
            continue;
        }
        let sloc = loc.at(name.clone(), None);
        let size_changed = x.data.len() != y.data.len();
        let raw = x.name.as_str();
        if is_debug(raw) {
            dwarf_differs = true;
        }
        if raw == ".note.gnu.build-id" {
            let (ba, bb) = (build_id(&x.data), build_id(&y.data));
            let id = w.push(
                DiffKind::Field,
                &sloc.field("build-id"),
                format!("build-id: {ba} vs {bb}"),
                Side {
                    value: Some(ba),
                    ..Side::default()
                },
                Side {
                    value: Some(bb),
                    ..Side::default()
                },
                None,
            );
            if let Some(id) = id {
                pending.push((id, "the build-id is a hash of the content, which differs"));
            }
            continue;
        }
        if raw == ".gnu_debuglink" {
            let id = w.push(
                DiffKind::Field,
                &sloc.field("CRC"),
                "GNU debuglink CRC of the separate debug file differs".into(),
                Side::default(),
                Side::default(),
                None,
            );
            if let Some(id) = id {
                pending.push((
                    id,
                    "the debuglink CRC is computed over the debug file, whose content differs",
                ));
            }
            continue;
        }
        if raw == ".comment" {
            // The toolchain's identity strings ("GCC: (Debian 12.2.0-14) 12.2.0").
            let ids = w.strings(&x.data, &y.data, &sloc);
            for &id in &ids {
                let d = &mut w.diffs[id];
                if d.cause.is_none() && d.derived_from.is_none() {
                    let (va, vb) = (
                        d.a.value.clone().unwrap_or_default(),
                        d.b.value.clone().unwrap_or_default(),
                    );
                    d.cause = Some(cause::toolchain(&va, &vb));
                }
            }
            content_roots.extend(ids);
            continue;
        }
        if x.meta.contains_key(&MetaKey::other("compression")) {
            // Compressed debug sections: compare what they hold.
            let (da, db) = (
                decompress(a, &x.name, &w.opts.scan),
                decompress(b, &y.name, &w.opts.scan),
            );
            if let (Some(da), Some(db)) = (da, db) {
                let ids = if is_string_table(x) || raw.contains("str") {
                    w.strings(&da, &db, &sloc)
                } else {
                    w.bytes(&da, &db, &sloc, Some("decompressed"))
                };
                dwarf_differs = true;
                classify_ids(
                    w,
                    &ids,
                    &mut content_roots,
                    &mut string_roots,
                    size_changed,
                    true,
                );
                continue;
            }
        }
        // Same size: byte ranges are the most precise answer (two patched bytes are two
        // bytes); a string table that grew is compared string by string.
        if is_string_table(x) && size_changed {
            let ids = w.strings(&x.data, &y.data, &sloc);
            classify_ids(
                w,
                &ids,
                &mut content_roots,
                &mut string_roots,
                size_changed,
                true,
            );
            if raw.contains("sym") || raw == ".strtab" || raw == ".dynstr" {
                symbols_differ = true;
            }
            continue;
        }
        if is_debug(raw) {
            dwarf_differs = true;
        }
        if is_symbols(raw) {
            symbols_differ = true;
        }
        let ids = w.bytes(&x.data, &y.data, &sloc, None);
        if is_debug(raw) {
            // DWARF holds no time stamps: four bytes that read as a recent time there are
            // offsets or sizes (the DWARF values are decoded below).
            for &id in &ids {
                if w.diffs[id]
                    .cause
                    .as_ref()
                    .is_some_and(|c| c.evidence.starts_with("binary time"))
                {
                    w.diffs[id].cause = None;
                }
            }
        }
        classify_ids(
            w,
            &ids,
            &mut content_roots,
            &mut string_roots,
            size_changed,
            false,
        );
    }
    if layout_root.is_none() {
        layout_root = string_roots
            .first()
            .copied()
            .or(content_roots.first().copied());
    }
    let any_root = content_roots
        .first()
        .copied()
        .or(string_roots.first().copied())
        .or(layout_root);

    // Section-table fields.
    for (x, y, name) in &table {
        for k in [
            MetaKey::Address,
            MetaKey::FileOffset,
            MetaKey::Size,
            MetaKey::Flags,
            MetaKey::Type,
            MetaKey::Align,
        ] {
            let (va, vb) = (x.meta.get(&k), y.meta.get(&k));
            if va == vb {
                continue;
            }
            let show = |v: Option<&Meta>| match v {
                Some(Meta::Int(i)) => format!("{i:#x}"),
                Some(v) => v.to_string(),
                None => "(none)".into(),
            };
            let (sa_, sb_) = (show(va), show(vb));
            let id = w.push(
                DiffKind::Field,
                &loc.at(name.clone(), None).field(format!("section {k}")),
                format!("section {k}: {sa_} vs {sb_}"),
                Side {
                    value: Some(sa_),
                    ..Side::default()
                },
                Side {
                    value: Some(sb_),
                    ..Side::default()
                },
                None,
            );
            if matches!(
                k,
                MetaKey::Address | MetaKey::FileOffset | MetaKey::Size | MetaKey::Align
            ) {
                w.derive(
                    id,
                    layout_root,
                    "addresses, offsets and sizes shift when content before them grows or shrinks",
                );
            }
        }
    }

    // Header fields.
    let (fa, fb) = match a.format {
        crate::artifact::Format::Elf => (elf_fields(&a.data), elf_fields(&b.data)),
        crate::artifact::Format::MachO => (macho_fields(&a.data), macho_fields(&b.data)),
        crate::artifact::Format::Pe => (pe_fields(&a.data, true), pe_fields(&b.data, true)),
        _ => (pe_fields(&a.data, false), pe_fields(&b.data, false)),
    };
    let fb_map: BTreeMap<(String, String), &Field> = fb
        .iter()
        .map(|f| ((f.part.clone(), f.name.clone()), f))
        .collect();
    let fa_keys: BTreeSet<(String, String)> = fa
        .iter()
        .map(|f| (f.part.clone(), f.name.clone()))
        .collect();
    let mut fields: Vec<(Option<&Field>, Option<&Field>)> = fa
        .iter()
        .map(|f| {
            (
                Some(f),
                fb_map.get(&(f.part.clone(), f.name.clone())).copied(),
            )
        })
        .collect();
    fields.extend(
        fb.iter()
            .filter(|f| !fa_keys.contains(&(f.part.clone(), f.name.clone())))
            .map(|f| (None, Some(f))),
    );
    for (x, y) in fields {
        let (va, vb) = (x.map(|f| f.value.clone()), y.map(|f| f.value.clone()));
        if va == vb {
            continue;
        }
        let Some(f) = x.or(y) else { continue };
        let floc = loc.at(f.part.clone(), None).field(f.name.clone());
        let (ta, tb) = (
            va.clone().unwrap_or("(none)".into()),
            vb.clone().unwrap_or("(none)".into()),
        );
        let cause: Option<Cause> = match f.judge {
            Judge::Time(rule) => Some(cause::of_rule(rule, format!("{} {ta} vs {tb}", f.name))),
            Judge::Random(rule) => Some(cause::of_rule(rule, format!("{ta} vs {tb}"))),
            Judge::Text => {
                let (ba, bb) = (ta.as_bytes(), tb.as_bytes());
                let p = seq::common_prefix(ba, bb);
                cause::classify(ba, p..ba.len(), bb, p..bb.len(), &w.opts.scan)
            }
            _ => None,
        };
        let id = w.push(
            DiffKind::Field,
            &floc,
            format!("{} {}: {ta} vs {tb}", f.part, f.name),
            Side {
                value: va,
                ..Side::default()
            },
            Side {
                value: vb,
                ..Side::default()
            },
            cause,
        );
        match f.judge {
            Judge::Layout => w.derive(
                id,
                layout_root,
                "addresses, offsets and sizes shift when content before them grows or shrinks",
            ),
            Judge::Content => {
                if let Some(id) = id {
                    pending.push((id, "a hash or checksum over the content, which differs"));
                }
            }
            _ => {}
        }
    }

    // Symbols and DWARF, decoded only when their sections differ.
    if symbols_differ {
        symbols(w, a, b, loc, layout_root);
    }
    if dwarf_differs {
        super::dwarf::diff(w, a, b, loc);
    }
    // The compiler or its flags differ (DW_AT_producer, .comment): code, data and debug
    // information without a cause of their own follow from that.
    if let Some(tool) = (first..w.diffs.len()).find(|&id| {
        w.diffs[id]
            .cause
            .as_ref()
            .is_some_and(|c| c.rule == cause::TOOLCHAIN)
    }) {
        for id in first..w.diffs.len() {
            let d = &w.diffs[id];
            if d.cause.is_none() && d.derived_from.is_none() && d.kind != DiffKind::Error {
                w.derive(
                    Some(id),
                    Some(tool),
                    "another compiler, or other compiler flags, generate other code, data and debug information",
                );
            }
        }
    }

    // Bytes outside every section (headers, tables, Mach-O __LINKEDIT), when nothing else
    // explained the difference.
    if w.diffs.len() == first {
        w.bytes(&a.data, &b.data, loc, Some("outside sections"));
    }

    // Cause-less bytes of debug, symbol and relocation sections, and small cause-less
    // ranges anywhere, follow from a string or size change in the same object: they are
    // offsets into the string table, or addresses after the content that grew.
    let explained_root = string_roots
        .iter()
        .chain(&content_roots)
        .copied()
        .find(|&id| w.diffs[id].cause.is_some());
    let shifted = layout_root.is_some()
        && (table.iter().any(|(x, y, _)| x.data.len() != y.data.len())
            || string_roots.iter().any(|&id| w.diffs[id].cause.is_some()));
    if let Some(root) = explained_root.filter(|_| shifted) {
        for id in first..w.diffs.len() {
            let d = &w.diffs[id];
            if !matches!(d.kind, DiffKind::Bytes | DiffKind::Dwarf)
                || d.cause.is_some()
                || d.derived_from.is_some()
            {
                continue;
            }
            let section = d.section.clone().unwrap_or_default();
            let small = matches!((d.a.range, d.b.range), (Some(x), Some(y)) if x[1] - x[0] <= 8 && y[1] - y[0] <= 8);
            if d.kind == DiffKind::Dwarf {
                // A cause-less DWARF size (an array's bound, a type's byte size) follows from
                // the string that got longer; a line or a producer string does not.
                let field = d.field.as_deref().unwrap_or("");
                if [
                    "DW_AT_byte_size",
                    "DW_AT_upper_bound",
                    "DW_AT_count",
                    "DW_AT_data_member_location",
                ]
                .iter()
                .any(|a| field.ends_with(a))
                {
                    w.derive(
                        Some(id),
                        Some(root),
                        "sizes of arrays and types holding a string grow with it",
                    );
                }
                continue;
            }
            if small || is_debug(&section) || is_symbols(&section) {
                w.derive(Some(id), Some(root), "offsets into a string table, or addresses after content that grew, shift with it");
            }
        }
    }

    // PE: cause-less small byte ranges in sections (the debug directory and CodeView record
    // live in a section) follow from the time stamps and GUID named in the headers.
    if matches!(
        a.format,
        crate::artifact::Format::Pe | crate::artifact::Format::Coff
    ) {
        let stamp = (first..w.diffs.len()).find(|&id| {
            let d = &w.diffs[id];
            d.kind == DiffKind::Field && d.cause.as_ref().is_some_and(|c| c.rule.starts_with("pe-"))
        });
        for id in first..w.diffs.len() {
            let d = &w.diffs[id];
            let small = matches!((d.a.range, d.b.range), (Some(x), Some(y)) if x[1] - x[0] <= 16 && y[1] - y[0] <= 16);
            let unexplained = d
                .cause
                .as_ref()
                .is_none_or(|c| c.evidence.starts_with("binary time"));
            if d.kind == DiffKind::Bytes && unexplained && d.derived_from.is_none() && small {
                w.derive(Some(id), stamp, "the debug directory and CodeView record hold the time stamps and GUID named in the headers");
            }
        }
    }

    // What follows from content: the build-id, UUIDs, checksums.
    let pending_ids: Vec<usize> = pending.iter().map(|p| p.0).collect();
    let other_root = (first..w.diffs.len())
        .find(|&id| !pending_ids.contains(&id) && w.diffs[id].derived_from.is_none());
    let root = content_roots
        .first()
        .copied()
        .or(string_roots.first().copied())
        .or(any_root)
        .or(other_root);
    for (id, because) in pending {
        let others = w.diffs[first..]
            .iter()
            .any(|d| d.id != id && d.derived_from.is_none() && !pending_ids_contains(d.id, id));
        if others {
            w.derive(Some(id), root, because);
        }
    }
}

fn pending_ids_contains(a: usize, b: usize) -> bool {
    a == b
}

/// Sort the differences of one section into roots and derived ones: ranges with a cause
/// are roots; small cause-less ranges in sections after a layout change follow from it.
fn classify_ids(
    w: &mut Walker,
    ids: &[usize],
    content: &mut Vec<usize>,
    strings: &mut Vec<usize>,
    _size_changed: bool,
    is_strings: bool,
) {
    for &id in ids {
        if w.diffs[id].derived_from.is_some() {
            continue;
        }
        if is_strings {
            strings.push(id);
        } else {
            content.push(id);
        }
    }
}

fn build_id(note: &[u8]) -> String {
    // namesz, descsz, type, "GNU\0", desc
    let r = Rd {
        d: note,
        big: false,
    };
    let (Some(namesz), Some(descsz)) = (r.uint(0, 4), r.uint(4, 4)) else {
        return hex::encode(note);
    };
    let start = 12 + (namesz as usize).div_ceil(4) * 4;
    note.get(start..start + descsz as usize)
        .map(hex::encode)
        .unwrap_or_else(|| hex::encode(note))
}

/// A compressed section's content, decompressed within the limits.
fn decompress(n: &Node, name: &str, opts: &crate::detect::ScanOptions) -> Option<Vec<u8>> {
    let file = object::File::parse(&*n.data).ok()?;
    let s = file.sections().find(|s| s.name().ok() == Some(name))?;
    crate::detect::section_data(&s, opts)
        .ok()
        .map(|d| d.into_cow().into_owned())
}

/// Symbols added, removed or changed (address, size, kind), bounded.
fn symbols(w: &mut Walker, a: &Node, b: &Node, loc: &Location, layout_root: Option<usize>) {
    let table = |n: &Node| -> BTreeMap<String, (u64, u64, String)> {
        let mut m = BTreeMap::new();
        if let Ok(f) = object::File::parse(&*n.data) {
            for s in f.symbols().chain(f.dynamic_symbols()) {
                let Ok(name) = s.name() else { continue };
                if name.is_empty() {
                    continue;
                }
                m.entry(name.to_owned()).or_insert((
                    s.address(),
                    s.size(),
                    format!("{:?}", s.kind()),
                ));
            }
        }
        m
    };
    let (ta, tb) = (table(a), table(b));
    let sloc = loc.at("symbols", None);
    let mut shown = 0;
    let mut hidden = 0;
    let names: BTreeSet<&String> = ta.keys().chain(tb.keys()).collect();
    for name in names {
        let (x, y) = (ta.get(name), tb.get(name));
        if x == y {
            continue;
        }
        if shown >= w.opts.max_symbols {
            hidden += 1;
            continue;
        }
        shown += 1;
        let show = |v: Option<&(u64, u64, String)>| {
            v.map(|(addr, size, kind)| format!("{kind} at {addr:#x}, size {size}"))
        };
        let (va, vb) = (show(x), show(y));
        let summary = match (x, y) {
            (None, _) => format!("symbol added: {name}"),
            (_, None) => format!("symbol removed: {name}"),
            _ => format!(
                "symbol {name}: {} vs {}",
                va.clone().unwrap_or_default(),
                vb.clone().unwrap_or_default()
            ),
        };
        let cause = match (x, y) {
            (Some(_), Some(_)) => None,
            _ => cause::classify(
                name.as_bytes(),
                0..name.len(),
                name.as_bytes(),
                0..name.len(),
                &w.opts.scan,
            ),
        };
        let only_moved = matches!((x, y), (Some(p), Some(q)) if p.1 == q.1 && p.2 == q.2);
        let id = w.push(
            DiffKind::Symbol,
            &sloc.field(name.clone()),
            summary,
            Side {
                value: va,
                ..Side::default()
            },
            Side {
                value: vb,
                ..Side::default()
            },
            cause,
        );
        if only_moved {
            w.derive(
                id,
                layout_root,
                "symbol addresses shift when content before them grows or shrinks",
            );
        }
    }
    if hidden > 0 {
        let id = w.push(
            DiffKind::Symbol,
            &sloc,
            format!("and {hidden} more symbols differ"),
            Side::default(),
            Side::default(),
            None,
        );
        w.derive(
            id,
            layout_root,
            "symbol addresses shift when content before them grows or shrinks",
        );
    }
}
