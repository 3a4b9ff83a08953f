//! `validate`: reads every document of a collection that the addressed branch and
//! point see, checks that its stored bytes decode as BSON and that it carries the
//! `_id` it is stored under, and answers in MongoDB 7.0's shape. `full` is accepted
//! (every check is always made); `repair` is not offered.

use bson::{doc, Bson, Document};

use super::coll_stats::{indexes, Measured};
use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::store::keys;

/// What the walk over the documents found.
#[derive(Debug, Default)]
struct Findings {
    measured: Measured,
    /// Documents whose bytes do not decode.
    undecodable: u64,
    /// Decoded documents without an `_id`, or with another `_id` than their key.
    misplaced: u64,
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "validate")?;
    args::boolean(inv.body, "full", false)?;
    if args::boolean(inv.body, "repair", false)? {
        return Err(Error::command(ErrorCode::InvalidOptions, "validate with { repair: true } is not supported"));
    }
    let ns = args::namespace(inv, name);
    let view = args::read_view(inv)?;
    let collection = view.collection(name)?.ok_or_else(|| {
        Error::command(ErrorCode::NamespaceNotFound, format!("Collection '{ns}' does not exist to validate."))
    })?;
    let findings = examine(inv, &view, collection.id)?;
    let indexes = indexes(&collection, &findings.measured);
    let mut errors = Vec::new();
    if findings.undecodable > 0 {
        errors.push(format!("Detected {} document(s) that are not valid BSON.", findings.undecodable));
    }
    if findings.misplaced > 0 {
        errors.push(format!("Detected {} document(s) without the _id they are stored under.", findings.misplaced));
    }
    let valid = errors.is_empty();
    let keys_per_index: Document =
        indexes.iter().map(|index| (index.name.clone(), super::current_op::number(index.keys as i64))).collect();
    let index_details: Document =
        indexes.iter().map(|index| (index.name.clone(), Bson::Document(doc! {"valid": valid}))).collect();
    let invalid = findings.undecodable + findings.misplaced;
    let mut reply = doc! {
        "ns": ns,
        "nInvalidDocuments": super::current_op::number(invalid as i64),
        "nNonCompliantDocuments": 0,
        "nrecords": super::current_op::number(findings.measured.documents as i64),
        "nIndexes": indexes.len() as i32,
        "keysPerIndex": keys_per_index,
        "indexDetails": index_details,
        "valid": valid,
        "repaired": false,
        "warnings": [],
        "errors": errors,
        "extraIndexEntries": [],
        "missingIndexEntries": [],
        "corruptRecords": [],
    };
    if !valid {
        reply.insert(
            "advice",
            "A corrupt namespace has been detected. See http://dochub.mongodb.org/core/data-recovery for recovery steps.",
        );
    }
    Ok(reply)
}

/// Walks the stored documents of `collection`, checking each.
fn examine(inv: &Invocation<'_>, view: &crate::store::View, collection: u64) -> Result<Findings> {
    let mut findings = Findings::default();
    let mut encoded = Vec::new();
    view.scan_bytes(collection, None, |key, bytes| {
        let measured = &mut findings.measured;
        measured.documents += 1;
        measured.data_bytes += bytes.len() as u64;
        measured.key_bytes += (key.len() + crate::store::DOC_KEY_OVERHEAD) as u64;
        match Document::from_reader(bytes) {
            Err(e) => {
                tracing::warn!(collection, error = %e, "validate: a stored document is not valid BSON");
                findings.undecodable += 1;
            }
            Ok(doc) => {
                encoded.clear();
                if let Some(id) = doc.get("_id") {
                    keys::encode_value(id, &mut encoded);
                }
                if encoded.as_slice() != key {
                    tracing::warn!(collection, "validate: a stored document lacks the _id it is stored under");
                    findings.misplaced += 1;
                }
            }
        }
        if measured.documents.is_multiple_of(1024) {
            inv.check_deadline()?;
        }
        Ok(true)
    })?;
    Ok(findings)
}
