//! The evidence stream of a running world: DNS answers (from the DNS views), connection verdicts
//! (from the edge) and world changes (from [`crate::RunningWorld::apply_change`]), merged into one
//! [`EventStream`] of [`Event`]s that serialize as one JSON object each (`"type"`: `dns`,
//! `connection`, `change`). DNS and connection events are only built while a stream is open.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use redlink_dns::QueryEvent;
use redlink_edge::ConnectionEvent;
use redlink_engine::EngineEventKind;
use redlink_world::{Answer, Source, Verdict};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{self, error::RecvError};

/// How many change events a slow subscriber may lag behind before it loses some.
pub const CHANGE_EVENT_CAPACITY: usize = 256;

/// One event, as JSON: `{"type": "dns" | "connection" | "change", "time_ms": …, …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Something every subscriber should know once, at the start (e.g. that refusals and drops
    /// cannot be observed here).
    Notice {
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
        /// What.
        text: String,
    },
    /// A resolver answered a query.
    Dns {
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
        /// The network whose resolver answered.
        network: String,
        /// The client's address.
        client: SocketAddr,
        /// `udp` or `tcp`.
        protocol: String,
        /// The record type asked (`A`, `AAAA`…).
        qtype: String,
        /// The name asked (normalized).
        name: String,
        /// The answer: the A addresses (comma-separated), `NXDOMAIN`, `NODATA` or `REFUSED`.
        answer: String,
        /// The A addresses answered.
        addresses: Vec<Ipv4Addr>,
        /// Why, in one sentence.
        reason: String,
        /// The resolution's steps, one per line.
        explanation: Vec<String>,
    },
    /// The edge accepted a connection and applied a verdict; or, where observable (see
    /// `kernel`), the kernel refused or dropped one.
    Connection {
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
        /// The endpoint (`public` or a private endpoint's name).
        endpoint: String,
        /// The endpoint address:port.
        address: SocketAddr,
        /// The client's address.
        peer: SocketAddr,
        /// The client's network (`None`: the host).
        network: Option<String>,
        /// `route`, `reset`, `blackhole`; `refuse` or `drop` when observed in the kernel.
        verdict: Verdict,
        /// Why.
        reason: String,
    },
    /// What a client experienced inside a cache's engine: a wrong password, a command refused
    /// before AUTH, or maxclients turning it away.
    Engine {
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
        /// The cache.
        cache: String,
        /// `auth_failed`, `noauth` or `maxclients`.
        kind: String,
        /// The endpoint the client came through (`None`: the engine's direct port).
        endpoint: Option<String>,
        /// The address:port the client connected to.
        address: SocketAddr,
        /// The client's address.
        peer: SocketAddr,
        /// What the client saw, in one sentence.
        reason: String,
    },
    /// A change of the world (from the timeline or the control API).
    Change {
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
        /// What was done (or attempted).
        description: String,
        /// Why it failed, if it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Event {
    /// The event of a DNS answer.
    pub fn from_query(q: &QueryEvent) -> Event {
        let r = &q.resolution;
        let addresses = r.addresses();
        let answer = match &r.answer {
            Answer::Refused => "REFUSED".to_owned(),
            Answer::NxDomain { .. } => "NXDOMAIN".to_owned(),
            Answer::Records { .. } if addresses.is_empty() => "NODATA".to_owned(),
            Answer::Records { .. } => addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        };
        Event::Dns {
            time_ms: now_ms(),
            network: q.network.to_string(),
            client: q.client,
            protocol: q.protocol.to_owned(),
            qtype: q.qtype.clone(),
            name: r.qname.clone(),
            answer,
            addresses,
            reason: r.summary(),
            explanation: r.explanation_lines(),
        }
    }

    /// The event of an accepted connection.
    pub fn from_connection(c: &ConnectionEvent) -> Event {
        Event::Connection {
            time_ms: now_ms(),
            endpoint: c.endpoint.clone(),
            address: c.address,
            peer: c.peer,
            network: match &c.source {
                Source::Host => None,
                Source::Network(n) => Some(n.clone()),
            },
            verdict: c.verdict,
            reason: c.reason.clone(),
        }
    }

    /// The event of a change.
    pub fn change(description: String, error: Option<String>) -> Event {
        Event::Change {
            time_ms: now_ms(),
            description,
            error,
        }
    }

    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"error\":\"{e}\"}}"))
    }
}

/// Forward a cache engine's events (auth failures, NOAUTH, maxclients) into the world's stream, until
/// the engine stops.
pub fn forward_engine_events(
    cache: &str,
    engine: &redlink_engine::Engine,
    changes: broadcast::Sender<Event>,
) {
    let mut rx = engine.events.subscribe();
    let cache = cache.to_owned();
    tokio::spawn(async move {
        loop {
            let e = match rx.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let (kind, reason) = match &e.kind {
                EngineEventKind::AuthFailed { user } => (
                    "auth_failed",
                    format!(
                        "AUTH as {user} failed: WRONGPASS invalid username-password pair or user is disabled."
                    ),
                ),
                EngineEventKind::NoAuth { command } => (
                    "noauth",
                    format!("{command} before AUTH: NOAUTH Authentication required."),
                ),
                EngineEventKind::MaxClients => (
                    "maxclients",
                    format!(
                        "cache {cache} has maxclients clients already: ERR max number of clients reached"
                    ),
                ),
            };
            let _ = changes.send(Event::Engine {
                time_ms: now_ms(),
                cache: cache.clone(),
                kind: kind.to_owned(),
                endpoint: e.ctx.endpoint.clone(),
                address: e.ctx.local,
                peer: e.ctx.peer,
                reason,
            });
        }
    });
}

/// A merged subscription to every event source of a world. Ends when the world stops.
pub struct EventStream {
    /// Said once, before any other event.
    pub(crate) notice: Option<Event>,
    pub(crate) dns: Option<broadcast::Receiver<QueryEvent>>,
    pub(crate) edge: Option<broadcast::Receiver<ConnectionEvent>>,
    pub(crate) changes: broadcast::Receiver<Event>,
    /// Events lost because this subscriber lagged behind.
    pub lost: u64,
}

async fn next_of<T: Clone>(rx: &mut Option<broadcast::Receiver<T>>, lost: &mut u64) -> Option<T> {
    let Some(r) = rx.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        match r.recv().await {
            Ok(v) => return Some(v),
            Err(RecvError::Lagged(n)) => *lost += n,
            Err(RecvError::Closed) => {
                *rx = None;
                return None;
            }
        }
    }
}

impl EventStream {
    /// The next event; `None` once the world has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        if let Some(notice) = self.notice.take() {
            return Some(notice);
        }
        loop {
            let (mut lost, mut lost_dns, mut lost_edge) = (0, 0, 0);
            let got = tokio::select! {
                q = next_of(&mut self.dns, &mut lost_dns) => q.map(|q| Event::from_query(&q)),
                c = next_of(&mut self.edge, &mut lost_edge) => c.map(|c| Event::from_connection(&c)),
                e = self.changes.recv() => match e {
                    Ok(e) => Some(e),
                    Err(RecvError::Lagged(n)) => {
                        lost += n;
                        None
                    }
                    Err(RecvError::Closed) => return None,
                },
            };
            self.lost += lost + lost_dns + lost_edge;
            if let Some(e) = got {
                return Some(e);
            }
        }
    }
}

/// Connections by endpoint address and verdict since the world started (`ctl status`): what the
/// edge routed, reset or blackholed, the engines' maxclients rejections, and, where the kernel's
/// refusals and drops are observed (`kernel`), those too.
#[derive(Clone, Default)]
pub struct ConnectionCounts(
    std::sync::Arc<
        std::sync::Mutex<
            std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
        >,
    >,
);

impl ConnectionCounts {
    /// Count the connection events of `stream` until it ends.
    pub fn follow(&self, mut stream: EventStream) {
        let counts = self.clone();
        tokio::spawn(async move {
            while let Some(e) = stream.next().await {
                let (endpoint, verdict) = match e {
                    Event::Connection {
                        address, verdict, ..
                    } => (address.ip().to_string(), verdict.as_str().to_owned()),
                    Event::Engine { address, kind, .. } if kind == "maxclients" => {
                        (address.ip().to_string(), kind)
                    }
                    _ => continue,
                };
                if let Ok(mut m) = counts.0.lock() {
                    *m.entry(endpoint).or_default().entry(verdict).or_default() += 1;
                }
            }
        });
    }

    /// The counts now.
    pub fn snapshot(
        &self,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}
