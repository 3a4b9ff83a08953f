//! `getParameter`: named server parameters, or all of them with `"*"`; and
//! `setParameter`, for the few that change at runtime (the TTL monitor's, the
//! transaction lifetime limit, and what blocking query stages may hold).

use std::sync::atomic::Ordering::Relaxed;

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::context::Context;
use crate::error::{Error, ErrorCode, Result};

/// Every parameter with its current value.
fn parameters(inv: &Invocation<'_>) -> Document {
    let ttl = &inv.context.ttl;
    doc! {
        "featureCompatibilityVersion": {"version": "8.0"},
        "enableTestCommands": inv.context.settings.enable_test_commands,
        "authenticationMechanisms": [],
        "maxBSONDepth": crate::wire::MAX_NESTING_DEPTH as i32,
        "transactionLifetimeLimitSeconds": i32::try_from(inv.context.sessions.transaction_lifetime_secs()).unwrap_or(i32::MAX),
        "ttlMonitorEnabled": ttl.enabled(),
        "ttlMonitorSleepSecs": i32::try_from(ttl.sleep_secs()).unwrap_or(i32::MAX),
        "internalQueryMaxBlockingSortMemoryUsageBytes": inv.context.stage_limits.sort() as i64,
        "internalDocumentSourceGroupMaxMemoryBytes": inv.context.stage_limits.group() as i64,
        "allowDiskUseByDefault": inv.context.stage_limits.allow_disk_use_by_default(),
    }
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let all = parameters(inv);
    if inv.body.get("getParameter") == Some(&Bson::String("*".into())) {
        return Ok(all);
    }
    let mut reply = Document::new();
    for name in inv.body.keys().skip(1).filter(|k| !is_generic_argument(k)) {
        if let Some(value) = all.get(name) {
            reply.insert(name.clone(), value.clone());
        }
    }
    if reply.is_empty() {
        return Err(Error::command(ErrorCode::InvalidOptions, "no option found to get"));
    }
    Ok(reply)
}

/// A parameter `setParameter` can change: reads its new value from the command
/// (by name), checks it, and applies it.
type Setter = fn(&Context, &Document, &str) -> Result<()>;

/// The parameter called `name`, if it changes at runtime.
fn setter(name: &str) -> Option<Setter> {
    match name {
        "ttlMonitorEnabled" => Some(|context, body, name| {
            context.ttl.set_enabled(args::boolean(body, name, true)?);
            Ok(())
        }),
        "ttlMonitorSleepSecs" => {
            Some(|context, body, name| positive_seconds(body, name).map(|secs| context.ttl.set_sleep_secs(secs)))
        }
        "internalQueryMaxBlockingSortMemoryUsageBytes" => {
            Some(|context, body, name| positive_bytes(body, name).map(|b| context.stage_limits.sort.store(b, Relaxed)))
        }
        "internalDocumentSourceGroupMaxMemoryBytes" => {
            Some(|context, body, name| positive_bytes(body, name).map(|b| context.stage_limits.group.store(b, Relaxed)))
        }
        "allowDiskUseByDefault" => Some(|context, body, name| {
            let allow = args::boolean(body, name, true)?;
            context.stage_limits.allow_disk_use_by_default.store(allow, Relaxed);
            Ok(())
        }),
        "transactionLifetimeLimitSeconds" => Some(|context, body, name| {
            positive_seconds(body, name).map(|secs| context.sessions.set_transaction_lifetime_secs(secs))
        }),
        _ => None,
    }
}

/// A parameter counting bytes: a whole number above zero.
fn positive_bytes(body: &Document, name: &str) -> Result<usize> {
    match args::integer(body, name)? {
        Some(bytes) if bytes > 0 => Ok(bytes as usize),
        _ => Err(Error::bad_value(format!(
            "Invalid value for parameter {name}: {} is not greater than 0",
            body.get(name).unwrap_or(&Bson::Null)
        ))),
    }
}

/// A parameter counting seconds: a whole number above zero.
fn positive_seconds(body: &Document, name: &str) -> Result<u64> {
    match args::integer(body, name)? {
        Some(secs) if secs > 0 && secs <= i64::from(i32::MAX) => Ok(secs as u64),
        Some(secs) if secs <= 0 => {
            Err(Error::bad_value(format!("Invalid value for parameter {name}: {secs} is not greater than 0")))
        }
        _ => Err(Error::bad_value(format!(
            "Invalid value for parameter {name}: {}",
            body.get(name).unwrap_or(&Bson::Null)
        ))),
    }
}

/// `setParameter`: changes each named parameter, all of them checked first, and
/// replies with the first one's previous value as `was`.
pub fn set(inv: &Invocation<'_>) -> Result<Document> {
    let before = parameters(inv);
    let mut changes = Vec::new();
    for (name, value) in inv.body.iter().skip(1).filter(|(k, _)| !is_generic_argument(k)) {
        match setter(name) {
            Some(setter) => changes.push((name, value, setter)),
            None if before.contains_key(name) => {
                return Err(Error::command(
                    ErrorCode::IllegalOperation,
                    format!("not allowed to change [{name}] at runtime"),
                ))
            }
            None => {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    format!("attempted to set unrecognized parameter [{name}], use help:true to see options "),
                ))
            }
        }
    }
    let mut reply = Document::new();
    for (name, value, setter) in changes {
        if reply.is_empty() {
            reply.insert("was", before.get(name).cloned().unwrap_or(Bson::Null));
        }
        setter(inv.context, inv.body, name)?;
        tracing::info!(parameter = %name, value = %value, "server parameter set");
    }
    if reply.is_empty() {
        return Err(Error::command(ErrorCode::InvalidOptions, "no option found to set, use help:true to see options "));
    }
    Ok(reply)
}

/// Arguments every command may carry, which are never parameter names.
fn is_generic_argument(key: &str) -> bool {
    super::arguments::is_generic(key)
}
