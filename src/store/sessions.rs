//! The session table: for each logical session, its newest retryable write (the
//! statements executed and what each replied) or committed transaction, written
//! by the same record as the changes, so that a retry finds it after a restart.
//! Rows are not versioned and belong to no branch (MongoDB's
//! `config.transactions`).

use std::collections::BTreeMap;

use bson::{doc, Bson, DateTime, Document};

use super::engine::{Snapshot, Staged, Table};
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::wal::Session;

/// What the store knows of a session's newest transaction number.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub txn_number: i64,
    /// The number belongs to a multi-document transaction that committed.
    pub committed_transaction: bool,
    /// The retryable write's executed statements, by statement id, with the part
    /// of the reply each gave.
    pub statements: BTreeMap<i32, Document>,
    /// The record that wrote it last.
    pub lsn: Lsn,
    pub time: DateTime,
}

/// The row key of a session: its `lsid` document's bytes.
pub fn key(lsid: &Document) -> Result<Vec<u8>> {
    bson::to_vec(lsid).map_err(|e| Error::bad_value(format!("cannot encode lsid: {e}")))
}

/// The row of `lsid`, if it has one.
pub fn load(engine: &dyn Snapshot, lsid: &Document) -> Result<Option<SessionRecord>> {
    let Some(bytes) = engine.get(Table::Sessions, &key(lsid)?)? else { return Ok(None) };
    let row = crate::value::decode(&bytes).map_err(|e| Error::Store(format!("bad session row: {e}")))?;
    decode(&row).map(Some).ok_or_else(|| Error::Store(format!("bad session row {row}")))
}

/// Records a record's session in the table: a newer transaction number replaces
/// the row, the same one (a retryable write split over several records) adds its
/// statements.
pub fn record(staged: &mut Staged, session: &Session, lsn: Lsn, time: DateTime) -> Result<()> {
    let key = key(&session.lsid)?;
    let mut statements = BTreeMap::new();
    if let Some(bytes) = staged.get(Table::Sessions, &key)? {
        let row = crate::value::decode(&bytes).map_err(|e| Error::Store(format!("bad session row: {e}")))?;
        match decode(&row) {
            Some(old) if old.txn_number == session.txn_number => statements = old.statements,
            Some(_) => {}
            None => return Err(Error::Store(format!("bad session row {row}"))),
        }
    }
    for statement in &session.statements {
        statements.insert(statement.id, statement.result.clone());
    }
    let record = SessionRecord {
        txn_number: session.txn_number,
        committed_transaction: session.statements.is_empty(),
        statements,
        lsn,
        time,
    };
    let bytes = bson::to_vec(&encode(&record)).map_err(|e| Error::Store(e.to_string()))?;
    staged.put(Table::Sessions, key, bytes);
    Ok(())
}

/// How long a row outlives its last write: MongoDB's session timeout
/// (`localLogicalSessionTimeoutMinutes`), after which a session's retries are no
/// longer recognised.
pub const ROW_LIFETIME_MS: i64 = 30 * 60 * 1000;

/// When the row `bytes` was last written.
pub fn written_at(bytes: &[u8]) -> Option<DateTime> {
    let row = crate::value::decode(bytes).ok()?;
    row.get_datetime("t").ok().copied()
}

fn encode(record: &SessionRecord) -> Document {
    let statements: Vec<Bson> =
        record.statements.iter().map(|(id, result)| Bson::Document(doc! {"id": *id, "r": result.clone()})).collect();
    doc! {
        "n": record.txn_number,
        "committed": record.committed_transaction,
        "st": statements,
        "lsn": record.lsn.0 as i64,
        "t": record.time,
    }
}

fn decode(row: &Document) -> Option<SessionRecord> {
    let mut statements = BTreeMap::new();
    for statement in row.get_array("st").ok()? {
        let statement = statement.as_document()?;
        statements.insert(statement.get_i32("id").ok()?, statement.get_document("r").ok()?.clone());
    }
    Some(SessionRecord {
        txn_number: row.get_i64("n").ok()?,
        committed_transaction: row.get_bool("committed").ok()?,
        statements,
        lsn: Lsn(row.get_i64("lsn").ok()? as u64),
        time: *row.get_datetime("t").ok()?,
    })
}

/// The session and transaction number of a retryable write, which its record
/// carries with the statements it executed.
#[derive(Debug, Clone, PartialEq)]
pub struct Retryable {
    pub lsid: Document,
    pub txn_number: i64,
}
