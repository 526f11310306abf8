//! Errors: [`ScenarioError`] for a scenario file that cannot become a world (syntax, references,
//! names, addresses — always with the file and position), [`WorldError`] for a change to a running
//! world that does not apply.

use std::fmt;
use std::net::Ipv4Addr;

use crate::location::Position;

/// What kind of problem a [`ScenarioError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScenarioErrorKind {
    /// The file could not be read.
    Io,
    /// Not valid TOML, or a value of the wrong type, an unknown key, a missing key.
    Syntax,
    /// A name that refers to nothing (an endpoint naming a missing network, a link to a missing network…).
    UnknownReference,
    /// Two things of one kind with the same name (or two things with the same address).
    Duplicate,
    /// An address outside 127.0.0.0/8, or one the world cannot use.
    Address,
    /// Anything else the file says that the world cannot be (bad value combinations, exhausted address plan…).
    Invalid,
}

/// A scenario file that cannot become a world: the file, the position of the offending item (when
/// known), and a message saying what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file name as given to the parser.
    pub file: String,
    /// Where the offending item starts, when the error can point at one.
    pub position: Option<Position>,
    /// What kind of problem this is.
    pub kind: ScenarioErrorKind,
    /// A human-readable description, without the location prefix.
    pub message: String,
}

impl ScenarioError {
    /// The line of the offending item (1-based), if known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// The column of the offending item (1-based, in characters), if known.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.column)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(p) => write!(f, "{}:{}: {}", self.file, p, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A change to a world that does not apply (see the mutation methods on [`crate::World`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// No network of that name.
    #[error("no network named {0}")]
    UnknownNetwork(String),
    /// No cache of that name.
    #[error("no cache named {0}")]
    UnknownCache(String),
    /// No private endpoint of that name.
    #[error("no private endpoint named {0}")]
    UnknownEndpoint(String),
    /// No private DNS zone of that name.
    #[error("no private DNS zone named {0}")]
    UnknownZone(String),
    /// The zone has no link to that network.
    #[error("zone {zone} is not linked to network {network}")]
    NotLinked {
        /// The zone.
        zone: String,
        /// The network.
        network: String,
    },
    /// Azure allows one zone of a given name per network.
    #[error("network {network} is already linked to a zone named {zone} (link {link})")]
    AlreadyLinked {
        /// The zone name.
        zone: String,
        /// The network.
        network: String,
        /// The existing link's name.
        link: String,
    },
    /// No such record in the zone.
    #[error("zone {zone} has no A record {name}{}", address.map(|a| format!(" with address {a}")).unwrap_or_default())]
    UnknownRecord {
        /// The zone.
        zone: String,
        /// The record name, relative to the zone.
        name: String,
        /// The address asked for, if one was.
        address: Option<Ipv4Addr>,
    },
    /// No network rule of that name.
    #[error("no network rule named {0}")]
    UnknownRule(String),
    /// Something of that name already exists.
    #[error("a {kind} named {name} already exists")]
    Duplicate {
        /// What kind of thing ("network rule", "link"…).
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// The network has no custom DNS forwarder.
    #[error("network {0} has no custom DNS forwarder")]
    NoForwarder(String),
    /// Every simulated address is a 127/8 loopback alias.
    #[error("address {0} is outside 127.0.0.0/8: every simulated address is a loopback alias")]
    AddressOutsideLoopback(Ipv4Addr),
    /// A value that is not valid (a bad DNS name, a per-source refuse…).
    #[error("{0}")]
    Invalid(String),
    /// A change Azure's API refuses, with its error code and message (as az prints them:
    /// `(BadRequest) Approving rejected private endpoint connections is not supported.`).
    #[error("({code}) {message}")]
    Refused {
        /// Azure's error code.
        code: &'static str,
        /// Azure's message.
        message: String,
    },
}

/// Azure's message for approving a Rejected connection (az: `(BadRequest) …`).
pub const APPROVING_REJECTED: &str =
    "Approving rejected private endpoint connections is not supported.";
