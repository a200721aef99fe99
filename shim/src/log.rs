//! `DET_SHIM_LOG`: how many times each hook ran in this process, appended to a file
//! when the process exits, as evidence for det-verify of which program read the clock
//! or listed a directory.
//!
//! One line per hook that ran, all lines of a process in one `write` on an `O_APPEND`
//! descriptor, so lines of concurrent processes never interleave:
//!
//! ```text
//! det-shim/1 pid=4242 prog=cc1 exe=cc1 hook=time calls=1 active=1
//! ```
//!
//! `prog` is the basename of argv[0], `exe` that of `/proc/self/exe` (bytes outside
//! printable ASCII, spaces and `=` become `_`). `active=1` when the hook's setting is on
//! in this process (so the result was changed), 0 when it fell through. For
//! `clock_gettime` only the realtime clocks are counted. Counters are reset in the
//! child of a `fork`; a process that `exec`s or ends by `_exit` or a signal does not
//! write its line (the counts of the program it execs are written by that program).

use crate::config::{DirOrder, Settings, TimeMode};
use crate::sys::{self, c_void};
use core::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy)]
#[repr(usize)]
pub enum Hook {
    ClockGettime,
    Gettimeofday,
    Time,
    TimespecGet,
    Uname,
    Gethostname,
    Getdomainname,
    Getpid,
    Rand,
    Srand,
    Getrandom,
    Getentropy,
    Opendir,
    Readdir,
    Scandir,
}

const HOOKS: usize = 15;

const NAMES: [&str; HOOKS] = [
    "clock_gettime",
    "gettimeofday",
    "time",
    "timespec_get",
    "uname",
    "gethostname",
    "getdomainname",
    "getpid",
    "rand",
    "srand",
    "getrandom",
    "getentropy",
    "opendir",
    "readdir",
    "scandir",
];

static COUNTS: [AtomicU64; HOOKS] = [const { AtomicU64::new(0) }; HOOKS];

/// Count one call of `hook` when logging is on.
#[inline]
pub fn count(s: Option<&Settings>, hook: Hook) {
    if let Some(s) = s
        && s.logging()
        && let Some(c) = COUNTS.get(hook as usize)
    {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// `pthread_atfork` child handler: the child starts with no calls of its own.
pub unsafe extern "C" fn reset_in_child() {
    for c in &COUNTS {
        c.store(0, Ordering::Relaxed);
    }
}

fn active(s: &Settings, hook: Hook) -> bool {
    let host = s.hostname.set || s.domainname.set || s.release.set || s.version.set;
    match hook {
        Hook::ClockGettime | Hook::Gettimeofday | Hook::Time | Hook::TimespecGet => {
            s.time != TimeMode::Off
        }
        Hook::Uname => host,
        Hook::Gethostname => s.hostname.set,
        Hook::Getdomainname => s.domainname.set,
        Hook::Getpid => s.pid.is_some(),
        Hook::Rand | Hook::Srand | Hook::Getrandom | Hook::Getentropy => s.random.is_some(),
        Hook::Opendir | Hook::Readdir | Hook::Scandir => s.readdir != DirOrder::Off,
    }
}

/// A bounded, allocation-free line buffer; text past its end is dropped.
struct Buf {
    bytes: [u8; 8192],
    len: usize,
}

impl Buf {
    fn push(&mut self, b: u8) {
        if let Some(d) = self.bytes.get_mut(self.len) {
            *d = b;
            self.len += 1;
        }
    }
    fn str(&mut self, s: &[u8]) {
        for &b in s {
            self.push(b);
        }
    }
    fn name(&mut self, s: &[u8]) {
        if s.is_empty() {
            self.push(b'?');
        }
        for &b in s {
            self.push(if b > b' ' && b < 0x7f && b != b'=' {
                b
            } else {
                b'_'
            });
        }
    }
    fn num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.str(digits.get(i..).unwrap_or(&[]));
    }
}

/// Write this process's line(s); called from the ELF destructor.
pub fn flush() {
    let Some(s) = crate::config::get() else {
        return;
    };
    if !s.logging() {
        return;
    }
    // SAFETY: the raw system call has no preconditions; it bypasses a DET_SHIM_PID value.
    let pid = unsafe { sys::syscall(sys::nr::GETPID) } as u64;
    let mut buf = Buf {
        bytes: [0; 8192],
        len: 0,
    };
    for (i, c) in COUNTS.iter().enumerate() {
        let n = c.load(Ordering::Relaxed);
        let (Some(name), Some(hook)) = (NAMES.get(i), HOOK_OF.get(i)) else {
            continue;
        };
        if n == 0 {
            continue;
        }
        buf.str(b"det-shim/1 pid=");
        buf.num(pid);
        buf.str(b" prog=");
        buf.name(s.prog());
        buf.str(b" exe=");
        buf.name(s.exe());
        buf.str(b" hook=");
        buf.str(name.as_bytes());
        buf.str(b" calls=");
        buf.num(n);
        buf.str(b" active=");
        buf.push(if active(s, *hook) { b'1' } else { b'0' });
        buf.push(b'\n');
    }
    if buf.len == 0 {
        return;
    }
    let mut path = [0u8; 4097];
    // s.log holds log_len bytes; the rest of `path` stays NUL.
    for (d, b) in path.iter_mut().zip(s.log.iter().take(s.log_len)) {
        *d = *b;
    }
    let saved = sys::errno();
    // SAFETY: path is NUL-terminated (log_len < 4096); open/write/close are not hooked.
    unsafe {
        let fd = sys::open(
            path.as_ptr() as *const _,
            sys::O_WRONLY | sys::O_APPEND | sys::O_CREAT | sys::O_CLOEXEC,
            0o644 as sys::c_uint,
        );
        if fd >= 0 {
            sys::write(fd, buf.bytes.as_ptr() as *const c_void, buf.len);
            sys::close(fd);
        }
    }
    sys::set_errno(saved);
}

const HOOK_OF: [Hook; HOOKS] = [
    Hook::ClockGettime,
    Hook::Gettimeofday,
    Hook::Time,
    Hook::TimespecGet,
    Hook::Uname,
    Hook::Gethostname,
    Hook::Getdomainname,
    Hook::Getpid,
    Hook::Rand,
    Hook::Srand,
    Hook::Getrandom,
    Hook::Getentropy,
    Hook::Opendir,
    Hook::Readdir,
    Hook::Scandir,
];
