//! The fuzz crate's input builders (not built by the workspace: cargo-fuzz needs nightly)
//! compiled and run here on pseudo-random inputs through the scan, so that they keep
//! compiling and keep reaching the detectors they exist for (issue 7: a build-id note with
//! an empty descriptor panicked, and the raw-bytes ELF target never produced one).

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod det_fuzz;

use det_common::artifact::{Bytes, Format, Node};
use det_common::detect::{ScanOptions, scan_node};
use det_common::finding::Location;

#[test]
fn structured_elf_inputs_reach_the_build_id_detector_without_panicking() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut empty_ids = 0;
    let mut ids = 0;
    for _ in 0..3000 {
        let input: Vec<u8> = (0..96)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let elf = det_fuzz::elf_from(&input);
        let node = Node::new("fuzz", Bytes::from_vec(elf));
        assert_eq!(node.format, Format::Elf);
        let mut out = Vec::new();
        scan_node(
            &node,
            &Location::file("fuzz"),
            None,
            &ScanOptions::default(),
            0,
            &mut out,
        );
        empty_ids += out
            .iter()
            .filter(|f| {
                f.evidence
                    .contains("build-id note with an empty descriptor")
            })
            .count();
        ids += out
            .iter()
            .filter(|f| f.rule.id.starts_with("elf-build-id"))
            .count();
        det_fuzz::scan_as(Format::Elf, &input);
    }
    assert!(empty_ids > 0, "no input made an empty build-id descriptor");
    assert!(ids > 0, "no input made a build-id");
}
