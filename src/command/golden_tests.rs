//! Golden command scripts: each case runs its commands in order on a new server
//! and checks every reply against what MongoDB answers, as its manual documents it
//! (`src/command/golden/<area>.json`, read by [`crate::query::golden::load`]).
//!
//! A case is `{name, steps: [...]}`; a step is `{run: <command>}` (which must
//! succeed), with `reply: {...}` (each field given must be the reply's: a document
//! at least the fields given, an array exactly; numbers compared by value) or `error: <code>` / `error: {code, errmsg}`,
//! or `writeError: <code>` for a write whose first write error has that code; a
//! successful step may also list fields its reply must not have (`absent: [...]`).
//! A command without `$db` runs on database `g`.

use std::sync::Arc;

use bson::{Bson, Document};

use crate::command::run;
use crate::context::{ConnectionInfo, Context};

/// Numbers of any type compared by value; documents and arrays element by element.
fn same(expected: &Bson, actual: &Bson) -> bool {
    let number = |value: &Bson| match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    };
    match (expected, actual) {
        (Bson::Document(e), Bson::Document(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|((ek, ev), (ak, av))| ek == ak && same(ev, av))
        }
        (Bson::Array(e), Bson::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(e, a)| same(e, a)),
        _ => match (number(expected), number(actual)) {
            (Some(e), Some(a)) => e == a,
            _ => expected == actual,
        },
    }
}

/// Whether `actual` has every field of `expected` with the same value: documents
/// match field by field (others may be there too), arrays and what they hold
/// exactly.
fn fits(expected: &Bson, actual: &Bson) -> bool {
    match (expected, actual) {
        (Bson::Document(e), Bson::Document(a)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|a| fits(v, a))),
        _ => same(expected, actual),
    }
}

/// What is wrong with `reply` for `step`, if anything.
fn check(step: &Document, reply: &Document) -> Option<String> {
    if let Some(code) = step.get("writeError") {
        let first = reply.get_array("writeErrors").ok().and_then(|errors| errors.first()?.as_document());
        let found = first.and_then(|error| error.get("code"));
        return (!found.is_some_and(|found| same(code, found))).then(|| format!("expected a write error {code}"));
    }
    match step.get("error") {
        Some(expected) => {
            let (code, errmsg) = match expected {
                Bson::Document(e) => (e.get("code").cloned().unwrap_or(Bson::Null), e.get_str("errmsg").ok()),
                code => (code.clone(), None),
            };
            let code_ok = reply.get("code").is_some_and(|c| same(&code, c));
            let message_ok = errmsg.is_none_or(|m| reply.get_str("errmsg") == Ok(m));
            (!code_ok || !message_ok).then(|| format!("expected error {expected}"))
        }
        None => {
            if reply.get("ok").is_none_or(|ok| !same(&Bson::Int32(1), ok)) {
                return Some("expected ok: 1".to_owned());
            }
            let present: Vec<&str> = step
                .get_array("absent")
                .map(|fields| fields.iter().filter_map(Bson::as_str).filter(|f| reply.contains_key(f)).collect())
                .unwrap_or_default();
            if !present.is_empty() {
                return Some(format!("fields {present:?} should be absent"));
            }
            let expected = step.get_document("reply").ok()?;
            let wrong: Vec<&str> = expected
                .iter()
                .filter(|(k, v)| reply.get(k.as_str()).is_none_or(|a| !fits(v, a)))
                .map(|(k, _)| k.as_str())
                .collect();
            (!wrong.is_empty()).then(|| format!("fields {wrong:?} differ from {expected}"))
        }
    }
}

/// Runs every case of the golden file `json`; returns how many there were.
fn run_file(json: &str) -> usize {
    let (mut total, mut failures) = (0, Vec::new());
    for group in crate::query::golden::load(json) {
        for case in group.body.get_array("cases").expect("cases") {
            total += 1;
            let case = case.as_document().expect("a case is an object");
            let name = case.get_str("name").expect("a case has a name");
            let shared: Arc<Context> = Context::for_tests();
            for (index, step) in case.get_array("steps").expect("steps").iter().enumerate() {
                let step = step.as_document().expect("a step is an object");
                let mut body = step.get_document("run").expect("a step runs a command").clone();
                if !body.contains_key("$db") {
                    body.insert("$db", "g");
                }
                let reply = run(&body, &ConnectionInfo::for_tests(1), &shared);
                if let Some(wrong) = check(step, &reply) {
                    failures.push(format!("{} / {name}, step {index}: {body}\n  {wrong}\n  got {reply}", group.name));
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    total
}

#[test]
fn golden_collection_types() {
    assert_eq!(run_file(include_str!("golden/collection-types.json")), 108, "the number of cases");
}

#[test]
fn golden_capped_collections() {
    assert_eq!(run_file(include_str!("golden/capped.json")), 78, "the number of cases");
}

#[test]
fn golden_time_series_collections() {
    assert_eq!(run_file(include_str!("golden/timeseries.json")), 100, "the number of cases");
}

#[test]
fn golden_collation() {
    assert_eq!(run_file(include_str!("golden/collation.json")), 218, "the number of cases");
}

#[test]
fn golden_text() {
    assert_eq!(run_file(include_str!("golden/text.json")), 182, "the number of cases");
}

#[test]
fn golden_geo() {
    assert_eq!(run_file(include_str!("golden/geo.json")), 236, "the number of cases");
}

#[test]
fn golden_index_types() {
    assert_eq!(run_file(include_str!("golden/index-types.json")), 92, "the number of cases");
}

#[test]
fn golden_diagnostics() {
    assert_eq!(run_file(include_str!("golden/diagnostics.json")), 2, "the number of cases");
}

#[test]
fn golden_bulk_write() {
    assert_eq!(run_file(include_str!("golden/bulk-write.json")), 15, "the number of cases");
}

#[test]
fn golden_host_administration() {
    assert_eq!(run_file(include_str!("golden/host-admin.json")), 5, "the number of cases");
}

#[test]
fn golden_javascript() {
    assert_eq!(run_file(include_str!("golden/javascript.json")), 107, "the number of cases");
}

#[test]
fn golden_map_reduce() {
    assert_eq!(run_file(include_str!("golden/map-reduce.json")), 36, "the number of cases");
}

#[test]
fn golden_role_commands() {
    assert_eq!(run_file(include_str!("golden/role-commands.json")), 24, "the number of cases");
}

#[test]
fn golden_filemd5_and_shutdown() {
    assert_eq!(run_file(include_str!("golden/host-lifecycle.json")), 39, "the number of cases");
}

#[test]
fn golden_sessions() {
    assert_eq!(run_file(include_str!("golden/sessions.json")), 22, "the number of cases");
}

#[test]
fn golden_write_concern() {
    assert_eq!(run_file(include_str!("golden/write-concern.json")), 102, "the number of cases");
}

#[test]
fn golden_index_stats() {
    assert_eq!(run_file(include_str!("golden/index-stats.json")), 31, "the number of cases");
}

#[test]
fn golden_cluster_parameters() {
    assert_eq!(run_file(include_str!("golden/cluster-parameters.json")), 45, "the number of cases");
}

#[test]
fn golden_change_stream_stages() {
    assert_eq!(run_file(include_str!("golden/change-stream-stages.json")), 10, "the number of cases");
}

#[test]
fn golden_plan_cache() {
    assert_eq!(run_file(include_str!("golden/plan-cache.json")), 39, "the number of cases");
}

#[test]
fn golden_maintenance() {
    assert_eq!(run_file(include_str!("golden/maintenance.json")), 66, "the number of cases");
}

#[test]
fn golden_query_settings_and_stats() {
    assert_eq!(run_file(include_str!("golden/query-settings.json")), 40, "the number of cases");
}

#[test]
fn golden_decimal_updates() {
    assert_eq!(run_file(include_str!("golden/decimal-updates.json")), 8, "the number of cases");
}

#[test]
fn golden_bucket_auto_granularity() {
    assert_eq!(run_file(include_str!("golden/bucket-auto-granularity.json")), 8, "the number of cases");
}
