//! Archive and container metadata detectors: ar, zip/wheel/jar, tar, gzip and pyc headers.
//!
//! Two entry points, called by [`super::scan_node`]:
//! - [`detect`] judges a container (or pyc) node's own header: gzip MTIME/FNAME, pyc
//!   invalidation mode, zip entry order and wheel RECORD order, tar member order. It reads
//!   headers only (the zip central directory, tar headers), never member content.
//! - [`detect_member`] judges one member's metadata (`mtime`, `uid`, `mode`, ...) as its
//!   container format recorded it.
//!
//! Reports stay readable on big archives: a [`MemberFold`] folds the per-member findings
//! of one container into one finding per rule as they are found, located at the first
//! offending member, its evidence saying how many other members share the problem and naming a few,
//! and whether they all share one value (either a SOURCE_DATE_EPOCH det was not given —
//! pass `--source-date-epoch` — or a tool stamping every entry with the build time).
//! A 5000-entry jar with real mtimes gives one `zip-entry-mtime` line, not 5000. Folding is
//! for reading only: with [`ScanOptions::unfold_members`] every member keeps its own
//! finding, and det-verify's diff calls [`detect_member`] (through
//! `detect::detect_member_meta`) on the one member whose metadata differs.
//!
//! What is normalized (not a finding): a time of 0, 1980-01-01 (the zip epoch) or
//! SOURCE_DATE_EPOCH (for DOS times also rounded down to 2 s, their resolution, and the
//! fixed dates Gradle and Bazel write); uid/gid 0 and user/group `root` or empty; ar modes
//! 644 and 755; zip modes without group/other write permission (umask 022).

use super::ScanOptions;
use crate::artifact::{ArKind, Format, MetaKey, Node, compress, pyc, tar, zip};
use crate::finding::{Finding, Location};
use crate::rules;
use crate::sorted::first_unsorted_pair;

/// How many other member names an aggregated finding lists.
const EXAMPLES: usize = 3;

/// `2026-11-23T01:02:04Z`: a Unix time for evidence.
pub(crate) fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn int(node: &Node, key: &'static str) -> Option<i64> {
    node.meta_int(&MetaKey::named(key))
}

fn text<'n>(node: &'n Node, key: &'static str) -> Option<&'n str> {
    node.meta_text(&MetaKey::named(key))
}

/// 1980-02-01T00:00:00Z (Gradle's reproducible zip time) and 2010-01-01T00:00:00Z (Bazel's).
const FIXED_ZIP_TIMES: [i64; 2] = [318_211_200, 1_262_304_000];

/// A DOS time is normalized when it is one of the usual fixed dates or SOURCE_DATE_EPOCH,
/// which writers round down to the DOS resolution of 2 s.
fn is_normalized_dos_time(opts: &ScanOptions, t: i64) -> bool {
    opts.is_normalized_time(t)
        || FIXED_ZIP_TIMES.contains(&t)
        || opts
            .source_date_epoch
            .is_some_and(|sde| t == sde - sde.rem_euclid(2))
}

fn push(out: &mut Vec<Finding>, rule: &str, loc: Location, evidence: String) {
    out.push(Finding::new(rules::get(rule), loc, evidence));
}

/// Where the findings about members' metadata go.
pub(crate) enum MemberOut<'a> {
    /// One finding per member: det-verify's diff classifies each member's difference on
    /// its own (see [`ScanOptions::unfold_members`]).
    Each(&'a mut Vec<Finding>),
    /// One finding per rule and container (det-scan's reading): see [`MemberFold`].
    Fold(&'a mut MemberFold),
}

/// The member findings of one container, folded as they are found: the first member with
/// a problem gives the finding (its location and evidence); each later one only adds to a
/// count, to a few example names, and to whether all share the first one's value. A
/// Windows import library's 20 000 members so cost a comparison each, not a formatted
/// finding (and the count is the true one, not cut at the per-file cap).
#[derive(Default)]
pub(crate) struct MemberFold {
    groups: Vec<FoldGroup>,
}

struct FoldGroup {
    finding: Finding,
    /// The first member's value (a hash of what its evidence says).
    value: u64,
    more: usize,
    examples: Vec<String>,
    /// Whether every later member had the first one's value.
    same: bool,
}

impl MemberFold {
    /// Append the folded findings to `out`: each first finding, its evidence saying how
    /// many more members share the problem, naming the next few, and whether they all
    /// share its value.
    pub(crate) fn finish(self, out: &mut Vec<Finding>) {
        for mut g in self.groups {
            if g.more > 0 {
                let etc = if g.more > g.examples.len() {
                    ", ..."
                } else {
                    ""
                };
                // One value shared by every member is either a SOURCE_DATE_EPOCH det was not
                // told about or one build-time stamp: say so, the engineer knows which.
                let same = if g.same {
                    ", all with this same value"
                } else {
                    ""
                };
                g.finding.evidence.push_str(&format!(
                    "; and {} more member{} of this archive ({}{etc}){same}",
                    g.more,
                    if g.more == 1 { "" } else { "s" },
                    g.examples.join(", ")
                ));
            }
            out.push(g.finding);
        }
    }
}

/// A finding about the metadata of the member `member`. `value` is what the evidence says
/// (two members with equal values have equal evidence); `make` builds the location and
/// evidence, only when the finding is kept: one per member while the file's cap on findings
/// leaves room (see [`ScanOptions::push_capped`]), or the first of a fold.
fn push_member(
    opts: &ScanOptions,
    out: &mut MemberOut,
    rule: &'static str,
    member: &str,
    value: impl std::hash::Hash,
    make: impl FnOnce() -> (Location, String),
) {
    match out {
        MemberOut::Each(out) => opts.push_capped(out, rule, || {
            let (loc, evidence) = make();
            Finding::new(rules::get(rule), loc, evidence)
        }),
        MemberOut::Fold(fold) => {
            use std::hash::{DefaultHasher, Hasher};
            let mut h = DefaultHasher::new();
            value.hash(&mut h);
            let value = h.finish();
            match fold.groups.iter_mut().find(|g| g.finding.rule.id == rule) {
                Some(g) => {
                    g.more += 1;
                    g.same &= g.value == value;
                    if g.examples.len() < EXAMPLES {
                        g.examples.push(member.to_owned());
                    }
                }
                None => {
                    let (loc, evidence) = make();
                    fold.groups.push(FoldGroup {
                        finding: Finding::new(rules::get(rule), loc, evidence),
                        value,
                        more: 0,
                        examples: Vec::new(),
                        same: true,
                    });
                }
            }
        }
    }
}

/// Header-level findings of a container or pyc node itself.
pub(crate) fn detect(node: &Node, loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    match node.format {
        Format::Gzip => detect_gzip(node, loc, opts, out),
        Format::Pyc => detect_pyc(node, loc, opts, out),
        Format::Zip => detect_zip(node, loc, out, opts),
        Format::Tar => {
            // Errors are reported by the member walk in scan_node; here only the order.
            let names: Vec<String> = tar::TarWalk::new(&node.data, opts.limits.max_members)
                .map_while(Result::ok)
                .map(|e| crate::artifact::bounded_name(e.name))
                .collect();
            if let Some((a, b)) = first_unsorted_pair(&names) {
                push(
                    out,
                    "tar-member-order",
                    loc.at("member order", None),
                    format!("`{a}` comes before `{b}`"),
                );
            }
        }
        _ => {}
    }
}

fn detect_gzip(node: &Node, loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    // A broken header is reported when the stream is opened; nothing to judge here.
    let Ok(h) = compress::gzip_header(&node.data) else {
        return;
    };
    let mtime = i64::from(h.mtime);
    if !opts.is_normalized_time(mtime) {
        push(
            out,
            "gzip-mtime",
            loc.at("gzip header", Some(4)).field("MTIME"),
            format!("MTIME {mtime} ({})", utc(mtime)),
        );
    }
    if let Some(name) = &h.fname {
        push(
            out,
            "gzip-filename",
            loc.at("gzip header", Some(h.fname_at as u64))
                .field("FNAME"),
            format!("FNAME `{}`", String::from_utf8_lossy(name)),
        );
    }
}

fn detect_pyc(node: &Node, loc: &Location, opts: &ScanOptions, out: &mut Vec<Finding>) {
    let Some(h) = pyc::header(&node.data) else {
        return;
    };
    if let pyc::PycInvalidation::Timestamp { mtime, source_size } = h.invalidation {
        let mtime = i64::from(mtime);
        if !opts.is_normalized_time(mtime) {
            let offset = if h.magic < 3390 { 4 } else { 8 };
            push(
                out,
                "pyc-timestamp",
                loc.at("pyc header", Some(offset)).field("mtime"),
                format!(
                    "timestamp-based pyc: source mtime {mtime} ({}), source size {source_size}",
                    utc(mtime)
                ),
            );
        }
    }
}

fn detect_zip(node: &Node, loc: &Location, out: &mut Vec<Finding>, opts: &ScanOptions) {
    let Ok(mut archive) = zip::open(&node.data) else {
        return;
    };
    let names: Vec<String> = (0..archive.len().min(opts.limits.max_members))
        .filter_map(|i| {
            archive.by_index_data(i).ok().map(|e| {
                crate::artifact::bounded_name(String::from_utf8_lossy(e.name_raw()).into_owned())
            })
        })
        .collect();
    if let Some((a, b)) = first_unsorted_pair(&names) {
        push(
            out,
            "zip-entry-order",
            loc.at("central directory", None),
            format!("`{a}` comes before `{b}`"),
        );
    }
    // A wheel: a top-level `*.dist-info/RECORD`.
    let record = names.iter().position(|n| {
        n.strip_suffix("/RECORD")
            .is_some_and(|dir| dir.ends_with(".dist-info") && !dir.contains('/'))
    });
    let Some(record) = record else { return };
    let Ok(bytes) = zip::read_entry(&mut archive, &node.data, record, &opts.limits) else {
        return;
    };
    let listed = record_paths(&String::from_utf8_lossy(bytes.as_slice()));
    if let Some((a, b)) = first_unsorted_pair(&listed) {
        push(
            out,
            "wheel-record-order",
            loc.member(&names[record]).at("RECORD", None),
            format!("RECORD lists `{a}` before `{b}`"),
        );
    }
}

/// The paths of a wheel RECORD (CSV: path,hash,size), RECORD itself left out.
fn record_paths(record: &str) -> Vec<String> {
    record
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(record_path)
        .filter(|p| !p.ends_with(".dist-info/RECORD"))
        .collect()
}

/// Findings about one member's metadata, as recorded by its container of format `parent`,
/// one per member.
pub(crate) fn detect_member(
    node: &Node,
    loc: &Location,
    parent: Format,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    detect_member_to(node, loc, parent, opts, &mut MemberOut::Each(out));
}

/// [`detect_member`], its findings going to `out` (one per member, or folded).
pub(crate) fn detect_member_to(
    node: &Node,
    loc: &Location,
    parent: Format,
    opts: &ScanOptions,
    out: &mut MemberOut,
) {
    match parent {
        Format::Ar(kind) => detect_ar_member(node, loc, kind, opts, out),
        Format::Zip => detect_zip_member(node, loc, opts, out),
        Format::Tar => detect_tar_member(node, loc, opts, out),
        _ => {}
    }
}

fn detect_ar_member(
    node: &Node,
    loc: &Location,
    _kind: ArKind,
    opts: &ScanOptions,
    out: &mut MemberOut,
) {
    if let Some(t) = int(node, "mtime").filter(|&t| !opts.is_normalized_time(t)) {
        push_member(opts, out, "ar-member-mtime", &node.name, t, || {
            (
                loc.at("ar header", None).field("mtime"),
                format!("mtime {t} ({})", utc(t)),
            )
        });
    }
    let (uid, gid) = (int(node, "uid").unwrap_or(0), int(node, "gid").unwrap_or(0));
    if uid != 0 || gid != 0 {
        push_member(opts, out, "ar-member-owner", &node.name, (uid, gid), || {
            (
                loc.at("ar header", None).field("uid/gid"),
                format!("uid {uid}, gid {gid}"),
            )
        });
    }
    if let Some(mode) = int(node, "mode").map(|m| m & 0o7777) {
        if mode != 0o644 && mode != 0o755 {
            push_member(opts, out, "ar-member-mode", &node.name, mode, || {
                (
                    loc.at("ar header", None).field("mode"),
                    format!("mode {mode:04o}"),
                )
            });
        }
    }
}

fn detect_zip_member(node: &Node, loc: &Location, opts: &ScanOptions, out: &mut MemberOut) {
    let m = node.name.as_str();
    if let Some(t) = int(node, "mtime").filter(|&t| !is_normalized_dos_time(opts, t)) {
        push_member(opts, out, "zip-entry-mtime", m, t, || {
            (
                loc.field("DOS date/time"),
                format!("{} (DOS time, read as UTC)", utc(t).trim_end_matches('Z')),
            )
        });
    }
    let extended: Vec<String> = [
        "ut-mtime",
        "ut-atime",
        "ut-ctime",
        "ntfs-mtime",
        "ntfs-atime",
        "ntfs-ctime",
        "unix-mtime",
        "unix-atime",
    ]
    .into_iter()
    .filter_map(|k| {
        let t = int(node, k)?;
        (!opts.is_normalized_time(t)).then(|| format!("{k} {}", utc(t)))
    })
    .collect();
    if !extended.is_empty() {
        let evidence = extended.join(", ");
        push_member(opts, out, "zip-extended-timestamp", m, &evidence, || {
            (loc.at("extra field", None), evidence.clone())
        });
    }
    if let (Some(mode), Some(ext)) = (int(node, "mode"), int(node, "external-attributes")) {
        let symlink = (ext >> 16) & 0o170_000 == 0o120_000;
        // wheel writes RECORD with a constant 0664, whatever the umask.
        let wheel_record = node.name.ends_with(".dist-info/RECORD") && mode == 0o664;
        if mode & 0o022 != 0 && !symlink && !wheel_record {
            push_member(opts, out, "zip-external-attributes", m, mode, || {
                (
                    loc.field("external attributes"),
                    format!("mode {mode:04o} (group/other-writable: follows the builder's umask)"),
                )
            });
        }
    }
}

fn detect_tar_member(node: &Node, loc: &Location, opts: &ScanOptions, out: &mut MemberOut) {
    let m = node.name.as_str();
    if let Some(t) = int(node, "mtime").filter(|&t| !opts.is_normalized_time(t)) {
        push_member(opts, out, "tar-member-mtime", m, t, || {
            (
                loc.at("tar header", None).field("mtime"),
                format!("mtime {t} ({})", utc(t)),
            )
        });
    }
    let (uid, gid) = (int(node, "uid").unwrap_or(0), int(node, "gid").unwrap_or(0));
    let uname = text(node, "uname").unwrap_or("");
    let gname = text(node, "gname").unwrap_or("");
    let named = |n: &str| !n.is_empty() && n != "root";
    if uid != 0 || gid != 0 || named(uname) || named(gname) {
        let mut ev = format!("uid {uid}, gid {gid}");
        if !uname.is_empty() || !gname.is_empty() {
            ev.push_str(&format!(", user `{uname}`, group `{gname}`"));
        }
        push_member(opts, out, "tar-member-owner", m, &ev, || {
            (loc.at("tar header", None).field("owner"), ev.clone())
        });
    }
    let pax: Vec<String> = ["pax-atime", "pax-ctime"]
        .into_iter()
        .filter_map(|k| {
            let v = text(node, k)?;
            let secs: i64 = v.split('.').next()?.parse().ok()?;
            (!opts.is_normalized_time(secs)).then(|| format!("{}={v}", &k[4..]))
        })
        .collect();
    if !pax.is_empty() {
        let evidence = pax.join(", ");
        push_member(opts, out, "tar-pax-time", m, &evidence, || {
            (loc.at("pax header", None), evidence.clone())
        });
    }
}

/// What [`normalized_time`] knows of one member.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemberTime {
    /// The time the container records for the member.
    pub mtime: i64,
    pub is_dir: bool,
    /// A time the member's own header holds (a timestamp pyc's source mtime, a gzip
    /// MTIME): a reading of some clock, often the build's.
    pub stamped: Option<i64>,
}

/// The time a member's own header records, for the formats that record one.
pub(crate) fn header_time(node: &Node) -> Option<i64> {
    match node.format {
        Format::Pyc => match pyc::header(&node.data)?.invalidation {
            pyc::PycInvalidation::Timestamp { mtime, .. } => Some(i64::from(mtime)),
            _ => None,
        },
        Format::Gzip => Some(i64::from(compress::gzip_header(&node.data).ok()?.mtime)),
        _ => None,
    }
}

/// How long before a shared member time a clock reading inside the archive shows that time
/// to be the packing time, not a normalized one.
const BUILD_WINDOW: i64 = 86_400;
/// How much older than the clamp time the older files must be: files a build writes all
/// fall within a few seconds; files a clamp leaves alone are the sources, older.
const CLAMP_GAP: i64 = 3_600;

/// The time an archive's members were normalized to, if they were: every member at one
/// time, or clamped to one (`tar --mtime=@T --clamp-mtime` keeps older times and sets newer
/// ones to T, so no file is after T, T is shared by many — at least two files and half of
/// them — and the files left alone are older by more than an hour). The clamp is judged on
/// files only, since a fresh tree's directories are all made in one second.
///
/// Not normalized, whatever the member times: an archive whose members' own headers hold
/// a clock reading from the day before T (numpy's wheel: a timestamp pyc compiled three
/// minutes before the time every entry carries). T is then the time it was packed.
pub(crate) fn normalized_time(members: &[MemberTime]) -> Option<(i64, Clamp)> {
    let max = members.iter().map(|m| m.mtime).max()?;
    if members
        .iter()
        .filter_map(|m| m.stamped)
        .any(|t| t < max && t >= max - BUILD_WINDOW)
    {
        return None;
    }
    if members.len() >= 2 && members.iter().all(|m| m.mtime == max) {
        return Some((max, Clamp::All));
    }
    let files: Vec<i64> = members
        .iter()
        .filter(|m| !m.is_dir)
        .map(|m| m.mtime)
        .collect();
    let fmax = files.iter().copied().max()?;
    let at_max = files.iter().filter(|&&t| t == fmax).count();
    let older_by_gap = files.iter().all(|&t| t == fmax || t <= fmax - CLAMP_GAP);
    (fmax == max && at_max >= 2 && at_max * 2 >= files.len() && older_by_gap).then_some((
        max,
        Clamp::Clamped {
            at_max,
            files: files.len(),
        },
    ))
}

/// How an archive's member times were normalized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clamp {
    /// Every member at the time.
    All,
    /// `at_max` of `files` files at the time, the others older.
    Clamped { at_max: usize, files: usize },
}

/// The member-time rules: a normalized archive gives one `archive-normalized-mtime`
/// instead of their findings.
const MTIME_RULES: &[&str] = &["ar-member-mtime", "zip-entry-mtime", "tar-member-mtime"];

/// `2026-11-23` or `2026-11-23T01:02:04Z` (when the time of day is not midnight).
fn day_or_time(t: i64) -> String {
    let s = utc(t);
    match s.strip_suffix("T00:00:00Z") {
        Some(day) => day.to_owned(),
        None => s,
    }
}

/// Judge the member times of the container at `container` as a whole (see
/// [`normalized_time`]), its members' findings (folded) being `out[start..]`.
pub(crate) fn aggregate_members(
    container: &Location,
    start: usize,
    mtimes: &[MemberTime],
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    // Members normalized to one time det was not told about (no --source-date-epoch): one
    // info finding naming the time instead of the member-time findings. When det was told,
    // a time that is not SOURCE_DATE_EPOCH stays a finding: it is not the build's.
    let Some((t, how)) = normalized_time(mtimes) else {
        return;
    };
    let is_member_time = |f: &Finding| {
        MTIME_RULES.contains(&f.rule.id)
            && f.location.file == container.file
            && f.location.container.len() == container.container.len() + 1
            && f.location.container.starts_with(&container.container)
    };
    if let Some(sde) = opts.source_date_epoch {
        // Clamped to SOURCE_DATE_EPOCH (DOS times round it down to 2 s): the older members
        // keep their times by design. Any other time is not the build's: findings stay.
        if t == sde || t == sde - sde.rem_euclid(2) {
            let mut i = 0;
            out.retain(|f| {
                i += 1;
                i <= start || !is_member_time(f)
            });
        }
        return;
    }
    let Some(i) = (start..out.len()).find(|&i| is_member_time(&out[i])) else {
        return;
    };
    let evidence = match how {
        Clamp::All => format!(
            "all {} members at {} ({t}); check it is your SOURCE_DATE_EPOCH",
            mtimes.len(),
            day_or_time(t)
        ),
        Clamp::Clamped { at_max, files } => format!(
            "{at_max} of {files} files at {} ({t}), none later (clamped); check it is your SOURCE_DATE_EPOCH",
            day_or_time(t)
        ),
    };
    out[i] = Finding::new(
        rules::get("archive-normalized-mtime"),
        container.at("member times", None),
        evidence,
    );
}

/// The first CSV field of a wheel RECORD line (the path), unquoted: `""` is a literal
/// quote, a lone `"` ends the field.
pub(crate) fn record_path(line: &str) -> String {
    let Some(quoted) = line.strip_prefix('"') else {
        return line.split(',').next().unwrap_or("").to_owned();
    };
    let mut path = String::new();
    let mut chars = quoted.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                path.push('"');
            } else {
                break;
            }
        } else {
            path.push(c);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn utc_formats_unix_times() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_795_395_724), "2026-11-23T01:02:04Z");
        assert_eq!(utc(315_532_800), "1980-01-01T00:00:00Z");
    }

    #[test]
    fn record_paths_handle_csv_quoting() {
        let r = "pkg/a.py,sha256=x,1\n\"pkg/b,c.py\",sha256=y,2\npkg-1.dist-info/RECORD,,\n";
        assert_eq!(record_paths(r), names(&["pkg/a.py", "pkg/b,c.py"]));
    }

    #[test]
    fn member_findings_fold_into_one_per_rule_as_found() {
        let root = Location::file("x.a");
        let opts = ScanOptions::default();
        let mut fold = MemberFold::default();
        for m in ["a.o", "b.o", "c.o", "d.o", "e.o"] {
            let mut out = MemberOut::Fold(&mut fold);
            push_member(&opts, &mut out, "ar-member-mtime", m, 5i64, || {
                (root.member(m), "mtime 5".into())
            });
        }
        let mut out = Vec::new();
        fold.finish(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule.id, "ar-member-mtime");
        assert_eq!(out[0].location.container, vec!["a.o".to_string()]);
        assert_eq!(
            out[0].evidence,
            "mtime 5; and 4 more members of this archive (b.o, c.o, d.o, ...), all with this same value"
        );

        let mut fold = MemberFold::default();
        for (m, uid) in [("a.o", 1i64), ("b.o", 2)] {
            let mut out = MemberOut::Fold(&mut fold);
            push_member(&opts, &mut out, "ar-member-owner", m, uid, || {
                (root.member(m), format!("uid {uid}"))
            });
            push_member(&opts, &mut out, "ar-member-mode", m, 0o600i64, || {
                (root.member(m), "mode 0600".into())
            });
        }
        let mut out = Vec::new();
        fold.finish(&mut out);
        let evidence: Vec<&str> = out.iter().map(|f| f.evidence.as_str()).collect();
        assert_eq!(
            evidence,
            [
                "uid 1; and 1 more member of this archive (b.o)",
                "mode 0600; and 1 more member of this archive (b.o), all with this same value"
            ]
        );

        // Unfolded (det-verify's diff): one finding per member.
        let mut each = Vec::new();
        for m in ["a.o", "b.o"] {
            push_member(
                &opts,
                &mut MemberOut::Each(&mut each),
                "ar-member-mtime",
                m,
                5i64,
                || (root.member(m), "mtime 5".into()),
            );
        }
        assert_eq!(each.len(), 2);
    }
}
