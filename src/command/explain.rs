//! `explain` (and `aggregate` with `explain: true`): the plan a query runs with, in
//! MongoDB's shape: `queryPlanner.winningPlan` is a tree of stages (`IXSCAN` under
//! `FETCH`, `COLLSCAN`, `IDHACK`, then `SORT`, `SKIP`, `LIMIT`, `PROJECTION_*` and
//! the write or count on top), and with `executionStats` verbosity the query is run
//! (writes are not: only the read that finds their documents) and counted.

use std::time::Instant;

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::exec;
use crate::query::plan::{self, Access, IndexScan, Plan};
use crate::query::text::TextSearch;
use crate::query::{Filter, Sort, Variables};
use crate::store::{Collection, View};

/// What an explained command reads, and what it does on top of the read.
struct Query<'b> {
    collection: &'b str,
    filter: Document,
    sort: Option<&'b Document>,
    hint: Option<&'b Bson>,
    projection: Option<&'b Document>,
    skip: i64,
    limit: i64,
    /// The stage the command puts on top (`COUNT`, `UPDATE`, `DELETE`…).
    top: Option<&'static str>,
    /// The stages of an aggregation after its leading `$match`.
    pipeline_rest: Option<Vec<Bson>>,
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let inner = match inv.body.get("explain") {
        Some(Bson::Document(inner)) => inner,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'explain.explain' is the wrong type '{}', expected type 'object'",
                args::type_name(other)
            )))
        }
    };
    let verbosity = match inv.body.get("verbosity") {
        None => "allPlansExecution",
        Some(Bson::String(v)) if matches!(v.as_str(), "queryPlanner" | "executionStats" | "allPlansExecution") => v,
        Some(other) => {
            return Err(Error::bad_value(format!(
            "verbosity string must be one of {{'queryPlanner', 'executionStats', 'allPlansExecution'}}, not {other}"
        )))
        }
    };
    explain(inv, inner, verbosity != "queryPlanner")
}

/// The explanation of `inner`, a command of the invocation's database; `execute`
/// adds `executionStats`.
pub fn explain(inv: &Invocation<'_>, inner: &Document, execute: bool) -> Result<Document> {
    // The explained command's own arguments are checked as if it ran.
    if let Some(command) = inner.keys().next().and_then(|name| super::lookup(name)) {
        command.args.check(command.name, inner)?;
    }
    // Explaining under a collation is not built yet: refused rather than explained
    // as if by bytes.
    args::simple_collation(inner)?;
    let query = query_of(inner)?;
    let vars = Variables::none();
    let filter = Filter::parse_query(&query.filter, &vars)?;
    if let Some(sort) = query.sort.filter(|sort| plan::natural(sort).is_none()) {
        Sort::parse(sort)?;
    }
    let view = inv.read_view()?;
    let ns = args::namespace(inv, query.collection);
    let collection = view.collection(query.collection)?;
    let filter = args::text_on(filter, collection.as_ref())?;
    let restricted = collection.as_ref().and_then(|collection| {
        let collation = super::find::given_collation(inner);
        super::index_filters::restrict(
            inv.context,
            &view,
            collection,
            &query.filter,
            query.sort,
            query.projection,
            collation,
        )
    });
    let plan = match (&restricted, &collection) {
        (Some(restricted), _) => Some(plan::choose(restricted, &filter, query.sort, None)?),
        (None, Some(collection)) => Some(plan::choose(collection, &filter, query.sort, query.hint)?),
        (None, None) => None,
    };
    let winning = winning_plan(&query, plan.as_ref(), filter.text_search());
    let planner = doc! {
        "namespace": &ns,
        "indexFilterSet": restricted.is_some(),
        "parsedQuery": query.filter.clone(),
        "maxIndexedOrSolutionsReached": false,
        "maxIndexedAndSolutionsReached": false,
        "maxScansToExplodeReached": false,
        "winningPlan": winning.clone(),
        "rejectedPlans": [],
    };
    let stats = match (execute, &collection, &plan) {
        (true, Some(collection), Some(plan)) => {
            Some(execution_stats(inv, &view, collection, plan, &filter, &query, winning)?)
        }
        (true, _, _) => Some(doc! {
            "executionSuccess": true, "nReturned": 0, "executionTimeMillis": 0,
            "totalKeysExamined": 0, "totalDocsExamined": 0, "executionStages": winning,
        }),
        _ => None,
    };
    let mut reply = Document::new();
    reply.insert("explainVersion", "1");
    match &query.pipeline_rest {
        Some(rest) if !rest.is_empty() => {
            let mut cursor = doc! { "queryPlanner": planner };
            if let Some(stats) = stats {
                cursor.insert("executionStats", stats);
            }
            let mut stages = vec![Bson::Document(doc! { "$cursor": cursor })];
            stages.extend(rest.iter().cloned());
            reply.insert("stages", stages);
        }
        _ => {
            reply.insert("queryPlanner", planner);
            if let Some(stats) = stats {
                reply.insert("executionStats", stats);
            }
        }
    }
    let mut command = inner.clone();
    command.insert("$db", inv.db.to_string());
    reply.insert("command", command);
    reply.insert(
        "serverInfo",
        doc! {
            "host": super::host_info::hostname(),
            "port": inv.context.settings.bind.rsplit(':').next().and_then(|p| p.parse::<i32>().ok()).unwrap_or(27017),
            "version": super::build_info::MONGODB_VERSION,
            "gitVersion": env!("CARGO_PKG_VERSION"),
        },
    );
    reply.insert(
        "serverParameters",
        doc! { "internalQueryMaxBlockingSortMemoryUsageBytes": crate::query::pipeline::MEMORY_LIMIT as i64 },
    );
    Ok(reply)
}

/// The read an explainable command makes.
fn query_of(inner: &Document) -> Result<Query<'_>> {
    let (name, target) = inner.iter().next().ok_or_else(|| Error::bad_value("explain of an empty command"))?;
    let Bson::String(collection) = target else {
        return Err(Error::command(ErrorCode::InvalidNamespace, format!("explain of {name} needs a collection name")));
    };
    let document = |field: &str| args::document(inner, field).map(|d| d.cloned().unwrap_or_default());
    let mut query = Query {
        collection,
        filter: Document::new(),
        sort: None,
        hint: super::find::hint(inner)?,
        projection: None,
        skip: 0,
        limit: 0,
        top: None,
        pipeline_rest: None,
    };
    match name.as_str() {
        "find" => {
            query.filter = document("filter")?;
            query.sort = args::document(inner, "sort")?.filter(|s| !s.is_empty());
            query.projection = args::document(inner, "projection")?.filter(|p| !p.is_empty());
            query.skip = args::integer(inner, "skip")?.unwrap_or(0);
            query.limit = args::integer(inner, "limit")?.unwrap_or(0);
        }
        "count" => {
            query.filter = document("query")?;
            query.top = Some("COUNT");
        }
        "distinct" => {
            query.filter = document("query")?;
            query.top = Some("PROJECTION_DEFAULT");
        }
        "delete" | "update" => {
            let (list, field, top) = match name.as_str() {
                "delete" => ("deletes", "q", "DELETE"),
                _ => ("updates", "q", "UPDATE"),
            };
            let statements = args::documents(inner, list)?;
            let first =
                statements.first().ok_or_else(|| Error::bad_value(format!("explain of {name} needs one statement")))?;
            query.filter = args::document(first, field)?.cloned().unwrap_or_default();
            query.hint = super::find::hint(first)?;
            query.top = Some(top);
        }
        "findAndModify" | "findandmodify" => {
            query.filter = document("query")?;
            query.sort = args::document(inner, "sort")?.filter(|s| !s.is_empty());
            query.limit = 1;
            query.top = Some(if args::boolean(inner, "remove", false)? { "DELETE" } else { "UPDATE" });
        }
        "aggregate" => {
            let stages = match inner.get("pipeline") {
                Some(Bson::Array(stages)) => stages,
                _ => return Err(Error::type_mismatch("BSON field 'aggregate.pipeline' must be an array")),
            };
            let mut rest = stages.as_slice();
            if let Some(Bson::Document(stage)) = rest.first() {
                if let Ok(filter) = stage.get_document("$match") {
                    query.filter = filter.clone();
                    rest = &rest[1..];
                }
            }
            query.pipeline_rest = Some(rest.to_vec());
        }
        other => {
            return Err(Error::command(
                ErrorCode::IllegalOperation,
                format!("Explain is not supported for the {other} command"),
            ))
        }
    }
    Ok(query)
}

/// The plan's stages, bottom up, as `explain` shows them.
fn winning_plan(query: &Query<'_>, plan: Option<&Plan>, text: Option<&TextSearch>) -> Document {
    let Some(plan) = plan else { return doc! { "stage": "EOF" } };
    let shown_filter = (!query.filter.is_empty()).then(|| query.filter.clone());
    let mut stage = match &plan.access {
        Access::IdLookup(_) => doc! { "stage": "IDHACK" },
        Access::CollectionScan { backwards } => {
            let mut scan = doc! { "stage": "COLLSCAN" };
            if let Some(filter) = &shown_filter {
                scan.insert("filter", filter.clone());
            }
            scan.insert("direction", if *backwards { "backward" } else { "forward" });
            scan
        }
        Access::IndexScan(scan) if scan.index.text.is_some() => text_stages(scan, text),
        Access::Near(scan) => {
            let stage = match scan.index.geo.as_ref().map(|g| g.kind) {
                Some(crate::index::GeoKind::Flat(_)) => "GEO_NEAR_2D",
                _ => "GEO_NEAR_2DSPHERE",
            };
            let mut near = doc! { "stage": stage, "keyPattern": scan.index.pattern(), "indexName": &scan.index.name, "indexVersion": 2 };
            if let Some(filter) = &shown_filter {
                near.insert("filter", filter.clone());
            }
            doc! { "stage": "FETCH", "inputStage": near }
        }
        Access::IndexScan(scan) => {
            let index = &scan.index;
            let multikey_paths: Document = index.fields.iter().map(|f| (f.path.clone(), Bson::Array(vec![]))).collect();
            let ixscan = doc! {
                "stage": "IXSCAN",
                "keyPattern": index.pattern(),
                "indexName": &index.name,
                "isMultiKey": index.multikey,
                "multiKeyPaths": multikey_paths,
                "isUnique": index.unique,
                "isSparse": index.sparse,
                "isPartial": index.partial.is_some(),
                "indexVersion": 2,
                "direction": if scan.reverse { "backward" } else { "forward" },
                "indexBounds": scan.bounds.clone(),
            };
            let mut fetch = doc! { "stage": "FETCH" };
            // Conditions on fields the index does not hold are checked on the documents.
            let residual = query.filter.keys().any(|k| !index.fields.iter().any(|f| &f.path == k));
            if let (true, Some(filter)) = (residual || index.multikey, &shown_filter) {
                fetch.insert("filter", filter.clone());
            }
            fetch.insert("inputStage", ixscan);
            fetch
        }
    };
    if let (Some(sort), false) = (query.sort, plan.sorted) {
        let mut sorting = doc! { "stage": "SORT", "sortPattern": sort.clone(), "memLimit": crate::query::pipeline::MEMORY_LIMIT as i64, "type": "simple" };
        if query.limit > 0 {
            sorting.insert("limitAmount", query.limit.saturating_add(query.skip));
        }
        sorting.insert("inputStage", stage);
        stage = sorting;
    } else if query.limit > 0 {
        stage = doc! { "stage": "LIMIT", "limitAmount": query.limit, "inputStage": stage };
    }
    if query.skip > 0 {
        stage = doc! { "stage": "SKIP", "skipAmount": query.skip, "inputStage": stage };
    }
    if let Some(projection) = query.projection {
        stage = doc! { "stage": "PROJECTION_DEFAULT", "transformBy": projection.clone(), "inputStage": stage };
    }
    if let Some(top) = query.top {
        stage = doc! { "stage": top, "inputStage": stage };
    }
    stage
}

/// Runs the read of an explained command and reports what it examined.
fn execution_stats(
    inv: &Invocation<'_>,
    view: &View,
    collection: &Collection,
    plan: &Plan,
    filter: &Filter,
    query: &Query<'_>,
    mut stages: Document,
) -> Result<Document> {
    let started = Instant::now();
    // Without a sort to apply first, a limit stops the read.
    let wanted = match (query.limit, query.sort.is_some() && !plan.sorted) {
        (limit, false) if limit > 0 => Some(limit.saturating_add(query.skip) as u64),
        _ => None,
    };
    let mut found = 0u64;
    let examined = exec::walk(view, collection, plan, filter, &inv.interrupt(), |_| {
        found += 1;
        Ok(wanted.is_none_or(|w| found < w))
    })?;
    let matched = examined.returned;
    let mut returned = matched.saturating_sub(query.skip.max(0) as u64);
    if query.limit > 0 {
        returned = returned.min(query.limit as u64);
    }
    if query.top == Some("COUNT") {
        returned = 0;
    }
    let millis = started.elapsed().as_millis() as i64;
    let counts = Counts {
        returned: returned as i64,
        matched: matched as i64,
        keys: examined.keys as i64,
        docs: examined.docs as i64,
        millis,
    };
    annotate(&mut stages, &counts);
    Ok(doc! {
        "executionSuccess": true,
        "nReturned": returned as i64,
        "executionTimeMillis": millis,
        "totalKeysExamined": examined.keys as i64,
        "totalDocsExamined": examined.docs as i64,
        "executionStages": stages,
    })
}

/// What running a plan counted.
struct Counts {
    /// Documents the command returns.
    returned: i64,
    /// Documents matching the filter, before skip and limit.
    matched: i64,
    keys: i64,
    docs: i64,
    millis: i64,
}

/// Adds each stage's counters: what it returned, and for scans what they examined.
fn annotate(stage: &mut Document, counts: &Counts) {
    let kind = stage.get_str("stage").unwrap_or_default().to_owned();
    let returned = match kind.as_str() {
        "IXSCAN" => counts.keys,
        "FETCH" | "COLLSCAN" | "IDHACK" | "SORT" => counts.matched,
        _ => counts.returned,
    };
    stage.insert("nReturned", returned);
    stage.insert("executionTimeMillisEstimate", counts.millis);
    stage.insert("isEOF", true);
    match kind.as_str() {
        "IXSCAN" => {
            stage.insert("keysExamined", counts.keys);
        }
        "FETCH" | "COLLSCAN" => {
            stage.insert("docsExamined", counts.docs);
        }
        "IDHACK" => {
            stage.insert("keysExamined", counts.docs);
            stage.insert("docsExamined", counts.docs);
        }
        _ => {}
    }
    if let Ok(input) = stage.get_document_mut("inputStage") {
        annotate(input, counts);
    }
}

/// A `$text` query's stages as MongoDB shows them: `TEXT_MATCH` (the search as
/// parsed) over the fetch of the text index's entries, one scan per term (several
/// under an `OR`).
fn text_stages(scan: &IndexScan, text: Option<&TextSearch>) -> Document {
    let index = &scan.index;
    let scans: Vec<Bson> = scan
        .ranges
        .iter()
        .map(|_| {
            Bson::Document(doc! {
                "stage": "IXSCAN",
                "keyPattern": index.pattern(),
                "indexName": &index.name,
                "isMultiKey": true,
                "isUnique": false,
                "isSparse": false,
                "isPartial": index.partial.is_some(),
                "indexVersion": 2,
                "direction": "backward",
                "indexBounds": {},
            })
        })
        .collect();
    let input = match scans.len() {
        0 => doc! { "stage": "EOF" },
        1 => scans.into_iter().next().and_then(|s| s.as_document().cloned()).unwrap_or_default(),
        _ => doc! { "stage": "OR", "inputStages": scans },
    };
    let strings = |set: &mut dyn Iterator<Item = &String>| set.map(|s| Bson::String(s.clone())).collect::<Vec<_>>();
    let parsed = match text {
        Some(search) => doc! {
            "terms": strings(&mut search.terms.positive.iter()),
            "negatedTerms": strings(&mut search.terms.negated.iter()),
            "phrases": strings(&mut search.terms.phrases.iter()),
            "negatedPhrases": strings(&mut search.terms.negated_phrases.iter()),
        },
        None => Document::new(),
    };
    let prefix: Document =
        scan.bounds.iter().filter(|(field, _)| *field != "_fts").map(|(k, v)| (k.clone(), v.clone())).collect();
    doc! {
        "stage": "TEXT_MATCH",
        "indexPrefix": prefix,
        "indexName": &index.name,
        "parsedTextQuery": parsed,
        "textIndexVersion": 3,
        "inputStage": { "stage": "FETCH", "inputStage": input },
    }
}
