hashmap_macros::word_table!(alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu);

fn main() {
    for (word, i) in WORDS {
        println!("{i} {word}");
    }
}
