//! Views: read-only collections whose documents are a pipeline run over another
//! collection or view of the same database. A view is a catalog entry like a
//! collection (options `viewOn` and `pipeline`), so each branch and point has its
//! own; reading one runs its pipeline, and every command that writes refuses it.

use bson::{Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::query::pipeline::Pipeline;
use crate::query::Variables;
use crate::store::{Collection, View};

/// How deep views may stand on views, as MongoDB allows.
pub const MAX_DEPTH: usize = 20;

/// A view resolved to the collection it finally reads and the whole pipeline that
/// makes its documents from that collection's (the innermost view's stages first).
pub struct Resolved {
    /// The collection underneath, by name (it need not exist).
    pub source: String,
    pub pipeline: Vec<Bson>,
}

/// Resolves the view `entry` of `view`'s catalog.
pub fn resolve(view: &View, entry: &Collection) -> Result<Resolved> {
    let mut pipeline = stages(entry);
    let mut on = entry.view_on().unwrap_or_default().to_owned();
    let mut depth = 1;
    while let Some(next) = view.collection(&on)?.filter(|c| c.view_on().is_some()) {
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let mut outer = stages(&next);
        outer.append(&mut pipeline);
        pipeline = outer;
        on = next.view_on().unwrap_or_default().to_owned();
    }
    Ok(Resolved { source: on, pipeline })
}

/// Views stand deeper than [`MAX_DEPTH`] (165).
pub fn too_deep() -> Error {
    Error::command(
        ErrorCode::ViewDepthLimitExceeded,
        format!("View depth too deep or view cycle detected. Maximum depth is {MAX_DEPTH}"),
    )
}

/// The stages of a view's own definition.
fn stages(entry: &Collection) -> Vec<Bson> {
    entry.options.get_array("pipeline").cloned().unwrap_or_default()
}

/// The error a write command gets on a view.
pub fn not_a_collection(inv: &Invocation<'_>, name: &str) -> Error {
    Error::command(
        ErrorCode::CommandNotSupportedOnView,
        format!("Namespace {} is a view, not a collection", args::namespace(inv, name)),
    )
}

/// Refuses a write command on `name` when it is a view of the addressed branch;
/// else the collection, when it exists.
pub fn refuse(inv: &Invocation<'_>, view: &View, name: &str) -> Result<Option<Collection>> {
    match view.collection(name)? {
        Some(entry) if entry.view_on().is_some() => Err(not_a_collection(inv, name)),
        entry => Ok(entry),
    }
}

/// The options of a view to create, checked: `viewOn` (a collection name of this
/// database) and `pipeline` (an array of stages a view may hold), and no option
/// of a collection.
pub fn check_definition(view: &View, name: &str, options: &Document) -> Result<()> {
    let view_on = match options.get("viewOn") {
        Some(Bson::String(on)) => on.as_str(),
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'create.viewOn' is the wrong type '{}', expected type 'string'",
                args::type_name(other)
            )))
        }
    };
    if view_on.is_empty() {
        return Err(Error::bad_value("'viewOn' cannot be empty"));
    }
    if let Some(option) = options.keys().find(|k| !matches!(k.as_str(), "viewOn" | "pipeline" | "collation")) {
        return Err(Error::command(ErrorCode::InvalidOptions, format!("option not supported on a view: {option}")));
    }
    // Dispatch refuses a collation other than simple, which `create` does not keep.
    let pipeline = pipeline_option(options.get("pipeline"), "create")?;
    check_pipeline(&pipeline)?;
    Pipeline::parse(&pipeline, &Variables::none())?;
    check_graph(view, name, view_on, &pipeline)
}

/// A view's `pipeline` option: an array of documents (none: an empty pipeline).
pub fn pipeline_option(spec: Option<&Bson>, command: &str) -> Result<Vec<Bson>> {
    match spec {
        None => Ok(Vec::new()),
        Some(Bson::Array(stages)) => {
            for stage in stages {
                if !matches!(stage, Bson::Document(_)) {
                    return Err(Error::type_mismatch(format!(
                        "BSON field '{command}.pipeline' is the wrong type '{}', expected type 'object'",
                        args::type_name(Some(stage))
                    )));
                }
            }
            Ok(stages.clone())
        }
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field '{command}.pipeline' is the wrong type '{}', expected type 'array'",
            args::type_name(Some(other))
        ))),
    }
}

/// Refuses the stages a view's pipeline may not hold: those that write, and a
/// change stream.
fn check_pipeline(pipeline: &[Bson]) -> Result<()> {
    for stage in pipeline {
        let Some((name, argument)) = stage.as_document().and_then(|d| d.iter().next()) else { continue };
        match name.as_str() {
            "$out" | "$merge" => {
                return Err(Error::command(
                    ErrorCode::OptionNotSupportedOnView,
                    format!("{name} cannot be used in a view definition"),
                ))
            }
            "$changeStream" => {
                return Err(Error::command(
                    ErrorCode::OptionNotSupportedOnView,
                    "$changeStream cannot be used in a view definition",
                ))
            }
            "$facet" => {
                if let Bson::Document(facets) = argument {
                    for sub in facets.values() {
                        if let Bson::Array(sub) = sub {
                            check_pipeline(sub)?;
                        }
                    }
                }
            }
            "$lookup" => {
                if let Some(Bson::Array(sub)) = argument.as_document().and_then(|d| d.get("pipeline")) {
                    check_pipeline(sub)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The namespaces a pipeline reads besides its input: `$lookup`'s `from`, within
/// sub-pipelines too.
fn referenced(pipeline: &[Bson], into: &mut Vec<String>) {
    for stage in pipeline {
        let Some((name, argument)) = stage.as_document().and_then(|d| d.iter().next()) else { continue };
        match (name.as_str(), argument) {
            ("$lookup", Bson::Document(spec)) => {
                if let Ok(from) = spec.get_str("from") {
                    into.push(from.to_owned());
                }
                if let Ok(sub) = spec.get_array("pipeline") {
                    referenced(sub, into);
                }
            }
            ("$facet", Bson::Document(facets)) => {
                for sub in facets.values() {
                    if let Bson::Array(sub) = sub {
                        referenced(sub, into);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Refuses a definition of view `name` (reading `view_on` and the namespaces its
/// pipeline looks up) that would make views read themselves (93) or stand deeper
/// than [`MAX_DEPTH`] (165).
pub fn check_graph(view: &View, name: &str, view_on: &str, pipeline: &[Bson]) -> Result<()> {
    let mut first = vec![view_on.to_owned()];
    referenced(pipeline, &mut first);
    // Depth-first over the views each namespace reads, with the path that led
    // there, so a cycle is reported with its members.
    let mut stack: Vec<(String, Vec<String>)> = first.into_iter().map(|next| (next, vec![name.to_owned()])).collect();
    while let Some((current, path)) = stack.pop() {
        if current == name {
            let mut cycle = path.clone();
            cycle.push(current);
            return Err(Error::command(
                ErrorCode::GraphContainsCycle,
                format!("View cycle detected: [ {} ]", cycle.join(" => ")),
            ));
        }
        if path.len() >= MAX_DEPTH {
            return Err(too_deep());
        }
        let Some(entry) = view.collection(&current)? else { continue };
        let Some(on) = entry.view_on() else { continue };
        let mut next = vec![on.to_owned()];
        referenced(&stages(&entry), &mut next);
        let mut path = path;
        path.push(current);
        for namespace in next {
            stack.push((namespace, path.clone()));
        }
    }
    Ok(())
}

/// `collMod` of a view: `viewOn` and `pipeline` replace the definition, both
/// given; any other option is refused.
pub fn modify(inv: &Invocation<'_>, view: &View, entry: &Collection) -> Result<Document> {
    let body = inv.body;
    if let Some(option) =
        body.keys().skip(1).find(|k| !super::arguments::is_generic(k) && !matches!(k.as_str(), "viewOn" | "pipeline"))
    {
        return Err(Error::command(ErrorCode::InvalidOptions, format!("option not supported on a view: {option}")));
    }
    let (Some(view_on), Some(pipeline)) = (body.get("viewOn"), body.get("pipeline")) else {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "Must specify both 'viewOn' and 'pipeline' when modifying a view and auth is enabled",
        ));
    };
    let Bson::String(view_on) = view_on else {
        return Err(Error::type_mismatch(format!(
            "BSON field 'collMod.viewOn' is the wrong type '{}', expected type 'string'",
            args::type_name(Some(view_on))
        )));
    };
    if view_on.is_empty() {
        return Err(Error::bad_value("'viewOn' cannot be empty"));
    }
    let pipeline = pipeline_option(Some(pipeline), "collMod")?;
    check_pipeline(&pipeline)?;
    Pipeline::parse(&pipeline, &Variables::none())?;
    check_graph(view, &entry.name, view_on, &pipeline)?;
    let mut options = entry.options.clone();
    options.insert("viewOn", view_on.clone());
    options.insert("pipeline", pipeline);
    Ok(options)
}

/// `find` on a view: the aggregation MongoDB turns it into (the view's pipeline,
/// then `$match`, `$sort`, `$skip`, `$limit` and `$project` from the command),
/// answered with a cursor on the view's namespace.
pub fn find(inv: &Invocation<'_>, name: &str) -> Result<Document> {
    let body = inv.body;
    let mut pipeline = Vec::new();
    let mut stage = |name: &str, value: Bson| pipeline.push(Bson::Document(bson::doc! {name: value}));
    if let Some(filter) = args::document(body, "filter")?.filter(|f| !f.is_empty()) {
        stage("$match", Bson::Document(filter.clone()));
    }
    if let Some(sort) = args::document(body, "sort")?.filter(|s| !s.is_empty()) {
        stage("$sort", Bson::Document(sort.clone()));
    }
    if let Some(skip) = args::integer(body, "skip")?.filter(|&n| n > 0) {
        stage("$skip", Bson::Int64(skip));
    }
    if let Some(limit) = args::integer(body, "limit")?.filter(|&n| n > 0) {
        stage("$limit", Bson::Int64(limit));
    }
    if let Some(projection) = args::document(body, "projection")?.filter(|p| !p.is_empty()) {
        stage("$project", Bson::Document(projection.clone()));
    }
    let mut cursor = Document::new();
    if let Some(size) = body.get("batchSize") {
        cursor.insert("batchSize", size.clone());
    }
    let mut aggregate = bson::doc! {"aggregate": name, "pipeline": pipeline, "cursor": cursor};
    const FIND_ONLY: &[&str] =
        &["find", "filter", "sort", "skip", "limit", "projection", "batchSize", "singleBatch", "noCursorTimeout"];
    for (key, value) in body.iter().filter(|(k, _)| !FIND_ONLY.contains(&k.as_str())) {
        aggregate.insert(key.clone(), value.clone());
    }
    let mut reply = super::aggregate::run(&Invocation { body: &aggregate, db: inv.db.clone(), ..*inv })?;
    if args::boolean(body, "singleBatch", false)? {
        super::find::close_in_reply(inv, &mut reply);
    }
    Ok(reply)
}
