//! The branch figures of the branches issue, on the store as the server drives it:
//!
//! - `create_branch/1000` vs `create_branch/1000000`: creating a branch of a
//!   database holding 1,000 or 1,000,000 documents (strict durability: each create
//!   waits for its fsync);
//! - `find_by_id/main` vs `find_by_id/depth-5`: a point read on `main` and on a
//!   branch five levels below it, each level having rewritten 1% of the documents;
//! - `scan/main` vs `scan/branch-1pct`: a full scan of 100,000 documents on `main`
//!   and on a branch that rewrote 1% of them.
//!
//! `cargo bench --bench branches`. Compare the pairs within one run.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use branchdb::config::Durability;
use bson::Bson;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use common::{db, load, open, scratch, touch};

fn create_branch(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_branch");
    group.sample_size(50).measurement_time(Duration::from_secs(10));
    for docs in [1_000i64, 1_000_000] {
        let dir = scratch();
        let (_wal, store) = open(dir.path(), Durability::Strict, true);
        load(&store, "shop", "items", 0..docs, 200);
        let mut n = 0u64;
        group.bench_with_input(BenchmarkId::from_parameter(docs), &docs, |b, _| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let name = format!("b{n}");
                    let started = Instant::now();
                    store.create_branch("shop", &name, "main", None).expect("create");
                    spent += started.elapsed();
                    store.drop_branch("shop", &name).expect("drop");
                }
                spent
            })
        });
        store.close().expect("close");
    }
    group.finish();
}

fn find_by_id(c: &mut Criterion) {
    const DOCS: i64 = 1_000_000;
    let dir = scratch();
    let (_wal, store) = open(dir.path(), Durability::Batched, true);
    load(&store, "shop", "items", 0..DOCS, 200);
    let mut parent = "main".to_owned();
    for level in 1..=5 {
        let name = format!("level-{level}");
        store.create_branch("shop", &name, &parent, None).expect("branch");
        touch(&store, &format!("shop@{name}"), "items", 0..DOCS, 100, level, 200);
        parent = name;
    }
    let mut group = c.benchmark_group("find_by_id");
    for (label, target) in [("main", "shop".to_owned()), ("depth-5", format!("shop@{parent}"))] {
        let target = db(&target);
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        group.bench_function(label, |b| {
            b.iter(|| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let view = store.view(&target, None).expect("view");
                let coll = view.collection("items").expect("catalog").expect("collection");
                black_box(view.get(coll.id, &Bson::Int64((rng % DOCS as u64) as i64)).expect("get"))
            })
        });
    }
    group.finish();
    store.close().expect("close");
}

fn scan(c: &mut Criterion) {
    const DOCS: i64 = 100_000;
    let dir = scratch();
    let (_wal, store) = open(dir.path(), Durability::Batched, true);
    load(&store, "shop", "items", 0..DOCS, 200);
    store.create_branch("shop", "changed", "main", None).expect("branch");
    touch(&store, "shop@changed", "items", 0..DOCS, 100, 0, 200);
    let mut group = c.benchmark_group("scan");
    group.sample_size(20);
    for (label, target) in [("main", "shop"), ("branch-1pct", "shop@changed")] {
        let target = db(target);
        group.bench_function(label, |b| {
            b.iter(|| {
                let view = store.view(&target, None).expect("view");
                let coll = view.collection("items").expect("catalog").expect("collection");
                let mut count = 0u64;
                view.scan(coll.id, None, |_, _| {
                    count += 1;
                    Ok(true)
                })
                .expect("scan");
                assert_eq!(count, DOCS as u64);
                count
            })
        });
    }
    group.finish();
    store.close().expect("close");
}

criterion_group!(benches, create_branch, find_by_id, scan);
criterion_main!(benches);
