//! Dispatch tests: the table, generic arguments, and the error shapes.

use std::sync::Arc;
use std::time::Instant;

use bson::{doc, Bson, Document};

use super::*;

fn shared() -> Arc<Context> {
    Context::for_tests()
}

fn connection() -> ConnectionInfo {
    ConnectionInfo::for_tests(7)
}

fn call(body: Document) -> Document {
    run(&body, &connection(), &shared())
}

fn assert_error(reply: &Document, code: i32, name: &str) {
    assert_eq!(reply.get_f64("ok"), Ok(0.0), "{reply}");
    assert_eq!(reply.get_i32("code"), Ok(code), "{reply}");
    assert_eq!(reply.get_str("codeName"), Ok(name), "{reply}");
    assert!(reply.get_str("errmsg").is_ok(), "{reply}");
}

#[test]
fn every_name_and_alias_resolves_to_one_command() {
    for c in COMMANDS {
        assert!(std::ptr::eq(lookup(c.name).expect("listed"), c));
        for alias in c.aliases {
            assert!(std::ptr::eq(lookup(alias).expect("alias"), c));
        }
    }
    let mut names: Vec<_> = COMMANDS.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), COMMANDS.len());
}

#[test]
fn unknown_commands_are_59() {
    let reply = call(doc! {"atlasVersion": 1, "$db": "admin"});
    assert_error(&reply, 59, "CommandNotFound");
    assert_eq!(reply.get_str("errmsg"), Ok("no such command: 'atlasVersion'"));
    assert_error(&call(doc! {}), 59, "CommandNotFound");
}

#[test]
fn ping_replies_ok_as_a_double() {
    let reply = call(doc! {"ping": 1, "$db": "admin"});
    assert_eq!(reply.get("ok"), Some(&Bson::Double(1.0)));
    assert_eq!(
        reply.get_timestamp("operationTime"),
        Ok(bson::Timestamp { time: 0, increment: 0 }),
        "nothing written yet"
    );
}

#[test]
fn missing_or_bad_db_is_refused() {
    assert_error(&call(doc! {"ping": 1}), 40571, "Location40571");
    assert_error(&call(doc! {"ping": 1, "$db": 1}), 14, "TypeMismatch");
    assert_error(&call(doc! {"ping": 1, "$db": "a.b"}), 73, "InvalidNamespace");
}

#[test]
fn generic_arguments_are_accepted() {
    let reply = call(doc! {
        "ping": 1, "$db": "admin",
        "lsid": {"id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![1; 16] }},
        "$clusterTime": {}, "$readPreference": {"mode": "primary"}, "readConcern": {},
        "comment": "x", "maxTimeMS": 1000, "apiVersion": "1", "apiStrict": false,
    });
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
    // writeConcern is generic, but only commands that write take one.
    assert_error(&call(doc! {"ping": 1, "$db": "admin", "writeConcern": {"w": 1}}), 72, "InvalidOptions");
    // Arguments of other commands are not generic: ping's parser refuses them.
    let reply = call(doc! {"ping": 1, "$db": "admin", "hint": {}});
    assert_error(&reply, 40415, "Location40415");
    assert_eq!(reply.get_str("errmsg"), Ok("BSON field 'ping.hint' is an unknown field."));
}

#[test]
fn max_time_ms_is_checked() {
    for bad in [Bson::Int32(-1), Bson::String("1".into()), Bson::Double(1.5), Bson::Int64(1 << 40)] {
        assert_error(&call(doc! {"ping": 1, "$db": "admin", "maxTimeMS": bad}), 2, "BadValue");
    }
    assert_eq!(max_time(&doc! {"maxTimeMS": 0}).expect("ok"), None);
}

#[test]
fn expired_deadlines_fail_with_50() {
    let shared = shared();
    let conn = connection();
    let body = doc! {"ping": 1};
    let inv = Invocation {
        body: &body,
        db: DbRef::parse("admin").expect("db"),
        connection: &conn,
        context: &shared,
        deadline: Some(Instant::now()),
        op: None,
        session: None,
        first_statement: 0,
    };
    assert_eq!(inv.check_deadline().expect_err("expired").code(), ErrorCode::MaxTimeMSExpired);
}

#[test]
fn hello_has_every_handshake_field() {
    let reply = call(doc! {"hello": 1, "helloOk": true, "$db": "admin"});
    for (key, value) in [
        ("helloOk", Bson::Boolean(true)),
        ("isWritablePrimary", Bson::Boolean(true)),
        ("msg", Bson::String("isdbgrid".into())),
        ("maxBsonObjectSize", Bson::Int32(16_777_216)),
        ("maxMessageSizeBytes", Bson::Int32(48_000_000)),
        ("maxWriteBatchSize", Bson::Int32(100_000)),
        ("logicalSessionTimeoutMinutes", Bson::Int32(30)),
        ("connectionId", Bson::Int64(7)),
        ("minWireVersion", Bson::Int32(0)),
        ("maxWireVersion", Bson::Int32(25)),
        ("readOnly", Bson::Boolean(false)),
        ("ok", Bson::Double(1.0)),
    ] {
        assert_eq!(reply.get(key), Some(&value), "{key} in {reply}");
    }
    assert!(matches!(reply.get("localTime"), Some(Bson::DateTime(_))));
    assert!(!reply.contains_key("compression"));
    let version = reply.get_document("topologyVersion").expect("a topology version");
    assert!(version.get_object_id("processId").is_ok() && version.get_i64("counter") == Ok(0), "{version}");

    let legacy = call(doc! {"isMaster": 1, "$db": "admin"});
    assert_eq!(legacy.get("ismaster"), Some(&Bson::Boolean(true)));
    assert!(!legacy.contains_key("helloOk"));
}

#[test]
fn client_metadata_may_be_sent_once() {
    let shared = shared();
    let conn = connection();
    let first = run(&doc! {"hello": 1, "client": {"driver": {"name": "x"}}, "$db": "admin"}, &conn, &shared);
    assert_eq!(first.get_f64("ok"), Ok(1.0));
    let second = run(&doc! {"hello": 1, "client": {"driver": {"name": "x"}}, "$db": "admin"}, &conn, &shared);
    assert_error(&second, 186, "ClientMetadataCannotBeMutated");
    let plain = run(&doc! {"hello": 1, "$db": "admin"}, &conn, &shared);
    assert_eq!(plain.get_f64("ok"), Ok(1.0));
}

#[test]
fn build_info_looks_like_mongodb_8() {
    let reply = call(doc! {"buildinfo": 1, "$db": "admin"});
    assert!(reply.get_str("version").expect("version").starts_with("8.0."));
    let array = reply.get_array("versionArray").expect("versionArray");
    assert_eq!(array.len(), 4);
    assert!(array.iter().all(|v| matches!(v, Bson::Int32(_))));
    for key in ["gitVersion", "modules", "bits", "maxBsonObjectSize"] {
        assert!(reply.contains_key(key), "{key}");
    }
}

#[test]
fn get_parameter_by_name_and_star() {
    let fcv = call(doc! {"getParameter": 1, "featureCompatibilityVersion": 1, "$db": "admin"});
    assert_eq!(fcv.get_document("featureCompatibilityVersion").expect("fcv").get_str("version"), Ok("8.0"));
    let all = call(doc! {"getParameter": "*", "$db": "admin"});
    assert_eq!(all.get_bool("enableTestCommands"), Ok(false));
    assert_error(&call(doc! {"getParameter": 1, "nope": 1, "$db": "admin"}), 72, "InvalidOptions");
    assert_error(&call(doc! {"getParameter": 1, "featureCompatibilityVersion": 1, "$db": "test"}), 13, "Unauthorized");
}

#[test]
fn get_log_and_cmd_line_opts() {
    let names = call(doc! {"getLog": "*", "$db": "admin"});
    assert_eq!(names.get_array("names").expect("names").len(), 2);
    let warnings = call(doc! {"getLog": "startupWarnings", "$db": "admin"});
    assert_eq!(warnings.get_i32("totalLinesWritten"), Ok(0));
    assert_error(&call(doc! {"getLog": 1, "$db": "admin"}), 14, "TypeMismatch");
    let opts = call(doc! {"getCmdLineOpts": 1, "$db": "admin"});
    assert_eq!(opts.get_array("argv").expect("argv").len(), 2);
    assert!(opts.get_document("parsed").is_ok());
}

#[test]
fn status_and_info_commands() {
    let status = call(doc! {"serverStatus": 1, "$db": "admin"});
    for key in ["host", "version", "process", "pid", "uptime", "localTime", "connections", "storageEngine"] {
        assert!(status.contains_key(key), "{key}");
    }
    assert!(call(doc! {"hostInfo": 1, "$db": "admin"}).get_document("system").is_ok());
    assert_eq!(call(doc! {"whatsmyuri": 1, "$db": "admin"}).get_str("you"), Ok("127.0.0.1:5000"));
    let auth = call(doc! {"connectionStatus": 1, "showPrivileges": true, "$db": "admin"});
    assert!(auth.get_document("authInfo").expect("authInfo").contains_key("authenticatedUserPrivileges"));
    let list = call(doc! {"listCommands": 1, "$db": "admin"});
    assert_eq!(list.get_document("commands").expect("commands").len(), COMMANDS.len());
}

#[test]
fn session_commands() {
    let started = call(doc! {"startSession": 1, "$db": "admin"});
    let id = started.get_document("id").expect("id").get("id").expect("uuid");
    assert!(matches!(id, Bson::Binary(b) if b.bytes.len() == 16));
    let ended = call(doc! {"endSessions": [{"id": id.clone()}], "$db": "admin"});
    assert_eq!(ended.get_f64("ok"), Ok(1.0));
    assert_error(&call(doc! {"endSessions": 1, "$db": "admin"}), 14, "TypeMismatch");
    assert_error(&call(doc! {"refreshSessions": [{"id": 1}], "$db": "admin"}), 14, "TypeMismatch");
    assert_eq!(call(doc! {"killAllSessions": [], "$db": "admin"}).get_f64("ok"), Ok(1.0));
}

#[test]
fn let_variables_reach_filters_updates_and_pipelines() {
    let shared = shared();
    let call = |body: Document| run(&body, &connection(), &shared);
    let inserted = call(doc! {"insert": "c", "documents": [{"_id": 1}, {"_id": 2}], "$db": "t"});
    assert_eq!(inserted.get_i32("n"), Ok(2), "{inserted}");
    let updated = call(doc! {
        "update": "c",
        "updates": [{"q": {"$expr": {"$eq": ["$_id", "$$id"]}}, "u": [{"$set": {"x": "$$x", "y": "$$y"}}], "c": {"y": "c"}}],
        "let": {"id": 1, "x": "let", "y": "let"},
        "$db": "t",
    });
    assert_eq!(updated.get_i32("nModified"), Ok(1), "{updated}");
    let found = call(doc! {"find": "c", "filter": {"$expr": {"$eq": ["$_id", "$$id"]}}, "let": {"id": 1}, "$db": "t"});
    let batch = found.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
    assert_eq!(batch, &vec![Bson::Document(doc! {"_id": 1, "x": "let", "y": "c"})], "c shadows let");
    let deleted = call(
        doc! {"delete": "c", "deletes": [{"q": {"$expr": {"$eq": ["$_id", "$$id"]}}, "limit": 0}], "let": {"id": 2}, "$db": "t"},
    );
    assert_eq!(deleted.get_i32("n"), Ok(1), "{deleted}");
}

#[test]
fn an_update_that_changes_only_the_bytes_modifies_the_document() {
    let shared = shared();
    let call = |body: Document| run(&body, &connection(), &shared);
    call(doc! {"insert": "c", "documents": [{"_id": 1, "a": 1, "b": 2, "z": 0.0}], "$db": "t"});
    let n_modified = |updates: Vec<Document>| {
        let reply = call(doc! {"update": "c", "updates": updates, "$db": "t"});
        reply.get_i32("nModified").unwrap_or_else(|_| panic!("{reply}"))
    };
    let stored = || {
        let found = call(doc! {"find": "c", "$db": "t"});
        found.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch")[0].clone()
    };
    // The same fields in another order: MongoDB compares bytes, so this modifies.
    assert_eq!(n_modified(vec![doc! {"q": {"_id": 1}, "u": {"b": 2, "a": 1, "z": 0.0}}]), 1);
    let order: Vec<String> = stored().as_document().expect("a document").keys().cloned().collect();
    assert_eq!(order, ["_id", "b", "a", "z"]);
    assert_eq!(n_modified(vec![doc! {"q": {"_id": 1}, "u": {"b": 2, "a": 1, "z": 0.0}}]), 0, "the same bytes");
    // A pipeline that reorders, and -0.0 for 0.0, change the bytes too.
    assert_eq!(
        n_modified(vec![doc! {"q": {"_id": 1}, "u": [{"$replaceWith": {"_id": 1, "a": "$a", "b": "$b", "z": "$z"}}]}]),
        1
    );
    assert_eq!(n_modified(vec![doc! {"q": {"_id": 1}, "u": {"$set": {"z": -0.0}}}]), 1);
    assert_eq!(n_modified(vec![doc! {"q": {"_id": 1}, "u": {"$set": {"z": -0.0, "a": 1}}}]), 0);
}

#[test]
fn decimal_keys_that_share_a_double_are_told_apart_by_value() {
    let shared = shared();
    let call = |body: Document| run(&body, &connection(), &shared);
    let decimal = |s: &str| Bson::Decimal128(s.parse().expect("a decimal"));
    let created =
        call(doc! {"createIndexes": "u", "indexes": [{"key": {"p": 1}, "name": "p_1", "unique": true}], "$db": "t"});
    assert_eq!(created.get_f64("ok"), Ok(1.0), "{created}");
    let insert = |id: i32, p: Bson| call(doc! {"insert": "u", "documents": [{"_id": id, "p": p}], "$db": "t"});
    let code = |reply: &Document| {
        let errors = reply.get_array("writeErrors").ok();
        errors.and_then(|e| e[0].as_document()).and_then(|e| e.get_i32("code").ok())
    };
    // 0.1 as a double and as a decimal are different numbers (MongoDB compares them exactly).
    assert_eq!(code(&insert(1, Bson::Double(0.1))), None);
    assert_eq!(code(&insert(2, decimal("0.1"))), None, "a different number, though its key is the double's");
    assert_eq!(code(&insert(3, decimal("0.10"))), Some(11000), "0.10 equals 0.1");
    assert_eq!(code(&insert(4, Bson::Double(0.1))), Some(11000));
    assert_eq!(code(&insert(5, decimal("1.0"))), None);
    assert_eq!(code(&insert(6, Bson::Int32(1))), Some(11000), "1 equals 1.0");
    // The other way round: the decimal first.
    assert_eq!(code(&insert(7, decimal("0.3"))), None);
    assert_eq!(code(&insert(8, Bson::Double(0.3))), None, "a different number, though its key is the decimal's");
    assert_eq!(code(&insert(9, decimal("0.30"))), Some(11000));
    let count = call(doc! {"count": "u", "$db": "t"});
    assert_eq!(count.get_i32("n"), Ok(5), "{count}");
    // Building a unique index tells them apart the same way.
    let inserted =
        call(doc! {"insert": "b", "documents": [{"_id": 1, "p": 0.1}, {"_id": 2, "p": decimal("0.1")}], "$db": "t"});
    assert_eq!(inserted.get_i32("n"), Ok(2), "{inserted}");
    let build = |name: &str| {
        call(doc! {"createIndexes": "b", "indexes": [{"key": {"p": 1}, "name": name, "unique": true}], "$db": "t"})
    };
    let built = build("p_1");
    assert_eq!(built.get_f64("ok"), Ok(1.0), "{built}");
    call(doc! {"dropIndexes": "b", "index": "p_1", "$db": "t"});
    call(doc! {"insert": "b", "documents": [{"_id": 3, "p": decimal("0.10")}], "$db": "t"});
    assert_eq!(build("p_1").get_i32("code"), Ok(11000), "0.10 and 0.1 are one key");
    // And so does making an index unique.
    call(doc! {"insert": "c", "documents": [{"_id": 1, "p": 0.1}, {"_id": 2, "p": decimal("0.1")}], "$db": "t"});
    call(doc! {"createIndexes": "c", "indexes": [{"key": {"p": 1}, "name": "p_1"}], "$db": "t"});
    let coll_mod = |option: &str| call(doc! {"collMod": "c", "index": {"name": "p_1", option: true}, "$db": "t"});
    assert_eq!(coll_mod("prepareUnique").get_f64("ok"), Ok(1.0));
    let made = coll_mod("unique");
    assert_eq!(made.get_f64("ok"), Ok(1.0), "{made}");
    // An _id: the two cannot share the key they are stored under, which is refused
    // plainly rather than called a duplicate.
    let by_id = |id: Bson| call(doc! {"insert": "a", "documents": [{"_id": id}], "$db": "t"});
    assert_eq!(code(&by_id(Bson::Double(0.1))), None);
    let refused = by_id(decimal("0.1"));
    assert_eq!(code(&refused), Some(2), "{refused}");
    assert_eq!(code(&by_id(decimal("0.1000000000000000055511151231257827"))), Some(2));
    assert_eq!(code(&by_id(Bson::Double(0.1))), Some(11000));
    assert_eq!(code(&by_id(decimal("0.3"))), None);
    assert_eq!(code(&by_id(Bson::Double(0.3))), Some(2), "the decimal first");
    let both = call(doc! {"insert": "a", "documents": [{"_id": decimal("0.7")}, {"_id": 0.7}], "$db": "t"});
    assert_eq!(code(&both), Some(2), "in one batch: {both}");
    // $merge on _id: the double's document is not the decimal's to replace.
    call(doc! {"insert": "src", "documents": [{"_id": decimal("0.1"), "from": "merge"}], "$db": "t"});
    let merged = call(doc! {
        "aggregate": "src",
        "pipeline": [{"$merge": {"into": "a"}}],
        "cursor": {},
        "$db": "t",
    });
    assert_eq!(merged.get_i32("code"), Ok(2), "{merged}");
    let kept = call(doc! {"find": "a", "filter": {"_id": 0.1}, "$db": "t"});
    let kept = kept.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch").clone();
    assert_eq!(kept, vec![Bson::Document(doc! {"_id": 0.1})], "the double's document is untouched");
    assert_eq!(code(&by_id(decimal("2.50"))), None);
    assert_eq!(code(&by_id(Bson::Double(2.5))), Some(11000), "2.5 equals 2.50");
}

#[test]
fn let_and_constants_are_refused_as_mongodb_does() {
    let bad_let = call(doc! {"find": "c", "filter": {}, "let": {"x": "$a"}, "$db": "t"});
    assert_error(&bad_let, 4890500, "Location4890500");
    let wrong_type = call(doc! {"find": "c", "filter": {}, "let": 1, "$db": "t"});
    assert_error(&wrong_type, 14, "TypeMismatch");
    let constants =
        call(doc! {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a": 1}}, "c": {"x": 1}}], "$db": "t"});
    let errors = constants.get_array("writeErrors").expect("a write error");
    let error = errors.first().and_then(Bson::as_document).expect("a document");
    assert_eq!(error.get_i32("code"), Ok(51198), "{constants}");
}

#[test]
fn an_id_may_not_hold_dollar_prefixed_fields() {
    let reply = call(doc! {"insert": "c", "documents": [{"_id": {"a": {"$b": 1}}}], "$db": "t"});
    let errors = reply.get_array("writeErrors").expect("a write error");
    let error = errors.first().and_then(Bson::as_document).expect("a document");
    assert_eq!(error.get_i32("code"), Ok(52), "{reply}");
    assert_eq!(
        error.get_str("errmsg"),
        Ok("_id fields may not contain '$'-prefixed fields: $b is not valid for storage."),
        "{reply}"
    );
    let dbref = call(doc! {"insert": "c", "documents": [{"_id": {"$ref": "c", "$id": 1}}], "$db": "t"});
    assert_eq!(dbref.get_i32("n"), Ok(1), "a DBRef is a valid _id: {dbref}");
}

#[test]
fn out_replaces_the_target_collection() {
    let shared = shared();
    let call = |body: Document| run(&body, &connection(), &shared);
    call(doc! {"insert": "src", "documents": [{"_id": 1, "x": 1}, {"_id": 2, "x": 2}], "$db": "t"});
    call(doc! {"insert": "dst", "documents": [{"_id": 9}], "$db": "t"});
    let pipeline = vec![Bson::Document(doc! {"$match": {"x": {"$gt": 1}}}), Bson::Document(doc! {"$out": "dst"})];
    let reply = call(doc! {"aggregate": "src", "pipeline": pipeline, "cursor": {}, "$db": "t"});
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
    assert!(batch.is_empty(), "{reply}");
    let found = call(doc! {"find": "dst", "filter": {}, "$db": "t"});
    let batch = found.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
    assert_eq!(batch, &vec![Bson::Document(doc! {"_id": 2, "x": 2})]);
    let twice = vec![Bson::Document(doc! {"$project": {"_id": 0}}), Bson::Document(doc! {"$out": "fresh"})];
    call(doc! {"aggregate": "src", "pipeline": twice, "cursor": {}, "$db": "t"});
    let found = call(doc! {"find": "fresh", "filter": {}, "$db": "t"});
    let batch = found.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
    assert_eq!(batch.len(), 2, "documents without _id get one: {found}");
}

#[test]
fn aggregate_1_runs_over_the_database() {
    let shared = shared();
    let body = doc! {
        "aggregate": 1,
        "pipeline": [{"$documents": [{"a": 1}, {"a": 2}, {"a": 3}]}, {"$match": {"a": {"$gte": 2}}}],
        "cursor": {"batchSize": 1},
        "$db": "t",
    };
    let reply = run(&body, &connection(), &shared);
    let cursor = reply.get_document("cursor").expect("cursor");
    assert_eq!(cursor.get_str("ns"), Ok("t.$cmd.aggregate"));
    assert_eq!(cursor.get_array("firstBatch"), Ok(&vec![Bson::Document(doc! {"a": 2})]));
    let id = cursor.get_i64("id").expect("id");
    let more = run(&doc! {"getMore": id, "collection": "$cmd.aggregate", "$db": "t"}, &connection(), &shared);
    let next = more.get_document("cursor").and_then(|c| c.get_array("nextBatch")).expect("next");
    assert_eq!(next, &vec![Bson::Document(doc! {"a": 3})]);

    let lsid = doc! {"id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![7; 16] }};
    let body = doc! {
        "aggregate": 1, "pipeline": [{"$listLocalSessions": {}}, {"$project": {"_id": 0, "id": "$_id.id"}}],
        "cursor": {}, "lsid": lsid.clone(), "$db": "t",
    };
    let reply = run(&body, &connection(), &shared);
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    assert_eq!(batch, &vec![Bson::Document(lsid)], "{reply}");

    let body = doc! {"aggregate": 1, "pipeline": [{"$match": {}}], "cursor": {}, "$db": "t"};
    assert_error(&run(&body, &connection(), &shared), 73, "InvalidNamespace");
}

#[test]
fn list_databases_reports_what_db_stats_measures() {
    let shared = shared();
    let conn = connection();
    let docs: Vec<Bson> = (0..50).map(|i| Bson::Document(doc! {"_id": i, "pad": "x".repeat(100)})).collect();
    run(&doc! {"insert": "c", "documents": docs, "$db": "sized"}, &conn, &shared);
    let stats = run(&doc! {"dbStats": 1, "$db": "sized"}, &conn, &shared);
    let total = stats.get_f64("totalSize").expect("totalSize");
    let listed = run(&doc! {"listDatabases": 1, "$db": "admin"}, &conn, &shared);
    let sized = listed
        .get_array("databases")
        .expect("databases")
        .iter()
        .filter_map(Bson::as_document)
        .find(|d| d.get_str("name") == Ok("sized"))
        .expect("listed")
        .clone();
    let size = sized.get_i64("sizeOnDisk").expect("sizeOnDisk");
    assert!(size > 50 * 100, "{sized}");
    assert_eq!(size as f64, total, "{sized} vs {stats}");
    assert_eq!(listed.get_i64("totalSize"), Ok(size), "{listed}");
}
