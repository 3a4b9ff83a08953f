//! The logical session registry: the sessions (`lsid`) clients have used, when each
//! was last used (for `$listLocalSessions` and expiry), and each one's transaction
//! state. A command that carries a transaction number checks its session out for
//! its whole run (a second command on the same session waits); the rules of that
//! state machine live with the commands (`command::session`), the state here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bson::{doc, spec::BinarySubtype, Binary, Bson, DateTime, Document};
use sha2::{Digest, Sha256};

use crate::auth::UserName;
use crate::error::{Error, ErrorCode, Result};
use crate::store::{Commit, Transaction};

/// A session unused this long is forgotten (MongoDB's `localLogicalSessionTimeoutMinutes`).
pub const TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The most sessions held at once, as MongoDB's default `maxSessions`.
pub const MAX_SESSIONS: usize = 1_000_000;
/// MongoDB's default `transactionLifetimeLimitSeconds`.
pub const DEFAULT_TRANSACTION_LIFETIME_SECS: u64 = 60;

/// A session's key: its id and its owner's `uid`, as MongoDB keys them (the same id
/// used by two users is two sessions).
type Key = ([u8; 16], [u8; 32]);

/// The sessions of a server.
pub struct Sessions {
    sessions: Mutex<HashMap<Key, Arc<Session>>>,
    /// A transaction open longer than this many seconds is aborted.
    transaction_lifetime_secs: AtomicU64,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            sessions: Mutex::default(),
            transaction_lifetime_secs: AtomicU64::new(DEFAULT_TRANSACTION_LIFETIME_SECS),
        }
    }
}

/// Who a session belongs to: the user authenticated on the connection that used
/// it, and MongoDB's `uid` for that user (the SHA-256 of `user@db`, of the empty
/// string without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uid: [u8; 32],
    pub user: Option<UserName>,
}

impl Owner {
    /// The owner of the sessions a connection authenticated as `users` uses (its
    /// first user: MongoDB allows one at a time).
    pub fn of(users: &[UserName]) -> Owner {
        let user = users.first().cloned();
        let name = user.as_ref().map(UserName::to_string).unwrap_or_default();
        Owner { uid: Sha256::digest(name.as_bytes()).into(), user }
    }
}

/// Which sessions a kill or a listing takes.
pub enum Pick<'a> {
    All,
    /// The sessions of these owners' `uid`s.
    Uids(&'a [[u8; 32]]),
    /// The sessions a predicate accepts (id and owner).
    Matching(&'a dyn Fn(&[u8; 16], &Owner) -> bool),
}

impl Pick<'_> {
    fn takes(&self, id: &[u8; 16], owner: &Owner) -> bool {
        match self {
            Pick::All => true,
            Pick::Uids(uids) => uids.contains(&owner.uid),
            Pick::Matching(accepts) => accepts(id, owner),
        }
    }
}

/// One logical session.
pub struct Session {
    id: [u8; 16],
    owner: Owner,
    /// Milliseconds since the epoch.
    last_use: AtomicI64,
    state: Mutex<State>,
}

/// What the server knows of a session's transaction numbers.
#[derive(Default)]
pub struct State {
    /// Whether the store's session table has been read (the first command with a
    /// transaction number after a restart reads what earlier runs left).
    pub loaded: bool,
    /// The newest transaction number used on the session.
    pub txn_number: Option<i64>,
    /// The multi-document transaction of `txn_number`, if it is one.
    pub txn: Txn,
}

/// The state of a session's newest transaction.
#[derive(Default)]
pub enum Txn {
    /// `txn_number` is a retryable write, or nothing yet.
    #[default]
    None,
    /// Open: started with `started`.
    Active {
        transaction: Box<Transaction>,
        started: Instant,
    },
    /// Committed (`None`: it had nothing to write, or committed before a restart).
    Committed(Option<Commit>),
    Aborted,
}

impl Session {
    /// The session id as clients send it: `{id: UUID}`.
    pub fn lsid(&self) -> Document {
        doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: self.id.to_vec() } }
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Checks the session out: waits while another command holds it.
    pub fn check_out(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn touch(&self) {
        self.last_use.store(DateTime::now().timestamp_millis(), Ordering::Relaxed);
    }

    fn last_use(&self) -> DateTime {
        DateTime::from_millis(self.last_use.load(Ordering::Relaxed))
    }

    /// Aborts the open transaction, unless a command holds the session now.
    fn abort_if_idle(&self) {
        if let Ok(mut state) = self.state.try_lock() {
            if matches!(state.txn, Txn::Active { .. }) {
                state.txn = Txn::Aborted;
            }
        }
    }
}

impl Sessions {
    /// The session `lsid` names (created on first use), marked used now. `None`
    /// when the command carries no `lsid`; an `lsid` that is not `{id: UUID}` is
    /// refused by the caller before this.
    /// Past [`MAX_SESSIONS`], a new session is refused (`TooManyLogicalSessions`, 261).
    pub fn touch(&self, lsid: &Document, owner: &Owner) -> Result<Option<Arc<Session>>> {
        let Some(id) = session_id(lsid) else { return Ok(None) };
        let key = (id, owner.uid);
        let mut sessions = self.lock();
        if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(&key) {
            return Err(Error::command(
                ErrorCode::TooManyLogicalSessions,
                format!(
                    "Unable to add session into the cache because the number of active sessions is too high                      (maxSessions: {MAX_SESSIONS})"
                ),
            ));
        }
        let session = sessions
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Session { id, owner: owner.clone(), last_use: AtomicI64::new(0), state: Mutex::default() })
            })
            .clone();
        session.touch();
        Ok(Some(session))
    }

    /// How many sessions are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the sessions `{id: UUID}` of `endSessions` (the caller's, `owner`)
    /// and `killSessions` (anyone's, `None`), aborting their open transactions.
    pub fn end<'a>(&self, ids: impl IntoIterator<Item = &'a Document>, owner: Option<&Owner>) {
        let ids: Vec<[u8; 16]> = ids.into_iter().filter_map(session_id).collect();
        self.kill(&Pick::Matching(&|id, of| ids.contains(id) && owner.is_none_or(|owner| owner == of)));
    }

    /// Forgets the sessions `pick` takes (`killAllSessions` and
    /// `killAllSessionsByPattern`), aborting their open transactions.
    pub fn kill(&self, pick: &Pick<'_>) {
        self.lock().retain(|(id, _), session| {
            let taken = pick.takes(id, &session.owner);
            if taken {
                session.abort_if_idle();
            }
            !taken
        });
    }

    /// The live sessions `pick` takes, as `$listLocalSessions` shows them: `{_id:
    /// {id, uid}, lastUse}`, and `user: {name}` for a session of a user, most
    /// recently used first.
    pub fn list(&self, pick: &Pick<'_>) -> Vec<Document> {
        let now = DateTime::now();
        let sessions = self.lock();
        let mut list: Vec<(&Session, DateTime)> = sessions
            .values()
            .filter(|s| pick.takes(&s.id, &s.owner))
            .map(|s| (s.as_ref(), s.last_use()))
            .filter(|(_, used)| !expired(*used, now))
            .collect();
        list.sort_by_key(|(_, used)| std::cmp::Reverse(*used));
        list.into_iter()
            .map(|(session, used)| {
                let id = Binary { subtype: BinarySubtype::Uuid, bytes: session.id.to_vec() };
                let uid = Binary { subtype: BinarySubtype::Generic, bytes: session.owner.uid.to_vec() };
                let mut listed = doc! { "_id": {"id": id, "uid": uid}, "lastUse": used };
                if let Some(user) = &session.owner.user {
                    listed.insert("user", doc! {"name": user.to_string()});
                }
                listed
            })
            .collect()
    }

    /// Aborts transactions open longer than the lifetime limit and forgets sessions
    /// idle longer than [`TIMEOUT`]; sessions a command holds are left alone.
    /// Returns how many transactions it aborted.
    pub fn reap(&self) -> usize {
        let limit = Duration::from_secs(self.transaction_lifetime_secs());
        let now = DateTime::now();
        let mut aborted = 0;
        self.lock().retain(|_, session| {
            let Ok(mut state) = session.state.try_lock() else { return true };
            if let Txn::Active { started, .. } = &state.txn {
                if started.elapsed() > limit {
                    state.txn = Txn::Aborted;
                    aborted += 1;
                }
            }
            !expired(session.last_use(), now)
        });
        aborted
    }

    /// `transactionLifetimeLimitSeconds`.
    pub fn transaction_lifetime_secs(&self) -> u64 {
        self.transaction_lifetime_secs.load(Ordering::Relaxed)
    }

    pub fn set_transaction_lifetime_secs(&self, secs: u64) {
        self.transaction_lifetime_secs.store(secs, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The UUID bytes of `{id: UUID}`.
pub fn session_id(lsid: &Document) -> Option<[u8; 16]> {
    match lsid.get("id") {
        Some(Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes })) => bytes.as_slice().try_into().ok(),
        _ => None,
    }
}

fn expired(used: DateTime, now: DateTime) -> bool {
    now.timestamp_millis().saturating_sub(used.timestamp_millis()) > TIMEOUT.as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsid(byte: u8) -> Document {
        doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![byte; 16] } }
    }

    fn nobody() -> Owner {
        Owner::of(&[])
    }

    fn user(name: &str) -> Owner {
        Owner::of(&[UserName { user: name.into(), db: "admin".into() }])
    }

    #[test]
    fn sessions_are_listed_once_each_until_ended() {
        let sessions = Sessions::default();
        sessions.touch(&lsid(1), &nobody()).expect("room");
        sessions.touch(&lsid(1), &nobody()).expect("room");
        sessions.touch(&lsid(2), &nobody()).expect("room");
        assert!(sessions.touch(&doc! {"id": 1}, &nobody()).expect("no session").is_none());
        assert_eq!(sessions.list(&Pick::All).len(), 2);
        sessions.end([&lsid(1)], Some(&nobody()));
        let listed = sessions.list(&Pick::All);
        assert_eq!(listed.len(), 1);
        // MongoDB's uid without a user: the SHA-256 of nothing.
        let uid = listed[0].get_document("_id").and_then(|id| id.get_binary_generic("uid")).expect("a uid");
        assert_eq!(uid[..4], [0xe3, 0xb0, 0xc4, 0x42]);
        sessions.kill(&Pick::All);
        assert!(sessions.list(&Pick::All).is_empty());
    }

    #[test]
    fn the_same_id_used_by_two_users_is_two_sessions() {
        let sessions = Sessions::default();
        let (ann, bob) = (user("ann"), user("bob"));
        sessions.touch(&lsid(1), &ann).expect("room").expect("a session").check_out().txn_number = Some(1);
        let bobs = sessions.touch(&lsid(1), &bob).expect("room").expect("a session");
        assert_eq!(bobs.check_out().txn_number, None);
        assert_eq!(sessions.list(&Pick::Uids(&[ann.uid])).len(), 1);
        let listed = sessions.list(&Pick::Uids(&[bob.uid]));
        assert_eq!(listed[0].get_document("user").and_then(|u| u.get_str("name")), Ok("bob@admin"));
        sessions.end([&lsid(1)], Some(&ann));
        assert_eq!(sessions.len(), 1);
        sessions.end([&lsid(1)], None);
        assert!(sessions.is_empty());
    }

    #[test]
    fn a_session_keeps_its_state_and_id() {
        let sessions = Sessions::default();
        let session = sessions.touch(&lsid(3), &nobody()).expect("room").expect("a session");
        session.check_out().txn_number = Some(7);
        let again = sessions.touch(&lsid(3), &nobody()).expect("room").expect("the same session");
        assert_eq!(again.check_out().txn_number, Some(7));
        assert_eq!(again.lsid(), lsid(3));
    }
}
