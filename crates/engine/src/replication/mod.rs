//! Replication with Redis's protocol: a primary streams its writes to replicas, a replica follows
//! a primary (another redlink engine or redis-server 7.0), and `REPLICAOF NO ONE` promotes it.
//!
//! Why it is built this way: the writes a replica must apply are exactly what the AOF receives, so
//! the stream is the propagation feed ([`crate::propagate`]) read by a [`backlog::Backlog`]; a full
//! synchronisation sends an RDB of a copy-on-write snapshot ([`crate::store::snapshot`], no fork)
//! cut at a known stream offset, then the stream from that offset. Modules:
//! - [`backlog`]: the stream buffer and its offsets (partial resynchronisation, lagging replicas);
//! - [`primary`]: PSYNC/SYNC (full and partial), an attached replica's connection, REPLCONF, WAIT;
//! - [`replica`]: the link to a primary (handshake like redis-server 7.0, RDB load, applying the
//!   stream through `commands::execute` as the master client, ACKs, reconnection with PSYNC);
//! - [`report`]: ROLE and INFO replication, with Redis 7.0's field names and order.
//!
//! The world (`crates/runtime`) drives an engine through [`Engine::replicate_from`],
//! [`Engine::promote`], [`Engine::role`], [`Engine::repl_offset`] and [`Engine::wait_replicas`];
//! the replica connects to exactly the address it is given, so the caller may put a proxy (a
//! toxic) on the link.

/// Wall-clock milliseconds for the replication link's own timing (last I/O, acknowledgement lag,
/// `repl-timeout`): these measure the loopback link itself, so they stay on real time even when the
/// engine's data clock is manual (`DEBUG CLOCK`, docs/clock.md) — an advance of the data clock must
/// not make a healthy link look silent.
pub fn link_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub mod backlog;
pub mod primary;
pub mod replica;
pub mod report;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::Engine;
use backlog::Backlog;

/// Redis's refusal of writes on a read-only replica.
pub const READONLY: &str = "READONLY You can't write against a read only replica.";

/// Redis's refusal while the link is down and `replica-serve-stale-data` is `no`.
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// What an engine is in replication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A primary (Redis's `master`), with the replicas attached now.
    Primary {
        /// The attached replicas.
        replicas: Vec<ReplicaSummary>,
    },
    /// A replica of `host:port`.
    Replica {
        /// The primary's host as given.
        host: String,
        /// The primary's port.
        port: u16,
        /// The link's state.
        link: LinkState,
    },
}

/// One attached replica, as INFO's `slaveN` line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSummary {
    /// The replica's address (its `REPLCONF ip-address`, or the connection's).
    pub ip: String,
    /// Its `REPLCONF listening-port`.
    pub port: u16,
    /// `wait_bgsave`, `send_bulk` or `online`.
    pub state: &'static str,
    /// The offset it acknowledged.
    pub offset: u64,
    /// Seconds since its last acknowledgement.
    pub lag: u64,
}

/// The state of a replica's link to its primary (ROLE's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected; the next attempt is due.
    Connect,
    /// Connecting or in the handshake.
    Connecting,
    /// Receiving the RDB.
    Sync,
    /// Applying the stream.
    Connected,
}

impl LinkState {
    /// ROLE's word.
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// Why REPLICAOF or [`Engine::replicate_from`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaOfError {
    /// Not a loopback address (redlink's network rule).
    #[error(
        "ERR redlink replicates only from loopback addresses (127.0.0.0/8, ::1, localhost): '{0}' refused"
    )]
    NotLoopback(String),
}

/// Replication requests and REPLCONF facts of one client connection.
#[derive(Debug, Default)]
pub struct ClientRepl {
    /// PSYNC/SYNC was called: the connection becomes a replica stream after the batch.
    pub sync: Option<primary::SyncRequest>,
    /// WAIT was called: the connection waits for acknowledgements before its next command.
    pub wait: Option<primary::WaitRequest>,
    /// `REPLCONF listening-port`.
    pub listening_port: Option<u16>,
    /// `REPLCONF ip-address`.
    pub ip_address: Option<String>,
    /// `REPLCONF capa eof`.
    pub capa_eof: bool,
    /// `REPLCONF capa psync2`.
    pub capa_psync2: bool,
}

impl ClientRepl {
    /// Whether the connection must act on a request (one check per batch).
    pub fn pending(&self) -> bool {
        self.sync.is_some() || self.wait.is_some()
    }
}

#[derive(Debug)]
struct Ids {
    replid: String,
    replid2: String,
    /// The offset up to which `replid2`'s history is shared (-1: none).
    second_offset: i64,
}

/// The replication state of one engine.
pub struct Replication {
    ids: Mutex<Ids>,
    /// The stream buffer (subscribed to the feed on first use).
    pub backlog: Arc<Backlog>,
    /// The replicas attached now.
    pub(crate) attached: Mutex<Vec<Arc<primary::Attached>>>,
    /// Woken when a replica acknowledges (WAIT).
    pub(crate) acked: tokio::sync::Notify,
    /// The link to the primary, while a replica.
    link: Mutex<Option<replica::Link>>,
    /// Writes from ordinary clients are refused (a replica with `replica-read-only yes`).
    pub read_only: AtomicBool,
    /// Commands without the `stale` flag are refused (link down, `replica-serve-stale-data no`).
    pub stale_refused: AtomicBool,
    pinger: AtomicBool,
    /// Full synchronisations served (INFO stats `sync_full`).
    pub sync_full: AtomicU64,
    /// Partial resynchronisations accepted (`sync_partial_ok`).
    pub sync_partial_ok: AtomicU64,
    /// Partial resynchronisations refused (`sync_partial_err`).
    pub sync_partial_err: AtomicU64,
}

impl std::fmt::Debug for Replication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replication")
            .field("ids", &*self.ids.lock())
            .field("backlog", &self.backlog)
            .finish()
    }
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            ids: Mutex::new(Ids {
                replid: new_replid(),
                replid2: "0".repeat(40),
                second_offset: -1,
            }),
            backlog: Arc::default(),
            attached: Mutex::default(),
            acked: tokio::sync::Notify::new(),
            link: Mutex::new(None),
            read_only: AtomicBool::new(false),
            stale_refused: AtomicBool::new(false),
            pinger: AtomicBool::new(false),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
        }
    }
}

/// A new random replication id (40 hex characters, like Redis's).
pub fn new_replid() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl Replication {
    /// `(replid, replid2, second_repl_offset)`.
    pub fn ids(&self) -> (String, String, i64) {
        let i = self.ids.lock();
        (i.replid.clone(), i.replid2.clone(), i.second_offset)
    }

    /// Whether this engine follows a primary.
    pub fn is_replica(&self) -> bool {
        self.link.lock().is_some()
    }

    /// Copy the settings that matter to the hot path and the backlog (after any CONFIG change).
    pub fn configure(&self, c: &crate::Config) {
        let replica = self.is_replica();
        self.read_only.store(
            replica && c.get("replica-read-only") == Some("yes"),
            Ordering::Relaxed,
        );
        self.backlog.size.store(
            c.number("repl-backlog-size").max(16 * 1024) as u64,
            Ordering::Relaxed,
        );
        let [_, replica_limit, _] = c.output_buffer_limits();
        self.backlog
            .limit
            .store(replica_limit.hard, Ordering::Relaxed);
        self.refresh_stale(c);
    }

    fn refresh_stale(&self, c: &crate::Config) {
        let down = self
            .link
            .lock()
            .as_ref()
            .is_some_and(|l| l.state() != LinkState::Connected);
        self.stale_refused.store(
            down && c.get("replica-serve-stale-data") == Some("no"),
            Ordering::Relaxed,
        );
    }
}

/// Subscribe the backlog to the feed if it is not yet (the caller holds the gate exclusively, or
/// nothing writes yet).
pub(crate) fn ensure_backlog(engine: &Engine) {
    let repl = &engine.replication;
    let mut id = repl.backlog.feed_id.lock();
    if id.is_none() {
        *id = Some(engine.store.feed.subscribe(repl.backlog.clone()));
    }
}

/// Check a primary's address: loopback only, never resolved through the system resolver
/// (`localhost` is 127.0.0.1).
pub fn loopback_addr(host: &str, port: u16) -> Result<SocketAddr, ReplicaOfError> {
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::from([127, 0, 0, 1])
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| ReplicaOfError::NotLoopback(host.to_string()))?
    };
    if !ip.is_loopback() {
        return Err(ReplicaOfError::NotLoopback(host.to_string()));
    }
    Ok(SocketAddr::new(ip, port))
}

impl Engine {
    /// Follow the primary at `host:port` (REPLICAOF host port): loopback addresses only. Returns
    /// `Ok(false)` when it already follows that primary (Redis's "Already connected").
    pub fn replicate_from(&self, host: &str, port: u16) -> Result<bool, ReplicaOfError> {
        self.replicate_from_holding(host, port, false)
    }

    /// [`replicate_from`](Self::replicate_from) for a caller that may already hold the keyspace gate
    /// exclusively (`gate_held`: REPLICAOF inside EXEC).
    pub fn replicate_from_holding(
        &self,
        host: &str,
        port: u16,
        gate_held: bool,
    ) -> Result<bool, ReplicaOfError> {
        let addr = loopback_addr(host, port)?;
        let mut link = self.replication.link.lock();
        if let Some(l) = link.as_ref()
            && l.host == host
            && l.port == port
        {
            return Ok(false);
        }
        if let Some(old) = link.take() {
            old.stop();
        }
        {
            let _gate = (!gate_held).then(|| self.store.gate.exclusive());
            ensure_backlog(self);
            self.store.feed.set_relaying(true);
        }
        // Attached replicas of a primary that becomes a replica resynchronise (they would
        // otherwise keep a history this engine is about to leave).
        primary::disconnect_replicas(self);
        // Clients blocked on keys of a primary that becomes a replica would wait for writes that
        // never come: Redis's disconnectAllBlockedClients answers them `-UNBLOCKED`.
        for c in self.clients.all() {
            if c.blocked.load(std::sync::atomic::Ordering::Acquire) {
                c.unblock.store(
                    crate::client::UNBLOCK_ROLE_CHANGE,
                    std::sync::atomic::Ordering::Release,
                );
                c.wake.notify_one();
            }
        }
        *link = Some(replica::Link::start(self, host.to_string(), port, addr));
        drop(link);
        self.replication.configure(&self.config.read());
        Ok(true)
    }

    /// Stop following a primary and become one (REPLICAOF NO ONE): a new replication id, the old
    /// one kept as `replid2` so former siblings can continue with PSYNC (Redis 7.0's PSYNC2).
    pub fn promote(&self) {
        self.promote_holding(false)
    }

    /// [`promote`](Self::promote) for a caller that may already hold the keyspace gate exclusively.
    pub fn promote_holding(&self, gate_held: bool) {
        let Some(link) = self.replication.link.lock().take() else {
            return;
        };
        link.stop();
        {
            // Waits for a batch of the primary's commands in flight (it holds the gate); the link
            // applies nothing after it sees the stop.
            let _gate = (!gate_held).then(|| self.store.gate.exclusive());
            let offset = self.replication.backlog.end();
            let mut ids = self.replication.ids.lock();
            ids.replid2 = std::mem::replace(&mut ids.replid, new_replid());
            ids.second_offset = offset as i64 + 1;
            drop(ids);
            self.store.feed.set_relaying(false);
        }
        self.replication.configure(&self.config.read());
        tracing::info!("MASTER MODE enabled (user request)");
    }

    /// This engine's role now.
    pub fn role(&self) -> Role {
        match self.replication.link.lock().as_ref() {
            Some(l) => Role::Replica {
                host: l.host.clone(),
                port: l.port,
                link: l.state(),
            },
            None => Role::Primary {
                replicas: primary::summaries(self),
            },
        }
    }

    /// The replication offset (INFO `master_repl_offset`).
    pub fn repl_offset(&self) -> u64 {
        self.replication.backlog.end()
    }

    /// Wait until `n` replicas acknowledged everything written so far, or `timeout` passed;
    /// returns how many did (WAIT's answer).
    pub async fn wait_replicas(&self, n: usize, timeout: Duration) -> usize {
        let target = self.repl_offset();
        primary::wait_for_acks(self, target, n, Some(tokio::time::Instant::now() + timeout)).await
    }
}

/// The replica link's handle while one runs.
pub(crate) fn link_status(engine: &Engine) -> Option<Arc<replica::Status>> {
    engine
        .replication
        .link
        .lock()
        .as_ref()
        .map(|l| l.status.clone())
}
