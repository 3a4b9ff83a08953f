//! `aggregate` with `$changeStream` first: opens a change stream (`crate::stream`)
//! over a collection, a database branch (`aggregate: 1`) or the whole server
//! (`admin`, `allChangesForCluster: true`), and serves it through a tailable cursor
//! whose `getMore`s return the events after it, with `postBatchResumeToken`. A
//! `getMore` that finds nothing waits first, off the blocking pool, until the feed
//! has a record that touches the stream's scope or `maxTimeMS` passes ([`wait`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Bson, Document};

use super::invocation::SessionUse;
use super::Placement;
use super::{args, Invocation};
use crate::context::Context;
use crate::cursor::{self, Cursor, Source, StreamSource};
use crate::error::{Error, ErrorCode, Result};
use crate::query::pipeline::Pipeline;
use crate::stream::{BeforeChange, ChangeStream, FullDocument, Options, Scope, Start, Token, INTERNAL_DATABASES};

/// How long a `getMore` of a change stream waits for events without `maxTimeMS`, as
/// MongoDB's awaitData cursors.
const DEFAULT_AWAIT: Duration = Duration::from_secs(1);

/// Whether a pipeline opens a change stream.
pub fn is_change_stream(stages: &[Bson]) -> bool {
    stages.first().and_then(Bson::as_document).is_some_and(|stage| stage.contains_key("$changeStream"))
}

/// Opens the stream `stages` asks for and returns its first batch.
pub fn open(inv: &Invocation<'_>, stages: &[Bson], batch_size: Option<i64>) -> Result<Document> {
    let spec = match stages.first().and_then(Bson::as_document).and_then(|s| s.get("$changeStream")) {
        Some(Bson::Document(spec)) => spec,
        Some(other) => {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                format!("the $changeStream stage must be an object, not {}", args::type_name(Some(other))),
            ))
        }
        None => return Err(Error::Internal("not a change stream".into())),
    };
    if matches!(inv.session, Some(SessionUse::Transaction(_))) {
        return Err(Error::command(
            ErrorCode::OperationNotSupportedInTransaction,
            "$changeStream is not allowed in a transaction",
        ));
    }
    let mut parsed = parse(spec)?;
    parsed.options.images_expire_after = super::cluster_parameters::images_expire_after(inv.context)?;
    let scope = scope(inv, parsed.all_changes_for_cluster)?;
    let (stages, split) = split_stage(&stages[1..])?;
    let resume_fragment = match parsed.start {
        Start::After(Token { position, fragment: Some(fragment), .. }) if split => Some((position, fragment)),
        Start::After(Token { fragment: Some(_), .. }) => {
            return Err(Error::command(
                ErrorCode::ChangeStreamFatalError,
                "cannot resume stream from a fragment of a split event: the pipeline must end with \
                 $changeStreamSplitLargeEvent, as the one that split it did",
            ))
        }
        _ => None,
    };
    let pipeline = Pipeline::parse_change_stream(stages, &args::variables(inv.body, "aggregate")?)?
        .with_budget(inv.context.memory.clone());
    let ns = match &scope {
        Scope::Collection { collection, .. } => args::namespace(inv, collection),
        _ => format!("{}.$cmd.aggregate", inv.db),
    };
    let stream = ChangeStream::open(&inv.context.feed, scope, parsed.options, parsed.start).map_err(labelled)?;
    let view = inv.latest_view()?;
    let source = Source::Stream(Box::new(StreamSource::new(stream, pipeline, split, resume_fragment)));
    let cursor = Cursor::plain(ns, view.snapshot.clone(), source, None, inv.cursor_owner());
    let max = batch_size.map_or(cursor::DEFAULT_FIRST_BATCH, |b| b as usize);
    let mut reply =
        cursor::reply_stream_batch(&inv.context.cursors, None, cursor, max, inv.interrupt()).map_err(labelled)?;
    reply.insert("operationTime", inv.context.store.operation_time());
    Ok(reply)
}

/// The stages after `$changeStream` without a final `$changeStreamSplitLargeEvent`,
/// and whether it was there: it must be last, with an empty specification.
fn split_stage(stages: &[Bson]) -> Result<(&[Bson], bool)> {
    const NAME: &str = "$changeStreamSplitLargeEvent";
    let Some(at) = stages.iter().position(|stage| stage.as_document().is_some_and(|s| s.contains_key(NAME))) else {
        return Ok((stages, false));
    };
    match stages[at].as_document().and_then(|stage| stage.get(NAME)) {
        Some(Bson::Document(spec)) if spec.is_empty() => {}
        _ => {
            return Err(Error::command(
                ErrorCode::Location7182800,
                "$changeStreamSplitLargeEvent spec should be an empty object",
            ))
        }
    }
    if at + 1 != stages.len() {
        return Err(Error::command(
            ErrorCode::Location7182802,
            "$changeStreamSplitLargeEvent must be the last stage in the pipeline",
        ));
    }
    Ok((&stages[..at], true))
}

/// A `$changeStream` stage's options.
struct Parsed {
    options: Options,
    start: Start,
    all_changes_for_cluster: bool,
}

fn parse(spec: &Document) -> Result<Parsed> {
    let mut options = Options {
        full_document: FullDocument::Default,
        before_change: BeforeChange::Off,
        expanded: false,
        images_expire_after: None,
    };
    let mut start = Start::Now;
    let starts: Vec<&str> = spec
        .keys()
        .map(String::as_str)
        .filter(|k| matches!(*k, "resumeAfter" | "startAfter" | "startAtOperationTime"))
        .collect();
    if starts.len() > 1 {
        return Err(Error::command(
            ErrorCode::Location40674,
            format!("Only one type of resume option is allowed, but multiple were found: {}", starts.join(", ")),
        ));
    }
    let mut all_changes_for_cluster = false;
    let string = |name: &str, value: &Bson| match value {
        Bson::String(s) => Ok(s.clone()),
        other => Err(Error::type_mismatch(format!(
            "BSON field '$changeStream.{name}' is the wrong type '{}', expected type 'string'",
            args::type_name(Some(other))
        ))),
    };
    let boolean = |name: &str, value: &Bson| match value {
        Bson::Boolean(b) => Ok(*b),
        other => Err(Error::type_mismatch(format!(
            "BSON field '$changeStream.{name}' is the wrong type '{}', expected type 'bool'",
            args::type_name(Some(other))
        ))),
    };
    for (name, value) in spec {
        match name.as_str() {
            "fullDocument" => {
                options.full_document = match string(name, value)?.as_str() {
                    "default" => FullDocument::Default,
                    "updateLookup" => FullDocument::UpdateLookup,
                    "whenAvailable" => FullDocument::WhenAvailable,
                    "required" => FullDocument::Required,
                    other => {
                        return Err(Error::bad_value(format!(
                            "Enumeration value '{other}' for field '$changeStream.fullDocument' is not a valid value."
                        )))
                    }
                }
            }
            "fullDocumentBeforeChange" => {
                options.before_change = match string(name, value)?.as_str() {
                    "off" => BeforeChange::Off,
                    "whenAvailable" => BeforeChange::WhenAvailable,
                    "required" => BeforeChange::Required,
                    other => {
                        return Err(Error::bad_value(format!(
                            "Enumeration value '{other}' for field '$changeStream.fullDocumentBeforeChange' is not \
                             a valid value."
                        )))
                    }
                }
            }
            "resumeAfter" => {
                let token = Token::parse(name, value)?;
                if token.invalidate {
                    return Err(Error::command(
                        ErrorCode::InvalidResumeToken,
                        "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate \
                         notification.",
                    ));
                }
                start = Start::After(token);
            }
            "startAfter" => {
                start = Start::After(Token::parse(name, value)?);
            }
            "startAtOperationTime" => match value {
                Bson::Timestamp(time) => start = Start::At(*time),
                other => {
                    return Err(Error::type_mismatch(format!(
                        "BSON field '$changeStream.startAtOperationTime' is the wrong type '{}', expected type \
                         'timestamp'",
                        args::type_name(Some(other))
                    )))
                }
            },
            "allChangesForCluster" => all_changes_for_cluster = boolean(name, value)?,
            "showExpandedEvents" => options.expanded = boolean(name, value)?,
            // A sharded cluster's chunk migrations: a single node has none.
            "showMigrationEvents" => {
                boolean(name, value)?;
            }
            // Events of system collections and streams on internal namespaces, which
            // branchdb does not give: false is what it does, true is refused.
            "showSystemEvents" | "allowToRunOnConfigDB" | "allowToRunOnSystemNS" => {
                if boolean(name, value)? {
                    return Err(Error::command(
                        ErrorCode::InvalidOptions,
                        format!("$changeStream.{name}: true is not supported"),
                    ));
                }
            }
            other => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field '$changeStream.{other}' is an unknown field."),
                ))
            }
        }
    }
    Ok(Parsed { options, start, all_changes_for_cluster })
}

/// What the stream of this `aggregate` watches.
fn scope(inv: &Invocation<'_>, all_changes_for_cluster: bool) -> Result<Scope> {
    if inv.db.point.is_some() {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!(
                "a change stream cannot be opened on '{}': a ~<point> view never changes. Watch the branch and \
                 start from the point with startAtOperationTime (or resumeAfter) instead",
                inv.db
            ),
        ));
    }
    let (db, branch) = (inv.db.db.clone(), inv.db.branch.clone());
    let collection = match inv.body.get("aggregate") {
        Some(Bson::String(collection)) => Some(collection.clone()),
        _ => None,
    };
    match (collection, all_changes_for_cluster) {
        (None, true) if db == "admin" => Ok(Scope::Cluster),
        (_, true) => Err(Error::command(
            ErrorCode::InvalidNamespace,
            "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with \
             no collection name",
        )),
        _ if INTERNAL_DATABASES.contains(&db.as_str()) => Err(Error::command(
            ErrorCode::InvalidNamespace,
            format!("$changeStream may not be opened on the internal {db} database"),
        )),
        (Some(collection), false) if collection.starts_with("system.") => Err(Error::command(
            ErrorCode::InvalidNamespace,
            format!("$changeStream may not be opened on the internal {db}.{collection} collection"),
        )),
        (Some(collection), false) => Ok(Scope::Collection { db, branch, collection }),
        (None, false) => Ok(Scope::Database { db, branch }),
    }
}

/// The next batch of a change stream's cursor (`getMore`). An error the stream can
/// be resumed after carries the `ResumableChangeStreamError` label, as MongoDB gives
/// it, and closes the cursor.
pub fn get_more(inv: &Invocation<'_>, id: i64, cursor: Cursor, batch_size: usize) -> Result<Document> {
    let result = match inv.context.fail_points.fire_after_checkout() {
        Some(code) => {
            inv.context.cursors.kill(id);
            let code = ErrorCode::from_code(code).unwrap_or(ErrorCode::InternalError);
            Err(Error::command(code, "Failing getMore via 'failGetMoreAfterCursorCheckout' failpoint"))
        }
        None => cursor::reply_stream_batch(&inv.context.cursors, Some(id), cursor, batch_size, inv.interrupt()),
    };
    result.map_err(labelled)
}

/// A stream's error with the label MongoDB gives it: `ResumableChangeStreamError`
/// for what a driver resumes after, `NonResumableChangeStreamError` for what no
/// resume can get past.
fn labelled(e: Error) -> Error {
    let code = e.code();
    if RESUMABLE.contains(&code.code()) {
        e.with_label("ResumableChangeStreamError")
    } else if matches!(code, ErrorCode::ChangeStreamFatalError | ErrorCode::ChangeStreamHistoryLost) {
        e.with_label("NonResumableChangeStreamError")
    } else {
        e
    }
}

/// The errors after which MongoDB labels a change stream resumable (its
/// `isResumableChangeStreamError`): network, shutdown, election and routing errors.
const RESUMABLE: &[i32] = &[6, 7, 89, 91, 133, 150, 189, 234, 262, 9001, 10107, 11600, 11602, 13388, 13435, 13436, 63];

/// What a `getMore` of a change stream waits for before it runs.
pub struct Wait {
    context: Arc<Context>,
    cursor: i64,
    waiter: Arc<crate::stream::Waiter>,
    position: crate::stream::Position,
    deadline: Instant,
}

impl Wait {
    /// Returns once the feed holds a record after the stream's position that
    /// touches its scope, or at the deadline; then, if none came, tells the stream
    /// how far the feed has nothing for it.
    pub async fn ready(self) {
        loop {
            if self.context.feed.news(self.waiter.scope(), self.position).is_ok() {
                return;
            }
            let notified = self.waiter.notify.notified();
            if tokio::time::timeout_at(self.deadline.into(), notified).await.is_err() {
                if let Err(quiet) = self.context.feed.news(self.waiter.scope(), self.position) {
                    self.context.cursors.pass_quiet(self.cursor, self.position, quiet);
                }
                return;
            }
        }
    }
}

/// Where a `getMore` of a change stream runs (`None` for another cursor's): one
/// that has nothing to read answers from memory in microseconds, on the runtime's
/// worker (a thousand streams whose waits end together would otherwise start
/// hundreds of threads), unless a fail point is `armed`; one with events is a batch
/// for the low-priority threads, from their allowance when the stream keeps up (it
/// `waited` for the events), with spare CPU only when it is behind.
pub fn get_more_placement(body: &Document, shared: &Context, armed: bool, waited: bool) -> Option<Placement> {
    let Some(Bson::Int64(id)) = body.get("getMore") else { return None };
    let (scope, position) = shared.cursors.stream_state(*id)?;
    Some(match (!armed && shared.feed.news(&scope, position).is_err(), waited) {
        (true, _) => Placement::Inline,
        (false, true) => Placement::LowPriority,
        (false, false) => Placement::Spare,
    })
}

/// For a `getMore` of a change stream's cursor, or of an awaitData cursor on a
/// capped collection, that has nothing to read yet, what to wait for (up to its
/// `maxTimeMS`, one second by default).
pub fn wait_for(body: &Document, shared: &Arc<Context>) -> Option<Wait> {
    let Some(Bson::Int64(id)) = body.get("getMore") else { return None };
    let (scope, position) = shared.cursors.stream_state(*id).or_else(|| shared.cursors.tail_state(*id))?;
    if shared.feed.news(&scope, position).is_ok() {
        return None;
    }
    let wait = match body.get("maxTimeMS").and_then(crate::index::whole_number) {
        Some(ms) if ms > 0 => Duration::from_millis(ms as u64),
        _ => DEFAULT_AWAIT,
    };
    Some(Wait {
        waiter: shared.feed.waiter(scope),
        context: shared.clone(),
        cursor: *id,
        position,
        deadline: Instant::now() + wait,
    })
}
