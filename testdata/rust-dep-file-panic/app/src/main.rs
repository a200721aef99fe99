fn main() {
    let n = std::env::args().count();
    println!("{}", checked_dep::checked_half(n as u32 * 2));
}
