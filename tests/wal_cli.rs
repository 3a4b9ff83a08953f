//! `branchdb wal verify` and `wal dump` on a log written in-process.

use std::process::Command;
use std::sync::Arc;

use branchdb::config::Durability;
use branchdb::wal::fs::StdFs;
use branchdb::wal::{BranchId, Entry, Op, Options, PutKind, Txn, Wal};
use bson::doc;

fn branchdb(args: &[&str], data: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_branchdb")).args(args).arg(data).output().expect("run branchdb");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn verify_reports_the_range_and_refuses_damage_and_dump_prints_records() {
    let data = tempfile::tempdir().expect("tempdir");
    let options = Options { durability: Durability::Strict, segment_size: 16 * 1024, ..Options::default() };
    let (wal, _) = Wal::open(Arc::new(StdFs), &data.path().join("wal"), options, &mut |_| {}).expect("open");
    for i in 0..300 {
        let entry = Entry::Txn(Txn::new(
            BranchId(1),
            vec![Op::Put { collection: "items".into(), kind: PutKind::Insert, doc: doc! {"_id": i, "name": "widget"} }],
        ));
        wal.commit(&entry, false).expect("commit");
    }
    wal.close().expect("close");
    let last = wal.last_lsn();
    drop(wal);

    let (ok, out) = branchdb(&["wal", "verify"], data.path());
    assert!(ok, "{out}");
    assert!(out.starts_with(&format!("ok: LSN 1..={last} in {} records", last.0)), "{out}");

    let (ok, out) = branchdb(&["wal", "dump", "--from", "2", "--limit", "2"], data.path());
    assert!(ok, "{out}");
    assert!(out.starts_with("lsn=2 "), "{out}");
    assert!(out.contains("lsn=3 ") && !out.contains("lsn=4 "), "{out}");
    assert!(out.contains("insert items { \"_id\": 1, \"name\": \"widget\" }"), "{out}");

    // Damage a record in the first (sealed) segment.
    let first = data.path().join("wal").join("00000000000000000001.wal");
    let mut bytes = std::fs::read(&first).expect("segment");
    bytes[100] ^= 0x04;
    std::fs::write(&first, bytes).expect("write");
    let (ok, out) = branchdb(&["wal", "verify"], data.path());
    assert!(!ok, "damage must fail verify: {out}");
    assert!(out.starts_with("damaged: WAL damaged in") && out.contains("00000000000000000001.wal"), "{out}");
}
