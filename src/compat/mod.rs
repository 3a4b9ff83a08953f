//! `docs/COMPATIBILITY.md`: every stage, operator and command of the MongoDB 8.0
//! reference with its status here, found by asking the registries themselves
//! (the command table, the pipeline, expression, accumulator and window parsers,
//! the filter and update parsers). The test fails when the file is stale;
//! `BRANCHDB_WRITE_COMPATIBILITY=1 cargo test --lib compatibility` rewrites it.

mod reference;

use bson::{doc, Bson, Document};

use self::reference::{
    command_out_of_scope, ACCUMULATORS, COMMANDS, ENTERPRISE_AUDITING, EXPRESSIONS, OUT_OF_SCOPE, QUERY_OPERATORS,
    REMOVED, STAGES, TOP_LEVEL_QUERY_OPERATORS, UPDATE_OPERATORS, WINDOW_OPERATORS,
};
use crate::error::ErrorCode;
use crate::query::expr::{self, Variables};
use crate::query::pipeline::Pipeline;
use crate::query::{Filter, Update};

/// Stages the `aggregate` command handles before the pipeline: first stages that
/// make the documents.
const LEADING_STAGES: &[&str] = &[
    "$changeStream",
    "$collStats",
    "$currentOp",
    "$documents",
    "$indexStats",
    "$listLocalSessions",
    "$listSessions",
    "$planCacheStats",
    "$querySettings",
    "$queryStats",
];

/// A row's status.
#[derive(Clone, Copy, PartialEq)]
enum Status {
    Supported,
    Missing,
    OutOfScope,
    /// Listed by the 8.0 manual as removed from MongoDB: 8.0 answers 59, and so
    /// does branchdb.
    Removed,
    /// MongoDB Enterprise's auditing, which branchdb does not have: it answers as
    /// Enterprise started without auditing does.
    EnterpriseAuditing,
}

impl Status {
    fn of(known: bool, out_of_scope: bool) -> Status {
        match (known, out_of_scope) {
            (true, _) => Status::Supported,
            (false, true) => Status::OutOfScope,
            (false, false) => Status::Missing,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Supported => "supported",
            Status::Missing => "missing",
            Status::OutOfScope => "out of scope",
            Status::Removed => "removed from MongoDB (59, as 8.0 answers)",
            Status::EnterpriseAuditing => "Enterprise auditing, not built: 344, as Enterprise without auditing answers",
        }
    }
}

/// Runs an aggregation pipeline of one stage through the parser.
fn parses_pipeline(stage: Document) -> Result<(), ErrorCode> {
    Pipeline::parse(&[Bson::Document(stage)], &Variables::none()).map(|_| ()).map_err(|e| e.code())
}

fn stage_known(name: &str) -> bool {
    LEADING_STAGES.contains(&name) || !matches!(parses_pipeline(doc! {name: {}}), Err(ErrorCode::Location40324))
}

fn accumulator_known(name: &str) -> bool {
    let group = doc! {"$group": {"_id": null, "out": {name: "$x"}}};
    !matches!(parses_pipeline(group), Err(ErrorCode::Location15952))
}

fn window_operator_known(name: &str) -> bool {
    let stage = doc! {"$setWindowFields": {"sortBy": {"x": 1}, "output": {"out": {name: "$x"}}}};
    match Pipeline::parse(&[Bson::Document(stage)], &Variables::none()) {
        Ok(_) => true,
        Err(error) => !error.message().starts_with("Unrecognized window function"),
    }
}

fn query_operator_known(name: &str, argument: &str, top_level: bool) -> bool {
    let argument: serde_json::Value = serde_json::from_str(argument).unwrap_or_default();
    let argument = Bson::try_from(argument).unwrap_or(Bson::Null);
    let filter = if top_level {
        doc! {name: argument}
    } else {
        doc! {"a": {name: argument}}
    };
    match Filter::parse_query(&filter, &Variables::none()) {
        Ok(_) => true,
        Err(error) => !error.message().starts_with("unknown"),
    }
}

fn update_operator_known(name: &str) -> bool {
    match Update::parse(&Bson::Document(doc! {name: {"a": 1}}), &[], &Variables::none()) {
        Ok(_) => true,
        Err(error) => !error.message().starts_with("Unknown modifier"),
    }
}

/// One section of the table: a title and its rows.
fn section(out: &mut String, title: &str, rows: Vec<(String, Status)>) {
    let supported = rows.iter().filter(|(_, s)| *s == Status::Supported).count();
    out.push_str(&format!(
        "\n## {title}\n\n{supported} of {} supported.\n\n| name | status |\n|---|---|\n",
        rows.len()
    ));
    for (name, status) in rows {
        out.push_str(&format!("| `{name}` | {} |\n", status.label()));
    }
}

/// The whole file.
fn generate() -> String {
    let mut out = String::from(
        "# Compatibility with MongoDB 8.0\n\n\
         Every aggregation stage, expression operator, accumulator, window operator, query\n\
         operator, update operator and database command of the MongoDB 8.0 reference, and\n\
         whether branchdb has it. \"supported\" means the server's own parsers and command\n\
         table know the name (its behaviour is what the golden cases and the specification\n\
         suites test); \"out of scope\" are Atlas Search, queryable encryption, and sharding\n\
         and replica-set administration, which answer with MongoDB's errors for a server\n\
         that lacks them; \"removed\" are commands the 8.0 manual lists as removed, which\n\
         8.0 and branchdb answer with 59.\n\n\
         Generated by `src/compat` from the registries; a test fails when it is stale\n\
         (`BRANCHDB_WRITE_COMPATIBILITY=1 cargo test --lib compatibility` rewrites it).\n",
    );
    let rows = |names: &[&str], known: &dyn Fn(&str) -> bool| -> Vec<(String, Status)> {
        names.iter().map(|name| (name.to_string(), Status::of(known(name), OUT_OF_SCOPE.contains(name)))).collect()
    };
    section(&mut out, "Aggregation stages", rows(STAGES, &stage_known));
    section(&mut out, "Expression operators", rows(EXPRESSIONS, &expr::is_operator));
    section(&mut out, "Accumulators", rows(ACCUMULATORS, &accumulator_known));
    section(&mut out, "Window operators", rows(WINDOW_OPERATORS, &window_operator_known));
    let mut query: Vec<(String, Status)> = QUERY_OPERATORS
        .iter()
        .map(|(name, arg)| (name.to_string(), Status::of(query_operator_known(name, arg, false), false)))
        .collect();
    query.extend(
        TOP_LEVEL_QUERY_OPERATORS
            .iter()
            .map(|(name, arg)| (name.to_string(), Status::of(query_operator_known(name, arg, true), false))),
    );
    section(&mut out, "Query operators", query);
    section(&mut out, "Update operators", rows(UPDATE_OPERATORS, &update_operator_known));
    let commands = COMMANDS
        .iter()
        .map(|name| {
            let known = crate::command::lookup(name).is_some();
            let status = if !known && REMOVED.contains(name) {
                Status::Removed
            } else if ENTERPRISE_AUDITING.contains(name) {
                Status::EnterpriseAuditing
            } else {
                Status::of(known, command_out_of_scope(name))
            };
            (name.to_string(), status)
        })
        .collect();
    section(&mut out, "Database commands", commands);
    out.push_str(KNOWN_DIFFERENCES);
    out
}

/// Where a supported entry still behaves otherwise than MongoDB 8.0.
const KNOWN_DIFFERENCES: &str = "
## Known differences

- **Decimal128 in `_id` and index keys.** A key holds a number as its nearest
  double (with the exact remainder of a large Int64), so a Decimal128 shares its
  key with the numbers within a double's precision of it (`NumberDecimal(\"0.1\")`
  and the double `0.1`, which MongoDB compares exactly and finds different).
  Queries compare the values themselves and are exact, and unique indexes (inserts,
  updates, index builds, `collMod` to `unique`) tell such numbers apart by value as
  MongoDB does. Two things still differ: an `_id` that shares its key with a stored
  document's different `_id` is refused with `BadValue` (2), where MongoDB stores
  both; and a sort served by an index puts such numbers in `_id` order rather than
  value order (a sort in memory orders them by value).
";

#[test]
fn compatibility_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/COMPATIBILITY.md");
    let generated = generate();
    if std::env::var_os("BRANCHDB_WRITE_COMPATIBILITY").is_some() {
        std::fs::write(path, &generated).expect("write docs/COMPATIBILITY.md");
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/COMPATIBILITY.md is stale: run BRANCHDB_WRITE_COMPATIBILITY=1 cargo test --lib compatibility"
    );
}
