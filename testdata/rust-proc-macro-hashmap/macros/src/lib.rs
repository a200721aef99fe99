//! Leak: items are emitted in HashMap iteration order, which is seeded randomly per process.

use proc_macro::{TokenStream, TokenTree};
use std::collections::HashMap;

/// `word_table!(alpha beta gamma)` expands to
/// `pub const WORDS: &[(&str, usize)] = &[("gamma", 2), ("alpha", 0), ...];`
#[proc_macro]
pub fn word_table(input: TokenStream) -> TokenStream {
    let mut index = HashMap::new();
    for (i, tt) in input.into_iter().enumerate() {
        if let TokenTree::Ident(ident) = tt {
            index.insert(ident.to_string(), i);
        }
    }
    let mut body = String::new();
    for (word, i) in &index {
        body.push_str(&format!("({word:?}, {i}usize), "));
    }
    format!("pub const WORDS: &[(&str, usize)] = &[{body}];")
        .parse()
        .unwrap()
}
