//! Keeps a JSON schema's doc (docs/*-json.md) true to the real output: every key a real
//! report holds is in the doc's field table, and every key the doc promises is in the
//! report. Shared by the schema tests of det-scan, det-verify and det-build (`#[path]`).
//!
//! A doc's field table has rows `| `path` | type | meaning |`: the path from the top
//! (`findings[].rule`: `[]` an array's elements, `*` a map's keys, which are data), several
//! paths in one cell separated by commas; a type that says `optional` marks a key that is
//! not in every report. The keys inside an optional object, or one that may be `null`, are
//! required whenever that object is there.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// The doc at `docs/<name>` of the det repository.
pub fn read_doc(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The documented paths, each with its type cell.
pub fn documented(doc: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let Some(row) = line.strip_prefix("| `") else {
            continue;
        };
        let cells: Vec<&str> = row.split(" | ").collect();
        let ty = cells.get(1).copied().unwrap_or_default();
        for name in format!("`{}", cells[0]).split(", ") {
            let name = name.trim().trim_matches('`');
            assert!(
                !name.is_empty() && !name.contains(' '),
                "bad field cell: {line}"
            );
            out.insert(name.to_owned(), ty.to_owned());
        }
    }
    assert!(!out.is_empty(), "no field table found");
    out
}

/// Every path in `v` (see the module docs); an object at a path the doc names as `P.*` is a
/// map; paths in `opaque` are not descended into.
pub fn paths(v: &Value, doc: &BTreeMap<String, String>, opaque: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(v, "", doc, opaque, &mut out);
    out
}

fn walk(
    v: &Value,
    at: &str,
    doc: &BTreeMap<String, String>,
    opaque: &[&str],
    out: &mut BTreeSet<String>,
) {
    if opaque.contains(&at) {
        return;
    }
    let join = |k: &str| {
        if at.is_empty() {
            k.to_owned()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            let is_map = !at.is_empty() && doc.contains_key(&join("*"));
            for (k, x) in m {
                let p = join(if is_map { "*" } else { k });
                out.insert(p.clone());
                walk(x, &p, doc, opaque, out);
            }
        }
        Value::Array(xs) => {
            for x in xs.iter().filter(|x| x.is_object()) {
                walk(x, &format!("{at}[]"), doc, opaque, out);
            }
        }
        _ => {}
    }
}

/// Checks real `reports` (together holding every required key) against the doc `name`:
/// the doc names `schema`, and each report's keys and the doc's fields agree both ways.
pub fn check(name: &str, schema: &str, reports: &[&Value], opaque: &[&str]) {
    let doc_text = read_doc(name);
    assert!(
        doc_text.contains(&format!("`{schema}`")),
        "docs/{name} does not name the schema {schema}"
    );
    let doc = documented(&doc_text);
    let mut seen = BTreeSet::new();
    for r in reports {
        assert_eq!(r["schema"], schema, "{r:#}");
        seen.extend(paths(r, &doc, opaque));
    }
    let undocumented: Vec<&String> = seen.iter().filter(|p| !doc.contains_key(*p)).collect();
    assert!(
        undocumented.is_empty(),
        "keys of a real {schema} report missing from docs/{name}'s field table: {undocumented:?}"
    );
    // A key is required unless it is optional or inside an optional or nullable object
    // that none of the reports holds.
    let absent_parent = |p: &str| {
        ancestors(p).into_iter().any(|a| {
            doc.get(&a)
                .is_some_and(|t| t.contains("optional") || t.contains("null"))
                && !seen
                    .iter()
                    .any(|s| s.starts_with(&format!("{a}.")) || s.starts_with(&format!("{a}[]")))
        })
    };
    let missing: Vec<&String> = doc
        .iter()
        .filter(|(p, ty)| !ty.contains("optional") && !seen.contains(*p) && !absent_parent(p))
        .map(|(p, _)| p)
        .collect();
    assert!(
        missing.is_empty(),
        "docs/{name} documents keys no real {schema} report has (mark them optional if \
         they are not always present): {missing:?}"
    );
}

/// `a.b[].c` → `a.b`, `a` (the objects and arrays holding it).
fn ancestors(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = p.to_owned();
    while let Some(cut) = p.rfind('.') {
        p.truncate(cut);
        let bare = p.strip_suffix("[]").unwrap_or(&p).to_owned();
        out.push(bare.clone());
        p = bare;
    }
    out
}
