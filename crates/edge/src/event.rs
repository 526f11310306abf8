//! Connection events: what the edge did with each connection it accepted (route, reset,
//! blackhole), for the evidence stream. Refusals and drops are carried out by the kernel (no
//! listener, or SYNs never answered) and never reach the edge; where they can be observed, the
//! runtime's `kernel` watcher sends them on the same channel.

use std::net::SocketAddr;

use redlink_world::{Source, Verdict};
use tokio::sync::broadcast;

/// How many connection events a slow subscriber may lag behind before it loses some.
pub const CONNECTION_EVENT_CAPACITY: usize = 1024;

/// One accepted connection and the verdict applied to it.
#[derive(Clone, Debug)]
pub struct ConnectionEvent {
    /// The endpoint's name (`public` or the private endpoint's).
    pub endpoint: String,
    /// The endpoint address:port the client connected to.
    pub address: SocketAddr,
    /// The client's address.
    pub peer: SocketAddr,
    /// Where the client comes from (the host or a network).
    pub source: Source,
    /// The primitive applied.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
}

/// The sending side, shared by every listener of an edge; events are only built while someone
/// subscribes.
pub type ConnectionEvents = broadcast::Sender<ConnectionEvent>;

/// Sends `event()` when someone listens.
pub(crate) fn emit(events: Option<&ConnectionEvents>, event: impl FnOnce() -> ConnectionEvent) {
    if let Some(tx) = events
        && tx.receiver_count() > 0
    {
        let _ = tx.send(event());
    }
}
