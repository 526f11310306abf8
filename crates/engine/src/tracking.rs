//! Client-side caching (CLIENT TRACKING): which clients cached which keys, and the invalidation
//! messages they get when those keys change, as Redis 7.0's `tracking.c`.
//!
//! Default mode remembers the keys each tracking client read (read-only commands; with OPTIN only
//! after `CLIENT CACHING yes`, with OPTOUT not after `CLIENT CACHING no`; a script that calls a
//! read-only command remembers the keys it declared). A change to such a key sends each client
//! that read it one `invalidate` message naming that one key, and forgets the key, so it is
//! invalidated once per read. As in Redis, the table is not cleaned when a client turns tracking
//! off or disconnects (ids are never reused; a key's stale ids go with its next invalidation,
//! a flush or `tracking-table-max-keys`): a client that tracks again hears about keys it read
//! before.
//!
//! BCAST mode keeps Redis's prefix table: a change to a key matching a prefix is remembered in the
//! prefix's bucket with the client that made it (none for expiry and eviction); at the end of the
//! top-level command (Redis: before the event loop sleeps) every bucket is sent, one message per
//! prefix and client, without the keys a NOLOOP client changed itself.
//!
//! Messages go to the client itself as a RESP3 push, or to its REDIRECT client: a RESP3 push, or
//! a `__redis__:invalidate` Pub/Sub message if that client is in Pub/Sub mode (subscribed to any
//! channel or pattern, as Redis checks). A REDIRECT
//! client that is gone breaks the redirection (`tracking-redir-broken` push to a RESP3 client).
//! Messages for the client running the command itself wait until its reply is written
//! ([`Tracking::take_pending`]; Redis's `tracking_pending_keys`). FLUSHDB/FLUSHALL invalidate
//! everything (a null key list).
//!
//! What changed is what the store reports (`KeyEvents::touched`, Redis's `signalModifiedKey`,
//! collected per thread while anyone tracks), so expired and evicted keys are invalidated too.
//! `tracking-table-max-keys` bounds the remembered keys: past it, keys are dropped from the table
//! with an invalidation to their clients, as Redis's `trackingLimitUsedSlots` does (at most
//! 100 × the number of consecutive calls over the limit per call).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::pubsub::{Mailbox, Push};
use crate::store::{Blob, KeyEvents};

/// The channel RESP2 clients receive invalidations on (through REDIRECT).
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// CLIENT TRACKING options of one client.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// REDIRECT client id (0 = none).
    pub redirect: u64,
    /// BCAST mode.
    pub bcast: bool,
    /// BCAST prefixes (given: none = the empty prefix; enabled: in byte order).
    pub prefixes: Vec<Blob>,
    /// OPTIN mode.
    pub optin: bool,
    /// OPTOUT mode.
    pub optout: bool,
    /// NOLOOP: no invalidations for this client's own writes.
    pub noloop: bool,
    /// CLIENT CACHING yes|no given for the next command (CLIENT TRACKINGINFO's `caching-*`).
    pub caching: bool,
    /// The REDIRECT client went away (CLIENT TRACKINGINFO's `broken_redirect`).
    pub broken_redirect: bool,
}

#[derive(Debug)]
struct Tracker {
    options: Options,
    /// The client's own mailbox (RESP3 pushes).
    mailbox: Mailbox,
}

/// One BCAST prefix: keys changed since the last broadcast (with who changed them) and its clients.
#[derive(Debug, Default)]
struct Bcast {
    keys: BTreeMap<Blob, Option<u64>>,
    clients: BTreeSet<u64>,
}

#[derive(Debug, Default)]
struct Table {
    trackers: HashMap<u64, Tracker>,
    /// Key → clients that read it (default mode).
    keys: HashMap<Blob, HashSet<u64>>,
    /// Client ids across `keys` (INFO's `tracking_total_items`).
    items: usize,
    /// BCAST prefix → its state.
    prefixes: BTreeMap<Blob, Bcast>,
    /// Messages for a client that runs a command now, written after its reply.
    pending: HashMap<u64, Vec<Push>>,
}

/// The tracking state of one engine.
#[derive(Debug)]
pub struct Tracking {
    active: AtomicUsize,
    table: Mutex<Table>,
    pubsub: Arc<crate::pubsub::Registry>,
    /// `tracking-table-max-keys` (0 = no limit).
    pub max_keys: AtomicUsize,
    /// Consecutive calls that ended still over the limit (Redis's `timeout_counter`).
    over_limit_calls: AtomicUsize,
}

/// INFO's tracking figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    /// `tracking_clients`.
    pub clients: usize,
    /// `tracking_total_keys`.
    pub keys: usize,
    /// `tracking_total_items`.
    pub items: usize,
    /// `tracking_total_prefixes`.
    pub prefixes: usize,
}

impl Tracking {
    /// No client tracks yet; messages to other clients go through `pubsub`'s mailboxes.
    pub fn new(pubsub: Arc<crate::pubsub::Registry>) -> Tracking {
        Tracking {
            active: AtomicUsize::new(0),
            table: Mutex::new(Table::default()),
            pubsub,
            max_keys: AtomicUsize::new(0),
            over_limit_calls: AtomicUsize::new(0),
        }
    }

    /// Whether any client tracks (cheap: checked on every command).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// The prefix collision error of Redis's `checkPrefixCollisionsOrReply`, if `prefixes` overlap
    /// each other or one of client `id`'s prefixes.
    pub fn prefix_collision(&self, id: u64, prefixes: &[Blob]) -> Option<String> {
        let t = self.table.lock();
        let current = t.trackers.get(&id).map(|tr| &tr.options.prefixes);
        let overlap = |a: &[u8], b: &[u8]| {
            let n = a.len().min(b.len());
            a[..n] == b[..n]
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for (i, p) in prefixes.iter().enumerate() {
            if let Some(c) = current.into_iter().flatten().find(|c| overlap(c, p)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    text(p),
                    text(c)
                ));
            }
            if let Some(q) = prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    text(p),
                    text(q)
                ));
            }
        }
        None
    }

    /// Turn tracking on for client `id` (Redis's `enableTracking`): the mode flags and REDIRECT
    /// are replaced, BCAST prefixes are added to those the client already has.
    pub fn enable(&self, id: u64, options: Options, mailbox: Mailbox, events: &KeyEvents) {
        let mut t = self.table.lock();
        let t = &mut *t;
        if !t.trackers.contains_key(&id) {
            self.active.fetch_add(1, Ordering::Relaxed);
        }
        let tr = t.trackers.entry(id).or_insert_with(|| Tracker {
            options: Options::default(),
            mailbox,
        });
        let mut prefixes = std::mem::take(&mut tr.options.prefixes);
        if options.bcast {
            let given = if options.prefixes.is_empty() {
                vec![Blob::from_slice(b"")]
            } else {
                options.prefixes.clone()
            };
            for p in given {
                t.prefixes.entry(p.clone()).or_default().clients.insert(id);
                if !prefixes.contains(&p) {
                    prefixes.push(p);
                }
            }
            prefixes.sort();
        }
        tr.options = Options {
            prefixes,
            caching: tr.options.caching,
            broken_redirect: false,
            ..options
        };
        events.set_tracking(self.active());
    }

    /// Turn tracking off for client `id` (CLIENT TRACKING off, RESET; `gone`: it disconnected, and
    /// messages waiting for it are dropped).
    pub fn disable(&self, id: u64, gone: bool, events: &KeyEvents) {
        let mut t = self.table.lock();
        let t = &mut *t;
        if let Some(tr) = t.trackers.remove(&id) {
            self.active.fetch_sub(1, Ordering::Relaxed);
            for p in &tr.options.prefixes {
                if let Some(b) = t.prefixes.get_mut(p) {
                    b.clients.remove(&id);
                    if b.clients.is_empty() {
                        t.prefixes.remove(p);
                    }
                }
            }
        }
        if gone {
            t.pending.remove(&id);
        }
        events.set_tracking(self.active());
    }

    /// The options of client `id`, if it tracks.
    pub fn options(&self, id: u64) -> Option<Options> {
        self.table
            .lock()
            .trackers
            .get(&id)
            .map(|t| t.options.clone())
    }

    /// INFO's figures.
    pub fn figures(&self) -> Figures {
        let t = self.table.lock();
        Figures {
            clients: t.trackers.len(),
            keys: t.keys.len(),
            items: t.items,
            prefixes: t.prefixes.len(),
        }
    }

    /// CLIENT CACHING yes|no for `id`'s next command; false if the mode does not allow it.
    pub fn set_caching(&self, id: u64, yes: bool) -> bool {
        let mut t = self.table.lock();
        match t.trackers.get_mut(&id) {
            Some(tr) if (yes && tr.options.optin) || (!yes && tr.options.optout) => {
                tr.options.caching = true;
                true
            }
            _ => false,
        }
    }

    /// The end of a top-level command of client `id` (Redis's `resetClient`): CLIENT CACHING
    /// lasts for the next command (the whole transaction in MULTI) unless `keep`.
    pub fn command_done(&self, id: u64, keep: bool) {
        if keep {
            return;
        }
        if let Some(tr) = self.table.lock().trackers.get_mut(&id) {
            tr.options.caching = false;
        }
    }

    /// Client `id` ran a read-only command on `keys` (Redis's `trackingRememberKeys`).
    pub fn remember(&self, id: u64, keys: &[&[u8]]) {
        let mut t = self.table.lock();
        let t = &mut *t;
        let Some(tr) = t.trackers.get(&id) else {
            return;
        };
        let o = &tr.options;
        if o.bcast || (o.optin && !o.caching) || (o.optout && o.caching) {
            return;
        }
        for k in keys {
            if t.keys.entry(Blob::from_slice(k)).or_default().insert(id) {
                t.items += 1;
            }
        }
    }

    /// `changed` keys (each with whether expiry or eviction removed it) while client `current`
    /// ran a command (none: the server's own expiry cycle); Redis's `trackingInvalidateKey`. A
    /// change counts as `current`'s own (NOLOOP) unless the server removed the key; messages for
    /// `current` itself wait in the pending list.
    pub fn invalidate(&self, current: Option<u64>, changed: &[(Blob, bool)]) {
        let mut t = self.table.lock();
        let t = &mut *t;
        for (key, by_server) in changed {
            let by = if *by_server { None } else { current };
            for (prefix, b) in t.prefixes.iter_mut() {
                if key.starts_with(prefix) {
                    b.keys.insert(key.clone(), by);
                }
            }
            let Some(ids) = t.keys.remove(key) else {
                continue;
            };
            t.items -= ids.len();
            let mut ids: Vec<u64> = ids.into_iter().collect();
            ids.sort_unstable();
            for target in ids {
                let Some(tr) = t.trackers.get_mut(&target) else {
                    continue;
                };
                if tr.options.bcast || (tr.options.noloop && by == Some(target)) {
                    continue;
                }
                let keys = Some(vec![Bytes::copy_from_slice(key)]);
                send(&self.pubsub, &mut t.pending, current, target, tr, keys);
            }
        }
    }

    /// Send what the BCAST prefixes collected (Redis's `trackingBroadcastInvalidationMessages`);
    /// messages for `current` wait in the pending list.
    pub fn broadcast(&self, current: Option<u64>) {
        let mut t = self.table.lock();
        let t = &mut *t;
        for b in t.prefixes.values_mut() {
            if b.keys.is_empty() {
                continue;
            }
            let keys = std::mem::take(&mut b.keys);
            for &target in &b.clients {
                let Some(tr) = t.trackers.get_mut(&target) else {
                    continue;
                };
                let list: Vec<Bytes> = keys
                    .iter()
                    .filter(|(_, who)| !(tr.options.noloop && **who == Some(target)))
                    .map(|(k, _)| Bytes::copy_from_slice(k))
                    .collect();
                if !list.is_empty() {
                    send(
                        &self.pubsub,
                        &mut t.pending,
                        current,
                        target,
                        tr,
                        Some(list),
                    );
                }
            }
        }
    }

    /// FLUSHDB/FLUSHALL/SWAPDB by client `current`: every tracking client is told all keys are
    /// invalid (Redis's `trackingInvalidateKeysOnFlush`) and the table is emptied.
    pub fn flush(&self, current: Option<u64>) {
        let mut t = self.table.lock();
        let t = &mut *t;
        let mut ids: Vec<u64> = t.trackers.keys().copied().collect();
        ids.sort_unstable();
        for target in ids {
            if let Some(tr) = t.trackers.get_mut(&target) {
                send(&self.pubsub, &mut t.pending, current, target, tr, None);
            }
        }
        t.keys.clear();
        t.items = 0;
    }

    /// The messages waiting for client `id` (written after its command's reply).
    pub fn take_pending(&self, id: u64) -> Vec<Push> {
        let mut t = self.table.lock();
        if t.pending.is_empty() {
            return Vec::new();
        }
        t.pending.remove(&id).unwrap_or_default()
    }

    /// Drop keys from the table while it holds more than `tracking-table-max-keys`, invalidating
    /// them for their clients (the clients must not keep a value nobody will invalidate): before
    /// every command of client `current` (its own messages wait in the pending list) and from the
    /// engine's cron, as Redis's `trackingLimitUsedSlots`.
    pub fn limit_used_slots(&self, current: Option<u64>) {
        let max = self.max_keys.load(Ordering::Relaxed);
        if max == 0 {
            return;
        }
        let mut t = self.table.lock();
        let t = &mut *t;
        if t.keys.len() <= max {
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
            t.items -= ids.len();
            for id in ids {
                if let Some(tr) = t.trackers.get_mut(&id)
                    && !tr.options.bcast
                {
                    let keys = Some(vec![Bytes::copy_from_slice(&key)]);
                    send(&self.pubsub, &mut t.pending, current, id, tr, keys);
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

/// Redis's `sendTrackingMessage`: to the REDIRECT client (a RESP3 push, or a Pub/Sub message if it
/// is in Pub/Sub mode), or to the client itself if it speaks RESP3. A message for the
/// connection of `current` (the client running a command) waits in `pending`.
fn send(
    pubsub: &crate::pubsub::Registry,
    pending: &mut HashMap<u64, Vec<Push>>,
    current: Option<u64>,
    id: u64,
    tr: &mut Tracker,
    keys: Option<Vec<Bytes>>,
) {
    let redirect = tr.options.redirect;
    let target = if redirect != 0 && redirect != id {
        match pubsub.mailbox_of(redirect) {
            Some(m) => Some(m),
            None => {
                tr.options.broken_redirect = true;
                if tr.mailbox.resp3() {
                    let push = Push::RedirBroken(redirect);
                    if Some(id) == current {
                        pending.entry(id).or_default().push(push);
                    } else {
                        tr.mailbox.send(push);
                    }
                }
                return;
            }
        }
    } else {
        None
    };
    match target {
        // RESP3: a push; RESP2: a Pub/Sub message on the invalidation channel, if the target is in
        // Pub/Sub mode (subscribed to anything, as Redis's `CLIENT_PUBSUB`).
        Some(m) if m.resp3() || pubsub.is_subscriber(redirect) => {
            m.send(Push::Invalidate(keys));
        }
        Some(_) => {}
        None if tr.mailbox.resp3() => {
            let push = Push::Invalidate(keys);
            if Some(id) == current {
                pending.entry(id).or_default().push(push);
            } else {
                tr.mailbox.send(push);
            }
        }
        None => {}
    }
    // A RESP2 client without REDIRECT cannot receive anything (as in Redis).
}
