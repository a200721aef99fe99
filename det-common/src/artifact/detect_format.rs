//! Format detection by content (magic bytes and header sanity), never by file name.

use serde::Serialize;

/// What a byte stream is, as far as det cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Elf,
    /// A thin Mach-O file (one architecture).
    MachO,
    /// A universal ("fat") Mach-O file holding several thin ones.
    MachOFat,
    /// A PE image (MZ header with a PE signature): .exe, .dll.
    Pe,
    /// A COFF object file (.obj), as found inside Windows .lib archives.
    Coff,
    /// A Unix ar archive: static libraries, .rlib, the outer layer of .deb.
    Ar(ArKind),
    /// A zip archive: .zip, wheels, jars, .nupkg, .apk.
    Zip,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
    Tar,
    /// Compiled Python bytecode.
    Pyc,
    /// Mostly printable UTF-8 (or ASCII) text.
    Text,
    Other,
}

/// The kind of ar archive, from its first members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArKind {
    /// A static library or any other ar archive.
    Plain,
    /// A thin archive (`!<thin>`): members are paths to files outside it.
    Thin,
    /// A Rust library (`lib.rmeta` member).
    Rlib,
    /// A Debian package (first member `debian-binary`).
    Deb,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Elf => "elf",
            Format::MachO => "mach-o",
            Format::MachOFat => "mach-o-universal",
            Format::Pe => "pe",
            Format::Coff => "coff",
            Format::Ar(ArKind::Plain) => "ar",
            Format::Ar(ArKind::Thin) => "ar-thin",
            Format::Ar(ArKind::Rlib) => "rlib",
            Format::Ar(ArKind::Deb) => "deb",
            Format::Zip => "zip",
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Bzip2 => "bzip2",
            Format::Tar => "tar",
            Format::Pyc => "pyc",
            Format::Text => "text",
            Format::Other => "other",
        }
    }

    /// Formats whose content holds other nodes (members, streams, slices).
    pub fn is_container(self) -> bool {
        matches!(
            self,
            Format::MachOFat
                | Format::Ar(_)
                | Format::Zip
                | Format::Gzip
                | Format::Xz
                | Format::Zstd
                | Format::Bzip2
                | Format::Tar
        )
    }
}

/// How many leading bytes [`detect`] looks at at most (text detection samples this much).
pub const SNIFF_LEN: usize = 8192;

/// The format of `data`, judged from its first bytes. Never fails: unknown content is
/// [`Format::Other`] (binary) or [`Format::Text`].
pub fn detect(data: &[u8]) -> Format {
    let d = data;
    if d.starts_with(b"\x7fELF") {
        return Format::Elf;
    }
    if d.len() >= 4 {
        let le = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        if matches!(le, 0xfeed_face | 0xfeed_facf) {
            return Format::MachO;
        }
        let be = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        if matches!(be, 0xfeed_face | 0xfeed_facf) {
            return Format::MachO;
        }
        if matches!(be, 0xcafe_babe | 0xcafe_babf) && d.len() >= 8 {
            // 0xcafebabe is also a Java class file; there bytes 4..8 are the class-file version
            // (major >= 45), while a universal binary has a handful of architectures.
            let nfat = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
            if (1..30).contains(&nfat) {
                return Format::MachOFat;
            }
        }
    }
    if d.starts_with(b"MZ") && (is_pe(d) || is_truncated_pe(d)) {
        return Format::Pe;
    }
    if d.starts_with(b"!<arch>\n") {
        return Format::Ar(ar_kind(&d[8..]));
    }
    if d.starts_with(b"!<thin>\n") {
        return Format::Ar(ArKind::Thin);
    }
    if d.starts_with(b"PK\x03\x04") || d.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    if d.starts_with(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if d.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Format::Xz;
    }
    if d.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Format::Zstd;
    }
    if d.starts_with(b"BZh") && d.len() > 3 && (b'1'..=b'9').contains(&d[3]) {
        return Format::Bzip2;
    }
    if is_tar(d) {
        return Format::Tar;
    }
    if is_pyc(d) {
        return Format::Pyc;
    }
    if is_coff(d) {
        return Format::Coff;
    }
    if is_text(d) {
        return Format::Text;
    }
    Format::Other
}

fn is_pe(d: &[u8]) -> bool {
    if d.len() < 0x40 {
        return false;
    }
    let off = u32::from_le_bytes([d[0x3c], d[0x3d], d[0x3e], d[0x3f]]) as usize;
    off.checked_add(4).is_some_and(|end| end <= d.len()) && &d[off..off + 4] == b"PE\0\0"
}

/// An MZ header whose PE header offset points just past the end: a PE image cut short.
/// Claiming it as PE lets the PE parser say so (a `parse-error`) instead of the file passing
/// as an unknown blob. The bound keeps text that starts with "MZ" out.
fn is_truncated_pe(d: &[u8]) -> bool {
    if d.len() < 0x40 {
        return false;
    }
    let off = u32::from_le_bytes([d[0x3c], d[0x3d], d[0x3e], d[0x3f]]) as usize;
    off + 4 > d.len() && (0x40..0x1_0000).contains(&off)
}

fn ar_kind(members: &[u8]) -> ArKind {
    // Each member header is 60 bytes; the name is its first 16. Look at the first few
    // members for `debian-binary` (always first in a .deb) and `lib.rmeta` (rlib).
    let mut rest = members;
    for _ in 0..4 {
        if rest.len() < 60 {
            break;
        }
        let name = &rest[..16];
        if name.starts_with(b"debian-binary") {
            return ArKind::Deb;
        }
        if name.starts_with(b"lib.rmeta") {
            return ArKind::Rlib;
        }
        let size = std::str::from_utf8(&rest[48..58])
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        let Some(size) = size else { break };
        let next = 60usize.saturating_add(size).saturating_add(size & 1);
        if next > rest.len() {
            break;
        }
        rest = &rest[next..];
    }
    ArKind::Plain
}

fn is_tar(d: &[u8]) -> bool {
    if d.len() < 512 {
        return false;
    }
    let header = &d[..512];
    if &header[257..262] == b"ustar" {
        return true;
    }
    // A v7 tar has no magic: accept it when the header checksum is right and the name is set.
    let Some(stored) = parse_octal(&header[148..156]) else {
        return false;
    };
    let sum: u64 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                b' ' as u64
            } else {
                b as u64
            }
        })
        .sum();
    header[0] != 0 && stored == sum
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return None;
    }
    u64::from_str_radix(s, 8).ok()
}

fn is_pyc(d: &[u8]) -> bool {
    // Python 3 magic: a little-endian u16 (3000..4000 for CPython 3.x) followed by "\r\n",
    // then a 32-bit flags word whose only defined bits are 0 and 1 (PEP 552).
    if d.len() < 16 || &d[2..4] != b"\r\n" {
        return false;
    }
    let magic = u16::from_le_bytes([d[0], d[1]]);
    let flags = u32::from_le_bytes([d[4], d[5], d[6], d[7]]);
    (3000..4000).contains(&magic) && flags <= 3
}

fn is_coff(d: &[u8]) -> bool {
    // IMAGE_FILE_HEADER: Machine, NumberOfSections, TimeDateStamp, PointerToSymbolTable,
    // NumberOfSymbols, SizeOfOptionalHeader (0 for objects), Characteristics.
    if d.len() < 20 {
        return false;
    }
    let machine = u16::from_le_bytes([d[0], d[1]]);
    let nsections = u16::from_le_bytes([d[2], d[3]]) as usize;
    let symptr = u32::from_le_bytes([d[8], d[9], d[10], d[11]]) as usize;
    let opt = u16::from_le_bytes([d[16], d[17]]);
    let known = matches!(machine, 0x014c | 0x8664 | 0xaa64 | 0x01c4 | 0xa641);
    known
        && opt == 0
        && (1..=96).contains(&nsections)
        && 20 + nsections * 40 <= d.len()
        && (symptr == 0 || symptr < d.len())
}

fn is_text(d: &[u8]) -> bool {
    let sample = &d[..d.len().min(SNIFF_LEN)];
    if sample.contains(&0) {
        return false;
    }
    // Allow a multi-byte UTF-8 character cut at the sample's end.
    let valid = match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > sample.len(),
    };
    if !valid {
        return false;
    }
    // Counted in byte-sized lanes (chunks of at most 255), which the compiler vectorizes:
    // this runs on the first 8 KiB of every file scanned.
    let control: usize = sample
        .chunks(255)
        .map(|c| {
            c.iter().fold(0u8, |n, &b| {
                n + u8::from(b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b))
            }) as usize
        })
        .sum();
    control * 100 <= sample.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar_member(name: &str, body: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            644,
            body.len()
        )
        .into_bytes();
        v.extend_from_slice(body);
        if body.len() % 2 == 1 {
            v.push(b'\n');
        }
        v
    }

    #[test]
    fn detects_magic_numbers() {
        assert_eq!(detect(b"\x7fELF\x02\x01\x01"), Format::Elf);
        assert_eq!(detect(&0xfeed_facf_u32.to_le_bytes()), Format::MachO);
        let mut fat = 0xcafe_babe_u32.to_be_bytes().to_vec();
        fat.extend_from_slice(&2u32.to_be_bytes());
        assert_eq!(detect(&fat), Format::MachOFat);
        let mut class = 0xcafe_babe_u32.to_be_bytes().to_vec();
        class.extend_from_slice(&[0, 0, 0, 61]);
        assert_ne!(
            detect(&class),
            Format::MachOFat,
            "a Java class file is not a universal binary"
        );
        assert_eq!(detect(b"PK\x03\x04rest"), Format::Zip);
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
        assert_eq!(detect(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]), Format::Xz);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Format::Zstd);
        assert_eq!(detect(b"BZh91AY"), Format::Bzip2);
        assert_eq!(detect(b"hello, world\n"), Format::Text);
        assert_eq!(detect(&[0u8, 1, 2, 3, 0xff, 0xfe]), Format::Other);
        assert_eq!(detect(b""), Format::Text);
    }

    #[test]
    fn detects_pe_only_with_signature() {
        let mut pe = vec![0u8; 0x80];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c] = 0x40;
        pe[0x40..0x44].copy_from_slice(b"PE\0\0");
        assert_eq!(detect(&pe), Format::Pe);
        pe[0x3c] = 0xff; // e_lfanew points past the end: a truncated PE
        assert_eq!(detect(&pe), Format::Pe);
        pe[0x3c] = 0x44; // inside, but no signature there: a DOS program, not a PE
        assert_ne!(detect(&pe), Format::Pe);
        let text =
            b"MZ is how this text starts, and it goes on long enough to have an e_lfanew field";
        assert_ne!(detect(text), Format::Pe);
    }

    #[test]
    fn detects_ar_kinds() {
        let mut deb = b"!<arch>\n".to_vec();
        deb.extend(ar_member("debian-binary", b"2.0\n"));
        assert_eq!(detect(&deb), Format::Ar(ArKind::Deb));
        let mut rlib = b"!<arch>\n".to_vec();
        rlib.extend(ar_member("/", b"\0\0\0\0"));
        rlib.extend(ar_member("lib.rmeta/", b"rust"));
        assert_eq!(detect(&rlib), Format::Ar(ArKind::Rlib));
        let mut plain = b"!<arch>\n".to_vec();
        plain.extend(ar_member("a.o/", b"\x7fELF"));
        assert_eq!(detect(&plain), Format::Ar(ArKind::Plain));
        assert_eq!(detect(b"!<thin>\n"), Format::Ar(ArKind::Thin));
        // A truncated member header must not panic.
        assert_eq!(detect(b"!<arch>\nshort"), Format::Ar(ArKind::Plain));
    }

    #[test]
    fn detects_tar_ustar_and_v7() {
        let mut h = vec![0u8; 1024];
        h[..5].copy_from_slice(b"a.txt");
        h[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(detect(&h), Format::Tar);
        // v7: no magic, valid checksum
        let mut v7 = vec![0u8; 1024];
        v7[..5].copy_from_slice(b"a.txt");
        v7[100..107].copy_from_slice(b"0000644");
        let sum: u64 = v7[..512]
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u64
                }
            })
            .sum();
        let field = format!("{sum:06o}\0 ");
        v7[148..156].copy_from_slice(field.as_bytes());
        assert_eq!(detect(&v7), Format::Tar);
        v7[0] = b'b'; // checksum now wrong
        assert_ne!(detect(&v7), Format::Tar);
    }

    #[test]
    fn detects_pyc() {
        let mut pyc = vec![0u8; 16];
        pyc[..4].copy_from_slice(&[0xa7, 0x0d, b'\r', b'\n']); // CPython 3.11
        assert_eq!(detect(&pyc), Format::Pyc);
        pyc[4] = 0x10; // undefined flag bits
        assert_ne!(detect(&pyc), Format::Pyc);
    }

    #[test]
    fn text_allows_cut_utf8_but_not_binary() {
        let mut t = "é".repeat(SNIFF_LEN).into_bytes();
        t.truncate(SNIFF_LEN + 1);
        assert_eq!(detect(&t), Format::Text);
        assert_eq!(
            detect(b"\x01\x02\x03\x04 text with controls"),
            Format::Other
        );
    }
}
