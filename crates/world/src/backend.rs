//! Where a cache's connections go when the embedded engine is not enough: a real Redis the user
//! runs (`backend = { address = "127.0.0.1:6379" }`), one redlink starts (`backend = { command =
//! [...] }`), or a Redis Cluster the user runs (`backend = { cluster = ["127.0.0.1:7000", ...] }`).
//! Plain data; the runtime starts, checks and proxies to it (docs/backends.md).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// A cache's backend: a Redis server the edge proxies routed connections to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// Which server.
    pub upstream: Upstream,
    /// Whether the hop from the endpoint to the backend speaks TLS.
    pub tls: bool,
    /// With `tls`: the PEM file of the CA(s) the backend's certificate must chain to (relative
    /// paths from the scenario's directory); `None` = the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// With `tls`: the name the backend's certificate must cover, also sent as SNI; `None` = the
    /// backend's address (an IP address SAN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The environment variable holding the password redlink itself uses to check the backend
    /// (clients send their own AUTH through the proxy).
    pub password_env: Option<String>,
    /// With an `address`: a Unix socket of the same server (relative paths from the scenario's
    /// directory), the hop of proxied connections; the address stays for checks and the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
}

/// The server behind a [`Backend`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upstream {
    /// A server the user runs, at a loopback address.
    Address(SocketAddr),
    /// A command redlink starts (program and arguments) with `--port N --bind 127.0.0.1` and the
    /// cache's `requirepass`/`maxclients` appended, and stops at exit.
    Command(Vec<String>),
    /// A Redis Cluster the user runs: its seed nodes (loopback). Every node gets per-node ports
    /// on each endpoint ([`crate::cluster_ports`]), numbered as the runtime discovers them.
    Cluster(Vec<SocketAddr>),
}

impl Backend {
    /// Whether the backend is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.upstream, Upstream::Cluster(_))
    }
}

/// Whether `addr` may be a backend: loopback only (127.0.0.0/8 or ::1), so traffic never leaves
/// the machine.
pub fn is_loopback_backend(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
