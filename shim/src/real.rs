//! The real libc functions behind each hook, found with `dlsym(RTLD_NEXT, name)` and
//! cached in atomics.
//!
//! Why this is careful: libfaketime resolves its real functions lazily, inside the
//! hook. When jemalloc (linked into `rustc`) initializes, it reads the clock; the hook
//! then calls `dlsym`, glibc's `dlsym` may call `malloc` (its error path allocates the
//! `dlerror` message; lookups of `STB_GNU_UNIQUE` symbols may grow a table — plain
//! function symbols found on success allocate nothing), `malloc` re-enters jemalloc's unfinished initialization and the
//! process deadlocks on jemalloc's init lock (libfaketime issues #130 and #402).
//!
//! The shim instead resolves every symbol in its ELF constructor (`resolve_all`), a
//! point where no allocator is half-initialized. A hook called before that (from
//! another library's constructor, or from inside an allocator's initialization)
//! never calls `dlsym` if it is a hook an allocator may reach — time, host, pid,
//! getrandom: it makes the raw system call instead. Only the directory and `rand`
//! hooks, which nothing calls from inside `malloc` and which allocate anyway, may
//! resolve lazily. Resolution itself never allocates in the shim and never recurses:
//! `dlsym` looks in the objects after the shim, never at the shim's own hooks.

use crate::sys::{RTLD_NEXT, c_char, dlsym};
use core::sync::atomic::{AtomicUsize, Ordering};

/// One real function: its name and its address once resolved (0 = not yet, 1 = not
/// found, so a missing symbol is not looked up again).
pub struct Real {
    name: &'static core::ffi::CStr,
    addr: AtomicUsize,
}

const MISSING: usize = 1;

impl Real {
    pub const fn new(name: &'static core::ffi::CStr) -> Self {
        Real {
            name,
            addr: AtomicUsize::new(0),
        }
    }

    /// The address if already resolved; never calls `dlsym`.
    #[inline]
    pub fn get(&self) -> Option<usize> {
        match self.addr.load(Ordering::Acquire) {
            0 | MISSING => None,
            a => Some(a),
        }
    }

    /// The address, resolving it now if needed. Only for hooks that no allocator calls.
    pub fn get_or_resolve(&self) -> Option<usize> {
        match self.addr.load(Ordering::Acquire) {
            0 => self.resolve(),
            MISSING => None,
            a => Some(a),
        }
    }

    pub fn resolve(&self) -> Option<usize> {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name is always sound.
        let p = unsafe { dlsym(RTLD_NEXT, self.name.as_ptr() as *const c_char) } as usize;
        let stored = if p == 0 || p == MISSING { MISSING } else { p };
        self.addr.store(stored, Ordering::Release);
        (stored != MISSING).then_some(stored)
    }
}

/// Turn a resolved address into a function pointer of type `$t`; used inside the
/// `unsafe` block that calls it (the address came from dlsym for a symbol whose C
/// type is `$t`).
macro_rules! as_fn {
    ($addr:expr, $t:ty) => {
        core::mem::transmute::<usize, $t>($addr)
    };
}
pub(crate) use as_fn;

pub static CLOCK_GETTIME: Real = Real::new(c"clock_gettime");
pub static GETTIMEOFDAY: Real = Real::new(c"gettimeofday");
pub static TIME: Real = Real::new(c"time");
pub static TIMESPEC_GET: Real = Real::new(c"timespec_get");
pub static UNAME: Real = Real::new(c"uname");
pub static GETHOSTNAME: Real = Real::new(c"gethostname");
pub static GETDOMAINNAME: Real = Real::new(c"getdomainname");
pub static GETPID: Real = Real::new(c"getpid");
pub static GETRANDOM: Real = Real::new(c"getrandom");
pub static GETENTROPY: Real = Real::new(c"getentropy");
pub static RAND: Real = Real::new(c"rand");
pub static SRAND: Real = Real::new(c"srand");
pub static RANDOM: Real = Real::new(c"random");
pub static SRANDOM: Real = Real::new(c"srandom");
pub static OPENDIR: Real = Real::new(c"opendir");
pub static FDOPENDIR: Real = Real::new(c"fdopendir");
pub static READDIR64: Real = Real::new(c"readdir64");
pub static READDIR64_R: Real = Real::new(c"readdir64_r");
pub static REWINDDIR: Real = Real::new(c"rewinddir");
pub static CLOSEDIR: Real = Real::new(c"closedir");
pub static TELLDIR: Real = Real::new(c"telldir");
pub static SEEKDIR: Real = Real::new(c"seekdir");
pub static SCANDIR64: Real = Real::new(c"scandir64");
pub static SCANDIRAT64: Real = Real::new(c"scandirat64");

static ALL: [&Real; 24] = [
    &CLOCK_GETTIME,
    &GETTIMEOFDAY,
    &TIME,
    &TIMESPEC_GET,
    &UNAME,
    &GETHOSTNAME,
    &GETDOMAINNAME,
    &GETPID,
    &GETRANDOM,
    &GETENTROPY,
    &RAND,
    &SRAND,
    &RANDOM,
    &SRANDOM,
    &OPENDIR,
    &FDOPENDIR,
    &READDIR64,
    &READDIR64_R,
    &REWINDDIR,
    &CLOSEDIR,
    &TELLDIR,
    &SEEKDIR,
    &SCANDIR64,
    &SCANDIRAT64,
];

/// Resolve every real function; called once from the ELF constructor.
pub fn resolve_all() {
    for r in ALL {
        if r.addr.load(Ordering::Acquire) == 0 {
            r.resolve();
        }
    }
}
