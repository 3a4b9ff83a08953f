//! WAL append throughput for 1, 8 and 64 concurrent writers in each durability mode,
//! with 200-byte and 16 KiB records, on the real file system; and, alongside, the
//! machine's fsync latency (a 4 KiB write + fdatasync), which bounds `strict`.
//!
//! `cargo bench --bench wal`. Criterion reports time per commit across all writers
//! (its inverse is the throughput); mean commit latency is that times the writer count.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use branchdb::config::Durability;
use branchdb::wal::fs::StdFs;
use branchdb::wal::{BranchId, Entry, Op, Options, PutKind, Txn, Wal};
use bson::doc;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn entry(size: usize) -> Entry {
    // The BSON overhead of the record is about 60 bytes.
    let doc = doc! {"_id": 1, "pad": "x".repeat(size.saturating_sub(60))};
    Entry::Txn(Txn::new(BranchId(1), vec![Op::Put { collection: "c".into(), kind: PutKind::Insert, doc }]))
}

fn scratch() -> tempfile::TempDir {
    std::fs::create_dir_all("target/bench-data").expect("scratch dir");
    tempfile::tempdir_in("target/bench-data").expect("tempdir")
}

/// Runs `total` commits split over `writers` threads and returns the elapsed time.
fn run(wal: &Arc<Wal>, writers: u64, total: u64, entry: &Arc<Entry>) -> Duration {
    let per_writer = total.div_ceil(writers).max(1);
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let wal = wal.clone();
            let entry = entry.clone();
            std::thread::spawn(move || {
                for _ in 0..per_writer {
                    wal.commit(&entry, false).expect("commit");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    started.elapsed().mul_f64(total as f64 / (per_writer * writers) as f64)
}

fn append(c: &mut Criterion) {
    for durability in [Durability::Strict, Durability::Batched, Durability::None] {
        let mut group = c.benchmark_group(format!("wal_append_{durability:?}").to_lowercase());
        group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        for size in [200usize, 16 * 1024] {
            for writers in [1u64, 8, 64] {
                let dir = scratch();
                let options = Options { durability, ..Options::default() };
                let (wal, _) = Wal::open(Arc::new(StdFs), dir.path(), options, &mut |_| {}).expect("open");
                let wal = Arc::new(wal);
                let entry = Arc::new(entry(size));
                group.throughput(Throughput::Elements(1));
                group.bench_with_input(BenchmarkId::new(format!("{size}B"), writers), &writers, |b, &writers| {
                    b.iter_custom(|iters| run(&wal, writers, iters, &entry))
                });
                if wal.sync_count() > 0 {
                    println!("  {:.1} commits per fsync", wal.last_lsn().0 as f64 / wal.sync_count() as f64);
                }
                wal.close().expect("close");
            }
        }
        group.finish();
    }
}

fn fsync_latency(c: &mut Criterion) {
    let dir = scratch();
    let path = dir.path().join("fsync-probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    file.write_all(&vec![0u8; 1 << 20]).expect("fill");
    file.sync_all().expect("sync");
    let block = vec![7u8; 4096];
    let mut group = c.benchmark_group("fsync");
    group.sample_size(10).measurement_time(Duration::from_secs(3));
    let mut offset = 0u64;
    group.bench_function("write_4k_fdatasync", |b| {
        b.iter(|| {
            std::os::unix::fs::FileExt::write_all_at(&file, &block, offset).expect("write");
            file.sync_data().expect("fdatasync");
            offset = (offset + 4096) % (1 << 20);
        })
    });
    group.finish();
    drop(file);
    let _ = std::fs::remove_file(Path::new(&path));
}

criterion_group!(benches, fsync_latency, append);
criterion_main!(benches);
