//! Opt-in random hooks (`DET_SHIM_RANDOM=<seed>`): `srand`/`srandom` ignore their
//! argument and seed with the shim's seed (the libc generator is also seeded with it
//! when the library loads), `rand`/`random` then follow; `getrandom` and `getentropy`
//! return a stream derived from the seed (splitmix64 over a process-wide counter).
//!
//! Off by default: programs use randomness to stay apart — temporary file names,
//! lock files, hash-table seeds against collisions — and two processes drawing the
//! same "random" names in one directory collide. Use it only to test a suspicion.

use crate::config;
use crate::log::{Hook, count};
use crate::real::{self, as_fn};
use crate::sys::{self, c_int, c_long, c_uint, c_void, size_t, ssize_t};
use core::sync::atomic::{AtomicU64, Ordering};

type RandFn = unsafe extern "C" fn() -> c_int;
type RandomFn = unsafe extern "C" fn() -> c_long;
type SrandFn = unsafe extern "C" fn(c_uint);
type GetrandomFn = unsafe extern "C" fn(*mut c_void, size_t, c_uint) -> ssize_t;
type GetentropyFn = unsafe extern "C" fn(*mut c_void, size_t) -> c_int;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fill `buf` from the seeded stream.
unsafe fn fill(seed: u64, buf: *mut u8, len: usize) {
    let mut i = 0;
    while i < len {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let word = splitmix64(seed ^ splitmix64(n)).to_le_bytes();
        for b in word {
            if i >= len {
                break;
            }
            // SAFETY: i < len, the caller's buffer size.
            unsafe { *buf.add(i) = b };
            i += 1;
        }
    }
}

/// Seed libc's generator with the shim's seed (from the constructor).
pub fn seed_libc() {
    if let Some(seed) = config::get().and_then(|s| s.random)
        && let Some(a) = real::SRANDOM.get_or_resolve()
    {
        // SAFETY: srandom takes any value.
        unsafe { as_fn!(a, SrandFn)(seed as c_uint) };
    }
}

/// # Safety
/// C contract of `rand(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rand() -> c_int {
    count(config::get(), Hook::Rand);
    match real::RAND.get_or_resolve() {
        // SAFETY: no arguments.
        Some(a) => unsafe { as_fn!(a, RandFn)() },
        None => 0,
    }
}

/// # Safety
/// C contract of `random(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn random() -> c_long {
    count(config::get(), Hook::Rand);
    match real::RANDOM.get_or_resolve() {
        // SAFETY: no arguments.
        Some(a) => unsafe { as_fn!(a, RandomFn)() },
        None => 0,
    }
}

unsafe fn seed_with(real: &real::Real, value: c_uint) {
    let s = config::get();
    count(s, Hook::Srand);
    let value = s
        .and_then(|s| s.random)
        .map_or(value, |seed| seed as c_uint);
    if let Some(a) = real.get_or_resolve() {
        // SAFETY: any value is a valid seed.
        unsafe { as_fn!(a, SrandFn)(value) };
    }
}

/// # Safety
/// C contract of `srand(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn srand(seed: c_uint) {
    // SAFETY: forwarded.
    unsafe { seed_with(&real::SRAND, seed) }
}

/// # Safety
/// C contract of `srandom(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn srandom(seed: c_uint) {
    // SAFETY: forwarded.
    unsafe { seed_with(&real::SRANDOM, seed) }
}

/// # Safety
/// C contract of `getrandom(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getrandom(buf: *mut c_void, len: size_t, flags: c_uint) -> ssize_t {
    let s = config::get();
    count(s, Hook::Getrandom);
    if let Some(seed) = s.and_then(|s| s.random) {
        if buf.is_null() && len > 0 {
            sys::set_errno(sys::EFAULT);
            return -1;
        }
        // Like the kernel, one call returns at most 32 MiB.
        let len = len.min(32 << 20);
        // SAFETY: the caller's buffer of at least `len` bytes.
        unsafe { fill(seed, buf as *mut u8, len) };
        return len as ssize_t;
    }
    if let Some(a) = real::GETRANDOM.get() {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, GetrandomFn)(buf, len, flags) };
    }
    // SAFETY: the kernel validates the buffer.
    let r = unsafe { sys::syscall(sys::nr::GETRANDOM, buf, len, flags) };
    if r < 0 {
        sys::set_errno((-r) as c_int);
        return -1;
    }
    r as ssize_t
}

/// # Safety
/// C contract of `getentropy(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getentropy(buf: *mut c_void, len: size_t) -> c_int {
    let s = config::get();
    count(s, Hook::Getentropy);
    if let Some(seed) = s.and_then(|s| s.random) {
        if len > 256 {
            sys::set_errno(sys::EIO);
            return -1;
        }
        if buf.is_null() && len > 0 {
            sys::set_errno(sys::EFAULT);
            return -1;
        }
        // SAFETY: the caller's buffer of `len` bytes.
        unsafe { fill(seed, buf as *mut u8, len) };
        return 0;
    }
    if let Some(a) = real::GETENTROPY.get() {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, GetentropyFn)(buf, len) };
    }
    if len > 256 {
        sys::set_errno(sys::EIO);
        return -1;
    }
    // SAFETY: the kernel validates the buffer.
    let r = unsafe { sys::syscall(sys::nr::GETRANDOM, buf, len, 0 as c_uint) };
    if r < 0 || r as usize != len {
        sys::set_errno(if r < 0 { (-r) as c_int } else { sys::EIO });
        return -1;
    }
    0
}
