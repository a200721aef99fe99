//! .pyc: a timestamp-based pyc becomes a checked-hash pyc, byte for byte what
//! `py_compile` writes with SOURCE_DATE_EPOCH set (PEP 552): the same marshalled code after
//! a header of magic, flags 0b11 and `importlib.util.source_hash(source)`.

use super::{Ctx, Sources, Step};
use crate::artifact::Bytes;
use crate::artifact::pyc::{PycInvalidation, header};

/// Where the source of a pyc may be, by the pyc's path (or member name):
/// `a/__pycache__/m.cpython-312.pyc` (or `.opt-1.pyc`) → `a/m.py`; `a/m.pyc` → `a/m.py`.
pub(crate) fn source_candidates(pyc: &str) -> Vec<String> {
    let (dir, file) = match pyc.rfind('/') {
        Some(i) => (&pyc[..=i], &pyc[i + 1..]),
        None => ("", pyc),
    };
    let Some(stem) = file.strip_suffix(".pyc") else {
        return Vec::new();
    };
    if let Some(parent) = dir.strip_suffix("__pycache__/") {
        // m.cpython-312.pyc, m.cpython-312.opt-1.pyc: the module is the first component.
        let module = stem.split('.').next().unwrap_or(stem);
        vec![format!("{parent}{module}.py")]
    } else {
        vec![format!("{dir}{stem}.py")]
    }
}

/// SipHash with `c` compression and `d` finalization rounds, keys `k0`, `k1`.
fn siphash(c: usize, d: usize, k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let m = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        v[3] ^= m;
        for _ in 0..c {
            round(&mut v);
        }
        v[0] ^= m;
    }
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    let m = u64::from_le_bytes(last) | ((data.len() as u64 & 0xff) << 56);
    v[3] ^= m;
    for _ in 0..c {
        round(&mut v);
    }
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..d {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// `importlib.util.source_hash(source)` of the CPython whose magic number starts `pyc`:
/// keyed SipHash of the source with the whole 4-byte magic as key; SipHash-1-3 since
/// CPython 3.11 (magic 3495), SipHash-2-4 before.
fn source_hash(magic4: [u8; 4], source: &[u8]) -> [u8; 8] {
    let key = u64::from(u32::from_le_bytes(magic4));
    let magic = u16::from_le_bytes([magic4[0], magic4[1]]);
    let h = if magic >= 3495 {
        siphash(1, 3, key, 0, source)
    } else {
        siphash(2, 4, key, 0, source)
    };
    h.to_le_bytes()
}

pub(crate) fn normalize(
    data: &Bytes,
    name: &str,
    cx: &Ctx,
    sources: Sources,
) -> Result<Step, String> {
    let Some(h) = header(data) else {
        return Ok(Step::Unsupported("not a Python 3 pyc".into()));
    };
    let PycInvalidation::Timestamp { mtime, .. } = h.invalidation else {
        return Ok(Step::Same);
    };
    let mut out = data.to_vec();
    let time = |t: u32| -> [u8; 4] {
        (cx.opts.time(i64::from(t)).clamp(0, i64::from(u32::MAX)) as u32).to_le_bytes()
    };
    if h.magic < 3390 {
        // Python 3.6 and older have no hash-based pycs.
        out[4..8].copy_from_slice(&time(mtime));
        return Ok(Step::Changed(out));
    }
    if data.len() < 16 {
        return Err("truncated pyc header".into());
    }
    match sources(name) {
        Some(source) => {
            let magic4 = [data[0], data[1], data[2], data[3]];
            out[4..8].copy_from_slice(&3u32.to_le_bytes());
            out[8..16].copy_from_slice(&source_hash(magic4, &source));
        }
        None => {
            cx.note(format!(
                "{name}: source not found, so the pyc stays timestamp-based with its source mtime set to SOURCE_DATE_EPOCH"
            ));
            out[8..12].copy_from_slice(&time(mtime));
        }
    }
    Ok(Step::Changed(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_hash_matches_cpython() {
        // importlib.util.source_hash(b'abc') on CPython 3.11 (magic a7 0d 0d 0a).
        assert_eq!(
            hex::encode(source_hash([0xa7, 0x0d, 0x0d, 0x0a], b"abc")),
            "c7af82e77c1da4f5"
        );
    }

    #[test]
    fn siphash24_reference_vector() {
        // The SipHash paper's vector: key 00..0f, message 00..0e.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash(2, 4, k0, k1, &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn candidates() {
        assert_eq!(
            source_candidates("a/__pycache__/m.cpython-312.opt-1.pyc"),
            ["a/m.py"]
        );
        assert_eq!(source_candidates("m.pyc"), ["m.py"]);
        assert!(source_candidates("m.py").is_empty());
    }
}
