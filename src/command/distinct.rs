//! `distinct`: the distinct values of a field among the documents a query matches,
//! in BSON order. An array contributes each of its elements.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::exec;
use crate::query::{Filter, Variables};
use crate::value::order;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "distinct")?;
    let key = match inv.body.get("key") {
        Some(Bson::String(key)) => key.as_str(),
        None => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'distinct.key' is missing but a required field",
            ))
        }
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'distinct.key' is the wrong type '{}', expected type 'string'",
                args::type_name(other)
            )))
        }
    };
    let filter =
        Filter::parse_query(args::document(inv.body, "query")?.unwrap_or(&Document::new()), &Variables::none())?;
    let (view, snapshot_time) = inv.read_view_at()?;
    let mut values: Vec<Bson> = Vec::new();
    let entry = view.collection(name)?;
    // The command's collation, else the collection's.
    let collation = args::collation_on(inv.body, entry.as_ref())?;
    let target = args::target(args::text_on(filter.with_collation(collation.as_ref())?, entry.as_ref())?, inv.body)?;
    if let Some(entry) = entry.as_ref().filter(|c| c.view_on().is_some()) {
        let query = Bson::Document(args::document(inv.body, "query")?.cloned().unwrap_or_default());
        for doc in super::aggregate::view_documents(
            inv,
            &view,
            entry,
            &[Bson::Document(doc! {"$match": query})],
            collation.as_ref(),
        )? {
            values.extend(crate::query::path::distinct_values(&doc, key).into_iter().cloned());
        }
    } else if let Some(collection) = entry {
        let query = args::document(inv.body, "query")?.cloned().unwrap_or_default();
        let collation = super::find::given_collation(inv.body);
        let restricted = super::index_filters::restrict(inv.context, &view, &collection, &query, None, None, collation);
        // An index filter overrides the hint.
        let target = match restricted {
            Some(_) => exec::Target { hint: None, ..target },
            None => target,
        };
        exec::each(
            &view,
            restricted.as_ref().unwrap_or(&collection),
            &target,
            &inv.interrupt(),
            &|plan| inv.note_plan(&view, &collection, plan),
            |doc| {
                for value in crate::query::path::distinct_values(&doc, key) {
                    values.push(value.clone());
                }
                Ok(true)
            },
        )?;
    }
    // Equal values under the collation are one value: the first met stays (a
    // stable sort keeps them in the order read).
    let compare = |a: &Bson, b: &Bson| order::compare_collated(a, b, collation.as_deref());
    values.sort_by(compare);
    values.dedup_by(|a, b| compare(a, b).is_eq());
    let mut reply = doc! {"values": values};
    if let Some(time) = snapshot_time {
        reply.insert("atClusterTime", time);
    }
    Ok(reply)
}
