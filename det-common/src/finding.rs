//! A finding: one rule matched at one location, with the evidence that matched.

use crate::rules::{Category, Rule, Severity};
use serde::Serialize;
use std::cmp::Ordering;
use std::sync::Arc;

/// A name in a [`Location`] (the file, a container member, a section), shared rather than
/// copied: every finding inside one member holds the same `Arc`, so a member with thousands
/// of findings, or a deep chain of long member names, costs one copy of each name, not one
/// per finding. Reads as a `str` (`Deref`, `Display`, serialized as a string).
#[derive(Clone, Default, Eq)]
pub struct Name(Arc<str>);

/// Hashed by content, as `PartialEq` compares.
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

/// Compared by content; one shared name is equal to itself without reading it (sorting
/// the findings of one member compares the same names over and over).
impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::from(s))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name(Arc::from(s.as_str()))
    }
}

impl From<std::borrow::Cow<'_, str>> for Name {
    fn from(s: std::borrow::Cow<'_, str>) -> Self {
        Name(Arc::from(s))
    }
}

impl From<&Name> for Name {
    fn from(s: &Name) -> Self {
        s.clone()
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.to_string()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

/// Where a finding (or a difference) is, as structure: the file, the chain of container
/// members inside it, and inside the innermost member a section, a header field, a line and
/// an offset range — each optional.
///
/// | finding | section | field | line | offset |
/// |---|---|---|---|---|
/// | a path in `.rodata` | `.rodata` | | | offset in the section |
/// | a Mach-O UUID | | `LC_UUID` | | offset in the file |
/// | a PE header time | `COFF header` | | | offset in the file |
/// | an ar member's mtime | `ar header` | `mtime` | | |
/// | a date on line 9 of a log | | | 9 | |
/// | a compile_commands.json entry | `entry 2` | | | |
///
/// Reports print the parts inside the member as one label ([`Location::label`]:
/// `ar header mtime`, `line 9`, `.rodata`), which is what det-scan/1's `section` holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    /// The file as the user named it (relative to where they pointed det), `/`-separated.
    pub file: Name,
    /// Members of containers from outermost to innermost, e.g. `["pkg/_speedups.so"]` for a
    /// shared object inside a wheel.
    pub container: Vec<Name>,
    /// A section of an object file (`.rodata`, `__TEXT,__cstring`, `.rdata`) or a named part
    /// of the innermost member (`central directory`, `COFF header`, `debug directory`).
    pub section: Option<Name>,
    /// A header field (`mtime`, `MTIME`, `LC_UUID`, `N_OSO`, `DW_AT_comp_dir`), inside
    /// `section` when there is one.
    pub field: Option<String>,
    /// A 1-based line of a text file.
    pub line: Option<u64>,
    /// Byte offset inside the section (or the member when there is no section).
    pub offset: Option<u64>,
    /// How many bytes from `offset` the finding covers, when known.
    pub len: Option<u64>,
}

impl Location {
    pub fn file(file: impl Into<Name>) -> Self {
        Location {
            file: file.into(),
            ..Location::default()
        }
    }

    /// The location of a member of the container at `self` (its name shared by every
    /// location derived from the result).
    pub fn member(&self, name: impl Into<Name>) -> Location {
        let mut container = Vec::with_capacity(self.container.len() + 1);
        container.extend(self.container.iter().cloned());
        container.push(name.into());
        Location {
            file: self.file.clone(),
            container,
            ..Location::default()
        }
    }

    /// Make this location (one made by [`Location::member`]) that of the member `name`
    /// instead: the location of each member of a container in turn, without building the
    /// chain again (an import library has 20 000 members).
    pub fn set_member(&mut self, name: impl Into<Name>) {
        match self.container.last_mut() {
            Some(last) => *last = name.into(),
            None => self.container.push(name.into()),
        }
    }

    /// The same location narrowed to a section (or a named part) and an offset inside it.
    /// Pass a [`Name`] made once when many findings share the section.
    pub fn at(&self, section: impl Into<Name>, offset: Option<u64>) -> Location {
        Location {
            section: Some(section.into()),
            field: None,
            line: None,
            offset,
            len: None,
            ..self.clone()
        }
    }

    /// The same location narrowed to a header field (inside the section, if any).
    pub fn field(&self, field: impl Into<String>) -> Location {
        Location {
            field: Some(field.into()),
            ..self.clone()
        }
    }

    /// The same location narrowed to a header field at an offset.
    pub fn field_at(&self, field: impl Into<String>, offset: Option<u64>) -> Location {
        Location {
            field: Some(field.into()),
            offset,
            ..self.clone()
        }
    }

    /// The same location narrowed to a 1-based line of a text file.
    pub fn line(&self, line: u64) -> Location {
        Location {
            line: Some(line),
            ..self.clone()
        }
    }

    /// The same location with the length of the range it covers.
    pub fn with_len(mut self, len: u64) -> Location {
        self.len = Some(len);
        self
    }

    /// `dist/x.whl!pkg/_speedups.so`: the file and its container chain joined by `!`.
    pub fn display_path(&self) -> String {
        let mut s = self.file.to_string();
        for c in &self.container {
            s.push('!');
            s.push_str(c);
        }
        s
    }

    /// Section, field and line as one readable label (`ar header mtime`, `.rodata`,
    /// `line 9`, `N_OSO`), or `None` when the location is the whole member.
    pub fn label(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.section.as_deref().map(str::to_owned));
        parts.extend(self.field.clone());
        parts.extend(self.line.map(|l| format!("line {l}")));
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// Locations sort by file, container chain, section, field, line and offset; sections
/// compare runs of digits as numbers, so `entry 2` comes before `entry 11`.
impl Ord for Location {
    fn cmp(&self, other: &Self) -> Ordering {
        self.file
            .cmp(&other.file)
            .then_with(|| self.container.cmp(&other.container))
            .then_with(|| match (&self.section, &other.section) {
                (Some(a), Some(b)) => natural_cmp(a, b),
                (a, b) => a.cmp(b),
            })
            .then_with(|| self.field.cmp(&other.field))
            .then_with(|| self.line.cmp(&other.line))
            .then_with(|| self.offset.cmp(&other.offset))
            .then_with(|| self.len.cmp(&other.len))
    }
}

impl PartialOrd for Location {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compare strings with runs of ASCII digits compared by value; ties fall back to the bytes
/// so that the order stays total (`a01` and `a1` are different and ordered).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|b| b.is_ascii_digit()).count();
                let ny = y.iter().take_while(|b| b.is_ascii_digit()).count();
                let (dx, dy) = (trim_zeros(&x[..nx]), trim_zeros(&y[..ny]));
                let ord = dx.len().cmp(&dy.len()).then_with(|| dx.cmp(dy));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let n = digits.iter().take_while(|&&b| b == b'0').count();
    &digits[n..]
}

/// One rule matched at one location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static Rule,
    pub location: Location,
    /// What matched, as found (the report layer escapes it for each format).
    pub evidence: String,
    /// A fix specific to this finding (e.g. the exact flags for this command line); the rule's
    /// generic fix applies when `None`.
    pub fix: Option<String>,
    /// The severity of this finding: the rule's, unless the detector weighed the evidence
    /// (a path under a build directory is strong evidence, a date in a changelog weak).
    pub severity: Severity,
}

impl Finding {
    pub fn new(rule: &'static Rule, location: Location, evidence: impl Into<String>) -> Self {
        Finding {
            rule,
            location,
            evidence: evidence.into(),
            fix: None,
            severity: rule.severity,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// The same finding at severity `severity` (the evidence is stronger or weaker than the
    /// rule's usual case).
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn severity(&self) -> Severity {
        self.severity
    }

    pub fn category(&self) -> Category {
        self.rule.category
    }

    pub fn fix_text(&self) -> &str {
        self.fix.as_deref().unwrap_or(self.rule.fix)
    }

    /// The order in which findings are reported: by location, then rule, then evidence.
    fn sort_key(&self) -> (&Location, &str, &str) {
        (&self.location, self.rule.id, &self.evidence)
    }
}

impl Ord for Finding {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for Finding {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn display_path_joins_containers() {
        let mut loc = Location::file("dist/x.whl");
        loc.container.push("pkg/_speedups.so".into());
        assert_eq!(loc.display_path(), "dist/x.whl!pkg/_speedups.so");
    }

    #[test]
    fn findings_sort_by_location_then_rule() {
        let a = Finding::new(rules::get("uuid-string"), Location::file("b"), "x");
        let b = Finding::new(rules::get("absolute-path"), Location::file("b"), "x");
        let c = Finding::new(rules::get("uuid-string"), Location::file("a"), "x");
        let mut v = vec![a.clone(), b.clone(), c.clone()];
        v.sort();
        assert_eq!(v, vec![c, b, a]);
    }

    #[test]
    fn labels_join_section_field_and_line() {
        let f = Location::file("x.a").member("a.o");
        assert_eq!(f.label(), None);
        assert_eq!(
            f.at("ar header", None).field("mtime").label().as_deref(),
            Some("ar header mtime")
        );
        assert_eq!(f.line(9).label().as_deref(), Some("line 9"));
        assert_eq!(
            f.field_at("LC_UUID", Some(8)).label().as_deref(),
            Some("LC_UUID")
        );
        let mut lines = [f.line(10), f.line(9), f.line(100)];
        lines.sort();
        assert_eq!(lines.map(|l| l.line.unwrap()), [9, 10, 100]);
    }

    #[test]
    fn sections_sort_with_numbers_by_value() {
        let at = |s: &str| Location::file("log").at(s, None);
        let mut v = [
            at("line 100"),
            at("line 42"),
            at("line 9"),
            at("entry 11"),
            at("entry 2"),
            at("line 042"),
        ];
        v.sort();
        let names: Vec<&str> = v.iter().map(|l| l.section.as_deref().unwrap()).collect();
        assert_eq!(
            names,
            [
                "entry 2", "entry 11", "line 9", "line 042", "line 42", "line 100"
            ]
        );
        assert_eq!(
            natural_cmp(".debug_str", ".debug_line_str"),
            ".debug_str".cmp(".debug_line_str")
        );
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
    }

    #[test]
    fn specific_fix_overrides_rule_fix() {
        let f = Finding::new(
            rules::get("cmd-missing-prefix-map"),
            Location::file("cmd"),
            "-g",
        );
        assert_eq!(f.fix_text(), f.rule.fix);
        let f = f.with_fix("-ffile-prefix-map=/src=.");
        assert_eq!(f.fix_text(), "-ffile-prefix-map=/src=.");
    }
}
