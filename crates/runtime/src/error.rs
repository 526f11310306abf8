//! Errors of bringing a world up or changing it. [`RuntimeError::is_bad_input`] tells a scenario
//! problem (exit code 2) from a runtime failure such as a port in use (exit code 1).

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use redlink_dns::DnsError;
use redlink_edge::EdgeError;
use redlink_engine::tls::TlsError;
use redlink_world::{ScenarioError, WorldError};

/// Why a world could not start, change or stop.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The scenario cannot become a world (with file:line:column).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A change does not apply to the world.
    #[error(transparent)]
    World(#[from] WorldError),
    /// A resolver could not start (names the network and the address).
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// An endpoint could not be reserved or served (names the endpoint, the cache and the address).
    #[error(transparent)]
    Edge(#[from] EdgeError),
    /// A cache's engine could not be configured.
    #[error("cache {cache}: engine setting {setting}: {message}")]
    Engine {
        /// The cache.
        cache: String,
        /// The engine option.
        setting: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A cache's data could not be loaded, saved, imported or exported.
    #[error("cache {cache}: {message}")]
    Data {
        /// The cache.
        cache: String,
        /// What went wrong (an RDB error names the byte offset).
        message: String,
    },
    /// A cache's replica could not be started, promoted or attached.
    #[error("cache {cache}: replica: {message}")]
    Replica {
        /// The cache.
        cache: String,
        /// What went wrong.
        message: String,
    },
    /// A user declared for a cache could not be created in its engine.
    #[error("cache {cache}: user {user}: {message}")]
    User {
        /// The cache.
        cache: String,
        /// The user.
        user: String,
        /// The engine's refusal (Redis's ACL SETUSER text).
        message: String,
    },
    /// A certificate could not be made.
    #[error("TLS certificate for {what}: {source}")]
    Tls {
        /// What the certificate was for.
        what: String,
        /// What went wrong.
        #[source]
        source: TlsError,
    },
    /// The state file (or the CA certificate next to it) could not be written.
    #[error("cannot write {}: {source}", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The persisted caches' data directory could not be created (the message names the path).
    #[error("cannot create the persisted caches' data directory: {0}")]
    DataDir(#[source] io::Error),
    /// The control API could not listen.
    #[error("control API on {address}: {source}")]
    Control {
        /// The address asked for.
        address: std::net::SocketAddr,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The control API may only listen on loopback.
    #[error("control API on {0}: only loopback addresses (127.0.0.0/8, ::1) are allowed")]
    ControlAddress(std::net::SocketAddr),
    /// A cache's backend could not be started or reached (exit code 2: the scenario's backend is
    /// wrong for this machine).
    #[error("cache {cache}: backend {message}")]
    Backend {
        /// The cache.
        cache: String,
        /// What failed.
        message: String,
    },
    /// Every address block is taken.
    #[error(
        "no free address block: all {0} blocks of 127/8 are used by other worlds or their addresses are taken"
    )]
    NoFreeBlock(u8),
    /// The address block asked for does not exist or is taken.
    #[error("address block {block}: {reason}")]
    Block {
        /// The block.
        block: u8,
        /// Why it cannot be used.
        reason: String,
    },
    /// The world's clock refused to move (real time, backwards, out of range).
    #[error(transparent)]
    Clock(#[from] redlink_clock::ClockError),
}

impl RuntimeError {
    /// Whether the error is the input's fault (exit code 2) rather than the machine's (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            RuntimeError::Scenario(_)
                | RuntimeError::World(_)
                | RuntimeError::Backend { .. }
                | RuntimeError::Clock(_)
        )
    }

    /// The address whose port was already in use, if that is the error.
    pub fn address_in_use(&self) -> Option<IpAddr> {
        match self {
            RuntimeError::Edge(e) if e.is_addr_in_use() => Some(e.address().ip()),
            RuntimeError::Dns(DnsError::Bind {
                address, source, ..
            }) if source.kind() == io::ErrorKind::AddrInUse => Some(address.ip()),
            _ => None,
        }
    }
}
