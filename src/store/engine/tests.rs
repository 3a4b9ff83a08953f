use std::ops::Bound;

use super::*;

fn engines() -> Vec<(&'static str, Box<dyn Engine>)> {
    #[allow(unused_mut)]
    let mut engines: Vec<(&'static str, Box<dyn Engine>)> =
        vec![("memory", Box::new(MemoryEngine::new())), ("redb", Box::new(RedbEngine::in_memory().expect("redb")))];
    #[cfg(feature = "slatedb")]
    engines.push(("slatedb", Box::new(slate_tests::in_memory().0)));
    engines
}

#[cfg(feature = "slatedb")]
#[path = "slate_tests.rs"]
mod slate_tests;

fn collect(snapshot: &dyn Snapshot, table: Table, lower: Bound<&[u8]>, upper: Bound<&[u8]>, reverse: bool) -> Vec<u8> {
    let mut keys = Vec::new();
    snapshot
        .scan(table, lower, upper, reverse, &mut |k, _| {
            keys.push(k[0]);
            Ok(true)
        })
        .expect("scan");
    keys
}

#[test]
fn both_engines_scan_both_ways_and_keep_snapshots_apart() {
    for (name, engine) in engines() {
        let mut batch = WriteBatch::default();
        for k in [1u8, 3, 5, 7] {
            batch.put(Table::Docs, vec![k], vec![k * 10]);
        }
        engine.commit(&batch, false).expect("commit");
        let before = engine.snapshot().expect("snapshot");
        let mut batch = WriteBatch::default();
        batch.delete(Table::Docs, vec![3]);
        batch.put(Table::Docs, vec![4], vec![40]);
        engine.commit(&batch, true).expect("commit");
        let after = engine.snapshot().expect("snapshot");
        let all = (Bound::Unbounded, Bound::Unbounded);
        assert_eq!(collect(&*before, Table::Docs, all.0, all.1, false), [1, 3, 5, 7], "{name}");
        assert_eq!(collect(&*after, Table::Docs, all.0, all.1, false), [1, 4, 5, 7], "{name}");
        assert_eq!(collect(&*after, Table::Docs, Bound::Included(&[4]), Bound::Excluded(&[7]), true), [5, 4], "{name}");
        assert_eq!(
            collect(&*after, Table::Docs, Bound::Excluded(&[7]), Bound::Excluded(&[4]), false),
            [0u8; 0],
            "{name}"
        );
        assert_eq!(after.get(Table::Docs, &[4]).expect("get"), Some(vec![40]), "{name}");
        assert_eq!(before.get(Table::Docs, &[4]).expect("get"), None, "{name}");
        assert_eq!(after.get(Table::Catalog, &[4]).expect("get"), None, "{name}: tables are apart");
    }
}

#[test]
fn typed_tables_order_as_their_bytes() {
    for (name, engine) in engines() {
        let mut batch = WriteBatch::default();
        for (ms, lsn) in [(5u64, 9u64), (5, 10), (256, 1), (1, 300)] {
            batch.put(Table::Times, [ms.to_be_bytes(), lsn.to_be_bytes()].concat(), Vec::new());
        }
        batch.put(Table::Meta, b"applied".to_vec(), 42u64.to_be_bytes().to_vec());
        batch.put(Table::Branches, 2u64.to_be_bytes().to_vec(), b"row".to_vec());
        engine.commit(&batch, false).expect("commit");
        let snap = engine.snapshot().expect("snapshot");
        let mut times = Vec::new();
        let upper = [5u64.to_be_bytes(), u64::MAX.to_be_bytes()].concat();
        snap.scan(Table::Times, Bound::Unbounded, Bound::Included(&upper), true, &mut |k, _| {
            times.push((
                u64::from_be_bytes(k[..8].try_into().expect("8")),
                u64::from_be_bytes(k[8..].try_into().expect("8")),
            ));
            Ok(true)
        })
        .expect("scan");
        assert_eq!(times, [(5, 10), (5, 9), (1, 300)], "{name}");
        assert_eq!(snap.get(Table::Meta, b"applied").expect("get"), Some(42u64.to_be_bytes().to_vec()), "{name}");
        assert_eq!(snap.get(Table::Branches, &2u64.to_be_bytes()).expect("get"), Some(b"row".to_vec()), "{name}");
    }
}

#[test]
fn a_staged_batch_reads_through_to_its_own_changes() {
    for (name, engine) in engines() {
        let mut batch = WriteBatch::default();
        for k in [2u8, 4, 6, 8] {
            batch.put(Table::Indexes, vec![k], vec![k]);
        }
        engine.commit(&batch, false).expect("commit");
        let mut staged = Staged::new(engine.snapshot().expect("snapshot"));
        staged.put(Table::Indexes, vec![1], vec![1]);
        staged.put(Table::Indexes, vec![4], vec![44]);
        staged.delete(Table::Indexes, vec![6]);
        staged.put(Table::Indexes, vec![9], vec![9]);
        let mut seen = Vec::new();
        let all = (Bound::Unbounded, Bound::Unbounded);
        staged
            .scan(Table::Indexes, all.0, all.1, false, &mut |k, v| {
                seen.push((k[0], v[0]));
                Ok(true)
            })
            .expect("scan");
        assert_eq!(seen, [(1, 1), (2, 2), (4, 44), (8, 8), (9, 9)], "{name}");
        let mut back = Vec::new();
        staged
            .scan(Table::Indexes, Bound::Excluded(&[1]), Bound::Unbounded, true, &mut |k, _| {
                back.push(k[0]);
                Ok(back.len() < 3)
            })
            .expect("scan");
        assert_eq!(back, [9, 8, 4], "{name}: reverse, stopping early");
        assert_eq!(staged.get(Table::Indexes, &[6]).expect("get"), None, "{name}");
        engine.commit(&staged.into_batch(), false).expect("commit");
        let snap = engine.snapshot().expect("snapshot");
        assert_eq!(collect(&*snap, Table::Indexes, all.0, all.1, false), [1, 2, 4, 8, 9], "{name}");
    }
}

#[test]
fn the_memory_engine_forgets_what_a_crash_would_lose() {
    let engine = MemoryEngine::new();
    let mut batch = WriteBatch::default();
    batch.put(Table::Docs, vec![1], vec![1]);
    engine.commit(&batch, false).expect("commit");
    engine.flush().expect("flush");
    let mut batch = WriteBatch::default();
    batch.put(Table::Docs, vec![2], vec![2]);
    engine.commit(&batch, false).expect("commit");
    engine.crash();
    let snap = engine.snapshot().expect("snapshot");
    assert_eq!(snap.get(Table::Docs, &[1]).expect("get"), Some(vec![1]));
    assert_eq!(snap.get(Table::Docs, &[2]).expect("get"), None);
}
