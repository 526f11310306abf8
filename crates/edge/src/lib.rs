//! The edge of the simulated world: one slot per endpoint address:port (each cache's public
//! endpoint and every private endpoint, on each port the cache serves), carrying out the verdicts
//! the world computes ([`redlink_world::verdict()`]) for every source, with the OS's own primitives:
//!
//! | verdict | primitive | module |
//! | --- | --- | --- |
//! | refuse | a reserved, non-listening `SO_REUSEPORT` socket (a real RST) | [`Reservation`] |
//! | drop | a listener with a full accept queue of length 0 (SYNs unanswered) | [`DropListener`] |
//! | drop, some sources | a BPF socket filter discarding their SYNs | [`SourceFilter`] |
//! | reset | accept, `SO_LINGER 0`, close (ECONNRESET) | [`reset()`] |
//! | blackhole | accept, read and discard, never answer | [`blackhole()`] |
//! | route | accept and hand the stream in-process to the engine, through [`toxics`] | [`PolicyListener`] |
//! | route to a backend | accept and proxy the stream to the cache's real Redis, through [`toxics`] | [`BackendLink`] |
//! | route to a cluster backend's node | the same, to the node the port leads to, replies naming nodes rewritten | [`ClusterBackend`] |
//!
//! - [`PortPlan`]: one port's verdict per [`redlink_world::Source`] and the primitive carrying it.
//! - [`EndpointPort`]: one address:port: its reservation, plan, listener and open connections.
//! - [`EndpointAnnounce`]: a clustered cache's node addresses as told through one endpoint (each
//!   per-node port routes to that node's engine: [`Edge::set_cluster_nodes`]).
//! - [`Edge`]: every endpoint port of a world, reconciled with the world on each change; open
//!   connections whose path becomes denied are reset ([`Cut`]).
//! - [`ConnectionEvent`]: what the edge did with each accepted connection ([`Edge::subscribe`]).
//! - Addresses the world's DNS answers but no endpoint owns (stale records) are dropped on every
//!   cache port, so their connects time out as in a virtual network ([`Edge::unowned`]).

mod announce;
mod backend;
mod backend_cluster;
mod backend_resp;
mod blackhole;
mod conn;
mod drop;
mod edge;
mod error;
mod event;
mod filter;
mod listener;
mod plan;
mod port;
mod reservation;
mod reset;
mod socket;
pub mod toxics;
mod unowned;

pub use announce::EndpointAnnounce;
pub use backend::{
    BackendLink, BackendStream, Hop, PROXY_BUFFER, UpstreamTls, connect as connect_backend,
    connect_to,
};
pub use backend_cluster::{BackendNode, ClusterBackend, ClusterRoute};
pub use blackhole::blackhole;
pub use conn::{Cut, CutStream, OpenConns, Registered};
pub use drop::DropListener;
pub use edge::{Edge, PortStatus};
pub use error::EdgeError;
pub use event::{CONNECTION_EVENT_CAPACITY, ConnectionEvent, ConnectionEvents};
pub use filter::SourceFilter;
pub use listener::{LISTEN_BACKLOG, PolicyListener, PortIdentity};
pub use plan::{PortPlan, SourceVerdict};
pub use port::{EndpointPort, PortKey};
pub use redlink_world::{EndpointId, Source, Verdict};
pub use reservation::Reservation;
pub use reset::{arm_reset, reset};
pub use socket::listening_socket;
