//! The memory limit of blocking stages, and the external merge sort `$sort` falls
//! back on past it when the command allows disk use.
//!
//! Like MongoDB, a `$sort` or `$group` holding more than 100 MB fails with
//! `QueryExceededMemoryLimitNoDiskUseAllowed` (292) unless `allowDiskUse` is set.
//! With it, `$sort` writes sorted runs to temporary files (removed when the run is
//! dropped) and merges them; `$group` writes its groups sorted by key, and merges
//! the runs' partial groups (`group.rs`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use bson::Document;

use super::held::Held;
use super::Docs;
use crate::error::{Error, ErrorCode, Result};
use crate::query::sort::EncodedKey;
use crate::query::Sort;
use crate::value::size::document_footprint;

/// How many bytes a blocking stage may hold: MongoDB's 100 MB.
pub const MEMORY_LIMIT: usize = 100 * 1024 * 1024;

/// The memory a blocking stage may use, and whether it may go past it on disk.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) memory: usize,
    /// `$group`'s own limit.
    pub(super) group_memory: usize,
    pub(super) allow_disk_use: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { memory: MEMORY_LIMIT, group_memory: MEMORY_LIMIT, allow_disk_use: false }
    }
}

/// Sorts a stream of documents (stably). In memory while it fits in the stage's
/// limit; past it, an error without `allowDiskUse`, else sorted runs on disk merged
/// as the result is pulled. `held` counts what is in memory.
pub(super) fn sort<'a>(sort: &'a Sort, docs: Docs<'a>, mut held: Held) -> Result<Docs<'a>> {
    let mut keys: Vec<EncodedKey> = Vec::new();
    let mut buffer: Vec<Document> = Vec::new();
    let mut runs = Vec::new();
    for doc in docs {
        let doc = doc?;
        let key = sort.encoded_key(&doc)?;
        held.add(document_footprint(&doc) + key.footprint()).map_err(|e| sort_error(e, held.limit()))?;
        keys.push(key);
        buffer.push(doc);
        if held.over() {
            let order = sorted_order(sort, &keys, &buffer);
            runs.push(Run::write(order.iter().map(|&i| &buffer[i]))?);
            keys.clear();
            buffer.clear();
            held.clear();
        }
    }
    let order = sorted_order(sort, &keys, &buffer);
    if runs.is_empty() {
        let mut slots: Vec<Option<Document>> = buffer.into_iter().map(Some).collect();
        let sorted = order.into_iter().filter_map(move |i| slots[i].take()).map(Ok);
        return Ok(held.keep_while(Box::new(sorted)));
    }
    if !buffer.is_empty() {
        runs.push(Run::write(order.iter().map(|&i| &buffer[i]))?);
    }
    held.clear();
    Ok(Box::new(Merge::new(sort, runs)?))
}

/// The positions of `keys` (of `docs`) in sorted order (stable: equal keys keep
/// their order). Sorting positions moves eight bytes per step instead of a document.
fn sorted_order(sort: &Sort, keys: &[EncodedKey], docs: &[Document]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| sort.compare_encoded((&keys[a], &docs[a]), (&keys[b], &docs[b])));
    order
}

/// `$sort`'s own message for going past its limit without `allowDiskUse`.
fn sort_error(e: Error, limit: usize) -> Error {
    match e.code() {
        ErrorCode::QueryExceededMemoryLimitNoDiskUseAllowed => Error::command(
            ErrorCode::QueryExceededMemoryLimitNoDiskUseAllowed,
            format!("Sort exceeded memory limit of {limit} bytes, but did not opt in to external sorting."),
        ),
        _ => e,
    }
}

/// Numbers the temporary files of this process.
static RUN_FILES: AtomicU64 = AtomicU64::new(0);

/// A sorted run of documents in a temporary file, removed when the run is dropped.
pub(super) struct Run {
    path: PathBuf,
    reader: BufReader<File>,
    /// Documents not read back yet.
    left: usize,
}

impl Run {
    /// Writes the documents, in the order given, BSON after BSON, to a new file.
    pub(super) fn write<'d>(docs: impl ExactSizeIterator<Item = &'d Document>) -> Result<Run> {
        let number = RUN_FILES.fetch_add(1, AtomicOrdering::Relaxed);
        let path = std::env::temp_dir().join(format!("branchdb-spill-{}-{number}.bson", std::process::id()));
        let file = File::options().read(true).write(true).create_new(true).open(&path)?;
        // From here on, dropping the run removes the file, whatever fails.
        let mut run = Run { path, reader: BufReader::new(file), left: docs.len() };
        let mut writer = BufWriter::new(run.reader.get_mut());
        let mut bytes = Vec::new();
        for doc in docs {
            bytes.clear();
            crate::value::encode(doc, &mut bytes);
            writer.write_all(&bytes)?;
        }
        writer.flush()?;
        drop(writer);
        // Nothing was read yet, so the reader's buffer is empty.
        run.reader.get_mut().rewind()?;
        Ok(run)
    }

    /// The next document of the run, `None` at its end.
    pub(super) fn next(&mut self) -> Result<Option<Document>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let doc = crate::value::decode_next(&mut self.reader)
            .map_err(|e| Error::command(ErrorCode::InternalError, format!("reading a sort run back: {e}")))?;
        Ok(Some(doc))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // Nothing to do about a file that is already gone.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The documents of several sorted runs, merged into one order. Equal keys come
/// out run by run, so the merge keeps the sort stable.
struct Merge<'a> {
    sort: &'a Sort,
    runs: Vec<Run>,
    /// The next document of each run, with its key.
    heads: Vec<Option<(EncodedKey, Document)>>,
}

impl<'a> Merge<'a> {
    /// Reads the first document of every run.
    fn new(sort: &'a Sort, mut runs: Vec<Run>) -> Result<Merge<'a>> {
        let heads = runs.iter_mut().map(|run| head(sort, run)).collect::<Result<Vec<_>>>()?;
        Ok(Merge { sort, runs, heads })
    }
}

/// A run's next document and its key.
fn head(sort: &Sort, run: &mut Run) -> Result<Option<(EncodedKey, Document)>> {
    run.next()?.map(|doc| Ok((sort.encoded_key(&doc)?, doc))).transpose()
}

impl Iterator for Merge<'_> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        let mut first: Option<usize> = None;
        for (at, entry) in self.heads.iter().enumerate() {
            let Some((key, doc)) = entry else { continue };
            let earlier = first.and_then(|f| self.heads[f].as_ref()).map(|(k, d)| (k, d));
            if earlier.is_none_or(|best| self.sort.compare_encoded((key, doc), best).is_lt()) {
                first = Some(at);
            }
        }
        let at = first?;
        let next = match head(self.sort, &mut self.runs[at]) {
            Ok(next) => next,
            Err(e) => {
                self.heads.clear();
                return Some(Err(e));
            }
        };
        let (_, doc) = std::mem::replace(&mut self.heads[at], next)?;
        Some(Ok(doc))
    }
}
