//! The log and the store in object storage (SlateDB on a local directory, or on
//! SeaweedFS's S3 through `scripts/objects-s3.sh`): a second server takes over from
//! the first without its disk, a server that was taken over from acknowledges
//! nothing more, and one whose storage goes away for a while acknowledges nothing
//! until it is back and then goes on; a read replica follows the writer.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use support::{all_documents, call, command, lsid, start};

/// Where a test's objects go: SlateDB on a local directory in `dir`, or, when
/// `BRANCHDB_TEST_OBJECTS` names an S3 bucket (`scripts/objects-s3.sh`), a prefix of
/// its own there.
fn storage(dir: &Path) -> String {
    match std::env::var("BRANCHDB_TEST_OBJECTS") {
        Ok(bucket) => {
            let unique = dir.file_name().and_then(|name| name.to_str()).expect("a temporary directory's name");
            format!("{}/{unique}", bucket.trim_end_matches('/'))
        }
        Err(_) => format!("file://{}", dir.join("objects").display()),
    }
}

fn insert(addr: SocketAddr, target: &str, id: i64) -> Document {
    call(addr, doc! {"insert": "items", "documents": [{"_id": id, "n": id}], "$db": target})
}

/// The LSN of an acknowledged write: its `operationTime`'s ordinal.
fn lsn_of(reply: &Document) -> u32 {
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    assert_eq!(reply.get_i32("n"), Ok(1), "{reply}");
    reply.get_timestamp("operationTime").expect("operationTime").increment
}

fn ids(addr: SocketAddr, target: &str) -> Vec<i64> {
    let mut ids: Vec<i64> =
        all_documents(addr, target, "items").iter().map(|d| d.get_i64("_id").expect("_id")).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_new_server_serves_every_acknowledged_write_without_the_old_ones_disk() {
    let objects = tempfile::tempdir().expect("tempdir");
    let url = storage(objects.path());
    let first_disk = tempfile::tempdir().expect("tempdir");
    let (mut first, addr) = start(first_disk.path(), &["--storage", &url]);
    let mut points = Vec::new();
    for id in 0..40 {
        let lsn = lsn_of(&insert(addr, "shop", id));
        if id % 10 == 9 {
            points.push((lsn, id));
        }
    }
    let branch = call(addr, doc! {"createBranch": "feature-x", "$db": "shop"});
    assert_eq!(branch.get_f64("ok"), Ok(1.0), "{branch}");
    for id in 100..110 {
        lsn_of(&insert(addr, "shop@feature-x", id));
    }
    first.kill();
    drop(first_disk);

    let second_disk = tempfile::tempdir().expect("tempdir");
    let (_second, addr) = start(second_disk.path(), &["--storage", &url]);
    assert_eq!(ids(addr, "shop"), (0..40).collect::<Vec<_>>());
    let branch: Vec<i64> = (0..40).chain(100..110).collect();
    assert_eq!(ids(addr, "shop@feature-x"), branch);
    for (lsn, last) in points {
        assert_eq!(ids(addr, &format!("shop@main~{lsn}")), (0..=last).collect::<Vec<_>>(), "at LSN {lsn}");
    }
}

#[test]
fn a_server_taken_over_from_acknowledges_nothing_more_and_stops() {
    let objects = tempfile::tempdir().expect("tempdir");
    let url = storage(objects.path());
    let first_disk = tempfile::tempdir().expect("tempdir");
    let (mut first, first_addr) = start(first_disk.path(), &["--storage", &url]);
    lsn_of(&insert(first_addr, "shop", 1));
    let mut stream = TcpStream::connect(first_addr).expect("connect");
    // Frozen, as a paused or partitioned process would be, while another takes over.
    signal(first.pid(), libc::SIGSTOP);
    let second_disk = tempfile::tempdir().expect("tempdir");
    let (_second, second_addr) = start(second_disk.path(), &["--storage", &url]);
    lsn_of(&insert(second_addr, "shop", 2));
    signal(first.pid(), libc::SIGCONT);

    let reply = command(&mut stream, doc! {"insert": "items", "documents": [{"_id": 3}], "$db": "shop"});
    if let Ok(reply) = reply {
        // Refused as a command, or as the insert's one write error: either way 10107.
        let code = match reply.get_f64("ok") {
            Ok(0.0) => reply.get_i32("code").ok(),
            _ => {
                assert_eq!(reply.get_i32("n"), Ok(0), "never acknowledged: {reply}");
                let errors = reply.get_array("writeErrors").expect("a write error");
                errors.first().and_then(Bson::as_document).and_then(|e| e.get_i32("code").ok())
            }
        };
        assert_eq!(code, Some(10107), "{reply}");
    }
    assert_eq!(ids(second_addr, "shop"), [1, 2], "the fenced write never lands");
    // The fenced server stops by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !first.exited() {
        assert!(std::time::Instant::now() < deadline, "the fenced server still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One insert of the load: when it was sent and answered, and whether it was
/// acknowledged (or how it failed).
struct Attempt {
    id: i64,
    answered: Instant,
    outcome: Result<(), String>,
}

/// Inserts one document at a time on its own connection until `stop`.
fn insert_until(addr: SocketAddr, first_id: i64, stop: Arc<AtomicBool>) -> Vec<Attempt> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    let mut attempts = Vec::new();
    for id in first_id.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let body = doc! {"insert": "items", "documents": [{"_id": id}], "$db": "shop"};
        let reply = command(&mut stream, body).expect("an answer, even while the storage is away");
        let outcome = match (reply.get_f64("ok"), reply.get_i32("n")) {
            (Ok(1.0), Ok(1)) if !reply.contains_key("writeErrors") => Ok(()),
            _ => Err(reply.to_string()),
        };
        attempts.push(Attempt { id, answered: Instant::now(), outcome });
    }
    attempts
}

/// Finds the document `id` of `shop.items` again and again until `until`: how long
/// each find took. Every one must find it.
fn read_until(addr: SocketAddr, id: i64, until: Instant) -> Vec<Duration> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    let mut took = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        let body = doc! {"find": "items", "filter": {"_id": id}, "$db": "shop"};
        let reply = command(&mut stream, body).expect("an answer while the storage is away");
        took.push(started.elapsed());
        let found = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).map(Vec::len);
        assert_eq!(found, Ok(1), "a read while the storage is away: {reply}");
        std::thread::sleep(Duration::from_millis(50));
    }
    took
}

/// Increments a counter with retryable writes until `stop`, retrying each (same
/// session, same transaction number) until it is acknowledged, as a driver would.
/// Returns how many were acknowledged, whether one was left unacknowledged, and
/// how many attempts failed.
fn increment_until(addr: SocketAddr, stop: Arc<AtomicBool>) -> (i64, bool, u32) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
    let (mut acknowledged, mut failed) = (0, 0);
    for txn_number in 1i64.. {
        loop {
            if stop.load(Ordering::Relaxed) {
                return (acknowledged, true, failed);
            }
            let body = doc! {
                "update": "counters", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"n": 1}}, "upsert": true}],
                "lsid": lsid(7), "txnNumber": txn_number, "$db": "shop",
            };
            let reply = command(&mut stream, body).expect("an answer");
            if reply.get_f64("ok") == Ok(1.0) && !reply.contains_key("writeErrors") {
                acknowledged += 1;
                break;
            }
            failed += 1;
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    (acknowledged, false, failed)
}

/// The S3 server is stopped for 10 s under a steady insert load and started again:
/// nothing is acknowledged while it is down, reads of what the server holds go on,
/// every acknowledged write is there afterwards, and the server goes on without a
/// restart. Needs the S3 server's
/// control (`scripts/objects-s3.sh` sets `BRANCHDB_TEST_S3_CONTROL`).
#[test]
fn writes_wait_while_object_storage_is_away_and_go_on_when_it_is_back() {
    let Ok(control) = std::env::var("BRANCHDB_TEST_S3_CONTROL") else {
        eprintln!("skipped: stopping the object storage needs scripts/objects-s3.sh");
        return;
    };
    let s3 = |action: &str| {
        let status = std::process::Command::new(&control).arg(action).status().expect("run the S3 control");
        assert!(status.success(), "S3 server {action}");
    };
    let objects = tempfile::tempdir().expect("tempdir");
    let disk = tempfile::tempdir().expect("tempdir");
    let (_server, addr) = start(disk.path(), &["--storage", &storage(objects.path())]);
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|n| {
            let stop = stop.clone();
            std::thread::spawn(move || insert_until(addr, n * 1_000_000, stop))
        })
        .collect();
    let increments = {
        let stop = stop.clone();
        std::thread::spawn(move || increment_until(addr, stop))
    };
    std::thread::sleep(Duration::from_secs(2));
    s3("stop");
    let down = Instant::now();
    // Reads of what is in memory or in the local cache go on meanwhile: the first
    // insert, read again and again for the 10 s.
    let reads = std::thread::spawn(move || read_until(addr, 0, down + Duration::from_secs(10)));
    std::thread::sleep(Duration::from_secs(10));
    let back = Instant::now();
    let reads = reads.join().expect("the reads");
    s3("start");
    std::thread::sleep(Duration::from_secs(8));
    stop.store(true, Ordering::Relaxed);
    let attempts: Vec<Attempt> = load.into_iter().flat_map(|thread| thread.join().expect("the load")).collect();
    let (incremented, unfinished, retried) = increments.join().expect("the increments");

    // A flush that was under way when the storage went may still land; nothing later.
    let away = down + Duration::from_millis(250)..back;
    let acknowledged: Vec<&Attempt> = attempts.iter().filter(|a| a.outcome.is_ok()).collect();
    for attempt in &acknowledged {
        assert!(!away.contains(&attempt.answered), "insert {} acknowledged while the storage was away", attempt.id);
    }
    assert!(acknowledged.iter().any(|a| a.answered < down), "writes before the storage went");
    assert!(acknowledged.iter().any(|a| a.answered > back), "writes go on once it is back, without a restart");
    for failed in attempts.iter().filter_map(|a| a.outcome.as_ref().err()) {
        assert!(
            failed.contains("HostUnreachable"),
            "a write the storage could not take fails as unreachable: {failed}"
        );
    }
    // Every insert is there: the acknowledged ones, and those that failed but were
    // made durable once the storage was back.
    let stored: std::collections::HashSet<i64> = ids(addr, "shop").into_iter().collect();
    for attempt in &attempts {
        assert!(stored.contains(&attempt.id), "insert {} ({:?}) is there", attempt.id, attempt.outcome);
    }
    assert!(reads.len() > 10, "reads went on while the storage was away: {} answered", reads.len());
    let slowest = reads.iter().max().expect("reads");
    assert!(*slowest < Duration::from_secs(1), "a read waited {slowest:?} for the storage");
    // A retried increment that had failed unacknowledged was not applied twice.
    assert!(retried > 0, "increments failed while the storage was away");
    let counter = all_documents(addr, "shop", "counters");
    let n = counter.first().and_then(|c| c.get_i32("n").ok()).map_or(0, i64::from);
    let possible = incremented..=incremented + i64::from(unfinished);
    assert!(possible.contains(&n), "counter {n} after {incremented} acknowledged increments");
}

/// A read replica on the writer's storage serves reads on a branch and at a point,
/// reaches each write of the writer within 1 s, waits for `afterClusterTime`, and
/// refuses writes with 10107.
#[test]
fn a_read_replica_follows_the_writer_and_takes_no_writes() {
    let objects = tempfile::tempdir().expect("tempdir");
    let url = storage(objects.path());
    let writer_disk = tempfile::tempdir().expect("tempdir");
    let (_writer, writer) = start(writer_disk.path(), &["--storage", &url]);
    let first = lsn_of(&insert(writer, "shop", 1));
    let branch = call(writer, doc! {"createBranch": "feature-x", "$db": "shop"});
    assert_eq!(branch.get_f64("ok"), Ok(1.0), "{branch}");
    lsn_of(&insert(writer, "shop@feature-x", 2));

    let replica_disk = tempfile::tempdir().expect("tempdir");
    let primary = writer.to_string();
    let (_replica, replica) = start(replica_disk.path(), &["--replica-of", &url, "--primary", &primary]);
    let hello = call(replica, doc! {"hello": 1, "$db": "admin"});
    assert_eq!(hello.get_bool("isWritablePrimary"), Ok(false), "{hello}");
    assert_eq!(hello.get_bool("secondary"), Ok(true), "{hello}");
    assert_eq!(hello.get_str("primary"), Ok(primary.as_str()), "{hello}");

    // Each write of the writer is readable on the replica within a second.
    for id in 100..105 {
        lsn_of(&insert(writer, "shop@feature-x", id));
        let written = Instant::now();
        while !ids(replica, "shop@feature-x").contains(&id) {
            assert!(written.elapsed() < Duration::from_secs(1), "the replica lags past 1 s for {id}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(ids(replica, "shop@feature-x"), [1, 2, 100, 101, 102, 103, 104]);
    assert_eq!(ids(replica, "shop"), [1]);
    for point in [format!("shop@main~{first}"), format!("shop@feature-x~{}", first + 2)] {
        assert_eq!(ids(replica, &point), ids(writer, &point), "{point}");
    }
    assert_eq!(ids(replica, &format!("shop@main~{first}")), [1]);

    // A read after the writer's write waits until the replica has it.
    let written = insert(writer, "shop", 3);
    let after = written.get_timestamp("operationTime").expect("operationTime");
    let found = call(
        replica,
        doc! {"find": "items", "filter": {"_id": 3}, "readConcern": {"afterClusterTime": after}, "$db": "shop"},
    );
    let batch = found.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
    assert_eq!(batch.len(), 1, "{found}");

    for refused in [
        call(replica, doc! {"insert": "items", "documents": [{"_id": 9}], "$db": "shop"}),
        call(replica, doc! {"createBranch": "other", "$db": "shop"}),
        call(replica, doc! {"insert": "items", "documents": [{"_id": 9}], "$db": "fresh"}),
    ] {
        assert_eq!(refused.get_i32("code"), Ok(10107), "{refused}");
        // As a secondary's: drivers compare it with their last hello's.
        assert_eq!(refused.get_document("topologyVersion"), hello.get_document("topologyVersion"), "{refused}");
    }
    let status = call(replica, doc! {"serverStatus": 1, "$db": "admin"});
    let repl = status.get_document("repl").expect("a replica's serverStatus has repl");
    assert_eq!(repl.get_bool("secondary"), Ok(true), "{status}");
    assert!(repl.get_i64("appliedLsn").expect("appliedLsn") >= i64::from(first), "{status}");
}

/// A change stream opened on a read replica, on a branch, sees the writer's writes
/// to that branch as the replica follows them, and nothing of the others.
#[test]
fn a_read_replica_streams_the_writers_changes() {
    let objects = tempfile::tempdir().expect("tempdir");
    let url = storage(objects.path());
    let writer_disk = tempfile::tempdir().expect("tempdir");
    let (_writer, writer) = start(writer_disk.path(), &["--storage", &url]);
    lsn_of(&insert(writer, "shop", 1));
    let branch = call(writer, doc! {"createBranch": "feature-x", "$db": "shop"});
    assert_eq!(branch.get_f64("ok"), Ok(1.0), "{branch}");
    let replica_disk = tempfile::tempdir().expect("tempdir");
    let (_replica, replica) = start(replica_disk.path(), &["--replica-of", &url]);

    let mut stream = TcpStream::connect(replica).expect("connect");
    let pipeline = vec![doc! {"$changeStream": {}}];
    let opened =
        command(&mut stream, doc! {"aggregate": "items", "pipeline": pipeline, "cursor": {}, "$db": "shop@feature-x"})
            .expect("aggregate");
    let id =
        opened.get_document("cursor").and_then(|c| c.get_i64("id")).unwrap_or_else(|_| panic!("a cursor: {opened}"));
    lsn_of(&insert(writer, "shop", 2));
    lsn_of(&insert(writer, "shop@feature-x", 3));
    let written = Instant::now();
    let mut events = Vec::new();
    while events.is_empty() {
        assert!(written.elapsed() < Duration::from_secs(5), "no event on the replica within 5 s");
        let body = doc! {"getMore": id, "collection": "items", "maxTimeMS": 200, "$db": "shop@feature-x"};
        let more = command(&mut stream, body).expect("getMore");
        let batch = more
            .get_document("cursor")
            .and_then(|c| c.get_array("nextBatch"))
            .unwrap_or_else(|_| panic!("a batch: {more}"));
        events.extend(batch.iter().filter_map(Bson::as_document).cloned());
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].get_str("operationType"), Ok("insert"), "{:?}", events[0]);
    let key = events[0].get_document("documentKey").expect("documentKey");
    assert_eq!(key.get_i64("_id"), Ok(3), "{:?}", events[0]);
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: a plain kill(2) of a child this test started.
    let sent = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(sent, 0, "signal {signal} to {pid}");
}
