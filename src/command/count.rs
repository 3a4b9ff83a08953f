//! `count`: how many documents match a query, after `skip` and within `limit`.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::Result;
use crate::exec;
use crate::query::plan;
use crate::query::{Filter, Variables};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection_to_read(inv, "count")?;
    let filter =
        Filter::parse_query(args::document(inv.body, "query")?.unwrap_or(&Document::new()), &Variables::none())?;
    let skip = args::integer(inv.body, "skip")?.unwrap_or(0);
    if skip < 0 {
        return Err(crate::error::Error::bad_value("skip value is negative in count query"));
    }
    // MongoDB reads a negative limit as its absolute value; 0 means none.
    let limit = args::integer(inv.body, "limit")?.unwrap_or(0).unsigned_abs();
    let view = inv.read_view()?;
    let entry = view.collection(name)?;
    let collation = args::collation_on(inv.body, entry.as_ref())?;
    let filter = args::text_on(filter.with_collation(collation.as_ref())?, entry.as_ref())?;
    let mut n = 0u64;
    if name == super::system_profile::NAME {
        n = super::system_profile::documents(inv).iter().filter(|d| filter.matches(d)).count() as u64;
    } else if let Some(entry) = entry.as_ref().filter(|c| c.view_on().is_some()) {
        let query = Bson::Document(args::document(inv.body, "query")?.cloned().unwrap_or_default());
        let stages = [Bson::Document(doc! {"$match": query}), Bson::Document(doc! {"$count": "n"})];
        let counted = super::aggregate::view_documents(inv, &view, entry, &stages, collation.as_ref())?;
        n = counted.first().and_then(|d| crate::index::whole_number(d.get("n")?)).unwrap_or(0).max(0) as u64;
    } else if let Some(collection) = entry {
        let wanted = if limit == 0 { u64::MAX } else { (skip as u64).saturating_add(limit) };
        let query = args::document(inv.body, "query")?.cloned().unwrap_or_default();
        let collation = super::find::given_collation(inv.body);
        let restricted = super::index_filters::restrict(inv.context, &view, &collection, &query, None, None, collation);
        let plan = match &restricted {
            Some(restricted) => plan::choose(restricted, &filter, None, None)?,
            None => plan::choose(&collection, &filter, None, super::find::hint(inv.body)?)?,
        };
        inv.note_plan(&view, &collection, &plan);
        exec::walk(&view, &collection, &plan, &filter, &inv.interrupt(), |_| {
            n += 1;
            Ok(n < wanted)
        })?;
    }
    let n = n.saturating_sub(skip as u64).min(if limit == 0 { u64::MAX } else { limit });
    Ok(doc! {"n": i32::try_from(n).unwrap_or(i32::MAX)})
}
