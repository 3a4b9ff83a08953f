//! Writing an aggregation's results for its final `$out` or `$merge` stage, into the
//! branch the aggregate reads. Results are logged up to `SPLIT_BYTES` per record.
//!
//! `$out` fills a temporary collection, then renames it over the target in its last
//! record, so readers see the old target or the new one, never a half-written one;
//! on failure the temporary collection is dropped and the target is untouched.
//! `$merge` writes result by result; like MongoDB's, it stops at the first error and
//! keeps what it wrote before.

use bson::{oid::ObjectId, Bson, Document};

use super::insert;
use super::validation::Validation;
use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::namespace::DbRef;
use crate::query::pipeline::{Merge, Output};
use crate::store::{Batch, Commit, PutKind};
use crate::wal::SPLIT_BYTES;

/// Checks, before the pipeline runs, that `output` may write: its target is a valid
/// collection of the database and branch the aggregate addresses, that branch is
/// writable, and the read concern is not `linearizable`.
pub fn check(inv: &Invocation<'_>, output: &Output) -> Result<()> {
    let stage = output.stage_name();
    let level = inv.body.get_document("readConcern").ok().and_then(|c| c.get_str("level").ok());
    if level == Some("linearizable") {
        let message = format!("{stage} cannot be used with a 'linearizable' read concern level");
        return Err(Error::command(ErrorCode::InvalidOptions, message));
    }
    let target = output.target();
    if let Some(db) = &target.db {
        let named = DbRef::parse(db).map_err(|_| {
            let message = format!("Invalid {stage} target namespace, {db}.{}", target.coll);
            Error::command(ErrorCode::InvalidNamespace, message)
        })?;
        if named != inv.db {
            let message = format!(
                "{stage} cannot write to database '{db}': it writes only into the database and branch the aggregate reads, '{}'",
                inv.db
            );
            return Err(Error::command(ErrorCode::IllegalOperation, message));
        }
    }
    args::check_collection_name(inv, &target.coll)?;
    args::writable(inv)
}

/// Writes `results` as `output` says; returns the last write's commit.
pub fn write(inv: &Invocation<'_>, output: &Output, results: Vec<Document>) -> Result<Option<Commit>> {
    match output {
        Output::Out(target) => replace(inv, &target.coll, results),
        Output::Merge(merge) => merge_into(inv, merge, results),
    }
}

/// `$out`: the results become collection `target`, with its options and indexes if
/// it exists (a result breaking a unique index fails the stage, leaving `target`
/// as it was).
fn replace(inv: &Invocation<'_>, target: &str, results: Vec<Document>) -> Result<Option<Commit>> {
    let validation = Validation::of(inv.body);
    let temp = format!("tmp.agg_out.{}", ObjectId::new().to_hex());
    let temp_ns = args::namespace(inv, &temp);
    let mut results = results.into_iter().peekable();
    let mut first = true;
    let mut last = None;
    loop {
        let outcome = inv.check_deadline().and_then(|()| {
            inv.write(|batch| {
                let collection = match batch.collection(&temp)? {
                    Some(collection) => collection,
                    None if first => {
                        let existing = batch.collection(target)?;
                        let options = existing.as_ref().map(|c| c.options.clone()).unwrap_or_default();
                        let mut collection = batch.create_collection(&temp, options)?;
                        for index in existing.iter().flat_map(|c| &c.indexes) {
                            let copy = batch.create_index(&collection, index.spec.clone())?;
                            collection.indexes.push(copy);
                        }
                        collection
                    }
                    None => return Err(Error::command(ErrorCode::NamespaceNotFound, format!("{temp_ns} was dropped"))),
                };
                let mut bytes = 0;
                while bytes < SPLIT_BYTES {
                    let Some(result) = results.next() else { break };
                    let (doc, size) = insert::prepare(&result)?;
                    let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
                    if batch.contains(&collection, &id)? {
                        return Err(Error::duplicate_id(&temp_ns, &id));
                    }
                    validation.check(&collection, None, &doc)?;
                    batch.put(&collection, PutKind::Insert, doc)?;
                    bytes += size;
                }
                let done = results.peek().is_none();
                if done {
                    batch.rename_collection(&temp, target, true)?;
                }
                Ok(done)
            })
        });
        first = false;
        match outcome {
            Ok((done, commit)) => {
                last = commit.or(last);
                if done {
                    return Ok(last);
                }
            }
            Err(err) => {
                // Best effort: a failure to drop leaves an unused temporary collection.
                let _ = inv.write(|batch| batch.drop_collection(&temp));
                return Err(err);
            }
        }
    }
}

/// `$merge`: each result is matched by `_id` with the target collection and written
/// as `merge` decides. The first error ends the stage, after what came before it is
/// committed.
fn merge_into(inv: &Invocation<'_>, merge: &Merge, results: Vec<Document>) -> Result<Option<Commit>> {
    let validation = Validation::of(inv.body);
    let name = merge.into.coll.as_str();
    let ns = args::namespace(inv, name);
    let mut last = None;
    let mut next = 0;
    while next < results.len() {
        inv.check_deadline()?;
        let ((end, failure), commit) = inv.write(|batch| {
            let mut bytes = 0;
            for (index, result) in results.iter().enumerate().skip(next) {
                if bytes >= SPLIT_BYTES {
                    return Ok((index, None));
                }
                match merge_one(batch, merge, name, &ns, result, &validation) {
                    Ok(size) => bytes += size,
                    Err(err) => return Ok((index, Some(err))),
                }
            }
            Ok((results.len(), None))
        })?;
        last = commit.or(last);
        if let Some(err) = failure {
            return Err(err);
        }
        next = end;
    }
    Ok(last)
}

/// Merges one result into collection `name`; returns the size it wrote.
fn merge_one(
    batch: &mut Batch<'_>,
    merge: &Merge,
    name: &str,
    ns: &str,
    result: &Document,
    validation: &Validation,
) -> Result<usize> {
    merge.check_id(result)?;
    let (result, _) = insert::prepare(result)?;
    let id = result.get("_id").cloned().unwrap_or(Bson::Null);
    let existing = match batch.collection(name)? {
        Some(collection) => batch.held(&collection, &id)?,
        None => None,
    };
    let Some(written) = merge.resolve(ns, result, existing.as_ref())? else { return Ok(0) };
    let size = insert::check_size(&written)?;
    let collection = batch.collection_or_create(name)?;
    let kind = if existing.is_some() { PutKind::Replace } else { PutKind::Insert };
    validation.check(&collection, existing.as_ref(), &written)?;
    batch.put(&collection, kind, written)?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bson::{doc, Document};

    use crate::context::{ConnectionInfo, Context};

    fn call(shared: &Arc<Context>, body: Document) -> Document {
        super::super::run(&body, &ConnectionInfo::for_tests(1), shared)
    }

    fn aggregate(shared: &Arc<Context>, db: &str, pipeline: Vec<Document>) -> Document {
        call(shared, doc! {"aggregate": "src", "pipeline": pipeline, "cursor": {}, "$db": db})
    }

    /// The documents of `coll` in `db`, in `_id` order.
    fn find(shared: &Arc<Context>, db: &str, coll: &str) -> Vec<Document> {
        let reply = call(shared, doc! {"find": coll, "batchSize": 100_000, "$db": db});
        let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
        batch.iter().map(|d| d.as_document().expect("a document").clone()).collect()
    }

    fn collections(shared: &Arc<Context>, db: &str) -> Vec<String> {
        let reply = call(shared, doc! {"listCollections": 1, "nameOnly": true, "$db": db});
        let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
        let mut names: Vec<String> = batch
            .iter()
            .map(|c| c.as_document().and_then(|c| c.get_str("name").ok()).expect("a name").into())
            .collect();
        names.sort();
        names
    }

    fn with_source(docs: Vec<Document>) -> Arc<Context> {
        let shared = Context::for_tests();
        let reply = call(&shared, doc! {"insert": "src", "documents": docs, "$db": "shop"});
        assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
        shared
    }

    fn code(reply: &Document) -> Option<i32> {
        reply.get_i32("code").ok()
    }

    #[test]
    fn out_replaces_the_target_and_returns_an_empty_cursor() {
        let shared = with_source(vec![doc! {"_id": 1, "x": 11}, doc! {"_id": 2, "x": 22}, doc! {"_id": 3, "x": 33}]);
        call(&shared, doc! {"insert": "dst", "documents": [{"_id": 9, "old": true}], "$db": "shop"});
        let reply = aggregate(&shared, "shop", vec![doc! {"$match": {"_id": {"$gt": 1}}}, doc! {"$out": "dst"}]);
        let cursor = reply.get_document("cursor").expect("a cursor");
        assert_eq!(cursor.get_array("firstBatch").map(Vec::len), Ok(0), "{reply}");
        assert_eq!(cursor.get_i64("id"), Ok(0));
        assert!(reply.get_timestamp("operationTime").is_ok());
        assert_eq!(find(&shared, "shop", "dst"), vec![doc! {"_id": 2, "x": 22}, doc! {"_id": 3, "x": 33}]);
        assert_eq!(collections(&shared, "shop"), ["dst", "src"], "no temporary collection is left");
    }

    #[test]
    fn a_failed_out_leaves_the_target_alone() {
        let shared = with_source(vec![doc! {"_id": 1}, doc! {"_id": 2}]);
        call(&shared, doc! {"insert": "dst", "documents": [{"_id": 9}], "$db": "shop"});
        let reply = aggregate(&shared, "shop", vec![doc! {"$project": {"_id": {"$literal": 1}}}, doc! {"$out": "dst"}]);
        assert_eq!(code(&reply), Some(11000), "{reply}");
        assert_eq!(find(&shared, "shop", "dst"), vec![doc! {"_id": 9}]);
        assert_eq!(collections(&shared, "shop"), ["dst", "src"]);
    }

    #[test]
    fn out_keeps_the_targets_indexes_and_their_constraints() {
        let shared = with_source(vec![doc! {"_id": 1, "k": 1}, doc! {"_id": 2, "k": 2}]);
        let index =
            doc! {"createIndexes": "dst", "indexes": [{"key": {"k": 1}, "name": "k_1", "unique": true}], "$db": "shop"};
        call(&shared, index);
        let reply = aggregate(&shared, "shop", vec![doc! {"$out": "dst"}]);
        assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
        let indexes = call(&shared, doc! {"listIndexes": "dst", "$db": "shop"});
        let names: Vec<&str> = indexes
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .expect("batch")
            .iter()
            .filter_map(|i| i.as_document().and_then(|i| i.get_str("name").ok()))
            .collect();
        assert_eq!(names, ["_id_", "k_1"]);
        // Results breaking the unique index fail the stage and leave the target.
        let reply = aggregate(&shared, "shop", vec![doc! {"$set": {"k": 0}}, doc! {"$out": "dst"}]);
        assert_eq!(code(&reply), Some(11000), "{reply}");
        assert_eq!(find(&shared, "shop", "dst").len(), 2);
    }

    #[test]
    fn an_out_larger_than_a_log_record_is_complete() {
        let pad = "x".repeat(1 << 20);
        let docs: Vec<Document> = (0..20).map(|i| doc! {"_id": i, "pad": pad.clone()}).collect();
        let shared = with_source(docs);
        let reply = aggregate(&shared, "shop", vec![doc! {"$out": "dst"}]);
        assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
        let count = call(&shared, doc! {"count": "dst", "$db": "shop"});
        assert_eq!(count.get_i32("n"), Ok(20), "{count}");
        assert_eq!(collections(&shared, "shop"), ["dst", "src"]);
    }

    #[test]
    fn merge_updates_matches_and_inserts_the_rest() {
        let shared = with_source(vec![doc! {"_id": 1, "x": 11}, doc! {"_id": 2, "x": 22}]);
        call(&shared, doc! {"insert": "dst", "documents": [{"_id": 1, "a": 1}], "$db": "shop"});
        let reply = call(
            &shared,
            doc! {"aggregate": "src", "pipeline": [{"$merge": {"into": "dst"}}], "cursor": {"batchSize": 0}, "$db": "shop"},
        );
        assert_eq!(reply.get_document("cursor").and_then(|c| c.get_i64("id")), Ok(0), "{reply}");
        assert_eq!(find(&shared, "shop", "dst"), vec![doc! {"_id": 1, "a": 1, "x": 11}, doc! {"_id": 2, "x": 22}]);
    }

    #[test]
    fn merge_keeps_what_it_wrote_before_an_error() {
        let shared = with_source(vec![doc! {"_id": 1}, doc! {"_id": 2}, doc! {"_id": 3}]);
        call(&shared, doc! {"insert": "dst", "documents": [{"_id": 2}], "$db": "shop"});
        let merge = doc! {"$merge": {"into": "dst", "whenMatched": "fail", "whenNotMatched": "insert"}};
        let reply = aggregate(&shared, "shop", vec![doc! {"$sort": {"_id": 1}}, merge]);
        assert_eq!(code(&reply), Some(11000), "{reply}");
        assert_eq!(find(&shared, "shop", "dst"), vec![doc! {"_id": 1}, doc! {"_id": 2}]);
    }

    #[test]
    fn targets_outside_the_addressed_branch_are_refused() {
        let shared = with_source(vec![doc! {"_id": 1}]);
        for target in [doc! {"db": "other", "coll": "t"}, doc! {"db": "shop@feature", "coll": "t"}] {
            let reply = aggregate(&shared, "shop", vec![doc! {"$out": target.clone()}]);
            assert_eq!(code(&reply), Some(20), "{target}: {reply}");
        }
        let same = aggregate(&shared, "shop", vec![doc! {"$out": {"db": "shop", "coll": "t"}}]);
        assert_eq!(same.get_f64("ok"), Ok(1.0), "{same}");
        let past = aggregate(&shared, "shop@main~1", vec![doc! {"$merge": "t"}]);
        assert_eq!(code(&past), Some(20), "{past}");
        let linearizable = call(
            &shared,
            doc! {"aggregate": "src", "pipeline": [{"$out": "t"}], "cursor": {}, "readConcern": {"level": "linearizable"}, "$db": "shop"},
        );
        assert_eq!(code(&linearizable), Some(72), "{linearizable}");
        let misplaced = aggregate(&shared, "shop", vec![doc! {"$out": "t"}, doc! {"$match": {}}]);
        assert_eq!(code(&misplaced), Some(40601), "{misplaced}");
        assert_eq!(find(&shared, "shop", "t"), vec![doc! {"_id": 1}]);
    }
}
