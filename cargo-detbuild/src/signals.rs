//! While cargo runs, an interrupt belongs to it. Ctrl-C on a terminal reaches the whole
//! foreground process group; a SIGINT, SIGTERM or SIGHUP sent to det-build alone (`kill`,
//! `timeout`, a CI runner) is passed on to cargo. Either way cargo stops its compilers and
//! exits, and det-build reports that no manifest was written. The canonical root is a
//! namespace with a tmpfs: it vanishes with cargo, so nothing is left behind.

use std::sync::atomic::{AtomicI32, Ordering};

static CHILD: AtomicI32 = AtomicI32::new(0);
const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

pub struct ForwardSignals {
    old: Vec<libc::sighandler_t>,
}

impl ForwardSignals {
    /// Forward the interrupting signals to `pid` until dropped. Call it after the spawn:
    /// dispositions other than "ignore" are reset in the child at exec anyway.
    pub fn new(pid: u32) -> ForwardSignals {
        CHILD.store(pid as i32, Ordering::SeqCst);
        let handler = forward as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installing a handler that only calls kill(2); the previous dispositions
        // are restored on drop.
        let old = SIGNALS
            .iter()
            .map(|&s| unsafe { libc::signal(s, handler) })
            .collect();
        ForwardSignals { old }
    }
}

impl Drop for ForwardSignals {
    fn drop(&mut self) {
        // SAFETY: restoring the dispositions saved in `new`.
        for (&s, &h) in SIGNALS.iter().zip(&self.old) {
            unsafe { libc::signal(s, h) };
        }
        CHILD.store(0, Ordering::SeqCst);
    }
}
