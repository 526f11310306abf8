//! Point-in-time snapshots of a live keyspace without stopping it (BGSAVE, AOF rewrites): redlink
//! cannot fork, so it copies on write at shard granularity.
//!
//! [`Store::begin_snapshot`](super::Store::begin_snapshot) runs while its caller holds the gate
//! exclusively (no command is between its shard locks): it opens an epoch and records every
//! database's size. From then on, whoever locks a shard that has not been captured in this epoch
//! (a command about to read or write it, active expiry, eviction, or the snapshot's own walker)
//! first clones the shard's table under the lock it already holds and hands the clone to the
//! snapshot. A shard is copied at most once per epoch, before its first change after the epoch
//! began, so the snapshot is exactly the keyspace at that instant. When no snapshot runs, the check
//! costs one relaxed atomic load per shard lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::{Dict, Key, SHARDS, Shard, Store, Value};

/// The snapshot state a store's databases share.
#[derive(Debug, Default)]
pub struct SnapshotHook {
    /// The running snapshot's epoch; 0 when none runs.
    epoch: AtomicU64,
    /// The last epoch handed out.
    last: AtomicU64,
    /// Captured shards, by `db * SHARDS + shard`, waiting for the walker.
    captured: Mutex<Vec<Option<Dict<Value, Key>>>>,
}

impl SnapshotHook {
    /// Called with a shard's lock held: capture it first if a snapshot runs and has not got it.
    #[inline]
    pub(super) fn check(&self, db: usize, shard: usize, guard: &mut Shard) {
        let epoch = self.epoch.load(Ordering::Relaxed);
        if epoch != 0 && guard.snapshot_epoch != epoch {
            self.capture(epoch, db, shard, guard);
        }
    }

    #[cold]
    fn capture(&self, epoch: u64, db: usize, shard: usize, guard: &mut Shard) {
        let mut captured = self.captured.lock();
        // The snapshot may have ended between the load and this lock.
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if let Some(slot) = captured.get_mut(db * SHARDS + shard) {
            *slot = Some(guard.dict.clone());
        }
        guard.snapshot_epoch = epoch;
    }
}

/// One running snapshot: the keyspace as it was when [`Store::begin_snapshot`] returned it.
#[derive(Debug)]
pub struct Snapshot {
    hook: Arc<SnapshotHook>,
    epoch: u64,
    /// Per database: (keys, keys with an expiry) at the epoch (RESIZEDB's figures).
    pub sizes: Vec<(usize, usize)>,
}

impl Store {
    /// Start a snapshot; the caller holds the gate exclusively. `None` if one is already running
    /// (one at a time, like redis-server's single child process).
    pub fn begin_snapshot(&self) -> Option<Snapshot> {
        let hook = &self.snapshot;
        let mut captured = hook.captured.lock();
        if hook.epoch.load(Ordering::Acquire) != 0 {
            return None;
        }
        let sizes = self
            .dbs
            .iter()
            .map(|db| {
                db.shards.iter().fold((0, 0), |(n, v), s| {
                    let g = s.lock();
                    (n + g.dict.len(), v + g.dict.volatile())
                })
            })
            .collect();
        captured.clear();
        captured.resize_with(self.dbs.len() * SHARDS, || None);
        let epoch = hook.last.fetch_add(1, Ordering::AcqRel) + 1;
        hook.epoch.store(epoch, Ordering::Release);
        Some(Snapshot {
            hook: hook.clone(),
            epoch,
            sizes,
        })
    }

    /// Whether a snapshot is running.
    pub fn snapshot_running(&self) -> bool {
        self.snapshot.epoch.load(Ordering::Relaxed) != 0
    }
}

impl Snapshot {
    /// Shard `shard` of database `db` as it was at the epoch (each shard can be taken once).
    pub fn take_shard(&self, store: &Store, db: usize, shard: usize) -> Dict<Value, Key> {
        // Locking through the hook captures the shard if nobody has yet.
        drop(store.db(db).shard(shard));
        self.hook
            .captured
            .lock()
            .get_mut(db * SHARDS + shard)
            .and_then(Option::take)
            .unwrap_or_default()
    }

    /// This snapshot's epoch (distinct per snapshot).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut captured = self.hook.captured.lock();
        let _ =
            self.hook
                .epoch
                .compare_exchange(self.epoch, 0, Ordering::AcqRel, Ordering::Relaxed);
        // Copies nobody took (an abandoned snapshot) are freed outside the lock.
        let left = std::mem::take(&mut *captured);
        drop(captured);
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Blob;

    fn keys_of(store: &Store, snap: &Snapshot, db: usize) -> Vec<(Blob, Value)> {
        let mut out: Vec<(Blob, Value)> = (0..SHARDS)
            .flat_map(|s| {
                snap.take_shard(store, db, s)
                    .iter()
                    .map(|n| (Blob::from_slice(&n.key), n.value.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn the_snapshot_is_the_keyspace_at_its_start_whatever_happens_next() {
        let store = Store::new(2);
        let now = store.now_ms();
        let v = |s: &str| Value::Str(Blob::from_slice(s.as_bytes()));
        for i in 0..500 {
            let k = format!("k{i}");
            store
                .db(0)
                .lock(k.as_bytes(), now)
                .set(k.as_bytes(), v("old"), 0);
        }
        store.db(1).lock(b"one", now).set(b"one", v("db1"), 0);
        let snap = {
            let _g = store.gate.exclusive();
            store.begin_snapshot().expect("first snapshot")
        };
        assert!(store.begin_snapshot().is_none(), "one at a time");
        assert_eq!(snap.sizes, vec![(500, 0), (1, 0)]);
        // Changes after the start: overwrite, delete, add, swap databases, flush.
        store.db(0).lock(b"k1", now).set(b"k1", v("new"), 0);
        store.db(0).lock(b"k2", now).remove(b"k2");
        store.db(0).lock(b"added", now).set(b"added", v("x"), 0);
        store.swap(0, 1);
        store.flush_all();
        let db0 = keys_of(&store, &snap, 0);
        assert_eq!(db0.len(), 500);
        assert!(db0.iter().all(|(_, val)| *val == v("old")));
        assert_eq!(
            keys_of(&store, &snap, 1),
            vec![(Blob::from_slice(b"one"), v("db1"))]
        );
        drop(snap);
        assert!(!store.snapshot_running());
        // The next snapshot sees the present.
        let _g = store.gate.exclusive();
        let next = store.begin_snapshot().expect("after the first ended");
        assert_eq!(next.sizes, vec![(0, 0), (0, 0)]);
    }
}
