//! The write gate `fsync {lock: true}` closes: while it is closed every change to
//! the store (a write, a transaction's commit, a branch created, dropped, reset or
//! merged) waits, so the files on disk stay as the lock's checkpoint left them and
//! can be copied. Readers go on. Locks count: each `fsync {lock: true}` adds one,
//! each `fsyncUnlock` takes one away, and the gate opens at zero, whichever
//! connection took them. A restart opens it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::error::Result;

/// How often a waiting writer asks whether to stop waiting.
const WAKE_EVERY: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct Gate {
    /// How many locks hold the gate closed.
    locks: Mutex<u64>,
    closed: AtomicBool,
    opened: Condvar,
    /// Changes waiting for the gate to open.
    waiting: AtomicUsize,
}

impl Gate {
    /// Adds a lock; returns how many there are now.
    pub fn lock(&self) -> u64 {
        let mut locks = self.locks();
        *locks += 1;
        self.closed.store(true, Ordering::Release);
        *locks
    }

    /// Takes a lock away; returns how many are left, or `None` when there was none.
    pub fn unlock(&self) -> Option<u64> {
        let mut locks = self.locks();
        *locks = locks.checked_sub(1)?;
        if *locks == 0 {
            self.closed.store(false, Ordering::Release);
            self.opened.notify_all();
        }
        Some(*locks)
    }

    /// How many locks hold the gate closed.
    pub fn count(&self) -> u64 {
        *self.locks()
    }

    /// How many changes wait for the gate to open.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits until the gate is open, asking `keep_waiting` every so often; its
    /// error (an interrupted or timed-out operation) ends the wait.
    pub fn wait_open(&self, keep_waiting: &dyn Fn() -> Result<()>) -> Result<()> {
        if !self.is_closed() {
            return Ok(());
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let waited = (|| {
            let mut locks = self.locks();
            while *locks > 0 {
                drop(locks);
                keep_waiting()?;
                locks = self.locks();
                if *locks > 0 {
                    locks = self.opened.wait_timeout(locks, WAKE_EVERY).unwrap_or_else(|p| p.into_inner()).0;
                }
            }
            Ok(())
        })();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        waited
    }

    fn locks(&self) -> std::sync::MutexGuard<'_, u64> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::error::{Error, ErrorCode};

    #[test]
    fn locks_count_and_the_gate_opens_at_zero() {
        let gate = Gate::default();
        assert_eq!(gate.unlock(), None);
        assert_eq!((gate.lock(), gate.lock()), (1, 2));
        assert!(gate.is_closed());
        assert_eq!(gate.unlock(), Some(1));
        assert!(gate.is_closed());
        assert_eq!(gate.unlock(), Some(0));
        assert!(!gate.is_closed());
    }

    #[test]
    fn a_writer_waits_until_the_last_unlock_or_gives_up() {
        let gate = Arc::new(Gate::default());
        gate.lock();
        let started = Instant::now();
        let gave_up = gate.wait_open(&|| match started.elapsed() > Duration::from_millis(150) {
            true => Err(Error::command(ErrorCode::MaxTimeMSExpired, "operation exceeded time limit")),
            false => Ok(()),
        });
        assert_eq!(gave_up.map_err(|e| e.code()), Err(ErrorCode::MaxTimeMSExpired));
        let opener = gate.clone();
        let unlocking = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            opener.unlock()
        });
        gate.wait_open(&|| Ok(())).expect("opened");
        assert_eq!(unlocking.join().expect("joined"), Some(0));
    }
}
