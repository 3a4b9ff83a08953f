//! `getAuditConfig` and `setAuditConfig`: MongoDB Enterprise's runtime audit
//! configuration (deprecated since 7.1 for the `auditConfig` cluster parameter).
//! branchdb writes no audit log, so it answers both as an Enterprise server started
//! without auditing does: `AuditingNotEnabled` (344). Accepting a filter that
//! filters nothing would be silently wrong.

use bson::Document;

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};

fn not_enabled() -> Error {
    Error::command(ErrorCode::AuditingNotEnabled, "Auditing is not enabled")
}

pub fn get(_inv: &Invocation<'_>) -> Result<Document> {
    Err(not_enabled())
}

pub fn set(_inv: &Invocation<'_>) -> Result<Document> {
    Err(not_enabled())
}
