//! The session fields of a command (`lsid`, `txnNumber`, `autocommit`,
//! `startTransaction`) and what they make of it: a plain command; a retryable
//! write, whose executed statements are recorded with its changes so that a retry
//! replies as the first attempt did; or a statement of a multi-document
//! transaction, run on the transaction's snapshot and write set, which
//! `commitTransaction` and `abortTransaction` end. The rules are MongoDB's
//! (`TransactionParticipant::beginOrContinue`); errors get the labels drivers act on.

use std::cell::RefCell;
use std::time::Instant;

use bson::{doc, Bson, Document};

use super::invocation::SessionUse;
use super::labels::Role;
use super::{Command, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::sessions::{self, Session, State, Txn};
use crate::store::{Commit, Retryable, Transaction};
use crate::wal;

/// The commands a transaction may run (MongoDB's list, less those branchdb lacks).
const IN_TRANSACTION: &[&str] = &[
    "abortTransaction",
    "aggregate",
    "bulkWrite",
    "commitTransaction",
    "create",
    "createIndexes",
    "delete",
    "distinct",
    "find",
    "findAndModify",
    "getMore",
    "insert",
    "killCursors",
    "update",
];

/// The commands that read at `readConcern.level: "snapshot"` outside a transaction.
const SNAPSHOT_READS: &[&str] = &["find", "aggregate", "distinct", "getMore", "explain"];

/// The commands that are retryable writes.
const RETRYABLE_WRITES: &[&str] = &["insert", "update", "delete", "findAndModify", "bulkWrite"];

/// The session fields of a command, checked as MongoDB checks them.
pub struct Fields {
    lsid: Option<Document>,
    txn_number: Option<i64>,
    /// `autocommit: false` was given (`true` is refused).
    in_transaction: bool,
    start: bool,
}

impl Fields {
    pub fn parse(body: &Document) -> Result<Fields> {
        let lsid = match body.get("lsid") {
            None => None,
            Some(Bson::Document(lsid)) => {
                if sessions::session_id(lsid).is_none() {
                    return Err(Error::type_mismatch("BSON field 'lsid.id' must be a UUID (binary subtype 4)"));
                }
                Some(doc! { "id": lsid.get("id").cloned().unwrap_or(Bson::Null) })
            }
            Some(other) => return Err(wrong_type("lsid", other, "object")),
        };
        let txn_number = match body.get("txnNumber") {
            None => None,
            Some(Bson::Int64(n)) => Some(*n),
            Some(Bson::Int32(n)) => Some(i64::from(*n)),
            Some(other) => return Err(wrong_type("txnNumber", other, "long")),
        };
        let autocommit = match body.get("autocommit") {
            None => None,
            Some(Bson::Boolean(b)) => Some(*b),
            Some(other) => return Err(wrong_type("autocommit", other, "bool")),
        };
        let start = match body.get("startTransaction") {
            None => None,
            Some(Bson::Boolean(b)) => Some(*b),
            Some(other) => return Err(wrong_type("startTransaction", other, "bool")),
        };
        let invalid = |message: &str| Err(Error::command(ErrorCode::InvalidOptions, message));
        if txn_number.is_some() && lsid.is_none() {
            return invalid("Transaction number requires a session ID to also be specified");
        }
        if txn_number.is_some_and(|n| n < 0) {
            return Err(Error::bad_value("Transaction number cannot be negative"));
        }
        if autocommit.is_some() && txn_number.is_none() {
            return invalid("'autocommit' field requires a transaction number to also be specified");
        }
        if autocommit == Some(true) {
            return invalid("Specifying autocommit=true is not allowed.");
        }
        if start.is_some() && autocommit.is_none() {
            return invalid("'startTransaction' field requires 'autocommit' field to also be specified");
        }
        if start == Some(false) {
            return invalid("Specifying startTransaction=false is not allowed.");
        }
        Ok(Fields { lsid, txn_number, in_transaction: autocommit.is_some(), start: start.is_some() })
    }

    /// What these fields make of `command`.
    pub fn role(&self, command: &str) -> Role {
        match (self.txn_number, self.in_transaction) {
            (None, _) => Role::Plain,
            (Some(_), false) => Role::RetryableWrite,
            (Some(_), true) if is_end(command) => Role::Ends,
            (Some(_), true) => Role::Statement,
        }
    }
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field 'OperationSessionInfo.{field}' is the wrong type '{}', expected type '{expected}'",
        crate::value::type_name(Some(value))
    ))
}

fn is_end(command: &str) -> bool {
    matches!(command, "commitTransaction" | "abortTransaction")
}

/// Runs `inv`'s command in its session, as its fields say.
pub fn run(command: &Command, inv: Invocation<'_>, fields: &Fields) -> Result<Document> {
    if !fields.in_transaction && super::invocation::snapshot_level(inv.body) && !SNAPSHOT_READS.contains(&command.name)
    {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("{} does not support readConcern level 'snapshot' outside a transaction", command.name),
        ));
    }
    let session = match &fields.lsid {
        Some(lsid) => inv.context.sessions.touch(lsid, &super::sessions::owner(&inv))?,
        None => None,
    };
    let (Some(session), Some(txn_number)) = (session, fields.txn_number) else {
        return (command.run)(&inv);
    };
    if fields.in_transaction && !IN_TRANSACTION.contains(&command.name) {
        // Refused before the session is checked out: the transaction goes on.
        return Err(Error::command(
            ErrorCode::OperationNotSupportedInTransaction,
            format!("Cannot run '{}' in a multi-document transaction.", command.name),
        ));
    }
    let mut state = session.check_out();
    if !state.loaded {
        load(&inv, &session, &mut state)?;
    }
    match fields.in_transaction {
        false => retryable_write(command, inv, &session, &mut state, txn_number),
        true => statement(command, inv, &session, &mut state, txn_number, fields.start),
    }
}

/// Reads what the store's session table holds for the session: its newest number,
/// and whether that was a committed transaction.
fn load(inv: &Invocation<'_>, session: &Session, state: &mut State) -> Result<()> {
    if let Some(row) = inv.context.store.session_record(&session.lsid())? {
        state.txn_number = Some(row.txn_number);
        state.txn = match row.committed_transaction {
            true => Txn::Committed(Some(Commit { lsn: row.lsn, time: row.time })),
            false => Txn::None,
        };
    }
    state.loaded = true;
    Ok(())
}

/// A retryable write: refused for an older number, run with the statements an
/// earlier attempt at the same number executed.
fn retryable_write(
    command: &Command,
    inv: Invocation<'_>,
    session: &Session,
    state: &mut State,
    txn_number: i64,
) -> Result<Document> {
    if !RETRYABLE_WRITES.contains(&command.name) {
        return Err(Error::command(
            ErrorCode::Location50768,
            format!(
                "txnNumber may only be provided for multi-document transactions and retryable write commands. \
                 autocommit:false was not provided, and {} is not a retryable write command.",
                command.name
            ),
        ));
    }
    let lsid = session.lsid();
    let executed = match state.txn_number {
        Some(newest) if txn_number < newest => {
            return Err(Error::command(
                ErrorCode::TransactionTooOld,
                format!(
                    "Retryable write with txnNumber {txn_number} is prohibited on session {} because a newer \
                     retryable write with txnNumber {newest} has already started on this session.",
                    describe(&lsid)
                ),
            ))
        }
        Some(newest) if txn_number == newest => {
            if !matches!(state.txn, Txn::None) {
                return Err(Error::command(
                    ErrorCode::IncompleteTransactionHistory,
                    format!(
                        "Cannot run a retryable write with txnNumber {txn_number} on session {}: a transaction \
                         has that number",
                        describe(&lsid)
                    ),
                ));
            }
            inv.context.store.session_record(&lsid)?.filter(|row| row.txn_number == txn_number)
        }
        _ => None,
    };
    // A newer number ends whatever the session had open.
    state.txn_number = Some(txn_number);
    state.txn = Txn::None;
    if let Some(row) = executed.as_ref().filter(|row| !row.statements.is_empty()) {
        // An earlier attempt wrote: its reply stands once that write may be
        // acknowledged (it may have failed before that, `Error::NotDurable`).
        let journaled = inv.write_concern()?.0.journaled();
        inv.context.store.acknowledge(Commit { lsn: row.lsn, time: row.time }, journaled)?;
    }
    let executed = executed.map(|row| row.statements).unwrap_or_default();
    let used = SessionUse::Retryable { retryable: Retryable { lsid, txn_number }, executed };
    (command.run)(&Invocation { session: Some(&used), ..inv })
}

/// A statement of a transaction, or its commit or abort.
fn statement(
    command: &Command,
    inv: Invocation<'_>,
    session: &Session,
    state: &mut State,
    txn_number: i64,
    start: bool,
) -> Result<Document> {
    let ends = is_end(command.name);
    // `bulkWrite` runs on `admin` and writes where its namespaces say.
    if !ends && command.name != "bulkWrite" && matches!(inv.db.db.as_str(), "admin" | "config" | "local") {
        return Err(Error::command(
            ErrorCode::OperationNotSupportedInTransaction,
            format!("Cannot run command against the '{}' database in a transaction.", inv.db.db),
        ));
    }
    if !ends && inv.body.contains_key("writeConcern") {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "Cannot set write concern after starting a transaction.",
        ));
    }
    let lsid = session.lsid();
    let newest = state.txn_number.unwrap_or(-1);
    if txn_number < newest {
        return Err(Error::command(
            ErrorCode::TransactionTooOld,
            format!(
                "Cannot start transaction {txn_number} on session {} because a newer transaction {newest} has \
                 already started.",
                describe(&lsid)
            ),
        ));
    }
    if start {
        if txn_number == newest {
            return Err(Error::command(
                ErrorCode::ConflictingOperationInProgress,
                format!(
                    "Cannot start a transaction at given transaction number {txn_number} on session {}: a \
                     transaction or retryable write with the same number exists",
                    describe(&lsid)
                ),
            ));
        }
        let transaction = begin(&inv)?;
        state.txn_number = Some(txn_number);
        state.txn = Txn::Active { transaction: Box::new(transaction), started: Instant::now() };
    } else {
        if inv.body.contains_key("readConcern") {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "Only the first command in a transaction may specify a readConcern",
            ));
        }
        if txn_number > newest || matches!(state.txn, Txn::None) {
            return Err(no_such_transaction(format!(
                "Given transaction number {txn_number} does not match any in-progress transactions. The active \
                 transaction number is {newest}"
            )));
        }
        match (&state.txn, command.name) {
            (Txn::Committed(commit), "commitTransaction") => {
                // A retried commit: it committed, and is acknowledged once it may
                // be (an earlier attempt may have failed before that).
                if let Some(commit) = commit {
                    inv.context.store.acknowledge(*commit, inv.write_concern()?.0.journaled())?;
                }
                let time = commit.map_or_else(|| inv.context.store.operation_time(), |c| c.cluster_time());
                return Ok(doc! { "operationTime": time });
            }
            (Txn::Committed(_), _) => {
                return Err(Error::command(
                    ErrorCode::TransactionCommitted,
                    format!("Transaction with {{ txnNumber: {txn_number} }} has been committed."),
                ))
            }
            (Txn::Aborted, _) => {
                return Err(no_such_transaction(format!(
                    "Transaction with {{ txnNumber: {txn_number} }} has been aborted."
                )))
            }
            (Txn::Active { .. }, _) | (Txn::None, _) => {}
        }
    }
    let journaled = inv.write_concern()?.0.journaled();
    let Txn::Active { transaction, started } = std::mem::take(&mut state.txn) else {
        return Err(Error::Internal("the transaction is not open".into()));
    };
    match command.name {
        "commitTransaction" => {
            let session = wal::Session { lsid, txn_number, statements: Vec::new() };
            match inv.context.store.commit_transaction(*transaction, session, journaled) {
                Ok(commit) => {
                    state.txn = Txn::Committed(commit);
                    let time = commit.map_or_else(|| inv.context.store.operation_time(), |c| c.cluster_time());
                    Ok(doc! { "operationTime": time })
                }
                Err(e) => {
                    state.txn = match &e {
                        // Committed, not yet durable: a retried commit waits for it.
                        Error::NotDurable { lsn, time: Some(time), .. } => {
                            Txn::Committed(Some(Commit { lsn: *lsn, time: *time }))
                        }
                        _ => Txn::Aborted,
                    };
                    Err(e)
                }
            }
        }
        "abortTransaction" => {
            state.txn = Txn::Aborted;
            Ok(Document::new())
        }
        _ => {
            let used = SessionUse::Transaction(RefCell::new(transaction));
            let outcome = (command.run)(&Invocation { session: Some(&used), ..inv });
            let SessionUse::Transaction(transaction) = used else { unreachable!("built as a transaction above") };
            // Any failure aborts the transaction, a write error too.
            state.txn = match &outcome {
                Ok(reply) if !reply.contains_key("writeErrors") && !reply.get_i32("nErrors").is_ok_and(|n| n > 0) => {
                    Txn::Active { transaction: transaction.into_inner(), started }
                }
                _ => Txn::Aborted,
            };
            outcome.map(|mut reply| {
                // A router's replies in a transaction carry the token drivers send
                // back with the commit; one node needs nothing in it.
                reply.insert("recoveryToken", doc! {"recoveryShardId": SHARD_ID});
                reply
            })
        }
    }
}

/// The one shard a router would name: this node.
pub const SHARD_ID: &str = "branchdb";

/// Begins a transaction at the read concern of its first statement.
fn begin(inv: &Invocation<'_>) -> Result<Transaction> {
    if let Ok(concern) = inv.body.get_document("readConcern") {
        match concern.get("level") {
            None | Some(Bson::String(_)) => {}
            Some(other) => {
                return Err(Error::type_mismatch(format!("readConcern.level must be a string, not {other}")))
            }
        }
        if let Ok(level) = concern.get_str("level") {
            if !matches!(level, "local" | "majority" | "snapshot") {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    format!(
                        "The readConcern level must be either 'local' (default), 'majority' or 'snapshot' in order \
                         to run in a transaction, not '{level}'"
                    ),
                ));
            }
        }
        if concern.contains_key("atClusterTime") {
            return Err(Error::command(
                ErrorCode::NotImplemented,
                "atClusterTime in a transaction is not supported: address the point as <db>@<branch>~<point> instead",
            ));
        }
        if let Some(after) = super::invocation::after_cluster_time(inv.body)? {
            inv.wait_for_cluster_time(after)?;
        }
    }
    let mut txn = inv.context.store.begin()?;
    txn.count_memory_in(inv.context.memory.reservation());
    Ok(txn)
}

fn no_such_transaction(message: String) -> Error {
    Error::command(ErrorCode::NoSuchTransaction, message)
}

/// A session id for messages: its UUID.
fn describe(lsid: &Document) -> String {
    match lsid.get("id") {
        Some(Bson::Binary(id)) => bson::Uuid::from_bytes(id.bytes.as_slice().try_into().unwrap_or([0; 16])).to_string(),
        _ => "?".into(),
    }
}
