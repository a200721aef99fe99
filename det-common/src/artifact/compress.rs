//! Compressed streams (gzip, xz, zstd, bzip2 — all pure-Rust decoders): the gzip header,
//! and decompression into a bounded buffer shared by every format that inflates (zip too).
//!
//! A stream container has one child, the decompressed stream, named `(gzip stream)` (or
//! `(xz stream)`, `(zstd stream)`, `(bzip2 stream)`) whatever the gzip FNAME says:
//! det-verify pairs children by name, and a stream renamed between two builds must still be
//! compared byte for byte. FNAME
//! and MTIME go to the child's metadata (`fname`, `mtime`). Scan does not add the stream to
//! the container chain of a location (`x.tar.gz!pkg/a.zip`, not `x.tar.gz!(gzip stream)!...`).
//!
//! Every decompression is bounded twice: an absolute size ([`Limits::max_decompressed`]) and
//! a ratio to the compressed input ([`Limits::max_ratio`], applied once the output passes
//! 1 MiB). The buffer never grows past the absolute limit plus one read chunk.

use super::Bytes;
use super::budget::{FileBudget, Reservation};
use super::{ChildError, Format, Limits, Meta, MetaKey, MetaMap, Node, NodeKind};
use std::cell::Cell;
use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

/// Outputs up to this size are never refused for their ratio (tiny files compress very well).
const RATIO_FLOOR: u64 = 1 << 20;
const CHUNK: usize = 64 * 1024;

/// `1 GiB`, `512 MiB`, or a byte count: how limits are named in messages.
pub fn human_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if n >= unit && n % unit == 0 {
            return format!("{} {name}", n / unit);
        }
    }
    format!("{n} bytes")
}

/// The output budget of one decompression: the absolute limit, and the ratio of output to
/// the compressed input consumed so far (counted by [`Budget::reader`]), so that a bomb is
/// stopped after about 1 MiB of output rather than when its declared size runs out.
#[derive(Debug)]
pub(crate) struct Budget {
    max: u64,
    ratio: u64,
    consumed: Cell<u64>,
    /// The scan-wide memory budget the output buffer draws from.
    memory: Arc<FileBudget>,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Budget {
        Budget {
            max: limits.max_decompressed,
            ratio: limits.max_ratio,
            consumed: Cell::new(0),
            memory: Arc::clone(&limits.memory),
        }
    }

    /// An empty output buffer drawing from this budget's memory.
    pub(crate) fn buffer(&self) -> BoundedBuf {
        BoundedBuf {
            buf: Vec::new(),
            reservation: Reservation::new(&self.memory),
        }
    }

    /// An error message when `out` bytes of output from `input` bytes of input break a limit.
    pub(crate) fn check_sizes(&self, out: u64, input: u64) -> Result<(), String> {
        if out > self.max {
            return Err(format!(
                "decompressed size exceeds the {} limit (raise it with --max-decompressed)",
                human_size(self.max)
            ));
        }
        if out > RATIO_FLOOR && out > input.saturating_mul(self.ratio) {
            return Err(format!(
                "compression ratio above {}:1: possible zip bomb (raise the limit with --max-ratio)",
                self.ratio
            ));
        }
        Ok(())
    }

    /// Check `produced` bytes of output against the input consumed so far.
    fn check(&self, produced: u64) -> Result<(), String> {
        self.check_sizes(produced, self.consumed.get())
    }

    /// Wrap the compressed input so that what the decoder consumes is counted.
    pub(crate) fn reader<R>(&self, inner: R) -> Counted<'_, R> {
        Counted {
            inner,
            budget: self,
        }
    }
}

/// A reader that counts the bytes a decoder takes from it into its [`Budget`].
pub(crate) struct Counted<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<R> Counted<'_, R> {
    fn count(&self, n: usize) {
        let c = &self.budget.consumed;
        c.set(c.get().saturating_add(n as u64));
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.count(n);
        self.inner.consume(n);
    }
}

/// Decompressed output: a buffer whose allocation is reserved from the scan's memory budget
/// as it grows with what the decoder produces (never on what a header claims).
#[derive(Debug)]
pub(crate) struct BoundedBuf {
    buf: Vec<u8>,
    reservation: Reservation,
}

impl std::ops::Deref for BoundedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl BoundedBuf {
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The content as a plain vector (its reservation is given back).
    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// The content as node data; the reservation goes with it.
    pub(crate) fn into_bytes(self) -> Bytes {
        Bytes::from_budgeted(self.buf, self.reservation)
    }
}

/// Why a bounded decompression stopped.
#[derive(Debug)]
pub(crate) enum InflateError {
    /// A limit was hit; the message names it. The output up to the limit is kept.
    Limit(String, BoundedBuf),
    /// The stream is corrupt or truncated; the partial output is kept.
    Corrupt(String, BoundedBuf),
}

/// Append `data` to `out`, growing by half its size at most and never past the budget's
/// cap, so that a buffer near the limit does not double to twice the limit. Growth is
/// reserved from the scan's memory budget first.
fn push_bounded(out: &mut BoundedBuf, data: &[u8], budget: &Budget) -> Result<(), String> {
    let buf = &mut out.buf;
    let new_len = buf.len() + data.len();
    budget.check(new_len as u64)?;
    if new_len > buf.capacity() {
        let grown = (buf.capacity() + buf.capacity() / 2)
            .max(new_len)
            .max(CHUNK);
        let cap = usize::try_from(budget.max)
            .unwrap_or(usize::MAX)
            .saturating_add(CHUNK)
            .max(new_len);
        let target = grown.min(cap);
        out.reservation.resize(target as u64)?;
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(data);
    Ok(())
}

/// Read `r` to its end into a buffer bounded by `budget`.
pub(crate) fn read_bounded<R: Read>(mut r: R, budget: &Budget) -> Result<BoundedBuf, InflateError> {
    let mut out = budget.buffer();
    match read_bounded_into(&mut r, &mut out, budget) {
        Ok(()) => Ok(out),
        Err(e) => Err(e.with_output(out)),
    }
}

impl InflateError {
    /// The error with `out` as the partial output.
    fn with_output(self, out: BoundedBuf) -> InflateError {
        match self {
            InflateError::Limit(m, _) => InflateError::Limit(m, out),
            InflateError::Corrupt(m, _) => InflateError::Corrupt(m, out),
        }
    }

    fn take(e: (String, bool), budget: &Budget) -> InflateError {
        if e.1 {
            InflateError::Limit(e.0, budget.buffer())
        } else {
            InflateError::Corrupt(e.0, budget.buffer())
        }
    }
}

/// Read `r` to its end, appending to `out`. On error the output so far stays in `out`; the
/// error's own buffer is empty (see [`InflateError::with_output`]).
fn read_bounded_into<R: Read>(
    r: &mut R,
    out: &mut BoundedBuf,
    budget: &Budget,
) -> Result<(), InflateError> {
    let mut chunk = vec![0u8; CHUNK];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => push_bounded(out, &chunk[..n], budget)
                .map_err(|m| InflateError::take((m, true), budget))?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InflateError::take((e.to_string(), false), budget)),
        }
    }
}

/// A writer into a bounded buffer, for decoders that push output (lzma-rs).
struct BoundedWriter<'b> {
    buf: BoundedBuf,
    budget: &'b Budget,
    limit_hit: Option<String>,
}

impl Write for BoundedWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Err(msg) = push_bounded(&mut self.buf, data, self.budget) {
            self.limit_hit = Some(msg.clone());
            return Err(io::Error::other(msg));
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The fixed part of a gzip member header (RFC 1952).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GzipHeader {
    /// MTIME: seconds since the epoch, 0 when absent.
    pub mtime: u32,
    /// FNAME, without its terminating NUL.
    pub fname: Option<Vec<u8>>,
    /// Where FNAME starts in the header.
    pub fname_at: usize,
    pub os: u8,
    /// The header's length in bytes (where the deflate data starts).
    pub len: usize,
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// Parse the gzip member header at the start of `d`.
pub(crate) fn gzip_header(d: &[u8]) -> Result<GzipHeader, String> {
    if d.len() < 10 {
        return Err("truncated gzip header".into());
    }
    if d[0] != 0x1f || d[1] != 0x8b {
        return Err("not a gzip member (bad magic)".into());
    }
    if d[2] != 8 {
        return Err(format!("gzip compression method {} not supported", d[2]));
    }
    let flags = d[3];
    if flags & 0xe0 != 0 {
        return Err(format!(
            "gzip header has reserved flag bits set ({flags:#04x})"
        ));
    }
    let mtime = u32::from_le_bytes([d[4], d[5], d[6], d[7]]);
    let os = d[9];
    let mut pos = 10usize;
    let truncated = || "truncated gzip header".to_string();
    if flags & FEXTRA != 0 {
        let xlen = d.get(pos..pos + 2).ok_or_else(truncated)?;
        pos += 2 + u16::from_le_bytes([xlen[0], xlen[1]]) as usize;
        if pos > d.len() {
            return Err(truncated());
        }
    }
    let fname_at = pos;
    let cstring = |pos: &mut usize| -> Result<Vec<u8>, String> {
        let rest = &d[*pos..];
        let end = rest.iter().position(|&b| b == 0).ok_or_else(truncated)?;
        *pos += end + 1;
        Ok(rest[..end].to_vec())
    };
    let fname = if flags & FNAME != 0 {
        Some(cstring(&mut pos)?)
    } else {
        None
    };
    if flags & FCOMMENT != 0 {
        cstring(&mut pos)?;
    }
    if flags & FHCRC != 0 {
        pos += 2;
        if pos > d.len() {
            return Err(truncated());
        }
    }
    Ok(GzipHeader {
        mtime,
        fname,
        fname_at,
        os,
        len: pos,
    })
}

/// What decompressing a whole gzip file gave: the stream, and an error that stopped it early.
struct GzipStream {
    first: Option<GzipHeader>,
    members: u64,
    out: BoundedBuf,
    error: Option<String>,
}

/// Decompress every member of a (multi-member) gzip file into one bounded buffer. A limit or
/// a corrupt member stops it; what was decompressed before is kept (and scanned).
fn inflate_gzip(d: &[u8], budget: &Budget) -> GzipStream {
    let mut s = GzipStream {
        first: None,
        members: 0,
        out: budget.buffer(),
        error: None,
    };
    let mut pos = 0usize;
    while pos < d.len() {
        // Padding after the last member (tape blocks) is zeros; anything else is an error.
        if s.members > 0 && d[pos..].iter().all(|&b| b == 0) {
            break;
        }
        let header = match gzip_header(&d[pos..]) {
            Ok(h) => h,
            Err(e) => {
                s.error = Some(if s.members == 0 {
                    e
                } else {
                    format!("trailing data at offset {pos} after the gzip stream: {e}")
                });
                return s;
            }
        };
        pos += header.len;
        if s.first.is_none() {
            s.first = Some(header);
        }
        let start = s.out.len();
        let mut dec = flate2::bufread::DeflateDecoder::new(budget.reader(&d[pos..]));
        match read_bounded_into(&mut dec, &mut s.out, budget) {
            Ok(()) => {}
            Err(InflateError::Limit(msg, _)) => {
                s.error = Some(format!(
                    "gzip stream cut at {} of output: {msg}; the part before the cut was scanned",
                    human_size(s.out.len() as u64)
                ));
                return s;
            }
            Err(InflateError::Corrupt(msg, _)) => {
                s.error = Some(format!("corrupt gzip member at offset {pos}: {msg}"));
                return s;
            }
        }
        pos += dec.total_in() as usize;
        let Some(trailer) = d.get(pos..pos + 8) else {
            s.error = Some("truncated gzip stream (member ends without its trailer)".into());
            return s;
        };
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let mut actual = flate2::Crc::new();
        actual.update(&s.out.as_slice()[start..]);
        if actual.sum() != crc {
            s.error = Some(format!(
                "gzip member CRC mismatch (stored {crc:08x}, computed {:08x}): corrupt or truncated",
                actual.sum()
            ));
            return s;
        }
        pos += 8;
        s.members += 1;
    }
    s
}

fn stream_node(name: &str, out: BoundedBuf, meta: MetaMap) -> Node {
    let mut node = Node::new(name, out.into_bytes()).with_kind(NodeKind::Stream);
    node.meta = meta;
    node
}

/// Lazily decompress a stream container into its one child.
pub(crate) fn children<'a>(
    node: &'a Node,
    limits: &'a Limits,
) -> Box<dyn Iterator<Item = Result<Node, ChildError>> + 'a> {
    let mut pending: Option<Vec<Result<Node, ChildError>>> = None;
    Box::new(std::iter::from_fn(move || {
        let items = pending.get_or_insert_with(|| {
            let mut v = decompress(node, limits);
            v.reverse();
            v
        });
        items.pop()
    }))
}

fn container_error(message: String) -> ChildError {
    ChildError {
        name: String::new(),
        message,
    }
}

/// The stream (what could be decompressed) and, when it stopped early, why.
fn stream_and_error(
    name: &str,
    what: &str,
    result: Result<BoundedBuf, InflateError>,
) -> Vec<Result<Node, ChildError>> {
    match result {
        Ok(out) => vec![Ok(stream_node(name, out, MetaMap::new()))],
        Err(InflateError::Limit(msg, partial)) => {
            let cut = human_size(partial.len() as u64);
            vec![
                Ok(stream_node(name, partial, MetaMap::new())),
                Err(container_error(format!(
                    "{what} stream cut at {cut} of output: {msg}; the part before the cut was scanned"
                ))),
            ]
        }
        Err(InflateError::Corrupt(msg, partial)) => vec![
            Ok(stream_node(name, partial, MetaMap::new())),
            Err(container_error(format!("corrupt {what} stream: {msg}"))),
        ],
    }
}

fn decompress(node: &Node, limits: &Limits) -> Vec<Result<Node, ChildError>> {
    let d: &[u8] = &node.data;
    let budget = Budget::new(limits);
    match node.format {
        Format::Gzip => {
            let s = inflate_gzip(d, &budget);
            let mut v = Vec::new();
            if let Some(h) = &s.first {
                let mut meta = MetaMap::new();
                meta.insert(MetaKey::Mtime, Meta::Int(h.mtime.into()));
                if let Some(f) = &h.fname {
                    meta.insert(
                        MetaKey::named("fname"),
                        Meta::Text(String::from_utf8_lossy(f).into()),
                    );
                }
                meta.insert(MetaKey::named("os"), Meta::Int(h.os.into()));
                meta.insert(MetaKey::named("members"), Meta::Int(s.members as i64));
                v.push(Ok(stream_node("(gzip stream)", s.out, meta)));
            }
            if let Some(e) = s.error {
                v.push(Err(container_error(e)));
            }
            v
        }
        Format::Xz => {
            let mut w = BoundedWriter {
                buf: budget.buffer(),
                budget: &budget,
                limit_hit: None,
            };
            let mut input = budget.reader(d);
            let res = lzma_rs::xz_decompress(&mut input, &mut w);
            let result = match (res, w.limit_hit) {
                (_, Some(limit)) => Err(InflateError::Limit(limit, w.buf)),
                (Ok(()), None) => Ok(w.buf),
                (Err(e), None) => Err(InflateError::Corrupt(e.to_string(), w.buf)),
            };
            stream_and_error("(xz stream)", "xz", result)
        }
        Format::Zstd => stream_and_error("(zstd stream)", "zstd", inflate_zstd(d, &budget)),
        Format::Bzip2 => {
            // Multi-stream: pbzip2 and lbzip2 write one stream per block group.
            let dec = bzip2::bufread::MultiBzDecoder::new(budget.reader(d));
            stream_and_error("(bzip2 stream)", "bzip2", read_bounded(dec, &budget))
        }
        _ => Vec::new(),
    }
}

/// The compressed formats of object-file sections (ELF `SHF_COMPRESSED`, `.zdebug_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SectionCompression {
    Zlib,
    Zstd,
}

/// Decompress a section within the limits, ratio included (a section header's claimed size
/// is never allocated up front: the buffer grows with what the decoder produces).
pub(crate) fn inflate_section(
    raw: &[u8],
    format: SectionCompression,
    limits: &Limits,
) -> Result<BoundedBuf, InflateError> {
    let budget = Budget::new(limits);
    match format {
        SectionCompression::Zlib => read_bounded(
            flate2::bufread::ZlibDecoder::new(budget.reader(raw)),
            &budget,
        ),
        SectionCompression::Zstd => inflate_zstd(raw, &budget),
    }
}

/// Decode every zstd frame in `d` (a file may hold several, and skippable frames).
fn inflate_zstd(d: &[u8], budget: &Budget) -> Result<BoundedBuf, InflateError> {
    let mut out = budget.buffer();
    let mut rest = d;
    while !rest.is_empty() {
        // Skippable frames: magic 0x184D2A5? then a 32-bit length.
        if rest.len() >= 8 && rest[1..4] == [0x2a, 0x4d, 0x18] && rest[0] & 0xf0 == 0x50 {
            let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            rest = rest.get(8 + len..).unwrap_or(&[]);
            continue;
        }
        let before = rest.len();
        let mut dec = match ruzstd::decoding::StreamingDecoder::new(budget.reader(&mut rest)) {
            Ok(dec) => dec,
            Err(e) => return Err(InflateError::Corrupt(e.to_string(), out)),
        };
        if let Err(e) = read_bounded_into(&mut dec, &mut out, budget) {
            return Err(e.with_output(out));
        }
        drop(dec);
        if rest.len() == before {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_limits_readably() {
        assert_eq!(human_size(1 << 30), "1 GiB");
        assert_eq!(human_size(3 << 20), "3 MiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn budget_checks_size_and_ratio() {
        let b = Budget::new(&Limits::default());
        assert!(
            b.check_sizes(RATIO_FLOOR, 10).is_ok(),
            "small outputs are never refused"
        );
        assert_eq!(
            b.check_sizes(RATIO_FLOOR + 1, 10).unwrap_err(),
            "compression ratio above 1000:1: possible zip bomb (raise the limit with --max-ratio)"
        );
        assert_eq!(
            b.check_sizes((1 << 30) + 1, 1 << 30).unwrap_err(),
            "decompressed size exceeds the 1 GiB limit (raise it with --max-decompressed)"
        );
        // The ratio is judged against the input the decoder has consumed so far.
        let input = [0u8; 2000];
        let mut r = b.reader(&input[..]);
        r.read_exact(&mut [0u8; 1000]).unwrap();
        assert!(b.check(RATIO_FLOOR).is_ok());
        assert!(b.check(RATIO_FLOOR + 500_000).is_err());
        r.read_exact(&mut [0u8; 1000]).unwrap();
        assert!(b.check(RATIO_FLOOR + 500_000).is_ok());
    }

    #[test]
    fn parses_gzip_header_fields() {
        let mut h = vec![0x1f, 0x8b, 8, FNAME, 0x78, 0x56, 0x34, 0x12, 0, 3];
        h.extend_from_slice(b"a.txt\0");
        let g = gzip_header(&h).unwrap();
        assert_eq!(g.mtime, 0x1234_5678);
        assert_eq!(g.fname.as_deref(), Some(&b"a.txt"[..]));
        assert_eq!(g.len, h.len());
        assert!(gzip_header(&h[..12]).is_err(), "FNAME without its NUL");
    }
}
