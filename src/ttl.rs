//! The TTL expirer (MongoDB's TTL monitor): every `ttlMonitorSleepSecs` it deletes
//! the documents TTL indexes say have expired, on every live branch of every
//! database. It owns the expiry rule, the pass, the background thread and the
//! `ttlMonitor*` parameters and `metrics.ttl` counters.
//!
//! A document expires when the earliest date its indexed field holds (a date, or
//! the dates of an array) is at or before `now - expireAfterSeconds`; other values
//! never expire, and a partial index only holds the documents matching its filter.
//! A pass finds candidates with a scan of the index's date keys up to that
//! threshold, then deletes them through [`Store::write`], re-checking each under
//! the writer lock: deletions are ordinary logged records, replayed like any
//! write, and views of points before them still see the documents. Those views are
//! read-only: only the branches themselves expire documents.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bson::{Bson, DateTime, Document};

use crate::error::{Error, Result};
use crate::exec;
use crate::index::{encode_field, Index};
use crate::namespace::DbRef;
use crate::query::plan::IndexScan;
use crate::store::{prefix_end, Branch, Collection, Store};

/// Documents deleted per logged record: the log's size rule.
const CHUNK: usize = crate::wal::SPLIT_OPS;

/// The expirer's settings and counters, shared by the server and its thread.
pub struct Monitor {
    /// Seconds between passes (`ttlMonitorSleepSecs`).
    sleep_secs: AtomicU64,
    /// Passes run at all (`ttlMonitorEnabled`).
    enabled: AtomicBool,
    /// Passes started (`metrics.ttl.passes`).
    passes: AtomicU64,
    /// Documents deleted (`metrics.ttl.deletedDocuments`).
    deleted: AtomicU64,
    /// Set at shutdown; the thread waits on `wake` for it or for a new interval.
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Monitor {
    /// A monitor running a pass every `sleep_secs` seconds once started.
    pub fn new(sleep_secs: u64) -> Monitor {
        Monitor {
            sleep_secs: AtomicU64::new(sleep_secs.max(1)),
            enabled: AtomicBool::new(true),
            passes: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    /// Seconds between passes.
    pub fn sleep_secs(&self) -> u64 {
        self.sleep_secs.load(Ordering::Relaxed)
    }

    /// Changes the interval; the thread's current wait takes it at once.
    pub fn set_sleep_secs(&self, secs: u64) {
        self.sleep_secs.store(secs.max(1), Ordering::Relaxed);
        let _guard = lock(&self.stop);
        self.wake.notify_all();
    }

    /// Whether the thread runs passes.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Passes started since the server started.
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// Documents deleted since the server started.
    pub fn deleted_documents(&self) -> u64 {
        self.deleted.load(Ordering::Relaxed)
    }

    /// Starts the thread that runs a pass every interval until [`Monitor::stop`].
    pub fn start(self: &Arc<Self>, store: Arc<Store>) -> Result<JoinHandle<()>> {
        let monitor = self.clone();
        std::thread::Builder::new()
            .name("ttl-monitor".into())
            .spawn(move || {
                while monitor.sleep() {
                    if monitor.enabled() {
                        monitor.pass(&store, DateTime::now());
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the TTL monitor's thread: {e}")))
    }

    /// Tells the thread to finish: it leaves its wait at once, and a pass in
    /// progress stops after the record it is writing.
    pub fn stop(&self) {
        *lock(&self.stop) = true;
        self.wake.notify_all();
    }

    fn stopping(&self) -> bool {
        *lock(&self.stop)
    }

    /// Waits for the interval (as it is now, should it change meanwhile); `false`
    /// once stopping.
    fn sleep(&self) -> bool {
        let started = Instant::now();
        let mut stop = lock(&self.stop);
        loop {
            if *stop {
                return false;
            }
            let due = started + Duration::from_secs(self.sleep_secs());
            let Some(left) = due.checked_duration_since(Instant::now()).filter(|left| !left.is_zero()) else {
                return true;
            };
            stop = self.wake.wait_timeout(stop, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Runs one pass as of `now` over every live branch that takes writes (a
    /// read-only one keeps its documents until it is writable again); returns the
    /// documents it deleted. Never fails: what goes wrong is logged, and the pass
    /// goes on. No pass runs while `fsync` has locked the store.
    pub fn pass(&self, store: &Store, now: DateTime) -> u64 {
        if store.gate.is_closed() {
            // `fsync` holds the store still: MongoDB's TTL monitor skips its passes too.
            return 0;
        }
        self.passes.fetch_add(1, Ordering::Relaxed);
        let mut deleted = 0;
        for branch in store.all_branches().into_iter().filter(|b| !b.settings.read_only) {
            if self.stopping() {
                break;
            }
            deleted += self.expire_branch(store, &branch, now);
        }
        deleted
    }

    /// Expires the documents of every TTL index of one branch.
    fn expire_branch(&self, store: &Store, branch: &Branch, now: DateTime) -> u64 {
        let target = DbRef { db: branch.db.clone(), branch: branch.name.clone(), point: None };
        let collections = match store.view(&target, None).and_then(|view| view.collections()) {
            Ok(collections) => collections,
            Err(_) if dropped(store, &target) => return 0,
            Err(e) => {
                tracing::warn!(db = %target, error = %e, "TTL pass: cannot list the collections");
                return 0;
            }
        };
        let mut deleted = 0;
        for collection in &collections {
            if clustered_threshold(collection, now).is_some() {
                match self.expire_clustered(store, &target, collection, now) {
                    Ok(n) => deleted += n,
                    Err(_) if dropped(store, &target) => return deleted,
                    Err(e) => tracing::warn!(
                        ns = %format!("{target}.{}", collection.name), error = %e,
                        "TTL pass: expiring the clustered collection's documents failed"
                    ),
                }
            }
            if timeseries_threshold(collection, now).is_some() {
                match self.expire_timeseries(store, &target, collection, now) {
                    Ok(n) => deleted += n,
                    Err(_) if dropped(store, &target) => return deleted,
                    Err(e) => tracing::warn!(
                        ns = %format!("{target}.{}", collection.name), error = %e,
                        "TTL pass: expiring the time series collection's measurements failed"
                    ),
                }
            }
            for index in collection.indexes.iter().filter(|index| index.expire_after_seconds.is_some()) {
                match self.expire_index(store, &target, collection, index, now) {
                    Ok(n) => deleted += n,
                    // Dropped during the pass: nothing left to expire.
                    Err(_) if dropped(store, &target) => return deleted,
                    Err(e) => tracing::warn!(
                        ns = %format!("{target}.{}", collection.name), index = %index.name, error = %e,
                        "TTL pass: expiring the index's documents failed"
                    ),
                }
            }
        }
        deleted
    }

    /// Deletes the documents `index` of `collection` expires on branch `target`,
    /// [`CHUNK`] per record.
    fn expire_index(
        &self,
        store: &Store,
        target: &DbRef,
        collection: &Collection,
        index: &Index,
        now: DateTime,
    ) -> Result<u64> {
        let Some(oldest) = threshold(index, now) else { return Ok(0) };
        let candidates = expired_ids(store, target, collection, index, oldest)?;
        let deleted = self.delete_expiring(store, target, collection, &candidates, index_expires(index.id, now))?;
        if deleted > 0 {
            tracing::debug!(ns = %format!("{target}.{}", collection.name), index = %index.name, deleted, "TTL pass");
        }
        Ok(deleted)
    }
}

/// The `expireAfterSeconds` of a clustered collection, whose documents expire by
/// the date of their `_id` (the cluster key).
fn clustered_expiry(collection: &Collection) -> Option<i64> {
    collection.options.get_document("clusteredIndex").ok()?;
    collection.options.get_i64("expireAfterSeconds").ok()
}

/// The newest `_id` date a clustered collection expires as of `now`.
fn clustered_threshold(collection: &Collection, now: DateTime) -> Option<DateTime> {
    let seconds = clustered_expiry(collection)?;
    Some(DateTime::from_millis(now.timestamp_millis().saturating_sub(seconds.saturating_mul(1000))))
}

/// Whether a clustered collection's document expires at `threshold`: its `_id`
/// is a date at or before it.
fn id_expires(doc: &Document, threshold: DateTime) -> bool {
    matches!(doc.get("_id"), Some(Bson::DateTime(date)) if *date <= threshold)
}

impl Monitor {
    /// Deletes the documents of clustered `collection` whose `_id` date is at or
    /// before `now - expireAfterSeconds`, [`CHUNK`] per record. Dates are one run
    /// of the `_id` order, read from its start.
    fn expire_clustered(&self, store: &Store, target: &DbRef, collection: &Collection, now: DateTime) -> Result<u64> {
        let Some(threshold) = clustered_threshold(collection, now) else { return Ok(0) };
        let view = store.view(target, None)?;
        let dawn = Bson::DateTime(DateTime::MIN);
        // Resume past every `_id` of the types ordered before dates.
        let before_dates = [crate::value::order::encoded(&dawn)[0] - 1];
        let mut ids = Vec::new();
        view.scan(collection.id, Some(&before_dates), |_, doc| {
            let id = doc.get("_id").unwrap_or(&Bson::Null);
            if id_expires(&doc, threshold) {
                ids.push(id.clone());
                return Ok(true);
            }
            Ok(crate::value::order::compare(id, &dawn).is_lt())
        })?;
        self.delete_expiring(store, target, collection, &ids, |current, doc| {
            Ok(clustered_threshold(current, now).is_some_and(|threshold| id_expires(doc, threshold)))
        })
    }
}

/// The time field of a time series collection with `expireAfterSeconds`, and the
/// newest date it expires as of `now`.
fn timeseries_threshold(collection: &Collection, now: DateTime) -> Option<(&str, DateTime)> {
    let time_field = collection.options.get_document("timeseries").ok()?.get_str("timeField").ok()?;
    let seconds = collection.options.get("expireAfterSeconds").and_then(crate::index::whole_number)?;
    let threshold = DateTime::from_millis(now.timestamp_millis().saturating_sub(seconds.saturating_mul(1000)));
    Some((time_field, threshold))
}

/// Whether a measurement's time is at or before `threshold`.
fn measurement_expires(doc: &Document, time_field: &str, threshold: DateTime) -> bool {
    matches!(doc.get(time_field), Some(Bson::DateTime(date)) if *date <= threshold)
}

impl Monitor {
    /// Deletes the measurements of time series `collection` whose time is at or
    /// before `now - expireAfterSeconds`, [`CHUNK`] per record. MongoDB expires
    /// whole buckets once their newest measurement is old enough; branchdb keeps no
    /// buckets and expires each measurement by its own time (a walk of the
    /// collection per pass).
    fn expire_timeseries(&self, store: &Store, target: &DbRef, collection: &Collection, now: DateTime) -> Result<u64> {
        let Some((time_field, threshold)) = timeseries_threshold(collection, now) else { return Ok(0) };
        let view = store.view(target, None)?;
        let mut ids = Vec::new();
        view.scan(collection.id, None, |_, doc| {
            if measurement_expires(&doc, time_field, threshold) {
                ids.extend(doc.get("_id").cloned());
            }
            Ok(!self.stopping())
        })?;
        self.delete_expiring(store, target, collection, &ids, |current, doc| {
            let expiry = timeseries_threshold(current, now);
            Ok(expiry.is_some_and(|(time_field, threshold)| measurement_expires(doc, time_field, threshold)))
        })
    }

    /// Deletes the documents of `ids` from `collection` on branch `target`, [`CHUNK`]
    /// per record, each only if `expires` still says so of it and of the collection
    /// as the record finds them: a document may have changed, or the collection or
    /// its expiry gone, since it was found.
    fn delete_expiring(
        &self,
        store: &Store,
        target: &DbRef,
        collection: &Collection,
        ids: &[Bson],
        expires: impl Fn(&Collection, &Document) -> Result<bool>,
    ) -> Result<u64> {
        let mut deleted = 0;
        for chunk in ids.chunks(CHUNK) {
            if self.stopping() {
                break;
            }
            let (n, _) = store.write(target, false, None, |batch| {
                let Some(current) = batch.collection(&collection.name)?.filter(|c| c.id == collection.id) else {
                    return Ok(0);
                };
                let mut n = 0;
                for id in chunk {
                    if let Some(doc) = batch.get(&current, id)? {
                        if expires(&current, &doc)? {
                            batch.delete(&current, id)?;
                            n += 1;
                        }
                    }
                }
                Ok(n)
            })?;
            self.deleted.fetch_add(n, Ordering::Relaxed);
            deleted += n;
        }
        Ok(deleted)
    }
}

/// The `_id`s of the documents of `collection` that `index` expires at
/// `threshold`, as the branch's latest published state holds them.
fn expired_ids(
    store: &Store,
    target: &DbRef,
    collection: &Collection,
    index: &Index,
    threshold: DateTime,
) -> Result<Vec<Bson>> {
    let view = store.view(target, None)?;
    // Oldest first, whatever the index's direction, read as a query reads an index.
    let scan = IndexScan {
        index: index.clone(),
        ranges: vec![date_keys(index, threshold)],
        reverse: index.fields.first().is_some_and(|field| field.descending),
        bounds: Document::new(),
    };
    let mut ids = Vec::new();
    exec::index_ids(&view, &scan, &mut 0, |encoded_id| {
        if let Some(doc) = view.get_encoded(collection.id, encoded_id)? {
            if expires(index, &doc, threshold)? {
                ids.extend(doc.get("_id").cloned());
            }
        }
        Ok(true)
    })?;
    Ok(ids)
}

/// Whether index `index_id` of a collection, as a record finds it, expires a
/// document as of `now` (not once the index is gone).
fn index_expires(index_id: u64, now: DateTime) -> impl Fn(&Collection, &Document) -> Result<bool> {
    move |collection, doc| match collection.indexes.iter().find(|index| index.id == index_id) {
        Some(index) => threshold(index, now).map_or(Ok(false), |threshold| expires(index, doc, threshold)),
        None => Ok(false),
    }
}

/// The newest date a TTL index expires as of `now`: `now - expireAfterSeconds`.
/// `None` when the index is not a TTL index.
fn threshold(index: &Index, now: DateTime) -> Option<DateTime> {
    let secs = index.expire_after_seconds?;
    Some(DateTime::from_millis(now.timestamp_millis().saturating_sub(secs.saturating_mul(1000))))
}

/// Whether `index` expires `doc` at `threshold`: the earliest date among the
/// document's keys (none when the index does not hold it) is at or before it.
fn expires(index: &Index, doc: &Document, threshold: DateTime) -> Result<bool> {
    let keys = index.keys(doc)?;
    let earliest = keys
        .keys
        .iter()
        .filter_map(|key| match key.values.first() {
            Some(Bson::DateTime(date)) => Some(*date),
            _ => None,
        })
        .min();
    Ok(earliest.is_some_and(|date| date <= threshold))
}

/// The encoded keys `[lower, upper)` of a single-field index that hold the dates
/// from the earliest possible to `threshold`, inclusive (as MongoDB's monitor
/// scans). A descending index holds them inverted, so in the opposite order.
fn date_keys(index: &Index, threshold: DateTime) -> (Vec<u8>, Vec<u8>) {
    let descending = index.fields.first().is_some_and(|field| field.descending);
    let encode = |date: DateTime| {
        let mut key = Vec::new();
        encode_field(&Bson::DateTime(date), descending, &mut key);
        key
    };
    let (dawn, until) = (encode(DateTime::MIN), encode(threshold));
    let (lower, last) = if descending { (until, dawn) } else { (dawn, until) };
    // Keys are prefix-free: every entry whose key is `last` starts with it.
    (lower, prefix_end(&last))
}

/// Whether the branch `target` names is gone.
fn dropped(store: &Store, target: &DbRef) -> bool {
    store.branch(&target.db, &target.branch).is_err()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
