// Builds csrc/stamp.c with debug info (-g); cc passes no -ffile-prefix-map.
fn main() {
    cc::Build::new()
        .file("csrc/stamp.c")
        .debug(true)
        .flag("-g")
        .compile("stamp");
    println!("cargo:rerun-if-changed=csrc/stamp.c");
}
