//! One memory budget for the decompressed data of a whole scan: every nesting level and every
//! parallel job draws from it, so nine stacked gzip layers, nine compressed DWARF sections or
//! `-j16` cannot multiply the per-buffer limit.
//!
//! Buffers reserve as their output is actually produced (never on a header's claim) and give
//! the reservation back when they are dropped. Whether a file's scan fails depends only on
//! that file — its own reservations against the total — never on what the other jobs hold:
//! a job that finds the budget taken by others waits for them to release it, so the report
//! does not depend on scheduling. If every job that holds memory is waiting at once, the last
//! one to wait goes ahead rather than deadlock (the budget is then exceeded by that one
//! request, never by more than one file's share).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// The budget shared by every job of a scan.
#[derive(Debug)]
pub struct MemoryBudget {
    total: u64,
    state: Mutex<Shared>,
    released: Condvar,
}

#[derive(Debug, Default)]
struct Shared {
    used: u64,
    /// Files that hold part of the budget, and how many of them wait for more.
    holders: usize,
    waiting_holders: usize,
}

impl MemoryBudget {
    pub fn new(total: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            total,
            state: Mutex::new(Shared::default()),
            released: Condvar::new(),
        })
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes held right now by all jobs.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One file's account with the shared budget (each file scanned gets its own).
#[derive(Debug)]
pub struct FileBudget {
    shared: Arc<MemoryBudget>,
    own: AtomicU64,
}

impl FileBudget {
    pub fn new(shared: Arc<MemoryBudget>) -> Arc<FileBudget> {
        Arc::new(FileBudget {
            shared,
            own: AtomicU64::new(0),
        })
    }

    pub fn shared(&self) -> &Arc<MemoryBudget> {
        &self.shared
    }

    /// Take `bytes` from the budget for this file. Fails when this file alone would hold more
    /// than the total; waits while other files hold what it needs.
    pub(crate) fn take(&self, bytes: u64) -> Result<(), String> {
        if bytes == 0 {
            return Ok(());
        }
        let own = self.own.load(Ordering::Relaxed);
        let total = self.shared.total;
        if own.saturating_add(bytes) > total {
            return Err(format!(
                "decompressed data held at once for this file would exceed the scan's memory budget of {} (raise it with --max-memory)",
                super::compress::human_size(total)
            ));
        }
        let mut s = self.shared.lock();
        let holder = own > 0;
        loop {
            if s.used.saturating_add(bytes) <= total {
                break;
            }
            let others_running = s.holders - s.waiting_holders - usize::from(holder);
            if others_running == 0 {
                // Everyone who holds memory is waiting: waiting too would deadlock.
                break;
            }
            if holder {
                s.waiting_holders += 1;
                // A holder starting to wait may complete a deadlock: let the others see it.
                self.shared.released.notify_all();
            }
            s = self
                .shared
                .released
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
            if holder {
                s.waiting_holders -= 1;
            }
        }
        s.used += bytes;
        if !holder {
            s.holders += 1;
        }
        self.own.store(own + bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Give `bytes` back.
    pub(crate) fn give(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let own = self.own.load(Ordering::Relaxed);
        let left = own.saturating_sub(bytes);
        self.own.store(left, Ordering::Relaxed);
        let mut s = self.shared.lock();
        s.used = s.used.saturating_sub(bytes);
        if left == 0 && own > 0 {
            s.holders -= 1;
        }
        drop(s);
        self.shared.released.notify_all();
    }
}

/// Bytes taken from a [`FileBudget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    file: Arc<FileBudget>,
    bytes: u64,
}

impl Reservation {
    pub(crate) fn new(file: &Arc<FileBudget>) -> Reservation {
        Reservation {
            file: Arc::clone(file),
            bytes: 0,
        }
    }

    /// Hold `bytes` in all (more or fewer than now).
    pub(crate) fn resize(&mut self, bytes: u64) -> Result<(), String> {
        if bytes > self.bytes {
            self.file.take(bytes - self.bytes)?;
        } else {
            self.file.give(self.bytes - bytes);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.file.give(self.bytes);
    }
}
