//! Directory order hooks (`DET_SHIM_READDIR=sorted|reverse|shuffle:<seed>`).
//!
//! When a stream is opened (`opendir`, `fdopendir`) the shim reads the whole directory
//! with the real `readdir64` into one buffer owned by the stream, orders it — by the
//! bytes of the name (as `LC_ALL=C ls`), the reverse of that, or that order shuffled
//! by the seed, so the result depends only on the names and the seed, never on the file
//! system — and serves `readdir`, `readdir64`, `readdir_r`, `readdir64_r`, `telldir`
//! and `seekdir` from it. `rewinddir` reads the directory again (POSIX: a rewound
//! stream sees the directory as it is now). `scandir` and friends return their array
//! in the same order when the caller passes no comparison function.
//!
//! Streams are found by their `DIR *` in a fixed, lock-free table (no lock, so a `fork`
//! in another thread cannot leave one held in the child). A stream the table does not
//! know — opened before the shim's settings were read, or beyond the table's 4096
//! simultaneously open streams, or a directory larger than the bounds below — falls
//! through to the real functions in the file system's order. Bounds: 4M entries or
//! 1 GiB of names per stream; a larger directory is listed unordered.
//!
//! This is the one place the shim allocates (`malloc`): the buffer of each stream,
//! freed by `closedir`. glibc-internal directory reads (`glob`, `fts`, `nftw` inside
//! libc) and raw `getdents64` system calls are not seen.

use crate::config::{self, DirOrder};
use crate::log::{Hook, count};
use crate::real::{self, as_fn};
use crate::sys::{self, Dir, Dirent64, c_char, c_int, c_long, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};

type OpendirFn = unsafe extern "C" fn(*const c_char) -> *mut Dir;
type FdopendirFn = unsafe extern "C" fn(c_int) -> *mut Dir;
type ReaddirFn = unsafe extern "C" fn(*mut Dir) -> *mut Dirent64;
type ReaddirRFn = unsafe extern "C" fn(*mut Dir, *mut Dirent64, *mut *mut Dirent64) -> c_int;
type DirVoidFn = unsafe extern "C" fn(*mut Dir);
type ClosedirFn = unsafe extern "C" fn(*mut Dir) -> c_int;
type TelldirFn = unsafe extern "C" fn(*mut Dir) -> c_long;
type SeekdirFn = unsafe extern "C" fn(*mut Dir, c_long);
type Filter = Option<unsafe extern "C" fn(*const Dirent64) -> c_int>;
type Compar = Option<unsafe extern "C" fn(*mut *const Dirent64, *mut *const Dirent64) -> c_int>;
type ScandirFn =
    unsafe extern "C" fn(*const c_char, *mut *mut *mut Dirent64, Filter, Compar) -> c_int;
type ScandiratFn =
    unsafe extern "C" fn(c_int, *const c_char, *mut *mut *mut Dirent64, Filter, Compar) -> c_int;

const MAX_ENTRIES: usize = 1 << 22;
const MAX_BYTES: usize = 1 << 30;

/// One ordered listing: records laid out like the kernel's (`Dirent64` header, name,
/// NUL, padded to 8 bytes) in `buf`, and their offsets in `offs`, in the order served.
struct Stream {
    buf: *mut u8,
    buf_len: usize,
    buf_cap: usize,
    offs: *mut u32,
    n: usize,
    offs_cap: usize,
    cursor: AtomicUsize,
}

unsafe fn free_stream(st: *mut Stream) {
    if st.is_null() {
        return;
    }
    // SAFETY: st and its buffers were allocated with malloc by `read_all`.
    unsafe {
        sys::free((*st).buf as *mut c_void);
        sys::free((*st).offs as *mut c_void);
        sys::free(st as *mut c_void);
    }
}

/// Grow a malloc'd buffer to hold at least `need` elements of `size` bytes.
unsafe fn grow<T>(p: &mut *mut T, cap: &mut usize, need: usize, limit: usize) -> bool {
    if need <= *cap {
        return true;
    }
    let new_cap = need.max(cap.saturating_mul(2)).max(64).min(limit);
    if new_cap < need {
        return false;
    }
    let Some(bytes) = new_cap.checked_mul(core::mem::size_of::<T>()) else {
        return false;
    };
    // SAFETY: *p is null or came from malloc/realloc.
    let q = unsafe { sys::realloc(*p as *mut c_void, bytes) } as *mut T;
    if q.is_null() {
        return false;
    }
    *p = q;
    *cap = new_cap;
    true
}

/// The name of the record at `off`.
#[inline]
unsafe fn name_at(buf: *const u8, off: u32) -> *const u8 {
    // SAFETY: off is the start of a record inside buf.
    unsafe { buf.add(off as usize + sys::DIRENT_NAME_OFFSET) }
}

/// strcmp on two NUL-terminated names.
unsafe fn cmp_names(a: *const u8, b: *const u8) -> core::cmp::Ordering {
    let mut i = 0;
    loop {
        // SAFETY: both are NUL-terminated; we stop at the first NUL or difference.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y || x == 0 {
            return x.cmp(&y);
        }
        i += 1;
    }
}

fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut i = items.len();
    while i > 1 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let j = (z % i as u64) as usize;
        i -= 1;
        items.swap(i, j);
    }
}

/// Put `items` in `order`, given a way to compare two of them by name.
fn arrange<T>(items: &mut [T], order: DirOrder, cmp: impl Fn(&T, &T) -> core::cmp::Ordering) {
    items.sort_unstable_by(&cmp);
    match order {
        DirOrder::Reverse => items.reverse(),
        DirOrder::Shuffle(seed) => shuffle(items, seed),
        DirOrder::Sorted | DirOrder::Off => {}
    }
}

/// Read the rest of `dir` with the real `readdir64` into a new ordered stream. On any
/// failure (allocation, bounds, a read error) the real stream is rewound and None
/// returned: the caller then leaves the stream to the real functions.
unsafe fn read_all(dir: *mut Dir, order: DirOrder) -> Option<*mut Stream> {
    let rd = real::READDIR64.get_or_resolve()?;
    let saved = sys::errno();
    // SAFETY: a Stream is plain data; zeroed is a valid empty stream.
    let st = unsafe { sys::malloc(core::mem::size_of::<Stream>()) } as *mut Stream;
    if st.is_null() {
        return None;
    }
    // SAFETY: st is freshly allocated and large enough.
    unsafe {
        st.write(Stream {
            buf: core::ptr::null_mut(),
            buf_len: 0,
            buf_cap: 0,
            offs: core::ptr::null_mut(),
            n: 0,
            offs_cap: 0,
            cursor: AtomicUsize::new(0),
        })
    };
    // SAFETY: st is valid and exclusively ours until returned.
    let s = unsafe { &mut *st };
    let ok = loop {
        sys::set_errno(0);
        // SAFETY: dir is an open stream.
        let e = unsafe { as_fn!(rd, ReaddirFn)(dir) };
        if e.is_null() {
            break sys::errno() == 0;
        }
        // SAFETY: e points at a valid record with a NUL-terminated name.
        let (ino, off, typ, name) = unsafe {
            (
                (*e).d_ino,
                (*e).d_off,
                (*e).d_type,
                core::ptr::addr_of!((*e).d_name) as *const u8,
            )
        };
        // SAFETY: d_name is NUL-terminated within its 256 bytes.
        let len = unsafe { sys::strnlen(name as *const c_char, 255) };
        let reclen = (sys::DIRENT_NAME_OFFSET + len + 1 + 7) & !7;
        let at = s.buf_len;
        // SAFETY: buffers are ours; grow keeps them malloc'd.
        let grown = unsafe {
            grow(&mut s.buf, &mut s.buf_cap, at + reclen, MAX_BYTES)
                && grow(&mut s.offs, &mut s.offs_cap, s.n + 1, MAX_ENTRIES)
        };
        if !grown {
            break false;
        }
        // SAFETY: buf has room for reclen bytes at `at`; offs has room for n+1.
        unsafe {
            let r = s.buf.add(at);
            core::ptr::write_bytes(r, 0, reclen);
            (r as *mut u64).write_unaligned(ino);
            (r.add(8) as *mut i64).write_unaligned(off);
            (r.add(16) as *mut u16).write_unaligned(reclen as u16);
            r.add(18).write(typ);
            core::ptr::copy_nonoverlapping(name, r.add(sys::DIRENT_NAME_OFFSET), len);
            s.offs.add(s.n).write(at as u32);
        }
        s.n += 1;
        s.buf_len += reclen;
    };
    if !ok {
        // SAFETY: st is ours; dir is open.
        unsafe {
            free_stream(st);
            if let Some(a) = real::REWINDDIR.get_or_resolve() {
                as_fn!(a, DirVoidFn)(dir);
            }
        }
        sys::set_errno(saved);
        return None;
    }
    if s.n > 0 {
        let buf = s.buf as *const u8;
        // SAFETY: offs holds n initialized offsets.
        let offs = unsafe { core::slice::from_raw_parts_mut(s.offs, s.n) };
        // SAFETY: every offset is a record start in buf.
        arrange(offs, order, |a, b| unsafe {
            cmp_names(name_at(buf, *a), name_at(buf, *b))
        });
    }
    sys::set_errno(saved);
    Some(st)
}

// ---- the table of ordered streams -------------------------------------------------

const SLOTS: usize = 4096;
const EMPTY: usize = 0;
const TOMB: usize = 1;

struct Slot {
    key: AtomicUsize,
    val: AtomicUsize,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        key: AtomicUsize::new(EMPTY),
        val: AtomicUsize::new(0),
    }
}; SLOTS];

fn home(dir: *mut Dir) -> usize {
    ((dir as usize >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52) % SLOTS
}

/// Slots go EMPTY -> key -> TOMB -> key -> TOMB ..., never back to EMPTY, so a lookup
/// can stop at the first EMPTY slot of its probe sequence.
fn insert(dir: *mut Dir, st: *mut Stream) -> bool {
    let h = home(dir);
    for i in 0..SLOTS {
        let Some(slot) = TABLE.get((h + i) % SLOTS) else {
            continue;
        };
        let k = slot.key.load(Ordering::Acquire);
        if (k == EMPTY || k == TOMB)
            && slot
                .key
                .compare_exchange(k, dir as usize, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.val.store(st as usize, Ordering::Release);
            return true;
        }
    }
    false
}

fn find(dir: *mut Dir) -> Option<&'static Slot> {
    let h = home(dir);
    for i in 0..SLOTS {
        let slot = TABLE.get((h + i) % SLOTS)?;
        match slot.key.load(Ordering::Acquire) {
            EMPTY => return None,
            k if k == dir as usize => return Some(slot),
            _ => {}
        }
    }
    None
}

fn lookup(dir: *mut Dir) -> Option<&'static Stream> {
    let st = find(dir)?.val.load(Ordering::Acquire) as *const Stream;
    // SAFETY: a stream in the table lives until closedir/rewinddir of its DIR.
    (!st.is_null()).then(|| unsafe { &*st })
}

fn remove(dir: *mut Dir) -> *mut Stream {
    match find(dir) {
        Some(slot) => {
            let st = slot.val.swap(0, Ordering::AcqRel) as *mut Stream;
            slot.key.store(TOMB, Ordering::Release);
            st
        }
        None => core::ptr::null_mut(),
    }
}

fn order() -> DirOrder {
    config::get().map_or(DirOrder::Off, |s| s.readdir)
}

/// Order a freshly opened stream if the setting is on.
unsafe fn track(dir: *mut Dir) {
    let order = order();
    if dir.is_null() || order == DirOrder::Off {
        return;
    }
    // SAFETY: dir was just opened and is not yet visible to the program.
    if let Some(st) = unsafe { read_all(dir, order) }
        && !insert(dir, st)
    {
        // Table full: serve this stream unordered.
        // SAFETY: st is ours; dir is open.
        unsafe {
            free_stream(st);
            if let Some(a) = real::REWINDDIR.get_or_resolve() {
                as_fn!(a, DirVoidFn)(dir);
            }
        }
    }
}

impl Stream {
    fn next(&self) -> *mut Dirent64 {
        let i = self.cursor.fetch_add(1, Ordering::AcqRel);
        if i >= self.n {
            self.cursor.store(self.n, Ordering::Release);
            return core::ptr::null_mut();
        }
        // SAFETY: i < n; offs[i] is a record start in buf.
        unsafe { self.buf.add(*self.offs.add(i) as usize) as *mut Dirent64 }
    }
}

// ---- the hooks ---------------------------------------------------------------------

/// # Safety
/// C contract of `opendir(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opendir(name: *const c_char) -> *mut Dir {
    count(config::get(), Hook::Opendir);
    let Some(a) = real::OPENDIR.get_or_resolve() else {
        return core::ptr::null_mut();
    };
    // SAFETY: forwarded unchanged.
    let dir = unsafe { as_fn!(a, OpendirFn)(name) };
    // SAFETY: dir is null or freshly opened.
    unsafe { track(dir) };
    dir
}

/// # Safety
/// C contract of `fdopendir(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fdopendir(fd: c_int) -> *mut Dir {
    count(config::get(), Hook::Opendir);
    let Some(a) = real::FDOPENDIR.get_or_resolve() else {
        return core::ptr::null_mut();
    };
    // SAFETY: forwarded unchanged.
    let dir = unsafe { as_fn!(a, FdopendirFn)(fd) };
    // SAFETY: dir is null or freshly opened.
    unsafe { track(dir) };
    dir
}

/// # Safety
/// C contract of `readdir64(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir64(dir: *mut Dir) -> *mut Dirent64 {
    count(config::get(), Hook::Readdir);
    if order() != DirOrder::Off
        && let Some(st) = lookup(dir)
    {
        return st.next();
    }
    match real::READDIR64.get_or_resolve() {
        // SAFETY: forwarded unchanged.
        Some(a) => unsafe { as_fn!(a, ReaddirFn)(dir) },
        None => core::ptr::null_mut(),
    }
}

/// # Safety
/// C contract of `readdir(3)`; on 64-bit glibc `readdir` is `readdir64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir(dir: *mut Dir) -> *mut Dirent64 {
    // SAFETY: same contract.
    unsafe { readdir64(dir) }
}

/// # Safety
/// C contract of `readdir64_r(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir64_r(
    dir: *mut Dir,
    entry: *mut Dirent64,
    result: *mut *mut Dirent64,
) -> c_int {
    count(config::get(), Hook::Readdir);
    if order() != DirOrder::Off
        && let Some(st) = lookup(dir)
    {
        let e = st.next();
        // SAFETY: the caller passes a full dirent and a result slot; e is a record of
        // d_reclen (<= sizeof dirent) bytes.
        unsafe {
            if e.is_null() {
                *result = core::ptr::null_mut();
            } else {
                let len = ((*e).d_reclen as usize).min(core::mem::size_of::<Dirent64>());
                core::ptr::copy_nonoverlapping(e as *const u8, entry as *mut u8, len);
                *result = entry;
            }
        }
        return 0;
    }
    match real::READDIR64_R.get_or_resolve() {
        // SAFETY: forwarded unchanged.
        Some(a) => unsafe { as_fn!(a, ReaddirRFn)(dir, entry, result) },
        None => sys::EINVAL,
    }
}

/// # Safety
/// C contract of `readdir_r(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir_r(
    dir: *mut Dir,
    entry: *mut Dirent64,
    result: *mut *mut Dirent64,
) -> c_int {
    // SAFETY: same contract.
    unsafe { readdir64_r(dir, entry, result) }
}

/// # Safety
/// C contract of `rewinddir(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rewinddir(dir: *mut Dir) {
    let st = remove(dir);
    let Some(a) = real::REWINDDIR.get_or_resolve() else {
        return;
    };
    // SAFETY: forwarded unchanged.
    unsafe { as_fn!(a, DirVoidFn)(dir) };
    if !st.is_null() {
        // SAFETY: the old listing is no longer reachable from the table.
        unsafe {
            free_stream(st);
            track(dir);
        }
    }
}

/// # Safety
/// C contract of `telldir(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn telldir(dir: *mut Dir) -> c_long {
    if order() != DirOrder::Off
        && let Some(st) = lookup(dir)
    {
        return st.cursor.load(Ordering::Acquire).min(st.n) as c_long;
    }
    match real::TELLDIR.get_or_resolve() {
        // SAFETY: forwarded unchanged.
        Some(a) => unsafe { as_fn!(a, TelldirFn)(dir) },
        None => -1,
    }
}

/// # Safety
/// C contract of `seekdir(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn seekdir(dir: *mut Dir, pos: c_long) {
    if order() != DirOrder::Off
        && let Some(st) = lookup(dir)
    {
        let pos = if pos < 0 { 0 } else { (pos as usize).min(st.n) };
        st.cursor.store(pos, Ordering::Release);
        return;
    }
    if let Some(a) = real::SEEKDIR.get_or_resolve() {
        // SAFETY: forwarded unchanged.
        unsafe { as_fn!(a, SeekdirFn)(dir, pos) };
    }
}

/// # Safety
/// C contract of `closedir(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn closedir(dir: *mut Dir) -> c_int {
    let st = remove(dir);
    // SAFETY: the listing is no longer reachable from the table.
    unsafe { free_stream(st) };
    match real::CLOSEDIR.get_or_resolve() {
        // SAFETY: forwarded unchanged.
        Some(a) => unsafe { as_fn!(a, ClosedirFn)(dir) },
        None => -1,
    }
}

/// Reorder the array `scandir` returned when the caller gave no comparison.
unsafe fn arrange_scandir(n: c_int, list: *mut *mut *mut Dirent64, compar: Compar) {
    let order = order();
    if n <= 1 || compar.is_some() || order == DirOrder::Off || list.is_null() {
        return;
    }
    // SAFETY: scandir succeeded: *list is an array of n entries.
    let items = unsafe {
        let arr = *list;
        if arr.is_null() {
            return;
        }
        core::slice::from_raw_parts_mut(arr, n as usize)
    };
    // SAFETY: every entry is a dirent with a NUL-terminated name.
    arrange(items, order, |a, b| unsafe {
        cmp_names(
            core::ptr::addr_of!((**a).d_name) as *const u8,
            core::ptr::addr_of!((**b).d_name) as *const u8,
        )
    });
}

/// # Safety
/// C contract of `scandir64(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scandir64(
    dir: *const c_char,
    list: *mut *mut *mut Dirent64,
    filter: Filter,
    compar: Compar,
) -> c_int {
    count(config::get(), Hook::Scandir);
    let Some(a) = real::SCANDIR64.get_or_resolve() else {
        return -1;
    };
    // SAFETY: forwarded unchanged, then the result reordered in place.
    unsafe {
        let n = as_fn!(a, ScandirFn)(dir, list, filter, compar);
        arrange_scandir(n, list, compar);
        n
    }
}

/// # Safety
/// C contract of `scandir(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scandir(
    dir: *const c_char,
    list: *mut *mut *mut Dirent64,
    filter: Filter,
    compar: Compar,
) -> c_int {
    // SAFETY: same contract.
    unsafe { scandir64(dir, list, filter, compar) }
}

/// # Safety
/// C contract of `scandirat64(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scandirat64(
    fd: c_int,
    dir: *const c_char,
    list: *mut *mut *mut Dirent64,
    filter: Filter,
    compar: Compar,
) -> c_int {
    count(config::get(), Hook::Scandir);
    let Some(a) = real::SCANDIRAT64.get_or_resolve() else {
        return -1;
    };
    // SAFETY: forwarded unchanged, then the result reordered in place.
    unsafe {
        let n = as_fn!(a, ScandiratFn)(fd, dir, list, filter, compar);
        arrange_scandir(n, list, compar);
        n
    }
}

/// # Safety
/// C contract of `scandirat(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scandirat(
    fd: c_int,
    dir: *const c_char,
    list: *mut *mut *mut Dirent64,
    filter: Filter,
    compar: Compar,
) -> c_int {
    // SAFETY: same contract.
    unsafe { scandirat64(fd, dir, list, filter, compar) }
}
