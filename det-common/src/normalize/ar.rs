//! ar archives (.a, .rlib, .deb, thin archives): every member header as GNU `ar D` writes
//! it — mtime, uid and gid 0, mode 644 (0 for the symbol table) — members in their order.

use super::{Ctx, Step, run_nested};
use crate::artifact::{ArKind, Bytes};

const HEADER_LEN: usize = 60;

fn field(out: &mut Vec<u8>, value: &str, width: usize) {
    out.extend_from_slice(value.as_bytes());
    out.extend(std::iter::repeat_n(b' ', width.saturating_sub(value.len())));
}

fn is_symbol_table(name: &[u8]) -> bool {
    name == b"/" || name == b"/SYM64/" || name.starts_with(b"__.SYMDEF")
}

pub(crate) fn normalize(data: &Bytes, kind: ArKind, cx: &Ctx) -> Result<Step, String> {
    let d: &[u8] = data;
    let thin = kind == ArKind::Thin;
    let mut out = Vec::with_capacity(d.len());
    out.extend_from_slice(&d[..8]);
    let mut pos = 8usize;
    let mut has_symbols = false;
    let mut first = true;
    while pos < d.len() {
        if pos + 1 == d.len() && d[pos] == b'\n' {
            break;
        }
        let header = d
            .get(pos..pos + HEADER_LEN)
            .ok_or_else(|| format!("truncated ar member header at offset {pos}"))?;
        if &header[58..60] != b"`\n" {
            return Err(format!("malformed ar member header at offset {pos}"));
        }
        let raw_name = &header[..16];
        let name_end = raw_name
            .iter()
            .rposition(|&b| b != b' ')
            .map_or(0, |i| i + 1);
        let name = &raw_name[..name_end];
        let size: usize = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("ar member header at offset {pos} has an invalid size"))?;
        let stored = !thin || name == b"/" || name == b"//" || name == b"/SYM64/";
        let start = pos + HEADER_LEN;
        let end = if stored {
            start
                .checked_add(size)
                .filter(|&e| e <= d.len())
                .ok_or_else(|| {
                    format!("ar member at offset {pos} is truncated: {size} bytes declared")
                })?
        } else {
            start
        };
        let symbols = is_symbol_table(name)
            || (name.starts_with(b"#1/") && d[start..end].starts_with(b"__.SYMDEF"));
        if first && symbols {
            has_symbols = true;
        }
        first = false;
        let body = &d[start..end];
        // Nested normalization changes sizes, which would break a symbol table's offsets.
        let plain_name = !name.starts_with(b"#1/") && !name.starts_with(b"/");
        let new_body = if stored && !has_symbols && !thin && plain_name {
            let member_name = String::from_utf8_lossy(name.strip_suffix(b"/").unwrap_or(name));
            run_nested(body, &member_name, cx, &|_: &str| None)
                .map_err(|m| format!("ar member `{member_name}`: {m}"))?
        } else {
            None
        };
        let body: &[u8] = new_body.as_deref().unwrap_or(body);
        if name == b"//" {
            // The long-name table has no meaningful fields besides its size.
            out.extend_from_slice(header);
        } else {
            let mode = if symbols { "0" } else { "644" };
            out.extend_from_slice(raw_name);
            field(&mut out, "0", 12);
            field(&mut out, "0", 6);
            field(&mut out, "0", 6);
            field(&mut out, mode, 8);
            let size = if stored { body.len() } else { size };
            field(&mut out, &size.to_string(), 10);
            out.extend_from_slice(b"`\n");
        }
        out.extend_from_slice(body);
        let next = end + (end & 1);
        if stored && body.len() % 2 == 1 {
            // The padding byte: keep the original one when there was one.
            out.push(d.get(end).copied().filter(|_| next > end).unwrap_or(b'\n'));
        }
        pos = next;
    }
    if pos < d.len() {
        out.extend_from_slice(&d[pos..]);
    }
    Ok(Step::Changed(out))
}
