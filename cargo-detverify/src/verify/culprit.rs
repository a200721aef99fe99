//! Which variation causes each difference: adaptive group testing over the varied set.
//!
//! Every difference starts with the whole varied set as its candidates. A test build
//! varies a subset `T` (half of the largest candidate set still open); each difference
//! present in it keeps `candidates ∩ T`, each absent one keeps `candidates − T`. One test
//! refines every open difference at once, so a culprit costs about log2(#variations)
//! builds and differences sharing one culprit share them. The candidates only ever shrink
//! from the set that was varied: a variation that was off is never blamed, and one left
//! only by elimination is confirmed by a build varying it alone. A difference
//! whose candidates run out (it needs two variations together, or it comes and goes) is
//! reported as unresolved, with the set it was last seen with.

use std::collections::{BTreeMap, BTreeSet};

use det_common::variation::Variation;

/// What the search concluded about one difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// This variation alone makes the difference.
    Culprit(Variation),
    /// No single variation explains it; these were varied when it was last seen.
    Unresolved(BTreeSet<Variation>),
}

/// Search culprits for `signatures`, all present when `varied` was varied. `test(T)`
/// builds with exactly the variations `T` and returns the signatures present;
/// `max_builds` bounds the tests.
pub fn search<S: Ord + Clone>(
    signatures: &BTreeSet<S>,
    varied: &BTreeSet<Variation>,
    max_builds: usize,
    mut test: impl FnMut(&BTreeSet<Variation>) -> anyhow::Result<BTreeSet<S>>,
) -> anyhow::Result<(BTreeMap<S, Verdict>, usize)> {
    let mut open: BTreeMap<S, BTreeSet<Variation>> = signatures
        .iter()
        .map(|s| (s.clone(), varied.clone()))
        .collect();
    let mut last_seen: BTreeMap<S, BTreeSet<Variation>> = signatures
        .iter()
        .map(|s| (s.clone(), varied.clone()))
        .collect();
    // Whether the last step that narrowed a difference's candidates saw it present (a
    // candidate left only by elimination is confirmed by a build of its own).
    let mut seen_last: BTreeMap<S, bool> = BTreeMap::new();
    let mut to_confirm: BTreeMap<S, Variation> = BTreeMap::new();
    let mut done: BTreeMap<S, Verdict> = BTreeMap::new();
    let mut builds = 0;
    loop {
        // Close what is decided.
        let decided: Vec<S> = open
            .iter()
            .filter(|(_, c)| c.len() <= 1)
            .map(|(s, _)| s.clone())
            .collect();
        for s in decided {
            let c = open.remove(&s).unwrap_or_default();
            match c.first() {
                Some(v) if seen_last.get(&s).copied().unwrap_or(varied.len() == 1) => {
                    done.insert(s, Verdict::Culprit(*v));
                }
                Some(v) => {
                    to_confirm.insert(s, *v);
                }
                None => {
                    let seen = last_seen.remove(&s).unwrap_or_default();
                    done.insert(s, Verdict::Unresolved(seen));
                }
            }
        }
        // The largest open candidate set (the first in order among equals) is halved.
        let Some(largest) = open
            .values()
            .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.cmp(a)))
            .cloned()
        else {
            break;
        };
        if builds >= max_builds {
            for (s, c) in std::mem::take(&mut open) {
                done.insert(s, Verdict::Unresolved(c));
            }
            break;
        }
        let half: BTreeSet<Variation> = largest.iter().take(largest.len() / 2).copied().collect();
        let present = test(&half)?;
        builds += 1;
        for (s, c) in open.iter_mut() {
            let seen = present.contains(s);
            if seen {
                *c = c.intersection(&half).copied().collect();
                last_seen.insert(s.clone(), half.clone());
            } else {
                *c = c.difference(&half).copied().collect();
            }
            seen_last.insert(s.clone(), seen);
        }
    }
    // Candidates left by elimination: one build per variation, shared by its differences.
    let mut by_variation: BTreeMap<Variation, Vec<S>> = BTreeMap::new();
    for (s, v) in to_confirm {
        by_variation.entry(v).or_default().push(s);
    }
    for (v, sigs) in by_variation {
        let present = if builds < max_builds {
            builds += 1;
            test(&BTreeSet::from([v]))?
        } else {
            BTreeSet::new()
        };
        for s in sigs {
            let verdict = if present.contains(&s) {
                Verdict::Culprit(v)
            } else {
                Verdict::Unresolved(last_seen.remove(&s).unwrap_or_default())
            };
            done.insert(s, verdict);
        }
    }
    Ok((done, builds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Variation::*;

    /// A build whose differences each follow one variation (or two together).
    fn oracle(
        causes: &[(&'static str, &[Variation])],
    ) -> impl FnMut(&BTreeSet<Variation>) -> anyhow::Result<BTreeSet<&'static str>> {
        let causes: Vec<(&'static str, Vec<Variation>)> =
            causes.iter().map(|(s, v)| (*s, v.to_vec())).collect();
        move |t| {
            Ok(causes
                .iter()
                .filter(|(_, need)| need.iter().all(|v| t.contains(v)))
                .map(|(s, _)| *s)
                .collect())
        }
    }

    #[test]
    fn finds_each_culprit_in_about_log2_builds() {
        let all = Variation::default_set();
        assert_eq!(all.len(), 9);
        for culprit in all.clone() {
            let sigs = BTreeSet::from(["rodata"]);
            let (v, builds) = search(&sigs, &all, 20, oracle(&[("rodata", &[culprit])])).unwrap();
            assert_eq!(v["rodata"], Verdict::Culprit(culprit));
            // log2(9) halvings, and one build alone when the last step eliminated.
            assert!(builds <= 5, "{culprit}: {builds} builds");
        }
        // Two culprits, three differences: time, build-path, build-path.
        let sigs = BTreeSet::from(["a", "b", "c"]);
        let (v, builds) = search(
            &sigs,
            &all,
            20,
            oracle(&[("a", &[Time]), ("b", &[BuildPath]), ("c", &[BuildPath])]),
        )
        .unwrap();
        assert_eq!(v["a"], Verdict::Culprit(Time));
        assert_eq!(v["b"], Verdict::Culprit(BuildPath));
        assert_eq!(v["c"], Verdict::Culprit(BuildPath));
        assert!(builds <= 8, "{builds}");
    }

    #[test]
    fn never_blames_a_variation_that_was_off() {
        // The difference follows the host, which was not varied: no variation explains it,
        // so none is blamed.
        let varied = BTreeSet::from([Time, BuildPath, FileOrder]);
        let sigs = BTreeSet::from(["x"]);
        let (v, _) = search(&sigs, &varied, 20, oracle(&[("x", &[Host])])).unwrap();
        assert!(matches!(&v["x"], Verdict::Unresolved(_)), "{v:?}");
        // One variation varied: it is the only candidate, blamed without a build.
        let (v, builds) = search(
            &sigs,
            &BTreeSet::from([Time]),
            20,
            oracle(&[("x", &[Time])]),
        )
        .unwrap();
        assert_eq!((v["x"].clone(), builds), (Verdict::Culprit(Time), 0));
    }

    #[test]
    fn a_difference_needing_two_variations_is_unresolved_not_misblamed() {
        let all = Variation::default_set();
        let sigs = BTreeSet::from(["both"]);
        let (v, _) = search(&sigs, &all, 20, oracle(&[("both", &[Time, Host])])).unwrap();
        match &v["both"] {
            Verdict::Unresolved(s) => assert!(s.contains(&Time) && s.contains(&Host), "{s:?}"),
            other => panic!("{other:?}"),
        }
    }
}
