//! `setUserWriteBlockMode`: blocks every user's writes to the user databases
//! until it is lifted, as MongoDB 8.0 does (for cluster-to-cluster sync, or to
//! freeze a deployment). The block is a `config.settings` document
//! (`cluster_settings.rs`), so it survives restarts. As in MongoDB, users with
//! the `bypassWriteBlockingMode` privilege on the cluster (`root`) write on, and
//! so does everyone while access control is off.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::auth::privileges::{Action, Actions, Target};
use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

const ID: &str = "userWriteBlockMode";

/// Why writes are blocked: MongoDB's enum, `Unspecified` when not said.
const REASONS: &[&str] = &["Unspecified", "ClusterToClusterMigrationInProgress", "DiskUseThresholdExceeded"];

pub fn set(inv: &Invocation<'_>) -> Result<Document> {
    let global = match inv.body.get("global") {
        None | Some(Bson::Null) => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'setUserWriteBlockMode.global' is missing but a required field",
            ))
        }
        Some(Bson::Boolean(global)) => *global,
        Some(other) => return Err(wrong_type("global", other, "bool")),
    };
    let reason = match inv.body.get("reason") {
        None | Some(Bson::Null) => REASONS[0],
        Some(Bson::String(reason)) => match REASONS.iter().find(|known| **known == reason.as_str()) {
            Some(known) => known,
            None => {
                return Err(Error::bad_value(format!(
                    "Enumeration value '{reason}' for field 'setUserWriteBlockMode.reason' is not a valid value."
                )))
            }
        },
        Some(other) => return Err(wrong_type("reason", other, "string")),
    };
    // A block is set and lifted for one reason: another reason may not change it.
    if let Some(held) = blocked(inv)? {
        if held != reason {
            let what = if global { "set" } else { "release" };
            return Err(Error::command(
                ErrorCode::IllegalOperation,
                format!("Cannot {what} user writes critical section with different reason than the already-set reason"),
            ));
        }
    }
    let mut block = doc! {"_id": ID, "global": global};
    if global {
        block.insert("reason", reason);
    }
    super::cluster_settings::save(inv, super::cluster_settings::SETTINGS, block)?;
    tracing::info!(blocked = global, reason, "user write block mode set");
    Ok(Document::new())
}

/// The reason of the block in force, if any.
fn blocked(inv: &Invocation<'_>) -> Result<Option<String>> {
    let (settings, _) = inv.context.cluster_settings.get(inv.context)?;
    Ok(settings
        .get(ID)
        .filter(|block| block.get_bool("global") == Ok(true))
        .map(|block| block.get_str("reason").unwrap_or(REASONS[0]).to_owned()))
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field 'setUserWriteBlockMode.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

/// Refuses a write to `db` (371) while user writes are blocked, unless the
/// connection may bypass the block.
pub fn check(inv: &Invocation<'_>, db: &str) -> Result<()> {
    if matches!(db, "admin" | "config" | "local") || !inv.context.security.enabled {
        return Ok(());
    }
    if blocked(inv)?.is_none() {
        return Ok(());
    }
    let grants = super::user_store::connection_grants(inv.context, inv.connection);
    if grants.allow(&Target::Cluster, Actions::of(&[Action::BypassWriteBlockingMode])) {
        return Ok(());
    }
    Err(Error::command(ErrorCode::UserWritesBlocked, "User writes blocked"))
}
