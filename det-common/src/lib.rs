//! det-common: what cargo-det-build, cargo-det-verify and cargo-det-scan all know.
//!
//! The binaries are thin; rules, findings, reports, file formats, detectors, compiler
//! knowledge, the normalized environment, hashes, toolchains and manifests live here, once.

pub mod artifact;
pub mod atomic_file;
pub mod build;
pub mod cargo_cli;
pub mod cargo_config;
pub mod command;
pub mod detect;
pub mod diff;
pub mod env;
pub mod error;
pub mod finding;
pub mod glob;
pub mod hash;
pub mod input;
pub mod manifest;
pub mod normalize;
pub mod project;
pub mod report;
pub mod rules;
pub mod sandbox;
pub mod scan;
pub mod sorted;
pub mod store;
pub mod test_hook;
pub mod toolchain;
pub mod variation;

pub use error::{Error, Result};
pub use finding::{Finding, Location};
pub use rules::{Category, Rule, Severity};
