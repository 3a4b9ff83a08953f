//! Cursors: a query's position between batches. A cursor keeps the snapshot it
//! reads (branch, LSN and ancestry), not a transaction of the store: each batch
//! opens a fresh view of the same snapshot, and a scan resumes after the last
//! `_id` it reached. Versions make that exact; history collection makes it fail
//! cleanly once the snapshot falls behind the retained history.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::memory::Reservation;
use crate::namespace::DbRef;
use crate::operations::Interrupt;
use crate::query::pipeline::{NoCollections, Pipeline};
use crate::query::{Filter, Projection};
use crate::store::diff::Difference;
use crate::store::{self, Natural, Snapshot, View};
use crate::stream::{ChangeStream, Position, Scope, Subscription, Token};
use crate::value::size::document_size;

/// A cursor idle this long is closed, as MongoDB's `cursorTimeoutMillis`.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// The first batch holds this many documents unless `batchSize` says otherwise.
pub const DEFAULT_FIRST_BATCH: usize = 101;
/// A batch stops growing at this many bytes of documents.
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024 - 16 * 1024;

/// Where a query's results come from.
pub enum Source {
    /// A scan of a collection in `order`, resuming after a place in it (an encoded
    /// `_id`, or a capped collection's position and `_id`).
    Scan { collection: u64, order: Natural, after: Option<Vec<u8>> },
    /// The documents of a collection with these encoded `_id`s, in this order (an
    /// index's candidates), each still to be checked against the filter.
    Ids { collection: u64, ids: VecDeque<Vec<u8>> },
    /// Results already computed (sorted, or from a point lookup).
    Ready(VecDeque<Document>),
    /// A diff's candidates still to compare (see [`crate::store::diff`]).
    Diff(Box<DiffSource>),
    /// A change stream's events (see [`crate::stream`]).
    Stream(Box<StreamSource>),
}

/// A change stream and the stages its events go through.
pub struct StreamSource {
    pub stream: ChangeStream,
    pub pipeline: Pipeline,
    /// `$changeStreamSplitLargeEvent`: events too large for a reply come in
    /// fragments (without it they fail the stream with 10334).
    pub split: bool,
    /// Resuming from a fragment (`split` only): the event's position and the
    /// index of the fragment the client had, whose fragments up to it are skipped.
    pub resume_fragment: Option<(Position, u32)>,
    /// Events (or fragments) past the pipeline that the last batch had no room
    /// for, returned first by the next.
    pub pending: VecDeque<Document>,
    /// The token of the last event returned while others are pending.
    pub returned: Option<Document>,
}

/// A change stream's batch is gathered a slice of events at a time, so it can stop
/// near [`MAX_BATCH_BYTES`].
const STREAM_SLICE: usize = 64;

impl StreamSource {
    pub fn new(
        stream: ChangeStream,
        pipeline: Pipeline,
        split: bool,
        resume_fragment: Option<(Position, u32)>,
    ) -> Self {
        StreamSource { stream, pipeline, split, resume_fragment, pending: VecDeque::new(), returned: None }
    }

    /// The next events that pass the pipeline, at most `max` and at most
    /// [`MAX_BATCH_BYTES`] (but at least one); fewer once the stream has caught up.
    /// An event whose `_id` (its resume token) the pipeline changed or removed is a
    /// `ChangeStreamFatalError` (280), as in MongoDB.
    pub fn next_batch(&mut self, max: usize, interrupt: Interrupt<'_>) -> Result<Vec<Document>> {
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        loop {
            // What the pipeline let through, in order, while it fits.
            while let Some(next) = self.pending.front() {
                let size = document_size(next);
                if batch.len() >= max || (!batch.is_empty() && bytes + size > MAX_BATCH_BYTES) {
                    break;
                }
                bytes += size;
                batch.extend(self.pending.pop_front());
            }
            if !self.pending.is_empty()
                || batch.len() >= max
                || bytes >= MAX_BATCH_BYTES / 2
                || self.stream.invalidated()
            {
                break;
            }
            let want = (max - batch.len()).min(STREAM_SLICE);
            let events = self.stream.next_events(want, &mut || interrupt.check())?;
            if events.is_empty() {
                break;
            }
            let tokens: Vec<Bson> = events.iter().map(|e| e.doc.get("_id").cloned().unwrap_or(Bson::Null)).collect();
            let docs = match self.pipeline.is_empty() {
                true => events.into_iter().map(|e| e.doc).collect(),
                false => self.pipeline.run(events.into_iter().map(|e| Ok(e.doc)), &NoCollections)?,
            };
            let mut expected = tokens.iter();
            for doc in docs {
                let id = doc.get("_id");
                if !expected.any(|token| Some(token) == id) {
                    return Err(Error::command(
                        ErrorCode::ChangeStreamFatalError,
                        "Encountered an event whose _id field, which contains the resume token, was modified by the \
                         pipeline. Modifying the _id field of an event makes it impossible to resume the stream from \
                         that point. Only transformations that retain the unmodified _id field are allowed.",
                    ));
                }
                self.queue(doc)?;
            }
        }
        self.returned = match self.pending.is_empty() {
            true => None,
            false => batch.last().and_then(|doc| doc.get_document("_id").ok()).cloned(),
        };
        Ok(batch)
    }

    /// Queues an event past the pipeline: whole, or split when it is too large.
    fn queue(&mut self, event: Document) -> Result<()> {
        let resuming = self.resume_fragment.take();
        let size = crate::stream::split::event_size(&event);
        if size <= crate::stream::split::MAX_EVENT && resuming.is_none() {
            self.pending.push_back(event);
            return Ok(());
        }
        let token = event.get("_id").map(|id| Token::parse("_id", id)).transpose()?;
        let Some(token) = token.filter(|_| self.split) else {
            return Err(Error::command(
                ErrorCode::BSONObjectTooLarge,
                format!(
                    "BSONObj size: {size} is invalid. Size must be between 0 and {}(16MB). A change stream event \
                     too large for one document is returned in fragments when the pipeline ends with \
                     $changeStreamSplitLargeEvent",
                    crate::stream::split::MAX_EVENT
                ),
            ));
        };
        // Resuming from a fragment: its event must come first, and split again.
        let skip = match resuming {
            Some((position, fragment)) if position == token.position && size > crate::stream::split::MAX_EVENT => {
                fragment as usize + 1
            }
            Some(_) => {
                return Err(Error::command(
                    ErrorCode::ChangeStreamFatalError,
                    "Attempted to resume from a split event, but the resumed stream produced a different split. \
                     Ensure that the pipeline used to resume is the same as the original",
                ))
            }
            None => 0,
        };
        self.pending.extend(crate::stream::split::split(event, token, skip)?);
        Ok(())
    }

    /// The token a reply carries as `postBatchResumeToken`: the last event returned
    /// while fragments or events wait, else the stream's place.
    pub fn resume_token(&self) -> Document {
        self.returned.clone().unwrap_or_else(|| self.stream.resume_token().to_document())
    }

    /// Whether the stream has ended (invalidated) and nothing of it is left to return.
    pub fn ended(&self) -> bool {
        self.stream.invalidated() && self.pending.is_empty()
    }
}

/// A document a diff still compares: the collection, its id on each side, the
/// encoded `_id`.
pub type DiffCandidate = (Arc<str>, Option<u64>, Option<u64>, Vec<u8>);

/// What a `diff` cursor still has to compare: the cursor's snapshot is the side
/// compared to, this one the side compared from.
pub struct DiffSource {
    pub from: Snapshot,
    /// The database both sides are states of.
    pub db: String,
    pub pending: VecDeque<DiffCandidate>,
    /// Turns a difference into the document the cursor returns.
    pub render: fn(&str, &Difference) -> Result<Document>,
}

/// A query in progress.
pub struct Cursor {
    /// `db.collection`, as the client named them.
    pub ns: String,
    pub snapshot: Snapshot,
    pub source: Source,
    pub filter: Filter,
    pub projection: Option<Projection>,
    /// Matching documents still to skip, and still to return (`None`: no limit).
    pub skip: u64,
    pub limit: Option<u64>,
    pub exhausted: bool,
    /// The session and transaction that opened it.
    pub owner: Owner,
    /// The memory its computed results are counted in, given back when it closes.
    pub memory: Option<Reservation>,
    /// What a tailable cursor follows (`None` for others).
    pub tail: Option<Tail>,
}

/// A tailable cursor on a capped collection: it stays open at the end of the
/// collection, and each `getMore` reads the branch's latest state past the last
/// document it returned.
pub struct Tail {
    /// The branch it reads, and the collection's name and id (a collection
    /// dropped or replaced under the same name ends the cursor).
    pub target: DbRef,
    pub collection: String,
    pub collection_id: u64,
    /// `awaitData`: a `getMore` with nothing to read waits for an insert (the
    /// subscription keeps the change feed, which says when one comes, running).
    pub awaiting: Option<Subscription>,
    /// The last batch reached the end of the collection.
    pub caught_up: bool,
}

/// The session (`lsid.id`), transaction (`txnNumber`) and authenticated user a
/// command ran with: a cursor remembers those that opened it, and takes `getMore`s
/// only from them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owner {
    pub session: Option<Bson>,
    pub txn_number: Option<i64>,
    /// The user (`user@db`), with access control on.
    pub user: Option<String>,
}

impl Owner {
    /// Refuses a `getMore` of cursor `id`, opened by `self`, from `from`, as MongoDB
    /// does (codes 50737 to 50741).
    pub fn check_get_more(&self, id: i64, from: &Owner) -> Result<()> {
        let refuse = |code, why: String| Err(Error::command(code, format!("Cannot run getMore on cursor {id}, {why}")));
        if self.user != from.user {
            return Err(Error::command(
                ErrorCode::Unauthorized,
                format!("cursor id {id} was not created by the authenticated user"),
            ));
        }
        match (&self.session, &from.session) {
            (Some(opened), None) => {
                return refuse(
                    ErrorCode::Location50737,
                    format!("which was created in session {opened}, without an lsid"),
                )
            }
            (Some(opened), Some(now)) if opened != now => {
                return refuse(
                    ErrorCode::Location50738,
                    format!("which was created in session {opened}, in session {now}"),
                )
            }
            _ => {}
        }
        match (self.txn_number, from.txn_number) {
            (None, Some(now)) => refuse(
                ErrorCode::Location50739,
                format!("which was not created in a transaction, in transaction {now}"),
            ),
            (Some(opened), None) => refuse(
                ErrorCode::Location50740,
                format!("which was created in transaction {opened}, without a txnNumber"),
            ),
            (Some(opened), Some(now)) if opened != now => refuse(
                ErrorCode::Location50741,
                format!("which was created in transaction {opened}, in transaction {now}"),
            ),
            _ => Ok(()),
        }
    }
}

impl Cursor {
    /// A cursor that returns what `source` gives, with no filter, projection, skip
    /// or limit (computed results, a diff), holding `memory` until it closes.
    pub fn plain(ns: String, snapshot: Snapshot, source: Source, memory: Option<Reservation>, owner: Owner) -> Cursor {
        Cursor {
            ns,
            snapshot,
            source,
            filter: Filter::default(),
            projection: None,
            skip: 0,
            limit: None,
            exhausted: false,
            owner,
            memory,
            tail: None,
        }
    }

    /// The next batch of at most `max` documents. The cursor is exhausted once a
    /// batch ends the results. A scan stops when `interrupt` says so.
    pub fn next_batch(&mut self, view: &View, max: usize, interrupt: Interrupt<'_>) -> Result<Vec<Document>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let max = match self.limit {
            Some(limit) => max.min(limit as usize),
            None => max,
        };
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        match &mut self.source {
            Source::Ready(docs) => {
                while batch.len() < max {
                    let Some(doc) = docs.pop_front() else { break };
                    let size = document_size(&doc);
                    if !batch.is_empty() && bytes + size > MAX_BATCH_BYTES {
                        docs.push_front(doc);
                        break;
                    }
                    bytes += size;
                    batch.push(doc);
                }
                self.exhausted = docs.is_empty();
            }
            Source::Ids { collection, ids } => {
                let mut read = 0u64;
                while batch.len() < max {
                    let Some(id) = ids.pop_front() else { break };
                    read += 1;
                    if read.is_multiple_of(1024) {
                        interrupt.check()?;
                    }
                    let Some(doc) = view.get_encoded(*collection, &id)? else { continue };
                    if !self.filter.try_matches(&doc)? {
                        continue;
                    }
                    if self.skip > 0 {
                        self.skip -= 1;
                        continue;
                    }
                    let size = document_size(&doc);
                    if !batch.is_empty() && bytes + size > MAX_BATCH_BYTES {
                        ids.push_front(id);
                        break;
                    }
                    bytes += size;
                    batch.push(doc);
                }
                self.exhausted = ids.is_empty();
            }
            Source::Scan { collection, order, after } => {
                self.exhausted = false;
                let mut scanned = 0u64;
                let mut stopped_at = None;
                // The encoded `_id` of the document before the current one.
                let mut previous: Vec<u8> = after.clone().unwrap_or_default();
                let (filter, skip) = (&self.filter, &mut self.skip);
                view.scan_filtered(
                    *collection,
                    *order,
                    after.as_deref(),
                    |raw| filter.rejects_raw(raw),
                    |id, doc| {
                        scanned += 1;
                        if scanned.is_multiple_of(1024) {
                            interrupt.check()?;
                        }
                        let doc = match doc {
                            Some(doc) if filter.try_matches(&doc)? => Some(doc),
                            _ => None,
                        };
                        if let Some(doc) = doc {
                            if *skip > 0 {
                                *skip -= 1;
                            } else {
                                let size = document_size(&doc);
                                if !batch.is_empty() && bytes + size > MAX_BATCH_BYTES {
                                    // This document starts the next batch.
                                    stopped_at = Some(previous.clone());
                                    return Ok(false);
                                }
                                bytes += size;
                                batch.push(doc);
                            }
                        }
                        previous.clear();
                        previous.extend_from_slice(id);
                        if batch.len() >= max {
                            stopped_at = Some(id.to_vec());
                            return Ok(false);
                        }
                        Ok(true)
                    },
                )?;
                if let Some(tail) = &mut self.tail {
                    tail.caught_up = stopped_at.is_none();
                }
                match (stopped_at, self.tail.is_some()) {
                    (Some(place), _) => *after = Some(place),
                    // A tailable cursor waits at the last document it passed.
                    (None, true) => *after = (!previous.is_empty()).then_some(previous),
                    (None, false) => {
                        self.exhausted = true;
                        *after = None;
                    }
                }
            }
            Source::Diff(diff) => {
                let from = view.beside(&diff.from);
                let mut read = 0u64;
                while batch.len() < max {
                    let Some(candidate) = diff.pending.pop_front() else { break };
                    read += 1;
                    if read.is_multiple_of(1024) {
                        interrupt.check()?;
                    }
                    let (name, before, after, id) = &candidate;
                    let Some(difference) = store::diff::compare(&from, view, name, (*before, *after), id)? else {
                        continue;
                    };
                    let doc = (diff.render)(&diff.db, &difference)?;
                    let size = document_size(&doc);
                    if !batch.is_empty() && bytes + size > MAX_BATCH_BYTES {
                        diff.pending.push_front(candidate);
                        break;
                    }
                    bytes += size;
                    batch.push(doc);
                }
                self.exhausted = diff.pending.is_empty();
            }
            Source::Stream(source) => {
                batch = source.next_batch(max, interrupt)?;
                self.exhausted = source.stream.invalidated();
            }
        }
        if let Some(limit) = &mut self.limit {
            *limit -= batch.len() as u64;
            if *limit == 0 {
                self.exhausted = true;
            }
        }
        if let Some(projection) = &self.projection {
            let needs_position = projection.needs_position();
            batch = batch
                .into_iter()
                .map(|doc| {
                    let position = if needs_position { self.filter.matched_position(&doc) } else { None };
                    projection.apply(doc, position)
                })
                .collect::<Result<_>>()?;
        }
        Ok(batch)
    }
}

/// The open cursors of a server.
#[derive(Default)]
pub struct Cursors {
    next_id: AtomicI64,
    /// Each cursor with when it was last used; `None` while a batch is being read.
    open: Mutex<HashMap<i64, (Option<Cursor>, Instant)>>,
}

impl Cursors {
    /// Keeps `cursor` for later batches and returns its id.
    pub fn insert(&self, cursor: Cursor) -> i64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut open = self.lock();
        open.retain(|_, (cursor, used)| cursor.is_none() || used.elapsed() < IDLE_TIMEOUT);
        open.insert(id, (Some(cursor), Instant::now()));
        id
    }

    /// Takes cursor `id` out while a batch is read: `CursorNotFound` (43) when it
    /// does not exist or has expired, `CursorInUse` (143) while another request
    /// reads it.
    pub fn take(&self, id: i64) -> Result<Cursor> {
        let mut open = self.lock();
        let not_found = || Error::command(ErrorCode::CursorNotFound, format!("cursor id {id} not found"));
        let (slot, used) = open.get_mut(&id).ok_or_else(not_found)?;
        if slot.is_some() && used.elapsed() >= IDLE_TIMEOUT {
            open.remove(&id);
            return Err(not_found());
        }
        slot.take().ok_or_else(|| Error::command(ErrorCode::CursorInUse, format!("cursor id {id} is already in use")))
    }

    /// Puts a cursor back after a batch, unless it was killed meanwhile.
    pub fn put_back(&self, id: i64, cursor: Cursor) {
        if let Some(slot) = self.lock().get_mut(&id) {
            *slot = (Some(cursor), Instant::now());
        }
    }

    /// Closes cursor `id`; `false` when there was none.
    pub fn kill(&self, id: i64) -> bool {
        self.lock().remove(&id).is_some()
    }

    /// Kills cursor `id` for `user` (`None` with access control off): a cursor
    /// another user opened is refused with 13, as MongoDB refuses it.
    pub fn kill_for(&self, id: i64, user: Option<&String>) -> Result<bool> {
        let mut open = self.lock();
        if let Some((Some(cursor), _)) = open.get(&id) {
            if cursor.owner.user.as_ref() != user {
                return Err(Error::command(ErrorCode::Unauthorized, format!("not authorized to kill cursor {id}")));
            }
        }
        Ok(open.remove(&id).is_some())
    }

    /// The scope and position of cursor `id` when it is a change stream's and not
    /// being read: what its next `getMore` waits on.
    pub fn stream_state(&self, id: i64) -> Option<(Scope, Position)> {
        match self.lock().get(&id) {
            Some((Some(Cursor { source: Source::Stream(source), .. }), _)) => {
                Some((source.stream.scope.clone(), source.stream.position()))
            }
            _ => None,
        }
    }

    /// What awaitData cursor `id` on a capped collection waits for when it is not
    /// being read: inserts into its collection after the state it last read.
    pub fn tail_state(&self, id: i64) -> Option<(Scope, Position)> {
        match self.lock().get(&id) {
            Some((Some(Cursor { tail: Some(tail), snapshot, .. }), _)) if tail.awaiting.is_some() && tail.caught_up => {
                let scope = Scope::Collection {
                    db: tail.target.db.clone(),
                    branch: tail.target.branch.clone(),
                    collection: tail.collection.clone(),
                };
                Some((scope, Position::after(snapshot.lsn)))
            }
            _ => None,
        }
    }

    /// Tells change stream cursor `id`, if it is not being read and still at
    /// `position`, that nothing up to `lsn` concerns it.
    pub fn pass_quiet(&self, id: i64, position: Position, lsn: crate::lsn::Lsn) {
        if let Some((Some(Cursor { source: Source::Stream(source), .. }), _)) = self.lock().get_mut(&id) {
            if source.stream.position() == position {
                source.stream.pass_quiet(lsn);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (Option<Cursor>, Instant)>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Adds a snapshot read's cluster time to the `cursor` of its first reply
/// (`cursor.atClusterTime`), where drivers look for it.
pub fn report_snapshot_time(reply: &mut Document, time: Option<bson::Timestamp>) {
    if let (Some(time), Ok(cursor)) = (time, reply.get_document_mut("cursor")) {
        cursor.insert("atClusterTime", time);
    }
}

/// Reads the next batch of `cursor` (the first when `id` is `None`), keeps it open
/// when more remains, and builds the `cursor` reply field (`firstBatch` or
/// `nextBatch`). A cursor that ends, or fails, is closed.
pub fn reply_batch(
    cursors: &Cursors,
    id: Option<i64>,
    mut cursor: Cursor,
    view: &View,
    max: usize,
    interrupt: Interrupt<'_>,
) -> Result<Document> {
    let batch = cursor.next_batch(view, max, interrupt);
    let batch = match batch {
        Ok(batch) => batch,
        Err(e) => {
            if let Some(id) = id {
                cursors.kill(id);
            }
            return Err(e);
        }
    };
    let field = if id.is_some() { "nextBatch" } else { "firstBatch" };
    let ns = cursor.ns.clone();
    let ended = cursor.exhausted;
    let id = keep_or_close(cursors, id, cursor, ended);
    let batch: Vec<Bson> = batch.into_iter().map(Bson::Document).collect();
    Ok(bson::doc! { "cursor": { field: batch, "id": id, "ns": ns } })
}

/// Keeps a cursor for its next batch (registering it when it is new) or closes it
/// when `ended`: the id its reply gives (0 once closed).
fn keep_or_close(cursors: &Cursors, id: Option<i64>, cursor: Cursor, ended: bool) -> i64 {
    match (ended, id) {
        (true, Some(id)) => {
            cursors.kill(id);
            0
        }
        (true, None) => 0,
        (false, Some(id)) => {
            cursors.put_back(id, cursor);
            id
        }
        (false, None) => cursors.insert(cursor),
    }
}

/// Reads the next batch of a change stream's `cursor` (the first when `id` is
/// `None`) and builds the `cursor` reply field with `postBatchResumeToken`. The
/// cursor stays open (it is tailable) until an `invalidate` ends it; one that fails
/// is closed.
pub fn reply_stream_batch(
    cursors: &Cursors,
    id: Option<i64>,
    mut cursor: Cursor,
    max: usize,
    interrupt: Interrupt<'_>,
) -> Result<Document> {
    let Source::Stream(source) = &mut cursor.source else {
        return Err(Error::Internal("not a change stream's cursor".into()));
    };
    let batch = match source.next_batch(max, interrupt) {
        Ok(batch) => batch,
        Err(e) => {
            if let Some(id) = id {
                cursors.kill(id);
            }
            return Err(e);
        }
    };
    let token = source.resume_token();
    let ended = source.ended();
    let field = if id.is_some() { "nextBatch" } else { "firstBatch" };
    let ns = cursor.ns.clone();
    let id = keep_or_close(cursors, id, cursor, ended);
    let batch: Vec<Bson> = batch.into_iter().map(Bson::Document).collect();
    Ok(bson::doc! { "cursor": { field: batch, "postBatchResumeToken": token, "id": id, "ns": ns } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::namespace::DbRef;

    fn cursor() -> Cursor {
        let shared = Context::for_tests();
        let view = shared.store.view(&DbRef::parse("t").expect("name"), None).expect("view");
        Cursor::plain("t.c".into(), view.snapshot.clone(), Source::Ready(VecDeque::new()), None, Owner::default())
    }

    #[test]
    fn a_cursor_is_in_use_while_a_batch_is_read_and_gone_once_killed() {
        let cursors = Cursors::default();
        let id = cursors.insert(cursor());
        let taken = cursors.take(id).expect("open");
        assert_eq!(cursors.take(id).err().map(|e| e.code()), Some(ErrorCode::CursorInUse));
        cursors.put_back(id, taken);
        let taken = cursors.take(id).expect("back");
        assert!(cursors.kill(id), "killed while in use");
        cursors.put_back(id, taken);
        assert_eq!(cursors.take(id).err().map(|e| e.code()), Some(ErrorCode::CursorNotFound));
        assert!(cursors.is_empty());
    }

    #[test]
    fn an_event_too_large_for_a_reply_comes_in_fragments_and_resumes_from_one() {
        use std::time::Duration;

        use bson::doc;

        use crate::query::Variables;
        use crate::store::PutKind;
        use crate::stream::{BeforeChange, FullDocument, Options, Start};

        let shared = Context::for_tests();
        let feed = &shared.feed;
        let put = |kind: PutKind, d: Document| {
            let (_, commit) = shared
                .store
                .write(&DbRef::parse("shop").expect("name"), false, None, |batch| {
                    let c = batch.collection_or_create("items")?;
                    batch.put(&c, kind, d)
                })
                .expect("write");
            commit.expect("a commit").lsn
        };
        let items = || Scope::Collection { db: "shop".into(), branch: "main".into(), collection: "items".into() };
        let plain = || Options {
            full_document: FullDocument::Default,
            before_change: BeforeChange::WhenAvailable,
            expanded: false,
            images_expire_after: None,
        };
        let big = |c: &str| Bson::String(c.repeat(9 << 20));
        let first = put(PutKind::Insert, doc! {"_id": 1, "s": big("a")});
        put(PutKind::Replace, doc! {"_id": 1, "s": big("b")});
        let source = |split: bool, start: Start, resume| {
            let stream = ChangeStream::open(feed, items(), plain(), start).expect("open");
            let pipeline = Pipeline::parse_change_stream(&[], &Variables::none()).expect("pipeline");
            StreamSource::new(stream, pipeline, split, resume)
        };
        let interrupt = || Interrupt { deadline: None, op: None };
        // The next batch that has something (the feed may not have read the records yet).
        let next = |source: &mut StreamSource| -> crate::error::Result<Vec<Document>> {
            for _ in 0..200 {
                let batch = source.next_batch(100, interrupt())?;
                if !batch.is_empty() {
                    return Ok(batch);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("no event came");
        };
        let after_insert = Start::After(Token::new(Position::after(first), false));

        // The replace event holds both 9 MiB versions: two fragments, one per batch.
        let mut split = source(true, after_insert, None);
        let one = next(&mut split).expect("batch");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].get_document("splitEvent"), Ok(&doc! {"fragment": 1, "of": 2}));
        assert_eq!(
            &split.resume_token(),
            one[0].get_document("_id").expect("token"),
            "the batch's token is its fragment's"
        );
        let two = next(&mut split).expect("batch");
        assert_eq!(two[0].get_document("splitEvent"), Ok(&doc! {"fragment": 2, "of": 2}));
        let mut fields: Vec<&str> = one[0].keys().chain(two[0].keys()).map(String::as_str).collect();
        fields.sort_unstable();
        assert!(fields.contains(&"fullDocument") && fields.contains(&"fullDocumentBeforeChange"), "{fields:?}");

        // Resuming from the first fragment gives the second only.
        let token = Token::parse("resumeAfter", &Bson::Document(one[0].get_document("_id").expect("id").clone()))
            .expect("a fragment's token");
        assert_eq!(token.fragment, Some(0));
        let mut resumed = source(true, Start::After(token), Some((token.position, 0)));
        let rest = next(&mut resumed).expect("batch");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].get_document("splitEvent"), Ok(&doc! {"fragment": 2, "of": 2}));

        // Without the stage the event fails the stream, as in MongoDB.
        let mut whole = source(false, after_insert, None);
        let err = next(&mut whole).expect_err("too large");
        assert_eq!(err.code(), crate::error::ErrorCode::BSONObjectTooLarge);
        feed.close();
    }
}
