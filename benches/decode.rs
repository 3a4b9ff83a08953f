//! Decoding BSON into documents: `value::decode` against the `bson` crate's own
//! conversion (`Document::try_from(&RawDocument)`), on 100,000 documents of the
//! load tool's `insert` workload and on 100,000 operations of its `bulk-write`
//! workload (documents around documents).
//!
//! `cargo bench --bench decode`.

use bson::{doc, Document, RawDocument};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

fn item(id: i64) -> Document {
    doc! {"_id": id, "n": id, "name": "load", "k": id % 100, "u": id}
}

fn encoded(docs: impl Iterator<Item = Document>) -> Vec<Vec<u8>> {
    docs.map(|d| {
        let mut bytes = Vec::new();
        d.to_writer(&mut bytes).expect("encodes");
        bytes
    })
    .collect()
}

fn workloads() -> [(&'static str, Vec<Vec<u8>>); 2] {
    let items = encoded((0..100_000).map(item));
    let ops = encoded((0..25_000i64).flat_map(|i| {
        let (kept, deleted) = (2 * i, 2 * i + 1);
        [
            doc! {"insert": 0, "document": item(kept)},
            doc! {"insert": 0, "document": item(deleted)},
            doc! {"update": 0, "filter": {"_id": kept}, "updateMods": {"$inc": {"n": 1}}, "multi": false},
            doc! {"delete": 0, "filter": {"_id": deleted}, "multi": false},
        ]
    }));
    [("insert documents", items), ("bulkWrite operations", ops)]
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode 100,000");
    group.sample_size(10);
    for (name, set) in workloads() {
        group.bench_function(format!("{name}: value::decode"), |b| {
            b.iter_batched(
                || (),
                |()| set.iter().map(|bytes| branchdb::value::decode(bytes).expect("decodes")).collect::<Vec<_>>(),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("{name}: the bson crate"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    set.iter()
                        .map(|bytes| Document::try_from(RawDocument::from_bytes(bytes).expect("raw")).expect("decodes"))
                        .collect::<Vec<_>>()
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
