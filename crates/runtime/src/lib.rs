//! Brings a simulated world up and keeps it running: [`RunningWorld::start`] turns a scenario into a
//! [`redlink_world::World`] in a free address block, starts one engine per cache (with a certificate
//! from the world's CA), the DNS views (one resolver per network) and the edge (endpoint listeners
//! applying the world's verdicts), and writes the state file once everything listens.
//! [`RunningWorld::update`] changes the world: DNS answers follow at once, listeners open and close,
//! and the state file is rewritten.
//!
//! [`probe`] is the client side: resolve a name through a network's resolver, connect from the
//! network's client address, TLS, AUTH, PING, with the evidence of each step (the client steps and
//! the names of their failures are `redlink_client`'s, shared with the scenario checker).
//!
//! [`control`] is the control API (a RESP server on loopback, read with the engine's request
//! reader, applying [`redlink_world::Change`]s sent as JSON through [`RunningWorld::apply_change`],
//! and streaming [`events`]); [`control_client`] is the small blocking RESP client `redlink ctl`
//! speaks it with (its RESP reader is `redlink_client`'s).
//!
//! Modules: `block` (claiming an address block), `certs` (the world's CA and cache certificates),
//! `engines` (an engine per cache), `cluster` (a clustered cache's node engines, reshards), `data` (persisted caches' data directories), `direct` (optional direct engine ports for benchmarks),
//! `resolvers` (DNS views with port fallback), `state` (the state file), `options`, `error`,
//! `running` (the running world), `probe`.

mod backend_cluster;
mod backends;
mod block;
mod certs;
mod cluster;
pub mod control;
pub mod control_client;
mod data;
mod direct;
mod engines;
mod error;
pub mod events;
pub mod kernel;
pub mod maintenance;
mod options;
pub mod probe;
mod replicas;
mod resolvers;
mod running;
mod state;

pub use backends::{RunningBackend, redis_server_backend};
pub use block::BlockLock;
pub use certs::{WorldCa, certificate_names, world_ca_scope};
pub use control::{
    ControlLimits, ControlListener, ControlOptions, ControlServer, EVENTS_CHANNEL,
    MAX_IMPORT_BYTES, from_hex, generate_password as generate_control_password, to_hex,
};
pub use control_client::{ControlClient, ControlClientError, Value};
pub use engines::disabled_commands;
pub use error::RuntimeError;
pub use events::{Event, EventStream};
pub use options::{
    CURRENT_POINTER, DEFAULT_DNS_PORT, UpOptions, current_state_pointer, default_state_dir,
    default_state_path, ensure_default_state_dir, locate_state_file,
};
pub use redlink_edge::PortStatus;
pub use running::RunningWorld;
pub use state::{
    CacheState, EndpointKind, EndpointState, NetworkState, PortVerdict, SourcePortVerdict,
    StateFile, net_namespace,
};
