//! Set-up shared by the store benchmarks: a store on the real file system, and bulk
//! loading through the same write path the server uses.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use branchdb::config::Durability;
use branchdb::namespace::DbRef;
use branchdb::store::{self, PutKind, Store};
use branchdb::wal::fs::StdFs;
use branchdb::wal::{Options, Wal};
use bson::{doc, Document};

pub fn scratch() -> tempfile::TempDir {
    std::fs::create_dir_all("target/bench-data").expect("scratch dir");
    tempfile::tempdir_in("target/bench-data").expect("tempdir")
}

pub fn open(dir: &Path, durability: Durability, background: bool) -> (Arc<Wal>, Arc<Store>) {
    let options = Options { durability, ..Options::default() };
    let (wal, _) = Wal::open(Arc::new(StdFs), &dir.join("wal"), options, &mut |_| {}).expect("wal");
    let wal = Arc::new(wal);
    let options = store::Options {
        retention: Duration::from_secs(7 * 86_400),
        background,
        cache_bytes: store::DEFAULT_CACHE,
        follower: false,
    };
    let store = Store::open(store::Location::Dir(&dir.join("store")), wal.clone(), options).expect("store");
    (wal, store)
}

pub fn db(name: &str) -> DbRef {
    DbRef::parse(name).expect("db name")
}

/// A document of about `size` bytes.
pub fn document(id: i64, size: usize) -> Document {
    doc! {"_id": id, "n": id, "name": format!("item-{id}"), "pad": "x".repeat(size.saturating_sub(48))}
}

/// Inserts documents `ids` into `target.coll`, 1,000 per write.
pub fn load(store: &Store, target: &str, coll: &str, ids: std::ops::Range<i64>, size: usize) {
    let target = db(target);
    let ids: Vec<i64> = ids.collect();
    for chunk in ids.chunks(1000) {
        store
            .write(&target, false, None, |batch| {
                let c = batch.collection_or_create(coll)?;
                for &id in chunk {
                    batch.put(&c, PutKind::Insert, document(id, size))?;
                }
                Ok(())
            })
            .expect("load");
    }
}

/// Rewrites every `step`-th document of `ids` on `target` (1% with step 100).
pub fn touch(
    store: &Store,
    target: &str,
    coll: &str,
    ids: std::ops::Range<i64>,
    step: usize,
    offset: i64,
    size: usize,
) {
    let target = db(target);
    let ids: Vec<i64> = ids.skip(offset as usize).step_by(step).collect();
    for chunk in ids.chunks(1000) {
        store
            .write(&target, false, None, |batch| {
                let c = batch.collection_or_create(coll)?;
                for &id in chunk {
                    let mut d = document(id, size);
                    d.insert("touched", target.branch.clone());
                    batch.put(&c, PutKind::Update, d)?;
                }
                Ok(())
            })
            .expect("touch");
    }
}

/// Bytes under `dir`, as the file system allocates them.
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}
