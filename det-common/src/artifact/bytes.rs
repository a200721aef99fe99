//! [`Bytes`]: cheap-to-clone content of a node, backed by a memory map or an owned buffer.

use super::budget::Reservation;
use memmap2::Mmap;
use std::fs::File;
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug)]
enum Backing {
    Mapped(Mmap),
    Owned(Vec<u8>),
    /// Decompressed data, holding its share of the scan's memory budget until dropped.
    Budgeted(Vec<u8>, #[allow(dead_code)] Reservation),
    /// A small file read whole into a buffer of the thread's pool, given back when dropped.
    Pooled(Vec<u8>),
}

impl Drop for Backing {
    fn drop(&mut self) {
        if let Backing::Pooled(buf) = self {
            give_back(std::mem::take(buf));
        }
    }
}

/// Files up to this size are read, not mapped. On a source tree of many small files the map
/// costs more than the bytes: an mmap, a page fault per few pages and an munmap (with a TLB
/// shootdown on every core running the scan) per file, against one read into a reused buffer.
/// Past a few hundred KiB the copy costs more: the buffer no longer fits in the core's cache,
/// so the kernel's copy and the scan after it both go to memory. Measured on the registry
/// sources (15 interleaved pairs each): 128 KiB takes 6 % less CPU than 1 MiB, and 64 KiB
/// 3 % more than 128 KiB.
const READ_MAX: u64 = 128 << 10;
/// Buffers each thread keeps for reuse (a thread may hold a file while it steals another).
const POOL_BUFFERS: usize = 4;

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty buffer from this thread's pool, or a new one.
fn take_buffer() -> Vec<u8> {
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn give_back(mut buf: Vec<u8>) {
    buf.clear();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_BUFFERS && buf.capacity() <= READ_MAX as usize {
            p.push(buf);
        }
    });
}

/// Read up to `len` bytes of `file` (fewer when it shrank since its size was taken), into a
/// buffer of the thread's pool: the kernel writes the bytes straight into it, with no
/// zeroing first.
fn read_whole(file: &File, len: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = take_buffer();
    buf.reserve_exact(len);
    match file.take(len as u64).read_to_end(&mut buf) {
        Ok(_) => Ok(buf),
        Err(e) => {
            give_back(buf);
            Err(e)
        }
    }
}

fn not_regular(path: &Path) -> crate::Error {
    crate::Error::invalid(
        path,
        "is not a regular file (a FIFO, device, socket or directory; replaced since the directory walk?); not read",
    )
}

/// Open `path` for reading without following a symbolic link at its end and without
/// blocking (a FIFO opens at once, and is then refused as not a regular file).
pub fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    options.open(path)
}

/// A range of a memory-mapped file or of an owned buffer. Cloning and slicing never copy.
#[derive(Clone, Debug)]
pub struct Bytes {
    backing: Arc<Backing>,
    range: Range<usize>,
}

impl Bytes {
    pub fn from_vec(v: Vec<u8>) -> Bytes {
        let len = v.len();
        Bytes {
            backing: Arc::new(Backing::Owned(v)),
            range: 0..len,
        }
    }

    /// A decompressed buffer and the budget it holds (given back when the last clone drops).
    pub(crate) fn from_budgeted(v: Vec<u8>, reservation: Reservation) -> Bytes {
        let len = v.len();
        Bytes {
            backing: Arc::new(Backing::Budgeted(v, reservation)),
            range: 0..len,
        }
    }

    /// Memory-map a file read-only. Empty files get an empty buffer (mmap rejects them), and
    /// files up to 128 KiB are read into a buffer instead (see `READ_MAX`).
    ///
    /// The file is opened without following a symbolic link and without blocking
    /// (`O_NOFOLLOW | O_NONBLOCK`), and the opened descriptor must be a regular file: a file
    /// swapped for a symlink or a FIFO between the walk and the open is reported, never
    /// followed out of the tree nor waited on.
    pub fn map_file(path: &Path) -> crate::Result<Bytes> {
        Self::map_file_expecting(path, None)
    }

    /// [`Bytes::map_file`], and the opened file must be the one a directory walk saw
    /// (`identity`: its device and inode). Whatever was swapped in since — at the path itself
    /// or at a directory above it (a directory replaced by a symlink out of the tree, which
    /// `O_NOFOLLOW` does not see) — is another file: reported, not read.
    pub fn map_file_expecting(path: &Path, identity: Option<(u64, u64)>) -> crate::Result<Bytes> {
        let file = open_no_follow(path).map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return crate::Error::invalid(
                    path,
                    "is a symbolic link (replaced since the directory walk?); not followed",
                );
            }
            crate::Error::io(path, e)
        })?;
        let meta = file.metadata().map_err(|e| crate::Error::io(path, e))?;
        // What it is first: a FIFO swapped in is named as such.
        if !meta.is_file() {
            return Err(not_regular(path));
        }
        #[cfg(unix)]
        if let Some(expected) = identity {
            use std::os::unix::fs::MetadataExt;
            if (meta.dev(), meta.ino()) != expected {
                return Err(crate::Error::invalid(
                    path,
                    "is another file than the directory walk found (it or a directory above it was replaced since); not read",
                ));
            }
        }
        #[cfg(not(unix))]
        let _ = identity;
        Self::map_opened(&file, &meta, path)
    }

    /// [`Bytes::map_file`] of a file already opened (with [`open_no_follow`], by the
    /// directory walk), `meta` its metadata: it must be a regular file. `path` names it in
    /// errors.
    pub fn map_opened(file: &File, meta: &std::fs::Metadata, path: &Path) -> crate::Result<Bytes> {
        if !meta.is_file() {
            return Err(not_regular(path));
        }
        let len = meta.len();
        if len == 0 {
            return Ok(Bytes::from_vec(Vec::new()));
        }
        if len <= READ_MAX {
            let buf = read_whole(file, len as usize).map_err(|e| crate::Error::io(path, e))?;
            let len = buf.len();
            return Ok(Bytes {
                backing: Arc::new(Backing::Pooled(buf)),
                range: 0..len,
            });
        }
        // SAFETY: the map is read-only; a file truncated by another process while we read it
        // can raise SIGBUS, which is the accepted risk of every mmap-based reader (ripgrep,
        // b3sum) and is documented in the README.
        let map = unsafe { Mmap::map(file) }.map_err(|e| crate::Error::io(path, e))?;
        let len = map.len();
        Ok(Bytes {
            backing: Arc::new(Backing::Mapped(map)),
            range: 0..len,
        })
    }

    /// A sub-range, clamped to the available bytes (never panics on bad offsets).
    pub fn slice(&self, range: Range<usize>) -> Bytes {
        let len = self.range.len();
        let start = range.start.min(len);
        let end = range.end.clamp(start, len);
        Bytes {
            backing: Arc::clone(&self.backing),
            range: self.range.start + start..self.range.start + end,
        }
    }

    /// Hand the pages behind `range` back to the kernel: the scan is done with them. Keeps the
    /// resident memory of a scan over a multi-GiB mapped file bounded; the bytes stay
    /// readable (they are paged in again from the file). A no-op for owned buffers.
    pub fn release(&self, range: Range<usize>) {
        #[cfg(unix)]
        if let Backing::Mapped(map) = &*self.backing {
            let len = self.range.len();
            let start = range.start.min(len);
            let end = range.end.clamp(start, len);
            let (start, end) = (self.range.start + start, self.range.start + end);
            // Whole pages only: a page shared with the bytes around the range stays.
            let page = 4096;
            let (start, end) = (start.div_ceil(page) * page, end / page * page);
            if start < end {
                // SAFETY: the map is a read-only file mapping, never written, so MADV_DONTNEED
                // only drops clean page-cache pages: later reads fault them in from the file
                // with the same content. No reference observes a change.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        end - start,
                    )
                };
            }
        }
    }

    /// A sub-range, or `None` when it is not wholly inside.
    pub fn get(&self, range: Range<usize>) -> Option<Bytes> {
        (range.start <= range.end && range.end <= self.range.len()).then(|| self.slice(range))
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &*self.backing {
            Backing::Mapped(m) => m,
            Backing::Owned(v) | Backing::Budgeted(v, _) | Backing::Pooled(v) => v,
        };
        &all[self.range.clone()]
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_clamped() {
        let b = Bytes::from_vec(b"hello world".to_vec());
        assert_eq!(&*b.slice(6..11), b"world");
        assert_eq!(&*b.slice(6..100), b"world");
        assert_eq!(&*b.slice(100..200), b"");
        assert!(b.get(6..12).is_none());
        assert_eq!(&*b.slice(6..11).slice(1..3), b"or");
    }

    #[test]
    fn maps_files_including_empty_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        std::fs::write(&p, b"").unwrap();
        assert_eq!(Bytes::map_file(&p).unwrap().len(), 0);
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(&*Bytes::map_file(&p).unwrap(), b"abc");
        let err = Bytes::map_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn read_and_mapped_files_give_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let small = dir.path().join("small");
        let pattern = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 % 251) as u8).collect() };
        // Read (up to READ_MAX) and mapped (above it); then a smaller file in the buffer the
        // larger one gave back: nothing of the earlier content shows through.
        for n in [READ_MAX as usize, READ_MAX as usize + 1, 3] {
            std::fs::write(&big, pattern(n)).unwrap();
            let b = Bytes::map_file(&big).unwrap();
            assert_eq!(b.len(), n);
            assert!(*b == *pattern(n));
            let mapped = matches!(&*b.backing, Backing::Mapped(_));
            assert_eq!(mapped, n as u64 > READ_MAX, "{n} bytes");
        }
        std::fs::write(&small, b"abc").unwrap();
        let first = Bytes::map_file(&big).unwrap();
        drop(Bytes::map_file(&dir.path().join("big")).unwrap());
        let b = Bytes::map_file(&small).unwrap();
        assert_eq!(&*b, b"abc");
        assert_eq!(&*first.slice(1..3), &pattern(3)[1..3]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_and_fifos_are_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"/home/alice/.ssh/id_ed25519").unwrap();
        let link = dir.path().join("swapped");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let err = Bytes::map_file(&link).unwrap_err().to_string();
        assert!(
            err.contains("symbolic link") && err.contains("swapped"),
            "{err}"
        );
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        // Without O_NONBLOCK this open would wait for a writer for ever.
        let err = Bytes::map_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    /// A file the walk did not open (no descriptor left, or det-build's closing scan) is
    /// opened by its path later: it must still be the file the walk found.
    #[cfg(unix)]
    #[test]
    fn a_file_opened_later_must_be_the_one_the_walk_found() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"first").unwrap();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let seen = (m.dev(), m.ino());
        assert_eq!(
            &*Bytes::map_file_expecting(&p, Some(seen)).unwrap(),
            b"first"
        );
        // Replaced by another file of the same name.
        let other = dir.path().join("other");
        std::fs::write(&other, b"/home/alice/.ssh/id_ed25519").unwrap();
        std::fs::rename(&other, &p).unwrap();
        let err = Bytes::map_file_expecting(&p, Some(seen))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("another file than the directory walk found"),
            "{err}"
        );
    }

    /// A file opened before it is replaced is read as it was: the descriptor holds it.
    #[cfg(unix)]
    #[test]
    fn an_opened_file_is_read_whatever_replaces_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"first").unwrap();
        let file = open_no_follow(&p).unwrap();
        let meta = file.metadata().unwrap();
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &p).unwrap();
        assert_eq!(&*Bytes::map_opened(&file, &meta, &p).unwrap(), b"first");
    }
}
