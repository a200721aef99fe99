/// Half of an even number; panics (naming this file, through `file!()`) on an odd one.
#[inline(never)]
pub fn checked_half(n: u32) -> u32 {
    if n % 2 != 0 {
        panic!("{}: odd input {n}", file!());
    }
    n / 2
}
