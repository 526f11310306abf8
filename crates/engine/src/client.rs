//! Connected clients: the registry behind CLIENT LIST / KILL / INFO and maxclients, and the
//! per-connection state the commands work on.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::pubsub::{Inbox, Kind, Mailbox};
use crate::store::Blob;
use crate::{ConnContext, Engine};

/// What other connections may read or change about a client.
#[derive(Debug)]
pub struct ClientHandle {
    /// CLIENT ID.
    pub id: u64,
    /// Where the client connects from and to.
    pub ctx: ConnContext,
    /// When it connected (the engine's clock, unix ms).
    pub created_ms: u64,
    /// The engine's clock (CLIENT LIST's age and idle).
    pub clock: crate::store::Clock,
    /// Mutable descriptive fields.
    pub info: Mutex<ClientInfo>,
    /// Selected database.
    pub db: AtomicUsize,
    /// When it last ran commands (the engine's clock, unix ms).
    pub last_interaction: AtomicU64,
    /// Protocol version (2 or 3).
    pub resp: AtomicU8,
    /// Set by CLIENT KILL / shutdown; the connection closes at once.
    pub killed: AtomicBool,
    /// Wakes the connection when `killed` is set.
    pub kill: Notify,
    /// Whether the client waits in a blocking command.
    pub blocked: AtomicBool,
    /// CLIENT UNBLOCK request: 0 none, 1 as a timeout, 2 as an error; or
    /// [`UNBLOCK_ROLE_CHANGE`].
    pub unblock: AtomicU8,
    /// Wakes a blocked client for CLIENT UNBLOCK.
    pub wake: Notify,
    /// What the connection is to replication ([`kind`]): CLIENT LIST's `M`/`S` flags and
    /// CLIENT KILL TYPE master|replica.
    pub kind: AtomicU8,
    /// Channels, patterns and shard channels subscribed to (CLIENT LIST's `sub`, `psub`,
    /// `ssub`, and its `P` flag).
    pub subscribed: [AtomicUsize; 3],
    /// Commands queued in MULTI (CLIENT LIST's `multi`, read while `in_multi`).
    pub queued: AtomicUsize,
}

/// The values of [`ClientHandle::kind`].
/// [`ClientHandle::unblock`]'s value when the engine became a replica (Redis's
/// `disconnectAllBlockedClients`).
pub const UNBLOCK_ROLE_CHANGE: u8 = 3;
/// What such a client is told (redis-server 7.0's text).
pub const UNBLOCKED_ROLE_CHANGE: &str =
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

pub mod kind {
    /// An ordinary client.
    pub const NORMAL: u8 = 0;
    /// This replica's link to its primary (Redis's master client).
    pub const MASTER: u8 = 1;
    /// A replica attached to this primary.
    pub const REPLICA: u8 = 2;
}

/// Descriptive fields set by the client itself.
#[derive(Debug, Default, Clone)]
pub struct ClientInfo {
    /// CLIENT SETNAME.
    pub name: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// The last command's name.
    pub last_cmd: &'static str,
    /// The authenticated user.
    pub user: String,
    /// Whether the client is inside MULTI.
    pub in_multi: bool,
    /// CLIENT NO-EVICT ON (flag `e`; redlink never evicts clients: `maxmemory-clients` does not exist).
    pub no_evict: bool,
    /// CLIENT NO-TOUCH ON (flag `T`).
    pub no_touch: bool,
}

impl ClientHandle {
    /// Ask the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        // Every waiter (the connection keeps one registered for its whole life, and may wait in
        // a second place), and a permit for a wait that starts later.
        self.kill.notify_waiters();
        self.kill.notify_one();
    }

    /// One line of CLIENT LIST / CLIENT INFO.
    pub fn describe(&self) -> String {
        let info = self.info.lock().clone();
        let now_ms = self.clock.now_ms();
        let idle = now_ms.saturating_sub(self.last_interaction.load(Ordering::Relaxed)) / 1000;
        // Redis's order of the flag letters; `N` when there is none.
        let mut flags = String::new();
        let role = self.kind.load(Ordering::Relaxed);
        let subs = self
            .subscribed
            .each_ref()
            .map(|n| n.load(Ordering::Relaxed));
        for (on, letter) in [
            (role == kind::REPLICA, 'S'),
            (role == kind::MASTER, 'M'),
            (subs.iter().any(|n| *n > 0), 'P'),
            (info.in_multi, 'x'),
            (self.blocked.load(Ordering::Relaxed), 'b'),
            (info.no_evict, 'e'),
            (info.no_touch, 'T'),
        ] {
            if on {
                flags.push(letter);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let cmd = if info.last_cmd.is_empty() {
            "NULL"
        } else {
            info.last_cmd
        };
        let user = if info.user.is_empty() {
            "default".to_string()
        } else {
            info.user
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
             multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 \
             tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.ctx.peer,
            self.ctx.local,
            8 + self.id,
            info.name,
            now_ms.saturating_sub(self.created_ms) / 1000,
            idle,
            flags,
            self.db.load(Ordering::Relaxed),
            subs[0],
            subs[1],
            subs[2],
            if info.in_multi {
                self.queued.load(Ordering::Relaxed) as i64
            } else {
                -1
            },
            cmd,
            user,
            self.resp.load(Ordering::Relaxed),
            info.lib_name,
            info.lib_ver,
        )
    }
}

/// All connected clients of an engine.
#[derive(Debug, Default)]
pub struct Registry {
    count: AtomicUsize,
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    /// The engine's clock.
    clock: crate::store::Clock,
}

impl Registry {
    /// Number of connected clients.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// No clients yet; their ages on `clock`.
    pub fn with_clock(clock: crate::store::Clock) -> Registry {
        Registry {
            clock,
            ..Registry::default()
        }
    }

    /// Register a new client.
    pub fn register(&self, ctx: ConnContext) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now_ms = self.clock.now_ms();
        let handle = Arc::new(ClientHandle {
            id,
            ctx,
            created_ms: now_ms,
            clock: self.clock.clone(),
            info: Mutex::new(ClientInfo::default()),
            db: AtomicUsize::new(0),
            last_interaction: AtomicU64::new(now_ms),
            resp: AtomicU8::new(2),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            blocked: AtomicBool::new(false),
            unblock: AtomicU8::new(0),
            wake: Notify::new(),
            kind: AtomicU8::new(kind::NORMAL),
            subscribed: Default::default(),
            queued: AtomicUsize::new(0),
        });
        self.map.lock().insert(id, handle.clone());
        handle
    }

    /// Remove a client.
    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    /// The client with this id, if connected.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.lock().get(&id).cloned()
    }

    /// A snapshot of every client, by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }

    /// Close every client (shutdown, or the endpoint's path became denied).
    pub fn kill_all(&self) {
        for c in self.all() {
            c.kill();
        }
    }
}

/// A place among the `maxclients`; released when dropped.
pub struct Admission {
    engine: Engine,
}

impl Admission {
    /// Take a place, or `None` when `maxclients` clients are already connected.
    pub fn new(engine: &Engine) -> Option<Admission> {
        let max = engine.hot.maxclients.load(Ordering::Relaxed);
        let prev = engine.clients.count.fetch_add(1, Ordering::AcqRel);
        if prev >= max {
            engine.clients.count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Admission {
            engine: engine.clone(),
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.engine.clients.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The permissions of a client whose user is not known yet (or was deleted): none.
static NOBODY: std::sync::LazyLock<Arc<crate::acl::User>> =
    std::sync::LazyLock::new(|| Arc::new(crate::acl::User::new("")));

/// A queued command inside MULTI.
pub type Queued = Vec<Vec<u8>>;

/// Per-connection state the commands work on (owned by the connection task).
#[derive(Debug)]
pub struct Client {
    /// Shared view of this client.
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: usize,
    /// Authenticated (or no password required when it connected).
    pub authenticated: bool,
    /// Authenticated user name.
    pub user: String,
    /// Snapshot of the user's permissions, valid while `acl_epoch` equals the engine's.
    pub acl_user: Arc<crate::acl::User>,
    /// The [`crate::acl::Acl::epoch`] `acl_user` was taken at (0 = take it before the next command).
    pub acl_epoch: u64,
    /// Commands queued by MULTI, if inside one.
    pub multi: Option<Vec<Queued>>,
    /// A command failed to queue: EXEC will abort.
    pub multi_error: bool,
    /// Close once the pending replies are written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// CLIENT REPLY OFF: no replies until CLIENT REPLY ON (Pub/Sub and tracking pushes still go
    /// out, as Redis's `CLIENT_PUSHING` lets them through).
    pub reply_off: bool,
    /// CLIENT REPLY SKIP took effect: the reply of the command running now is dropped.
    pub reply_skip: bool,
    /// CLIENT REPLY SKIP was just given: the next command's reply is dropped.
    pub reply_skip_next: bool,
    /// While a script runs and some client tracks: the keys the script declared, which a read-only
    /// command it calls makes the client track (Redis's `trackingRememberKeys` of the caller).
    pub tracking_script: Option<Vec<Vec<u8>>>,
    /// Whether the client is in MONITOR mode (exempt from `timeout`, like Redis).
    pub monitor: bool,
    /// Which gate slot this connection uses.
    pub gate_slot: usize,
    /// Counters flushed to the engine's stats after each batch.
    pub pending_stats: PendingStats,
    /// Error replies of the commands run so far in this batch, counted by each (INFO
    /// commandstats' `failed_calls`: EXEC does not fail because a command it ran did).
    pub nested_errors: u64,
    /// The running command answered an error counted elsewhere (a script's error from a failed
    /// `redis.call`): it failed all the same (`failed_calls`).
    pub failed_uncounted: bool,
    /// A script of this client runs the current command (MONITOR shows it from `lua`).
    pub in_script: bool,
    /// When the previous command of the current batch ended: the next one's start, so each command
    /// costs one clock read (reset before every batch, so idle time is never counted).
    pub clock: Option<crate::diagnostics::stopwatch::Start>,
    /// The engine clock's time read right after the read that brought the current batch: the
    /// batch's `now`, so a request costs one clock read, not one for the read and one for the batch.
    pub read_at: Option<u64>,
    /// Name of the last command run in the current batch.
    pub last_cmd: Option<&'static str>,
    /// The last command name published to `handle.info` (so a repeated command takes no lock).
    pub published_cmd: &'static str,
    /// Where PUBLISH delivers this client's messages.
    pub mailbox: Mailbox,
    /// The receiving end, taken by the connection task.
    pub inbox: Option<Inbox>,
    /// SUBSCRIBEd channels.
    pub channels: HashSet<Blob>,
    /// PSUBSCRIBEd patterns.
    pub patterns: HashSet<Blob>,
    /// SSUBSCRIBEd shard channels.
    pub shard_channels: HashSet<Blob>,
    /// WATCHed keys (database, key).
    pub watched: Vec<(usize, Blob)>,
    /// Set when a watched key changes.
    pub watch_dirty: Arc<AtomicBool>,
    /// Set by a blocking command that found nothing to serve: the connection waits and retries.
    pub block: Option<BlockRequest>,
    /// CLIENT NO-TOUCH ON: the keys this client reads keep their LRU/LFU (TOUCH still touches).
    pub no_touch: bool,
    /// Replication requests the connection carries out after the batch (PSYNC/SYNC turn it into a
    /// replica stream, WAIT waits for acknowledgements) and what REPLCONF told about it.
    pub repl: crate::replication::ClientRepl,
    /// Cluster mode: ASKING was sent (the next command may use an importing slot).
    pub asking: bool,
    /// Cluster mode: READONLY was sent (reads allowed on a replica of the slot's owner).
    pub readonly: bool,
}

/// What a blocked command waits for.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// Keys whose change may let the command proceed.
    pub keys: Vec<Vec<u8>>,
    /// When to give up (the engine's clock, unix ms; `None` = never).
    pub deadline: Option<u64>,
    /// The reply on timeout.
    pub on_timeout: TimeoutReply,
    /// The arguments to run again when woken, if not the original ones (XREAD's `$` resolved to the
    /// ID it stood for when the client blocked).
    pub rewrite: Option<Vec<Vec<u8>>>,
    /// A reader: when woken and it finds nothing, it passes the wake-up on to the next client in line
    /// (several stream readers may be servable by one change).
    pub relay: bool,
}

/// The reply a blocking command gives when it times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// A null array (BLPOP, BZPOPMIN, BLMPOP...).
    NullArray,
    /// A null bulk (BLMOVE, BRPOPLPUSH).
    Null,
}

/// Statistics a connection accumulates between flushes.
#[derive(Debug, Default)]
pub struct PendingStats {
    /// Commands executed.
    pub commands: u64,
    /// Key hits.
    pub hits: u64,
    /// Key misses.
    pub misses: u64,
    /// Keys expired lazily.
    pub expired: u64,
    /// Error replies.
    pub errors: u64,
}

impl Client {
    /// Fresh state for a new connection.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Client {
        let gate_slot = handle.id as usize;
        let (mailbox, inbox) = Mailbox::new(handle.clone());
        Client {
            mailbox,
            inbox: Some(inbox),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            block: None,
            handle,
            db: 0,
            authenticated,
            user: "default".into(),
            acl_user: NOBODY.clone(),
            acl_epoch: 0,
            multi: None,
            multi_error: false,
            close_after_reply: false,
            reply_off: false,
            reply_skip: false,
            reply_skip_next: false,
            tracking_script: None,
            monitor: false,
            gate_slot,
            pending_stats: PendingStats::default(),
            nested_errors: 0,
            failed_uncounted: false,
            in_script: false,
            clock: None,
            read_at: None,
            last_cmd: None,
            published_cmd: "",
            no_touch: false,
            repl: Default::default(),
            asking: false,
            readonly: false,
        }
    }

    /// Take a fresh snapshot of the user's permissions (after any ACL change). A user deleted
    /// meanwhile may run nothing (its connections are being closed).
    pub fn refresh_acl(&mut self, engine: &Engine, epoch: u64) {
        self.acl_user = engine
            .acl
            .user(&self.user)
            .unwrap_or_else(|| NOBODY.clone());
        self.acl_epoch = epoch;
    }

    /// Become `user` (after AUTH / HELLO AUTH / RESET): permissions are looked up before the next
    /// command.
    pub fn set_user(&mut self, user: &str) {
        self.user = user.to_string();
        self.acl_epoch = 0;
        self.handle.info.lock().user = self.user.clone();
    }

    /// Publish the current command's name for CLIENT LIST / INFO now (ACL LOG's client-info).
    pub fn publish_cmd(&mut self, name: &'static str) {
        if !std::ptr::eq(name, self.published_cmd) {
            self.published_cmd = name;
            self.handle.info.lock().last_cmd = name;
        }
    }

    /// Number of channels, patterns and shard channels subscribed.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels.len()
    }

    /// Publish the subscription counts to CLIENT LIST (after SUBSCRIBE and friends).
    pub fn sync_subscriptions(&self) {
        for (n, len) in self.handle.subscribed.iter().zip([
            self.channels.len(),
            self.patterns.len(),
            self.shard_channels.len(),
        ]) {
            n.store(len, Ordering::Relaxed);
        }
    }

    /// Forget every WATCHed key.
    pub fn unwatch(&mut self, engine: &Engine) {
        let keys = std::mem::take(&mut self.watched);
        engine.store.events.unwatch_all(self.handle.id, &keys);
        self.watch_dirty.store(false, Ordering::Release);
    }

    /// Drop every subscription.
    pub fn unsubscribe_all(&mut self, engine: &Engine) {
        let id = self.handle.id;
        for (kind, set) in [
            (Kind::Channel, std::mem::take(&mut self.channels)),
            (Kind::Pattern, std::mem::take(&mut self.patterns)),
            (Kind::Shard, std::mem::take(&mut self.shard_channels)),
        ] {
            for name in set {
                engine.pubsub.unsubscribe(kind, &name, id);
            }
        }
        self.sync_subscriptions();
    }

    /// Release everything the client holds in shared registries (on disconnect or RESET).
    pub fn release(&mut self, engine: &Engine) {
        engine.pubsub.remove_monitor(self.handle.id);
        // On RESET the keys it read stay in the table as in Redis; `Registration`'s drop in
        // `conn` forgets them when the connection ends.
        engine
            .tracking
            .disable(self.handle.id, false, &engine.store.events);
        self.monitor = false;
        self.unwatch(engine);
        self.unsubscribe_all(engine);
    }

    /// Flush accumulated counters into the engine's stats.
    pub fn flush_stats(&mut self, engine: &Engine) {
        let p = std::mem::take(&mut self.pending_stats);
        self.nested_errors = 0;
        let s = &engine.stats;
        if p.commands > 0 {
            s.commands_processed
                .fetch_add(p.commands, Ordering::Relaxed);
        }
        if p.hits > 0 {
            s.keyspace_hits.fetch_add(p.hits, Ordering::Relaxed);
        }
        if p.misses > 0 {
            s.keyspace_misses.fetch_add(p.misses, Ordering::Relaxed);
        }
        if p.expired > 0 {
            s.expired_keys.fetch_add(p.expired, Ordering::Relaxed);
        }
        if p.errors > 0 {
            s.error_replies.fetch_add(p.errors, Ordering::Relaxed);
        }
    }
}
