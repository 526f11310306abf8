//! Pub/Sub: the channel and pattern registry, and the messages delivered to subscribers.
//!
//! PUBLISH looks subscribers up here and queues a [`Push`] on each subscriber's channel; the
//! subscriber's connection task encodes it in that client's protocol (RESP2 array or RESP3 push) and
//! writes it. A subscriber that does not read piles up queued bytes: past the `pubsub` class of
//! `client-output-buffer-limit` (hard limit) it is disconnected, as in Redis, so memory stays bounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// `smessage channel payload` (sharded channels).
    SMessage {
        /// The shard channel.
        channel: Bytes,
        /// The payload.
        payload: Bytes,
    },
}

impl Push {
    fn size(&self) -> usize {
        match self {
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
    handle: Arc<ClientHandle>,
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
                handle,
            },
            Inbox { rx, queued },
        )
    }

    /// Queue a message; disconnect the subscriber if it is over `limit` queued bytes (0 = no limit).
    fn deliver(&self, msg: Push, limit: usize) -> bool {
        let size = msg.size();
        let queued = self.queued.fetch_add(size, Ordering::AcqRel) + size;
        if limit > 0 && queued > limit {
            tracing::warn!(
                client = self.handle.id,
                queued,
                "closing pub/sub client over its output buffer limit"
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
}

impl Inbox {
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

/// Every subscription of one engine.
#[derive(Debug, Default)]
pub struct Registry {
    channels: Mutex<Subscribers>,
    patterns: Mutex<Subscribers>,
    shards: Mutex<Subscribers>,
    /// Output buffer hard limit for subscribers, bytes (0 = none).
    pub limit: AtomicUsize,
}

impl Registry {
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

    /// Deliver to channel subscribers and matching pattern subscribers; returns receivers.
    pub fn publish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let limit = self.limit.load(Ordering::Relaxed);
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

    /// SPUBLISH: deliver to shard-channel subscribers.
    pub fn spublish(&self, channel: &[u8], payload: &[u8]) -> usize {
        let limit = self.limit.load(Ordering::Relaxed);
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

    /// Number of distinct patterns (PUBSUB NUMPAT).
    pub fn patterns(&self) -> usize {
        self.patterns.lock().len()
    }
}
