//! Wall-clock hooks: `clock_gettime`, `gettimeofday`, `time`, `timespec_get`.
//!
//! Only the realtime clocks change (`CLOCK_REALTIME`, `CLOCK_REALTIME_COARSE`,
//! `CLOCK_TAI`); monotonic, boot-time and CPU clocks always fall through, so `sleep`,
//! `timeout`, progress bars and cargo's timings keep working. Before the real
//! functions are resolved these hooks make the system call themselves and never call
//! `dlsym` (see `real`): an allocator may be initializing under them.

use crate::config::{self, TimeMode};
use crate::log::{Hook, count};
use crate::real::{self, as_fn};
use crate::sys::{self, Timespec, Timeval, c_int, c_void, time_t};

type ClockGettimeFn = unsafe extern "C" fn(c_int, *mut Timespec) -> c_int;
type GettimeofdayFn = unsafe extern "C" fn(*mut Timeval, *mut c_void) -> c_int;
type TimeFn = unsafe extern "C" fn(*mut time_t) -> time_t;
type TimespecGetFn = unsafe extern "C" fn(*mut Timespec, c_int) -> c_int;

fn is_realtime(clock: c_int) -> bool {
    matches!(
        clock,
        sys::CLOCK_REALTIME | sys::CLOCK_REALTIME_COARSE | sys::CLOCK_TAI
    )
}

/// The real clock: libc's `clock_gettime` (vDSO) when resolved, else the system call.
///
/// # Safety
/// `tp` must be valid for writing or null (then -1/EFAULT).
unsafe fn real_clock_gettime(clock: c_int, tp: *mut Timespec) -> c_int {
    if let Some(a) = real::CLOCK_GETTIME.get() {
        // SAFETY: forwarded unchanged to the real function.
        return unsafe { as_fn!(a, ClockGettimeFn)(clock, tp) };
    }
    // SAFETY: the kernel validates `tp`.
    let r = unsafe { sys::syscall(sys::nr::CLOCK_GETTIME, clock as sys::c_long, tp) };
    if r < 0 {
        sys::set_errno((-r) as c_int);
        return -1;
    }
    r as c_int
}

/// Read a real clock into a value (zero if it fails, which it does not for the
/// clocks the shim asks for).
pub fn real_clock(clock: c_int) -> Timespec {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let saved = sys::errno();
    // SAFETY: `ts` is a valid Timespec.
    unsafe { real_clock_gettime(clock, &mut ts) };
    sys::set_errno(saved);
    ts
}

/// The faked time for `clock`, or None when time is not faked in this process.
fn fake_now(s: &config::Settings, clock: c_int) -> Option<Timespec> {
    let (sec, nsec) = match s.time {
        TimeMode::Off => return None,
        TimeMode::Frozen(e) => (e, 0),
        TimeMode::Advancing(e) => {
            let m = real_clock(sys::CLOCK_MONOTONIC);
            let (bs, bn) = s.mono_base;
            let mut ds = m.tv_sec.wrapping_sub(bs);
            let mut dn = m.tv_nsec.wrapping_sub(bn);
            if dn < 0 {
                dn = dn.wrapping_add(1_000_000_000);
                ds = ds.wrapping_sub(1);
            }
            (e.saturating_add(ds.max(0)), if ds < 0 { 0 } else { dn })
        }
    };
    let sec = if clock == sys::CLOCK_TAI {
        sec.saturating_add(s.tai_offset)
    } else {
        sec
    };
    Some(Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    })
}

/// # Safety
/// C contract of `clock_gettime(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_gettime(clock: c_int, tp: *mut Timespec) -> c_int {
    if is_realtime(clock) {
        let s = config::get();
        count(s, Hook::ClockGettime);
        if let Some(now) = s.and_then(|s| fake_now(s, clock)) {
            if tp.is_null() {
                sys::set_errno(sys::EFAULT);
                return -1;
            }
            // SAFETY: the caller passed a writable timespec.
            unsafe { tp.write(now) };
            return 0;
        }
    }
    // SAFETY: forwarded unchanged.
    unsafe { real_clock_gettime(clock, tp) }
}

/// # Safety
/// C contract of `gettimeofday(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gettimeofday(tv: *mut Timeval, tz: *mut c_void) -> c_int {
    let s = config::get();
    count(s, Hook::Gettimeofday);
    let real = real::GETTIMEOFDAY.get();
    if let Some(now) = s.and_then(|s| fake_now(s, sys::CLOCK_REALTIME)) {
        if !tz.is_null() {
            // The obsolete time zone argument still comes from the real function.
            if let Some(a) = real {
                // SAFETY: tz is the caller's; tv is null so only tz is written.
                unsafe { as_fn!(a, GettimeofdayFn)(core::ptr::null_mut(), tz) };
            }
        }
        if !tv.is_null() {
            // SAFETY: the caller passed a writable timeval.
            unsafe {
                tv.write(Timeval {
                    tv_sec: now.tv_sec,
                    tv_usec: now.tv_nsec / 1000,
                })
            };
        }
        return 0;
    }
    if let Some(a) = real {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, GettimeofdayFn)(tv, tz) };
    }
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is valid.
    let r = unsafe { real_clock_gettime(sys::CLOCK_REALTIME, &mut ts) };
    if r == 0 && !tv.is_null() {
        // SAFETY: the caller passed a writable timeval.
        unsafe {
            tv.write(Timeval {
                tv_sec: ts.tv_sec,
                tv_usec: ts.tv_nsec / 1000,
            })
        };
    }
    r
}

/// # Safety
/// C contract of `time(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn time(t: *mut time_t) -> time_t {
    let s = config::get();
    count(s, Hook::Time);
    let sec = if let Some(now) = s.and_then(|s| fake_now(s, sys::CLOCK_REALTIME)) {
        now.tv_sec
    } else if let Some(a) = real::TIME.get() {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, TimeFn)(t) };
    } else {
        real_clock(sys::CLOCK_REALTIME).tv_sec
    };
    if !t.is_null() {
        // SAFETY: the caller passed a writable time_t.
        unsafe { t.write(sec) };
    }
    sec
}

/// # Safety
/// C contract of `timespec_get(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn timespec_get(ts: *mut Timespec, base: c_int) -> c_int {
    let s = config::get();
    if base == sys::TIME_UTC {
        count(s, Hook::TimespecGet);
        if let Some(now) = s.and_then(|s| fake_now(s, sys::CLOCK_REALTIME)) {
            if ts.is_null() {
                return 0;
            }
            // SAFETY: the caller passed a writable timespec.
            unsafe { ts.write(now) };
            return base;
        }
    }
    if let Some(a) = real::TIMESPEC_GET.get() {
        // SAFETY: forwarded unchanged.
        return unsafe { as_fn!(a, TimespecGetFn)(ts, base) };
    }
    if base != sys::TIME_UTC || ts.is_null() {
        return 0;
    }
    // SAFETY: ts is the caller's writable timespec.
    if unsafe { real_clock_gettime(sys::CLOCK_REALTIME, ts) } == 0 {
        base
    } else {
        0
    }
}
