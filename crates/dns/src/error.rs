//! Errors of the DNS views.

use std::io;
use std::net::SocketAddr;

/// Why the DNS views could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A socket could not be bound; says which address, which protocol and which network wanted it.
    #[error(
        "the DNS resolver of network {network} cannot listen on {protocol} {address}: {}",
        describe(source)
    )]
    Bind {
        /// The network whose resolver wanted the address.
        network: String,
        /// The address.
        address: SocketAddr,
        /// "UDP" or "TCP".
        protocol: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A binding names a network the world does not have.
    #[error("cannot start a DNS resolver for network {0}: the world has no such network")]
    UnknownNetwork(String),
    /// Two bindings for one network.
    #[error("network {0} is given two DNS bindings")]
    DuplicateNetwork(String),
    /// A server task failed.
    #[error("the DNS resolver of network {network} failed: {message}")]
    Server {
        /// The network.
        network: String,
        /// What went wrong.
        message: String,
    },
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => format!("the address is already in use ({e})"),
        io::ErrorKind::AddrNotAvailable => {
            format!("the address is not available on this machine ({e})")
        }
        _ => e.to_string(),
    }
}
