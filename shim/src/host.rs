//! Host hooks: `uname`, `gethostname`, `getdomainname` and (opt-in) `getpid`.
//!
//! `DET_SHIM_HOSTNAME` replaces the node name everywhere it is read through libc;
//! `DET_SHIM_DOMAINNAME`, `DET_SHIM_UNAME_RELEASE` and `DET_SHIM_UNAME_VERSION` replace
//! the NIS domain name and the kernel release and version in `uname`. `sysname` and
//! `machine` are never changed: they describe the ABI the build really targets.

use crate::config::{self, Name};
use crate::log::{Hook, count};
use crate::real::{self, as_fn};
use crate::sys::{self, Utsname, c_char, c_int, size_t};

type UnameFn = unsafe extern "C" fn(*mut Utsname) -> c_int;
type NameFn = unsafe extern "C" fn(*mut c_char, size_t) -> c_int;
type GetpidFn = unsafe extern "C" fn() -> c_int;

fn put(field: &mut [c_char; 65], name: &Name) {
    if name.set {
        for (d, s) in field.iter_mut().zip(name.with_nul()) {
            *d = *s as c_char;
        }
    }
}

/// The real `uname`, or the system call before the real one is resolved.
unsafe fn real_uname(buf: *mut Utsname) -> c_int {
    if let Some(a) = real::UNAME.get() {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, UnameFn)(buf) };
    }
    // SAFETY: the kernel validates buf.
    let r = unsafe { sys::syscall(sys::nr::UNAME, buf) };
    if r < 0 {
        sys::set_errno((-r) as c_int);
        return -1;
    }
    0
}

/// # Safety
/// C contract of `uname(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn uname(buf: *mut Utsname) -> c_int {
    let s = config::get();
    count(s, Hook::Uname);
    // SAFETY: forwarded; the fields are then overwritten in place.
    let r = unsafe { real_uname(buf) };
    if r == 0
        && let Some(s) = s
    {
        // SAFETY: the real uname succeeded, so buf is a valid utsname.
        let u = unsafe { &mut *buf };
        put(&mut u.nodename, &s.hostname);
        put(&mut u.domainname, &s.domainname);
        put(&mut u.release, &s.release);
        put(&mut u.version, &s.version);
    }
    r
}

/// Copy `value` (with its NUL) into the caller's buffer as glibc does: truncated to
/// `len`, and `ENAMETOOLONG` when it did not fit (for gethostname).
unsafe fn copy_name(name: *mut c_char, len: size_t, value: &[u8], strict: bool) -> c_int {
    if name.is_null() && len > 0 {
        sys::set_errno(sys::EFAULT);
        return -1;
    }
    let n = value.len().min(len);
    for (i, b) in value.iter().take(n).enumerate() {
        // SAFETY: i < len, the caller's buffer size.
        unsafe { *name.add(i) = *b as c_char };
    }
    if strict && value.len() > len {
        sys::set_errno(sys::ENAMETOOLONG);
        return -1;
    }
    0
}

unsafe fn from_uname(name: *mut c_char, len: size_t, domain: bool) -> c_int {
    let mut u = core::mem::MaybeUninit::<Utsname>::zeroed();
    // SAFETY: u is a valid, zeroed utsname.
    if unsafe { real_uname(u.as_mut_ptr()) } != 0 {
        return -1;
    }
    // SAFETY: initialized by zeroing and by uname.
    let u = unsafe { u.assume_init() };
    let field = if domain { &u.domainname } else { &u.nodename };
    // SAFETY: c_char and u8 have one layout; the field is a 65-byte array.
    let bytes = unsafe { core::slice::from_raw_parts(field.as_ptr() as *const u8, 65) };
    let n = bytes.iter().position(|&b| b == 0).unwrap_or(64);
    // SAFETY: the caller's buffer.
    unsafe { copy_name(name, len, bytes.get(..n + 1).unwrap_or(&[0]), !domain) }
}

/// # Safety
/// C contract of `gethostname(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostname(name: *mut c_char, len: size_t) -> c_int {
    let s = config::get();
    count(s, Hook::Gethostname);
    if let Some(s) = s.filter(|s| s.hostname.set) {
        // SAFETY: the caller's buffer of `len` bytes.
        return unsafe { copy_name(name, len, s.hostname.with_nul(), true) };
    }
    if let Some(a) = real::GETHOSTNAME.get() {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, NameFn)(name, len) };
    }
    // SAFETY: the caller's buffer.
    unsafe { from_uname(name, len, false) }
}

/// # Safety
/// C contract of `getdomainname(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getdomainname(name: *mut c_char, len: size_t) -> c_int {
    let s = config::get();
    count(s, Hook::Getdomainname);
    if let Some(s) = s.filter(|s| s.domainname.set) {
        // SAFETY: the caller's buffer of `len` bytes.
        return unsafe { copy_name(name, len, s.domainname.with_nul(), false) };
    }
    if let Some(a) = real::GETDOMAINNAME.get() {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, NameFn)(name, len) };
    }
    // SAFETY: the caller's buffer.
    unsafe { from_uname(name, len, true) }
}

/// # Safety
/// C contract of `getpid(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getpid() -> c_int {
    let s = config::get();
    count(s, Hook::Getpid);
    if let Some(pid) = s.and_then(|s| s.pid) {
        return pid;
    }
    if let Some(a) = real::GETPID.get() {
        // SAFETY: no arguments.
        return unsafe { as_fn!(a, GetpidFn)() };
    }
    // SAFETY: no arguments.
    unsafe { sys::syscall(sys::nr::GETPID) as c_int }
}
