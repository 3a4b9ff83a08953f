//! `serverStatus`: identity, uptime, connection counts, the TTL expirer's counters
//! and, on a read replica, its lag (`repl`).

use std::sync::atomic::Ordering;

use bson::{doc, Document};

use super::build_info::MONGODB_VERSION;
use super::host_info::hostname;
use super::Invocation;
use crate::error::Result;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let shared = inv.context;
    let uptime = shared.started.elapsed();
    let current = shared.connections_current.load(Ordering::Relaxed);
    let limit = shared.settings.max_connections as i64;
    let mut status = doc! {
        "host": hostname(),
        "version": MONGODB_VERSION,
        "process": "mongos",
        "pid": i64::from(std::process::id()),
        "uptime": uptime.as_secs_f64().floor(),
        "uptimeMillis": uptime.as_millis() as i64,
        "uptimeEstimate": uptime.as_secs() as i64,
        "localTime": bson::DateTime::now(),
        "connections": {
            "current": current as i32,
            "available": (limit - current).max(0) as i32,
            "totalCreated": shared.connections_total.load(Ordering::Relaxed) as i32,
            "refused": shared.connections_refused.load(Ordering::Relaxed) as i64,
        },
        "storageEngine": {"name": "branchdb", "supportsCommittedReads": true, "persistent": true},
        "wal": {
            "lastLsn": shared.wal.last_lsn().0 as i64,
            "durableLsn": shared.wal.durable_lsn().0 as i64,
            "durability": format!("{:?}", shared.settings.durability).to_lowercase(),
        },
        "metrics": {
            "ttl": {
                "deletedDocuments": shared.ttl.deleted_documents() as i64,
                "passes": shared.ttl.passes() as i64,
            },
        },
    };
    if let Some(lag) = shared.store.lag() {
        // A read replica: how far behind what it has seen of its writer's log.
        let mut repl = doc! {
            "isWritablePrimary": false,
            "secondary": true,
            "replicaOf": shared.settings.replica_of.clone().unwrap_or_default(),
            "appliedLsn": lag.applied.0 as i64,
            "lastLogLsn": lag.log.0 as i64,
            "lagRecords": lag.records() as i64,
            "lagSeconds": lag.seconds(),
        };
        if let Some(primary) = &shared.settings.primary {
            repl.insert("primary", primary.clone());
        }
        status.insert("repl", repl);
    }
    Ok(status)
}
