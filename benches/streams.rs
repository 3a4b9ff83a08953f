//! Change streams replaying history, on the store and the log as the server drives
//! them (the wire figures, latency and open streams, are `scripts/bench-streams.sh`):
//!
//! - `replay/inserts`: a collection stream started at the first LSN reads back
//!   1,000,000 insert events (documents of about 200 bytes, written 1,000 per
//!   record), through the log reader and the event renderer;
//! - `replay/updates`: 100,000 update events, each with its update description,
//!   which reads the version before it from the store.
//!
//! `cargo bench --bench streams`; events per second are printed as throughput.

mod common;

/// The server's allocator (`src/main.rs`): events are many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use branchdb::config::Durability;
use branchdb::lsn::Lsn;
use branchdb::stream::{BeforeChange, ChangeStream, Feed, FullDocument, Options, Position, Scope, Start, Token};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use common::{load, open, scratch, touch};

fn replay(c: &mut Criterion) {
    const DOCS: i64 = 1_000_000;
    const UPDATES: i64 = 100_000;
    let dir = scratch();
    let (wal, store) = open(dir.path(), Durability::Batched, true);
    load(&store, "shop", "items", 0..DOCS, 200);
    let inserted = store.published().lsn;
    touch(&store, "shop", "items", 0..UPDATES, 1, 0, 200);
    let feed = Feed::new(store.clone(), wal.clone());
    let scope = Scope::Collection { db: "shop".into(), branch: "main".into(), collection: "items".into() };
    let options = Options {
        full_document: FullDocument::Default,
        before_change: BeforeChange::Off,
        expanded: false,
        images_expire_after: None,
    };
    let mut group = c.benchmark_group("replay");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for (name, from, events) in [("inserts", Lsn::ZERO, DOCS as u64), ("updates", inserted, UPDATES as u64)] {
        group.throughput(Throughput::Elements(events));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                for _ in 0..iters {
                    let start = Start::After(Token::new(Position::after(from), false));
                    let mut stream = ChangeStream::open(&feed, scope.clone(), options.clone(), start).expect("open");
                    let mut seen = 0u64;
                    while seen < events {
                        let batch = stream.next_events(1000, &mut || Ok(())).expect("events");
                        assert!(!batch.is_empty(), "the stream ended after {seen} events");
                        seen += batch.len() as u64;
                    }
                    assert_eq!(seen, events);
                }
                started.elapsed()
            })
        });
    }
    group.finish();
    feed.close();
    store.close().expect("close");
}

criterion_group!(benches, replay);
criterion_main!(benches);
