//! cargo's stderr passes through det unchanged, and det reads it on the way: when a
//! build fails, det can say why in its terms (a write into the read-only source tree, a
//! download without network). On a terminal cargo writes into a pseudo-terminal whose
//! size is the user's, so its colours and progress bar stay exactly as without det
//! (raw mode: no newline translation); otherwise into a pipe, as it would.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::thread::JoinHandle;

/// Lines worth explaining are kept (bounded); everything is forwarded.
const PATTERNS: &[&str] = &[
    "Read-only file system",
    "name resolution",
    "Network is unreachable",
    "network is unreachable",
];
const MAX_KEPT: usize = 64;

pub struct Tee {
    thread: JoinHandle<Vec<String>>,
}

/// The child's stderr and the tee that forwards it.
pub fn start() -> std::io::Result<(Stdio, Tee)> {
    use std::io::IsTerminal;
    let (read_end, child_end) = if std::io::stderr().is_terminal() {
        pty()?
    } else {
        let mut fds = [-1; 2];
        // SAFETY: pipe2 fills the two descriptors, which we then own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: both are open descriptors returned by pipe2 and owned by no one else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    };
    let mut reader = std::fs::File::from(read_end);
    let thread = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut line = Vec::new();
        let mut buf = [0u8; 8192];
        let mut err = std::io::stderr();
        loop {
            // A pty's master reads EIO once the last slave is closed: that is the end.
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let _ = err.write_all(&buf[..n]);
            for &b in &buf[..n] {
                if b == b'\n' || b == b'\r' {
                    if !line.is_empty() && kept.len() < MAX_KEPT {
                        let s = String::from_utf8_lossy(&line);
                        if PATTERNS.iter().any(|p| s.contains(p)) {
                            kept.push(s.into_owned());
                        }
                    }
                    line.clear();
                } else if line.len() < 4096 {
                    line.push(b);
                }
            }
        }
        let _ = err.flush();
        kept
    });
    Ok((Stdio::from(child_end), Tee { thread }))
}

impl Tee {
    /// Wait for the end of the output (the child has exited and closed its end); the
    /// lines that matched a pattern.
    pub fn finish(self) -> Vec<String> {
        self.thread.join().unwrap_or_default()
    }
}

fn pty() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut master = -1;
    let mut slave = -1;
    // SAFETY: ioctl/openpty/tcgetattr/tcsetattr/fcntl on descriptors we own, with
    // zero-initialised structs that they fill.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        let have_size = libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) == 0;
        let wsp = if have_size {
            &ws as *const libc::winsize
        } else {
            std::ptr::null()
        };
        if libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            wsp,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let master = OwnedFd::from_raw_fd(master);
        let slave = OwnedFd::from_raw_fd(slave);
        use std::os::fd::AsRawFd;
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t);
        }
        libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        Ok((master, slave))
    }
}
