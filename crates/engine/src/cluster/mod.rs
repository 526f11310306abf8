//! Redis Cluster in the engine: each node of a cluster is an [`Engine`](crate::Engine) that has
//! joined a [`ClusterTopology`] shared by the nodes of one process (`redlink serve --cluster N`, a
//! clustered cache in a world). The topology is the cluster's configuration that redis-server's
//! cluster bus would gossip: node ids, addresses, which node serves each of the 16384 hash slots, and
//! slots being migrated. Modules: `slot` (CRC16 and hash tags), `topology` (the shared state and
//! live slot migration), `announce` (per-connection node addresses), `redirect` (the dispatcher's
//! `-MOVED`/`-ASK`/`-CROSSSLOT`/`-TRYAGAIN`/`-CLUSTERDOWN` check, Redis's `getNodeByQuery`),
//! `migrate` (moving keys between nodes: MIGRATE's wire client and in-process batches),
//! `failover` (a shard's replica taking over: `CLUSTER FAILOVER`), `slot_index` (the keys of
//! each slot, so `COUNTKEYSINSLOT`/`GETKEYSINSLOT` need no scan).

pub mod announce;
pub mod failover;
pub mod migrate;
pub mod redirect;
pub mod slot;
pub mod slot_index;
pub mod topology;

pub use announce::ClusterAnnounce;
pub use slot::{SLOTS, key_slot};
pub use topology::{ClusterTopology, NodeSpec, ReplicationWiring};

use std::sync::Arc;

/// An engine's place in a cluster: the topology and which of its nodes this engine is.
#[derive(Debug, Clone)]
pub struct Membership {
    /// The cluster's shared configuration.
    pub topology: Arc<ClusterTopology>,
    /// This engine's node index in the topology.
    pub node: usize,
    /// Orders commands and live key moves on this node: a command holds it shared from its slot
    /// check (`redirect::route`, which looks at whether a key of a migrating slot is still here)
    /// until it has run, and a migration batch holds it exclusively while it moves keys away
    /// (`migrate::move_keys`). Without it a key could move between the check and the command,
    /// and a GET answered nil for a key that exists on the target (Redis runs both on one thread).
    pub fence: Arc<parking_lot::RwLock<()>>,
}
