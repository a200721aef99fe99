//! The sections of an object file (ELF, thin Mach-O, PE image, COFF object) as child nodes.
//!
//! Each section becomes a [`NodeKind::Section`] node named as det's findings name it
//! (`.rodata`; Mach-O `__TEXT,__cstring`, segment and section), its content the bytes the
//! file stores for it (zero-copy: a slice of the parent's buffer; empty for `.bss` and other
//! sections without file content; a compressed ELF section stays compressed and says so in
//! `compression`), and the section-table fields as metadata. A section whose content lies
//! (partly) past the end of the file keeps the part present and yields a [`ChildError`]
//! for the rest; a file that does not parse at all yields one [`ChildError`].

use super::{Bytes, ChildError, Format, Limits, Meta, MetaKey, MetaMap, Node, NodeKind};
use object::{CompressionFormat, Object, ObjectSection, SectionFlags};

pub(crate) fn children<'a>(
    node: &'a Node,
    limits: &'a Limits,
) -> Box<dyn Iterator<Item = Result<Node, ChildError>> + 'a> {
    Box::new(sections(&node.data, limits).into_iter())
}

/// The sections of the object file in `data`, in section-table order.
pub(crate) fn sections(data: &Bytes, limits: &Limits) -> Vec<Result<Node, ChildError>> {
    let file = match object::File::parse(&**data) {
        Ok(f) => f,
        Err(e) => {
            return vec![Err(ChildError {
                name: String::new(),
                message: format!("object file: {e}; its sections cannot be listed"),
            })];
        }
    };
    let macho = file.format() == object::BinaryFormat::MachO;
    let mut out = Vec::new();
    for (i, section) in file.sections().enumerate() {
        if out.len() >= limits.max_members {
            out.push(Err(ChildError {
                name: String::new(),
                message: format!(
                    "more than {} sections; the rest not listed",
                    limits.max_members
                ),
            }));
            break;
        }
        let name = String::from_utf8_lossy(section.name_bytes().unwrap_or_default()).into_owned();
        let name = match section.segment_name_bytes() {
            Ok(Some(seg)) if macho => format!("{},{name}", String::from_utf8_lossy(seg)),
            _ => name,
        };
        let mut meta = MetaMap::new();
        meta.insert(MetaKey::Index, Meta::Int(i as i64));
        meta.insert(MetaKey::Address, Meta::Int(section.address() as i64));
        meta.insert(MetaKey::Size, Meta::Int(section.size() as i64));
        meta.insert(MetaKey::Align, Meta::Int(section.align() as i64));
        let (ty, flags) = match section.flags() {
            SectionFlags::Elf { sh_type, sh_flags } => (Some(sh_type.0 as i64), sh_flags.0 as i64),
            SectionFlags::MachO { flags, .. } => (Some(flags.0 as i64 & 0xff), flags.0 as i64),
            SectionFlags::Coff { characteristics } => (None, characteristics.0 as i64),
            _ => (None, 0),
        };
        if let Some(ty) = ty {
            meta.insert(MetaKey::Type, Meta::Int(ty));
        }
        meta.insert(MetaKey::Flags, Meta::Int(flags));
        if let Ok(c) = section.compressed_file_range()
            && c.format != CompressionFormat::None
        {
            let how = match c.format {
                CompressionFormat::Zlib => "zlib",
                CompressionFormat::Zstandard => "zstd",
                _ => "unknown",
            };
            meta.insert(MetaKey::other("compression"), Meta::Text(how.into()));
            meta.insert(
                MetaKey::other("uncompressed-size"),
                Meta::Int(c.uncompressed_size as i64),
            );
        }
        let content = match section.file_range() {
            None => data.slice(0..0),
            Some((start, size)) => {
                meta.insert(MetaKey::FileOffset, Meta::Int(start as i64));
                let end = start.saturating_add(size);
                if end > data.len() as u64 {
                    out.push(Err(ChildError {
                        name: name.clone(),
                        message: format!(
                            "section content {start}..{end} is cut off at {}",
                            data.len()
                        ),
                    }));
                }
                let start = usize::try_from(start).unwrap_or(usize::MAX);
                let end = usize::try_from(end).unwrap_or(usize::MAX);
                data.slice(start..end)
            }
        };
        out.push(Ok(Node {
            name,
            kind: NodeKind::Section,
            format: Format::Other,
            meta,
            data: content,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_a_real_elf_are_zero_copy_children() {
        // The test binary itself: a real ELF written by rustc and the system linker.
        let exe = std::env::current_exe().unwrap();
        let node = Node::open(&exe).unwrap();
        assert_eq!(node.kind, NodeKind::File);
        let kids: Vec<Node> = node
            .children(&Limits::default())
            .map(|c| c.unwrap())
            .collect();
        let file = object::File::parse(&*node.data).unwrap();
        assert_eq!(kids.len(), file.sections().count());
        let text = kids.iter().find(|k| k.name == ".text").expect(".text");
        assert_eq!(text.kind, NodeKind::Section);
        let s = file.section_by_name(".text").unwrap();
        assert_eq!(&*text.data, s.data().unwrap());
        assert_eq!(text.meta_int(&MetaKey::Address), Some(s.address() as i64));
        assert_eq!(
            text.meta_int(&MetaKey::FileOffset),
            Some(s.file_range().unwrap().0 as i64)
        );
        let bss = kids.iter().find(|k| k.name == ".bss").expect(".bss");
        assert!(bss.data.is_empty());
    }

    #[test]
    fn garbage_is_one_error_not_a_panic() {
        let node = Node::new("x", Bytes::from_vec(b"\x7fELF\x02\x01\x01garbage".to_vec()));
        let kids: Vec<_> = node.children(&Limits::default()).collect();
        assert_eq!(kids.len(), 1);
        assert!(kids[0].is_err());
    }
}
