//! The keys of each hash slot, as redis-server 7.0 keeps them (`slots_to_keys`), so that
//! `CLUSTER COUNTKEYSINSLOT` and `GETKEYSINSLOT` (and the slot migrations that use them) cost
//! the keys of one slot, not a scan of the keyspace. Only a cluster node's database 0 has one
//! (cluster mode refuses other databases); the keyspace updates it when a key is created or
//! deleted (never when a value is overwritten), under the key's shard lock, so it always matches
//! the dictionary: one CRC16 and one uncontended per-slot lock per created or deleted key.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use parking_lot::Mutex;

use super::slot::{SLOTS, key_slot};
use crate::store::Blob;

type Keys = HashSet<Blob, BuildHasherDefault<ahash::AHasher>>;

/// The keys of every slot of one database.
pub struct SlotIndex {
    slots: Box<[Mutex<Keys>]>,
}

impl std::fmt::Debug for SlotIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlotIndex")
    }
}

impl Default for SlotIndex {
    fn default() -> Self {
        SlotIndex {
            slots: (0..SLOTS).map(|_| Mutex::new(Keys::default())).collect(),
        }
    }
}

impl SlotIndex {
    /// A key was created.
    #[inline]
    pub fn add(&self, key: &[u8]) {
        self.slots[key_slot(key) as usize]
            .lock()
            .insert(Blob::from_slice(key));
    }

    /// A key was deleted.
    #[inline]
    pub fn remove(&self, key: &[u8]) {
        self.slots[key_slot(key) as usize].lock().remove(key);
    }

    /// Every key was deleted.
    pub fn clear(&self) {
        for s in self.slots.iter() {
            let old = std::mem::take(&mut *s.lock());
            drop(old);
        }
    }

    /// How many keys slot `slot` holds.
    pub fn count(&self, slot: u16) -> usize {
        self.slots.get(slot as usize).map_or(0, |s| s.lock().len())
    }

    /// Up to `limit` keys of slot `slot`.
    pub fn keys(&self, slot: u16, limit: usize) -> Vec<Blob> {
        self.slots
            .get(slot as usize)
            .map_or_else(Vec::new, |s| s.lock().iter().take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_per_slot() {
        let index = SlotIndex::default();
        index.add(b"{b}1");
        index.add(b"{b}2");
        index.add(b"foo");
        assert_eq!(index.count(key_slot(b"b")), 2);
        assert_eq!(index.count(12182), 1);
        assert_eq!(index.keys(key_slot(b"b"), 1).len(), 1);
        index.remove(b"{b}1");
        assert_eq!(
            index.keys(key_slot(b"b"), 10),
            vec![Blob::from_slice(b"{b}2")]
        );
        index.clear();
        assert_eq!(index.count(12182), 0);
    }
}
