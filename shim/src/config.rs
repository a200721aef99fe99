//! The settings: read once per process from `environ`, without allocating, into a
//! static that is never written again.
//!
//! They are parsed by the ELF constructor, or by the first hook that runs before it
//! (another library's constructor may read the clock first). Parsing touches no
//! hooked function and no allocator, so it is safe from anywhere. A `setenv` after
//! load is not seen: the environment of the process at start decides. A value that
//! does not parse leaves its setting off (the shim never prints: a build's output
//! must not change because of it).

use crate::sys::{self, c_char};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    Off,
    /// `DET_SHIM_TIME=<epoch>`: every read returns this second.
    Frozen(i64),
    /// `DET_SHIM_TIME=<epoch>+`: starts at epoch when the process loads and advances
    /// with `CLOCK_MONOTONIC`.
    Advancing(i64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DirOrder {
    Off,
    Sorted,
    Reverse,
    Shuffle(u64),
}

/// A fixed-size NUL-terminated string (host names are at most 64 bytes on Linux).
#[derive(Clone, Copy)]
pub struct Name {
    pub bytes: [u8; 65],
    pub len: usize,
    pub set: bool,
}

impl Name {
    const EMPTY: Name = Name {
        bytes: [0; 65],
        len: 0,
        set: false,
    };

    fn from(v: &[u8]) -> Name {
        let mut n = Name::EMPTY;
        if v.is_empty() {
            return n;
        }
        let len = v.len().min(64);
        for (d, s) in n.bytes.iter_mut().zip(v.iter().take(len)) {
            *d = *s;
        }
        n.len = len;
        n.set = true;
        n
    }

    /// The bytes followed by their NUL.
    pub fn with_nul(&self) -> &[u8] {
        self.bytes.get(..self.len + 1).unwrap_or(&[0])
    }
}

pub struct Settings {
    pub time: TimeMode,
    /// `CLOCK_MONOTONIC` when the settings were read (base of `TimeMode::Advancing`).
    pub mono_base: (i64, i64),
    /// Seconds between `CLOCK_TAI` and `CLOCK_REALTIME` at load (37 on most hosts,
    /// 0 when the kernel was never told).
    pub tai_offset: i64,
    pub hostname: Name,
    pub domainname: Name,
    pub release: Name,
    pub version: Name,
    pub readdir: DirOrder,
    pub pid: Option<i32>,
    pub random: Option<u64>,
    /// The process is listed in `DET_SHIM_EXCLUDE`: every setting above is off.
    pub excluded: bool,
    pub log: [u8; 4096],
    pub log_len: usize,
    pub prog: [u8; 256],
    pub prog_len: usize,
    pub exe: [u8; 256],
    pub exe_len: usize,
}

impl Settings {
    const OFF: Settings = Settings {
        time: TimeMode::Off,
        mono_base: (0, 0),
        tai_offset: 0,
        hostname: Name::EMPTY,
        domainname: Name::EMPTY,
        release: Name::EMPTY,
        version: Name::EMPTY,
        readdir: DirOrder::Off,
        pid: None,
        random: None,
        excluded: false,
        log: [0; 4096],
        log_len: 0,
        prog: [0; 256],
        prog_len: 0,
        exe: [0; 256],
        exe_len: 0,
    };

    pub fn logging(&self) -> bool {
        self.log_len > 0
    }

    pub fn prog(&self) -> &[u8] {
        self.prog.get(..self.prog_len).unwrap_or(&[])
    }

    pub fn exe(&self) -> &[u8] {
        self.exe.get(..self.exe_len).unwrap_or(&[])
    }
}

struct Slot(UnsafeCell<Settings>);
// SAFETY: written once by the thread that wins STATE 0 -> 1, read only after STATE == 2.
unsafe impl Sync for Slot {}

static SLOT: Slot = Slot(UnsafeCell::new(Settings::OFF));
static STATE: AtomicU8 = AtomicU8::new(0);
const UNREAD: u8 = 0;
const READING: u8 = 1;
const READY: u8 = 2;

/// The settings, reading them on first use. `None` only while another thread (or a
/// signal handler interrupting the reader) is reading them: the caller then behaves
/// as if every setting were off.
#[inline]
pub fn get() -> Option<&'static Settings> {
    match STATE.load(Ordering::Acquire) {
        // SAFETY: READY is stored (Release) after the last write to SLOT.
        READY => Some(unsafe { &*SLOT.0.get() }),
        UNREAD => read_once(),
        _ => None,
    }
}

#[cold]
fn read_once() -> Option<&'static Settings> {
    if STATE
        .compare_exchange(UNREAD, READING, Ordering::Acquire, Ordering::Acquire)
        .is_err()
    {
        return (STATE.load(Ordering::Acquire) == READY).then(|| {
            // SAFETY: as in `get`.
            unsafe { &*SLOT.0.get() }
        });
    }
    // SAFETY: this thread won the race; no reader looks at SLOT before READY.
    let s = unsafe { &mut *SLOT.0.get() };
    parse_environ(s);
    STATE.store(READY, Ordering::Release);
    Some(s)
}

/// After `fork` the settings stay valid (same environment, same program); nothing to do.
fn parse_environ(s: &mut Settings) {
    program_names(s);
    let mut exclude: &[u8] = &[];
    // SAFETY: environ is a NULL-terminated array of NUL-terminated strings.
    unsafe {
        let mut p = sys::environ;
        while !p.is_null() && !(*p).is_null() {
            let entry = cstr_bytes(*p, 1 << 16);
            if let Some(rest) = entry.strip_prefix(b"DET_SHIM_")
                && let Some(eq) = rest.iter().position(|&b| b == b'=')
            {
                let (key, value) = (&rest[..eq], &rest[eq + 1..]);
                match key {
                    b"TIME" => s.time = parse_time(value),
                    b"HOSTNAME" => s.hostname = Name::from(value),
                    b"DOMAINNAME" => s.domainname = Name::from(value),
                    b"UNAME_RELEASE" => s.release = Name::from(value),
                    b"UNAME_VERSION" => s.version = Name::from(value),
                    b"READDIR" => s.readdir = parse_readdir(value),
                    b"PID" => {
                        s.pid = parse_u64(value)
                            .filter(|&v| v > 0 && v <= i32::MAX as u64)
                            .map(|v| v as i32)
                    }
                    b"RANDOM" => s.random = parse_u64(value),
                    b"EXCLUDE" => exclude = value,
                    b"LOG" => set_log_path(s, value),
                    _ => {}
                }
            }
            p = p.add(1);
        }
    }
    if !exclude.is_empty()
        && exclude
            .split(|&b| b == b',')
            .any(|name| !name.is_empty() && (name == s.prog() || name == s.exe()))
    {
        s.excluded = true;
        s.time = TimeMode::Off;
        s.hostname = Name::EMPTY;
        s.domainname = Name::EMPTY;
        s.release = Name::EMPTY;
        s.version = Name::EMPTY;
        s.readdir = DirOrder::Off;
        s.pid = None;
        s.random = None;
    }
    if s.time != TimeMode::Off {
        let mono = crate::time::real_clock(sys::CLOCK_MONOTONIC);
        s.mono_base = (mono.tv_sec, mono.tv_nsec);
        let tai = crate::time::real_clock(sys::CLOCK_TAI);
        let utc = crate::time::real_clock(sys::CLOCK_REALTIME);
        // Rounded to whole seconds: the offset is an integer number of leap seconds.
        let diff_ns = (tai.tv_sec.wrapping_sub(utc.tv_sec))
            .saturating_mul(1_000_000_000)
            .saturating_add(tai.tv_nsec.wrapping_sub(utc.tv_nsec));
        s.tai_offset = diff_ns
            .saturating_add(500_000_000)
            .div_euclid(1_000_000_000);
    }
}

/// The log path, made absolute against the working directory at load (the process
/// may change directory before it exits and writes). Too long: logging stays off.
fn set_log_path(s: &mut Settings, value: &[u8]) {
    let mut len = 0;
    if value.first() != Some(&b'/') && !value.is_empty() {
        // SAFETY: getcwd writes at most log.len() bytes, NUL included; not hooked.
        let p = unsafe { sys::getcwd(s.log.as_mut_ptr() as *mut c_char, s.log.len()) };
        if p.is_null() {
            return;
        }
        len = s.log.iter().position(|&b| b == 0).unwrap_or(s.log.len());
        if let Some(slash) = s.log.get_mut(len) {
            *slash = b'/';
            len += 1;
        }
    }
    if len + value.len() >= s.log.len() {
        s.log_len = 0;
        return;
    }
    for (d, b) in s.log.iter_mut().skip(len).zip(value) {
        *d = *b;
    }
    s.log_len = len + value.len();
}

/// `prog`: glibc's `program_invocation_short_name` (the basename of argv[0]);
/// `exe`: the basename of `/proc/self/exe`.
fn program_names(s: &mut Settings) {
    // SAFETY: glibc sets this before any constructor runs; it is NUL-terminated.
    let short = unsafe {
        let p = sys::program_invocation_short_name;
        if p.is_null() {
            &[][..]
        } else {
            cstr_bytes(p, 255)
        }
    };
    s.prog_len = copy_into(&mut s.prog, short);
    let mut buf = [0 as c_char; 4096];
    // SAFETY: readlink writes at most buf.len() bytes; it is not hooked.
    let n = unsafe { sys::readlink(c"/proc/self/exe".as_ptr(), buf.as_mut_ptr(), buf.len()) };
    if n > 0 {
        // SAFETY: c_char and u8 have one layout; n <= buf.len().
        let link = unsafe { core::slice::from_raw_parts(buf.as_ptr() as *const u8, n as usize) };
        let base = link.rsplit(|&b| b == b'/').next().unwrap_or(link);
        // "(deleted)" suffixes stay: they are part of what the kernel reports.
        s.exe_len = copy_into(&mut s.exe, base);
    }
}

fn copy_into(dst: &mut [u8], src: &[u8]) -> usize {
    let n = src.len().min(dst.len());
    for (d, b) in dst.iter_mut().zip(src.iter().take(n)) {
        *d = *b;
    }
    n
}

/// # Safety
/// `p` must point to a NUL-terminated string (or at least `max` readable bytes).
unsafe fn cstr_bytes<'a>(p: *const c_char, max: usize) -> &'a [u8] {
    // SAFETY: per the contract above.
    unsafe {
        let n = sys::strnlen(p, max);
        core::slice::from_raw_parts(p as *const u8, n)
    }
}

pub fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

fn parse_time(v: &[u8]) -> TimeMode {
    let (digits, advancing) = match v.strip_suffix(b"+") {
        Some(d) => (d, true),
        None => (v, false),
    };
    match parse_u64(digits).filter(|&e| e <= i64::MAX as u64 / 2) {
        Some(e) if advancing => TimeMode::Advancing(e as i64),
        Some(e) => TimeMode::Frozen(e as i64),
        None => TimeMode::Off,
    }
}

fn parse_readdir(v: &[u8]) -> DirOrder {
    match v {
        b"sorted" => DirOrder::Sorted,
        b"reverse" => DirOrder::Reverse,
        _ => match v.strip_prefix(b"shuffle:").and_then(parse_u64) {
            Some(seed) => DirOrder::Shuffle(seed),
            None => DirOrder::Off,
        },
    }
}
