//! kill -9 loop: a child process appends to the WAL from concurrent writers and prints
//! each acknowledged commit; the parent kills it at a random moment, recovers the log
//! in-process and checks that every acknowledged write is there, at its LSN, with the
//! LSNs contiguous. The oracle (the acknowledgements) lives outside the data directory.
//!
//! `BRANCHDB_CRASH_CYCLES` sets the number of cycles (default 200; the soak runs 10,000).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use branchdb::lsn::Lsn;
use branchdb::wal::fs::StdFs;
use branchdb::wal::{Entry, Op, Options, SegmentReader, Wal};

/// Small segments, so that kills land during rotations too.
const SEGMENT_SIZE: u64 = 1 << 20;

/// A small deterministic generator for kill delays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `id -> lsn` of every put in the log from `from` on, checking LSNs are contiguous.
fn scan(dir: &Path, from: Lsn) -> (HashMap<i64, Lsn>, Lsn) {
    let mut found = HashMap::new();
    let mut expected = from.max(Lsn(1));
    for record in SegmentReader::new(Arc::new(StdFs), dir, from, None).expect("reader") {
        let record = record.expect("record");
        assert_eq!(record.lsn, expected, "LSNs are not contiguous");
        expected = expected.next();
        if let Entry::Txn(txn) = record.entry {
            for op in txn.ops {
                if let Op::Put { doc, .. } = op {
                    found.insert(doc.get_i64("_id").expect("_id"), record.lsn);
                }
            }
        }
    }
    (found, Lsn(expected.0.saturating_sub(1)))
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let cycles: u64 = std::env::var("BRANCHDB_CRASH_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let data = tempfile::tempdir().expect("tempdir");
    let wal_dir = data.path().join("wal");
    let mut rng = Lcg(0x5eed);
    let mut acked_total = 0u64;
    let mut max_acked = Lsn::ZERO;
    let mut torn_tails = 0u64;
    let started = Instant::now();
    for cycle in 0..cycles {
        let mut child = Command::new(env!("CARGO_BIN_EXE_branchdb"))
            .args(["wal", "stress", "--writers", "8", "--segment-size", &SEGMENT_SIZE.to_string(), "--tag"])
            .arg((cycle as i64 * 10_000_000_000).to_string())
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        std::thread::sleep(Duration::from_millis(5 + rng.below(40)));
        child.kill().expect("kill -9");
        let mut acked: Vec<(Lsn, i64)> = Vec::new();
        for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
            let line = line.expect("line");
            let mut parts = line.split(' ');
            assert_eq!(parts.next(), Some("ack"), "{line}");
            let lsn = Lsn(parts.next().and_then(|v| v.parse().ok()).expect("lsn"));
            let id: i64 = parts.next().and_then(|v| v.parse().ok()).expect("id");
            acked.push((lsn, id));
        }
        child.wait().expect("reap");

        let options = Options { segment_size: SEGMENT_SIZE, ..Options::default() };
        let (wal, recovered) = Wal::open(Arc::new(StdFs), &wal_dir, options, &mut |_| {})
            .unwrap_or_else(|e| panic!("cycle {cycle}: recovery refused: {e}"));
        torn_tails += u64::from(recovered.torn.is_some());
        drop(wal);
        let from = acked.iter().map(|(lsn, _)| *lsn).min().unwrap_or(recovered.last_lsn);
        let (found, last) = scan(&wal_dir, from);
        assert_eq!(last, recovered.last_lsn);
        for (lsn, id) in &acked {
            assert_eq!(found.get(id), Some(lsn), "cycle {cycle}: acknowledged write {id} at {lsn} lost");
            max_acked = max_acked.max(*lsn);
        }
        assert!(recovered.last_lsn >= max_acked, "cycle {cycle}: the log lost its tail below an acknowledged LSN");
        acked_total += acked.len() as u64;
    }
    // The whole log, once more, from the start.
    let (_, last) = scan(&wal_dir, Lsn(1));
    assert!(last >= max_acked);
    println!(
        "crash loop: {cycles} cycles, {acked_total} acknowledged writes, 0 lost, {} records, {torn_tails} torn tails cut, {:.1} s",
        last.0,
        started.elapsed().as_secs_f64()
    );
}
