//! Cluster ports: which port each node of a clustered cache answers on, at every endpoint of the
//! cache, as Azure documents it. One table for the world model, the edge, the state file and the
//! cluster backends (`backend = { cluster = [...] }`), so a node's port is decided in one place.
//!
//! - Azure Cache for Redis Premium with clustering: node `n` answers plain text on `13000 + n` and
//!   TLS on `15000 + n`, next to the cache's own 6379/6380 ("Can I directly connect to the
//!   individual shards of my cache?", cache-how-to-premium-clustering; the VNet page opens
//!   13000-13999 and 15000-15999 for clustered caches). `n` counts primaries and replicas: shard
//!   `s` with `r` replicas per primary has its primary at `n = s * (1 + r)` and its `k`-th replica
//!   at `n = s * (1 + r) + k` (one address, so every node needs a port of its own).
//! - Azure Managed Redis, OSS cluster policy: the initial connection on 10000, the shards on ports
//!   in the 85xx range (8500-8599), found by clients through `CLUSTER NODES`/`SLOTS`
//!   (learn.microsoft.com/azure/redis/architecture#cluster-policies). Here node `n` gets `8500 + n`.
//! - Azure Managed Redis, Enterprise cluster policy (Azure's default): only 10000; a proxy hides the
//!   shards. No per-node ports.
//!
//! docs/cluster-ports.md has the table and the citations.

use crate::flavour::Flavour;
use serde::{Deserialize, Serialize};
use std::fmt;

/// First plain-text per-node port of a clustered Premium cache (node 0).
pub const PREMIUM_PLAIN_BASE: u16 = 13000;
/// First TLS per-node port of a clustered Premium cache (node 0).
pub const PREMIUM_TLS_BASE: u16 = 15000;
/// How many per-node ports each Premium range has (13000-13999, 15000-15999).
pub const PREMIUM_PORT_RANGE: u16 = 1000;
/// Most shards a Premium cache can have (Azure: 10 generally available, up to 30 in preview).
pub const PREMIUM_MAX_SHARDS: u16 = 30;
/// First per-node port of an Azure Managed Redis cache with the OSS cluster policy (node 0).
pub const MANAGED_OSS_BASE: u16 = 8500;
/// How many per-node ports the 85xx range has (8500-8599).
pub const MANAGED_OSS_PORT_RANGE: u16 = 100;

/// How an Azure Managed Redis cache shows its shards to clients (`clusteringPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClusterPolicy {
    /// `EnterpriseCluster`: one endpoint (port 10000); a proxy routes each command to its shard.
    /// Azure's default.
    #[default]
    Enterprise,
    /// `OSSCluster`: the Redis Cluster API; clients follow `CLUSTER SLOTS`/`MOVED` to per-node
    /// ports.
    #[serde(rename = "OSS")]
    Oss,
}

impl ClusterPolicy {
    /// The name the scenario file and the state file use.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClusterPolicy::Enterprise => "Enterprise",
            ClusterPolicy::Oss => "OSS",
        }
    }
}

impl fmt::Display for ClusterPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which per-node ports a cache has: the rule, before counting nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortScheme {
    /// No per-node ports: a single node, or a proxy in front of the shards (Enterprise policy).
    Single,
    /// Premium clustering: 13000 + n plain, 15000 + n TLS.
    Premium,
    /// Managed Redis with the OSS policy: 8500 + n, in the protocol of the cache's port.
    ManagedOss,
}

/// The ports of one node at every endpoint of its cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodePorts {
    /// The node's number as Azure counts it (primaries and replicas).
    pub node: u16,
    /// Its plain-text port, if the cache serves plain text.
    pub plain: Option<u16>,
    /// Its TLS port, if the cache serves TLS.
    pub tls: Option<u16>,
}

impl NodePorts {
    /// Both ports, plain first.
    pub fn all(&self) -> Vec<u16> {
        self.plain.into_iter().chain(self.tls).collect()
    }
}

/// Which protocols a cache serves (its plain and TLS ports, without their numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Protocols {
    /// Plain text is served.
    pub plain: bool,
    /// TLS is served.
    pub tls: bool,
}

/// Node number of the `replica`-th copy (0 = the primary) of shard `shard`, with
/// `replicas_per_primary` replicas per shard: Azure numbers a shard's nodes together.
pub const fn node_number(shard: u16, replica: u16, replicas_per_primary: u16) -> u32 {
    shard as u32 * (1 + replicas_per_primary as u32) + replica as u32
}

impl PortScheme {
    /// The scheme of a cache of `flavour` with `shards` shards (`None`: not clustered) and, for
    /// managed-redis, `policy`. A Premium cache with clustering keeps per-node ports even with one
    /// shard (Azure: "a cache with clustering enabled and only one shard behaves differently").
    pub fn of(flavour: Flavour, shards: Option<u16>, policy: ClusterPolicy) -> PortScheme {
        match (flavour, shards, policy) {
            (_, None, _) => PortScheme::Single,
            (Flavour::RedisCache, Some(_), _) => PortScheme::Premium,
            (Flavour::ManagedRedis, Some(_), ClusterPolicy::Oss) => PortScheme::ManagedOss,
            (Flavour::ManagedRedis, Some(_), ClusterPolicy::Enterprise) => PortScheme::Single,
        }
    }

    /// The scheme for a cluster behind a cache of `flavour` whatever its own shard count (a
    /// cluster backend): Premium's ports for redis-cache, 85xx for managed-redis.
    pub fn for_cluster(flavour: Flavour) -> PortScheme {
        match flavour {
            Flavour::RedisCache => PortScheme::Premium,
            Flavour::ManagedRedis => PortScheme::ManagedOss,
        }
    }

    /// How many nodes the scheme has ports for (0 for [`PortScheme::Single`]).
    pub const fn max_nodes(self) -> u16 {
        match self {
            PortScheme::Single => 0,
            PortScheme::Premium => PREMIUM_PORT_RANGE,
            PortScheme::ManagedOss => MANAGED_OSS_PORT_RANGE,
        }
    }

    /// Node `node`'s ports, given which protocols the cache serves; `None` past the scheme's range
    /// (or for [`PortScheme::Single`]). Premium: plain only if the cache serves plain text, TLS
    /// only if it serves TLS. Managed OSS: one port per node, TLS if the cache serves TLS.
    pub fn node_ports(self, node: u16, cache: Protocols) -> Option<NodePorts> {
        if node >= self.max_nodes() {
            return None;
        }
        Some(match self {
            PortScheme::Single => return None,
            PortScheme::Premium => NodePorts {
                node,
                plain: cache.plain.then_some(PREMIUM_PLAIN_BASE + node),
                tls: cache.tls.then_some(PREMIUM_TLS_BASE + node),
            },
            PortScheme::ManagedOss => {
                let port = MANAGED_OSS_BASE + node;
                if cache.tls {
                    NodePorts {
                        node,
                        plain: None,
                        tls: Some(port),
                    }
                } else {
                    NodePorts {
                        node,
                        plain: Some(port),
                        tls: None,
                    }
                }
            }
        })
    }

    /// The ports of nodes `0..nodes` (stopping at the scheme's range).
    pub fn nodes(self, nodes: u16, cache: Protocols) -> Vec<NodePorts> {
        (0..nodes)
            .map_while(|n| self.node_ports(n, cache))
            .collect()
    }

    /// Which node `port` belongs to and whether it is that node's TLS port, for a cache with
    /// `nodes` nodes serving `cache`'s protocols.
    pub fn node_of_port(self, port: u16, nodes: u16, cache: Protocols) -> Option<(u16, bool)> {
        self.nodes(nodes, cache).into_iter().find_map(|p| {
            if p.plain == Some(port) {
                Some((p.node, false))
            } else if p.tls == Some(port) {
                Some((p.node, true))
            } else {
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: Protocols = Protocols {
        plain: true,
        tls: true,
    };
    const TLS_ONLY: Protocols = Protocols {
        plain: false,
        tls: true,
    };
    const AMR_TLS: Protocols = TLS_ONLY;
    const AMR_PLAIN: Protocols = Protocols {
        plain: true,
        tls: false,
    };

    #[test]
    fn premium_nodes_use_13000_and_15000_plus_n() {
        let s = PortScheme::of(Flavour::RedisCache, Some(3), ClusterPolicy::default());
        assert_eq!(s, PortScheme::Premium);
        let ports = s.nodes(3, BOTH);
        assert_eq!(
            ports.iter().map(|p| (p.plain, p.tls)).collect::<Vec<_>>(),
            vec![
                (Some(13000), Some(15000)),
                (Some(13001), Some(15001)),
                (Some(13002), Some(15002))
            ]
        );
        assert_eq!(
            s.node_ports(0, TLS_ONLY).map(|p| p.all()),
            Some(vec![15000])
        );
        assert_eq!(s.node_of_port(15002, 3, BOTH), Some((2, true)));
        assert_eq!(s.node_of_port(13001, 3, BOTH), Some((1, false)));
        assert_eq!(s.node_of_port(13001, 3, TLS_ONLY), None);
        assert_eq!(s.node_of_port(15003, 3, BOTH), None);
    }

    #[test]
    fn managed_oss_nodes_use_85xx_in_the_cache_protocol() {
        let s = PortScheme::of(Flavour::ManagedRedis, Some(2), ClusterPolicy::Oss);
        assert_eq!(s, PortScheme::ManagedOss);
        assert_eq!(
            s.node_ports(1, AMR_TLS).map(|p| (p.plain, p.tls)),
            Some((None, Some(8501)))
        );
        assert_eq!(
            s.node_ports(1, AMR_PLAIN).map(|p| (p.plain, p.tls)),
            Some((Some(8501), None))
        );
        assert_eq!(s.node_ports(100, AMR_TLS), None);
        assert_eq!(s.nodes(200, AMR_TLS).len(), 100);
        assert_eq!(s.nodes(200, AMR_TLS).last().and_then(|p| p.tls), Some(8599));
    }

    #[test]
    fn enterprise_policy_and_unclustered_caches_have_no_node_ports() {
        for s in [
            PortScheme::of(Flavour::ManagedRedis, Some(4), ClusterPolicy::Enterprise),
            PortScheme::of(Flavour::RedisCache, None, ClusterPolicy::Oss),
            PortScheme::of(Flavour::ManagedRedis, None, ClusterPolicy::Oss),
        ] {
            assert_eq!(s, PortScheme::Single);
            assert!(s.nodes(4, BOTH).is_empty());
            assert_eq!(s.node_of_port(10000, 4, AMR_TLS), None);
        }
    }

    #[test]
    fn nodes_count_primaries_and_replicas_together() {
        assert_eq!(node_number(0, 0, 0), 0);
        assert_eq!(node_number(2, 0, 0), 2);
        assert_eq!(node_number(0, 1, 1), 1);
        assert_eq!(node_number(1, 0, 1), 2);
        assert_eq!(node_number(1, 1, 1), 3);
        assert_eq!(node_number(29, 3, 3), 119);
    }

    #[test]
    fn policy_names_are_azures() {
        assert_eq!(ClusterPolicy::Oss.to_string(), "OSS");
        assert_eq!(ClusterPolicy::default().to_string(), "Enterprise");
        assert_eq!(
            PortScheme::for_cluster(Flavour::ManagedRedis),
            PortScheme::ManagedOss
        );
        assert_eq!(
            PortScheme::for_cluster(Flavour::RedisCache),
            PortScheme::Premium
        );
    }
}
