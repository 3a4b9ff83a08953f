//! The logical session cache: the sessions (`lsid`) clients have used recently, as
//! `$listLocalSessions` reports them. Sessions hold no other state yet (no
//! transactions, no retryable-write table).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bson::{doc, spec::BinarySubtype, Binary, Bson, DateTime, Document};

/// A session unused this long is forgotten (MongoDB's `localLogicalSessionTimeoutMinutes`).
const TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The cache forgets idle sessions when it grows past this many.
const SWEEP_AT: usize = 10_000;

/// Session ids (their UUID bytes) with when each was last used.
#[derive(Default)]
pub struct LocalSessions {
    sessions: Mutex<HashMap<[u8; 16], DateTime>>,
}

impl LocalSessions {
    /// Records that the command `body` used its `lsid`, if it names one.
    pub fn touch(&self, body: &Document) {
        let Some(id) = body.get_document("lsid").ok().and_then(session_id) else { return };
        let now = DateTime::now();
        let mut sessions = self.lock();
        if sessions.len() >= SWEEP_AT {
            sessions.retain(|_, used| !expired(*used, now));
        }
        sessions.insert(id, now);
    }

    /// Forgets the sessions `{id: UUID}` of `endSessions`.
    pub fn end<'a>(&self, ids: impl IntoIterator<Item = &'a Document>) {
        let mut sessions = self.lock();
        for id in ids.into_iter().filter_map(session_id) {
            sessions.remove(&id);
        }
    }

    /// Every live session as `$listLocalSessions` shows it: `{_id: {id, uid}, lastUse}`.
    /// Without authentication every session belongs to the same (unnamed) user,
    /// whose `uid` is shown as 32 zero bytes.
    pub fn list(&self) -> Vec<Document> {
        let now = DateTime::now();
        let mut sessions = self.lock();
        sessions.retain(|_, used| !expired(*used, now));
        let mut list: Vec<(&[u8; 16], &DateTime)> = sessions.iter().collect();
        list.sort_by_key(|(_, used)| std::cmp::Reverse(**used));
        list.into_iter()
            .map(|(id, used)| {
                let id = Binary { subtype: BinarySubtype::Uuid, bytes: id.to_vec() };
                let uid = Binary { subtype: BinarySubtype::Generic, bytes: vec![0; 32] };
                doc! { "_id": {"id": id, "uid": uid}, "lastUse": *used }
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 16], DateTime>> {
        self.sessions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The UUID bytes of `{id: UUID}`.
fn session_id(lsid: &Document) -> Option<[u8; 16]> {
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

    #[test]
    fn sessions_are_listed_once_each_until_ended() {
        let sessions = LocalSessions::default();
        sessions.touch(&doc! { "ping": 1, "lsid": lsid(1) });
        sessions.touch(&doc! { "ping": 1, "lsid": lsid(1) });
        sessions.touch(&doc! { "ping": 1, "lsid": lsid(2) });
        sessions.touch(&doc! { "ping": 1 });
        assert_eq!(sessions.list().len(), 2);
        sessions.end([&lsid(1)]);
        let listed = sessions.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].get_document("_id").and_then(|id| id.get_binary_generic("uid")).map(Vec::len), Ok(32));
    }
}
