// Leak: the absolute package directory is written into generated code.
use std::{env, fs, path::Path};

fn main() {
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").unwrap();
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("generated.rs");
    fs::write(&out, format!("pub const DATA_DIR: &str = {:?};\n", manifest_dir)).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}
