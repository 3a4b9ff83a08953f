//! `top`: the usage statistics of each collection (`profiling/top.rs`), which
//! [`record`] keeps for every command that names a collection.

use std::time::Duration;

use bson::{doc, Bson, Document};

use super::{current_op, Command, Invocation};
use crate::context::Context;
use crate::error::Result;
use crate::profiling::top::{Counter, Kind};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let mut totals = doc! {"note": "all times in microseconds"};
    for (ns, usage) in inv.context.top.snapshot() {
        let counters = [
            ("total", usage.total),
            ("readLock", usage.read_lock),
            ("writeLock", usage.write_lock),
            ("queries", usage.queries),
            ("getmore", usage.getmore),
            ("insert", usage.insert),
            ("update", usage.update),
            ("remove", usage.remove),
            ("commands", usage.commands),
        ];
        let entry: Document = counters.into_iter().map(|(name, counter)| (name.to_owned(), counted(counter))).collect();
        totals.insert(ns, entry);
    }
    Ok(doc! {"totals": totals})
}

fn counted(counter: Counter) -> Bson {
    Bson::Document(doc! {"time": current_op::number(counter.time), "count": current_op::number(counter.count)})
}

/// Counts a command that ran (`ok` or not) for `top`, when it names a collection;
/// a dropped collection or database is forgotten.
pub fn record(shared: &Context, command: &Command, body: &Document, ok: bool, took: Duration) {
    let db = body.get_str("$db").unwrap_or("");
    let (_, ns) = current_op::kind_and_ns(command, body, db);
    match command.name {
        "drop" if ok => return shared.top.forget(&ns),
        "dropDatabase" if ok => return shared.top.forget(&format!("{db}.")),
        _ => {}
    }
    if ns.ends_with(".$cmd") {
        return;
    }
    let kind = match command.name {
        "find" => Kind::Query,
        "getMore" => Kind::GetMore,
        "insert" => Kind::Insert,
        "update" => Kind::Update,
        "delete" => Kind::Remove,
        _ => Kind::Command,
    };
    shared.top.record(&ns, kind, reads(command.name, body), took);
}

/// Whether a command only reads (MongoDB would take a read lock for it).
fn reads(name: &str, body: &Document) -> bool {
    match name {
        "find" | "getMore" | "count" | "distinct" | "listIndexes" | "collStats" => true,
        "aggregate" => !body.get_array("pipeline").is_ok_and(|stages| {
            stages.iter().filter_map(Bson::as_document).any(|s| s.contains_key("$out") || s.contains_key("$merge"))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use crate::command::run;
    use crate::context::{ConnectionInfo, Context};

    #[test]
    fn top_counts_each_collections_operations_by_kind_and_lock() {
        let shared = Context::for_tests();
        let connection = ConnectionInfo::for_tests(1);
        let call = |body: bson::Document| run(&body, &connection, &shared);
        call(doc! {"insert": "c", "documents": [{"_id": 1}, {"_id": 2}], "$db": "t"});
        call(doc! {"find": "c", "filter": {}, "$db": "t"});
        call(doc! {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a": 1}}}], "$db": "t"});
        call(doc! {"count": "c", "$db": "t"});
        call(doc! {"insert": "gone", "documents": [{}], "$db": "t"});
        call(doc! {"drop": "gone", "$db": "t"});
        let reply = call(doc! {"top": 1, "$db": "admin"});
        let totals = reply.get_document("totals").unwrap_or_else(|_| panic!("{reply}"));
        assert_eq!(totals.get_str("note"), Ok("all times in microseconds"));
        assert!(!totals.contains_key("t.gone"), "{totals}");
        let c = totals.get_document("t.c").expect("t.c");
        let count = |field: &str| c.get_document(field).and_then(|f| f.get_i32("count")).unwrap_or(-1);
        assert_eq!(
            [count("total"), count("readLock"), count("writeLock"), count("queries"), count("insert"), count("update")],
            [4, 2, 2, 1, 1, 1]
        );
        assert_eq!((count("remove"), count("getmore"), count("commands")), (0, 0, 1));
        assert_eq!(call(doc! {"top": 1, "$db": "t"}).get_i32("code"), Ok(13));
    }
}
