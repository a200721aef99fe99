fn main() {
    println!("{}", rust_cc_sys::build_date());
}
