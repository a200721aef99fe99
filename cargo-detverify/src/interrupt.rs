//! Ctrl-C, SIGTERM and SIGHUP while det-verify runs: the build running at that moment
//! receives the signal (from the terminal, or forwarded when it was sent to det-verify
//! alone), det-verify waits for it to stop, removes its temporary trees and exits 2.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static CHILD: AtomicI32 = AtomicI32::new(0);
const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn on_signal(sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe. A child that already got the signal from
        // the terminal gets it twice, which cargo and make treat as once.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Install the handlers for the life of the process.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for s in SIGNALS {
        // SAFETY: a handler that only stores atomics and calls kill(2).
        unsafe { libc::signal(s, handler) };
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The running build, to forward signals to (0: none).
pub fn set_child(pid: u32) {
    CHILD.store(pid as i32, Ordering::SeqCst);
}

/// The error returned when a signal stopped the verification.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted; the temporary trees were removed")
    }
}

impl std::error::Error for Interrupted {}
