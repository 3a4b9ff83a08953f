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

use bson::{Document, RawDocument};

use super::held::Held;
use super::{Docs, RawDocs};
use crate::error::{Error, ErrorCode, Result};
use crate::memory::Reservation;
use crate::query::sort::EncodedKey;
use crate::query::Sort;
use crate::value::decode;
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
pub(super) fn sort<'a>(sort: &'a Sort, docs: Docs<'a>, held: Held) -> Result<Docs<'a>> {
    let items = docs.map(|doc| {
        let doc = doc?;
        Ok((sort.encoded_key(&doc)?, Item::Decoded(Box::new(doc))))
    });
    sort_items(sort, items, held)
}

/// A document given as its BSON bytes, with its key when the bytes give it (read
/// where the document is, on the scan's thread).
pub struct RawDoc {
    key: Option<EncodedKey>,
    bytes: Vec<u8>,
}

impl RawDoc {
    /// A copy of `bytes`, keyed by `sort` when its key can be read from them.
    pub fn keyed(sort: &Sort, bytes: &[u8]) -> Result<RawDoc> {
        let document = RawDocument::from_bytes(bytes).map_err(unreadable)?;
        Ok(RawDoc { key: sort.raw_encoded_key(document)?, bytes: bytes.to_vec() })
    }
}

/// [`sort`] of documents given as their BSON bytes (a collection scan feeding a
/// leading `$sort`): keys are read from the bytes, and a document is decoded once,
/// when the sort hands it on, instead of before it is sorted and again after a
/// spill. A document whose key needs it decoded (an array on a sort path) is
/// decoded first.
pub(super) fn sort_raw<'a>(sort: &'a Sort, raws: RawDocs<'a>, held: Held) -> Result<Docs<'a>> {
    let items = raws.map(|raw| match raw? {
        RawDoc { key: Some(key), bytes } => Ok((key, Item::Raw(bytes))),
        RawDoc { key: None, bytes } => {
            let doc = decode(&bytes).map_err(unreadable)?;
            Ok((sort.encoded_key(&doc)?, Item::Decoded(Box::new(doc))))
        }
    });
    sort_items(sort, items, held)
}

/// A document being sorted: decoded (boxed, so that an item of bytes takes only
/// a vector's room), or still its BSON bytes.
enum Item {
    Decoded(Box<Document>),
    Raw(Vec<u8>),
}

impl Item {
    /// The memory the item holds.
    fn footprint(&self) -> usize {
        match self {
            Item::Decoded(doc) => std::mem::size_of::<Item>() + document_footprint(doc),
            Item::Raw(bytes) => std::mem::size_of::<Item>() + bytes.capacity(),
        }
    }

    /// The decoded document.
    fn into_document(self) -> Result<Document> {
        match self {
            Item::Decoded(doc) => Ok(*doc),
            Item::Raw(bytes) => decode(&bytes).map_err(unreadable),
        }
    }

    /// Appends the item's BSON to `out`.
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Item::Decoded(doc) => crate::value::encode(doc, out),
            Item::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
}

fn unreadable(e: bson::raw::Error) -> Error {
    Error::command(ErrorCode::InternalError, format!("a document that does not read back: {e}"))
}

fn sort_items<'a>(
    sort: &'a Sort,
    items: impl Iterator<Item = Result<(EncodedKey, Item)>> + 'a,
    mut held: Held,
) -> Result<Docs<'a>> {
    let mut keys: Vec<EncodedKey> = Vec::new();
    let mut buffer: Vec<Item> = Vec::new();
    let mut runs = Vec::new();
    let mut writing: Option<Writing> = None;
    for item in items {
        let (key, item) = item?;
        held.add(item.footprint() + key.footprint()).map_err(|e| sort_error(e, held.limit()))?;
        keys.push(key);
        buffer.push(item);
        let spilling = !runs.is_empty() || writing.is_some();
        let full = if spilling { 2 * held.bytes() > held.limit() } else { held.over() };
        if !full {
            continue;
        }
        let order = sorted_order(sort, &keys, &buffer);
        let (batch, batch_keys) = (std::mem::take(&mut buffer), std::mem::take(&mut keys));
        if !spilling {
            runs.push(Run::write_keyed(order.iter().map(|&i| (&batch_keys[i], &batch[i])))?);
            held.clear();
            continue;
        }
        if let Some(previous) = writing.take() {
            runs.push(previous.finish()?);
        }
        writing = Some(Writing::start(batch, batch_keys, order, held.hand_off())?);
    }
    if let Some(last) = writing.take() {
        runs.push(last.finish()?);
    }
    let order = sorted_order(sort, &keys, &buffer);
    if runs.is_empty() {
        let mut slots: Vec<Option<Item>> = buffer.into_iter().map(Some).collect();
        let sorted = order.into_iter().filter_map(move |i| slots[i].take()).map(Item::into_document);
        return Ok(held.keep_while(Box::new(sorted)));
    }
    // The last documents are merged from memory, still counted, instead of
    // written and read back.
    let mut slots: Vec<Option<(EncodedKey, Item)>> = keys.into_iter().zip(buffer).map(Some).collect();
    let last: Vec<(EncodedKey, Item)> = order.into_iter().filter_map(|i| slots[i].take()).collect();
    let mut sources: Vec<Source> = runs.into_iter().map(Source::File).collect();
    sources.push(Source::Memory(last.into_iter()));
    merged_in_background(Merge::new(sort.clone(), sources)?, held.hand_off())
}

/// A sorted run the merge reads: written to a file, or the last one, in memory.
enum Source {
    File(Run),
    Memory(std::vec::IntoIter<(EncodedKey, Item)>),
}

impl Source {
    fn next(&mut self) -> Result<Option<(EncodedKey, Item)>> {
        match self {
            Source::File(run) => run.next_keyed(),
            Source::Memory(items) => Ok(items.next()),
        }
    }
}

/// A sorted run being written on a thread of its own, with the memory its
/// documents hold until they are written.
struct Writing(std::thread::JoinHandle<Result<Run>>);

impl Writing {
    fn start(items: Vec<Item>, keys: Vec<EncodedKey>, order: Vec<usize>, held: Reservation) -> Result<Writing> {
        let thread = std::thread::Builder::new().name("sort-spill".into()).spawn(move || {
            let run = Run::write_keyed(order.iter().map(|&i| (&keys[i], &items[i])));
            drop(items);
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
fn merged_in_background(merge: Merge, held: Reservation) -> Result<Docs<'static>> {
    let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Result<Document>>>(MERGE_AHEAD);
    std::thread::Builder::new().name("sort-merge".into()).spawn(move || {
        // The memory of the run merged from memory, given back once merged.
        let _held = held;
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

/// The positions of `keys` (of `items`) in sorted order (stable: equal keys keep
/// their order). Sorting positions moves eight bytes per step instead of a document.
fn sorted_order(sort: &Sort, keys: &[EncodedKey], items: &[Item]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| compare(sort, (&keys[a], &items[a]), (&keys[b], &items[b])));
    order
}

/// The order of two items by their encoded keys, and on a tie the encoding may
/// hide a difference in, by their documents' keys (decoding raw items for it).
fn compare(sort: &Sort, a: (&EncodedKey, &Item), b: (&EncodedKey, &Item)) -> std::cmp::Ordering {
    fn document(item: &Item) -> Option<std::borrow::Cow<'_, Document>> {
        match item {
            Item::Decoded(doc) => Some(std::borrow::Cow::Borrowed(&**doc)),
            Item::Raw(bytes) => decode(bytes).ok().map(std::borrow::Cow::Owned),
        }
    }
    sort.compare_encoded_with(a.0, b.0, || match (document(a.1), document(b.1)) {
        (Some(x), Some(y)) => sort.compare_documents(&x, &y),
        _ => std::cmp::Ordering::Equal,
    })
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

/// A sorted run of documents in a temporary file, removed when the run is dropped:
/// BSON after BSON (`$group`'s partial groups), or for `$sort` each document's
/// encoded key (its length as four bytes, the bytes, and whether it is blurred)
/// before its BSON, so that the merge reads keys back instead of computing them.
pub(super) struct Run {
    path: PathBuf,
    reader: BufReader<File>,
    /// Documents not read back yet.
    left: usize,
}

impl Run {
    /// Writes the documents, in the order given, BSON after BSON, to a new file.
    pub(super) fn write<'d>(docs: impl ExactSizeIterator<Item = &'d Document>) -> Result<Run> {
        Run::create(docs.len(), docs.map(|doc| move |out: &mut Vec<u8>| crate::value::encode(doc, out)))
    }

    /// Writes the items with their keys, in the order given, to a new file.
    fn write_keyed<'d>(items: impl ExactSizeIterator<Item = (&'d EncodedKey, &'d Item)>) -> Result<Run> {
        Run::create(
            items.len(),
            items.map(|(key, item)| {
                move |out: &mut Vec<u8>| {
                    key.write(out);
                    item.write(out);
                }
            }),
        )
    }

    /// A new file holding `count` entries, each written by one of `entries`.
    fn create(count: usize, entries: impl Iterator<Item = impl FnOnce(&mut Vec<u8>)>) -> Result<Run> {
        let number = RUN_FILES.fetch_add(1, AtomicOrdering::Relaxed);
        let path = std::env::temp_dir().join(format!("branchdb-spill-{}-{number}.bson", std::process::id()));
        let file = File::options().read(true).write(true).create_new(true).open(&path)?;
        // From here on, dropping the run removes the file, whatever fails.
        let mut run = Run { path, reader: BufReader::new(file), left: count };
        let mut writer = BufWriter::new(run.reader.get_mut());
        let mut bytes = Vec::new();
        for entry in entries {
            bytes.clear();
            entry(&mut bytes);
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
        let doc = crate::value::decode_next(&mut self.reader).map_err(read_back)?;
        Ok(Some(doc))
    }

    /// The next key and document of a run [`Run::write_keyed`] wrote, `None` at its end.
    fn next_keyed(&mut self) -> Result<Option<(EncodedKey, Item)>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let key = EncodedKey::read(&mut self.reader).map_err(read_back)?;
        // The document stays bytes until the merge hands it on.
        let bytes = crate::value::read_next(&mut self.reader).map_err(read_back)?;
        Ok(Some((key, Item::Raw(bytes))))
    }
}

fn read_back(e: std::io::Error) -> Error {
    Error::command(ErrorCode::InternalError, format!("reading a sort run back: {e}"))
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
    runs: Vec<Source>,
    /// The next document of each run, with its key.
    heads: Vec<Option<(EncodedKey, Item)>>,
}

impl Merge {
    /// Reads the first document of every run.
    fn new(sort: Sort, mut runs: Vec<Source>) -> Result<Merge> {
        let heads = runs.iter_mut().map(Source::next).collect::<Result<Vec<_>>>()?;
        Ok(Merge { sort, runs, heads })
    }
}

impl Iterator for Merge {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        let mut first: Option<usize> = None;
        for (at, entry) in self.heads.iter().enumerate() {
            let Some((key, item)) = entry else { continue };
            let earlier = first.and_then(|f| self.heads[f].as_ref()).map(|(k, d)| (k, d));
            if earlier.is_none_or(|best| compare(&self.sort, (key, item), best).is_lt()) {
                first = Some(at);
            }
        }
        let at = first?;
        let next = match self.runs[at].next() {
            Ok(next) => next,
            Err(e) => {
                self.heads.clear();
                return Some(Err(e));
            }
        };
        let (_, item) = std::mem::replace(&mut self.heads[at], next)?;
        Some(item.into_document())
    }
}
