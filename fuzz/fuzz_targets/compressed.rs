//! Fuzz the stream decoders: the input as a gzip, xz, zstd or bzip2 stream, through the whole scan.
#![no_main]

use det_common::artifact::{Bytes, Format, Limits, Node};
use det_common::detect::{ScanOptions, scan_node};
use det_common::finding::Location;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the format; the magic is prefixed so that the fuzzer spends its
    // time past the header check.
    let (format, magic): (Format, &[u8]) = match data.first().copied().unwrap_or(0) % 4 {
        0 => (Format::Gzip, &[0x1f, 0x8b, 8]),
        1 => (Format::Xz, &[0xfd, b'7', b'z', b'X', b'Z', 0]),
        2 => (Format::Zstd, &[0x28, 0xb5, 0x2f, 0xfd]),
        _ => (Format::Bzip2, b"BZh"),
    };
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(data.get(1..).unwrap_or(&[]));
    let node = Node {
        name: "fuzz".into(),
        format,
        meta: Default::default(),
        data: Bytes::from_vec(bytes),
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
