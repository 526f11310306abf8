//! The endpoints of a world: each cache's public endpoint and every private endpoint, seen uniformly
//! (an address that stands for a cache on the cache's ports). The edge listens on these; the state
//! file and `up`'s table list them.

use std::fmt;
use std::net::Ipv4Addr;

use crate::model::{Cache, ConnectionState, World};

/// The name the public endpoint of every cache goes by (in the state file and in connection contexts).
pub const PUBLIC_ENDPOINT: &str = "public";

/// Which endpoint a connection arrives at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointId {
    /// The public endpoint of the named cache.
    Public {
        /// The cache.
        cache: String,
    },
    /// The named private endpoint.
    Private {
        /// The private endpoint's name.
        endpoint: String,
    },
}

impl EndpointId {
    /// The endpoint's short name: `public` or the private endpoint's name.
    pub fn name(&self) -> &str {
        match self {
            EndpointId::Public { .. } => PUBLIC_ENDPOINT,
            EndpointId::Private { endpoint } => endpoint,
        }
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointId::Public { cache } => write!(f, "the public endpoint of cache {cache}"),
            EndpointId::Private { endpoint } => write!(f, "private endpoint {endpoint}"),
        }
    }
}

/// One endpoint as the edge and reports see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Which endpoint.
    pub id: EndpointId,
    /// The cache it stands for.
    pub cache: String,
    /// The network it lives in (private endpoints only).
    pub network: Option<String>,
    /// Its address.
    pub address: Ipv4Addr,
    /// Every port it stands for (the cache's ports, plain first, then each cluster node's: see
    /// [`Cache::served_ports`]).
    pub ports: Vec<u16>,
    /// The subset of `ports` that speak TLS.
    pub tls_ports: Vec<u16>,
    /// The connection state (private endpoints only).
    pub state: Option<ConnectionState>,
}

impl Endpoint {
    /// Whether `port` is one of the endpoint's TLS ports.
    pub fn is_tls_port(&self, port: u16) -> bool {
        self.tls_ports.contains(&port)
    }
}

fn ports_of(cache: &Cache) -> (Vec<u16>, Vec<u16>) {
    (cache.served_ports(), cache.served_tls_ports())
}

impl World {
    /// Every endpoint: for each cache (in file order) its public endpoint, then its private endpoints
    /// (in file order). Private endpoints of a cache the world does not have are skipped.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let mut out = Vec::with_capacity(self.caches.len() + self.private_endpoints.len());
        for cache in &self.caches {
            let (ports, tls_ports) = ports_of(cache);
            out.push(Endpoint {
                id: EndpointId::Public {
                    cache: cache.name.clone(),
                },
                cache: cache.name.clone(),
                network: None,
                address: cache.public_address,
                ports: ports.clone(),
                tls_ports: tls_ports.clone(),
                state: None,
            });
            for pe in self.endpoints_of(&cache.name) {
                out.push(Endpoint {
                    id: EndpointId::Private {
                        endpoint: pe.name.clone(),
                    },
                    cache: cache.name.clone(),
                    network: Some(pe.network.clone()),
                    address: pe.address,
                    ports: ports.clone(),
                    tls_ports: tls_ports.clone(),
                    state: Some(pe.state),
                });
            }
        }
        out
    }

    /// The endpoint `id`, if the world has it.
    pub fn endpoint(&self, id: &EndpointId) -> Option<Endpoint> {
        self.endpoints().into_iter().find(|e| &e.id == id)
    }

    /// Addresses the world's DNS can answer (zone records, forwarders' static answers) that nothing
    /// of the world owns: stale records of deleted endpoints, typos. In a virtual network nothing
    /// answers for such an address, so connections to it time out; the edge makes them do so on
    /// [`World::unowned_ports`]. Sorted, each once.
    pub fn unowned_addresses(&self) -> Vec<Ipv4Addr> {
        let records = self
            .dns_zones
            .iter()
            .flat_map(|z| z.records.iter().map(|r| r.address));
        let answers = self
            .networks
            .iter()
            .filter_map(|n| n.forwarder.as_ref())
            .flat_map(|f| f.answers.values().map(|a| a.address));
        // An address a clustered cache announces (`cluster_announce`) that nothing owns: clients
        // told it time out, as at an address with no route.
        let announced = self.caches.iter().filter_map(|c| c.cluster_announce);
        let mut out: Vec<Ipv4Addr> = records
            .chain(answers)
            .chain(announced)
            .filter(|a| *a != Ipv4Addr::LOCALHOST && self.address_owner(*a).is_none())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The ports a client may try at an unowned address: every port any cache of the world serves
    /// (per-node ports of clustered caches included).
    pub fn unowned_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.caches.iter().flat_map(Cache::served_ports).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}
