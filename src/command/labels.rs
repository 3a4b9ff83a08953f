//! The error labels MongoDB puts on a reply, by what the command was to its
//! session: `TransientTransactionError` when retrying the whole transaction may
//! succeed, `RetryableWriteError` when retrying the write or the commit may.

use bson::{Bson, Document};

/// What a command is, by its session fields: it decides the error labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Plain,
    RetryableWrite,
    /// A statement of a transaction.
    Statement,
    /// `commitTransaction` or `abortTransaction`.
    Ends,
}

/// Codes a driver may retry on (MongoDB's `RetriableError` category).
pub fn is_retryable_code(code: i32) -> bool {
    matches!(code, 6 | 7 | 89 | 91 | 189 | 262 | 9001 | 10107 | 11600 | 11602 | 13435 | 13436)
}

/// Adds the error labels MongoDB gives a reply of a command in `role`, unless it
/// has some already: `TransientTransactionError` when retrying the whole
/// transaction may succeed, `RetryableWriteError` when retrying the write or the
/// commit may.
pub fn add_labels(role: Role, reply: &mut Document) {
    if reply.contains_key("errorLabels") {
        return;
    }
    let code = match reply.get("ok") {
        Some(Bson::Double(ok)) if *ok == 0.0 => reply.get_i32("code").ok(),
        _ => None,
    };
    let concern_code = reply.get_document("writeConcernError").ok().and_then(|wce| wce.get_i32("code").ok());
    let mut labels = Vec::new();
    match role {
        Role::Plain => {}
        Role::Statement => {
            if code.is_some_and(|code| is_transient(code) || code == 251 || is_retryable_code(code)) {
                labels.push("TransientTransactionError");
            }
        }
        Role::Ends => {
            if code.is_some_and(is_transient) || (code == Some(251) && concern_code.is_none()) {
                labels.push("TransientTransactionError");
            }
            if code.or(concern_code).is_some_and(is_retryable_code) {
                labels.push("RetryableWriteError");
            }
        }
        Role::RetryableWrite => {
            if code.or(concern_code).is_some_and(is_retryable_code) {
                labels.push("RetryableWriteError");
            }
        }
    }
    if !labels.is_empty() {
        reply.insert("errorLabels", labels);
    }
}

/// Codes after which the whole transaction may be retried: `LockTimeout`,
/// `WriteConflict`, `SnapshotTooOld`, `SnapshotUnavailable`,
/// `PreparedTransactionInProgress`.
fn is_transient(code: i32) -> bool {
    matches!(code, 24 | 112 | 239 | 246 | 267)
}
