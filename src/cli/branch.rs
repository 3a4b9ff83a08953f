//! `branchdb branch create|list|info|drop`: the branch commands of SPEC §3 sent to a
//! running server, with a minimal client of our own (one OP_MSG per command).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use bson::{doc, Bson, Document};
use clap::Subcommand;

use crate::error::{Error, Result};
use crate::wire::{self, Message, OpMsg};

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
}

/// Runs a branch command against the server at `uri` and prints the reply.
pub fn run(uri: &str, command: BranchCommand) -> Result<ExitCode> {
    let (db, body) = match command {
        BranchCommand::Create { db, name, from, at } => {
            let mut body = doc! {"createBranch": name};
            if let Some(from) = from {
                body.insert("from", from);
            }
            if let Some(at) = at {
                body.insert("at", parse_point(&at)?);
            }
            (db, body)
        }
        BranchCommand::List { db } => (db, doc! {"listBranches": 1}),
        BranchCommand::Info { db, name } => (db, doc! {"branchInfo": name}),
        BranchCommand::Drop { db, name } => (db, doc! {"dropBranch": name}),
    };
    let reply = send(uri, &db, body)?;
    if reply.get_f64("ok").unwrap_or(0.0) != 1.0 {
        eprintln!(
            "branchdb: {} (code {} {})",
            reply.get_str("errmsg").unwrap_or("command failed"),
            reply.get_i32("code").unwrap_or(0),
            reply.get_str("codeName").unwrap_or("")
        );
        return Ok(ExitCode::FAILURE);
    }
    print_reply(&reply);
    Ok(ExitCode::SUCCESS)
}

fn print_reply(reply: &Document) {
    match reply.get_array("branches") {
        Ok(branches) => {
            println!("{:<24} {:<16} {:>10} {:>10}  created", "name", "parent", "base LSN", "head LSN");
            for branch in branches.iter().filter_map(Bson::as_document) {
                print_branch(branch);
            }
        }
        Err(_) if reply.contains_key("name") => print_branch(reply),
        Err(_) => println!("ok"),
    }
}

fn print_branch(b: &Document) {
    let parent = b.get_str("parent").unwrap_or("-");
    let head = b.get_i64("headLsn").map_or_else(|_| "-".to_owned(), |h| h.to_string());
    let created = b.get_datetime("createdAt").ok().and_then(|t| t.try_to_rfc3339_string().ok()).unwrap_or_default();
    println!(
        "{:<24} {:<16} {:>10} {:>10}  {created}",
        b.get_str("name").unwrap_or("?"),
        parent,
        b.get_i64("baseLsn").unwrap_or(0),
        head
    );
}

/// An LSN or an RFC 3339 UTC time.
fn parse_point(text: &str) -> Result<Bson> {
    if let Ok(lsn) = text.parse::<i64>() {
        return Ok(Bson::Int64(lsn));
    }
    bson::DateTime::parse_rfc3339_str(text)
        .map(Bson::DateTime)
        .map_err(|_| Error::Config(format!("--at takes an LSN or a time like 2026-11-21T10:00:00Z, not '{text}'")))
}

/// Sends one command to the first host of a `mongodb://` URI and returns the reply.
pub(super) fn send(uri: &str, db: &str, mut body: Document) -> Result<Document> {
    let host = uri
        .strip_prefix("mongodb://")
        .and_then(|rest| rest.split(['/', '?']).next())
        .and_then(|hosts| hosts.rsplit('@').next())
        .and_then(|hosts| hosts.split(',').next())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::Config(format!("'{uri}' is not a mongodb:// URI")))?;
    let host = if host.contains(':') { host.to_owned() } else { format!("{host}:27017") };
    let mut stream = TcpStream::connect(&host).map_err(|e| Error::Config(format!("cannot connect to {host}: {e}")))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    body.insert("$db", db);
    stream.write_all(&OpMsg::encode_reply(1, 0, &body)?)?;
    let mut header = [0u8; 4];
    stream.read_exact(&mut header)?;
    let len = i32::from_le_bytes(header) as usize;
    if !(16..=48_000_000).contains(&len) {
        return Err(Error::protocol(format!("reply of {len} bytes")));
    }
    let mut frame = header.to_vec();
    frame.resize(len, 0);
    stream.read_exact(&mut frame[4..])?;
    match wire::decode(&frame)? {
        (_, Message::Msg(msg)) => Ok(msg.command),
        _ => Err(Error::protocol("the server did not answer with OP_MSG")),
    }
}
