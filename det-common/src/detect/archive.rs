//! (in progress)
use super::ScanOptions;
use crate::artifact::{Format, Node};
use crate::finding::{Finding, Location};

pub(crate) fn detect(_node: &Node, _loc: &Location, _opts: &ScanOptions, _out: &mut Vec<Finding>) {}

pub(crate) fn detect_member(
    _node: &Node,
    _loc: &Location,
    _parent: Format,
    _opts: &ScanOptions,
    _out: &mut Vec<Finding>,
) {
}
