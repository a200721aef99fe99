//! Fuzz the stream decoders: the input as a gzip, xz, zstd or bzip2 stream, through the whole scan.
#![no_main]

use det_common::artifact::Format;
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
    det_fuzz::scan_as(format, &bytes);
});
