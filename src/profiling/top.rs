//! `top`'s usage statistics: for each collection (`db.coll`, the branch in the
//! database's name as everywhere), how many operations ran on it and how long they
//! took, in microseconds, since the server started: all of them, by the kind of
//! lock MongoDB would take (reads and writes), and by what they were (queries,
//! getMores, inserts, updates, removes, other commands). branchdb takes no such
//! locks; a read is counted under `readLock`, a write under `writeLock`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// What an operation was, as `top` sorts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    GetMore,
    Insert,
    Update,
    Remove,
    Command,
}

/// The counters of one collection, in `top`'s order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub total: Counter,
    pub read_lock: Counter,
    pub write_lock: Counter,
    pub queries: Counter,
    pub getmore: Counter,
    pub insert: Counter,
    pub update: Counter,
    pub remove: Counter,
    pub commands: Counter,
}

/// Operations counted, and their time in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counter {
    pub time: i64,
    pub count: i64,
}

impl Counter {
    fn add(&mut self, micros: i64) {
        self.time = self.time.saturating_add(micros);
        self.count += 1;
    }
}

#[derive(Default)]
pub struct Top {
    usage: Mutex<BTreeMap<String, Usage>>,
}

impl Top {
    /// Counts an operation of `kind` on collection `ns` that took `took`.
    pub fn record(&self, ns: &str, kind: Kind, read: bool, took: Duration) {
        let micros = i64::try_from(took.as_micros()).unwrap_or(i64::MAX);
        let mut usage = self.lock();
        let entry = usage.entry(ns.to_owned()).or_default();
        entry.total.add(micros);
        match read {
            true => entry.read_lock.add(micros),
            false => entry.write_lock.add(micros),
        }
        let bucket = match kind {
            Kind::Query => &mut entry.queries,
            Kind::GetMore => &mut entry.getmore,
            Kind::Insert => &mut entry.insert,
            Kind::Update => &mut entry.update,
            Kind::Remove => &mut entry.remove,
            Kind::Command => &mut entry.commands,
        };
        bucket.add(micros);
    }

    /// Forgets collection `ns` (dropped), or every collection of a database when
    /// `ns` is `db.` (dropped).
    pub fn forget(&self, ns: &str) {
        let mut usage = self.lock();
        match ns.ends_with('.') {
            true => usage.retain(|name, _| !name.starts_with(ns)),
            false => {
                usage.remove(ns);
            }
        }
    }

    /// Every collection's counters, by name.
    pub fn snapshot(&self) -> BTreeMap<String, Usage> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Usage>> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_count_in_total_in_their_lock_and_in_their_kind() {
        let top = Top::default();
        top.record("d.c", Kind::Query, true, Duration::from_micros(10));
        top.record("d.c", Kind::Insert, false, Duration::from_micros(5));
        top.record("d.e", Kind::Command, false, Duration::from_micros(1));
        let usage = top.snapshot();
        let c = usage["d.c"];
        assert_eq!((c.total.count, c.total.time), (2, 15));
        assert_eq!((c.read_lock.count, c.write_lock.count, c.queries.count, c.insert.count), (1, 1, 1, 1));
        top.forget("d.c");
        assert!(!top.snapshot().contains_key("d.c"));
        top.forget("d.");
        assert!(top.snapshot().is_empty());
    }
}
