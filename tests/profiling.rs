//! The slow operation log and the `profile` command against the real server:
//! with `slowms: 0` every operation is slow, and `getLog` returns it in MongoDB's
//! shape; levels 1 and 2 keep operations in the database's `system.profile`.

mod support;

use bson::doc;
use support::{call, command_with, start};

#[test]
fn slow_operations_are_logged_as_mongodb_logs_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr) = start(dir.path(), &["--log", "info"]);
    let status = call(addr, doc! {"profile": -1, "$db": "p"});
    assert_eq!((status.get_i32("was"), status.get_i32("slowms")), (Ok(0), Ok(100)), "{status}");
    let set = call(addr, doc! {"profile": 0, "slowms": 0, "$db": "p"});
    assert_eq!(set.get_i32("slowms"), Ok(100), "the reply holds the settings before: {set}");
    call(addr, doc! {"insert": "c", "documents": [{"_id": 1}], "$db": "p"});
    let found = call(addr, doc! {"find": "c", "filter": {"_id": 1}, "$db": "p"});
    assert_eq!(found.get_f64("ok"), Ok(1.0), "{found}");
    let log = call(addr, doc! {"getLog": "global", "$db": "admin"});
    let lines = log.get_array("log").expect("log lines");
    let slow: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.as_str()?).ok())
        .filter(|line| line["msg"] == "Slow query" && line["attr"]["ns"] == "p.c")
        .collect();
    let find = slow.iter().find(|line| line["attr"]["command"]["find"] == "c").expect("the find is logged");
    assert_eq!(find["c"], "COMMAND");
    assert_eq!(find["id"], 51803);
    assert!(find["attr"]["durationMillis"].is_u64(), "{find}");
    assert_eq!(find["attr"]["type"], "command");
    assert!(find["ctx"].as_str().is_some_and(|ctx| ctx.starts_with("conn")), "{find}");

    let back = call(addr, doc! {"profile": 0, "slowms": 100, "sampleRate": 0.5, "$db": "p"});
    assert_eq!(back.get_i32("slowms"), Ok(0), "{back}");
    let now = call(addr, doc! {"profile": -1, "$db": "p"});
    assert_eq!((now.get_i32("slowms"), now.get_f64("sampleRate")), (Ok(100), Ok(0.5)), "{now}");
}

#[test]
fn levels_1_and_2_keep_operations_in_system_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr) = start(dir.path(), &[]);
    let set = call(addr, doc! {"profile": 2, "$db": "shop"});
    assert_eq!(set.get_i32("was"), Ok(0), "{set}");
    call(addr, doc! {"insert": "items", "documents": [{"_id": 1}, {"_id": 2}], "$db": "shop"});
    call(addr, doc! {"createBranch": "f", "$db": "shop"});
    call(addr, doc! {"update": "items", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": 1}}}], "$db": "shop@f"});
    call(addr, doc! {"find": "items", "filter": {}, "$db": "shop"});
    call(addr, doc! {"find": "missing", "filter": {"$bad": 1}, "$db": "shop"});
    call(addr, doc! {"find": "items", "$db": "other"});

    let status = call(addr, doc! {"profile": -1, "$db": "shop@f"});
    assert_eq!(status.get_i32("was"), Ok(2), "one level for every branch: {status}");
    let profile = call(addr, doc! {"find": "system.profile", "filter": {}, "sort": {"$natural": -1}, "$db": "shop"});
    let entries = profile.get_document("cursor").and_then(|c| c.get_array("firstBatch"));
    let entries = entries.unwrap_or_else(|_| panic!("{profile}"));
    let entries: Vec<&bson::Document> = entries.iter().filter_map(|e| e.as_document()).collect();
    let ops: Vec<(&str, &str)> =
        entries.iter().map(|e| (e.get_str("op").unwrap_or(""), e.get_str("ns").unwrap_or(""))).collect();
    assert_eq!(
        ops,
        [
            ("command", "shop@f.$cmd"),
            ("query", "shop.missing"),
            ("query", "shop.items"),
            ("update", "shop@f.items"),
            ("command", "shop.$cmd"),
            ("insert", "shop.items"),
            ("command", "shop.$cmd"),
        ],
        "newest first, none of other databases, the profile commands too: {entries:?}"
    );
    let failed = entries[1];
    assert_eq!(failed.get_f64("ok"), Ok(0.0), "{failed}");
    assert_eq!(failed.get_i32("errCode"), Ok(2), "{failed}");
    let find = entries[2];
    assert_eq!(find.get_i32("nreturned"), Ok(2), "{find}");
    assert_eq!(find.get_bool("cursorExhausted"), Ok(true), "{find}");
    assert_eq!(find.get_document("command").and_then(|c| c.get_str("find")), Ok("items"), "{find}");
    for field in ["millis", "responseLength", "numYield"] {
        assert!(find.get_i32(field).is_ok(), "{field} in {find}");
    }
    assert!(find.get_datetime("ts").is_ok() && find.get_str("client") == Ok("127.0.0.1"), "{find}");
    assert_eq!(entries[3].get_i32("nModified"), Ok(1), "{}", entries[3]);
    assert_eq!(entries[5].get_i32("ninserted"), Ok(2), "{}", entries[5]);

    // Reading the profile is not profiled; it can be counted and aggregated.
    let counted = call(addr, doc! {"count": "system.profile", "query": {"op": "query"}, "$db": "shop"});
    assert_eq!(counted.get_i32("n"), Ok(2), "{counted}");
    let grouped = call(
        addr,
        doc! {"aggregate": "system.profile", "pipeline": [{"$group": {"_id": null, "n": {"$sum": 1}}}], "cursor": {}, "$db": "shop"},
    );
    let n = grouped.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch")[0]
        .as_document()
        .and_then(|d| d.get_i32("n").ok());
    assert_eq!(n, Some(7), "{grouped}");
    let refused = call(addr, doc! {"insert": "system.profile", "documents": [{}], "$db": "shop"});
    assert_eq!(refused.get_i32("code"), Ok(73), "{refused}");

    // Level 1 keeps what is slower than slowms; a filter chooses instead.
    let set = call(addr, doc! {"profile": 1, "$db": "shop"});
    assert_eq!(set.get_i32("was"), Ok(2), "{set}");
    let busy = call(addr, doc! {"drop": "system.profile", "$db": "shop"});
    assert_eq!(busy.get_i32("code"), Ok(20), "{busy}");
    call(addr, doc! {"find": "items", "$db": "shop"});
    let set = call(addr, doc! {"profile": 1, "filter": {"op": "insert"}, "$db": "shop"});
    assert!(set.get_str("note").is_ok() && set.get("filter").is_none(), "{set}");
    call(addr, doc! {"insert": "items", "documents": [{"_id": 3}], "$db": "shop"});
    call(addr, doc! {"find": "items", "$db": "shop"});
    let status = call(addr, doc! {"profile": -1, "$db": "shop"});
    assert_eq!(status.get_document("filter"), Ok(&doc! {"op": "insert"}), "{status}");
    let counted = call(addr, doc! {"count": "system.profile", "$db": "shop"});
    assert_eq!(counted.get_i32("n"), Ok(8), "only the insert was added: {counted}");

    call(addr, doc! {"profile": 0, "filter": "unset", "$db": "shop"});
    let dropped = call(addr, doc! {"drop": "system.profile", "$db": "shop"});
    assert_eq!(dropped.get_f64("ok"), Ok(1.0), "{dropped}");
    let counted = call(addr, doc! {"count": "system.profile", "$db": "shop"});
    assert_eq!(counted.get_i32("n"), Ok(0), "{counted}");
}

#[test]
fn document_sequences_are_not_shown_as_part_of_the_command() {
    // MongoDB logs, profiles and reports the command's body: the documents a
    // driver sends as a document sequence are not part of it.
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr) = start(dir.path(), &["--log", "info"]);
    call(addr, doc! {"profile": 2, "slowms": 0, "$db": "seq"});
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let documents: Vec<bson::Document> = (0..3).map(|i| doc! {"_id": i, "pad": "x".repeat(20_000)}).collect();
    let body = doc! {"insert": "c", "ordered": true, "$db": "seq"};
    let reply = command_with(&mut stream, body, &[("documents", &documents)]).expect("insert");
    assert_eq!(reply.get_i32("n"), Ok(3), "{reply}");

    let profile = call(addr, doc! {"find": "system.profile", "filter": {"op": "insert"}, "$db": "seq"});
    let entries = profile.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("entries");
    let entry = entries.first().and_then(|e| e.as_document()).expect("the insert is profiled");
    assert_eq!(entry.get_document("command"), Ok(&doc! {"insert": "c", "ordered": true, "$db": "seq"}), "{entry}");
    assert_eq!(entry.get_i32("ninserted"), Ok(3), "{entry}");

    let log = call(addr, doc! {"getLog": "global", "$db": "admin"});
    let lines = log.get_array("log").expect("log lines");
    let insert = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line.as_str()?).ok())
        .find(|line| line["msg"] == "Slow query" && line["attr"]["command"]["insert"] == "c")
        .expect("the insert is logged");
    assert!(insert["attr"]["command"].get("documents").is_none(), "{insert}");
    assert!(insert["attr"].get("truncated").is_none(), "{insert}");
}
