//! Fuzz the macho parser: the input as a Mach-O file (thin, or universal by the first byte), through the whole scan (parser, detectors, children).
#![no_main]

use det_common::artifact::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format: Format = match data.first() {
        Some(0xca) => Format::MachOFat,
        _ => Format::MachO,
    };
    det_fuzz::scan_as(format, data);
});
