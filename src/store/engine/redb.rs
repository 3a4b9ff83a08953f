//! The engine on disk: [`redb`], an embedded copy-on-write B-tree whose read
//! transactions are snapshots.
//!
//! The document, catalog and index tables hold bytes. The branch, time and counter
//! tables are typed, as the store has always written them (`u64`, `(u64, u64)` and
//! `&str` keys): their byte keys are the big-endian integers and the UTF-8 name,
//! which order as the typed keys do, so they are translated here and files written
//! before the engine trait existed open unchanged.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};

use super::{is_empty_range, Engine, Snapshot, Table, Visit, WriteBatch};
use crate::error::{Error, Result};

const DOCS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("docs");
const CATALOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("catalog");
const INDEXES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("indexes");
const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
const CHANGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("changes");
const LOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("log");
const BRANCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("branches");
const TIMES: TableDefinition<(u64, u64), ()> = TableDefinition::new("times");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The redb engine. The database sits behind a lock that only compaction takes
/// for writing: it needs no transaction open, and holds new ones off meanwhile.
pub struct RedbEngine {
    db: RwLock<Database>,
    /// The file, to measure what compaction gave back (none in memory).
    path: Option<PathBuf>,
}

impl RedbEngine {
    /// Opens (or creates) `<dir>/store.redb`, with a page cache of at most
    /// `cache_bytes` (redb's own default is 1 GiB, whatever the server's memory).
    pub fn open(dir: &Path, cache_bytes: usize) -> Result<RedbEngine> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("store.redb");
        let db = Database::builder().set_cache_size(cache_bytes).create(&path)?;
        RedbEngine::with(db, Some(path))
    }

    /// An engine on redb's in-memory backend.
    pub fn in_memory() -> Result<RedbEngine> {
        RedbEngine::with(Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?, None)
    }

    fn with(db: Database, path: Option<PathBuf>) -> Result<RedbEngine> {
        // Reads open tables; a table exists once a write transaction opened it.
        let txn = db.begin_write()?;
        for table in [DOCS, CATALOG, INDEXES, SESSIONS, CHANGES, LOG] {
            txn.open_table(table)?;
        }
        txn.open_table(BRANCHES)?;
        txn.open_table(TIMES)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(RedbEngine { db: RwLock::new(db), path })
    }

    fn db(&self) -> RwLockReadGuard<'_, Database> {
        self.db.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The file's length (0 in memory).
    fn file_len(&self) -> u64 {
        self.path.as_ref().and_then(|path| std::fs::metadata(path).ok()).map_or(0, |m| m.len())
    }
}

impl Engine for RedbEngine {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(RedbSnapshot(self.db().begin_read()?)))
    }

    fn commit_all(&self, batches: &[&WriteBatch], durable: bool) -> Result<()> {
        let db = self.db();
        let mut txn = db.begin_write()?;
        set_durability(&mut txn, durable)?;
        for (table, batch) in Table::ALL.into_iter().flat_map(|t| batches.iter().map(move |b| (t, b))) {
            let changes = batch.changes(table);
            if changes.is_empty() {
                continue;
            }
            match table {
                Table::Docs | Table::Catalog | Table::Indexes | Table::Sessions | Table::Changes | Table::Log => {
                    let mut t = txn.open_table(bytes_table(table))?;
                    for (key, value) in changes {
                        match value {
                            Some(value) => t.insert(key.as_slice(), value.as_slice())?,
                            None => t.remove(key.as_slice())?,
                        };
                    }
                }
                Table::Branches => {
                    let mut t = txn.open_table(BRANCHES)?;
                    for (key, value) in changes {
                        match value {
                            Some(value) => t.insert(u64_key(key)?, value.as_slice())?,
                            None => t.remove(u64_key(key)?)?,
                        };
                    }
                }
                Table::Times => {
                    let mut t = txn.open_table(TIMES)?;
                    for (key, value) in changes {
                        match value {
                            Some(_) => t.insert(pair_key(key)?, ())?,
                            None => t.remove(pair_key(key)?)?,
                        };
                    }
                }
                Table::Meta => {
                    let mut t = txn.open_table(META)?;
                    for (key, value) in changes {
                        let name = str_key(key)?;
                        match value {
                            Some(value) => t.insert(name, u64_key(value)?)?,
                            None => t.remove(name)?,
                        };
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let mut txn = self.db().begin_write()?;
        set_durability(&mut txn, true)?;
        txn.commit()?;
        Ok(())
    }

    fn free_bytes(&self) -> Result<u64> {
        let txn = self.db().begin_write()?;
        let free = txn.stats()?.fragmented_bytes();
        txn.abort()?;
        Ok(free)
    }

    fn compact(&self) -> Result<Option<u64>> {
        let mut db = self.db.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = self.file_len();
        match db.compact() {
            Ok(_) => Ok(Some(before.saturating_sub(self.file_len()))),
            Err(redb::CompactionError::TransactionInProgress) => Ok(None),
            Err(e) => Err(Error::Store(format!("compacting the store failed: {e}"))),
        }
    }

    fn key_count(&self, table: Table) -> Result<Option<u64>> {
        let txn = self.db().begin_read()?;
        Ok(Some(match table {
            Table::Docs | Table::Catalog | Table::Indexes | Table::Sessions | Table::Changes | Table::Log => {
                txn.open_table(bytes_table(table))?.len()?
            }
            Table::Branches => txn.open_table(BRANCHES)?.len()?,
            Table::Times => txn.open_table(TIMES)?.len()?,
            Table::Meta => txn.open_table(META)?.len()?,
        }))
    }
}

fn set_durability(txn: &mut WriteTransaction, durable: bool) -> Result<()> {
    match durable {
        true => {
            txn.set_durability(Durability::Immediate)?;
            // A durable commit also records the allocator state, so that opening
            // after a crash needs no full repair.
            txn.set_quick_repair(true);
        }
        false => txn.set_durability(Durability::None)?,
    }
    Ok(())
}

struct RedbSnapshot(ReadTransaction);

impl Snapshot for RedbSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = &self.0;
        Ok(match table {
            Table::Docs | Table::Catalog | Table::Indexes | Table::Sessions | Table::Changes | Table::Log => {
                txn.open_table(bytes_table(table))?.get(key)?.map(|v| v.value().to_vec())
            }
            Table::Branches => txn.open_table(BRANCHES)?.get(u64_key(key)?)?.map(|v| v.value().to_vec()),
            Table::Times => txn.open_table(TIMES)?.get(pair_key(key)?)?.map(|_| Vec::new()),
            Table::Meta => txn.open_table(META)?.get(str_key(key)?)?.map(|v| v.value().to_be_bytes().to_vec()),
        })
    }

    fn scan(
        &self,
        table: Table,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        if is_empty_range(lower, upper) {
            return Ok(());
        }
        let txn = &self.0;
        match table {
            Table::Docs | Table::Catalog | Table::Indexes | Table::Sessions | Table::Changes | Table::Log => {
                let t = txn.open_table(bytes_table(table))?;
                scan(&t, (lower, upper), reverse, |k, v| visit(k, v))
            }
            Table::Branches => {
                let t = txn.open_table(BRANCHES)?;
                let range = (typed(lower, u64_key)?, typed(upper, u64_key)?);
                scan(&t, range, reverse, |k, v| visit(&k.to_be_bytes(), v))
            }
            Table::Times => {
                let t = txn.open_table(TIMES)?;
                let range = (typed(lower, pair_key)?, typed(upper, pair_key)?);
                scan(&t, range, reverse, |(ms, lsn), ()| visit(&pair_bytes(ms, lsn), &[]))
            }
            Table::Meta => {
                let t = txn.open_table(META)?;
                let range = (typed(lower, str_key)?, typed(upper, str_key)?);
                scan(&t, range, reverse, |k, v| visit(k.as_bytes(), &v.to_be_bytes()))
            }
        }
    }
}

/// Visits a table's entries in key order or the reverse, each as `each` sees it.
fn scan<'k, K, V, KR>(
    table: &ReadOnlyTable<K, V>,
    range: (Bound<KR>, Bound<KR>),
    reverse: bool,
    mut each: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> Result<bool>,
) -> Result<()>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
    KR: std::borrow::Borrow<K::SelfType<'k>> + 'k,
{
    let entries = table.range::<KR>(range)?;
    let mut visit =
        |entry: std::result::Result<(redb::AccessGuard<'_, K>, redb::AccessGuard<'_, V>), redb::StorageError>| {
            let (key, value) = entry?;
            each(key.value(), value.value())
        };
    match reverse {
        false => {
            for entry in entries {
                if !visit(entry)? {
                    break;
                }
            }
        }
        true => {
            for entry in entries.rev() {
                if !visit(entry)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

fn bytes_table(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match table {
        Table::Docs => DOCS,
        Table::Catalog => CATALOG,
        Table::Sessions => SESSIONS,
        Table::Changes => CHANGES,
        Table::Log => LOG,
        _ => INDEXES,
    }
}

fn typed<'b, K>(bound: Bound<&'b [u8]>, convert: fn(&'b [u8]) -> Result<K>) -> Result<Bound<K>> {
    Ok(match bound {
        Bound::Included(b) => Bound::Included(convert(b)?),
        Bound::Excluded(b) => Bound::Excluded(convert(b)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

fn u64_key(bytes: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| bad_key(bytes))?;
    Ok(u64::from_be_bytes(bytes))
}

fn pair_key(bytes: &[u8]) -> Result<(u64, u64)> {
    if bytes.len() != 16 {
        return Err(bad_key(bytes));
    }
    Ok((u64_key(&bytes[..8])?, u64_key(&bytes[8..])?))
}

fn pair_bytes(first: u64, second: u64) -> Vec<u8> {
    [first.to_be_bytes(), second.to_be_bytes()].concat()
}

fn str_key(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| bad_key(bytes))
}

fn bad_key(bytes: &[u8]) -> Error {
    Error::Store(format!("a key of {} bytes does not fit its table", bytes.len()))
}

/// redb's errors, each kind of them, become [`Error::Store`].
macro_rules! store_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Store(e.to_string())
            }
        }
    )*};
}
store_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
