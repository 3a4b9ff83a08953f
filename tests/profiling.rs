//! The slow operation log and the `profile` command against the real server:
//! with `slowms: 0` every operation is slow, and `getLog` returns it in MongoDB's
//! shape; levels 1 and 2 are refused.

mod support;

use bson::doc;
use support::{call, start};

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

    let refused = call(addr, doc! {"profile": 1, "$db": "p"});
    assert_eq!(refused.get_i32("code"), Ok(20), "{refused}");
    let back = call(addr, doc! {"profile": 0, "slowms": 100, "sampleRate": 0.5, "$db": "p"});
    assert_eq!(back.get_i32("slowms"), Ok(0), "{back}");
    let now = call(addr, doc! {"profile": -1, "$db": "p"});
    assert_eq!((now.get_i32("slowms"), now.get_f64("sampleRate")), (Ok(100), Ok(0.5)), "{now}");
}
