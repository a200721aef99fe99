//! Fuzz the elf parser and its detectors: the input as an ELF file (the parser sees any
//! bytes), or, when its first byte is odd, as the sections of a well-formed ELF built by
//! `det_fuzz::elf_from` (the build-id, `.comment`, DWARF and compressed-section detectors see
//! nearly every input). Both go through the whole scan.
#![no_main]

use det_common::artifact::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((&b, rest)) if b & 1 == 1 => det_fuzz::scan_as(Format::Elf, &det_fuzz::elf_from(rest)),
        _ => det_fuzz::scan_as(Format::Elf, data),
    }
});
