//! The branch lifecycle of SPEC §3.1 besides the merge (`merge.rs`): two states
//! read side by side for a diff, reset, settings, expiry and the branch log.

use std::ops::Bound;

use bson::{DateTime, Document};

use super::engine::Table;
use super::view::{Snapshot, View};
use super::{missing_branch, read, refuse_protected, tables, Branch, Commit, Store, MAX_DEPTH};
use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::namespace::{DbRef, Point, MAIN_BRANCH};
use crate::wal::{BranchId, BranchOp, BranchSettings, Entry};

/// One row of a branch's log: what the record at `lsn` did to the branch.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The branch the record wrote (a reset's predecessors have their own ids).
    pub branch: BranchId,
    pub lsn: Lsn,
    pub time: DateTime,
    /// `ops: {<collection>: {inserted, updated, deleted}}`, and when present `ddl`,
    /// `lsid`/`txnNumber`, `merge: {source, sourceLsn}` (branch ids), `created` or
    /// `reset`.
    pub entry: Document,
}

impl Store {
    /// Views of two states of one database over one state of the engine, checked as
    /// [`Store::view`] checks one.
    pub fn view_pair(&self, from: &DbRef, to: &DbRef) -> Result<(View, View)> {
        let (a, b) = (self.point_of(from, None)?, self.point_of(to, None)?);
        let engine = self.readable()?;
        let first = View::new(self.snapshot_at(from, a)?, engine);
        let second = first.sibling(self.snapshot_at(to, b)?);
        Ok((first, second))
    }

    /// What a read of branch `id` (live or not) as it was at `lsn` reads: change
    /// streams read a record's before and after states through it.
    pub fn branch_snapshot(&self, id: BranchId, lsn: Lsn) -> Result<Snapshot> {
        let branches = read(&self.branches);
        let branch = branches.get(id).ok_or_else(|| {
            Error::command(ErrorCode::ChangeStreamHistoryLost, format!("branch {} is no longer retained", id.0))
        })?;
        let horizon = self.horizon();
        if lsn < horizon {
            return Err(super::too_old(lsn, horizon));
        }
        let target = DbRef { db: branch.db.clone(), branch: branch.name.clone(), point: Some(Point::Lsn(lsn)) };
        Ok(Snapshot::of(&target, lsn, branches.chain(id, lsn)?))
    }

    /// A view of branch `id` as it was at `lsn` (see [`Store::branch_snapshot`]).
    pub fn branch_view(&self, id: BranchId, lsn: Lsn) -> Result<View> {
        let engine = self.readable()?;
        Ok(View::new(self.branch_snapshot(id, lsn)?, engine))
    }

    /// Any branch the store still knows, live or not (a parent a reset replaced, a
    /// merge's source).
    pub fn branch_by_id(&self, id: BranchId) -> Option<Branch> {
        read(&self.branches).get(id).cloned()
    }

    /// Resets branch `name` of `db` to the state `to` names (its own past, its
    /// parent, another branch, at a point or at its head): one record whatever the
    /// size of the data. The branch is replaced under its name by a new one based on
    /// that state; what it was stays readable at points before the reset.
    pub fn reset_branch(&self, db: &str, name: &str, to: &DbRef) -> Result<(Branch, Commit)> {
        if to.db != db {
            return Err(Error::command(
                ErrorCode::InvalidNamespace,
                format!("cannot reset a branch of database '{db}' to a state of database '{}'", to.db),
            ));
        }
        let mut meta = self.lock_writer_open(&|| Ok(()))?;
        let (id, parent, base) = {
            let branches = read(&self.branches);
            let branch = branches.require(db, name)?;
            refuse_protected(branch, "reset")?;
            let base = match to.point {
                Some(Point::Lsn(lsn)) => lsn,
                Some(Point::Time(time)) => self.resolve_time(time)?,
                // A head: everything applied, which the reset's record follows.
                None => meta.applied,
            };
            let target = match to.point {
                Some(_) => branches.find_at(db, &to.branch, base),
                None => branches.find(db, &to.branch),
            };
            let target = target.ok_or_else(|| missing_branch(db, &to.branch))?;
            if to.point.is_some() {
                self.check_point(db, &to.branch, Some(target), base)?;
            }
            if branches.depth(target.id) + 1 >= MAX_DEPTH {
                return Err(Error::bad_value(format!(
                    "branches nest at most {MAX_DEPTH} deep, and '{to}' is {} deep",
                    branches.depth(target.id)
                )));
            }
            (branch.id, target.id, base)
        };
        let new_id = BranchId(meta.next_branch);
        let reset = BranchOp::Reset { id, new_id, parent, base_lsn: base };
        let commit = self.append_and_apply(&mut meta, &Entry::Branch(reset))?;
        drop(meta);
        self.settle(commit, false)?;
        let branch = read(&self.branches).get(new_id).cloned().ok_or_else(|| missing_branch(db, name))?;
        Ok((branch, commit))
    }

    /// Changes the settings of branch `name` of `db` with `change`, as one record.
    pub fn update_branch(
        &self,
        db: &str,
        name: &str,
        change: impl FnOnce(&Branch, &mut BranchSettings) -> Result<()>,
    ) -> Result<(Branch, Commit)> {
        let mut meta = self.lock_writer_open(&|| Ok(()))?;
        let (id, settings) = {
            let branches = read(&self.branches);
            let branch = branches.require(db, name)?;
            let mut settings = branch.settings.clone();
            change(branch, &mut settings)?;
            (branch.id, settings)
        };
        let commit = self.append_and_apply(&mut meta, &Entry::Branch(BranchOp::Update { id, settings }))?;
        drop(meta);
        self.settle(commit, false)?;
        let branch = read(&self.branches).get(id).cloned().ok_or_else(|| missing_branch(db, name))?;
        Ok((branch, commit))
    }

    /// Drops every branch past its `expireAt` that is neither protected, `main`, nor
    /// the parent of a live branch; returns their names (`db@name`).
    pub fn expire_branches(&self, now: DateTime) -> Result<Vec<String>> {
        let due: Vec<(String, String)> = read(&self.branches)
            .all()
            .into_iter()
            .filter(|b| b.settings.expire_at.is_some_and(|at| at <= now))
            .map(|b| (b.db.clone(), b.name.clone()))
            .collect();
        let mut dropped = Vec::new();
        for (db, name) in due {
            let expired = |b: &Branch| {
                b.settings.expire_at.is_some_and(|at| at <= now) && !b.settings.protected && b.name != MAIN_BRANCH
            };
            match self.drop_branch_if(&db, &name, expired) {
                Ok(Some(commit)) => {
                    tracing::info!(db = %db, branch = %name, lsn = %commit.lsn, "dropped an expired branch");
                    dropped.push(format!("{db}@{name}"));
                }
                Ok(None) => {}
                // A parent, or dropped meanwhile: it waits for the next pass.
                Err(e) => tracing::debug!(db = %db, branch = %name, error = %e, "an expired branch was kept"),
            }
        }
        Ok(dropped)
    }

    /// The newest `limit` rows of the log of branch `name` of `db`, newest first:
    /// its own records, then those of the branches resets replaced under its name.
    pub fn branch_log(&self, db: &str, name: &str, limit: usize) -> Result<Vec<LogEntry>> {
        let lineage: Vec<BranchId> = {
            let branches = read(&self.branches);
            let live = branches.require(db, name)?;
            std::iter::once(live.id).chain(branches.predecessors(live.id).iter().map(|b| b.id)).collect()
        };
        let engine = self.readable()?;
        let published = self.published().lsn;
        let mut found = Vec::new();
        for branch in lineage {
            let start = tables::log_key(branch.0, Lsn(u64::MAX));
            let end = tables::log_key(branch.0, Lsn::ZERO);
            engine.scan(Table::Log, Bound::Included(&start), Bound::Included(&end), false, &mut |key, value| {
                if found.len() >= limit {
                    return Ok(false);
                }
                let Some((_, lsn)) = tables::split_log_key(key) else { return Ok(true) };
                // Applied but not yet acknowledged: not yet part of the history.
                if lsn > published {
                    return Ok(true);
                }
                let mut entry = super::decode(value)?;
                let time = entry.get_datetime("t").copied().unwrap_or(DateTime::from_millis(0));
                entry.remove("t");
                found.push(LogEntry { branch, lsn, time, entry });
                Ok(true)
            })?;
        }
        Ok(found)
    }
}
