//! What a handler gets, and its only routes to the store: one for reads and one
//! for writes. Inside a multi-document transaction they switch to the
//! transaction's snapshot and write set here, and nowhere else; a retryable
//! write's records carry its session.

use std::cell::{RefCell, RefMut};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bson::{Bson, Document};

use super::write_concern::{Provenance, WriteConcern};
use crate::context::{ConnectionInfo, Context};
use crate::cursor::Owner;
use crate::error::{Error, ErrorCode, Result};
use crate::index::usage::Key as IndexKey;
use crate::namespace::DbRef;
use crate::operations::{Interrupt, Operation};
use crate::query::plan::{Access, Plan};
use crate::store::{Batch, Collection, Commit, Retryable, Snapshot, Transaction, View};

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
    /// The session's part in this command: a retryable write or a statement of a
    /// transaction (`None`: neither).
    pub session: Option<&'a SessionUse>,
    /// The id of this command's first statement: 0, except for the commands a
    /// `bulkWrite` runs, whose statements continue its own numbering.
    pub first_statement: usize,
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

    /// What statement `id` of this retryable write replied when an earlier attempt
    /// executed it; a handler returns that instead of running it again.
    pub fn executed(&self, id: usize) -> Option<&Document> {
        self.session?.executed(self.first_statement + id)
    }

    /// Records with `batch` what statement `id` of this retryable write did
    /// (what `result` makes), for a retry to find; nothing outside a retryable write.
    pub fn record_statement(&self, batch: &mut Batch<'_>, id: usize, result: impl FnOnce() -> Document) {
        if self.records_statements() {
            batch.statement(self.first_statement + id, result());
        }
    }

    /// Whether the statements this command executes are recorded with its writes
    /// (a retryable write), for a retry to find ([`crate::store::Batch::statement`]).
    pub fn records_statements(&self) -> bool {
        self.session.is_some_and(SessionUse::is_retryable)
    }

    /// The session and transaction this command runs in, which a cursor it opens
    /// keeps (the fields were checked when the command was dispatched).
    pub fn cursor_owner(&self) -> Owner {
        let in_transaction = matches!(self.session, Some(SessionUse::Transaction(_)));
        Owner {
            session: self.body.get_document("lsid").ok().and_then(|lsid| lsid.get("id")).cloned(),
            txn_number: match self.body.get("txnNumber") {
                Some(Bson::Int64(n)) if in_transaction => Some(*n),
                Some(Bson::Int32(n)) if in_transaction => Some(i64::from(*n)),
                _ => None,
            },
            user: match self.context.security.enabled {
                true => self.connection.auth().users.first().map(ToString::to_string),
                false => None,
            },
        }
    }

    /// The transaction this command is a statement of.
    fn transaction(&self) -> Result<Option<RefMut<'_, Transaction>>> {
        match self.session {
            Some(session) => session.transaction(),
            None => Ok(None),
        }
    }
}

/// The session's part in one command, as its handler sees it.
pub enum SessionUse {
    /// A retryable write, with what an earlier attempt executed.
    Retryable { retryable: Retryable, executed: BTreeMap<i32, Document> },
    /// A statement of a transaction.
    Transaction(RefCell<Box<Transaction>>),
}

impl SessionUse {
    /// The recorded reply of statement `id`, if an earlier attempt executed it.
    pub fn executed(&self, id: usize) -> Option<&Document> {
        match self {
            SessionUse::Retryable { executed, .. } => executed.get(&i32::try_from(id).ok()?),
            SessionUse::Transaction(_) => None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, SessionUse::Retryable { .. })
    }

    /// The session and number a retryable write's records carry.
    pub fn retryable(&self) -> Option<&Retryable> {
        match self {
            SessionUse::Retryable { retryable, .. } => Some(retryable),
            SessionUse::Transaction(_) => None,
        }
    }

    /// The transaction, for one route to the store at a time.
    pub fn transaction(&self) -> Result<Option<RefMut<'_, Transaction>>> {
        match self {
            SessionUse::Transaction(txn) => txn
                .try_borrow_mut()
                .map(|txn| Some(RefMut::map(txn, |txn| &mut **txn)))
                .map_err(|_| Error::Internal("a transaction's store route was re-entered".into())),
            SessionUse::Retryable { .. } => Ok(None),
        }
    }
}

/// The routes to the store.
impl Invocation<'_> {
    /// The reply of a command whose results are all ready (`docs`, read from
    /// `view`): a cursor on `ns` whose first batch holds at most `batch_size` of
    /// them, kept for `getMore` when more remain, the results counted in the
    /// server's memory until it ends.
    pub fn reply_with_ready_cursor(
        &self,
        view: &View,
        ns: String,
        docs: Vec<Document>,
        batch_size: usize,
    ) -> Result<Document> {
        let mut held = self.context.memory.reservation();
        for doc in &docs {
            held.grow(crate::value::size::document_footprint(doc))?;
        }
        let source = crate::cursor::Source::Ready(docs.into());
        let cursor = crate::cursor::Cursor::plain(ns, view.snapshot.clone(), source, Some(held), self.cursor_owner());
        crate::cursor::reply_batch(&self.context.cursors, None, cursor, view, batch_size, self.interrupt())
    }

    /// A view for a read command: the addressed point, or `readConcern.atClusterTime`,
    /// or the latest state.
    pub fn read_view(&self) -> Result<View> {
        self.read_view_at().map(|(view, _)| view)
    }

    /// As [`Invocation::read_view`], with the cluster time a snapshot read
    /// (`readConcern.level: "snapshot"` outside a transaction) reads at, which the
    /// reply reports as `atClusterTime` for the session's next reads.
    pub fn read_view_at(&self) -> Result<(View, Option<bson::Timestamp>)> {
        if let Some(txn) = self.transaction()? {
            // The transaction checked its read concern when it began.
            return Ok((self.context.store.transaction_view(&txn, &self.db)?, None));
        }
        let mut at = None;
        let mut snapshot_time = None;
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
                    snapshot_time = Some(*ts);
                }
                Some(other) => {
                    return Err(Error::type_mismatch(format!("atClusterTime must be a Timestamp, not {other}")))
                }
            }
        }
        if let Some(after) = after_cluster_time(self.body)? {
            self.wait_for_cluster_time(after)?;
        }
        if at.is_none() && self.db.point.is_none() && snapshot_level(self.body) {
            let now = self.context.store.published();
            at = Some(now.lsn);
            snapshot_time = Some(now.cluster_time());
        }
        Ok((self.context.store.view(&self.db, at)?, snapshot_time))
    }

    /// Waits until the store has published `after` (causal consistency: a read
    /// sees at least what the client has seen), until the deadline.
    pub fn wait_for_cluster_time(&self, after: bson::Timestamp) -> Result<()> {
        let store = &self.context.store;
        while store.operation_time() < after {
            self.check_deadline()?;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    /// The latest state of the addressed branch, where a write looks for its matches
    /// before it takes the writer lock.
    pub fn latest_view(&self) -> Result<View> {
        self.view_of(&self.db)
    }

    /// The latest state of another database or branch (`listDatabases` reads them all).
    pub fn view_of(&self, target: &DbRef) -> Result<View> {
        match self.transaction()? {
            Some(txn) => self.context.store.transaction_view(&txn, target),
            None => self.context.store.view(target, None),
        }
    }

    /// A cursor's snapshot again, for its next batch: inside the transaction that
    /// opened it, with the transaction's writes.
    pub fn reopen(&self, snapshot: &Snapshot) -> Result<View> {
        match self.transaction()? {
            Some(txn) => self.context.store.transaction_reopen(&txn, snapshot),
            None => self.context.store.reopen(snapshot),
        }
    }

    /// Counts the index `plan` reads, if any, as serving this command (`$indexStats`).
    pub fn note_plan(&self, view: &View, collection: &Collection, plan: &Plan) {
        let index = match &plan.access {
            Access::CollectionScan { .. } => return,
            Access::IdLookup(_) => None,
            Access::IndexScan(scan) => Some(scan.index.id),
            Access::Near(scan) => Some(scan.index.id),
        };
        let snapshot = &view.snapshot;
        self.context.index_usage.used(IndexKey {
            db: snapshot.db.clone(),
            branch: snapshot.branch.clone(),
            collection: collection.id,
            index,
        });
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
        super::write_block::check(self, &target.db)?;
        if let Some(mut txn) = self.transaction()? {
            return Ok((self.context.store.transaction_write(&mut txn, target, f)?, None));
        }
        let retryable = self.session.and_then(SessionUse::retryable);
        // While `fsync` holds the store still the write waits, until `maxTimeMS` or `killOp`.
        let keep_waiting = || self.check_deadline();
        let journaled = self.write_concern()?.0.journaled();
        let written = self.context.store.write_waiting(target, journaled, retryable, &keep_waiting, f);
        if target.db == "config" {
            // `config.settings` holds the cluster-wide settings.
            self.context.cluster_settings.invalidate();
        }
        written
    }

    /// The write concern this command writes under: its own, completed by the
    /// default (`rw_defaults.rs`).
    pub fn write_concern(&self) -> Result<(WriteConcern, Provenance)> {
        let name = self.body.keys().next().map_or("", String::as_str);
        let given = super::write_concern::given(name, self.body).ok().flatten();
        super::rw_defaults::effective(self.context, given)
    }
}

/// Writes to `admin`'s `main` outside any session or transaction, journaled: the
/// user and role documents (`user_store.rs`), written by their commands and, with
/// no command, by the root user's creation at startup.
pub fn write_security<T>(
    context: &Context,
    admin: &DbRef,
    f: impl FnOnce(&mut Batch<'_>) -> Result<T>,
) -> Result<(T, Option<Commit>)> {
    context.store.write(admin, true, None, f)
}

/// Whether the command asks for `readConcern.level: "snapshot"`.
pub fn snapshot_level(body: &Document) -> bool {
    body.get_document("readConcern").ok().and_then(|concern| concern.get_str("level").ok()) == Some("snapshot")
}

/// `readConcern.afterClusterTime`, if the command has one.
pub fn after_cluster_time(body: &Document) -> Result<Option<bson::Timestamp>> {
    let Ok(concern) = body.get_document("readConcern") else { return Ok(None) };
    match concern.get("afterClusterTime") {
        None => Ok(None),
        Some(Bson::Timestamp(ts)) => Ok(Some(*ts)),
        Some(other) => Err(Error::type_mismatch(format!("afterClusterTime must be a Timestamp, not {other}"))),
    }
}
