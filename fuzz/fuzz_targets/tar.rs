//! Fuzz the tar parser: the input as a tar archive, through the whole scan (parser, detectors, children).
#![no_main]

use det_common::artifact::{Bytes, Format, Limits, Node};
use det_common::detect::{ScanOptions, scan_node};
use det_common::finding::Location;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format: Format = Format::Tar;
    // The format is forced, not detected: the parser must cope with any bytes.
    let node = Node {
        name: "fuzz".into(),
        format,
        meta: Default::default(),
        data: Bytes::from_vec(data.to_vec()),
    };
    // Small limits keep libFuzzer's RSS limit out of the way; the bounds are what is tested.
    let opts = ScanOptions {
        limits: Limits {
            max_decompressed: 16 << 20,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let mut out = Vec::new();
    scan_node(&node, &Location::file("fuzz"), None, &opts, 0, &mut out);
});
