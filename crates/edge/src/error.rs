//! Errors of the edge: which address:port, which endpoint of which cache wanted it, and the OS error.

use std::io;
use std::net::SocketAddr;

use redlink_world::EndpointId;

/// Why the edge could not hold or serve an endpoint's address.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The address:port could not be reserved (another process holds it, or it is not local).
    #[error(
        "{endpoint} (cache {cache}) cannot reserve {address}: {}",
        describe(source)
    )]
    Reserve {
        /// The endpoint that wanted the address.
        endpoint: EndpointId,
        /// Its cache.
        cache: String,
        /// The address and port.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The routing listener could not be opened on a reserved address:port.
    #[error(
        "{endpoint} (cache {cache}) cannot listen on {address}: {}",
        describe(source)
    )]
    Listen {
        /// The endpoint.
        endpoint: EndpointId,
        /// Its cache.
        cache: String,
        /// The address and port.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl EdgeError {
    /// Whether the error is "address already in use" (a caller may try another address block).
    pub fn is_addr_in_use(&self) -> bool {
        let (EdgeError::Reserve { source, .. } | EdgeError::Listen { source, .. }) = self;
        source.kind() == io::ErrorKind::AddrInUse
    }

    /// The address:port concerned.
    pub fn address(&self) -> SocketAddr {
        let (EdgeError::Reserve { address, .. } | EdgeError::Listen { address, .. }) = self;
        *address
    }
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
