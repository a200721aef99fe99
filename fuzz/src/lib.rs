//! The one body every fuzz target shares: scan the input as a given format, with the format
//! forced rather than detected, so that each parser must cope with any bytes.

use det_common::artifact::{Bytes, Format, Limits, Node, NodeKind};
use det_common::detect::{ScanOptions, scan_node};
use det_common::finding::Location;

/// Scan `data` as `format` through the whole pipeline (parser, detectors, children).
pub fn scan_as(format: Format, data: &[u8]) {
    let node = Node {
        name: "fuzz".into(),
        kind: NodeKind::File,
        format,
        meta: Default::default(),
        data: Bytes::from_vec(data.to_vec()),
    };
    // Small limits keep libFuzzer's RSS limit out of the way; the bounds are what is tested.
    let opts = ScanOptions {
        limits: Limits {
            max_decompressed: 16 << 20,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let mut out = Vec::new();
    scan_node(&node, &Location::file("fuzz"), None, &opts, 0, &mut out);
}

/// Section names an ELF built by [`elf_from`] can have: those the detectors treat specially.
const ELF_NAMES: &[&str] = &[
    ".note.gnu.build-id",
    ".comment",
    ".debug_info",
    ".debug_abbrev",
    ".debug_str",
    ".debug_line",
    ".debug_line_str",
    ".zdebug_str",
    ".rodata",
    ".data",
    ".gnu.lto_main.0123456789abcdef",
];

/// A well-formed ELF64 whose sections are made from the fuzz input, so that the detectors
/// behind the parser (the build-id note, `.comment`, DWARF, compressed sections, overlapping
/// section headers) see nearly every input: raw bytes only rarely parse as an ELF with a
/// note in it, which is how an empty build-id descriptor went unfuzzed (issue 7).
///
/// Input: one byte for the number of sections (1 to 8), then per section a name byte, a
/// flags byte (bit 0: SHF_COMPRESSED, bit 1: start where the previous section starts) and a
/// length byte; then the bytes the sections are cut from. A build-id note gets a real note
/// header whose descriptor size comes from the input (0 included).
pub fn elf_from(data: &[u8]) -> Vec<u8> {
    let (&n, mut rest) = data.split_first().unwrap_or((&1, &[]));
    let n = usize::from(n % 8) + 1;
    let mut specs = Vec::new();
    for _ in 0..n {
        let (spec, r) = rest.split_at(rest.len().min(3));
        rest = r;
        let b = |i: usize| spec.get(i).copied().unwrap_or(0);
        specs.push((
            ELF_NAMES[usize::from(b(0)) % ELF_NAMES.len()],
            b(1),
            usize::from(b(2)),
        ));
    }
    let mut blob = Vec::new();
    let mut sections = Vec::new();
    let mut prev_start = 0u64;
    for (name, flags, len) in specs {
        let take = len.min(rest.len());
        let (content, r) = rest.split_at(take);
        rest = r;
        let start = if flags & 2 != 0 {
            prev_start
        } else {
            let s = blob.len() as u64;
            if name == ".note.gnu.build-id" {
                blob.extend_from_slice(&4u32.to_le_bytes());
                blob.extend_from_slice(&(u32::from(flags >> 2) % 33).to_le_bytes());
                blob.extend_from_slice(&3u32.to_le_bytes());
                blob.extend_from_slice(b"GNU\0");
            }
            blob.extend_from_slice(content);
            s
        };
        let size = blob.len() as u64 - start;
        let sh_type = if name.starts_with(".note") { 7 } else { 1 };
        let sh_flags = if flags & 1 != 0 { 0x800 } else { 0 };
        sections.push((name, sh_type, sh_flags, start, size.max(take as u64)));
        prev_start = start;
    }
    elf64(&blob, &sections)
}

/// A relocatable ELF64 (x86-64): header, `blob` at offset 64, names, section headers.
fn elf64(blob: &[u8], sections: &[(&str, u32, u64, u64, u64)]) -> Vec<u8> {
    let mut names = vec![0u8];
    let mut name_at = Vec::new();
    for (name, ..) in sections.iter().copied().chain([(".shstrtab", 0, 0, 0, 0)]) {
        name_at.push(names.len() as u32);
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let strtab_at = 64 + blob.len() as u64;
    let shoff = (strtab_at + names.len() as u64).div_ceil(8) * 8;
    let shnum = sections.len() as u16 + 2;
    let mut f = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
    for (v, w) in [
        (1u64, 2),
        (62, 2),
        (1, 4),
        (0, 8),
        (0, 8),
        (shoff, 8),
        (0, 4),
    ] {
        f.extend_from_slice(&v.to_le_bytes()[..w]);
    }
    for v in [64u16, 0, 0, 64, shnum, shnum - 1] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(blob);
    f.extend_from_slice(&names);
    f.resize(shoff as usize, 0);
    f.extend_from_slice(&[0u8; 64]);
    let strtab = (".shstrtab", 3, 0, strtab_at - 64, names.len() as u64);
    for (i, &(_, ty, flags, off, size)) in sections.iter().chain([&strtab]).enumerate() {
        f.extend_from_slice(&name_at[i].to_le_bytes());
        f.extend_from_slice(&ty.to_le_bytes());
        f.extend_from_slice(&flags.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
        f.extend_from_slice(&(64 + off).to_le_bytes());
        f.extend_from_slice(&size.to_le_bytes());
        f.extend_from_slice(&[0u8; 8]);
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
    }
    f
}
