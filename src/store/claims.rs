//! The documents open transactions have written, each claimed by the first
//! transaction to write it until that one ends. A second transaction writing a
//! claimed document fails at once with `WriteConflict`, as in MongoDB (the first
//! writer wins), rather than doing more work that its commit would throw away.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::wal::BranchId;

/// A document: its branch, collection and encoded `_id`.
pub type Key = (BranchId, String, Vec<u8>);

/// Which open transaction holds each claimed document.
#[derive(Default)]
pub struct Claims(Mutex<HashMap<Key, u64>>);

/// What one transaction has claimed; released when dropped.
pub struct Held {
    claims: Arc<Claims>,
    owner: u64,
    keys: Vec<Key>,
}

impl Held {
    pub fn new(claims: Arc<Claims>, owner: u64) -> Held {
        Held { claims, owner, keys: Vec::new() }
    }

    /// Claims `keys`; fails on the first one another transaction holds (those
    /// claimed before it stay held until this one ends).
    pub fn claim(&mut self, keys: impl IntoIterator<Item = Key>) -> Result<(), Key> {
        let mut map = self.claims.0.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            match map.entry(key) {
                Entry::Vacant(vacant) => {
                    self.keys.push(vacant.key().clone());
                    vacant.insert(self.owner);
                }
                Entry::Occupied(held) if *held.get() == self.owner => {}
                Entry::Occupied(held) => return Err(held.key().clone()),
            }
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut map = self.claims.0.lock().unwrap_or_else(|p| p.into_inner());
        for key in self.keys.drain(..) {
            if map.get(&key) == Some(&self.owner) {
                map.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u8) -> Key {
        (BranchId(1), "c".into(), vec![id])
    }

    #[test]
    fn the_first_writer_holds_until_it_ends() {
        let claims = Arc::new(Claims::default());
        let mut first = Held::new(claims.clone(), 1);
        let mut second = Held::new(claims.clone(), 2);
        assert!(first.claim([key(1), key(2)]).is_ok());
        assert!(first.claim([key(1)]).is_ok());
        assert_eq!(second.claim([key(3), key(2)]), Err(key(2)));
        drop(first);
        assert!(second.claim([key(1), key(2)]).is_ok());
        drop(second);
        assert!(claims.0.lock().expect("claims").is_empty());
    }
}
