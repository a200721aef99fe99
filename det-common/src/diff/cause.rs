//! Naming the cause of a difference with det-scan's detectors, and grouping root
//! differences into root causes.
//!
//! The differing bytes of both sides, widened to the string or line around them, go through
//! the pattern detectors (build paths, dates and times, UUIDs, host names); a metadata key
//! goes through the member detectors of its container format (an ar member's mtime, a tar
//! member's owner). The most severe finding names the cause, with its rule's fix.

use super::{Cause, DiffKind, Difference, RootCause};
use crate::artifact::{Format, MetaKey};
use crate::detect::{ScanOptions, patterns};
use crate::finding::{Finding, Location};
use crate::rules;
use std::collections::BTreeMap;
use std::ops::Range;

/// How far the window around a range reaches back and forth (a path starts before the
/// byte that differs).
const REACH: usize = 256;

pub(crate) fn of_rule(rule: &str, evidence: String) -> Cause {
    let r = rules::get(rule);
    Cause {
        rule: r.id,
        message: r.message,
        fix: r.fix.to_owned(),
        evidence,
    }
}

fn of_finding(f: &Finding) -> Cause {
    Cause {
        rule: f.rule.id,
        message: f.rule.message,
        fix: f.fix_text().to_owned(),
        evidence: f.evidence.clone(),
    }
}

/// The rule id of [`toolchain`].
pub(crate) const TOOLCHAIN: &str = "toolchain-or-flags";

/// The builds used different compilers or compiler options, as the object records them
/// (`DW_AT_producer`, a `.comment` string).
pub(crate) fn toolchain(a: &str, b: &str) -> Cause {
    Cause {
        rule: TOOLCHAIN,
        message: "the builds used different compilers or compiler options (the object records them: DWARF's DW_AT_producer, the .comment section)",
        fix: "build both with the same pinned toolchain and the same flags (rust-toolchain.toml and det.toml pins, checked by `cargo det-build doctor`); flags that follow the machine (-march=native, a CFLAGS from the environment) are named by `cargo det-scan --build-log`".into(),
        evidence: format!("`{a}` vs `{b}`"),
    }
}

/// Members in a different order in a container det has no order rule for (ar).
pub(crate) fn file_order(a: &str, b: &str) -> Cause {
    Cause {
        rule: "member-order",
        message: "the container lists its members in the order the file system returned them",
        fix: "sort the inputs before archiving them (e.g. `ar rcsD lib.a $(ls *.o | sort)`, or build with cargo det-build, which sorts directory listings)".into(),
        evidence: format!("`{a}` vs `{b}`"),
    }
}

/// The window of `d` around `r`: from the start of the string (or line) holding `r.start`,
/// at most [`REACH`] bytes back, to the end of the one holding `r.end`.
fn window(d: &[u8], r: &Range<usize>) -> Range<usize> {
    let lo_limit = r.start.saturating_sub(REACH);
    let mut lo = r.start.min(d.len());
    while lo > lo_limit && !matches!(d[lo - 1], 0 | b'\n') {
        lo -= 1;
    }
    let hi_limit = (r.end + REACH).min(d.len());
    let mut hi = r.end.min(d.len());
    while hi < hi_limit && !matches!(d[hi], 0 | b'\n') {
        hi += 1;
    }
    lo..hi
}

/// The findings of the pattern detectors in the window around `r` that touch `r`.
fn findings_at(d: &[u8], r: &Range<usize>, opts: &ScanOptions) -> Vec<Finding> {
    let w = window(d, r);
    let mut out = Vec::new();
    patterns::detect(&d[w.clone()], &Location::file(""), opts, &mut out);
    out.retain(|f| {
        let Some(off) = f.location.offset else {
            return false;
        };
        let start = w.start + off as usize;
        let end = start + f.evidence.len().max(1);
        f.rule.id != "parse-error" && start < r.end.max(r.start + 1) && end > r.start
    });
    out
}

/// The cause of a difference between `a[ra]` and `b[rb]`: the most severe finding on
/// either side, or for same-sized small ranges holding plausible Unix times, a time stamp.
pub(crate) fn classify(
    a: &[u8],
    ra: Range<usize>,
    b: &[u8],
    rb: Range<usize>,
    opts: &ScanOptions,
) -> Option<Cause> {
    let fa = findings_at(a, &ra, opts);
    let fb = findings_at(b, &rb, opts);
    let best = |fs: &[Finding], rule: Option<&str>| -> Option<Finding> {
        fs.iter()
            .filter(|f| rule.is_none_or(|r| f.rule.id == r))
            .max_by(|x, y| {
                x.severity()
                    .cmp(&y.severity())
                    .then_with(|| y.rule.id.cmp(x.rule.id))
            })
            .cloned()
    };
    let all: Vec<Finding> = fa.iter().chain(&fb).cloned().collect();
    if let Some(f) = best(&all, None) {
        // The same rule on each side: the fix names what to change in both builds.
        let (x, y) = (best(&fa, Some(f.rule.id)), best(&fb, Some(f.rule.id)));
        let mut c = of_finding(&f);
        c.fix = pair_fix(x.as_ref(), y.as_ref(), opts);
        return Some(c);
    }
    decimal_time(a, &ra, b, &rb).or_else(|| binary_time(&a[ra], &b[rb]))
}

/// The run of ASCII digits around `r` (empty when `r` is not all digits).
fn digits_around<'d>(d: &'d [u8], r: &Range<usize>) -> &'d [u8] {
    if r.is_empty() || !d[r.clone()].iter().all(u8::is_ascii_digit) {
        return &[];
    }
    let (mut lo, mut hi) = (r.start, r.end);
    while lo > 0 && d[lo - 1].is_ascii_digit() && r.end - lo < 24 {
        lo -= 1;
    }
    while hi < d.len() && d[hi].is_ascii_digit() && hi - lo < 24 {
        hi += 1;
    }
    &d[lo..hi]
}

/// Two decimal numbers, the differing digits inside them, that are both Unix times
/// between 2000 and 2100 in seconds, milliseconds, microseconds or nanoseconds (a build
/// script's `SystemTime::now()` printed into the code, `date +%s`).
fn decimal_time(a: &[u8], ra: &Range<usize>, b: &[u8], rb: &Range<usize>) -> Option<Cause> {
    const LO: u128 = 946_684_800;
    const HI: u128 = 4_102_444_800;
    let (da, db) = (digits_around(a, ra), digits_around(b, rb));
    if da.len() != db.len() {
        return None;
    }
    let scale = match da.len() {
        10 => 1,
        13 => 1_000,
        16 => 1_000_000,
        19 => 1_000_000_000,
        _ => return None,
    };
    let parse = |d: &[u8]| std::str::from_utf8(d).ok()?.parse::<u128>().ok();
    let (ta, tb) = (parse(da)? / scale, parse(db)? / scale);
    ((LO..HI).contains(&ta) && (LO..HI).contains(&tb)).then(|| {
        of_rule(
            "embedded-date",
            format!(
                "decimal time {} ({}) vs {} ({})",
                String::from_utf8_lossy(da),
                crate::detect::utc(ta as i64),
                String::from_utf8_lossy(db),
                crate::detect::utc(tb as i64)
            ),
        )
    })
}

/// One fix for a difference whose evidence was found on side A (`x`), B (`y`) or both: a
/// fix holds concrete values (the build directory to remap), which differ between the two
/// builds, and a fix copied from one side would repair only that side. When the two fixes
/// are one text with a different build directory (or cargo home), that directory is written
/// as what each build has in common (`$PWD`, run from the build directory; `$HOME/.cargo`)
/// and both values are named; otherwise both fixes are given, each with its side.
pub(crate) fn pair_fix(x: Option<&Finding>, y: Option<&Finding>, opts: &ScanOptions) -> String {
    let (x, y) = match (x, y) {
        (Some(x), Some(y)) => (x, y),
        (Some(x), None) => return format!("in A: {}", x.fix_text()),
        (None, Some(y)) => return format!("in B: {}", y.fix_text()),
        (None, None) => return String::new(),
    };
    let (fx, fy) = (x.fix_text(), y.fix_text());
    if fx == fy && x.evidence == y.evidence {
        return fx.to_owned();
    }
    let (dx, home_x) = crate::detect::fixes::build_dir(&x.evidence, opts);
    let (dy, home_y) = crate::detect::fixes::build_dir(&y.evidence, opts);
    // The directories to remap must leave the same path on both sides: when the guess from
    // one path alone does not (`/tmp/ci` for `/tmp/ci/a/proj` and `/tmp/ci/b-long/proj`),
    // the two paths say where they part: each up to its last differing component.
    let (ex, ey) = (x.evidence.as_str(), y.evidence.as_str());
    let rest = |e: &'_ str, d: &str| e.strip_prefix(d).map(str::to_owned);
    let (mut rx, mut ry) = (dx.clone(), dy.clone());
    if rest(ex, &dx).is_none() || rest(ex, &dx) != rest(ey, &dy) {
        if let Some((px, py)) = parting(ex, ey) {
            rx = px;
            ry = py;
        }
    }
    let (fx, fy) = (fx.replace(&dx, &rx), fy.replace(&dy, &ry));
    if fx == fy {
        return fx;
    }
    let (dx, dy) = (rx, ry);
    if dx != dy && home_x == home_y && fx.contains(&dx) && fy.contains(&dy) {
        let (tx, ty) = (fx.replace(&dx, "\0"), fy.replace(&dy, "\0"));
        if tx == ty {
            let (var, what) = if !home_x {
                (
                    "$PWD",
                    "build directory (run the build from it, or write it out)",
                )
            } else if dx.ends_with("/.cargo") && dy.ends_with("/.cargo") {
                ("$HOME/.cargo", "cargo home")
            } else {
                ("<cargo home>", "cargo home")
            };
            let tx = tx.replace("the build directory \0:", "the build directory:");
            return format!(
                "{} — {var} standing for each build's {what}: {dx} in A, {dy} in B",
                tx.replace('\0', var)
            );
        }
    }
    format!("in A: {fx}; in B: {fy}")
}

/// Two paths that differ in their leading part: each path up to its last component that
/// differs, when the rest is the same (`/ci/a/proj`, `/ci/b/proj` → `/ci/a`, `/ci/b`).
fn parting(a: &str, b: &str) -> Option<(String, String)> {
    let (ca, cb): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    let same_tail = ca
        .iter()
        .rev()
        .zip(cb.iter().rev())
        .take_while(|(p, q)| p == q)
        .count();
    let (na, nb) = (ca.len() - same_tail, cb.len() - same_tail);
    // At least one component besides the root, and something differing.
    (na > 1 && nb > 1 && a != b).then(|| (ca[..na].join("/"), cb[..nb].join("/")))
}

/// Two 4- or 8-byte little-endian values that are both times between 2000 and 2100.
fn binary_time(a: &[u8], b: &[u8]) -> Option<Cause> {
    if a.len() != b.len() || a.is_empty() || a.len() > 8 {
        return None;
    }
    const LO: u64 = 946_684_800;
    const HI: u64 = 4_102_444_800;
    let val = |d: &[u8]| {
        let mut x = [0u8; 8];
        x[..d.len()].copy_from_slice(d);
        u64::from_le_bytes(x)
    };
    // The differing bytes are the low bytes of a wider field; judge the whole 32-bit word
    // around them only when they alone are a time.
    let (ta, tb) = (val(a), val(b));
    ((LO..HI).contains(&ta) && (LO..HI).contains(&tb)).then(|| {
        of_rule(
            "embedded-date",
            format!(
                "binary time {ta} ({}) vs {tb} ({})",
                crate::detect::utc(ta as i64),
                crate::detect::utc(tb as i64)
            ),
        )
    })
}

/// The cause of a differing metadata key of a member of a `parent` container: the member
/// detectors' finding for it on either side, or the rule that judges that key.
pub(crate) fn for_meta(
    k: &MetaKey,
    parent: Format,
    scan_a: &[Finding],
    scan_b: &[Finding],
) -> Option<Cause> {
    let rule = match (parent, k) {
        (Format::Ar(_), MetaKey::Mtime) => "ar-member-mtime",
        (Format::Ar(_), MetaKey::Uid | MetaKey::Gid) => "ar-member-owner",
        (Format::Ar(_), MetaKey::Mode) => "ar-member-mode",
        (Format::Zip, MetaKey::Mtime) => "zip-entry-mtime",
        (Format::Zip, MetaKey::Mode) => "zip-external-attributes",
        (Format::Zip, MetaKey::Other(s))
            if s.starts_with("ut-") || s.starts_with("ntfs-") || s.starts_with("unix-") =>
        {
            "zip-extended-timestamp"
        }
        (Format::Zip, MetaKey::Uid | MetaKey::Gid) => {
            return Some(Cause {
                rule: "zip-unix-owner",
                message: "a zip entry's Info-ZIP Unix extra field keeps the builder's uid and gid",
                fix: "create the zip without extra fields (zip -X), or normalize it (strip-nondeterminism, cargo det-build normalize)".into(),
                evidence: format!("{k} differs"),
            });
        }
        (Format::Zip, MetaKey::Other(s)) if s == "external-attributes" => "zip-external-attributes",
        (Format::Tar, MetaKey::Mtime) => "tar-member-mtime",
        (Format::Tar, MetaKey::Uid | MetaKey::Gid | MetaKey::Uname | MetaKey::Gname) => {
            "tar-member-owner"
        }
        (Format::Tar, MetaKey::Other(s)) if s.starts_with("pax-") => "tar-pax-time",
        (Format::Gzip, MetaKey::Mtime) => "gzip-mtime",
        (Format::Gzip, MetaKey::Other(s)) if s == "fname" => "gzip-filename",
        _ => return None,
    };
    let f = scan_a.iter().chain(scan_b).find(|f| f.rule.id == rule);
    Some(match f {
        Some(f) => of_finding(f),
        None => of_rule(rule, format!("{k} differs")),
    })
}

/// A short name for what a rule is about, for the summary line.
fn what(rule: Option<&str>, kind: DiffKind) -> String {
    let Some(rule) = rule else {
        return match kind {
            DiffKind::Added | DiffKind::Removed => "files or members added or removed".into(),
            DiffKind::Format => "different formats".into(),
            DiffKind::Error => "could not compare".into(),
            _ => "content change (no known cause)".into(),
        };
    };
    match rule {
        "absolute-path" | "debug-comp-dir" | "debug-path" | "macho-oso-path" | "pe-pdb-path" => {
            "build path".into()
        }
        "home-path" => "a home directory (user name)".into(),
        "embedded-date" | "date-time-macro" | "pyc-timestamp" | "macho-oso-mtime" => {
            "a timestamp".into()
        }
        "pe-timestamp" | "pe-directory-timestamp" | "gzip-mtime" => "a header time field".into(),
        r if r.ends_with("-mtime") || r.ends_with("timestamp") || r == "tar-pax-time" => {
            "member times".into()
        }
        r if r.ends_with("-owner") => "member owner (uid/gid, user)".into(),
        r if r.ends_with("-mode") || r == "zip-external-attributes" => "member mode (umask)".into(),
        r if r.ends_with("-order") => "reordering".into(),
        "uuid-string" | "pe-pdb-guid" | "macho-uuid" | "elf-build-id-random" => "a UUID".into(),
        "gzip-filename" => "a file name in a gzip header".into(),
        TOOLCHAIN => "compiler or flags".into(),
        other => other.to_owned(),
    }
}

/// Group the root differences (no `derived_from`) by what caused them; set each
/// difference's `root_cause`. Root causes are ordered by their first difference.
pub(crate) fn group(diffs: &mut [Difference]) -> Vec<RootCause> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    let mut fixes: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    let mut out: Vec<RootCause> = Vec::new();
    for d in diffs.iter_mut() {
        if d.derived_from.is_some() {
            continue;
        }
        let rule = d.cause.as_ref().map(|c| c.rule);
        let name = what(rule, d.kind);
        let key = format!("{name}\0{}", rule.unwrap_or(""));
        fixes
            .entry(key.clone())
            .or_default()
            .push(d.cause.as_ref().map(|c| c.fix.clone()));
        let idx = *by.entry(key).or_insert_with(|| {
            out.push(RootCause {
                what: name.clone(),
                rule,
                message: d.cause.as_ref().map(|c| c.message),
                fix: d.cause.as_ref().map(|c| c.fix.clone()),
                places: Vec::new(),
                differences: Vec::new(),
                derived: 0,
            });
            out.len() - 1
        });
        let place = place_of(d);
        if !out[idx].places.contains(&place) {
            out[idx].places.push(place);
        }
        out[idx].differences.push(d.id);
        d.root_cause = Some(idx);
    }
    let roots_of: Vec<Option<usize>> = diffs.iter().map(|d| d.root_cause).collect();
    for d in diffs.iter_mut() {
        if let Some(r) = d.derived_from {
            let rc = roots_of[r];
            d.root_cause = rc;
            if let Some(rc) = rc {
                out[rc].derived += 1;
            }
        }
    }
    // A root cause's fix: the one most of its differences give (the first of equals).
    for (key, fs) in fixes {
        let mut count: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (i, f) in fs.iter().enumerate() {
            if let Some(f) = f {
                count.entry(f).or_insert((0, i)).0 += 1;
            }
        }
        let best = count
            .iter()
            .max_by(|p, q| p.1.0.cmp(&q.1.0).then(q.1.1.cmp(&p.1.1)))
            .map(|(f, _)| (*f).to_owned());
        if let (Some(&idx), Some(best)) = (by.get(&key), best) {
            out[idx].fix = Some(best);
        }
    }
    for rc in &mut out {
        rc.places.sort();
    }
    out
}

/// Where a root difference is, in a word: its section; for member metadata, the member;
/// for an order, the container; else the field or the member.
fn place_of(d: &Difference) -> String {
    let container = || {
        d.container.last().cloned().unwrap_or_else(|| {
            if d.path.is_empty() {
                "file".into()
            } else {
                d.path.clone()
            }
        })
    };
    match (&d.section, &d.field) {
        (Some(s), _) if s == "member order" => return container(),
        (Some(s), _) => return s.clone(),
        (None, Some(_)) if !d.container.is_empty() => return container(),
        (None, Some(f)) => return f.clone(),
        _ => {}
    }
    d.container.last().cloned().unwrap_or_else(|| {
        if d.path.is_empty() {
            "file".into()
        } else {
            d.path.clone()
        }
    })
}

/// "2 root causes (build path in .debug_str and .rodata; a timestamp in .rodata), 41
/// derived differences".
pub(crate) fn headline(roots: &[RootCause], derived: usize) -> String {
    if roots.is_empty() {
        return "identical".into();
    }
    let parts: Vec<String> = roots
        .iter()
        .map(|r| {
            let mut places: Vec<&str> = r.places.iter().map(String::as_str).take(4).collect();
            let more = r.places.len().saturating_sub(4);
            let list = match places.len() {
                1 => places[0].to_owned(),
                _ => {
                    let last = places.pop().unwrap_or_default();
                    if more > 0 {
                        format!("{}, {last} and {more} more", places.join(", "))
                    } else {
                        format!("{} and {last}", places.join(", "))
                    }
                }
            };
            format!("{} in {list}", r.what)
        })
        .collect();
    format!(
        "{} root cause{} ({}), {} derived difference{}",
        roots.len(),
        if roots.len() == 1 { "" } else { "s" },
        parts.join("; "),
        derived,
        if derived == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_unix_times_in_any_unit_are_a_timestamp() {
        // A build script's SystemTime::now() in nanoseconds; eight digits differ.
        let a = b"built at 1700000000000000000\n";
        let b = b"built at 1731634243000000000\n";
        let c = decimal_time(a, &(11..19), b, &(11..19)).expect("a time");
        assert_eq!(c.rule, "embedded-date");
        assert!(c.evidence.contains("2023-11-14"), "{}", c.evidence);
        // Seconds, and a number that is no time (a version, a count).
        assert!(decimal_time(b"t=1700000000", &(5..7), b"t=1731634243", &(5..7)).is_some());
        assert!(decimal_time(b"n=123456", &(3..5), b"n=129956", &(3..5)).is_none());
        // Text around that is not all digits: not a decimal time.
        assert!(decimal_time(b"abc", &(0..2), b"abd", &(0..2)).is_none());
    }
    #[test]
    fn two_paths_part_where_they_differ() {
        assert_eq!(
            parting("/ci/w/a/proj", "/ci/w/a-longer-b/proj"),
            Some(("/ci/w/a".into(), "/ci/w/a-longer-b".into()))
        );
        assert_eq!(
            parting("/ci/a/proj/src/x.c", "/home/u/b/proj/src/x.c"),
            Some(("/ci/a".into(), "/home/u/b".into()))
        );
        assert_eq!(parting("/a/x", "/a/x"), None);
        assert_eq!(parting("x", "y"), None);
    }

    #[test]
    fn a_fix_for_two_build_directories_names_both() {
        let opts = ScanOptions::default();
        let find = |p: &str| {
            let mut out = Vec::new();
            crate::detect::patterns::detect(
                format!("{p}\0").as_bytes(),
                &Location::file(""),
                &opts,
                &mut out,
            );
            out.into_iter()
                .find(|f| f.rule.id == "absolute-path")
                .unwrap_or_else(|| panic!("no finding for {p}"))
        };
        // The comp_dir of two checkouts: the guess from one path alone (`/tmp/ci`) would
        // not make them equal; where the two paths part does.
        let (a, b) = (
            find("/tmp/ci/job-1/proj"),
            find("/tmp/ci/job-1-longer/proj"),
        );
        let fix = pair_fix(Some(&a), Some(&b), &opts);
        assert!(fix.contains("-ffile-prefix-map=$PWD=."), "{fix}");
        assert!(
            fix.contains("/tmp/ci/job-1 in A, /tmp/ci/job-1-longer in B"),
            "{fix}"
        );
        // A source file in a checkout: the checkout (the directory holding `src`).
        let (c, d) = (
            find("/tmp/ci/job-1/proj/src/main.c"),
            find("/tmp/ci/job-1-longer/proj/src/main.c"),
        );
        let fix = pair_fix(Some(&c), Some(&d), &opts);
        assert!(
            fix.contains("/tmp/ci/job-1/proj in A, /tmp/ci/job-1-longer/proj in B"),
            "{fix}"
        );
        assert!(pair_fix(Some(&a), None, &opts).starts_with("in A: "));
        assert_eq!(pair_fix(Some(&a), Some(&a), &opts), a.fix_text());
    }
}
