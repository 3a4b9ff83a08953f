//! `mapReduce`, as MongoDB 8.0 runs it: the documents `query`, `sort` and `limit`
//! select go through `map` (with `this` the document), whose `emit(key, value)`
//! calls are grouped by key; `reduce(key, values)` runs for every key (MongoDB 8.0
//! calls it for a single value too, with the values latest first), `finalize(key,
//! value)` after it when given. The results are `{_id: key, value}`, in key order,
//! returned inline or written to a collection of the same database and branch
//! (`replace` as `$out` does, `merge` and `reduce` by `_id` as `$merge` does).
//! A `collation` applies to the query and to the grouping of keys, as in MongoDB.
//! The functions run in one JavaScript scope (`src/js`), with `scope`'s fields as
//! globals.

use std::collections::BTreeMap;

use bson::{doc, Bson, Document};

use super::{aggregate, args, Invocation};
use crate::auth::privileges::{Action, Actions, Grants, Target};
use crate::error::{Error, ErrorCode, Result};
use crate::js::Scope;
use crate::query::pipeline::Output;
use crate::value::order::GroupKey;
use crate::value::size::value_footprint;

/// What the map function's `emit` keeps until the host takes it.
const EMIT: &str = r#"
Object.defineProperty(globalThis, "__branchdbEmits", { value: [], enumerable: false });
globalThis.emit = function (key, value) {
  if (arguments.length !== 2) throw new Error("emit takes 2 args");
  __branchdbEmits.push([key === undefined ? null : key, value]);
};
"#;

/// Takes what `emit` kept: an array of `[key, value]` pairs.
const TAKE_EMITS: &str = "function () { return __branchdbEmits.splice(0, __branchdbEmits.length); }";

/// The most the emitted values may hold at once (MongoDB's `$group` limit: mapReduce
/// runs as one there).
const MAX_EMITTED_BYTES: usize = 100 << 20;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection_to_read(inv, "mapReduce")?;
    let request = Request::parse(inv.body)?;
    if let Out::Collection { coll, db, .. } = &request.out {
        if let Some(db) = db {
            if crate::namespace::DbRef::parse(db).ok().as_ref() != Some(&inv.db) {
                return Err(Error::command(
                    ErrorCode::IllegalOperation,
                    format!(
                        "mapReduce cannot write to database '{db}': it writes only into the database and branch it reads, '{}'",
                        inv.db
                    ),
                ));
            }
        }
        args::check_collection_name(inv, coll)?;
        args::writable(inv)?;
    }
    let (view, _) = inv.read_view_at()?;
    let source = view.collection(name)?;
    if source.as_ref().is_some_and(|c| c.view_on().is_some()) {
        return Err(Error::command(ErrorCode::CommandNotSupportedOnView, "mapReduce on a view is not supported"));
    }
    let mut stages = Vec::new();
    if let Some(query) = &request.query {
        stages.push(Bson::Document(doc! {"$match": query.clone()}));
    }
    if let Some(sort) = &request.sort {
        stages.push(Bson::Document(doc! {"$sort": sort.clone()}));
    }
    if let Some(limit) = request.limit {
        stages.push(Bson::Document(doc! {"$limit": limit}));
    }
    let collation = args::collation_on(inv.body, source.as_ref())?;
    let docs = aggregate::collection_documents(inv, &view, source.as_ref(), &stages, collation.as_ref())?;

    let scope = Scope::new();
    scope.run_script(EMIT)?;
    if let Some(globals) = &request.scope {
        scope.set_globals(globals)?;
    }
    let mut groups: BTreeMap<GroupKey, Vec<Bson>> = BTreeMap::new();
    let mut held = 0;
    for (at, doc) in docs.iter().enumerate() {
        if at % 1024 == 1023 {
            inv.check_deadline()?;
        }
        scope.call(&request.map, Some(doc), &[])?;
        let Some(Bson::Array(emitted)) = scope.call(TAKE_EMITS, None, &[])? else { continue };
        for pair in emitted {
            let Bson::Array(mut pair) = pair else { continue };
            let (Some(value), Some(key)) = (pair.pop(), pair.pop()) else { continue };
            held += value_footprint(&key) + value_footprint(&value);
            if held > MAX_EMITTED_BYTES {
                return Err(Error::command(
                    ErrorCode::ExceededMemoryLimit,
                    format!("mapReduce's emitted values exceed {MAX_EMITTED_BYTES} bytes"),
                ));
            }
            groups.entry(GroupKey(key, collation.clone())).or_default().push(value);
        }
    }
    drop(docs);

    let mut results = Vec::with_capacity(groups.len());
    for (GroupKey(key, _), mut values) in groups {
        values.reverse();
        let reduced = call(&scope, &request.reduce, vec![key.clone(), Bson::Array(values)])?;
        let value = match &request.finalize {
            Some(finalize) => call(&scope, finalize, vec![key.clone(), reduced])?,
            None => reduced,
        };
        results.push(doc! {"_id": key, "value": value});
    }

    let Out::Collection { mode, coll, db } = &request.out else {
        return Ok(doc! {"results": results});
    };
    if *mode == Mode::Reduce {
        // A key the target already holds is reduced with its value there.
        let target = view.collection(coll)?;
        for result in &mut results {
            let key = result.get("_id").cloned().unwrap_or(Bson::Null);
            let Some(existing) = target.as_ref().map(|c| view.get(c.id, &key)).transpose()?.flatten() else {
                continue;
            };
            let old = existing.get("value").cloned().unwrap_or(Bson::Null);
            let new = result.get("value").cloned().unwrap_or(Bson::Null);
            let mut value = call(&scope, &request.reduce, vec![key.clone(), Bson::Array(vec![old, new])])?;
            if let Some(finalize) = &request.finalize {
                value = call(&scope, finalize, vec![key.clone(), value])?;
            }
            result.insert("value", value);
        }
    }
    let stage = match mode {
        Mode::Replace => doc! {"$out": coll.as_str()},
        _ => {
            doc! {"$merge": {"into": coll.as_str(), "on": "_id", "whenMatched": "replace", "whenNotMatched": "insert"}}
        }
    };
    let (name, argument) = stage.into_iter().next().expect("one stage");
    let output = Output::parse(&name, &argument)?.expect("an output stage");
    super::output::write(inv, &output, results)?;
    Ok(match db {
        Some(db) => doc! {"result": {"db": db.as_str(), "collection": coll.as_str()}},
        None => doc! {"result": coll.as_str()},
    })
}

/// The rights mapReduce needs: `find` on its collection; to write a collection,
/// `insert` and `remove` on it (and `update` to merge or reduce into it), as MongoDB
/// asks (branchdb's roles have no separate `bypassDocumentValidation` action).
pub fn authorize(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let name = args::collection_to_read(inv, "mapReduce")?;
    let collection = |name| Target::Collection { db: &inv.db.db, branch: &inv.db.branch, collection: Some(name) };
    super::authorize::require(inv, grants, &collection(name), Actions::of(&[Action::Find]))?;
    if let Ok(Request { out: Out::Collection { mode, coll, .. }, .. }) = Request::parse(inv.body) {
        let mut actions = vec![Action::Insert, Action::Remove];
        if mode != Mode::Replace {
            actions.push(Action::Update);
        }
        super::authorize::require(inv, grants, &collection(&coll), Actions::of(&actions))?;
    }
    Ok(())
}

/// A function's result; `undefined` is kept as BSON's undefined.
fn call(scope: &Scope, source: &str, args: Vec<Bson>) -> Result<Bson> {
    Ok(scope.call(source, None, &args)?.unwrap_or(Bson::Undefined))
}

/// The command's arguments, checked as MongoDB checks them.
struct Request {
    map: String,
    reduce: String,
    finalize: Option<String>,
    out: Out,
    query: Option<Document>,
    sort: Option<Document>,
    limit: Option<i64>,
    scope: Option<Document>,
}

/// Where the results go.
enum Out {
    Inline,
    Collection { mode: Mode, coll: String, db: Option<String> },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Replace,
    Merge,
    Reduce,
}

impl Request {
    fn parse(body: &Document) -> Result<Request> {
        let required = |field: &str| {
            body.get(field).ok_or_else(|| {
                Error::command(
                    ErrorCode::Location40414,
                    format!("BSON field 'mapReduce.{field}' is missing but a required field"),
                )
            })
        };
        let map = code(required("map")?, "map")?;
        let reduce = code(required("reduce")?, "reduce")?;
        let out = Out::parse(required("out")?)?;
        let finalize = match body.get("finalize") {
            None | Some(Bson::Null) => None,
            Some(value) => Some(code(value, "finalize")?),
        };
        let object = |field: &str| match body.get(field) {
            None => Ok(None),
            Some(Bson::Document(doc)) => Ok(Some(doc.clone())),
            Some(other) => Err(Error::type_mismatch(format!(
                "BSON field 'mapReduce.{field}' is the wrong type '{}', expected type 'object'",
                args::type_name(Some(other))
            ))),
        };
        let query = object("query")?;
        let sort = object("sort")?;
        object("collation")?;
        for field in ["verbose", "jsMode", "bypassDocumentValidation"] {
            args::boolean(body, field, false).map_err(|_| {
                Error::type_mismatch(format!(
                    "BSON field 'mapReduce.{field}' is the wrong type '{}', expected type 'bool'",
                    args::type_name(body.get(field))
                ))
            })?;
        }
        let limit = match body.get("limit") {
            None => None,
            Some(value) => Some(crate::index::whole_number(value).ok_or_else(|| {
                Error::type_mismatch(format!(
                    "BSON field 'mapReduce.limit' is the wrong type '{}', expected types '[long, int, decimal, double]'",
                    args::type_name(Some(value))
                ))
            })?),
        };
        let scope = match body.get("scope") {
            None | Some(Bson::Null) => None,
            Some(Bson::Document(scope)) => Some(scope.clone()),
            Some(_) => return Err(Error::bad_value("'scope' must be an object")),
        };
        if sort.as_ref().is_some_and(Document::is_empty) {
            return Err(Error::command(
                ErrorCode::Location15976,
                "The mapReduce sort option must have at least one sort key",
            ));
        }
        if limit.is_some_and(|n| n <= 0) {
            return Err(Error::command(ErrorCode::Location15958, "The limit specified to mapReduce must be positive"));
        }
        Ok(Request { map, reduce, finalize, out, query, sort, limit, scope })
    }
}

/// A function argument: a string or code (not code with scope).
fn code(value: &Bson, field: &str) -> Result<String> {
    match value {
        Bson::String(source) | Bson::JavaScriptCode(source) => Ok(source.clone()),
        _ => Err(Error::bad_value(format!("'{field}' must be of string or code type"))),
    }
}

impl Out {
    /// `out`: a collection name, `{inline: 1}`, or `{replace | merge | reduce: name,
    /// db, sharded, nonAtomic}`.
    fn parse(value: &Bson) -> Result<Out> {
        let spec = match value {
            Bson::String(coll) => return Ok(Out::Collection { mode: Mode::Replace, coll: coll.clone(), db: None }),
            Bson::Document(spec) => spec,
            _ => return Err(Error::bad_value("'out' must be either a string or an object")),
        };
        if let Some(inline) = spec.get("inline") {
            if spec.len() != 1 {
                return Err(Error::command(ErrorCode::InvalidOptions, "'inline' must be specified alone"));
            }
            if crate::query::expr::Num::of(Some(inline)).map(|n| n.to_f64()) != Some(1.0) {
                return Err(Error::bad_value("'inline' takes only numeric '1'"));
            }
            return Ok(Out::Inline);
        }
        let (mut target, mut db) = (None, None);
        for (field, value) in spec {
            let mode =
                match field.as_str() {
                    "replace" => Mode::Replace,
                    "merge" => Mode::Merge,
                    "reduce" => Mode::Reduce,
                    "db" => {
                        let Bson::String(name) = value else {
                            return Err(Error::bad_value("db field value must be string"));
                        };
                        db = Some(name.clone());
                        continue;
                    }
                    "sharded" => match value {
                        Bson::Boolean(true) => continue,
                        _ => return Err(Error::bad_value("sharded field value must be true")),
                    },
                    "nonAtomic" => match value {
                        Bson::Boolean(true) => continue,
                        _ => return Err(Error::bad_value("nonAtomic field value must be true")),
                    },
                    _ => return Err(Error::bad_value(
                        "'out' supports only output type with collection name, optional 'sharded' and optional 'db'",
                    )),
                };
            if target.is_some() {
                return Err(Error::bad_value(
                    "'out' supports only output type with collection name, optional 'sharded' and optional 'db'",
                ));
            }
            let Bson::String(coll) = value else {
                return Err(Error::bad_value(format!(
                    "'{field}' supports only string consisting of output collection name"
                )));
            };
            target = Some((mode, coll.clone()));
        }
        let Some((mode, coll)) = target else {
            return Err(Error::bad_value("'out' requires 'replace', 'merge' or 'reduce'"));
        };
        Ok(Out::Collection { mode, coll, db })
    }
}
