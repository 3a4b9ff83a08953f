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
    /// Written element by element, so a post-image is serialized once, straight into
    /// the payload, with no intermediate copy.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut w = Writer::default();
        w.begin();
        w.datetime("t", 0);
        match self {
            Entry::Txn(txn) => {
                w.i64("b", txn.branch.0 as i64);
                w.begin_nested(0x04, "ops");
                for (i, op) in txn.ops.iter().enumerate() {
                    w.begin_nested(0x03, &i.to_string());
                    match op {
                        Op::Put { collection, doc } => {
                            w.string("op", "put");
                            w.string("c", collection);
                            w.document("d", doc)?;
                        }
                        Op::Delete { collection, id } => {
                            w.string("op", "del");
                            w.string("c", collection);
                            w.value("id", id)?;
                        }
                        Op::Ddl(ddl) => {
                            w.string("op", "ddl");
                            w.document("d", ddl)?;
                        }
                    }
                    w.end();
                }
                w.end();
            }
            Entry::Branch(BranchOp::Create { id, db, name, parent, base_lsn }) => {
                w.string("op", "create");
                w.i64("id", id.0 as i64);
                w.string("db", db);
                w.string("name", name);
                match parent {
                    Some(p) => w.i64("parent", p.0 as i64),
                    None => w.null("parent"),
                }
                w.i64("base", base_lsn.0 as i64);
            }
            Entry::Branch(BranchOp::Drop { id }) => {
                w.string("op", "drop");
                w.i64("id", id.0 as i64);
            }
            Entry::Checkpoint { applied } => w.i64("applied", applied.0 as i64),
            Entry::Seal => {}
        }
        w.end();
        Ok(w.out)
    }

    /// Decodes a payload of the given kind; `Err` holds why it does not parse.
    pub fn decode(kind: Kind, payload: &[u8]) -> std::result::Result<(DateTime, Entry), String> {
        crate::wire::check_document(payload).map_err(|e| format!("payload is not BSON: {e}"))?;
        let d = crate::value::decode(payload).map_err(|e| format!("payload is not BSON: {e}"))?;
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

/// Writes BSON element by element; nested documents are opened and closed explicitly
/// and their lengths filled in when closed.
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    open: Vec<usize>,
}

impl Writer {
    fn begin(&mut self) {
        self.open.push(self.out.len());
        self.out.extend_from_slice(&[0; 4]);
    }

    fn end(&mut self) {
        self.out.push(0);
        if let Some(start) = self.open.pop() {
            let len = (self.out.len() - start) as i32;
            self.out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        }
    }

    fn key(&mut self, tag: u8, key: &str) {
        self.out.push(tag);
        self.out.extend_from_slice(key.as_bytes());
        self.out.push(0);
    }

    fn begin_nested(&mut self, tag: u8, key: &str) {
        self.key(tag, key);
        self.begin();
    }

    fn datetime(&mut self, key: &str, millis: i64) {
        self.key(0x09, key);
        self.out.extend_from_slice(&millis.to_le_bytes());
    }

    fn i64(&mut self, key: &str, value: i64) {
        self.key(0x12, key);
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn null(&mut self, key: &str) {
        self.key(0x0A, key);
    }

    fn string(&mut self, key: &str, value: &str) {
        self.key(0x02, key);
        self.out.extend_from_slice(&((value.len() + 1) as i32).to_le_bytes());
        self.out.extend_from_slice(value.as_bytes());
        self.out.push(0);
    }

    fn document(&mut self, key: &str, doc: &Document) -> Result<()> {
        self.key(0x03, key);
        doc.to_writer(&mut self.out).map_err(|e| Error::bad_value(format!("cannot encode a WAL record: {e}")))
    }

    /// Any value, by encoding `{key: value}` and keeping its one element.
    fn value(&mut self, key: &str, value: &Bson) -> Result<()> {
        let mut one = Vec::new();
        doc! { key: value.clone() }
            .to_writer(&mut one)
            .map_err(|e| Error::bad_value(format!("cannot encode a WAL record: {e}")))?;
        self.out.extend_from_slice(&one[4..one.len() - 1]);
        Ok(())
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
