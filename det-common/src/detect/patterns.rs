//! Pattern detectors over arbitrary bytes: build paths, home paths, `__DATE__`/`__TIME__`
//! strings, ISO 8601 and RFC 2822 dates, and UUID strings. They run over text files, over
//! unknown binaries and, called by the object detectors, over one section at a time.
//!
//! One pass per buffer, two cheap prefilters: an Aho-Corasick automaton (SIMD "Teddy" on
//! x86) over the literal anchors of paths (`/home/`, `/tmp/`, `/src/`, ...) and month
//! names (`Nov `), and a `memchr2` sweep over `-` and `:` for ISO dates, UUIDs, standalone
//! times and Windows drive paths. Each hit is confirmed by a few byte comparisons around
//! it. Large buffers are split into chunks scanned in parallel (rayon); a match belongs
//! to the chunk its anchor falls in, and the findings are sorted and deduplicated by
//! offset, so the result does not depend on the chunking. Mapped files are scanned in
//! windows whose pages are released behind the scan ([`detect_bytes`]), so a multi-GiB
//! file scans in bounded memory.
//!
//! What counts as a build path is a judgment made to keep the noise down on real release
//! binaries: system paths (`/usr/lib/...`, `/lib64/ld-linux-x86-64.so.2`, `/bin/sh`,
//! `/dev/null`, `/proc/self/...`, `/etc/...`) and the remapped prefixes of rustc
//! (`/rustc/<hash>/`, `/cargo/registry/`) are not; paths under `/home`, `/Users`, `/root`
//! (→ `home-path`), `/tmp`, `/build`, `/work`, `/var/tmp`, `/private`, `/usr/src`,
//! `/opt/build*`, CI work directories, [`ScanOptions::build_roots`], and paths with a
//! checkout-like component (`src`, `target`, `.cargo`) under a non-system prefix are.

use super::ScanOptions;
use super::calibrate::{Content, calibrate};
use crate::artifact::Bytes;
use crate::finding::{Finding, Location};
use crate::rules;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

/// The longest path or date reported; longer matches are cut (evidence stays readable).
const MAX_MATCH: usize = 1024;
/// Buffers larger than this are scanned in parallel chunks of this size.
const CHUNK: usize = 1 << 20;
/// Mapped data is scanned in windows of this size; pages behind a window are released.
const WINDOW: usize = 64 << 20;
/// How far from a `__DATE__`-form date a bare `HH:MM:SS` still counts as its `__TIME__`.
const TIME_NEAR_DATE: usize = 64;

/// Anchors of build and home paths. A hit is extended both ways to the whole path.
const PATH_ANCHORS: &[&str] = &[
    "/home/",
    "/Users/",
    "/root/",
    "/tmp/",
    "/build/",
    "/builds/",
    "/work/",
    "/workspace/",
    "/var/tmp/",
    "/usr/src/",
    "/private/",
    "/opt/build",
    "/__w/",
    "/src/",
    "/target/",
    "/.cargo/",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// First path components that are the system's, not a build's.
const SYSTEM_ROOTS: &[&[u8]] = &[
    b"usr",
    b"lib",
    b"lib32",
    b"lib64",
    b"libx32",
    b"bin",
    b"sbin",
    b"etc",
    b"dev",
    b"proc",
    b"sys",
    b"run",
    b"var",
    b"opt",
    b"nix",
    b"gnu",
    b"snap",
    b"System",
    b"Library",
    b"Applications",
    b"Volumes",
    // rustc's remapped prefixes: the standard library (`/rustc/<commit>`), and in the Rust
    // project's own release builds vendored crates (`/rust/deps/<crate>`).
    b"rustc",
    b"rust",
    b"cargo",
    b"mnt",
    b"media",
];

/// A system first component, or one of rustc's remapped ones (`/rustc/<commit>`,
/// `/rustc-dev/<commit>` in the compiler's own crates).
fn is_system_root(first: &[u8]) -> bool {
    SYSTEM_ROOTS.contains(&first) || first.starts_with(b"rustc")
}

/// First path components that are (nearly) always a build's: temp dirs and CI work dirs.
const BUILD_ROOTS: &[&[u8]] = &[
    b"tmp",
    b"build",
    b"builds",
    b"work",
    b"workspace",
    b"private",
    b"__w",
    b"github",
];

/// Dates below this year are not build times (they are copyright years, epochs, ...).
const MIN_YEAR: i32 = 1990;
const MAX_YEAR: i32 = 2199;

/// A match found in a buffer, before it becomes a [`Finding`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Hit {
    start: usize,
    rule: &'static str,
    evidence: String,
}

/// The compiled prefilter: path anchors, month names, and extra build roots.
struct Matcher {
    ac: AhoCorasick,
    /// Patterns `0..n_path` are path anchors, then 12 month names, then build roots.
    n_path: usize,
    roots: Vec<String>,
}

impl Matcher {
    fn new(roots: &[String]) -> Matcher {
        let mut pats: Vec<String> = PATH_ANCHORS.iter().map(|s| s.to_string()).collect();
        let n_path = pats.len();
        pats.extend(MONTHS.iter().map(|m| format!("{m} ")));
        let roots: Vec<String> = roots
            .iter()
            .map(|r| r.trim_end_matches('/').to_owned())
            .filter(|r| r.len() > 1 && r.starts_with('/'))
            .collect();
        pats.extend(roots.iter().cloned());
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&pats)
            .expect("det bug: pattern anchors do not compile");
        Matcher { ac, n_path, roots }
    }

    fn is_month(&self, pattern: usize) -> bool {
        (self.n_path..self.n_path + 12).contains(&pattern)
    }

    fn is_path_anchor(&self, pattern: usize) -> bool {
        pattern < self.n_path || pattern >= self.n_path + 12
    }
}

/// The matcher for `roots`, built once per thread and kept: every section of every object
/// and every member asks for it, and a matcher shared by all threads would make each ask
/// an atomic write to one contended reference count.
fn matcher(roots: &[String]) -> Arc<Matcher> {
    thread_local! {
        static CACHED: std::cell::RefCell<Option<(Vec<String>, Arc<Matcher>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let cached = CACHED.try_with(|c| {
        let mut c = c.borrow_mut();
        if let Some((r, m)) = &*c
            && r.as_slice() == roots
        {
            return Arc::clone(m);
        }
        let m = Arc::new(Matcher::new(roots));
        *c = Some((roots.to_vec(), Arc::clone(&m)));
        m
    });
    cached.unwrap_or_else(|_| Arc::new(Matcher::new(roots)))
}

/// SOURCE_DATE_EPOCH split into the forms dates are compared in.
#[derive(Clone, Copy)]
struct Normalized {
    /// (year, month 1-12, day) of SOURCE_DATE_EPOCH and of the Unix epoch.
    dates: [Option<(i32, u8, u8)>; 2],
    times: [Option<(u8, u8, u8)>; 2],
}

impl Normalized {
    /// For `opts`, computed once per thread and SOURCE_DATE_EPOCH: every section of every
    /// member asks for it.
    fn new(opts: &ScanOptions) -> Normalized {
        thread_local! {
            static CACHED: std::cell::Cell<Option<(Option<i64>, Normalized)>> =
                const { std::cell::Cell::new(None) };
        }
        let sde = opts.source_date_epoch;
        CACHED
            .try_with(|c| match c.get() {
                Some((key, n)) if key == sde => n,
                _ => {
                    let n = Normalized::compute(opts);
                    c.set(Some((sde, n)));
                    n
                }
            })
            .unwrap_or_else(|_| Normalized::compute(opts))
    }

    fn compute(opts: &ScanOptions) -> Normalized {
        let split = |t: i64| {
            let dt = time::OffsetDateTime::from_unix_timestamp(t).ok()?;
            Some((
                (dt.year(), u8::from(dt.month()), dt.day()),
                (dt.hour(), dt.minute(), dt.second()),
            ))
        };
        let sde = opts.source_date_epoch.and_then(split);
        let zero = split(0);
        Normalized {
            dates: [sde.map(|s| s.0), zero.map(|z| z.0)],
            times: [sde.map(|s| s.1), zero.map(|z| z.1)],
        }
    }

    fn is_date(&self, d: (i32, u8, u8)) -> bool {
        self.dates.contains(&Some(d))
    }

    fn is_time(&self, t: (u8, u8, u8)) -> bool {
        self.times.contains(&Some(t))
    }
}

/// Absolute paths, dates and UUIDs in arbitrary bytes; offsets are relative to `data`.
pub fn detect(data: &[u8], loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    detect_in(data, loc, None, 0, opts, out);
}

/// Like [`detect`] for the bytes of one section (or one region of a member): findings are
/// located at `section` (when given) and offset `base + position in data`.
pub fn detect_in(
    data: &[u8],
    loc: &Location,
    section: Option<&str>,
    base: u64,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    let mut hits = HitSet::default();
    hits.absorb(scan_range(data, 0..data.len(), opts));
    hits.push_findings(loc, section, base, Content::Compiled, opts, out);
}

/// Like [`detect`] over a node's content, in bounded memory: a memory-mapped file is
/// scanned in windows and the pages behind each window are handed back to the kernel.
pub fn detect_bytes(
    data: &Bytes,
    loc: &Location,
    content: Content,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    let mut hits = HitSet::default();
    let mut start = 0;
    let mut released = 0;
    while start < data.len() {
        let end = (start + WINDOW).min(data.len());
        hits.absorb(scan_range(data, start..end, opts));
        // Matches look back at most MAX_MATCH bytes before their anchor; keep those pages.
        let done = end.saturating_sub(MAX_MATCH + 4096);
        if done > released {
            data.release(released..done);
            released = done;
        }
        start = end;
    }
    data.release(released..data.len());
    hits.push_findings(loc, None, 0, content, opts, out);
}

/// At most this many findings of one rule per buffer (file or section): a log with a date
/// on every line says all there is in the first ones, and memory stays bounded.
const MAX_PER_RULE: usize = 1000;

/// The hits of one buffer, sorted, deduplicated and capped per rule.
#[derive(Default)]
struct HitSet {
    hits: Vec<Hit>,
    dropped: std::collections::BTreeMap<&'static str, usize>,
}

impl HitSet {
    fn absorb(&mut self, more: Vec<Hit>) {
        if more.is_empty() {
            return;
        }
        self.hits.extend(more);
        self.hits.sort();
        self.hits
            .dedup_by(|a, b| a.start == b.start && a.rule == b.rule);
        let mut count = std::collections::BTreeMap::<&'static str, usize>::new();
        let dropped = &mut self.dropped;
        self.hits.retain(|h| {
            let n = count.entry(h.rule).or_default();
            *n += 1;
            if *n > MAX_PER_RULE {
                *dropped.entry(h.rule).or_default() += 1;
            }
            *n <= MAX_PER_RULE
        });
    }

    fn push_findings(
        self,
        loc: &Location,
        section: Option<&str>,
        base: u64,
        content: Content,
        opts: &ScanOptions,
        out: &mut Vec<Finding>,
    ) {
        if self.hits.is_empty() && self.dropped.is_empty() {
            return;
        }
        // One shared name for the section, however many findings it holds.
        let section = section.map(crate::finding::Name::from);
        let at = |offset: Option<u64>| match &section {
            Some(s) => loc.at(s, offset),
            None => Location {
                offset,
                ..loc.clone()
            },
        };
        for h in self.hits {
            // The evidence is weighed where it was found (see [`super::calibrate`]).
            let Some((rule, severity, fix)) = calibrate(h.rule, &h.evidence, content, opts) else {
                continue;
            };
            let mut f = Finding::new(
                rules::get(rule),
                at(Some(base + h.start as u64)),
                h.evidence,
            )
            .with_severity(severity);
            f.fix = fix;
            out.push(f);
        }
        for (rule, n) in self.dropped {
            out.push(Finding::new(
                rules::get("findings-capped"),
                at(None),
                format!("{n} more `{rule}` matches not listed (at most {MAX_PER_RULE} per file or section)"),
            ));
        }
    }
}

/// All hits whose anchor lies in `range` of `data` (context is read outside the range).
fn scan_range(data: &[u8], range: Range<usize>, opts: &ScanOptions) -> Vec<Hit> {
    // Every match holds one of four bytes: each path anchor and build root a `/`, a month
    // name the space after it, dates, times, UUIDs and Windows paths a `-` or a `:`. Bytes
    // with none of them (most sections of an import library's 460 000 members: a DLL name, a
    // hint) need no matcher; in text the first one is a few bytes in.
    let window = &data[range.start..(range.end + 4).min(data.len())];
    if memchr::memchr3(b'/', b'-', b':', window).is_none() && memchr::memchr(b' ', window).is_none()
    {
        return Vec::new();
    }
    let m = matcher(&opts.build_roots);
    let norm = Normalized::new(opts);
    if range.len() <= 2 * CHUNK {
        let mut hits = Vec::new();
        scan_chunk(data, range, &m, &norm, &mut hits);
        return hits;
    }
    let chunks: Vec<Range<usize>> = (range.start..range.end)
        .step_by(CHUNK)
        .map(|s| s..(s + CHUNK).min(range.end))
        .collect();
    chunks
        .into_par_iter()
        .map(|r| {
            let mut hits = Vec::new();
            scan_chunk(data, r, &m, &norm, &mut hits);
            hits
        })
        .reduce(Vec::new, |mut a, b| {
            a.extend(b);
            a
        })
}

fn scan_chunk(d: &[u8], range: Range<usize>, m: &Matcher, norm: &Normalized, hits: &mut Vec<Hit>) {
    // Pass 1: literal anchors. The search may run past the range by the longest anchor so
    // that an anchor starting inside it is found; matches starting after it are the next
    // chunk's.
    let search_end = (range.end + 64).min(d.len());
    let mut pos = range.start;
    while pos < range.end {
        let Some(mt) = m.ac.find(Input::new(d).span(pos..search_end)) else {
            break;
        };
        if mt.start() >= range.end {
            break;
        }
        let p = mt.pattern().as_usize();
        let mut next = mt.start() + 1;
        if m.is_path_anchor(p) {
            let (found, resume) = unix_path_at(d, mt.start(), &m.roots);
            if let Some((s, e, rule)) = found {
                let rule = if glued_constants(d, s, e) {
                    GLUED_PATH
                } else {
                    rule
                };
                hits.push(hit(d, s, e, rule));
            }
            // Every later anchor inside the same run of path bytes gives the same path (or
            // the same rejection): going on after it keeps the scan linear in the input
            // whatever its bytes (`a/src/` repeated used to make each anchor re-read up to
            // 1 KiB both ways).
            next = next.max(resume);
        } else if m.is_month(p) {
            next = next.max(month_at(d, mt.start(), norm, hits));
        }
        pos = next;
    }
    // Pass 2: `-` (ISO dates, UUIDs) and `:` (times, Windows drive paths).
    let mut skip_until = range.start;
    // Source code and text are dense with `-` and `::`; each candidate is rejected by one
    // or two byte comparisons before any real check runs.
    for i in memchr::memchr2_iter(b'-', b':', &d[range.clone()]) {
        let i = range.start + i;
        if i < skip_until || i == 0 {
            continue;
        }
        let prev = d[i - 1];
        if d[i] == b'-' {
            // ISO dates and UUIDs: the first `-` follows a (hex) digit.
            if !prev.is_ascii_hexdigit() {
                continue;
            }
            if let Some(e) = iso_date_at(d, i, norm, hits).or_else(|| uuid_at(d, i, hits)) {
                skip_until = e;
            }
        } else if prev.is_ascii_alphabetic() && d.get(i + 1) == Some(&b'\\') {
            if let Some(e) = windows_path_at(d, i, hits) {
                skip_until = e;
            }
        } else if prev.is_ascii_digit() {
            standalone_time_at(d, i, norm, hits);
        }
    }
}

fn hit(d: &[u8], s: usize, e: usize, rule: &'static str) -> Hit {
    let e = e.min(s + MAX_MATCH);
    Hit {
        start: s,
        rule,
        evidence: String::from_utf8_lossy(&d[s..e]).into_owned(),
    }
}

// ---- paths ----

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'/' | b'.' | b'_' | b'-' | b'+' | b'~' | b'@' | b'=' | b',' | b'#'
        )
}

/// The Unix path around the anchor at `p`, if it is a build or home path, and where the
/// scan for anchors may resume: past the run of path bytes the anchor is in (bounded by
/// [`MAX_MATCH`]), since every anchor before that would give the same answer.
fn unix_path_at(
    d: &[u8],
    p: usize,
    roots: &[String],
) -> (Option<(usize, usize, &'static str)>, usize) {
    let lo = p.saturating_sub(MAX_MATCH);
    let mut s = p;
    while s > lo && is_path_byte(d[s - 1]) {
        s -= 1;
    }
    let hi = (p + MAX_MATCH).min(d.len());
    let mut e = p + 1;
    while e < hi && is_path_byte(d[e]) {
        e += 1;
    }
    let resume = e;
    if d[s] != b'/' {
        // The path may follow an option or an assignment inside one token:
        // `-fdebug-prefix-map=/home/u/x=.`, `CFLAGS=-I/home/u/inc`, `-L/tmp/b/lib`,
        // `a,/tmp/x`. Anything else before the first `/` makes it relative (`src/x`).
        let Some(q) = memchr::memchr(b'/', &d[s..=p]).map(|q| s + q) else {
            return (None, resume);
        };
        let after_option = q >= s + 2 && matches!(d[q - 1], b'I' | b'L') && d[q - 2] == b'-';
        if !(matches!(d[q - 1], b'=' | b',') || after_option) {
            return (None, resume);
        }
        s = q;
    }
    if d.get(s + 1) == Some(&b'/') {
        // A URL or UNC-like `//host/...`.
        return (None, resume);
    }
    // A path at the end of a sentence, or before `=.` in a prefix map.
    while e > s + 1 && matches!(d[e - 1], b'.' | b',' | b'=') {
        e -= 1;
    }
    (
        classify_unix(&d[s..e], roots).map(|rule| (s, e, rule)),
        resume,
    )
}

/// `home-path`, `absolute-path`, or `None` for a system (or not-a-path) string.
fn classify_unix(path: &[u8], roots: &[String]) -> Option<&'static str> {
    let comps: Vec<&[u8]> = path[1..].split(|&b| b == b'/').collect();
    let first = comps[0];
    let valid = |c: &&[u8]| {
        c.first()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
            && !c.windows(6).any(|w| w == b"XXXXXX")
    };
    let is_home = match first {
        b"home" | b"Users" => comps.len() >= 2 && valid(&comps[1]),
        b"root" => comps.len() >= 2 && valid(&comps[1]),
        _ => false,
    };
    if is_home {
        return Some("home-path");
    }
    for r in roots {
        let r = r.as_bytes();
        if path.starts_with(r) && (path.len() == r.len() || path[r.len()] == b'/') {
            return Some("absolute-path");
        }
    }
    let second = comps.get(1).filter(|c| valid(c));
    if BUILD_ROOTS.contains(&first) {
        return second.map(|_| "absolute-path");
    }
    match (first, comps.get(1).copied()) {
        (b"usr", Some(b"src")) | (b"var", Some(b"tmp")) => {
            return comps.get(2).filter(|c| valid(c)).map(|_| "absolute-path");
        }
        (b"opt", Some(c)) if c.starts_with(b"build") => return Some("absolute-path"),
        _ => {}
    }
    if is_system_root(first) || !valid(&first) {
        return None;
    }
    // A checkout under an unknown prefix (/data/ci/proj/src/main.c): a source or cargo
    // directory followed by at least one more component.
    let checkout = comps[..comps.len().saturating_sub(1)]
        .iter()
        .any(|c| matches!(*c, b"src" | b"target" | b".cargo"));
    checkout.then_some("absolute-path")
}

/// Whether `path` is absolute (Unix, Windows drive or UNC) and not a system or remapped
/// path. For paths that debug information, a debug map or a PDB reference records, where
/// any absolute directory of the build machine is a leak whatever its prefix.
/// `<prefix>/lib/gcc/...` and `<prefix>/lib/clang/...`: a compiler's own headers.
static TOOLCHAIN_HEADERS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 2]> =
    std::sync::LazyLock::new(|| {
        [
            memchr::memmem::Finder::new(b"/lib/gcc/"),
            memchr::memmem::Finder::new(b"/lib/clang/"),
        ]
    });

pub(crate) fn is_absolute_build_path(path: &[u8]) -> bool {
    if path.starts_with(b"\\\\") {
        return true;
    }
    if path.len() >= 3
        && path[0].is_ascii_alphabetic()
        && path[1] == b':'
        && matches!(path[2], b'\\' | b'/')
    {
        let first = path[3..]
            .split(|&b| b == b'\\' || b == b'/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        return !first.is_empty()
            && !first.starts_with(b"windows")
            && !first.starts_with(b"program");
    }
    if path.first() != Some(&b'/') || path.get(1) == Some(&b'/') || path.len() < 2 {
        return false;
    }
    let mut comps = path[1..].split(|&b| b == b'/');
    let first = comps.next().unwrap_or_default();
    match (first, comps.next()) {
        (b"usr", Some(b"src")) | (b"var", Some(b"tmp")) => true,
        (b"opt", Some(c)) if c.starts_with(b"build") => true,
        // A compiler's own headers (`<prefix>/lib/gcc/<triple>/<version>/include`,
        // `<prefix>/lib/clang/<version>/include`) are the toolchain's, not the build's.
        _ => !is_system_root(first) && TOOLCHAIN_HEADERS.iter().all(|f| f.find(path).is_none()),
    }
}

/// A Windows drive path (`C:\...`, also after `\\?\`) whose colon is at `i`.
fn windows_path_at(d: &[u8], i: usize, hits: &mut Vec<Hit>) -> Option<usize> {
    if i == 0 || d.get(i + 1) != Some(&b'\\') || !d[i - 1].is_ascii_alphabetic() {
        return None;
    }
    if i >= 2 && (d[i - 2].is_ascii_alphanumeric() || d[i - 2] == b'_') {
        return None;
    }
    let mut s = i - 1;
    if s >= 4 && &d[s - 4..s] == b"\\\\?\\" {
        s -= 4;
    }
    let hi = (i + MAX_MATCH).min(d.len());
    let mut e = i + 1;
    while e < hi && (is_path_byte(d[e]) || d[e] == b'\\') {
        e += 1;
    }
    while e > i + 2 && matches!(d[e - 1], b'.' | b',') {
        e -= 1;
    }
    let rest = &d[i + 2..e];
    let comps: Vec<&[u8]> = rest
        .split(|&b| b == b'\\' || b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let first = comps.first()?;
    let lower = first.to_ascii_lowercase();
    let rule = match lower.as_slice() {
        b"windows" | b"program" | b"programdata" | b"progra~1" | b"progra~2" => return None,
        b"users" | b"documents and settings" if comps.len() >= 2 => "home-path",
        _ if comps.len() >= 2 && first[0].is_ascii_alphanumeric() => "absolute-path",
        _ => return None,
    };
    hits.push(hit(d, s, e, rule));
    Some(e)
}

// ---- dates and times ----

fn digits(d: &[u8], r: Range<usize>) -> Option<u32> {
    let s = d.get(r)?;
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |a, &b| a * 10 + (b - b'0') as u32))
}

fn is_digit_at(d: &[u8], i: usize) -> bool {
    d.get(i).is_some_and(u8::is_ascii_digit)
}

/// `HH:MM:SS` at `s`, with no digit right after it.
fn time_at(d: &[u8], s: usize) -> Option<(u8, u8, u8)> {
    let h = digits(d, s..s + 2)?;
    let m = digits(d, s + 3..s + 5)?;
    let sec = digits(d, s + 6..s + 8)?;
    (d[s + 2] == b':' && d[s + 5] == b':' && !is_digit_at(d, s + 8) && h < 24 && m < 60 && sec < 61)
        .then_some((h as u8, m as u8, sec as u8))
}

fn valid_date(y: i32, mon: u8, day: u8) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&y)
        && time::Month::try_from(mon)
            .ok()
            .and_then(|m| time::Date::from_calendar_date(y, m, day).ok())
            .is_some()
}

/// `__DATE__` (`Nov 23 2026`), `__TIMESTAMP__` (`Sun Nov 23 01:02:03 2026`) or RFC 2822
/// (`Mon, 23 Nov 2026 01:02:03 +0000`) around the month name at `p`. Returns where the
/// scan may resume.
fn month_at(d: &[u8], p: usize, norm: &Normalized, hits: &mut Vec<Hit>) -> usize {
    if p > 0 && d[p - 1].is_ascii_alphanumeric() {
        return p + 1;
    }
    let mon = MONTHS
        .iter()
        .position(|m| d[p..].starts_with(m.as_bytes()))
        .map_or(0, |i| i as u8 + 1);
    // Day after the month: `23` or ` 3` (space-padded, as __DATE__ writes it) or `3`.
    let day_after = |at: usize| -> Option<(u8, usize)> {
        if d.get(at) == Some(&b' ') {
            return Some((digits(d, at + 1..at + 2)? as u8, at + 2));
        }
        if is_digit_at(d, at + 1) {
            return Some((digits(d, at..at + 2)? as u8, at + 2));
        }
        Some((digits(d, at..at + 1)? as u8, at + 1))
    };
    if let Some((day, after_day)) = day_after(p + 4)
        && d.get(after_day) == Some(&b' ')
    {
        // __DATE__: `Nov 23 2026`.
        if let Some(y) = digits(d, after_day + 1..after_day + 5)
            && !is_digit_at(d, after_day + 5)
            && valid_date(y as i32, mon, day)
        {
            let e = after_day + 5;
            if !norm.is_date((y as i32, mon, day)) {
                let rule = if quoted_as_code(d, p, e) {
                    EXAMPLE_DATE
                } else {
                    "date-time-macro"
                };
                hits.push(hit(d, p, e, rule));
            }
            times_near(d, p, e, norm, hits);
            return e;
        }
        // __TIMESTAMP__: `Sun Nov 23 01:02:03 2026`.
        if let Some(t) = time_at(d, after_day + 1)
            && d.get(after_day + 9) == Some(&b' ')
            && let Some(y) = digits(d, after_day + 10..after_day + 14)
            && !is_digit_at(d, after_day + 14)
            && valid_date(y as i32, mon, day)
        {
            let s = if p >= 4 && d[p - 1] == b' ' && d[p - 4].is_ascii_uppercase() {
                p - 4
            } else {
                p
            };
            let e = after_day + 14;
            if !(norm.is_date((y as i32, mon, day)) && norm.is_time(t)) {
                let rule = if quoted_as_code(d, s, e) {
                    EXAMPLE_DATE
                } else {
                    "date-time-macro"
                };
                hits.push(hit(d, s, e, rule));
            }
            return e;
        }
    }
    // RFC 2822: `[Mon, ]23 Nov 2026 01:02[:03] +0000`.
    if p >= 2 && d[p - 1] == b' ' && is_digit_at(d, p - 2) {
        let (day, mut s) = if p >= 3 && is_digit_at(d, p - 3) {
            (digits(d, p - 3..p - 1), p - 3)
        } else {
            (digits(d, p - 2..p - 1), p - 2)
        };
        let y = digits(d, p + 4..p + 8);
        if let (Some(day), Some(y)) = (day, y)
            && !(s > 0 && is_digit_at(d, s - 1))
            && d.get(p + 8) == Some(&b' ')
            && let Some(h) = digits(d, p + 9..p + 11)
            && d.get(p + 11) == Some(&b':')
            && let Some(mi) = digits(d, p + 12..p + 14)
            && valid_date(y as i32, mon, day as u8)
            && h < 24
            && mi < 60
        {
            let mut e = p + 14;
            let mut sec = 0;
            if d.get(e) == Some(&b':')
                && let Some(ss) = digits(d, e + 1..e + 3)
            {
                sec = ss;
                e += 3;
            }
            let mut offset_s = 0i32;
            if d.get(e) == Some(&b' ') {
                let z = &d[e + 1..(e + 6).min(d.len())];
                if z.len() == 5
                    && matches!(z[0], b'+' | b'-')
                    && let Some(zz) = digits(z, 1..5)
                {
                    let sign = if z[0] == b'-' { -1 } else { 1 };
                    offset_s = sign * ((zz / 100) * 3600 + (zz % 100) * 60) as i32;
                    e += 6;
                } else if z.starts_with(b"GMT") || z.starts_with(b"UTC") {
                    e += 4;
                }
            }
            if s >= 5 && &d[s - 2..s] == b", " && d[s - 5].is_ascii_uppercase() {
                s -= 5;
            }
            let t = epoch(y as i32, mon, day as u8, h, mi, sec, offset_s);
            if !t.is_some_and(|t| norm_time(norm, t)) {
                hits.push(hit(d, s, e, "embedded-date"));
            }
            return e;
        }
    }
    p + 1
}

/// A bare `HH:MM:SS` within [`TIME_NEAR_DATE`] bytes of a `__DATE__` date at `s..e`.
fn times_near(d: &[u8], s: usize, e: usize, norm: &Normalized, hits: &mut Vec<Hit>) {
    let lo = s.saturating_sub(TIME_NEAR_DATE);
    let hi = (e + TIME_NEAR_DATE).min(d.len());
    for c in (lo..hi).filter(|&c| d[c] == b':') {
        // Its own string (`"Nov 23 2026" "12:34:56"` laid out NUL-separated), or glued to
        // the date (`__DATE__ " " __TIME__`); not the time of some other date nearby.
        if c < 2 || !(c == 2 || d[c - 3] == 0 || (d[c - 3] == b' ' && c - 3 == e)) {
            continue;
        }
        if let Some(t) = time_at(d, c - 2)
            && !norm.is_time(t)
        {
            hits.push(hit(d, c - 2, c + 6, "date-time-macro"));
        }
    }
}

/// `HH:MM:SS` as a NUL-terminated string of its own, whose first colon is at `i`.
fn standalone_time_at(d: &[u8], i: usize, norm: &Normalized, hits: &mut Vec<Hit>) {
    if i < 2 || d.get(i + 6) != Some(&0) || (i > 2 && d[i - 3] != 0) {
        return;
    }
    if let Some(t) = time_at(d, i - 2)
        && !norm.is_time(t)
    {
        hits.push(hit(d, i - 2, i + 6, "date-time-macro"));
    }
}

fn norm_time(norm: &Normalized, t: i64) -> bool {
    let dt = time::OffsetDateTime::from_unix_timestamp(t).ok();
    dt.is_some_and(|dt| {
        norm.is_date((dt.year(), u8::from(dt.month()), dt.day()))
            && norm.is_time((dt.hour(), dt.minute(), dt.second()))
    })
}

#[allow(clippy::too_many_arguments)]
fn epoch(y: i32, mon: u8, day: u8, h: u32, mi: u32, s: u32, offset_s: i32) -> Option<i64> {
    let date = time::Date::from_calendar_date(y, time::Month::try_from(mon).ok()?, day).ok()?;
    let t = time::Time::from_hms(h as u8, mi as u8, s.min(59) as u8).ok()?;
    let off = time::UtcOffset::from_whole_seconds(offset_s).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, t)
            .assume_offset(off)
            .unix_timestamp(),
    )
}

/// ISO 8601 date and time (`2026-11-23T01:02:03Z`, `2026-11-23 01:02:03`, with fraction
/// and offset) whose first `-` is at `i`. A date without a time is not reported: version
/// strings and changelogs are full of them.
fn iso_date_at(d: &[u8], i: usize, norm: &Normalized, hits: &mut Vec<Hit>) -> Option<usize> {
    if i < 4 || (i > 4 && d[i - 5].is_ascii_alphanumeric()) {
        return None;
    }
    let y = digits(d, i - 4..i)?;
    let mon = digits(d, i + 1..i + 3)?;
    if d.get(i + 3) != Some(&b'-') {
        return None;
    }
    let day = digits(d, i + 4..i + 6)?;
    if !matches!(d.get(i + 6), Some(b'T' | b' ')) {
        return None;
    }
    let (h, mi, s) = time_at(d, i + 7).or_else(|| {
        // `HH:MM` without seconds is ISO too.
        let h = digits(d, i + 7..i + 9)?;
        let m = digits(d, i + 10..i + 12)?;
        (d[i + 9] == b':'
            && !is_digit_at(d, i + 12)
            && d.get(i + 12) != Some(&b':')
            && h < 24
            && m < 60)
            .then_some((h as u8, m as u8, 0))
    })?;
    if !valid_date(y as i32, mon as u8, day as u8) {
        return None;
    }
    let mut e = if d[i + 9] == b':' && d.get(i + 12) == Some(&b':') {
        i + 15
    } else {
        i + 12
    };
    if d.get(e) == Some(&b'.') {
        let mut f = e + 1;
        while is_digit_at(d, f) && f < e + 10 {
            f += 1;
        }
        if f > e + 1 {
            e = f;
        }
    }
    let mut offset_s = 0i32;
    match d.get(e) {
        Some(b'Z') => e += 1,
        Some(&c @ (b'+' | b'-')) => {
            let sign = if c == b'-' { -1 } else { 1 };
            if let (Some(oh), Some(om)) = (digits(d, e + 1..e + 3), {
                if d.get(e + 3) == Some(&b':') {
                    digits(d, e + 4..e + 6)
                } else {
                    digits(d, e + 3..e + 5)
                }
            }) {
                offset_s = sign * (oh * 3600 + om * 60) as i32;
                e += if d.get(e + 3) == Some(&b':') { 6 } else { 5 };
            }
        }
        _ => {}
    }
    let t = epoch(
        y as i32, mon as u8, day as u8, h as u32, mi as u32, s as u32, offset_s,
    );
    if !t.is_some_and(|t| norm_time(norm, t)) {
        let rule = if is_option_value(d, i - 4) || quoted_as_code(d, i - 4, e) {
            EXAMPLE_DATE
        } else {
            "embedded-date"
        };
        hits.push(hit(d, i - 4, e, rule));
    }
    Some(e)
}

/// A date given as a command-line option's value (`--newer-than '2018-10-27 10:00:00'`,
/// `-d 2004-02-29T16:21`), or quoted as code in prose (a message saying "the form of
/// `Nov 23 2026`"): an example in a program's help text, not the time it was built. The
/// calibration reports it as a low `embedded-date`.
pub(crate) const EXAMPLE_DATE: &str = "embedded-date-example";

/// The date at `s..e` quoted as code, between backticks: documentation (Markdown, a rule's
/// message, clap help), never what `__DATE__` or a clock writes.
fn quoted_as_code(d: &[u8], s: usize, e: usize) -> bool {
    s > 0 && d[s - 1] == b'`' && d.get(e) == Some(&b'`')
}

/// A path that is string constants laid end to end rather than a string: LLVM gives
/// literals of exactly 8 bytes their own mergeable section (`.rodata.cst8`), 8-aligned and
/// with no separator, so an 8-byte literal `/builds/` is followed by whatever 8-byte
/// literals come next (`/builds/projectswritablehomepage`, from a table of path anchors
/// and three unrelated words); and a comparison with a longer literal is compiled into
/// 16-byte vector constants (`/checkout/src/ll`, the first half of `starts_with`'s
/// `"/checkout/src/llvm-project/"`), 16-aligned between binary bytes. The calibration
/// reports it as a low `absolute-path`.
pub(crate) const GLUED_PATH: &str = "absolute-path-glued-constants";

/// Whether the path at `s..e` is made of constants: it starts on an 8-byte boundary with
/// an 8-byte directory (`/xxxxxx/`), is a whole number of 8-byte words long, and has no
/// other separator (a real path below the directory names its levels); or it is whole
/// 16-byte words, 16-aligned, with binary on both sides (not text, and not the NUL that
/// ends a C string).
fn glued_constants(d: &[u8], s: usize, e: usize) -> bool {
    let p = &d[s..e];
    let words8 = s % 8 == 0
        && p.len() % 8 == 0
        && p.len() >= 16
        && p[7] == b'/'
        && !p[1..7].contains(&b'/')
        && !p[8..].contains(&b'/');
    let text =
        |b: Option<&u8>| b.is_some_and(|&b| b == b'\t' || b == b'\n' || (0x20..0x7f).contains(&b));
    // A C string ends with its NUL; a constant is followed by more constants.
    let words16 = s % 16 == 0
        && p.len() % 16 == 0
        && d.get(e).is_some_and(|&b| b != 0)
        && !text(d.get(e))
        && !text(s.checked_sub(1).map(|k| &d[k]));
    words8 || words16
}

/// Whether the match starting at `s` is the value of an option: after `--name ` or
/// `--name=` (or `-x `), with an optional quote.
fn is_option_value(d: &[u8], s: usize) -> bool {
    let mut j = s;
    if j > 0 && matches!(d[j - 1], b'\'' | b'"') {
        j -= 1;
    }
    if j == 0 || !matches!(d[j - 1], b' ' | b'=') {
        return false;
    }
    let end = j - 1;
    let mut k = end;
    while k > 0 && end - k < 64 && (d[k - 1].is_ascii_alphanumeric() || d[k - 1] == b'-') {
        k -= 1;
    }
    match &d[k..end] {
        [b'-', b'-', c, ..] => c.is_ascii_alphabetic(),
        [b'-', c] => c.is_ascii_alphabetic(),
        _ => false,
    }
}

/// An 8-4-4-4-12 hex UUID whose first `-` is at `i`.
fn uuid_at(d: &[u8], i: usize, hits: &mut Vec<Hit>) -> Option<usize> {
    if i < 8 || i + 28 > d.len() {
        return None;
    }
    let s = i - 8;
    let e = i + 28;
    let u = &d[s..e];
    if u[8] != b'-' || u[13] != b'-' || u[18] != b'-' || u[23] != b'-' {
        return None;
    }
    let hex = |r: Range<usize>| u[r].iter().all(u8::is_ascii_hexdigit);
    if !(hex(0..8) && hex(9..13) && hex(14..18) && hex(19..23) && hex(24..36)) {
        return None;
    }
    let boundary = |b: Option<&u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'-');
    if !boundary(s.checked_sub(1).map(|k| &d[k])) || !boundary(d.get(e)) {
        return None;
    }
    let lower = u.iter().any(u8::is_ascii_lowercase);
    let upper = u.iter().any(u8::is_ascii_uppercase);
    // Mixed case is not how UUIDs are written; all zeros (nil) is not generated.
    if (lower && upper) || u.iter().all(|&b| b == b'0' || b == b'-') {
        return None;
    }
    hits.push(hit(d, s, e, "uuid-string"));
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn scan_with(data: &[u8], opts: &ScanOptions) -> Vec<(String, u64, String)> {
        let mut out = Vec::new();
        detect(data, &Location::file("f"), opts, &mut out);
        out.into_iter()
            .map(|f| (f.rule.id.to_owned(), f.location.offset.unwrap(), f.evidence))
            .collect()
    }

    fn scan(data: &[u8]) -> Vec<(String, u64, String)> {
        scan_with(data, &ScanOptions::default())
    }

    fn one(rule: &str, off: u64, ev: &str) -> Vec<(String, u64, String)> {
        vec![(rule.to_owned(), off, ev.to_owned())]
    }

    #[test]
    fn build_and_home_paths() {
        assert_eq!(
            scan(b"\0/home/alice/proj/x.c\0"),
            one("home-path", 1, "/home/alice/proj/x.c")
        );
        assert_eq!(
            scan(b"at /Users/bob/src/a.rs:12"),
            one("home-path", 3, "/Users/bob/src/a.rs")
        );
        assert_eq!(scan(b"\0/root/x\0"), one("home-path", 1, "/root/x"));
        assert_eq!(
            scan(b"\0/tmp/build-1/x.c\0"),
            one("absolute-path", 1, "/tmp/build-1/x.c")
        );
        assert_eq!(
            scan(b"\0/build/pkg-1.0/x.c\0"),
            one("absolute-path", 1, "/build/pkg-1.0/x.c")
        );
        assert_eq!(
            scan(b"\0/usr/src/linux/x.c\0"),
            one("absolute-path", 1, "/usr/src/linux/x.c")
        );
        assert_eq!(
            scan(b"\0/data/ci/proj/src/main.c\0"),
            one("absolute-path", 1, "/data/ci/proj/src/main.c")
        );
        assert_eq!(
            scan(b"see /work/proj/Makefile."),
            one("absolute-path", 4, "/work/proj/Makefile")
        );
    }

    #[test]
    fn system_and_remapped_paths_are_not_build_paths() {
        let normal: &[&[u8]] = &[
            b"\0/usr/lib/x86_64-linux-gnu/libc.so.6\0",
            b"\0/lib64/ld-linux-x86-64.so.2\0",
            b"\0/bin/sh\0/dev/null\0/proc/self/exe\0/etc/passwd\0",
            b"\0/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/core/src/fmt/mod.rs\0",
            b"\0/cargo/registry/src/index.crates.io-6f17d22bba15001f/serde-1.0.0/src/de.rs\0",
            b"\0/rust/deps/aho-corasick-1.1.4/src/dfa.rs\0",
            b"\0/rustc-dev/59807616e1fa2540724bfbac14d7976d7e4a3860/compiler/rustc_abi/src/lib.rs\0",
            b"\0/tmp/ccXXXXXX\0/tmp/\0/home/%s/.config\0",
            b"https://example.com/home/x/src/y",
            b"relative/home/x/y.c",
            b"\0/usr/include/stdio.h\0",
        ];
        for n in normal {
            assert_eq!(scan(n), vec![], "{}", String::from_utf8_lossy(n));
        }
    }

    #[test]
    fn debug_paths_exclude_system_and_toolchain_headers() {
        assert!(is_absolute_build_path(b"/checkout/obj/build/lib/asan"));
        assert!(is_absolute_build_path(b"/srv/ci/x.c"));
        assert!(is_absolute_build_path(b"C:\\b\\x.pdb"));
        assert!(!is_absolute_build_path(b"/usr/include"));
        assert!(!is_absolute_build_path(b"/rustroot/lib/clang/22/include"));
        assert!(!is_absolute_build_path(
            b"/opt/gcc/lib/gcc/x86_64-linux-gnu/12/include"
        ));
        assert!(!is_absolute_build_path(b"/rustc/abc/library/core"));
        assert!(!is_absolute_build_path(b"main.c"));
        assert!(!is_absolute_build_path(b"C:\\Windows\\x.h"));
    }

    #[test]
    fn paths_inside_options_and_assignments() {
        assert_eq!(
            scan(b"\0-fdebug-prefix-map=/tmp/b/x=.\0"),
            one("absolute-path", 20, "/tmp/b/x")
        );
        assert_eq!(
            scan(b"\0-I/tmp/b/include\0"),
            one("absolute-path", 3, "/tmp/b/include")
        );
        assert_eq!(
            scan(b"\0CFLAGS=-L/home/u/lib\0"),
            one("home-path", 10, "/home/u/lib")
        );
        // Relative paths with a build-like component are still not absolute paths.
        assert_eq!(scan(b"\0lib/tmp/x.c\0"), vec![]);
        assert_eq!(scan(b"\0x-I/tmp\0"), vec![]);
    }

    #[test]
    fn build_roots_from_options() {
        let opts = ScanOptions {
            build_roots: vec!["/srv/ci/job7".into()],
            ..ScanOptions::default()
        };
        assert_eq!(
            scan_with(b"\0/srv/ci/job7/lib.c\0", &opts),
            one("absolute-path", 1, "/srv/ci/job7/lib.c")
        );
        assert_eq!(scan(b"\0/srv/ci/job7/lib.c\0"), vec![]);
    }

    #[test]
    fn windows_paths() {
        assert_eq!(
            scan(b"\0C:\\Users\\bob\\x.pdb\0"),
            one("home-path", 1, "C:\\Users\\bob\\x.pdb")
        );
        assert_eq!(
            scan(b"\0D:\\a\\_work\\x.c\0"),
            one("absolute-path", 1, "D:\\a\\_work\\x.c")
        );
        assert_eq!(
            scan(b"\0\\\\?\\D:\\b\\x.c\0"),
            one("absolute-path", 1, "\\\\?\\D:\\b\\x.c")
        );
        assert_eq!(scan(b"\0C:\\Windows\\System32\\kernel32.dll\0"), vec![]);
    }

    fn severities(data: &[u8]) -> Vec<(String, Severity, String)> {
        let mut out = Vec::new();
        detect(
            data,
            &Location::file("f"),
            &ScanOptions::default(),
            &mut out,
        );
        out.into_iter()
            .map(|f| (f.rule.id.to_owned(), f.severity(), f.evidence))
            .collect()
    }

    #[test]
    fn eight_byte_constants_laid_end_to_end_are_not_a_build_path() {
        // As in cargo-det-build's .rodata: the 8-byte literals `/builds/`, `projects`,
        // `writable`, `homepage` in LLVM's 8-byte constant section, 8-aligned.
        let mut d = vec![0x80, 0x16, 0, 0, 0x9c, 0x16, 0, 0];
        d.extend_from_slice(b"/builds/projectswritablehomepage");
        d.extend_from_slice(&[0xc3, 0x20, 0, 0]);
        let glued = "/builds/projectswritablehomepage".to_string();
        assert_eq!(
            severities(&d),
            vec![("absolute-path".into(), Severity::Low, glued.clone())]
        );
        // The same bytes one byte off the 8-byte grid are a path as any other.
        let mut off = vec![0u8];
        off.extend_from_slice(&d);
        assert_eq!(
            severities(&off),
            vec![("absolute-path".into(), Severity::High, glued)]
        );
        // Half of a longer literal as a 16-byte vector constant, between binary bytes.
        let mut v = vec![0u8; 16];
        v.extend_from_slice(b"/checkout/src/ll");
        v.extend_from_slice(&[0x98, 0xaa, 0x07, 0xd8]);
        assert_eq!(
            severities(&v),
            vec![(
                "absolute-path".into(),
                Severity::Low,
                "/checkout/src/ll".into()
            )]
        );
        // A 16-byte path inside text (a NUL-terminated C string after another) is a path.
        let mut c = b"0123456789abcde\0".to_vec();
        c.extend_from_slice(b"/build/pkg/x.c.o\0");
        assert_eq!(
            severities(&c),
            vec![(
                "absolute-path".into(),
                Severity::High,
                "/build/pkg/x.c.o".into()
            )]
        );
        // An aligned path of whole words that names its levels is a build path.
        let mut real = vec![0u8; 8];
        real.extend_from_slice(b"/builds/grp/proj/src/main.rs\0\0\0\0");
        assert_eq!(
            severities(&real),
            vec![(
                "absolute-path".into(),
                Severity::High,
                "/builds/grp/proj/src/main.rs".into()
            )]
        );
    }

    #[test]
    fn a_date_quoted_as_code_in_prose_is_an_example() {
        // det's own rule message, as it sits in det's binaries.
        let v =
            severities(b"in the form of C's __DATE__ / __TIME__ (`Nov 23 2026`, `12:34:56`) is");
        assert_eq!(
            v,
            vec![("embedded-date".into(), Severity::Low, "Nov 23 2026".into())]
        );
        let v = severities(b"\0e.g. `2026-11-23T01:02:03Z`\0");
        assert_eq!(
            v,
            vec![(
                "embedded-date".into(),
                Severity::Low,
                "2026-11-23T01:02:03Z".into()
            )]
        );
        // One backtick is not a quotation: `__DATE__` glued after a quote stays high.
        assert_eq!(
            severities(b"\0built `Nov 23 2026\0"),
            vec![(
                "date-time-macro".into(),
                Severity::High,
                "Nov 23 2026".into()
            )]
        );
    }

    #[test]
    fn date_macro_forms() {
        assert_eq!(
            scan(b"\0Nov 23 2026\0"),
            one("date-time-macro", 1, "Nov 23 2026")
        );
        assert_eq!(
            scan(b"\0Nov  3 2026\0"),
            one("date-time-macro", 1, "Nov  3 2026")
        );
        let v = scan(b"\0Nov 23 2026\x0012:34:56\0");
        assert_eq!(
            v,
            vec![
                ("date-time-macro".into(), 1, "Nov 23 2026".into()),
                ("date-time-macro".into(), 13, "12:34:56".into())
            ]
        );
        assert_eq!(
            scan(b"x\x0012:34:56\0y"),
            one("date-time-macro", 2, "12:34:56")
        );
        assert_eq!(scan(b"at 12:34:56 in a log"), vec![]);
        assert_eq!(
            scan(b"\0Sun Nov 23 01:02:03 2026\0"),
            one("date-time-macro", 1, "Sun Nov 23 01:02:03 2026")
        );
        assert_eq!(scan(b"Sep 2026 and Nov 99 2026 and XNov 23 2026"), vec![]);
    }

    #[test]
    fn iso_and_rfc2822_dates() {
        assert_eq!(
            scan(b"built 2026-11-23T01:02:03Z."),
            one("embedded-date", 6, "2026-11-23T01:02:03Z")
        );
        assert_eq!(
            scan(b"2026-11-23T01:02:03+01:00"),
            one("embedded-date", 0, "2026-11-23T01:02:03+01:00")
        );
        assert_eq!(
            scan(b"[2026-11-23 01:02:03.123]"),
            one("embedded-date", 1, "2026-11-23 01:02:03.123")
        );
        assert_eq!(scan(b"rustc 1.95.0 (2026-01-02)"), vec![]);
        assert_eq!(
            scan(b"Date: Mon, 23 Nov 2026 01:02:03 +0000\n"),
            one("embedded-date", 6, "Mon, 23 Nov 2026 01:02:03 +0000")
        );
    }

    #[test]
    fn an_options_example_date_is_low() {
        let sev = severities;
        let low = |ev: &str| vec![("embedded-date".to_owned(), Severity::Low, ev.to_owned())];
        // fd's help text.
        assert_eq!(
            sev(b"Examples: {n}    --change-newer-than '2018-10-27 10:00:00' {n}"),
            low("2018-10-27 10:00:00")
        );
        assert_eq!(sev(b"--newer=2018-10-27T10:00"), low("2018-10-27T10:00"));
        assert_eq!(
            sev(b"date -d \"2004-02-29 16:21:42\""),
            low("2004-02-29 16:21:42")
        );
        // Not an option's value: the build time after a word, a lone dash or `--`.
        for data in [
            &b"built 2026-11-23T01:02:03Z"[..],
            b"x - 2026-11-23 01:02:03",
            b"x -- 2026-11-23 01:02:03",
        ] {
            let got = sev(data);
            assert_eq!(got.len(), 1, "{got:?}");
            assert!(got[0].1 >= Severity::Medium, "{got:?}");
        }
    }

    #[test]
    fn source_date_epoch_is_not_a_finding() {
        // 2026-11-23T01:02:03Z
        let opts = ScanOptions {
            source_date_epoch: Some(1_795_395_723),
            ..ScanOptions::default()
        };
        let s: &[u8] = b"\0Nov 23 2026\x0001:02:03\0 2026-11-23T01:02:03Z Mon, 23 Nov 2026 01:02:03 +0000 2026-11-23T02:02:03+01:00";
        assert_eq!(scan_with(s, &opts), vec![]);
        assert_eq!(scan(s).len(), 5);
        assert_eq!(scan(b"1970-01-01T00:00:00Z \0Jan  1 1970\0"), vec![]);
    }

    #[test]
    fn uuids() {
        assert_eq!(
            scan(b"id=123e4567-e89b-42d3-a456-426614174000;"),
            one("uuid-string", 3, "123e4567-e89b-42d3-a456-426614174000")
        );
        assert_eq!(scan(b"00000000-0000-0000-0000-000000000000"), vec![]);
        assert_eq!(scan(b"x123e4567-e89b-42d3-a456-426614174000"), vec![]);
        assert_eq!(scan(b"123e4567-E89b-42d3-a456-426614174000"), vec![]);
    }

    #[test]
    fn bytes_without_slash_space_dash_or_colon_have_no_match() {
        // The prefilter: each kind of match holds one of the four bytes.
        assert_eq!(scan(b"KERNEL32.dll\0CreateFileW\0"), vec![]);
        for (data, rule) in [
            (&b"\0/home/alice/proj/x.c\0"[..], "home-path"),
            (b"built Nov 23 2026 here", "date-time-macro"),
            (b"\x002026-11-23T01:02:03Z\x00", "embedded-date"),
            (b"123e4567-e89b-42d3-a456-426614174000", "uuid-string"),
        ] {
            let got = scan(data);
            assert!(got.iter().any(|h| h.0 == rule), "{rule}: {got:?}");
        }
    }

    #[test]
    fn chunked_scan_equals_whole_scan() {
        // Matches straddling chunk boundaries are found once, at the right offset.
        let mut big = vec![0u8; 3 * CHUNK + 100];
        let items: &[&[u8]] = &[b"/home/alice/x.c", b"Nov 23 2026", b"2026-11-23T01:02:03Z"];
        let mut expect = Vec::new();
        for (k, at) in [CHUNK - 3, 2 * CHUNK - 9, 3 * CHUNK - 1]
            .into_iter()
            .enumerate()
        {
            let it = items[k];
            big[at..at + it.len()].copy_from_slice(it);
            expect.push(at as u64);
        }
        let got: Vec<u64> = scan(&big).into_iter().map(|h| h.1).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn findings_are_capped_per_rule() {
        let line = b"2026-11-23T01:02:03Z\n";
        let data: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * (MAX_PER_RULE + 5))
            .collect();
        let mut out = Vec::new();
        detect(
            &data,
            &Location::file("f"),
            &ScanOptions::default(),
            &mut out,
        );
        assert_eq!(out.len(), MAX_PER_RULE + 1);
        assert_eq!(
            out[MAX_PER_RULE - 1].location.offset,
            Some(((MAX_PER_RULE - 1) * line.len()) as u64)
        );
        let last = out.last().unwrap();
        assert_eq!(last.rule.id, "findings-capped");
        assert_eq!(
            last.evidence,
            "5 more `embedded-date` matches not listed (at most 1000 per file or section)"
        );
    }

    #[test]
    fn section_offsets_are_based() {
        let mut out = Vec::new();
        detect_in(
            b"\0/tmp/a/b.c",
            &Location::file("f"),
            Some(".rodata"),
            100,
            &ScanOptions::default(),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].location.section.as_deref(), Some(".rodata"));
        assert_eq!(out[0].location.offset, Some(101));
    }
}
