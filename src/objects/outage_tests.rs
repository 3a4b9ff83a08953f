//! Writes while the object storage is away: made or refused in bounded time, never
//! held without limit by SlateDB's back-pressure, and taken again once it is back.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use slatedb::object_store::path::Path;
use slatedb::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, PutMultipartOptions, PutOptions,
    PutPayload, PutResult,
};

use super::*;

/// An object store in memory that can be made unreachable: every request fails
/// while `away` (SlateDB retries them).
#[derive(Debug)]
struct Switchable {
    inner: InMemory,
    away: Arc<AtomicBool>,
}

impl Switchable {
    fn reachable(&self) -> object_store::Result<()> {
        match self.away.load(Ordering::Acquire) {
            false => Ok(()),
            true => Err(object_store::Error::Generic {
                store: "switchable",
                source: Box::new(std::io::Error::other("the storage is away")),
            }),
        }
    }
}

impl fmt::Display for Switchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Switchable({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Switchable {
    async fn put_opts(&self, at: &Path, payload: PutPayload, opts: PutOptions) -> object_store::Result<PutResult> {
        self.reachable()?;
        self.inner.put_opts(at, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        at: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.reachable()?;
        self.inner.put_multipart_opts(at, opts).await
    }

    async fn get_opts(&self, at: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.reachable()?;
        self.inner.get_opts(at, options).await
    }

    async fn get_ranges(&self, at: &Path, ranges: &[Range<u64>]) -> object_store::Result<Vec<Bytes>> {
        self.reachable()?;
        self.inner.get_ranges(at, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        match self.reachable() {
            Ok(()) => self.inner.delete_stream(locations),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        match self.reachable() {
            Ok(()) => self.inner.list(prefix),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.reachable()?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.reachable()?;
        self.inner.copy_opts(from, to, options).await
    }
}

#[test]
fn writes_are_refused_not_held_while_the_storage_is_away_and_taken_once_it_is_back() {
    let away = Arc::new(AtomicBool::new(false));
    let store = Arc::new(Switchable { inner: InMemory::new(), away: away.clone() });
    // Turns wait past 1 MiB undurable; SlateDB's back-pressure starts at 8 MiB.
    let options = Options { max_unflushed_bytes: 8 << 20, ..Options::default() };
    let objects = Objects::open_in(store, "db", &options).expect("open");
    let before = objects.write([(b"before".to_vec(), Some(b"x".to_vec()))]).expect("write");
    objects.await_durable(&before).expect("durable");

    away.store(true, Ordering::Release);
    let value = vec![7u8; 256 << 10];
    let (mut made, mut refused) = (0, 0);
    // Up to 64 MiB offered: past SlateDB's limit, its back-pressure would hold a
    // write for as long as the storage is away.
    for i in 0u32..256 {
        let started = Instant::now();
        match objects.write([(i.to_be_bytes().to_vec(), Some(value.clone()))]) {
            Ok(_) => made += 1,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::HostUnreachable, "{e}");
                refused += 1;
            }
        }
        assert!(started.elapsed() < UNREACHABLE_AFTER + Duration::from_secs(2), "write {i} was held");
        if refused == 2 {
            break;
        }
    }
    assert_eq!(refused, 2);
    assert!((4..=5).contains(&made), "{made} writes of 256 KiB made past a 1 MiB limit");

    away.store(false, Ordering::Release);
    // Back: what was made becomes durable, and writes are taken again.
    let after = objects.write([(b"after".to_vec(), Some(b"y".to_vec()))]).expect("write once back");
    objects.await_durable(&after).expect("durable once back");
    let snapshot = objects.snapshot().expect("snapshot");
    assert!(snapshot.get(3u32.to_be_bytes().to_vec()).expect("get").is_some());
    objects.close().expect("close");
}
