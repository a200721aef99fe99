include!(concat!(env!("OUT_DIR"), "/generated.rs"));

fn main() {
    println!("data lives in {DATA_DIR}");
}
