//! The same report gives the same bytes in every format, whatever order the findings and
//! errors were found in; SARIF fingerprints are stable values.

#[path = "data/report_fixture.rs"]
mod fixture;

use det_common::report::{OutputFormat, RenderOptions, Report, render};
use det_common::rules;
use det_common::{Finding, Location};
use std::time::Instant;

/// A fixed permutation (a small LCG), so a failure reproduces.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut v = items.to_vec();
    let mut state = seed;
    for i in (1..v.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (state >> 33) as usize % (i + 1));
    }
    v
}

#[test]
fn rendering_twice_gives_identical_bytes() {
    let r = fixture::report();
    for f in OutputFormat::ALL {
        for color in [false, true] {
            let opts = RenderOptions {
                color,
                ..RenderOptions::default()
            };
            assert_eq!(render(&r, f, &opts), render(&r, f, &opts), "{f}");
        }
    }
}

#[test]
fn finding_and_error_order_does_not_matter() {
    let base = fixture::report();
    let opts = RenderOptions::default();
    let expected: Vec<String> = OutputFormat::ALL
        .iter()
        .map(|&f| render(&base, f, &opts))
        .collect();
    for seed in [1, 2, 3, 42, 1234567] {
        let mut r = base.clone();
        r.findings = shuffled(&base.findings, seed);
        r.errors = shuffled(&base.errors, seed);
        assert_ne!(r.findings, base.findings, "seed {seed} did not shuffle");
        for (i, &f) in OutputFormat::ALL.iter().enumerate() {
            assert_eq!(render(&r, f, &opts), expected[i], "{f} with seed {seed}");
        }
        // Sorting the model gives the order the renderers use.
        r.sort();
        let mut again = base.clone();
        again.sort();
        assert_eq!(r, again);
    }
}

#[test]
fn findings_differing_only_in_fix_sort_the_same_way() {
    let loc = Location::file("cmd");
    let a = Finding::new(rules::get("cmd-missing-prefix-map"), loc.clone(), "-g").with_fix("A");
    let b = Finding::new(rules::get("cmd-missing-prefix-map"), loc, "-g").with_fix("B");
    let mut r1 = fixture::report();
    r1.findings = vec![a.clone(), b.clone()];
    let mut r2 = r1.clone();
    r2.findings = vec![b, a];
    for f in OutputFormat::ALL {
        assert_eq!(
            render(&r1, f, &RenderOptions::default()),
            render(&r2, f, &RenderOptions::default())
        );
    }
}

#[test]
fn sarif_fingerprints_are_stable_and_ignore_offsets() {
    let fp = |r: &Report| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&render(r, OutputFormat::Sarif, &RenderOptions::default()))
                .unwrap();
        v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                x["partialFingerprints"]["detFinding/v1"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let mut r = fixture::report();
    r.findings = vec![Finding::new(
        rules::get("absolute-path"),
        Location::file("dist/x.whl")
            .member("pkg/_speedups.so")
            .at(".debug_str", Some(0x1a2b)),
        "/home/alice/src/x.c",
    )];
    // Pinned: a change here re-opens every alert on GitHub; bump the key's version if meant.
    assert_eq!(fp(&r), ["8ea06f3c7a249a58f98dc0e633e844a0"]);
    r.findings[0].location.offset = Some(0x2000);
    assert_eq!(
        fp(&r),
        ["8ea06f3c7a249a58f98dc0e633e844a0"],
        "offsets move; the fingerprint must not"
    );
    r.findings[0].evidence = "/home/bob/src/x.c".into();
    assert_ne!(fp(&r), ["8ea06f3c7a249a58f98dc0e633e844a0"]);
    // Every finding of the fixture has its own fingerprint.
    let all = fp(&fixture::report());
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len());
}

/// `cargo test --release -p det-common --test report_determinism -- --ignored --nocapture`
/// prints how long 100 000 findings take in each format.
#[test]
#[ignore = "timing; run in release"]
fn hundred_thousand_findings_render_quickly() {
    let mut r = fixture::report();
    let base = fixture::findings();
    r.findings = (0..100_000)
        .map(|i| {
            let mut f = base[i % base.len()].clone();
            f.location.file = format!("out/{}/{}", i % 997, f.location.file).into();
            f.location.offset = Some(i as u64);
            f
        })
        .collect();
    r.findings = shuffled(&r.findings, 7);
    for f in OutputFormat::ALL {
        let start = Instant::now();
        let out = render(&r, f, &RenderOptions::default());
        eprintln!(
            "{f}: {:.3} s, {} MB",
            start.elapsed().as_secs_f64(),
            out.len() / 1_000_000
        );
    }
}
