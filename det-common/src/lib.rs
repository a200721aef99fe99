//! det-common: what cargo-det-build, cargo-det-verify and cargo-det-scan all know.
//!
//! The binaries are thin; rules, findings, reports, file formats, detectors, compiler
//! knowledge, the normalized environment, hashes, toolchains and manifests live here, once.

pub mod artifact;
pub mod error;
pub mod finding;
pub mod rules;

pub use error::{Error, Result};
pub use finding::{Finding, Location};
pub use rules::{Category, Rule, Severity};
