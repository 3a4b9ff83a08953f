//! Profiling as MongoDB has it: the slow operation log and `system.profile`.
//!
//! An operation slower than `slowms` (100 ms by default) is logged
//! (`slow_log.rs`), for `sampleRate` of them. Each database has a profiling level:
//! at 1 the operations the log takes are also kept in the database's
//! `system.profile`, at 2 every operation is. A database's `filter`, when set,
//! decides instead of `slowms` and `sampleRate` which operations are logged and,
//! at level 1, profiled. `slowms` and `sampleRate` are the server's; levels and
//! filters are each database's, and like MongoDB's they last until a restart.
//!
//! `system.profile` is kept in memory, not in the store: it is about the server,
//! not the data, so it is neither branched, nor logged, nor durable. It is capped
//! at 1 MiB per database as MongoDB caps it, the oldest entries going first. A
//! database's profile covers all its branches (each entry's `ns` names the branch).

pub mod query_stats;
mod slow_log;
pub mod top;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bson::Document;

pub use slow_log::SlowOperation;

use crate::query::Filter;
use crate::value::size::document_size;

/// MongoDB's default `slowms`.
pub const DEFAULT_SLOW_MS: u64 = 100;

/// The most one database's `system.profile` holds, as MongoDB's default: 1 MiB.
pub const PROFILE_BYTES: usize = 1 << 20;

/// The server's profiling settings and each database's profile.
#[derive(Debug)]
pub struct Profiling {
    slow_ms: AtomicU64,
    /// `sampleRate`, as the bits of an `f64` in 0..=1.
    sample_rate: AtomicU64,
    /// Slow operations seen, for sampling.
    seen: AtomicU64,
    /// Databases whose level is above 0 or that have a filter: while there are
    /// none, an operation costs no lock.
    watched: AtomicUsize,
    databases: Mutex<HashMap<String, Database>>,
}

/// One database's settings and profile.
#[derive(Debug, Default)]
struct Database {
    level: i32,
    filter: Option<(Document, Arc<Filter>)>,
    entries: VecDeque<Document>,
    bytes: usize,
}

impl Database {
    fn watched(&self) -> bool {
        self.level > 0 || self.filter.is_some()
    }

    fn record(&mut self, entry: Document) {
        self.bytes += document_size(&entry);
        self.entries.push_back(entry);
        while self.bytes > PROFILE_BYTES {
            let Some(oldest) = self.entries.pop_front() else { break };
            self.bytes -= document_size(&oldest);
        }
    }
}

/// A database's profiling settings, as `profile` reports them.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub level: i32,
    pub filter: Option<Document>,
}

/// A change of a database's filter.
pub enum FilterChange {
    Keep,
    Unset,
    Set(Document, Filter),
}

impl Default for Profiling {
    fn default() -> Profiling {
        Profiling {
            slow_ms: AtomicU64::new(DEFAULT_SLOW_MS),
            sample_rate: AtomicU64::new(1.0f64.to_bits()),
            seen: AtomicU64::new(0),
            watched: AtomicUsize::new(0),
            databases: Mutex::default(),
        }
    }
}

impl Profiling {
    pub fn slow_ms(&self) -> u64 {
        self.slow_ms.load(Ordering::Relaxed)
    }

    pub fn set_slow_ms(&self, ms: u64) {
        self.slow_ms.store(ms, Ordering::Relaxed);
    }

    pub fn sample_rate(&self) -> f64 {
        f64::from_bits(self.sample_rate.load(Ordering::Relaxed))
    }

    pub fn set_sample_rate(&self, rate: f64) {
        self.sample_rate.store(rate.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    /// Whether an operation that took `took` is slow.
    pub fn is_slow(&self, took: Duration) -> bool {
        took.as_millis() >= u128::from(self.slow_ms())
    }

    /// `db`'s level and filter.
    pub fn settings(&self, db: &str) -> Settings {
        match self.lock().get(db) {
            Some(d) => Settings { level: d.level, filter: d.filter.as_ref().map(|(spec, _)| spec.clone()) },
            None => Settings::default(),
        }
    }

    /// Sets `db`'s level and changes its filter; returns the settings before.
    pub fn set(&self, db: &str, level: i32, filter: FilterChange) -> Settings {
        let mut databases = self.lock();
        let database = databases.entry(db.to_owned()).or_default();
        let before = Settings { level: database.level, filter: database.filter.as_ref().map(|(spec, _)| spec.clone()) };
        let was_watched = database.watched();
        database.level = level;
        match filter {
            FilterChange::Keep => {}
            FilterChange::Unset => database.filter = None,
            FilterChange::Set(spec, filter) => database.filter = Some((spec, Arc::new(filter))),
        }
        match (was_watched, database.watched()) {
            (false, true) => {
                self.watched.fetch_add(1, Ordering::Relaxed);
            }
            (true, false) => {
                self.watched.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
        before
    }

    /// `db`'s profile, oldest first.
    pub fn entries(&self, db: &str) -> Vec<Document> {
        self.lock().get(db).map(|d| d.entries.iter().cloned().collect()).unwrap_or_default()
    }

    /// Empties `db`'s profile (`system.profile` dropped).
    pub fn clear(&self, db: &str) {
        if let Some(database) = self.lock().get_mut(db) {
            database.entries.clear();
            database.bytes = 0;
        }
    }

    /// Logs and profiles an operation on database `db` that took `took`, as the
    /// settings say; `slow` makes its log record and `entry` its profile document,
    /// each only when it is needed.
    pub fn observe<'a>(
        &self,
        db: &str,
        took: Duration,
        slow: impl FnOnce() -> SlowOperation<'a>,
        entry: impl FnOnce() -> Document,
    ) {
        let database = match self.watched.load(Ordering::Relaxed) {
            0 => None,
            _ => self.lock().get(db).filter(|d| d.watched()).map(|d| (d.level, d.filter.as_ref().map(|f| f.1.clone()))),
        };
        let (level, filter) = database.unwrap_or((0, None));
        let (log, profile) = match filter {
            Some(filter) => {
                let entry = entry();
                let chosen = filter.matches(&entry);
                (chosen, (level == 2 || (level == 1 && chosen)).then_some(entry))
            }
            None => {
                let chosen = self.is_slow(took) && self.sampled();
                (chosen, (level == 2 || (level == 1 && chosen)).then(entry))
            }
        };
        if log {
            slow_log::log(slow());
        }
        if let Some(entry) = profile {
            if let Some(database) = self.lock().get_mut(db).filter(|d| d.level > 0) {
                database.record(entry);
            }
        }
    }

    /// Whether the sample rate takes the next slow operation: every
    /// `1 / sampleRate`-th one, so that a rate of 0.5 takes every second.
    fn sampled(&self) -> bool {
        let rate = self.sample_rate();
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        rate > 0.0 && ((n as f64 * rate).floor() - ((n - 1) as f64 * rate).floor()) >= 1.0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Database>> {
        self.databases.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn observe(profiling: &Profiling, db: &str, took_ms: u64, entry: Document) {
        let body = doc! {"find": "c"};
        let took = Duration::from_millis(took_ms);
        let slow = || SlowOperation {
            connection: 1,
            ns: "db.c".into(),
            command: std::borrow::Cow::Borrowed(&body),
            reply: None,
            took,
        };
        profiling.observe(db, took, slow, || entry);
    }

    #[test]
    fn level_1_keeps_slow_operations_and_level_2_all_of_them() {
        let profiling = Profiling::default();
        observe(&profiling, "db", 500, doc! {"n": 0});
        assert!(profiling.entries("db").is_empty(), "level 0 keeps nothing");
        profiling.set("db", 1, FilterChange::Keep);
        observe(&profiling, "db", 1, doc! {"n": 1});
        observe(&profiling, "db", 500, doc! {"n": 2});
        observe(&profiling, "other", 500, doc! {"n": 3});
        assert_eq!(profiling.entries("db"), vec![doc! {"n": 2}]);
        profiling.set("db", 2, FilterChange::Keep);
        observe(&profiling, "db", 0, doc! {"n": 4});
        assert_eq!(profiling.entries("db").len(), 2);
        assert!(profiling.entries("other").is_empty());
        profiling.set("db", 0, FilterChange::Keep);
        assert_eq!(profiling.watched.load(Ordering::Relaxed), 0);
        profiling.clear("db");
        assert!(profiling.entries("db").is_empty());
    }

    #[test]
    fn a_filter_chooses_instead_of_slowms() {
        let profiling = Profiling::default();
        let spec = doc! {"op": "query"};
        let filter = Filter::parse(&spec, &Default::default()).expect("filter");
        let before = profiling.set("db", 1, FilterChange::Set(spec.clone(), filter));
        assert_eq!(before.level, 0);
        assert_eq!(profiling.settings("db").filter, Some(spec));
        observe(&profiling, "db", 0, doc! {"op": "query"});
        observe(&profiling, "db", 900, doc! {"op": "insert"});
        assert_eq!(profiling.entries("db"), vec![doc! {"op": "query"}]);
        profiling.set("db", 0, FilterChange::Unset);
        assert_eq!(profiling.watched.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_profile_keeps_its_newest_mebibyte() {
        let mut database = Database { level: 2, ..Database::default() };
        let filler = "x".repeat(10_000);
        for n in 0..300 {
            database.record(doc! {"n": n, "filler": &filler});
        }
        assert!(database.bytes <= PROFILE_BYTES);
        assert_eq!(database.entries.back().and_then(|d| d.get_i32("n").ok()), Some(299));
        assert!(database.entries.len() > 90 && database.entries.len() < 110, "{}", database.entries.len());
    }
}
