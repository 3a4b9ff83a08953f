//! `dbHash`: an MD5 of each collection's documents in `_id` order, and of those
//! hashes together, to compare a database (branch) with another copy of it.
//!
//! `dataSize`: the BSON bytes and count of a collection's documents, all of them
//! or those whose `keyPattern` values lie in `[min, max)`.

use std::time::Instant;

use bson::{Bson, Document};
use md5::{Digest, Md5};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::compare;
use crate::store::Collection;

/// Whether `dbHash` hashes a collection: every collection but views and the
/// system ones MongoDB leaves out.
fn hashed(collection: &Collection) -> bool {
    collection.options.get("viewOn").is_none()
        && (!collection.name.starts_with("system.") || matches!(collection.name.as_str(), "system.js"))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn db_hash(inv: &Invocation<'_>) -> Result<Document> {
    let started = Instant::now();
    let wanted: Option<Vec<String>> = match inv.body.get("collections") {
        None => None,
        Some(Bson::Array(names)) => Some(
            names
                .iter()
                .map(|name| match name {
                    Bson::String(name) => Ok(name.clone()),
                    _ => Err(Error::type_mismatch("collections entries must be strings")),
                })
                .collect::<Result<_>>()?,
        ),
        Some(_) => return Err(Error::type_mismatch("collections must be an array")),
    };
    let view = inv.read_view()?;
    let mut collections: Vec<Collection> = view
        .collections()?
        .into_iter()
        .filter(hashed)
        .filter(|c| wanted.as_ref().is_none_or(|names| names.contains(&c.name)))
        .collect();
    collections.sort_by(|a, b| a.name.cmp(&b.name));
    let (mut hashes, mut capped, mut all) = (Document::new(), Vec::new(), Md5::new());
    for collection in &collections {
        let mut md5 = Md5::new();
        view.scan_bytes(collection.id, None, |_, bytes| {
            inv.check_deadline()?;
            md5.update(bytes);
            Ok(true)
        })?;
        let hash = hex(&md5.finalize());
        all.update(hash.as_bytes());
        if crate::store::capped::is_capped(&collection.options) {
            capped.push(Bson::String(collection.name.clone()));
        }
        hashes.insert(collection.name.clone(), hash);
    }
    Ok(bson::doc! {
        "host": super::host_info::hostname(),
        "collections": hashes,
        "capped": capped,
        "md5": hex(&all.finalize()),
        "timeMillis": started.elapsed().as_millis() as i64,
        "fromCache": [],
    })
}

pub fn data_size(inv: &Invocation<'_>) -> Result<Document> {
    let started = Instant::now();
    let Some(Bson::String(ns)) = inv.body.get("dataSize") else {
        return Err(Error::type_mismatch("dataSize takes a namespace string"));
    };
    let Some((_, name)) = ns.split_once('.') else {
        return Err(Error::command(ErrorCode::InvalidNamespace, format!("Invalid namespace specified '{ns}'")));
    };
    let pattern: Option<Vec<String>> = match inv.body.get("keyPattern") {
        None => None,
        Some(Bson::Document(pattern)) => Some(pattern.keys().cloned().collect()),
        Some(_) => return Err(Error::type_mismatch("keyPattern must be an object")),
    };
    let bound = |field: &str| match inv.body.get(field) {
        None => Ok(None),
        Some(Bson::Document(bound)) => Ok(Some(bound.values().cloned().collect::<Vec<Bson>>())),
        Some(_) => Err(Error::type_mismatch(format!("{field} must be an object"))),
    };
    let (min, max) = (bound("min")?, bound("max")?);
    if (min.is_some() || max.is_some()) && pattern.is_none() {
        return Err(Error::command(ErrorCode::BadValue, "only one of min and max provided, or no keyPattern given"));
    }
    let view = inv.read_view()?;
    let (mut size, mut count) = (0i64, 0i64);
    if let Some(collection) = view.collection(name)? {
        view.scan(collection.id, None, |_, doc| {
            inv.check_deadline()?;
            if let Some(pattern) = &pattern {
                let key: Vec<Bson> = pattern
                    .iter()
                    .map(|path| {
                        let mut values = Vec::new();
                        crate::query::path::values_at(&doc, path, &mut values);
                        values.first().map_or(Bson::Null, |v| (*v).clone())
                    })
                    .collect();
                if !in_range(&key, min.as_deref(), max.as_deref()) {
                    return Ok(true);
                }
            }
            size += crate::value::size::document_size(&doc) as i64;
            count += 1;
            Ok(true)
        })?;
    }
    Ok(bson::doc! {
        "estimate": false,
        "size": size,
        "numObjects": count,
        "millis": started.elapsed().as_millis() as i64,
    })
}

/// Whether a key lies in `[min, max)`, compared field by field.
fn in_range(key: &[Bson], min: Option<&[Bson]>, max: Option<&[Bson]>) -> bool {
    let order = |bound: &[Bson]| {
        key.iter()
            .zip(bound)
            .map(|(a, b)| compare(Some(a), Some(b)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    min.is_none_or(|min| order(min).is_ge()) && max.is_none_or(|max| order(max).is_lt())
}
