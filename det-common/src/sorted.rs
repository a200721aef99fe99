//! What "sorted" means for the members of an archive — one definition, used both by
//! det-scan's order checks (zip entries, tar members, a wheel's RECORD) and by
//! `cargo det-build normalize`, which writes [`NORMALIZER`]'s order.
//!
//! A list is sorted when it follows any of the orders deterministic tools write
//! ([`SortOrder`]), each with or without the well-known placements of [`rank`]:
//! - byte order of the full name as stored (`LC_ALL=C sort`, Python's `sorted()`),
//! - byte order of the full path with directories compared without their `/`
//!   (`find | LC_ALL=C sort | zip -@`, `tar -T`),
//! - component by component (GNU `tar --sort=name`, and det's normalizer),
//! - a directory's files before its subdirectories (`os.walk` sorted, as `wheel` writes).
//!
//! An order taken from the file system's directory listing breaks all of them.

use std::cmp::Ordering;

/// Where a name sorts among its siblings (in directory `dir`, `""` at the top): some
/// writers put well-known entries first (`mimetype` must be first in ODF/EPUB; jar puts
/// `META-INF/MANIFEST.MF` first) or last (`wheel` writes `*.dist-info` last and RECORD
/// after everything else). Those placements are deterministic and accepted (not
/// required); det's normalizer keeps them.
pub fn rank(dir: &str, name: &str) -> u8 {
    match (dir, name) {
        // ODF and EPUB need `mimetype` first, before their own META-INF/.
        ("", "mimetype") => 0,
        ("", "META-INF") | ("META-INF", "MANIFEST.MF") => 1,
        ("", n) if n.ends_with(".dist-info") => 3,
        (d, "RECORD") if d.ends_with(".dist-info") => 3,
        _ => 2,
    }
}

/// The orders that deterministic tools write, each a sort key of a member name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    /// Byte order of the full name as stored: Python `sorted()` of the names, `sort` of a
    /// list whose directories end in `/`.
    Bytes,
    /// Byte order of the full path, a directory compared without its trailing `/`:
    /// `find . | LC_ALL=C sort` fed to `zip -@`, `tar -T` or `xargs -0 zip -X`.
    Paths,
    /// Component by component, each directory's entries sorted by name and descended in
    /// place: GNU `tar --sort=name`, and det's normalizer ([`NORMALIZER`]).
    Components,
    /// Directory by directory, a directory's files (sorted) before its subdirectories
    /// (sorted): `os.walk` with sorted names, as `wheel` writes.
    FilesFirst,
}

/// Every order [`first_unsorted_pair`] accepts.
pub const ORDERS: [SortOrder; 4] = [
    SortOrder::Bytes,
    SortOrder::Paths,
    SortOrder::Components,
    SortOrder::FilesFirst,
];

/// The order `cargo det-build normalize` writes zip entries, tar members and RECORD lines
/// in: component by component, with the placements of [`rank`] (so a jar's manifest
/// stays first and a wheel's RECORD last). `a/y` comes before `a-b/x`.
pub const NORMALIZER: (SortOrder, bool) = (SortOrder::Components, true);

/// A sort key: compare two keys of one order to compare the names.
pub type Key<'a> = Vec<(u8, u8, &'a [u8])>;

impl SortOrder {
    /// The sort key of member `name` in this order; with `placed`, the well-known first
    /// and last entries ([`rank`]) go where their writers put them. A leading `./` is
    /// not part of the name.
    pub fn key(self, name: &str, placed: bool) -> Key<'_> {
        let path = name.strip_prefix("./").unwrap_or(name);
        let is_dir = path.ends_with('/');
        let trimmed = path.trim_end_matches('/');
        let comps: Vec<&str> = trimmed.split('/').collect();
        let rank_of = |i: usize| {
            if placed {
                let parent_len = comps[..i].iter().map(|c| c.len() + 1).sum::<usize>();
                rank(&trimmed[..parent_len.saturating_sub(1)], comps[i])
            } else {
                1
            }
        };
        match self {
            SortOrder::Bytes | SortOrder::Paths => {
                let bytes = if self == SortOrder::Bytes {
                    path
                } else {
                    trimmed
                };
                // Placements move a whole top-level entry (or a dist-info's RECORD).
                let r0 = rank_of(0);
                let r1 = if comps.len() > 1 { rank_of(1) } else { 1 };
                vec![(r0, r1, bytes.as_bytes())]
            }
            SortOrder::Components | SortOrder::FilesFirst => comps
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let last = i + 1 == comps.len();
                    let kind = match self {
                        SortOrder::FilesFirst if last && !is_dir => 0,
                        SortOrder::FilesFirst => 1,
                        _ => 0,
                    };
                    (rank_of(i), kind, c.as_bytes())
                })
                .collect(),
        }
    }
}

/// The key of `name` in the order det's normalizer writes ([`NORMALIZER`]).
pub fn normalizer_key(name: &str) -> Key<'_> {
    NORMALIZER.0.key(name, NORMALIZER.1)
}

/// `a` against `b` in the order det's normalizer writes.
pub fn normalizer_cmp(a: &str, b: &str) -> Ordering {
    normalizer_key(a).cmp(&normalizer_key(b))
}

/// The index of the first name that breaks `order` (with or without placements).
fn first_break(names: &[String], order: SortOrder, placed: bool) -> Option<usize> {
    let mut prev: Option<Key<'_>> = None;
    for (i, n) in names.iter().enumerate() {
        let key = order.key(n, placed);
        if prev.as_ref().is_some_and(|p| key < *p) {
            return Some(i);
        }
        prev = Some(key);
    }
    None
}

/// The first pair of names that shows the order is not one a deterministic tool writes,
/// if any: `None` when `names` follow any of [`ORDERS`] (with or without placements).
/// When none fits, the pair reported is where the order that fits longest breaks: it is
/// out of order for every reading of "sorted", not only for the strictest.
pub fn first_unsorted_pair(names: &[String]) -> Option<(String, String)> {
    let mut last_break = 0;
    for order in ORDERS {
        for placed in [false, true] {
            match first_break(names, order, placed) {
                None => return None,
                Some(i) => last_break = last_break.max(i),
            }
        }
    }
    Some((names[last_break - 1].clone(), names[last_break].clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sorted_orders_of_every_flavour_pass() {
        // byte order
        assert_eq!(first_unsorted_pair(&names(&["a-b", "a/c", "b"])), None);
        // component order (tar --sort=name)
        assert_eq!(first_unsorted_pair(&names(&["a/", "a/c", "a-b"])), None);
        // os.walk, files first; wheel's dist-info and RECORD last
        assert_eq!(
            first_unsorted_pair(&names(&[
                "zz/__init__.py",
                "zz/z.py",
                "zz/a/b.py",
                "aa-1.0.dist-info/METADATA",
                "aa-1.0.dist-info/WHEEL",
                "aa-1.0.dist-info/RECORD",
            ])),
            None
        );
        // jar: manifest first
        assert_eq!(
            first_unsorted_pair(&names(&[
                "META-INF/",
                "META-INF/MANIFEST.MF",
                "META-INF/A",
                "a.class"
            ])),
            None
        );
    }

    #[test]
    fn byte_order_of_the_full_path_is_sorted() {
        // find | LC_ALL=C sort | zip -@: `a-b/` sorts between `a` and `a/y` (directories
        // compared without their slash).
        assert_eq!(
            first_unsorted_pair(&names(&["a/", "a-b/", "a-b/x", "a/y"])),
            None
        );
        // Python sorted() of the stored names, slashes included.
        assert_eq!(first_unsorted_pair(&names(&["a-b", "a/", "a/x"])), None);
        // numpy's wheel: byte order puts the dist-info before `numpy.libs/`.
        assert_eq!(
            first_unsorted_pair(&names(&[
                "numpy/__init__.py",
                "numpy-2.1.3.dist-info/METADATA",
                "numpy-2.1.3.dist-info/RECORD",
                "numpy.libs/libgfortran.so",
            ])),
            None
        );
        // tar from an `LC_ALL=C sort` list: `./`, `./a/`, `./a-b`, `./a/x`.
        assert_eq!(
            first_unsorted_pair(&names(&["./", "./a/", "./a-b", "./a/x"])),
            None
        );
    }

    #[test]
    fn file_system_orders_fail_with_the_first_pair() {
        assert_eq!(
            first_unsorted_pair(&names(&["pkg/b.py", "pkg/a.py"])),
            Some(("pkg/b.py".into(), "pkg/a.py".into()))
        );
        assert_eq!(
            first_unsorted_pair(&names(&["b/x", "a/y"])),
            Some(("b/x".into(), "a/y".into()))
        );
        assert_eq!(
            first_unsorted_pair(&names(&["a/1", "b/1", "a/2"])),
            Some(("b/1".into(), "a/2".into()))
        );
    }

    /// The normalizer's order: components, placements kept; the scan accepts it, including
    /// where it differs from byte order (`a/y` before `a-b/x`).
    #[test]
    fn the_normalizers_order_is_sorted_for_the_scan() {
        let mut v = names(&[
            "pkg-1.0.dist-info/RECORD",
            "pkg-1.0.dist-info/METADATA",
            "a/y",
            "a-b/x",
            "a-b/",
            "a.py",
            "a/",
            "a/b/c/d",
            "a/b.c",
            "a.b",
            "META-INF/MANIFEST.MF",
            "META-INF/",
            "mimetype",
        ]);
        v.sort_by(|a, b| normalizer_cmp(a, b));
        assert_eq!(
            v,
            names(&[
                "mimetype",
                "META-INF/",
                "META-INF/MANIFEST.MF",
                "a/",
                "a/b/c/d",
                "a/b.c",
                "a/y",
                "a-b/",
                "a-b/x",
                "a.b",
                "a.py",
                "pkg-1.0.dist-info/METADATA",
                "pkg-1.0.dist-info/RECORD",
            ])
        );
        assert_eq!(first_unsorted_pair(&v), None);
        // It is not byte order, so the scan accepts more than one order.
        assert!(first_break(&v, SortOrder::Bytes, true).is_some());
    }
}
