//! What a `bulkWrite` did: one result document per operation that ran (only the
//! failed ones with `errorsOnly`), in operation order, and the summary counts, as
//! MongoDB 8.0 replies them.

use bson::{doc, Bson, Document};

use super::request::Kind;
use crate::command::args::Statements;
use crate::command::insert::Inserted;
use crate::command::update::Outcome;
use crate::command::Invocation;
use crate::error::{Error, Result};
use crate::store::Commit;

/// The namespace of the cursor over the results.
const CURSOR_COLLECTION: &str = "$cmd.bulkWrite";

/// What one run of operations did (see [`super::run`]).
pub enum Done {
    Inserted(Inserted),
    Updated(Statements<Outcome>),
    Deleted(Statements<i64>),
}

pub struct Results {
    errors_only: bool,
    items: Vec<Document>,
    errors: i32,
    inserted: i64,
    matched: i64,
    modified: i64,
    upserted: i64,
    deleted: i64,
    /// The statement ids an earlier attempt of this retryable write executed.
    retried: Vec<i32>,
    last_commit: Option<Commit>,
}

impl Results {
    pub fn new(errors_only: bool) -> Results {
        Results {
            errors_only,
            items: Vec::new(),
            errors: 0,
            inserted: 0,
            matched: 0,
            modified: 0,
            upserted: 0,
            deleted: 0,
            retried: Vec::new(),
            last_commit: None,
        }
    }

    /// Whether an operation has failed.
    pub fn failed(&self) -> bool {
        self.errors > 0
    }

    /// Statement `id` is one an earlier attempt of this retryable write executed.
    pub fn retried(&mut self, id: usize) {
        self.retried.push(i32::try_from(id).unwrap_or(i32::MAX));
    }

    /// The results of the run of operations that starts at operation `first`.
    pub fn add(&mut self, first: usize, done: Done) {
        match done {
            Done::Inserted(inserted) => {
                self.committed(inserted.last_commit);
                let mut errors = inserted.errors.iter().peekable();
                for index in 0..inserted.attempted {
                    match errors.next_if(|(failed, _)| *failed == index) {
                        Some((_, err)) => self.failed_op(first + index, Kind::Insert, err),
                        None => self.inserted(first + index),
                    }
                }
            }
            Done::Updated(statements) => {
                self.committed(statements.last_commit);
                self.merge(first, Kind::Update, &statements, Results::updated);
            }
            Done::Deleted(statements) => {
                self.committed(statements.last_commit);
                self.merge(first, Kind::Delete, &statements, |results, index, n| results.deleted(index, *n));
            }
        }
    }

    /// Operations ran up to a write that committed as `commit`.
    pub fn committed(&mut self, commit: Option<Commit>) {
        self.last_commit = commit.or(self.last_commit);
    }

    /// Operation `index` inserted its document.
    pub fn inserted(&mut self, index: usize) {
        self.inserted += 1;
        self.succeeded(index, || doc! {"n": 1});
    }

    /// Operation `index` updated (or upserted) as `outcome` says.
    pub fn updated(&mut self, index: usize, outcome: &Outcome) {
        self.modified += outcome.modified;
        match &outcome.upserted {
            Some(_) => self.upserted += 1,
            None => self.matched += outcome.matched,
        }
        self.succeeded(index, || {
            let mut counts = doc! {"n": outcome.matched as i32, "nModified": outcome.modified as i32};
            if let Some(id) = &outcome.upserted {
                counts.insert("n", 1);
                counts.insert("upserted", doc! {"index": 0, "_id": id.clone()});
            }
            counts
        });
    }

    /// Operation `index` deleted `n` documents.
    pub fn deleted(&mut self, index: usize, n: i64) {
        self.deleted += n;
        self.succeeded(index, || doc! {"n": n as i32});
    }

    /// The results of update or delete statements, in statement order.
    fn merge<T>(
        &mut self,
        first: usize,
        kind: Kind,
        statements: &Statements<T>,
        done_one: impl Fn(&mut Results, usize, &T),
    ) {
        let mut done = statements.done.iter().peekable();
        let mut errors = statements.errors.iter().peekable();
        loop {
            let next_done = done.peek().map(|(i, _)| *i);
            let next_error = errors.peek().map(|(i, _)| *i);
            match (next_done, next_error) {
                (Some(d), e) if e.is_none_or(|e| d < e) => {
                    let (index, outcome) = done.next().expect("peeked");
                    done_one(self, first + index, outcome);
                }
                (_, Some(_)) => {
                    let (index, err) = errors.next().expect("peeked");
                    self.failed_op(first + index, kind, err);
                }
                (None, None) => break,
                (Some(_), None) => unreachable!("the first arm takes it"),
            }
        }
    }

    /// Operation `index` succeeded: its result holds `counts`, unless only errors
    /// are replied.
    fn succeeded(&mut self, index: usize, counts: impl FnOnce() -> Document) {
        if self.errors_only {
            return;
        }
        let mut item = doc! {"ok": 1.0, "idx": index as i32};
        item.extend(counts());
        self.items.push(item);
    }

    /// Operation `index` failed with `err`: `{ok: 0, idx, code, errmsg, <the
    /// error's details>, n: 0}`, and `nModified: 0` for an update.
    pub fn failed_op(&mut self, index: usize, kind: Kind, err: &Error) {
        self.errors += 1;
        let mut item = doc! {"ok": 0.0, "idx": index as i32, "code": err.code().code()};
        match err {
            Error::Command { message, .. } => item.insert("errmsg", message.clone()),
            other => item.insert("errmsg", other.to_string()),
        };
        item.extend(err.info().cloned().unwrap_or_default());
        item.insert("n", 0);
        if kind == Kind::Update {
            item.insert("nModified", 0);
        }
        self.items.push(item);
    }

    /// The reply: the results through a cursor whose first batch holds at most
    /// `batch_size` (and 16 MiB), and the counts.
    pub fn reply(self, inv: &Invocation<'_>, batch_size: usize) -> Result<Document> {
        let ns = format!("admin.{CURSOR_COLLECTION}");
        let mut reply = match self.items.is_empty() {
            true => doc! {"cursor": {"id": 0i64, "firstBatch": [], "ns": ns}},
            false => inv.reply_with_ready_cursor(&inv.latest_view()?, ns, self.items, batch_size)?,
        };
        reply.insert("nErrors", self.errors);
        for (field, n) in [
            ("nInserted", self.inserted),
            ("nMatched", self.matched),
            ("nModified", self.modified),
            ("nUpserted", self.upserted),
            ("nDeleted", self.deleted),
        ] {
            reply.insert(field, n as i32);
        }
        if !self.retried.is_empty() {
            reply.insert("retriedStmtIds", self.retried.into_iter().map(Bson::Int32).collect::<Vec<_>>());
        }
        if let Some(commit) = self.last_commit {
            reply.insert("operationTime", commit.cluster_time());
        }
        Ok(reply)
    }
}
