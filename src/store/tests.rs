use bson::{doc, Bson, Document};

use super::*;
use crate::store::engine::MemoryEngine;
use crate::wal::fs::StdFs;

pub(super) fn open(dir: &Path, retention: Duration) -> (Arc<Wal>, Arc<Store>) {
    let (wal, _) = Wal::open(Arc::new(StdFs), &dir.join("wal"), wal::Options::default(), &mut |_| {}).expect("wal");
    let wal = Arc::new(wal);
    let store = Store::open(
        Location::Dir(&dir.join("store")),
        wal.clone(),
        Options { retention, background: false, cache_bytes: DEFAULT_CACHE, follower: false },
    )
    .expect("store");
    (wal, store)
}

pub(super) fn db(name: &str) -> DbRef {
    DbRef::parse(name).expect("db name")
}

pub(super) fn insert(store: &Store, target: &str, coll: &str, d: Document) -> Commit {
    let (_, commit) = store
        .write(&db(target), false, None, |batch| {
            let c = batch.collection_or_create(coll)?;
            batch.put(&c, PutKind::Insert, d)
        })
        .expect("insert");
    commit.expect("a commit")
}

pub(super) fn get(store: &Store, target: &str, coll: &str, id: i32) -> Option<Document> {
    let view = store.view(&db(target), None).expect("view");
    let c = view.collection(coll).expect("catalog")?;
    view.get(c.id, &Bson::Int32(id)).expect("get")
}

pub(super) fn scan(view: &View, coll: &str) -> Vec<Document> {
    let Some(c) = view.collection(coll).expect("catalog") else { return vec![] };
    let mut docs = Vec::new();
    view.scan(c.id, None, |_, d| {
        docs.push(d);
        Ok(true)
    })
    .expect("scan");
    docs
}

#[test]
fn a_branch_sees_its_base_and_its_own_writes_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    insert(&store, "shop", "items", doc! {"_id": 1, "v": "main-1"});
    let (branch, _) = store.create_branch("shop", "feature", "main", None).expect("branch");
    assert_eq!(branch.parent.map(|p| p.0), Some(1));
    insert(&store, "shop@feature", "items", doc! {"_id": 1, "v": "feature-1"});
    insert(&store, "shop", "items", doc! {"_id": 2, "v": "main-2"});
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "v": "main-1"}));
    assert_eq!(get(&store, "shop@feature", "items", 1), Some(doc! {"_id": 1, "v": "feature-1"}));
    assert_eq!(get(&store, "shop@feature", "items", 2), None, "written on main after the base");
    let at_base = store.view(&db(&format!("shop@main~{}", branch.base_lsn)), None).expect("past view");
    assert_eq!(scan(&at_base, "items"), vec![doc! {"_id": 1, "v": "main-1"}]);
    assert!(at_base.snapshot.read_only);
}

#[test]
fn writes_to_a_point_view_are_refused_with_code_20() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    let commit = insert(&store, "shop", "items", doc! {"_id": 1});
    let err = store.write(&db(&format!("shop@main~{}", commit.lsn)), false, None, |_| Ok(())).expect_err("read-only");
    assert_eq!(err.code(), ErrorCode::IllegalOperation);
    let err = store.view(&db(&format!("shop@main~{}", commit.lsn.0 + 100)), None).expect_err("future");
    assert_eq!(err.code(), ErrorCode::BadValue);
    let err = store.view(&db("shop@nope"), None).expect_err("missing branch");
    assert_eq!(err.code(), ErrorCode::NamespaceNotFound);
}

#[test]
fn dropping_and_recreating_a_collection_on_a_branch_leaves_the_parent_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    insert(&store, "shop", "items", doc! {"_id": 1});
    store.create_branch("shop", "b", "main", None).expect("branch");
    store.write(&db("shop@b"), false, None, |batch| batch.drop_collection("items")).expect("drop");
    assert_eq!(get(&store, "shop@b", "items", 1), None);
    insert(&store, "shop@b", "items", doc! {"_id": 2});
    assert_eq!(get(&store, "shop@b", "items", 1), None);
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1}));
    assert_eq!(get(&store, "shop", "items", 2), None);
}

#[test]
fn times_resolve_to_the_last_commit_at_or_before_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    let first = insert(&store, "shop", "items", doc! {"_id": 1});
    let second = insert(&store, "shop", "items", doc! {"_id": 2});
    assert_eq!(store.resolve_time(second.time).expect("resolve"), second.lsn);
    assert!(store.resolve_time(DateTime::from_millis(first.time.timestamp_millis() - 1)).expect("resolve") < first.lsn);
    assert_eq!(store.resolve_cluster_time(second.cluster_time()).expect("resolve"), second.lsn);
    assert_eq!(store.resolve_cluster_time(first.cluster_time()).expect("resolve"), first.lsn);
    let future = DateTime::from_millis(DateTime::now().timestamp_millis() + 60_000);
    assert!(store.resolve_time(future).is_err());
}

#[test]
fn restarts_replay_only_what_the_store_lacks() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (wal, store) = open(dir.path(), Duration::from_secs(3600));
        insert(&store, "shop", "items", doc! {"_id": 1});
        store.close().expect("close");
        wal.close().expect("close");
    }
    {
        // A crash: neither the store nor the log is closed.
        let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
        store.create_branch("shop", "b", "main", None).expect("branch");
        insert(&store, "shop@b", "items", doc! {"_id": 2});
    }
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    assert_eq!(get(&store, "shop@b", "items", 1), Some(doc! {"_id": 1}));
    assert_eq!(get(&store, "shop@b", "items", 2), Some(doc! {"_id": 2}));
    assert_eq!(get(&store, "shop", "items", 2), None);
}

#[test]
fn collection_keeps_what_branches_and_the_retained_history_need() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::ZERO);
    insert(&store, "shop", "items", doc! {"_id": 1, "v": 1});
    store.create_branch("shop", "old", "main", None).expect("branch");
    for v in 2..10 {
        insert(&store, "shop", "items", doc! {"_id": 1, "v": v});
    }
    let before = store.published().lsn;
    let stats = store.collect_garbage(DateTime::now()).expect("gc");
    assert_eq!(stats.horizon, before);
    assert_eq!(stats.versions, 7, "v2..v8 are seen by nobody");
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1, "v": 9}));
    assert_eq!(get(&store, "shop@old", "items", 1), Some(doc! {"_id": 1, "v": 1}));
    let err = store.view(&db("shop@main~1"), None).expect_err("collected");
    assert_eq!(err.code(), ErrorCode::SnapshotTooOld);
    store.drop_branch("shop", "old").expect("drop");
    let stats = store.collect_garbage(DateTime::now()).expect("gc");
    assert_eq!(stats.versions, 1, "v1 was only the dropped branch's");
}

#[test]
fn collection_keeps_the_index_entries_reads_need_and_drops_unreachable_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::ZERO);
    let index_id = |store: &Store| {
        let view = store.view(&db("shop"), None).expect("view");
        view.collection("items").expect("catalog").expect("items").indexes[0].id
    };
    store
        .write(&db("shop"), false, None, |batch| {
            let c = batch.collection_or_create("items")?;
            batch.create_index(&c, doc! {"v": 2, "key": {"v": 1}, "name": "v_1"})
        })
        .expect("index");
    for v in 1..10 {
        insert(&store, "shop", "items", doc! {"_id": 1, "v": v});
    }
    let lookup = |store: &Store, v: i32| {
        let view = store.view(&db("shop"), None).expect("view");
        view.index_lookup(index_id(store), &crate::value::order::encoded(&Bson::Int32(v))).expect("lookup").len()
    };
    assert_eq!((lookup(&store, 9), lookup(&store, 8)), (1, 0));
    let stats = store.collect_garbage(DateTime::now()).expect("gc");
    // v1..v8 of the document, and of the index both the entries and tombstones
    // of keys 1..8 (the tombstones hide nothing once the entries are gone).
    assert_eq!(stats.versions, 8 + 16);
    assert_eq!((lookup(&store, 9), lookup(&store, 8)), (1, 0));
    store
        .write(&db("shop"), false, None, |batch| {
            let c = batch.collection("items")?.expect("items");
            batch.drop_index(&c, "v_1");
            Ok(())
        })
        .expect("drop index");
    let stats = store.collect_garbage(DateTime::now()).expect("gc");
    assert!(stats.versions >= 2, "the dropped index's entry and the old catalog entry: {stats:?}");
}

#[test]
fn index_entries_are_rebuilt_by_replay_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lookup = |store: &Store, v: i32| {
        let view = store.view(&db("shop"), None).expect("view");
        let index = view.collection("items").expect("catalog").expect("items").indexes[0].id;
        view.index_lookup(index, &crate::value::order::encoded(&Bson::Int32(v))).expect("lookup").len()
    };
    {
        let (wal, store) = open(dir.path(), Duration::from_secs(3600));
        insert(&store, "shop", "items", doc! {"_id": 1, "v": 1});
        store
            .write(&db("shop"), false, None, |batch| {
                let c = batch.collection("items")?.expect("items");
                batch.create_index(&c, doc! {"v": 2, "key": {"v": 1}, "name": "v_1"})
            })
            .expect("index");
        store.close().expect("close");
        wal.close().expect("close");
    }
    {
        // A crash after more writes: the store replays them, index entries included.
        let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
        insert(&store, "shop", "items", doc! {"_id": 2, "v": 2});
        insert(&store, "shop", "items", doc! {"_id": 1, "v": 3});
    }
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    assert_eq!([lookup(&store, 1), lookup(&store, 2), lookup(&store, 3)], [0, 1, 1]);
}

/// A log written by version 1 of the record format (committed in
/// `tests/fixtures/wal-v1`, written by the build before version 2) recovers: every
/// collection, document, index and branch it made, its puts read as unrecorded.
/// It was written by a store whose history was, in order: create `shop.items` with
/// five padded documents; replace `_id` 2, delete 3, index `v`; insert 6, create
/// and drop index `w_1`, create `tmp` and rename it to `renamed`, create and drop
/// `gone`; branch `feature`, on it insert 7 and delete 1; branch `doomed` from
/// `feature` and drop it.
#[test]
fn a_version_1_log_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wal-v1");
    std::fs::create_dir_all(dir.path().join("wal")).expect("wal dir");
    for file in std::fs::read_dir(&fixture).expect("fixture") {
        let file = file.expect("entry").path();
        std::fs::copy(&file, dir.path().join("wal").join(file.file_name().expect("name"))).expect("copy");
    }
    let (wal, store) = open(dir.path(), Duration::from_secs(3600));
    let puts: Vec<PutKind> = wal
        .read(Lsn(1), None)
        .expect("read")
        .flat_map(|record| match record.expect("record").entry {
            Entry::Txn(txn) => txn.ops,
            _ => Vec::new(),
        })
        .filter_map(|op| match op {
            wal::Op::Put { kind, .. } => Some(kind),
            _ => None,
        })
        .collect();
    assert_eq!(puts.len(), 10);
    assert!(puts.iter().all(|kind| *kind == PutKind::Unrecorded), "{puts:?}");
    let ids = |target: &str, coll: &str| -> Vec<Bson> {
        let view = store.view(&db(target), None).expect("view");
        scan(&view, coll).into_iter().map(|d| d.get("_id").cloned().expect("_id")).collect()
    };
    let ints = |ids: &[i32]| ids.iter().map(|i| Bson::Int32(*i)).collect::<Vec<_>>();
    assert_eq!(ids("shop", "items"), ints(&[1, 2, 4, 5, 6]));
    assert_eq!(ids("shop@feature", "items"), ints(&[2, 4, 5, 6, 7]));
    assert_eq!(ids("shop", "renamed"), vec![Bson::String("a".into())]);
    assert_eq!(get(&store, "shop", "items", 2), Some(doc! {"_id": 2, "v": 21}));
    let view = store.view(&db("shop"), None).expect("view");
    let names: Vec<String> = view.collections().expect("collections").into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["items", "renamed"]);
    let items = view.collection("items").expect("catalog").expect("items");
    assert_eq!(items.indexes.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["v_1"]);
    let mut keyed = 0;
    view.index_scan(items.indexes[0].id, &[], &[], false, |_, _| {
        keyed += 1;
        Ok(true)
    })
    .expect("index scan");
    assert_eq!(keyed, 5, "the index has an entry per document");
    let branches: Vec<String> = store.branches("shop").into_iter().map(|b| b.name).collect();
    assert_eq!(branches, ["main", "feature"]);
}

#[test]
fn an_index_build_reports_how_far_it_has_come() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    store
        .write(&db("p"), false, None, |batch| {
            let c = batch.collection_or_create("c")?;
            for i in 0..25_000 {
                batch.put(&c, PutKind::Insert, doc! {"_id": i, "n": i % 7})?;
            }
            Ok(())
        })
        .expect("insert");
    let mut reports = Vec::new();
    store
        .write(&db("p"), false, None, |batch| {
            let c = batch.collection("c")?.expect("c");
            let mut progress = |done, total| reports.push((done, total));
            let build = IndexBuild { progress: &mut progress, hold: &mut |_| Ok(()) };
            batch.create_index_reporting(&c, doc! {"key": {"n": 1}, "name": "n_1"}, build)
        })
        .expect("index build");
    assert_eq!(reports, [(0, 25_000), (10_000, 25_000), (20_000, 25_000), (25_000, 25_000)]);

    // A unique index reports the keys it holds, and stops when refused more.
    let mut held = 0;
    store
        .write(&db("p"), false, None, |batch| {
            let c = batch.collection("c")?.expect("c");
            let build = IndexBuild {
                progress: &mut |_, _| {},
                hold: &mut |bytes| {
                    held += bytes;
                    Ok(())
                },
            };
            batch.create_index_reporting(&c, doc! {"key": {"_id": 1, "n": 1}, "name": "u", "unique": true}, build)
        })
        .expect("unique index build");
    assert!(held > 25_000 * SEEN_KEY_OVERHEAD_FOR_TESTS, "{held} bytes reported");
    let refused = store.write(&db("p"), false, None, |batch| {
        let c = batch.collection("c")?.expect("c");
        let build = IndexBuild {
            progress: &mut |_, _| {},
            hold: &mut |_| Err(Error::command(ErrorCode::ExceededMemoryLimit, "no more")),
        };
        batch.create_index_reporting(&c, doc! {"key": {"_id": 1, "n": -1}, "name": "v", "unique": true}, build)
    });
    assert!(matches!(refused, Err(e) if e.code() == ErrorCode::ExceededMemoryLimit));
}

/// Bytes a unique index build reports per key at least.
const SEEN_KEY_OVERHEAD_FOR_TESTS: usize = 48;

/// An engine whose flush waits until the test lets it go (or 10 seconds pass).
struct SlowFlush {
    inner: Arc<MemoryEngine>,
    entered: Mutex<std::sync::mpsc::Sender<()>>,
    release: Mutex<std::sync::mpsc::Receiver<()>>,
    timed_out: AtomicBool,
}

impl Engine for SlowFlush {
    fn snapshot(&self) -> Result<Box<dyn engine::Snapshot>> {
        self.inner.snapshot()
    }

    fn commit_all(&self, batches: &[&engine::WriteBatch], durable: bool) -> Result<()> {
        self.inner.commit_all(batches, durable)
    }

    fn key_count(&self, table: engine::Table) -> Result<Option<u64>> {
        self.inner.key_count(table)
    }

    fn free_bytes(&self) -> Result<u64> {
        self.inner.free_bytes()
    }

    fn compact(&self) -> Result<Option<u64>> {
        self.inner.compact()
    }

    fn flush(&self) -> Result<()> {
        let _ = lock(&self.entered).send(());
        if lock(&self.release).recv_timeout(Duration::from_secs(10)).is_err() {
            self.timed_out.store(true, Ordering::Release);
        }
        self.inner.flush()
    }
}

fn docs_in(engine: &MemoryEngine) -> usize {
    let mut rows = 0;
    let snapshot = engine.snapshot().expect("snapshot");
    snapshot
        .scan(engine::Table::Docs, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, false, &mut |_, _| {
            rows += 1;
            Ok(true)
        })
        .expect("scan");
    rows
}

#[test]
fn writes_go_on_while_a_checkpoint_flushes_and_reach_the_engine_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory = Arc::new(MemoryEngine::new());
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let engine = Arc::new(SlowFlush {
        inner: memory.clone(),
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
        timed_out: AtomicBool::new(false),
    });
    let (wal, _) =
        Wal::open(Arc::new(StdFs), &dir.path().join("wal"), wal::Options::default(), &mut |_| {}).expect("wal");
    let wal = Arc::new(wal);
    let options = Options {
        retention: Duration::from_secs(3600),
        background: false,
        cache_bytes: DEFAULT_CACHE,
        follower: false,
    };
    let store = Store::open(Location::Engine(engine.clone()), wal.clone(), options.clone()).expect("store");
    let mut fixed = insert(&store, "shop", "items", doc! {"_id": 0});
    for id in 1..10 {
        fixed = insert(&store, "shop", "items", doc! {"_id": id});
    }
    let checkpointing = std::thread::spawn({
        let store = store.clone();
        move || store.checkpoint()
    });
    entered.recv_timeout(Duration::from_secs(10)).expect("the checkpoint reached its flush");

    // The flush waits; writes do not, and readers see them.
    for id in 10..20 {
        insert(&store, "shop", "items", doc! {"_id": id});
    }
    let view = store.view(&db("shop"), None).expect("view");
    assert_eq!(scan(&view, "items").len(), 20);
    assert_eq!(get(&store, "shop", "items", 15), Some(doc! {"_id": 15}));
    // The engine holds only what the checkpoint flushes.
    assert_eq!(docs_in(&memory), 10);

    release.send(()).expect("release");
    checkpointing.join().expect("checkpoint thread").expect("checkpoint");
    assert!(!engine.timed_out.load(Ordering::Acquire), "writes waited for the flush");
    assert_eq!(docs_in(&memory), 20, "the engine took what settled during the flush");
    assert_eq!(scan(&view, "items").len(), 20, "a view opened during the flush still reads");
    assert_eq!(store.checkpointed.load(Ordering::Acquire), fixed.lsn.0, "the checkpoint is where the flush began");
    assert!(store.published().lsn > fixed.lsn);

    // A crash now loses the engine's undurable commits; replay brings them back.
    memory.crash();
    assert_eq!(docs_in(&memory), 10);
    drop(store);
    let (wal, _) =
        Wal::open(Arc::new(StdFs), &dir.path().join("wal"), wal::Options::default(), &mut |_| {}).expect("wal");
    let store = Store::open(Location::Engine(memory.clone()), Arc::new(wal), options).expect("reopen");
    let view = store.view(&db("shop"), None).expect("view");
    assert_eq!(scan(&view, "items").len(), 20);
}

#[test]
fn a_history_collection_reports_how_far_it_has_come() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::from_secs(3600));
    for id in 0..20 {
        insert(&store, "shop", "items", doc! {"_id": id});
    }
    assert!(store.work.collecting().is_none());
    let reporting = store.report_collection().expect("report");
    let started = store.work.collecting().expect("running");
    assert_eq!(started.done, 0);
    let total = started.total.expect("redb counts its keys");
    assert!(total >= 20, "documents and catalog versions: {total}");
    store.advance_collection(5);
    assert_eq!(store.work.collecting().map(|p| p.done), Some(5));
    store.advance_collection(total);
    let past = store.work.collecting().expect("running");
    assert_eq!(past.total, Some(past.done), "writes during a pass add keys: the total grows with them");
    drop(reporting);
    assert!(store.work.collecting().is_none());
    store.collect_garbage(DateTime::now()).expect("collect");
    assert!(store.work.collecting().is_none(), "a pass ends its report");
}

#[test]
fn compaction_gives_back_what_collection_freed_and_keeps_every_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wal, store) = open(dir.path(), Duration::ZERO);
    let filler = "x".repeat(4000);
    for round in 0..4 {
        store
            .write(&db("shop"), false, None, |batch| {
                let c = batch.collection_or_create("items")?;
                for id in 0..500 {
                    let kind = if round == 0 { PutKind::Insert } else { PutKind::Replace };
                    batch.put(&c, kind, doc! {"_id": id, "round": round, "filler": filler.clone()})?;
                }
                Ok(())
            })
            .expect("write");
    }
    store.checkpoint().expect("checkpoint");
    store.collect_garbage(DateTime::now()).expect("gc");
    store.checkpoint().expect("checkpoint");
    let free = store.free_bytes().expect("free");
    assert!(free > 1 << 20, "three rounds of versions collected: {free} bytes free");
    // A snapshot open holds compaction back; it gives up rather than waits.
    let reading = store.view(&db("shop"), None).expect("view");
    assert_eq!(store.compact().expect("compact"), None);
    drop(reading);
    let freed = store.compact().expect("compact").expect("no snapshot open");
    assert!(freed > 1 << 20, "the file shrank by {freed} bytes");
    assert!(store.free_bytes().expect("free") < free);
    let items = scan(&store.view(&db("shop"), None).expect("view"), "items");
    assert_eq!(items.len(), 500);
    assert!(items.iter().all(|d| d.get_i32("round") == Ok(3)));
    insert(&store, "shop", "more", doc! {"_id": 1});
    assert_eq!(get(&store, "shop", "more", 1), Some(doc! {"_id": 1}));
}

/// An earlier build wrote a record to object storage apart from the changes that
/// apply it, which followed in a group commit: a crash between the two leaves
/// records the store has not applied, and opening replays them.
#[cfg(feature = "slatedb")]
#[test]
fn records_written_apart_from_their_changes_are_replayed_on_open() {
    use crate::objects::{InMemory, ObjectStore, Objects, Options as ObjectOptions};
    use crate::wal::{Op, Txn};

    let storage: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let open = || {
        let objects = Arc::new(Objects::open_in(storage.clone(), "db", &ObjectOptions::default()).expect("objects"));
        let wal = Arc::new(Wal::on_objects(objects.clone(), wal::Options::default()).expect("log").0);
        let engine = Arc::new(engine::SlateEngine::new(objects));
        let options = Options {
            retention: Duration::from_secs(3600),
            background: false,
            cache_bytes: DEFAULT_CACHE,
            follower: false,
        };
        (wal.clone(), Store::open(Location::Engine(engine), wal, options).expect("store"))
    };
    let (wal, store) = open();
    insert(&store, "shop", "items", doc! {"_id": 1});
    let main = store.view(&db("shop"), None).expect("view").snapshot.chain[0].0;
    let put = Op::Put { collection: "items".into(), kind: PutKind::Insert, doc: doc! {"_id": 2} };
    let (lsn, _) = wal.append(&Entry::Txn(Txn::new(main, vec![put]))).expect("the record alone");
    wal.wait(lsn, true).expect("durable");
    assert_eq!(get(&store, "shop", "items", 2), None, "not applied");
    // A crash: nothing closed.
    drop(store);
    drop(wal);
    let (_wal, store) = open();
    assert_eq!(get(&store, "shop", "items", 2), Some(doc! {"_id": 2}));
    assert_eq!(get(&store, "shop", "items", 1), Some(doc! {"_id": 1}));
    insert(&store, "shop", "items", doc! {"_id": 3});
    assert!(store.published().lsn > lsn);
}
