//! DWARF decoded where it differs: the debugging-information entries of each compilation
//! unit walked on both sides in step, their string and constant attributes compared value
//! by value (`DW_AT_producer`, `DW_AT_name`, `DW_AT_comp_dir`, `DW_AT_decl_line`,
//! `DW_AT_const_value`, ...), then each unit's line table: its include directories and file
//! names, and its rows (file, line, column) where they differ.
//!
//! Addresses, offsets into other sections, references between entries and location
//! expressions are not compared: they move whenever anything before them grows, and the
//! byte ranges of `.debug_info`/`.debug_line` already show them (derived from the change
//! that moved them). What is left are the values a build writes: a path, a producer string
//! with the compiler's flags, a line number, a constant.
//!
//! Cost follows the DWARF, not the difference (each unit is parsed once per side, nothing
//! is kept but the differences, bounded); it runs only when a debug section differs.

use super::{DiffKind, Side, Walker, cause};
use crate::artifact::Node;
use crate::finding::Location;
use gimli::{AttributeValue, EndianSlice, RunTimeEndian, SectionId};
use object::Object;
use std::borrow::Cow;
use std::collections::BTreeMap;

type Slice<'a> = EndianSlice<'a, RunTimeEndian>;
type Dwarf<'a> = gimli::Dwarf<Slice<'a>>;
type Unit<'a> = gimli::Unit<Slice<'a>>;
/// An attribute's name and its value on each side (absent on one).
type AttrPair<'a> = (
    gimli::DwAt,
    Option<AttributeValue<Slice<'a>>>,
    Option<AttributeValue<Slice<'a>>>,
);
/// A line row as compared: file index, line, column (the address moves with the code).
type RowKey = (u64, u64, u64);
type Rows<'a> = gimli::LineRows<Slice<'a>, gimli::IncompleteLineProgram<Slice<'a>>>;

/// The DWARF sections of one object, decompressed within the limits.
struct Loaded<'d> {
    sections: BTreeMap<SectionId, Cow<'d, [u8]>>,
    endian: RunTimeEndian,
}

fn load<'d>(n: &'d Node, opts: &crate::detect::ScanOptions) -> Option<Loaded<'d>> {
    let file = object::File::parse(&*n.data).ok()?;
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let mut sections = BTreeMap::new();
    for id in [
        SectionId::DebugAbbrev,
        SectionId::DebugAddr,
        SectionId::DebugInfo,
        SectionId::DebugLine,
        SectionId::DebugLineStr,
        SectionId::DebugStr,
        SectionId::DebugStrOffsets,
    ] {
        // ELF names (`.debug_info`) and Mach-O's (`__debug_info`).
        let macho = id.name().replacen(".debug_", "__debug_", 1);
        if let Some(s) = file
            .section_by_name(id.name())
            .or_else(|| file.section_by_name(&macho))
            && let Ok(d) = crate::detect::section_data(&s, opts)
        {
            sections.insert(id, d.into_cow());
        }
    }
    Some(Loaded { sections, endian })
}

impl Loaded<'_> {
    fn dwarf(&self) -> Option<Dwarf<'_>> {
        gimli::Dwarf::load(|id| -> Result<Slice, gimli::Error> {
            Ok(EndianSlice::new(
                self.sections.get(&id).map_or(&[][..], |c| &**c),
                self.endian,
            ))
        })
        .ok()
    }
}

/// A compared value of an attribute: a string, or a constant kept as gimli read it (turned
/// into text only when it differs).
#[derive(PartialEq)]
enum Val<'a> {
    Str(&'a [u8]),
    Const(AttributeValue<Slice<'a>>),
    /// Not compared (an address, an offset, a reference, an expression).
    Skip,
}

impl Val<'_> {
    fn text(&self) -> String {
        use AttributeValue as A;
        match self {
            Val::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Val::Const(v) => match v {
                A::Udata(x) => x.to_string(),
                A::Sdata(x) => x.to_string(),
                A::Data16(x) => format!("{x:#x}"),
                A::Flag(x) => x.to_string(),
                A::FileIndex(x) => format!("file {x}"),
                A::Block(b) => {
                    let b = b.slice();
                    format!(
                        "block {}{}",
                        hex::encode(&b[..b.len().min(64)]),
                        if b.len() > 64 { "..." } else { "" }
                    )
                }
                A::Language(x) => x.to_string(),
                A::Encoding(x) => x.to_string(),
                A::DecimalSign(x) => x.to_string(),
                A::Endianity(x) => x.to_string(),
                A::Accessibility(x) => x.to_string(),
                A::Visibility(x) => x.to_string(),
                A::Virtuality(x) => x.to_string(),
                A::IdentifierCase(x) => x.to_string(),
                A::CallingConvention(x) => x.to_string(),
                A::Inline(x) => x.to_string(),
                A::Ordering(x) => x.to_string(),
                other => format!("{other:?}"),
            },
            Val::Skip => String::new(),
        }
    }
}

/// Attributes whose value is an address or a size of code, whatever its form.
fn layout_attr(at: gimli::DwAt) -> bool {
    use gimli::constants as c;
    [
        c::DW_AT_low_pc,
        c::DW_AT_high_pc,
        c::DW_AT_entry_pc,
        c::DW_AT_stmt_list,
        c::DW_AT_ranges,
        c::DW_AT_location,
        c::DW_AT_frame_base,
        c::DW_AT_sibling,
        c::DW_AT_call_return_pc,
        c::DW_AT_call_pc,
        c::DW_AT_GNU_dwo_id,
    ]
    .contains(&at)
}

fn value<'a>(
    dwarf: &Dwarf<'a>,
    unit: &Unit<'a>,
    at: gimli::DwAt,
    v: AttributeValue<Slice<'a>>,
) -> Val<'a> {
    use AttributeValue as A;
    if layout_attr(at) {
        return Val::Skip;
    }
    match v {
        A::String(_)
        | A::DebugStrRef(_)
        | A::DebugStrRefSup(_)
        | A::DebugLineStrRef(_)
        | A::DebugStrOffsetsIndex(_) => match dwarf.attr_string(unit, v) {
            Ok(s) => Val::Str(s.slice()),
            Err(_) => Val::Skip,
        },
        // One form for an unsigned constant, whatever its width.
        A::Data1(x) => Val::Const(A::Udata(x.into())),
        A::Data2(x) => Val::Const(A::Udata(x.into())),
        A::Data4(x) => Val::Const(A::Udata(x.into())),
        A::Data8(x) => Val::Const(A::Udata(x)),
        A::Data16(_)
        | A::Sdata(_)
        | A::Udata(_)
        | A::Flag(_)
        | A::FileIndex(_)
        | A::Block(_)
        | A::Language(_)
        | A::Encoding(_)
        | A::DecimalSign(_)
        | A::Endianity(_)
        | A::Accessibility(_)
        | A::Visibility(_)
        | A::Virtuality(_)
        | A::IdentifierCase(_)
        | A::CallingConvention(_)
        | A::Inline(_)
        | A::Ordering(_) => Val::Const(v),
        _ => Val::Skip,
    }
}

/// One DWARF value that differs: where (the unit, the entry, the attribute) and both values.
pub(super) struct Found {
    cu: usize,
    /// The entry, `DW_TAG_subprogram main::helper`, or empty for the unit's own entry.
    die: String,
    attr: String,
    a: Option<String>,
    b: Option<String>,
    /// Whether the values are strings (classified by the detectors) or numbers.
    string: bool,
}

/// The name of an entry, for its label.
fn die_name<'a>(
    dwarf: &Dwarf<'a>,
    unit: &Unit<'a>,
    e: &gimli::DebuggingInformationEntry<Slice<'a>>,
) -> Option<&'a [u8]> {
    let v = e.attr_value(gimli::DW_AT_name)?;
    dwarf.attr_string(unit, v).ok().map(|s| s.slice())
}

fn label(stack: &[Option<&[u8]>], tag: gimli::DwTag, depth: usize) -> String {
    // Named enclosing entries below the unit, then this one.
    let names: Vec<String> = stack
        .iter()
        .take(depth + 1)
        .skip(1)
        .filter_map(|n| n.map(|n| String::from_utf8_lossy(n).into_owned()))
        .collect();
    if names.is_empty() {
        tag.to_string()
    } else {
        format!("{tag} {}", names.join("::"))
    }
}

/// Compare one unit of each side; at most `max` values are returned, the rest counted.
fn unit_pair<'a>(
    cu: usize,
    (da, ua): (&Dwarf<'a>, &Unit<'a>),
    (db, ub): (&Dwarf<'a>, &Unit<'a>),
    max: usize,
    out: &mut Vec<Found>,
    more: &mut usize,
) {
    let mut push = |f: Found, out: &mut Vec<Found>| {
        if out.len() < max {
            out.push(f);
        } else {
            *more += 1;
        }
    };
    // Entries, in step.
    let (mut ca, mut cb) = (ua.entries(), ub.entries());
    let mut stack: Vec<Option<&[u8]>> = Vec::new();
    loop {
        let (ea, eb) = match (ca.next_dfs(), cb.next_dfs()) {
            (Ok(Some(x)), Ok(Some(y))) => (x, y),
            (Ok(None), Ok(None)) => break,
            (x, y) => {
                // One side ends or cannot be read: the trees differ from here.
                let show = |r: gimli::Result<Option<&gimli::DebuggingInformationEntry<_>>>| match r
                {
                    Ok(Some(e)) => Some(e.tag().to_string()),
                    Ok(None) => Some("(end of unit)".to_owned()),
                    Err(e) => Some(format!("unreadable: {e}")),
                };
                let (sa, sb) = (show(x), show(y));
                push(
                    Found {
                        cu,
                        die: String::new(),
                        attr: "entries".into(),
                        a: sa,
                        b: sb,
                        string: false,
                    },
                    out,
                );
                break;
            }
        };
        let depth = ea.depth().max(0) as usize;
        if ea.depth() != eb.depth() || ea.tag() != eb.tag() {
            let a = tag_and_name(da, ua, ea);
            let b = tag_and_name(db, ub, eb);
            push(
                Found {
                    cu,
                    die: label(&stack, ea.tag(), depth.saturating_sub(1)),
                    attr: "entries (the trees differ from here on)".into(),
                    a: Some(a),
                    b: Some(b),
                    string: false,
                },
                out,
            );
            break;
        }
        stack.truncate(depth);
        stack.resize(depth, None);
        stack.push(die_name(da, ua, ea));
        let here = || {
            if depth == 0 {
                String::new()
            } else {
                label(&stack, ea.tag(), depth)
            }
        };
        // Attributes pairwise when both entries list the same names (the usual case: the
        // same abbreviation), else by name.
        let (xa, xb) = (ea.attrs(), eb.attrs());
        let pairwise = xa.len() == xb.len() && xa.iter().zip(xb).all(|(p, q)| p.name() == q.name());
        let mut pairs: Vec<AttrPair<'a>> = Vec::new();
        if pairwise {
            for (p, q) in xa.iter().zip(xb) {
                if p.value() != q.value()
                    || matches!(
                        p.value(),
                        AttributeValue::DebugStrRef(_)
                            | AttributeValue::DebugLineStrRef(_)
                            | AttributeValue::DebugStrOffsetsIndex(_)
                            | AttributeValue::DebugStrRefSup(_)
                    )
                {
                    pairs.push((p.name(), Some(p.value()), Some(q.value())));
                }
            }
        } else {
            let by_name: BTreeMap<gimli::DwAt, AttributeValue<Slice<'a>>> =
                xb.iter().map(|a| (a.name(), a.value())).collect();
            for p in xa {
                pairs.push((p.name(), Some(p.value()), by_name.get(&p.name()).copied()));
            }
            for q in xb {
                if !xa.iter().any(|p| p.name() == q.name()) {
                    pairs.push((q.name(), None, Some(q.value())));
                }
            }
        }
        for (name, pa, pb) in pairs {
            let va = pa.map(|v| value(da, ua, name, v));
            let vb = pb.map(|v| value(db, ub, name, v));
            let same = match (&va, &vb) {
                (Some(Val::Skip), _) | (_, Some(Val::Skip)) => true,
                (x, y) => x == y,
            };
            if same {
                continue;
            }
            let string = matches!(va, Some(Val::Str(_))) || matches!(vb, Some(Val::Str(_)));
            push(
                Found {
                    cu,
                    die: here(),
                    attr: name.to_string(),
                    a: va.map(|v| v.text()),
                    b: vb.map(|v| v.text()),
                    string,
                },
                out,
            );
        }
    }
    // The line tables: include directories, file names, then the rows.
    let (Some(pa), Some(pb)) = (ua.line_program.as_ref(), ub.line_program.as_ref()) else {
        return;
    };
    let (ha, hb) = (pa.header(), pb.header());
    let dirs = |d: &Dwarf, u: &Unit, h: &gimli::LineProgramHeader<_>| -> Vec<String> {
        h.include_directories()
            .iter()
            .map(|v| {
                d.attr_string(u, *v)
                    .map(|s| String::from_utf8_lossy(s.slice()).into_owned())
                    .unwrap_or_default()
            })
            .collect()
    };
    let files = |d: &Dwarf, u: &Unit, h: &gimli::LineProgramHeader<_>| -> Vec<String> {
        h.file_names()
            .iter()
            .map(|f| {
                d.attr_string(u, f.path_name())
                    .map(|s| String::from_utf8_lossy(s.slice()).into_owned())
                    .unwrap_or_default()
            })
            .collect()
    };
    for (what, xa, xb) in [
        ("line table directory", dirs(da, ua, ha), dirs(db, ub, hb)),
        ("line table file", files(da, ua, ha), files(db, ub, hb)),
    ] {
        for k in 0..xa.len().max(xb.len()) {
            let (a, b) = (xa.get(k), xb.get(k));
            if a != b {
                push(
                    Found {
                        cu,
                        die: String::new(),
                        attr: format!("{what} {k}"),
                        a: a.cloned(),
                        b: b.cloned(),
                        string: true,
                    },
                    out,
                );
            }
        }
    }
    let file_names = (files(da, ua, ha), files(db, ub, hb));
    let (mut ra, mut rb) = (pa.clone().rows(), pb.clone().rows());
    let mut n = 0u64;
    let row = |r: &gimli::LineRow| {
        (
            r.file_index(),
            r.line().map_or(0, |l| l.get()),
            match r.column() {
                gimli::ColumnType::LeftEdge => 0,
                gimli::ColumnType::Column(c) => c.get(),
            },
        )
    };
    let mut first: Option<(u64, Option<RowKey>, Option<RowKey>)> = None;
    let mut differing = 0u64;
    loop {
        let next = |rows: &mut Rows<'_>| loop {
            match rows.next_row() {
                Ok(Some((_, r))) if r.end_sequence() => continue,
                Ok(Some((_, r))) => return Some(row(r)),
                _ => return None,
            }
        };
        let (x, y) = (next(&mut ra), next(&mut rb));
        if x.is_none() && y.is_none() {
            break;
        }
        if x != y {
            differing += 1;
            first.get_or_insert((n, x, y));
        }
        n += 1;
        if n > 10_000_000 {
            break;
        }
    }
    if let Some((at, x, y)) = first {
        let show = |r: Option<RowKey>, names: &[String]| {
            r.map(|(f, l, c)| {
                let file = names
                    .get(f as usize)
                    .or_else(|| names.get((f as usize).wrapping_sub(1)))
                    .cloned()
                    .unwrap_or_else(|| format!("file {f}"));
                format!("{file}:{l}:{c}")
            })
        };
        push(
            Found {
                cu,
                die: String::new(),
                attr: format!(
                    "line row {at}{}",
                    if differing > 1 {
                        format!(" (and {} more rows differ)", differing - 1)
                    } else {
                        String::new()
                    }
                ),
                a: show(x, &file_names.0),
                b: show(y, &file_names.1),
                string: false,
            },
            out,
        );
    }
}

fn units<'a>(d: &Dwarf<'a>) -> Vec<gimli::UnitHeader<Slice<'a>>> {
    let mut v = Vec::new();
    let mut it = d.units();
    while let Ok(Some(h)) = it.next() {
        v.push(h);
        if v.len() > 1_000_000 {
            break;
        }
    }
    v
}

fn tag_and_name<'a>(
    d: &Dwarf<'a>,
    u: &Unit<'a>,
    e: &gimli::DebuggingInformationEntry<Slice<'a>>,
) -> String {
    let n = die_name(d, u, e);
    format!(
        "{}{}",
        e.tag(),
        n.map(|n| format!(" {}", String::from_utf8_lossy(n)))
            .unwrap_or_default()
    )
}

/// The DWARF values of `a` and `b` that differ, unit by unit (units matched by position),
/// recorded in `w` under `loc`. Returns the ids recorded.
pub(super) fn diff(w: &mut Walker, a: &Node, b: &Node, loc: &Location) -> Vec<usize> {
    let max = w.opts.max_symbols;
    let (Some(la), Some(lb)) = (load(a, &w.opts.scan), load(b, &w.opts.scan)) else {
        return Vec::new();
    };
    let (Some(da), Some(db)) = (la.dwarf(), lb.dwarf()) else {
        return Vec::new();
    };
    let (ha, hb) = (units(&da), units(&db));
    // Units are compared in parallel, each bounded; their values then kept in unit order.
    use rayon::prelude::*;
    let per_unit: Vec<(Vec<Found>, usize)> = ha
        .par_iter()
        .zip(hb.par_iter())
        .enumerate()
        .map(|(i, (x, y))| {
            let (mut found, mut more) = (Vec::new(), 0);
            if let (Ok(ux), Ok(uy)) = (da.unit(*x), db.unit(*y)) {
                unit_pair(i, (&da, &ux), (&db, &uy), max, &mut found, &mut more);
            }
            (found, more)
        })
        .collect();
    let mut found = Vec::new();
    let mut more = 0usize;
    for (f, m) in per_unit {
        more += m;
        for f in f {
            if found.len() < max {
                found.push(f);
            } else {
                more += 1;
            }
        }
    }
    if ha.len() != hb.len() {
        found.push(Found {
            cu: ha.len().min(hb.len()),
            die: String::new(),
            attr: "compilation units".into(),
            a: Some(format!("{} units", ha.len())),
            b: Some(format!("{} units", hb.len())),
            string: false,
        });
    }
    let mut ids = Vec::new();
    for f in found {
        let (va, vb) = (
            f.a.clone().unwrap_or("(none)".into()),
            f.b.clone().unwrap_or("(none)".into()),
        );
        let c = if f.attr == "DW_AT_producer" && f.a.is_some() && f.b.is_some() {
            Some(cause::toolchain(&va, &vb))
        } else if f.string {
            let (ba, bb) = (va.as_bytes(), vb.as_bytes());
            cause::classify(ba, 0..ba.len(), bb, 0..bb.len(), &w.opts.scan)
        } else {
            None
        };
        let field = if f.die.is_empty() {
            f.attr.clone()
        } else {
            format!("{} {}", f.die, f.attr)
        };
        let summary = format!("CU {} {field}: \"{va}\" vs \"{vb}\"", f.cu);
        if let Some(id) = w.push(
            DiffKind::Dwarf,
            &loc.at(format!("DWARF CU {}", f.cu), None).field(field),
            summary,
            Side {
                value: f.a,
                ..Side::default()
            },
            Side {
                value: f.b,
                ..Side::default()
            },
            c,
        ) {
            ids.push(id);
        }
    }
    if more > 0 {
        let id = w.push(
            DiffKind::Dwarf,
            &loc.at("DWARF", None),
            format!("and {more} more DWARF values differ"),
            Side::default(),
            Side::default(),
            None,
        );
        if let Some(id) = id {
            if let Some(&first) = ids.first() {
                w.derive(Some(id), Some(first), "more values of the same DWARF");
            }
        }
    }
    ids
}
