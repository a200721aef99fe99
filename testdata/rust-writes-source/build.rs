// Against cargo's rule: writes into the source tree instead of OUT_DIR.
use std::{env, fs, path::Path};

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap();
    let target = Path::new(&dir).join("src/generated_version.rs");
    if let Err(e) = fs::write(&target, "pub const VERSION: &str = \"1.0\";\n") {
        panic!("writing {}: {e}", target.display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}
