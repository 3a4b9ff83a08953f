//! `aggregate`: a pipeline run over a collection of the addressed branch and point,
//! its results returned through a cursor like `find`'s, or written by a final `$out`
//! or `$merge` into the same branch (the cursor is then empty).

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::cursor::{self, Cursor, Source, DEFAULT_FIRST_BATCH};
use crate::error::{Error, ErrorCode, Result};
use crate::query::pipeline::{Collections, Pipeline};
use crate::query::plan::{self, Access, Plan};
use crate::store::{Collection, Natural, View};
use crate::value::collation::Collation;

/// Splits off a leading stage `name` that makes the pipeline's documents
/// (`$collStats`, `$indexStats`): its specification and the stages after it. The
/// stage anywhere else is refused (40602).
pub fn leading_stage<'a>(stages: &'a [Bson], name: &str) -> Result<(Option<&'a Bson>, &'a [Bson])> {
    let is_it = |stage: &Bson| stage.as_document().is_some_and(|s| s.contains_key(name));
    if stages.iter().skip(1).any(is_it) {
        return Err(Error::command(
            ErrorCode::Location40602,
            format!("{name} is only valid as the first stage in a pipeline"),
        ));
    }
    match stages.split_first() {
        Some((first, rest)) if is_it(first) => Ok((first.as_document().and_then(|s| s.get(name)), rest)),
        _ => Ok((None, stages)),
    }
}

/// Whether the pipeline ends by writing its results (`$out`, `$merge`).
pub fn writes(body: &Document) -> bool {
    let last = body.get_array("pipeline").ok().and_then(|stages| stages.last());
    last.and_then(Bson::as_document)
        .and_then(|stage| stage.keys().next())
        .is_some_and(|name| name == "$out" || name == "$merge")
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    // `{aggregate: 1}` runs over the database: its first stage makes the documents.
    let over_database = matches!(inv.body.get("aggregate"), Some(n) if crate::index::whole_number(n) == Some(1));
    let stages = match inv.body.get("pipeline") {
        Some(Bson::Array(stages)) => stages,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'aggregate.pipeline' is the wrong type '{}', expected type 'array'",
                args::type_name(other)
            )))
        }
    };
    let first = stages.first().and_then(Bson::as_document).and_then(|s| s.keys().next());
    if let Some(name) = first.filter(|n| !over_database && matches!(n.as_str(), "$querySettings" | "$queryStats")) {
        return Err(Error::command(
            ErrorCode::InvalidNamespace,
            format!("{name} must be run against the 'admin' database with {{aggregate: 1}}"),
        ));
    }
    // A leading `$listSessions` lists the sessions, on `config.system.sessions` only.
    let (list_sessions, stages) = match stages.first().and_then(Bson::as_document) {
        Some(first) if first.len() == 1 && first.contains_key("$listSessions") => {
            (first.get("$listSessions").cloned(), &stages[1..])
        }
        _ => (None, &stages[..]),
    };
    let name = match inv.body.get("aggregate") {
        Some(Bson::String(name)) if list_sessions.is_some() => {
            if inv.db.db != "config" || name != "system.sessions" {
                return Err(Error::command(
                    ErrorCode::InvalidNamespace,
                    "$listSessions may only be run against config.system.sessions",
                ));
            }
            name.as_str()
        }
        Some(Bson::String(_)) => args::collection_to_read(inv, "aggregate")?,
        _ if over_database => "$cmd.aggregate",
        _ => {
            return Err(Error::command(
                ErrorCode::InvalidNamespace,
                "Invalid command format: the 'aggregate' field must specify a collection name or 1",
            ))
        }
    };
    if args::boolean(inv.body, "explain", false)? {
        let inner: Document =
            inv.body.iter().filter(|(k, _)| k.as_str() != "explain").map(|(k, v)| (k.clone(), v.clone())).collect();
        return super::explain::explain(inv, &inner, false);
    }
    let batch_size = match args::document(inv.body, "cursor")? {
        Some(cursor) => args::integer(cursor, "batchSize")?,
        None => {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                "The 'cursor' option is required, except for aggregate with the explain argument",
            ))
        }
    };
    if batch_size.is_some_and(|b| b < 0) {
        return Err(Error::bad_value("batchSize value must be non-negative"));
    }
    let (view, snapshot_time) = inv.read_view_at()?;
    // A view's pipeline runs first, over the collection underneath.
    let target = match over_database {
        true => None,
        false => view.collection(name)?,
    };
    let resolved = match &target {
        Some(entry) if entry.view_on().is_some() => Some(super::views::resolve(&view, entry)?),
        _ => None,
    };
    if super::change_stream::is_change_stream(stages) {
        if resolved.is_some() {
            return Err(super::views::not_a_collection(inv, name));
        }
        return super::change_stream::open(inv, stages, batch_size);
    }
    let combined: Vec<Bson>;
    let stages: &[Bson] = match &resolved {
        Some(resolved) => {
            combined = resolved.pipeline.iter().chain(stages).cloned().collect();
            &combined
        }
        None => stages,
    };
    // A leading `$collStats` produces one document that the rest of the pipeline runs over.
    let (coll_stats, stages) = leading_stage(stages, "$collStats")?;
    let (index_stats, stages) = leading_stage(stages, "$indexStats")?;
    let index_stats = index_stats.map(super::index_stats::check).transpose()?.is_some();
    let (plan_cache_stats, stages) = leading_stage(stages, "$planCacheStats")?;
    let plan_cache_stats = plan_cache_stats.map(super::index_filters::check_plan_cache_stats).transpose()?.is_some();
    if index_stats && matches!(inv.session, Some(super::invocation::SessionUse::Transaction(_))) {
        return Err(Error::command(
            ErrorCode::OperationNotSupportedInTransaction,
            "$indexStats is not allowed in a transaction",
        ));
    }
    // A leading `$geoNear` reads the collection nearest first, as the pipeline's source.
    let (geo_near, stages) = match resolved.is_none() && !over_database {
        true => super::geo_near::leading_stage(stages)?,
        false => (None, stages),
    };
    let geo_near_wanted = super::geo_near::wanted(stages);
    let (made, stages) = match over_database {
        true => {
            let (made, rest) = super::db_aggregate::source(inv, stages)?;
            (Some(made), rest)
        }
        false => (None, stages),
    };
    let limits = &inv.context.stage_limits;
    let allow_disk_use = args::boolean(inv.body, "allowDiskUse", limits.allow_disk_use_by_default())?;
    let pipeline = Pipeline::parse(stages, &args::variables(inv.body, "aggregate")?)?
        .allow_disk_use(allow_disk_use)
        .with_stage_limits(limits.sort(), limits.group())
        .with_budget(inv.context.memory.clone())
        .with_collation(args::collation_on(inv.body, target.as_ref())?.as_ref())?;
    // (A view's pipeline comes first, so a `$text` after it is not the first stage;
    // a collection that does not exist has nothing to search.)
    let pipeline = match &target {
        Some(collection) if resolved.is_none() => pipeline.with_text_index(&collection.indexes)?,
        _ => pipeline,
    };
    if let Some(output) = pipeline.output() {
        super::output::check(inv, output)?;
    }
    let collections = BranchCollections { inv, view: &view, depth: 0 };
    let source = match &resolved {
        Some(resolved) => view.collection(&resolved.source)?.filter(|c| c.view_on().is_none()),
        None => target,
    };
    let (results, held) = if let Some(spec) = &list_sessions {
        let listed = super::sessions::listed(inv, spec, "$listSessions")?;
        pipeline.run_held(listed.into_iter().map(Ok), &collections)?
    } else if let Some(spec) = coll_stats {
        pipeline.run_held(std::iter::once(super::coll_stats::stage(inv, &view, name, spec)), &collections)?
    } else if plan_cache_stats {
        // No plan is cached (`index_filters.rs`): there is no entry to list.
        pipeline.run_held(std::iter::empty(), &collections)?
    } else if index_stats {
        let documents = super::index_stats::documents(inv, &view, source.as_ref());
        pipeline.run_held(documents.into_iter().map(Ok), &collections)?
    } else if let Some(made) = made {
        pipeline.run_held(made.into_iter().map(Ok), &collections)?
    } else if name == super::system_profile::NAME {
        pipeline.run_held(super::system_profile::documents(inv).into_iter().map(Ok), &collections)?
    } else {
        match source {
            Some(collection) if geo_near.is_some() => {
                let spec = geo_near.as_ref().expect("a $geoNear");
                let docs = super::geo_near::documents(inv, &view, &collection, spec, geo_near_wanted)?;
                pipeline.run_held(docs.into_iter().map(Ok), &collections)?
            }
            Some(collection) => {
                let plan = match pipeline.leading_match() {
                    Some(filter) => {
                        // An index filter for the `$match`'s shape limits the indexes and
                        // overrides the hint.
                        let query =
                            stages.first().and_then(Bson::as_document).and_then(|s| s.get_document("$match").ok());
                        let collation = super::find::given_collation(inv.body);
                        let restricted = query.and_then(|query| {
                            super::index_filters::restrict(
                                inv.context,
                                &view,
                                &collection,
                                query,
                                None,
                                None,
                                collation,
                            )
                        });
                        match &restricted {
                            Some(restricted) => plan::choose(restricted, filter, None, None)?,
                            None => plan::choose(&collection, filter, None, super::find::hint(inv.body)?)?,
                        }
                    }
                    None => plan::Plan::collection_scan(),
                };
                run_over(&pipeline, inv, &view, &collection, &plan, &collections)?
            }
            None if geo_near.is_some() => {
                return Err(Error::command(
                    ErrorCode::NamespaceNotFound,
                    format!("$geoNear requires a geo index to run, but {} does not exist", args::namespace(inv, name)),
                ))
            }
            None => pipeline.run_held(std::iter::empty(), &collections)?,
        }
    };
    if let Some(output) = pipeline.output() {
        let commit = super::output::write(inv, output, results)?;
        let mut reply = doc! { "cursor": { "firstBatch": [], "id": 0i64, "ns": args::namespace(inv, name) } };
        if let Some(commit) = commit {
            reply.insert("operationTime", commit.cluster_time());
        }
        return Ok(reply);
    }
    let source = Source::Ready(VecDeque::from(results));
    let cursor =
        Cursor::plain(args::namespace(inv, name), view.snapshot.clone(), source, Some(held), inv.cursor_owner());
    let max = batch_size.map_or(DEFAULT_FIRST_BATCH, |b| b as usize);
    let mut reply = cursor::reply_batch(&inv.context.cursors, None, cursor, &view, max, inv.interrupt())?;
    cursor::report_snapshot_time(&mut reply, snapshot_time);
    Ok(reply)
}

/// The documents of the view `entry` of `view` put through `stages` (for the
/// commands that read a view through a pipeline: `count`, `distinct`).
pub fn view_documents(
    inv: &Invocation<'_>,
    view: &View,
    entry: &Collection,
    stages: &[Bson],
    collation: Option<&Arc<Collation>>,
) -> Result<Vec<Document>> {
    let resolved = super::views::resolve(view, entry)?;
    let combined: Vec<Bson> = resolved.pipeline.into_iter().chain(stages.iter().cloned()).collect();
    let source = view.collection(&resolved.source)?.filter(|c| c.view_on().is_none());
    collection_documents(inv, view, source.as_ref(), &combined, collation)
}

/// The documents of `collection` (none when it does not exist) put through
/// `stages` (for the commands that select documents through a pipeline: a view's
/// `count` and `distinct`, `mapReduce`).
pub fn collection_documents(
    inv: &Invocation<'_>,
    view: &View,
    collection: Option<&Collection>,
    stages: &[Bson],
    collation: Option<&Arc<Collation>>,
) -> Result<Vec<Document>> {
    let pipeline = Pipeline::parse(stages, &crate::query::Variables::none())?
        .with_stage_limits(inv.context.stage_limits.sort(), inv.context.stage_limits.group())
        .with_budget(inv.context.memory.clone())
        .with_collation(collation)?;
    let collections = BranchCollections { inv, view, depth: 0 };
    match collection {
        Some(collection) => {
            let plan = match pipeline.leading_match() {
                Some(filter) => plan::choose(collection, filter, None, None)?,
                None => plan::Plan::collection_scan(),
            };
            run_over(&pipeline, inv, view, collection, &plan, &collections).map(|(docs, _)| docs)
        }
        None => pipeline.run(std::iter::empty(), &collections),
    }
}

/// Runs `pipeline` over the documents of `collection` that `plan` reads. A
/// collection scan into a leading `$sort` hands it the documents' bytes, which it
/// decodes once, after sorting.
fn run_over<'a>(
    pipeline: &'a Pipeline,
    inv: &'a Invocation<'a>,
    view: &'a View,
    collection: &Collection,
    plan: &Plan,
    collections: &'a dyn Collections,
) -> Result<(Vec<Document>, crate::memory::Reservation)> {
    if let (Some(_), Access::CollectionScan { .. }) = (pipeline.leading_sort(), &plan.access) {
        let read: Read<Vec<u8>> = Arc::new(|bytes| Ok(bytes.to_vec()));
        return pipeline.run_held_raw(Box::new(Documents::new(inv, view, collection, plan, read)?), collections);
    }
    let read: Read<Document> = Arc::new(|bytes| {
        crate::value::decode(bytes).map_err(|e| Error::Store(format!("bad document in the store: {e}")))
    });
    pipeline.run_held(Documents::new(inv, view, collection, plan, read)?, collections)
}

/// Documents scanned per pull from the store.
const CHUNK: usize = 1000;
/// Chunks a scan reads ahead of the pipeline.
const READ_AHEAD: usize = 2;

/// A collection's documents as an iterator the pipeline pulls from, read from the
/// store a chunk at a time so that a pipeline that stops early (`$limit`) stops the
/// scan. A leading `$match` the planner can narrow reads one document by `_id`, or
/// an index's candidates, instead of every document. Each document is what `read`
/// makes of its bytes: the decoded document, or the bytes themselves.
struct Documents<'a, T> {
    inv: &'a Invocation<'a>,
    view: &'a View,
    collection: u64,
    feed: Feed<T>,
    buffer: VecDeque<T>,
    done: bool,
    read: Read<T>,
}

/// What a scan makes of a document's bytes (on the scan's own thread, when it
/// reads ahead).
type Read<T> = Arc<dyn Fn(&[u8]) -> Result<T> + Send + Sync>;

/// Where the documents come from.
enum Feed<T> {
    /// A scan in the collection's natural order, resuming after this place in it
    /// (`None` before the first chunk).
    Scan(Natural, Option<Vec<u8>>),
    /// These encoded `_id`s, in order.
    Ids(VecDeque<Vec<u8>>),
    /// The rest of a scan, read ahead on a thread of its own.
    Ahead(Receiver<Result<Vec<T>>>),
}

/// Scans the rest of `collection` after `after` on a thread of its own, handing
/// over chunks of documents as `read` makes them: reading and decoding a long scan
/// overlaps the stages that take its documents. At most [`READ_AHEAD`] chunks
/// wait; when the pipeline stops taking them (`$limit`, an error), the scan stops
/// at its next.
fn read_ahead<T: Send + 'static>(
    view: View,
    collection: u64,
    order: Natural,
    after: Vec<u8>,
    read: Read<T>,
) -> Result<Receiver<Result<Vec<T>>>> {
    let (chunks, received) = sync_channel(READ_AHEAD);
    std::thread::Builder::new().name("scan-ahead".into()).spawn(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        let scanned = view.scan_raw(collection, order, Some(&after), |_, bytes| {
            chunk.push(read(bytes)?);
            if chunk.len() < CHUNK {
                return Ok(true);
            }
            Ok(chunks.send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))).is_ok())
        });
        let _ = chunks.send(scanned.map(|()| chunk));
    })?;
    Ok(received)
}

impl<'a, T: Send + 'static> Documents<'a, T> {
    fn new(
        inv: &'a Invocation<'a>,
        view: &'a View,
        collection: &Collection,
        plan: &Plan,
        read: Read<T>,
    ) -> Result<Documents<'a, T>> {
        inv.note_plan(view, collection, plan);
        let feed = match &plan.access {
            Access::CollectionScan { backwards } => Feed::Scan(Natural::of(collection, *backwards), None),
            Access::IdLookup(id) => Feed::Ids(VecDeque::from([crate::value::order::encoded(id)])),
            // `$match` refuses `$near`; the `$geoNear` stage reads through its own feed.
            Access::Near(_) => return Err(crate::error::Error::Internal("a nearest-first plan in $match".into())),
            Access::IndexScan(scan) => {
                let mut ids = VecDeque::new();
                crate::exec::index_ids(view, scan, &mut 0, |id| {
                    ids.push_back(id.to_vec());
                    Ok(true)
                })?;
                Feed::Ids(ids)
            }
        };
        Ok(Documents { inv, view, collection: collection.id, feed, buffer: VecDeque::new(), done: false, read })
    }

    /// Reads the next chunk into the buffer.
    fn fill(&mut self) -> Result<()> {
        self.inv.check_deadline()?;
        let (buffer, read) = (&mut self.buffer, &self.read);
        match &mut self.feed {
            Feed::Ids(ids) => {
                while buffer.len() < CHUNK {
                    let Some(id) = ids.pop_front() else { break };
                    if let Some(bytes) = self.view.get_raw(self.collection, &id)? {
                        buffer.push_back(read(&bytes)?);
                    }
                }
                self.done = ids.is_empty();
            }
            Feed::Ahead(chunks) => match chunks.recv() {
                Ok(chunk) => buffer.extend(chunk?),
                // The scan is over.
                Err(_) => self.done = true,
            },
            // The second chunk on: a long scan.
            Feed::Scan(order, Some(after)) => {
                let after = std::mem::take(after);
                self.feed = Feed::Ahead(read_ahead(self.view.clone(), self.collection, *order, after, read.clone())?);
            }
            Feed::Scan(order, after) => {
                let mut last = None;
                self.view.scan_raw(self.collection, *order, after.as_deref(), |id, bytes| {
                    buffer.push_back(read(bytes)?);
                    if buffer.len() >= CHUNK {
                        last = Some(id.to_vec());
                        return Ok(false);
                    }
                    Ok(true)
                })?;
                self.done = last.is_none();
                *after = last;
            }
        }
        Ok(())
    }
}

impl<T: Send + 'static> Iterator for Documents<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        // A chunk may be empty (the last one read ahead).
        while self.buffer.is_empty() && !self.done {
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

/// The collections of the addressed branch and point, as `$lookup` reads them;
/// `depth` counts the views being read to get here.
struct BranchCollections<'a> {
    inv: &'a Invocation<'a>,
    view: &'a View,
    depth: usize,
}

impl Collections for BranchCollections<'_> {
    fn scan(&self, name: &str) -> Result<Vec<Document>> {
        let Some(collection) = self.view.collection(name)? else { return Ok(Vec::new()) };
        if collection.view_on().is_some() {
            return self.scan_view(&collection);
        }
        self.inv.check_deadline()?;
        let mut docs = Vec::new();
        self.view.scan_filtered(
            collection.id,
            Natural::of(&collection, false),
            None,
            |_| false,
            |_, doc| {
                docs.extend(doc);
                if docs.len() % CHUNK == 0 {
                    self.inv.check_deadline()?;
                }
                Ok(true)
            },
        )?;
        Ok(docs)
    }
}

impl BranchCollections<'_> {
    /// The documents of a view: its pipeline run over the collection underneath.
    fn scan_view(&self, entry: &Collection) -> Result<Vec<Document>> {
        if self.depth >= super::views::MAX_DEPTH {
            return Err(super::views::too_deep());
        }
        let resolved = super::views::resolve(self.view, entry)?;
        let inner = BranchCollections { depth: self.depth + 1, ..*self };
        let input = inner.scan(&resolved.source)?;
        let pipeline = Pipeline::parse(&resolved.pipeline, &crate::query::Variables::none())?
            .with_budget(self.inv.context.memory.clone());
        pipeline.run(input.into_iter().map(Ok), &inner)
    }
}

#[cfg(test)]
mod tests {
    //! `$lookup` reading the other collections of the branch, and `allowDiskUse`
    //! reaching the pipeline, through the command.

    use bson::{doc, Bson, Document};

    use crate::context::{ConnectionInfo, Context};

    /// The first batch of a reply, or the reply itself when it failed.
    fn first_batch(reply: &Document) -> Vec<Bson> {
        reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).cloned().unwrap_or_else(|_| {
            panic!("not a cursor: {reply}");
        })
    }

    #[test]
    fn lookup_reads_other_collections_of_the_branch() {
        let shared = Context::for_tests();
        let call = |body: Document| crate::command::run(&body, &ConnectionInfo::for_tests(3), &shared);
        call(doc! {"insert": "orders", "documents": [{"_id": 1, "item": "a"}, {"_id": 2, "item": "b"}], "$db": "t"});
        call(doc! {"insert": "items", "documents": [{"_id": "a", "item": "a", "n": 5}], "$db": "t"});
        let pipeline = vec![
            Bson::Document(
                doc! {"$lookup": {"from": "items", "localField": "item", "foreignField": "item", "as": "i"}},
            ),
            Bson::Document(doc! {"$lookup": {"from": "nothere", "pipeline": [], "as": "none"}}),
        ];
        let reply = call(doc! {"aggregate": "orders", "pipeline": pipeline, "cursor": {}, "$db": "t"});
        assert_eq!(
            first_batch(&reply),
            vec![
                Bson::Document(doc! {"_id": 1, "item": "a", "i": [{"_id": "a", "item": "a", "n": 5}], "none": []}),
                Bson::Document(doc! {"_id": 2, "item": "b", "i": [], "none": []}),
            ]
        );
    }

    #[test]
    fn allow_disk_use_is_a_boolean_option() {
        let shared = Context::for_tests();
        let call = |body: Document| crate::command::run(&body, &ConnectionInfo::for_tests(3), &shared);
        let sort = vec![Bson::Document(doc! {"$sort": {"x": 1}})];
        let reply =
            call(doc! {"aggregate": "c", "pipeline": sort.clone(), "cursor": {}, "allowDiskUse": true, "$db": "t"});
        assert!(first_batch(&reply).is_empty());
        let refused = call(doc! {"aggregate": "c", "pipeline": sort, "cursor": {}, "allowDiskUse": "yes", "$db": "t"});
        assert_eq!(refused.get_i32("code"), Ok(14), "{refused}");
    }
}
