//! Transactions and the session table, on the store alone.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Bson, Document};

use super::{Location, Options, PutKind, Retryable, Store, DEFAULT_CACHE};
use crate::error::ErrorCode;
use crate::namespace::DbRef;
use crate::wal::fs::StdFs;
use crate::wal::{self, Session, Wal};

fn open(dir: &Path) -> (Arc<Wal>, Arc<Store>) {
    open_with(dir, wal::Options::default())
}

fn open_with(dir: &Path, options: wal::Options) -> (Arc<Wal>, Arc<Store>) {
    let (wal, _) = Wal::open(Arc::new(StdFs), &dir.join("wal"), options, &mut |_| {}).expect("wal");
    let wal = Arc::new(wal);
    let options = Options {
        retention: Duration::from_secs(3600),
        background: false,
        cache_bytes: DEFAULT_CACHE,
        follower: false,
    };
    let store = Store::open(Location::Dir(&dir.join("store")), wal.clone(), options).expect("store");
    (wal, store)
}

fn db(name: &str) -> DbRef {
    DbRef::parse(name).expect("db name")
}

fn put(store: &Store, target: &str, d: Document) {
    store
        .write(&db(target), false, None, |batch| {
            let c = batch.collection_or_create("c")?;
            batch.put(&c, PutKind::Replace, d)
        })
        .expect("write");
}

fn get(store: &Store, target: &str, id: i32) -> Option<Document> {
    let view = store.view(&db(target), None).expect("view");
    let c = view.collection("c").expect("catalog")?;
    view.get(c.id, &Bson::Int32(id)).expect("get")
}

fn session(n: i64) -> Session {
    Session { lsid: doc! {"id": "s"}, txn_number: n, statements: Vec::new() }
}

#[test]
fn a_transaction_reads_its_start_and_its_own_writes_and_commits_as_one_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, store) = open(dir.path());
    put(&store, "shop", doc! {"_id": 1, "v": 0});
    let mut txn = store.begin().expect("begin");
    put(&store, "shop", doc! {"_id": 2, "v": 0});
    store
        .transaction_write(&mut txn, &db("shop"), |batch| {
            let c = batch.collection_or_create("c")?;
            batch.put(&c, PutKind::Update, doc! {"_id": 1, "v": 1})?;
            let orders = batch.collection_or_create("orders")?;
            batch.put(&orders, PutKind::Insert, doc! {"_id": 9})
        })
        .expect("statement");
    let view = store.transaction_view(&txn, &db("shop")).expect("view");
    let c = view.collection("c").expect("catalog").expect("c");
    assert_eq!(view.get(c.id, &Bson::Int32(1)).expect("get"), Some(doc! {"_id": 1, "v": 1}), "its own write");
    assert_eq!(view.get(c.id, &Bson::Int32(2)).expect("get"), None, "committed after it began");
    assert!(view.collection("orders").expect("catalog").is_some(), "a collection it created");
    assert_eq!(get(&store, "shop", 1), Some(doc! {"_id": 1, "v": 0}), "invisible to others");
    let before = wal.last_lsn();
    let commit = store.commit_transaction(txn, session(1), false).expect("commit").expect("a record");
    assert_eq!(commit.lsn, before.next(), "one record");
    assert_eq!(get(&store, "shop", 1), Some(doc! {"_id": 1, "v": 1}));
    let record = store.session_record(&doc! {"id": "s"}).expect("read").expect("a row");
    assert!(record.committed_transaction);
    assert_eq!(record.txn_number, 1);
}

#[test]
fn a_document_written_since_the_start_is_a_write_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path());
    put(&store, "shop", doc! {"_id": 1, "v": 0});
    let mut txn = store.begin().expect("begin");
    store
        .transaction_write(&mut txn, &db("shop"), |batch| {
            let c = batch.collection("c")?.expect("c");
            batch.put(&c, PutKind::Update, doc! {"_id": 1, "v": "txn"})
        })
        .expect("statement");
    put(&store, "shop", doc! {"_id": 1, "v": "other"});
    let err = store.commit_transaction(txn, session(1), false).expect_err("conflict");
    assert_eq!(err.code(), ErrorCode::WriteConflict);
    assert_eq!(err.labels(), ["TransientTransactionError"]);
    assert_eq!(get(&store, "shop", 1), Some(doc! {"_id": 1, "v": "other"}));
}

#[test]
fn a_transaction_over_two_databases_is_one_record_that_survives_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (wal, store) = open(dir.path());
        put(&store, "a", doc! {"_id": 1, "v": 0});
        put(&store, "b", doc! {"_id": 1, "v": 0});
        let mut txn = store.begin().expect("begin");
        for name in ["a", "b"] {
            store
                .transaction_write(&mut txn, &db(name), |batch| {
                    let c = batch.collection("c")?.expect("c");
                    batch.put(&c, PutKind::Update, doc! {"_id": 1, "v": 1})
                })
                .expect("statement");
        }
        let before = wal.last_lsn();
        let commit = store.commit_transaction(txn, session(3), true).expect("commit").expect("a record");
        assert_eq!(commit.lsn, before.next());
        // A crash: nothing is closed; the store replays the group.
    }
    let (_wal, store) = open(dir.path());
    assert_eq!(get(&store, "a", 1), Some(doc! {"_id": 1, "v": 1}));
    assert_eq!(get(&store, "b", 1), Some(doc! {"_id": 1, "v": 1}));
    assert_eq!(store.session_record(&doc! {"id": "s"}).expect("read").map(|r| r.txn_number), Some(3));
}

#[test]
fn a_transaction_larger_than_a_record_is_framed_and_survives_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = wal::Options { record_limit: 4096, ..wal::Options::default() };
    let pad = "x".repeat(1000);
    let commit = {
        let (wal, store) = open_with(dir.path(), options.clone());
        put(&store, "shop", doc! {"_id": 0});
        let mut txn = store.begin().expect("begin");
        for (i, name) in (1..=40).zip(["shop", "shop@main", "other"].iter().cycle()) {
            store
                .transaction_write(&mut txn, &db(name), |batch| {
                    let c = batch.collection_or_create("c")?;
                    batch.put(&c, PutKind::Insert, doc! {"_id": i, "pad": &pad})
                })
                .expect("statement");
        }
        let before = wal.last_lsn();
        let commit = store.commit_transaction(txn, session(1), true).expect("commit").expect("a record");
        assert!(commit.lsn.0 > before.0 + 9, "40 KB in records of 4 KB: framed");
        put(&store, "shop", doc! {"_id": 100});
        commit
        // A crash: the store replays the framed group and the write after it.
    };
    let (wal, store) = open_with(dir.path(), options);
    let ids = |target: &str| {
        let view = store.view(&db(target), None).expect("view");
        let c = view.collection("c").expect("catalog").expect("c");
        let mut ids = Vec::new();
        for i in 0..=100 {
            if view.get(c.id, &Bson::Int32(i)).expect("get").is_some() {
                ids.push(i);
            }
        }
        ids
    };
    let other: Vec<i32> = (1..=40).filter(|i| i % 3 == 0).collect();
    let shop: Vec<i32> = std::iter::once(0).chain((1..=40).filter(|i| i % 3 != 0)).chain([100]).collect();
    assert_eq!((ids("shop"), ids("other")), (shop, other));
    assert_eq!(store.session_record(&doc! {"id": "s"}).expect("read").map(|r| r.txn_number), Some(1));
    let record = wal.read(commit.lsn, Some(commit.lsn)).expect("read").next().expect("the commit").expect("whole");
    assert!(matches!(record.entry, wal::Entry::Group(ref parts) if parts.len() == 2));
}

#[test]
fn a_retryable_write_records_its_statements_with_its_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (_wal, store) = open(dir.path());
        let retryable = Retryable { lsid: doc! {"id": "r"}, txn_number: 4 };
        for (stmt, id) in [(0, 1), (1, 2)] {
            store
                .write(&db("shop"), true, Some(&retryable), |batch| {
                    let c = batch.collection_or_create("c")?;
                    batch.put(&c, PutKind::Insert, doc! {"_id": id})?;
                    batch.statement(stmt, doc! {"n": 1});
                    Ok(())
                })
                .expect("write");
        }
    }
    let (_wal, store) = open(dir.path());
    let record = store.session_record(&doc! {"id": "r"}).expect("read").expect("a row");
    assert_eq!(record.txn_number, 4);
    assert!(!record.committed_transaction);
    assert_eq!(record.statements.keys().copied().collect::<Vec<_>>(), [0, 1], "split records add up");
    // Collection keeps the row while the session may retry, and forgets it after.
    store.collect_garbage(bson::DateTime::now()).expect("gc");
    assert!(store.session_record(&doc! {"id": "r"}).expect("read").is_some());
    let later = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() + 31 * 60 * 1000);
    store.collect_garbage(later).expect("gc");
    assert!(store.session_record(&doc! {"id": "r"}).expect("read").is_none());
}

#[test]
fn unique_indexes_are_checked_at_commit_against_the_latest_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path());
    store
        .write(&db("shop"), false, None, |batch| {
            let c = batch.collection_or_create("c")?;
            batch.create_index(&c, doc! {"key": {"u": 1}, "name": "u_1", "unique": true})
        })
        .expect("index");
    let mut txn = store.begin().expect("begin");
    store
        .transaction_write(&mut txn, &db("shop"), |batch| {
            let c = batch.collection("c")?.expect("c");
            batch.put(&c, PutKind::Insert, doc! {"_id": 1, "u": 7})
        })
        .expect("statement");
    put(&store, "shop", doc! {"_id": 2, "u": 7});
    let err = store.commit_transaction(txn, session(1), false).expect_err("duplicate");
    assert_eq!(err.code(), ErrorCode::DuplicateKey);
    assert_eq!(get(&store, "shop", 1), None);
}

#[test]
fn a_transaction_indexes_only_collections_it_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path());
    put(&store, "shop", doc! {"_id": 1});
    let mut txn = store.begin().expect("begin");
    let index = doc! {"key": {"u": 1}, "name": "u_1", "unique": true};
    let refused = store
        .transaction_write(&mut txn, &db("shop"), |batch| {
            let c = batch.collection("c")?.expect("c");
            batch.create_index(&c, index.clone())
        })
        .expect_err("an existing collection");
    assert_eq!(refused.code(), ErrorCode::OperationNotSupportedInTransaction);
    let mut txn = store.begin().expect("begin");
    store
        .transaction_write(&mut txn, &db("shop"), |batch| {
            let fresh = batch.collection_or_create("fresh")?;
            batch.put(&fresh, PutKind::Insert, doc! {"_id": 1, "u": 1})?;
            batch.put(&fresh, PutKind::Insert, doc! {"_id": 2, "u": 2})
        })
        .expect("insert");
    store
        .transaction_write(&mut txn, &db("shop"), |batch| {
            let fresh = batch.collection("fresh")?.expect("created in the transaction");
            batch.create_index(&fresh, index.clone())
        })
        .expect("index a collection the transaction created");
    store.commit_transaction(txn, session(5), false).expect("commit");
    let view = store.view(&db("shop"), None).expect("view");
    let fresh = view.collection("fresh").expect("catalog").expect("committed");
    assert_eq!(fresh.indexes.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["u_1"]);
    let duplicate = store.write(&db("shop"), false, None, |batch| {
        let fresh = batch.collection("fresh")?.expect("fresh");
        batch.put(&fresh, PutKind::Insert, doc! {"_id": 3, "u": 2})
    });
    assert_eq!(duplicate.expect_err("unique").code(), ErrorCode::DuplicateKey);
}
