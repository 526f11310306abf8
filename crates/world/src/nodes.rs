//! A cache's nodes: Azure Cache for Redis's pricing tier (`sku`) decides whether a cache is one node
//! (Basic) or a primary and a replica behind one endpoint (Standard, Premium); Azure Managed Redis
//! is highly available (a replica) unless `high_availability = false`. Which node is primary
//! changes with failovers, so the world keeps it ([`Nodes::primary`]) and shows it as `az redis
//! show` does (`instances`, [`Instance`]).
//!
//! Kept apart from the model so the scenario validator, the world's JSON, the changes (`failover`,
//! `reboot`, `maintenance`) and `ctl` share one spelling of tiers, roles and per-node ports.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Azure Cache for Redis's pricing tier (`sku.name`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sku {
    /// One node, no replica, no SLA (redlink's default, so worlds written before tiers existed
    /// stay single-node).
    #[default]
    Basic,
    /// A primary and a replica.
    Standard,
    /// A primary and a replica (plus persistence and clustering).
    Premium,
}

impl Sku {
    /// The spelling in a scenario and in az's `sku.name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sku::Basic => "Basic",
            Sku::Standard => "Standard",
            Sku::Premium => "Premium",
        }
    }

    /// az's `sku.family`: `C` (Basic, Standard) or `P` (Premium).
    pub fn family(self) -> &'static str {
        match self {
            Sku::Premium => "P",
            _ => "C",
        }
    }

    /// From a scenario's spelling; the error lists the tiers.
    pub fn parse(text: &str) -> Result<Sku, String> {
        [Sku::Basic, Sku::Standard, Sku::Premium]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "sku {text:?} is not an Azure Cache for Redis tier (Basic, Standard, Premium)"
                )
            })
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// Takes writes; the endpoints route to it.
    Primary,
    /// Follows the primary (read-only).
    Replica,
}

impl NodeRole {
    /// The spelling in changes (`primary`, `replica`).
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Primary => "primary",
            NodeRole::Replica => "replica",
        }
    }
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// First per-node non-TLS port (Azure documents 13000+n for node n).
pub const NODE_PLAIN_PORT_BASE: u16 = 13000;
/// First per-node TLS port (Azure documents 15000+n for node n).
pub const NODE_TLS_PORT_BASE: u16 = 15000;

/// A cache's nodes: how many (1 or 2) and which one is primary (its index, 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nodes {
    /// 1 (no replica) or 2 (primary + replica).
    pub count: u8,
    /// The index of the primary node.
    pub primary: u8,
}

impl Default for Nodes {
    fn default() -> Nodes {
        Nodes::single()
    }
}

impl Nodes {
    /// One node (Basic, or managed-redis without high availability).
    pub fn single() -> Nodes {
        Nodes {
            count: 1,
            primary: 0,
        }
    }

    /// A primary (node 0) and a replica (node 1).
    pub fn replicated() -> Nodes {
        Nodes {
            count: 2,
            primary: 0,
        }
    }

    /// Whether the cache has a replica.
    pub fn has_replica(self) -> bool {
        self.count > 1
    }

    /// The replica's index, if there is one.
    pub fn replica(self) -> Option<u8> {
        self.has_replica().then_some(1 - self.primary.min(1))
    }

    /// Node `index`'s role.
    pub fn role(self, index: u8) -> NodeRole {
        if index == self.primary {
            NodeRole::Primary
        } else {
            NodeRole::Replica
        }
    }

    /// The node that has `role` now, if any.
    pub fn node(self, role: NodeRole) -> Option<u8> {
        match role {
            NodeRole::Primary => Some(self.primary),
            NodeRole::Replica => self.replica(),
        }
    }

    /// The replica takes the primary role (and the old primary becomes the replica).
    pub fn swapped(self) -> Nodes {
        match self.replica() {
            Some(r) => Nodes {
                count: self.count,
                primary: r,
            },
            None => self,
        }
    }

    /// az's `instances`: one entry per node, with Azure's per-node ports.
    pub fn instances(self, non_tls_port: bool) -> Vec<Instance> {
        (0..self.count)
            .map(|i| Instance {
                is_master: i == self.primary,
                is_primary: i == self.primary,
                non_ssl_port: non_tls_port.then_some(NODE_PLAIN_PORT_BASE + u16::from(i)),
                ssl_port: NODE_TLS_PORT_BASE + u16::from(i),
                shard_id: None,
                zone: None,
            })
            .collect()
    }
}

/// One entry of az's `instances` (`RedisInstanceDetails`: `isMaster`, `isPrimary`, `nonSslPort`
/// only when the non-TLS port is enabled, `sslPort`, `shardId` only when clustered, `zone` only with
/// availability zones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// Whether the node is the primary (az's older name).
    pub is_master: bool,
    /// Whether the node is the primary.
    pub is_primary: bool,
    /// The node's own non-TLS port (when the cache serves non-TLS).
    pub non_ssl_port: Option<u16>,
    /// The node's own TLS port.
    pub ssl_port: u16,
    /// The shard (clustered caches only).
    pub shard_id: Option<u32>,
    /// The availability zone (none are simulated).
    pub zone: Option<String>,
}

/// The replication link from a cache's primary to its replica, as a lab sets it: healthy, slowed
/// (`latency_ms`: the primary's stream reaches the replica that much later, so a failover inside
/// that window loses the writes not yet across, unless the client used `WAIT`), or cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationLink {
    /// Delay added to the primary → replica stream, in milliseconds (0 = none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub latency_ms: u64,
    /// The link is cut: the replica keeps its data but receives nothing new.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl fmt::Display for ReplicationLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.cut, self.latency_ms) {
            (true, _) => f.write_str("cut"),
            (false, 0) => f.write_str("healthy"),
            (false, ms) => write!(f, "{ms} ms behind"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_swaps_roles_and_instances_follow() {
        let n = Nodes::replicated();
        assert_eq!(n.replica(), Some(1));
        let after = n.swapped();
        assert_eq!(after.primary, 1);
        assert_eq!(after.role(0), NodeRole::Replica);
        let inst = after.instances(false);
        assert!(!inst[0].is_primary && inst[1].is_primary);
        assert_eq!(inst[1].ssl_port, 15001);
        assert_eq!(inst[1].non_ssl_port, None);
        assert_eq!(Nodes::single().swapped(), Nodes::single());
    }

    #[test]
    fn instance_json_is_azs() {
        let j = serde_json::to_value(&Nodes::replicated().instances(true)[0]).expect("json");
        assert_eq!(
            j,
            serde_json::json!({"isMaster": true, "isPrimary": true, "nonSslPort": 13000,
                "sslPort": 15000, "shardId": null, "zone": null})
        );
        assert_eq!(Sku::parse("Standard"), Ok(Sku::Standard));
        assert!(Sku::parse("standard").is_err());
    }
}
