//! `fsync` and `fsyncUnlock`. `fsync` makes everything written durable in the
//! store's files (a checkpoint); with `lock: true` it also closes the store's
//! write gate (`store/gate.rs`): every change waits, and the files (the WAL with
//! its manifest, and the store) stay as they are, to be copied for a backup, until
//! as many `fsyncUnlock`s as locks have run, from any connection.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};

pub fn fsync(inv: &Invocation<'_>) -> Result<Document> {
    let lock = match inv.body.get("lock") {
        None | Some(Bson::Null) => false,
        Some(Bson::Boolean(lock)) => *lock,
        Some(n @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))) => {
            crate::value::truthy(Some(n))
        }
        Some(other) => return Err(wrong_type("lock", other, "[bool, long, int, decimal, double]")),
    };
    match inv.body.get("fsyncLockAcquisitionTimeoutMillis") {
        None | Some(Bson::Null | Bson::Int32(_)) => {}
        Some(other) => return Err(wrong_type("fsyncLockAcquisitionTimeoutMillis", other, "int")),
    }
    let store = &inv.context.store;
    if !lock {
        store.checkpoint()?;
        // A count MongoDB keeps for its old storage engine's files.
        return Ok(doc! {"numFiles": 1});
    }
    let locks = store.freeze()?;
    tracing::info!(lock_count = locks, "fsync lock: writes wait until fsyncUnlock");
    Ok(doc! {
        "info": "now locked against writes, use db.fsyncUnlock() to unlock",
        "lockCount": locks as i64,
        "seeAlso": "http://dochub.mongodb.org/core/fsynccommand",
    })
}

pub fn fsync_unlock(inv: &Invocation<'_>) -> Result<Document> {
    match inv.context.store.gate.unlock() {
        Some(left) => {
            tracing::info!(lock_count = left, "fsyncUnlock complete");
            Ok(doc! {"info": "fsyncUnlock completed", "lockCount": left as i64})
        }
        None => Err(Error::command(ErrorCode::IllegalOperation, "fsyncUnlock called when not locked")),
    }
}

/// What `currentOp` adds to its reply while `fsync` holds the store.
pub fn current_op_note(inv: &Invocation<'_>, reply: &mut Document) {
    if inv.context.store.gate.is_closed() {
        reply.insert("fsyncLock", true);
        reply.insert("info", "use db.fsyncUnlock() to terminate the fsync write/snapshot lock");
    }
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field 'fsync.{field}' is the wrong type '{}', expected types '{expected}'",
        crate::value::type_name(Some(value))
    ))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bson::doc;

    use crate::command::run;
    use crate::context::{ConnectionInfo, Context};

    #[test]
    fn a_lock_holds_writes_until_the_last_unlock_and_reads_go_on() {
        let shared = Context::for_tests();
        let connection = ConnectionInfo::for_tests(1);
        let call = |body: bson::Document| run(&body, &connection, &shared);
        call(doc! {"insert": "c", "documents": [{"_id": 1}], "$db": "f"});
        assert_eq!(call(doc! {"fsync": 1, "$db": "admin"}).get_i32("numFiles"), Ok(1));
        let locked = call(doc! {"fsync": 1, "lock": true, "$db": "admin"});
        assert_eq!(locked.get_i64("lockCount"), Ok(1), "{locked}");
        assert_eq!(call(doc! {"fsync": 1, "lock": 1, "$db": "admin"}).get_i64("lockCount"), Ok(2));
        let report = call(doc! {"currentOp": 1, "$db": "admin"});
        assert_eq!(report.get_bool("fsyncLock"), Ok(true), "{report}");

        // Reads go on; a write waits, until its maxTimeMS.
        assert_eq!(call(doc! {"count": "c", "$db": "f"}).get_i32("n"), Ok(1));
        let started = Instant::now();
        let timed_out = call(doc! {"insert": "c", "documents": [{"_id": 2}], "maxTimeMS": 200, "$db": "f"});
        assert_eq!(timed_out.get_i32("code"), Ok(50), "{timed_out}");
        assert!(started.elapsed() >= Duration::from_millis(200));

        // A waiting write runs once the last lock is gone, unlocked from another connection.
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let other = ConnectionInfo::for_tests(2);
                run(&doc! {"insert": "c", "documents": [{"_id": 3}], "$db": "f"}, &other, &shared)
            });
            std::thread::sleep(Duration::from_millis(150));
            assert_eq!(call(doc! {"fsyncUnlock": 1, "$db": "admin"}).get_i64("lockCount"), Ok(1));
            std::thread::sleep(Duration::from_millis(150));
            assert!(!writer.is_finished(), "one lock is left");
            assert_eq!(call(doc! {"fsyncUnlock": 1, "$db": "admin"}).get_i64("lockCount"), Ok(0));
            let written = writer.join().expect("writer");
            assert_eq!(written.get_i32("n"), Ok(1), "{written}");
        });
        let unlocked = call(doc! {"fsyncUnlock": 1, "$db": "admin"});
        assert_eq!(
            (unlocked.get_i32("code"), unlocked.get_str("errmsg")),
            (Ok(20), Ok("fsyncUnlock called when not locked"))
        );
        assert!(!call(doc! {"currentOp": 1, "$db": "admin"}).contains_key("fsyncLock"));
        assert_eq!(call(doc! {"count": "c", "$db": "f"}).get_i32("n"), Ok(2));
    }

    #[test]
    fn fsync_checks_its_arguments_and_runs_on_admin() {
        let shared = Context::for_tests();
        let connection = ConnectionInfo::for_tests(1);
        let code = |body: bson::Document| run(&body, &connection, &shared).get_i32("code").ok();
        assert_eq!(code(doc! {"fsync": 1, "lock": "yes", "$db": "admin"}), Some(14));
        assert_eq!(code(doc! {"fsync": 1, "fsyncLockAcquisitionTimeoutMillis": 5.0, "$db": "admin"}), Some(14));
        assert_eq!(code(doc! {"fsync": 1, "Lock": true, "$db": "admin"}), Some(40415));
        assert_eq!(code(doc! {"fsync": 1, "$db": "f"}), Some(13));
        assert_eq!(code(doc! {"fsyncUnlock": 1, "$db": "f"}), Some(13));
        assert_eq!(
            code(doc! {"fsync": 1, "lock": false, "fsyncLockAcquisitionTimeoutMillis": 10, "$db": "admin"}),
            None
        );
    }
}
