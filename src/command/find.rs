//! `find`, `getMore` and `killCursors`: queries and their cursors.

use std::collections::VecDeque;

use bson::{doc, Bson, Document};

use super::index_filters;
use super::{args, system_profile, Invocation};
use crate::cursor::{self, Cursor, Source, DEFAULT_FIRST_BATCH};
use crate::error::{Error, ErrorCode, Result};
use crate::exec;
use crate::query::plan;
use crate::query::{Filter, Projection, Sort};

/// Whether a `find` reads at most one document by `_id` (`{_id: <value>}`, other
/// conditions allowed), with no sort to buffer for.
pub fn is_point_read(body: &Document) -> bool {
    let Ok(filter) = body.get_document("filter") else { return false };
    let simple_id = match filter.get("_id") {
        Some(Bson::Document(_) | Bson::Array(_) | Bson::RegularExpression(_)) | None => false,
        Some(_) => true,
    };
    simple_id && !body.contains_key("sort")
}

/// The collation a command gives (not its collection's): part of a query's shape.
pub fn given_collation(body: &Document) -> Option<&Document> {
    body.get_document("collation").ok()
}

pub fn find(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection_to_read(inv, "find")?;
    let body = inv.body;
    let vars = args::variables(body, "find")?;
    let filter = Filter::parse_query(args::document(body, "filter")?.unwrap_or(&Document::new()), &vars)?;
    let sort_spec = args::document(body, "sort")?.filter(|s| !s.is_empty());
    // The profile takes `{$natural: -1}` too (`system_profile::find`).
    // So does the plan a `{$natural: <direction>}` sort (a scan's own order).
    let natural = sort_spec.and_then(plan::natural);
    let sort = sort_spec.filter(|_| name != system_profile::NAME && natural.is_none()).map(Sort::parse).transpose()?;
    let hint = hint(body)?;
    let projection = match args::document(body, "projection")? {
        Some(spec) => Projection::parse(spec, &vars)?,
        None => None,
    };

    let skip = args::integer(body, "skip")?.unwrap_or(0);
    if skip < 0 {
        return Err(Error::bad_value("skip value must be non-negative"));
    }
    let limit = args::integer(body, "limit")?.unwrap_or(0);
    if limit < 0 {
        return Err(Error::bad_value("limit value must be non-negative"));
    }
    let batch_size = args::integer(body, "batchSize")?;
    if batch_size.is_some_and(|b| b < 0) {
        return Err(Error::bad_value("batchSize value must be non-negative"));
    }
    let single_batch = args::boolean(body, "singleBatch", false)?;
    let tailing = tailing(inv, sort_spec, single_batch)?;
    let (view, snapshot_time) = inv.read_view_at()?;
    let target = match name == system_profile::NAME {
        true => None,
        false => view.collection(name)?,
    };
    if target.as_ref().is_some_and(|entry| entry.view_on().is_some()) {
        return super::views::find(inv, name);
    }
    // The command's collation, else the collection's.
    let collation = args::collation_on(body, target.as_ref())?;
    let filter = args::text_on(filter.with_collation(collation.as_ref())?, target.as_ref())?;
    let sort = sort.map(|sort| sort.with_collation(collation.as_ref()));
    let (projection, sort) = text_scores(&filter, projection, sort)?;
    if collation.is_some() && projection.as_ref().is_some_and(Projection::compares_values) {
        return Err(Error::command(
            crate::error::ErrorCode::NotImplemented,
            "a collation other than simple is not supported yet with computed or $elemMatch projections",
        ));
    }
    let mut cursor = Cursor {
        ns: args::namespace(inv, name),
        snapshot: view.snapshot.clone(),
        source: Source::Ready(VecDeque::new()),
        filter,
        projection,
        skip: skip as u64,
        limit: (limit > 0).then_some(limit as u64),
        exhausted: false,
        owner: inv.cursor_owner(),
        memory: None,
        tail: None,
    };
    if name == system_profile::NAME {
        cursor.source = Source::Ready(system_profile::find(inv, &cursor.filter, sort_spec)?);
    } else if let Some(collection) = target {
        // An index filter for the query's shape limits the indexes, and overrides the hint.
        let query = args::document(body, "filter")?.cloned().unwrap_or_default();
        let projection = args::document(body, "projection")?;
        let restricted = index_filters::restrict(
            inv.context,
            &view,
            &collection,
            &query,
            sort_spec,
            projection,
            given_collation(body),
        );
        let (planned, hint) = match &restricted {
            Some(restricted) => (restricted, None),
            None => (&collection, hint),
        };
        let plan = plan::choose_collated(planned, &cursor.filter, sort_spec, hint, collation.as_ref())?;
        inv.note_plan(&view, &collection, &plan);
        super::timeseries::check_find(&collection, body)?;
        if let Some(await_data) = tailing {
            cursor.tail = tail(inv, &view, &collection, &cursor, &plan, await_data)?;
        }
        let limits = &inv.context.stage_limits;
        let allow_disk_use = args::boolean(body, "allowDiskUse", limits.allow_disk_use_by_default())?;
        let mut held = inv.context.memory.reservation();
        let sort_limit = (!allow_disk_use).then(|| limits.sort());
        cursor.source = exec::find_source(
            &view,
            &collection,
            &plan,
            &cursor.filter,
            sort.as_ref(),
            &inv.interrupt(),
            exec::Holding { held: &mut held, sort_limit, wanted: (limit > 0).then(|| (skip + limit.abs()) as usize) },
        )?;
        cursor.memory = Some(held);
    }
    if let Source::Ready(docs) = &mut cursor.source {
        let skip = std::mem::take(&mut cursor.skip) as usize;
        docs.drain(..skip.min(docs.len()));
    }
    let max = batch_size.map_or(DEFAULT_FIRST_BATCH, |b| b as usize);
    let mut reply = cursor::reply_batch(&inv.context.cursors, None, cursor, &view, max, inv.interrupt())?;
    if single_batch {
        close_in_reply(inv, &mut reply);
    }
    cursor::report_snapshot_time(&mut reply, snapshot_time);
    Ok(reply)
}

/// Whether a `find` asks for a tailable cursor, and then whether it awaits data:
/// checked as MongoDB checks the options against each other.
fn tailing(inv: &Invocation<'_>, sort: Option<&Document>, single_batch: bool) -> Result<Option<bool>> {
    let tailable = args::boolean(inv.body, "tailable", false)?;
    let await_data = args::boolean(inv.body, "awaitData", false)?;
    if !tailable {
        return match await_data {
            true => {
                Err(Error::command(ErrorCode::FailedToParse, "Cannot set 'awaitData' without also setting 'tailable'"))
            }
            false => Ok(None),
        };
    }
    if sort.is_some_and(|sort| *sort != doc! {"$natural": 1}) {
        return Err(Error::bad_value("cannot use tailable option with a sort other than {$natural: 1}"));
    }
    if single_batch {
        return Err(Error::bad_value("cannot use tailable option with the 'singleBatch' option"));
    }
    if matches!(inv.session, Some(super::invocation::SessionUse::Transaction(_))) {
        return Err(Error::command(
            ErrorCode::OperationNotSupportedInTransaction,
            "It is illegal to open a tailable cursor in a transaction",
        ));
    }
    Ok(Some(await_data))
}

/// What a tailable cursor on `collection` follows; MongoDB's refusals of a
/// collection that is not capped and of queries that cannot be tailed. An empty
/// collection gives no cursor to keep, as in MongoDB.
fn tail(
    inv: &Invocation<'_>,
    view: &crate::store::View,
    collection: &crate::store::Collection,
    cursor: &Cursor,
    plan: &plan::Plan,
    await_data: bool,
) -> Result<Option<cursor::Tail>> {
    if cursor.filter.has_text() {
        return Err(Error::bad_value("text and tailable cursor not allowed in same query"));
    }
    if cursor.filter.near().is_some() {
        return Err(Error::bad_value("Tailable cursors and geo $near cannot be used together"));
    }
    if !crate::store::capped::is_capped(&collection.options) {
        return Err(Error::bad_value(format!(
            "error processing query: ns={} tailable cursor requested on non capped collection",
            cursor.ns
        )));
    }
    if !matches!(plan.access, plan::Access::CollectionScan { backwards: false }) {
        return Err(Error::bad_value("tailable cursors read a capped collection in insertion order, with no index"));
    }
    if view.snapshot.read_only {
        return Err(Error::bad_value(format!(
            "a tailable cursor follows a branch's new documents; {} is a point in history, which never changes",
            view.snapshot.addressed
        )));
    }
    if view.capped_totals(collection.id)?.count == 0 {
        return Ok(None);
    }
    Ok(Some(cursor::Tail {
        target: crate::namespace::DbRef::parse(&view.snapshot.addressed)?,
        collection: collection.name.clone(),
        collection_id: collection.id,
        awaiting: await_data.then(|| inv.context.feed.subscribe()).transpose()?,
        caught_up: false,
    }))
}

/// The projection and sort of a query, given the text scores they ask for from the
/// filter's `$text` search: MongoDB's error 40218 without one. A search that is
/// not bound (its collection does not exist) matches nothing, so nothing asks.
pub(super) fn text_scores(
    filter: &Filter,
    projection: Option<Projection>,
    sort: Option<Sort>,
) -> Result<(Option<Projection>, Option<Sort>)> {
    let asked = projection.as_ref().is_some_and(Projection::needs_text_score)
        || sort.as_ref().is_some_and(Sort::needs_text_score);
    if !asked || (filter.has_text() && filter.text_search().is_none()) {
        return Ok((projection, sort));
    }
    let search = filter.text_search();
    Ok((
        projection.map(|p| p.with_text_search(search)).transpose()?,
        sort.map(|s| s.with_text_search(search)).transpose()?,
    ))
}

/// The `hint` of a command: an index name or key pattern; `None` when absent or
/// empty.
pub fn hint(body: &Document) -> Result<Option<&Bson>> {
    match body.get("hint") {
        None => Ok(None),
        Some(Bson::Document(d)) if d.is_empty() => Ok(None),
        Some(hint @ (Bson::String(_) | Bson::Document(_))) => Ok(Some(hint)),
        Some(other) => {
            Err(Error::bad_value(format!("hint must be a string or an object, not {}", args::type_name(Some(other)))))
        }
    }
}

/// Closes the cursor a reply announces (for `singleBatch`).
pub(super) fn close_in_reply(inv: &Invocation<'_>, reply: &mut Document) {
    if let Ok(cursor) = reply.get_document_mut("cursor") {
        if let Ok(id) = cursor.get_i64("id") {
            inv.context.cursors.kill(id);
        }
        cursor.insert("id", 0i64);
    }
}

pub fn get_more(inv: &Invocation<'_>) -> Result<Document> {
    let id = match inv.body.get("getMore") {
        Some(Bson::Int64(id)) => *id,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'getMore.getMore' is the wrong type '{}', expected type 'long'",
                args::type_name(other)
            )))
        }
    };
    let collection = match inv.body.get("collection") {
        Some(Bson::String(c)) => c.clone(),
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'getMore.collection' is the wrong type '{}', expected type 'string'",
                args::type_name(other)
            )))
        }
    };
    let batch_size = match args::integer(inv.body, "batchSize")? {
        Some(b) if b < 0 => return Err(Error::bad_value("batchSize value must be non-negative")),
        Some(b) if b > 0 => b as usize,
        _ => usize::MAX,
    };
    let cursor = inv.context.cursors.take(id)?;
    if let Err(e) = cursor.owner.check_get_more(id, &inv.cursor_owner()) {
        inv.context.cursors.put_back(id, cursor);
        return Err(e);
    }
    let expected = args::namespace(inv, &collection);
    if cursor.ns != expected {
        let actual = cursor.ns.clone();
        inv.context.cursors.put_back(id, cursor);
        return Err(Error::command(
            crate::error::ErrorCode::Unauthorized,
            format!(
                "Requested getMore on namespace '{expected}', but cursor belongs to a different namespace {actual}"
            ),
        ));
    }
    if matches!(cursor.source, cursor::Source::Stream(_)) {
        let batch_size = if batch_size == usize::MAX { cursor::DEFAULT_FIRST_BATCH } else { batch_size };
        return super::change_stream::get_more(inv, id, cursor, batch_size);
    }
    if cursor.tail.is_some() {
        return get_more_tailing(inv, id, cursor, batch_size);
    }
    // A diff's other side is read over the same engine state, opened first.
    let view = inv.reopen(&cursor.snapshot).and_then(|view| match &cursor.source {
        cursor::Source::Diff(diff) => inv.context.store.check_retained(&diff.from).map(|_| view),
        _ => Ok(view),
    });
    let view = match view {
        Ok(view) => view,
        Err(e) => {
            inv.context.cursors.kill(id);
            return Err(e);
        }
    };
    cursor::reply_batch(&inv.context.cursors, Some(id), cursor, &view, batch_size, inv.interrupt())
}

/// The next batch of a tailable cursor: what its collection holds now past the
/// last document it passed. When that document is gone (the collection deleted
/// it to make room), the cursor has lost its place and dies, as in MongoDB (136).
fn get_more_tailing(inv: &Invocation<'_>, id: i64, mut cursor: Cursor, batch_size: usize) -> Result<Document> {
    let read = |cursor: &Cursor| -> Result<crate::store::View> {
        let tail = cursor.tail.as_ref().ok_or_else(|| Error::Internal("not a tailable cursor".into()))?;
        let view = inv.view_of(&tail.target)?;
        if view.collection(&tail.collection)?.is_none_or(|c| c.id != tail.collection_id) {
            return Err(Error::command(ErrorCode::QueryPlanKilled, format!("collection dropped: {}", cursor.ns)));
        }
        if let cursor::Source::Scan { after: Some(place), .. } = &cursor.source {
            if !view.holds_place(tail.collection_id, place)? {
                return Err(Error::command(
                    ErrorCode::CappedPositionLost,
                    format!(
                        "CollectionScan died due to position in capped collection being deleted. Last seen record id: {}",
                        crate::store::capped::describe_place(place)
                    ),
                ));
            }
        }
        Ok(view)
    };
    let view = match read(&cursor) {
        Ok(view) => view,
        Err(e) => {
            inv.context.cursors.kill(id);
            return Err(e);
        }
    };
    cursor.snapshot = view.snapshot.clone();
    let batch_size = if batch_size == usize::MAX { cursor::DEFAULT_FIRST_BATCH } else { batch_size };
    cursor::reply_batch(&inv.context.cursors, Some(id), cursor, &view, batch_size, inv.interrupt())
}

pub fn kill_cursors(inv: &Invocation<'_>) -> Result<Document> {
    args::collection_to_read(inv, "killCursors")?;
    let ids = match inv.body.get("cursors") {
        Some(Bson::Array(ids)) => ids,
        _ => return Err(Error::type_mismatch("BSON field 'killCursors.cursors' must be an array of longs")),
    };
    let (mut killed, mut not_found) = (Vec::new(), Vec::new());
    let user = inv.cursor_owner().user;
    for id in ids {
        let Bson::Int64(id) = id else {
            return Err(Error::type_mismatch("BSON field 'killCursors.cursors' must be an array of longs"));
        };
        if inv.context.cursors.kill_for(*id, user.as_ref())? {
            killed.push(Bson::Int64(*id));
        } else {
            not_found.push(Bson::Int64(*id));
        }
    }
    Ok(doc! {
        "cursorsKilled": killed,
        "cursorsNotFound": not_found,
        "cursorsAlive": [],
        "cursorsUnknown": [],
    })
}
