//! Pause points, for tests that must act at one exact moment of a real run (a signal while
//! a report is half written, a file swapped between the directory walk and the open) and
//! must not depend on timing.
//!
//! `DET_TEST_PAUSE=<point>:<fifo>`: when the run reaches `<point>`, it opens `<fifo>` for
//! reading — which blocks until the test opens it for writing, so the test then knows where
//! the run is — and reads until the test closes its end. Unset (always, outside det's own
//! tests), a pause point costs one environment lookup and does nothing.
//!
//! The points: `atomic-write` (half of an output file is in its temporary file, see
//! [`crate::atomic_file`]), `after-walk` (det-scan has walked the paths and not yet
//! opened a file) and `store-insert` (a new store entry is written under `tmp/`, not yet
//! renamed into `entries/`, see [`crate::store`]).

/// Whether `DET_TEST_PAUSE` names `point`: for a run that must reach the point in a state
/// it otherwise passes through only in part (det-scan scans the first files while it walks;
/// `after-walk` asks for the whole walk first).
pub fn armed(point: &str) -> bool {
    fifo(point).is_some()
}

fn fifo(point: &str) -> Option<String> {
    let value = std::env::var_os("DET_TEST_PAUSE")?;
    let value = value.to_string_lossy();
    let (name, fifo) = value.split_once(':')?;
    (name == point).then(|| fifo.to_owned())
}

/// Pause at `point` when `DET_TEST_PAUSE` names it (see the module docs).
pub fn pause(point: &str) {
    let Some(fifo) = fifo(point) else {
        return;
    };
    if let Ok(mut f) = std::fs::File::open(fifo) {
        let _ = std::io::copy(&mut f, &mut std::io::sink());
    }
}
