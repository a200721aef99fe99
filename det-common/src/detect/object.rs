//! (in progress)
use super::ScanOptions;
use crate::artifact::Node;
use crate::finding::{Finding, Location};

pub(crate) fn detect(_node: &Node, _loc: &Location, _opts: &ScanOptions, _out: &mut Vec<Finding>) {}
