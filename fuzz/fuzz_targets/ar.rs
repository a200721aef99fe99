//! Fuzz the ar parser: the input as an ar archive (plain, thin or deb by the first byte), through the whole scan (parser, detectors, children).
#![no_main]

use det_common::artifact::{ArKind, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format: Format = match data.first() {
        Some(0) => Format::Ar(ArKind::Thin),
        Some(1) => Format::Ar(ArKind::Deb),
        _ => Format::Ar(ArKind::Plain),
    };
    det_fuzz::scan_as(format, data);
});
