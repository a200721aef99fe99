//! Where two byte strings differ: differing byte ranges (for equal lengths, a linear scan;
//! otherwise common prefix and suffix, then a bounded Myers diff over tokens), and the
//! printable and hex context that reports show around a range.

use std::ops::Range;

/// One differing region: `a` in the first input, `b` in the second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hunk {
    pub a: Range<usize>,
    pub b: Range<usize>,
}

/// Ranges closer than this many equal bytes are reported as one.
const MERGE_GAP: usize = 8;
/// Compare this many bytes at a time when looking for the next difference.
const BLOCK: usize = 64;

/// The length of the common prefix of `a` and `b`.
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= n && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// The length of the common suffix of `a` and `b`, at most `max`.
pub(crate) fn common_suffix(a: &[u8], b: &[u8], max: usize) -> usize {
    let n = a.len().min(b.len()).min(max);
    let mut i = 0;
    while i + BLOCK <= n
        && a[a.len() - i - BLOCK..a.len() - i] == b[b.len() - i - BLOCK..b.len() - i]
    {
        i += BLOCK;
    }
    while i < n && a[a.len() - 1 - i] == b[b.len() - 1 - i] {
        i += 1;
    }
    i
}

/// The differing ranges of `a` and `b`, at most `max` of them, and how many more there are
/// (`usize::MAX` when the rest was not counted).
///
/// Equal lengths: a linear scan, differing bytes closer than [`MERGE_GAP`] merged. Different
/// lengths: the common prefix and suffix are removed; a middle of up to `token_limit` bytes
/// on each side is diffed token by token (a token ends after a NUL or a newline, so a string
/// that got longer is one hunk and the strings after it line up again); a bigger middle is
/// one hunk.
pub(crate) fn byte_hunks(a: &[u8], b: &[u8], max: usize, token_limit: usize) -> (Vec<Hunk>, usize) {
    let mut out = Vec::new();
    if a.len() == b.len() {
        let mut more = 0;
        let mut i = 0;
        let n = a.len();
        while i < n {
            i += common_prefix(&a[i..], &b[i..]);
            if i >= n {
                break;
            }
            let start = i;
            let mut end = i + 1;
            // Extend while the next difference is within MERGE_GAP.
            loop {
                let mut j = end;
                while j < n && j < end + MERGE_GAP && a[j] == b[j] {
                    j += 1;
                }
                if j < n && j < end + MERGE_GAP {
                    end = j + 1;
                } else {
                    break;
                }
            }
            if out.len() < max {
                out.push(Hunk {
                    a: start..end,
                    b: start..end,
                });
            } else {
                more += 1;
            }
            i = end;
        }
        return (out, more);
    }
    let p = common_prefix(a, b);
    let s = common_suffix(&a[p..], &b[p..], usize::MAX);
    let (am, bm) = (&a[p..a.len() - s], &b[p..b.len() - s]);
    if am.len() <= token_limit && bm.len() <= token_limit {
        let ta = tokens(am);
        let tb = tokens(bm);
        let ea: Vec<&[u8]> = ta.iter().map(|r| &am[r.clone()]).collect();
        let eb: Vec<&[u8]> = tb.iter().map(|r| &bm[r.clone()]).collect();
        if let Some(hunks) = myers(&ea, &eb, 2000) {
            let mut more = 0;
            for h in hunks {
                let ar = span(&ta, &h.a, p);
                let br = span(&tb, &h.b, p);
                if out.len() < max {
                    out.push(Hunk { a: ar, b: br });
                } else {
                    more += 1;
                }
            }
            return (out, more);
        }
    }
    out.push(Hunk {
        a: p..a.len() - s,
        b: p..b.len() - s,
    });
    (out, 0)
}

/// Byte range covered by tokens `t` (token indices), shifted by `base`.
fn span(tokens: &[Range<usize>], t: &Range<usize>, base: usize) -> Range<usize> {
    let start = if t.start < tokens.len() {
        tokens[t.start].start
    } else {
        tokens.last().map_or(0, |r| r.end)
    };
    let end = if t.end > t.start {
        tokens[t.end - 1].end
    } else {
        start
    };
    base + start..base + end
}

/// Tokens of `d`: each ends after a NUL or a newline (the last may end without one).
pub(crate) fn tokens(d: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in memchr::memchr2_iter(0, b'\n', d) {
        out.push(start..i + 1);
        start = i + 1;
    }
    if start < d.len() {
        out.push(start..d.len());
    }
    out
}

/// Myers' O((N+M)·D) diff of two sequences: the hunks (ranges of indices) that differ, or
/// `None` when more than `max_d` edits would be needed (the caller falls back to one hunk).
/// Memory is O(D²) for the trace, bounded by `max_d`.
pub(crate) fn myers<T: PartialEq>(a: &[T], b: &[T], max_d: usize) -> Option<Vec<Hunk>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m).min(max_d as isize);
    let off = max + 1;
    let mut v = vec![0isize; 2 * off as usize + 1];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let mut found = None;
    'outer: for d in 0..=max {
        trace.push(v.clone());
        let mut k = -d;
        while k <= d {
            let idx = (k + off) as usize;
            let mut x = if k == -d || (k != d && v[idx - 1] < v[idx + 1]) {
                v[idx + 1]
            } else {
                v[idx - 1] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[idx] = x;
            if x >= n && y >= m {
                found = Some(d);
                break 'outer;
            }
            k += 2;
        }
    }
    found?;
    // Backtrack: trace[d] is V as it was before round d; each round added one edit.
    let mut x = n;
    let mut y = m;
    let mut edits: Vec<Hunk> = Vec::new();
    for d in (1..trace.len() as isize).rev() {
        let v = &trace[d as usize];
        let k = x - y;
        let down = k == -d || (k != d && v[(k - 1 + off) as usize] < v[(k + 1 + off) as usize]);
        let prev_k = if down { k + 1 } else { k - 1 };
        let prev_x = v[(prev_k + off) as usize];
        let prev_y = prev_x - prev_k;
        let (px, py) = (prev_x as usize, prev_y as usize);
        edits.push(if down {
            Hunk {
                a: px..px,
                b: py..py + 1,
            }
        } else {
            Hunk {
                a: px..px + 1,
                b: py..py,
            }
        });
        x = prev_x;
        y = prev_y;
    }
    edits.reverse();
    let mut hunks: Vec<Hunk> = Vec::new();
    for e in edits {
        match hunks.last_mut() {
            Some(h) if h.a.end == e.a.start && h.b.end == e.b.start => {
                h.a.end = e.a.end;
                h.b.end = e.b.end;
            }
            _ => hunks.push(e),
        }
    }
    Some(hunks)
}

/// Bytes as readable text: printable ASCII as is, `\0`, `\n`, `\t`, and `\xNN` for the rest,
/// at most `max` bytes (then `…`).
pub(crate) fn printable(d: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(d.len().min(max) + 8);
    for &c in d.iter().take(max) {
        match c {
            0 => s.push_str("\\0"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if d.len() > max {
        s.push('…');
    }
    s
}

/// Bytes as space-separated hex, at most `max` bytes (then `…`).
pub(crate) fn hex_context(d: &[u8], max: usize) -> String {
    let mut s: Vec<String> = d.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if d.len() > max {
        s.push("…".into());
    }
    s.join(" ")
}

/// True when most of `d` is printable text (then context is shown as text, else as hex).
pub(crate) fn mostly_printable(d: &[u8]) -> bool {
    if d.is_empty() {
        return true;
    }
    let p = d
        .iter()
        .filter(|&&c| matches!(c, 0x20..=0x7e | b'\n' | b'\t' | 0))
        .count();
    p * 10 >= d.len() * 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_length_ranges_are_merged_when_close() {
        let a = b"hello world, hello there";
        let b = b"hellO world, hellO thEre";
        let (h, more) = byte_hunks(a, b, 10, 1 << 16);
        assert_eq!(more, 0);
        assert_eq!(
            h.iter().map(|h| h.a.clone()).collect::<Vec<_>>(),
            vec![4..5, 17..22]
        );
    }

    #[test]
    fn a_longer_string_is_one_hunk_and_the_rest_lines_up() {
        let a = b"/tmp/a/src\0main.c\0/tmp/a/inc\0x.h\0";
        let b = b"/tmp/bb/src\0main.c\0/tmp/bb/inc\0x.h\0";
        let (h, _) = byte_hunks(a, b, 10, 1 << 16);
        assert_eq!(h.len(), 2, "{h:?}");
        assert_eq!(&a[h[0].a.clone()], b"a/src\0");
        assert_eq!(&b[h[0].b.clone()], b"bb/src\0");
        assert_eq!(&b[h[1].b.clone()], b"/tmp/bb");
    }

    #[test]
    fn myers_finds_insertions_and_deletions() {
        let a = ["a", "b", "c", "d"];
        let b = ["a", "x", "c", "d", "e"];
        let h = myers(&a, &b, 100).unwrap();
        assert_eq!(
            h,
            vec![Hunk { a: 1..2, b: 1..2 }, Hunk { a: 4..4, b: 4..5 }]
        );
        assert_eq!(myers(&a, &a, 100).unwrap(), vec![]);
        assert!(myers(&["a"; 10], &["b"; 10], 3).is_none());
    }

    #[test]
    fn printable_escapes() {
        assert_eq!(printable(b"ab\0\x1b\n", 10), "ab\\0\\x1b\\n");
        assert_eq!(hex_context(b"\x01\xff", 1), "01 …");
    }
}
