fn main() {
    println!("built at unix time (ns) {}", env!("BUILD_UNIX_TIME"));
}
