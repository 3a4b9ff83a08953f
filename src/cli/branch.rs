//! `branchdb branch ...`: the branch commands of SPEC §3 and §3.1 sent to a running
//! server, printed for people (tables, `+`/`-`/`~` lines for a diff) or, with
//! `--json`, as one JSON document per line for scripts.

use std::process::ExitCode;

use bson::{doc, Bson, Document};
use clap::Subcommand;

use super::client::Connection;
use crate::error::{Error, Result};

/// The server's address when `--uri` is not given.
pub const DEFAULT_URI: &str = "mongodb://127.0.0.1:27017";

#[derive(Subcommand)]
pub enum BranchCommand {
    /// Create a branch (from main, now, unless told otherwise).
    Create {
        db: String,
        name: String,
        /// The branch to start from [default: main]
        #[arg(long)]
        from: Option<String>,
        /// Where in the parent's history: an LSN, or a UTC time like 2026-11-21T10:00:00Z
        #[arg(long)]
        at: Option<String>,
    },
    /// List the branches of a database.
    List { db: String },
    /// Show one branch.
    Info { db: String, name: String },
    /// Drop a branch.
    Drop { db: String, name: String },
    /// What changes one state into another: `+` inserted, `-` deleted, `~` updated.
    /// A state is a branch (its head) or branch~<LSN or time>.
    Diff {
        db: String,
        from: String,
        to: String,
        /// Only this collection
        #[arg(long)]
        collection: Option<String>,
    },
    /// Merge a branch into another (three-way); exits 1 when conflicts stop it.
    Merge {
        db: String,
        source: String,
        /// The branch to merge into [default: the source's parent]
        #[arg(long)]
        into: Option<String>,
        /// How conflicts are settled: fail, ours (the target wins) or theirs
        #[arg(long, default_value = "fail")]
        strategy: String,
        /// Show what the merge would do; write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Move a branch's head to another state (its own past, another branch).
    Reset {
        db: String,
        name: String,
        /// The state: a branch, or branch~<LSN or time>
        #[arg(long)]
        to: String,
    },
    /// Change a branch's settings.
    Update {
        db: String,
        name: String,
        /// No drop, no reset (--protected=false to lift)
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        protected: Option<bool>,
        /// Writes fail (--read-only=false to lift)
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        read_only: Option<bool>,
        /// Drop the branch after this UTC time (2026-12-31T00:00:00Z), or "never"
        #[arg(long)]
        expire_at: Option<String>,
        /// A note shown by list and info ("" to remove it)
        #[arg(long)]
        description: Option<String>,
    },
    /// The records that wrote a branch, newest first.
    Log {
        db: String,
        name: String,
        /// At most this many
        #[arg(long)]
        limit: Option<i64>,
    },
}

/// Runs a branch command against the server at `uri` and prints the reply.
pub fn run(uri: &str, json: bool, command: BranchCommand) -> Result<ExitCode> {
    let mut connection = Connection::open(uri)?;
    let (db, body, shape) = request(command)?;
    let outcome = match shape {
        Shape::Cursor(_) => connection.cursor(&db, body).map(Outcome::Documents),
        Shape::Reply(_) => {
            let reply = connection.command(&db, body)?;
            match reply.get_f64("ok").unwrap_or(0.0) == 1.0 {
                true => Ok(Outcome::Reply(reply)),
                false => Err(reply),
            }
        }
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(reply) => {
            eprintln!(
                "branchdb: {} (code {} {})",
                reply.get_str("errmsg").unwrap_or("command failed"),
                reply.get_i32("code").unwrap_or(0),
                reply.get_str("codeName").unwrap_or("")
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    if json {
        match &outcome {
            Outcome::Reply(reply) => print_json(reply),
            Outcome::Documents(docs) => docs.iter().for_each(print_json),
        }
    } else {
        match (&shape, &outcome) {
            (Shape::Cursor(print), Outcome::Documents(docs)) => print(docs),
            (Shape::Reply(print), Outcome::Reply(reply)) => print(reply),
            _ => {}
        }
    }
    // A merge that conflicts stopped is a failure for scripts (a dry run too: it
    // says the merge would stop).
    let stopped = matches!(&outcome, Outcome::Reply(r) if r.get_bool("merged") == Ok(false)
        && r.get_i64("conflictCount").unwrap_or(0) > 0
        && r.get_str("strategy").unwrap_or("fail") == "fail");
    Ok(if stopped { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// How a command answers, and how its answer is printed for people.
enum Shape {
    Reply(fn(&Document)),
    Cursor(fn(&[Document])),
}

enum Outcome {
    Reply(Document),
    Documents(Vec<Document>),
}

/// The database, the command, and its shape.
fn request(command: BranchCommand) -> Result<(String, Document, Shape)> {
    Ok(match command {
        BranchCommand::Create { db, name, from, at } => {
            let mut body = doc! {"createBranch": name};
            if let Some(from) = from {
                body.insert("from", from);
            }
            if let Some(at) = at {
                body.insert("at", parse_point(&at)?);
            }
            (db, body, Shape::Reply(print_branches))
        }
        BranchCommand::List { db } => (db, doc! {"listBranches": 1}, Shape::Reply(print_branches)),
        BranchCommand::Info { db, name } => (db, doc! {"branchInfo": name}, Shape::Reply(print_branches)),
        BranchCommand::Drop { db, name } => (db, doc! {"dropBranch": name}, Shape::Reply(print_ok)),
        BranchCommand::Diff { db, from, to, collection } => {
            let mut body = doc! {"diff": from, "with": to};
            if let Some(collection) = collection {
                body.insert("collection", collection);
            }
            (db, body, Shape::Cursor(print_diff))
        }
        BranchCommand::Merge { db, source, into, strategy, dry_run } => {
            let mut body = doc! {"mergeBranch": source, "strategy": strategy, "dryRun": dry_run};
            if let Some(into) = into {
                body.insert("into", into);
            }
            (db, body, Shape::Reply(print_merge))
        }
        BranchCommand::Reset { db, name, to } => (db, doc! {"resetBranch": name, "to": to}, Shape::Reply(print_reset)),
        BranchCommand::Update { db, name, protected, read_only, expire_at, description } => {
            let mut body = doc! {"updateBranch": name};
            if let Some(protected) = protected {
                body.insert("protected", protected);
            }
            if let Some(read_only) = read_only {
                body.insert("readOnly", read_only);
            }
            if let Some(at) = expire_at {
                body.insert("expireAt", if at == "never" { Bson::Null } else { parse_time(&at, "--expire-at")? });
            }
            if let Some(text) = description {
                body.insert("description", if text.is_empty() { Bson::Null } else { Bson::String(text) });
            }
            (db, body, Shape::Reply(print_ok))
        }
        BranchCommand::Log { db, name, limit } => {
            let mut body = doc! {"branchLog": name};
            if let Some(limit) = limit {
                body.insert("limit", limit);
            }
            (db, body, Shape::Cursor(print_log))
        }
    })
}

fn print_json(doc: &Document) {
    let mut doc = doc.clone();
    doc.remove("operationTime");
    doc.remove("$clusterTime");
    println!("{}", Bson::Document(doc).into_relaxed_extjson());
}

fn print_ok(_: &Document) {
    println!("ok");
}

fn print_branches(reply: &Document) {
    println!("{:<24} {:<16} {:>10} {:>10}  {:<20}  settings", "name", "parent", "base LSN", "head LSN", "created");
    match reply.get_array("branches") {
        Ok(branches) => branches.iter().filter_map(Bson::as_document).for_each(print_branch),
        Err(_) => print_branch(reply),
    }
}

fn print_branch(b: &Document) {
    let parent = b.get_str("parent").unwrap_or("-");
    let head = b.get_i64("headLsn").map_or_else(|_| "-".to_owned(), |h| h.to_string());
    let created = b.get_datetime("createdAt").ok().map(|t| time_text(*t)).unwrap_or_default();
    let mut settings = Vec::new();
    if b.get_bool("protected") == Ok(true) {
        settings.push("protected".to_owned());
    }
    if b.get_bool("readOnly") == Ok(true) {
        settings.push("read-only".to_owned());
    }
    if let Ok(at) = b.get_datetime("expireAt") {
        settings.push(format!("expires {}", time_text(*at)));
    }
    if let Ok(text) = b.get_str("description") {
        settings.push(format!("\"{text}\""));
    }
    println!(
        "{:<24} {:<16} {:>10} {:>10}  {created:<20}  {}",
        b.get_str("name").unwrap_or("?"),
        parent,
        b.get_i64("baseLsn").unwrap_or(0),
        head,
        settings.join(", ")
    );
}

/// `+ coll _id {after}`, `- coll _id`, `~ coll _id field: before → after, ...`.
fn print_diff(entries: &[Document]) {
    for entry in entries {
        let coll = entry.get_document("ns").and_then(|ns| ns.get_str("coll")).unwrap_or("?");
        let id = entry.get("_id").map(value_text).unwrap_or_default();
        match entry.get_str("op").unwrap_or("?") {
            "insert" => println!("+ {coll} {id} {}", entry.get("after").map(value_text).unwrap_or_default()),
            "delete" => println!("- {coll} {id}"),
            _ => {
                let before = entry.get_document("before").ok();
                let description = entry.get_document("updateDescription").ok();
                let mut changes = Vec::new();
                if let Some(updated) = description.and_then(|d| d.get_document("updatedFields").ok()) {
                    for (field, value) in updated {
                        let old = before.and_then(|b| b.get(field)).map_or("(none)".to_owned(), value_text);
                        changes.push(format!("{field}: {old} → {}", value_text(value)));
                    }
                }
                if let Some(removed) = description.and_then(|d| d.get_array("removedFields").ok()) {
                    changes.extend(removed.iter().filter_map(Bson::as_str).map(|f| format!("{f}: removed")));
                }
                println!("~ {coll} {id} {}", changes.join(", "));
            }
        }
    }
    println!("{} change{}", entries.len(), if entries.len() == 1 { "" } else { "s" });
}

fn print_merge(reply: &Document) {
    let count = |field: &str| reply.get_i64(field).unwrap_or(0);
    let into = reply.get_str("into").unwrap_or("?");
    let base = reply.get_document("mergeBase").ok();
    let base = base
        .map_or(String::new(), |b| format!("{}~{}", b.get_str("branch").unwrap_or("?"), b.get_i64("lsn").unwrap_or(0)));
    let counts = format!("{} inserted, {} updated, {} deleted", count("inserted"), count("updated"), count("deleted"));
    match (reply.get_bool("merged"), reply.get_bool("dryRun")) {
        (Ok(true), _) => println!("merged into {into} at LSN {} (base {base}): {counts}", count("lsn")),
        (_, Ok(true)) => println!("dry run into {into} (base {base}): would write {counts}"),
        _ => println!("not merged into {into} (base {base}): conflicts, nothing written"),
    }
    let conflicts = reply.get_array("conflicts").map(Vec::as_slice).unwrap_or_default();
    if !conflicts.is_empty() {
        println!("{} conflict{}:", count("conflictCount"), if count("conflictCount") == 1 { "" } else { "s" });
        println!("  {:<16} {:<16} {:<16} {:<20} {:<20}", "collection", "_id", "field", "ours", "theirs");
    }
    for conflict in conflicts.iter().filter_map(Bson::as_document) {
        let coll = conflict.get_document("ns").and_then(|ns| ns.get_str("coll")).unwrap_or("?");
        let id = conflict.get("_id").map(value_text).unwrap_or_default();
        let side = |name: &str, field: &str| match conflict.get(name) {
            Some(Bson::Document(doc)) => doc.get(field).map_or("(none)".to_owned(), value_text),
            _ => "(deleted)".to_owned(),
        };
        let fields: Vec<&str> =
            conflict.get_array("fields").map(|f| f.iter().filter_map(Bson::as_str).collect()).unwrap_or_default();
        for field in if fields.is_empty() { vec!["-"] } else { fields } {
            println!("  {coll:<16} {id:<16} {field:<16} {:<20} {:<20}", side("ours", field), side("theirs", field));
        }
    }
}

fn print_reset(reply: &Document) {
    println!(
        "reset at LSN {}: the branch now starts from LSN {}",
        reply.get_i64("lsn").unwrap_or(0),
        reply.get_i64("baseLsn").unwrap_or(0)
    );
}

fn print_log(entries: &[Document]) {
    println!("{:>10}  {:<24}  what", "LSN", "time");
    for entry in entries {
        let time = entry.get_datetime("time").map(|t| time_text(*t)).unwrap_or_default();
        let mut what = Vec::new();
        if let Ok(ops) = entry.get_document("ops") {
            for (coll, counts) in ops {
                let counts = counts.as_document().cloned().unwrap_or_default();
                let n = |f: &str| counts.get_i64(f).unwrap_or(0);
                what.push(format!("{coll} +{} ~{} -{}", n("inserted"), n("updated"), n("deleted")));
            }
        }
        if let Ok(ddl) = entry.get_array("ddl") {
            what.extend(ddl.iter().filter_map(Bson::as_str).map(str::to_owned));
        }
        for (field, verb) in [("merge", "merge of"), ("created", "created from"), ("reset", "reset to")] {
            if let Ok(from) = entry.get_document(field) {
                match from.get_str("from").or_else(|_| from.get_str("to")) {
                    Ok(name) => what.push(format!("{verb} {name}~{}", from.get_i64("lsn").unwrap_or(0))),
                    Err(_) => what.push("created".to_owned()),
                }
            }
        }
        if entry.contains_key("lsid") {
            what.push(format!("txnNumber {}", entry.get_i64("txnNumber").unwrap_or(0)));
        }
        println!("{:>10}  {time:<24}  {}", entry.get_i64("lsn").unwrap_or(0), what.join("; "));
    }
}

fn value_text(value: &Bson) -> String {
    value.clone().into_relaxed_extjson().to_string()
}

fn time_text(time: bson::DateTime) -> String {
    time.try_to_rfc3339_string().unwrap_or_else(|_| time.timestamp_millis().to_string())
}

/// An LSN or an RFC 3339 UTC time.
fn parse_point(text: &str) -> Result<Bson> {
    if let Ok(lsn) = text.parse::<i64>() {
        return Ok(Bson::Int64(lsn));
    }
    parse_time(text, "--at")
        .map_err(|_| Error::Config(format!("--at takes an LSN or a time like 2026-11-21T10:00:00Z, not '{text}'")))
}

fn parse_time(text: &str, flag: &str) -> Result<Bson> {
    bson::DateTime::parse_rfc3339_str(text)
        .map(Bson::DateTime)
        .map_err(|_| Error::Config(format!("{flag} takes a time like 2026-11-21T10:00:00Z, not '{text}'")))
}
