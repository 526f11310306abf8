//! Planned-maintenance notifications, the two ways Azure warns a connected client:
//!
//! - Azure Cache for Redis publishes pipe-delimited messages on the Pub/Sub channel
//!   [`AZURE_REDIS_EVENTS`] (Azure/AzureCacheForRedis, `AzureRedisEvents.md`), whose address and
//!   ports are those the subscriber reached the cache through: [`publish_azure_event`] builds each
//!   subscriber's message from its own connection.
//! - Azure Managed Redis (Redis Enterprise) sends RESP3 push notifications ("smart client
//!   handoffs") to connections that opted in with `CLIENT MAINT_NOTIFICATIONS ON
//!   [moving-endpoint-type TYPE]`: `MOVING <seq> <time> <endpoint>`, `MIGRATING <seq> <time>`,
//!   `MIGRATED <seq>`, `FAILING_OVER <seq> <time>`, `FAILED_OVER <seq>`, shaped as redis-py's
//!   `maint_notifications` and go-redis's `maintnotifications` parse them. The handshake is known
//!   only to engines the runtime marks ([`MaintNotifications::enable`]); elsewhere `CLIENT
//!   MAINT_NOTIFICATIONS` is redis-server 7.0's unknown subcommand, as for a real Redis.
//!
//! The runtime decides when (the sequence and its spacing on the world's clock); this module only
//! knows who opted in and how each message is written.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::commands::{CmdResult, Ctx, Error, err};
use crate::pubsub::{Mailbox, Push};
use crate::{ConnContext, Engine};

/// Azure Cache for Redis's maintenance channel.
pub const AZURE_REDIS_EVENTS: &[u8] = b"AzureRedisEvents";

/// The endpoint types of `moving-endpoint-type` (redis-py's `EndpointType`).
pub const ENDPOINT_TYPES: [&str; 5] = [
    "internal-ip",
    "internal-fqdn",
    "external-ip",
    "external-fqdn",
    "none",
];

/// One smart-client-handoff notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `MOVING <seq> <time> <endpoint>`: reconnect to `endpoint` (`None`: the same one, after
    /// half of `time`) within `time` seconds.
    Moving {
        /// Seconds until the old connection closes.
        time: u64,
        /// `host:port`, or `None` (sent as a null) for endpoint type `none`.
        endpoint: Option<String>,
    },
    /// `MIGRATING <seq> <time>`: the node's data is moving; expect slower replies.
    Migrating {
        /// Seconds it is expected to take.
        time: u64,
    },
    /// `MIGRATED <seq>`.
    Migrated,
    /// `FAILING_OVER <seq> <time>`.
    FailingOver {
        /// Seconds it is expected to take.
        time: u64,
    },
    /// `FAILED_OVER <seq>`.
    FailedOver,
}

impl Notice {
    /// The notification's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Notice::Moving { .. } => "MOVING",
            Notice::Migrating { .. } => "MIGRATING",
            Notice::Migrated => "MIGRATED",
            Notice::FailingOver { .. } => "FAILING_OVER",
            Notice::FailedOver => "FAILED_OVER",
        }
    }

    /// Writes it as a RESP3 push with sequence number `seq`.
    pub fn encode(&self, seq: u64, out: &mut crate::protocol::Out) {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let secs = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
        match self {
            Notice::Moving { time, endpoint } => {
                out.push(4);
                out.bulk(b"MOVING");
                out.int(seq);
                out.int(secs(*time));
                match endpoint {
                    Some(e) => out.bulk(e.as_bytes()),
                    None => out.null(),
                }
            }
            Notice::Migrating { time } | Notice::FailingOver { time } => {
                out.push(3);
                out.bulk(self.name().as_bytes());
                out.int(seq);
                out.int(secs(*time));
            }
            Notice::Migrated | Notice::FailedOver => {
                out.push(2);
                out.bulk(self.name().as_bytes());
                out.int(seq);
            }
        }
    }
}

/// A connection that opted in.
#[derive(Debug, Clone)]
struct OptIn {
    mailbox: Mailbox,
    endpoint_type: &'static str,
    ctx: ConnContext,
}

/// Who opted in to smart-client-handoff notifications on one engine.
#[derive(Debug, Default)]
pub struct MaintNotifications {
    enabled: AtomicBool,
    seq: AtomicU64,
    opted_in: Mutex<HashMap<u64, OptIn>>,
}

impl MaintNotifications {
    /// Makes the engine answer `CLIENT MAINT_NOTIFICATIONS` (an Azure Managed Redis cache).
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Whether the engine answers `CLIENT MAINT_NOTIFICATIONS`.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The client addresses of the connections that opted in (and are still open).
    pub fn opted_in_peers(&self) -> Vec<SocketAddr> {
        let mut map = self.opted_in.lock();
        map.retain(|_, o| !o.mailbox.is_closed());
        map.values().map(|o| o.ctx.peer).collect()
    }

    /// Sends `notice` to every connection that opted in, with the next sequence number;
    /// `endpoint` builds a MOVING's endpoint from the connection (its context and endpoint type).
    /// Returns how many connections it reached.
    pub fn notify(&self, notice: impl Fn(&ConnContext, &str) -> Notice) -> usize {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let mut map = self.opted_in.lock();
        map.retain(|_, o| !o.mailbox.is_closed());
        map.values()
            .filter(|o| {
                o.mailbox.send(Push::Maint {
                    seq,
                    notice: notice(&o.ctx, o.endpoint_type),
                })
            })
            .count()
    }

    fn forget(&self, client: u64) {
        self.opted_in.lock().remove(&client);
    }
}

/// Whether `CLIENT <sub>` is this module's (only on engines that enabled it).
pub fn is_command(engine: &Engine, command: &str, sub: &[u8]) -> bool {
    command == "client"
        && sub.eq_ignore_ascii_case(b"maint_notifications")
        && engine.maint.enabled()
}

/// `CLIENT MAINT_NOTIFICATIONS ON|OFF [moving-endpoint-type TYPE]`.
pub fn client_maint_notifications(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if !ctx.client.authenticated && ctx.engine.hot.auth_required.load(Ordering::Relaxed) {
        return Err(err::NOAUTH);
    }
    let Some(mode) = args.get(2) else {
        return Err(Error::from(
            "ERR wrong number of arguments for 'client|maint_notifications' command",
        ));
    };
    let on = if mode.eq_ignore_ascii_case(b"on") {
        true
    } else if mode.eq_ignore_ascii_case(b"off") {
        false
    } else {
        return Err(err::SYNTAX);
    };
    let mut endpoint_type = "none";
    let mut rest = args[3..].iter();
    while let Some(opt) = rest.next() {
        if !opt.eq_ignore_ascii_case(b"moving-endpoint-type") {
            return Err(err::SYNTAX);
        }
        let Some(value) = rest.next() else {
            return Err(err::SYNTAX);
        };
        let value = String::from_utf8_lossy(value).to_ascii_lowercase();
        endpoint_type = ENDPOINT_TYPES
            .into_iter()
            .find(|t| *t == value)
            .ok_or_else(|| {
                Error::msg(format!(
                    "ERR invalid moving-endpoint-type '{value}' (expected one of {})",
                    ENDPOINT_TYPES.join(", ")
                ))
            })?;
    }
    let id = ctx.client.handle.id;
    if on {
        if ctx.client.handle.resp.load(Ordering::Relaxed) < 3 {
            return Err(Error::from(
                "ERR CLIENT MAINT_NOTIFICATIONS needs RESP3 push notifications (HELLO 3 first)",
            ));
        }
        ctx.engine.maint.opted_in.lock().insert(
            id,
            OptIn {
                mailbox: ctx.client.mailbox.clone(),
                endpoint_type,
                ctx: ctx.client.handle.ctx.clone(),
            },
        );
    } else {
        ctx.engine.maint.forget(id);
    }
    ctx.out.ok();
    Ok(())
}

/// Publishes an `AzureRedisEvents` message to each subscriber of the channel (and of matching
/// patterns), built by `message` from that subscriber's connection. Returns how many received it.
pub fn publish_azure_event(engine: &Engine, message: impl Fn(&ConnContext) -> String) -> usize {
    engine.pubsub.deliver_each(AZURE_REDIS_EVENTS, |id| {
        let handle = engine.clients.get(id)?;
        Some(Bytes::from(message(&handle.ctx)))
    })
}
