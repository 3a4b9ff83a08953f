//! Segment files: named by their first LSN, found by listing the log directory.

use std::path::{Path, PathBuf};

use super::fs::Fs;
use crate::error::Result;
use crate::lsn::Lsn;

const SUFFIX: &str = ".wal";
/// The zero-filled file waiting to become the next segment.
pub const NEXT: &str = "next-segment.prepared";
/// A segment being created when none was prepared.
pub const CREATING: &str = "new-segment.creating";

/// `<dir>/00000000000000000001.wal` for a segment starting at LSN 1.
pub fn path(dir: &Path, first_lsn: Lsn) -> PathBuf {
    dir.join(format!("{:020}{SUFFIX}", first_lsn.0))
}

/// The segments of `dir`, by first LSN. Other files are ignored.
pub fn list(fs: &dyn Fs, dir: &Path) -> Result<Vec<(Lsn, PathBuf)>> {
    let mut segments: Vec<(Lsn, PathBuf)> = fs
        .list(dir)?
        .into_iter()
        .filter_map(|name| {
            let digits = name.strip_suffix(SUFFIX)?;
            let valid = digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit());
            let lsn = digits.parse().ok().filter(|_| valid)?;
            Some((Lsn(lsn), dir.join(name)))
        })
        .collect();
    segments.sort();
    Ok(segments)
}

/// A random salt for a new segment.
pub fn new_salt() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish() as u32
}
