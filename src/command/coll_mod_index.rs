//! `collMod`'s `index` option: hides or unhides an index, changes a TTL index's
//! `expireAfterSeconds`, and makes an index unique in two steps (`prepareUnique:
//! true` refuses new duplicates, then `unique: true` checks that none are left),
//! as MongoDB 8.0 does. The index's entries stay as they are; only its definition
//! changes, as a new version of the catalog entry.

use std::collections::HashMap;

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::index::usage::Key as IndexKey;
use crate::index::{Index, ID_INDEX};
use crate::store::{Batch, Collection};
use crate::value::order::all_equal_collated;

/// What `index` asks to change.
struct Change<'a> {
    target: Target<'a>,
    hidden: Option<bool>,
    expire_after_seconds: Option<i64>,
    prepare_unique: Option<bool>,
    unique: Option<bool>,
    force_non_unique: Option<bool>,
}

/// How the index is named.
enum Target<'a> {
    Name(&'a str),
    Pattern(&'a Document),
}

/// Applies the `index` option `spec` to `collection` in `batch` (only checks, with
/// `dry_run`); the reply's fields saying what changed (`hidden_old`,
/// `hidden_new`, `expireAfterSeconds_old`, ...).
pub fn modify(
    inv: &Invocation<'_>,
    batch: &mut Batch<'_>,
    collection: &Collection,
    spec: &Bson,
    dry_run: bool,
) -> Result<Document> {
    let change = parse(spec)?;
    let only_unique = change.unique.is_some()
        && change.hidden.is_none()
        && change.expire_after_seconds.is_none()
        && change.prepare_unique.is_none();
    if dry_run && !only_unique {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "dryRun is only supported for converting an index to unique, with no other modification",
        ));
    }
    let ns = args::namespace(inv, &collection.name);
    let Some(index) = find(collection, &change.target, &ns)? else {
        // The `_id` index.
        if change.hidden == Some(true) {
            return Err(Error::bad_value("can't hide _id index"));
        }
        if change.expire_after_seconds.is_some() {
            return Err(Error::command(ErrorCode::InvalidOptions, "no expireAfterSeconds field to update"));
        }
        return Ok(Document::new());
    };
    let mut spec = index.spec.clone();
    let mut reply = Document::new();
    if let Some(seconds) = change.expire_after_seconds {
        let Some(old) = spec.get("expireAfterSeconds").cloned() else {
            return Err(Error::command(ErrorCode::InvalidOptions, "no expireAfterSeconds field to update"));
        };
        reply.insert("expireAfterSeconds_old", old);
        reply.insert("expireAfterSeconds_new", seconds);
        spec.insert("expireAfterSeconds", seconds);
    }
    if let Some(hidden) = change.hidden {
        let was = spec.get_bool("hidden").unwrap_or(false);
        // Hiding a hidden index, or showing a visible one, changes nothing.
        if was != hidden {
            reply.insert("hidden_old", was);
            reply.insert("hidden_new", hidden);
            match hidden {
                true => spec.insert("hidden", true),
                false => spec.remove("hidden"),
            };
        }
    }
    if let Some(prepare) = change.prepare_unique {
        if index.unique && prepare {
            return Err(Error::command(ErrorCode::InvalidOptions, "Cannot set 'prepareUnique' on a unique index"));
        }
        let was = spec.get_bool("prepareUnique").unwrap_or(false);
        if was != prepare {
            reply.insert("prepareUnique_old", was);
            reply.insert("prepareUnique_new", prepare);
            match prepare {
                true => spec.insert("prepareUnique", true),
                false => spec.remove("prepareUnique"),
            };
        }
    }
    if change.unique.is_some() && !index.unique {
        if !index.prepare_unique && change.prepare_unique != Some(true) {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "Cannot make index unique with 'unique: true' without first setting 'prepareUnique: true'",
            ));
        }
        check_unique(batch, collection.id, index)?;
        reply.insert("unique_new", true);
        spec.remove("prepareUnique");
        spec.insert("unique", true);
    }
    if change.force_non_unique.is_some() && index.unique {
        reply.insert("forceNonUnique_new", true);
        spec.remove("unique");
    }
    if !dry_run && spec != index.spec {
        batch.modify_index(collection, &index.name.clone(), spec)?;
        // A modified index counts its uses afresh, as in MongoDB.
        let snapshot = &batch.view().snapshot;
        inv.context.index_usage.reset(IndexKey {
            db: snapshot.db.clone(),
            branch: snapshot.branch.clone(),
            collection: collection.id,
            index: Some(index.id),
        });
    }
    Ok(reply)
}

/// The `index` option, checked as MongoDB's parser checks it.
fn parse(spec: &Bson) -> Result<Change<'_>> {
    let Bson::Document(spec) = spec else {
        return Err(Error::type_mismatch(format!(
            "BSON field 'collMod.index' is the wrong type '{}', expected type 'object'",
            args::type_name(Some(spec))
        )));
    };
    let known = ["keyPattern", "name", "hidden", "expireAfterSeconds", "prepareUnique", "unique", "forceNonUnique"];
    if let Some(unknown) = spec.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field 'collMod.index.{unknown}' is an unknown field."),
        ));
    }
    let wrong = |field: &str, expected: &str| {
        Error::type_mismatch(format!(
            "BSON field 'collMod.index.{field}' is the wrong type '{}', expected type '{expected}'",
            args::type_name(spec.get(field))
        ))
    };
    let flag = |field: &str| match spec.get(field) {
        None => Ok(None),
        Some(Bson::Boolean(b)) => Ok(Some(*b)),
        Some(n @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))) => {
            Ok(Some(crate::value::truthy(Some(n))))
        }
        Some(_) => Err(wrong(field, "bool")),
    };
    let target = match (spec.get("name"), spec.get("keyPattern")) {
        (Some(_), Some(_)) => {
            return Err(Error::command(ErrorCode::InvalidOptions, "Cannot specify both key pattern and name."))
        }
        (None, None) => {
            return Err(Error::command(ErrorCode::InvalidOptions, "Must specify either index name or key pattern."))
        }
        (Some(Bson::String(name)), None) => Target::Name(name),
        (Some(_), None) => return Err(wrong("name", "string")),
        (None, Some(Bson::Document(pattern))) => Target::Pattern(pattern),
        (None, Some(_)) => return Err(wrong("keyPattern", "object")),
    };
    let expire_after_seconds = match spec.get("expireAfterSeconds") {
        None => None,
        Some(value @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))) => {
            Some(super::clustered::expire_after_seconds(value)?)
        }
        Some(_) => return Err(wrong("expireAfterSeconds", "long")),
    };
    let change = Change {
        target,
        hidden: flag("hidden")?,
        expire_after_seconds,
        prepare_unique: flag("prepareUnique")?,
        unique: flag("unique")?,
        force_non_unique: flag("forceNonUnique")?,
    };
    if change.hidden.is_none()
        && change.expire_after_seconds.is_none()
        && change.prepare_unique.is_none()
        && change.unique.is_none()
        && change.force_non_unique.is_none()
    {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "no expireAfterSeconds, hidden, prepareUnique, unique or forceNonUnique field",
        ));
    }
    if change.unique == Some(false) {
        return Err(Error::bad_value("'unique: false' is not allowed: use 'forceNonUnique: true'"));
    }
    if change.force_non_unique == Some(false) {
        return Err(Error::bad_value("'forceNonUnique: false' is not allowed"));
    }
    if change.unique.is_some() && change.force_non_unique.is_some() {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "collMod does not support 'unique' and 'forceNonUnique' together",
        ));
    }
    Ok(change)
}

/// The index `target` names (`None`: the `_id` index); 27 when there is none,
/// 86 when a key pattern names several (they differ by collation).
fn find<'c>(collection: &'c Collection, target: &Target<'_>, ns: &str) -> Result<Option<&'c Index>> {
    match target {
        Target::Name(name) if *name == ID_INDEX => Ok(None),
        Target::Name(name) => collection
            .index(name)
            .map(Some)
            .ok_or_else(|| Error::command(ErrorCode::IndexNotFound, format!("cannot find index {name} for ns {ns}"))),
        Target::Pattern(pattern) if crate::index::is_id_pattern(pattern) => Ok(None),
        Target::Pattern(pattern) => {
            let found: Vec<&Index> = collection.indexes.iter().filter(|i| i.pattern() == **pattern).collect();
            match found.as_slice() {
                [] => Err(Error::command(ErrorCode::IndexNotFound, format!("cannot find index {pattern} for ns {ns}"))),
                [index] => Ok(Some(index)),
                [first, second, ..] => Err(Error::command(
                    ErrorCode::AmbiguousIndexKeyPattern,
                    format!(
                        "index keyPattern {pattern} matches {} indexes, must use index name. Conflicting indexes:{}, {}",
                        found.len(),
                        first.spec,
                        second.spec
                    ),
                )),
            }
        }
    }
}

/// Refuses to make `index` unique while two documents share a key: MongoDB's 359
/// with the `_id`s of each group of documents that do.
fn check_unique(batch: &Batch<'_>, collection: u64, index: &Index) -> Result<()> {
    let mut by_key: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    batch.view().index_scan(index.id, &[], &[], false, |key, id| {
        by_key.entry(key.to_vec()).or_default().push(id.to_vec());
        Ok(true)
    })?;
    let mut violations = Vec::new();
    for (bytes, ids) in by_key.into_iter().filter(|(_, ids)| ids.len() > 1) {
        // The documents sharing these bytes, grouped by their key's values: a
        // Decimal128's key is its nearest double's, which a different number may
        // have too (`value::order`).
        let mut groups: Vec<(Vec<Bson>, Vec<Bson>)> = Vec::new();
        for id in ids {
            let Some(doc) = batch.view().get_encoded(collection, &id)? else { continue };
            let keys = index.keys(&doc)?;
            let Some(key) = keys.keys.into_iter().find(|key| key.bytes == bytes) else { continue };
            let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
            let collation = index.collation.as_deref();
            match groups.iter_mut().find(|(values, _)| all_equal_collated(values, &key.values, collation)) {
                Some((_, shown)) => shown.push(id),
                None => groups.push((key.values, vec![id])),
            }
        }
        for (_, shown) in groups.into_iter().filter(|(_, shown)| shown.len() > 1) {
            violations.push(Bson::Document(doc! {"ids": shown}));
        }
    }
    if violations.is_empty() {
        return Ok(());
    }
    Err(Error::Command {
        code: ErrorCode::CannotConvertIndexToUnique,
        message:
            "Cannot convert the index to unique. Please resolve conflicting documents before running collMod again."
                .into(),
        info: Some(Box::new(doc! {"violations": violations})),
        labels: Vec::new(),
    })
}
