//! Which document writes of one record need not reach the tables.
//!
//! Every operation of a record shares its LSN, so only the last write to a
//! document is ever visible: an earlier one is overwritten at the same version
//! key. And a document that the record inserts and then deletes never existed
//! before it (an insert found no document) nor exists after it: neither its
//! version nor a tombstone need be written. The log record keeps every operation
//! (change streams and the branch log read them); only the materialized tables
//! skip what no read could see.

use std::collections::HashMap;

use crate::value::order::encode_value;
use crate::wal::{Op, PutKind};

/// For each operation of a record, whether applying it can be skipped. Records
/// that change definitions (a collection created or dropped between two writes)
/// skip nothing.
pub fn skippable(ops: &[Op]) -> Vec<bool> {
    let mut skip = vec![false; ops.len()];
    if ops.len() < 2 || ops.iter().any(|op| matches!(op, Op::Ddl(_))) {
        return skip;
    }
    // Each write's document, numbered by collection and encoded `_id` (the version
    // key's own encoding), with the first and last write to each.
    let mut documents: HashMap<(&str, Vec<u8>), usize> = HashMap::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut written = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let target = match op {
            Op::Put { collection, doc, .. } => doc.get("_id").map(|id| (collection.as_str(), id)),
            Op::Delete { collection, id } => Some((collection.as_str(), id)),
            Op::Ddl(_) => None,
        };
        let Some((collection, id)) = target else {
            written.push(None);
            continue;
        };
        let mut key = Vec::new();
        encode_value(id, &mut key);
        let number = *documents.entry((collection, key)).or_insert_with(|| {
            spans.push((index, index));
            spans.len() - 1
        });
        spans[number].1 = index;
        written.push(Some(number));
    }
    let vanishes: Vec<bool> = spans
        .iter()
        .map(|&(first, last)| {
            matches!(ops[first], Op::Put { kind: PutKind::Insert, .. }) && matches!(ops[last], Op::Delete { .. })
        })
        .collect();
    for (index, number) in written.into_iter().enumerate() {
        if let Some(number) = number {
            skip[index] = vanishes[number] || spans[number].1 != index;
        }
    }
    skip
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson};

    use super::*;

    fn put(kind: PutKind, id: i32) -> Op {
        Op::Put { collection: "c".into(), kind, doc: doc! {"_id": id} }
    }

    fn delete(collection: &str, id: Bson) -> Op {
        Op::Delete { collection: collection.into(), id }
    }

    #[test]
    fn only_the_last_write_to_a_document_is_applied() {
        let ops = vec![
            put(PutKind::Insert, 1),
            put(PutKind::Insert, 2),
            put(PutKind::Update, 1),
            delete("c", Bson::Int32(2)),
            // Written before this record: its tombstone must be written.
            put(PutKind::Update, 3),
            delete("c", Bson::Double(3.0)),
            // The same `_id` in another collection is another document.
            delete("d", Bson::Int32(1)),
            // Inserted, deleted and inserted again: the last insert stays.
            put(PutKind::Insert, 4),
            delete("c", Bson::Int32(4)),
            put(PutKind::Insert, 4),
        ];
        let skip = skippable(&ops);
        assert_eq!(skip, [true, true, false, true, true, false, false, true, true, false]);
    }

    #[test]
    fn records_that_change_definitions_skip_nothing() {
        let ops = vec![
            put(PutKind::Insert, 1),
            Op::Ddl(crate::wal::Ddl::DropCollection { name: "c".into() }),
            put(PutKind::Insert, 1),
        ];
        assert_eq!(skippable(&ops), [false, false, false]);
    }
}
