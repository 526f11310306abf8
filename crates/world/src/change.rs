//! The one vocabulary of world changes: [`Change`] is what a scenario's `[[step]]` writes
//! (`change = [...]`), what `redlink ctl` sends to the control API (`WORLD.CHANGE <json>`), and
//! what the timeline, the control API and the dashboard apply (through
//! `RunningWorld::apply_change`), so a change means the same thing wherever it comes from.
//! [`Change::apply`] mutates a [`World`] completely or not at all and says what it did.
//!
//! # The JSON shape (stable)
//!
//! A change is an object with one key, the change's name in snake_case, whose value is a string
//! (the one name the change needs) or an object with the same keys as the TOML table; absent
//! optional keys are left out (`null` is accepted for them too), unknown keys are refused:
//!
//! ```json
//! {"approve": "pe-hub"}
//! {"reject": "pe-hub"}            {"disconnect": "pe-hub"}         {"delete_endpoint": "pe-old"}
//! {"endpoint_state": {"endpoint": "pe-hub", "state": "Pending"}}
//! {"create_endpoint": {"name": "pe-2", "network": "spoke", "cache": "contoso",
//!                      "state": "Approved", "register_in": "privatelink.redis.cache.windows.net"}}
//! {"add_zone": "privatelink.redis.cache.windows.net"}   {"remove_zone": "…"}
//! {"link": {"zone": "…", "network": "spoke", "name": "spoke-link", "resolution_policy": "Default"}}
//! {"unlink": {"zone": "…", "network": "spoke"}}
//! {"resolution_policy": {"zone": "…", "network": "spoke", "policy": "NxDomainRedirect"}}
//! {"add_record": {"zone": "…", "name": "contoso", "address": "127.10.1.4", "ttl": 10}}
//! {"add_record": {"zone": "…", "name": "contoso", "endpoint": "pe-hub"}}
//! {"remove_record": {"zone": "…", "name": "contoso", "address": "127.10.1.4"}}
//! {"public_access": {"cache": "contoso", "access": "Disabled", "blocked_action": "drop"}}
//! {"add_rule": {"name": "deny-spoke", "priority": 100, "source": "spoke",
//!               "destination": "pe-hub", "port": 6380, "action": "deny", "deny_as": "reset"}}
//! {"remove_rule": "deny-spoke"}
//! {"stop": "contoso"}              {"start": "contoso"}
//! {"reboot": {"cache": "contoso", "node": "all"}}      (node: all | primary | replica)
//! {"failover": "contoso"}
//! {"maintenance": {"cache": "contoso", "node": "primary"}}
//! {"replication": {"cache": "contoso", "latency_ms": 2000}}    {"replication": {"cache": "contoso", "cut": true}}
//! {"scale": {"cache": "contoso", "shards": 4}}
//! {"config": {"cache": "contoso", "requirepass": "s3cret", "maxclients": 50}}
//! {"forwarder_answer": {"network": "onprem", "name": "contoso.redis.cache.windows.net",
//!                       "address": "127.10.1.4", "ttl": 60}}
//! {"forwarder_answer": {"network": "onprem", "name": "…", "remove": true}}
//! {"add_toxic": {"name": "slow", "endpoint": "pe-hub", "kind": "latency", "latency_ms": 200}}
//! {"add_toxic": {"name": "cut", "kind": "limit_data", "bytes": 1024}}     (also slow_close
//!               with delay_ms, reset_peer with timeout_ms, reset_after, timeout, bandwidth, slicer)
//! {"remove_toxic": "slow"}
//! {"peer": {"network": "spoke", "remote": "hub", "name": "spoke-to-hub"}}
//! {"unpeer": {"network": "spoke", "remote": "hub"}}
//! {"add_firewall_rule": {"cache": "contoso", "name": "office", "start": "127.11.2.1", "end": "127.11.2.1"}}
//! {"remove_firewall_rule": {"cache": "contoso", "name": "office"}}
//! {"forwarder": {"network": "onprem", "forwards_to": "hub",
//!                "forward": [{"zone": "privatelink.redis.cache.windows.net", "to": "hub"},
//!                            {"zone": ".", "to": "internet"}]}}
//! {"non_tls_port": {"cache": "contoso", "enabled": true}}
//! {"minimum_tls_version": {"cache": "contoso", "version": "1.2"}}
//! {"advance": "30m"}
//! ```
//!
//! `advance` moves the world's clock (a manual one: `up --clock manual`, `check`) instead of the
//! world model: keys expire, cached DNS answers go stale, blocked clients time out and later
//! timeline steps come due (`RunningWorld::advance_clock`); a real-time clock refuses it.
//!
//! Enum values are spelled as in the scenario file and the world's JSON (`Approved`,
//! `NxDomainRedirect`, `Enabled`, `drop`, `deny`, `upstream`, `reset_after`).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::WorldError;
use crate::model::{
    BlockedAction, ConnectionState, DenyAs, FirewallRule, ForwardRule, NetworkRule, PeeringState,
    PublicNetworkAccess, ResolutionPolicy, RuleAction, World,
};
use crate::nodes::{NodeRole, ReplicationLink};
use crate::persistence::RebootNodes;
use crate::toxic::{Toxic, ToxicDirection, ToxicKind, Toxicity};
use crate::toxic::{ToxicKindName, ToxicSpec};

/// `{ zone, network }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneNetwork {
    /// The zone.
    pub zone: String,
    /// The network.
    pub network: String,
}

/// `link = { zone, network, name?, resolution_policy? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkChange {
    /// The zone.
    pub zone: String,
    /// The network.
    pub network: String,
    /// The link's name (default `NETWORK-link`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its resolution policy.
    #[serde(default)]
    pub resolution_policy: ResolutionPolicy,
}

/// `resolution_policy = { zone, network, policy }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    /// The zone.
    pub zone: String,
    /// The linked network.
    pub network: String,
    /// The new policy.
    pub policy: ResolutionPolicy,
}

/// `add_record = { zone, name, address | endpoint, ttl? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordChange {
    /// The zone.
    pub zone: String,
    /// The record name, relative to the zone (or the full name).
    pub name: String,
    /// A literal 127/8 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
    /// The address of this private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// `remove_record = { zone, name, address? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRef {
    /// The zone.
    pub zone: String,
    /// The record name.
    pub name: String,
    /// Only the record with this address (default: every record of the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
}

/// `endpoint_state = { endpoint, state }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// The private endpoint.
    pub endpoint: String,
    /// Its new state.
    pub state: ConnectionState,
}

/// `create_endpoint = { name, network, cache, state?, register_in? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Its name.
    pub name: String,
    /// Its network.
    pub network: String,
    /// Its cache.
    pub cache: String,
    /// Its state (default Pending: a connection request to another owner's cache).
    #[serde(default = "pending")]
    pub state: ConnectionState,
    /// The zone its DNS zone group registers the cache's A record in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_in: Option<String>,
}

fn pending() -> ConnectionState {
    ConnectionState::Pending
}

/// `public_access = { cache, access, blocked_action? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessChange {
    /// The cache.
    pub cache: String,
    /// Enabled or Disabled.
    pub access: PublicNetworkAccess,
    /// What blocked clients see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_action: Option<BlockedAction>,
}

/// `add_rule = { name, priority, source?, destination?, port?, action, deny_as? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleChange {
    /// Unique name.
    pub name: String,
    /// 100–4096.
    pub priority: u16,
    /// Source network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Destination endpoint or cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Allow or deny.
    pub action: RuleAction,
    /// How a deny fails.
    #[serde(default)]
    pub deny_as: DenyAs,
}

/// `config = { cache, requirepass?, maxclients? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigChange {
    /// The cache.
    pub cache: String,
    /// New password (`""` = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirepass: Option<String>,
    /// New client limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxclients: Option<u32>,
}

/// `reboot = { cache, node? }`: restart the cache's engine (see [`RebootNodes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebootChange {
    /// The cache.
    pub cache: String,
    /// Which nodes (default all).
    #[serde(default)]
    pub node: RebootNodes,
}

/// `maintenance = { cache, node? }`: Azure's planned maintenance of one node (default the primary).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceChange {
    /// The cache.
    pub cache: String,
    /// The node maintained (default the primary: a failover).
    #[serde(default = "primary_node")]
    pub node: NodeRole,
}

fn primary_node() -> NodeRole {
    NodeRole::Primary
}

/// `replication = { cache, latency_ms?, cut? }`: the primary → replica link (absent keys: healthy).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationChange {
    /// The cache.
    pub cache: String,
    /// Delay of the primary's stream to the replica, in milliseconds (0 = none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Cut the link (the replica receives nothing new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<bool>,
}

/// `scale = { cache, shards }`: reshard a clustered cache live (`az redis update --shard-count`);
/// slots move to the new layout while clients run and see `-ASK`/`-MOVED`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleChange {
    /// The cache.
    pub cache: String,
    /// The new shard count.
    pub shards: u16,
}

/// `forwarder_answer = { network, name, address | endpoint | remove = true, ttl? }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwarderAnswerChange {
    /// The network whose forwarder changes.
    pub network: String,
    /// The host name.
    pub name: String,
    /// A literal 127/8 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Ipv4Addr>,
    /// The address of this private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Remove the static answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove: bool,
    /// TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// `add_toxic = { name, endpoint?, network?, kind, direction?, <the kind's parameters> }`: the
/// keys of a `[[toxic]]` table, without spans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToxicChange {
    /// Unique name.
    pub name: String,
    /// A private endpoint or a cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// A source network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// What it does.
    pub kind: ToxicKindName,
    /// Which way (default downstream).
    #[serde(default)]
    pub direction: ToxicDirection,
    /// latency: added delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// latency: variation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u64>,
    /// bandwidth: KB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_kbps: Option<u64>,
    /// slicer: average piece size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_size: Option<u64>,
    /// slicer: delay between pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_us: Option<u64>,
    /// reset_after: bytes before the reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// timeout: milliseconds before the reset (0 = hold forever); reset_peer: after the first
    /// bytes (0 = at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// slow_close: how long the close is held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The fraction of connections it applies to, 0 to 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<Toxicity>,
}

impl From<&ToxicSpec> for ToxicChange {
    fn from(t: &ToxicSpec) -> Self {
        ToxicChange {
            name: t.name.get_ref().clone(),
            endpoint: t.endpoint.as_ref().map(|e| e.get_ref().clone()),
            network: t.network.as_ref().map(|n| n.get_ref().clone()),
            kind: *t.kind.get_ref(),
            direction: t.direction,
            latency_ms: t.latency_ms,
            jitter_ms: t.jitter_ms,
            rate_kbps: t.rate_kbps,
            avg_size: t.avg_size,
            delay_us: t.delay_us,
            bytes: t.bytes,
            timeout_ms: t.timeout_ms,
            delay_ms: t.delay_ms,
            toxicity: t.toxicity,
        }
    }
}

impl ToxicChange {
    /// The toxic's kind with its parameters, or why the table does not describe one.
    pub fn toxic_kind(&self) -> Result<ToxicKind, String> {
        let given: [(&str, Option<u64>); 8] = [
            ("latency_ms", self.latency_ms),
            ("jitter_ms", self.jitter_ms),
            ("rate_kbps", self.rate_kbps),
            ("avg_size", self.avg_size),
            ("delay_us", self.delay_us),
            ("bytes", self.bytes),
            ("timeout_ms", self.timeout_ms),
            ("delay_ms", self.delay_ms),
        ];
        let (kind, allowed): (&str, &[&str]) = match self.kind {
            ToxicKindName::Latency => ("latency", &["latency_ms", "jitter_ms"]),
            ToxicKindName::Bandwidth => ("bandwidth", &["rate_kbps"]),
            ToxicKindName::Slicer => ("slicer", &["avg_size", "delay_us"]),
            ToxicKindName::ResetAfter => ("reset_after", &["bytes"]),
            ToxicKindName::Timeout => ("timeout", &["timeout_ms"]),
            ToxicKindName::LimitData => ("limit_data", &["bytes"]),
            ToxicKindName::SlowClose => ("slow_close", &["delay_ms"]),
            ToxicKindName::ResetPeer => ("reset_peer", &["timeout_ms"]),
        };
        if let Some((field, _)) = given
            .iter()
            .find(|(f, v)| v.is_some() && !allowed.contains(f))
        {
            return Err(format!(
                "toxic {}: {field} does not apply to kind {kind} (it takes {})",
                self.name,
                allowed.join(", ")
            ));
        }
        let need = |field: &str, v: Option<u64>| {
            v.ok_or_else(|| format!("toxic {}: kind {kind} needs {field}", self.name))
        };
        Ok(match self.kind {
            ToxicKindName::Latency => ToxicKind::Latency {
                latency_ms: need("latency_ms", self.latency_ms)?,
                jitter_ms: self.jitter_ms.unwrap_or(0),
            },
            ToxicKindName::Bandwidth => ToxicKind::Bandwidth {
                rate_kbps: need("rate_kbps", self.rate_kbps)?,
            },
            ToxicKindName::Slicer => ToxicKind::Slicer {
                avg_size: need("avg_size", self.avg_size)?,
                delay_us: self.delay_us.unwrap_or(0),
            },
            ToxicKindName::ResetAfter => ToxicKind::ResetAfter {
                bytes: need("bytes", self.bytes)?,
            },
            ToxicKindName::Timeout => ToxicKind::Timeout {
                timeout_ms: need("timeout_ms", self.timeout_ms)?,
            },
            ToxicKindName::LimitData => ToxicKind::LimitData {
                bytes: need("bytes", self.bytes)?,
            },
            ToxicKindName::SlowClose => ToxicKind::SlowClose {
                delay_ms: need("delay_ms", self.delay_ms)?,
            },
            ToxicKindName::ResetPeer => ToxicKind::ResetPeer {
                timeout_ms: self.timeout_ms.unwrap_or(0),
            },
        })
    }
}

/// `peer = { network, remote }` / `unpeer = { network, remote }`: one side of a peering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeeringChange {
    /// The network whose side this is.
    pub network: String,
    /// The remote network.
    pub remote: String,
    /// The side's name (`peer` only; default `NETWORK-to-REMOTE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `add_firewall_rule = { cache, name, start, end }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRuleChange {
    /// The cache.
    pub cache: String,
    /// Rule name (unique in the cache).
    pub name: String,
    /// First address admitted.
    pub start: Ipv4Addr,
    /// Last address admitted.
    pub end: Ipv4Addr,
}

/// `remove_firewall_rule = { cache, name }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRuleRef {
    /// The cache.
    pub cache: String,
    /// Rule name.
    pub name: String,
}

/// `forwarder = { network, name?, forwards_to?, forward? }`: where a network's custom DNS
/// forwarder sends what its static table does not answer (created when the network has none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwarderChange {
    /// The network whose forwarder changes.
    pub network: String,
    /// The forwarder's name (kept when absent; `custom-dns` for a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whose Azure-provided DNS answers names no rule takes (absent: the network's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwards_to: Option<String>,
    /// Conditional forwarding rules (replacing the old ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<ForwardRule>,
}

/// `non_tls_port = { cache, enabled }` (Azure's `enableNonSslPort`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonTlsPortChange {
    /// The cache.
    pub cache: String,
    /// Serve the plain-text port.
    pub enabled: bool,
}

/// `minimum_tls_version = { cache, version }` (Azure's `minimumTlsVersion`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsVersionChange {
    /// The cache.
    pub cache: String,
    /// `"1.2"` (Azure refuses 1.0 and 1.1).
    pub version: String,
}

/// One change of a step: a table with one key naming the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Link a private DNS zone to a network.
    Link(LinkChange),
    /// Remove a zone's link to a network.
    Unlink(ZoneNetwork),
    /// Change a link's resolution policy.
    ResolutionPolicy(PolicyChange),
    /// Create an empty private DNS zone.
    AddZone(String),
    /// Delete a private DNS zone (records and links with it).
    RemoveZone(String),
    /// Add an A record.
    AddRecord(RecordChange),
    /// Remove the A records of a name.
    RemoveRecord(RecordRef),
    /// Set a private endpoint's state to Approved.
    Approve(String),
    /// Set a private endpoint's state to Rejected.
    Reject(String),
    /// Set a private endpoint's state to Disconnected.
    Disconnect(String),
    /// Set a private endpoint's state.
    EndpointState(StateChange),
    /// Create a private endpoint.
    CreateEndpoint(NewEndpoint),
    /// Delete a private endpoint.
    DeleteEndpoint(String),
    /// Set a cache's public network access.
    PublicAccess(PublicAccessChange),
    /// Add a network rule.
    AddRule(RuleChange),
    /// Remove a network rule.
    RemoveRule(String),
    /// Stop a cache.
    Stop(String),
    /// Start a cache.
    Start(String),
    /// Change a cache's requirepass / maxclients (pushed to its engine).
    Config(ConfigChange),
    /// Reboot a cache: its engine restarts, open connections close, and the data comes back only
    /// if the cache persists it.
    Reboot(RebootChange),
    /// Reshard a clustered cache live.
    Scale(ScaleChange),
    /// Set or remove a forwarder's static answer.
    ForwarderAnswer(ForwarderAnswerChange),
    /// Add a toxic (the same keys as a `[[toxic]]` table).
    AddToxic(ToxicChange),
    /// Remove a toxic.
    RemoveToxic(String),
    /// Create one side of a peering (Initiated until the remote side exists, then Connected).
    Peer(PeeringChange),
    /// Delete one side of a peering (a Connected remote side becomes Disconnected).
    Unpeer(PeeringChange),
    /// Add a firewall rule to a cache's public endpoint.
    AddFirewallRule(FirewallRuleChange),
    /// Remove a firewall rule.
    RemoveFirewallRule(FirewallRuleRef),
    /// Set a network's forwarder targets (default target and conditional forwarding rules).
    Forwarder(ForwarderChange),
    /// Serve or stop serving a cache's non-TLS port.
    NonTlsPort(NonTlsPortChange),
    /// Set a cache's minimum TLS version.
    MinimumTlsVersion(TlsVersionChange),
    /// Promote a cache's replica (its connections close; the old primary follows the new one).
    Failover(String),
    /// Run Azure's planned maintenance of one node of a cache (notifications, then a failover
    /// when the primary is maintained).
    Maintenance(MaintenanceChange),
    /// Slow down, cut or heal a cache's replication link.
    Replication(ReplicationChange),
    /// Move the world's manual clock forward by this much (`500ms`, `30s`, `30m`, `6h`).
    Advance(crate::expect::Offset),
}

/// The changes' names, as written in TOML and JSON (`{"approve": …}`), in declaration order.
pub const NAMES: &[&str] = &[
    "link",
    "unlink",
    "resolution_policy",
    "add_zone",
    "remove_zone",
    "add_record",
    "remove_record",
    "approve",
    "reject",
    "disconnect",
    "endpoint_state",
    "create_endpoint",
    "delete_endpoint",
    "public_access",
    "add_rule",
    "remove_rule",
    "stop",
    "start",
    "config",
    "reboot",
    "scale",
    "forwarder_answer",
    "add_toxic",
    "remove_toxic",
    "peer",
    "unpeer",
    "add_firewall_rule",
    "remove_firewall_rule",
    "forwarder",
    "non_tls_port",
    "minimum_tls_version",
    "failover",
    "maintenance",
    "replication",
    "advance",
];

/// What an `advance` change reports (no clock time in it: the same scenario gives the same report
/// on every run).
pub fn advanced(by: std::time::Duration) -> String {
    format!("advanced the clock by {}", crate::expect::Offset(by))
}

fn endpoint_address(world: &World, endpoint: &str) -> Result<Ipv4Addr, WorldError> {
    world
        .private_endpoint(endpoint)
        .map(|e| e.address)
        .ok_or_else(|| WorldError::UnknownEndpoint(endpoint.to_owned()))
}

fn one_address(
    world: &World,
    address: Option<Ipv4Addr>,
    endpoint: Option<&str>,
    what: &str,
) -> Result<Ipv4Addr, WorldError> {
    match (address, endpoint) {
        (Some(a), None) => Ok(a),
        (None, Some(e)) => endpoint_address(world, e),
        _ => Err(WorldError::Invalid(format!(
            "{what} needs exactly one of `address` and `endpoint`"
        ))),
    }
}

impl Change {
    /// The change's name, as written in TOML and JSON (one of [`NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            Change::Link(_) => "link",
            Change::Unlink(_) => "unlink",
            Change::ResolutionPolicy(_) => "resolution_policy",
            Change::AddZone(_) => "add_zone",
            Change::RemoveZone(_) => "remove_zone",
            Change::AddRecord(_) => "add_record",
            Change::RemoveRecord(_) => "remove_record",
            Change::Approve(_) => "approve",
            Change::Reject(_) => "reject",
            Change::Disconnect(_) => "disconnect",
            Change::EndpointState(_) => "endpoint_state",
            Change::CreateEndpoint(_) => "create_endpoint",
            Change::DeleteEndpoint(_) => "delete_endpoint",
            Change::PublicAccess(_) => "public_access",
            Change::AddRule(_) => "add_rule",
            Change::RemoveRule(_) => "remove_rule",
            Change::Stop(_) => "stop",
            Change::Start(_) => "start",
            Change::Config(_) => "config",
            Change::Reboot(_) => "reboot",
            Change::Scale(_) => "scale",
            Change::ForwarderAnswer(_) => "forwarder_answer",
            Change::AddToxic(_) => "add_toxic",
            Change::RemoveToxic(_) => "remove_toxic",
            Change::Peer(_) => "peer",
            Change::Unpeer(_) => "unpeer",
            Change::AddFirewallRule(_) => "add_firewall_rule",
            Change::RemoveFirewallRule(_) => "remove_firewall_rule",
            Change::Forwarder(_) => "forwarder",
            Change::NonTlsPort(_) => "non_tls_port",
            Change::MinimumTlsVersion(_) => "minimum_tls_version",
            Change::Failover(_) => "failover",
            Change::Maintenance(_) => "maintenance",
            Change::Replication(_) => "replication",
            Change::Advance(_) => "advance",
        }
    }

    /// Applies the change to `world` (completely, or not at all with an error) and says what it did.
    pub fn apply(&self, world: &mut World) -> Result<String, WorldError> {
        Ok(match self {
            Change::Link(l) => {
                world.link_zone(&l.zone, &l.network, l.name.as_deref(), l.resolution_policy)?;
                format!("linked zone {} to network {}", l.zone, l.network)
            }
            Change::Unlink(u) => {
                let link = world.unlink_zone(&u.zone, &u.network)?;
                format!(
                    "unlinked zone {} from network {} (link {})",
                    u.zone, u.network, link.name
                )
            }
            Change::ResolutionPolicy(p) => {
                world.set_resolution_policy(&p.zone, &p.network, p.policy)?;
                format!(
                    "set the resolution policy of zone {}'s link to {} to {}",
                    p.zone, p.network, p.policy
                )
            }
            Change::AddZone(z) => {
                world.add_zone(z)?;
                format!("created private DNS zone {z}")
            }
            Change::RemoveZone(z) => {
                let removed = world.remove_zone(z)?;
                format!(
                    "deleted private DNS zone {z} ({} records, {} links)",
                    removed.records.len(),
                    removed.links.len()
                )
            }
            Change::AddRecord(r) => {
                let address = one_address(world, r.address, r.endpoint.as_deref(), "add_record")?;
                world.add_record(&r.zone, &r.name, address, r.ttl)?;
                match &r.endpoint {
                    Some(e) => format!(
                        "added A record {} → {address} ({e}) to zone {}",
                        r.name, r.zone
                    ),
                    None => format!("added A record {} → {address} to zone {}", r.name, r.zone),
                }
            }
            Change::RemoveRecord(r) => {
                let removed = world.remove_record(&r.zone, &r.name, r.address)?;
                format!(
                    "removed {} A record(s) {} from zone {}",
                    removed.len(),
                    r.name,
                    r.zone
                )
            }
            Change::Approve(e) => set_state(world, e, ConnectionState::Approved)?,
            Change::Reject(e) => set_state(world, e, ConnectionState::Rejected)?,
            Change::Disconnect(e) => set_state(world, e, ConnectionState::Disconnected)?,
            Change::EndpointState(s) => set_state(world, &s.endpoint, s.state)?,
            Change::CreateEndpoint(e) => {
                let address = world.add_private_endpoint(
                    &e.name,
                    &e.network,
                    &e.cache,
                    e.state,
                    None,
                    e.register_in.as_deref(),
                )?;
                let registered = e
                    .register_in
                    .as_ref()
                    .map(|z| format!(", registered in zone {z}"))
                    .unwrap_or_default();
                format!(
                    "created private endpoint {} in {} for cache {} at {address} ({}){registered}",
                    e.name, e.network, e.cache, e.state
                )
            }
            Change::DeleteEndpoint(e) => {
                world.remove_private_endpoint(e)?;
                format!("deleted private endpoint {e}")
            }
            Change::PublicAccess(p) => {
                world.set_public_access(&p.cache, p.access, p.blocked_action)?;
                let blocked = world
                    .cache(&p.cache)
                    .map(|c| c.public_blocked_action.to_string())
                    .unwrap_or_default();
                match p.access {
                    PublicNetworkAccess::Enabled => {
                        format!("enabled public network access of cache {}", p.cache)
                    }
                    PublicNetworkAccess::Disabled => format!(
                        "disabled public network access of cache {} (blocked clients: {blocked})",
                        p.cache
                    ),
                }
            }
            Change::AddRule(r) => {
                world.add_rule(NetworkRule {
                    name: r.name.clone(),
                    priority: r.priority,
                    source: r.source.clone(),
                    destination: r.destination.clone(),
                    port: r.port,
                    action: r.action,
                    deny_as: r.deny_as,
                })?;
                format!("added network rule {}", r.name)
            }
            Change::RemoveRule(r) => {
                world.remove_rule(r)?;
                format!("removed network rule {r}")
            }
            Change::Stop(c) => {
                world.set_cache_running(c, false)?;
                format!("stopped cache {c}")
            }
            Change::Start(c) => {
                world.set_cache_running(c, true)?;
                format!("started cache {c}")
            }
            Change::Config(c) => {
                if c.requirepass.is_none() && c.maxclients.is_none() {
                    return Err(WorldError::Invalid(
                        "config needs requirepass or maxclients".to_owned(),
                    ));
                }
                let mut done = Vec::new();
                if let Some(n) = c.maxclients {
                    world.set_maxclients(&c.cache, n)?;
                    done.push(format!("maxclients {n}"));
                }
                if let Some(p) = &c.requirepass {
                    world.set_requirepass(&c.cache, Some(p))?;
                    done.push(if p.is_empty() {
                        "no requirepass".to_owned()
                    } else {
                        "a new requirepass".to_owned()
                    });
                }
                format!("set {} on cache {}", done.join(" and "), c.cache)
            }
            Change::Reboot(r) => {
                let cache = world
                    .cache(&r.cache)
                    .ok_or_else(|| WorldError::UnknownCache(r.cache.clone()))?;
                if r.node != RebootNodes::All {
                    let what = format!(
                        "a reboot of the {} node ({})",
                        r.node.name(),
                        r.node.az_name()
                    );
                    world
                        .check_replicated(&r.cache, &what)
                        .map_err(|e| match e {
                            WorldError::Invalid(m) => {
                                WorldError::Invalid(format!("{m}; reboot node \"all\" (AllNodes)"))
                            }
                            e => e,
                        })?;
                    if r.node == RebootNodes::Replica {
                        return Ok(format!(
                            "rebooted the replica node of cache {}: it restarts and resynchronises from the primary; clients stay connected",
                            r.cache
                        ));
                    }
                    let primary = world.failover(&r.cache)?;
                    return Ok(format!(
                        "rebooted the primary node of cache {}: the replica (node {primary}) is promoted, every client connection is closed, and the old primary restarts as its replica",
                        r.cache
                    ));
                }
                if cache.maintenance.is_some() {
                    world.check_replicated(&r.cache, "a reboot")?;
                }
                if !cache.running {
                    return Err(WorldError::Invalid(format!(
                        "cache {} is stopped: there is no engine to reboot (start it instead)",
                        r.cache
                    )));
                }
                let data = match cache.persistence {
                    Some(p) => format!("its data comes back from the last snapshot ({p})"),
                    None => "its data is lost (no persistence)".to_owned(),
                };
                format!("rebooted cache {} (all nodes): {data}", r.cache)
            }
            Change::Scale(c) => {
                let before = world.set_shards(&c.cache, c.shards)?;
                format!(
                    "resharding cache {} from {before} to {} shards",
                    c.cache, c.shards
                )
            }
            Change::AddToxic(t) => {
                let toxic = Toxic {
                    name: t.name.clone(),
                    endpoint: t.endpoint.clone(),
                    network: t.network.clone(),
                    kind: t.toxic_kind().map_err(WorldError::Invalid)?,
                    direction: t.direction,
                    toxicity: t.toxicity.unwrap_or_default(),
                };
                let text = toxic.to_string();
                world.add_toxic(toxic)?;
                format!("added toxic {text}")
            }
            Change::RemoveToxic(name) => {
                let removed = world.remove_toxic(name)?;
                format!("removed toxic {removed}")
            }
            Change::Peer(p) => {
                match world.create_peering(&p.network, &p.remote, p.name.as_deref())? {
                    PeeringState::Connected => format!(
                        "created peering {} → {}: Connected (both sides exist)",
                        p.network, p.remote
                    ),
                    state => format!(
                        "created peering {} → {}: {state} ({} has no peering to {} yet, so no traffic flows)",
                        p.network, p.remote, p.remote, p.network
                    ),
                }
            }
            Change::Unpeer(p) => match world.delete_peering(&p.network, &p.remote)? {
                PeeringState::Connected => format!(
                    "deleted peering {} → {}; {}'s side is now Disconnected",
                    p.network, p.remote, p.remote
                ),
                state => format!(
                    "deleted peering {} → {} (it was {state})",
                    p.network, p.remote
                ),
            },
            Change::AddFirewallRule(r) => {
                world.add_firewall_rule(
                    &r.cache,
                    FirewallRule {
                        name: r.name.clone(),
                        start: r.start,
                        end: r.end,
                    },
                )?;
                format!(
                    "added firewall rule {} ({} – {}) to cache {}",
                    r.name, r.start, r.end, r.cache
                )
            }
            Change::RemoveFirewallRule(r) => {
                world.remove_firewall_rule(&r.cache, &r.name)?;
                format!("removed firewall rule {} of cache {}", r.name, r.cache)
            }
            Change::Forwarder(f) => {
                world.set_forwarder_targets(
                    &f.network,
                    f.name.as_deref(),
                    f.forwards_to.as_deref(),
                    f.forward.clone(),
                )?;
                let default = f.forwards_to.as_deref().unwrap_or(&f.network);
                let rules: Vec<String> = f
                    .forward
                    .iter()
                    .map(|r| format!("{} → {}", r.zone, r.to))
                    .collect();
                if rules.is_empty() {
                    format!(
                        "{}'s forwarder now forwards to Azure-provided DNS of {default}",
                        f.network
                    )
                } else {
                    format!(
                        "{}'s forwarder now forwards {} (other names to Azure-provided DNS of {default})",
                        f.network,
                        rules.join(", ")
                    )
                }
            }
            Change::NonTlsPort(p) => {
                world.set_non_tls_port(&p.cache, p.enabled)?;
                let port = world
                    .cache(&p.cache)
                    .map(|c| c.flavour.default_port())
                    .unwrap_or_default();
                if p.enabled {
                    format!("cache {} now serves its non-TLS port {port}", p.cache)
                } else {
                    format!("cache {} no longer serves its non-TLS port", p.cache)
                }
            }
            // The model has no clock: the running world moves its clock (and says to what time).
            Change::Advance(by) => advanced(by.0),
            Change::MinimumTlsVersion(v) => {
                world.set_minimum_tls_version(&v.cache, &v.version)?;
                format!(
                    "set the minimum TLS version of cache {} to {}",
                    v.cache, v.version
                )
            }
            Change::Failover(c) => {
                let primary = world.failover(c)?;
                if world.cache(c).is_some_and(|m| m.shards.is_some()) {
                    return Ok(format!(
                        "failed over cache {c}: in every shard the replica is the primary now, every client connection was closed, and the old primaries follow them"
                    ));
                }
                format!(
                    "failed over cache {c}: the replica (node {primary}) is the primary now, every client connection was closed, and the old primary follows it"
                )
            }
            Change::Maintenance(m) => {
                world.begin_maintenance(&m.cache, m.node)?;
                let c = world
                    .cache(&m.cache)
                    .ok_or_else(|| WorldError::UnknownCache(m.cache.clone()))?;
                let effect = match (m.node, c.nodes.has_replica()) {
                    (NodeRole::Primary, true) => {
                        "the replica is promoted and connections close when it starts"
                    }
                    (NodeRole::Primary, false) => {
                        "the only node restarts: connections close and data without persistence is lost"
                    }
                    (NodeRole::Replica, _) => "the replica restarts; clients stay connected",
                };
                format!(
                    "maintenance of the {} node of cache {} scheduled: {effect}",
                    m.node, m.cache
                )
            }
            Change::Replication(r) => {
                let link = ReplicationLink {
                    latency_ms: r.latency_ms.unwrap_or(0),
                    cut: r.cut.unwrap_or(false),
                };
                world.set_replication(&r.cache, link)?;
                format!("the replication link of cache {} is {link}", r.cache)
            }
            Change::ForwarderAnswer(f) => {
                if f.remove {
                    if f.address.is_some() || f.endpoint.is_some() {
                        return Err(WorldError::Invalid(
                            "forwarder_answer: `remove` goes without `address` and `endpoint`"
                                .to_owned(),
                        ));
                    }
                    world.set_forwarder_answer(&f.network, &f.name, None, None)?;
                    format!("removed {}'s forwarder answer for {}", f.network, f.name)
                } else {
                    let address =
                        one_address(world, f.address, f.endpoint.as_deref(), "forwarder_answer")?;
                    world.set_forwarder_answer(&f.network, &f.name, Some(address), f.ttl)?;
                    format!(
                        "{}'s forwarder now answers {} with {address}{}",
                        f.network,
                        f.name,
                        f.endpoint
                            .as_ref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    )
                }
            }
        })
    }

    /// How far this change moves the world's clock.
    pub fn advance(&self) -> Option<std::time::Duration> {
        match self {
            Change::Advance(by) => Some(by.0),
            _ => None,
        }
    }

    /// The cache and nodes this change reboots.
    pub fn reboot(&self) -> Option<(&str, RebootNodes)> {
        match self {
            Change::Reboot(r) => Some((&r.cache, r.node)),
            _ => None,
        }
    }

    /// The cache this change fails over (its replica promoted), if it is a failover.
    pub fn failover(&self) -> Option<&str> {
        match self {
            Change::Failover(c) => Some(c),
            _ => None,
        }
    }

    /// The cache and node this change maintains.
    pub fn maintenance(&self) -> Option<(&str, NodeRole)> {
        match self {
            Change::Maintenance(m) => Some((&m.cache, m.node)),
            _ => None,
        }
    }

    /// The cache whose replication link this change sets.
    pub fn replication(&self) -> Option<&str> {
        match self {
            Change::Replication(r) => Some(&r.cache),
            _ => None,
        }
    }

    /// The cache and the shard count this change reshards it to.
    pub fn scale(&self) -> Option<(&str, u16)> {
        match self {
            Change::Scale(c) => Some((&c.cache, c.shards)),
            _ => None,
        }
    }

    /// The engine settings this change pushes to a cache's engine: `(cache, [(name, value)])`.
    pub fn engine_settings(&self) -> Option<(&str, Vec<(&'static str, String)>)> {
        let Change::Config(c) = self else {
            return None;
        };
        let mut out = Vec::new();
        if let Some(n) = c.maxclients {
            out.push(("maxclients", n.to_string()));
        }
        if let Some(p) = &c.requirepass {
            out.push(("requirepass", p.clone()));
            // A node that becomes a replica authenticates to its primary with it.
            out.push(("masterauth", p.clone()));
        }
        Some((&c.cache, out))
    }
}

fn set_state(
    world: &mut World,
    endpoint: &str,
    state: ConnectionState,
) -> Result<String, WorldError> {
    let before = world.set_endpoint_state(endpoint, state)?;
    Ok(format!("private endpoint {endpoint}: {before} → {state}"))
}

impl ToxicSpec {
    /// The toxic's kind with its parameters, or why the table does not describe one (the same
    /// rules as a toxic added by a change: [`ToxicChange::toxic_kind`]).
    pub fn toxic_kind(&self) -> Result<ToxicKind, String> {
        ToxicChange::from(self).toxic_kind()
    }
}
