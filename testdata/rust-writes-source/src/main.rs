mod generated_version;

fn main() {
    println!("{}", generated_version::VERSION);
}
