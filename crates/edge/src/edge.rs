//! Every endpoint port of a world, kept in line with it: [`Edge::apply`] reserves the ports of new
//! endpoints, releases those of vanished ones, and puts each port's plan (the [`redlink_world::verdict()`] for every
//! source) in force.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use redlink_engine::Engine;
use redlink_world::{EndpointId, Verdict, World};

use crate::announce::EndpointAnnounce;
use crate::backend::BackendLink;
use crate::error::EdgeError;
use crate::event::{CONNECTION_EVENT_CAPACITY, ConnectionEvent, ConnectionEvents};
use crate::plan::{PortPlan, SourceVerdict};
use crate::port::{EndpointPort, PortKey};
use crate::unowned::Unowned;

/// What one endpoint port does, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortStatus {
    /// The endpoint.
    pub endpoint: EndpointId,
    /// Its cache.
    pub cache: String,
    /// Address and port.
    pub address: SocketAddr,
    /// Whether the port speaks TLS.
    pub tls: bool,
    /// The primitive in force for the host (127.0.0.1 and unknown addresses).
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// Per source (the host first): the world's verdict, the primitive in force, and why.
    pub sources: Vec<SourceVerdict>,
    /// How many connections are open through the port (routed or blackholed).
    pub open_connections: usize,
}

/// The endpoint ports of one world.
#[derive(Debug)]
pub struct Edge {
    ports: BTreeMap<PortKey, EndpointPort>,
    unowned: Unowned,
    events: ConnectionEvents,
    backends: HashMap<String, BackendLink>,
    /// Each clustered cache's node engines, node 0 first ([`Edge::set_cluster_nodes`]).
    nodes: HashMap<String, NodeEngines>,
}

/// A clustered cache's node engines, node 0 first.
struct NodeEngines(Vec<Engine>);

impl std::fmt::Debug for NodeEngines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} node engines", self.0.len())
    }
}

impl Default for Edge {
    fn default() -> Self {
        Edge {
            ports: BTreeMap::new(),
            unowned: Unowned::default(),
            events: tokio::sync::broadcast::channel(CONNECTION_EVENT_CAPACITY).0,
            backends: HashMap::new(),
            nodes: HashMap::new(),
        }
    }
}

impl Edge {
    /// An edge holding nothing yet.
    pub fn new() -> Edge {
        Edge::default()
    }

    /// A stream of what the edge does with each accepted connection (see [`ConnectionEvent`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ConnectionEvent> {
        self.events.subscribe()
    }

    /// The sending side of [`Edge::subscribe`], to subscribe later without the edge at hand.
    pub fn events(&self) -> ConnectionEvents {
        self.events.clone()
    }

    /// Brings the edge in line with `world`: reserves every endpoint port it does not hold yet,
    /// releases those the world no longer has, and applies each port's plan (routing to the
    /// cache's engine in `engines`). On error, what was applied so far stays applied.
    pub async fn apply(
        &mut self,
        world: &World,
        engines: &HashMap<String, Engine>,
    ) -> Result<(), EdgeError> {
        let mut wanted: BTreeMap<PortKey, (String, bool)> = BTreeMap::new();
        for e in world.endpoints() {
            for &port in &e.ports {
                let key = PortKey {
                    endpoint: e.id.clone(),
                    address: e.address,
                    port,
                };
                wanted.insert(key, (e.cache.clone(), e.is_tls_port(port)));
            }
        }
        // Ports the world no longer has, and ports whose cache or TLS flag changed, are closed.
        let stale: Vec<PortKey> = self
            .ports
            .iter()
            .filter(|(k, p)| {
                wanted
                    .get(*k)
                    .is_none_or(|(cache, tls)| p.cache() != cache || p.tls() != *tls)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(mut p) = self.ports.remove(&key) {
                p.close().await;
            }
        }
        let unowned = Unowned::wanted(world);
        self.unowned.release_except(&unowned);
        for (key, (cache, tls)) in &wanted {
            if !self.ports.contains_key(key) {
                let mut port = EndpointPort::reserve(key.clone(), cache, *tls)?;
                port.set_events(self.events.clone());
                self.ports.insert(key.clone(), port);
            }
        }
        self.unowned.hold(&unowned);
        let nodes = &self.nodes;
        for (key, port) in &mut self.ports {
            // A clustered cache's per-node port routes to that node's engine; its own ports to
            // node 0 (the cache's engine), as Azure's load balancer hands them to some node.
            let cache = world.cache(port.cache());
            let node = cache.and_then(|c| c.node_of_port(key.port));
            let backend = self.backends.get(port.cache());
            let engine = match node {
                Some((node, _)) if backend.is_none() => nodes
                    .get(port.cache())
                    .and_then(|n| n.0.get(usize::from(node))),
                _ => engines.get(port.cache()),
            };
            let mut plan = PortPlan::compute(world, &key.endpoint, key.port, port.cache(), engine);
            plan.announce = cache.and_then(|c| EndpointAnnounce::of(c, key.address));
            plan.backend = backend.cloned().map(|mut link| {
                // A cluster backend's port leads to its node, named as this endpoint tells it.
                if let Some(route) = &mut link.cluster {
                    route.node = node.map(|(n, _)| n);
                    route.announce = plan.announce.clone();
                }
                link
            });
            port.apply(plan).await?;
        }
        Ok(())
    }

    /// Resets the open connections to `cache` through every endpoint, except those whose client
    /// address `keep` accepts (a failover); returns how many were reset.
    pub fn reset_cache(&self, cache: &str, keep: impl Fn(std::net::SocketAddr) -> bool) -> usize {
        self.ports
            .iter()
            .filter(|(_, p)| p.cache() == cache)
            .map(|(k, p)| p.open_connections().reset_peers(k.endpoint.name(), &keep))
            .sum()
    }

    /// The address:ports the world's DNS answers but no endpoint owns, which the edge drops (their
    /// connects time out, as in a virtual network where nothing answers for them).
    pub fn unowned(&self) -> Vec<SocketAddr> {
        self.unowned.held()
    }

    /// What every port does, in a stable order (by endpoint, address, port).
    pub fn status(&self) -> Vec<PortStatus> {
        self.ports
            .values()
            .map(|p| {
                let plan = p.plan();
                let (verdict, reason) = plan.host().map_or((Verdict::Refuse, String::new()), |h| {
                    (h.action, h.reason.clone())
                });
                PortStatus {
                    endpoint: p.key().endpoint.clone(),
                    cache: p.cache().to_owned(),
                    address: p.key().socket_addr(),
                    tls: p.tls(),
                    verdict,
                    reason,
                    sources: plan.sources.clone(),
                    open_connections: p.open_connections().len(),
                }
            })
            .collect()
    }

    /// The status of `endpoint`'s `port`, if the edge holds it.
    pub fn port_status(&self, endpoint: &EndpointId, port: u16) -> Option<PortStatus> {
        self.status()
            .into_iter()
            .find(|s| &s.endpoint == endpoint && s.address.port() == port)
    }

    /// Routes `cache`'s connections to `backend` instead of its engine from the next
    /// [`Edge::apply`] on.
    pub fn set_backend(&mut self, cache: &str, backend: BackendLink) {
        self.backends.insert(cache.to_owned(), backend);
    }

    /// Routes the per-node ports of clustered cache `cache` to `nodes` (node 0 first) from the
    /// next [`Edge::apply`] on; an empty list forgets them.
    pub fn set_cluster_nodes(&mut self, cache: &str, nodes: Vec<Engine>) {
        if nodes.is_empty() {
            self.nodes.remove(cache);
        } else {
            self.nodes.insert(cache.to_owned(), NodeEngines(nodes));
        }
    }

    /// Closes every listener, resets open connections and releases every reservation.
    pub async fn shutdown(&mut self) {
        for (_, mut p) in std::mem::take(&mut self.ports) {
            p.close().await;
        }
        self.unowned.clear();
    }
}
