//! The tables of the store and the layout of their keys.
//!
//! Documents and catalog entries are *versions*: the key is a prefix naming the
//! thing (collection and `_id`, or database and collection name), then the branch id
//! and the LSN, both big-endian, the LSN inverted so that the newest version of a
//! branch comes first. An empty value is a tombstone. Every prefix is self-delimiting
//! (see [`super::keys`]), so all the versions of one thing, on every branch, are one
//! contiguous run of keys.

use bson::Bson;

use crate::lsn::Lsn;
use crate::value::order;

// The tables (see [`super::engine::Table`]):
// - docs: `collection id ++ _id ++ branch (8) ++ !lsn (8)` → post-image, or empty.
// - catalog: `database ++ collection name ++ branch (8) ++ !lsn (8)` → `{id, options}`,
//   or empty.
// - indexes: `index id ++ key ++ _id ++ branch (8) ++ !lsn (8)` → the encoded `_id`,
//   or empty: the entries of secondary indexes (see [`crate::index`]).
// - branches: branch id (8) → the branch document (see `branches.rs`).
// - times: `commit time in ms (8) ++ LSN (8)` of every applied record, to turn times
//   into LSNs; values empty.
// - meta: counters and marks by name (see the `META_*` names), 8 bytes each.
// - changes: `branch (8) ++ collection id (8) ++ lsn (8)` → the encoded `_id`s of
//   the documents the record changed in the collection on the branch (each as a
//   4-byte little-endian length and the bytes), so a diff finds the documents that
//   differ between two states without reading the others. An `_id` stays in its row
//   exactly as long as the document version it names (history collection takes it
//   out with the version).
// - log: `branch (8) ++ !lsn (8)` → what the record did on the branch (`branchLog`).

/// The last LSN applied to the store.
pub const META_APPLIED: &str = "applied";
/// The commit time of that LSN, in ms.
pub const META_APPLIED_TIME: &str = "applied_time";
/// The next collection id to hand out.
pub const META_NEXT_COLLECTION: &str = "next_collection";
/// The next branch id to hand out.
pub const META_NEXT_BRANCH: &str = "next_branch";
/// The oldest LSN still readable (history below it was collected).
pub const META_HORIZON: &str = "horizon";

/// Set once the changes table holds a row for every document version (stores
/// written before it existed are indexed at their first open).
pub const META_CHANGES_INDEXED: &str = "changes_indexed";

/// Width of the collection or index id that begins every document and index key.
pub const ID_LEN: usize = 8;

/// The collection (or index) id a document (or index entry) key begins with, and
/// the rest of the key.
pub fn split_id(key: &[u8]) -> Option<(u64, &[u8])> {
    let (id, rest) = key.split_at_checked(ID_LEN)?;
    Some((u64::from_be_bytes(id.try_into().ok()?), rest))
}

/// The key of a branch's row.
pub fn branch_key(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// The key of a commit's entry in the time index.
pub fn time_key(ms: u64, lsn: Lsn) -> Vec<u8> {
    [ms.to_be_bytes(), lsn.0.to_be_bytes()].concat()
}

/// The LSN of a time index key.
pub fn time_key_lsn(key: &[u8]) -> Option<Lsn> {
    Some(Lsn(u64::from_be_bytes(key.get(8..)?.try_into().ok()?)))
}

/// The key of the changes table's row for the documents a record at `lsn` changed
/// in `collection` on `branch`.
pub fn change_key(branch: u64, collection: u64, lsn: Lsn) -> Vec<u8> {
    [branch.to_be_bytes(), collection.to_be_bytes(), lsn.0.to_be_bytes()].concat()
}

/// The changes row, and the encoded `_id`, of a document version key
/// (`collection id ++ _id ++ branch ++ !lsn`).
pub fn change_of_version(doc_key: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let (prefix, branch, lsn) = split_version_key(doc_key)?;
    let (collection, encoded_id) = split_id(prefix)?;
    Some((change_key(branch, collection, lsn), encoded_id))
}

/// Appends an encoded `_id` to a changes row's value.
pub fn push_changed_id(row: &mut Vec<u8>, encoded_id: &[u8]) {
    row.extend_from_slice(&(encoded_id.len() as u32).to_le_bytes());
    row.extend_from_slice(encoded_id);
}

/// The encoded `_id`s of a changes row's value (a damaged tail ends the list).
pub fn changed_ids(row: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = row;
    std::iter::from_fn(move || {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let id = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        Some(id)
    })
}

/// The key of a branch's log row for the record at `lsn` (newest first).
pub fn log_key(branch: u64, lsn: Lsn) -> Vec<u8> {
    [branch.to_be_bytes(), (!lsn.0).to_be_bytes()].concat()
}

/// The branch and LSN of a log row's key.
pub fn split_log_key(key: &[u8]) -> Option<(u64, Lsn)> {
    let branch = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let lsn = !u64::from_be_bytes(key.get(8..16)?.try_into().ok()?);
    Some((branch, Lsn(lsn)))
}

/// Length of the branch and LSN suffix of a version key.
pub const VERSION_SUFFIX: usize = 16;

/// The key prefix of one document of a collection.
pub fn doc_prefix(collection: u64, id: &Bson) -> Vec<u8> {
    let mut key = id_prefix(collection);
    order::encode_value(id, &mut key);
    key
}

/// The key prefix of one entry of an index: its key and the document's encoded `_id`.
pub fn index_prefix(index: u64, key: &[u8], encoded_id: &[u8]) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(ID_LEN + key.len() + encoded_id.len());
    prefix.extend_from_slice(&index.to_be_bytes());
    prefix.extend_from_slice(key);
    prefix.extend_from_slice(encoded_id);
    prefix
}

/// The key prefix of every document of a collection (or entry of an index).
pub fn id_prefix(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// The first key of a collection's documents, and the first key past them.
pub fn collection_range(collection: u64) -> ([u8; 8], [u8; 8]) {
    (collection.to_be_bytes(), collection.saturating_add(1).to_be_bytes())
}

/// The key prefix of every collection of a database.
pub fn database_prefix(db: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(db.len() + 2);
    order::encode_str(db, &mut key);
    key
}

/// The key prefix of one collection name in a database.
pub fn catalog_prefix(db: &str, name: &str) -> Vec<u8> {
    let mut key = database_prefix(db);
    order::encode_str(name, &mut key);
    key
}

/// `prefix ++ branch ++ !lsn`.
pub fn version_key(prefix: &[u8], branch: u64, lsn: Lsn) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + VERSION_SUFFIX);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&branch.to_be_bytes());
    key.extend_from_slice(&(!lsn.0).to_be_bytes());
    key
}

/// Splits a version key into its prefix, branch and LSN; `None` when it is too short.
pub fn split_version_key(key: &[u8]) -> Option<(&[u8], u64, Lsn)> {
    let split = key.len().checked_sub(VERSION_SUFFIX)?;
    let (prefix, suffix) = key.split_at(split);
    let (branch, lsn) = suffix.split_at(8);
    Some((prefix, u64::from_be_bytes(branch.try_into().ok()?), Lsn(!u64::from_be_bytes(lsn.try_into().ok()?))))
}

/// The smallest key greater than every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xFF (never for our prefixes): no finite bound; the caller scans to the end.
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_keys_split_back_and_order_newest_first() {
        let prefix = doc_prefix(7, &Bson::Int32(1));
        let old = version_key(&prefix, 3, Lsn(10));
        let new = version_key(&prefix, 3, Lsn(11));
        assert!(new < old, "within a branch the newest version comes first");
        assert!(version_key(&prefix, 2, Lsn(1)) < new, "branches in id order");
        assert_eq!(split_version_key(&old), Some((&prefix[..], 3, Lsn(10))));
        assert_eq!(prefix_end(&[1, 0xFF]), vec![2]);
    }
}
