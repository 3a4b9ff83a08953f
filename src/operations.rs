//! Operations in flight, for `currentOp` and `killOp`. Every command registers when
//! it starts and leaves when it ends (the [`Running`] guard); `killOp` marks one
//! killed, and it fails at its next [`Interrupt::check`] with `Interrupted` (11601).
//!
//! The registry costs one mutex insert and one remove per command.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bson::Document;

use crate::error::{Error, ErrorCode, Result};

/// One command being served.
#[derive(Debug)]
pub struct Operation {
    /// The `opid` `killOp` names; increasing from 1.
    pub id: i64,
    pub connection_id: i64,
    /// The client's address.
    pub client: SocketAddr,
    /// `db.collection` the command works on, or `db.$cmd`.
    pub ns: String,
    /// MongoDB's kind of operation: `command`, `query`, `insert`, `update`, `remove`
    /// or `getmore`.
    pub kind: &'static str,
    /// The command document, abbreviated when large.
    pub command: Document,
    /// The user the connection is authenticated as (`user@db`), if any.
    pub user: Option<String>,
    pub started: Instant,
    killed: AtomicBool,
    /// How far a long operation (an index build) has come, when it says.
    progress: Mutex<Option<Progress>>,
}

/// How far a long operation has come, as `currentOp` reports it (`msg`,
/// `progress: {done, total}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub message: &'static str,
    pub done: u64,
    pub total: u64,
}

impl Operation {
    /// An operation starting now (its id is given when it is registered).
    pub fn new(connection_id: i64, client: SocketAddr, ns: String, kind: &'static str, command: Document) -> Self {
        Operation {
            id: 0,
            connection_id,
            client,
            ns,
            kind,
            command,
            user: None,
            started: Instant::now(),
            killed: AtomicBool::new(false),
            progress: Mutex::new(None),
        }
    }

    /// Records how far the operation has come.
    pub fn set_progress(&self, progress: Progress) {
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = Some(progress);
    }

    /// How far the operation has come, if it says.
    pub fn progress(&self) -> Option<Progress> {
        *self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the operation to stop at its next interrupt check.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
    }

    /// Whether `killOp` has asked it to stop.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

/// The operations of a server that are running now.
#[derive(Default)]
pub struct Operations {
    last_id: AtomicI64,
    running: Mutex<HashMap<i64, Arc<Operation>>>,
}

impl Operations {
    /// Registers `op` under a fresh id until the returned guard is dropped.
    pub fn start(&self, mut op: Operation) -> Running<'_> {
        op.id = self.last_id.fetch_add(1, Ordering::Relaxed) + 1;
        let op = Arc::new(op);
        self.lock().insert(op.id, op.clone());
        Running { registry: self, op }
    }

    /// Marks operation `id` killed; `false` when no such operation is running.
    pub fn kill(&self, id: i64) -> bool {
        match self.lock().get(&id) {
            Some(op) => {
                op.kill();
                true
            }
            None => false,
        }
    }

    /// The operations running now, by id.
    pub fn list(&self) -> Vec<Arc<Operation>> {
        let mut ops: Vec<_> = self.lock().values().cloned().collect();
        ops.sort_by_key(|op| op.id);
        ops
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Arc<Operation>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A registered operation; dropping it deregisters the operation.
pub struct Running<'a> {
    registry: &'a Operations,
    op: Arc<Operation>,
}

impl Deref for Running<'_> {
    type Target = Operation;

    fn deref(&self) -> &Operation {
        &self.op
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.op.id);
    }
}

/// What may stop a running command early: its `maxTimeMS` deadline and `killOp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interrupt<'a> {
    pub deadline: Option<Instant>,
    pub op: Option<&'a Operation>,
}

impl Interrupt<'_> {
    /// Fails with `Interrupted` (11601) once the operation is killed, and with
    /// `MaxTimeMSExpired` (50) once the deadline has passed.
    pub fn check(&self) -> Result<()> {
        if self.op.is_some_and(Operation::is_killed) {
            return Err(Error::command(ErrorCode::Interrupted, "operation was interrupted"));
        }
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => {
                Err(Error::command(ErrorCode::MaxTimeMSExpired, "operation exceeded time limit"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> Operation {
        Operation::new(3, SocketAddr::from(([127, 0, 0, 1], 5000)), "t.c".into(), "query", Document::new())
    }

    #[test]
    fn operations_are_listed_while_they_run_with_increasing_ids() {
        let ops = Operations::default();
        let first = ops.start(op());
        let second = ops.start(op());
        assert!(second.id > first.id);
        assert_eq!(ops.list().iter().map(|o| o.id).collect::<Vec<_>>(), vec![first.id, second.id]);
        drop(first);
        assert_eq!(ops.list().len(), 1);
        drop(second);
        assert!(ops.list().is_empty());
    }

    #[test]
    fn a_killed_operation_fails_its_next_check_with_11601() {
        let ops = Operations::default();
        let running = ops.start(op());
        let interrupt = Interrupt { deadline: None, op: Some(&running) };
        assert!(interrupt.check().is_ok());
        assert!(ops.kill(running.id));
        let err = interrupt.check().expect_err("killed");
        assert_eq!(err.code(), ErrorCode::Interrupted);
        assert_eq!(err.to_reply().get_str("errmsg"), Ok("operation was interrupted"));
        let id = running.id;
        drop(running);
        assert!(!ops.kill(id), "finished operations cannot be killed");
    }

    #[test]
    fn the_kill_is_reported_before_an_expired_deadline() {
        let ops = Operations::default();
        let running = ops.start(op());
        running.kill();
        let interrupt = Interrupt { deadline: Some(Instant::now()), op: Some(&running) };
        assert_eq!(interrupt.check().expect_err("killed").code(), ErrorCode::Interrupted);
        let expired = Interrupt { deadline: Some(Instant::now()), op: None };
        assert_eq!(expired.check().expect_err("expired").code(), ErrorCode::MaxTimeMSExpired);
    }
}
