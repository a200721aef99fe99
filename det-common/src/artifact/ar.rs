//! Unix ar archives: static libraries (GNU, BSD and Windows .lib flavours), .rlib, the outer
//! layer of .deb, and thin archives.
//!
//! Members are slices of the archive (no copies), named by their full name: GNU long names
//! come from the `//` table, BSD long names (`#1/len`) from the start of the member data.
//! Symbol tables (`/`, `/SYM64/`, `__.SYMDEF*`) are index data written by the tool, not
//! members, and are skipped. A thin archive stores only paths to files outside it: its
//! members are listed (name and header fields) with empty content and never opened.
//! Member metadata: `mtime`, `uid`, `gid` (decimal), `mode` (octal in the header, stored
//! as its value), `index`; `thin-size` for a thin member.

use super::{ArKind, Bytes, ChildError, Format, Limits, Meta, MetaKey, MetaMap, Node, NodeKind};

const HEADER_LEN: usize = 60;

struct ArMembers<'a> {
    data: Bytes,
    pos: usize,
    thin: bool,
    long_names: Option<Bytes>,
    index: usize,
    done: bool,
    limits: &'a Limits,
}

pub(crate) fn children<'a>(
    node: &'a Node,
    limits: &'a Limits,
) -> Box<dyn Iterator<Item = Result<Node, ChildError>> + 'a> {
    Box::new(ArMembers {
        data: node.data.clone(),
        pos: 8,
        thin: node.format == Format::Ar(ArKind::Thin),
        long_names: None,
        index: 0,
        done: false,
        limits,
    })
}

/// `name` as a string: copied as is when it is UTF-8 (an ar member name nearly always is,
/// and this runs once per member), else with U+FFFD for each invalid sequence.
fn name_string(name: &[u8]) -> String {
    match std::str::from_utf8(name) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(name).into_owned(),
    }
}

/// A header field without the spaces and NULs that pad it.
fn trimmed(field: &[u8]) -> &[u8] {
    let pad = |b: &u8| *b == b' ' || *b == 0;
    let start = field.iter().position(|b| !pad(b)).unwrap_or(field.len());
    let end = field.iter().rposition(|b| !pad(b)).map_or(start, |i| i + 1);
    &field[start..end]
}

/// A number of at most 18 digits of `radix` (10 or 8), which cannot overflow: the fields of
/// an ar header, read once per member. Anything else (a sign, another byte) goes to the
/// general parse.
fn plain_digits(s: &[u8], radix: u8) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.iter().all(|&b| b.is_ascii_digit() && b - b'0' < radix) {
        return None;
    }
    Some(
        s.iter()
            .fold(0i64, |a, &b| a * i64::from(radix) + i64::from(b - b'0')),
    )
}

fn decimal(field: &[u8]) -> Option<i64> {
    let s = trimmed(field);
    plain_digits(s, 10).or_else(|| std::str::from_utf8(s).ok()?.parse().ok())
}

fn octal(field: &[u8]) -> Option<i64> {
    let s = trimmed(field);
    plain_digits(s, 8).or_else(|| i64::from_str_radix(std::str::from_utf8(s).ok()?, 8).ok())
}

fn is_symbol_table(name: &[u8]) -> bool {
    name == b"/" || name == b"/SYM64/" || name.starts_with(b"__.SYMDEF")
}

impl ArMembers<'_> {
    fn fail(&mut self, name: &str, message: String) -> Option<Result<Node, ChildError>> {
        self.done = true;
        Some(Err(ChildError {
            name: name.to_owned(),
            message,
        }))
    }

    /// The GNU long name at `offset` in the `//` table.
    fn long_name(&self, offset: usize) -> Option<String> {
        let table = self.long_names.as_ref()?;
        let rest = table.get(offset..table.len())?;
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let name = rest[..end].strip_suffix(b"/").unwrap_or(&rest[..end]);
        Some(name_string(name))
    }
}

impl Iterator for ArMembers<'_> {
    type Item = Result<Node, ChildError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let len = self.data.len();
            // Members start on even offsets; some writers leave a lone newline at the end.
            if self.pos >= len || (self.pos + 1 == len && self.data[self.pos] == b'\n') {
                self.done = true;
                return None;
            }
            let at = self.pos;
            let Some(header) = self.data.get(at..at + HEADER_LEN) else {
                return self.fail("", format!("truncated ar member header at offset {at}"));
            };
            if &header[58..60] != b"`\n" {
                return self.fail("", format!("malformed ar member header at offset {at}"));
            }
            let raw_name = {
                let n = &header[..16];
                let end = n.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
                &n[..end]
            };
            let Some(size) = decimal(&header[48..58]).and_then(|s| usize::try_from(s).ok()) else {
                return self.fail(
                    "",
                    format!("ar member header at offset {at} has an invalid size field"),
                );
            };
            let data_start = at + HEADER_LEN;
            // In a thin archive only the symbol table and the long-name table are stored.
            let stored =
                !self.thin || raw_name == b"/" || raw_name == b"//" || raw_name == b"/SYM64/";
            let data_end = if stored {
                data_start.saturating_add(size)
            } else {
                data_start
            };
            let Some(body) = self.data.get(data_start..data_end) else {
                return self.fail(
                    &String::from_utf8_lossy(raw_name),
                    format!(
                        "ar member at offset {at} is truncated: {size} bytes declared, {} present",
                        len.saturating_sub(data_start)
                    ),
                );
            };
            self.pos = data_end.saturating_add(data_end & 1);

            if is_symbol_table(raw_name) {
                continue;
            }
            if raw_name == b"//" {
                self.long_names = Some(body);
                continue;
            }
            let (name, body) = if let Some(n) = raw_name.strip_prefix(b"#1/") {
                // BSD: the name is the first `n` bytes of the member data.
                let Some(n) = decimal(n).and_then(|n| usize::try_from(n).ok()) else {
                    return self.fail("", format!("bad BSD long name at offset {at}"));
                };
                let Some(name) = body.get(0..n) else {
                    return self.fail("", format!("BSD long name at offset {at} is truncated"));
                };
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                let name = name[..end].to_vec();
                if is_symbol_table(&name) {
                    continue;
                }
                (name_string(&name), body.slice(n..body.len()))
            } else if raw_name.len() > 1
                && raw_name[0] == b'/'
                && raw_name[1..].iter().all(u8::is_ascii_digit)
            {
                let offset = decimal(&raw_name[1..]).unwrap_or(-1);
                match usize::try_from(offset).ok().and_then(|o| self.long_name(o)) {
                    Some(name) => (name, body),
                    None => {
                        return self.fail(
                            "",
                            format!(
                                "ar member at offset {at} names long-name entry {offset}, which the `//` table lacks"
                            ),
                        );
                    }
                }
            } else {
                let n = raw_name.strip_suffix(b"/").unwrap_or(raw_name);
                (name_string(n), body)
            };

            if self.index >= self.limits.max_members {
                return self.fail(
                    "",
                    format!(
                        "more than {} members; the rest were not opened",
                        self.limits.max_members
                    ),
                );
            }
            let mut meta = MetaMap::with_capacity(if stored { 5 } else { 6 });
            meta.insert(MetaKey::Index, Meta::Int(self.index as i64));
            // In key order, so that each insert appends.
            for (key, value) in [
                (MetaKey::Mtime, decimal(&header[16..28])),
                (MetaKey::Uid, decimal(&header[28..34])),
                (MetaKey::Gid, decimal(&header[34..40])),
                (MetaKey::Mode, octal(&header[40..48])),
            ] {
                // Windows .lib writers leave uid/gid blank: no value, no key.
                if let Some(v) = value {
                    meta.insert(key, Meta::Int(v));
                }
            }
            self.index += 1;
            let node = if stored {
                let mut node = Node::new(name, body);
                node.meta = meta;
                node
            } else {
                meta.insert(MetaKey::named("thin-size"), Meta::Int(size as i64));
                Node {
                    name,
                    kind: NodeKind::Member,
                    format: Format::Other,
                    meta,
                    data: Bytes::from_vec(Vec::new()),
                }
            };
            return Some(Ok(node));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, mtime: u64, body: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "{name:<16}{mtime:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            1000,
            1000,
            100644,
            body.len()
        )
        .into_bytes();
        v.extend_from_slice(body);
        if body.len() % 2 == 1 {
            v.push(b'\n');
        }
        v
    }

    fn names(data: Vec<u8>) -> Vec<Result<String, String>> {
        let node = Node::new("t.a", Bytes::from_vec(data));
        let limits = Limits::default();
        node.children(&limits)
            .map(|c| c.map(|n| n.name).map_err(|e| e.message))
            .collect()
    }

    #[test]
    fn gnu_long_names_and_symbol_tables() {
        let mut a = b"!<arch>\n".to_vec();
        a.extend(member("/", 0, b"\0\0\0\0"));
        a.extend(member("//", 0, b"a_very_long_object_name.o/\n"));
        a.extend(member("/0", 5, b"\x7fELF"));
        a.extend(member("short.o/", 5, b"x"));
        assert_eq!(
            names(a),
            vec![Ok("a_very_long_object_name.o".into()), Ok("short.o".into())]
        );
    }

    #[test]
    fn bsd_long_names() {
        let mut a = b"!<arch>\n".to_vec();
        a.extend(member("#1/20", 0, b"__.SYMDEF SORTED\0\0\0\0"));
        a.extend(member("#1/22", 0, b"long_bsd_object_name.oELF"));
        assert_eq!(names(a), vec![Ok("long_bsd_object_name.o".into())]);
    }

    #[test]
    fn truncated_member_is_an_error_not_a_panic() {
        let mut a = b"!<arch>\n".to_vec();
        a.extend(member("a.o/", 0, b"0123456789"));
        a.truncate(a.len() - 4);
        let got = names(a);
        assert_eq!(got.len(), 1);
        assert!(
            got[0].as_ref().unwrap_err().contains("truncated"),
            "{got:?}"
        );
    }
}
