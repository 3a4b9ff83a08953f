//! kill -9 loop over the wire: the real server takes inserts from concurrent
//! clients on `main` and on a branch, and is killed at a random moment; after a
//! restart every acknowledged insert must be readable on the branch it went to,
//! and nothing must appear on the other. The oracle (the acknowledgements the clients
//! received) lives in the test, outside the data directory.
//!
//! `BRANCHDB_SERVER_CRASH_CYCLES` sets the number of cycles (default 30).

mod support;

use std::collections::HashSet;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::doc;
use support::{all_documents, command, start};

const WRITERS: u64 = 4;
const TARGETS: [&str; 2] = ["crash", "crash@side"];

/// Every `_id` of `target.items`, through find and getMore.
fn all_ids(addr: SocketAddr, target: &str) -> HashSet<i64> {
    all_documents(addr, target, "items").iter().filter_map(|d| d.get_i64("_id").ok()).collect()
}

#[test]
fn kill_9_of_the_server_loses_no_acknowledged_insert() {
    let cycles: u64 = std::env::var("BRANCHDB_SERVER_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let data = tempfile::tempdir().expect("tempdir");
    let acked: [Arc<Mutex<HashSet<i64>>>; 2] = Default::default();
    let mut next_id = 0i64;
    let mut seed = 0x5eed_u64;
    let started = Instant::now();
    for cycle in 0..cycles {
        let (mut server, addr) = start(data.path(), &[]);
        // What the last cycle acknowledged is all there, on its own branch only.
        for (target, acked) in TARGETS.iter().zip(&acked) {
            let acked = acked.lock().expect("oracle");
            if acked.is_empty() {
                continue;
            }
            let found = all_ids(addr, target);
            let missing: Vec<&i64> = acked.iter().filter(|id| !found.contains(id)).take(5).collect();
            assert!(missing.is_empty(), "cycle {cycle}: {target} lost acknowledged inserts {missing:?}");
        }
        if cycle == 0 {
            let mut stream = TcpStream::connect(addr).expect("connect");
            let reply =
                command(&mut stream, doc! {"insert": "items", "documents": [{"_id": -1i64}], "$db": TARGETS[0]})
                    .expect("insert");
            assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
            acked[0].lock().expect("oracle").insert(-1);
            let reply = command(&mut stream, doc! {"createBranch": "side", "$db": TARGETS[0]}).expect("branch");
            assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
            acked[1].lock().expect("oracle").insert(-1);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (stop, acked) = (stop.clone(), acked.clone());
                let first = next_id + (w as i64) * 1_000_000;
                std::thread::spawn(move || {
                    let Ok(mut stream) = TcpStream::connect(addr) else { return };
                    for (n, id) in (first..).enumerate() {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let t = (n + w as usize) % 2;
                        let body =
                            doc! {"insert": "items", "documents": [{"_id": id, "w": w as i64}], "$db": TARGETS[t]};
                        match command(&mut stream, body) {
                            Ok(reply) if reply.get_f64("ok") == Ok(1.0) && reply.get_i32("n") == Ok(1) => {
                                acked[t].lock().expect("oracle").insert(id);
                            }
                            _ => return,
                        }
                    }
                })
            })
            .collect();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(20 + (seed >> 33) % 200));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().expect("writer");
        }
        next_id += WRITERS as i64 * 1_000_000;
        // An acknowledged insert on one branch must never show on the other.
        let (_server, addr) = start(data.path(), &[]);
        let main_ids = all_ids(addr, TARGETS[0]);
        let side = acked[1].lock().expect("oracle");
        assert!(
            side.iter().filter(|id| **id >= 0).all(|id| !main_ids.contains(id)),
            "cycle {cycle}: a branch write on main"
        );
        drop(side);
        server.kill();
    }
    let total: usize = acked.iter().map(|a| a.lock().expect("oracle").len()).sum();
    println!("{cycles} kill -9 cycles of the server, {total} acknowledged inserts, none lost, {:?}", started.elapsed());
    assert!(total as u64 > cycles, "the writers got acknowledgements");
}
