//! Fuzz the pe parser: the input as a PE image or COFF object, through the whole scan (parser, detectors, children).
#![no_main]

use det_common::artifact::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format: Format = match data.first() {
        Some(b'M') => Format::Pe,
        _ => Format::Coff,
    };
    det_fuzz::scan_as(format, data);
});
