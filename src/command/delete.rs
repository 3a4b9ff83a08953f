//! `delete`: each statement is one log record; `limit: 1` deletes the first match,
//! `limit: 0` every match.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, Result};
use crate::query::Filter;
use crate::store::Commit;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "delete")?;
    args::writable(inv)?;
    let statements = args::documents(inv.body, "deletes")?;
    let ordered = args::boolean(inv.body, "ordered", true)?;
    let mut deleted = 0i64;
    let mut errors = Vec::new();
    let mut last_commit: Option<Commit> = None;
    for (index, statement) in statements.iter().enumerate() {
        let outcome = statement_args(statement).and_then(|(filter, just_one)| {
            inv.shared.store.write(&inv.db, args::journaled(inv), |batch| {
                let Some(collection) = batch.collection(name)? else { return Ok(0) };
                let mut ids = Vec::new();
                match filter.id_equality() {
                    Some(id) => {
                        ids.extend(batch.get(&collection, id)?.filter(|d| filter.matches(d)).map(|_| id.clone()))
                    }
                    None => batch.view().scan(collection.id, None, |_, doc| {
                        if filter.matches(&doc) {
                            ids.push(doc.get("_id").cloned().unwrap_or(Bson::Null));
                        }
                        Ok(!just_one || ids.is_empty())
                    })?,
                }
                for id in &ids {
                    batch.delete(&collection, id);
                }
                Ok(ids.len() as i64)
            })
        });
        match outcome {
            Ok((n, commit)) => {
                deleted += n;
                last_commit = commit.or(last_commit);
            }
            Err(err) if !matches!(err, Error::Command { .. }) => return Err(err),
            Err(err) => {
                errors.push(Bson::Document(args::write_error(index, &err)));
                if ordered {
                    break;
                }
            }
        }
    }
    let mut reply = doc! { "n": deleted as i32 };
    if !errors.is_empty() {
        reply.insert("writeErrors", errors);
    }
    if let Some(commit) = last_commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

fn statement_args(statement: &Document) -> Result<(Filter, bool)> {
    let filter = Filter::parse(args::document(statement, "q")?.unwrap_or(&Document::new()))?;
    let limit = args::integer(statement, "limit")?.unwrap_or(0);
    if !matches!(limit, 0 | 1) {
        return Err(Error::bad_value(format!("The limit field in delete objects must be 0 or 1. Got {limit}")));
    }
    Ok((filter, limit == 1))
}
