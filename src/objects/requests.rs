//! The requests branchdb's object store receives, counted: each request (a
//! retry is one more), the bytes it carried and the requests that failed, so that
//! the cost of the storage (PUTs per write, GETs per cold read) is visible; a
//! missing object or a conditional write refused is an answer, not a failure. It
//! sits under SlateDB's own retries and cache, so it counts what reaches the
//! storage and nothing the cache answered.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use slatedb::object_store::path::Path;
use slatedb::object_store::{
    CopyOptions, Error, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};

/// What a request does, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Put,
    List,
    Delete,
    Copy,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Get, Kind::Put, Kind::List, Kind::Delete, Kind::Copy];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Get => "get",
            Kind::Put => "put",
            Kind::List => "list",
            Kind::Delete => "delete",
            Kind::Copy => "copy",
        }
    }
}

/// The counts, shared by the store and whoever reads them.
#[derive(Debug, Default)]
pub struct Requests {
    made: [AtomicU64; 5],
    failed: [AtomicU64; 5],
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

impl Requests {
    /// Requests of `kind` made, and how many of them failed.
    pub fn count(&self, kind: Kind) -> (u64, u64) {
        let at = kind as usize;
        (self.made[at].load(Ordering::Relaxed), self.failed[at].load(Ordering::Relaxed))
    }

    /// Bytes received from the storage (object data), and sent to it.
    pub fn bytes(&self) -> (u64, u64) {
        (self.bytes_read.load(Ordering::Relaxed), self.bytes_written.load(Ordering::Relaxed))
    }

    fn note<T>(&self, kind: Kind, outcome: &Result<T>) {
        self.made[kind as usize].fetch_add(1, Ordering::Relaxed);
        if outcome.as_ref().is_err_and(failed) {
            self.failed[kind as usize].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether `error` is a failure of the storage, not one of its answers: a missing
/// object, a conditional write that found the object there or changed (how
/// SlateDB fences writers), or an option the storage does not take (SlateDB asks
/// again without it) are answers.
fn failed(error: &Error) -> bool {
    !matches!(
        error,
        Error::NotFound { .. }
            | Error::AlreadyExists { .. }
            | Error::Precondition { .. }
            | Error::NotModified { .. }
            | Error::NotImplemented { .. }
            | Error::NotSupported { .. }
    )
}

/// An object store whose requests are counted in [`Requests`].
#[derive(Debug)]
pub struct Counted {
    inner: Arc<dyn ObjectStore>,
    requests: Arc<Requests>,
}

impl Counted {
    pub fn new(inner: Arc<dyn ObjectStore>, requests: Arc<Requests>) -> Counted {
        Counted { inner, requests }
    }
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counted({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Counted {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let size = payload.content_length() as u64;
        let outcome = self.inner.put_opts(location, payload, opts).await;
        self.requests.note(Kind::Put, &outcome);
        if outcome.is_ok() {
            self.requests.bytes_written.fetch_add(size, Ordering::Relaxed);
        }
        outcome
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        let outcome = self.inner.put_multipart_opts(location, opts).await;
        self.requests.note(Kind::Put, &outcome);
        let upload = outcome?;
        Ok(Box::new(CountedUpload { inner: upload, requests: self.requests.clone() }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let outcome = self.inner.get_opts(location, options).await;
        self.requests.note(Kind::Get, &outcome);
        if let (Ok(result), false) = (&outcome, head) {
            self.requests.bytes_read.fetch_add(result.range.end - result.range.start, Ordering::Relaxed);
        }
        outcome
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let outcome = self.inner.get_ranges(location, ranges).await;
        self.requests.note(Kind::Get, &outcome);
        if let Ok(parts) = &outcome {
            let size: usize = parts.iter().map(Bytes::len).sum();
            self.requests.bytes_read.fetch_add(size as u64, Ordering::Relaxed);
        }
        outcome
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        let requests = self.requests.clone();
        self.inner
            .delete_stream(locations)
            .map(move |outcome| {
                requests.note(Kind::Delete, &outcome);
                outcome
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.requests.made[Kind::List as usize].fetch_add(1, Ordering::Relaxed);
        let requests = self.requests.clone();
        self.inner
            .list(prefix)
            .map(move |outcome| {
                if outcome.as_ref().is_err_and(failed) {
                    requests.failed[Kind::List as usize].fetch_add(1, Ordering::Relaxed);
                }
                outcome
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let outcome = self.inner.list_with_delimiter(prefix).await;
        self.requests.note(Kind::List, &outcome);
        outcome
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let outcome = self.inner.copy_opts(from, to, options).await;
        self.requests.note(Kind::Copy, &outcome);
        outcome
    }
}

/// A multipart upload whose parts are counted as puts.
#[derive(Debug)]
struct CountedUpload {
    inner: Box<dyn MultipartUpload>,
    requests: Arc<Requests>,
}

#[async_trait]
impl MultipartUpload for CountedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let size = data.content_length() as u64;
        let part = self.inner.put_part(data);
        let requests = self.requests.clone();
        Box::pin(async move {
            let outcome = part.await;
            requests.note(Kind::Put, &outcome);
            if outcome.is_ok() {
                requests.bytes_written.fetch_add(size, Ordering::Relaxed);
            }
            outcome
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let outcome = self.inner.complete().await;
        self.requests.note(Kind::Put, &outcome);
        outcome
    }

    async fn abort(&mut self) -> Result<()> {
        let outcome = self.inner.abort().await;
        self.requests.note(Kind::Delete, &outcome);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use slatedb::object_store::memory::InMemory;
    use slatedb::object_store::ObjectStoreExt;

    use super::*;

    #[test]
    fn requests_and_bytes_are_counted() {
        let requests = Arc::new(Requests::default());
        let store = Counted::new(Arc::new(InMemory::new()), requests.clone());
        futures::executor::block_on(async {
            store.put(&Path::from("a"), PutPayload::from_static(b"hello")).await.expect("put");
            let got = store.get(&Path::from("a")).await.expect("get").bytes().await.expect("bytes");
            assert_eq!(&got[..], b"hello");
            assert!(store.get(&Path::from("missing")).await.is_err());
        });
        assert_eq!(requests.count(Kind::Put), (1, 0));
        // A missing object is an answer, not a failure.
        assert_eq!(requests.count(Kind::Get), (2, 0));
        assert_eq!(requests.bytes(), (5, 5));
    }
}
