//! The branch lifecycle figures of SPEC §3.1, on the store as the server drives it:
//!
//! - `diff/10000` vs `diff/1000000`: the whole diff (candidates from the changes
//!   table, then each read on both sides) between `main` and a branch that changed
//!   100 documents of a database of 10,000 or 1,000,000;
//! - `merge/10000`: merging a branch that changed 10,000 documents (of 100,000) into
//!   `main`, one record, strict durability (waits for its fsync);
//! - `reset/1000000`: resetting `main` of a 1,000,000-document database to a past
//!   point, strict durability.
//!
//! `cargo bench --bench lifecycle`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use branchdb::config::Durability;
use branchdb::store::{diff, MergeRequest, Strategy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use common::{db, load, open, scratch, touch};

fn diff_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff");
    group.sample_size(50);
    for docs in [10_000i64, 1_000_000] {
        let dir = scratch();
        let (_wal, store) = open(dir.path(), Durability::Batched, true);
        load(&store, "shop", "items", 0..docs, 200);
        store.create_branch("shop", "feature", "main", None).expect("branch");
        touch(&store, "shop@feature", "items", 0..docs, (docs / 100) as usize, 1, 200);
        let (from, to) = (db("shop"), db("shop@feature"));
        group.bench_with_input(BenchmarkId::from_parameter(docs), &docs, |b, _| {
            b.iter(|| {
                let (a, z) = store.view_pair(&from, &to).expect("views");
                let found = diff::differences(&a, &z, None, usize::MAX).expect("diff");
                assert_eq!(found.len(), 100);
                black_box(found)
            })
        });
        store.close().expect("close");
    }
    group.finish();
}

fn merge(c: &mut Criterion) {
    const DOCS: i64 = 100_000;
    let dir = scratch();
    let (_wal, store) = open(dir.path(), Durability::Strict, true);
    load(&store, "shop", "items", 0..DOCS, 200);
    let mut group = c.benchmark_group("merge");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    let mut n = 0;
    group.bench_function(BenchmarkId::from_parameter(10_000), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let name = format!("f{n}");
                store.create_branch("shop", &name, "main", None).expect("branch");
                touch(&store, &format!("shop@{name}"), "items", 0..DOCS, 10, n % 10, 200);
                let request =
                    MergeRequest { db: "shop", source: &name, into: None, strategy: Strategy::Fail, dry_run: false };
                let started = Instant::now();
                let merged = store.merge(&request).expect("merge");
                spent += started.elapsed();
                assert_eq!(merged.updated, 10_000);
                store.drop_branch("shop", &name).expect("drop");
            }
            spent
        })
    });
    group.finish();
    store.close().expect("close");
}

fn reset(c: &mut Criterion) {
    const DOCS: i64 = 1_000_000;
    let dir = scratch();
    let (_wal, store) = open(dir.path(), Durability::Strict, true);
    load(&store, "shop", "items", 0..DOCS / 2, 200);
    let half = store.published().lsn;
    load(&store, "shop", "items", DOCS / 2..DOCS, 200);
    let full = store.published().lsn;
    let mut group = c.benchmark_group("reset");
    let mut n = 0u64;
    group.bench_function(BenchmarkId::from_parameter(DOCS), |b| {
        b.iter(|| {
            n += 1;
            let to = if n.is_multiple_of(2) { half } else { full };
            black_box(store.reset_branch("shop", "main", &db(&format!("shop@main~{to}"))).expect("reset"))
        })
    });
    group.finish();
    store.close().expect("close");
}

criterion_group!(benches, diff_cost, merge, reset);
criterion_main!(benches);
