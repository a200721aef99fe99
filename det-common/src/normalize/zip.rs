//! zip, jar, wheel: rebuilt from the central directory with the raw compressed data
//! copied, entries sorted, times and permissions normalized, time and owner extra fields
//! dropped; members that are themselves normalized are recompressed, and a wheel's RECORD
//! follows them.

use super::{Ctx, Sources, Step, run_nested, worth_opening};
use crate::artifact::Bytes;
use crate::artifact::zip as reader;
use crate::detect::archive::record_path;
use sha2::Digest;
use std::collections::HashMap;
use std::io::{Read, Write};

const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// Extra fields that hold times or owners: 0x5455 extended timestamp, 0x000a NTFS times,
/// 0x5855 old Info-ZIP Unix (times, uid/gid), 0x7855 Info-ZIP Unix uid/gid, 0x7875 Unix
/// uid/gid; and 0x0001, zip64, which is written afresh.
const DROPPED_EXTRA: &[u16] = &[0x0001, 0x5455, 0x000a, 0x5855, 0x7855, 0x7875];

struct Entry {
    name: Vec<u8>,
    made_by: u16,
    needed: u16,
    flags: u16,
    method: u16,
    mtime: i64,
    crc: u32,
    size: u64,
    internal: u16,
    external: u32,
    central_extra: Vec<u8>,
    local_extra: Vec<u8>,
    comment: Vec<u8>,
    data: std::ops::Range<usize>,
    /// New compressed data, CRC and size, when the member itself was normalized.
    replaced: Option<(Vec<u8>, u32, u64)>,
}

fn u16_at(d: &[u8], at: usize) -> Result<u16, String> {
    d.get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("zip header at offset {at} is truncated"))
}

fn u32_at(d: &[u8], at: usize) -> Result<u32, String> {
    d.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("zip header at offset {at} is truncated"))
}

fn slice(d: &[u8], at: usize, len: usize) -> Result<Vec<u8>, String> {
    d.get(at..at.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("zip header at offset {at} is truncated"))
}

/// The extra fields without the ones that carry times and owners.
fn filter_extra(extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(extra.len());
    let mut rest = extra;
    while rest.len() >= 4 {
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let Some(field) = rest.get(..4 + len) else {
            // Not a well-formed field (padding, a cut field): kept as it is.
            break;
        };
        if !DROPPED_EXTRA.contains(&id) {
            out.extend_from_slice(field);
        }
        rest = &rest[4 + len..];
    }
    out.extend_from_slice(rest);
    out
}

/// Civil date (UTC) of a Unix time: (year, month, day, hour, minute, second).
fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
}

/// A Unix time as a DOS (date, time), read as UTC; clamped to what DOS times can hold.
pub(crate) fn unix_to_dos(t: i64) -> (u16, u16) {
    let (y, m, d, h, mi, s) = civil(t);
    if y < 1980 {
        return ((1 << 5) | 1, 0);
    }
    if y > 2107 {
        return ((127 << 9) | (12 << 5) | 31, (23 << 11) | (59 << 5) | 29);
    }
    let date = ((y - 1980) << 9) | (m << 5) | d;
    let time = (h << 11) | (mi << 5) | (s / 2);
    (date as u16, time as u16)
}

/// Unix permissions as a umask-022 build would leave them: directories 0755, files 0644
/// or 0755 when any execute bit is set; symlinks and other types keep their bits.
fn normalize_external(made_by: u16, external: u32) -> u32 {
    if made_by >> 8 != 3 || external >> 16 == 0 {
        return external;
    }
    let mode = external >> 16;
    let kind = mode & 0o170_000;
    let perm = match kind {
        0o040_000 => 0o755,
        0o100_000 | 0 if mode & 0o111 != 0 => 0o755,
        0o100_000 | 0 => 0o644,
        _ => return external,
    };
    ((kind | perm) << 16) | (external & 0xffff)
}

/// The first bytes of a member's content (for format detection), without inflating it all.
fn prefix(raw: &[u8], method: u16) -> Vec<u8> {
    const N: usize = 1024;
    match method {
        STORED => raw[..raw.len().min(N)].to_vec(),
        DEFLATED => {
            let mut out = Vec::with_capacity(N);
            let _ = flate2::read::DeflateDecoder::new(raw)
                .take(N as u64)
                .read_to_end(&mut out);
            out
        }
        _ => Vec::new(),
    }
}

fn compress(content: &[u8], method: u16) -> Vec<u8> {
    if method == STORED {
        return content.to_vec();
    }
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(content);
    e.finish().unwrap_or_default()
}

fn crc32(content: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(content);
    c.sum()
}

/// Read every entry's headers.
fn entries(data: &Bytes, archive: &mut reader::Archive) -> Result<Vec<Entry>, String> {
    let d: &[u8] = data;
    let mut out = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .map_err(|e| format!("zip entry {i}: {e}"))?;
        let cat = usize::try_from(f.central_header_start()).map_err(|e| e.to_string())?;
        if u32_at(d, cat)? != 0x0201_4b50 {
            return Err(format!("no central directory record at offset {cat}"));
        }
        let name_len = usize::from(u16_at(d, cat + 28)?);
        let extra_len = usize::from(u16_at(d, cat + 30)?);
        let comment_len = usize::from(u16_at(d, cat + 32)?);
        let lat = usize::try_from(f.header_start()).map_err(|e| e.to_string())?;
        if u32_at(d, lat)? != 0x0403_4b50 {
            return Err(format!("no local header at offset {lat}"));
        }
        let lname = usize::from(u16_at(d, lat + 26)?);
        let lextra = usize::from(u16_at(d, lat + 28)?);
        let start = f
            .data_start()
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(lat + 30 + lname + lextra);
        let csize = f.compressed_size();
        let end = usize::try_from(csize)
            .ok()
            .and_then(|c| start.checked_add(c))
            .filter(|&e| e <= d.len())
            .ok_or_else(|| {
                format!("zip entry {i}: data truncated ({csize} bytes declared at offset {start})")
            })?;
        let (date, time) = (u16_at(d, cat + 14)?, u16_at(d, cat + 12)?);
        out.push(Entry {
            name: slice(d, cat + 46, name_len)?,
            made_by: u16_at(d, cat + 4)?,
            needed: u16_at(d, cat + 6)?,
            flags: u16_at(d, cat + 8)?,
            method: u16_at(d, cat + 10)?,
            mtime: reader::dos_to_unix(date, time),
            crc: f.crc32(),
            size: f.size(),
            internal: u16_at(d, cat + 36)?,
            external: u32_at(d, cat + 38)?,
            central_extra: slice(d, cat + 46 + name_len, extra_len)?,
            local_extra: slice(d, lat + 30 + lname, lextra)?,
            comment: slice(d, cat + 46 + name_len + extra_len, comment_len)?,
            data: start..end,
            replaced: None,
        });
    }
    Ok(out)
}

fn is_record(name: &str) -> bool {
    name.strip_suffix("/RECORD")
        .is_some_and(|dir| dir.ends_with(".dist-info") && !dir.contains('/'))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// urlsafe base64 without padding, as wheel RECORD hashes are written.
fn b64_urlsafe(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A wheel RECORD with the lines of changed members updated (new sha256 and size) and its
/// lines sorted like the entries; `None` when it is already so.
fn fix_record(text: &str, changed: &HashMap<String, Vec<u8>>) -> Option<String> {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<(String, String)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let path = record_path(l);
            let line = match changed.get(&path) {
                Some(content) => format!(
                    "{},sha256={},{}",
                    csv_field(&path),
                    b64_urlsafe(&sha2::Sha256::digest(content)),
                    content.len()
                ),
                None => l.to_owned(),
            };
            (path, line)
        })
        .collect();
    lines.sort_by(|(a, _), (b, _)| crate::sorted::normalizer_cmp(a, b));
    let mut out = String::with_capacity(text.len());
    for (_, l) in &lines {
        out.push_str(l);
        out.push_str(eol);
    }
    (out != text).then_some(out)
}

pub(crate) fn normalize(data: &Bytes, cx: &Ctx) -> Result<Step, String> {
    let mut archive = reader::open(data)?;
    let mut list = entries(data, &mut archive)?;
    if let Some(e) = list.iter().find(|e| e.flags & 1 != 0) {
        return Ok(Step::Unsupported(format!(
            "encrypted entry `{}`: encrypted archives are left as they are",
            String::from_utf8_lossy(&e.name)
        )));
    }
    let names: Vec<String> = list
        .iter()
        .map(|e| String::from_utf8_lossy(&e.name).into_owned())
        .collect();

    // Members that are themselves archives or pycs.
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let sources = |pyc_name: &str| -> Option<Vec<u8>> {
        let i = super::pyc::source_candidates(pyc_name)
            .into_iter()
            .find_map(|n| index.get(n.as_str()).copied())?;
        let mut a = reader::open(data).ok()?;
        reader::read_entry(&mut a, data, i, &cx.opts.limits)
            .ok()
            .map(|b| b.into_vec())
    };
    let mut changed: HashMap<String, Vec<u8>> = HashMap::new();
    for (i, e) in list.iter_mut().enumerate() {
        if e.name.ends_with(b"/") || e.size == 0 || !matches!(e.method, STORED | DEFLATED) {
            continue;
        }
        if !worth_opening(&prefix(&data[e.data.clone()], e.method)) {
            continue;
        }
        let content = reader::read_entry(&mut archive, data, i, &cx.opts.limits)
            .map_err(|m| format!("zip entry `{}`: {m}", names[i]))?;
        if let Some(new) = run_nested(&content, &names[i], cx, &sources as Sources)
            .map_err(|m| format!("zip entry `{}`: {m}", names[i]))?
        {
            e.replaced = Some((compress(&new, e.method), crc32(&new), new.len() as u64));
            changed.insert(names[i].clone(), new);
        }
    }
    // A wheel's RECORD: new hashes for changed members, lines in order.
    if let Some(r) = names.iter().position(|n| is_record(n)) {
        let e = &list[r];
        if matches!(e.method, STORED | DEFLATED) {
            let bytes = reader::read_entry(&mut archive, data, r, &cx.opts.limits)
                .map_err(|m| format!("zip entry `{}`: {m}", names[r]))?;
            if let Ok(text) = std::str::from_utf8(&bytes)
                && let Some(new) = fix_record(text, &changed)
            {
                let new = new.into_bytes();
                list[r].replaced = Some((compress(&new, e.method), crc32(&new), new.len() as u64));
            }
        }
    }

    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by_cached_key(|&i| crate::sorted::normalizer_key(&names[i]));

    let prefix_len = usize::try_from(archive.offset())
        .unwrap_or(0)
        .min(data.len());
    let mut out: Vec<u8> = Vec::with_capacity(data.len());
    out.extend_from_slice(&data[..prefix_len]);
    let mut central: Vec<u8> = Vec::new();
    for &i in &order {
        let e = &list[i];
        let (raw, crc, size): (&[u8], u32, u64) = match &e.replaced {
            Some((raw, crc, size)) => (raw, *crc, *size),
            None => (&data[e.data.clone()], e.crc, e.size),
        };
        let csize = raw.len() as u64;
        let offset = out.len() as u64;
        let (date, time) = unix_to_dos(cx.opts.time(e.mtime));
        let big_sizes = size >= 0xffff_ffff || csize >= 0xffff_ffff;
        let big_offset = offset >= 0xffff_ffff;
        let needed = if big_sizes || big_offset {
            e.needed.max(45)
        } else {
            e.needed
        };
        // Bit 3 (sizes in a data descriptor) is cleared: the sizes are in the headers.
        let flags = e.flags & !0x0008;
        let external = normalize_external(e.made_by, e.external);

        let mut local_extra = Vec::new();
        if big_sizes {
            local_extra.extend_from_slice(&[1, 0, 16, 0]);
            local_extra.extend_from_slice(&size.to_le_bytes());
            local_extra.extend_from_slice(&csize.to_le_bytes());
        }
        local_extra.extend_from_slice(&filter_extra(&e.local_extra));
        let mut central_extra = Vec::new();
        {
            let mut z = Vec::new();
            if size >= 0xffff_ffff {
                z.extend_from_slice(&size.to_le_bytes());
            }
            if csize >= 0xffff_ffff {
                z.extend_from_slice(&csize.to_le_bytes());
            }
            if big_offset {
                z.extend_from_slice(&offset.to_le_bytes());
            }
            if !z.is_empty() {
                central_extra.extend_from_slice(&[1, 0]);
                central_extra.extend_from_slice(&(z.len() as u16).to_le_bytes());
                central_extra.extend_from_slice(&z);
            }
        }
        central_extra.extend_from_slice(&filter_extra(&e.central_extra));
        let local_extra = &local_extra[..local_extra.len().min(0xffff)];
        let central_extra = &central_extra[..central_extra.len().min(0xffff)];
        let u32_or_max = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let (lsize, lcsize) = if big_sizes {
            (u32::MAX, u32::MAX)
        } else {
            (size as u32, csize as u32)
        };

        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&needed.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&time.to_le_bytes());
        out.extend_from_slice(&date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&lcsize.to_le_bytes());
        out.extend_from_slice(&lsize.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(local_extra.len() as u16).to_le_bytes());
        out.extend_from_slice(&e.name);
        out.extend_from_slice(local_extra);
        out.extend_from_slice(raw);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&e.made_by.to_le_bytes());
        central.extend_from_slice(&needed.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&time.to_le_bytes());
        central.extend_from_slice(&date.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&u32_or_max(csize).to_le_bytes());
        central.extend_from_slice(&u32_or_max(size).to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&(central_extra.len() as u16).to_le_bytes());
        central.extend_from_slice(&(e.comment.len().min(0xffff) as u16).to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&e.internal.to_le_bytes());
        central.extend_from_slice(&external.to_le_bytes());
        central.extend_from_slice(&u32_or_max(offset).to_le_bytes());
        central.extend_from_slice(&e.name);
        central.extend_from_slice(central_extra);
        central.extend_from_slice(&e.comment[..e.comment.len().min(0xffff)]);
    }
    let cd_offset = out.len() as u64;
    let cd_size = central.len() as u64;
    out.extend_from_slice(&central);
    let count = list.len() as u64;
    if count >= 0xffff || cd_size >= 0xffff_ffff || cd_offset >= 0xffff_ffff {
        let z64 = out.len() as u64;
        out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&z64.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    let comment = archive.comment();
    let comment = &comment[..comment.len().min(0xffff)];
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let c16 = u16::try_from(count).unwrap_or(u16::MAX);
    out.extend_from_slice(&c16.to_le_bytes());
    out.extend_from_slice(&c16.to_le_bytes());
    out.extend_from_slice(&u32::try_from(cd_size).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&u32::try_from(cd_offset).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&(comment.len() as u16).to_le_bytes());
    out.extend_from_slice(comment);
    Ok(Step::Changed(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times_round_trip_and_clamp() {
        let (d, t) = unix_to_dos(1_795_395_724);
        assert_eq!(reader::dos_to_unix(d, t), 1_795_395_724);
        let (d, t) = unix_to_dos(1_795_395_725);
        assert_eq!(reader::dos_to_unix(d, t), 1_795_395_724, "2 s resolution");
        let (d, t) = unix_to_dos(0);
        assert_eq!(reader::dos_to_unix(d, t), 315_532_800, "before 1980");
    }

    #[test]
    fn base64_matches_python() {
        // base64.urlsafe_b64encode(b"\xfb\xff\x01ab").rstrip(b"=")
        assert_eq!(b64_urlsafe(b"\xfb\xff\x01ab"), "-_8BYWI");
        assert_eq!(b64_urlsafe(b""), "");
        assert_eq!(b64_urlsafe(b"a"), "YQ");
    }

    #[test]
    fn extra_fields_lose_times_and_owners_only() {
        let mut extra = vec![0x55, 0x54, 5, 0, 1, 1, 2, 3, 4];
        extra.extend_from_slice(&[0xfe, 0xca, 0, 0]); // jar marker, kept
        extra.extend_from_slice(&[0x75, 0x78, 3, 0, 1, 0, 0]);
        assert_eq!(filter_extra(&extra), [0xfe, 0xca, 0, 0]);
    }

    #[test]
    fn record_lines_are_updated_and_sorted() {
        let text = "b.py,sha256=x,1\n\"a,b.py\",sha256=y,2\np-1.dist-info/RECORD,,\n";
        let mut changed = HashMap::new();
        changed.insert("a,b.py".to_owned(), b"abc".to_vec());
        let new = fix_record(text, &changed).unwrap();
        let digest = b64_urlsafe(&sha2::Sha256::digest(b"abc"));
        assert_eq!(
            new,
            format!("\"a,b.py\",sha256={digest},3\nb.py,sha256=x,1\np-1.dist-info/RECORD,,\n")
        );
        assert_eq!(fix_record(&new, &HashMap::new()), None);
    }
}
