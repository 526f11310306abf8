//! The edge of the simulated world: one listener slot per endpoint address:port (each cache's public
//! endpoint and every private endpoint, on each port the cache serves), applying the verdict the
//! world computes ([`redlink_world::verdict`]).
//!
//! - [`Reservation`]: the address:port held for the world by a socket bound with `SO_REUSEPORT` that
//!   never listens: connections are refused (a real RST) and no other world can take the address.
//! - [`RouteListener`]: a second `SO_REUSEPORT` socket on the same address that listens and hands
//!   every accepted stream in-process to the cache's engine (no proxy hop).
//! - [`EndpointPort`]: one address:port: its reservation, its current verdict, its listener if routed.
//! - [`Edge`]: every endpoint port of a world, reconciled with the world on each change.
//!
//! Verdicts so far are route and refuse; drop, reset, blackhole and toxics come with the network
//! policy layer, as new arms of [`Verdict`] applied in [`EndpointPort::apply`].

mod edge;
mod error;
mod listener;
mod port;
mod reservation;

pub use edge::{Edge, PortStatus};
pub use error::EdgeError;
pub use listener::{LISTEN_BACKLOG, RouteListener};
pub use port::{EndpointPort, PortKey};
pub use redlink_world::{EndpointId, Verdict};
pub use reservation::Reservation;
