//! Writes take turns: one at a time, so that a write can know its sequence number
//! before it is made (the log's record is keyed by its LSN, which is the sequence
//! number of the write that carries it), and so that writes stop being taken while
//! the storage does not make them durable.
//!
//! SlateDB holds what is not yet in object storage in memory, and past its
//! `max_unflushed_bytes` it makes the next write wait for a flush, without limit
//! (its back-pressure comes before the write is queued, so a caller that gave up
//! waiting could not tell a write made from one never made). A turn comes first:
//! while the bytes written and not yet durable pass [`Turns::limit`], it waits for
//! SlateDB to make them durable, at most [`UNREACHABLE_AFTER`], and then refuses
//! the write with `HostUnreachable`, nothing written. The limit is an eighth of
//! `max_unflushed_bytes`, because SlateDB counts a write twice (in its log and its
//! memtable) and may still hold up to half of it in memtables it has not put.

use std::collections::VecDeque;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode, Result};

/// How long storage may leave written bytes undurable before writes fail: a
/// write waits this long to be durable, or for its turn, and no longer.
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(5);

/// The writes not yet known durable, and the last sequence number given.
pub(super) struct Turns {
    /// The sequence number of the last write (given, or SlateDB's).
    last_seq: u64,
    /// The writes not yet known durable, oldest first: sequence number and bytes.
    undurable: VecDeque<(u64, usize)>,
    undurable_bytes: usize,
    /// Past this many undurable bytes, a write waits for its turn.
    limit: usize,
}

impl Turns {
    /// After `last_seq`, which the database has; writes wait past `limit` bytes.
    pub(super) fn new(last_seq: u64, max_unflushed_bytes: usize) -> Turns {
        Turns { last_seq, undurable: VecDeque::new(), undurable_bytes: 0, limit: (max_unflushed_bytes / 8).max(1) }
    }

    /// The sequence number the next write is given: after the last one and after
    /// `floor`.
    pub(super) fn next_seq(&self, floor: u64) -> u64 {
        self.last_seq.max(floor) + 1
    }

    /// Notes a write made: `seq`, of `bytes`.
    pub(super) fn made(&mut self, seq: u64, bytes: usize) {
        self.last_seq = self.last_seq.max(seq);
        self.undurable.push_back((seq, bytes));
        self.undurable_bytes += bytes;
    }

    /// Forgets the writes up to `durable_seq`, which are in object storage.
    fn settle(&mut self, durable_seq: u64) {
        while let Some(&(seq, bytes)) = self.undurable.front() {
            if seq > durable_seq {
                break;
            }
            self.undurable.pop_front();
            self.undurable_bytes -= bytes;
        }
    }

    /// Whether a write may be made now: the bytes not yet durable are under the
    /// limit (or none are, for a write larger than the limit on its own).
    fn open(&self) -> bool {
        self.undurable_bytes < self.limit || self.undurable.is_empty()
    }
}

/// Waits until `turns` lets a write be made, at most [`UNREACHABLE_AFTER`], then
/// refuses it with `HostUnreachable`. `durable_seq` says what SlateDB has made
/// durable; `wait` waits for that to change, for at most the time given.
pub(super) fn take_turn<'a>(
    mut turns: MutexGuard<'a, Turns>,
    durable_seq: impl Fn() -> u64,
    wait: impl Fn(Duration),
) -> Result<MutexGuard<'a, Turns>> {
    let deadline = Instant::now() + UNREACHABLE_AFTER;
    loop {
        turns.settle(durable_seq());
        if turns.open() {
            return Ok(turns);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(unreachable(&turns));
        }
        wait(left);
    }
}

fn unreachable(turns: &Turns) -> Error {
    Error::command(
        ErrorCode::HostUnreachable,
        format!(
            "object storage unreachable: {} bytes written have not become durable in {} s, so no more writes are \
             taken until they do; this write was not made",
            turns.undurable_bytes,
            UNREACHABLE_AFTER.as_secs()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn writes_wait_past_the_limit_until_durable_and_then_are_refused() {
        let turns = Mutex::new(Turns::new(7, 800));
        assert_eq!(turns.lock().expect("lock").next_seq(0), 8);
        assert_eq!(turns.lock().expect("lock").next_seq(20), 21);
        let durable = std::cell::Cell::new(7);
        {
            let mut turn = take_turn(turns.lock().expect("lock"), || durable.get(), |_| unreachable!()).expect("open");
            // A write larger than the limit alone is taken.
            turn.made(8, 150);
        }
        // Past the limit (100 bytes), a turn waits until durability catches up.
        let waited = std::cell::Cell::new(0);
        let turn = take_turn(
            turns.lock().expect("lock"),
            || durable.get(),
            |_| {
                waited.set(waited.get() + 1);
                durable.set(8);
            },
        )
        .expect("durable");
        assert_eq!((waited.get(), turn.undurable_bytes, turn.next_seq(0)), (1, 0, 9));
        drop(turn);
        turns.lock().expect("lock").made(9, 100);
        let started = Instant::now();
        let refused = take_turn(turns.lock().expect("lock"), || durable.get(), std::thread::sleep)
            .map(|_| ())
            .expect_err("refused");
        assert_eq!(refused.code(), ErrorCode::HostUnreachable);
        assert!(started.elapsed() >= UNREACHABLE_AFTER);
    }
}
