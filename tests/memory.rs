//! Memory governance against a real server started with `--max-memory 1GiB`, over
//! a collection of about 100 MB: each kind of careless aggregation fails with
//! MongoDB's code while a second client keeps being served, `$group` with
//! `allowDiskUse` over three times its stage limit succeeds by spilling, and the
//! server's peak resident memory (`VmHWM`) stays under 1.5 GiB.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Bson, Document};
use support::{call, command, start};

const DOCUMENTS: i32 = 100_000;
const MAX_MEMORY: u64 = 1 << 30;

/// Inserts `DOCUMENTS` documents of about 1 KB into `mem.big`.
fn load(addr: SocketAddr) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let pad = "p".repeat(1000);
    for start in (0..DOCUMENTS).step_by(1000) {
        let docs: Vec<Bson> =
            (start..start + 1000).map(|i| Bson::Document(doc! {"_id": i, "x": i % 997, "pad": &pad})).collect();
        let reply = command(&mut stream, doc! {"insert": "big", "documents": docs, "$db": "mem"}).expect("insert");
        assert_eq!(reply.get_i32("n"), Ok(1000), "{reply}");
    }
}

/// The code of an aggregation's error reply; `None` when it succeeded.
fn aggregate(addr: SocketAddr, pipeline: Vec<Document>, extra: Document) -> (Option<i32>, Document) {
    let mut body = doc! {"aggregate": "big", "pipeline": pipeline, "cursor": {"batchSize": 1}, "$db": "mem"};
    body.extend(extra);
    let mut stream = TcpStream::connect(addr).expect("connect");
    let reply = command(&mut stream, body).expect("reply");
    let code = (reply.get_f64("ok") != Ok(1.0)).then(|| reply.get_i32("code").unwrap_or(-1));
    (code, reply)
}

/// The server's peak resident memory, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).expect("kB") * 1024
}

#[test]
fn careless_aggregations_fail_with_mongodb_codes_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, addr) = start(dir.path(), &["--max-memory", "1GiB", "--durability", "none"]);
    load(addr);

    // A second client, served all along.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let other = {
        let (stop, served) = (stop.clone(), served.clone());
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).expect("connect");
            while !stop.load(Ordering::Relaxed) {
                let reply =
                    command(&mut stream, doc! {"find": "big", "filter": {"_id": 7}, "$db": "mem"}).expect("find");
                assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
                served.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let no_disk = doc! {"allowDiskUse": false};
    let cases: Vec<(&str, Vec<Document>, Document, i32)> = vec![
        (
            "$lookup joining everything",
            vec![doc! {"$lookup": {"from": "big", "pipeline": [], "as": "all"}}],
            doc! {},
            4568,
        ),
        ("$push of every document", vec![doc! {"$group": {"_id": null, "all": {"$push": "$$ROOT"}}}], doc! {}, 146),
        (
            "$group of every document without allowDiskUse",
            vec![doc! {"$group": {"_id": "$_id", "d": {"$first": "$$ROOT"}}}],
            no_disk.clone(),
            292,
        ),
        ("$sort without allowDiskUse", vec![doc! {"$sort": {"pad": 1, "x": -1}}], no_disk.clone(), 292),
        (
            "$bucketAuto without allowDiskUse",
            vec![doc! {"$bucketAuto": {"groupBy": "$x", "buckets": 4, "output": {"all": {"$push": "$$ROOT"}}}}],
            no_disk,
            292,
        ),
        ("$facet returning everything twice", vec![doc! {"$facet": {"a": [], "b": []}}], doc! {}, 4031),
    ];
    for (what, pipeline, extra, code) in cases {
        let before = served.load(Ordering::Relaxed);
        let (got, reply) = aggregate(addr, pipeline, extra);
        assert_eq!(got, Some(code), "{what}: {reply}");
        std::thread::sleep(Duration::from_millis(50));
        assert!(served.load(Ordering::Relaxed) > before, "{what}: the other client was not served");
    }

    // Four careless aggregations at once: the budget refuses what it cannot hold.
    let concurrent: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let pipeline =
                    vec![doc! {"$bucketAuto": {"groupBy": "$x", "buckets": 2, "output": {"n": {"$sum": 1}}}}];
                aggregate(addr, pipeline, doc! {}).0
            })
        })
        .collect();
    for outcome in concurrent {
        let code = outcome.join().expect("aggregation thread");
        assert!(matches!(code, None | Some(146)), "concurrent $bucketAuto: {code:?}");
    }

    // $group over three times its limit, with allowDiskUse: spilled, and right.
    let set =
        call(addr, doc! {"setParameter": 1, "internalDocumentSourceGroupMaxMemoryBytes": 30 << 20, "$db": "admin"});
    assert_eq!(set.get_f64("ok"), Ok(1.0), "{set}");
    let pipeline = vec![
        doc! {"$group": {"_id": "$_id", "d": {"$first": "$$ROOT"}}},
        doc! {"$group": {"_id": null, "n": {"$sum": 1}, "total": {"$sum": "$d.x"}}},
    ];
    let (code, reply) = aggregate(addr, pipeline, doc! {"allowDiskUse": true});
    assert_eq!(code, None, "{reply}");
    let result = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch")[0].clone();
    let expected: i64 = (0..DOCUMENTS).map(|i| i64::from(i % 997)).sum();
    let result = result.as_document().expect("document");
    assert_eq!(result.get_i32("n"), Ok(DOCUMENTS), "{result}");
    assert_eq!(
        result.get("total").and_then(Bson::as_i64).or(result.get_i32("total").ok().map(i64::from)),
        Some(expected)
    );

    stop.store(true, Ordering::Relaxed);
    other.join().expect("the other client");
    let peak = peak_rss(server.pid());
    eprintln!("peak resident memory: {} MiB", peak >> 20);
    assert!(peak < MAX_MEMORY * 3 / 2, "VmHWM {} MiB", peak >> 20);
}
