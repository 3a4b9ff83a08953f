//! `reIndex`: drops and rebuilds every index of a collection (its `_id` index is
//! the document table itself, which has nothing to rebuild), in one write, so the
//! branch's history holds the indexes before and after and no reader sees the
//! collection without them. MongoDB 8.0 allows it on a standalone only; branchdb
//! is one node, so it runs. The rebuilt indexes are version 2 and count their uses
//! from now, as new indexes do.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::index::usage::Key as IndexKey;
use crate::store::IndexBuild;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "reIndex")?;
    args::writable(inv)?;
    let ns = args::namespace(inv, name);
    if inv.latest_view()?.collection(name)?.is_some_and(|c| c.view_on().is_some()) {
        return Err(Error::command(ErrorCode::CommandNotSupportedOnView, "can't re-index a view"));
    }
    let mut rebuilt = Vec::new();
    let (was, commit) = inv.write(|batch| {
        let Some(mut collection) = batch.collection(name)? else {
            return Err(Error::command(ErrorCode::NamespaceNotFound, "collection does not exist"));
        };
        let specs: Vec<(String, Document)> =
            collection.indexes.iter().map(|index| (index.name.clone(), index.spec.clone())).collect();
        for (index, _) in &specs {
            batch.drop_index(&collection, index);
            collection.indexes.retain(|i| &i.name != index);
        }
        let mut held = inv.context.memory.reservation();
        for (_, mut spec) in specs {
            spec.insert("v", 2);
            let build = IndexBuild { progress: &mut |_, _| {}, hold: &mut |bytes| held.grow(bytes) };
            let index = batch.create_index_reporting(&collection, spec, build)?;
            rebuilt.push(index.id);
            collection.indexes.push(index);
        }
        Ok(rebuilt.len() + 1)
    })?;
    let Some(collection) = inv.latest_view()?.collection(name)? else {
        return Err(Error::command(ErrorCode::NamespaceNotFound, format!("{ns} was dropped while re-indexing")));
    };
    for index in &rebuilt {
        inv.context.index_usage.reset(IndexKey {
            db: inv.db.db.clone(),
            branch: inv.db.branch.clone(),
            collection: collection.id,
            index: Some(*index),
        });
    }
    let indexes: Vec<Bson> = super::indexes::listed(&collection).map(|(_, spec)| Bson::Document(spec)).collect();
    let mut reply = doc! {"nIndexesWas": was as i32, "nIndexes": indexes.len() as i32, "indexes": indexes};
    if let Some(commit) = commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}
