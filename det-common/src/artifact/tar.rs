//! tar archives: v7, ustar, GNU (long names `L`/`K`, base-256 numbers) and pax (`x`, `g`).
//!
//! Our own header parser over the archive bytes: members are slices of the tar (no copies),
//! every field is checked against the data actually present, and pax records are kept so
//! that their times can be reported. Member metadata: `mtime`, `uid`, `gid`, `uname`,
//! `gname`, `mode`, `index`, `type` (`file`, `dir`, `symlink`, `hardlink`, `char`, `block`,
//! `fifo`, or the raw type byte), `link` for links, and `pax-mtime`, `pax-atime`,
//! `pax-ctime` (the record's text, e.g. `1700000000.123456789`) when a pax header sets them.

use super::{Bytes, ChildError, Format, Limits, Meta, MetaKey, MetaMap, Node, NodeKind};
use std::collections::BTreeMap;

const BLOCK: usize = 512;

/// One tar member as its headers describe it, without its content.
#[derive(Clone, Debug)]
pub(crate) struct TarEntry {
    pub name: String,
    pub meta: MetaMap,
    /// Where the content is inside the archive.
    pub data: std::ops::Range<usize>,
    pub regular: bool,
    /// Where the member's own header block starts (after any long-name or pax headers).
    pub header: usize,
    /// The member's own pax records (not the global ones), in order.
    pub pax: Vec<(String, String)>,
}

/// Parse a numeric header field: octal text, or GNU base-256 when the high bit is set.
fn numeric(field: &[u8]) -> Option<i64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        // Negative base-256 values are never meaningful for sizes, ids or our times.
        if field[0] & 0x40 != 0 {
            return None;
        }
        let mut v = i64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(i64::from(b))?;
        }
        return Some(v);
    }
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    // GNU tar stops at the first NUL inside the field.
    let s = s.split('\0').next().unwrap_or("");
    i64::from_str_radix(s.trim(), 8).ok()
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(cstr(field)).into_owned()
}

fn checksum_ok(block: &[u8]) -> bool {
    let Some(stored) = numeric(&block[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || stored == signed
}

/// Parse pax records (`"%d %s=%s\n"`).
pub(crate) fn pax_records(d: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = d;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or("malformed pax record (no length)")?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("malformed pax record length")?;
        if len <= sp + 1 || len > rest.len() {
            return Err("malformed pax record length".into());
        }
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("malformed pax record (no `=`)")?;
        out.push((
            String::from_utf8_lossy(&record[..eq]).into_owned(),
            String::from_utf8_lossy(&record[eq + 1..]).into_owned(),
        ));
        rest = &rest[len..];
    }
    Ok(out)
}

/// pax records by key: a later record of a key replaces an earlier one.
type PaxMap = BTreeMap<String, String>;

/// The value of a pax key: the member's own records win over global ones, later over earlier.
fn lookup(pax: &[(String, String)], global: &PaxMap, key: &str) -> Option<String> {
    pax.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .or_else(|| global.get(key))
        .cloned()
}

/// Walks the headers of a tar archive; yields entries with their content's range.
pub(crate) struct TarWalk<'d> {
    data: &'d [u8],
    pos: usize,
    index: usize,
    done: bool,
    max_members: usize,
    /// Global pax records (`g`): they apply to every later member, so they are kept once
    /// here, by key, never copied per member.
    global: PaxMap,
}

impl<'d> TarWalk<'d> {
    pub(crate) fn new(data: &'d [u8], max_members: usize) -> Self {
        TarWalk {
            data,
            pos: 0,
            index: 0,
            done: false,
            max_members,
            global: PaxMap::new(),
        }
    }

    fn fail(&mut self, name: &str, message: String) -> Option<Result<TarEntry, ChildError>> {
        self.done = true;
        Some(Err(ChildError {
            name: name.to_owned(),
            message,
        }))
    }
}

impl Iterator for TarWalk<'_> {
    type Item = Result<TarEntry, ChildError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        let mut pax: Vec<(String, String)> = Vec::new();
        loop {
            if self.done {
                return None;
            }
            let at = self.pos;
            if at >= self.data.len() {
                // Every writer ends an archive with zero blocks; their absence means the
                // archive was cut, possibly at a member boundary.
                return self.fail(
                    "",
                    format!("tar archive ends at offset {at} without its end-of-archive blocks: truncated"),
                );
            }
            let Some(block) = self.data.get(at..at + BLOCK) else {
                return self.fail("", format!("truncated tar header at offset {at}"));
            };
            if block.iter().all(|&b| b == 0) {
                self.done = true;
                return None;
            }
            if !checksum_ok(block) {
                return self.fail("", format!("bad tar header checksum at offset {at}"));
            }
            let typeflag = block[156];
            let header_size = numeric(&block[124..136]);
            let size = match lookup(&pax, &self.global, "size") {
                Some(s) => s.parse::<i64>().ok(),
                None => header_size,
            };
            let Some(size) = size.and_then(|s| usize::try_from(s).ok()) else {
                return self.fail("", format!("tar header at offset {at} has an invalid size"));
            };
            // Links, directories and devices carry no content whatever the size field says.
            let has_data = !matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
            let data_start = at + BLOCK;
            let data_len = if has_data { size } else { 0 };
            let data_end = data_start.saturating_add(data_len);
            if data_end > self.data.len() {
                let name = long_name
                    .take()
                    .map(super::bounded_name)
                    .unwrap_or_else(|| text(&block[..100]));
                return self.fail(
                    &name,
                    format!(
                        "tar member at offset {at} is truncated: {data_len} bytes declared, {} present",
                        self.data.len().saturating_sub(data_start)
                    ),
                );
            }
            let body = &self.data[data_start..data_end];
            self.pos = data_end
                .div_ceil(BLOCK)
                .saturating_mul(BLOCK)
                .max(data_start);
            match typeflag {
                b'L' => {
                    long_name = Some(text(body));
                    continue;
                }
                b'K' => {
                    long_link = Some(text(body));
                    continue;
                }
                b'x' | b'X' | b'g' => {
                    let records = match pax_records(body) {
                        Ok(r) => r,
                        Err(e) => return self.fail("", format!("tar member at offset {at}: {e}")),
                    };
                    if typeflag == b'g' {
                        self.global.extend(records);
                    } else {
                        pax.extend(records);
                    }
                    continue;
                }
                _ => {}
            }

            let global = &self.global;
            let pax_get = |key: &str| lookup(&pax, global, key);
            let ustar = &block[257..263] == b"ustar\0";
            let mut name = text(&block[..100]);
            if ustar && block[345] != 0 {
                name = format!("{}/{}", text(&block[345..500]), name);
            }
            let name = pax_get("path").or(long_name.take()).unwrap_or(name);

            if self.index >= self.max_members {
                return self.fail(
                    "",
                    format!(
                        "more than {} members; the rest were not opened",
                        self.max_members
                    ),
                );
            }
            let mut meta = MetaMap::new();
            meta.insert(MetaKey::Index, Meta::Int(self.index as i64));
            let int_field = |key: &str, field: &[u8]| -> Option<i64> {
                match pax_get(key) {
                    // pax times may be fractional: keep whole seconds.
                    Some(v) => v.split('.').next().and_then(|s| s.parse().ok()),
                    None => numeric(field),
                }
            };
            for (key, range) in [("mtime", 136..148), ("uid", 108..116), ("gid", 116..124)] {
                if let Some(v) = int_field(key, &block[range]) {
                    meta.insert(MetaKey::named(key), Meta::Int(v));
                }
            }
            if let Some(mode) = numeric(&block[100..108]) {
                meta.insert(MetaKey::Mode, Meta::Int(mode & 0o7777));
            }
            for (key, range) in [("uname", 265..297), ("gname", 297..329)] {
                let v = pax_get(key).unwrap_or_else(|| text(&block[range]));
                if !v.is_empty() {
                    meta.insert(MetaKey::named(key), Meta::Text(v));
                }
            }
            for key in ["mtime", "atime", "ctime"] {
                if let Some(v) = pax_get(key) {
                    meta.insert(MetaKey::Other(format!("pax-{key}").into()), Meta::Text(v));
                }
            }
            let kind = match typeflag {
                b'0' | 0 | b'7' => "file".to_owned(),
                b'1' => "hardlink".to_owned(),
                b'2' => "symlink".to_owned(),
                b'3' => "char".to_owned(),
                b'4' => "block".to_owned(),
                b'5' => "dir".to_owned(),
                b'6' => "fifo".to_owned(),
                other => format!("type-{}", other.escape_ascii()),
            };
            if matches!(typeflag, b'1' | b'2') {
                let link = pax_get("linkpath")
                    .or(long_link.take())
                    .unwrap_or_else(|| text(&block[157..257]));
                meta.insert(MetaKey::named("link"), Meta::Text(link));
            }
            meta.insert(MetaKey::Type, Meta::Text(kind.clone()));
            self.index += 1;
            return Some(Ok(TarEntry {
                name,
                meta,
                data: data_start..data_end,
                regular: kind == "file",
                header: at,
                pax,
            }));
        }
    }
}

pub(crate) fn children<'a>(
    node: &'a Node,
    limits: &'a Limits,
) -> Box<dyn Iterator<Item = Result<Node, ChildError>> + 'a> {
    Box::new(
        TarWalk::new(&node.data, limits.max_members).map(move |entry| {
            let entry = entry?;
            // The node's name is bounded (it goes into every finding); the entry keeps the
            // whole name for det-build's normalizer, which rewrites it.
            let name = super::bounded_name(entry.name);
            let mut child = if entry.regular {
                Node::new(name, node.data.slice(entry.data))
            } else {
                Node {
                    name,
                    kind: NodeKind::Member,
                    format: Format::Other,
                    meta: MetaMap::new(),
                    data: Bytes::from_vec(Vec::new()),
                }
            };
            child.meta = entry.meta;
            Ok(child)
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields() {
        assert_eq!(numeric(b"0000644\0"), Some(0o644));
        assert_eq!(numeric(b"        "), Some(0));
        assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(numeric(b"89"), None);
    }

    #[test]
    fn pax_records_parse() {
        let r = pax_records(b"30 mtime=1700000000.123456789\n20 atime=1700000001\n").unwrap();
        assert_eq!(r[0], ("mtime".into(), "1700000000.123456789".into()));
        assert_eq!(r[1], ("atime".into(), "1700000001".into()));
        assert!(pax_records(b"99 mtime=1\n").is_err());
    }
}
