//! libdetshim: an `LD_PRELOAD` library that normalizes (det-build) or perturbs
//! (det-verify) what a build can observe of its environment: the wall-clock time, the
//! host name, the order of directory listings and, on request, the process id and
//! libc's random numbers. Settings come from `DET_SHIM_*` environment variables; every
//! hook falls through to the real libc function when its setting is off.
//! See `shim/README.md` for the settings, the guarantees and what the shim cannot reach.
//!
//! Layout: `sys` (the C ABI, declared by hand: no dependency, so `cargo-det-build`'s
//! build script compiles this crate with a single `rustc` call), `real` (resolving the
//! real functions), `config` (settings), `log` (`DET_SHIM_LOG`), and one module per
//! group of hooks: `time`, `host`, `dirs`, `random`.
//!
//! Discipline, because this code runs inside every process of a build:
//! - no panic: no indexing that can fail, no overflowing arithmetic, no `unwrap`; a
//!   panic could not unwind out of an `extern "C"` hook anyway (it would abort the
//!   host process), and the shipped build uses `-C panic=abort`;
//! - no allocation except the directory listings (`dirs`), no lock at all;
//! - nothing from `std` that calls a hooked function (std's time, fs, random would
//!   re-enter the shim's own hooks through the PLT).

#![cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]

mod config;
mod dirs;
mod host;
mod log;
mod random;
mod real;
mod sys;
mod time;

/// Runs when the library is loaded, before `main`: read the settings, resolve every
/// real function (here, not lazily in a hook: see `real`), seed libc's generator when
/// asked, and make the child of a `fork` start its own counts.
extern "C" fn load() {
    real::resolve_all();
    let s = config::get();
    random::seed_libc();
    if s.is_some_and(|s| s.logging()) {
        // SAFETY: registering handlers has no preconditions.
        unsafe { sys::pthread_atfork(None, None, Some(log::reset_in_child)) };
    }
}

/// Runs at `exit`: append the counts to `DET_SHIM_LOG`.
extern "C" fn unload() {
    log::flush();
}

#[used]
#[unsafe(link_section = ".init_array")]
static LOAD: extern "C" fn() = load;

#[used]
#[unsafe(link_section = ".fini_array")]
static UNLOAD: extern "C" fn() = unload;
