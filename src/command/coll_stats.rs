//! Sizes of collections and databases: `collStats`, the `$collStats` aggregation
//! stage and `dbStats`, all from one walk over the documents the addressed branch
//! and point see ([`measure`]).
//!
//! How the sizes are estimated: the store keeps each document version as its BSON
//! bytes, uncompressed, under a key made of the collection id, the encoded `_id`, the
//! branch and the LSN. Both `size` (`dataSize`) and `storageSize` count the bytes of
//! the visible documents; the `_id_` index counts their keys, since the documents
//! are kept in `_id` order by those keys, which serve as that index. Not counted: the
//! engine's page overhead and free pages, and versions kept for history or seen only
//! by other branches. A branch's figures are what a copy of that branch alone would
//! hold, not what it adds to the data directory, which branches share.

use bson::{doc, Bson, Document};

use super::current_op::{host, number};
use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::store::{Collection, Measured, View, DOC_KEY_OVERHEAD};

/// Measures the documents of `collection` that `view` sees, checking the command's
/// interrupt as it goes.
pub(super) fn measure(inv: &Invocation<'_>, view: &View, collection: &Collection) -> Result<Measured> {
    view.measure(collection.id, &mut || inv.check_deadline())
}

/// One index of a collection, as the statistics commands report it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IndexStats {
    pub name: String,
    /// Its entries.
    pub keys: u64,
    pub bytes: u64,
}

/// The indexes of `collection` as `view` sees them, with `measured` its documents:
/// the `_id` index (one entry per document, its bytes the document keys), then
/// each secondary index, its entries counted and their keys' bytes summed.
pub(super) fn indexes(
    inv: &Invocation<'_>,
    view: &View,
    collection: &Collection,
    measured: &Measured,
) -> Result<Vec<IndexStats>> {
    let mut out =
        vec![IndexStats { name: crate::index::ID_INDEX.into(), keys: measured.documents, bytes: measured.key_bytes }];
    for index in &collection.indexes {
        let mut stats = IndexStats { name: index.name.clone(), keys: 0, bytes: 0 };
        view.index_scan(index.id, &[], &[], false, |key, id| {
            stats.keys += 1;
            stats.bytes += (8 + key.len() + id.len() + DOC_KEY_OVERHEAD) as u64;
            if stats.keys.is_multiple_of(4096) {
                inv.check_deadline()?;
            }
            Ok(true)
        })?;
        out.push(stats);
    }
    Ok(out)
}

/// `collStats` (deprecated in MongoDB 6.2, still served): the storage statistics of
/// a collection. For a collection that does not exist MongoDB 7.0 answers ok with
/// zeroed statistics, not an error.
pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "collStats")?;
    let scale = scale(inv.body, "collStats")?;
    let view = inv.read_view()?;
    let mut reply = doc! {"ns": args::namespace(inv, name)};
    reply.extend(match view.collection(name)? {
        Some(collection) => storage_stats(inv, &view, &collection, scale)?,
        None => missing_storage_stats(scale),
    });
    Ok(reply)
}

/// The storage statistics of a collection in MongoDB 7.0's order, sizes divided by
/// `scale`. branchdb has no orphans or free-space accounting.
fn storage_stats(inv: &Invocation<'_>, view: &View, collection: &Collection, scale: i64) -> Result<Document> {
    let measured = measure(inv, view, collection)?;
    let indexes = indexes(inv, view, collection, &measured)?;
    let scaled = |bytes: u64| number(i64::try_from(bytes).unwrap_or(i64::MAX) / scale);
    let mut stats = doc! {"size": scaled(measured.data_bytes), "count": scaled_count(measured.documents)};
    if let Some(average) = measured.data_bytes.checked_div(measured.documents) {
        stats.insert("avgObjSize", i32::try_from(average).unwrap_or(i32::MAX));
    }
    let index_bytes: u64 = indexes.iter().map(|index| index.bytes).sum();
    let capped = crate::store::capped::is_capped(&collection.options);
    let index_sizes: Document = indexes.iter().map(|index| (index.name.clone(), scaled(index.bytes))).collect();
    stats.extend(doc! {
        "numOrphanDocs": 0,
        "storageSize": scaled(measured.data_bytes),
        "freeStorageSize": 0,
        "capped": capped,
    });
    if capped {
        let (size, max) = crate::store::capped::limits(&collection.options);
        stats.insert("max", number(max.map_or(0, |max| max as i64)));
        stats.insert("maxSize", scaled(size));
    }
    stats.extend(doc! {
        "nindexes": indexes.len() as i32,
        "indexDetails": {},
        "indexBuilds": [],
        "totalIndexSize": scaled(index_bytes),
        "indexSizes": index_sizes,
        "totalSize": scaled(measured.data_bytes + index_bytes),
        "scaleFactor": number(scale),
    });
    Ok(stats)
}

/// A count as MongoDB appends it.
fn scaled_count(n: u64) -> Bson {
    number(i64::try_from(n).unwrap_or(i64::MAX))
}

/// What MongoDB 7.0 reports for a collection that does not exist.
fn missing_storage_stats(scale: i64) -> Document {
    doc! {
        "size": 0,
        "count": 0,
        "numOrphanDocs": 0,
        "storageSize": 0,
        "totalSize": 0,
        "nindexes": 0,
        "totalIndexSize": 0,
        "indexDetails": {},
        "indexSizes": {},
        "scaleFactor": number(scale),
    }
}

/// The `scale` option of `collStats` and of `$collStats`' `storageStats` (`path`
/// names their fields in errors): a number of at least 1, its integer part used;
/// 1 by default.
fn scale(spec: &Document, path: &str) -> Result<i64> {
    let scale = match spec.get("scale") {
        None | Some(Bson::Null) => return Ok(1),
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(d)) if d.is_finite() => d.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field '{path}.scale' is the wrong type '{}', expected types '[long, int, decimal, double]'",
                args::type_name(other)
            )))
        }
    };
    if scale < 1 {
        return Err(Error::command(
            ErrorCode::Location51024,
            format!("BSON field 'scale' value must be >= 1, actual value '{scale}'"),
        ));
    }
    Ok(scale)
}

/// The one document a `$collStats` stage produces for collection `name`:
/// `{ns, host, localTime}`, with `storageStats` and `count` when asked for.
pub(super) fn stage(inv: &Invocation<'_>, view: &View, name: &str, spec: &Bson) -> Result<Document> {
    let Bson::Document(spec) = spec else {
        return Err(Error::command(
            ErrorCode::Location40166,
            format!("$collStats must take a nested object but found: $collStats: {spec}"),
        ));
    };
    let mut storage = None;
    let mut count = false;
    for (field, value) in spec {
        match (field.as_str(), value) {
            ("storageStats", Bson::Document(options)) => storage = Some(storage_options(options)?),
            ("count", Bson::Document(_)) => count = true,
            ("storageStats" | "count", other) => {
                return Err(Error::type_mismatch(format!(
                    "BSON field '$collStats.{field}' is the wrong type '{}', expected type 'object'",
                    args::type_name(Some(other))
                )))
            }
            ("latencyStats" | "queryExecStats", _) => {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    format!(
                        "$collStats.{field} is not supported: branchdb keeps no per-collection operation statistics"
                    ),
                ))
            }
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field '$collStats.{field}' is an unknown field."),
                ))
            }
        }
    }
    let ns = args::namespace(inv, name);
    let collection = view.collection(name)?;
    let not_found = |what: &str| {
        Error::command(ErrorCode::NamespaceNotFound, format!("Collection [{ns}] not found."))
            .caused_by(&format!("Unable to retrieve {what} in $collStats stage"))
            .caused_by("PlanExecutor error during aggregation")
    };
    let mut out = doc! {"ns": &ns, "host": host(inv.context), "localTime": bson::DateTime::now()};
    let mut measured = None;
    if let Some(scale) = storage {
        let collection = collection.as_ref().ok_or_else(|| not_found("storageStats"))?;
        let stats = storage_stats(inv, view, collection, scale)?;
        measured = stats.get("count").cloned();
        out.insert("storageStats", stats);
    }
    if count {
        let collection = collection.as_ref().ok_or_else(|| not_found("count"))?;
        let n = match measured {
            Some(n) => n,
            None => scaled_count(measure(inv, view, collection)?.documents),
        };
        out.insert("count", n);
    }
    Ok(out)
}

/// The options of `$collStats`' `storageStats`: its scale (the others change
/// nothing here).
fn storage_options(options: &Document) -> Result<i64> {
    for (field, value) in options {
        match field.as_str() {
            "scale" => {}
            "verbose" | "waitForLock" | "numericOnly" => {
                args::boolean(options, field, false).map_err(|_| {
                    Error::type_mismatch(format!(
                        "BSON field '$collStats.storageStats.{field}' is the wrong type '{}', expected type 'bool'",
                        args::type_name(Some(value))
                    ))
                })?;
            }
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field '$collStats.storageStats.{field}' is an unknown field."),
                ))
            }
        }
    }
    scale(options, "$collStats.storageStats")
}

/// `dbStats`: the sizes of the addressed branch and point of a database, summed over
/// its collections. Sizes are doubles divided by `scale`, as in MongoDB 7.0. The
/// filesystem figures are those of the data directory; a database without
/// collections reports 0 for them, as MongoDB does for a database that does not exist.
pub fn db_stats(inv: &Invocation<'_>) -> Result<Document> {
    let scale = db_stats_scale(inv.body)?;
    let free_storage = inv.body.get("freeStorage").is_some_and(|v| crate::value::truthy(Some(v)));
    let view = inv.read_view()?;
    let collections = view.collections()?;
    let mut total = Measured::default();
    let mut index_count = 0usize;
    let mut index_bytes = 0u64;
    for collection in &collections {
        let measured = measure(inv, &view, collection)?;
        let indexes = indexes(inv, &view, collection, &measured)?;
        index_count += indexes.len();
        index_bytes += indexes.iter().map(|index| index.bytes).sum::<u64>();
        total.documents += measured.documents;
        total.data_bytes += measured.data_bytes;
    }
    let scaled = |bytes: u64| bytes as f64 / scale as f64;
    let average = if total.documents == 0 { 0.0 } else { total.data_bytes as f64 / total.documents as f64 };
    let mut reply = doc! {
        "db": inv.db.to_string(),
        "collections": number(collections.len() as i64),
        "views": 0,
        "objects": scaled_count(total.documents),
        "avgObjSize": average,
        "dataSize": scaled(total.data_bytes),
        "storageSize": scaled(total.data_bytes),
    };
    if free_storage {
        reply.insert("freeStorageSize", 0.0);
    }
    reply.insert("indexes", number(index_count as i64));
    reply.insert("indexSize", scaled(index_bytes));
    if free_storage {
        reply.insert("indexFreeStorageSize", 0.0);
    }
    reply.insert("totalSize", scaled(total.data_bytes + index_bytes));
    if free_storage {
        reply.insert("totalFreeStorageSize", 0.0);
    }
    reply.insert("scaleFactor", number(scale));
    let (used, capacity) =
        if collections.is_empty() { (0, 0) } else { filesystem(&inv.context.settings.data_dir).unwrap_or((0, 0)) };
    reply.insert("fsUsedSize", scaled(used));
    reply.insert("fsTotalSize", scaled(capacity));
    Ok(reply)
}

/// What a branch's collections take, as `listDatabases` reports it (`sizeOnDisk`):
/// their documents and index entries, as `dbStats` counts them (`totalSize`).
pub(super) fn total_size(inv: &Invocation<'_>, view: &View) -> Result<u64> {
    let mut total = 0;
    for collection in view.collections()? {
        let measured = measure(inv, view, &collection)?;
        total += measured.data_bytes + indexes(inv, view, &collection, &measured)?.iter().map(|i| i.bytes).sum::<u64>();
    }
    Ok(total)
}

/// The largest `scale` of `dbStats`: 2^50 (a petabyte).
const MAX_DB_STATS_SCALE: i64 = 1 << 50;

/// `dbStats`' `scale`: a number in (0, 2^50], its integer part used; 1 by default.
fn db_stats_scale(body: &Document) -> Result<i64> {
    let scale = match body.get("scale") {
        None | Some(Bson::Null) => 1,
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(d)) if d.is_finite() => d.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'dbStats.scale' is the wrong type '{}', expected types '[long, int, decimal, double]'",
                args::type_name(other)
            )))
        }
    };
    if !(1..=MAX_DB_STATS_SCALE).contains(&scale) {
        return Err(Error::bad_value("Scale factor must be greater than zero and less than or equal to 2^50"));
    }
    Ok(scale)
}

/// Bytes used and bytes in all of the filesystem holding `dir`, as MongoDB computes
/// them (capacity less what an unprivileged user may still use); `None` when it
/// cannot be read (the directory does not exist: an in-memory store).
fn filesystem(dir: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` only writes into the zeroed struct it is given, and `path` is a
    // NUL-terminated string that outlives the call.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    let block = stats.f_frsize as u64;
    let capacity = (stats.f_blocks as u64).saturating_mul(block);
    let available = (stats.f_bavail as u64).saturating_mul(block);
    Some((capacity.saturating_sub(available), capacity))
}
