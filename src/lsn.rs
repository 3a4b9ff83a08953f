//! Log sequence numbers: the position of a record in the write-ahead log.

use std::fmt;

/// A log sequence number. The first record of a fresh log has LSN 1; `Lsn(0)` means
/// "before anything".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The position before the first record.
    pub const ZERO: Lsn = Lsn(0);

    /// The LSN after this one. Saturates at `u64::MAX`, which no log reaches (at a
    /// million records a second it takes 584,000 years), so that hostile file names
    /// cannot overflow recovery's arithmetic.
    pub fn next(self) -> Lsn {
        Lsn(self.0.saturating_add(1))
    }

    /// The LSN before this one (zero stays zero).
    pub fn prev(self) -> Lsn {
        Lsn(self.0.saturating_sub(1))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
