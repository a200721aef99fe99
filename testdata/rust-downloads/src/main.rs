fn main() {
    println!("built with a download");
}
