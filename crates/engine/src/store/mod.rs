//! The keyspace: databases of sharded hash tables, values, and expiry.
//!
//! Concurrency model: every database is split into [`SHARDS`] shards, each behind its own mutex, so
//! clients on different cores rarely meet. A command locks the shards of the keys it touches (in
//! ascending order, so multi-key commands cannot deadlock). Operations that must see or change the
//! whole keyspace atomically (EXEC, FLUSHALL, SWAPDB) take the [`Gate`] exclusively; ordinary commands
//! take one of its slots shared, which costs an uncontended atomic on a cache line of their own.
//!
//! Expiry follows Redis: lazily on access, plus an active cycle ([`Store::active_expire_cycle`]) that
//! samples volatile keys and stops after a time budget. Time is the store's [`Clock`] (real, or
//! manual: issue 23); when a manual clock moves, [`Store::expire_due`] removes every key that became
//! due, in order of expiry.

pub mod dict;
pub mod events;
pub mod key;
pub mod snapshot;
pub mod stream;
pub mod types;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

pub use redlink_clock::Clock;

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use smallvec::SmallVec;

pub use dict::{Dict, Node};
pub use events::KeyEvents;
pub use key::Key;
pub use stream::{Stream, StreamId};
pub use types::{LexBound, Score, ScoreBound, Table, ZSet};

use crate::notify::{Notifier, class};

/// Bytes of a key or a small value, stored inline up to 16 bytes.
pub type Blob = SmallVec<[u8; 16]>;

/// Shards per database.
pub const SHARDS: usize = 64;
const SHARD_SHIFT: u32 = 64 - SHARDS.trailing_zeros();

/// A value stored under a key. Collections are boxed so a `Value` stays 32 bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (binary safe).
    Str(Blob),
    /// A list.
    List(Box<VecDeque<Blob>>),
    /// A hash: field → value.
    Hash(Box<Table<Blob>>),
    /// A set.
    Set(Box<Table<()>>),
    /// A sorted set.
    ZSet(Box<ZSet>),
    /// A stream.
    Stream(Box<Stream>),
}

/// Longest member of a listpack-encoded set (Redis 7.2's `set-max-listpack-value` default, which
/// redlink does not offer as a parameter: 7.0 has none).
const SET_LISTPACK_VALUE: usize = 64;

/// The configuration parameters the keyspace itself follows (copied from the configuration by
/// `Engine::refresh_hot_config`, read without a lock): encoding thresholds OBJECT ENCODING reports,
/// the LFU counter's `lfu-log-factor` / `lfu-decay-time`, and the stream node limits.
#[derive(Debug)]
pub struct Tuning {
    /// `hash-max-listpack-entries`.
    pub hash_entries: AtomicUsize,
    /// `hash-max-listpack-value`.
    pub hash_value: AtomicUsize,
    /// `zset-max-listpack-entries`.
    pub zset_entries: AtomicUsize,
    /// `zset-max-listpack-value`.
    pub zset_value: AtomicUsize,
    /// `set-max-intset-entries`.
    pub set_intset_entries: AtomicUsize,
    /// `set-max-listpack-entries` (Redis 7.2).
    pub set_entries: AtomicUsize,
    /// `list-max-listpack-size`: entries when positive, -1..-5 = 4..64 KB.
    pub list_size: AtomicI64,
    /// `lfu-log-factor`.
    pub lfu_log_factor: AtomicU64,
    /// `lfu-decay-time`, minutes (0 = never decay).
    pub lfu_decay_minutes: AtomicU64,
    /// `stream-node-max-bytes` (0 = no limit).
    pub stream_node_bytes: AtomicUsize,
    /// `stream-node-max-entries` (0 = no limit).
    pub stream_node_entries: AtomicU64,
}

impl Default for Tuning {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Tuning {
            hash_entries: AtomicUsize::new(512),
            hash_value: AtomicUsize::new(64),
            zset_entries: AtomicUsize::new(128),
            zset_value: AtomicUsize::new(64),
            set_intset_entries: AtomicUsize::new(512),
            set_entries: AtomicUsize::new(128),
            list_size: AtomicI64::new(-2),
            lfu_log_factor: AtomicU64::new(10),
            lfu_decay_minutes: AtomicU64::new(1),
            stream_node_bytes: AtomicUsize::new(stream::NODE_MAX_BYTES),
            stream_node_entries: AtomicU64::new(stream::NODE_MAX_ENTRIES),
        }
    }
}

impl Tuning {
    fn get(v: &AtomicUsize) -> usize {
        v.load(Ordering::Relaxed)
    }

    /// Whether a list of `len` elements taking `bytes` fits one listpack (`list-max-listpack-size`).
    fn list_fits(&self, len: usize, bytes: usize) -> bool {
        match self.list_size.load(Ordering::Relaxed) {
            n if n > 0 => len <= n as usize,
            n => bytes <= 4096usize << (n.unsigned_abs().clamp(1, 5) - 1),
        }
    }

    /// The stream node limits (bytes, entries; 0 = none).
    pub fn stream_node_limits(&self) -> (usize, u64) {
        (
            Self::get(&self.stream_node_bytes),
            self.stream_node_entries.load(Ordering::Relaxed),
        )
    }
}

impl Value {
    /// An empty list.
    pub fn new_list() -> Value {
        Value::List(Box::default())
    }

    /// An empty hash.
    pub fn new_hash() -> Value {
        Value::Hash(Box::default())
    }

    /// An empty set.
    pub fn new_set() -> Value {
        Value::Set(Box::default())
    }

    /// An empty sorted set.
    pub fn new_zset() -> Value {
        Value::ZSet(Box::default())
    }

    /// Whether the value is an empty collection (Redis deletes those keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            // Redis keeps empty streams (their last ID and groups still matter).
            Value::Stream(_) => false,
        }
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding OBJECT ENCODING reports for a value whose node has encoding floor `floor`: the
    /// computed [`encoding`](Self::encoding), unless the value was bigger once (Redis converts a
    /// listpack or intset to the big encoding and never back; an intset that took a non-integer
    /// stays a listpack).
    pub fn encoding_from(&self, floor: u8, t: &Tuning) -> &'static str {
        let now = self.encoding(t);
        match (floor, self) {
            (floor::BIG, Value::List(_)) => "quicklist",
            (floor::BIG, Value::Hash(_) | Value::Set(_)) => "hashtable",
            (floor::BIG, Value::ZSet(_)) => "skiplist",
            (floor::BIG, Value::Str(_)) => "raw",
            (floor::NOT_INTSET, Value::Set(_)) if now == "intset" => "listpack",
            _ => now,
        }
    }

    /// The floor a value's current encoding sets (see [`encoding_from`](Self::encoding_from)).
    pub fn floor_of(&self, t: &Tuning) -> u8 {
        match self.encoding(t) {
            "quicklist" | "hashtable" | "skiplist" => floor::BIG,
            "listpack" if matches!(self, Value::Set(_)) => floor::NOT_INTSET,
            _ => floor::NONE,
        }
    }

    /// The encoding OBJECT ENCODING reports (Redis 7.2's, from the thresholds in `t`) computed from
    /// the value alone; [`encoding_from`](Self::encoding_from) adds what the value went through.
    pub fn encoding(&self, t: &Tuning) -> &'static str {
        let get = Tuning::get;
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::protocol::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(l) => {
                let bytes: usize = l.iter().map(|e| e.len() + 2).sum();
                if t.list_fits(l.len(), bytes) {
                    "listpack"
                } else {
                    "quicklist"
                }
            }
            Value::Hash(h) => {
                let max = get(&t.hash_value);
                if h.len() <= get(&t.hash_entries)
                    && h.iter().all(|(k, v)| k.len() <= max && v.len() <= max)
                {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
            Value::Set(s) => {
                if s.len() <= get(&t.set_intset_entries)
                    && s.iter()
                        .all(|(k, _)| crate::protocol::parse_i64(k).is_some())
                {
                    "intset"
                } else if s.len() <= get(&t.set_entries)
                    && s.iter().all(|(k, _)| k.len() <= SET_LISTPACK_VALUE)
                {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
            Value::ZSet(z) => {
                let max = get(&t.zset_value);
                if z.len() <= get(&t.zset_entries) && z.iter().all(|(m, _)| m.len() <= max) {
                    "listpack"
                } else {
                    "skiplist"
                }
            }
            Value::Stream(_) => "stream",
        }
    }
}

/// Encoding floors ([`Node::floor`]).
pub mod floor {
    /// The encoding follows the value.
    pub const NONE: u8 = 0;
    /// A set that held a non-integer: a listpack at least.
    pub const NOT_INTSET: u8 = 1;
    /// The big encoding (quicklist, hashtable, skiplist; `raw` for a string changed in place).
    pub const BIG: u8 = 2;
}

// A keyspace node must stay a 72-byte allocation: glibc serves it from an 80-byte chunk, and one byte
// more would take a 96-byte chunk, 16 bytes per key (see `key`'s module documentation).
const _: () = assert!(std::mem::size_of::<Node<Value, Key>>() <= 72);

/// One shard of a database.
#[derive(Debug, Default)]
pub struct Shard {
    dict: Dict<Value, Key>,
    expire_cursor: usize,
    /// The last snapshot epoch that captured this shard ([`snapshot`]).
    snapshot_epoch: u64,
}

/// One of the numbered databases (SELECT n).
#[derive(Debug)]
pub struct Db {
    shards: Box<[Mutex<Shard>]>,
    hasher: ahash::RandomState,
    index: usize,
    events: Arc<KeyEvents>,
    /// Whether `maxmemory-policy` is an LFU one (key accesses then update the LFU counter).
    lfu: Arc<AtomicBool>,
    /// Where deletions by expiry and eviction are propagated.
    feed: Arc<crate::propagate::Feed>,
    /// Copy-on-write hook of point-in-time snapshots.
    snapshot: Arc<snapshot::SnapshotHook>,
    /// The store's [`Tuning`].
    tuning: Arc<Tuning>,
    /// Keyspace notifications (`expired`, `evicted` and `new` start here).
    notify: Arc<Notifier>,
    /// The store's clock (FLUSHDB's check of watched keys reads it).
    clock: Clock,
    /// The keys of each hash slot, on a cluster node's database 0 ([`Db::enable_slot_index`]).
    slot_index: std::sync::OnceLock<crate::cluster::slot_index::SlotIndex>,
}

/// The LFU counter after decay for the time since `lru` (one step per `lfu-decay-time` minutes idle,
/// none when it is 0), like Redis's `LFUDecrAndReturn`.
pub fn lfu_decayed(counter: u8, lru: u32, now: u64, t: &Tuning) -> u8 {
    let decay_minutes = t.lfu_decay_minutes.load(Ordering::Relaxed);
    if decay_minutes == 0 {
        return counter;
    }
    let idle_min = ((now as u32).wrapping_sub(lru) as u64) / 60_000;
    let periods = idle_min / decay_minutes;
    counter.saturating_sub(periods.min(255) as u8)
}

/// Decay, then increment logarithmically (Redis's `LFULogIncr` with `lfu-log-factor`): the more
/// hits, the less likely the next one counts.
pub fn lfu_access(counter: u8, lru: u32, now: u64, t: &Tuning) -> u8 {
    let counter = lfu_decayed(counter, lru, now, t);
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(dict::LFU_INIT_VAL) as f64;
    let factor = t.lfu_log_factor.load(Ordering::Relaxed) as f64;
    let p = 1.0 / (base * factor + 1.0);
    if rand::random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// One key considered for eviction: where it is and how good a victim it is (higher = better).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Database index.
    pub db: usize,
    /// The key.
    pub key: Blob,
    /// Idle milliseconds (LRU), `255 - counter` (LFU), or `u64::MAX - expire` (TTL).
    pub score: u64,
}

/// What eviction samples by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleBy {
    /// Idle time.
    Lru,
    /// Access frequency.
    Lfu,
    /// Time to live (volatile keys only).
    Ttl,
}

/// Key lookups that found an expired key and removed it are counted here by the caller.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExpireCount(pub u64);

impl Db {
    // The store's shared parts, one argument each (only `Store::new` calls it).
    #[allow(clippy::too_many_arguments)]
    fn new(
        hasher: ahash::RandomState,
        index: usize,
        events: Arc<KeyEvents>,
        lfu: Arc<AtomicBool>,
        feed: Arc<crate::propagate::Feed>,
        snapshot: Arc<snapshot::SnapshotHook>,
        tuning: Arc<Tuning>,
        notify: Arc<Notifier>,
        clock: Clock,
    ) -> Self {
        Db {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher,
            index,
            events,
            lfu,
            feed,
            snapshot,
            tuning,
            notify,
            clock,
            slot_index: std::sync::OnceLock::new(),
        }
    }

    /// Lock shard `s` for a command or job that may change it: a running snapshot captures the
    /// shard first (one relaxed load when no snapshot runs).
    #[inline]
    fn shard(&self, s: usize) -> MutexGuard<'_, Shard> {
        let mut g = self.shards[s].lock();
        self.snapshot.check(self.index, s, &mut g);
        g
    }

    /// Lock shard `s` to read it only (sizes, SCAN, sampling): no snapshot capture needed.
    #[inline]
    fn shard_to_read(&self, s: usize) -> MutexGuard<'_, Shard> {
        self.shards[s].lock()
    }

    /// Add about `count` keys sampled at random (from random shards and buckets) to `out`, scored
    /// for eviction; only keys with an expiry when `volatile_only`. Like Redis's `dictGetSomeKeys`,
    /// whole buckets are taken, so a sample may be a little larger than asked.
    pub fn sample(
        &self,
        count: usize,
        volatile_only: bool,
        by: Option<SampleBy>,
        now: u64,
        out: &mut Vec<Candidate>,
    ) {
        use rand::Rng;
        let mut rng = rand::rng();
        let want = out.len() + count;
        // Bounded effort: empty shards and buckets are skipped, but not forever.
        for _ in 0..count * 16 {
            if out.len() >= want {
                break;
            }
            let guard = self.shard_to_read(rng.random_range(0..SHARDS));
            let live = if volatile_only {
                guard.dict.volatile()
            } else {
                guard.dict.len()
            };
            if live == 0 {
                continue;
            }
            let buckets = guard.dict.buckets();
            // Consecutive buckets from a random one, like Redis's `dictGetSomeKeys`: a few per shard
            // visit, or (for volatile keys that are rare in this shard) as many as it takes, so a
            // sparse sample does not cost many lock trips.
            let sparse = volatile_only && live * 8 < guard.dict.len();
            let walk = if sparse { buckets } else { buckets.min(8) };
            let first = rng.random_range(0..buckets);
            for step in 0..walk {
                guard.dict.bucket_nodes(first + step, |n| {
                    if volatile_only && n.expire == 0 {
                        return;
                    }
                    let score = match by {
                        None => 0,
                        Some(SampleBy::Lru) => (now as u32).wrapping_sub(n.lru) as u64,
                        Some(SampleBy::Lfu) => {
                            255 - lfu_decayed(n.lfu, n.lru, now, &self.tuning) as u64
                        }
                        Some(SampleBy::Ttl) => u64::MAX - n.expire,
                    };
                    out.push(Candidate {
                        db: self.index,
                        key: Blob::from_slice(&n.key),
                        score,
                    });
                });
                if out.len() >= want {
                    break;
                }
            }
        }
    }

    /// Keep the keys of each cluster hash slot from now on (a cluster node's database 0; the
    /// keys already there are indexed first). Idempotent.
    pub fn enable_slot_index(&self) {
        if self.slot_index.get().is_some() {
            return;
        }
        // Every shard locked: no key is created or deleted while the index fills.
        let guards: Vec<MutexGuard<'_, Shard>> =
            (0..SHARDS).map(|s| self.shard_to_read(s)).collect();
        let index = crate::cluster::slot_index::SlotIndex::default();
        for g in &guards {
            for n in g.dict.iter() {
                index.add(&n.key);
            }
        }
        let _ = self.slot_index.set(index);
        drop(guards);
    }

    /// The keys of each hash slot, if kept ([`Db::enable_slot_index`]).
    pub fn slot_index(&self) -> Option<&crate::cluster::slot_index::SlotIndex> {
        self.slot_index.get()
    }

    /// Delete `key` for eviction (WATCHers and blocked clients see it like a DEL); with
    /// `volatile_only`, only if it still has an expiry (a pooled candidate may have been PERSISTed
    /// since it was sampled). Returns whether it was deleted.
    pub fn evict(&self, key: &[u8], volatile_only: bool) -> bool {
        let h = self.hash(key);
        let mut shard = self.shard(Self::shard_of(h));
        if volatile_only && shard.dict.get(h, key).is_none_or(|n| n.expire == 0) {
            return false;
        }
        let removed = shard.dict.remove(h, key, |k| self.hash(k));
        if removed.is_some() {
            self.feed.deleted(self.index, key);
            if let Some(ix) = self.slot_index.get() {
                ix.remove(key);
            }
        }
        drop(shard);
        if removed.is_some() {
            self.events.removed_by_server(self.index, key);
            self.notify.emit(class::EVICTED, "evicted", key, self.index);
        }
        // The value is dropped here, outside the shard lock.
        removed.is_some()
    }

    /// Whether `key` exists and has not expired (without counting an access).
    pub fn has_live(&self, key: &[u8], now: u64) -> bool {
        self.lock(key, now).peek(key).is_some()
    }

    /// Whether `key` is in the table, expired or not (`Some(expired)`), as Redis's `dictFind` and
    /// `keyIsExpired` see it: nothing is deleted, no access counted.
    pub fn presence(&self, key: &[u8], now: u64) -> Option<bool> {
        self.lock(key, now).presence(key)
    }

    /// This database's number.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The hash of a key (shard from the high bits, bucket from the low bits).
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(hash: u64) -> usize {
        (hash >> SHARD_SHIFT) as usize
    }

    /// Lock the shard holding `key`.
    pub fn lock(&self, key: &[u8], now: u64) -> Locked<'_> {
        let s = Self::shard_of(self.hash(key));
        let mut guards = SmallVec::new();
        guards.push((s, self.shard(s)));
        Locked {
            db: self,
            guards,
            now,
            expired: 0,
            touch: true,
        }
    }

    /// Lock the shards holding all `keys`, in ascending order.
    pub fn lock_keys<K: AsRef<[u8]>>(&self, keys: &[K], now: u64) -> Locked<'_> {
        let mut idx: SmallVec<[usize; 8]> = keys
            .iter()
            .map(|k| Self::shard_of(self.hash(k.as_ref())))
            .collect();
        idx.sort_unstable();
        idx.dedup();
        let guards = idx.into_iter().map(|s| (s, self.shard(s))).collect();
        Locked {
            db: self,
            guards,
            now,
            expired: 0,
            touch: true,
        }
    }

    /// Lock every shard (KEYS, FLUSHDB and friends).
    pub fn lock_all(&self, now: u64) -> Locked<'_> {
        Locked {
            db: self,
            guards: (0..SHARDS).map(|s| (s, self.shard(s))).collect(),
            now,
            expired: 0,
            touch: true,
        }
    }

    /// Number of keys (including expired keys not yet collected, like Redis's DBSIZE).
    pub fn len(&self) -> usize {
        (0..SHARDS).map(|s| self.shard_to_read(s).dict.len()).sum()
    }

    /// Whether the database holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of keys with an expiry.
    pub fn volatile(&self) -> usize {
        (0..SHARDS)
            .map(|s| self.shard_to_read(s).dict.volatile())
            .sum()
    }

    /// Remove every key.
    pub fn flush(&self) {
        // Only WATCHed keys that exist are affected (a WATCH of a missing key survives a flush).
        let now = self.clock.now_ms();
        let affected: Vec<_> = self
            .events
            .watched_in(self.index)
            .into_iter()
            .map(|k| {
                let before = self.presence(&k, now).is_some();
                (
                    k,
                    events::Replaced {
                        before,
                        after: None,
                    },
                )
            })
            .collect();
        for s in 0..SHARDS {
            // Swap the table out so the (possibly long) drop happens outside the lock.
            let old = std::mem::take(&mut self.shard(s).dict);
            drop(old);
        }
        if let Some(ix) = self.slot_index.get() {
            ix.clear();
        }
        crate::propagate::dirty();
        self.events.all_touched(self.index, &affected);
    }

    /// One SCAN step: visits buckets from `cursor` until at least `count` keys were collected or the
    /// scan completes; returns the next cursor (0 at the end). The cursor encodes the shard in its low
    /// bits and the shard's reverse-binary bucket cursor above them.
    pub fn scan(
        &self,
        mut cursor: u64,
        count: usize,
        now: u64,
        out: &mut Vec<(Blob, &'static str)>,
    ) -> u64 {
        let shard_bits = SHARDS.trailing_zeros();
        let mut visited = 0usize;
        loop {
            let shard = (cursor & (SHARDS as u64 - 1)) as usize;
            let mut bucket = cursor >> shard_bits;
            {
                let guard = self.shard_to_read(shard);
                // Visit buckets of this shard until enough keys or the shard is done.
                loop {
                    bucket = guard.dict.scan(bucket, |n| {
                        if n.expire == 0 || n.expire > now {
                            out.push((Blob::from_slice(&n.key), n.value.type_name()));
                        }
                    });
                    visited += 1;
                    if bucket == 0 || out.len() >= count || visited >= count * 10 {
                        break;
                    }
                }
            }
            if bucket == 0 {
                if shard + 1 == SHARDS {
                    return 0;
                }
                cursor = (shard + 1) as u64;
            } else {
                cursor = (bucket << shard_bits) | shard as u64;
            }
            if out.len() >= count || visited >= count * 10 {
                return cursor;
            }
        }
    }

    /// A random live key, if any.
    pub fn random_key(&self, now: u64) -> Option<Blob> {
        use rand::Rng;
        let mut rng = rand::rng();
        let start = rng.random_range(0..SHARDS);
        let mut keys = Vec::new();
        for i in 0..SHARDS {
            let s = (start + i) % SHARDS;
            let guard = self.shard_to_read(s);
            if guard.dict.is_empty() {
                continue;
            }
            let buckets = guard.dict.buckets();
            for _ in 0..(buckets * 2).max(64) {
                keys.clear();
                guard
                    .dict
                    .bucket_keys(rng.random_range(0..buckets), &mut keys);
                keys.retain(|(_, e)| *e == 0 || *e > now);
                if !keys.is_empty() {
                    let pick = rng.random_range(0..keys.len());
                    return Some(keys.swap_remove(pick).0);
                }
            }
        }
        None
    }

    /// Adds every key of this database whose expiry time is at or before `now` to `into`, as
    /// (expiry time, database, key): what [`Store::expire_due`] removes after a clock move.
    pub fn due_keys(&self, now: u64, into: &mut Vec<(u64, usize, Blob)>) {
        for s in 0..SHARDS {
            let guard = self.shard_to_read(s);
            if guard.dict.volatile() == 0 {
                continue;
            }
            into.extend(
                guard
                    .dict
                    .iter()
                    .filter(|n| n.expire != 0 && n.expire <= now)
                    .map(|n| (n.expire, self.index, Blob::from_slice(&n.key))),
            );
        }
    }

    /// One round of active expiry over every shard with volatile keys: visits up to `buckets_per_shard`
    /// buckets from the shard's rolling cursor and deletes the expired keys found. Returns
    /// (keys sampled, keys expired).
    pub fn active_expire(&self, now: u64, buckets_per_shard: usize) -> (usize, usize) {
        let (mut sampled, mut expired) = (0, 0);
        let mut keys = Vec::new();
        for s in 0..SHARDS {
            let mut guard = self.shard_to_read(s);
            if guard.dict.volatile() == 0 {
                continue;
            }
            let buckets = guard.dict.buckets().max(1);
            for _ in 0..buckets_per_shard.min(buckets) {
                let idx = guard.expire_cursor % buckets;
                guard.expire_cursor = guard.expire_cursor.wrapping_add(1);
                keys.clear();
                guard.dict.bucket_keys(idx, &mut keys);
                for (k, e) in keys.iter() {
                    if *e != 0 {
                        sampled += 1;
                        if *e <= now {
                            // A running snapshot keeps the shard as it was before this deletion.
                            self.snapshot.check(self.index, s, &mut guard);
                            let h = self.hash(k);
                            guard.dict.remove(h, k, |k| self.hash(k));
                            if let Some(ix) = self.slot_index.get() {
                                ix.remove(k);
                            }
                            self.feed.deleted(self.index, k);
                            self.events.removed_by_server(self.index, k);
                            self.notify.emit(class::EXPIRED, "expired", k, self.index);
                            expired += 1;
                        }
                    }
                }
                if guard.dict.volatile() == 0 {
                    break;
                }
            }
        }
        (sampled, expired)
    }
}

/// Shards locked for one command. All key access goes through here, which applies lazy expiry.
pub struct Locked<'a> {
    db: &'a Db,
    guards: SmallVec<[(usize, MutexGuard<'a, Shard>); 2]>,
    now: u64,
    expired: u32,
    /// Whether accesses update the keys' LRU clock and LFU counter (CLIENT NO-TOUCH turns it off).
    touch: bool,
}

impl<'a> Locked<'a> {
    fn dict(&mut self, hash: u64) -> &mut Dict<Value, Key> {
        let s = Db::shard_of(hash);
        let pos = self
            .guards
            .iter()
            .position(|(i, _)| *i == s)
            .expect("command touched a key whose shard it did not lock");
        &mut self.guards[pos].1.dict
    }

    /// Keys found expired (and removed) by this guard so far.
    pub fn expired(&self) -> u32 {
        self.expired
    }

    /// The time the command runs at (unix ms).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Remove `key` if it has expired (with its `expired` notification); returns whether it did.
    pub fn expire(&mut self, key: &[u8]) -> bool {
        let before = self.expired;
        self.expire_if_needed(key);
        self.expired != before
    }

    /// Remove `key` if it has expired; returns its hash.
    fn expire_if_needed(&mut self, key: &[u8]) -> u64 {
        let h = self.db.hash(key);
        let now = self.now;
        let db = self.db;
        let dict = self.dict(h);
        if let Some(n) = dict.get(h, key)
            && n.expire != 0
            && n.expire <= now
        {
            // A replica does not expire keys itself: it waits for its primary's DEL, hiding the
            // key from its clients meanwhile ([`Locked::visible`]).
            if db.feed.relaying() {
                return h;
            }
            dict.remove(h, key, |k| db.hash(k));
            if let Some(ix) = db.slot_index.get() {
                ix.remove(key);
            }
            self.expired += 1;
            db.feed.deleted(db.index, key);
            db.events.removed_by_server(db.index, key);
            db.notify.emit(class::EXPIRED, "expired", key, db.index);
        }
        h
    }

    /// These shards with accesses that update the LRU/LFU of keys (`touch`) or leave them alone.
    pub fn touching(mut self, touch: bool) -> Self {
        self.touch = touch;
        self
    }

    /// Whether a node found after [`expire_if_needed`](Self::expire_if_needed) is live for this
    /// command: an expired key is still there only on a replica, where its primary's stream (the
    /// master client) still sees it and everybody else does not, as in Redis 7.0.
    #[inline]
    fn visible(now: u64, n: &Node<Value, Key>) -> bool {
        n.expire == 0 || n.expire > now || crate::propagate::applying_master()
    }

    /// The live node of `key`, its access clock (and LFU counter) updated like Redis's `lookupKey`.
    fn access(&mut self, key: &[u8]) -> Option<&mut Node<Value, Key>> {
        let h = self.expire_if_needed(key);
        let (now, lfu) = (self.now, self.db.lfu.load(Ordering::Relaxed));
        let db = self.db;
        if !self.touch {
            return self
                .dict(h)
                .get_mut(h, key)
                .filter(|n| Self::visible(now, n));
        }
        let n = self
            .dict(h)
            .get_mut(h, key)
            .filter(|n| Self::visible(now, n))?;
        if lfu {
            n.lfu = lfu_access(n.lfu, n.lru, now, &db.tuning);
        }
        n.lru = now as u32;
        Some(n)
    }

    /// The live value of `key`.
    pub fn get(&mut self, key: &[u8]) -> Option<&Value> {
        self.access(key).map(|n| &n.value)
    }

    /// The live value of `key` through a shared borrow, so several keys can be read at once. Unlike
    /// [`get`](Self::get) it does not delete an expired key (it only hides it): call `get` first when
    /// lazy expiry should apply.
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        let h = self.db.hash(key);
        let s = Db::shard_of(h);
        let (_, g) = self.guards.iter().find(|(i, _)| *i == s)?;
        g.dict
            .get(h, key)
            .filter(|n| n.expire == 0 || n.expire > self.now)
            .map(|n| &n.value)
    }

    /// The node of `key` as the dictionary holds it, expired or not, without deleting or
    /// touching it (Redis's raw `dictFind`: DEBUG OBJECT sees a key that expired but is not
    /// deleted yet).
    pub fn node_raw(&self, key: &[u8]) -> Option<&Node<Value, Key>> {
        let h = self.db.hash(key);
        let s = Db::shard_of(h);
        let (_, g) = self.guards.iter().find(|(i, _)| *i == s)?;
        g.dict.get(h, key)
    }

    /// Whether `key` is in a locked shard, expired or not (`Some(expired)`); see [`Db::presence`].
    pub fn presence(&self, key: &[u8]) -> Option<bool> {
        self.node_raw(key).map(|n| !Self::visible(self.now, n))
    }

    /// The live value of `key`, for update in place.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        let (db, index) = (self.db, self.db.index);
        let node = self.access(key);
        if node.is_some() {
            crate::propagate::dirty();
            db.events.touched(index, key);
        }
        node.map(|n| &mut n.value)
    }

    /// The live value of `key`, for a change that neither WATCH nor blocked clients hear about
    /// (Redis 7.0 does not signal XREADGROUP, XACK, XCLAIM or XGROUP bookkeeping as a modification).
    pub fn get_mut_quiet(&mut self, key: &[u8]) -> Option<&mut Value> {
        let h = self.expire_if_needed(key);
        let now = self.now;
        self.dict(h)
            .get_mut(h, key)
            .filter(|n| Self::visible(now, n))
            .map(|n| &mut n.value)
    }

    /// Report a write to `key` made through [`get_mut_quiet`](Self::get_mut_quiet) (WATCH and
    /// blocked clients hear about it).
    pub fn touch(&mut self, key: &[u8]) {
        crate::propagate::dirty();
        self.db.events.touched(self.db.index, key);
    }

    /// Wake the clients blocked on `key` without invalidating WATCHes (Redis's `signalKeyAsReady`).
    pub fn signal_ready(&mut self, key: &[u8]) {
        self.db.events.ready(self.db.index, key);
    }

    /// The live node of `key` (value and expiry).
    pub fn node(&mut self, key: &[u8]) -> Option<&Node<Value, Key>> {
        self.access(key).map(|n| &*n)
    }

    /// The live node of `key` without counting an access (OBJECT IDLETIME / FREQ).
    pub fn node_untouched(&mut self, key: &[u8]) -> Option<&Node<Value, Key>> {
        let h = self.expire_if_needed(key);
        let now = self.now;
        self.dict(h).get(h, key).filter(|n| Self::visible(now, n))
    }

    /// Whether `key` exists.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.node(key).is_some()
    }

    /// The expiry of `key`: `None` if it does not exist, `Some(0)` if persistent.
    pub fn expire_of(&mut self, key: &[u8]) -> Option<u64> {
        self.node(key).map(|n| n.expire)
    }

    /// Set `key` to `value` with expiry `expire` (0 = persistent), replacing any old value.
    pub fn set(&mut self, key: &[u8], value: Value, expire: u64) -> Option<Value> {
        let h = self.expire_if_needed(key);
        let db = self.db;
        crate::propagate::dirty();
        db.events.touched(db.index, key);
        let lru = self.now as u32;
        let old = self
            .dict(h)
            .insert(h, key, value, expire, lru, |k| db.hash(k));
        if old.is_none() {
            if let Some(ix) = db.slot_index.get() {
                ix.add(key);
            }
            // Redis's dbAdd.
            db.notify.emit(class::NEW, "new", key, db.index);
        }
        old
    }

    /// Publish the keyspace notification `event` of `class` about `key` of this database (one
    /// relaxed load when the class is off).
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.db.notify.emit(class, event, key, self.db.index);
    }

    /// Set the eviction metadata of an existing key (RESTORE's IDLETIME / FREQ): its idle time in
    /// milliseconds and its LFU counter. False if the key does not exist.
    pub fn set_access_stats(&mut self, key: &[u8], idle_ms: Option<u64>, lfu: Option<u8>) -> bool {
        let h = self.expire_if_needed(key);
        let now = self.now;
        let Some(n) = self.dict(h).get_mut(h, key) else {
            return false;
        };
        if let Some(idle) = idle_ms {
            n.lru = now.saturating_sub(idle) as u32;
        }
        if let Some(f) = lfu {
            n.lfu = f;
        }
        true
    }

    /// Raise the encoding floor of `key` to what its value's encoding is now (after a write: a
    /// collection that grew past the compact thresholds keeps the big encoding), or to `at_least`.
    /// Cheap once the floor is at the top.
    pub fn raise_floor(&mut self, key: &[u8], at_least: u8) {
        let db = self.db;
        let h = db.hash(key);
        if let Some(n) = self.dict(h).get_mut(h, key)
            && n.floor < floor::BIG
        {
            n.floor = n.floor.max(at_least).max(n.value.floor_of(&db.tuning));
        }
    }

    /// Forget what encoding `key`'s value had (Redis rebuilt it: SPOP taking most of a set).
    pub fn reset_floor(&mut self, key: &[u8]) {
        let h = self.db.hash(key);
        if let Some(n) = self.dict(h).get_mut(h, key) {
            n.floor = floor::NONE;
        }
    }

    /// Set `key` to `value` with encoding floor `floor` (COPY and RENAME keep the encoding).
    pub fn set_with_floor(&mut self, key: &[u8], value: Value, expire: u64, floor: u8) {
        self.set(key, value, expire);
        let h = self.db.hash(key);
        if let Some(n) = self.dict(h).get_mut(h, key) {
            n.floor = floor;
        }
    }

    /// Set `key` to `value`, keeping its current expiry if it exists.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) -> Option<Value> {
        let expire = self.expire_of(key).unwrap_or(0);
        self.set(key, value, expire)
    }

    /// Change the expiry of an existing key; false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire: u64) -> bool {
        let h = self.expire_if_needed(key);
        let (db, index) = (self.db, self.db.index);
        let changed = self.dict(h).set_expire(h, key, expire);
        if changed {
            crate::propagate::dirty();
            db.events.touched(index, key);
        }
        changed
    }

    /// Remove `key`, returning its value if it was live.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let h = self.expire_if_needed(key);
        let db = self.db;
        let removed = self.dict(h).remove(h, key, |k| db.hash(k)).map(|n| n.value);
        if removed.is_some() {
            if let Some(ix) = db.slot_index.get() {
                ix.remove(key);
            }
            crate::propagate::dirty();
            db.events.deleted(db.index, key);
        }
        removed
    }

    /// Every live key (requires [`Db::lock_all`]).
    pub fn for_each_live(&self, mut f: impl FnMut(&Node<Value, Key>)) {
        for (_, g) in self.guards.iter() {
            for n in g.dict.iter() {
                if n.expire == 0 || n.expire > self.now {
                    f(n);
                }
            }
        }
    }
}

#[repr(align(128))]
#[derive(Debug, Default)]
struct GateSlot(RwLock<()>);

/// Whole-keyspace exclusion: shared by ordinary commands, exclusive for EXEC and friends.
#[derive(Debug)]
pub struct Gate {
    slots: Box<[GateSlot]>,
}

/// A shared hold on the gate.
pub struct SharedGate<'a>(#[allow(dead_code)] RwLockReadGuard<'a, ()>);
/// An exclusive hold on the gate.
pub struct ExclusiveGate<'a>(#[allow(dead_code)] [RwLockWriteGuard<'a, ()>; GATE_SLOTS]);

const GATE_SLOTS: usize = 8;

impl Default for Gate {
    fn default() -> Self {
        Gate {
            slots: (0..GATE_SLOTS).map(|_| GateSlot::default()).collect(),
        }
    }
}

impl Gate {
    /// Hold the gate shared through slot `slot` (any number; a connection keeps its own).
    pub fn shared(&self, slot: usize) -> SharedGate<'_> {
        SharedGate(self.slots[slot % GATE_SLOTS].0.read())
    }

    /// Hold the gate exclusively: no other command runs until the guard drops.
    pub fn exclusive(&self) -> ExclusiveGate<'_> {
        ExclusiveGate(std::array::from_fn(|i| self.slots[i].0.write()))
    }
}

/// All databases.
#[derive(Debug)]
pub struct Store {
    dbs: Box<[Db]>,
    /// Whole-keyspace exclusion.
    pub gate: Gate,
    /// Watched keys and blocked clients.
    pub events: Arc<KeyEvents>,
    /// DEBUG SET-ACTIVE-EXPIRE: whether the active expiry cycle runs.
    pub active_expire: std::sync::atomic::AtomicBool,
    /// DEBUG PAUSE-CRON 1: the engine's cron does nothing (the active expiry cycle included).
    pub cron_paused: std::sync::atomic::AtomicBool,
    /// Whether accesses update LFU counters (`maxmemory-policy` is `*-lfu`).
    pub lfu: Arc<AtomicBool>,
    /// The propagation feed (AOF, replicas).
    pub feed: Arc<crate::propagate::Feed>,
    /// Copy-on-write hook of point-in-time snapshots ([`snapshot`]).
    snapshot: Arc<snapshot::SnapshotHook>,
    /// Encoding thresholds, LFU and stream node parameters.
    pub tuning: Arc<Tuning>,
    /// Keyspace notifications (`notify-keyspace-events`).
    pub notify: Arc<Notifier>,
    /// The clock every read of time for behaviour goes through (expiry, TTLs, TIME, idle times).
    pub clock: Clock,
}

impl Store {
    /// A store with `databases` empty databases on the real clock.
    pub fn new(databases: usize) -> Self {
        Store::with_clock(databases, Clock::real())
    }

    /// A store with `databases` empty databases whose time is `clock`.
    pub fn with_clock(databases: usize, clock: Clock) -> Self {
        let hasher = ahash::RandomState::new();
        let events = Arc::new(KeyEvents::default());
        let lfu = Arc::new(AtomicBool::new(false));
        let feed = Arc::new(crate::propagate::Feed::default());
        let snapshot = Arc::new(snapshot::SnapshotHook::default());
        let tuning = Arc::new(Tuning::default());
        let notify = Arc::new(Notifier::default());
        Store {
            dbs: (0..databases.max(1))
                .map(|i| {
                    Db::new(
                        hasher.clone(),
                        i,
                        events.clone(),
                        lfu.clone(),
                        feed.clone(),
                        snapshot.clone(),
                        tuning.clone(),
                        notify.clone(),
                        clock.clone(),
                    )
                })
                .collect(),
            snapshot,
            gate: Gate::default(),
            events,
            active_expire: std::sync::atomic::AtomicBool::new(true),
            cron_paused: std::sync::atomic::AtomicBool::new(false),
            lfu,
            feed,
            tuning,
            notify,
            clock,
        }
    }

    /// The store's time (unix ms): one atomic load on a manual clock, one monotonic read on a real
    /// one.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Removes every key whose expiry time has come, in order of expiry time (then database and
    /// key, so the order is the same on every run), each with its `expired` notification: what a
    /// manual clock's move fires at once instead of leaving it to lazy and active expiry. Returns
    /// the number of keys expired. While the propagation feed is active the caller holds the gate
    /// (shared is enough), as the active cycle does, so no deletion interleaves with a propagating
    /// command.
    pub fn expire_due(&self) -> usize {
        let now = self.now_ms();
        let mut due = Vec::new();
        for db in self.dbs.iter() {
            db.due_keys(now, &mut due);
        }
        if due.is_empty() {
            return 0;
        }
        due.sort_unstable();
        due.iter()
            .filter(|(_, db, key)| self.dbs[*db].lock(key, now).expire(key))
            .count()
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Database `i` (callers validate `i` with [`databases`](Self::databases)).
    pub fn db(&self, i: usize) -> &Db {
        &self.dbs[i.min(self.dbs.len() - 1)]
    }

    /// Exchange the contents of two databases (callers hold the gate exclusively).
    pub fn swap(&self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (da, db) = (self.db(a), self.db(b));
        // What happens to each WATCHed key (Redis's touchAllWatchedKeysInDb decides from it).
        let now = self.now_ms();
        let fates = |emptied: &Db, with: &Db, keys: Vec<Blob>| -> Vec<_> {
            keys.into_iter()
                .map(|k| {
                    let fate = events::Replaced {
                        before: emptied.presence(&k, now).is_some(),
                        after: with.presence(&k, now),
                    };
                    (k, fate)
                })
                .collect()
        };
        let affected_a = fates(da, db, self.events.watched_in(a));
        let affected_b = fates(db, da, self.events.watched_in(b));
        crate::propagate::dirty();
        for s in 0..SHARDS {
            let (mut ga, mut gb) = (da.shard(s), db.shard(s));
            // The tables move; each shard keeps its own snapshot mark.
            std::mem::swap(&mut ga.dict, &mut gb.dict);
            std::mem::swap(&mut ga.expire_cursor, &mut gb.expire_cursor);
        }
        self.events.all_touched(a, &affected_a);
        self.events.all_touched(b, &affected_b);
    }

    /// Remove every key of every database.
    pub fn flush_all(&self) {
        for db in self.dbs.iter() {
            db.flush();
        }
    }

    /// One active-expiry cycle over all databases, like Redis's `activeExpireCycle`: repeat while
    /// more than the acceptable share of the sampled keys had expired and the time budget lasts.
    /// `effort` is `active-expire-effort` (1..=10): as in Redis, each step of it samples more keys
    /// per round (20 + 5 per step, here 4 + 1 buckets per shard) and accepts fewer stale keys (10%
    /// minus one point per step). Returns the number of keys expired.
    pub fn active_expire_cycle(&self, budget: std::time::Duration, effort: u64) -> usize {
        let extra = effort.clamp(1, 10) as usize - 1;
        let acceptable_stale = 10 - extra;
        let start = std::time::Instant::now();
        let mut total = 0;
        if !self
            .active_expire
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return 0;
        }
        // While the feed is read, deletions must not interleave with a propagating command (it
        // holds the gate exclusively).
        let _gate = self.feed.active().then(|| self.gate.shared(0));
        for db in self.dbs.iter() {
            loop {
                let (sampled, expired) = db.active_expire(self.now_ms(), 4 + extra);
                total += expired;
                if sampled == 0
                    || expired * 100 <= sampled * acceptable_stale
                    || start.elapsed() > budget
                {
                    break;
                }
            }
            if start.elapsed() > budget {
                break;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(Blob::from_slice(v.as_bytes()))
    }

    #[test]
    fn value_stays_small() {
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn lazy_expiry_hides_and_removes() {
        let store = Store::new(1);
        let db = store.db(0);
        let now = store.now_ms();
        db.lock(b"k", now).set(b"k", s("v"), now + 10);
        assert!(db.lock(b"k", now).get(b"k").is_some());
        let mut later = db.lock(b"k", now + 11);
        assert!(later.get(b"k").is_none());
        assert_eq!(later.expired(), 1);
        drop(later);
        assert_eq!(db.len(), 0);
    }

    #[test]
    fn active_expiry_collects() {
        let store = Store::new(1);
        let db = store.db(0);
        let now = store.now_ms();
        for i in 0..2000 {
            let k = format!("k{i}");
            let exp = if i % 2 == 0 { now - 1 } else { 0 };
            db.lock(k.as_bytes(), now).set(k.as_bytes(), s("v"), exp);
        }
        let mut n = 0;
        for _ in 0..1000 {
            n += store.active_expire_cycle(std::time::Duration::from_millis(25), 1);
            if db.volatile() == 0 {
                break;
            }
        }
        assert_eq!(n, 1000);
        assert_eq!(db.len(), 1000);
    }

    /// `active-expire-effort`: a higher effort samples more keys per round, so one round (a zero
    /// time budget stops after it) expires more of a keyspace full of expired keys.
    #[test]
    fn active_expire_effort_samples_more_per_round() {
        let one_round = |effort| {
            let store = Store::new(1);
            let db = store.db(0);
            let now = store.now_ms();
            for i in 0..40_000 {
                let k = format!("k{i}");
                db.lock(k.as_bytes(), now)
                    .set(k.as_bytes(), s("v"), now - 1);
            }
            store.active_expire_cycle(std::time::Duration::ZERO, effort)
        };
        let (low, high) = (one_round(1), one_round(10));
        assert!(
            low > 0 && high > 2 * low,
            "effort 1: {low}, effort 10: {high}"
        );
    }

    #[test]
    fn scan_covers_all_shards() {
        let store = Store::new(1);
        let db = store.db(0);
        let now = store.now_ms();
        for i in 0..3000 {
            let k = format!("key:{i}");
            db.lock(k.as_bytes(), now).set(k.as_bytes(), s("v"), 0);
        }
        let mut cursor = 0;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut out = Vec::new();
            cursor = db.scan(cursor, 10, now, &mut out);
            seen.extend(out.into_iter().map(|(k, _)| k));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 3000);
    }
}
