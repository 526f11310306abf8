//! `maxmemory`: evicting keys by `maxmemory-policy` when used memory is over the limit, the way
//! Redis's `performEvictions` does, and refusing memory-growing commands when nothing can be evicted.
//!
//! Used memory is the allocator's count ([`crate::alloc::used_memory`]). Before every command (only
//! when `maxmemory` is set; otherwise the cost is one relaxed atomic load) the engine calls
//! [`perform_evictions`]; if memory stays over the limit and the command is flagged `denyoom` (or is
//! being queued in MULTI), it is refused with [`OOM`].
//!
//! Victims are chosen as in Redis, by approximation: the `*-random` policies take a random key of a
//! random non-empty database; the LRU, LFU and TTL policies sample `maxmemory-samples` keys per
//! database from random shards and buckets into a pool of the best 16 candidates (kept across calls,
//! so the choice improves over time), then evict the best candidate of the pool. LRU uses each key's
//! access clock, LFU its logarithmic counter with decay, TTL the nearest expiry. An evicted key is
//! deleted like a DEL: WATCHers are marked dirty, and it counts in INFO `evicted_keys`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::Engine;
use crate::store::{Candidate, SampleBy};

/// Redis's reply when a `denyoom` command meets a full memory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Redis's `EVPOOL_SIZE`.
const POOL_SIZE: usize = 16;
/// How long one call may evict before letting the command run (Redis bounds its loop by time too,
/// then continues in the background; here the next command or the cron tick continues).
const TIME_LIMIT: Duration = Duration::from_millis(25);

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    /// Refuse writes.
    NoEviction = 0,
    /// Least recently used among all keys.
    AllKeysLru,
    /// Least frequently used among all keys.
    AllKeysLfu,
    /// Any key.
    AllKeysRandom,
    /// Least recently used among keys with an expiry.
    VolatileLru,
    /// Least frequently used among keys with an expiry.
    VolatileLfu,
    /// Any key with an expiry.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// From the option's text (validated by the config table).
    pub fn parse(s: &str) -> Policy {
        match s {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// From its number (`Engine::hot`'s `maxmemory_policy`).
    pub fn from_u8(v: u8) -> Policy {
        match v {
            1 => Policy::AllKeysLru,
            2 => Policy::AllKeysLfu,
            3 => Policy::AllKeysRandom,
            4 => Policy::VolatileLru,
            5 => Policy::VolatileLfu,
            6 => Policy::VolatileRandom,
            7 => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// Whether key accesses must maintain LFU counters.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn sample_by(self) -> Option<SampleBy> {
        match self {
            Policy::AllKeysLru | Policy::VolatileLru => Some(SampleBy::Lru),
            Policy::AllKeysLfu | Policy::VolatileLfu => Some(SampleBy::Lfu),
            Policy::VolatileTtl => Some(SampleBy::Ttl),
            _ => None,
        }
    }
}

/// The eviction pool; its lock also makes evictions run one at a time.
#[derive(Debug, Default)]
pub struct Evictor {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The policy the pool and the database list were made for.
    policy: u8,
    /// The best candidates seen so far, best first.
    pool: Vec<Candidate>,
    /// Databases that had candidates when last counted (counting locks every shard of every
    /// database, so it is refreshed at most every [`DBS_REFRESH`], and at once before giving up).
    dbs: Vec<usize>,
    counted: Option<Instant>,
}

const DBS_REFRESH: Duration = Duration::from_millis(100);

fn candidate_dbs(engine: &Engine, volatile_only: bool) -> Vec<usize> {
    (0..engine.store.databases())
        .filter(|&i| {
            let db = engine.store.db(i);
            if volatile_only {
                db.volatile() > 0
            } else {
                !db.is_empty()
            }
        })
        .collect()
}

/// Evict keys until used memory is at most `maxmemory`. Returns false when memory is still over the
/// limit because nothing (more) can be evicted: the caller refuses `denyoom` commands then.
/// `gate_slot` is the caller's slot of the keyspace gate (evictions must not interleave with EXEC).
pub fn perform_evictions(engine: &Engine, gate_slot: usize) -> bool {
    let max = engine.hot.maxmemory.load(Ordering::Relaxed);
    if max == 0 || crate::alloc::used_memory() <= max {
        return true;
    }
    let policy = Policy::from_u8(engine.hot.maxmemory_policy.load(Ordering::Relaxed));
    if policy == Policy::NoEviction {
        return false;
    }
    let samples = engine.hot.maxmemory_samples.load(Ordering::Relaxed).max(1);
    let mut guard = engine.evictor.state.lock();
    // Another client may have evicted enough while this one waited for the pool.
    if crate::alloc::used_memory() <= max {
        return true;
    }
    let state = &mut *guard;
    if state.policy != policy as u8 {
        state.pool.clear();
        state.counted = None;
        state.policy = policy as u8;
    }
    let _gate = engine.store.gate.shared(gate_slot);
    let volatile_only = policy.volatile_only();
    let by = policy.sample_by();
    if state.counted.is_none_or(|t| t.elapsed() > DBS_REFRESH) {
        state.dbs = candidate_dbs(engine, volatile_only);
        state.counted = Some(Instant::now());
    }
    let pool = &mut state.pool;
    let dbs = &mut state.dbs;
    let mut recounted = false;
    let start = Instant::now();
    let mut evicted = 0u64;
    let mut sample = Vec::new();
    let ok = loop {
        if crate::alloc::used_memory() <= max {
            break true;
        }
        if dbs.is_empty() {
            if recounted {
                break false;
            }
            *dbs = candidate_dbs(engine, volatile_only);
            recounted = true;
            continue;
        }
        if start.elapsed() > TIME_LIMIT {
            // Still over, but there are keys to evict: let the command run, continue next time
            // (Redis's EVICT_RUNNING).
            break true;
        }
        let now = engine.clock().now_ms();
        let victim = match by {
            None => {
                use rand::Rng;
                let pick = rand::rng().random_range(0..dbs.len());
                sample.clear();
                engine
                    .store
                    .db(dbs[pick])
                    .sample(1, volatile_only, None, now, &mut sample);
                match sample.pop() {
                    Some(c) => Some(c),
                    None => {
                        // Nothing found after a bounded search: check for real before giving up.
                        let db = engine.store.db(dbs[pick]);
                        let empty = if volatile_only {
                            db.volatile() == 0
                        } else {
                            db.is_empty()
                        };
                        if empty {
                            dbs.swap_remove(pick);
                        }
                        continue;
                    }
                }
            }
            Some(by) => {
                for &i in dbs.iter() {
                    sample.clear();
                    engine
                        .store
                        .db(i)
                        .sample(samples, volatile_only, Some(by), now, &mut sample);
                    for c in sample.drain(..) {
                        if !pool.iter().any(|p| p.db == c.db && p.key == c.key) {
                            pool.push(c);
                        }
                    }
                }
                pool.sort_unstable_by_key(|c| std::cmp::Reverse(c.score));
                pool.truncate(POOL_SIZE);
                if pool.is_empty() {
                    *dbs = candidate_dbs(engine, volatile_only);
                    recounted = true;
                    continue;
                }
                Some(pool.remove(0))
            }
        };
        let Some(victim) = victim else {
            continue;
        };
        if engine.store.db(victim.db).evict(&victim.key, volatile_only) {
            evicted += 1;
        }
    };
    if evicted > 0 {
        engine
            .stats
            .evicted_keys
            .fetch_add(evicted, Ordering::Relaxed);
    }
    ok
}
