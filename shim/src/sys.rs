//! The C ABI the shim speaks: glibc types, constants and the few libc functions it
//! calls directly, declared by hand so the shim has no dependency and `rustc` can
//! compile it alone (see the crate docs, "Shipping"). Layouts are those of 64-bit
//! Linux with glibc (x86_64, aarch64), where `dirent` and `dirent64` are one type.

#![allow(non_camel_case_types)]

pub use core::ffi::{c_char, c_int, c_long, c_uint, c_void};

pub type time_t = i64;
pub type size_t = usize;
pub type ssize_t = isize;

#[repr(C)]
pub struct Timespec {
    pub tv_sec: time_t,
    pub tv_nsec: c_long,
}

#[repr(C)]
pub struct Timeval {
    pub tv_sec: time_t,
    pub tv_usec: c_long,
}

/// `struct utsname` (glibc: six fields of 65 bytes, the last one a GNU extension).
#[repr(C)]
pub struct Utsname {
    pub sysname: [c_char; 65],
    pub nodename: [c_char; 65],
    pub release: [c_char; 65],
    pub version: [c_char; 65],
    pub machine: [c_char; 65],
    pub domainname: [c_char; 65],
}

/// `struct dirent64` (and `struct dirent` on 64-bit glibc).
#[repr(C)]
pub struct Dirent64 {
    pub d_ino: u64,
    pub d_off: i64,
    pub d_reclen: u16,
    pub d_type: u8,
    pub d_name: [c_char; 256],
}

/// Offset of `d_name` in [`Dirent64`].
pub const DIRENT_NAME_OFFSET: usize = 19;

/// glibc's opaque `DIR`.
pub enum Dir {}

pub const RTLD_NEXT: *mut c_void = -1isize as *mut c_void;

pub const CLOCK_REALTIME: c_int = 0;
pub const CLOCK_MONOTONIC: c_int = 1;
pub const CLOCK_REALTIME_COARSE: c_int = 5;
pub const CLOCK_TAI: c_int = 11;
pub const TIME_UTC: c_int = 1;

pub const EFAULT: c_int = 14;
pub const EINVAL: c_int = 22;
pub const EIO: c_int = 5;
pub const ENAMETOOLONG: c_int = 36;

pub const O_WRONLY: c_int = 0o1;
pub const O_CREAT: c_int = 0o100;
pub const O_APPEND: c_int = 0o2000;
pub const O_CLOEXEC: c_int = 0o2000000;

#[cfg(target_arch = "x86_64")]
pub mod nr {
    pub const CLOCK_GETTIME: super::c_long = 228;
    pub const UNAME: super::c_long = 63;
    pub const GETPID: super::c_long = 39;
    pub const GETRANDOM: super::c_long = 318;
}
#[cfg(target_arch = "aarch64")]
pub mod nr {
    pub const CLOCK_GETTIME: super::c_long = 113;
    pub const UNAME: super::c_long = 160;
    pub const GETPID: super::c_long = 172;
    pub const GETRANDOM: super::c_long = 278;
}

unsafe extern "C" {
    pub fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
    pub fn syscall(number: c_long, ...) -> c_long;
    pub fn malloc(size: size_t) -> *mut c_void;
    pub fn realloc(ptr: *mut c_void, size: size_t) -> *mut c_void;
    pub fn free(ptr: *mut c_void);
    pub fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    pub fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t;
    pub fn close(fd: c_int) -> c_int;
    pub fn getcwd(buf: *mut c_char, size: size_t) -> *mut c_char;
    pub fn readlink(path: *const c_char, buf: *mut c_char, size: size_t) -> ssize_t;
    pub fn __errno_location() -> *mut c_int;
    pub fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> c_int;
    pub static environ: *const *const c_char;
    pub static program_invocation_short_name: *const c_char;
}

#[inline]
pub fn errno() -> c_int {
    // SAFETY: __errno_location always returns this thread's errno slot.
    unsafe { *__errno_location() }
}

#[inline]
pub fn set_errno(e: c_int) {
    // SAFETY: as above.
    unsafe { *__errno_location() = e }
}

/// Length of a NUL-terminated string, at most `max` bytes looked at.
///
/// # Safety
/// `p` must be readable up to its NUL or `max` bytes.
pub unsafe fn strnlen(p: *const c_char, max: usize) -> usize {
    let mut n = 0;
    // SAFETY: the caller guarantees the bytes up to the NUL (or max) are readable.
    while n < max && unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
}
