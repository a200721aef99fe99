//! tar: rewritten member by member in sorted order, with times SOURCE_DATE_EPOCH, owner
//! 0/`root`, pax time records dropped (other pax records, xattrs for example, kept), GNU
//! long-name headers for names over 100 bytes, content copied. Modes, link targets and
//! device numbers are kept. Hard links point at whichever of their names now comes first.

use super::{Ctx, Step, run_nested};
use crate::artifact::tar::{TarEntry, TarWalk, pax_records};
use crate::artifact::{Bytes, MetaKey};
use std::collections::HashMap;

const BLOCK: usize = 512;
/// Pax records the writer sets itself or drops (times, owners, what the header holds).
const PAX_DROPPED: &[&str] = &[
    "mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "size", "path", "linkpath",
];

/// An octal field of `width` bytes (NUL-terminated), or GNU base-256 when it does not fit.
fn numeric(field: &mut [u8], v: u64) {
    let width = field.len();
    let text = format!("{v:0w$o}", w = width - 1);
    if text.len() < width {
        field[..width - 1].copy_from_slice(text.as_bytes());
        field[width - 1] = 0;
    } else {
        field.fill(0);
        let be = v.to_be_bytes();
        let n = be.len().min(width - 1);
        field[width - n..].copy_from_slice(&be[be.len() - n..]);
        field[0] = 0x80;
    }
}

struct Header<'a> {
    name: &'a [u8],
    mode: u64,
    size: u64,
    mtime: i64,
    typeflag: u8,
    link: &'a [u8],
    dev: Option<&'a [u8]>,
}

fn block(h: &Header) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let n = h.name.len().min(100);
    b[..n].copy_from_slice(&h.name[..n]);
    numeric(&mut b[100..108], h.mode);
    numeric(&mut b[108..116], 0);
    numeric(&mut b[116..124], 0);
    numeric(&mut b[124..136], h.size);
    numeric(&mut b[136..148], h.mtime.max(0) as u64);
    b[156] = h.typeflag;
    let l = h.link.len().min(100);
    b[157..157 + l].copy_from_slice(&h.link[..l]);
    b[257..265].copy_from_slice(b"ustar  \0");
    b[265..269].copy_from_slice(b"root");
    b[297..301].copy_from_slice(b"root");
    match h.dev {
        Some(dev) => b[329..345].copy_from_slice(dev),
        None => {
            numeric(&mut b[329..337], 0);
            numeric(&mut b[337..345], 0);
        }
    }
    b[148..156].fill(b' ');
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    let text = format!("{sum:06o}\0 ");
    b[148..156].copy_from_slice(text.as_bytes());
    b
}

fn push_data(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(BLOCK), 0);
}

/// A GNU long name (`L`) or long link (`K`) pseudo-member.
fn long(out: &mut Vec<u8>, typeflag: u8, value: &[u8], mtime: i64) {
    let mut v = value.to_vec();
    v.push(0);
    out.extend_from_slice(&block(&Header {
        name: b"././@LongLink",
        mode: 0o644,
        size: v.len() as u64,
        mtime,
        typeflag,
        link: b"",
        dev: None,
    }));
    push_data(out, &v);
}

/// Pax records in their `"%d %s=%s\n"` form.
fn pax_block(out: &mut Vec<u8>, typeflag: u8, records: &[(String, String)], mtime: i64) {
    let mut body = Vec::new();
    for (k, v) in records {
        let rest = k.len() + v.len() + 3;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        body.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
    }
    let name: &[u8] = if typeflag == b'g' {
        b"pax_global_header"
    } else {
        b"././@PaxHeader"
    };
    out.extend_from_slice(&block(&Header {
        name,
        mode: 0o644,
        size: body.len() as u64,
        mtime,
        typeflag,
        link: b"",
        dev: None,
    }));
    push_data(out, &body);
}

fn octal(field: &[u8]) -> u64 {
    let s = String::from_utf8_lossy(field);
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(s.split('\0').next().unwrap_or("").trim(), 8).unwrap_or(0)
}

pub(crate) fn normalize(data: &Bytes, cx: &Ctx) -> Result<Step, String> {
    let d: &[u8] = data;
    let mut list: Vec<TarEntry> = Vec::new();
    for e in TarWalk::new(d, usize::MAX) {
        let e = e.map_err(|e| {
            if e.name.is_empty() {
                e.message
            } else {
                format!("tar member `{}`: {}", e.name, e.message)
            }
        })?;
        let typeflag = d[e.header + 156];
        if typeflag == b'S' || e.pax.iter().any(|(k, _)| k.starts_with("GNU.sparse")) {
            return Ok(Step::Unsupported(format!(
                "sparse member `{}`: sparse tar archives are left as they are",
                e.name
            )));
        }
        if !matches!(typeflag, b'0'..=b'7' | 0) {
            return Ok(Step::Unsupported(format!(
                "member `{}` of type `{}`, which det does not rewrite",
                e.name,
                typeflag.escape_ascii()
            )));
        }
        list.push(e);
    }
    let mtime = cx.opts.time(cx.opts.source_date_epoch);
    let mut out = Vec::with_capacity(d.len());
    // A leading global pax header (git archive's commit id) is kept, without times.
    if d.len() >= BLOCK && d[156] == b'g' {
        let size = octal(&d[124..136]) as usize;
        let body = d
            .get(BLOCK..BLOCK + size)
            .ok_or("truncated pax global header")?;
        let records = pax_records(body)?;
        let kept: Vec<(String, String)> = records
            .into_iter()
            .filter(|(k, _)| !PAX_DROPPED.contains(&k.as_str()))
            .collect();
        if !kept.is_empty() {
            pax_block(&mut out, b'g', &kept, mtime);
        }
    }

    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by_cached_key(|&i| crate::sorted::normalizer_key(&list[i].name));
    // Hard links: each group (a file and the links to it) gets its content on the member
    // that comes first in the new order; the others link to that one.
    let mut last_file: HashMap<&str, usize> = HashMap::new();
    let mut group_of: Vec<Option<usize>> = vec![None; list.len()];
    for (i, e) in list.iter().enumerate() {
        match d[e.header + 156] {
            b'1' => {
                let target = match e.meta.get(&MetaKey::named("link")) {
                    Some(crate::artifact::Meta::Text(t)) => t.as_str(),
                    _ => "",
                };
                if let Some(&t) = last_file.get(target) {
                    let root = group_of[t].unwrap_or(t);
                    group_of[t] = Some(root);
                    group_of[i] = Some(root);
                }
            }
            _ if e.regular => {
                last_file.insert(e.name.as_str(), i);
            }
            _ => {}
        }
    }
    let mut first_of_group: HashMap<usize, usize> = HashMap::new();
    for &i in &order {
        if let Some(root) = group_of[i] {
            first_of_group.entry(root).or_insert(i);
        }
    }

    for &i in &order {
        let e = &list[i];
        let h = &d[e.header..e.header + BLOCK];
        let (typeflag, link, source) = match group_of[i] {
            Some(root) => {
                let first = first_of_group[&root];
                if first == i {
                    (b'0', Vec::new(), root)
                } else {
                    (b'1', list[first].name.as_bytes().to_vec(), root)
                }
            }
            None => {
                let link = match e.meta.get(&MetaKey::named("link")) {
                    Some(crate::artifact::Meta::Text(t)) => t.as_bytes().to_vec(),
                    _ => Vec::new(),
                };
                (h[156], link, i)
            }
        };
        let mode = octal(&d[list[source].header + 100..list[source].header + 108]);
        let nested: Option<Vec<u8>>;
        let content_ref: &[u8] = if matches!(typeflag, b'0' | 0 | b'7') {
            let raw = &d[list[source].data.clone()];
            nested = run_nested(raw, &e.name, cx, &|_: &str| None)
                .map_err(|m| format!("tar member `{}`: {m}", e.name))?;
            nested.as_deref().unwrap_or(raw)
        } else {
            &d[0..0]
        };
        let kept: Vec<(String, String)> = e
            .pax
            .iter()
            .filter(|(k, _)| !PAX_DROPPED.contains(&k.as_str()))
            .cloned()
            .collect();
        if !kept.is_empty() {
            pax_block(&mut out, b'x', &kept, mtime);
        }
        let name = e.name.as_bytes();
        if name.len() > 100 {
            long(&mut out, b'L', name, mtime);
        }
        if link.len() > 100 {
            long(&mut out, b'K', &link, mtime);
        }
        let dev = matches!(typeflag, b'3' | b'4').then(|| &h[329..345]);
        out.extend_from_slice(&block(&Header {
            name,
            mode,
            size: content_ref.len() as u64,
            mtime: cx.opts.time(match e.meta.get(&MetaKey::Mtime) {
                Some(crate::artifact::Meta::Int(t)) => *t,
                _ => 0,
            }),
            typeflag,
            link: &link,
            dev,
        }));
        push_data(&mut out, content_ref);
    }
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    Ok(Step::Changed(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields_octal_and_base256() {
        let mut f = [0u8; 12];
        numeric(&mut f, 0o644);
        assert_eq!(&f, b"00000000644\0");
        numeric(&mut f, 1 << 40);
        assert_eq!(f[0], 0x80);
        assert_eq!(&f[6..], &[1, 0, 0, 0, 0, 0]);
    }
}
