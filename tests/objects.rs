//! The log and the store in object storage (SlateDB on a local directory, or on
//! SeaweedFS's S3 through `scripts/objects-s3.sh`): a second server takes over from
//! the first without its disk, and a server that was taken over from acknowledges
//! nothing more.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use bson::{doc, Document};
use support::{all_documents, call, command, start};

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
        assert_eq!(reply.get_f64("ok"), Ok(0.0), "never acknowledged: {reply}");
        assert_eq!(reply.get_i32("code"), Ok(10107), "{reply}");
    }
    assert_eq!(ids(second_addr, "shop"), [1, 2], "the fenced write never lands");
    // The fenced server stops by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !first.exited() {
        assert!(std::time::Instant::now() < deadline, "the fenced server still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: a plain kill(2) of a child this test started.
    let sent = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(sent, 0, "signal {signal} to {pid}");
}
