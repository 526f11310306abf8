//! Client-side caching (CLIENT TRACKING): which clients cached which keys, and the invalidation
//! messages they get when those keys change, as in Redis 6+.
//!
//! Default mode remembers the keys each tracking client read (read-only commands, or only the one
//! after `CLIENT CACHING yes` with OPTIN, or all but the one after `CLIENT CACHING no` with OPTOUT);
//! a write to one of them sends that client one `invalidate` message and forgets the key, so it is
//! invalidated once per read. BCAST mode sends every write to a key matching one of the client's
//! prefixes. Messages go to the client itself as a RESP3 push, or to its REDIRECT client as a
//! `__redis__:invalidate` Pub/Sub message (that client must be subscribed to the channel, as with
//! Redis). FLUSHDB/FLUSHALL invalidate everything (a null key list).
//!
//! The dispatcher calls [`Tracking::after_command`] for every command only while some client
//! tracks (one relaxed load otherwise). Keys changed without a command naming them (expiry,
//! eviction) are not reported. `tracking-table-max-keys` bounds the remembered keys: past it, keys
//! are dropped from the table with an invalidation to their clients, as Redis's
//! `trackingLimitUsedSlots` does (at most 100 × the number of consecutive calls over the limit
//! per call).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::pubsub::{Mailbox, Push};
use crate::store::Blob;

/// The channel RESP2 clients receive invalidations on (through REDIRECT).
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// CLIENT TRACKING options of one client.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// REDIRECT client id (0 = none).
    pub redirect: u64,
    /// BCAST mode.
    pub bcast: bool,
    /// BCAST prefixes (none = every key).
    pub prefixes: Vec<Blob>,
    /// OPTIN mode.
    pub optin: bool,
    /// OPTOUT mode.
    pub optout: bool,
    /// NOLOOP: no invalidations for this client's own writes.
    pub noloop: bool,
}

#[derive(Debug)]
struct Tracker {
    options: Options,
    /// The client's own mailbox (RESP3 pushes).
    mailbox: Mailbox,
    /// CLIENT CACHING yes/no for the next command.
    caching: Option<bool>,
    /// Whether the client speaks RESP3.
    resp3: bool,
}

#[derive(Debug, Default)]
struct Table {
    trackers: HashMap<u64, Tracker>,
    /// Key → clients that read it (default mode).
    keys: HashMap<Blob, HashSet<u64>>,
}

/// The tracking state of one engine.
#[derive(Debug, Default)]
pub struct Tracking {
    active: AtomicUsize,
    table: Mutex<Table>,
    /// `tracking-table-max-keys` (0 = no limit).
    pub max_keys: AtomicUsize,
    /// Consecutive calls that ended still over the limit (Redis's `timeout_counter`).
    over_limit_calls: AtomicUsize,
}

/// What the command did, for tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read its keys.
    Read,
    /// Wrote its keys.
    Write,
    /// Emptied one or all databases.
    Flush,
}

impl Tracking {
    /// Whether any client tracks (cheap: checked on every command).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Turn tracking on for client `id` (replacing earlier options).
    pub fn enable(&self, id: u64, options: Options, mailbox: Mailbox, resp3: bool) {
        let mut t = self.table.lock();
        let previous = t.trackers.insert(
            id,
            Tracker {
                options,
                mailbox,
                caching: None,
                resp3,
            },
        );
        if previous.is_none() {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Turn tracking off for client `id` (also on disconnect and RESET).
    pub fn disable(&self, id: u64) {
        let mut t = self.table.lock();
        if t.trackers.remove(&id).is_some() {
            self.active.fetch_sub(1, Ordering::Relaxed);
            t.keys.retain(|_, ids| {
                ids.remove(&id);
                !ids.is_empty()
            });
        }
    }

    /// The options of client `id`, if it tracks.
    pub fn options(&self, id: u64) -> Option<Options> {
        self.table
            .lock()
            .trackers
            .get(&id)
            .map(|t| t.options.clone())
    }

    /// CLIENT CACHING yes|no for `id`'s next command; false if the mode does not allow it.
    pub fn set_caching(&self, id: u64, yes: bool) -> bool {
        let mut t = self.table.lock();
        match t.trackers.get_mut(&id) {
            Some(tr) if (yes && tr.options.optin) || (!yes && tr.options.optout) => {
                tr.caching = Some(yes);
                true
            }
            _ => false,
        }
    }

    /// Account for a command of client `id` that did `access` to `keys` (`is_caching` says
    /// whether the command was CLIENT CACHING itself, which keeps the flag for the next one).
    /// `deliver_redirect` delivers a message to a REDIRECT target subscribed to the channel.
    pub fn after_command(
        &self,
        id: u64,
        access: Access,
        keys: &[&[u8]],
        is_caching: bool,
        deliver_redirect: impl Fn(u64, Push) -> bool,
    ) {
        let mut t = self.table.lock();
        match access {
            Access::Read => {
                let Some(tr) = t.trackers.get_mut(&id) else {
                    return;
                };
                if is_caching {
                    return;
                }
                let caching = tr.caching.take();
                let remember = !tr.options.bcast
                    && if tr.options.optin {
                        caching == Some(true)
                    } else if tr.options.optout {
                        caching != Some(false)
                    } else {
                        true
                    };
                if remember {
                    for k in keys {
                        t.keys.entry(Blob::from_slice(k)).or_default().insert(id);
                    }
                    self.limit_keys(&mut t, &deliver_redirect);
                }
            }
            Access::Write => {
                if let Some(tr) = t.trackers.get_mut(&id)
                    && !is_caching
                {
                    tr.caching = None;
                }
                let mut out: HashMap<u64, Vec<Bytes>> = HashMap::new();
                for k in keys {
                    if let Some(ids) = t.keys.remove(*k) {
                        for target in ids {
                            out.entry(target)
                                .or_default()
                                .push(Bytes::copy_from_slice(k));
                        }
                    }
                    for (tid, tr) in &t.trackers {
                        if tr.options.bcast
                            && (tr.options.prefixes.is_empty()
                                || tr.options.prefixes.iter().any(|p| k.starts_with(p)))
                        {
                            out.entry(*tid).or_default().push(Bytes::copy_from_slice(k));
                        }
                    }
                }
                for (target, keys) in out {
                    if let Some(tr) = t.trackers.get(&target) {
                        if tr.options.noloop && target == id {
                            continue;
                        }
                        send(tr, Some(keys), &deliver_redirect);
                    }
                }
            }
            Access::Flush => {
                t.keys.clear();
                for (tid, tr) in &t.trackers {
                    if !(tr.options.noloop && *tid == id) {
                        send(tr, None, &deliver_redirect);
                    }
                }
            }
        }
    }
}

impl Tracking {
    /// Drop keys from the table while it holds more than `tracking-table-max-keys`, invalidating
    /// them for their clients (the clients must not keep a value nobody will invalidate).
    fn limit_keys(&self, t: &mut Table, deliver_redirect: &impl Fn(u64, Push) -> bool) {
        let max = self.max_keys.load(Ordering::Relaxed);
        if max == 0 || t.keys.len() <= max {
            self.over_limit_calls.store(0, Ordering::Relaxed);
            return;
        }
        let effort = 100 * (self.over_limit_calls.load(Ordering::Relaxed) + 1);
        let victims: Vec<Blob> = t
            .keys
            .keys()
            .take((t.keys.len() - max).min(effort))
            .cloned()
            .collect();
        for key in victims {
            let Some(ids) = t.keys.remove(&key) else {
                continue;
            };
            for id in ids {
                if let Some(tr) = t.trackers.get(&id) {
                    send(
                        tr,
                        Some(vec![Bytes::copy_from_slice(&key)]),
                        deliver_redirect,
                    );
                }
            }
        }
        if t.keys.len() <= max {
            self.over_limit_calls.store(0, Ordering::Relaxed);
        } else {
            self.over_limit_calls.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn send(tr: &Tracker, keys: Option<Vec<Bytes>>, deliver_redirect: &impl Fn(u64, Push) -> bool) {
    let push = Push::Invalidate(keys);
    if tr.options.redirect != 0 {
        deliver_redirect(tr.options.redirect, push);
    } else if tr.resp3 {
        tr.mailbox.send(push);
    }
    // A RESP2 client without REDIRECT cannot receive anything (as in Redis).
}
