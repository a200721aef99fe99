//! Decompression bombs: a gzip of 2 GiB of zeros, a zip entry of 1.5 GiB of zeros, and the
//! same zip with headers that lie about the size. Each must stop with a parse-error naming
//! the limit, and the scan's peak memory must stay far below the bombs' size.
//!
//! One test in its own file (its own process), so that the peak RSS it measures is its own.

mod scan_support;
use scan_support::*;

/// Writes the bombs without holding them: raw deflate segments of 16 MiB of zeros, each
/// ended by a full flush (so that they can simply be repeated), then a final empty block.
const MAKE_BOMBS: &str = r#"
import struct, zlib
SEG_MIB = 16
c = zlib.compressobj(9, zlib.DEFLATED, -15)
seg = c.compress(b"\0" * (SEG_MIB << 20)) + c.flush(zlib.Z_FULL_FLUSH)
end = c.flush()
def crc_of_zeros(mib):
    crc, block = 0, b"\0" * (1 << 20)
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    return crc

def deflated(mib):
    return seg * (mib // SEG_MIB) + end

# gzip: 2 GiB of zeros, no name, MTIME 0.
with open("bomb.gz", "wb") as f:
    f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
    f.write(deflated(2048))
    f.write(struct.pack("<II", crc_of_zeros(2048), (2048 << 20) & 0xffffffff))

def zip_with(path, declared):
    data = deflated(1536)
    crc = crc_of_zeros(1536)
    name = b"zeros.bin"
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0x21, crc,
                        len(data), declared, len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(data), declared, len(name), 0, 0, 0, 0, 0, 0) + name
    with open(path, "wb") as f:
        f.write(local + data)
        off = len(local) + len(data)
        f.write(central)
        f.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(central), off, 0))

zip_with("bomb.zip", 1536 << 20)
# Headers that lie: they declare 1000 bytes, so only counting while inflating stops it.
zip_with("liar.zip", 1000)
"#;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn bombs_stop_at_the_limits_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(d, &["python3", "-c", MAKE_BOMBS], &[]);
    let before = peak_rss_kib();
    let errors = |name: &str| -> Vec<(Vec<det_common::finding::Name>, String)> {
        scan(&d.join(name))
            .into_iter()
            .filter(|f| f.rule.id == "parse-error")
            .map(|f| (f.location.container, f.evidence))
            .collect()
    };
    assert_eq!(
        errors("bomb.gz"),
        vec![(
            vec![],
            "gzip stream cut at 1 MiB of output: compression ratio above 1000:1: possible zip bomb (raise the limit with --max-ratio); the part before the cut was scanned".to_string()
        )]
    );
    assert_eq!(
        errors("bomb.zip"),
        vec![(
            vec!["zeros.bin".into()],
            "decompressed size exceeds the 1 GiB limit (raise it with --max-decompressed)"
                .to_string()
        )]
    );
    assert_eq!(
        errors("liar.zip"),
        vec![(
            vec!["zeros.bin".into()],
            "entry cut at 1 MiB of output: compression ratio above 1000:1: possible zip bomb (raise the limit with --max-ratio); the part before the cut was scanned".to_string()
        )]
    );
    let peak = peak_rss_kib();
    // The bombs hold 2 GiB and 1.5 GiB; the scan may use a few MiB for each.
    assert!(
        peak < before + 64 * 1024,
        "peak RSS grew from {before} KiB to {peak} KiB"
    );
}
