//! A read replica's store (`store::Options::follower`): the engine is the
//! writer's, read through SlateDB's reader as it follows the writer, and a thread
//! catches up with it every [`FOLLOW_INTERVAL`]: it publishes the writer's applied
//! LSN, which reads that name no point read at, and reloads the branch table.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bson::DateTime;

use super::{apply, lock, write, Commit, Meta, Store};
use crate::error::Result;
use crate::lsn::Lsn;

/// How often a read replica's store looks for what its writer committed.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(20);

/// How far a read replica is behind what it has seen of the writer's log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// What reads see, and its commit time.
    pub applied: Lsn,
    pub applied_time: DateTime,
    /// The last record of the writer's log seen, and its time.
    pub log: Lsn,
    pub log_time: DateTime,
}

impl Lag {
    /// How far, in LSNs, what reads see is behind the last record of the
    /// writer's log seen (LSNs in object storage rise with gaps: an estimate of
    /// records, 0 when every record seen is readable).
    pub fn records(&self) -> u64 {
        self.log.0.saturating_sub(self.applied.0)
    }

    /// How much older what reads see is than the newest record seen (0 when
    /// reads see every record seen).
    pub fn seconds(&self) -> f64 {
        match self.records() {
            0 => 0.0,
            _ => (self.log_time.timestamp_millis() - self.applied_time.timestamp_millis()).max(0) as f64 / 1000.0,
        }
    }
}

impl Default for Lag {
    fn default() -> Self {
        let zero = DateTime::from_millis(0);
        Lag { applied: Lsn::ZERO, applied_time: zero, log: Lsn::ZERO, log_time: zero }
    }
}

impl Store {
    /// A read replica's store: catches up with the writer's every
    /// [`FOLLOW_INTERVAL`] until it closes.
    pub(super) fn follow_loop(&self) {
        let mut failing = false;
        while !self.stop.load(Ordering::Acquire) {
            match self.catch_up() {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "following the writer failed; trying again");
                    failing = true;
                }
                Err(_) => {}
            }
            std::thread::sleep(FOLLOW_INTERVAL);
        }
    }

    /// A read replica's store: takes up what the writer's store holds now (the
    /// engine is the writer's, as the replica follows it), and publishes its
    /// applied LSN, which reads that name no point read at. Versions are read at
    /// that LSN, so what the writer commits later changes none of them; the
    /// branch table is read after the applied LSN, so it may show a branch
    /// created a moment later, never miss one that was there.
    pub fn catch_up(&self) -> Result<()> {
        let (log_lsn, log_time) = self.wal.catch_up()?;
        let snapshot = self.engine.snapshot()?;
        let meta = Meta::load(&*snapshot)?;
        let mut lag = lock(&self.lag);
        *lag = Lag { applied: meta.applied, applied_time: meta.applied_time, log: log_lsn.max(meta.applied), log_time };
        if meta.applied <= self.published().lsn {
            return Ok(());
        }
        let branches = apply::load_branches(&*snapshot)?;
        drop(snapshot);
        *write(&self.branches) = branches;
        self.horizon.store(meta.horizon.0, Ordering::Release);
        self.committed.store(meta.applied.0, Ordering::Release);
        let commit = Commit { lsn: meta.applied, time: meta.applied_time };
        *lock(&self.writer) = meta;
        drop(lag);
        self.publish(commit);
        Ok(())
    }

    /// How far a read replica's store is behind the writer's log, as far as the
    /// replica has seen it: `None` for a writer.
    pub fn lag(&self) -> Option<Lag> {
        self.options.follower.then(|| *lock(&self.lag))
    }
}
