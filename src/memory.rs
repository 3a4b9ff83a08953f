//! The server's memory budget: what operations hold, counted against `--max-memory`.
//!
//! Work that holds memory in proportion to what a client asks for (a blocking
//! stage's documents, a `$lookup`'s matches, a cursor's computed results, a message
//! being read, a transaction's writes) takes a [`Reservation`] from the one
//! [`Budget`] and grows it as it gathers. A reservation that would take the budget
//! past its limit fails with `ExceededMemoryLimit` (146): the operation ends with
//! MongoDB's error and the server stays up, instead of growing until the kernel
//! kills it. Dropping a reservation gives its bytes back.
//!
//! The budget is part of `--max-memory`, not all of it: the store's page cache,
//! buffers of connections and the runtime take the rest (`split`). Its last eighth
//! is kept for the messages clients send ([`Budget::reserve_message`]): work that
//! gathers memory stops short of it, so that while some operations fill the budget,
//! other clients' requests are still read and answered.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{Error, ErrorCode, Result};

/// A reservation holding at most this much may take the budget's last eighth.
pub const SMALL_WORK: usize = 1 << 20;

/// A limit on the bytes operations hold at once, and what they hold now.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// The most ever held at once.
    peak: AtomicUsize,
}

/// How `--max-memory` is shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The store engine's page cache.
    pub cache: usize,
    /// What operations may hold: the [`Budget`]'s limit.
    pub operations: usize,
}

/// A quarter of `--max-memory` for the store's page cache, half for operations;
/// the last quarter is left to what is not counted (connections' buffers, replies
/// being encoded, the runtime, the allocator's slack).
pub fn split(max_memory: usize) -> Split {
    Split { cache: max_memory / 4, operations: max_memory / 2 }
}

/// Half of the machine's memory (MongoDB sizes its cache from it too), or 4 GiB
/// where `/proc/meminfo` cannot be read.
pub fn default_max_memory() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
        let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    total.map_or(4 << 30, |bytes| bytes / 2)
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, used: AtomicUsize::new(0), peak: AtomicUsize::new(0) })
    }

    /// An empty reservation for work, to grow as the work gathers, up to all but
    /// the budget's last eighth.
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation { budget: Arc::clone(self), bytes: 0, ceiling: self.limit - self.limit / 8 }
    }

    /// A reservation of `bytes` for a message being read and served, which may take
    /// the budget's last eighth too.
    pub fn reserve_message(self: &Arc<Self>, bytes: usize) -> Result<Reservation> {
        let mut reservation = Reservation { budget: Arc::clone(self), bytes: 0, ceiling: self.limit };
        reservation.grow(bytes)?;
        Ok(reservation)
    }

    /// The bytes operations may hold at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The most held at once since start.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Takes `bytes` unless `used` would pass `ceiling`.
    fn take(&self, bytes: usize, ceiling: usize) -> Result<()> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let wanted = used.saturating_add(bytes);
            if wanted > ceiling {
                return Err(Error::command(
                    ErrorCode::ExceededMemoryLimit,
                    format!(
                        "Exceeded memory limit: operations hold {used} bytes of the server's {} and this one needs \
                         {bytes} more (--max-memory)",
                        self.limit
                    ),
                ));
            }
            match self.used.compare_exchange_weak(used, wanted, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(wanted, Ordering::Relaxed);
                    return Ok(());
                }
                Err(now) => used = now,
            }
        }
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Bytes taken from a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    bytes: usize,
    /// How far it may take the budget's use.
    ceiling: usize,
}

impl Reservation {
    /// Takes `bytes` more; fails with `ExceededMemoryLimit` (146), holding what it
    /// held, when the budget lacks them.
    pub fn grow(&mut self, bytes: usize) -> Result<()> {
        if bytes > 0 {
            let small = self.bytes.saturating_add(bytes) <= SMALL_WORK;
            let ceiling = if small { self.budget.limit } else { self.ceiling };
            self.budget.take(bytes, ceiling)?;
            self.bytes += bytes;
        }
        Ok(())
    }

    /// Gives `bytes` back (at most what it holds).
    pub fn shrink(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.budget.give_back(bytes);
        self.bytes -= bytes;
    }

    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Moves everything held into a reservation of its own (for whoever keeps
    /// those bytes now); this one holds nothing.
    pub fn split_off(&mut self) -> Reservation {
        let bytes = std::mem::take(&mut self.bytes);
        Reservation { budget: self.budget.clone(), bytes, ceiling: self.ceiling }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// What one blocking stage may hold before it spills or fails, as MongoDB's server
/// parameters of the same names, changeable with `setParameter`.
#[derive(Debug)]
pub struct StageLimits {
    /// `internalQueryMaxBlockingSortMemoryUsageBytes`: `$sort`, a `find`'s sort, and
    /// the other blocking stages.
    pub sort: AtomicUsize,
    /// `internalDocumentSourceGroupMaxMemoryBytes`: `$group`.
    pub group: AtomicUsize,
    /// `allowDiskUseByDefault`: what a command without `allowDiskUse` gets.
    pub allow_disk_use_by_default: AtomicBool,
}

/// MongoDB's 100 MB per blocking stage.
pub const STAGE_LIMIT: usize = 100 * 1024 * 1024;

impl Default for StageLimits {
    fn default() -> StageLimits {
        StageLimits {
            sort: AtomicUsize::new(STAGE_LIMIT),
            group: AtomicUsize::new(STAGE_LIMIT),
            allow_disk_use_by_default: AtomicBool::new(true),
        }
    }
}

impl StageLimits {
    pub fn sort(&self) -> usize {
        self.sort.load(Ordering::Relaxed)
    }

    pub fn group(&self) -> usize {
        self.group.load(Ordering::Relaxed)
    }

    pub fn allow_disk_use_by_default(&self) -> bool {
        self.allow_disk_use_by_default.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reservation of `bytes` for work.
    fn reserve(budget: &Arc<Budget>, bytes: usize) -> Result<Reservation> {
        let mut reservation = budget.reservation();
        reservation.grow(bytes)?;
        Ok(reservation)
    }

    #[test]
    fn reservations_take_from_the_budget_and_give_back_when_dropped() {
        let mb = SMALL_WORK;
        let budget = Budget::new(16 * mb);
        let mut a = reserve(&budget, 12 * mb).expect("fits");
        let err = reserve(&budget, 2 * mb + 1).expect_err("large work stops short of the last eighth");
        assert_eq!(err.code(), ErrorCode::ExceededMemoryLimit);
        assert_eq!(budget.used(), 12 * mb, "a refused reservation takes nothing");
        a.grow(2 * mb).expect("up to the last eighth");
        assert!(a.grow(1).is_err());
        let small = reserve(&budget, mb).expect("small work may take the last eighth");
        let message = budget.reserve_message(mb).expect("and so may a message");
        assert!(budget.reserve_message(1).is_err(), "not more than the limit");
        assert_eq!(budget.used(), 16 * mb);
        a.shrink(10 * mb);
        assert_eq!((a.bytes(), budget.used()), (4 * mb, 6 * mb));
        drop((a, small, message));
        assert_eq!((budget.used(), budget.peak()), (0, 16 * mb));
    }

    #[test]
    fn the_split_leaves_a_quarter_uncounted() {
        assert_eq!(split(1 << 30), Split { cache: 256 << 20, operations: 512 << 20 });
        assert!(default_max_memory() > 0);
    }
}
