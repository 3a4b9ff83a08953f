//! Change streams (DESIGN §4), read from the log: the one place where history is in
//! order. A stream follows a scope (the server, a database branch, a collection of
//! one) from a position in the log; its events are the records after that position
//! that touch its scope, turned into MongoDB's events (`events.rs`). Recent records
//! come from the shared [`Feed`]; a stream further behind reads the log itself, from
//! any point the retained history holds. Nothing here takes the writer lock, and a
//! stream's reads never wait for another's.

mod describe;
mod events;
mod feed;
mod scope;
pub mod split;
mod token;

use std::collections::VecDeque;
use std::sync::Arc;

use bson::Timestamp;

pub use events::{uuid, BeforeChange, Event, FullDocument, Options};
pub use feed::{Feed, Published, Pulled, Subscription, Waiter};
pub use scope::{addressed, Scope, INTERNAL_DATABASES};
pub use token::{Position, Token};

use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::store::Store;
use crate::wal::{cluster_time, Reader};

/// Where a new stream starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// After the newest published record.
    Now,
    /// After the event of a token (`resumeAfter`, `startAfter`).
    After(Token),
    /// At the first event at or after a cluster time (`startAtOperationTime`).
    At(Timestamp),
}

/// The most records a stream reads from the log for one batch when it is behind the
/// feed, so that a batch of a stream whose scope is quiet still ends.
const READ_PER_BATCH: usize = 10_000;

/// One change stream's state between batches.
pub struct ChangeStream {
    pub scope: Scope,
    pub options: Options,
    /// Every event at or before it has been returned or passed over.
    position: Position,
    /// `startAtOperationTime`: records before it are passed over.
    start_time: Option<Timestamp>,
    /// Records fetched and not yet turned into events.
    queued: VecDeque<Arc<Published>>,
    /// Events of the record at `pending_lsn` not yet returned.
    pending: VecDeque<Event>,
    pending_lsn: Option<Lsn>,
    /// The log, read directly while the stream is behind the feed.
    reader: Option<Reader>,
    invalidated: bool,
    feed: Arc<Feed>,
    _subscription: Subscription,
}

impl ChangeStream {
    /// Opens a stream; a start before the retained history is
    /// `ChangeStreamHistoryLost` (286).
    pub fn open(feed: &Arc<Feed>, scope: Scope, options: Options, start: Start) -> Result<ChangeStream> {
        let store = feed.store();
        let published = store.published().lsn;
        let (position, start_time) = match start {
            Start::Now => (Position::after(published), None),
            Start::After(token) => {
                if token.position.lsn > published {
                    return Err(Error::command(
                        ErrorCode::ChangeStreamFatalError,
                        format!(
                            "the resume token names LSN {}, after the newest record of this server's log ({published})",
                            token.position.lsn
                        ),
                    ));
                }
                // A fragment's event is read again: the fragments before it are
                // skipped by whoever splits it (`cursor::StreamSource`).
                match token.fragment {
                    Some(_) => (token.position.before(), None),
                    None => (token.position, None),
                }
            }
            Start::At(time) => {
                let now = bson::DateTime::now().timestamp_millis() / 1000;
                let lsn = match i64::from(time.time) > now {
                    true => published,
                    false => store.resolve_cluster_time(time)?.prev(),
                };
                (Position::after(lsn), Some(time))
            }
        };
        let first_needed = match position.covers(position.lsn) {
            true => position.lsn.next(),
            false => position.lsn,
        };
        if first_needed <= published {
            check_retained(store, first_needed)?;
        }
        Ok(ChangeStream {
            scope,
            options,
            position,
            start_time,
            queued: VecDeque::new(),
            pending: VecDeque::new(),
            pending_lsn: None,
            reader: None,
            invalidated: false,
            _subscription: feed.subscribe()?,
            feed: feed.clone(),
        })
    }

    /// The token of the stream's position: `postBatchResumeToken`.
    pub fn resume_token(&self) -> Token {
        Token::new(self.position, self.invalidated)
    }

    /// Whether an `invalidate` ended the stream.
    pub fn invalidated(&self) -> bool {
        self.invalidated
    }

    /// The position, for waiting on the feed.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Moves the position past `lsn`, which the feed says holds nothing for this
    /// stream after its position (a quiet stream then does not go through the same
    /// records again at its next batch).
    pub fn pass_quiet(&mut self, lsn: Lsn) {
        let idle = self.pending.is_empty() && self.queued.is_empty() && self.reader.is_none();
        if idle && self.start_time.is_none() {
            self.position = self.position.max(Position::after(lsn));
        }
    }

    /// The next events, at most `max`; fewer (none) once it has caught up with what
    /// is published. `keep_going` is asked between records (a deadline).
    pub fn next_events(&mut self, max: usize, keep_going: &mut dyn FnMut() -> Result<()>) -> Result<Vec<Event>> {
        let store = self.feed.store().clone();
        let (scope, options) = (self.scope.clone(), self.options.clone());
        let mut render = events::Render::new(&store, &scope, &options);
        let mut out = Vec::new();
        let mut read = 0usize;
        let mut looked = 0usize;
        loop {
            while out.len() < max && !self.invalidated {
                let Some(event) = self.pending.pop_front() else { break };
                self.position = event.position;
                self.invalidated = event.invalidates;
                out.push(event);
            }
            if self.pending.is_empty() {
                if let Some(lsn) = self.pending_lsn.take() {
                    self.position = self.position.max(Position::after(lsn));
                }
            }
            if out.len() >= max || self.invalidated || !self.pending.is_empty() {
                return Ok(out);
            }
            let Some(mut record) = self.next_record(&mut read)? else { return Ok(out) };
            looked += 1;
            if looked.is_multiple_of(256) {
                keep_going()?;
            }
            if let Some(start) = self.start_time {
                if cluster_time(record.lsn, record.time) < start {
                    self.position = Position::after(record.lsn);
                    continue;
                }
                self.start_time = None;
            }
            let mut events = Vec::new();
            render.events(&mut record, self.position, &mut events)?;
            self.pending.extend(events);
            self.pending_lsn = Some(record.lsn);
        }
    }

    /// The next record after the position: from the feed, or from the log while the
    /// feed no longer holds it. `None` once caught up (the position then moves to
    /// the end of what was read).
    fn next_record(&mut self, read: &mut usize) -> Result<Option<Arc<Published>>> {
        if let Some(record) = self.queued.pop_front() {
            return Ok(Some(record));
        }
        if self.reader.is_none() {
            match self.feed.pull(self.position) {
                Pulled::Records(records, through) => {
                    if records.is_empty() {
                        self.position = self.position.max(Position::after(through));
                        return Ok(None);
                    }
                    self.queued.extend(records);
                    return Ok(self.queued.pop_front());
                }
                Pulled::Behind => {}
            }
        }
        if *read >= READ_PER_BATCH {
            return Ok(None);
        }
        // Behind the feed: read the log, up to what is published.
        let store = self.feed.store().clone();
        let published = store.published().lsn;
        let from = match self.position.covers(self.position.lsn) {
            true => self.position.lsn.next(),
            false => self.position.lsn,
        };
        let reader = match &mut self.reader {
            Some(reader) => {
                reader.extend(published);
                reader
            }
            None => {
                check_retained(&store, from)?;
                self.reader.insert(self.feed.wal().read(from, Some(published))?)
            }
        };
        for record in reader.by_ref() {
            let record = record.map_err(|e| history_lost_on_read(e, from))?;
            *read += 1;
            if let Some(published) = Published::new(&store, record) {
                if !self.position.covers(published.lsn) {
                    return Ok(Some(Arc::new(published)));
                }
            }
            if *read >= READ_PER_BATCH {
                return Ok(None);
            }
        }
        // The end of what is published: the feed holds what follows, unless it is
        // behind this too (then the reader goes on next time).
        self.position = self.position.max(Position::after(published));
        if !matches!(self.feed.pull(self.position), Pulled::Behind) {
            self.reader = None;
        }
        Ok(None)
    }
}

/// Refuses to read from `lsn` when the history before it is gone (its record, or the
/// state before it that images are read from).
fn check_retained(store: &Store, lsn: Lsn) -> Result<()> {
    let horizon = store.horizon();
    if lsn.prev() < horizon {
        return Err(Error::command(
            ErrorCode::ChangeStreamHistoryLost,
            format!(
                "Resume of change stream was not possible, as the resume point (LSN {lsn}) may no longer be in \
                 the retained history, which begins at LSN {horizon}"
            ),
        ));
    }
    Ok(())
}

fn history_lost_on_read(e: Error, from: Lsn) -> Error {
    match e {
        Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => Error::command(
            ErrorCode::ChangeStreamHistoryLost,
            format!("the log from LSN {from} is no longer retained: {io}"),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests;
