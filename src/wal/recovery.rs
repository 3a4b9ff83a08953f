//! Recovery: scan the segments, tell a torn tail from damage, and find where appends
//! resume. The rules (DESIGN §2):
//!
//! - a valid record (CRC, salt, `lsn == expected`) is counted and scanning goes on;
//! - a valid CRC with an unknown kind, version or flags refuses to start
//!   (`IncompatibleVersion`), it is not damage;
//! - zeros where a header would be, with nothing but zeros after: the end of the log;
//! - an invalid record in a sealed segment, at or below the last clean shutdown, or
//!   below a `durable` hint of any valid record (before or after it) refuses to start,
//!   naming file, offset and LSN: acknowledged data is damaged;
//! - otherwise, in the last segment, it is a torn write if nothing valid follows it,
//!   or if what follows has a hole (a whole zero sector) in between: the tail is
//!   zeroed, with a warning, and appends resume at the cut;
//! - anything else refuses to start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::fs::Fs;
use super::manifest::Manifest;
use super::record::{
    self, reads_payload_version, record_size, Kind, RecordHeader, SegmentHeader, OLDEST_PAYLOAD_VERSION,
    PAYLOAD_VERSION, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use super::{entry::TIME_OFFSET, segment};
use crate::error::{Error, Result};
use crate::lsn::Lsn;

/// Sector size assumed atomic by the torn-write rule.
const SECTOR: usize = 512;
/// How often progress is reported, at least.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Where recovery is, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Segment being scanned (1-based) and how many there are.
    pub segment: usize,
    pub segments: usize,
    /// Bytes of valid records scanned so far.
    pub bytes: u64,
    pub records: u64,
    /// The last valid LSN so far.
    pub lsn: Lsn,
}

/// What was cut off the end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
    /// Bytes from the cut to the last non-zero byte of the segment.
    pub dropped_bytes: u64,
    /// The LSN the torn record would have had.
    pub lsn: Lsn,
    /// Valid records found past a hole and dropped with the tail (never acknowledged).
    pub dropped_records: u64,
}

/// The state of one scanned segment.
#[derive(Debug, Clone)]
pub struct ScannedSegment {
    pub path: PathBuf,
    pub first_lsn: Lsn,
    pub salt: u32,
    /// Where the next record would go.
    pub end_offset: u64,
    pub sealed: bool,
    pub len: u64,
}

/// The outcome of a scan.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// Every segment scanned, in order; appends go to the last one unless it is sealed.
    pub segments: Vec<ScannedSegment>,
    /// The LSN of the first record scanned, and the last valid one.
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    /// Commit time of the last valid record, in milliseconds since the epoch.
    pub last_time_ms: i64,
    pub records: u64,
    pub bytes: u64,
    pub torn: Option<TornTail>,
}

/// Whether recovery may change files (cut a torn tail, drop a half-created segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Repair,
    ReadOnly,
}

/// Scans the log in `dir`.
pub fn recover(
    fs: &dyn Fs,
    dir: &Path,
    manifest: &Manifest,
    mode: Mode,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Recovered> {
    let mut listed = segment::list(fs, dir)?;
    // Segments entirely below the checkpoint were checked by earlier recoveries.
    let skip = listed.iter().skip(1).take_while(|(first, _)| *first <= manifest.checkpoint()).count();
    listed.drain(..skip);
    let count = listed.len();
    let mut out = Recovered {
        segments: Vec::new(),
        first_lsn: listed.first().map_or(Lsn(1), |(first, _)| *first),
        last_lsn: Lsn::ZERO,
        last_time_ms: 0,
        records: 0,
        bytes: 0,
        torn: None,
    };
    out.last_lsn = Lsn(out.first_lsn.0.saturating_sub(1));
    let mut reporter = Reporter { last: Instant::now(), count, callback: progress };
    let mut max_durable = Lsn::ZERO;
    for (index, (first_lsn, path)) in listed.into_iter().enumerate() {
        let is_last = index + 1 == count;
        let data = fs.read(&path)?;
        let header = match SegmentHeader::parse(&data) {
            Ok(h) => h,
            Err(_) if is_last && data.get(SEGMENT_HEADER_LEN..).is_none_or(|rest| rest.iter().all(|&b| b == 0)) => {
                // Created but never written: a crash while rotating.
                tracing::warn!(file = %path.display(), "removing a segment whose creation did not finish");
                if mode == Mode::Repair {
                    fs.remove(&path)?;
                    fs.sync_dir(dir)?;
                }
                break;
            }
            Err(why) => return Err(corrupt(&path, 0, first_lsn, why)),
        };
        if header.first_lsn != first_lsn {
            return Err(corrupt(&path, 0, first_lsn, "segment header names another first LSN than its file"));
        }
        if index > 0 && first_lsn != out.last_lsn.next() {
            return Err(corrupt(&path, 0, first_lsn, "segments are not contiguous"));
        }
        let mut scan = SegmentScan {
            path: &path,
            data: &data,
            salt: header.salt,
            expected: first_lsn,
            pos: SEGMENT_HEADER_LEN,
            sealed: false,
        };
        let torn = scan.run(&mut out, &mut max_durable, &mut reporter, index + 1)?;
        let end_offset = scan.pos as u64;
        if let Some((offset, lsn)) = torn {
            if !is_last {
                return Err(corrupt(&path, offset, lsn, "damaged record in a sealed segment"));
            }
            if lsn <= manifest.clean() {
                return Err(corrupt(&path, offset, lsn, "damaged record below the last clean shutdown"));
            }
            if lsn <= max_durable {
                return Err(corrupt(&path, offset, lsn, "damaged record below an earlier record's durable mark"));
            }
            let (later_durable, dropped_records, hole) = scan.look_past(offset as usize);
            if later_durable >= lsn {
                return Err(corrupt(&path, offset, lsn, "damaged record below a later record's durable mark"));
            }
            if dropped_records > 0 && !hole {
                return Err(corrupt(&path, offset, lsn, "damaged record followed by valid records"));
            }
            let last_nonzero = data.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            let dropped_bytes = (last_nonzero as u64).saturating_sub(offset);
            tracing::warn!(
                file = %path.display(), offset, %lsn, dropped_bytes, dropped_records,
                "torn write at the end of the log: cutting it off"
            );
            if mode == Mode::Repair && dropped_bytes > 0 {
                let mut file = fs.open(&path)?;
                file.write_at(offset, &vec![0; dropped_bytes as usize])?;
                file.sync_data()?;
            }
            out.torn = Some(TornTail { file: path.clone(), offset, dropped_bytes, lsn, dropped_records });
        } else if !scan.sealed && !is_last {
            return Err(corrupt(&path, end_offset, scan.expected, "segment followed by another ends without a seal"));
        }
        out.bytes += end_offset;
        out.segments.push(ScannedSegment {
            path: path.clone(),
            first_lsn,
            salt: header.salt,
            end_offset,
            sealed: scan.sealed,
            len: data.len() as u64,
        });
    }
    reporter.report(out.segments.len(), &out, true);
    Ok(out)
}

fn corrupt(path: &Path, offset: u64, lsn: Lsn, reason: &str) -> Error {
    Error::Corrupt { file: path.display().to_string(), offset, lsn, reason: reason.to_owned() }
}

struct Reporter<'a> {
    last: Instant,
    count: usize,
    callback: &'a mut dyn FnMut(&Progress),
}

impl Reporter<'_> {
    fn report(&mut self, segment: usize, out: &Recovered, force: bool) {
        if force || self.last.elapsed() >= PROGRESS_INTERVAL {
            self.last = Instant::now();
            (self.callback)(&Progress {
                segment,
                segments: self.count,
                bytes: out.bytes,
                records: out.records,
                lsn: out.last_lsn,
            });
        }
    }
}

/// The scan of one segment's bytes.
struct SegmentScan<'a> {
    path: &'a Path,
    data: &'a [u8],
    salt: u32,
    expected: Lsn,
    pos: usize,
    sealed: bool,
}

impl SegmentScan<'_> {
    /// Reads valid records from `pos`; returns where the first invalid one starts, or
    /// `None` at a clean end (a seal, or zeros to the end of the file).
    fn run(
        &mut self,
        out: &mut Recovered,
        max_durable: &mut Lsn,
        reporter: &mut Reporter<'_>,
        index: usize,
    ) -> Result<Option<(u64, Lsn)>> {
        loop {
            let Some(header_bytes) = self.data.get(self.pos..self.pos + RECORD_HEADER_LEN) else {
                return Ok(None);
            };
            if header_bytes.iter().all(|&b| b == 0) && self.data[self.pos..].iter().all(|&b| b == 0) {
                return Ok(None);
            }
            let header = RecordHeader::parse(header_bytes);
            if !self.is_valid(self.pos, &header) {
                return Ok(Some((self.pos as u64, self.expected)));
            }
            if header.lsn != self.expected {
                return Err(corrupt(self.path, self.pos as u64, self.expected, "record out of LSN sequence"));
            }
            let kind = Kind::from_u8(header.kind);
            if !kind.is_some_and(|k| k.allows(header.flags)) || !reads_payload_version(header.version) {
                return Err(Error::IncompatibleVersion {
                    file: self.path.display().to_string(),
                    offset: self.pos as u64,
                    lsn: header.lsn,
                    reason: format!(
                        "kind {}, payload version {}, flags {:#x}; this build reads versions {OLDEST_PAYLOAD_VERSION} to {PAYLOAD_VERSION}",
                        header.kind, header.version, header.flags
                    ),
                });
            }
            let payload = &self.data[self.pos + RECORD_HEADER_LEN..self.pos + RECORD_HEADER_LEN + header.len as usize];
            // A payload starts with its commit time; a framed one in its first fragment.
            let starts_payload = match kind {
                Some(Kind::Fragment) => header.flags == record::FRAME_START,
                _ => header.flags != record::FRAME_END,
            };
            if let Some(t) = payload.get(TIME_OFFSET..TIME_OFFSET + 8).filter(|_| starts_payload) {
                let mut b = [0u8; 8];
                b.copy_from_slice(t);
                out.last_time_ms = out.last_time_ms.max(i64::from_le_bytes(b));
            }
            *max_durable = (*max_durable).max(header.durable);
            out.records += 1;
            out.last_lsn = header.lsn;
            self.expected = header.lsn.next();
            self.pos += record_size(header.len as usize);
            if out.records.is_multiple_of(64) {
                reporter.report(index, out, false);
            }
            if kind == Some(Kind::Seal) {
                self.sealed = true;
                return Ok(None);
            }
        }
    }

    /// A record with a plausible length, our salt and a matching CRC.
    fn is_valid(&self, pos: usize, header: &RecordHeader) -> bool {
        record::is_valid(self.data, pos, header, self.salt)
    }

    /// Past an invalid record at `from`: the highest `durable` mark of any valid record
    /// after it, how many there are, and whether a whole zero sector lies between
    /// `from` and the first of them (a hole left by a write that did not land).
    fn look_past(&self, from: usize) -> (Lsn, u64, bool) {
        let mut durable = Lsn::ZERO;
        let mut found = 0u64;
        let mut first_valid = None;
        let mut pos = from + 8;
        while pos + RECORD_HEADER_LEN <= self.data.len() {
            let header = RecordHeader::parse(&self.data[pos..pos + RECORD_HEADER_LEN]);
            if self.is_valid(pos, &header) {
                durable = durable.max(header.durable);
                found += 1;
                first_valid.get_or_insert(pos);
                pos += record_size(header.len as usize);
            } else {
                pos += 8;
            }
        }
        // A sector that did not land is zero from where this write began in it (the
        // sector holding `from` may start with older records) to its end.
        let hole_end = first_valid.unwrap_or(self.data.len());
        let hole = (from / SECTOR * SECTOR..hole_end)
            .step_by(SECTOR)
            .any(|s| s + SECTOR <= hole_end && self.data[s.max(from)..s + SECTOR].iter().all(|&b| b == 0));
        (durable, found, hole)
    }
}
