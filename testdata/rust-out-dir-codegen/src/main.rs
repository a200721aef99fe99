include!(concat!(env!("OUT_DIR"), "/generated.rs"));

fn main() {
    println!("{} bytes from {}", TABLE.len(), TABLE_PATH);
}
