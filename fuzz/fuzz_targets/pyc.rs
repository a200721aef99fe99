//! Fuzz the pyc parser: the input as a .pyc, through the whole scan (parser, detectors, children).
#![no_main]

use det_common::artifact::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format: Format = Format::Pyc;
    det_fuzz::scan_as(format, data);
});
