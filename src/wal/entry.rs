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

/// What wrote a put: the change streams of the future tell these apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutKind {
    /// A new document.
    Insert,
    /// A document changed by update operators (or a pipeline).
    Update,
    /// A document replaced whole (a replacement update, `findAndModify`, `$merge`).
    Replace,
    /// A put of a version 1 record, which did not say.
    Unrecorded,
}

impl PutKind {
    /// How `branchdb wal dump` names the kind.
    pub fn name(self) -> &'static str {
        match self {
            PutKind::Insert => "insert",
            PutKind::Update => "update",
            PutKind::Replace => "replace",
            PutKind::Unrecorded => "put",
        }
    }

    /// How records name the kind.
    fn tag(self) -> &'static str {
        match self {
            PutKind::Insert => "ins",
            PutKind::Update => "upd",
            PutKind::Replace => "rep",
            PutKind::Unrecorded => "put",
        }
    }

    fn from_tag(tag: &str) -> Option<PutKind> {
        [PutKind::Insert, PutKind::Update, PutKind::Replace, PutKind::Unrecorded].into_iter().find(|k| k.tag() == tag)
    }
}

/// One change inside a transaction. Puts carry the full post-image, so replay is a
/// fold that never re-executes an update operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Put { collection: String, kind: PutKind, doc: Document },
    Delete { collection: String, id: Bson },
    Ddl(Ddl),
}

/// A change to the catalog of the branch. Index definitions are the documents the
/// index module reads and writes; the log only carries them.
#[derive(Debug, Clone, PartialEq)]
pub enum Ddl {
    /// Creates a collection (or, in a rename, re-creates it under its new name with
    /// its id and indexes).
    CreateCollection {
        name: String,
        id: u64,
        options: Document,
        indexes: Vec<Document>,
    },
    DropCollection {
        name: String,
    },
    /// Adds an index and builds its entries from the documents the branch sees.
    CreateIndex {
        collection: String,
        index: Document,
    },
    DropIndex {
        collection: String,
        index: String,
    },
    /// Replaces a collection's options (`collMod`).
    ModifyCollection {
        name: String,
        options: Document,
    },
    /// Replaces the definition of a collection's index, keeping its entries
    /// (`collMod`'s `index` option: hidden, TTL, unique; format version 5).
    ModifyIndex {
        collection: String,
        name: String,
        spec: Document,
    },
    /// Says that the record drops the database: its collections are dropped by the
    /// operations before it. Changes nothing itself (change streams report it).
    DropDatabase,
}

/// Where the changes of a merge come from: a branch as of an LSN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Origin {
    pub branch: BranchId,
    pub lsn: Lsn,
}

/// The logical session and transaction a write belongs to, so that a retried
/// statement is recognised after a restart, and a committed transaction is known
/// to be committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub lsid: Document,
    pub txn_number: i64,
    /// The statements of a retryable write this record holds, each with what it
    /// did (its part of the reply); none for a transaction's commit.
    pub statements: Vec<Statement>,
}

/// One executed statement of a retryable write.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Its position in the command (MongoDB's `stmtId`).
    pub id: i32,
    /// What a retry replies for it.
    pub result: Document,
}

/// A set of changes to one branch, atomic as one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Txn {
    pub branch: BranchId,
    pub ops: Vec<Op>,
    /// Set by a merge.
    pub origin: Option<Origin>,
    /// Set by a write of a session's transaction or retryable write.
    pub session: Option<Session>,
}

impl Txn {
    /// Plain changes to `branch`, with no origin and no session.
    pub fn new(branch: BranchId, ops: Vec<Op>) -> Txn {
        Txn { branch, ops, origin: None, session: None }
    }
}

/// Creating, dropping, resetting or configuring a branch.
#[derive(Debug, Clone, PartialEq)]
pub enum BranchOp {
    Create {
        id: BranchId,
        db: String,
        name: String,
        parent: Option<BranchId>,
        base_lsn: Lsn,
    },
    Drop {
        id: BranchId,
    },
    /// Branch `id` is replaced, under its name, by branch `new_id` starting at
    /// `parent`'s state at `base_lsn`; `id` stays readable at points before this
    /// record (format version 3).
    Reset {
        id: BranchId,
        new_id: BranchId,
        parent: BranchId,
        base_lsn: Lsn,
    },
    /// Branch `id`'s settings become these (format version 3).
    Update {
        id: BranchId,
        settings: BranchSettings,
    },
}

/// What `updateBranch` sets (SPEC §3.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BranchSettings {
    /// No drop, no reset.
    pub protected: bool,
    /// Writes fail with code 20.
    pub read_only: bool,
    /// The background collector drops the branch after this time.
    pub expire_at: Option<DateTime>,
    pub description: Option<String>,
}

impl BranchSettings {
    pub fn to_document(&self) -> Document {
        let mut doc = doc! { "protected": self.protected, "readOnly": self.read_only };
        if let Some(at) = self.expire_at {
            doc.insert("expireAt", at);
        }
        if let Some(description) = &self.description {
            doc.insert("description", description);
        }
        doc
    }

    /// Missing fields read as their defaults.
    pub fn from_document(doc: &Document) -> BranchSettings {
        BranchSettings {
            protected: doc.get_bool("protected").unwrap_or(false),
            read_only: doc.get_bool("readOnly").unwrap_or(false),
            expire_at: doc.get_datetime("expireAt").ok().copied(),
            description: doc.get_str("description").ok().map(str::to_owned),
        }
    }
}

/// The content of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Txn(Txn),
    /// A multi-document transaction's changes to several branches (databases),
    /// applied together at one LSN: all or nothing. The first part carries the
    /// session.
    Group(Vec<Txn>),
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
            Entry::Group(_) => Kind::Group,
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
            Entry::Txn(txn) => write_txn(&mut w, txn)?,
            Entry::Group(parts) => {
                w.begin_nested(0x04, "parts");
                for (i, txn) in parts.iter().enumerate() {
                    w.begin_nested(0x03, &i.to_string());
                    write_txn(&mut w, txn)?;
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
            Entry::Branch(BranchOp::Reset { id, new_id, parent, base_lsn }) => {
                w.string("op", "reset");
                w.i64("id", id.0 as i64);
                w.i64("new", new_id.0 as i64);
                w.i64("parent", parent.0 as i64);
                w.i64("base", base_lsn.0 as i64);
            }
            Entry::Branch(BranchOp::Update { id, settings }) => {
                w.string("op", "update");
                w.i64("id", id.0 as i64);
                w.document("settings", &settings.to_document())?;
            }
            Entry::Checkpoint { applied } => w.i64("applied", applied.0 as i64),
            Entry::Seal => {}
        }
        w.end();
        Ok(w.out)
    }

    /// Decodes a payload of the given kind and format version; `Err` holds why it
    /// does not parse.
    pub fn decode(kind: Kind, version: u8, payload: &[u8]) -> std::result::Result<(DateTime, Entry), String> {
        crate::value::check::check_document(payload).map_err(|e| format!("payload is not BSON: {e}"))?;
        let d = crate::value::decode(payload).map_err(|e| format!("payload is not BSON: {e}"))?;
        let time = d.get_datetime("t").map_err(|_| "payload has no commit time".to_owned())?;
        let int = |key: &str| d.get_i64(key).map(|v| v as u64).map_err(|_| format!("payload lacks '{key}'"));
        let entry = match kind {
            Kind::Txn => Entry::Txn(decode_txn(version, &d)?),
            Kind::Group => {
                let parts = d.get_array("parts").map_err(|_| "group lacks parts".to_owned())?;
                let parts = parts
                    .iter()
                    .map(|part| match part {
                        Bson::Document(part) => decode_txn(version, part),
                        _ => Err("a part of a group is not a document".to_owned()),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if parts.is_empty() {
                    return Err("a group has no parts".into());
                }
                Entry::Group(parts)
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
                Ok("reset") if version >= 3 => Entry::Branch(BranchOp::Reset {
                    id: BranchId(int("id")?),
                    new_id: BranchId(int("new")?),
                    parent: BranchId(int("parent")?),
                    base_lsn: Lsn(int("base")?),
                }),
                Ok("update") if version >= 3 => Entry::Branch(BranchOp::Update {
                    id: BranchId(int("id")?),
                    settings: BranchSettings::from_document(
                        d.get_document("settings").map_err(|_| "branch update lacks settings")?,
                    ),
                }),
                _ => return Err("unknown branch operation".into()),
            },
            Kind::Checkpoint => Entry::Checkpoint { applied: Lsn(int("applied")?) },
            Kind::Seal => Entry::Seal,
            Kind::Fragment => return Err("a fragment is only a piece of a framed record".into()),
        };
        Ok((*time, entry))
    }
}

/// Writes a transaction's fields into the open document.
fn write_txn(w: &mut Writer, txn: &Txn) -> Result<()> {
    w.i64("b", txn.branch.0 as i64);
    if let Some(origin) = &txn.origin {
        w.begin_nested(0x03, "m");
        w.i64("b", origin.branch.0 as i64);
        w.i64("lsn", origin.lsn.0 as i64);
        w.end();
    }
    if let Some(session) = &txn.session {
        w.begin_nested(0x03, "s");
        w.document("lsid", &session.lsid)?;
        w.i64("n", session.txn_number);
        w.begin_nested(0x04, "st");
        for (i, statement) in session.statements.iter().enumerate() {
            w.begin_nested(0x03, &i.to_string());
            w.i32("id", statement.id);
            w.document("r", &statement.result)?;
            w.end();
        }
        w.end();
        w.end();
    }
    w.begin_nested(0x04, "ops");
    for (i, op) in txn.ops.iter().enumerate() {
        w.begin_nested(0x03, &i.to_string());
        match op {
            Op::Put { collection, kind, doc } => {
                w.string("op", kind.tag());
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
                w.document("d", &ddl.to_document())?;
            }
        }
        w.end();
    }
    w.end();
    Ok(())
}

fn decode_txn(version: u8, d: &Document) -> std::result::Result<Txn, String> {
    let ops = d.get_array("ops").map_err(|_| "txn lacks ops".to_owned())?;
    let ops = ops.iter().map(|op| decode_op(version, op)).collect::<std::result::Result<_, _>>()?;
    let origin = match d.get_document("m") {
        Ok(m) => Some(Origin {
            branch: BranchId(m.get_i64("b").map_err(|_| "origin lacks b")? as u64),
            lsn: Lsn(m.get_i64("lsn").map_err(|_| "origin lacks lsn")? as u64),
        }),
        Err(_) => None,
    };
    let session = d.get_document("s").ok().map(decode_session).transpose()?;
    let branch = BranchId(d.get_i64("b").map_err(|_| "txn lacks 'b'".to_owned())? as u64);
    Ok(Txn { branch, ops, origin, session })
}

fn decode_op(version: u8, op: &Bson) -> std::result::Result<Op, String> {
    let Bson::Document(d) = op else { return Err("an op is not a document".into()) };
    let collection = || d.get_str("c").map(str::to_owned).map_err(|_| "op lacks its collection".to_owned());
    let tag = d.get_str("op").map_err(|_| "op lacks its name")?;
    match tag {
        "del" => Ok(Op::Delete { collection: collection()?, id: d.get("id").ok_or("delete lacks id")?.clone() }),
        "ddl" => Ok(Op::Ddl(Ddl::from_document(d.get_document("d").map_err(|_| "ddl lacks d")?)?)),
        _ => match PutKind::from_tag(tag) {
            // Version 1 wrote every put as "put"; version 2 says which kind.
            Some(kind) if (kind == PutKind::Unrecorded) == (version == 1) => Ok(Op::Put {
                collection: collection()?,
                kind,
                doc: d.get_document("d").map_err(|_| "put lacks d")?.clone(),
            }),
            _ => Err(format!("unknown op '{tag}' in a version {version} record")),
        },
    }
}

fn decode_session(s: &Document) -> std::result::Result<Session, String> {
    let statements = s.get_array("st").map_err(|_| "session lacks st")?;
    let statement = |st: &Bson| -> std::result::Result<Statement, String> {
        let st = st.as_document().ok_or("a statement is not a document")?;
        Ok(Statement {
            id: st.get_i32("id").map_err(|_| "a statement lacks its id")?,
            result: st.get_document("r").map_err(|_| "a statement lacks its result")?.clone(),
        })
    };
    Ok(Session {
        lsid: s.get_document("lsid").map_err(|_| "session lacks lsid")?.clone(),
        txn_number: s.get_i64("n").map_err(|_| "session lacks n")?,
        statements: statements.iter().map(statement).collect::<std::result::Result<_, _>>()?,
    })
}

impl Ddl {
    /// The document a record holds, in the shape version 1 wrote (the modify and
    /// drop-database operations came with version 4, the index modification with
    /// version 5).
    pub fn to_document(&self) -> Document {
        match self {
            Ddl::CreateCollection { name, id, options, indexes } => {
                doc! { "create": name, "id": *id as i64, "options": options.clone(), "indexes": indexes.clone() }
            }
            Ddl::DropCollection { name } => doc! { "drop": name },
            Ddl::CreateIndex { collection, index } => doc! { "createIndex": collection, "index": index.clone() },
            Ddl::DropIndex { collection, index } => doc! { "dropIndex": collection, "index": index },
            Ddl::ModifyCollection { name, options } => doc! { "modify": name, "options": options.clone() },
            Ddl::ModifyIndex { collection, name, spec } => {
                doc! { "modifyIndex": collection, "name": name, "spec": spec.clone() }
            }
            Ddl::DropDatabase => doc! { "dropDatabase": true },
        }
    }

    fn from_document(d: &Document) -> std::result::Result<Ddl, String> {
        let bad = || format!("bad DDL operation {d}");
        if let Ok(name) = d.get_str("create") {
            let indexes = match d.get_array("indexes") {
                Ok(list) => list
                    .iter()
                    .map(|i| i.as_document().cloned().ok_or_else(bad))
                    .collect::<std::result::Result<_, _>>()?,
                Err(_) => Vec::new(),
            };
            return Ok(Ddl::CreateCollection {
                name: name.to_owned(),
                id: d.get_i64("id").map_err(|_| bad())? as u64,
                options: d.get_document("options").cloned().unwrap_or_default(),
                indexes,
            });
        }
        if let Ok(name) = d.get_str("drop") {
            return Ok(Ddl::DropCollection { name: name.to_owned() });
        }
        if let Ok(collection) = d.get_str("createIndex") {
            let index = d.get_document("index").map_err(|_| bad())?.clone();
            return Ok(Ddl::CreateIndex { collection: collection.to_owned(), index });
        }
        if let Ok(collection) = d.get_str("dropIndex") {
            let index = d.get_str("index").map_err(|_| bad())?.to_owned();
            return Ok(Ddl::DropIndex { collection: collection.to_owned(), index });
        }
        if let Ok(name) = d.get_str("modify") {
            let options = d.get_document("options").map_err(|_| bad())?.clone();
            return Ok(Ddl::ModifyCollection { name: name.to_owned(), options });
        }
        if let Ok(collection) = d.get_str("modifyIndex") {
            let name = d.get_str("name").map_err(|_| bad())?.to_owned();
            let spec = d.get_document("spec").map_err(|_| bad())?.clone();
            return Ok(Ddl::ModifyIndex { collection: collection.to_owned(), name, spec });
        }
        if d.contains_key("dropDatabase") {
            return Ok(Ddl::DropDatabase);
        }
        Err(bad())
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

    fn i32(&mut self, key: &str, value: i32) {
        self.key(0x10, key);
        self.out.extend_from_slice(&value.to_le_bytes());
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
    use crate::wal::record::PAYLOAD_VERSION;

    #[test]
    fn entries_round_trip_with_a_stamped_time() {
        let entries = [
            Entry::Txn(Txn::new(
                BranchId(3),
                vec![
                    Op::Put { collection: "c".into(), kind: PutKind::Insert, doc: doc! {"_id": 1, "x": "y"} },
                    Op::Put { collection: "c".into(), kind: PutKind::Update, doc: doc! {"_id": 1, "x": "z"} },
                    Op::Put { collection: "c".into(), kind: PutKind::Replace, doc: doc! {"_id": 1} },
                    Op::Delete { collection: "c".into(), id: Bson::Int32(2) },
                    Op::Ddl(Ddl::CreateCollection {
                        name: "c".into(),
                        id: 4,
                        options: doc! {"capped": false},
                        indexes: vec![doc! {"name": "a_1"}],
                    }),
                    Op::Ddl(Ddl::CreateIndex { collection: "c".into(), index: doc! {"name": "b_1"} }),
                    Op::Ddl(Ddl::DropIndex { collection: "c".into(), index: "b_1".into() }),
                    Op::Ddl(Ddl::ModifyCollection { name: "c".into(), options: doc! {"x": 1} }),
                    Op::Ddl(Ddl::ModifyIndex {
                        collection: "c".into(),
                        name: "b_1".into(),
                        spec: doc! {"hidden": true},
                    }),
                    Op::Ddl(Ddl::DropCollection { name: "c".into() }),
                    Op::Ddl(Ddl::DropDatabase),
                ],
            )),
            Entry::Txn(Txn {
                branch: BranchId(3),
                ops: vec![Op::Delete { collection: "c".into(), id: Bson::Int32(2) }],
                origin: Some(Origin { branch: BranchId(5), lsn: Lsn(40) }),
                session: Some(Session {
                    lsid: doc! {"id": "u"},
                    txn_number: 7,
                    statements: vec![
                        Statement { id: 0, result: doc! {} },
                        Statement { id: 1, result: doc! {"n": 1, "upserted": 5} },
                    ],
                }),
            }),
            Entry::Group(vec![
                Txn::new(BranchId(1), vec![Op::Delete { collection: "a".into(), id: Bson::Int32(1) }]),
                Txn::new(BranchId(4), vec![Op::Delete { collection: "b".into(), id: Bson::Int32(2) }]),
            ]),
            Entry::Branch(BranchOp::Create {
                id: BranchId(2),
                db: "shop".into(),
                name: "f".into(),
                parent: Some(BranchId(1)),
                base_lsn: Lsn(9),
            }),
            Entry::Branch(BranchOp::Drop { id: BranchId(2) }),
            Entry::Branch(BranchOp::Reset {
                id: BranchId(1),
                new_id: BranchId(6),
                parent: BranchId(1),
                base_lsn: Lsn(12),
            }),
            Entry::Branch(BranchOp::Update {
                id: BranchId(6),
                settings: BranchSettings {
                    protected: true,
                    read_only: false,
                    expire_at: Some(DateTime::from_millis(1_795_255_200_000)),
                    description: Some("prod".into()),
                },
            }),
            Entry::Checkpoint { applied: Lsn(77) },
            Entry::Seal,
        ];
        for entry in entries {
            let mut payload = entry.encode().expect("encode");
            stamp_time(&mut payload, DateTime::from_millis(1_795_255_200_123));
            let (time, decoded) = Entry::decode(entry.kind(), PAYLOAD_VERSION, &payload).expect("decode");
            assert_eq!(time.timestamp_millis(), 1_795_255_200_123);
            assert_eq!(decoded, entry);
        }
    }

    #[test]
    fn versions_say_how_puts_are_written() {
        let put = |kind| {
            Entry::Txn(Txn::new(BranchId(1), vec![Op::Put { collection: "c".into(), kind, doc: doc! {"_id": 1} }]))
        };
        let v1 = put(PutKind::Unrecorded).encode().expect("encode");
        assert_eq!(Entry::decode(Kind::Txn, 1, &v1).map(|(_, e)| e), Ok(put(PutKind::Unrecorded)));
        assert!(Entry::decode(Kind::Txn, 2, &v1).is_err(), "a version 2 put says its kind");
        let v2 = put(PutKind::Insert).encode().expect("encode");
        assert!(Entry::decode(Kind::Txn, 1, &v2).is_err(), "version 1 had no kinds");
    }
}
