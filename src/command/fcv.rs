//! `setFeatureCompatibilityVersion`: branchdb runs at feature compatibility
//! version 8.0 only, so setting it to 8.0 is accepted (with MongoDB's `confirm`
//! check) and changes nothing, and a downgrade is refused, naming why.

use bson::{Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

/// The version this server runs at.
pub const CURRENT: &str = "8.0";
/// The versions MongoDB 8.0 accepts: its last LTS, last continuous and latest.
const VALID: &[&str] = &["7.0", "7.3", "8.0"];

pub fn set(inv: &Invocation<'_>) -> Result<Document> {
    let requested = match inv.body.get("setFeatureCompatibilityVersion") {
        Some(Bson::String(version)) => version.as_str(),
        None | Some(Bson::Null) => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'setFeatureCompatibilityVersion.setFeatureCompatibilityVersion' is missing but a \
                 required field",
            ))
        }
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'setFeatureCompatibilityVersion.setFeatureCompatibilityVersion' is the wrong type '{}', \
                 expected type 'string'",
                type_name(Some(other))
            )))
        }
    };
    if !VALID.contains(&requested) {
        return Err(Error::command(
            ErrorCode::Location4926900,
            format!(
                "Invalid feature compatibility version value '{requested}'; expected '7.0' or '7.3' or '8.0'. See \
                 https://docs.mongodb.com/master/release-notes/8.0-compatibility/#feature-compatibility."
            ),
        ));
    }
    // `confirm` and `dryRun` are safeBool: a bool or a number by its truth, null false.
    let flag = |field: &str| match inv.body.get(field) {
        None | Some(Bson::Null) => Ok(false),
        Some(value @ (Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))) => {
            Ok(crate::value::truthy(Some(value)))
        }
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field 'setFeatureCompatibilityVersion.{field}' is the wrong type '{}', expected types '[bool, long, \
             int, decimal, double']",
            type_name(Some(other))
        ))),
    };
    let confirmed = flag("confirm")?;
    let dry_run = flag("dryRun")?;
    if !confirmed && !dry_run {
        // MongoDB compares the versions as it words this: the same version is not an
        // upgrade.
        return Err(Error::command(
            ErrorCode::Location7369100,
            "Once you have downgraded the FCV, if you choose to downgrade the binary version, it will require \
             support assistance. Please re-run this command with 'confirm: true' to acknowledge this and continue \
             with the FCV downgrade.",
        ));
    }
    if requested != CURRENT {
        return Err(Error::command(
            ErrorCode::NotImplemented,
            format!(
                "branchdb runs at feature compatibility version {CURRENT} only: it has no {requested} behaviour to \
                 downgrade to"
            ),
        ));
    }
    Ok(Document::new())
}
