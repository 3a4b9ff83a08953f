//! What the SlateDB engine adds to the others: it outlives its process in object
//! storage, and a second writer fences the first.

use std::sync::Arc;

use super::super::{Engine, SlateEngine, Table, WriteBatch};
use crate::objects::{InMemory, LocalFileSystem, ObjectStore, Objects, Options};

/// An engine on an object store in memory, and that store, to open it again.
pub fn in_memory() -> (SlateEngine, Arc<dyn ObjectStore>) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    (open(&store), store)
}

fn open(store: &Arc<dyn ObjectStore>) -> SlateEngine {
    SlateEngine::new(Arc::new(Objects::open_in(store.clone(), "db", &Options::default()).expect("open")))
}

fn one(key: u8) -> WriteBatch {
    let mut batch = WriteBatch::default();
    batch.put(Table::Docs, vec![key], vec![key]);
    batch
}

#[test]
fn what_was_made_durable_outlives_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("local store"));
    let engine = open(&store);
    engine.commit(&one(1), true).expect("durable commit");
    engine.commit(&one(2), false).expect("commit");
    engine.flush().expect("flush");
    // Dropped without closing, as by a crash: the local directory is all there is.
    drop(engine);
    let engine = open(&store);
    let snapshot = engine.snapshot().expect("snapshot");
    assert_eq!(snapshot.get(Table::Docs, &[1]).expect("get"), Some(vec![1]));
    assert_eq!(snapshot.get(Table::Docs, &[2]).expect("get"), Some(vec![2]), "flushed before the crash");
}

#[test]
fn a_second_writer_fences_the_first() {
    let (first, store) = in_memory();
    first.commit(&one(1), true).expect("commit");
    let second = open(&store);
    assert!(first.commit(&one(2), true).is_err(), "the fenced writer's durable commit fails");
    second.commit(&one(3), true).expect("the new writer writes");
    let snapshot = second.snapshot().expect("snapshot");
    assert_eq!(snapshot.get(Table::Docs, &[1]).expect("get"), Some(vec![1]));
    assert_eq!(snapshot.get(Table::Docs, &[2]).expect("get"), None, "the fenced write never lands");
}
