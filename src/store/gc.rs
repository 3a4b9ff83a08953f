//! Collecting history: versions older than the retention that no read can reach any
//! more, the versions of dropped branches and collections, and WAL segments below
//! both the checkpoint and the retained history.
//!
//! The horizon is the last LSN committed at or before `now - retention`; reads below
//! it fail from the moment it moves. For each branch, a read at or after the
//! horizon, or through a child based below it, needs only the newest version at or
//! before the horizon and before each such base; older ones go. Work is done in
//! chunks of whole runs of versions, one engine transaction each, so writers wait
//! for a chunk at most.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;

use bson::DateTime;

use super::branches::Branches;
use super::engine::{Staged, Table, WriteBatch};
use super::tables::{self, ID_LEN};
use super::{lock, read, sessions, write, Progress, Store, Work};
use crate::wal::BranchId;

/// How often a long pass logs how far it has come.
const PROGRESS_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Ends a pass's progress report when dropped.
struct Reporting<'w>(&'w Work);

impl Drop for Reporting<'_> {
    fn drop(&mut self) {
        *lock(&self.0.collecting) = None;
    }
}
use crate::error::Result;
use crate::lsn::Lsn;

/// Keys examined per engine transaction.
const CHUNK: usize = 10_000;

/// What a collection pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GcStats {
    pub horizon: Lsn,
    /// Versions deleted (documents and catalog entries).
    pub versions: u64,
    /// WAL segments deleted.
    pub segments: usize,
}

/// For each live branch, the points below the horizon its readers may still need.
struct Needs {
    horizon: Lsn,
    /// Branch id → whether it has a parent, and the points below the horizon its
    /// children's bases and merge bases read it at.
    live: HashMap<u64, NeededPoints>,
    /// Branches no read can reach when the pass began (dropped, or replaced by a
    /// reset before the horizon, with no branch based on them): all their versions
    /// go. A branch in neither set was created during the pass and keeps everything.
    dropped: HashSet<u64>,
}

impl Needs {
    /// The versions of one run (one branch's versions of one thing, newest first)
    /// to delete.
    fn doomed(&self, branch: u64, versions: &[Version]) -> Vec<usize> {
        if self.dropped.contains(&branch) {
            return (0..versions.len()).collect();
        }
        let Some((has_parent, bases)) = self.live.get(&branch) else {
            return Vec::new();
        };
        let mut keep = vec![false; versions.len()];
        for (i, version) in versions.iter().enumerate() {
            keep[i] = version.lsn > self.horizon;
        }
        for point in std::iter::once(&self.horizon).chain(bases) {
            if let Some(i) = versions.iter().position(|v| v.lsn <= *point) {
                keep[i] = true;
            }
        }
        // On a branch with no parent, a tombstone with nothing older kept hides
        // nothing.
        if !has_parent {
            if let Some(oldest) = keep.iter().rposition(|&k| k) {
                if versions[oldest].lsn <= self.horizon && versions[oldest].tombstone {
                    keep[oldest] = false;
                }
            }
        }
        (0..versions.len()).filter(|&i| !keep[i]).collect()
    }
}

/// One stored version.
struct Version {
    key: Vec<u8>,
    lsn: Lsn,
    tombstone: bool,
    /// The value, when the pass asked for values.
    value: Vec<u8>,
}

/// The versions of one thing, by branch (each branch's newest first).
#[derive(Default)]
struct Run {
    prefix: Vec<u8>,
    branches: Vec<(u64, Vec<Version>)>,
}

impl Run {
    /// Adds the keys to delete from this run to `doomed`, and empties it.
    fn judge(&mut self, needs: &Needs, keep_run: &mut impl FnMut(&[u8], &[&[u8]]) -> bool, doomed: &mut Vec<Vec<u8>>) {
        let mut kept: Vec<&[u8]> = Vec::new();
        let mut gone: Vec<&Version> = Vec::new();
        for (branch, versions) in &self.branches {
            let doomed_here = needs.doomed(*branch, versions);
            for (i, version) in versions.iter().enumerate() {
                if doomed_here.contains(&i) {
                    gone.push(version);
                } else if !version.tombstone {
                    kept.push(&version.value);
                }
            }
        }
        if self.branches.is_empty() {
            return;
        }
        if keep_run(&self.prefix, &kept) {
            doomed.extend(gone.into_iter().map(|v| v.key.clone()));
        } else {
            doomed.extend(self.branches.iter().flat_map(|(_, vs)| vs.iter().map(|v| v.key.clone())));
        }
        self.branches.clear();
    }
}

/// Whether a branch has a parent, and the points below the horizon it is read at.
type NeededPoints = (bool, Vec<Lsn>);

/// What each branch the store knows needs kept: for the branches a read can still
/// reach (live ones, ones a reset replaced after the horizon, and their ancestors),
/// whether each has a parent and the points below the horizon that children and
/// merge bases read it at; and the others, whose versions all go.
fn needs_of(branches: &Branches, horizon: Lsn) -> (HashMap<u64, NeededPoints>, HashSet<u64>) {
    let mut needed: HashSet<BranchId> = HashSet::new();
    let readable = branches
        .known()
        .filter(|b| b.dropped_lsn.is_none() && b.replaced_lsn.is_none_or(|replaced| replaced > horizon));
    for branch in readable {
        let mut at = Some(branch.id);
        while let Some(id) = at {
            if !needed.insert(id) {
                break;
            }
            at = branches.get(id).and_then(|b| b.parent);
        }
    }
    let mut live = HashMap::new();
    let mut dropped = HashSet::new();
    for branch in branches.known() {
        if !needed.contains(&branch.id) {
            dropped.insert(branch.id.0);
            continue;
        }
        let children = branches.known().filter(|c| c.parent == Some(branch.id) && needed.contains(&c.id));
        let merged_at = branches
            .known()
            .filter(|b| needed.contains(&b.id))
            .flat_map(|b| b.merges.iter())
            .filter(|m| m.source == branch.id)
            .map(|m| m.source_lsn);
        let points = children.map(|c| c.base_lsn).chain(merged_at).filter(|p| *p < horizon).collect();
        live.insert(branch.id.0, (branch.parent.is_some(), points));
    }
    (live, dropped)
}

impl Store {
    /// Collects the history that `now` puts beyond the retention.
    pub fn collect_garbage(&self, now: DateTime) -> Result<GcStats> {
        // No checkpoint defers records meanwhile: the pass reads and writes the
        // engine itself.
        let _alone = lock(&self.maintenance);
        let started = std::time::Instant::now();
        let retention = i64::try_from(self.options.retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.timestamp_millis().saturating_sub(retention);
        let horizon = {
            let found = self.last_at_or_before(cutoff)?;
            let published = self.published().lsn;
            found.min(published).max(self.horizon())
        };
        // Move the horizon first: no read may start below it while versions go.
        self.horizon.fetch_max(horizon.0, std::sync::atomic::Ordering::AcqRel);
        // Under the writer lock, so that nothing is half-applied: the branches and
        // collections that exist now. Whatever is created later is left alone.
        let (needs, first_new_collection) = {
            let mut meta = self.lock_writer_open(&|| Ok(()))?;
            // The pending group carries an older copy of the meta row: in first.
            self.commit_pending(&meta)?;
            meta.horizon = horizon;
            let mut staged = Staged::new(self.engine.snapshot()?);
            meta.save(&mut staged);
            // Never durable on its own: only checkpoints make the engine durable.
            self.engine.commit(&staged.into_batch(), false)?;
            let (live, dropped) = needs_of(&read(&self.branches), horizon);
            (Needs { horizon, live, dropped }, meta.next_collection)
        };
        let mut stats = GcStats { horizon, ..GcStats::default() };
        let _reporting = self.report_collection()?;
        let mut referenced = HashSet::new();
        stats.versions += self.collect_table(Table::Catalog, &needs, true, |_, kept| {
            for value in kept {
                if let Ok(doc) = crate::value::decode(value) {
                    referenced.insert(doc.get_i64("id").unwrap_or_default() as u64);
                    for index in doc.get_array("indexes").into_iter().flatten() {
                        let id = index.as_document().and_then(|i| i.get_i64("id").ok());
                        referenced.extend(id.map(|id| id as u64));
                    }
                }
            }
            true
        })?;
        // Documents of collections, and entries of indexes, that no catalog entry
        // names any more are unreachable (those created during the pass are not in
        // the catalog pass's view; their ids are new).
        let reachable = |prefix: &[u8]| {
            prefix
                .get(..ID_LEN)
                .and_then(|id| id.try_into().ok())
                .map(u64::from_be_bytes)
                .is_none_or(|id| id >= first_new_collection || referenced.contains(&id))
        };
        stats.versions += self.collect_table(Table::Docs, &needs, false, |prefix, _| reachable(prefix))?;
        stats.versions += self.collect_table(Table::Indexes, &needs, false, |prefix, _| reachable(prefix))?;
        self.forget_branches(&needs.dropped)?;
        self.forget_log(&needs.dropped, horizon)?;
        self.forget_times_before(horizon)?;
        self.forget_sessions_before(DateTime::from_millis(now.timestamp_millis() - sessions::ROW_LIFETIME_MS))?;
        stats.segments = self.wal.remove_segments_below(horizon)?;
        self.work.versions_collected.fetch_add(stats.versions, std::sync::atomic::Ordering::Relaxed);
        self.work.segments_removed.fetch_add(stats.segments as u64, std::sync::atomic::Ordering::Relaxed);
        self.work.collections.record(started.elapsed());
        Ok(stats)
    }

    /// One pass over a version table. `keep_run(prefix, kept values)` sees what
    /// survives of each run (values only when `values` is set); when it returns
    /// `false` the run is deleted whole.
    fn collect_table(
        &self,
        table: Table,
        needs: &Needs,
        values: bool,
        mut keep_run: impl FnMut(&[u8], &[&[u8]]) -> bool,
    ) -> Result<u64> {
        let mut deleted = 0u64;
        let mut resume: Option<Vec<u8>> = None;
        loop {
            let mut doomed: Vec<Vec<u8>> = Vec::new();
            let mut next_resume = None;
            let lower = resume.as_deref().map_or(Bound::Unbounded, Bound::Included);
            let mut run = Run::default();
            let mut seen = 0usize;
            self.engine.snapshot()?.scan(table, lower, Bound::Unbounded, false, &mut |key, value| {
                let Some((prefix, branch, lsn)) = tables::split_version_key(key) else { return Ok(true) };
                if prefix != run.prefix.as_slice() {
                    run.judge(needs, &mut keep_run, &mut doomed);
                    if seen >= CHUNK {
                        next_resume = Some(key.to_vec());
                        return Ok(false);
                    }
                    run.prefix = prefix.to_vec();
                }
                seen += 1;
                let version = Version {
                    key: key.to_vec(),
                    lsn,
                    tombstone: value.is_empty(),
                    value: if values { value.to_vec() } else { Vec::new() },
                };
                match run.branches.last_mut() {
                    Some((b, versions)) if *b == branch => versions.push(version),
                    _ => run.branches.push((branch, vec![version])),
                }
                Ok(true)
            })?;
            run.judge(needs, &mut keep_run, &mut doomed);
            self.advance_collection(seen as u64);
            // Deleting versions a concurrent writer did not write (its keys carry
            // newer LSNs) needs no lock: a run's newer versions never make its
            // doomed ones needed again.
            deleted += doomed.len() as u64;
            let mut batch = WriteBatch::default();
            // A document version's `_id` leaves its changes row with it.
            if table == Table::Docs {
                super::changes::forget_versions(&*self.engine.snapshot()?, &doomed, &mut batch)?;
            }
            for key in doomed {
                batch.delete(table, key);
            }
            self.engine.commit(&batch, false)?;
            match next_resume {
                Some(key) => resume = Some(key),
                None => return Ok(deleted),
            }
        }
    }

    /// Starts reporting the pass's progress (the keys of the version tables it
    /// walks), until the returned guard drops.
    pub(super) fn report_collection(&self) -> Result<impl Drop + '_> {
        let mut total = Some(0);
        for table in [Table::Catalog, Table::Docs, Table::Indexes] {
            total = total.zip(self.engine.key_count(table)?).map(|(sum, keys)| sum + keys);
        }
        let now = std::time::Instant::now();
        *lock(&self.work.collecting) = Some(Progress { done: 0, total, started: now, logged: now });
        Ok(Reporting(&self.work))
    }

    /// Counts `keys` more walked, and logs the progress every 2 s.
    pub(super) fn advance_collection(&self, keys: u64) {
        let mut collecting = lock(&self.work.collecting);
        let Some(progress) = collecting.as_mut() else { return };
        progress.done += keys;
        // Writes during the pass add keys.
        progress.total = progress.total.map(|total| total.max(progress.done));
        if progress.logged.elapsed() >= PROGRESS_LOG_INTERVAL {
            progress.logged = std::time::Instant::now();
            tracing::info!(done = progress.done, total = ?progress.total, "collecting history");
        }
    }

    /// Deletes the rows of the branches whose versions the pass removed, and
    /// forgets them.
    fn forget_branches(&self, dropped: &HashSet<u64>) -> Result<()> {
        let mut batch = WriteBatch::default();
        for id in dropped {
            batch.delete(Table::Branches, tables::branch_key(*id));
        }
        self.engine.commit(&batch, false)?;
        let mut branches = write(&self.branches);
        for id in dropped {
            branches.forget(BranchId(*id));
        }
        Ok(())
    }

    /// Deletes the log rows below the horizon and those of forgotten branches.
    fn forget_log(&self, dropped: &HashSet<u64>, horizon: Lsn) -> Result<()> {
        let mut batch = WriteBatch::default();
        self.engine.snapshot()?.scan(Table::Log, Bound::Unbounded, Bound::Unbounded, false, &mut |key, _| {
            if tables::split_log_key(key).is_some_and(|(branch, lsn)| lsn < horizon || dropped.contains(&branch)) {
                batch.delete(Table::Log, key.to_vec());
            }
            Ok(true)
        })?;
        self.engine.commit(&batch, false)
    }

    /// Deletes the session table's rows last written before `cutoff` (sessions
    /// expire after 30 minutes, as MongoDB reaps `config.transactions`). Under the
    /// writer lock, so that a row rewritten meanwhile is not lost.
    fn forget_sessions_before(&self, cutoff: DateTime) -> Result<()> {
        let meta = self.lock_writer()?;
        self.commit_pending(&meta)?;
        let mut batch = WriteBatch::default();
        self.engine.snapshot()?.scan(Table::Sessions, Bound::Unbounded, Bound::Unbounded, false, &mut |key, row| {
            if sessions::written_at(row).is_some_and(|written| written < cutoff) {
                batch.delete(Table::Sessions, key.to_vec());
            }
            Ok(true)
        })?;
        self.engine.commit(&batch, false)
    }

    /// Deletes the time index below the horizon, keeping the horizon's own entry.
    fn forget_times_before(&self, horizon: Lsn) -> Result<()> {
        let mut batch = WriteBatch::default();
        self.engine.snapshot()?.scan(Table::Times, Bound::Unbounded, Bound::Unbounded, false, &mut |key, _| {
            match tables::time_key_lsn(key) {
                Some(lsn) if lsn < horizon => {
                    batch.delete(Table::Times, key.to_vec());
                    Ok(true)
                }
                _ => Ok(false),
            }
        })?;
        self.engine.commit(&batch, false)
    }

    /// The last LSN applied at or before `ms` since the epoch (0 when none).
    pub(super) fn last_at_or_before(&self, ms: i64) -> Result<Lsn> {
        if ms < 0 {
            return Ok(Lsn::ZERO);
        }
        let upper = tables::time_key(ms as u64, Lsn(u64::MAX));
        let mut found = Lsn::ZERO;
        self.readable()?.scan(Table::Times, Bound::Unbounded, Bound::Included(&upper), true, &mut |key, _| {
            found = tables::time_key_lsn(key).unwrap_or(Lsn::ZERO);
            Ok(false)
        })?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(lsns: &[(u64, bool)]) -> Vec<Version> {
        lsns.iter().map(|&(l, t)| Version { key: vec![], lsn: Lsn(l), tombstone: t, value: vec![] }).collect()
    }

    #[test]
    fn keeps_the_newest_version_at_each_needed_point() {
        let live = HashMap::from([(1, (false, vec![Lsn(25)])), (2, (true, vec![])), (4, (false, vec![]))]);
        let needs = Needs { horizon: Lsn(50), live, dropped: HashSet::from([3]) };
        // Newest first: 60 stays (after the horizon), 40 is seen at the horizon, 20
        // by the child based at 25, 10 by nobody.
        let run = versions(&[(60, false), (40, false), (20, false), (10, false)]);
        assert_eq!(needs.doomed(1, &run), vec![3]);
        // A root's oldest kept tombstone hides nothing; a child's hides its parent's.
        let run = versions(&[(40, true), (10, false)]);
        assert_eq!(needs.doomed(4, &run), vec![0, 1]);
        assert_eq!(needs.doomed(2, &run), vec![1]);
        // ...unless a child based before it needs what it hid.
        assert_eq!(needs.doomed(1, &run), Vec::<usize>::new());
        // Dropped branches lose everything; branches born during the pass nothing.
        assert_eq!(needs.doomed(3, &run), vec![0, 1]);
        assert_eq!(needs.doomed(5, &run), Vec::<usize>::new());
    }
}
