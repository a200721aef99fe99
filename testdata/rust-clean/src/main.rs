//! A reproducible program: no clock, no paths, no hash-order output.

use std::collections::BTreeMap;

fn main() {
    let mut counts = BTreeMap::new();
    for word in "the quick brown fox jumps over the lazy dog".split(' ') {
        *counts.entry(word).or_insert(0u32) += 1;
    }
    for (word, n) in &counts {
        println!("{word} {n}");
    }
}
