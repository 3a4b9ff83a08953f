//! Access control (SPEC §8): who a connection is, and what it may do.
//!
//! - [`scram`]: the SCRAM-SHA-1 and SCRAM-SHA-256 conversations and credentials.
//! - [`privileges`]: actions, resources (with branch patterns), grants.
//! - [`roles`]: the built-in roles, and resolving a user's roles into grants.
//!
//! Users and roles are documents in `admin`'s `system.users` and `system.roles`
//! on `main`, written through the WAL like any other; the command layer reads and
//! writes them (`command/users.rs`). This module knows nothing of the store: it
//! keeps what the server and each connection need to decide quickly. A
//! connection resolves its users' grants once, and again only after a change of
//! users or roles (the [`Security`] generation moved), so checking a command costs
//! no lookup.

pub mod privileges;
pub mod roles;
pub mod scram;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use privileges::Grants;

/// The server's access control.
#[derive(Debug, Default)]
pub struct Security {
    /// `--auth`: every command but the handshake needs an authenticated user.
    pub enabled: bool,
    /// Bumped by every change of users or roles.
    generation: AtomicU64,
    /// Whether a user or a role exists (the localhost exception holds until one
    /// does).
    has_users: AtomicBool,
}

impl Security {
    pub fn new(enabled: bool, has_users: bool) -> Security {
        Security { enabled, generation: AtomicU64::new(1), has_users: AtomicBool::new(has_users) }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Users or roles changed: every connection resolves its grants again.
    pub fn changed(&self, has_users: bool) {
        self.has_users.store(has_users, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn has_users(&self) -> bool {
        self.has_users.load(Ordering::Acquire)
    }
}

/// A user's name and the database that holds it (its authentication database).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserName {
    pub user: String,
    pub db: String,
}

impl UserName {
    /// The user's `_id` in `admin.system.users`: `db.user`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.db, self.user)
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.db)
    }
}

/// A SASL conversation in progress on a connection.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: i32,
    /// The database the client authenticates against.
    pub db: String,
    pub scram: scram::Conversation,
    /// The server's proof was sent; the client may end with an empty message.
    pub proven: bool,
    /// The client asked to end with the server's proof (`skipEmptyExchange`).
    pub skip_empty: bool,
}

/// One connection's authentication.
#[derive(Debug, Default)]
pub struct ConnectionAuth {
    pub conversation: Option<Conversation>,
    /// Conversations started, to number the next.
    pub conversations: i32,
    pub users: Vec<UserName>,
    /// The users' grants, and the generation they were resolved at.
    grants: Option<(u64, Arc<Grants>)>,
}

impl ConnectionAuth {
    /// The users' grants if they are still current.
    pub fn grants(&self, generation: u64) -> Option<Arc<Grants>> {
        self.grants.as_ref().filter(|(at, _)| *at == generation).map(|(_, g)| g.clone())
    }

    pub fn set_grants(&mut self, generation: u64, grants: Arc<Grants>) {
        self.grants = Some((generation, grants));
    }

    /// Adds an authenticated user (one per database, as MongoDB: a new login on a
    /// database replaces the one before).
    pub fn log_in(&mut self, user: UserName) {
        self.users.retain(|u| u.db != user.db);
        self.users.push(user);
        self.grants = None;
    }

    /// Forgets the user authenticated on `db`.
    pub fn log_out(&mut self, db: &str) {
        self.users.retain(|u| u.db != db);
        self.grants = None;
    }
}
