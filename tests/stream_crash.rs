//! kill -9 and change streams: writers insert into a collection while a consumer
//! follows it with a change stream; the server is killed at a random moment and
//! restarted, and the consumer resumes after the last event it got. At the end the
//! events must hold every acknowledged insert exactly once, in log order (an insert
//! the kill cut off before its acknowledgement may be there or not, never twice).
//!
//! `BRANCHDB_STREAM_CRASH_CYCLES` sets the number of kills (default 5).

mod support;

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use support::{command, start};

const WRITERS: i64 = 3;

/// What the consumer has seen: each event's `_id` key and resume token.
#[derive(Default)]
struct Seen {
    ids: Vec<i64>,
    tokens: Vec<String>,
    last: Option<Document>,
}

/// Follows `crash.items` from the last token seen (or from now) until the connection
/// fails or `stop` is set and it has caught up. `opened` is told once the stream is
/// open (or could not be), so no write of a fresh run goes before the stream's start.
fn consume(addr: SocketAddr, seen: &Mutex<Seen>, stop: &AtomicBool, opened: mpsc::Sender<()>) {
    let Ok(mut stream) = TcpStream::connect(addr) else { return };
    let mut spec = doc! {};
    if let Some(token) = seen.lock().expect("seen").last.clone() {
        spec.insert("resumeAfter", token);
    }
    let open = doc! {"aggregate": "items", "pipeline": [{"$changeStream": spec}], "cursor": {}, "$db": "crash"};
    let reply = command(&mut stream, open);
    let _ = opened.send(());
    let Ok(reply) = reply else { return };
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    let mut cursor = reply.get_document("cursor").expect("cursor").clone();
    let mut field = "firstBatch";
    loop {
        let batch = cursor.get_array(field).expect("batch").clone();
        {
            let mut seen = seen.lock().expect("seen");
            for event in batch.iter().filter_map(Bson::as_document) {
                let id = event.get_document("documentKey").expect("key").get_i64("_id").expect("_id");
                let token = event.get_document("_id").expect("token").clone();
                seen.ids.push(id);
                seen.tokens.push(token.get_str("_data").expect("_data").to_owned());
                seen.last = Some(token);
            }
        }
        if batch.is_empty() && stop.load(Ordering::Acquire) {
            return;
        }
        let id = cursor.get_i64("id").expect("id");
        let more = doc! {"getMore": id, "collection": "items", "maxTimeMS": 200i64, "$db": "crash"};
        match command(&mut stream, more) {
            Ok(reply) if reply.get_f64("ok") == Ok(1.0) => {
                cursor = reply.get_document("cursor").expect("cursor").clone();
                field = "nextBatch";
            }
            _ => return,
        }
    }
}

#[test]
fn a_stream_resumed_after_kill_9_loses_and_repeats_no_event() {
    let cycles: u64 = std::env::var("BRANCHDB_STREAM_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let data = tempfile::tempdir().expect("tempdir");
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let attempted = Arc::new(Mutex::new(HashSet::new()));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut next = 0i64;
    let mut seed = 0x5eed_u64;
    for cycle in 0..=cycles {
        let (mut server, addr) = start(data.path(), &[]);
        let last = cycle == cycles;
        let stop = Arc::new(AtomicBool::new(false));
        let (opened, stream_open) = mpsc::channel();
        let consumer = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || consume(addr, &seen, &stop, opened))
        };
        // The first stream starts at "now": the writers wait for it.
        let _ = stream_open.recv_timeout(Duration::from_secs(30));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (acked, attempted, stop) = (acked.clone(), attempted.clone(), stop.clone());
                let first = next + w * 1_000_000;
                std::thread::spawn(move || {
                    let Ok(mut stream) = TcpStream::connect(addr) else { return };
                    for id in first.. {
                        if stop.load(Ordering::Acquire) {
                            return;
                        }
                        attempted.lock().expect("attempted").insert(id);
                        let insert = doc! {"insert": "items", "documents": [{"_id": id}], "$db": "crash"};
                        match command(&mut stream, insert) {
                            Ok(reply) if reply.get_i32("n") == Ok(1) => {
                                acked.lock().expect("acked").insert(id);
                            }
                            _ => return,
                        }
                    }
                })
            })
            .collect();
        next += WRITERS * 1_000_000;
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(300 + (seed >> 33) % 700));
        if last {
            // A clean end: the writers stop, the consumer catches up with them.
            stop.store(true, Ordering::Release);
            for writer in writers {
                writer.join().expect("writer");
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while seen.lock().expect("seen").ids.len() < acked.lock().expect("acked").len() && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            consumer.join().expect("consumer");
            server.kill();
        } else {
            server.kill();
            stop.store(true, Ordering::Release);
            for writer in writers {
                writer.join().expect("writer");
            }
            consumer.join().expect("consumer");
        }
    }
    let seen = seen.lock().expect("seen");
    let acked = acked.lock().expect("acked");
    let attempted = attempted.lock().expect("attempted");
    let mut unique = HashSet::new();
    let repeated: Vec<&i64> = seen.ids.iter().filter(|id| !unique.insert(**id)).take(5).collect();
    assert!(repeated.is_empty(), "events repeated after a resume: {repeated:?}");
    let lost: Vec<&i64> = acked.iter().filter(|id| !unique.contains(id)).take(5).collect();
    assert!(lost.is_empty(), "acknowledged inserts with no event: {lost:?} ({} acked)", acked.len());
    assert!(unique.iter().all(|id| attempted.contains(id)), "an event for an insert never sent");
    assert!(seen.tokens.windows(2).all(|w| w[0] < w[1]), "events out of log order");
    assert!(acked.len() > 100, "the writers got through: {}", acked.len());
}
