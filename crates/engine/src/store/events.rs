//! Who cares when a key changes: WATCHing clients (their transaction must fail) and clients blocked
//! on the key (BLPOP and friends must retry). Every write through [`super::Locked`] reports the key
//! here; with nobody watching or blocked that costs two relaxed atomic loads.
//!
//! Blocked clients wait in arrival order per key: a write wakes only the first waiter, which retries
//! its command; if it succeeds, its own write (the pop) wakes the next one. A waiter that finds
//! nothing keeps its place, so pushes serve blocked clients first-come, first-served, as in Redis.
//! Readers that take nothing away (XREAD, XREADGROUP of different groups) may all be servable by one
//! change, so a woken reader that finds nothing passes the wake-up on to the client behind it
//! ([`KeyEvents::pass_on`]): every reader gets its turn, in arrival order, as Redis serves them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::Blob;

type KeyId = (usize, Blob);

/// One client's WATCH of one key.
struct Watcher {
    client: u64,
    /// The client's dirty flag (its EXEC fails once set).
    dirty: Arc<AtomicBool>,
    /// The key existed but had expired when WATCHed (Redis's `watchedKey.expired`): its deletion
    /// is no change (the key was logically gone already); anything else is.
    expired: bool,
}

/// What a flush or SWAPDB did to one WATCHed key of the emptied database.
#[derive(Debug, Clone, Copy)]
pub struct Replaced {
    /// The key was in the database before (expired or not).
    pub before: bool,
    /// The key is in it after (SWAPDB's other database had it): whether it has expired.
    pub after: Option<bool>,
}

thread_local! {
    /// Keys written by the command (or expiry cycle) running on this thread, while anyone tracks:
    /// (the store's [`KeyEvents`] address, key, removed by expiry or eviction).
    static TRACKED: std::cell::RefCell<Vec<(usize, Blob, bool)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Default)]
struct Inner {
    watches: HashMap<KeyId, Vec<Watcher>>,
    waiters: HashMap<KeyId, VecDeque<(u64, Arc<Notify>)>>,
}

/// The registry of watched keys and blocked clients of one store.
#[derive(Default)]
pub struct KeyEvents {
    /// Writes so far (Redis's `server.dirty`: `rdb_changes_since_last_save` and the `save` schedule).
    dirty: AtomicU64,
    /// Whether some client tracks keys (CLIENT TRACKING): writes are then collected per thread
    /// ([`KeyEvents::take_tracked`]).
    tracking: AtomicBool,
    watched: AtomicUsize,
    blocked: AtomicUsize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for KeyEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEvents")
            .field("watched", &self.watched.load(Ordering::Relaxed))
            .field("blocked", &self.blocked.load(Ordering::Relaxed))
            .finish()
    }
}

impl KeyEvents {
    /// Writes reported so far (every [`touched`](Self::touched) and flush).
    pub fn dirty(&self) -> u64 {
        self.dirty.load(Ordering::Relaxed)
    }

    /// A key of database `db` was written (set, modified, or given an expiry): it exists after.
    #[inline]
    pub fn touched(&self, db: usize, key: &[u8]) {
        if self.tracking.load(Ordering::Relaxed) {
            self.track(key, false);
        }
        self.touch_watchers(db, key, false);
    }

    /// A key of database `db` was deleted by a command (DEL, an emptied collection...).
    #[inline]
    pub fn deleted(&self, db: usize, key: &[u8]) {
        if self.tracking.load(Ordering::Relaxed) {
            self.track(key, false);
        }
        self.touch_watchers(db, key, true);
    }

    /// A key was removed by expiry or eviction (Redis signals it with no client: a NOLOOP client
    /// hears about it even while its own command triggered it).
    #[inline]
    pub fn removed_by_server(&self, db: usize, key: &[u8]) {
        if self.tracking.load(Ordering::Relaxed) {
            self.track(key, true);
        }
        self.touch_watchers(db, key, true);
    }
    /// Whether writes are collected for CLIENT TRACKING (set by the tracking table under its lock).
    pub fn set_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
    }

    #[cold]
    fn track(&self, key: &[u8], by_server: bool) {
        let me = self as *const KeyEvents as usize;
        TRACKED.with(|t| t.borrow_mut().push((me, Blob::from_slice(key), by_server)));
    }

    /// The keys written on this thread since the last call (each with whether expiry or eviction
    /// removed it): what CLIENT TRACKING invalidates. Entries of other stores (several engines
    /// in one process) are dropped.
    pub fn take_tracked(&self) -> Vec<(Blob, bool)> {
        let me = self as *const KeyEvents as usize;
        TRACKED.with(|t| {
            let mut t = t.borrow_mut();
            if t.is_empty() {
                return Vec::new();
            }
            t.drain(..)
                .filter(|(who, _, _)| *who == me)
                .map(|(_, k, s)| (k, s))
                .collect()
        })
    }

    /// Redis's `touchWatchedKey` (and `signalKeyAsReady`): the WATCHes of the key fail, but for
    /// those that saw it expired already when the key is now gone (`gone`: logically no change;
    /// their flag is cleared, so a later write counts).
    #[inline]
    fn touch_watchers(&self, db: usize, key: &[u8], gone: bool) {
        self.dirty.fetch_add(1, Ordering::Relaxed);
        if self.watched.load(Ordering::Relaxed) == 0 && self.blocked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let id = (db, Blob::from_slice(key));
        let mut inner = self.inner.lock();
        if let Some(ws) = inner.watches.get_mut(&id) {
            for w in ws {
                if w.expired {
                    // Gone now: logically no change, and a later write counts. Still there: it
                    // is still expired, no change either (Redis leaves that WATCH alone).
                    w.expired = !gone;
                    continue;
                }
                w.dirty.store(true, Ordering::Release);
            }
        }
        if let Some((_, first)) = inner.waiters.get(&id).and_then(|q| q.front()) {
            first.notify_one();
        }
    }

    /// Wake the clients blocked on a key without touching WATCHes (a stream group was destroyed).
    pub fn ready(&self, db: usize, key: &[u8]) {
        if self.blocked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let id = (db, Blob::from_slice(key));
        if let Some((_, first)) = self.inner.lock().waiters.get(&id).and_then(|q| q.front()) {
            first.notify_one();
        }
    }

    /// `client` was woken but could not proceed: wake the client queued right behind it on each key.
    pub fn pass_on(&self, db: usize, keys: &[Vec<u8>], client: u64) {
        let inner = self.inner.lock();
        for key in keys {
            let id = (db, Blob::from_slice(key));
            if let Some(q) = inner.waiters.get(&id)
                && let Some(pos) = q.iter().position(|(c, _)| *c == client)
                && let Some((_, next)) = q.get(pos + 1)
            {
                next.notify_one();
            }
        }
    }

    /// The keys of database `db` somebody WATCHes (nothing to collect when nobody watches).
    pub fn watched_in(&self, db: usize) -> Vec<Blob> {
        if self.watched.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let inner = self.inner.lock();
        inner
            .watches
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Every key of `db` changed at once (FLUSHDB, FLUSHALL, SWAPDB), and every blocked client of
    /// `db` checks again. `fates` says, for WATCHed keys of `db`, whether each was there before and
    /// is after; their WATCHes fail as Redis's `touchAllWatchedKeysInDb` decides: not when the key
    /// was in neither, nor when an already-expired key is gone or replaced by another expired one,
    /// nor when a missing key is replaced by an expired one (that WATCH then counts as expired).
    pub fn all_touched(&self, db: usize, fates: &[(Blob, Replaced)]) {
        self.dirty.fetch_add(1, Ordering::Relaxed);
        if self.watched.load(Ordering::Relaxed) == 0 && self.blocked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut inner = self.inner.lock();
        for (key, fate) in fates {
            if !fate.before && fate.after.is_none() {
                continue;
            }
            let Some(ws) = inner.watches.get_mut(&(db, key.clone())) else {
                continue;
            };
            for w in ws {
                if w.expired {
                    match fate.after {
                        None => {
                            w.expired = false;
                            continue;
                        }
                        Some(true) => continue,
                        Some(false) => {}
                    }
                } else if !fate.before && fate.after == Some(true) {
                    w.expired = true;
                    continue;
                }
                w.dirty.store(true, Ordering::Release);
            }
        }
        for ((d, _), q) in inner.waiters.iter() {
            if db == *d
                && let Some((_, first)) = q.front()
            {
                first.notify_one();
            }
        }
    }

    /// WATCH: `flag` is set when the key changes. `expired`: the key is there but has expired.
    pub fn watch(&self, db: usize, key: &[u8], client: u64, flag: Arc<AtomicBool>, expired: bool) {
        let mut inner = self.inner.lock();
        let list = inner
            .watches
            .entry((db, Blob::from_slice(key)))
            .or_default();
        if !list.iter().any(|w| w.client == client) {
            list.push(Watcher {
                client,
                dirty: flag,
                expired,
            });
            self.watched.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// UNWATCH (and EXEC, DISCARD, disconnect): forget every key `client` watches.
    pub fn unwatch_all(&self, client: u64, keys: &[KeyId]) {
        if keys.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        for id in keys {
            if let Some(list) = inner.watches.get_mut(id) {
                let before = list.len();
                list.retain(|w| w.client != client);
                self.watched
                    .fetch_sub(before - list.len(), Ordering::Relaxed);
                if list.is_empty() {
                    inner.watches.remove(id);
                }
            }
        }
    }

    /// Queue `client` behind the clients already blocked on each key.
    pub fn block(&self, db: usize, keys: &[&[u8]], client: u64, notify: &Arc<Notify>) {
        let mut inner = self.inner.lock();
        for key in keys {
            let q = inner
                .waiters
                .entry((db, Blob::from_slice(key)))
                .or_default();
            if !q.iter().any(|(c, _)| *c == client) {
                q.push_back((client, notify.clone()));
                self.blocked.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Remove `client` from the queues of these keys. If it was first in a queue and the key may hold
    /// data (it was served, or it leaves), the next waiter is woken so it can check.
    pub fn unblock(&self, db: usize, keys: &[Vec<u8>], client: u64) {
        let mut inner = self.inner.lock();
        for key in keys {
            let id = (db, Blob::from_slice(key));
            let Some(q) = inner.waiters.get_mut(&id) else {
                continue;
            };
            let before = q.len();
            q.retain(|(c, _)| *c != client);
            self.blocked.fetch_sub(before - q.len(), Ordering::Relaxed);
            match q.front() {
                Some((_, next)) => next.notify_one(),
                None => {
                    inner.waiters.remove(&id);
                }
            }
        }
    }

    /// Wake every blocked client so it re-runs its command (cluster mode: its key's slot moved to
    /// another node, and the re-run's routing answers `-MOVED`). One relaxed load when nobody is
    /// blocked.
    pub fn wake_all(&self) {
        if self.blocked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let inner = self.inner.lock();
        for q in inner.waiters.values() {
            for (_, notify) in q {
                notify.notify_one();
            }
        }
    }

    /// Number of blocked clients' key registrations (INFO blocked_clients approximates with it).
    pub fn blocked_registrations(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }
}
