//! The simulated Azure Private Link world as plain data and pure functions.
//!
//! - [`Scenario`]: the scenario file (TOML), parsed and validated with file:line:column errors.
//! - [`World`]: the world built from it ([`World::build`]) with every address allocated from an
//!   [`AddressPlan`]; mutation methods for live changes.
//! - [`resolve()`]: which answer a network's resolver gives for a name, and why, as Azure would;
//!   [`resolve_cached`]: the same through a caching resolver's [`ResolverCache`] (TTLs on a clock).
//! - [`World::endpoints`] and [`verdict()`]: what each endpoint's address:port does with a connection
//!   from a [`Source`] (route to the cache's engine, refuse, drop, reset, blackhole) and why.
//! - [`Toxic`]: faults on routed paths (latency, bandwidth, slicer, reset after bytes, timeout).
//! - [`Change`]: the one vocabulary of world changes (timeline steps, the control API, `ctl`),
//!   serde in TOML and JSON.
//! - [`Expectation`] and [`TimelineStep`]: what clients must see, and the timeline of changes
//!   (`[[expect]]`, `[[step]]`), validated by replaying the timeline on the world.
//! - [`quickstart()`]: the embedded quickstart world.
//!
//! Modules depend on each other one way (leaves first): `address`, `flavour`, `location`, `ttl`,
//! `toxic` → `names`, `error`, `text` → `model` → `endpoint`, `resolve`, `mutate`, `verdict` →
//! `expect` (tables and their compiling) → `timeline` → `scenario` (file format, per-table
//! validation, world building, [`Scenario::parse`]) → `quickstart`. Names live in [`names`], not in
//! the scenario module, so the resolver and the mutations need nothing from the file format. ACL
//! categories are the engine's own list (`redlink_engine::acl::CATEGORIES`).

pub mod address;
pub mod backend;
pub mod change;
pub mod cluster_ports;
pub mod endpoint;
pub mod error;
pub mod exercise;
pub mod expect;
mod failover;
pub mod flavour;
pub mod location;
pub mod model;
mod mutate;
pub mod names;
pub mod nodes;
pub mod persistence;
pub mod quickstart;
pub mod resolve;
pub mod resolver_cache;
pub mod scenario;
pub mod text;
pub mod timeline;
pub mod toxic;
pub mod ttl;
pub mod verdict;

pub use address::AddressPlan;
pub use backend::{Backend, Upstream};
pub use change::Change;
pub use cluster_ports::{ClusterPolicy, NodePorts, PortScheme, Protocols};
pub use endpoint::{Endpoint, EndpointId, PUBLIC_ENDPOINT};
pub use error::{APPROVING_REJECTED, ScenarioError, ScenarioErrorKind, WorldError};
pub use exercise::Exercise;
pub use expect::{
    AuthResult, ClientSource, ConnectResult, Destination, Expectation, ExpectationKind,
    ExpectedAnswer, OpenConnection, Target, Timing,
};
pub use flavour::Flavour;
pub use location::Position;
pub use model::{
    ARecord, AddressOwner, BlockedAction, Cache, CachePorts, CacheUser, ConnectionState, DenyAs,
    DnsZone, FirewallRule, ForwardRule, Forwarder, ForwarderAnswer, HalfPeering, HostPosition,
    Network, NetworkRule, PeeringState, PrivateEndpoint, PublicNetworkAccess, ResolutionPolicy,
    RuleAction, World, ZoneLink,
};
pub use nodes::{Instance, NodeRole, Nodes, ReplicationLink, Sku};
pub use persistence::{AofFsync, Persistence, RdbFrequency, RebootNodes};
pub use quickstart::quickstart;
pub use resolve::{
    Answer, Authority, Outcome, QueryType, Record, RecordData, Resolution, Step, ZoneKind, resolve,
};
pub use resolver_cache::{CachedResolution, ResolverCache, resolve_cached};
pub use scenario::Scenario;
pub use timeline::{ExpectedRefusal, PlacedChange, Step as TimelineStep};
pub use toxic::{Toxic, ToxicDirection, ToxicKind, Toxicity};
pub use verdict::{HOST_ADDRESS, Source, Verdict, verdict};
