//! The host's administration commands that concern what a single branchdb
//! process does not have, answered with its true state: `dropConnections` (it
//! opens no outgoing connections: nothing to drop), `connPoolStats` (no pools:
//! every count 0), `logRotate` (it logs to standard error, as a mongod without a
//! log file, where rotating is a success with nothing to rename) and `lockInfo`
//! (no lock manager: the only lock is `fsync`'s, shown as MongoDB shows its global
//! lock, with the writes it holds waiting); and `rotateCertificates`, which reads
//! the TLS files again for the connections that follow.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

pub fn drop_connections(inv: &Invocation<'_>) -> Result<Document> {
    let hosts = match inv.body.get("hostAndPort") {
        None | Some(Bson::Null) => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'dropConnections.hostAndPort' is missing but a required field",
            ))
        }
        Some(Bson::Array(hosts)) => hosts,
        Some(other) => return Err(wrong_type("dropConnections.hostAndPort", other, "array")),
    };
    for host in hosts {
        match host {
            Bson::Null => {}
            Bson::String(host) => check_host_and_port(host)?,
            other => return Err(wrong_type("dropConnections.hostAndPort", other, "string")),
        }
    }
    Ok(Document::new())
}

/// MongoDB's `HostAndPort` rules: a host, then optionally `:` and a port from 1 to
/// 65535; an IPv6 address in brackets.
fn check_host_and_port(text: &str) -> Result<()> {
    let failed =
        |why: &str| Error::command(ErrorCode::FailedToParse, format!("{why} parsing HostAndPort from \"{text}\""));
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']').ok_or_else(|| failed("Missing matching bracket for IPv6"))?;
            match after {
                "" => (host, None),
                after => {
                    (host, Some(after.strip_prefix(':').ok_or_else(|| failed("Extraneous characters after IPv6"))?))
                }
            }
        }
        None => match text.split_once(':') {
            Some((_, port)) if port.contains(':') => return Err(failed(&format!("Invalid port number \"{port}\""))),
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    if host.is_empty() {
        return Err(failed("Empty host component"));
    }
    if let Some(port) = port {
        match port.parse::<u32>() {
            Ok(1..=65535) => {}
            Ok(_) | Err(_) if port.is_empty() => return Err(failed("Empty port number")),
            _ => return Err(failed(&format!("Port number {port} out of range"))),
        }
    }
    Ok(())
}

pub fn conn_pool_stats(_: &Invocation<'_>) -> Result<Document> {
    let mut reply = Document::new();
    for field in [
        "numClientConnections",
        "numAScopedConnections",
        "totalInUse",
        "totalAvailable",
        "totalLeased",
        "totalCreated",
        "totalRefreshing",
        "totalRefreshed",
        "totalWasNeverUsed",
    ] {
        reply.insert(field, 0);
    }
    // The buckets of MongoDB's histogram of waits for a connection: 50 ms wide up to 1 s.
    let mut waits = doc! {"(-inf, 0ms)": {"count": 0}};
    for start in (0..1000).step_by(50) {
        waits.insert(format!("[{start}ms, {}ms)", start + 50), doc! {"count": 0});
    }
    waits.insert("[1000ms, inf)", doc! {"count": 0});
    waits.insert("totalCount", 0);
    reply.insert("acquisitionWaitTimes", waits);
    reply.insert("pools", Document::new());
    reply.insert("hosts", Document::new());
    Ok(reply)
}

pub fn log_rotate(inv: &Invocation<'_>) -> Result<Document> {
    match inv.body.get("logRotate") {
        Some(Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_)) => {}
        Some(Bson::String(kind)) if kind == "server" => {}
        Some(Bson::String(kind)) => {
            return Err(Error::command(ErrorCode::NoSuchKey, format!("Unknown log type for rotate: {kind}")))
        }
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'logRotate.logRotate' is the wrong type '{}', expected types '[bool, long, int, decimal, double, string]'",
                type_name(other)
            )))
        }
    }
    // The log is standard error: there is no file to rename and reopen.
    tracing::info!(
        id = 23166,
        log_type = "server",
        "Log rotation initiated: the log is standard error, nothing to rename"
    );
    Ok(Document::new())
}

pub fn lock_info(inv: &Invocation<'_>) -> Result<Document> {
    match inv.body.get("includeStorageEngineDump") {
        None | Some(Bson::Null | Bson::Boolean(_)) => {}
        Some(other) => return Err(wrong_type("lockInfo.includeStorageEngineDump", other, "bool")),
    }
    let gate = &inv.context.store.gate;
    let mut locks = Vec::new();
    if gate.is_closed() {
        let request = |mode: &str| {
            Bson::Document(doc! {
                "mode": mode, "convertMode": "NONE", "enqueueAtFront": false, "compatibleFirst": false,
                "debugInfo": "",
            })
        };
        let pending: Vec<Bson> = (0..gate.waiting()).map(|_| request("IX")).collect();
        locks.push(Bson::Document(doc! {
            "resourceId": "{1: Global, 1}",
            "granted": [request("S")],
            "pending": pending,
        }));
    }
    Ok(doc! {"lockInfo": locks})
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

/// `rotateCertificates`: the certificate, key and CA files are read again; new
/// connections use them, open ones keep theirs. A file that cannot be read or a
/// key that does not match leaves the old ones in place (140). Without TLS there
/// is nothing to read, and MongoDB succeeds then too.
pub fn rotate_certificates(inv: &Invocation<'_>) -> Result<Document> {
    let message = match inv.body.get("message") {
        None | Some(Bson::Null) => "",
        Some(Bson::String(message)) => message.as_str(),
        Some(other) => return Err(wrong_type("rotateCertificates.message", other, "string")),
    };
    inv.context
        .tls
        .rotate(&inv.context.settings)
        .map_err(|e| Error::command(ErrorCode::InvalidSSLConfiguration, format!("Certificate rotation failed: {e}")))?;
    tracing::info!(message, "Certificate rotation completed successfully");
    Ok(Document::new())
}
