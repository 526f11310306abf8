//! Pub/Sub: the channel and pattern registry, and the messages delivered to subscribers.
//!
//! PUBLISH looks subscribers up here and queues a [`Push`] on each subscriber's channel; the
//! subscriber's connection task encodes it in that client's protocol (RESP2 array or RESP3 push) and
//! writes it. A subscriber that does not read piles up queued bytes: past the `pubsub` class of
//! `client-output-buffer-limit` (its hard limit at once, its soft limit when exceeded for longer than
//! the soft seconds) it is disconnected, as in Redis, so memory stays bounded. MONITOR clients are of
//! Redis's `normal` class (its limits are 0 = none by default, as in Redis).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::client::ClientHandle;
use crate::glob;
use crate::protocol::Out;
use crate::store::Blob;

/// A message for one subscriber.
#[derive(Debug, Clone)]
pub enum Push {
    /// `message channel payload`.
    Message {
        /// The channel published to.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// `pmessage pattern channel payload`.
    PMessage {
        /// The matching pattern.
        pattern: Bytes,
        /// The channel published to.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// A MONITOR line (sent as a status reply).
    Monitor(Bytes),
    /// A client-side caching invalidation (CLIENT TRACKING): the keys, or `None` for everything
    /// (FLUSHALL). RESP3: an `invalidate` push; RESP2 (a REDIRECT target): a `message` on
    /// `__redis__:invalidate`.
    Invalidate(Option<Vec<Bytes>>),
    /// `tracking-redir-broken <id>`: the REDIRECT client of a RESP3 tracking client went away.
    RedirBroken(u64),
    /// `smessage channel payload` (sharded channels).
    SMessage {
        /// The shard channel.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
    /// A smart-client-handoff notification (RESP3 push, see [`crate::maint`]).
    Maint {
        /// Its sequence number.
        seq: u64,
        /// What it says.
        notice: crate::maint::Notice,
    },
}

impl Push {
    fn size(&self) -> usize {
        match self {
            Push::Monitor(line) => line.len() + 8,
            Push::Maint { .. } => 96,
            Push::RedirBroken(_) => 48,
            Push::Invalidate(keys) => {
                keys.as_ref()
                    .map_or(0, |k| k.iter().map(|k| k.len() + 16).sum())
                    + 48
            }
            Push::Message { channel, payload } | Push::SMessage { channel, payload } => {
                channel.len() + payload.len() + 40
            }
            Push::PMessage {
                pattern,
                channel,
                payload,
            } => pattern.len() + channel.len() + payload.len() + 50,
        }
    }

    /// Encode into `out` (a RESP3 push or a RESP2 array).
    pub fn encode(&self, out: &mut Out) {
        match self {
            Push::Maint { seq, notice } => notice.encode(*seq, out),
            Push::Monitor(line) => {
                out.raw(b"+");
                out.raw(line);
                out.raw(b"\r\n");
            }
            Push::RedirBroken(id) => {
                out.push(2);
                out.bulk(b"tracking-redir-broken");
                out.int(*id as i64);
            }
            Push::Invalidate(keys) => {
                if out.resp3 {
                    out.push(2);
                    out.bulk(b"invalidate");
                } else {
                    out.push(3);
                    out.bulk(b"message");
                    out.bulk(crate::tracking::INVALIDATE_CHANNEL);
                }
                match keys {
                    Some(keys) => {
                        out.array(keys.len());
                        for k in keys {
                            out.bulk(k);
                        }
                    }
                    // Redis sends its shared null: `_` in RESP3, `$-1` in RESP2.
                    None => out.null(),
                }
            }
            Push::Message { channel, payload } => {
                out.push(3);
                out.bulk(b"message");
                out.bulk(channel);
                out.bulk(payload);
            }
            Push::SMessage { channel, payload } => {
                out.push(3);
                out.bulk(b"smessage");
                out.bulk(channel);
                out.bulk(payload);
            }
            Push::PMessage {
                pattern,
                channel,
                payload,
            } => {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(pattern);
                out.bulk(channel);
                out.bulk(payload);
            }
        }
    }
}

/// A subscriber's mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    tx: mpsc::UnboundedSender<Push>,
    queued: Arc<AtomicUsize>,
    /// Unix ms when the queue first went over the soft limit (0 = it is under).
    soft_since: Arc<AtomicU64>,
    handle: Arc<ClientHandle>,
}

/// An output buffer limit in effect (one class of `client-output-buffer-limit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limit {
    /// Hard limit, bytes (0 = none).
    pub hard: usize,
    /// Soft limit, bytes (0 = none).
    pub soft: usize,
    /// How long the soft limit may be exceeded, milliseconds.
    pub soft_ms: u64,
}

/// A [`Limit`] that CONFIG SET can change while publishers read it.
#[derive(Debug, Default)]
pub struct SharedLimit {
    hard: AtomicUsize,
    soft: AtomicUsize,
    soft_ms: AtomicU64,
}

impl SharedLimit {
    /// Replace the limit.
    pub fn set(&self, l: Limit) {
        self.hard.store(l.hard, Ordering::Relaxed);
        self.soft.store(l.soft, Ordering::Relaxed);
        self.soft_ms.store(l.soft_ms, Ordering::Relaxed);
    }

    /// The limit now.
    pub fn get(&self) -> Limit {
        Limit {
            hard: self.hard.load(Ordering::Relaxed),
            soft: self.soft.load(Ordering::Relaxed),
            soft_ms: self.soft_ms.load(Ordering::Relaxed),
        }
    }
}

impl Mailbox {
    /// A mailbox and the receiving end the connection task reads.
    pub fn new(handle: Arc<ClientHandle>) -> (Mailbox, Inbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        (
            Mailbox {
                tx,
                queued: queued.clone(),
                soft_since: Arc::new(AtomicU64::new(0)),
                handle,
            },
            Inbox {
                rx,
                queued,
                parked: None,
            },
        )
    }

    /// Whether the client speaks RESP3 now (HELLO may change it).
    pub fn resp3(&self) -> bool {
        self.handle.resp.load(Ordering::Relaxed) >= 3
    }

    /// Whether the client's connection has ended (nobody reads the mailbox any more).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Queue a message with no output limit (small control messages such as invalidations).
    pub fn send(&self, msg: Push) -> bool {
        self.deliver(msg, Limit::default())
    }

    /// Queue a message; disconnect the client if the queue is over the hard limit, or has been over
    /// the soft limit for longer than allowed (Redis's `checkClientOutputBufferLimits`, which also
    /// runs only when output is added).
    fn deliver(&self, msg: Push, limit: Limit) -> bool {
        if self.handle.killed.load(Ordering::Relaxed) {
            return false;
        }
        let size = msg.size();
        let queued = self.queued.fetch_add(size, Ordering::AcqRel) + size;
        let mut over = limit.hard > 0 && queued > limit.hard;
        if limit.soft > 0 && queued > limit.soft {
            // Real time, not the engine's clock: how long a reader has been too slow is a fact of
            // the network, which a simulated clock does not slow down (docs/clock.md).
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            match self.soft_since.load(Ordering::Relaxed) {
                0 => self.soft_since.store(now, Ordering::Relaxed),
                since => over |= now.saturating_sub(since) > limit.soft_ms,
            }
        } else if limit.soft > 0 {
            self.soft_since.store(0, Ordering::Relaxed);
        }
        if over {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            tracing::warn!(
                client = self.handle.id,
                queued,
                "Client scheduled to be closed ASAP for overcoming of output buffer limits."
            );
            self.handle.kill();
            return false;
        }
        self.tx.send(msg).is_ok()
    }
}

/// The receiving end of a [`Mailbox`].
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Push>,
    queued: Arc<AtomicUsize>,
    /// The waker the channel holds from the last poll that found it empty (see
    /// [`Inbox::recv_when_queued`]).
    parked: Option<std::task::Waker>,
}

impl Inbox {
    /// [`Inbox::recv`] for a connection loop that polls it once per request: the channel is polled
    /// again only when a message may be queued (the mailbox counts a message's size before sending
    /// it, and sending wakes the waker the last empty poll left) or when the task's waker changed.
    /// Polling an empty channel registers the waker again each time, which is most of what an idle
    /// inbox cost per request.
    pub fn recv_when_queued(&mut self) -> impl std::future::Future<Output = Option<Push>> + '_ {
        std::future::poll_fn(move |cx| {
            if self.queued.load(Ordering::Acquire) == 0
                && self
                    .parked
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
            {
                return std::task::Poll::Pending;
            }
            match self.rx.poll_recv(cx) {
                std::task::Poll::Ready(m) => {
                    self.parked = None;
                    if let Some(m) = &m {
                        self.queued.fetch_sub(m.size(), Ordering::AcqRel);
                    }
                    std::task::Poll::Ready(m)
                }
                std::task::Poll::Pending => {
                    self.parked = Some(cx.waker().clone());
                    std::task::Poll::Pending
                }
            }
        })
    }

    /// Wait for the next message.
    pub async fn recv(&mut self) -> Option<Push> {
        let m = self.rx.recv().await?;
        self.queued.fetch_sub(m.size(), Ordering::AcqRel);
        Some(m)
    }

    /// A message already queued, if any.
    pub fn try_recv(&mut self) -> Option<Push> {
        let m = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(m.size(), Ordering::AcqRel);
        Some(m)
    }
}

type Subscribers = HashMap<Blob, HashMap<u64, Mailbox>>;

/// Which channel namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

/// Every subscription of one engine, and the MONITOR clients.
#[derive(Debug, Default)]
pub struct Registry {
    /// Every connected client's mailbox (tracking's REDIRECT targets).
    clients: Mutex<HashMap<u64, Mailbox>>,
    monitors: Mutex<HashMap<u64, Mailbox>>,
    monitor_count: AtomicUsize,
    channels: Mutex<Subscribers>,
    patterns: Mutex<Subscribers>,
    shards: Mutex<Subscribers>,
    /// `client-output-buffer-limit` of the `pubsub` class (subscribers).
    pub limit: SharedLimit,
    /// `client-output-buffer-limit` of the `normal` class (MONITOR clients).
    pub normal_limit: SharedLimit,
    /// The engine's clock: MONITOR lines' timestamps.
    pub clock: crate::store::Clock,
}

impl Registry {
    /// No subscriptions yet; MONITOR lines stamped by `clock`.
    pub fn with_clock(clock: crate::store::Clock) -> Registry {
        Registry {
            clock,
            ..Registry::default()
        }
    }

    fn map(&self, kind: Kind) -> &Mutex<Subscribers> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shards,
        }
    }

    /// Subscribe; returns whether it was new.
    pub fn subscribe(&self, kind: Kind, name: &[u8], id: u64, mailbox: &Mailbox) -> bool {
        self.map(kind)
            .lock()
            .entry(Blob::from_slice(name))
            .or_default()
            .insert(id, mailbox.clone())
            .is_none()
    }

    /// Unsubscribe; returns whether it was subscribed.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) -> bool {
        let mut map = self.map(kind).lock();
        let Some(subs) = map.get_mut(name) else {
            return false;
        };
        let was = subs.remove(&id).is_some();
        if subs.is_empty() {
            map.remove(name);
        }
        was
    }

    /// A connection began: its mailbox can be found by id ([`Registry::mailbox_of`]).
    pub fn register_client(&self, id: u64, mailbox: Mailbox) {
        self.clients.lock().insert(id, mailbox);
    }

    /// A connection ended.
    pub fn unregister_client(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// The mailbox of connected client `id`.
    pub fn mailbox_of(&self, id: u64) -> Option<Mailbox> {
        self.clients.lock().get(&id).cloned()
    }

    /// Whether client `id` subscribes to any channel, pattern or shard channel (Redis's
    /// `CLIENT_PUBSUB`: a RESP2 REDIRECT target gets invalidations as Pub/Sub messages then).
    pub fn is_subscriber(&self, id: u64) -> bool {
        [Kind::Channel, Kind::Pattern, Kind::Shard]
            .into_iter()
            .any(|kind| {
                self.map(kind)
                    .lock()
                    .values()
                    .any(|subs| subs.contains_key(&id))
            })
    }

    /// Deliver to channel subscribers and matching pattern subscribers; returns receivers.
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let limit = self.limit.get();
        let (channel, payload) = (
            Bytes::copy_from_slice(channel),
            Bytes::copy_from_slice(payload),
        );
        let mut n = 0;
        if let Some(subs) = self.channels.lock().get(channel.as_ref()) {
            for m in subs.values() {
                let msg = Push::Message {
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                n += m.deliver(msg, limit) as usize;
            }
        }
        for (pattern, subs) in self.patterns.lock().iter() {
            if glob::matches(pattern, &channel) {
                let pattern = Bytes::copy_from_slice(pattern);
                for m in subs.values() {
                    let msg = Push::PMessage {
                        pattern: pattern.clone(),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    };
                    n += m.deliver(msg, limit) as usize;
                }
            }
        }
        n
    }

    /// Deliver to each subscriber of `channel` (and of matching patterns) the payload `payload_for`
    /// builds for that client id (`None`: that client gets nothing); returns the receivers.
    pub fn deliver_each(
        &self,
        channel: &[u8],
        payload_for: impl Fn(u64) -> Option<Bytes>,
    ) -> usize {
        let limit = self.limit.get();
        let channel = Bytes::copy_from_slice(channel);
        let mut n = 0;
        let direct: Vec<(u64, Mailbox)> = self
            .channels
            .lock()
            .get(channel.as_ref())
            .map(|subs| subs.iter().map(|(id, m)| (*id, m.clone())).collect())
            .unwrap_or_default();
        for (id, m) in direct {
            if let Some(payload) = payload_for(id) {
                let msg = Push::Message {
                    channel: channel.clone(),
                    payload,
                };
                n += m.deliver(msg, limit) as usize;
            }
        }
        let patterned: Vec<(Bytes, u64, Mailbox)> = self
            .patterns
            .lock()
            .iter()
            .filter(|(pattern, _)| glob::matches(pattern, &channel))
            .flat_map(|(pattern, subs)| {
                let pattern = Bytes::copy_from_slice(pattern);
                subs.iter()
                    .map(move |(id, m)| (pattern.clone(), *id, m.clone()))
            })
            .collect();
        for (pattern, id, m) in patterned {
            if let Some(payload) = payload_for(id) {
                let msg = Push::PMessage {
                    pattern,
                    channel: channel.clone(),
                    payload,
                };
                n += m.deliver(msg, limit) as usize;
            }
        }
        n
    }

    /// SPUBLISH: deliver to shard-channel subscribers.
    pub fn spublish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let limit = self.limit.get();
        let (channel, payload) = (
            Bytes::copy_from_slice(channel),
            Bytes::copy_from_slice(payload),
        );
        let mut n = 0;
        if let Some(subs) = self.shards.lock().get(channel.as_ref()) {
            for m in subs.values() {
                let msg = Push::SMessage {
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                n += m.deliver(msg, limit) as usize;
            }
        }
        n
    }

    /// Names with at least one subscriber matching `pattern` (PUBSUB CHANNELS / SHARDCHANNELS).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Blob> {
        self.map(kind)
            .lock()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c)))
            .cloned()
            .collect()
    }

    /// Subscribers of one channel (PUBSUB NUMSUB).
    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).lock().get(name).map_or(0, |s| s.len())
    }

    /// MONITOR: `id` receives every command from now on.
    pub fn add_monitor(&self, id: u64, mailbox: &Mailbox) {
        let mut m = self.monitors.lock();
        m.insert(id, mailbox.clone());
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    /// Stop feeding `id` (disconnect, RESET).
    pub fn remove_monitor(&self, id: u64) {
        let mut m = self.monitors.lock();
        m.remove(&id);
        self.monitor_count.store(m.len(), Ordering::Relaxed);
    }

    /// Whether any MONITOR client listens (cheap check on every command).
    #[inline]
    pub fn monitoring(&self) -> bool {
        self.monitor_count.load(Ordering::Relaxed) > 0
    }

    /// Feed a command to every MONITOR client: `time [db addr] "arg" ...`.
    /// `addr`: the client's address, or `lua` for a command a script ran (Redis's form).
    pub fn feed_monitors(&self, db: usize, addr: &str, args: &[&[u8]]) {
        let now = self.clock.now_us();
        let mut line = format!("{}.{:06} [{db} {addr}]", now / 1_000_000, now % 1_000_000);
        for (i, a) in args.iter().enumerate() {
            line.push(' ');
            if crate::diagnostics::is_redacted(args, i) {
                // Quoted like any argument (Redis replaces the argument itself).
                line.push_str("\"(redacted)\"");
            } else {
                line.push_str(&repr(a));
            }
        }
        let line = Bytes::from(line);
        let limit = self.normal_limit.get();
        for m in self.monitors.lock().values() {
            m.deliver(Push::Monitor(line.clone()), limit);
        }
    }

    /// Number of distinct patterns (PUBSUB NUMPAT).
    pub fn patterns(&self) -> usize {
        self.patterns.lock().len()
    }
}

/// Quote bytes like Redis's `sdscatrepr`: `"..."` with `\\ \" \n \r \t \a \b` and `\xHH` escapes.
pub fn repr(a: &[u8]) -> String {
    let mut s = String::with_capacity(a.len() + 2);
    s.push('"');
    for &c in a {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}
