//! Raw binding to the C `stamp` library.

use std::ffi::{c_char, CStr};

extern "C" {
    fn stamp_build_date() -> *const c_char;
}

/// The compile date and time of the C code (`built Nov 23 2026 01:40:00`).
pub fn build_date() -> String {
    // SAFETY: stamp_build_date returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(stamp_build_date()) }
        .to_string_lossy()
        .into_owned()
}
