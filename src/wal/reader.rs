//! Reading the log from any LSN, for replay into the store, point-in-time views and
//! `wal dump`. The reader trusts only records that validate; it stops at the first
//! that does not (recovery has already judged the log). It puts framed records
//! together and yields them as the record that ends them; their fragments, and
//! fragments no end follows, it never yields.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use bson::DateTime;

use super::entry::Entry;
use super::fs::Fs;
use super::record::{self, record_size, Kind, RecordHeader, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::segment;
use crate::error::{Error, Result};
use crate::lsn::Lsn;

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
pub struct Reader {
    fs: Arc<dyn Fs>,
    segments: std::vec::IntoIter<(Lsn, std::path::PathBuf)>,
    current: Option<Segment>,
    from: Lsn,
    stop: Option<Lsn>,
    done: bool,
    /// The payload so far of a framed record being read.
    frame: Option<Vec<u8>>,
    /// The first LSN read at or after `from`, of any record, fragments included.
    first_seen: Option<Lsn>,
}

struct Segment {
    path: String,
    data: Vec<u8>,
    salt: u32,
    pos: usize,
}

impl Reader {
    /// Reads from `from` up to `stop` inclusive (or the end of the log).
    pub fn new(fs: Arc<dyn Fs>, dir: &Path, from: Lsn, stop: Option<Lsn>) -> Result<Reader> {
        let mut listed = segment::list(fs.as_ref(), dir)?;
        // Start in the last segment that begins at or before `from`.
        let start = listed.iter().rposition(|(first, _)| *first <= from).unwrap_or(0);
        listed.drain(..start);
        Ok(Reader {
            fs,
            segments: listed.into_iter(),
            current: None,
            from,
            stop,
            done: false,
            frame: None,
            first_seen: None,
        })
    }

    /// The first LSN at or after `from` that the reader has met: the LSN of the first
    /// record yielded, or of the first fragment before it.
    pub fn first_seen(&self) -> Option<Lsn> {
        self.first_seen
    }

    fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if self.current.is_none() {
                let Some((_, path)) = self.segments.next() else { return Ok(None) };
                let data = self.fs.read(&path)?;
                let path = path.display().to_string();
                let header = SegmentHeader::parse(&data).map_err(|why| Error::Corrupt {
                    file: path.clone(),
                    offset: 0,
                    lsn: Lsn::ZERO,
                    reason: why.to_owned(),
                })?;
                self.current = Some(Segment { path, data, salt: header.salt, pos: SEGMENT_HEADER_LEN });
            }
            let Some(seg) = self.current.as_mut() else { continue };
            let Some(header_bytes) = seg.data.get(seg.pos..seg.pos + RECORD_HEADER_LEN) else {
                self.current = None;
                continue;
            };
            let header = RecordHeader::parse(header_bytes);
            let valid = record::is_valid(&seg.data, seg.pos, &header, seg.salt);
            if !valid {
                // The end of the log (recovery has cut any torn tail).
                return Ok(None);
            }
            if self.stop.is_some_and(|stop| header.lsn > stop) {
                return Ok(None);
            }
            let offset = seg.pos;
            seg.pos += record_size(header.len as usize);
            let kind = Kind::from_u8(header.kind).ok_or_else(|| Error::IncompatibleVersion {
                file: seg.path.clone(),
                offset: offset as u64,
                lsn: header.lsn,
                reason: format!("unknown record kind {}", header.kind),
            })?;
            if header.lsn >= self.from {
                self.first_seen.get_or_insert(header.lsn);
            }
            let payload = &seg.data[offset + RECORD_HEADER_LEN..offset + RECORD_HEADER_LEN + header.len as usize];
            let corrupt = |reason: String| Error::Corrupt {
                file: seg.path.clone(),
                offset: offset as u64,
                lsn: header.lsn,
                reason,
            };
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
                    Some(Record { lsn: header.lsn, time, entry, file: seg.path.clone(), offset: offset as u64 })
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

impl Iterator for Reader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record().transpose();
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
        }
        next
    }
}
