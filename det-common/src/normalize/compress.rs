//! Compressed streams. gzip: every member's header rewritten as `gzip -n` writes it (MTIME
//! 0, no FNAME, no header CRC) with the deflate data kept; only when the stream holds
//! something det normalizes (a tar) is it recompressed. xz, zstd and bzip2 headers hold no
//! time or name: their content is normalized and recompressed (xz and zstd by the `xz` and
//! `zstd` programs when installed, single-threaded so the output is deterministic).

use super::{Ctx, Step, run_nested};
use crate::artifact::compress::gzip_header;
use crate::artifact::{Bytes, Format, Node};
use std::io::{Read, Write};

const FEXTRA: u8 = 0x04;
const FCOMMENT: u8 = 0x10;

/// The name a decompressed stream goes by (`x.tar.gz` → `x.tar`).
fn inner_name(name: &str) -> String {
    for ext in [
        ".gz", ".tgz", ".xz", ".txz", ".zst", ".tzst", ".bz2", ".tbz2",
    ] {
        if let Some(stem) = name.strip_suffix(ext) {
            return if ext.starts_with(".t") {
                format!("{stem}.tar")
            } else {
                stem.to_owned()
            };
        }
    }
    name.to_owned()
}

pub(crate) fn normalize(
    data: &Bytes,
    format: Format,
    name: &str,
    cx: &Ctx,
) -> Result<Step, String> {
    match format {
        Format::Gzip => gzip(data, name, cx),
        _ => other(data, format, name, cx),
    }
}

fn gzip(data: &Bytes, name: &str, cx: &Ctx) -> Result<Step, String> {
    let d: &[u8] = data;
    let max = cx.opts.limits.max_decompressed;
    // Each member: its rewritten header, and its deflate data and trailer as they are.
    let mut headers_rewritten = Vec::with_capacity(d.len());
    let mut content = Vec::new();
    let mut pos = 0usize;
    let mut members = 0;
    while pos < d.len() {
        if members > 0 && d[pos..].iter().all(|&b| b == 0) {
            break;
        }
        let h = gzip_header(&d[pos..]).map_err(|e| {
            if members == 0 {
                e
            } else {
                format!("trailing data at offset {pos} after the gzip stream: {e}")
            }
        })?;
        let flags = d[pos + 3];
        let mut header = vec![0x1f, 0x8b, 8, flags & (FEXTRA | FCOMMENT), 0, 0, 0, 0];
        header.push(d[pos + 8]);
        header.push(d[pos + 9]);
        let mut at = pos + 10;
        if flags & FEXTRA != 0 {
            let xlen = usize::from(u16::from_le_bytes([d[at], d[at + 1]]));
            header.extend_from_slice(&d[at..at + 2 + xlen]);
            at += 2 + xlen;
        }
        if let Some(fname) = &h.fname {
            at += fname.len() + 1;
        }
        if flags & FCOMMENT != 0 {
            let end = d[at..]
                .iter()
                .position(|&b| b == 0)
                .ok_or("truncated gzip header")?;
            header.extend_from_slice(&d[at..=at + end]);
        }
        let body = pos + h.len;
        let mut dec = flate2::bufread::DeflateDecoder::new(&d[body..]);
        let before = content.len();
        (&mut dec)
            .take(max.saturating_sub(before as u64).saturating_add(1))
            .read_to_end(&mut content)
            .map_err(|e| format!("corrupt gzip stream: {e}"))?;
        if content.len() as u64 > max {
            return Err(format!(
                "decompressed size exceeds {} bytes; not normalized",
                max
            ));
        }
        let consumed = usize::try_from(dec.total_in()).map_err(|e| e.to_string())?;
        let trailer = body + consumed;
        let t = d
            .get(trailer..trailer + 8)
            .ok_or("gzip stream truncated (no CRC and size trailer)")?;
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        let mut c = flate2::Crc::new();
        c.update(&content[before..]);
        if c.sum() != crc || (content.len() - before) as u32 != isize {
            return Err("corrupt gzip stream: CRC or size does not match the data".into());
        }
        headers_rewritten.extend_from_slice(&header);
        headers_rewritten.extend_from_slice(&d[body..trailer + 8]);
        pos = trailer + 8;
        members += 1;
    }
    if pos < d.len() {
        headers_rewritten.extend_from_slice(&d[pos..]);
    }
    match run_nested(&content, &inner_name(name), cx, &|_: &str| None)? {
        Some(new) => {
            let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
            let mut e = flate2::write::DeflateEncoder::new(
                out.split_off(10),
                flate2::Compression::default(),
            );
            let _ = e.write_all(&new);
            let body = e.finish().map_err(|e| e.to_string())?;
            out.extend_from_slice(&body);
            let mut c = flate2::Crc::new();
            c.update(&new);
            out.extend_from_slice(&c.sum().to_le_bytes());
            out.extend_from_slice(&(new.len() as u32).to_le_bytes());
            Ok(Step::Changed(out))
        }
        None => Ok(Step::Changed(headers_rewritten)),
    }
}

/// Run `program args` with `input` on stdin; its stdout.
fn filter(program: &str, args: &[&str], input: &[u8]) -> Result<Vec<u8>, String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{program}` to recompress: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let output = std::thread::scope(|s| {
        s.spawn(move || {
            let _ = stdin.write_all(input);
        });
        child.wait_with_output()
    })
    .map_err(|e| format!("`{program}`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{program}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

fn other(data: &Bytes, format: Format, name: &str, cx: &Ctx) -> Result<Step, String> {
    let node = Node::new(name, data.clone());
    let mut children = node.children(&cx.opts.limits);
    let stream = match children.next() {
        Some(Ok(n)) => n,
        Some(Err(e)) => return Err(e.message),
        None => return Err(format!("empty {} stream", format.name())),
    };
    if let Some(Err(e)) = children.next() {
        return Err(e.message);
    }
    let Some(new) = run_nested(&stream.data, &inner_name(name), cx, &|_: &str| None)? else {
        return Ok(Step::Same);
    };
    let have = |p: &str| crate::toolchain::find_on_path(p).is_some();
    let out = match format {
        Format::Xz if have("xz") => filter("xz", &["-z", "-c", "-6", "-T1", "-q"], &new)?,
        Format::Xz => {
            return Err("xz is not installed; it is needed to recompress this stream".into());
        }
        Format::Zstd if have("zstd") => filter("zstd", &["-q", "-c", "-19", "-T1"], &new)?,
        Format::Zstd => {
            ruzstd::encoding::compress_to_vec(&new[..], ruzstd::encoding::CompressionLevel::Fastest)
        }
        _ => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            e.write_all(&new).map_err(|e| e.to_string())?;
            e.finish().map_err(|e| e.to_string())?
        }
    };
    Ok(Step::Changed(out))
}
