//! Giving the engine file's free space back to the file system: `compact` on
//! demand, and `autoCompact`'s passes in the background.
//!
//! The store is one file for every database and branch, so a compaction rewrites
//! all of it. It runs alone (no checkpoint or history collection meanwhile), with
//! writers held, after the log is durable up to what the engine holds: the engine
//! makes everything it holds durable when it compacts, and must never hold durably
//! what the log could still lose. It needs no snapshot open; one still open (a
//! read in progress, a transaction) makes it give up, for a later try.

use std::time::Duration;

use super::{lock, Store};
use crate::error::{Error, ErrorCode, Result};

/// How often `autoCompact` looks at the free space.
pub const AUTO_COMPACT_INTERVAL: Duration = Duration::from_secs(30);

/// What `autoCompact: true` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoCompact {
    /// Compact only when at least this many bytes would be given back.
    pub free_space_target: u64,
    /// One compaction, then off.
    pub run_once: bool,
}

impl Store {
    /// Bytes the engine's file holds that no data uses.
    pub fn free_bytes(&self) -> Result<u64> {
        self.engine.free_bytes()
    }

    /// Compacts the engine file: the bytes given back, or `None` when a snapshot
    /// still open held it back.
    pub fn compact(&self) -> Result<Option<u64>> {
        if self.gate.is_closed() {
            return Err(Error::command(
                ErrorCode::ObjectIsBusy,
                "the store is locked by fsync: no compaction until fsyncUnlock",
            ));
        }
        let _alone = lock(&self.maintenance);
        let meta = self.lock_writer()?;
        self.commit_pending(&meta)?;
        self.wal.wait(meta.applied, true)?;
        let freed = self.engine.compact()?;
        if let Some(bytes) = freed {
            tracing::info!(bytes, "store compacted");
        }
        Ok(freed)
    }

    /// What `autoCompact` asks for now, if it is on.
    pub fn auto_compact(&self) -> Option<AutoCompact> {
        *lock(&self.auto_compact)
    }

    /// Turns `autoCompact` on (`Some`) or off.
    pub fn set_auto_compact(&self, settings: Option<AutoCompact>) {
        *lock(&self.auto_compact) = settings;
    }

    /// One `autoCompact` pass: compacts when it is on and enough space is free; a
    /// `runOnce` request ends after a pass that was not held back.
    pub(super) fn compact_if_asked(&self) {
        let Some(settings) = self.auto_compact() else { return };
        // Whether the pass is done: nothing to give back, or given back.
        let pass = || -> Result<bool> {
            if self.free_bytes()? < settings.free_space_target {
                return Ok(true);
            }
            Ok(self.compact()?.is_some())
        };
        match pass() {
            Ok(true) if settings.run_once => {
                let mut current = lock(&self.auto_compact);
                if *current == Some(settings) {
                    *current = None;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "background compaction failed"),
        }
    }
}
