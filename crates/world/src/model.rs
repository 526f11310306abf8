//! The world as plain data: networks, caches, private endpoints, private DNS zones and their links,
//! network rules. Built from a [`crate::Scenario`] by [`crate::World::build`]; every address is
//! allocated by then, so consumers never deal with "maybe an address".

use crate::backend::Backend;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::address::AddressPlan;
use crate::cluster_ports::{ClusterPolicy, NodePorts, PortScheme, Protocols};
use crate::flavour::Flavour;
use crate::names;

/// A private endpoint connection state, as Azure names them. Only `Approved` passes traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnectionState {
    /// Waiting for the cache owner's approval.
    Pending,
    /// Approved: traffic flows.
    #[default]
    Approved,
    /// Rejected by the cache owner.
    Rejected,
    /// The cache side removed the connection.
    Disconnected,
}

impl ConnectionState {
    /// Azure's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Pending => "Pending",
            ConnectionState::Approved => "Approved",
            ConnectionState::Rejected => "Rejected",
            ConnectionState::Disconnected => "Disconnected",
        }
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cache's `publicNetworkAccess`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PublicNetworkAccess {
    /// The public endpoint admits clients (subject to firewall rules).
    Enabled,
    /// The public endpoint admits nobody.
    Disabled,
}

impl PublicNetworkAccess {
    /// Azure's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            PublicNetworkAccess::Enabled => "Enabled",
            PublicNetworkAccess::Disabled => "Disabled",
        }
    }
}

impl fmt::Display for PublicNetworkAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a client whose connection is blocked at a public endpoint sees. Microsoft does not state it;
/// client reports against caches with public network access Disabled show connect timeouts, so the
/// default is [`BlockedAction::Drop`] (sources: docs/azure-behaviour.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockedAction {
    /// Connection refused (RST at once).
    Refuse,
    /// SYN unanswered: the client's connect times out (the default).
    #[default]
    Drop,
    /// Accepted, then reset: ECONNRESET at the first read or write.
    Reset,
    /// Accepted, then never answered: commands time out.
    Blackhole,
}

impl BlockedAction {
    /// The scenario file's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            BlockedAction::Refuse => "refuse",
            BlockedAction::Drop => "drop",
            BlockedAction::Reset => "reset",
            BlockedAction::Blackhole => "blackhole",
        }
    }
}

impl fmt::Display for BlockedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A zone link's fallback when the zone has no record for a name (Azure's `resolutionPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResolutionPolicy {
    /// A missing record is NXDOMAIN.
    #[default]
    Default,
    /// A missing record falls back to public (internet) resolution.
    NxDomainRedirect,
}

impl fmt::Display for ResolutionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResolutionPolicy::Default => "Default",
            ResolutionPolicy::NxDomainRedirect => "NxDomainRedirect",
        })
    }
}

/// Where the host (the terminal outside `redlink exec`: redis-cli in a shell, a developer's app) stands
/// in the world. Its connections come from 127.0.0.1 (or any address that is no network's client
/// address), and their verdicts follow its position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostPosition {
    /// On the internet (a laptop, a CI runner outside Azure): public endpoints admit it as public
    /// access and firewall say; private endpoints never do (their addresses are private to the
    /// virtual network, so a SYN to one goes unanswered). The default of a scenario without `host`.
    #[default]
    Internet,
    /// Inside this network (a jump box, a VM): the host is one more client of the network.
    Network(String),
}

impl fmt::Display for HostPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPosition::Internet => f.write_str("internet"),
            HostPosition::Network(n) => write!(f, "network {n}"),
        }
    }
}

/// A network rule's action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Let the traffic through (to the next check: endpoint state, engine…).
    Allow,
    /// Block the traffic, as [`NetworkRule::deny_as`] says.
    Deny,
}

/// A custom DNS server a network uses instead of Azure-provided DNS. It answers names in its static
/// table itself (possibly stale), and passes every other query on to Azure DNS as seen from the network
/// it lives in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarder {
    /// The forwarder's name, for explanations.
    pub name: String,
    /// The network whose Azure-provided DNS answers what the table does not (where the forwarder VM
    /// lives); `None` = the network that uses it.
    pub forwards_to: Option<String>,
    /// Static answers: fully-qualified lowercase name without the trailing dot → answer.
    pub answers: BTreeMap<String, ForwarderAnswer>,
    /// Conditional forwarding rules (the on-premises / DNS Private Resolver pattern): a name under
    /// a rule's zone goes to that rule's target; the longest matching zone wins, `"."` matches every
    /// name; a name no rule matches goes to `forwards_to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<ForwardRule>,
}

/// Where a [`ForwardRule`] sends the rule's names: `"internet"` ([`FORWARD_TO_INTERNET`]) = public
/// DNS only (no private zone of any network applies), any other value = Azure-provided DNS as seen
/// from that network (its zone links apply).
pub const FORWARD_TO_INTERNET: &str = "internet";

/// One conditional forwarding rule of a [`Forwarder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardRule {
    /// The zone, lowercase without the trailing dot; `"."` = every name.
    pub zone: String,
    /// A network name (its Azure-provided DNS answers) or [`FORWARD_TO_INTERNET`].
    pub to: String,
}

impl ForwardRule {
    /// Whether `name` (normalized) lies under the rule's zone.
    pub fn matches(&self, name: &str) -> bool {
        self.zone == "." || crate::names::in_zone(name, &self.zone)
    }

    /// How specific the rule is (longest zone wins; `"."` loses to every zone).
    pub fn specificity(&self) -> usize {
        if self.zone == "." { 0 } else { self.zone.len() }
    }
}

impl Forwarder {
    /// The conditional forwarding rule that takes `name`, if any (the longest matching zone).
    pub fn rule_for(&self, name: &str) -> Option<&ForwardRule> {
        self.forward
            .iter()
            .filter(|r| r.matches(name))
            .max_by_key(|r| r.specificity())
    }
}

/// The state of one side of a virtual network peering, as Azure names it (`peeringState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PeeringState {
    /// This side exists, the remote side does not (yet): no traffic flows.
    Initiated,
    /// Both sides exist: traffic flows.
    Connected,
    /// The remote side was deleted after the peering was connected: no traffic flows until this
    /// side is deleted and both sides are created again.
    Disconnected,
}

impl PeeringState {
    /// Azure's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            PeeringState::Initiated => "Initiated",
            PeeringState::Connected => "Connected",
            PeeringState::Disconnected => "Disconnected",
        }
    }
}

impl fmt::Display for PeeringState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One side of a peering that passes no traffic (its remote side is missing): `Initiated` or
/// `Disconnected`. Connected peerings are [`Network::peered_with`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalfPeering {
    /// The remote network.
    pub remote: String,
    /// `Initiated` or `Disconnected`.
    pub state: PeeringState,
}

/// One static answer of a [`Forwarder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwarderAnswer {
    /// The address it answers.
    pub address: Ipv4Addr,
    /// The TTL it answers with.
    pub ttl: u32,
}

/// A virtual network: clients in it use its resolver and connect from its client address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Unique name.
    pub name: String,
    /// Its resolver's address (the DNS view of this network listens there).
    pub resolver: Ipv4Addr,
    /// The resolver's port, when the scenario pins one; otherwise the caller picks.
    pub resolver_port: Option<u16>,
    /// The source address of clients in this network.
    pub client_address: Ipv4Addr,
    /// Networks peered with this one (symmetric: both sides list each other once built).
    pub peered_with: Vec<String>,
    /// A custom DNS forwarder, if the network does not use Azure-provided DNS directly.
    pub forwarder: Option<Forwarder>,
    /// Peerings of this network whose remote side is missing (they pass no traffic).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub half_peerings: Vec<HalfPeering>,
    /// Whether the network's resolver (Azure-provided DNS, or its forwarder) caches answers for
    /// their TTL and negative answers for the SOA minimum (`dns_cache = true`); otherwise every
    /// query is answered from the current world.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dns_cache: bool,
    /// Names of this network's peering sides, by remote network (created by a `peer` change with
    /// a name; otherwise [`Network::peering_name`] makes one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peering_names: BTreeMap<String, String>,
}

impl Network {
    /// The name of this network's peering side to `remote`: the one it was created with, else
    /// `NETWORK-to-REMOTE`.
    pub fn peering_name(&self, remote: &str) -> String {
        self.peering_names
            .get(remote)
            .cloned()
            .unwrap_or_else(|| format!("{}-to-{remote}", self.name))
    }

    /// Every peering side of this network: (remote, state), connected ones first.
    pub fn peerings(&self) -> Vec<(String, PeeringState)> {
        self.peered_with
            .iter()
            .map(|p| (p.clone(), PeeringState::Connected))
            .chain(
                self.half_peerings
                    .iter()
                    .map(|h| (h.remote.clone(), h.state)),
            )
            .collect()
    }

    /// The state of this network's peering to `remote`, if it has one.
    pub fn peering_state(&self, remote: &str) -> Option<PeeringState> {
        if self.peered_with.iter().any(|p| p == remote) {
            return Some(PeeringState::Connected);
        }
        self.half_peerings
            .iter()
            .find(|h| h.remote == remote)
            .map(|h| h.state)
    }
}

/// A firewall rule on a cache's public endpoint: sources in `start..=end` are admitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// Rule name.
    pub name: String,
    /// First address of the range.
    pub start: Ipv4Addr,
    /// Last address of the range.
    pub end: Ipv4Addr,
}

impl FirewallRule {
    /// Whether the rule admits `source`.
    pub fn admits(&self, source: Ipv4Addr) -> bool {
        (self.start..=self.end).contains(&source)
    }
}

/// The ports a cache serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePorts {
    /// The plain-text port, if served.
    pub plain: Option<u16>,
    /// The TLS port, if served.
    pub tls: Option<u16>,
}

impl CachePorts {
    /// Every port, plain first.
    pub fn all(&self) -> Vec<u16> {
        self.plain.into_iter().chain(self.tls).collect()
    }
}

/// A cache: a Redis engine behind a public endpoint and any number of private endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    /// Unique name (a lowercase DNS label).
    pub name: String,
    /// Which product it imitates.
    pub flavour: Flavour,
    /// Region (managed-redis only; part of the host name).
    pub region: Option<String>,
    /// Password clients must AUTH with; `None` = no password.
    pub requirepass: Option<String>,
    /// Maximum number of clients, if limited explicitly.
    pub maxclients: Option<u32>,
    /// Engine `bind` setting, if given (the edge hands streams over regardless).
    pub bind: Option<Vec<String>>,
    /// The ports served (see [`CachePorts`]).
    pub ports: CachePorts,
    /// Public network access.
    pub public_network_access: PublicNetworkAccess,
    /// What a client blocked at the public endpoint sees.
    pub public_blocked_action: BlockedAction,
    /// Firewall rules of the public endpoint.
    pub firewall_rules: Vec<FirewallRule>,
    /// Whether the engine runs.
    pub running: bool,
    /// The public endpoint's address.
    pub public_address: Ipv4Addr,
    /// ACL users of the engine, created at start (besides `default`).
    #[serde(default)]
    pub users: Vec<CacheUser>,
    /// A real Redis behind the endpoints instead of the embedded engine (`backend = {...}`).
    #[serde(default)]
    pub backend: Option<Backend>,
    /// While the cache's backend does not answer: why ("127.0.0.1:6379 unreachable: …", set by the
    /// runtime's health check); its endpoints then refuse as for a stopped cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_unreachable: Option<String>,
    /// A cluster backend's nodes that have per-node ports (node numbers `0..backend_nodes`, given
    /// by the runtime as it discovers the nodes, stable for the node's life); 0 otherwise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub backend_nodes: u16,
    /// A cluster backend's nodes that do not answer: node number → why ("127.0.0.1:7001
    /// unreachable: …"); their per-node ports refuse as a stopped cache's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backend_nodes_down: BTreeMap<u16, String>,
    /// Data persistence (`None`: none, as Basic/Standard; a reboot then loses the data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<crate::persistence::Persistence>,
    /// Azure's `minimumTlsVersion`: always [`MINIMUM_TLS_VERSION`] (Azure refuses 1.0 and 1.1
    /// since March 2024; the engine negotiates TLS 1.2 and 1.3 only).
    #[serde(default = "minimum_tls_version")]
    pub minimum_tls_version: String,
    /// Azure Cache for Redis's tier (Basic: one node; Standard/Premium: primary + replica).
    #[serde(default)]
    pub sku: crate::nodes::Sku,
    /// How many nodes the cache has and which one is primary (changed by failovers).
    #[serde(default)]
    pub nodes: crate::nodes::Nodes,
    /// The primary → replica replication link (healthy, slowed or cut).
    #[serde(default)]
    pub replication: crate::nodes::ReplicationLink,
    /// The node under planned maintenance while a maintenance runs (`None`: none runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<crate::nodes::NodeRole>,
    /// Clustering: how many shards (`None`: not clustered). Each shard is a primary, plus a
    /// replica when the cache is replicated (`nodes`), each an engine of its own; see
    /// [`crate::cluster_ports`] for the ports each node answers on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<u16>,
    /// managed-redis: how the shards are shown to clients (Azure's default: Enterprise).
    #[serde(default)]
    pub cluster_policy: ClusterPolicy,
    /// The address cluster clients are told for every node instead of the endpoint's they came
    /// through (`cluster_announce`; e.g. one they cannot reach, so `-MOVED` leads to a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_announce: Option<Ipv4Addr>,
}

/// The only minimum TLS version Azure Cache for Redis accepts since March 1, 2024 (TLS 1.0/1.1
/// retired: <https://learn.microsoft.com/azure/azure-cache-for-redis/cache-remove-tls-10-11>).
pub const MINIMUM_TLS_VERSION: &str = "1.2";

fn is_zero(n: &u16) -> bool {
    *n == 0
}

fn minimum_tls_version() -> String {
    MINIMUM_TLS_VERSION.to_owned()
}

/// An ACL user declared for a cache (`[[cache.user]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheUser {
    /// User name.
    pub name: String,
    /// Password, if any.
    pub password: Option<String>,
    /// ACL SETUSER rules separated by spaces (the user is `on` unless they say `off`).
    pub rules: String,
}

impl CacheUser {
    /// The full rule list the engine applies: `on`, the password, then the declared rules.
    pub fn engine_rules(&self) -> String {
        let mut r = String::from("on");
        if let Some(p) = &self.password {
            r.push_str(" >");
            r.push_str(p);
        }
        if !self.rules.trim().is_empty() {
            r.push(' ');
            r.push_str(self.rules.trim());
        }
        r
    }
}

impl Cache {
    /// The cache's name relative to its flavour's suffixes: `NAME` or `NAME.REGION`.
    pub fn relative_name(&self) -> String {
        names::cache_relative_name(&self.name, self.flavour, self.region.as_deref())
    }

    /// The public host name: `NAME.redis.cache.windows.net` or `NAME.REGION.redis.azure.net`.
    pub fn host_name(&self) -> String {
        names::cache_host_name(&self.name, self.flavour, self.region.as_deref())
    }

    /// The privatelink host name the public name is a CNAME of once a private endpoint exists.
    pub fn privatelink_host_name(&self) -> String {
        names::cache_privatelink_host_name(&self.name, self.flavour, self.region.as_deref())
    }

    /// The private-link group id of the cache's flavour.
    pub fn group_id(&self) -> &'static str {
        self.flavour.group_id()
    }

    /// Which per-node ports the cache has ([`PortScheme::Single`] unless clustered with
    /// per-node ports).
    /// A cluster backend has the scheme of a cluster behind the cache's flavour.
    pub fn port_scheme(&self) -> PortScheme {
        if self.has_cluster_backend() {
            return PortScheme::for_cluster(self.flavour);
        }
        PortScheme::of(self.flavour, self.shards, self.cluster_policy)
    }

    /// Whether a Redis Cluster the user runs stands behind the cache (`backend = { cluster }`).
    pub fn has_cluster_backend(&self) -> bool {
        self.backend.as_ref().is_some_and(Backend::is_cluster)
    }

    /// How many nodes answer on ports of their own (0 unless clustered with per-node ports):
    /// every copy of every shard ([`Cache::shard_copies`] per shard).
    pub fn node_count(&self) -> u16 {
        if self.has_cluster_backend() {
            return self.backend_nodes;
        }
        match self.port_scheme() {
            PortScheme::Single => 0,
            _ => self.shards.unwrap_or(0).saturating_mul(self.shard_copies()),
        }
    }

    /// How many nodes each shard of a clustered cache shows clients: a Premium cache's primary
    /// and replica (its [`Nodes`](crate::nodes::Nodes) count; Azure numbers a shard's nodes
    /// together, [`crate::cluster_ports::node_number`]); Azure Managed Redis only its primaries
    /// (replicas of its clustered caches are not simulated).
    pub fn shard_copies(&self) -> u16 {
        match self.flavour {
            Flavour::RedisCache => u16::from(self.nodes.count.max(1)),
            Flavour::ManagedRedis => 1,
        }
    }

    /// az's `instances`: one entry per node; a Premium cluster lists every node of every shard
    /// with its `shardId` and its own ports (roles as the world's failovers left them: a
    /// `CLUSTER FAILOVER` sent by a client to one shard is the engine's business).
    pub fn instances(&self) -> Vec<crate::nodes::Instance> {
        let plain = self.ports.plain.is_some();
        if self.port_scheme() != PortScheme::Premium {
            return self.nodes.instances(plain);
        }
        let copies = self.shard_copies();
        self.node_ports()
            .into_iter()
            .map(|p| {
                let primary = p.node % copies == u16::from(self.nodes.primary) % copies;
                crate::nodes::Instance {
                    is_master: primary,
                    is_primary: primary,
                    non_ssl_port: plain
                        .then_some(crate::cluster_ports::PREMIUM_PLAIN_BASE + p.node),
                    ssl_port: crate::cluster_ports::PREMIUM_TLS_BASE + p.node,
                    shard_id: Some(u32::from(p.node / copies)),
                    zone: None,
                }
            })
            .collect()
    }

    /// The protocols the cache serves.
    pub fn protocols(&self) -> Protocols {
        Protocols {
            plain: self.ports.plain.is_some(),
            tls: self.ports.tls.is_some(),
        }
    }

    /// Every node's ports, node 0 first (empty unless clustered with per-node ports).
    pub fn node_ports(&self) -> Vec<NodePorts> {
        self.port_scheme()
            .nodes(self.node_count(), self.protocols())
    }

    /// Every port an endpoint of the cache stands for: its own ports, then each node's.
    pub fn served_ports(&self) -> Vec<u16> {
        let mut out = self.ports.all();
        out.extend(self.node_ports().iter().flat_map(NodePorts::all));
        out
    }

    /// The TLS subset of [`Cache::served_ports`].
    pub fn served_tls_ports(&self) -> Vec<u16> {
        let mut out: Vec<u16> = self.ports.tls.into_iter().collect();
        out.extend(self.node_ports().iter().filter_map(|p| p.tls));
        out
    }

    /// The node `port` leads to and whether it speaks TLS, if it is a per-node port.
    pub fn node_of_port(&self, port: u16) -> Option<(u16, bool)> {
        self.port_scheme()
            .node_of_port(port, self.node_count(), self.protocols())
    }
}

/// A private endpoint: an address in a network that stands for a cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateEndpoint {
    /// Unique name.
    pub name: String,
    /// The network it lives in.
    pub network: String,
    /// The cache it connects to.
    pub cache: String,
    /// Its group id (matches the cache's flavour).
    pub group_id: String,
    /// Connection state.
    pub state: ConnectionState,
    /// Its address in the network.
    pub address: Ipv4Addr,
}

/// An A record in a private DNS zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ARecord {
    /// Name relative to the zone, lowercase (`contoso`, `contoso.eastus`; `@` is the apex).
    pub name: String,
    /// Address.
    pub address: Ipv4Addr,
    /// TTL in seconds.
    pub ttl: u32,
    /// The private endpoint whose DNS zone group registered it, if it was registered that way.
    pub registered_by: Option<String>,
}

/// A virtual network link: the network's Azure-provided DNS answers the zone's names from the zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneLink {
    /// Link name (unique within the zone).
    pub name: String,
    /// The linked network.
    pub network: String,
    /// What a missing record means.
    pub resolution_policy: ResolutionPolicy,
}

/// A private DNS zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsZone {
    /// Zone name, lowercase, no trailing dot (`privatelink.redis.cache.windows.net`).
    pub name: String,
    /// The resource group it lives in, when the world has several zones of this name (Azure:
    /// the hub's zone and a partner's, each linked to different networks). Changes and `ctl` name
    /// such a zone `RESOURCE_GROUP/NAME` ([`World::zone_index`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// A records.
    pub records: Vec<ARecord>,
    /// Links to networks.
    pub links: Vec<ZoneLink>,
}

impl DnsZone {
    /// How changes name the zone: `RESOURCE_GROUP/NAME`, or `NAME` without a resource group.
    pub fn reference(&self) -> String {
        match &self.resource_group {
            Some(rg) => format!("{rg}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The zone for explanations: `NAME`, or `NAME (resource group RG)`.
    pub fn label(&self) -> String {
        match &self.resource_group {
            Some(rg) => format!("{} (resource group {rg})", self.name),
            None => self.name.clone(),
        }
    }

    /// The link to `network`, if any.
    pub fn link_to(&self, network: &str) -> Option<&ZoneLink> {
        self.links.iter().find(|l| l.network == network)
    }

    /// The name of `fqdn` relative to this zone (`@` for the apex), if it lies in the zone.
    pub fn relative(&self, fqdn: &str) -> Option<String> {
        if fqdn == self.name {
            return Some("@".to_owned());
        }
        fqdn.strip_suffix(self.name.as_str())
            .and_then(|head| head.strip_suffix('.'))
            .filter(|head| !head.is_empty())
            .map(str::to_owned)
    }

    /// The records named `relative`.
    pub fn records_named<'a>(
        &'a self,
        relative: &'a str,
    ) -> impl Iterator<Item = &'a ARecord> + 'a {
        self.records.iter().filter(move |r| r.name == relative)
    }
}

/// How a denied connection fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenyAs {
    /// Silently dropped (NSG deny): connect timeout.
    #[default]
    Drop,
    /// Refused. Only for rules without a source: there is no unprivileged per-source refuse.
    Refuse,
    /// Accepted then reset.
    Reset,
    /// Accepted, then never answered.
    Blackhole,
}

impl fmt::Display for DenyAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DenyAs::Drop => "drop",
            DenyAs::Refuse => "refuse",
            DenyAs::Reset => "reset",
            DenyAs::Blackhole => "blackhole",
        })
    }
}

/// An NSG-like rule: traffic from a source network to a destination (a private endpoint or a cache),
/// on a port, is allowed or denied. Lower priority numbers are evaluated first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRule {
    /// Unique name.
    pub name: String,
    /// Priority (100–4096, lower first).
    pub priority: u16,
    /// Source network; `None` = any source.
    pub source: Option<String>,
    /// Destination: a private endpoint name or a cache name (all its endpoints); `None` = any.
    pub destination: Option<String>,
    /// Destination port; `None` = any.
    pub port: Option<u16>,
    /// Allow or deny.
    pub action: RuleAction,
    /// How a deny fails.
    pub deny_as: DenyAs,
}

/// Who owns an address in the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressOwner {
    /// A private endpoint's address.
    PrivateEndpoint {
        /// Endpoint name.
        endpoint: String,
        /// Its cache.
        cache: String,
    },
    /// A cache's public endpoint.
    Public {
        /// The cache.
        cache: String,
    },
    /// A network's resolver.
    Resolver {
        /// The network.
        network: String,
    },
    /// A network's client address.
    Client {
        /// The network.
        network: String,
    },
}

impl fmt::Display for AddressOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressOwner::PrivateEndpoint { endpoint, cache } => {
                write!(f, "private endpoint {endpoint} of cache {cache}")
            }
            AddressOwner::Public { cache } => write!(f, "the public endpoint of cache {cache}"),
            AddressOwner::Resolver { network } => write!(f, "the resolver of network {network}"),
            AddressOwner::Client { network } => {
                write!(f, "the client address of network {network}")
            }
        }
    }
}

/// The whole simulated world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    /// The scenario's name, if it has one.
    pub name: Option<String>,
    /// The plan unpinned addresses were allocated from.
    pub plan: AddressPlan,
    /// Networks, in file order.
    pub networks: Vec<Network>,
    /// Caches, in file order.
    pub caches: Vec<Cache>,
    /// Private endpoints, in file order.
    pub private_endpoints: Vec<PrivateEndpoint>,
    /// Private DNS zones, in file order.
    pub dns_zones: Vec<DnsZone>,
    /// Network rules, in file order.
    pub network_rules: Vec<NetworkRule>,
    /// Toxics on routed paths, in file order.
    #[serde(default)]
    pub toxics: Vec<crate::toxic::Toxic>,
    /// Where the host stands (its connections' verdicts follow it).
    #[serde(default)]
    pub host: HostPosition,
}

impl World {
    /// The network named `name`.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The cache named `name`.
    pub fn cache(&self, name: &str) -> Option<&Cache> {
        self.caches.iter().find(|c| c.name == name)
    }

    /// The private endpoint named `name`.
    pub fn private_endpoint(&self, name: &str) -> Option<&PrivateEndpoint> {
        self.private_endpoints.iter().find(|e| e.name == name)
    }

    /// The private endpoints of cache `cache`, in file order.
    pub fn endpoints_of<'a>(
        &'a self,
        cache: &'a str,
    ) -> impl Iterator<Item = &'a PrivateEndpoint> + 'a {
        self.private_endpoints
            .iter()
            .filter(move |e| e.cache == cache)
    }

    /// The private DNS zone named `name`.
    pub fn dns_zone(&self, name: &str) -> Option<&DnsZone> {
        self.zone_index(name).ok().map(|i| &self.dns_zones[i])
    }

    /// The zone a reference names: `NAME` (the only zone of that name) or `RESOURCE_GROUP/NAME`.
    /// Errors: no such zone, or several zones of that name and no resource group to choose.
    pub fn zone_index(&self, reference: &str) -> Result<usize, crate::WorldError> {
        let (group, name) = match reference.split_once('/') {
            Some((g, n)) => (Some(g), crate::names::normalize_name(n)),
            None => (None, crate::names::normalize_name(reference)),
        };
        let found: Vec<usize> = self
            .dns_zones
            .iter()
            .enumerate()
            .filter(|(_, z)| {
                z.name == name && group.is_none_or(|g| z.resource_group.as_deref() == Some(g))
            })
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [i] => Ok(*i),
            [] => Err(crate::WorldError::UnknownZone(reference.to_owned())),
            many => Err(crate::WorldError::Invalid(format!(
                "{} private DNS zones are named {name} (in {}): name one as RESOURCE_GROUP/{name}",
                many.len(),
                many.iter()
                    .map(
                        |i| self.dns_zones[*i].resource_group.as_deref().map_or_else(
                            || "no resource group".to_owned(),
                            |g| format!("resource group {g}")
                        )
                    )
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The network rule named `name`.
    pub fn network_rule(&self, name: &str) -> Option<&NetworkRule> {
        self.network_rules.iter().find(|r| r.name == name)
    }

    /// The cache whose public or privatelink host name is `fqdn` (lowercase, no trailing dot).
    pub fn cache_by_host_name(&self, fqdn: &str) -> Option<&Cache> {
        self.caches
            .iter()
            .find(|c| c.host_name() == fqdn || c.privatelink_host_name() == fqdn)
    }

    /// Where each network's resolver should listen: its address, and its pinned port or
    /// `default_port` (0 = let the OS pick). The input `redlink_dns::DnsViews::start` takes.
    pub fn resolver_bindings(&self, default_port: u16) -> Vec<(String, std::net::SocketAddr)> {
        self.networks
            .iter()
            .map(|n| {
                let port = n.resolver_port.unwrap_or(default_port);
                (
                    n.name.clone(),
                    std::net::SocketAddr::from((n.resolver, port)),
                )
            })
            .collect()
    }

    /// Who owns `address`, if anyone in the world does.
    pub fn address_owner(&self, address: Ipv4Addr) -> Option<AddressOwner> {
        if let Some(e) = self.private_endpoints.iter().find(|e| e.address == address) {
            return Some(AddressOwner::PrivateEndpoint {
                endpoint: e.name.clone(),
                cache: e.cache.clone(),
            });
        }
        if let Some(c) = self.caches.iter().find(|c| c.public_address == address) {
            return Some(AddressOwner::Public {
                cache: c.name.clone(),
            });
        }
        if let Some(n) = self.networks.iter().find(|n| n.resolver == address) {
            return Some(AddressOwner::Resolver {
                network: n.name.clone(),
            });
        }
        self.networks
            .iter()
            .find(|n| n.client_address == address)
            .map(|n| AddressOwner::Client {
                network: n.name.clone(),
            })
    }
}
