//! What a client is told about where the nodes are. A cluster node's replies name other nodes
//! (`CLUSTER SLOTS`/`SHARDS`/`NODES`, `-MOVED`, `-ASK`), and the right answer depends on the path the
//! client came by: through private endpoint pe-hub it must hear pe-hub's address and that cache's
//! per-node port, on the public path the public address. Whoever hands the connection to the engine
//! (the world's edge) may attach a [`ClusterAnnounce`] to the connection's
//! [`ConnContext`](crate::ConnContext); without one, each node's own announced address is used.

use std::fmt::Debug;

/// Per-connection addresses of the cluster's nodes.
pub trait ClusterAnnounce: Send + Sync + Debug {
    /// The `(host, port)` a client on this connection reaches node `node` (its index in the
    /// [`ClusterTopology`](super::ClusterTopology)) at, for a plain or a TLS connection; `None` falls
    /// back to the node's own address.
    fn address(&self, node: usize, tls: bool) -> Option<(String, u16)>;
}
