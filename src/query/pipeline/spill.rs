//! The memory limit of blocking stages, and the external merge sort `$sort` falls
//! back on past it when the command allows disk use.
//!
//! Like MongoDB, a `$sort` or `$group` holding more than 100 MB fails with
//! `QueryExceededMemoryLimitNoDiskUseAllowed` (292) unless `allowDiskUse` is set.
//! With it, `$sort` writes sorted runs to temporary files (removed when the run is
//! dropped) and merges them; `$group` writes its groups sorted by key, and merges
//! the runs' partial groups (`group.rs`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use bson::{Document, RawDocument};

use super::held::Held;
use super::sort_blocks::{compare, Blocks, Entries, Entry};
use super::{Docs, RawDocs};
use crate::error::{Error, ErrorCode, Result};
use crate::memory::Reservation;
use crate::query::Sort;
use crate::value::decode;

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
/// as the result is pulled. `held` counts what is in memory: the documents as
/// BSON, with their keys, in [`Blocks`].
///
/// The first run is written when the documents reach the limit; from then on the
/// sort knows it spills, and writes each run on a thread of its own while it
/// gathers the next, at half the limit each, so that the two never hold more than
/// the limit together. A large result is decoded on a thread of its own as well.
pub(super) fn sort<'a>(sort: &'a Sort, docs: Docs<'a>, held: Held) -> Result<Docs<'a>> {
    let mut scratch = Vec::new();
    let push = move |blocks: &mut Blocks, doc: Document| {
        let key = sort.encoded_key(&doc)?;
        Ok(blocks.push_document(&key, &doc, &mut scratch))
    };
    sort_into_blocks(sort, docs, push, held)
}

/// [`sort`] of documents given as their BSON bytes (a collection scan feeding a
/// leading `$sort`): keys are read from the bytes, and a document is decoded once,
/// when the sort hands it on, instead of before it is sorted and again after it.
/// A document whose key needs it decoded (an array on a sort path) is decoded for
/// its key. The scan's thread only reads the documents: keying them here keeps the
/// two threads about as busy.
pub(super) fn sort_raw<'a>(sort: &'a Sort, raws: RawDocs<'a>, held: Held) -> Result<Docs<'a>> {
    let push = |blocks: &mut Blocks, bytes: Vec<u8>| {
        let document = RawDocument::from_bytes(&bytes).map_err(unreadable)?;
        let key = match sort.raw_encoded_key(document)? {
            Some(key) => key,
            None => sort.encoded_key(&decode(&bytes).map_err(unreadable)?)?,
        };
        Ok(blocks.push(&key, &bytes))
    };
    sort_into_blocks(sort, raws, push, held)
}

pub(super) fn unreadable(e: impl std::fmt::Display) -> Error {
    Error::command(ErrorCode::InternalError, format!("a document that does not read back: {e}"))
}

/// Results a sort decodes on the pipeline's thread; past them, on a thread of
/// its own.
const DECODED_IN_PLACE: usize = 4 * MERGE_BATCH;

/// The sort itself: each of `input` is put into blocks by `push` (which says how
/// many bytes more they take), spilled and merged as [`sort`] says.
fn sort_into_blocks<'a, T>(
    sort: &'a Sort,
    input: impl Iterator<Item = Result<T>> + 'a,
    mut push: impl FnMut(&mut Blocks, T) -> Result<usize>,
    mut held: Held,
) -> Result<Docs<'a>> {
    let mut blocks = Blocks::default();
    let mut runs = Vec::new();
    let mut writing: Option<Writing> = None;
    for item in input {
        let more = push(&mut blocks, item?)?;
        held.add(more).map_err(|e| sort_error(e, held.limit()))?;
        let spilling = !runs.is_empty() || writing.is_some();
        let full = if spilling { 2 * held.bytes() > held.limit() } else { held.over() };
        if !full {
            continue;
        }
        let mut batch = std::mem::take(&mut blocks);
        batch.sort(sort);
        if !spilling {
            runs.push(Run::write_entries(&batch)?);
            drop(batch);
            held.clear();
            continue;
        }
        if let Some(previous) = writing.take() {
            runs.push(previous.finish()?);
        }
        writing = Some(Writing::start(batch, held.hand_off())?);
    }
    if let Some(last) = writing.take() {
        runs.push(last.finish()?);
    }
    blocks.sort(sort);
    if runs.is_empty() {
        if blocks.len() <= DECODED_IN_PLACE {
            return Ok(held.keep_while(Box::new(blocks.into_entries())));
        }
        return decoded_in_background(blocks.into_entries(), held.hand_off());
    }
    // The last documents are merged from memory, still counted, instead of
    // written and read back.
    let mut sources: Vec<Source> = runs.into_iter().map(Source::File).collect();
    sources.push(Source::Memory(blocks.into_entries()));
    decoded_in_background(Merge::new(sort.clone(), sources)?, held.hand_off())
}

/// A sorted run the merge reads: written to a file, or the last one, in memory.
enum Source {
    File(Run),
    Memory(Entries),
}

impl Source {
    /// The next entry's bytes.
    fn next(&mut self) -> Result<Option<Vec<u8>>> {
        match self {
            Source::File(run) => run.next_entry(),
            Source::Memory(entries) => Ok(entries.next_entry().map(|entry| entry.bytes().to_vec())),
        }
    }
}

/// A sorted run being written on a thread of its own, with the memory its
/// documents hold until they are written.
struct Writing(std::thread::JoinHandle<Result<Run>>);

impl Writing {
    fn start(blocks: Blocks, held: Reservation) -> Result<Writing> {
        let thread = std::thread::Builder::new().name("sort-spill".into()).spawn(move || {
            let run = Run::write_entries(&blocks);
            drop(blocks);
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

/// Documents a sort hands over at a time from its own thread.
const MERGE_BATCH: usize = 256;
/// Batches a sort may have ready before the stages after it take them.
const MERGE_AHEAD: usize = 4;

/// `documents` (a merge of runs, or sorted blocks), decoded on a thread of its
/// own and handed over in batches: decoding overlaps the stages that take them.
/// At most [`MERGE_AHEAD`] batches wait; when the reader stops early (`$limit`),
/// the thread stops at its next batch and what it holds goes.
fn decoded_in_background(
    documents: impl Iterator<Item = Result<Document>> + Send + 'static,
    held: Reservation,
) -> Result<Docs<'static>> {
    let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Result<Document>>>(MERGE_AHEAD);
    std::thread::Builder::new().name("sort-merge".into()).spawn(move || {
        // The memory of what is sorted in memory, given back once handed over.
        let _held = held;
        let mut batch = Vec::with_capacity(MERGE_BATCH);
        for item in documents {
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
/// BSON after BSON (`$group`'s partial groups), or for `$sort` entries of
/// [`Blocks`] (a document's encoded key and BSON), each after its length as four
/// bytes, so that the merge reads keys back instead of computing them.
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

    /// Writes sorted blocks' entries, each after its length (four bytes), to a
    /// new file.
    fn write_entries(blocks: &Blocks) -> Result<Run> {
        Run::create(
            blocks.len(),
            blocks.entries().map(|entry| {
                move |out: &mut Vec<u8>| {
                    out.extend_from_slice(&(entry.bytes().len() as u32).to_le_bytes());
                    out.extend_from_slice(entry.bytes());
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

    /// The next entry of a run [`Run::write_entries`] wrote, `None` at its end.
    fn next_entry(&mut self) -> Result<Option<Vec<u8>>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut len = [0u8; 4];
        self.reader.read_exact(&mut len).map_err(read_back)?;
        let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
        self.reader.read_exact(&mut bytes).map_err(read_back)?;
        match Entry::read(&bytes) {
            Some(entry) if entry.bytes().len() == bytes.len() => Ok(Some(bytes)),
            _ => Err(read_back(std::io::Error::new(std::io::ErrorKind::InvalidData, "not an entry"))),
        }
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
    /// The next entry of each run.
    heads: Vec<Option<Vec<u8>>>,
}

impl Merge {
    /// Reads the first entry of every run.
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
            let Some(entry) = entry else { continue };
            let earlier = first.and_then(|f| self.heads[f].as_deref());
            if earlier.is_none_or(|best| compare(&self.sort, Entry::of(entry), Entry::of(best)).is_lt()) {
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
        let entry = std::mem::replace(&mut self.heads[at], next)?;
        Some(Entry::of(&entry).document())
    }
}
