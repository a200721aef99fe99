//! While cargo runs, Ctrl-C belongs to it: the terminal sends SIGINT to the whole
//! foreground process group, cargo stops its compilers and exits, and det-build (which
//! ignores the signal meanwhile) then reports that no manifest was written. The canonical
//! root is a namespace with a tmpfs: it vanishes with cargo, so nothing is left behind.

pub struct IgnoreInterrupts {
    old: [libc::sighandler_t; 2],
}

impl IgnoreInterrupts {
    pub fn new() -> IgnoreInterrupts {
        // SAFETY: setting a signal disposition to SIG_IGN; the previous one is restored
        // on drop. Children get the default back at exec (ignored signals are inherited,
        // so cargo is spawned with its own disposition restored below).
        let old = unsafe {
            [
                libc::signal(libc::SIGINT, libc::SIG_IGN),
                libc::signal(libc::SIGQUIT, libc::SIG_IGN),
            ]
        };
        IgnoreInterrupts { old }
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        // SAFETY: restoring the dispositions saved in `new`.
        unsafe {
            libc::signal(libc::SIGINT, self.old[0]);
            libc::signal(libc::SIGQUIT, self.old[1]);
        }
    }
}
