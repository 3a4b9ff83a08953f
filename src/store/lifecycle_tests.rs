//! The branch lifecycle in the store: diff, merge, reset, settings, expiry, log.

use bson::{doc, Bson, Document};

use super::tests::{db, get, insert, open};
use super::*;

fn update(store: &Store, target: &str, coll: &str, d: Document) -> Commit {
    let (_, commit) = store
        .write(&db(target), false, None, |batch| {
            let c = batch.collection(coll)?.expect("collection");
            batch.put(&c, PutKind::Replace, d)
        })
        .expect("update");
    commit.expect("a commit")
}

fn delete(store: &Store, target: &str, coll: &str, id: i32) -> Commit {
    let (_, commit) = store
        .write(&db(target), false, None, |batch| {
            let c = batch.collection(coll)?.expect("collection");
            batch.delete(&c, &Bson::Int32(id))
        })
        .expect("delete");
    commit.expect("a commit")
}

fn merge(store: &Store, source: &str, strategy: Strategy, dry_run: bool) -> Result<Merged> {
    store.merge(&MergeRequest { db: "shop", source, into: None, strategy, dry_run })
}

fn differences(store: &Store, from: &str, to: &str) -> (Vec<diff::Difference>, u64) {
    let (a, b) = store.view_pair(&db(from), &db(to)).expect("views");
    let plan = diff::plan(&a, &b, None).expect("plan");
    (diff::differences(&a, &b, None, usize::MAX).expect("diff"), plan.keys_read)
}

fn bulk(store: &Store, target: &str, coll: &str, n: i32) {
    store
        .write(&db(target), false, None, |batch| {
            let c = batch.collection_or_create(coll)?;
            for i in 0..n {
                batch.put(&c, PutKind::Insert, doc! {"_id": i, "v": 0})?;
            }
            Ok(())
        })
        .expect("bulk insert");
}

#[test]
fn a_diff_reads_the_changed_documents_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    bulk(&store, "shop", "items", 5_000);
    store.create_branch("shop", "feature", "main", None).expect("branch");
    for i in [10, 20, 30] {
        update(&store, "shop@feature", "items", doc! {"_id": i, "v": 1});
    }
    delete(&store, "shop@feature", "items", 40);
    insert(&store, "shop@feature", "items", doc! {"_id": 9_000, "v": 2});
    // Changed and changed back: a candidate, not a difference.
    update(&store, "shop@feature", "items", doc! {"_id": 50, "v": 9});
    update(&store, "shop@feature", "items", doc! {"_id": 50, "v": 0});
    insert(&store, "shop", "items", doc! {"_id": 9_001, "v": 3});
    let (found, keys_read) = differences(&store, "shop@feature", "shop");
    // A changes row and an `_id` per record here (each wrote one document).
    assert!(keys_read <= 16, "read {keys_read} keys for 8 changes of 5,000 documents");
    let ops: Vec<(i32, bool, bool)> = found
        .iter()
        .map(|d| {
            let doc = decode(d.before.as_ref().or(d.after.as_ref()).expect("a side")).expect("doc");
            (doc.get_i32("_id").expect("_id"), d.before.is_some(), d.after.is_some())
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            (10, true, true),
            (20, true, true),
            (30, true, true),
            (40, false, true),
            (9_000, true, false),
            (9_001, false, true)
        ]
    );
    // What a merge holds of them is bounded.
    let (a, b) = store.view_pair(&db("shop@feature"), &db("shop")).expect("views");
    let err = diff::differences(&a, &b, None, 100).expect_err("past the limit");
    assert_eq!(err.code(), ErrorCode::TransactionTooLarge);
    // A branch against its own past, and a state against itself.
    let at = store.published().lsn;
    update(&store, "shop", "items", doc! {"_id": 1, "v": 5});
    let (found, _) = differences(&store, &format!("shop@main~{at}"), "shop");
    assert_eq!(found.len(), 1);
    let (found, keys_read) = differences(&store, "shop", "shop");
    assert!(found.is_empty() && keys_read == 0);
}

#[test]
fn a_merge_brings_the_source_changes_and_the_next_merge_only_newer_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    insert(&store, "shop", "items", doc! {"_id": 1, "a": 1, "b": 1});
    insert(&store, "shop", "items", doc! {"_id": 2, "a": 1});
    store.create_branch("shop", "feature", "main", None).expect("branch");
    update(&store, "shop@feature", "items", doc! {"_id": 1, "a": 1, "b": 2});
    insert(&store, "shop@feature", "items", doc! {"_id": 3});
    delete(&store, "shop@feature", "items", 2);
    // main changes another field of the same document: no conflict.
    update(&store, "shop", "items", doc! {"_id": 1, "a": 5, "b": 1});
    let merged = merge(&store, "feature", Strategy::Fail, false).expect("merge");
    assert!(merged.conflicts.is_empty(), "{:?}", merged.conflicts);
    assert_eq!((merged.inserted, merged.updated, merged.deleted), (1, 1, 1));
    let commit = merged.commit.expect("written");
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "a": 5, "b": 2}));
    assert_eq!(get(&store, "shop", "items", 2), None);
    assert_eq!(get(&store, "shop", "items", 3), Some(doc! {"_id": 3}));
    // One record: the state before it has none of the merge.
    let before = store.view(&db(&format!("shop@main~{}", commit.lsn.0 - 1)), None).expect("view");
    let items = before.collection("items").expect("catalog").expect("items");
    assert_eq!(before.get(items.id, &Bson::Int32(3)).expect("get"), None);
    // main changes b again; feature changes another document. The base is now the
    // merged state, so b is no conflict.
    update(&store, "shop", "items", doc! {"_id": 1, "a": 5, "b": 7});
    insert(&store, "shop@feature", "items", doc! {"_id": 4});
    let merged = merge(&store, "feature", Strategy::Fail, false).expect("merge again");
    assert!(merged.conflicts.is_empty(), "{:?}", merged.conflicts);
    assert_eq!((merged.inserted, merged.updated, merged.deleted), (1, 0, 0));
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "a": 5, "b": 7}));
    // And the other way: main's changes since the merge go into feature.
    let merged = store
        .merge(&MergeRequest {
            db: "shop",
            source: "main",
            into: Some("feature"),
            strategy: Strategy::Fail,
            dry_run: false,
        })
        .expect("merge back");
    assert!(merged.conflicts.is_empty(), "{:?}", merged.conflicts);
    assert_eq!(get(&store, "shop@feature", "items", 1), Some(doc! {"_id": 1, "a": 5, "b": 7}));
}

#[test]
fn conflicts_fail_by_default_and_each_strategy_settles_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    insert(&store, "shop", "items", doc! {"_id": 1, "price": 10, "name": "a"});
    insert(&store, "shop", "items", doc! {"_id": 2, "price": 10});
    store.create_branch("shop", "feature", "main", None).expect("branch");
    update(&store, "shop@feature", "items", doc! {"_id": 1, "price": 12, "name": "a"});
    update(&store, "shop", "items", doc! {"_id": 1, "price": 11, "name": "b"});
    delete(&store, "shop@feature", "items", 2);
    update(&store, "shop", "items", doc! {"_id": 2, "price": 20});
    let published = store.published().lsn;
    for dry_run in [false, true] {
        let failed = merge(&store, "feature", Strategy::Fail, dry_run).expect("merge");
        assert_eq!(failed.conflicts.len(), 2);
        assert_eq!(failed.conflicts[0].fields, vec!["price".to_owned()]);
        assert_eq!(failed.conflicts[0].base, Some(doc! {"_id": 1, "price": 10, "name": "a"}));
        assert_eq!(failed.conflicts[1].theirs, None);
        assert!(failed.commit.is_none());
        assert_eq!(store.published().lsn, published, "nothing written");
    }
    let dry = merge(&store, "feature", Strategy::Theirs, true).expect("dry run");
    assert!(dry.commit.is_none() && dry.deleted == 1 && dry.updated == 1);
    assert_eq!(store.published().lsn, published, "a dry run writes nothing");
    let ours = merge(&store, "feature", Strategy::Ours, false).expect("ours");
    assert_eq!(ours.conflicts.len(), 2);
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "price": 11, "name": "b"}));
    assert_eq!(get(&store, "shop", "items", 2), Some(doc! {"_id": 2, "price": 20}));
    // Theirs, on a fresh pair of branches.
    store.create_branch("shop", "f2", "main", None).expect("branch");
    update(&store, "shop@f2", "items", doc! {"_id": 1, "price": 13, "name": "b"});
    update(&store, "shop", "items", doc! {"_id": 1, "price": 14, "name": "c"});
    let theirs = merge(&store, "f2", Strategy::Theirs, false).expect("theirs");
    assert_eq!(theirs.conflicts.len(), 1);
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "price": 13, "name": "c"}));
}

#[test]
fn collections_and_indexes_merge_and_unique_indexes_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    insert(&store, "shop", "items", doc! {"_id": 1, "sku": "a"});
    insert(&store, "shop", "old", doc! {"_id": 1});
    store.create_branch("shop", "feature", "main", None).expect("branch");
    store
        .write(&db("shop@feature"), false, None, |batch| {
            let items = batch.collection("items")?.expect("items");
            batch.create_index(&items, doc! {"v": 2, "key": {"sku": 1}, "name": "sku_1", "unique": true})?;
            batch.drop_collection("old")?;
            let new = batch.create_collection("new", Document::new())?;
            batch.put(&new, PutKind::Insert, doc! {"_id": 1, "x": 1})
        })
        .expect("ddl");
    insert(&store, "shop@feature", "items", doc! {"_id": 2, "sku": "b"});
    merge(&store, "feature", Strategy::Fail, false).expect("merge");
    let view = store.view(&db("shop"), None).expect("view");
    let names: Vec<String> = view.collections().expect("catalog").into_iter().map(|c| c.name).collect();
    assert_eq!(names, vec!["items".to_owned(), "new".to_owned()]);
    assert!(view.collection("items").expect("catalog").expect("items").index("sku_1").is_some());
    assert_eq!(get(&store, "shop", "new", 1), Some(doc! {"_id": 1, "x": 1}));
    // A merge that would duplicate a unique key fails whole.
    store.create_branch("shop", "dup", "main", None).expect("branch");
    insert(&store, "shop@dup", "items", doc! {"_id": 3, "sku": "c"});
    insert(&store, "shop@dup", "items", doc! {"_id": 4, "x": 1});
    insert(&store, "shop", "items", doc! {"_id": 5, "sku": "c"});
    let published = store.published().lsn;
    let err = merge(&store, "dup", Strategy::Fail, false).expect_err("duplicate");
    assert_eq!(err.code(), ErrorCode::DuplicateKey);
    assert_eq!(store.published().lsn, published);
    assert_eq!(get(&store, "shop", "items", 4), None);
}

#[test]
fn a_reset_moves_the_head_and_keeps_the_past_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, store) = open(dir.path(), Duration::from_secs(3600));
    let good = insert(&store, "shop", "items", doc! {"_id": 1, "v": "good"});
    update(&store, "shop", "items", doc! {"_id": 1, "v": "mistake"});
    let before_reset = insert(&store, "shop", "items", doc! {"_id": 2});
    let (main, reset) = store.reset_branch("shop", "main", &db(&format!("shop@main~{}", good.lsn))).expect("reset");
    assert_eq!(main.base_lsn, good.lsn);
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "v": "good"}));
    assert_eq!(get(&store, "shop", "items", 2), None);
    let past = store.view(&db(&format!("shop@main~{}", before_reset.lsn)), None).expect("past");
    let items = past.collection("items").expect("catalog").expect("items");
    assert_eq!(past.get(items.id, &Bson::Int32(2)).expect("get"), Some(doc! {"_id": 2}));
    insert(&store, "shop", "items", doc! {"_id": 3});
    // And back: to the state just before the reset.
    store.reset_branch("shop", "main", &db(&format!("shop@main~{}", reset.lsn.0 - 1))).expect("reset back");
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "v": "mistake"}));
    assert_eq!(get(&store, "shop", "items", 3), None);
    // A branch reset to another branch's head.
    store.create_branch("shop", "feature", "main", None).expect("branch");
    insert(&store, "shop@feature", "items", doc! {"_id": 4});
    store.reset_branch("shop", "main", &db("shop@feature")).expect("reset to feature");
    assert_eq!(get(&store, "shop", "items", 4), Some(doc! {"_id": 4}));
    let err = store.drop_branch("shop", "feature").expect_err("main is based on it");
    assert_eq!(err.code(), ErrorCode::IllegalOperation);
    // A restart replays and reloads all of it.
    store.close().expect("close");
    drop(store);
    drop(wal);
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    assert_eq!(get(&store, "shop", "items", 4), Some(doc! {"_id": 4}));
    let past = store.view(&db(&format!("shop@main~{}", before_reset.lsn)), None).expect("past after restart");
    assert_eq!(past.get(items.id, &Bson::Int32(2)).expect("get"), Some(doc! {"_id": 2}));
}

#[test]
fn settings_protect_and_expire_branches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    insert(&store, "shop", "items", doc! {"_id": 1});
    store
        .update_branch("shop", "main", |_, s| {
            s.protected = true;
            Ok(())
        })
        .expect("protect");
    let err = store.reset_branch("shop", "main", &db("shop@main")).expect_err("protected");
    assert_eq!(err.code(), ErrorCode::IllegalOperation);
    assert!(err.to_string().contains("protected"), "{err}");
    store.create_branch("shop", "ro", "main", None).expect("branch");
    store
        .update_branch("shop", "ro", |_, s| {
            s.read_only = true;
            Ok(())
        })
        .expect("read-only");
    let err = store.write(&db("shop@ro"), false, None, |_| Ok(())).expect_err("read-only");
    assert_eq!(err.code(), ErrorCode::IllegalOperation);
    let err = merge(&store, "main", Strategy::Fail, false);
    assert!(err.is_err(), "main has no parent");
    let err = store
        .merge(&MergeRequest { db: "shop", source: "main", into: Some("ro"), strategy: Strategy::Fail, dry_run: false })
        .expect_err("into a read-only branch");
    assert_eq!(err.code(), ErrorCode::IllegalOperation);
    let dry = MergeRequest { db: "shop", source: "main", into: Some("ro"), strategy: Strategy::Fail, dry_run: true };
    store.merge(&dry).expect("a dry run may look");
    // Expiry: a plain branch goes; a protected one and a parent stay.
    let past = DateTime::from_millis(DateTime::now().timestamp_millis() - 1000);
    for name in ["tmp", "kept", "parent"] {
        store.create_branch("shop", name, "main", None).expect("branch");
        store
            .update_branch("shop", name, |_, s| {
                s.expire_at = Some(past);
                Ok(())
            })
            .expect("expire");
    }
    store
        .update_branch("shop", "kept", |_, s| {
            s.protected = true;
            Ok(())
        })
        .expect("protect");
    store.create_branch("shop", "child", "parent", None).expect("child");
    let dropped = store.expire_branches(DateTime::now()).expect("expire");
    assert_eq!(dropped, vec!["shop@tmp".to_owned()]);
    let names: Vec<String> = store.branches("shop").into_iter().map(|b| b.name).collect();
    assert_eq!(names, vec!["main", "ro", "kept", "parent", "child"]);
}

#[test]
fn the_log_lists_a_branch_records_newest_first_across_resets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    insert(&store, "shop", "items", doc! {"_id": 1});
    let second = update(&store, "shop", "items", doc! {"_id": 1, "v": 2});
    store.reset_branch("shop", "main", &db("shop@main")).expect("reset");
    delete(&store, "shop", "items", 1);
    let log = store.branch_log("shop", "main", 100).expect("log");
    let kinds: Vec<String> = log.iter().map(|e| e.entry.keys().next().cloned().unwrap_or_default()).collect();
    assert_eq!(kinds, vec!["ops", "reset", "ops", "ops", "created"]);
    assert_eq!(
        log[0].entry.get_document("ops").expect("ops"),
        &doc! {"items": {"inserted": 0i64, "updated": 0i64, "deleted": 1i64}}
    );
    assert_eq!(log[2].lsn, second.lsn);
    assert_eq!(store.branch_log("shop", "main", 2).expect("log").len(), 2);
}

#[test]
fn history_collection_keeps_what_resets_merges_and_children_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::ZERO);
    insert(&store, "shop", "items", doc! {"_id": 1, "v": 1});
    store.create_branch("shop", "feature", "main", None).expect("branch");
    update(&store, "shop", "items", doc! {"_id": 1, "v": 2});
    update(&store, "shop@feature", "items", doc! {"_id": 1, "v": 1, "w": 1});
    merge(&store, "feature", Strategy::Fail, false).expect("merge");
    // main is replaced by a reset to feature; the old main is feature's parent.
    store.reset_branch("shop", "main", &db("shop@feature")).expect("reset");
    insert(&store, "shop@feature", "items", doc! {"_id": 2});
    store.collect_garbage(DateTime::now()).expect("collect");
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "v": 1, "w": 1}));
    assert_eq!(get(&store, "shop@feature", "items", 1), Some(doc! {"_id": 1, "v": 1, "w": 1}));
    // The merge base survived: feature merges into the new main with no conflict.
    let merged = merge(&store, "feature", Strategy::Fail, false).expect("merge after collection");
    assert!(merged.conflicts.is_empty(), "{:?}", merged.conflicts);
    assert_eq!(get(&store, "shop", "items", 2), Some(doc! {"_id": 2}));
    // A diff after collection still finds only what changed.
    let (found, _) = differences(&store, "shop", "shop@feature");
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_store_from_before_the_changes_table_is_indexed_at_its_first_open() {
    use crate::store::engine::{Engine, MemoryEngine, Table, WriteBatch};
    use crate::wal::fs::StdFs;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(MemoryEngine::new());
    let open_store = || {
        let (wal, _) =
            Wal::open(Arc::new(StdFs), &dir.path().join("wal"), wal::Options::default(), &mut |_| {}).expect("wal");
        let wal = Arc::new(wal);
        let options = Options {
            retention: Duration::from_secs(3600),
            background: false,
            cache_bytes: DEFAULT_CACHE,
            follower: false,
        };
        let store = Store::open(Location::Engine(engine.clone()), wal.clone(), options).expect("store");
        (wal, store)
    };
    let (wal, store) = open_store();
    bulk(&store, "shop", "items", 100);
    store.create_branch("shop", "feature", "main", None).expect("branch");
    update(&store, "shop@feature", "items", doc! {"_id": 7, "v": 1});
    store.close().expect("close");
    wal.close().expect("close wal");
    drop((store, wal));
    // What an older build left: no changes rows, no mark.
    let mut wipe = WriteBatch::default();
    engine
        .snapshot()
        .expect("snapshot")
        .scan(Table::Changes, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, false, &mut |key, _| {
            wipe.delete(Table::Changes, key.to_vec());
            Ok(true)
        })
        .expect("scan");
    wipe.delete(Table::Meta, tables::META_CHANGES_INDEXED.as_bytes().to_vec());
    engine.commit(&wipe, true).expect("wipe");
    let (_wal, store) = open_store();
    let (found, keys_read) = differences(&store, "shop", "shop@feature");
    assert_eq!(found.len(), 1);
    assert!(keys_read <= 2, "read {keys_read}");
    let (found, _) = differences(&store, "shop@main~1", "shop");
    assert_eq!(found.len(), 100, "main's inserts are found too");
}
