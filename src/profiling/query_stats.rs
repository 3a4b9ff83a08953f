//! Query statistics, as `$queryStats` reads them: for each query shape (with the
//! kind of collection it read), how often its queries ran, how long they took and
//! how many documents they returned. Kept in memory for the server's life, as
//! MongoDB keeps them, and bounded: past [`MAX_ENTRIES`] shapes, the one seen
//! longest ago goes.
//!
//! A query whose cursor stays open is recorded when it ends (its last batch, or
//! `killCursors`), with the time and documents of every batch, as MongoDB records
//! a query when its cursor is done. At most [`MAX_OPEN`] such queries wait; past
//! that, the one opened first is recorded as it stands.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bson::{doc, Bson, DateTime, Decimal128, Document};

/// The most shapes kept.
pub const MAX_ENTRIES: usize = 10_000;
/// The most queries with an open cursor waiting to be recorded.
pub const MAX_OPEN: usize = 10_000;

/// Every query shape's statistics, by the key's BSON.
#[derive(Default)]
pub struct QueryStats {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
    /// Queries whose cursors are still open, by cursor id.
    open: Mutex<HashMap<i64, Open>>,
}

/// A query whose cursor is still open: its key and what it has measured so far.
pub struct Open {
    pub key_bytes: Vec<u8>,
    pub key: Document,
    pub key_hash: String,
    pub query_shape_hash: String,
    pub run: Execution,
    /// When it was opened, to record the oldest first when too many wait.
    opened: u64,
}

/// One shape's statistics.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: Document,
    /// The key's hash as `$queryStats` shows it.
    pub key_hash: String,
    pub query_shape_hash: String,
    pub exec_count: u64,
    pub last_execution_micros: u64,
    pub total_exec_micros: Spread,
    pub first_response_exec_micros: Spread,
    pub docs_returned: Spread,
    pub first_seen: DateTime,
    pub last_seen: DateTime,
}

/// Sum, extremes and sum of squares of one measure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spread {
    sum: u64,
    max: u64,
    min: u64,
    sum_of_squares: u128,
    count: u64,
}

impl Spread {
    fn add(&mut self, value: u64) {
        self.sum = self.sum.saturating_add(value);
        self.max = self.max.max(value);
        self.min = if self.count == 0 { value } else { self.min.min(value) };
        self.sum_of_squares = self.sum_of_squares.saturating_add(u128::from(value) * u128::from(value));
        self.count += 1;
    }

    /// As `$queryStats` shows one: longs, and the sum of squares as a decimal.
    pub fn to_document(self) -> Document {
        let long = |n: u64| Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX));
        let squares = self.sum_of_squares.to_string().parse::<Decimal128>().map_or(Bson::Null, Bson::Decimal128);
        doc! {"sum": long(self.sum), "max": long(self.max), "min": long(self.min), "sumOfSquares": squares}
    }
}

impl Open {
    pub fn new(key_bytes: Vec<u8>, key: Document, key_hash: String, query_shape_hash: String, run: Execution) -> Open {
        Open { key_bytes, key, key_hash, query_shape_hash, run, opened: 0 }
    }
}

/// One execution, as measured: all its batches' time, its first batch's, and the
/// documents of all its batches.
#[derive(Debug, Clone, Copy)]
pub struct Execution {
    pub micros: u64,
    pub first_response_micros: u64,
    pub docs_returned: u64,
}

impl QueryStats {
    fn lock(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an execution of the query whose key encodes as `key_bytes`; `key`
    /// gives the key, its hash and its query shape's hash for a shape not seen yet.
    pub fn record(&self, key_bytes: &[u8], key: impl FnOnce() -> (Document, String, String), run: Execution) {
        let now = DateTime::now();
        let mut entries = self.lock();
        if !entries.contains_key(key_bytes) {
            if entries.len() >= MAX_ENTRIES {
                let oldest = entries.iter().min_by_key(|(_, e)| e.last_seen).map(|(bytes, _)| bytes.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
            let (key, key_hash, query_shape_hash) = key();
            let entry = Entry {
                key,
                key_hash,
                query_shape_hash,
                exec_count: 0,
                last_execution_micros: 0,
                total_exec_micros: Spread::default(),
                first_response_exec_micros: Spread::default(),
                docs_returned: Spread::default(),
                first_seen: now,
                last_seen: now,
            };
            entries.insert(key_bytes.to_vec(), entry);
        }
        let Some(entry) = entries.get_mut(key_bytes) else { return };
        entry.exec_count += 1;
        entry.last_execution_micros = run.micros;
        entry.total_exec_micros.add(run.micros);
        entry.first_response_exec_micros.add(run.first_response_micros);
        entry.docs_returned.add(run.docs_returned);
        entry.last_seen = now;
    }

    /// Keeps a query whose cursor `cursor` is open, to record when it ends.
    pub fn open(&self, cursor: i64, mut query: Open) {
        static OPENED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        query.opened = OPENED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let evicted = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let oldest = (open.len() >= MAX_OPEN)
                .then(|| open.iter().min_by_key(|(_, q)| q.opened).map(|(id, _)| *id))
                .flatten();
            open.insert(cursor, query);
            oldest.and_then(|id| open.remove(&id))
        };
        if let Some(query) = evicted {
            self.finish(query);
        }
    }

    /// Adds a later batch of cursor `cursor`'s query; records the query when the
    /// batch was its last (`exhausted`).
    pub fn more(&self, cursor: i64, micros: u64, docs_returned: u64, exhausted: bool) {
        let done = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let Some(query) = open.get_mut(&cursor) else { return };
            query.run.micros = query.run.micros.saturating_add(micros);
            query.run.docs_returned = query.run.docs_returned.saturating_add(docs_returned);
            if exhausted {
                open.remove(&cursor)
            } else {
                None
            }
        };
        if let Some(query) = done {
            self.finish(query);
        }
    }

    /// Records the query of cursor `cursor`, killed before its end.
    pub fn close(&self, cursor: i64) {
        let query = self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&cursor);
        if let Some(query) = query {
            self.finish(query);
        }
    }

    fn finish(&self, query: Open) {
        let Open { key_bytes, key, key_hash, query_shape_hash, run, .. } = query;
        self.record(&key_bytes, || (key, key_hash, query_shape_hash), run);
    }

    /// Every entry, first seen first.
    pub fn snapshot(&self) -> Vec<Entry> {
        let mut all: Vec<Entry> = self.lock().values().cloned().collect();
        all.sort_by_key(|e| e.first_seen);
        all
    }
}
