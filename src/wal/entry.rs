//! What a record says: a transaction, a branch operation, a checkpoint mark or a
//! segment seal, with its commit time. Payloads are BSON documents whose first field
//! is the commit time `t`, so the appender can stamp the time into an already encoded
//! payload under its lock (times increase with LSNs) without re-encoding it.

use bson::{doc, Bson, DateTime, Document};

use super::record::Kind;
use crate::error::{Error, Result};
use crate::lsn::Lsn;

/// Identifies a branch in records; names live in branch-create records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BranchId(pub u64);

/// One change inside a transaction. Puts carry the full post-image, so replay is a
/// fold that never re-executes an update operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Put {
        collection: String,
        doc: Document,
    },
    Delete {
        collection: String,
        id: Bson,
    },
    /// Collection and index definitions; described by the store that writes them.
    Ddl(Document),
}

/// A set of changes to one branch, atomic as one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Txn {
    pub branch: BranchId,
    pub ops: Vec<Op>,
}

/// Creating or dropping a branch.
#[derive(Debug, Clone, PartialEq)]
pub enum BranchOp {
    Create { id: BranchId, db: String, name: String, parent: Option<BranchId>, base_lsn: Lsn },
    Drop { id: BranchId },
}

/// The content of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Txn(Txn),
    Branch(BranchOp),
    /// Everything up to `applied` is in the materialized store.
    Checkpoint {
        applied: Lsn,
    },
    /// The last record of a full segment.
    Seal,
}

/// Byte range of the commit time inside an encoded payload:
/// 4 (document length) + 1 (type 0x09) + 2 ("t\0"), then 8 bytes.
pub const TIME_OFFSET: usize = 7;

impl Entry {
    pub fn kind(&self) -> Kind {
        match self {
            Entry::Txn(_) => Kind::Txn,
            Entry::Branch(_) => Kind::Branch,
            Entry::Checkpoint { .. } => Kind::Checkpoint,
            Entry::Seal => Kind::Seal,
        }
    }

    /// Encodes the payload with a zero commit time, to be stamped by [`stamp_time`].
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut d = doc! { "t": DateTime::from_millis(0) };
        match self {
            Entry::Txn(txn) => {
                d.insert("b", txn.branch.0 as i64);
                let ops: Vec<Bson> = txn
                    .ops
                    .iter()
                    .map(|op| {
                        Bson::Document(match op {
                            Op::Put { collection, doc } => doc! {"op": "put", "c": collection, "d": doc},
                            Op::Delete { collection, id } => doc! {"op": "del", "c": collection, "id": id.clone()},
                            Op::Ddl(ddl) => doc! {"op": "ddl", "d": ddl},
                        })
                    })
                    .collect();
                d.insert("ops", ops);
            }
            Entry::Branch(BranchOp::Create { id, db, name, parent, base_lsn }) => {
                d.insert("op", "create");
                d.insert("id", id.0 as i64);
                d.insert("db", db);
                d.insert("name", name);
                d.insert("parent", parent.map_or(Bson::Null, |p| Bson::Int64(p.0 as i64)));
                d.insert("base", base_lsn.0 as i64);
            }
            Entry::Branch(BranchOp::Drop { id }) => {
                d.insert("op", "drop");
                d.insert("id", id.0 as i64);
            }
            Entry::Checkpoint { applied } => {
                d.insert("applied", applied.0 as i64);
            }
            Entry::Seal => {}
        }
        let mut out = Vec::new();
        d.to_writer(&mut out).map_err(|e| Error::bad_value(format!("cannot encode a WAL record: {e}")))?;
        Ok(out)
    }

    /// Decodes a payload of the given kind; `Err` holds why it does not parse.
    pub fn decode(kind: Kind, payload: &[u8]) -> std::result::Result<(DateTime, Entry), String> {
        crate::wire::check_document(payload).map_err(|e| format!("payload is not BSON: {e}"))?;
        let d = Document::from_reader(payload).map_err(|e| format!("payload is not BSON: {e}"))?;
        let time = d.get_datetime("t").map_err(|_| "payload has no commit time".to_owned())?;
        let int = |key: &str| d.get_i64(key).map(|v| v as u64).map_err(|_| format!("payload lacks '{key}'"));
        let entry = match kind {
            Kind::Txn => {
                let ops = d.get_array("ops").map_err(|_| "txn lacks ops".to_owned())?;
                let ops = ops.iter().map(decode_op).collect::<std::result::Result<_, _>>()?;
                Entry::Txn(Txn { branch: BranchId(int("b")?), ops })
            }
            Kind::Branch => match d.get_str("op") {
                Ok("create") => Entry::Branch(BranchOp::Create {
                    id: BranchId(int("id")?),
                    db: d.get_str("db").map_err(|_| "branch create lacks db")?.to_owned(),
                    name: d.get_str("name").map_err(|_| "branch create lacks name")?.to_owned(),
                    parent: d.get_i64("parent").ok().map(|p| BranchId(p as u64)),
                    base_lsn: Lsn(int("base")?),
                }),
                Ok("drop") => Entry::Branch(BranchOp::Drop { id: BranchId(int("id")?) }),
                _ => return Err("unknown branch operation".into()),
            },
            Kind::Checkpoint => Entry::Checkpoint { applied: Lsn(int("applied")?) },
            Kind::Seal => Entry::Seal,
        };
        Ok((*time, entry))
    }
}

fn decode_op(op: &Bson) -> std::result::Result<Op, String> {
    let Bson::Document(d) = op else { return Err("an op is not a document".into()) };
    let collection = || d.get_str("c").map(str::to_owned).map_err(|_| "op lacks its collection".to_owned());
    match d.get_str("op") {
        Ok("put") => {
            Ok(Op::Put { collection: collection()?, doc: d.get_document("d").map_err(|_| "put lacks d")?.clone() })
        }
        Ok("del") => Ok(Op::Delete { collection: collection()?, id: d.get("id").ok_or("delete lacks id")?.clone() }),
        Ok("ddl") => Ok(Op::Ddl(d.get_document("d").map_err(|_| "ddl lacks d")?.clone())),
        _ => Err("unknown op".into()),
    }
}

/// Writes the commit time into an encoded payload.
pub fn stamp_time(payload: &mut [u8], time: DateTime) {
    payload[TIME_OFFSET..TIME_OFFSET + 8].copy_from_slice(&time.timestamp_millis().to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_a_stamped_time() {
        let entries = [
            Entry::Txn(Txn {
                branch: BranchId(3),
                ops: vec![
                    Op::Put { collection: "c".into(), doc: doc! {"_id": 1, "x": "y"} },
                    Op::Delete { collection: "c".into(), id: Bson::Int32(2) },
                    Op::Ddl(doc! {"create": "c"}),
                ],
            }),
            Entry::Branch(BranchOp::Create {
                id: BranchId(2),
                db: "shop".into(),
                name: "f".into(),
                parent: Some(BranchId(1)),
                base_lsn: Lsn(9),
            }),
            Entry::Branch(BranchOp::Drop { id: BranchId(2) }),
            Entry::Checkpoint { applied: Lsn(77) },
            Entry::Seal,
        ];
        for entry in entries {
            let mut payload = entry.encode().expect("encode");
            stamp_time(&mut payload, DateTime::from_millis(1_795_255_200_123));
            let (time, decoded) = Entry::decode(entry.kind(), &payload).expect("decode");
            assert_eq!(time.timestamp_millis(), 1_795_255_200_123);
            assert_eq!(decoded, entry);
        }
    }
}
