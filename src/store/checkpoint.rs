//! Checkpoints, which make the engine durable without stopping writes.
//!
//! The engine must never hold durably a record the log could still lose, or
//! recovery would find the store ahead of the log. So a checkpoint fixes a point:
//! under the writer lock it commits every applied record to the engine and notes
//! the applied LSN. Then, with the lock released, it waits for the log to be
//! durable up to that LSN, flushes the engine and records the checkpoint in the WAL
//! manifest. Meanwhile writers go on appending and applying; the groups of records
//! they settle are *deferred*: kept out of the engine, shared with readers, who see
//! them laid over the engine. When the flush is done the engine takes the deferred
//! groups in one commit.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::engine::{Overlay, Snapshot, WriteBatch};
use super::{lock, Meta, Store};
use crate::error::Result;

/// What settled while a checkpoint flushes the engine.
#[derive(Default)]
pub(super) struct Deferred {
    /// A checkpoint is flushing: the engine takes no applied records.
    flushing: bool,
    /// The settled groups the engine has not taken, oldest first. Each is at most
    /// half the size of the one below it (smaller ones are folded together), so
    /// few are stacked however many groups settle during a flush.
    layers: Vec<Arc<WriteBatch>>,
}

impl Deferred {
    fn push(&mut self, mut batch: WriteBatch) {
        while let Some(below) = self.layers.last() {
            if below.len() > 2 * batch.len() {
                break;
            }
            let mut folded = WriteBatch::clone(below);
            folded.extend(&batch);
            batch = folded;
            self.layers.pop();
        }
        self.layers.push(Arc::new(batch));
    }

    /// `engine` with the deferred groups laid over it.
    fn over(&self, engine: Box<dyn Snapshot>) -> Box<dyn Snapshot> {
        self.layers.iter().fold(engine, |base, layer| Box::new(Overlay::new(base, layer.clone())))
    }
}

impl Store {
    /// Makes everything applied up to now durable in the engine and records it in
    /// the WAL manifest. Writers are held only while the applied records go to the
    /// engine, not through the fsyncs.
    pub fn checkpoint(&self) -> Result<()> {
        let _alone = lock(&self.maintenance);
        let started = Instant::now();
        let applied = {
            let meta = self.lock_writer()?;
            if meta.applied.0 <= self.checkpointed.load(Ordering::Acquire) {
                return Ok(());
            }
            self.commit_pending(&meta)?;
            lock(&self.deferred).flushing = true;
            meta.applied
        };
        let flushed = (|| {
            self.wal.wait(applied, true)?;
            self.engine.flush()?;
            self.wal.checkpoint(applied)
        })();
        self.take_deferred();
        flushed?;
        self.checkpointed.store(applied.0, Ordering::Release);
        self.work.checkpoints.record(started.elapsed());
        Ok(())
    }

    /// What readers read: the engine, with the groups a checkpoint deferred laid
    /// over it.
    pub(super) fn readable(&self) -> Result<Box<dyn Snapshot>> {
        let deferred = lock(&self.deferred);
        Ok(deferred.over(self.engine.snapshot()?))
    }

    /// Settles the pending group (writer lock held, as `_meta` shows): the engine
    /// commits it, or, while a checkpoint flushes, readers read it deferred. Every
    /// applied record is then visible.
    pub(super) fn commit_pending(&self, meta: &Meta) -> Result<()> {
        if let Some(group) = lock(&self.pending).take() {
            let batch = group.write().take_batch();
            let mut deferred = lock(&self.deferred);
            if deferred.flushing {
                deferred.push(batch);
            } else {
                drop(deferred);
                if let Err(e) = self.engine.commit(&batch, false) {
                    self.fail(format!("committing records up to LSN {} failed: {e}", meta.applied));
                    return Err(e);
                }
            }
        }
        self.committed.store(meta.applied.0, Ordering::Release);
        Ok(())
    }

    /// Ends a checkpoint's flush: the engine takes the deferred groups. Readers
    /// wait meanwhile, so that none sees the engine without them and them gone.
    fn take_deferred(&self) {
        let _writer = lock(&self.writer);
        let mut deferred = lock(&self.deferred);
        deferred.flushing = false;
        if deferred.layers.is_empty() {
            return;
        }
        let layers: Vec<&WriteBatch> = deferred.layers.iter().map(|layer| &**layer).collect();
        match self.engine.commit_all(&layers, false) {
            Ok(()) => deferred.layers.clear(),
            // Readers keep reading them laid over the engine; the store takes no
            // more writes until a restart replays the log.
            Err(e) => self.fail(format!("committing the records settled during a checkpoint failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::engine::{Engine, MemoryEngine, Table};

    fn batch(keys: impl Iterator<Item = u32>, value: u8) -> WriteBatch {
        let mut batch = WriteBatch::default();
        for key in keys {
            batch.put(Table::Docs, key.to_be_bytes().to_vec(), vec![value]);
        }
        batch
    }

    #[test]
    fn deferred_groups_stack_logarithmically_many_layers() {
        let mut deferred = Deferred::default();
        let mut next = 0u32;
        for i in 0..1000u32 {
            let size = i % 7 + 1;
            deferred.push(batch(next..next + size, 1));
            next += size;
        }
        assert!(deferred.layers.len() <= 13, "{} layers for {next} keys", deferred.layers.len());
        for pair in deferred.layers.windows(2) {
            assert!(pair[0].len() > 2 * pair[1].len());
        }
        assert_eq!(deferred.layers.iter().map(|l| l.len()).sum::<usize>(), next as usize);
    }

    #[test]
    fn a_later_group_wins_over_an_earlier_one_and_the_engine() {
        let engine = MemoryEngine::new();
        engine.commit(&batch(0..10, 0), false).expect("commit");
        let mut deferred = Deferred::default();
        for value in 1..=20 {
            deferred.push(batch(value as u32 % 5..5, value));
        }
        let read = deferred.over(engine.snapshot().expect("snapshot"));
        let value = |key: u32| read.get(Table::Docs, &key.to_be_bytes()).expect("get");
        assert_eq!(value(0), Some(vec![20]));
        assert_eq!(value(4), Some(vec![20]));
        assert_eq!(value(9), Some(vec![0]));
        let mut seen = 0;
        read.scan(Table::Docs, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, false, &mut |_, _| {
            seen += 1;
            Ok(true)
        })
        .expect("scan");
        assert_eq!(seen, 10);
    }
}
