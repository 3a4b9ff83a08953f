//! `compact` and `autoCompact`: giving the store file's free space back to the
//! file system (`store::compact`).
//!
//! branchdb keeps every database and branch in one file, so `compact` on any
//! collection rewrites the whole file, and `bytesFreed` is what the file shrank
//! by. As in MongoDB, it runs only when at least `freeSpaceTargetMB` (20 by
//! default) would be given back, and `dryRun` tells how much would be.
//! `autoCompact: true` has the server look every 30 seconds and compact when
//! that much is free (`runOnce`: one pass); asking again with other options while
//! it is on is refused (23), as in MongoDB.

use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::store::AutoCompact;
use crate::value::type_name;

/// MongoDB's default `freeSpaceTargetMB`.
const DEFAULT_TARGET_MB: i64 = 20;
/// How long `compact` waits for reads in progress to end before giving up.
const PATIENCE: Duration = Duration::from_secs(5);

/// A bool-only field (no number is read as one); null is as absent.
fn flag(body: &Document, command: &str, field: &str) -> Result<Option<bool>> {
    match body.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Boolean(b)) => Ok(Some(*b)),
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field '{command}.{field}' is the wrong type '{}', expected type 'bool'",
            type_name(Some(other))
        ))),
    }
}

/// `freeSpaceTargetMB`, a `safeInt64` of at least 1: any number, a double
/// truncated and a decimal rounded half-even to an integer, saturating.
fn target_mb(body: &Document, command: &str) -> Result<Option<i64>> {
    let mb = match body.get("freeSpaceTargetMB") {
        None | Some(Bson::Null) => return Ok(None),
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        // `as` truncates toward zero, saturates, and reads NaN as 0.
        Some(Bson::Double(d)) => *d as i64,
        Some(Bson::Decimal128(d)) => crate::query::expr::to_i64_half_even(d),
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field '{command}.freeSpaceTargetMB' is the wrong type '{}', expected types '[long, int, \
                 decimal, double']",
                type_name(Some(other))
            )))
        }
    };
    if mb < 1 {
        return Err(Error::bad_value(format!(
            "BSON field 'freeSpaceTargetMB' value must be >= 1, actual value '{mb}'"
        )));
    }
    Ok(Some(mb))
}

/// A byte count as MongoDB appends one: an int when it fits.
fn number(bytes: u64) -> Bson {
    match i32::try_from(bytes) {
        Ok(n) => Bson::Int32(n),
        Err(_) => Bson::Int64(i64::try_from(bytes).unwrap_or(i64::MAX)),
    }
}

pub fn compact(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "compact")?;
    let dry_run = flag(inv.body, "compact", "dryRun")?.unwrap_or(false);
    // `force` lets MongoDB compact a replica set's primary; one node needs no leave.
    flag(inv.body, "compact", "force")?;
    let target = target_mb(inv.body, "compact")?.unwrap_or(DEFAULT_TARGET_MB).saturating_mul(1 << 20);
    match inv.read_view()?.collection(name)? {
        None => return Err(Error::command(ErrorCode::NamespaceNotFound, "collection does not exist")),
        Some(entry) if entry.view_on().is_some() => {
            return Err(Error::command(ErrorCode::CommandNotSupportedOnView, "can't compact a view"))
        }
        Some(_) => {}
    }
    let store = &inv.context.store;
    let free = store.free_bytes()?;
    let worth_it = free >= u64::try_from(target).unwrap_or(u64::MAX);
    if dry_run {
        return Ok(doc! {"estimatedBytesFreed": number(if worth_it { free } else { 0 })});
    }
    if !worth_it {
        return Ok(doc! {"bytesFreed": number(0)});
    }
    let started = Instant::now();
    loop {
        if let Some(freed) = store.compact()? {
            return Ok(doc! {"bytesFreed": number(freed)});
        }
        if started.elapsed() >= PATIENCE {
            return Err(Error::command(
                ErrorCode::ObjectIsBusy,
                "compaction needs a moment with no read or transaction open, and found none in 5 seconds; try again",
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn auto_compact(inv: &Invocation<'_>) -> Result<Document> {
    let enable = match inv.body.get("autoCompact") {
        None | Some(Bson::Null) => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'autoCompact.autoCompact' is missing but a required field",
            ))
        }
        Some(Bson::Boolean(b)) => *b,
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'autoCompact.autoCompact' is the wrong type '{}', expected type 'bool'",
                type_name(Some(other))
            )))
        }
    };
    let mb = target_mb(inv.body, "autoCompact")?;
    let run_once = flag(inv.body, "autoCompact", "runOnce")?.unwrap_or(false);
    let store = &inv.context.store;
    if !enable {
        store.set_auto_compact(None);
        return Ok(Document::new());
    }
    let mb = mb.unwrap_or(DEFAULT_TARGET_MB);
    let Some(bytes) = mb.checked_mul(1 << 20) else {
        return Err(Error::bad_value(format!("freeSpaceTargetMB of {mb} is more bytes than a long holds")));
    };
    let asked = AutoCompact { free_space_target: bytes as u64, run_once };
    match store.auto_compact() {
        Some(current) if current != asked => Err(Error::command(
            ErrorCode::AlreadyInitialized,
            "background compaction is already running with other options; turn it off first",
        )),
        _ => {
            store.set_auto_compact(Some(asked));
            Ok(Document::new())
        }
    }
}
