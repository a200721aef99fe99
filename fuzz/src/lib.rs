//! The one body every fuzz target shares: scan the input as a given format, with the format
//! forced rather than detected, so that each parser must cope with any bytes.

use det_common::artifact::{Bytes, Format, Limits, Node};
use det_common::detect::{ScanOptions, scan_node};
use det_common::finding::Location;

/// Scan `data` as `format` through the whole pipeline (parser, detectors, children).
pub fn scan_as(format: Format, data: &[u8]) {
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
}
