//! zip archives (zip, wheel, jar, apk, nupkg): the central directory through the `zip`
//! crate, header fields and extra fields read from the raw central and local headers.
//!
//! Entries are yielded in central-directory order, decompressed one at a time when the
//! iterator reaches them (stored and deflate; deflate64 too), bounded by [`Limits`] twice:
//! the declared sizes are checked first, and the output is counted while inflating, since
//! headers lie. Encrypted entries and other methods are reported, not opened.
//!
//! Entry metadata: `mtime` (the DOS date/time read as UTC, which is what the writers det
//! cares about use with SOURCE_DATE_EPOCH), `dos-mtime` (raw: date << 16 | time),
//! `ut-mtime`/`ut-atime`/`ut-ctime` (extended-timestamp extra field 0x5455, central or local
//! header), `ntfs-mtime`/`ntfs-atime`/`ntfs-ctime` (NTFS extra field 0x000a, in seconds),
//! `unix-mtime`/`unix-atime` (Info-ZIP Unix 0x5855 and PKWARE Unix 0x000d), `uid`/`gid`
//! (the same fields in a local header, and Info-ZIP's newer Unix field 0x7875),
//! `external-attributes` (raw), `mode` (permission bits, when made by a Unix host),
//! `system` (`unix`, `dos`, ...), `compression`, `index`.

use super::compress::{BoundedBuf, Budget, InflateError, read_bounded};
use super::{Bytes, ChildError, Format, Limits, Meta, MetaKey, MetaMap, Node, NodeKind};
use std::io::Cursor;

pub(crate) type Archive = ::zip::ZipArchive<Cursor<Bytes>>;

/// Open the central directory of a zip.
pub(crate) fn open(data: &Bytes) -> Result<Archive, String> {
    ::zip::ZipArchive::new(Cursor::new(data.clone()))
        .map_err(|e| format!("unreadable zip central directory: {e}"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A DOS date and time as seconds since the epoch, read as UTC. Out-of-range fields (month
/// 0, day 0) are clamped rather than refused: the point is to report the time, not judge it.
pub(crate) fn dos_to_unix(date: u16, time: u16) -> i64 {
    let year = i64::from(date >> 9) + 1980;
    let month = i64::from((date >> 5) & 0x0f).clamp(1, 12);
    let day = i64::from(date & 0x1f).max(1);
    let hour = i64::from(time >> 11);
    let min = i64::from((time >> 5) & 0x3f);
    let sec = i64::from(time & 0x1f) * 2;
    days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// The raw fields of one central-directory record that the `zip` crate does not expose.
struct CentralRaw<'d> {
    made_by: u16,
    time: u16,
    date: u16,
    external: u32,
    extra: &'d [u8],
}

fn central_raw(d: &[u8], at: usize) -> Option<CentralRaw<'_>> {
    if u32_at(d, at)? != 0x0201_4b50 {
        return None;
    }
    let name_len = usize::from(u16_at(d, at + 28)?);
    let extra_len = usize::from(u16_at(d, at + 30)?);
    let extra_start = at + 46 + name_len;
    Some(CentralRaw {
        made_by: u16_at(d, at + 4)?,
        time: u16_at(d, at + 12)?,
        date: u16_at(d, at + 14)?,
        external: u32_at(d, at + 38)?,
        extra: d.get(extra_start..extra_start + extra_len)?,
    })
}

fn local_extra(d: &[u8], at: usize) -> Option<&[u8]> {
    if u32_at(d, at)? != 0x0403_4b50 {
        return None;
    }
    let name_len = usize::from(u16_at(d, at + 26)?);
    let extra_len = usize::from(u16_at(d, at + 28)?);
    let start = at + 30 + name_len;
    d.get(start..start + extra_len)
}

/// Seconds between 1601-01-01 (the FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_DIFF: i64 = 11_644_473_600;

/// Times from the extended-timestamp (0x5455) and NTFS (0x000a) extra fields into `meta`.
fn extra_times(extra: &[u8], meta: &mut MetaMap) {
    let mut rest = extra;
    while rest.len() >= 4 {
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let Some(body) = rest.get(4..4 + len) else {
            return;
        };
        rest = &rest[4 + len..];
        match id {
            0x5455 if !body.is_empty() => {
                // Flags say which times follow; the central copy carries only the mtime.
                let flags = body[0];
                let mut at = 1;
                for (bit, key) in [(1u8, "ut-mtime"), (2, "ut-atime"), (4, "ut-ctime")] {
                    if flags & bit == 0 {
                        continue;
                    }
                    let Some(t) = u32_at(body, at) else { break };
                    meta.insert_if_absent(MetaKey::named(key), Meta::Int(i64::from(t as i32)));
                    at += 4;
                }
            }
            // Info-ZIP Unix (type 1, "UX") and PKWARE Unix: access and modification
            // times, then (in the local header) the owner's uid and gid as 16-bit values.
            0x5855 | 0x000d => {
                for (at, key) in [(0, "unix-atime"), (4, "unix-mtime")] {
                    if let Some(t) = u32_at(body, at) {
                        meta.insert_if_absent(MetaKey::named(key), Meta::Int(i64::from(t as i32)));
                    }
                }
                if body.len() >= 12 {
                    let uid = u16::from_le_bytes([body[8], body[9]]);
                    let gid = u16::from_le_bytes([body[10], body[11]]);
                    meta.insert_if_absent(MetaKey::Uid, Meta::Int(uid.into()));
                    meta.insert_if_absent(MetaKey::Gid, Meta::Int(gid.into()));
                }
            }
            // Info-ZIP Unix new ("ux"): version 1, then uid and gid of declared sizes.
            0x7875 if body.first() == Some(&1) => {
                let le = |b: &[u8]| b.iter().rev().fold(0i64, |x, &c| x << 8 | i64::from(c));
                let uid_size = usize::from(*body.get(1).unwrap_or(&0));
                if uid_size <= 8
                    && let Some(uid) = body.get(2..2 + uid_size)
                    && let Some(&gid_size) = body.get(2 + uid_size)
                    && gid_size <= 8
                    && let Some(gid) = body.get(3 + uid_size..3 + uid_size + usize::from(gid_size))
                {
                    meta.insert(MetaKey::Uid, Meta::Int(le(uid)));
                    meta.insert(MetaKey::Gid, Meta::Int(le(gid)));
                }
            }
            0x000a if body.len() >= 4 => {
                let mut tags = &body[4..];
                while tags.len() >= 4 {
                    let tag = u16::from_le_bytes([tags[0], tags[1]]);
                    let size = usize::from(u16::from_le_bytes([tags[2], tags[3]]));
                    let Some(v) = tags.get(4..4 + size) else {
                        break;
                    };
                    if tag == 1 && size >= 24 {
                        for (i, key) in ["ntfs-mtime", "ntfs-atime", "ntfs-ctime"]
                            .into_iter()
                            .enumerate()
                        {
                            let ft = u64::from_le_bytes(
                                v[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]),
                            );
                            let secs = (ft / 10_000_000) as i64 - FILETIME_UNIX_DIFF;
                            meta.insert_if_absent(MetaKey::named(key), Meta::Int(secs));
                        }
                    }
                    tags = &tags[4 + size..];
                }
            }
            _ => {}
        }
    }
}

fn system_name(made_by: u16) -> String {
    match made_by >> 8 {
        0 => "dos".to_owned(),
        3 => "unix".to_owned(),
        10 => "ntfs".to_owned(),
        19 => "macos".to_owned(),
        n => format!("host-{n}"),
    }
}

/// One entry's name and header metadata, read without decompressing it.
pub(crate) fn entry_meta(
    archive: &Archive,
    data: &[u8],
    i: usize,
) -> Result<(String, MetaMap), String> {
    let e = archive
        .by_index_data(i)
        .map_err(|e| format!("zip entry {i}: {e}"))?;
    let name = String::from_utf8_lossy(e.name_raw()).into_owned();
    let mut meta = MetaMap::new();
    meta.insert(MetaKey::Index, Meta::Int(i as i64));
    // What identifies the content without decompressing it (det-verify's diff compares
    // these first).
    meta.insert(MetaKey::Size, Meta::Int(e.size() as i64));
    meta.insert(MetaKey::named("crc32"), Meta::Int(i64::from(e.crc32())));
    meta.insert(
        MetaKey::named("compressed-size"),
        Meta::Int(e.compressed_size() as i64),
    );
    meta.insert(
        MetaKey::named("compression"),
        Meta::Text(e.compression().to_string().to_lowercase()),
    );
    let central = usize::try_from(e.central_header_start())
        .ok()
        .and_then(|at| central_raw(data, at));
    if let Some(c) = &central {
        let dos = (u32::from(c.date) << 16) | u32::from(c.time);
        meta.insert(MetaKey::named("dos-mtime"), Meta::Int(i64::from(dos)));
        meta.insert(MetaKey::Mtime, Meta::Int(dos_to_unix(c.date, c.time)));
        meta.insert(
            MetaKey::named("external-attributes"),
            Meta::Int(i64::from(c.external)),
        );
        meta.insert(MetaKey::named("system"), Meta::Text(system_name(c.made_by)));
        if c.made_by >> 8 == 3 && c.external >> 16 != 0 {
            meta.insert(
                MetaKey::Mode,
                Meta::Int(i64::from((c.external >> 16) & 0o7777)),
            );
        }
        extra_times(c.extra, &mut meta);
    }
    if let Some(local) = usize::try_from(e.header_start())
        .ok()
        .and_then(|at| local_extra(data, at))
    {
        extra_times(local, &mut meta);
    }
    Ok((name, meta))
}

/// Why an entry's content could not be read (entirely): the message, and what could be
/// decompressed before a limit or corruption stopped it.
pub(crate) struct EntryError {
    pub message: String,
    pub partial: Option<BoundedBuf>,
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for EntryError {
    fn from(message: String) -> Self {
        EntryError {
            message,
            partial: None,
        }
    }
}

impl From<&str> for EntryError {
    fn from(message: &str) -> Self {
        EntryError::from(message.to_owned())
    }
}

/// Decompress entry `i`, bounded by `limits`. The compressed bytes are taken straight from
/// the archive (`data`), so that the ratio is judged against exactly what was consumed.
pub(crate) fn read_entry(
    archive: &mut Archive,
    data: &Bytes,
    i: usize,
    limits: &Limits,
) -> Result<BoundedBuf, EntryError> {
    let (encrypted, method, size, compressed, crc) = {
        let e = archive
            .by_index_data(i)
            .map_err(|e| format!("zip entry {i}: {e}"))?;
        (
            e.encrypted(),
            e.compression(),
            e.size(),
            e.compressed_size(),
            e.crc32(),
        )
    };
    if encrypted {
        return Err("entry is encrypted; not opened".into());
    }
    use ::zip::CompressionMethod as M;
    if !matches!(method, M::Stored | M::Deflated) {
        return Err(format!(
            "compression method {} not supported",
            method.to_string().to_lowercase()
        )
        .into());
    }
    // Declared sizes first (cheap); headers lie, so the output is counted while inflating.
    let budget = Budget::new(limits);
    budget.check_sizes(size, compressed)?;
    let start = archive
        .by_index_raw(i)
        .map_err(|e| e.to_string())?
        .data_start()
        .and_then(|s| usize::try_from(s).ok())
        .ok_or("entry data offset unknown")?;
    let end = usize::try_from(compressed)
        .ok()
        .and_then(|c| start.checked_add(c))
        .filter(|&end| end <= data.len())
        .ok_or_else(|| {
            format!(
                "entry data truncated: {compressed} bytes declared at offset {start}, {} present",
                data.len().saturating_sub(start)
            )
        })?;
    let raw = &data[start..end];
    let out = match method {
        M::Stored => read_bounded(budget.reader(raw), &budget),
        _ => read_bounded(
            flate2::bufread::DeflateDecoder::new(budget.reader(raw)),
            &budget,
        ),
    };
    let out = match out {
        Ok(out) => out,
        Err(InflateError::Limit(msg, partial)) => {
            return Err(EntryError {
                message: format!(
                    "entry cut at {} of output: {msg}; the part before the cut was scanned",
                    super::compress::human_size(partial.len() as u64)
                ),
                partial: Some(partial),
            });
        }
        Err(InflateError::Corrupt(msg, partial)) => {
            return Err(EntryError {
                message: format!("corrupt entry data: {msg}"),
                partial: Some(partial),
            });
        }
    };
    let mut actual = flate2::Crc::new();
    actual.update(out.as_slice());
    if actual.sum() != crc || out.len() as u64 != size {
        return Err(EntryError {
            message: format!(
                "entry data does not match its header (CRC {:08x} vs {crc:08x}, size {} vs {size}): corrupt",
                actual.sum(),
                out.len()
            ),
            partial: Some(out),
        });
    }
    Ok(out)
}

/// For each entry, the entry whose bytes (local header, name, extra field, data) it overlaps,
/// if any: the overlapped-components construction of zip bombs (many central-directory
/// entries over one local member, or a member quoting the next one's header, as in David
/// Fifield's "better zip bomb"), which `unzip -t` rejects. Of a group of overlapping entries
/// the one that starts first (then the lowest index) is opened; the others are not, so no
/// byte is decompressed twice.
fn overlaps(archive: &Archive, data: &[u8]) -> Vec<Option<usize>> {
    let n = archive.len();
    let mut spans: Vec<(u64, u64, usize)> = Vec::with_capacity(n);
    for i in 0..n {
        let Ok(e) = archive.by_index_data(i) else {
            continue;
        };
        let start = e.header_start();
        let Ok(at) = usize::try_from(start) else {
            continue;
        };
        let local = u16_at(data, at + 26)
            .zip(u16_at(data, at + 28))
            .map_or(0, |(n, x)| 30 + u64::from(n) + u64::from(x));
        let end = start
            .saturating_add(local.max(30))
            .saturating_add(e.compressed_size());
        spans.push((start, end, i));
    }
    spans.sort_unstable();
    let mut out = vec![None; n];
    let mut reach: Option<(u64, usize)> = None;
    for (start, end, i) in spans {
        match reach {
            Some((max_end, owner)) if start < max_end => out[i] = Some(owner),
            Some((max_end, _)) if end <= max_end => {}
            _ => reach = Some((end, i)),
        }
    }
    out
}

struct ZipMembers<'a> {
    archive: Archive,
    data: Bytes,
    next: usize,
    limits: &'a Limits,
    overlaps: Vec<Option<usize>>,
    /// An error to yield after the partial member it belongs to.
    pending: Option<ChildError>,
}

impl Iterator for ZipMembers<'_> {
    type Item = Result<Node, ChildError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Err(e));
        }
        let i = self.next;
        if i >= self.archive.len() {
            return None;
        }
        self.next += 1;
        if i >= self.limits.max_members {
            self.next = usize::MAX;
            return Some(Err(ChildError {
                name: String::new(),
                message: format!(
                    "more than {} members; the rest were not opened",
                    self.limits.max_members
                ),
            }));
        }
        let (name, meta) = match entry_meta(&self.archive, &self.data, i) {
            Ok(v) => v,
            Err(message) => {
                return Some(Err(ChildError {
                    name: String::new(),
                    message,
                }));
            }
        };
        let name = super::bounded_name(name);
        if let Some(owner) = self.overlaps.get(i).copied().flatten() {
            return Some(Err(ChildError {
                name,
                message: format!(
                    "entry {i} overlaps the bytes of entry {owner} (overlapped components: possible zip bomb); not opened"
                ),
            }));
        }
        if name.ends_with('/') {
            return Some(Ok(Node {
                name,
                kind: NodeKind::Member,
                format: Format::Other,
                meta,
                data: Bytes::from_vec(Vec::new()),
            }));
        }
        let member = |out: BoundedBuf, meta| {
            let mut node = Node::new(name.clone(), out.into_bytes());
            node.meta = meta;
            node
        };
        Some(
            match read_entry(&mut self.archive, &self.data, i, self.limits) {
                Ok(out) => Ok(member(out, meta)),
                Err(EntryError {
                    message,
                    partial: Some(partial),
                }) if !partial.is_empty() => {
                    self.pending = Some(ChildError {
                        name: name.clone(),
                        message,
                    });
                    Ok(member(partial, meta))
                }
                Err(EntryError { message, .. }) => Err(ChildError { name, message }),
            },
        )
    }
}

/// The entries of a zip without their content: name and metadata from the central
/// directory (with `crc32` and `size`, so that equal content is recognised unopened).
pub(crate) fn listing(data: &Bytes, limits: &Limits) -> Result<Vec<Node>, String> {
    let archive = open(data)?;
    let n = archive.len();
    if n > limits.max_members {
        return Err(format!(
            "{n} entries, more than the limit of {}",
            limits.max_members
        ));
    }
    (0..n)
        .map(|i| {
            let (name, meta) = entry_meta(&archive, data, i)?;
            Ok(Node {
                name,
                kind: NodeKind::Member,
                format: Format::Other,
                meta,
                data: Bytes::from_vec(Vec::new()),
            })
        })
        .collect()
}

pub(crate) fn children<'a>(
    node: &'a Node,
    limits: &'a Limits,
) -> Box<dyn Iterator<Item = Result<Node, ChildError>> + 'a> {
    match open(&node.data) {
        Ok(archive) => Box::new(ZipMembers {
            overlaps: overlaps(&archive, &node.data),
            archive,
            data: node.data.clone(),
            next: 0,
            limits,
            pending: None,
        }),
        Err(message) => Box::new(std::iter::once(Err(ChildError {
            name: String::new(),
            message,
        }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_time_reads_as_utc() {
        // 1980-01-01 00:00:00: date = (0 << 9) | (1 << 5) | 1, time 0.
        assert_eq!(dos_to_unix((1 << 5) | 1, 0), 315_532_800);
        // 2026-11-23 01:02:04
        let date = ((2026 - 1980) << 9) | (11 << 5) | 23;
        let time = (1 << 11) | (2 << 5) | 2;
        assert_eq!(dos_to_unix(date, time), 1_795_395_724);
    }

    #[test]
    fn extended_timestamp_and_ntfs_fields() {
        let mut meta = MetaMap::new();
        let mut extra = vec![0x55, 0x54, 9, 0, 3];
        extra.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        extra.extend_from_slice(&1_700_000_001u32.to_le_bytes());
        let ft = (1_700_000_002u64 + FILETIME_UNIX_DIFF as u64) * 10_000_000;
        extra.extend_from_slice(&[0x0a, 0, 32, 0, 0, 0, 0, 0, 1, 0, 24, 0]);
        for _ in 0..3 {
            extra.extend_from_slice(&ft.to_le_bytes());
        }
        extra_times(&extra, &mut meta);
        assert_eq!(meta[&MetaKey::named("ut-mtime")], Meta::Int(1_700_000_000));
        assert_eq!(meta[&MetaKey::named("ut-atime")], Meta::Int(1_700_000_001));
        assert_eq!(
            meta[&MetaKey::named("ntfs-mtime")],
            Meta::Int(1_700_000_002)
        );
        // A field cut short must not panic.
        extra_times(&extra[..extra.len() - 3], &mut MetaMap::new());
    }

    #[test]
    fn info_zip_unix_fields() {
        let mut meta = MetaMap::new();
        // Info-ZIP Unix type 1: atime, mtime, uid, gid; then the newer uid/gid field.
        let mut extra = vec![0x55, 0x58, 12, 0];
        extra.extend_from_slice(&1_600_000_001u32.to_le_bytes());
        extra.extend_from_slice(&1_600_000_000u32.to_le_bytes());
        extra.extend_from_slice(&[0xe8, 0x03, 0xe9, 0x03]);
        extra.extend_from_slice(&[
            0x75, 0x78, 11, 0, 1, 4, 0xe8, 0x03, 0, 0, 4, 0x39, 0x30, 0, 0,
        ]);
        extra_times(&extra, &mut meta);
        assert_eq!(
            meta[&MetaKey::named("unix-mtime")],
            Meta::Int(1_600_000_000)
        );
        assert_eq!(
            meta[&MetaKey::named("unix-atime")],
            Meta::Int(1_600_000_001)
        );
        assert_eq!(meta[&MetaKey::Uid], Meta::Int(1000));
        // The newer field's gid (12345) replaces the 16-bit one (1001).
        assert_eq!(meta[&MetaKey::Gid], Meta::Int(12345));
        for cut in 0..extra.len() {
            extra_times(&extra[..cut], &mut MetaMap::new());
        }
    }
}
