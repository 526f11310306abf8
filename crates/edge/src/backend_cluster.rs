//! A Redis Cluster the user runs behind a cache (`backend = { cluster = [...] }`, issue 22): which
//! backend node each node number stands for. The runtime discovers the nodes (`CLUSTER SHARDS`)
//! and numbers them, stable per node id for the life of the world; node `n` answers on the
//! per-node ports of [`redlink_world::cluster_ports`] at every endpoint of the cache, as the
//! embedded cluster's nodes do, and the cache's own ports lead to one primary. The proxy asks this
//! table whenever a reply names a node (`CLUSTER SLOTS`/`SHARDS`/`NODES`, `-MOVED`, `-ASK`: see
//! `backend_resp`) and, for a node it does not know, asks the runtime to look again
//! ([`ClusterBackend::learn`]).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redlink_engine::cluster::ClusterAnnounce;
use tokio::sync::{Notify, watch};

/// How long a proxied reply naming an unknown node waits for the runtime to discover it.
const LEARN_TIMEOUT: Duration = Duration::from_secs(3);

/// One node of the backend cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendNode {
    /// Its number on the cache's per-node ports.
    pub number: u16,
    /// Its cluster node id (40 hex digits).
    pub id: String,
    /// Where the edge connects to it.
    pub address: SocketAddr,
    /// The host names it is told by to clients (its `ip`, `endpoint`, `hostname`), so a reply
    /// naming it by any of them is recognised.
    pub hosts: Vec<String>,
    /// Whether it serves slots as a primary.
    pub primary: bool,
}

impl BackendNode {
    /// Whether the backend names this node by `host:port`.
    pub fn is_at(&self, host: &str, port: u16) -> bool {
        port == self.address.port()
            && (self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
                || self.address.ip().to_string() == host)
    }
}

/// The known nodes of a cache's backend cluster, shared by the runtime (which discovers them)
/// and every proxied connection (which names them to clients).
#[derive(Debug)]
pub struct ClusterBackend {
    nodes: RwLock<Vec<BackendNode>>,
    /// The node the cache's own ports lead to.
    main: RwLock<Option<u16>>,
    version: watch::Sender<u64>,
    wanted: Notify,
}

impl Default for ClusterBackend {
    fn default() -> Self {
        ClusterBackend {
            nodes: RwLock::new(Vec::new()),
            main: RwLock::new(None),
            version: watch::channel(0).0,
            wanted: Notify::new(),
        }
    }
}

impl ClusterBackend {
    /// A table with no node yet.
    pub fn new() -> ClusterBackend {
        ClusterBackend::default()
    }

    /// Puts `nodes` in force (all known nodes, numbered), `main` being the node the cache's own
    /// ports lead to, and wakes every connection waiting in [`ClusterBackend::learn`].
    pub fn publish(&self, nodes: Vec<BackendNode>, main: Option<u16>) {
        if let Ok(mut n) = self.nodes.write() {
            *n = nodes;
        }
        if let Ok(mut m) = self.main.write() {
            *m = main;
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// Every known node, by number.
    pub fn nodes(&self) -> Vec<BackendNode> {
        self.nodes.read().map(|n| n.clone()).unwrap_or_default()
    }

    /// The number of the node the backend names `host:port`.
    pub fn number_at(&self, host: &str, port: u16) -> Option<u16> {
        let nodes = self.nodes.read().ok()?;
        nodes.iter().find(|n| n.is_at(host, port)).map(|n| n.number)
    }

    /// The number of the node with id `id`.
    pub fn number_of_id(&self, id: &str) -> Option<u16> {
        let nodes = self.nodes.read().ok()?;
        nodes.iter().find(|n| n.id == id).map(|n| n.number)
    }

    /// Where node `number` is, or the main node with `None`.
    pub fn address(&self, number: Option<u16>) -> Option<SocketAddr> {
        let number = match number {
            Some(n) => n,
            None => (*self.main.read().ok()?)?,
        };
        let nodes = self.nodes.read().ok()?;
        nodes.iter().find(|n| n.number == number).map(|n| n.address)
    }

    /// Asks the runtime to discover the nodes again and waits (a few seconds at most) until it
    /// published; `false` when nothing was published in time (no runtime follows the cluster,
    /// e.g. `check`).
    pub async fn learn(&self) -> bool {
        let mut rx = self.version.subscribe();
        rx.borrow_and_update();
        self.wanted.notify_one();
        matches!(
            tokio::time::timeout(LEARN_TIMEOUT, rx.changed()).await,
            Ok(Ok(()))
        )
    }

    /// Asks the runtime to discover the nodes again soon, without waiting (a `-MOVED` went by:
    /// the topology changed). Requests coalesce until the runtime looks.
    pub fn nudge(&self) {
        self.wanted.notify_one();
    }

    /// Resolves when a connection asked for a new discovery ([`ClusterBackend::learn`],
    /// [`ClusterBackend::nudge`]).
    pub async fn wanted(&self) {
        self.wanted.notified().await;
    }
}

/// How one endpoint port reaches a backend cluster: the node it leads to and what clients
/// arriving there are told about every node.
#[derive(Clone, Debug)]
pub struct ClusterRoute {
    /// The cluster's nodes.
    pub backend: Arc<ClusterBackend>,
    /// The node this port leads to (`None`: the cache's own port, the main node).
    pub node: Option<u16>,
    /// The endpoint's addresses for every node (the endpoint's address and the per-node ports);
    /// `None` until the edge sets it for a port.
    pub announce: Option<Arc<dyn ClusterAnnounce>>,
}

impl ClusterRoute {
    /// A route to `backend`'s main node, before the edge places it on a port.
    pub fn new(backend: Arc<ClusterBackend>) -> ClusterRoute {
        ClusterRoute {
            backend,
            node: None,
            announce: None,
        }
    }

    /// What a client on this port (plain or `tls`) is told for node `number`.
    pub fn told(&self, number: u16, tls: bool) -> Option<(String, u16)> {
        self.announce.as_ref()?.address(usize::from(number), tls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(number: u16, port: u16) -> BackendNode {
        BackendNode {
            number,
            id: format!("{number:040}"),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            hosts: vec!["127.0.0.1".into(), "node.example".into()],
            primary: true,
        }
    }

    #[tokio::test]
    async fn nodes_are_found_by_address_host_name_and_id() {
        let b = ClusterBackend::new();
        b.publish(vec![node(0, 7000), node(1, 7001)], Some(1));
        assert_eq!(b.number_at("127.0.0.1", 7001), Some(1));
        assert_eq!(b.number_at("NODE.example", 7000), Some(0));
        assert_eq!(b.number_at("127.0.0.1", 7002), None);
        assert_eq!(b.number_of_id(&format!("{:040}", 1)), Some(1));
        assert_eq!(b.address(None).map(|a| a.port()), Some(7001));
        assert_eq!(b.address(Some(0)).map(|a| a.port()), Some(7000));
        let b = Arc::new(b);
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.learn().await })
        };
        b.wanted().await;
        b.publish(vec![node(0, 7000)], Some(0));
        assert!(waiter.await.expect("joins"));
    }
}
