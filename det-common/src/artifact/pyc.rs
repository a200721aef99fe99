//! Compiled Python bytecode (.pyc): the header that says how the file is invalidated.
//!
//! Python >= 3.7 (PEP 552): magic (4 bytes), flags (4), then either the source mtime and
//! size (flags == 0: timestamp-based) or an 8-byte source hash (bit 0 set; bit 1: checked).
//! Python 3.3–3.6 (magic below 3390): magic, mtime, size, with no flags word.

/// How a .pyc is invalidated, with the fields that go with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PycInvalidation {
    /// The header holds the source's mtime (seconds since the epoch) and size.
    Timestamp { mtime: u32, source_size: u32 },
    /// The header holds a SipHash of the source; `checked` says whether Python verifies it.
    Hash { checked: bool, hash: [u8; 8] },
}

/// The parsed header of a .pyc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PycHeader {
    /// The magic number (little-endian u16): one per CPython bytecode version.
    pub magic: u16,
    pub invalidation: PycInvalidation,
}

/// The first magic number with the PEP 552 flags word (CPython 3.7a4).
const PEP552_MAGIC: u16 = 3390;

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

/// Parse a .pyc header; `None` when it is too short or not a Python 3 pyc.
pub(crate) fn header(d: &[u8]) -> Option<PycHeader> {
    if d.get(2..4)? != b"\r\n" {
        return None;
    }
    let magic = u16::from_le_bytes([d[0], d[1]]);
    if magic < PEP552_MAGIC {
        return Some(PycHeader {
            magic,
            invalidation: PycInvalidation::Timestamp {
                mtime: u32_at(d, 4)?,
                source_size: u32_at(d, 8)?,
            },
        });
    }
    let flags = u32_at(d, 4)?;
    let invalidation = if flags & 1 == 0 {
        PycInvalidation::Timestamp {
            mtime: u32_at(d, 8)?,
            source_size: u32_at(d, 12)?,
        }
    } else {
        PycInvalidation::Hash {
            checked: flags & 2 != 0,
            hash: d.get(8..16)?.try_into().ok()?,
        }
    };
    Some(PycHeader {
        magic,
        invalidation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_invalidation_modes() {
        let mut pyc = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0];
        pyc.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        pyc.extend_from_slice(&42u32.to_le_bytes());
        assert_eq!(
            header(&pyc).unwrap().invalidation,
            PycInvalidation::Timestamp {
                mtime: 1_700_000_000,
                source_size: 42
            }
        );
        pyc[4] = 3;
        assert!(matches!(
            header(&pyc).unwrap().invalidation,
            PycInvalidation::Hash { checked: true, .. }
        ));
        assert_eq!(header(&pyc[..10]), None);
    }
}
