//! What a blocking stage holds: counted against its stage's limit (MongoDB's
//! 100 MB, `QueryExceededMemoryLimitNoDiskUseAllowed` 292 past it unless
//! `allowDiskUse`) and against the server's memory budget (`ExceededMemoryLimit`
//! 146 past it, whatever the options), in the bytes the documents take in memory.

use bson::Document;

use super::spill::Limits;
use super::Docs;
use crate::error::{Error, ErrorCode, Result};
use crate::memory::Reservation;
use crate::value::size::document_footprint;

/// The memory one blocking stage holds now.
pub(super) struct Held {
    reservation: Reservation,
    limits: Limits,
    /// What the stage is called in its error, e.g. `$group`.
    stage: &'static str,
}

impl Held {
    pub(super) fn new(reservation: Reservation, limits: Limits, stage: &'static str) -> Held {
        Held { reservation, limits, stage }
    }

    /// Counts `bytes` more. Past the stage's limit without `allowDiskUse`, fails
    /// with 292; a stage that spills checks [`Held::over`] instead and lets go.
    pub(super) fn add(&mut self, bytes: usize) -> Result<()> {
        self.reservation.grow(bytes)?;
        if self.over() && !self.limits.allow_disk_use {
            return Err(Error::command(
                ErrorCode::QueryExceededMemoryLimitNoDiskUseAllowed,
                format!(
                    "Exceeded memory limit for {}, but didn't allow external sort. Pass allowDiskUse:true to opt in.",
                    self.stage
                ),
            ));
        }
        Ok(())
    }

    /// Gathers every document of `docs`, counting each.
    pub(super) fn gather(&mut self, docs: Docs<'_>) -> Result<Vec<Document>> {
        docs.map(|doc| {
            let doc = doc?;
            self.add_document(&doc)?;
            Ok(doc)
        })
        .collect()
    }

    /// Counts a document the stage keeps.
    pub(super) fn add_document(&mut self, doc: &Document) -> Result<()> {
        self.add(document_footprint(doc))
    }

    /// The bytes the stage holds now.
    pub(super) fn bytes(&self) -> usize {
        self.reservation.bytes()
    }

    /// The stage's limit.
    pub(super) fn limit(&self) -> usize {
        self.limits.memory
    }

    /// Whether the stage holds more than its limit.
    pub(super) fn over(&self) -> bool {
        self.reservation.bytes() > self.limits.memory
    }

    /// The bytes held now, handed to whoever keeps them (a run being written):
    /// the stage counts none of them any more, the server still does.
    pub(super) fn hand_off(&mut self) -> Reservation {
        self.reservation.split_off()
    }

    /// After a spill: the stage holds nothing any more.
    pub(super) fn clear(&mut self) {
        let held = self.reservation.bytes();
        self.reservation.shrink(held);
    }

    /// Keeps the bytes counted until `docs` is dropped (the stage's output is read).
    pub(super) fn keep_while<'a>(self, docs: Docs<'a>) -> Docs<'a> {
        Box::new(Holding { docs, _held: self.reservation })
    }
}

/// A stream that keeps the memory its documents were counted in until it is dropped.
struct Holding<'a> {
    docs: Docs<'a>,
    _held: Reservation,
}

impl Iterator for Holding<'_> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        self.docs.next()
    }
}
