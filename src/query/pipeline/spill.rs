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
use crate::memory::Reservation;
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
///
/// The first run is written when the documents reach the limit; from then on the
/// sort knows it spills, and writes each run on a thread of its own while it
/// gathers the next, at half the limit each, so that the two never hold more than
/// the limit together.
pub(super) fn sort<'a>(sort: &'a Sort, docs: Docs<'a>, mut held: Held) -> Result<Docs<'a>> {
    let mut keys: Vec<EncodedKey> = Vec::new();
    let mut buffer: Vec<Document> = Vec::new();
    let mut runs = Vec::new();
    let mut writing: Option<Writing> = None;
    for doc in docs {
        let doc = doc?;
        let key = sort.encoded_key(&doc)?;
        held.add(document_footprint(&doc) + key.footprint()).map_err(|e| sort_error(e, held.limit()))?;
        keys.push(key);
        buffer.push(doc);
        let spilling = !runs.is_empty() || writing.is_some();
        let full = if spilling { 2 * held.bytes() > held.limit() } else { held.over() };
        if !full {
            continue;
        }
        let order = sorted_order(sort, &keys, &buffer);
        keys.clear();
        let batch = std::mem::take(&mut buffer);
        if !spilling {
            runs.push(Run::write(order.iter().map(|&i| &batch[i]))?);
            held.clear();
            continue;
        }
        if let Some(previous) = writing.take() {
            runs.push(previous.finish()?);
        }
        writing = Some(Writing::start(batch, order, held.hand_off())?);
    }
    if let Some(last) = writing.take() {
        runs.push(last.finish()?);
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
    merged_in_background(Merge::new(sort.clone(), runs)?)
}

/// A sorted run being written on a thread of its own, with the memory its
/// documents hold until they are written.
struct Writing(std::thread::JoinHandle<Result<Run>>);

impl Writing {
    fn start(docs: Vec<Document>, order: Vec<usize>, held: Reservation) -> Result<Writing> {
        let thread = std::thread::Builder::new().name("sort-spill".into()).spawn(move || {
            let run = Run::write(order.iter().map(|&i| &docs[i]));
            drop(docs);
            drop(held);
            run
        })?;
        Ok(Writing(thread))
    }

    /// The run, once written.
    fn finish(self) -> Result<Run> {
        self.0.join().map_err(|_| Error::Internal("writing a sort run failed".into()))?
    }
}

/// Documents a merge hands over at a time.
const MERGE_BATCH: usize = 256;
/// Batches a merge may have ready before the stages after the sort take them.
const MERGE_AHEAD: usize = 4;

/// The merge's documents, merged on a thread of its own and handed over in
/// batches: reading the runs back (decoding each document again) overlaps the
/// stages that take them. At most [`MERGE_AHEAD`] batches wait; when the reader
/// stops early (`$limit`), the merge stops at its next batch and its runs go.
fn merged_in_background(merge: Merge) -> Result<Docs<'static>> {
    let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Result<Document>>>(MERGE_AHEAD);
    std::thread::Builder::new().name("sort-merge".into()).spawn(move || {
        let mut batch = Vec::with_capacity(MERGE_BATCH);
        for item in merge {
            let failed = item.is_err();
            batch.push(item);
            if batch.len() < MERGE_BATCH && !failed {
                continue;
            }
            let sent = batches.send(std::mem::replace(&mut batch, Vec::with_capacity(MERGE_BATCH)));
            if sent.is_err() || failed {
                return;
            }
        }
        let _ = batches.send(batch);
    })?;
    Ok(Box::new(received.into_iter().flatten()))
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
struct Merge {
    sort: Sort,
    runs: Vec<Run>,
    /// The next document of each run, with its key.
    heads: Vec<Option<(EncodedKey, Document)>>,
}

impl Merge {
    /// Reads the first document of every run.
    fn new(sort: Sort, mut runs: Vec<Run>) -> Result<Merge> {
        let heads = runs.iter_mut().map(|run| head(&sort, run)).collect::<Result<Vec<_>>>()?;
        Ok(Merge { sort, runs, heads })
    }
}

/// A run's next document and its key.
fn head(sort: &Sort, run: &mut Run) -> Result<Option<(EncodedKey, Document)>> {
    run.next()?.map(|doc| Ok((sort.encoded_key(&doc)?, doc))).transpose()
}

impl Iterator for Merge {
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
        let next = match head(&self.sort, &mut self.runs[at]) {
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
