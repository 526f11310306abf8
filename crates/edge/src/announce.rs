//! What a cluster client is told about a clustered cache's nodes depends on the path it came by:
//! through private endpoint pe-hub it must hear pe-hub's address and that cache's per-node ports,
//! on the public path the public address (what Azure's endpoints do for a clustered cache). The
//! edge attaches an [`EndpointAnnounce`] to every connection it routes to a clustered cache's
//! engine; the engine asks it whenever a reply names a node (`CLUSTER SLOTS`/`SHARDS`/`NODES`,
//! `-MOVED`, `-ASK`). Ports come from the world's one table, [`redlink_world::cluster_ports`].

use std::net::Ipv4Addr;
use std::sync::Arc;

use redlink_engine::cluster::ClusterAnnounce;
use redlink_world::{Cache, PortScheme, Protocols};

/// The node addresses as told through one endpoint of one clustered cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointAnnounce {
    /// The address told for every node: the endpoint's, or the cache's `cluster_announce`.
    pub host: Ipv4Addr,
    /// The cache's port scheme.
    pub scheme: PortScheme,
    /// The protocols the cache serves.
    pub protocols: Protocols,
}

impl EndpointAnnounce {
    /// The announce map of `cache` for connections arriving at the endpoint address `endpoint`;
    /// `None` unless the cache has per-node ports.
    pub fn of(cache: &Cache, endpoint: Ipv4Addr) -> Option<Arc<dyn ClusterAnnounce>> {
        let scheme = cache.port_scheme();
        if scheme == PortScheme::Single {
            return None;
        }
        Some(Arc::new(EndpointAnnounce {
            host: cache.cluster_announce.unwrap_or(endpoint),
            scheme,
            protocols: cache.protocols(),
        }))
    }
}

impl ClusterAnnounce for EndpointAnnounce {
    fn address(&self, node: usize, tls: bool) -> Option<(String, u16)> {
        let ports = self
            .scheme
            .node_ports(u16::try_from(node).ok()?, self.protocols)?;
        let port = if tls { ports.tls } else { ports.plain }?;
        Some((self.host.to_string(), port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_told_at_the_endpoint_with_their_ports_in_the_connections_protocol() {
        let a = EndpointAnnounce {
            host: Ipv4Addr::new(127, 10, 1, 4),
            scheme: PortScheme::Premium,
            protocols: Protocols {
                plain: true,
                tls: true,
            },
        };
        assert_eq!(a.address(2, true), Some(("127.10.1.4".to_owned(), 15002)));
        assert_eq!(a.address(0, false), Some(("127.10.1.4".to_owned(), 13000)));
        let tls_only = EndpointAnnounce {
            protocols: Protocols {
                plain: false,
                tls: true,
            },
            ..a.clone()
        };
        assert_eq!(tls_only.address(1, false), None);
        let amr = EndpointAnnounce {
            scheme: PortScheme::ManagedOss,
            protocols: Protocols {
                plain: false,
                tls: true,
            },
            ..a
        };
        assert_eq!(amr.address(1, true), Some(("127.10.1.4".to_owned(), 8501)));
        assert_eq!(amr.address(100, true), None);
    }
}
