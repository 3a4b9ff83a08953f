//! `validate`: reads every document of a collection that the addressed branch and
//! point see, checks that its stored bytes decode as BSON and that it carries the
//! `_id` it is stored under, checks each secondary index holds exactly the keys its
//! documents have, and answers in MongoDB 7.0's shape. `full` is accepted (every
//! check is always made); `repair` is not offered.

use std::collections::HashSet;

use bson::{doc, Bson, Document};

use super::coll_stats::indexes;
use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::store::Measured;
use crate::value::order;

/// What the walk over the documents found.
#[derive(Debug, Default)]
struct Findings {
    measured: Measured,
    /// Documents whose bytes do not decode.
    undecodable: u64,
    /// Decoded documents without an `_id`, or with another `_id` than their key.
    misplaced: u64,
    /// For each secondary index, the (key, encoded `_id`) entries its documents
    /// should give it.
    expected: Vec<HashSet<(Vec<u8>, Vec<u8>)>>,
    /// Documents that cannot be indexed by some index (which writes refuse).
    unindexable: u64,
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "validate")?;
    args::boolean(inv.body, "full", false)?;
    if args::boolean(inv.body, "repair", false)? {
        return Err(Error::command(ErrorCode::InvalidOptions, "validate with { repair: true } is not supported"));
    }
    let ns = args::namespace(inv, name);
    let view = inv.read_view()?;
    let collection = view.collection(name)?.ok_or_else(|| {
        Error::command(ErrorCode::NamespaceNotFound, format!("Collection '{ns}' does not exist to validate."))
    })?;
    let mut findings = examine(inv, &view, &collection)?;
    let indexes = indexes(inv, &view, &collection, &findings.measured)?;
    let mut errors = Vec::new();
    let mut extra = Vec::new();
    let mut missing = Vec::new();
    for (index, expected) in collection.indexes.iter().zip(&mut findings.expected) {
        view.index_scan(index.id, &[], &[], false, |key, id| {
            if !expected.remove(&(key.to_vec(), id.to_vec())) {
                extra.push(Bson::Document(doc! {"indexName": &index.name}));
            }
            Ok(true)
        })?;
        missing.extend(expected.iter().map(|_| Bson::Document(doc! {"indexName": &index.name})));
    }
    if !extra.is_empty() {
        errors.push(format!("Detected {} extra index entries.", extra.len()));
    }
    if !missing.is_empty() {
        errors.push(format!("Detected {} missing index entries.", missing.len()));
    }
    if findings.unindexable > 0 {
        errors.push(format!("Detected {} document(s) that cannot be indexed.", findings.unindexable));
    }
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
    let invalid = findings.undecodable + findings.misplaced + findings.unindexable;
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
        "extraIndexEntries": extra,
        "missingIndexEntries": missing,
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

/// Walks the stored documents of `collection`, checking each and gathering the
/// index entries they should have.
fn examine(inv: &Invocation<'_>, view: &crate::store::View, collection: &crate::store::Collection) -> Result<Findings> {
    let mut findings = Findings { expected: vec![HashSet::new(); collection.indexes.len()], ..Findings::default() };
    let mut encoded = Vec::new();
    let collection_id = collection.id;
    view.scan_bytes(collection_id, None, |key, bytes| {
        let measured = &mut findings.measured;
        measured.documents += 1;
        measured.data_bytes += bytes.len() as u64;
        measured.key_bytes += (key.len() + crate::store::DOC_KEY_OVERHEAD) as u64;
        match crate::value::decode(bytes) {
            Err(e) => {
                tracing::warn!(collection_id, error = %e, "validate: a stored document is not valid BSON");
                findings.undecodable += 1;
            }
            Ok(doc) => {
                encoded.clear();
                if let Some(id) = doc.get("_id") {
                    order::encode_value(id, &mut encoded);
                }
                if encoded.as_slice() != key {
                    tracing::warn!(collection_id, "validate: a stored document lacks the _id it is stored under");
                    findings.misplaced += 1;
                }
                for (index, expected) in collection.indexes.iter().zip(&mut findings.expected) {
                    match index.keys(&doc) {
                        Ok(keys) => expected.extend(keys.keys.into_iter().map(|k| (k.bytes, key.to_vec()))),
                        Err(_) => findings.unindexable += 1,
                    }
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
