//! Change streams over a store on disk: the feed and the log give the same events,
//! a transaction's carry its session, a start before the retained history is 286.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Bson, DateTime, Document};

use super::*;
use crate::namespace::DbRef;
use crate::store::{Location, PutKind, DEFAULT_CACHE};
use crate::wal::fs::StdFs;
use crate::wal::{Session, Wal};

fn open(dir: &Path, retention: Duration) -> Arc<Feed> {
    let (wal, _) =
        Wal::open(Arc::new(StdFs), &dir.join("wal"), crate::wal::Options::default(), &mut |_| {}).expect("wal");
    let wal = Arc::new(wal);
    let options = crate::store::Options { retention, background: false, cache_bytes: DEFAULT_CACHE, follower: false };
    let store = Store::open(Location::Dir(&dir.join("store")), wal.clone(), options).expect("store");
    Feed::new(store, wal)
}

fn put(feed: &Feed, target: &str, kind: PutKind, d: Document) -> Lsn {
    let (_, commit) = feed
        .store()
        .write(&DbRef::parse(target).expect("name"), false, None, |batch| {
            let c = batch.collection_or_create("items")?;
            batch.put(&c, kind, d)
        })
        .expect("write");
    commit.expect("a commit").lsn
}

fn items(db: &str) -> Scope {
    Scope::Collection { db: db.into(), branch: "main".into(), collection: "items".into() }
}

fn plain() -> Options {
    Options {
        full_document: FullDocument::Default,
        before_change: BeforeChange::WhenAvailable,
        expanded: false,
        images_expire_after: None,
    }
}

/// Every event after `start`, read until the stream has caught up.
fn drain(feed: &Arc<Feed>, scope: Scope, start: Start) -> Vec<Document> {
    let mut stream = ChangeStream::open(feed, scope, plain(), start).expect("open");
    let mut events = Vec::new();
    for _ in 0..100 {
        let batch = stream.next_events(7, &mut || Ok(())).expect("events");
        if batch.is_empty() && stream.position().covers(feed.store().published().lsn) {
            break;
        }
        if batch.is_empty() {
            // The feed's thread has not read the newest records yet.
            std::thread::sleep(Duration::from_millis(10));
        }
        events.extend(batch.into_iter().map(|e| e.doc));
    }
    events
}

#[test]
fn the_feed_and_the_log_give_the_same_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = open(dir.path(), Duration::from_secs(3600));
    let first = put(&feed, "shop", PutKind::Insert, doc! {"_id": 1, "a": 1});
    // A stream that is open while the writes happen reads them from the feed.
    let mut live = ChangeStream::open(&feed, items("shop"), plain(), Start::Now).expect("open");
    put(&feed, "shop", PutKind::Update, doc! {"_id": 1, "a": 2});
    put(&feed, "shop", PutKind::Replace, doc! {"_id": 1, "b": 1});
    put(&feed, "other", PutKind::Insert, doc! {"_id": 9});
    let last = put(&feed, "shop", PutKind::Insert, doc! {"_id": 2});
    let mut from_feed = Vec::new();
    for _ in 0..200 {
        from_feed.extend(live.next_events(100, &mut || Ok(())).expect("events").into_iter().map(|e| e.doc));
        if from_feed.len() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(feed.through() >= last, "the feed read the log");
    // One started in the past reads the log itself, and gives the same events.
    let replayed = drain(&feed, items("shop"), Start::After(Token::new(Position::after(first), false)));
    assert_eq!(replayed, from_feed);
    let kinds: Vec<&str> = replayed.iter().map(|e| e.get_str("operationType").expect("kind")).collect();
    assert_eq!(kinds, ["update", "replace", "insert"]);
    assert_eq!(replayed[0].get_document("fullDocumentBeforeChange").expect("before"), &doc! {"_id": 1, "a": 1});
    assert_eq!(
        replayed[0].get_document("updateDescription").expect("described").get_document("updatedFields"),
        Ok(&doc! {"a": 2})
    );
    feed.close();
}

#[test]
fn a_transaction_s_events_carry_its_session_and_a_retryable_write_s_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = open(dir.path(), Duration::from_secs(3600));
    let start = put(&feed, "shop", PutKind::Insert, doc! {"_id": 0});
    let store = feed.store();
    let mut txn = store.begin().expect("begin");
    for id in [1, 2] {
        store
            .transaction_write(&mut txn, &DbRef::parse("shop").expect("name"), |batch| {
                let c = batch.collection_or_create("items")?;
                batch.put(&c, PutKind::Insert, doc! {"_id": id})
            })
            .expect("statement");
    }
    let lsid = doc! {"id": Bson::Int32(7)};
    let session = Session { lsid: lsid.clone(), txn_number: 3, statements: Vec::new() };
    store.commit_transaction(txn, session, false).expect("commit");
    let events = drain(&feed, items("shop"), Start::After(Token::new(Position::after(start), false)));
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event.get_document("lsid"), Ok(&lsid));
        assert_eq!(event.get_i64("txnNumber"), Ok(3));
    }
    let tokens: Vec<_> = events.iter().map(|e| e.get_document("_id").expect("token").clone()).collect();
    assert_ne!(tokens[0], tokens[1], "two events of one record have their own positions");
    feed.close();
}

#[test]
fn a_start_before_the_retained_history_is_history_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = open(dir.path(), Duration::from_secs(1));
    let first = put(&feed, "shop", PutKind::Insert, doc! {"_id": 1});
    put(&feed, "shop", PutKind::Update, doc! {"_id": 1, "a": 1});
    let later = DateTime::from_millis(DateTime::now().timestamp_millis() + 60_000);
    feed.store().collect_garbage(later).expect("collect");
    assert!(feed.store().horizon() > first, "the horizon moved");
    let token = Token::new(Position::event(first, 0, 0), false);
    let err = ChangeStream::open(&feed, items("shop"), plain(), Start::After(token)).err().expect("refused");
    assert_eq!(err.code(), ErrorCode::ChangeStreamHistoryLost);
    let at = bson::Timestamp { time: 1, increment: 0 };
    let err = ChangeStream::open(&feed, items("shop"), plain(), Start::At(at)).err().expect("refused");
    assert_eq!(err.code(), ErrorCode::ChangeStreamHistoryLost);
    // From now on is always possible.
    ChangeStream::open(&feed, items("shop"), plain(), Start::Now).expect("from now");
    feed.close();
}

#[test]
fn images_older_than_the_expiry_are_not_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let feed = open(dir.path(), Duration::from_secs(3600));
    let first = put(&feed, "shop", PutKind::Insert, doc! {"_id": 1, "a": 1});
    put(&feed, "shop", PutKind::Replace, doc! {"_id": 1, "a": 2});
    std::thread::sleep(Duration::from_millis(20));
    let read = |expire: Option<Duration>, before_change: BeforeChange| -> crate::error::Result<Vec<Document>> {
        let options = Options { before_change, images_expire_after: expire, ..plain() };
        let start = Start::After(Token::new(Position::after(first), false));
        let mut stream = ChangeStream::open(&feed, items("shop"), options, start).expect("open");
        for _ in 0..200 {
            let events = stream.next_events(10, &mut || Ok(()))?;
            if !events.is_empty() {
                return Ok(events.into_iter().map(|e| e.doc).collect());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no event came");
    };
    let kept = read(Some(Duration::from_secs(3600)), BeforeChange::WhenAvailable).expect("events");
    assert_eq!(kept[0].get_document("fullDocumentBeforeChange"), Ok(&doc! {"_id": 1, "a": 1}));
    let expired = read(Some(Duration::from_millis(5)), BeforeChange::WhenAvailable).expect("events");
    assert_eq!(expired[0].get("fullDocumentBeforeChange"), Some(&Bson::Null), "expired: null");
    let required = read(Some(Duration::from_millis(5)), BeforeChange::Required);
    assert!(required.is_err(), "required and expired: an error");
    feed.close();
}
