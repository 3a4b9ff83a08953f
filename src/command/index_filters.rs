//! Index filters, as MongoDB 8.0 keeps them (deprecated there in favour of query
//! settings, still served): `planCacheSetFilter` limits the indexes the planner may
//! use for the queries of one shape (`query::shape`: the predicate without its
//! values, with the sort, projection and collation) on one collection of one
//! branch, and a hint given by such a query is ignored; `planCacheListFilters`
//! lists them, `planCacheClearFilters` removes one or all. Like MongoDB's they live
//! in memory only: a restart forgets them, and so does dropping the collection.
//! They apply to `find`, `count`, `distinct` and an aggregation's leading `$match`,
//! and `explain` shows `indexFilterSet`.
//!
//! `planCacheClear` and `$planCacheStats` concern cached plans: branchdb chooses a
//! plan for every query and caches none, so there is nothing to clear or list.

use std::sync::{Mutex, MutexGuard};

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::context::Context;
use crate::error::{Error, ErrorCode, Result};
use crate::query::{Filter, Variables};
use crate::store::{Collection, View};

/// Every index filter of the server.
#[derive(Default)]
pub struct IndexFilters {
    filters: Mutex<Vec<IndexFilter>>,
}

/// The indexes queries of one shape may use, on one collection of one branch.
struct IndexFilter {
    db: String,
    branch: String,
    /// The collection's id: a collection dropped and created again has none.
    collection: u64,
    /// The shape as the command gave it (`planCacheListFilters` shows it so).
    query: Document,
    sort: Document,
    projection: Document,
    collation: Option<Document>,
    shape: Document,
    key_patterns: Vec<Document>,
    names: Vec<String>,
}

/// What a query is matched by: its shape, sort, projection and collation.
fn shape_of(query: &Document, sort: &Document, projection: &Document, collation: Option<&Document>) -> Document {
    let mut shape =
        doc! {"query": crate::query::shape::of(query), "sort": sort.clone(), "projection": projection.clone()};
    if let Some(collation) = collation {
        shape.insert("collation", collation.clone());
    }
    shape
}

impl IndexFilters {
    fn lock(&self) -> MutexGuard<'_, Vec<IndexFilter>> {
        self.filters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The indexes a query of this shape on `collection` may use, if a filter says.
    fn allowed(&self, view: &View, collection: &Collection, shape: &Document) -> Option<(Vec<Document>, Vec<String>)> {
        self.lock()
            .iter()
            .find(|f| {
                f.collection == collection.id
                    && f.db == view.snapshot.db
                    && f.branch == view.snapshot.branch
                    && &f.shape == shape
            })
            .map(|f| (f.key_patterns.clone(), f.names.clone()))
    }
}

/// `collection` with only the indexes an index filter allows a query of this
/// shape to use (`None`: no filter; the caller then plans as usual, else it ignores
/// the query's hint).
pub fn restrict(
    context: &Context,
    view: &View,
    collection: &Collection,
    query: &Document,
    sort: Option<&Document>,
    projection: Option<&Document>,
    collation: Option<&Document>,
) -> Option<Collection> {
    let empty = Document::new();
    let shape = shape_of(query, sort.unwrap_or(&empty), projection.unwrap_or(&empty), collation);
    let (patterns, names) = context.index_filters.allowed(view, collection, &shape)?;
    let mut restricted = collection.clone();
    restricted.indexes.retain(|index| {
        names.contains(&index.name) || index.spec.get_document("key").is_ok_and(|key| patterns.contains(key))
    });
    Some(restricted)
}

/// The command's collection (it need not exist) and, when it does, its entry.
fn collection<'a>(inv: &'a Invocation<'_>, command: &str) -> Result<(&'a str, View, Option<Collection>)> {
    let name = args::collection_to_read(inv, command)?;
    let view = inv.read_view()?;
    let collection = view.collection(name)?.filter(|c| c.view_on().is_none());
    Ok((name, view, collection))
}

/// An optional document field of the query shape.
fn shape_field<'a>(body: &'a Document, field: &str, required: bool) -> Result<Option<&'a Document>> {
    let kind = if required { "required" } else { "optional" };
    match body.get(field) {
        None if required => Err(Error::bad_value(format!("required field {field} missing"))),
        None => Ok(None),
        Some(Bson::Document(doc)) => Ok(Some(doc)),
        Some(_) => Err(Error::bad_value(format!("{kind} field {field} must be an object"))),
    }
}

/// The query shape a command names: checked as a query would be.
fn shape_fields(body: &Document) -> Result<(Document, Document, Document, Option<Document>)> {
    let query = shape_field(body, "query", true)?.cloned().unwrap_or_default();
    Filter::parse_query(&query, &Variables::none())?;
    let sort = shape_field(body, "sort", false)?.cloned().unwrap_or_default();
    let projection = shape_field(body, "projection", false)?.cloned().unwrap_or_default();
    let collation = shape_field(body, "collation", false)?.cloned();
    // A collation is checked as a query's would be.
    args::collation_on(body, None)?;
    Ok((query, sort, projection, collation))
}

pub fn set(inv: &Invocation<'_>) -> Result<Document> {
    let (_, view, collection) = collection(inv, "planCacheSetFilter")?;
    let Some(collection) = collection else { return Err(Error::bad_value("no such collection")) };
    let indexes = match inv.body.get("indexes") {
        None => return Err(Error::bad_value("required field indexes missing")),
        Some(Bson::Array(indexes)) if indexes.is_empty() => {
            return Err(Error::bad_value("required field indexes must contain at least one index"))
        }
        Some(Bson::Array(indexes)) => indexes,
        Some(_) => return Err(Error::bad_value("required field indexes must be an array")),
    };
    let (mut key_patterns, mut names) = (Vec::new(), Vec::new());
    for index in indexes {
        match index {
            Bson::Document(pattern) if pattern.is_empty() => {
                return Err(Error::bad_value("index specification cannot be empty"))
            }
            Bson::Document(pattern) if !key_patterns.contains(pattern) => key_patterns.push(pattern.clone()),
            Bson::String(name) if !names.contains(name) => names.push(name.clone()),
            Bson::Document(_) | Bson::String(_) => {}
            _ => return Err(Error::bad_value("each item in indexes must be an object or string")),
        }
    }
    let (query, sort, projection, collation) = shape_fields(inv.body)?;
    let shape = shape_of(&query, &sort, &projection, collation.as_ref());
    let (db, branch) = (view.snapshot.db.clone(), view.snapshot.branch.clone());
    let mut filters = inv.context.index_filters.lock();
    filters.retain(|f| !(f.db == db && f.branch == branch && f.collection == collection.id && f.shape == shape));
    filters.push(IndexFilter {
        db,
        branch,
        collection: collection.id,
        query,
        sort,
        projection,
        collation,
        shape,
        key_patterns,
        names,
    });
    Ok(Document::new())
}

pub fn clear(inv: &Invocation<'_>) -> Result<Document> {
    let (_, view, collection) = collection(inv, "planCacheClearFilters")?;
    let Some(collection) = collection else { return Ok(Document::new()) };
    let shape = match inv.body.contains_key("query") {
        true => {
            let (query, sort, projection, collation) = shape_fields(inv.body)?;
            Some(shape_of(&query, &sort, &projection, collation.as_ref()))
        }
        false if ["sort", "projection", "collation"].iter().any(|f| inv.body.contains_key(f)) => {
            return Err(Error::bad_value("sort, projection, or collation provided without query"))
        }
        false => None,
    };
    let snapshot = &view.snapshot;
    inv.context.index_filters.lock().retain(|f| {
        let here = f.db == snapshot.db && f.branch == snapshot.branch && f.collection == collection.id;
        !(here && shape.as_ref().is_none_or(|shape| &f.shape == shape))
    });
    Ok(Document::new())
}

pub fn list(inv: &Invocation<'_>) -> Result<Document> {
    let (_, view, collection) = collection(inv, "planCacheListFilters")?;
    let filters: Vec<Bson> = match collection {
        None => Vec::new(),
        Some(collection) => inv
            .context
            .index_filters
            .lock()
            .iter()
            .filter(|f| f.db == view.snapshot.db && f.branch == view.snapshot.branch && f.collection == collection.id)
            .map(|f| {
                let mut listed =
                    doc! {"query": f.query.clone(), "sort": f.sort.clone(), "projection": f.projection.clone()};
                if let Some(collation) = &f.collation {
                    listed.insert("collation", collation.clone());
                }
                let mut indexes: Vec<Bson> = f.key_patterns.iter().cloned().map(Bson::Document).collect();
                indexes.extend(f.names.iter().cloned().map(Bson::String));
                listed.insert("indexes", indexes);
                Bson::Document(listed)
            })
            .collect(),
    };
    Ok(doc! {"filters": filters})
}

/// `planCacheClear`: no plan is cached, so none is removed; the shape, when given,
/// is checked as a query would be.
pub fn clear_plan_cache(inv: &Invocation<'_>) -> Result<Document> {
    collection(inv, "planCacheClear")?;
    if inv.body.contains_key("query") {
        shape_fields(inv.body)?;
    }
    Ok(Document::new())
}

/// Checks a `$planCacheStats` stage's specification: `{}` or `{allHosts: <bool>}`.
pub fn check_plan_cache_stats(spec: &Bson) -> Result<()> {
    let failed = |message: String| Error::command(ErrorCode::FailedToParse, message);
    let Bson::Document(spec) = spec else {
        return Err(failed(format!(
            "$planCacheStats value must be an object. Found: {}",
            crate::value::type_name(Some(spec))
        )));
    };
    let mut fields = spec.iter();
    if let Some((field, value)) = fields.next() {
        if field != "allHosts" {
            return Err(failed(format!(
                "$planCacheStats parameters object may contain only 'allHosts' field. Found: {field}"
            )));
        }
        if !matches!(value, Bson::Boolean(_)) {
            return Err(failed(format!("$planCacheStats allHosts must be a bool, not {value}")));
        }
        if fields.next().is_some() {
            return Err(failed("$planCacheStats parameters object may contain at most one field.".into()));
        }
    }
    Ok(())
}
