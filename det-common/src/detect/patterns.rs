//! (in progress)
use super::ScanOptions;
use crate::finding::{Finding, Location};

/// Absolute paths, dates and UUIDs in arbitrary bytes.
pub fn detect(_data: &[u8], _loc: &Location, _opts: &ScanOptions, _out: &mut Vec<Finding>) {}
