//! `collMod`: changes a collection's options, as a new version of its catalog entry
//! (so each branch and point has its own). Of MongoDB's options it takes
//! `changeStreamPreAndPostImages`, the validation options (`validation.rs`), a
//! capped collection's `cappedSize` and `cappedMax` (`capped.rs`), a view's
//! definition (`views.rs`) and an index's options (`coll_mod_index.rs`); the others
//! are refused (`arguments/crud.rs`) until the features they configure exist.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};

/// The option change streams read: pre- and post-images are on unless a collection
/// says `{enabled: false}`.
pub const IMAGES: &str = "changeStreamPreAndPostImages";

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "collMod")?;
    args::writable(inv)?;
    let images = inv.body.get(IMAGES).map(|spec| images_option("collMod", spec)).transpose()?;
    let dry_run = args::boolean(inv.body, "dryRun", false)?;
    let others =
        inv.body.keys().skip(1).any(|k| !super::arguments::is_generic(k) && !matches!(k.as_str(), "index" | "dryRun"));
    if dry_run && (others || !inv.body.contains_key("index")) {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "dryRun is only supported for converting an index to unique, with no other modification",
        ));
    }
    let (changed, commit) = inv.write(|batch| {
        let Some(collection) = batch.collection(name)? else {
            return Err(Error::command(ErrorCode::NamespaceNotFound, format!("ns does not exist: {}.{name}", inv.db)));
        };
        if collection.view_on().is_some() {
            let options = super::views::modify(inv, batch.view(), &collection)?;
            return batch.modify_collection(name, options).map(|_| Document::new());
        }
        if let Some(option) = ["viewOn", "pipeline"].into_iter().find(|o| inv.body.contains_key(*o)) {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                format!("option only supported on a view: {option}"),
            ));
        }
        super::timeseries::check_modify(inv.body, &collection)?;
        let changed = match inv.body.get("index") {
            Some(spec) => super::coll_mod_index::modify(inv, batch, &collection, spec, dry_run)?,
            None => Document::new(),
        };
        let mut options = collection.options.clone();
        if let Some(images) = &images {
            options.insert(IMAGES, images.clone());
        }
        super::validation::modify(&inv.db.db, name, inv.body, &mut options)?;
        super::capped::modify(inv.body, &collection, &mut options)?;
        super::timeseries::modify(inv.body, &collection, &mut options)?;
        if options != collection.options || !inv.body.contains_key("index") {
            batch.modify_collection(name, options)?;
        }
        Ok(changed)
    })?;
    let mut reply = changed;
    if let Some(commit) = commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

/// Checks a `changeStreamPreAndPostImages` option of `command` (`create`, `collMod`):
/// `{enabled: <bool>}`, nothing else.
pub fn images_option(command: &str, spec: &Bson) -> Result<Document> {
    let field = format!("{command}.{IMAGES}");
    let Bson::Document(spec) = spec else {
        return Err(Error::type_mismatch(format!(
            "BSON field '{field}' is the wrong type '{}', expected type 'object'",
            args::type_name(Some(spec))
        )));
    };
    if let Some(unknown) = spec.keys().find(|k| k.as_str() != "enabled") {
        return Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field '{field}.{unknown}' is an unknown field."),
        ));
    }
    match spec.get("enabled") {
        Some(Bson::Boolean(enabled)) => Ok(doc! {"enabled": *enabled}),
        None => Err(Error::command(
            ErrorCode::Location40414,
            format!("BSON field '{field}.enabled' is missing but a required field"),
        )),
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field '{field}.enabled' is the wrong type '{}', expected type 'bool'",
            args::type_name(Some(other))
        ))),
    }
}
