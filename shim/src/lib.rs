//! libdetshim: an `LD_PRELOAD` library that normalizes (det-build) or perturbs
//! (det-verify) what a build can observe of its environment: the wall-clock time, the
//! host name, the order of directory listings and, on request, the process id and
//! libc's random numbers. Settings come from `DET_SHIM_*` environment variables; every
//! hook falls through to the real libc function when its setting is off.
//! `shim/README.md` is the full reference; in short:
//!
//! - `DET_SHIM_TIME=<epoch>` (frozen) or `<epoch>+` (advancing from load): the realtime
//!   clocks in `clock_gettime`, `gettimeofday`, `time`, `timespec_get`. Monotonic and CPU
//!   clocks are never touched.
//! - `DET_SHIM_HOSTNAME`, `DET_SHIM_DOMAINNAME`, `DET_SHIM_UNAME_RELEASE`,
//!   `DET_SHIM_UNAME_VERSION`: `uname`, `gethostname`, `getdomainname`.
//! - `DET_SHIM_READDIR=sorted|reverse|shuffle:<seed>`: the order of `readdir` & co.
//! - Opt-in `DET_SHIM_PID=<n>` (`getpid`) and `DET_SHIM_RANDOM=<seed>` (`rand`,
//!   `random`, `srand`, `srandom`, `getrandom`, `getentropy`): off by default because
//!   processes use pids and random bytes to stay apart (temporary file names, lock
//!   files); equal values in parallel processes make them collide.
//! - `DET_SHIM_EXCLUDE=<prog,...>`: processes left alone; `DET_SHIM_LOG=<file>`: one
//!   line per process and hook with its call count, appended at exit (see `log`).
//!
//! Out of reach: static binaries (zig's own, musl-static tools), Go, direct system
//! calls and the vDSO, glibc's internal calls (`glob`, `fts`, `mktemp`), file times the
//! kernel sets, setuid and 32-bit programs.
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
