//! Reading the log from any LSN, for replay into the store, point-in-time views,
//! change streams and `wal dump`. The reader trusts only records that validate; it
//! stops at the first that does not (recovery has already judged the log). It puts
//! framed records together and yields them as the record that ends them; their
//! fragments, and fragments no end follows, it never yields.
//!
//! Segments are read a window at a time (1 MiB, or one record when larger), never
//! whole. A reader that reaches the end of what is written stays where it is:
//! [`SegmentReader::extend`] lets it go on to a later stop once more is written, so one
//! reader can follow the log as it grows (change streams do).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bson::DateTime;

use super::entry::Entry;
use super::fs::Fs;
use super::record::{self, record_size, Kind, RecordHeader, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::segment;
use crate::error::{Error, Result};
use crate::lsn::Lsn;

/// How much of a segment one read brings in.
const WINDOW: usize = 1 << 20;
/// How much one read brings in once the reader has caught up with the end of what
/// is written (it follows the log a few records at a time).
const TAIL_WINDOW: usize = 16 << 10;

/// One record as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub lsn: Lsn,
    pub time: DateTime,
    pub entry: Entry,
    /// Where it was: segment file and byte offset.
    pub file: String,
    pub offset: u64,
}

/// An iterator over records in LSN order.
pub struct SegmentReader {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    /// Segments not opened yet, by first LSN.
    segments: std::vec::IntoIter<(Lsn, PathBuf)>,
    /// The first LSN of the last segment listed, to list only newer ones later.
    last_listed: Option<Lsn>,
    current: Option<Segment>,
    from: Lsn,
    stop: Option<Lsn>,
    /// Set by an error: nothing more is read.
    failed: bool,
    /// The payload so far of a framed record being read.
    frame: Option<Vec<u8>>,
    /// The first LSN read at or after `from`, of any record, fragments included.
    first_seen: Option<Lsn>,
}

/// The segment being read, and a window of its bytes.
struct Segment {
    path: PathBuf,
    name: String,
    salt: u32,
    /// The offset of the next record.
    pos: u64,
    window: Vec<u8>,
    /// The file offset of `window[0]`.
    window_at: u64,
    /// Whether reads have reached the end of what is written: they are small then.
    tailing: bool,
}

impl Segment {
    /// The bytes from `at` on, at least `len` of them unless the file ends first;
    /// read again from the file when `fresh` (bytes written since the window was read).
    fn bytes(&mut self, fs: &dyn Fs, at: u64, len: usize, fresh: bool) -> std::io::Result<&[u8]> {
        let start = at.checked_sub(self.window_at).map(|s| s as usize);
        let covered = start.is_some_and(|s| s + len <= self.window.len());
        if fresh || !covered {
            self.tailing |= fresh;
            self.window.resize(len.max(if self.tailing { TAIL_WINDOW } else { WINDOW }), 0);
            let n = fs.read_at(&self.path, at, &mut self.window)?;
            self.window.truncate(n);
            self.window_at = at;
        }
        let start = (at - self.window_at) as usize;
        Ok(&self.window[start.min(self.window.len())..])
    }
}

impl SegmentReader {
    /// Reads from `from` up to `stop` inclusive (or the end of the log).
    pub fn new(fs: Arc<dyn Fs>, dir: &Path, from: Lsn, stop: Option<Lsn>) -> Result<SegmentReader> {
        let mut listed = segment::list(fs.as_ref(), dir)?;
        // Start in the last segment that begins at or before `from`.
        let start = listed.iter().rposition(|(first, _)| *first <= from).unwrap_or(0);
        listed.drain(..start);
        Ok(SegmentReader {
            fs,
            dir: dir.to_path_buf(),
            last_listed: listed.last().map(|(first, _)| *first),
            segments: listed.into_iter(),
            current: None,
            from,
            stop,
            failed: false,
            frame: None,
            first_seen: None,
        })
    }

    /// The first LSN at or after `from` that the reader has met: the LSN of the first
    /// record yielded, or of the first fragment before it.
    pub fn first_seen(&self) -> Option<Lsn> {
        self.first_seen
    }

    /// Lets a reader that reached its stop, or the end of what was written, go on up
    /// to `stop` (which the caller knows to be written to the OS).
    pub fn extend(&mut self, stop: Lsn) {
        self.stop = Some(stop);
    }

    /// The next segment to read: from the list, or newly created since it was made.
    fn next_segment(&mut self) -> Result<Option<(Lsn, PathBuf)>> {
        if let Some(next) = self.segments.next() {
            return Ok(Some(next));
        }
        let newer: Vec<_> = segment::list(self.fs.as_ref(), &self.dir)?
            .into_iter()
            .filter(|(first, _)| self.last_listed.is_none_or(|last| *first > last))
            .collect();
        if let Some((first, _)) = newer.last() {
            self.last_listed = Some(*first);
        }
        self.segments = newer.into_iter();
        Ok(self.segments.next())
    }

    fn open(&self, path: PathBuf) -> Result<Segment> {
        let name = path.display().to_string();
        let mut head = [0u8; SEGMENT_HEADER_LEN];
        let n = self.fs.read_at(&path, 0, &mut head)?;
        let header = SegmentHeader::parse(&head[..n]).map_err(|why| Error::Corrupt {
            file: name.clone(),
            offset: 0,
            lsn: Lsn::ZERO,
            reason: why.to_owned(),
        })?;
        Ok(Segment {
            path,
            name,
            salt: header.salt,
            pos: SEGMENT_HEADER_LEN as u64,
            window: Vec::new(),
            window_at: 0,
            tailing: false,
        })
    }

    fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if self.current.is_none() {
                let Some((_, path)) = self.next_segment()? else { return Ok(None) };
                self.current = Some(self.open(path)?);
            }
            let fs = self.fs.clone();
            let Some(seg) = self.current.as_mut() else { continue };
            let offset = seg.pos;
            // A record not whole in the window may have been written since it was
            // read: look once more at the file before calling it the end.
            let salt = seg.salt;
            let (mut found, mut ended) = (None, false);
            for fresh in [false, true] {
                let bytes = seg.bytes(fs.as_ref(), offset, RECORD_HEADER_LEN, fresh)?;
                if bytes.len() < RECORD_HEADER_LEN {
                    // At the end of the file, the next segment goes on.
                    ended = fresh;
                    continue;
                }
                let header = RecordHeader::parse(bytes);
                let size = record_size(header.len as usize).min(super::MAX_PAYLOAD + RECORD_HEADER_LEN + 8);
                let bytes = seg.bytes(fs.as_ref(), offset, size, false)?;
                if record::is_valid(bytes, 0, &header, salt) {
                    found = Some(header);
                    break;
                }
            }
            if ended {
                self.current = None;
                continue;
            }
            let Some(seg) = self.current.as_mut() else { continue };
            // The end of what is written (recovery has cut any torn tail).
            let Some(header) = found else { return Ok(None) };
            if self.stop.is_some_and(|stop| header.lsn > stop) {
                return Ok(None);
            }
            seg.pos += record_size(header.len as usize) as u64;
            let kind = Kind::from_u8(header.kind).ok_or_else(|| Error::IncompatibleVersion {
                file: seg.name.clone(),
                offset,
                lsn: header.lsn,
                reason: format!("unknown record kind {}", header.kind),
            })?;
            if header.lsn >= self.from {
                self.first_seen.get_or_insert(header.lsn);
            }
            let name = seg.name.clone();
            let bytes = seg.bytes(fs.as_ref(), offset, record_size(header.len as usize), false)?;
            let payload = &bytes[RECORD_HEADER_LEN..RECORD_HEADER_LEN + header.len as usize];
            let corrupt = |reason: String| Error::Corrupt { file: name.clone(), offset, lsn: header.lsn, reason };
            let whole = match kind {
                Kind::Fragment => {
                    match (header.flags == record::FRAME_START, self.frame.as_mut()) {
                        (true, _) => self.frame = Some(payload.to_vec()),
                        (false, Some(frame)) => frame.extend_from_slice(payload),
                        // Read from inside a frame: its end is refused below.
                        (false, None) => {}
                    }
                    None
                }
                Kind::Seal | Kind::Checkpoint => Some(Cow::Borrowed(payload)),
                _ if header.flags == record::FRAME_END => match self.frame.take() {
                    Some(mut frame) => {
                        frame.extend_from_slice(payload);
                        Some(Cow::Owned(frame))
                    }
                    None if header.lsn >= self.from => {
                        return Err(corrupt("the end of a framed record without its start".into()))
                    }
                    None => None,
                },
                // Fragments that no end followed: a transaction a crash cut off.
                _ => {
                    self.frame = None;
                    Some(Cow::Borrowed(payload))
                }
            };
            let record = match whole {
                Some(payload) if header.lsn >= self.from => {
                    let (time, entry) = Entry::decode(kind, header.version, &payload).map_err(corrupt)?;
                    Some(Record { lsn: header.lsn, time, entry, file: name, offset })
                }
                _ => None,
            };
            if kind == Kind::Seal {
                self.current = None;
            }
            if record.is_some() {
                return Ok(record);
            }
        }
    }
}

impl Iterator for SegmentReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.next_record().transpose();
        if matches!(next, Some(Err(_))) {
            self.failed = true;
        }
        next
    }
}
