//! What a handler gets, and its only routes to the store: one for reads and one
//! for writes. Multi-document transactions will switch these to a session's
//! snapshot and write set here, and nowhere else.

use std::sync::Arc;
use std::time::Instant;

use bson::{Bson, Document};

use super::args;
use crate::context::{ConnectionInfo, Context};
use crate::error::{Error, ErrorCode, Result};
use crate::namespace::DbRef;
use crate::operations::{Interrupt, Operation};
use crate::store::{Batch, Commit, View};

/// Everything a handler may look at.
pub struct Invocation<'a> {
    /// The command document, sequences merged, generic arguments included.
    pub body: &'a Document,
    /// `$db`, parsed.
    pub db: DbRef,
    pub connection: &'a ConnectionInfo,
    pub context: &'a Arc<Context>,
    /// When `maxTimeMS` runs out; long-running handlers call [`Invocation::check_deadline`].
    pub deadline: Option<Instant>,
    /// This command in the registry of running operations, which `killOp` marks.
    pub op: Option<&'a Operation>,
}

impl Invocation<'_> {
    /// Fails with `Interrupted` (11601) once `killOp` has killed this command, and
    /// with `MaxTimeMSExpired` (50) once the deadline has passed.
    pub fn check_deadline(&self) -> Result<()> {
        self.interrupt().check()
    }

    /// What stops this command early, for work that runs outside the handler (cursors).
    pub fn interrupt(&self) -> Interrupt<'_> {
        Interrupt { deadline: self.deadline, op: self.op }
    }
}

/// The routes to the store.
impl Invocation<'_> {
    /// A view for a read command: the addressed point, or `readConcern.atClusterTime`,
    /// or the latest state.
    pub fn read_view(&self) -> Result<View> {
        let mut at = None;
        if let Ok(concern) = self.body.get_document("readConcern") {
            let level = match concern.get("level") {
                None => None,
                Some(Bson::String(level)) => Some(level.as_str()),
                Some(other) => {
                    return Err(Error::type_mismatch(format!("readConcern.level must be a string, not {other}")))
                }
            };
            if let Some(level) = level {
                if !matches!(level, "local" | "majority" | "available" | "linearizable" | "snapshot") {
                    return Err(Error::bad_value(format!("{level} is not a valid read concern level")));
                }
            }
            match concern.get("atClusterTime") {
                None => {}
                Some(Bson::Timestamp(ts)) => {
                    if level != Some("snapshot") {
                        return Err(Error::command(
                            ErrorCode::InvalidOptions,
                            "atClusterTime is only allowed with readConcern level snapshot",
                        ));
                    }
                    if self.db.point.is_some() {
                        return Err(Error::command(
                            ErrorCode::InvalidOptions,
                            format!("'{}' already names a point; atClusterTime cannot move it", self.db),
                        ));
                    }
                    at = Some(self.context.store.resolve_cluster_time(*ts)?);
                }
                Some(other) => {
                    return Err(Error::type_mismatch(format!("atClusterTime must be a Timestamp, not {other}")))
                }
            }
        }
        self.context.store.view(&self.db, at)
    }

    /// The latest state of the addressed branch, where a write looks for its matches
    /// before it takes the writer lock.
    pub fn latest_view(&self) -> Result<View> {
        self.context.store.view(&self.db, None)
    }

    /// The latest state of another database or branch (`listDatabases` reads them all).
    pub fn view_of(&self, target: &DbRef) -> Result<View> {
        self.context.store.view(target, None)
    }

    /// Refuses a write to a `~<point>` view (20) or to a branch that does not exist (26).
    pub fn check_writable(&self) -> Result<()> {
        self.context.store.check_writable(&self.db)
    }

    /// Runs `f` against the addressed branch's latest state and commits what it
    /// changed as one record, waiting for an fsync when `writeConcern.j` asks.
    pub fn write<T>(&self, f: impl FnOnce(&mut Batch<'_>) -> Result<T>) -> Result<(T, Option<Commit>)> {
        self.write_to(&self.db, f)
    }

    /// As [`Invocation::write`], to another database of the same branch (the
    /// target of `renameCollection`).
    pub fn write_to<T>(
        &self,
        target: &DbRef,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T>,
    ) -> Result<(T, Option<Commit>)> {
        self.context.store.write(target, args::journaled(self), None, f)
    }
}
