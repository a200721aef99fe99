//! Reading the inputs a user names (a compilation database, a build log, a manifest) in
//! bounded memory and time: their size is counted as they are read, never taken from
//! `metadata().len()` (which is 0 for a FIFO, `/dev/zero` or `/proc` files), and devices are
//! refused before any byte is read.

use crate::{Error, Result};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Open `path` for reading as an input. A character or block device (`/dev/zero`, a disk)
/// is refused; a FIFO is read (`--build-log <(...)`), bounded by the [`Limited`] reader.
pub fn open(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let ft = file.metadata().map_err(|e| Error::io(path, e))?.file_type();
        if ft.is_char_device() || ft.is_block_device() || ft.is_socket() {
            return Err(Error::invalid(path, "is a device or socket, not a file"));
        }
    }
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Error::invalid(path, "is a directory"));
    }
    Ok(file)
}

/// A reader that fails with a clear error once more than `limit` bytes have come through.
pub struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
    what: &'static str,
}

impl<R: Read> Limited<R> {
    /// `what` names the kind of input in the error (`a compilation database`).
    pub fn new(inner: R, limit: u64, what: &'static str) -> Self {
        Limited {
            inner,
            left: limit,
            limit,
            what,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a file of exactly `limit` bytes from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    format!(
                        "larger than {}, the most det reads of {}",
                        crate::artifact::human_size(self.limit),
                        self.what
                    ),
                )),
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// The whole of `path`, at most `limit` bytes (see [`open`] and [`Limited`]).
pub fn read(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let file = open(path)?;
    let mut out = Vec::new();
    Limited::new(file, limit, what)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(PathBuf::from(path), e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_refused_and_sizes_counted() {
        #[cfg(unix)]
        {
            let e = read(Path::new("/dev/zero"), 10, "a test input").unwrap_err();
            assert!(e.to_string().contains("/dev/zero: is a device"), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read(&p, 10, "a test input").unwrap(), b"0123456789");
        let e = read(&p, 9, "a test input").unwrap_err().to_string();
        assert!(
            e.contains("larger than 9 bytes, the most det reads of a test input"),
            "{e}"
        );
        assert!(e.contains(&p.display().to_string()), "{e}");
    }
}
