//! Universal ("fat") Mach-O files: one child node per architecture slice, named by its
//! architecture (`arm64`, `x86_64`, ...). The fat header is big-endian: a magic
//! (0xcafebabe, or 0xcafebabf with 64-bit offsets), a count, then one entry per slice with
//! its CPU type, offset and size.

use super::{ChildError, Limits, Meta, MetaKey, Node};

const FAT_MAGIC_64: u32 = 0xcafe_babf;

/// The slices of the universal binary `node`, in header order.
pub(crate) fn children<'a>(
    node: &'a Node,
    limits: &'a Limits,
) -> Box<dyn Iterator<Item = Result<Node, ChildError>> + 'a> {
    let d: &[u8] = &node.data;
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
    };
    let be64 = |at: usize| -> Option<u64> {
        Some(u64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
    };
    let (Some(magic), Some(count)) = (be32(0), be32(4)) else {
        return Box::new(std::iter::once(Err(broken("the fat header is cut off"))));
    };
    let wide = magic == FAT_MAGIC_64;
    let entry = if wide { 32 } else { 20 };
    let listed = (count as usize).min(limits.max_members);
    let header_end = 8u64.saturating_add(entry as u64 * listed as u64);
    let mut items = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    // (offset, end, index, name) of the slices inside the file, checked for overlap below.
    let mut slices: Vec<(u64, u64, usize, String)> = Vec::new();
    for i in 0..listed {
        let at = 8 + i * entry;
        let fields = if wide {
            (be32(at), be32(at + 4), be64(at + 8), be64(at + 16))
        } else {
            (
                be32(at),
                be32(at + 4),
                be32(at + 8).map(u64::from),
                be32(at + 12).map(u64::from),
            )
        };
        let (Some(cpu), Some(sub), Some(offset), Some(size)) = fields else {
            items.push((
                i,
                Err(broken(&format!(
                    "the fat header is cut off at slice {i} of {count}"
                ))),
            ));
            break;
        };
        let mut name = arch_name(cpu, sub);
        if names.contains(&name) {
            name = format!("{name}#{i}");
        }
        names.insert(name.clone());
        let end = offset.saturating_add(size);
        if end > d.len() as u64 {
            items.push((
                i,
                Err(ChildError {
                    name,
                    message: format!(
                        "slice {i} at {offset}..{end} lies past the end of the file ({} bytes)",
                        d.len()
                    ),
                }),
            ));
            continue;
        }
        slices.push((offset, end, i, name));
    }
    // A slice is a file of its own: one that covers the fat header (the file itself, which
    // would nest without end) or another slice is invalid, as lipo and the kernel hold.
    slices.sort();
    let mut reach: Option<(u64, usize)> = None;
    for (offset, end, i, name) in slices {
        let empty = offset == end;
        let problem = if !empty && offset < header_end {
            Some(format!(
                "slice {i} at {offset}..{end} overlaps the fat header (0..{header_end}); not opened"
            ))
        } else {
            match reach {
                Some((max_end, other)) if !empty && offset < max_end => Some(format!(
                    "slice {i} at {offset}..{end} overlaps slice {other}; not opened"
                )),
                _ => None,
            }
        };
        if let Some(message) = problem {
            items.push((i, Err(ChildError { name, message })));
            continue;
        }
        if reach.is_none_or(|(max_end, _)| end > max_end) {
            reach = Some((end, i));
        }
        let data = node.data.slice(offset as usize..end as usize);
        items.push((
            i,
            Ok(Node::new(name, data).with_meta(MetaKey::Index, Meta::Int(i as i64))),
        ));
    }
    // Header order, as lipo lists them.
    items.sort_by_key(|(i, _)| *i);
    Box::new(items.into_iter().map(|(_, item)| item))
}

fn broken(message: &str) -> ChildError {
    ChildError {
        name: String::new(),
        message: format!("universal Mach-O: {message}"),
    }
}

/// The name Apple's tools (lipo, file) give the architecture of a slice.
fn arch_name(cpu: u32, sub: u32) -> String {
    let sub = sub & 0x00ff_ffff;
    match (cpu, sub) {
        (0x0100_0007, 8) => "x86_64h".into(),
        (0x0100_0007, _) => "x86_64".into(),
        (7, _) => "i386".into(),
        (0x0100_000c, 2) => "arm64e".into(),
        (0x0100_000c, _) => "arm64".into(),
        (0x0200_000c, _) => "arm64_32".into(),
        (12, 9) => "armv7".into(),
        (12, 11) => "armv7s".into(),
        (12, _) => "arm".into(),
        (18, _) => "ppc".into(),
        (0x0100_0012, _) => "ppc64".into(),
        _ => format!("cpu-{cpu:x}-{sub:x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{Bytes, Format};

    fn fat(slices: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = 0xcafe_babe_u32.to_be_bytes().to_vec();
        v.extend((slices.len() as u32).to_be_bytes());
        let mut off = 4096u32;
        let mut body = Vec::new();
        for (cpu, sub, data) in slices {
            for x in [*cpu, *sub, off, data.len() as u32, 12] {
                v.extend(x.to_be_bytes());
            }
            body.push((off, *data));
            off += (data.len() as u32).div_ceil(4096) * 4096;
        }
        for (off, data) in body {
            v.resize(off as usize, 0);
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn slices_are_named_by_architecture() {
        let data = fat(&[
            (0x0100_000c, 0, b"\xcf\xfa\xed\xfeA"),
            (0x0100_0007, 3, b"\xcf\xfa\xed\xfeB"),
        ]);
        let node = Node::new("u", Bytes::from_vec(data));
        assert_eq!(node.format, Format::MachOFat);
        let kids: Vec<_> = children(&node, &Limits::default())
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            kids.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            ["arm64", "x86_64"]
        );
        assert_eq!(&*kids[1].data, b"\xcf\xfa\xed\xfeB");
        assert_eq!(kids[0].format, Format::MachO);
    }

    #[test]
    fn truncated_headers_and_slices_are_errors() {
        let mut data = fat(&[
            (0x0100_000c, 0, b"\xcf\xfa\xed\xfeA"),
            (0x0100_0007, 3, b"\xcf\xfa\xed\xfeB"),
        ]);
        data.truncate(8194);
        let node = Node::new("u", Bytes::from_vec(data.clone()));
        let kids: Vec<_> = children(&node, &Limits::default()).collect();
        assert!(kids[0].is_ok());
        let e = kids[1].as_ref().unwrap_err();
        assert_eq!(e.name, "x86_64");
        assert!(e.message.contains("past the end"), "{}", e.message);

        let node = Node::new("u", Bytes::from_vec(data[..20].to_vec()));
        let kids: Vec<_> = children(&node, &Limits::default()).collect();
        assert_eq!(kids.len(), 1);
        assert!(
            kids[0]
                .as_ref()
                .unwrap_err()
                .message
                .contains("cut off at slice 0")
        );
    }
}
