//! redlink's Redis-compatible server engine.
//!
//! The engine knows nothing about simulated networks. It owns a keyspace, a client registry and a
//! configuration, and serves connections in two ways:
//! - its own listeners ([`server::Server`]), which apply `bind`, `port`, `tls-port`, protected mode and
//!   `maxclients` like redis-server does (this is `redlink serve`);
//! - [`Engine::accept_stream`], which serves a stream somebody else accepted (the simulated network's
//!   edge hands connections over in-process), with a [`ConnContext`] saying where it came from.
//!
//! Layout: `protocol` (wire format), `store` (keyspace), `commands` (the command table, one module per
//! family), `conn` (one connection's loop), `client` (client registry), `server` (listeners),
//! `tls` (rustls and generated certificates), `config` (options), `info` (INFO text), `alloc`
//! (allocator-counted `used_memory`), `evict` (`maxmemory` and its eviction policies), `session`
//! (request reading and connection guards shared with other RESP servers: the control API).

pub mod acl;
pub mod alloc;
pub mod aof;
pub mod busy_poll;
pub mod client;
pub mod cluster;
pub mod cmdstats;
pub mod commands;
pub mod conffile;
pub mod config;
pub mod conn;
pub mod diagnostics;
pub mod disabled;
pub mod evict;
pub mod files;
pub mod glob;
pub mod host;
pub mod info;
pub mod maint;
pub mod notify;
pub mod persist;
pub mod propagate;
pub mod protocol;
pub mod pubsub;
pub mod rdb;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod session;
pub mod spec;
pub mod store;
pub mod tls;
pub mod tracking;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

pub use config::Config;
pub use server::{ServeError, Server};

/// Where a connection came from: filled by whoever accepted it.
#[derive(Debug, Clone)]
pub struct ConnContext {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client connected to.
    pub local: SocketAddr,
    /// Whether the stream is TLS (already terminated).
    pub tls: bool,
    /// The endpoint the connection came through (e.g. `pe-hub`), when handed over by the edge.
    pub endpoint: Option<String>,
    /// Cluster nodes' addresses as this connection must be told them (`CLUSTER SLOTS`, `-MOVED`...);
    /// `None`: each node's own address.
    pub announce: Option<Arc<dyn cluster::ClusterAnnounce>>,
}

/// Something a client experienced that the world's evidence trail wants to show.
#[derive(Debug, Clone)]
pub struct EngineEvent {
    /// What happened.
    pub kind: EngineEventKind,
    /// Where the client connected from and through.
    pub ctx: ConnContext,
}

/// The kinds of [`EngineEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEventKind {
    /// AUTH or HELLO AUTH with a wrong password (`WRONGPASS`); the user name tried.
    AuthFailed {
        /// The user name given (`default` for `AUTH password`).
        user: String,
    },
    /// A command refused with `NOAUTH`.
    NoAuth {
        /// The command's name.
        command: String,
    },
    /// A client turned away by `maxclients`.
    MaxClients,
}

/// CLIENT PAUSE: until when clients' commands wait, and whether only writes do.
#[derive(Debug, Default)]
pub struct Pause {
    /// Unix milliseconds the pause lasts until (0 = not paused).
    pub until_ms: AtomicU64,
    /// `WRITE` mode: only commands that may write wait.
    pub writes_only: AtomicBool,
    /// Woken by CLIENT UNPAUSE.
    pub ended: tokio::sync::Notify,
}

impl Pause {
    /// Whether a pause is set (cheap: one atomic load on the hot path); clears an expired one.
    #[inline]
    pub fn active(&self, clock: &store::Clock) -> bool {
        let until = self.until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return false;
        }
        if until <= clock.now_ms() {
            let _ = self
                .until_ms
                .compare_exchange(until, 0, Ordering::AcqRel, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Whether a command with these flags must wait now; returns the pause's end (unix ms).
    pub fn holds(&self, flags: u32, now_ms: u64) -> Option<u64> {
        let until = self.until_ms.load(Ordering::Acquire);
        if until <= now_ms {
            return None;
        }
        let writes_only = self.writes_only.load(Ordering::Acquire);
        (!writes_only || flags & commands::flag::WRITE != 0).then_some(until)
    }
}

/// Counters reported by INFO stats.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Connections refused because of maxclients.
    pub rejected_connections: AtomicU64,
    /// Commands executed.
    pub commands_processed: AtomicU64,
    /// Keys expired (lazily or actively).
    pub expired_keys: AtomicU64,
    /// Successful key lookups.
    pub keyspace_hits: AtomicU64,
    /// Failed key lookups.
    pub keyspace_misses: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Error replies sent.
    pub error_replies: AtomicU64,
    /// Clients currently blocked (BLPOP and friends).
    pub blocked_clients: AtomicU64,
    /// Keys evicted by `maxmemory-policy`.
    pub evicted_keys: AtomicU64,
    /// Error replies by prefix (INFO errorstats), in name order.
    pub error_kinds: parking_lot::Mutex<std::collections::BTreeMap<String, u64>>,
}

/// At most this many error prefixes are counted (Redis's `ERROR_STATS_NUMBER`): a new one past
/// it is not (Redis then stops counting errors by prefix altogether until CONFIG RESETSTAT).
const ERROR_KINDS_MAX: usize = 128;

impl Stats {
    /// Count an error reply under its prefix (INFO errorstats), the way Redis's
    /// `afterErrorReply` reads it: the first word when a space ends it within the first 31
    /// bytes of the message, otherwise `ERR`.
    pub fn count_error_kind(&self, msg: &[u8]) {
        let word = msg
            .iter()
            .take(31)
            .position(|&c| c == b' ')
            .map_or(&b"ERR"[..], |end| &msg[..end]);
        let word = String::from_utf8_lossy(word);
        let mut kinds = self.error_kinds.lock();
        if let Some(n) = kinds.get_mut(word.as_ref()) {
            *n += 1;
        } else if kinds.len() < ERROR_KINDS_MAX {
            kinds.insert(word.into_owned(), 1);
        }
    }
}

/// Values read on every command, copied out of the configuration when it changes.
#[derive(Debug, Default)]
pub struct HotConfig {
    /// The default user has a password.
    pub auth_required: AtomicBool,
    /// `maxclients`.
    pub maxclients: AtomicUsize,
    /// `proto-max-bulk-len`.
    pub max_bulk: AtomicI64,
    /// `timeout` in seconds.
    pub timeout: AtomicU64,
    /// `client-query-buffer-limit`.
    pub qbuf_limit: AtomicUsize,
    /// `maxmemory` in bytes (0 = none): the only load on the hot path when it is not set.
    pub maxmemory: AtomicU64,
    /// `maxmemory-policy` ([`evict::Policy`] as u8).
    pub maxmemory_policy: std::sync::atomic::AtomicU8,
    /// `maxmemory-samples`.
    pub maxmemory_samples: AtomicUsize,
    /// Hard limit of the `normal` class of `client-output-buffer-limit`, bytes (0 = none).
    pub normal_obuf_hard: AtomicUsize,
    /// Bumped whenever `timeout` changes, so idle connections re-arm their timer.
    pub timeout_changed: watch::Sender<u64>,
    /// `min-replicas-to-write` (0 also when `min-replicas-max-lag` is 0): writes are refused with
    /// `-NOREPLICAS` while fewer replicas are online with a lag of at most `min-replicas-max-lag`.
    pub min_replicas_to_write: AtomicUsize,
}

/// State shared by every connection of one engine.
pub struct Shared {
    /// The keyspace.
    pub store: store::Store,
    /// The configuration (CONFIG GET/SET).
    pub config: RwLock<Config>,
    /// Hot copies of configuration values.
    pub hot: HotConfig,
    /// Lua scripting: the script cache, the Lua state and the running-script state.
    pub scripting: scripting::Scripting,
    /// Connected clients.
    pub clients: client::Registry,
    /// Pub/Sub subscriptions.
    pub pubsub: Arc<pubsub::Registry>,
    /// INFO counters.
    pub stats: Stats,
    /// When the engine started (real time).
    pub started: Instant,
    /// When the engine started on its clock (unix ms): INFO's uptime.
    pub started_ms: u64,
    /// INFO run_id.
    pub run_id: String,
    /// The TLS configuration for `tls-port` and TLS hand-offs.
    pub tls: RwLock<Option<Arc<rustls::ServerConfig>>>,
    shutdown: watch::Sender<bool>,
    /// Bumped when an option that affects listeners changes (bind, port, tls-port).
    pub listeners_changed: watch::Sender<u64>,
    /// Applies bind/port/tls-*/maxclients changes before CONFIG SET commits them (set by
    /// [`server::Server::start`]; `None` for engines served through somebody else's listeners).
    pub listener_hook: RwLock<Option<server::ListenerHook>>,
    /// CLIENT PAUSE state.
    pub pause: Pause,
    /// ACL users and the ACL log.
    pub acl: acl::Acl,
    /// Auth failures and maxclients rejections, for whoever subscribes (built only then).
    pub events: tokio::sync::broadcast::Sender<EngineEvent>,
    /// SLOWLOG and the latency monitor.
    pub diagnostics: diagnostics::Diagnostics,
    /// INFO commandstats and errorstats.
    pub cmdstats: cmdstats::CommandStats,
    /// CLIENT TRACKING (client-side caching).
    pub tracking: tracking::Tracking,
    /// The eviction pool (one evictor at a time).
    pub evictor: evict::Evictor,
    /// Commands switched off (`rename-command NAME ""`): unknown to clients and scripts.
    pub disabled: disabled::Disabled,
    /// The append-only file (a consumer of `store.feed`).
    pub aof: aof::Aof,
    /// RDB saves: last save, schedule, status ([`persist::rdb_save`]).
    pub rdb: persist::rdb_save::RdbState,
    /// Smart-client-handoff opt-ins (`CLIENT MAINT_NOTIFICATIONS`, [`maint`]).
    pub maint: maint::MaintNotifications,
    /// Replication: the backlog, attached replicas, the link to a primary ([`replication`]).
    pub replication: replication::Replication,
    /// Cluster mode: the cluster this engine is a node of ([`cluster::ClusterTopology::attach`]).
    pub cluster: std::sync::OnceLock<cluster::Membership>,
    /// Busy polling between requests (started by `redlink serve`, [`busy_poll`]).
    pub busy_poll: busy_poll::BusyPoll,
}

/// A handle on one engine (cheap to clone).
#[derive(Clone)]
pub struct Engine(Arc<Shared>);

impl std::ops::Deref for Engine {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Engine {
    /// An engine with this configuration on the real clock (TLS files are loaded by
    /// [`tls::configure`]).
    pub fn new(config: Config) -> Engine {
        Engine::with_clock(config, store::Clock::real())
    }

    /// An engine whose every read of time for behaviour (expiry, TTLs, TIME, idle times, blocking
    /// timeouts, stream IDs, SLOWLOG stamps, LASTSAVE) goes through `clock`: a manual clock moves
    /// only when told (DEBUG CLOCK, or whoever holds a clone), see `docs/clock.md`.
    pub fn with_clock(config: Config, clock: store::Clock) -> Engine {
        let databases = config.databases();
        let (users, disabled) = (config.users.clone(), config.disabled_commands.clone());
        let (shutdown, _) = watch::channel(false);
        let (listeners_changed, _) = watch::channel(0);
        let run_id: String = {
            use rand::Rng;
            let mut rng = rand::rng();
            (0..40)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect()
        };
        let pubsub = Arc::new(pubsub::Registry::with_clock(clock.clone()));
        let engine = Engine(Arc::new(Shared {
            started_ms: clock.now_ms(),
            store: store::Store::with_clock(databases, clock.clone()),
            config: RwLock::new(config),
            hot: HotConfig::default(),
            clients: client::Registry::with_clock(clock.clone()),
            scripting: scripting::Scripting::default(),
            tracking: tracking::Tracking::new(pubsub.clone()),
            pubsub,
            stats: Stats::default(),
            started: Instant::now(),
            run_id,
            tls: RwLock::new(None),
            shutdown,
            listeners_changed,
            listener_hook: RwLock::new(None),
            events: tokio::sync::broadcast::channel(256).0,
            pause: Pause::default(),
            diagnostics: diagnostics::Diagnostics::with_clock(clock.clone()),
            cmdstats: cmdstats::CommandStats::default(),
            evictor: evict::Evictor::default(),
            acl: acl::Acl::with_clock(clock.clone()),
            disabled: disabled::Disabled::default(),
            aof: aof::Aof::default(),
            rdb: persist::rdb_save::RdbState::default(),
            maint: maint::MaintNotifications::default(),
            replication: replication::Replication::default(),
            cluster: std::sync::OnceLock::new(),
            busy_poll: busy_poll::BusyPoll::default(),
        }));
        engine.rdb.restamp(engine.clock());
        // redis.conf's `user` and `rename-command NAME ""` directives (checked when loaded).
        for (name, rules) in &users {
            let _ = engine.acl.set_user_rules(name, rules);
        }
        if !disabled.is_empty() {
            engine.disabled.set(&disabled);
        }
        engine.store.notify.attach(engine.pubsub.clone());
        engine.refresh_hot_config();
        engine
    }

    /// A handle that does not keep the engine alive (the cluster topology's link to its nodes).
    pub fn downgrade(&self) -> std::sync::Weak<Shared> {
        Arc::downgrade(&self.0)
    }

    /// The engine behind a [`downgrade`](Self::downgrade)d handle, while it exists.
    pub fn upgrade(weak: &std::sync::Weak<Shared>) -> Option<Engine> {
        weak.upgrade().map(Engine)
    }

    /// The engine's clock (the store's).
    #[inline]
    pub fn clock(&self) -> &store::Clock {
        &self.store.clock
    }

    /// Removes the keys a move of the clock made due, in order of expiry, with their `expired`
    /// notifications (see [`store::Store::expire_due`]); returns how many. Blocked clients and idle
    /// timeouts wake by themselves: they sleep on the clock.
    pub fn fire_due(&self) -> usize {
        // Like the active cycle: no deletion interleaves with a propagating command.
        let _gate = self.store.feed.active().then(|| self.store.gate.shared(0));
        let expired = self.store.expire_due();
        self.track_server_changes();
        self.stats
            .expired_keys
            .fetch_add(expired as u64, Ordering::Relaxed);
        expired
    }

    /// CLIENT TRACKING after keys changed outside a command (active expiry, a move of a manual
    /// clock) on this thread: their invalidations, then the BCAST broadcast.
    pub fn track_server_changes(&self) {
        let changed = self.store.events.take_tracked();
        if !self.tracking.active() {
            return;
        }
        self.tracking.invalidate(None, &changed);
        self.tracking.broadcast(None);
        self.tracking.limit_used_slots(None);
    }

    /// Copy the hot values out of the configuration (after any change).
    pub fn refresh_hot_config(&self) {
        let c = self.config.read();
        // `requirepass` is the default user's password: follow it when it changes.
        self.acl.apply_requirepass(c.requirepass());
        self.acl_changed();
        self.hot.maxclients.store(c.maxclients(), Ordering::Relaxed);
        self.hot
            .max_bulk
            .store(c.proto_max_bulk_len(), Ordering::Relaxed);
        if self.hot.timeout.swap(c.timeout(), Ordering::Relaxed) != c.timeout() {
            self.hot.timeout_changed.send_modify(|v| *v += 1);
        }
        self.hot
            .qbuf_limit
            .store(c.client_query_buffer_limit(), Ordering::Relaxed);
        self.diagnostics.configure(&c);
        let [normal, _replica, pubsub] = c.output_buffer_limits();
        let limit = |l: config::OutputBufferLimit| pubsub::Limit {
            hard: l.hard as usize,
            soft: l.soft as usize,
            soft_ms: l.soft_seconds.saturating_mul(1000),
        };
        self.pubsub.limit.set(limit(pubsub));
        self.pubsub.normal_limit.set(limit(normal));
        self.hot
            .normal_obuf_hard
            .store(normal.hard as usize, Ordering::Relaxed);
        let policy = evict::Policy::parse(c.get("maxmemory-policy").unwrap_or(""));
        self.hot
            .maxmemory_policy
            .store(policy as u8, Ordering::Relaxed);
        self.store.lfu.store(policy.is_lfu(), Ordering::Relaxed);
        self.hot
            .maxmemory_samples
            .store(c.maxmemory_samples(), Ordering::Relaxed);
        self.hot.maxmemory.store(c.maxmemory(), Ordering::Relaxed);
        self.scripting
            .busy_threshold_ms
            .store(c.busy_reply_threshold(), Ordering::Relaxed);
        let t = &self.store.tuning;
        let size = |name| c.number(name).max(0) as usize;
        t.hash_entries
            .store(size("hash-max-listpack-entries"), Ordering::Relaxed);
        t.hash_value
            .store(size("hash-max-listpack-value"), Ordering::Relaxed);
        t.zset_entries
            .store(size("zset-max-listpack-entries"), Ordering::Relaxed);
        t.zset_value
            .store(size("zset-max-listpack-value"), Ordering::Relaxed);
        t.set_intset_entries
            .store(size("set-max-intset-entries"), Ordering::Relaxed);
        t.set_entries
            .store(size("set-max-listpack-entries"), Ordering::Relaxed);
        t.list_size
            .store(c.number("list-max-listpack-size"), Ordering::Relaxed);
        t.lfu_log_factor
            .store(size("lfu-log-factor") as u64, Ordering::Relaxed);
        t.lfu_decay_minutes
            .store(size("lfu-decay-time") as u64, Ordering::Relaxed);
        t.stream_node_bytes
            .store(size("stream-node-max-bytes"), Ordering::Relaxed);
        t.stream_node_entries
            .store(size("stream-node-max-entries") as u64, Ordering::Relaxed);
        self.acl.set_log_max_len(size("acllog-max-len"));
        self.tracking
            .max_keys
            .store(size("tracking-table-max-keys"), Ordering::Relaxed);
        self.hot.min_replicas_to_write.store(
            if c.number("min-replicas-max-lag") > 0 {
                size("min-replicas-to-write")
            } else {
                0
            },
            Ordering::Relaxed,
        );
        self.store.notify.set_flags(c.keyspace_events);
        self.aof.configure(&c);
        self.replication.configure(&c);
    }

    /// Recompute what depends on the users (after ACL SETUSER / DELUSER / requirepass).
    pub fn acl_changed(&self) {
        self.hot
            .auth_required
            .store(self.acl.default_requires_auth(), Ordering::Relaxed);
    }

    /// Create or modify a user from space-separated ACL rules (`on >pass +@all ~app:*`), as
    /// `ACL SETUSER` would; the error is Redis's text without the `ERR ` prefix.
    pub fn set_user(&self, name: &str, rules: &str) -> Result<(), String> {
        self.acl.set_user_rules(name, rules)?;
        self.acl_changed();
        Ok(())
    }

    /// Tell subscribers (if any) what a client experienced.
    pub fn emit(&self, kind: EngineEventKind, ctx: &ConnContext) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(EngineEvent {
                kind,
                ctx: ctx.clone(),
            });
        }
    }

    /// Ask every listener and connection to stop (SHUTDOWN, SIGTERM).
    pub fn shutdown(&self) {
        self.aof.flush_all();
        self.scripting.abort();
        self.shutdown.send_replace(true);
    }

    /// Whether shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// A receiver that changes to `true` on shutdown.
    pub fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Resolves when shutdown is requested.
    pub async fn wait_shutdown(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Start the background jobs (active expiry). Runs until shutdown.
    pub fn spawn_background(&self) {
        // `replicaof` in the configuration file (or `serve --replicaof`): follow that primary.
        let replicaof = self
            .config
            .read()
            .get("replicaof")
            .unwrap_or("")
            .to_string();
        if let Some((host, port)) = replicaof.split_once(' ')
            && let Ok(port) = port.trim().parse::<u16>()
            && let Err(e) = self.replicate_from(host, port)
        {
            tracing::warn!("replicaof {replicaof}: {e}");
        }
        if self.clock().is_manual() {
            // A manual clock moves in jumps: each move expires what became due at once, in order.
            let engine = self.clone();
            tokio::spawn(async move {
                let mut shutdown = engine.shutdown.subscribe();
                let mut seen = engine.clock().now_ms();
                loop {
                    tokio::select! {
                        _ = engine.clock().sleep_until(seen.saturating_add(1)) => {}
                        _ = shutdown.changed() => return,
                    }
                    seen = engine.clock().now_ms();
                    let due_engine = engine.clone();
                    let _ = tokio::task::spawn_blocking(move || due_engine.fire_due()).await;
                }
            });
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let mut shutdown = engine.shutdown.subscribe();
            let (mut received_at_trim, mut clients_last_tick) = (0u64, 0usize);
            let mut last_trim = Instant::now();
            loop {
                let (hz, effort) = {
                    let c = engine.config.read();
                    (
                        c.number("hz").clamp(1, 500) as u64,
                        c.number("active-expire-effort").clamp(1, 10) as u64,
                    )
                };
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(1000 / hz)) => {}
                    _ = shutdown.changed() => return,
                }
                // DEBUG PAUSE-CRON 1: the cron does nothing (Redis's `pause_cron`).
                if engine.store.cron_paused.load(Ordering::Relaxed) {
                    continue;
                }
                // Redis gives the active cycle 25% of each tick, 2 points more per step of
                // `active-expire-effort`.
                let budget = Duration::from_micros(10_000 * (25 + 2 * (effort - 1)) / hz);
                let store_engine = engine.clone();
                // A replica does not expire keys itself: it waits for its primary's DEL.
                let expired = if engine.replication.is_replica() {
                    // The cron still bounds the tracking table (Redis's serverCron).
                    if engine.tracking.active() {
                        engine.tracking.limit_used_slots(None);
                    }
                    0
                } else {
                    tokio::task::spawn_blocking(move || {
                        let expired = store_engine.store.active_expire_cycle(budget, effort);
                        store_engine.track_server_changes();
                        expired
                    })
                    .await
                    .unwrap_or(0)
                };
                engine
                    .stats
                    .expired_keys
                    .fetch_add(expired as u64, Ordering::Relaxed);
                // After many clients left (a connection storm), give the freed memory back to the
                // system: glibc keeps it in its arenas otherwise, and RSS would stay at the peak.
                // Once a burst of at least 256 connections has come and the count is no longer
                // rising; at most once a second.
                let clients = engine.clients.count();
                let received = engine.stats.connections_received.load(Ordering::Relaxed);
                if received.saturating_sub(received_at_trim) >= 256
                    && clients <= clients_last_tick
                    && last_trim.elapsed() >= Duration::from_secs(1)
                {
                    received_at_trim = received;
                    last_trim = Instant::now();
                    let _ = tokio::task::spawn_blocking(trim_allocator).await;
                }
                clients_last_tick = clients;
                // The `save` schedule and BGSAVE SCHEDULE (cutting a snapshot takes the gate).
                let cron_engine = engine.clone();
                let _ = tokio::task::spawn_blocking(move || persist::rdb_save::cron(&cron_engine))
                    .await;
                // Like Redis's cron: keep used_memory_peak current and evict down to maxmemory
                // even when no command arrives (e.g. after CONFIG SET maxmemory lowered it).
                alloc::used_memory();
                if engine.hot.maxmemory.load(Ordering::Relaxed) > 0 {
                    let evict_engine = engine.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        evict::perform_evictions(&evict_engine, 0)
                    })
                    .await;
                }
            }
        });
    }

    /// Serve a stream accepted elsewhere, enforcing maxclients like redis-server: over the limit a
    /// plain client receives `-ERR max number of clients reached` and is closed, a TLS client is
    /// closed before the handshake. With `ctx.tls` the engine terminates TLS with its certificate.
    pub async fn accept_stream<S>(&self, mut stream: S, ctx: ConnContext)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        self.stats
            .connections_received
            .fetch_add(1, Ordering::Relaxed);
        let Some(admission) = client::Admission::new(self) else {
            self.stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            self.emit(EngineEventKind::MaxClients, &ctx);
            if !ctx.tls {
                let _ = stream
                    .write_all(format!("-{}\r\n", session::MAX_CLIENTS).as_bytes())
                    .await;
            }
            let _ = stream.shutdown().await;
            return;
        };
        if !ctx.tls {
            conn::run(self.clone(), stream, ctx, admission).await;
            return;
        }
        let Some(config) = self.tls.read().clone() else {
            tracing::warn!(peer = %ctx.peer, "TLS connection but no TLS configuration");
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
            Ok(Ok(tls_stream)) => conn::run(self.clone(), tls_stream, ctx, admission).await,
            Ok(Err(e)) => tracing::debug!(peer = %ctx.peer, "TLS handshake failed: {e}"),
            Err(_) => tracing::debug!(peer = %ctx.peer, "TLS handshake timed out"),
        }
    }
}

/// Return freed heap memory to the system (glibc's `malloc_trim`; a no-op elsewhere).
fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it takes no pointers from us.
    unsafe {
        libc::malloc_trim(0);
    }
}
