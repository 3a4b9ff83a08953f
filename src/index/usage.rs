//! How many operations each index served, for `$indexStats`: per branch (a
//! branch's indexes are its own, even those it inherited), since the server
//! started or since the index was created or modified. Kept in memory only, as
//! MongoDB keeps them: a restart starts every count again. An entry is kept for
//! each index on each branch that served an operation, so a server that churns
//! through many short-lived indexes keeps a small entry for each until restart.

use std::collections::HashMap;
use std::sync::Mutex;

use bson::DateTime;

/// The counts of every index that served an operation.
pub struct IndexUsage {
    started: DateTime,
    counts: Mutex<HashMap<Key, Accesses>>,
}

/// One index of one collection on one branch; `index` is `None` for `_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub db: String,
    pub branch: String,
    pub collection: u64,
    pub index: Option<u64>,
}

/// What `$indexStats` reports of an index: `accesses: {ops, since}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accesses {
    pub ops: i64,
    pub since: DateTime,
}

impl Default for IndexUsage {
    fn default() -> Self {
        IndexUsage { started: DateTime::now(), counts: Mutex::default() }
    }
}

impl IndexUsage {
    /// Counts one operation that read the index.
    pub fn used(&self, key: Key) {
        let started = self.started;
        self.lock().entry(key).or_insert(Accesses { ops: 0, since: started }).ops += 1;
    }

    /// Starts the index's count again: it was just created or modified.
    pub fn reset(&self, key: Key) {
        self.lock().insert(key, Accesses { ops: 0, since: DateTime::now() });
    }

    /// The index's count: none since the server started when it served nothing.
    pub fn of(&self, key: &Key) -> Accesses {
        self.lock().get(key).copied().unwrap_or(Accesses { ops: 0, since: self.started })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Accesses>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(branch: &str, index: Option<u64>) -> Key {
        Key { db: "shop".into(), branch: branch.into(), collection: 7, index }
    }

    #[test]
    fn counts_are_per_branch_and_restart_when_reset() {
        let usage = IndexUsage::default();
        usage.used(key("main", Some(1)));
        usage.used(key("main", Some(1)));
        usage.used(key("main", None));
        assert_eq!(usage.of(&key("main", Some(1))).ops, 2);
        assert_eq!(usage.of(&key("main", None)).ops, 1);
        assert_eq!(usage.of(&key("feature", Some(1))).ops, 0, "another branch counts its own");
        usage.reset(key("main", Some(1)));
        let reset = usage.of(&key("main", Some(1)));
        assert_eq!(reset.ops, 0);
        assert!(reset.since >= usage.started);
    }
}
