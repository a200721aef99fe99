//! `cargo xtask bench`, det-verify diff's part: `cargo det-verify diff` beside `diffoscope`
//! on the same pairs, wall time and peak memory (max RSS) of each, in one table:
//! (a) a real crate (testdata/rust-cc-sys, C and Rust, debug info) built in two directories;
//! (b) two bytes patched in a 24 MiB shared library;
//! (c) two wheels that differ in their mtimes and one member.
//! Goals (issue 10): 50x faster than diffoscope on (a) and (c), reporting every section
//! diffoscope reports as differing; under 0.5 s on (b).
//!
//! The check: diffoscope's `--json` report (the run that is timed) is read into places — a
//! view of a file or member (`readelf --wide --decompress --hex-dump=.rodata {}`, `zipinfo
//! {}`) or a member that differs as a whole — each mapped to det's sections, fields and
//! members (a hex dump of `.rodata` to `.rodata`, `--debug-dump=info` to `.debug_info` or
//! a decoded DWARF value, `--file-header` to `ELF header`, `zipinfo` to member metadata);
//! every place det does not report is printed, and the bench fails.
//!
//! diffoscope is Debian's; the set-up installs it when it is missing (apt-get).

use crate::measure::{Stats, Table, measure_ok, not_error, repeat};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Run the pairs named in `only` (`a`, `b`, `c`; empty: all).
pub fn run(ws: &Path, only: &str, table: &mut Table) -> Result<()> {
    super::cargo(ws, &["build", "--release", "-p", "cargo-detverify"], &[])?;
    let det = super::target_dir(ws).join("release/cargo-det-verify");
    let tmp = tempfile::tempdir()?;
    let t = tmp.path();
    let want = |c: char| only.is_empty() || only.contains(c);
    let mut pairs = Vec::new();
    if want('a') {
        pairs.push((
            "(a) rust-cc-sys, debug build in two directories",
            crate_pair(ws, t)?,
        ));
    }
    if want('b') {
        pairs.push(("(b) 24 MiB .so, two bytes patched", so_pair(t)?));
    }
    if want('c') {
        pairs.push((
            "(c) two wheels: mtimes and one member differ",
            wheel_pair(t)?,
        ));
    }
    println!("\n== det-verify diff beside diffoscope ==");
    println!(
        "{:<50} {:>10} {:>9} {:>12} {:>9} {:>8}",
        "pair", "det s", "det MiB", "diffoscope s", "dfs MiB", "speedup"
    );
    let mut missed_all = Vec::new();
    for (what, (a, b)) in &pairs {
        let det_s = repeat(0, 3, || {
            measure_ok(
                Command::new(&det)
                    .args(["diff", "--format", "text"])
                    .arg(a)
                    .arg(b),
                not_error,
            )
        })?;
        // diffoscope's JSON report is what its run produces; det's sections are checked
        // against it below. Three runs unless one takes long (the median of what was run).
        let dfs_json = t.join("diffoscope.json");
        let mut dfs_runs = Vec::new();
        while dfs_runs.len() < 3 {
            let s = measure_ok(
                Command::new("diffoscope")
                    .arg("--no-progress")
                    .arg("--json")
                    .arg(&dfs_json)
                    .arg(a)
                    .arg(b),
                not_error,
            )?;
            dfs_runs.push(s);
            if s.wall > Duration::from_secs(20) {
                break;
            }
        }
        let dfs_s = Stats::of(&dfs_runs);
        let (dt, ft) = (det_s.wall.as_secs_f64(), dfs_s.wall.as_secs_f64());
        println!(
            "{what:<50} {dt:>10.3} {:>9.1} {ft:>12.2} {:>9.1} {:>7.0}x",
            det_s.max_rss_kib as f64 / 1024.0,
            dfs_s.max_rss_kib as f64 / 1024.0,
            ft / dt
        );
        table.add("diff", what, "diffoscope", dfs_s);
        table
            .add("diff", what, "cargo det-verify diff", det_s)
            .against = Some(("diffoscope".into(), None));
        // What each tool reports as differing: det's sections against diffoscope's.
        let json = Command::new(&det)
            .args(["diff", "--format", "json"])
            .arg(a)
            .arg(b)
            .output()?;
        let v: serde_json::Value = serde_json::from_slice(&json.stdout)?;
        let det_diffs: Vec<DetDiff> = v["differences"]
            .as_array()
            .map(|d| d.iter().map(DetDiff::from_json).collect())
            .unwrap_or_default();
        let mut sections: Vec<String> =
            det_diffs.iter().filter_map(|d| d.section.clone()).collect();
        sections.sort();
        sections.dedup();
        println!(
            "    det: {}",
            v["summary"]["headline"].as_str().unwrap_or("")
        );
        println!("    det sections: {}", sections.join(" "));
        let dfs: serde_json::Value = serde_json::from_slice(&std::fs::read(&dfs_json)?)
            .context("diffoscope's JSON report")?;
        let single = a.is_file();
        let mut places = Vec::new();
        diffoscope_places(&dfs, &[], true, single, &mut places);
        let missed: Vec<String> = places
            .iter()
            .filter(|p| !det_diffs.iter().any(|d| p.covered_by(d)))
            .map(|p| p.to_string())
            .collect();
        println!(
            "    diffoscope: {} places differ; det reports {}",
            places.len(),
            if missed.is_empty() {
                "every one".to_owned()
            } else {
                format!("all but {}", missed.len())
            }
        );
        for m in &missed {
            println!("    MISSED by det: {m}");
            missed_all.push(format!("{what}: {m}"));
        }
    }
    println!("goals: (a), (c) >= 50x faster than diffoscope; (b) det under 0.5 s");
    if !missed_all.is_empty() {
        bail!(
            "det does not report {} place(s) diffoscope reports as differing:\n{}",
            missed_all.len(),
            missed_all.join("\n")
        );
    }
    Ok(())
}

/// One of det's differences, as the check needs it.
struct DetDiff {
    path: String,
    container: Vec<String>,
    section: Option<String>,
    field: Option<String>,
    kind: String,
}

impl DetDiff {
    fn from_json(d: &serde_json::Value) -> DetDiff {
        let s = |k: &str| d[k].as_str().map(str::to_owned);
        DetDiff {
            path: s("path").unwrap_or_default(),
            container: d["container"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            section: s("section"),
            field: s("field"),
            kind: s("kind").unwrap_or_default(),
        }
    }
}

/// A place diffoscope reports as differing: the file (relative), the members it lies in,
/// and the view (`readelf --wide --decompress --hex-dump=.rodata {}`, `zipinfo {}`), or no
/// view for a member or file that differs as a whole.
struct Place {
    path: String,
    chain: Vec<String>,
    view: Option<String>,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}",
            if self.path.is_empty() {
                "(file)"
            } else {
                &self.path
            }
        )?;
        for c in &self.chain {
            write!(f, "!{c}")?;
        }
        if let Some(v) = &self.view {
            write!(f, " [{v}]")?;
        }
        Ok(())
    }
}

/// Whether diffoscope's node name is a command's view of its parent rather than a member.
fn is_view(name: &str) -> bool {
    name.contains("{}")
        || matches!(
            name,
            "file list" | "metadata" | "encoding" | "filetype from file(1)" | "file(1)"
        )
        || name.starts_with("stat ")
}

/// The places of diffoscope's report: every view, and every member without views below it.
/// Decompressed streams (`x.tar` under `x.tar.gz`) are not members for det.
fn diffoscope_places(
    n: &serde_json::Value,
    chain: &[String],
    root: bool,
    single: bool,
    out: &mut Vec<Place>,
) {
    let name = n["source1"].as_str().unwrap_or("").to_owned();
    let details = n["details"].as_array().cloned().unwrap_or_default();
    let mut chain = chain.to_vec();
    if !root && !is_view(&name) {
        let parent = chain.last().map(String::as_str).unwrap_or("");
        let stream = [".gz", ".xz", ".zst", ".bz2"]
            .iter()
            .any(|s| parent.strip_suffix(s).is_some_and(|p| p.ends_with(&name)))
            || name == "data";
        if !stream {
            chain.push(name.clone());
        }
    }
    if !root && is_view(&name) {
        let (path, chain) = split_path(&chain, single);
        out.push(Place {
            path,
            chain,
            view: Some(name),
        });
        return;
    }
    let before = out.len();
    for c in &details {
        diffoscope_places(c, &chain, false, single, out);
    }
    let has_diff = n["unified_diff"].as_str().is_some_and(|u| !u.is_empty());
    if !root && (out.len() == before || has_diff) {
        let (path, chain) = split_path(&chain, single);
        out.push(Place {
            path,
            chain,
            view: None,
        });
    }
}

/// For two directories, the first name below the root is the file; for two files, the file
/// is the root and every name below it is a member.
fn split_path(chain: &[String], single: bool) -> (String, Vec<String>) {
    if single || chain.is_empty() {
        (String::new(), chain.to_vec())
    } else {
        (chain[0].clone(), chain[1..].to_vec())
    }
}

impl Place {
    /// Whether det reports a difference where this place is.
    fn covered_by(&self, d: &DetDiff) -> bool {
        if !self.path.is_empty() && d.path != self.path {
            return false;
        }
        let Some(view) = &self.view else {
            // A member or file differing as a whole: any difference in it.
            return d.container.starts_with(&self.chain)
                || (self.chain.len() == d.container.len() + 1
                    && self.chain.starts_with(&d.container)
                    && matches!(d.kind.as_str(), "added" | "removed" | "order"));
        };
        let v = view.as_str();
        if v.starts_with("zipinfo")
            || v.starts_with("zipnote")
            || v.starts_with("zipdetails")
            || v == "file list"
            || v == "metadata"
            || v.starts_with("ar ")
            || v.starts_with("stat ")
        {
            // The listing: the members' metadata, their order, members added or removed.
            return d.container.starts_with(&self.chain)
                && d.container.len() <= self.chain.len() + 1
                && matches!(d.kind.as_str(), "field" | "order" | "added" | "removed");
        }
        if d.container != self.chain {
            return false;
        }
        let section = d.section.as_deref().unwrap_or("");
        let field = d.field.as_deref().unwrap_or("");
        let sec = |s: &str| section == s || section.starts_with(&format!("{s} #"));
        if let Some(x) = arg(v, "--hex-dump=").or_else(|| arg(v, "--string-dump=")) {
            return sec(x);
        }
        if let Some(x) = arg(v, "--section=") {
            // objdump's disassembly: the section's bytes, and with --line-numbers the
            // source file and line of each instruction, which come from the DWARF line
            // table (a build path there changes the listing of identical code).
            let lines = v.contains("--line-numbers")
                && (sec(".debug_line")
                    || sec(".debug_line_str")
                    || section.starts_with("DWARF") && field.starts_with("line "));
            return sec(x) || lines;
        }
        if let Some(x) = arg(v, "--debug-dump=") {
            let dwarf = section.starts_with("DWARF");
            return match x {
                "info" => sec(".debug_info") || dwarf,
                "rawline" | "decodedline" | "line" => {
                    sec(".debug_line") || (dwarf && field.contains("line "))
                }
                "frames" | "frames-interp" => sec(".eh_frame") || sec(".debug_frame"),
                "str" => sec(".debug_str") || dwarf,
                "line_str" => sec(".debug_line_str") || dwarf,
                "Ranges" | "ranges" => sec(".debug_ranges") || sec(".debug_rnglists"),
                "loc" => sec(".debug_loc") || sec(".debug_loclists"),
                other => section.starts_with(&format!(".debug_{other}")),
            };
        }
        let header = matches!(
            section,
            "ELF header" | "Mach-O header" | "COFF header" | "optional header"
        );
        if v.contains("--file-header") {
            return header;
        }
        if v.contains("--program-header") || v.contains("--segments") {
            return section.starts_with("segment ");
        }
        if v.contains("--sections") || v.contains("--section-headers") {
            return field.starts_with("section ")
                || matches!(d.kind.as_str(), "added" | "removed") && section.starts_with('.');
        }
        if v.contains("--symbols") || v.contains("--dyn-syms") || v.starts_with("nm ") {
            return matches!(
                section,
                "symbols" | ".symtab" | ".dynsym" | ".strtab" | ".dynstr"
            );
        }
        if v.contains("--notes") {
            return section.starts_with(".note");
        }
        if v.contains("--relocs") {
            return section.starts_with(".rel");
        }
        if v.contains("--dynamic") {
            return section == ".dynamic";
        }
        if v.contains("--version-info") {
            return section.starts_with(".gnu.version");
        }
        if v.starts_with("strings ") || v.starts_with("objdump ") || v.starts_with("otool ") {
            // A view of the whole object: any difference of content in it.
            return matches!(
                d.kind.as_str(),
                "bytes" | "string" | "dwarf" | "text" | "symbol"
            );
        }
        // A view det has no mapping for: any difference here.
        true
    }
}

/// The value of `--flag=VALUE` in a command line.
fn arg<'a>(cmd: &'a str, flag: &str) -> Option<&'a str> {
    let at = cmd.find(flag)? + flag.len();
    cmd[at..].split_whitespace().next()
}

fn sh(dir: &Path, prog: &str, args: &[&str]) -> Result<()> {
    let st = Command::new(prog).args(args).current_dir(dir).status()?;
    if !st.success() {
        bail!("{prog} {args:?} failed in {}", dir.display());
    }
    Ok(())
}

fn crate_pair(ws: &Path, t: &Path) -> Result<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for dir in ["a", "a-longer-checkout-b"] {
        let d = t.join(dir).join("rust-cc-sys");
        std::fs::create_dir_all(&d)?;
        sh(
            ws,
            "cp",
            &[
                "-a",
                ws.join("testdata/rust-cc-sys/.").to_str().unwrap(),
                d.to_str().unwrap(),
            ],
        )?;
        let st = Command::new("cargo")
            .args(["build", "--quiet", "--examples"])
            .current_dir(&d)
            .env("CARGO_TARGET_DIR", d.join("target"))
            .status()?;
        if !st.success() {
            bail!("cargo build of rust-cc-sys failed");
        }
        out.push(d.join("target/debug/examples/stamp"));
    }
    Ok((out[0].clone(), out[1].clone()))
}

fn so_pair(t: &Path) -> Result<(PathBuf, PathBuf)> {
    let d = t.join("so");
    std::fs::create_dir_all(&d)?;
    // 24 MiB of pseudo-random read-only data and some code: a large real shared library.
    let mut blob = vec![0u8; 24 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for c in blob.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
    }
    std::fs::write(d.join("blob.bin"), &blob)?;
    std::fs::write(
        d.join("lib.c"),
        "__asm__(\".section .rodata\\n.global blob\\nblob: .incbin \\\"blob.bin\\\"\\n.previous\\n\");\n\
         extern const unsigned char blob[];\n\
         const char *greeting(void) { return \"hello, reproducible world\"; }\n\
         unsigned char at(unsigned long i) { return blob[i]; }\n",
    )?;
    sh(
        &d,
        "gcc",
        &["-shared", "-fPIC", "-O2", "-g", "-o", "liba.so", "lib.c"],
    )?;
    let mut bytes = std::fs::read(d.join("liba.so"))?;
    let at = bytes
        .windows(5)
        .position(|w| w == b"hello")
        .context("no greeting")?;
    bytes[at] = b'j';
    bytes[at + 1] = b'E';
    std::fs::write(d.join("libb.so"), &bytes)?;
    Ok((d.join("liba.so"), d.join("libb.so")))
}

fn wheel_pair(t: &Path) -> Result<(PathBuf, PathBuf)> {
    let d = t.join("whl");
    std::fs::create_dir_all(&d)?;
    // 400 modules; side B is written a day later (every mtime differs) and one module changed.
    let script = r#"
import sys, zipfile
for side, day, changed in (("a", 1, "x = 1\n"), ("b", 2, "x = 2\n")):
    with zipfile.ZipFile(f"demo-1.0-py3-none-any-{side}.whl", "w", zipfile.ZIP_DEFLATED) as z:
        names = []
        for i in range(400):
            n = f"demo/m{i:03}.py"
            body = (changed if i == 7 else f"def f{i}():\n    return {i}\n") * 20
            z.writestr(zipfile.ZipInfo(n, (2024, 1, day, 12, 0, 0)), body, zipfile.ZIP_DEFLATED)
            names.append(n)
        rec = "".join(f"{n},,\n" for n in names) + "demo-1.0.dist-info/RECORD,,\n"
        z.writestr(zipfile.ZipInfo("demo-1.0.dist-info/RECORD", (2024, 1, day, 12, 0, 0)), rec)
"#;
    sh(&d, "python3", &["-c", script])?;
    Ok((
        d.join("demo-1.0-py3-none-any-a.whl"),
        d.join("demo-1.0-py3-none-any-b.whl"),
    ))
}
