//! Collections and databases: `create`, `drop`, `renameCollection`, `dropDatabase`,
//! `listCollections` and `listDatabases`. Collections are versioned like documents, so each branch
//! and each past point lists its own.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::namespace::DbRef;
use crate::query::{Filter, Variables};

pub fn create(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "create")?;
    args::writable(inv)?;
    if let Some(id_index) = inv.body.get("idIndex") {
        default_id_index(id_index)?;
    }
    let mut options: Document = inv
        .body
        .iter()
        .skip(1)
        .filter(|(k, _)| !super::arguments::is_generic(k) && k.as_str() != "idIndex")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // A default collation is kept in full, as MongoDB lists it; the simple
    // collation is no collation.
    if options.contains_key("collation") {
        match args::collation_on(&options, None)? {
            Some(collation) => options.insert("collation", collation.spec().clone()),
            None => options.remove("collation"),
        };
    }
    if let Some(images) = options.get(super::coll_mod::IMAGES) {
        let images = super::coll_mod::images_option("create", images)?;
        options.insert(super::coll_mod::IMAGES, images);
    }
    if options.contains_key("pipeline") && !options.contains_key("viewOn") {
        return Err(Error::command(ErrorCode::InvalidOptions, "'pipeline' requires 'viewOn' to also be specified"));
    }
    if options.contains_key("viewOn") {
        let (_, commit) = inv.write(|batch| {
            // An existing name is refused first (by `create_collection`).
            if batch.collection(name)?.is_none() {
                super::views::check_definition(batch.view(), name, &options)?;
            }
            batch.create_collection(name, options)
        })?;
        return Ok(commit.map(|c| doc! {"operationTime": c.cluster_time()}).unwrap_or_default());
    }
    check_kind(inv, name, &mut options)?;
    super::validation::check_create(&inv.db.db, name, &options)?;
    let (_, commit) = inv.write(|batch| match batch.collection(name)? {
        // MongoDB's create is idempotent: the same options again change nothing.
        Some(existing) if existing.options == options && existing.view_on().is_none() => Ok(()),
        Some(existing) if super::timeseries::is_timeseries(&options) => {
            let ns = args::namespace(inv, name);
            Err(match super::timeseries::is_timeseries(&existing.options) {
                true => super::timeseries::exists_error(&ns),
                false => Error::command(ErrorCode::NamespaceExists, format!("Collection {ns} already exists.")),
            })
        }
        Some(existing) => Err(Error::command(
            ErrorCode::NamespaceExists,
            format!(
                "namespace {} already exists, but with different options: {}",
                args::namespace(inv, name),
                crate::value::show::document(&existing.options)
            ),
        )),
        None => {
            let default_index = super::timeseries::default_index(&options);
            let collection = batch.create_collection(name, options)?;
            if let Some(spec) = default_index {
                batch.create_index(&collection, crate::index::parse(&Bson::Document(spec))?)?;
            }
            Ok(())
        }
    })?;
    Ok(commit.map(|c| doc! {"operationTime": c.cluster_time()}).unwrap_or_default())
}

/// Checks the options that make a collection of another kind (capped, clustered,
/// time series) in MongoDB's order, and writes the clustered ones as MongoDB lists
/// them; refuses the kinds not built yet.
fn check_kind(inv: &Invocation<'_>, name: &str, options: &mut Document) -> Result<()> {
    // A null is an option not given.
    for option in ["capped", "size", "max"] {
        if options.get(option) == Some(&Bson::Null) {
            options.remove(option);
        }
    }
    let capped = crate::value::truthy(options.get("capped"));
    match options.get("clusteredIndex").cloned() {
        None => {
            if capped && !options.contains_key("size") {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    "the 'size' field is required when 'capped' is true",
                ));
            }
            if !capped && (options.contains_key("size") || options.contains_key("max")) {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    "the 'capped' field needs to be true when either the 'size' or 'max' fields are present",
                ));
            }
        }
        Some(spec) => {
            let did_you_mean = "Did you mean 'capped: true' with 'expireAfterSeconds'?";
            if options.contains_key("size") {
                return Err(Error::command(
                    ErrorCode::Location6049200,
                    format!(
                        "'size' field for capped collections is not allowed on clustered collections. {did_you_mean}"
                    ),
                ));
            }
            if options.contains_key("max") {
                return Err(Error::command(
                    ErrorCode::Location6049204,
                    format!(
                        "'max' field for capped collections is not allowed on clustered collections. {did_you_mean}"
                    ),
                ));
            }
            if capped {
                return Err(Error::command(
                    ErrorCode::Location6127800,
                    "Clustered capped collection only available with 'enableTestCommands' server parameter",
                ));
            }
            match super::clustered::index_option(&spec, options, inv.body.contains_key("idIndex"))? {
                Some(normal) => options.insert("clusteredIndex", normal),
                None => options.remove("clusteredIndex"),
            };
        }
    }
    if capped && options.contains_key("timeseries") {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("{}: 'timeseries' is not allowed with 'capped'", args::namespace(inv, name)),
        ));
    }
    if let Some(seconds) = options.get("expireAfterSeconds").cloned() {
        if !options.contains_key("timeseries") && !options.contains_key("clusteredIndex") {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "'expireAfterSeconds' is only supported on time-series collections or when the 'clusteredIndex' option is specified",
            ));
        }
        options.insert("expireAfterSeconds", super::clustered::expire_after_seconds(&seconds)?);
    }
    if options.contains_key("timeseries") {
        *options = super::timeseries::options(inv, name, options)?;
    }
    if capped {
        *options = super::capped::options(options)?;
    }
    Ok(())
}

/// Accepts `idIndex` (mongorestore sends it) when it describes the `_id` index
/// every collection has: key `{_id: 1}`, name `_id_`, no collation.
fn default_id_index(spec: &Bson) -> Result<()> {
    let Bson::Document(spec) = spec else {
        return Err(Error::type_mismatch(format!(
            "BSON field 'create.idIndex' is the wrong type '{}', expected type 'object'",
            args::type_name(Some(spec))
        )));
    };
    let default_key = spec.get_document("key").is_ok_and(|key| {
        key.len() == 1
            && key.get("_id").is_some_and(|v| matches!(v, Bson::Int32(1) | Bson::Int64(1) | Bson::Double(1.0)))
    });
    let default_name = spec.get("name").is_none_or(|name| name.as_str() == Some("_id_"));
    let other = spec.keys().find(|k| !matches!(k.as_str(), "key" | "name" | "v" | "ns"));
    if default_key && default_name && other.is_none() {
        return Ok(());
    }
    Err(Error::command(
        ErrorCode::NotImplemented,
        format!("idIndex {spec} is not supported: every collection has the default _id index {{_id: 1}} named _id_"),
    ))
}

pub fn drop(inv: &Invocation<'_>) -> Result<Document> {
    if inv.body.get_str("drop") == Ok(super::system_profile::NAME) {
        return super::system_profile::drop_profile(inv);
    }
    let name = args::collection(inv, "drop")?;
    args::writable(inv)?;
    let (dropped, commit) = inv.write(|batch| batch.drop_collection(name))?;
    // MongoDB 7.0 answers ok for a collection that does not exist.
    let mut reply = if dropped {
        doc! {"nIndexesWas": 1, "ns": args::namespace(inv, name)}
    } else {
        Document::new()
    };
    if let Some(commit) = commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

/// `renameCollection` (run on `admin`): within one database and branch, a change
/// of the catalog alone.
pub fn rename(inv: &Invocation<'_>) -> Result<Document> {
    let (from_db, from) = full_namespace(inv.body, "renameCollection")?;
    let (to_db, to) = full_namespace(inv.body, "to")?;
    if from_db != to_db {
        return Err(Error::command(
            ErrorCode::IllegalOperation,
            format!("renaming across databases or branches is not supported: {from_db} to {to_db}"),
        ));
    }
    if from == to {
        return Err(Error::command(ErrorCode::IllegalOperation, "Can't rename a collection to itself"));
    }
    let target = Invocation { db: from_db, ..*inv };
    args::check_collection_name(&target, &to)?;
    args::writable(&target)?;
    let drop_target = args::boolean(inv.body, "dropTarget", false)?;
    let (_, commit) = inv.write_to(&target.db, |batch| batch.rename_collection(&from, &to, drop_target))?;
    Ok(commit.map(|c| doc! {"operationTime": c.cluster_time()}).unwrap_or_default())
}

/// A `db.collection` argument, split.
fn full_namespace(body: &Document, field: &str) -> Result<(DbRef, String)> {
    let invalid = || Error::command(ErrorCode::InvalidNamespace, format!("Invalid namespace specified for '{field}'"));
    let Some(Bson::String(ns)) = body.get(field) else {
        return Err(Error::type_mismatch(format!(
            "BSON field 'renameCollection.{field}' is the wrong type '{}', expected type 'string'",
            args::type_name(body.get(field))
        )));
    };
    let (db, collection) = ns.split_once('.').ok_or_else(invalid)?;
    let db = DbRef::parse(db).map_err(|_| invalid())?;
    Ok((db, collection.to_owned()))
}

pub fn drop_database(inv: &Invocation<'_>) -> Result<Document> {
    args::writable(inv)?;
    let (_, commit) = inv.write(|batch| batch.drop_database())?;
    if inv.db.db == "admin" && inv.db.branch == crate::namespace::MAIN_BRANCH {
        // The users and roles went with it.
        inv.context.security.changed(super::user_store::any_user_or_role(inv.context)?);
    }
    let mut reply = doc! {"dropped": inv.db.to_string()};
    if let Some(commit) = commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

pub fn list_collections(inv: &Invocation<'_>) -> Result<Document> {
    let filter = Filter::parse_without_text(
        args::document(inv.body, "filter")?.unwrap_or(&Document::new()),
        &Variables::none(),
    )?;
    let name_only = args::boolean(inv.body, "nameOnly", false)?;
    let batch_size = args::simple_cursor_batch_size(inv.body, "listCollections")?;
    let view = inv.read_view()?;
    let read_only = view.snapshot.read_only;
    let mut batch = Vec::new();
    for collection in view.collections()? {
        let timeseries = super::timeseries::is_timeseries(&collection.options);
        let info = match collection.view_on() {
            None if timeseries => doc! {
                "name": &collection.name,
                "type": "timeseries",
                "options": collection.options.clone(),
                "info": {"readOnly": read_only},
            },
            Some(_) => doc! {
                "name": &collection.name,
                "type": "view",
                "options": collection.options.clone(),
                "info": {"readOnly": true},
            },
            None => doc! {
            "name": &collection.name,
            "type": "collection",
            "options": collection.options.clone(),
            "info": {"readOnly": read_only},
            "idIndex": super::indexes::id_index(&collection),
            },
        };
        let mut info = info;
        if super::clustered::is_clustered(&collection) {
            info.remove("idIndex");
        }
        if filter.matches(&info) {
            let kind = info.get_str("type").unwrap_or("collection").to_owned();
            batch.push(if name_only {
                doc! {"name": collection.name, "type": kind}
            } else {
                info
            });
        }
    }
    inv.reply_with_ready_cursor(&view, format!("{}.$cmd.listCollections", inv.db), batch, batch_size)
}

pub fn list_databases(inv: &Invocation<'_>) -> Result<Document> {
    let filter = Filter::parse_without_text(
        args::document(inv.body, "filter")?.unwrap_or(&Document::new()),
        &Variables::none(),
    )?;
    let name_only = args::boolean(inv.body, "nameOnly", false)?;
    let store = &inv.context.store;
    let limit = super::authorize::listing_limit(inv);
    let visible = |db: &str, branch: &str| limit.as_ref().is_none_or(|grants| grants.touch(db, branch));
    let mut databases = Vec::new();
    for branch in store.all_branches().into_iter().filter(|b| visible(&b.db, &b.name)) {
        let target = crate::namespace::DbRef { db: branch.db.clone(), branch: branch.name.clone(), point: None };
        // A branch dropped or created meanwhile is left out, not an error.
        let Ok(view) = inv.view_of(&target) else { continue };
        let collections = view.collections()?.len();
        // A main with no collections is a database that was dropped; other branches
        // are listed as long as they exist.
        if collections == 0 && branch.name == crate::namespace::MAIN_BRANCH {
            continue;
        }
        // Sizes are measured by walking the branch's documents and index entries, as
        // dbStats does (the store keeps no running totals); nameOnly skips the walk.
        let size = if name_only { 0 } else { super::coll_stats::total_size(inv, &view)? };
        let info = doc! {"name": target.to_string(), "sizeOnDisk": size as i64, "empty": collections == 0};
        if filter.matches(&info) {
            databases.push(Bson::Document(if name_only {
                doc! {"name": target.to_string()}
            } else {
                info
            }));
        }
    }
    if name_only {
        return Ok(doc! {"databases": databases});
    }
    let total: i64 = databases.iter().filter_map(|d| d.as_document()?.get_i64("sizeOnDisk").ok()).sum();
    Ok(doc! {"databases": databases, "totalSize": total, "totalSizeMb": total / (1024 * 1024)})
}
