//! The scenario file's TOML format: one serde type per table, with spans so that every later check
//! can point at `file:line:column`. Nothing here checks anything beyond TOML's types (that is
//! [`super::validate`]) or builds anything (that is [`super::build`]).
//!
//! ```toml
//! name = "quickstart"                       # optional
//! description = "…"                         # optional
//! host = "internet"                         # where the terminal outside `exec` stands: "internet" (default)
//!                                           # or { network = "hub" } (a jump box in hub)
//! dns_cache = false                         # optional: every network's resolver caches answers for their TTL
//!
//! [[network]]
//! name = "spoke"
//! peered_with = ["hub"]                     # optional
//! resolver_address = "127.53.0.9"          # optional (allocated otherwise)
//! resolver_port = 5300                      # optional (the caller picks otherwise)
//! client_address = "127.11.9.1"            # optional (allocated otherwise)
//! initiated_peerings = ["partner"]          # optional: one-sided peerings (Initiated: no traffic until the remote side exists)
//! dns_cache = true                          # optional: the resolver caches answers for their TTL (default: the file's top-level `dns_cache`, false)
//! [network.dns_forwarder]                   # optional: a custom DNS server
//! name = "old-dns"                          # optional, default "custom-dns"
//! forwards_to = "hub"                       # optional: whose Azure DNS answers the rest (default: this network)
//! forward = [{ zone = "privatelink.redis.cache.windows.net", to = "hub" }, { zone = ".", to = "internet" }]   # optional conditional forwarding
//! ttl = 300                                 # optional, default TTL of the answers
//! answers = { "contoso.redis.cache.windows.net" = "127.10.1.4" }
//!
//! [[cache]]
//! name = "contoso"
//! flavour = "redis-cache"                   # or "managed-redis" (then `region` is required)
//! requirepass = "…"                         # optional
//! maxclients = 256                          # optional
//! tls = true                                # serve the TLS port (6380 / 10000), default true
//! non_tls_port = true                       # serve the plain port (6379), default false
//! port = 6379                               # optional overrides
//! tls_port = 6380
//! public_network_access = "Disabled"        # default: Disabled if the scenario gives the cache a private endpoint, else Enabled
//! public_blocked_action = "drop"            # drop (default: a timeout) | refuse | reset | blackhole
//! running = true
//! public_address = "127.20.0.7"             # optional
//! firewall_rules = [{ name = "office", start = "127.0.0.1", end = "127.0.0.1" }]
//! shards = 3                                # optional: clustering (redis-cache: Premium, 1..=30; managed-redis: OSS policy, 1..=100)
//! cluster_policy = "OSS"                    # managed-redis only: "OSS" (per-node ports 85xx) or "Enterprise" (default: one port, no shards)
//! cluster_announce = "127.99.0.1"           # optional: the address cluster clients are told for every node (default: the endpoint they came through)
//! [[cache.user]]                            # optional ACL users of the cache's engine
//! name = "app"
//! password = "…"                            # optional (`>password`)
//! rules = "+@all -@dangerous ~app:*"        # ACL SETUSER rules; the user is `on` unless they say `off`
//!
//! [[private_endpoint]]
//! name = "pe-hub"
//! network = "hub"
//! cache = "contoso"
//! group_id = "redisCache"                   # optional, from the flavour
//! state = "Approved"                        # Pending | Approved | Rejected | Disconnected
//! address = "127.10.1.4"                    # optional
//!
//! [[dns_zone]]
//! name = "privatelink.redis.cache.windows.net"
//! resource_group = "partner"                # optional: several zones of one name (steps say "partner/privatelink.…")
//! auto_register = true                      # default: endpoints of caches whose flavour uses this zone register their A record (Azure's DNS zone group)
//! records = [{ name = "contoso", address = "127.10.1.4", ttl = 10 }]   # or endpoint = "pe-hub" (its address)
//! links = [{ network = "hub", name = "hub-link", resolution_policy = "Default" }]   # or NxDomainRedirect
//!
//! [[network_rule]]
//! name = "deny-spoke"
//! priority = 100
//! source = "spoke"                          # optional network (any source when absent)
//! destination = "pe-hub"                    # optional endpoint or cache name
//! port = 6380                               # optional
//! action = "deny"                           # allow | deny
//! deny_as = "drop"                          # drop | reset | blackhole | refuse (refuse only without a source)
//!
//! [[toxic]]                                 # a fault on routed connections (see `crate::toxic`)
//! name = "slow-hub"
//! endpoint = "pe-hub"                       # optional: a private endpoint, or a cache (all its endpoints)
//! network = "hub"                           # optional: only connections from this network
//! kind = "latency"                          # latency | bandwidth | slicer | reset_after | timeout
//! latency_ms = 100                          # latency: latency_ms, jitter_ms (default 0)
//! direction = "downstream"                  # upstream (client → cache) | downstream (default)
//! # bandwidth: rate_kbps · slicer: avg_size, delay_us · reset_after: bytes · timeout: timeout_ms
//!
//! [[expect]]                                # checked against the initial world: see `crate::expect`
//! [[step]]                                  # the timeline: see `crate::timeline`
//! [[exercise]]                              # a lab's goals: see `crate::exercise`
//! ```

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Deserialize;
use toml::Spanned;

use crate::backend::{Backend, Upstream};
use crate::cluster_ports::ClusterPolicy;
use crate::exercise::ExerciseSpec;
use crate::expect::ExpectationSpec;
use crate::flavour::Flavour;
use crate::model::{
    BlockedAction, ConnectionState, DenyAs, HostPosition, PublicNetworkAccess, ResolutionPolicy,
    RuleAction,
};
use crate::timeline::StepSpec;
use crate::toxic::ToxicSpec;

/// The file as written (after TOML parsing): see the module documentation for the format.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the host stands (default: the internet).
    #[serde(default)]
    pub host: Option<Spanned<HostSpec>>,
    /// Every network's resolver caches answers (a network's own `dns_cache` wins).
    #[serde(default)]
    pub dns_cache: bool,
    /// `[[network]]` tables.
    #[serde(default, rename = "network")]
    pub networks: Vec<NetworkSpec>,
    /// `[[cache]]` tables.
    #[serde(default, rename = "cache")]
    pub caches: Vec<CacheSpec>,
    /// `[[private_endpoint]]` tables.
    #[serde(default, rename = "private_endpoint")]
    pub private_endpoints: Vec<PrivateEndpointSpec>,
    /// `[[dns_zone]]` tables.
    #[serde(default, rename = "dns_zone")]
    pub dns_zones: Vec<DnsZoneSpec>,
    /// `[[network_rule]]` tables.
    #[serde(default, rename = "network_rule")]
    pub network_rules: Vec<NetworkRuleSpec>,
    /// `[[toxic]]` tables.
    #[serde(default, rename = "toxic")]
    pub toxics: Vec<ToxicSpec>,
    /// `[[step]]` tables (opaque for now).
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<StepSpec>>,
    /// `[[expect]]` tables.
    #[serde(default, rename = "expect")]
    pub expectations: Vec<Spanned<ExpectationSpec>>,
    /// `[[exercise]]` tables (a lab's goals: see [`crate::exercise`]).
    #[serde(default, rename = "exercise")]
    pub exercises: Vec<Spanned<ExerciseSpec>>,
}

/// `host = "internet"` or `host = { network = "hub" }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "host = \"internet\" or host = { network = \"NAME\" }"
)]
pub enum HostSpec {
    /// `"internet"`.
    Word(String),
    /// `{ network = "hub" }`.
    Network {
        /// The network the host is in.
        network: String,
    },
}

impl HostSpec {
    /// The position it names (validation rejects a word other than `internet`).
    pub fn position(&self) -> HostPosition {
        match self {
            HostSpec::Word(_) => HostPosition::Internet,
            HostSpec::Network { network } => HostPosition::Network(network.clone()),
        }
    }
}

/// A `[[network]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Unique name.
    pub name: Spanned<String>,
    /// Pinned resolver address.
    #[serde(default)]
    pub resolver_address: Option<Spanned<Ipv4Addr>>,
    /// Pinned resolver port.
    #[serde(default)]
    pub resolver_port: Option<u16>,
    /// Pinned client address.
    #[serde(default)]
    pub client_address: Option<Spanned<Ipv4Addr>>,
    /// Peered networks.
    #[serde(default)]
    pub peered_with: Vec<Spanned<String>>,
    /// One-sided peerings: this network's side exists, the remote's does not (`Initiated`).
    #[serde(default)]
    pub initiated_peerings: Vec<Spanned<String>>,
    /// Whether the resolver caches answers for their TTL (default: the file's `dns_cache`).
    #[serde(default)]
    pub dns_cache: Option<bool>,
    /// A custom DNS forwarder.
    #[serde(default)]
    pub dns_forwarder: Option<ForwarderSpec>,
}

/// A `[network.dns_forwarder]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwarderSpec {
    /// Name for explanations (default `custom-dns`).
    #[serde(default)]
    pub name: Option<String>,
    /// The network whose Azure-provided DNS answers what the table does not.
    #[serde(default)]
    pub forwards_to: Option<Spanned<String>>,
    /// TTL of the static answers (default [`crate::ttl::FORWARDER_ANSWER`]).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Static answers: host name → address.
    #[serde(default)]
    pub answers: BTreeMap<Spanned<String>, Spanned<Ipv4Addr>>,
    /// Conditional forwarding rules.
    #[serde(default)]
    pub forward: Vec<ForwardRuleSpec>,
}

/// A conditional forwarding rule: `{ zone = "privatelink.redis.cache.windows.net", to = "hub" }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardRuleSpec {
    /// The zone (`"."` = every name).
    pub zone: Spanned<String>,
    /// A network (its Azure-provided DNS) or `"internet"` (public DNS).
    pub to: Spanned<String>,
}

/// A firewall rule in a `[[cache]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRuleSpec {
    /// Rule name.
    pub name: Spanned<String>,
    /// First address.
    #[serde(alias = "start_ip")]
    pub start: Spanned<Ipv4Addr>,
    /// Last address.
    #[serde(alias = "end_ip")]
    pub end: Spanned<Ipv4Addr>,
}

fn yes() -> bool {
    true
}

/// A `[[cache]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// Unique name, a lowercase DNS label.
    pub name: Spanned<String>,
    /// Product flavour.
    #[serde(default, alias = "flavor")]
    pub flavour: Flavour,
    /// Region (managed-redis).
    #[serde(default)]
    pub region: Option<Spanned<String>>,
    /// Password.
    #[serde(default)]
    pub requirepass: Option<String>,
    /// Maximum clients.
    #[serde(default)]
    pub maxclients: Option<u32>,
    /// Engine bind addresses.
    #[serde(default)]
    pub bind: Option<Vec<String>>,
    /// Serve the TLS port.
    #[serde(default = "yes")]
    pub tls: bool,
    /// Serve the plain port.
    #[serde(default)]
    pub non_tls_port: bool,
    /// Plain port override.
    #[serde(default)]
    pub port: Option<u16>,
    /// TLS port override.
    #[serde(default)]
    pub tls_port: Option<u16>,
    /// Public network access (default depends on private endpoints).
    #[serde(default)]
    pub public_network_access: Option<PublicNetworkAccess>,
    /// What blocked public clients see.
    #[serde(default)]
    pub public_blocked_action: BlockedAction,
    /// Public endpoint firewall rules.
    #[serde(default)]
    pub firewall_rules: Vec<FirewallRuleSpec>,
    /// Whether the engine runs.
    #[serde(default = "yes")]
    pub running: bool,
    /// Pinned public address.
    #[serde(default)]
    pub public_address: Option<Spanned<Ipv4Addr>>,
    /// ACL users (`[[cache.user]]`).
    #[serde(default, alias = "users")]
    pub user: Vec<UserSpec>,
    /// A real Redis behind the endpoints (`backend = { address = ... }` or `{ command = [...] }`).
    #[serde(default)]
    pub backend: Option<Spanned<BackendSpec>>,
    /// Data persistence: `{ rdb = "15m" }` (absent: none).
    #[serde(default)]
    pub persistence: Option<Spanned<PersistenceSpec>>,
    /// Azure Cache for Redis tier: `Basic` (default, one node), `Standard`, `Premium` (a replica).
    #[serde(default)]
    pub sku: Option<Spanned<String>>,
    /// Azure Managed Redis: a replica (default `true`; `false` = az's `--high-availability Disabled`).
    #[serde(default)]
    pub high_availability: Option<Spanned<bool>>,
    /// The primary → replica link: `{ latency_ms = 2000 }` or `{ cut = true }`.
    #[serde(default)]
    pub replication: Option<Spanned<crate::nodes::ReplicationLink>>,
    /// Clustering: the number of shards (absent: not clustered).
    #[serde(default)]
    pub shards: Option<Spanned<u16>>,
    /// managed-redis: `"OSS"` or `"Enterprise"` (absent: Enterprise).
    #[serde(default)]
    pub cluster_policy: Option<Spanned<ClusterPolicy>>,
    /// The address cluster clients are told for every node (absent: the endpoint's).
    #[serde(default)]
    pub cluster_announce: Option<Spanned<Ipv4Addr>>,
}

/// `persistence = { rdb = FREQUENCY }` or `{ aof = "everysec" | "always" }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistenceSpec {
    /// RDB backup frequency (`15m`, `30m`, `60m`, `6h`, `12h`, `24h`).
    #[serde(default)]
    pub rdb: Option<Spanned<String>>,
    /// AOF fsync policy: `everysec` or `always`.
    #[serde(default)]
    pub aof: Option<Spanned<String>>,
}

/// A cache's `backend = { ... }` table (exactly one of `address`, `command`, `cluster`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// A server the user runs: `HOST:PORT` on loopback.
    #[serde(default)]
    pub address: Option<Spanned<String>>,
    /// A command redlink starts.
    #[serde(default)]
    pub command: Option<Spanned<Vec<String>>>,
    /// A Redis Cluster's seed nodes (`HOST:PORT` on loopback).
    #[serde(default)]
    pub cluster: Option<Spanned<Vec<String>>>,
    /// TLS on the hop to the backend.
    #[serde(default)]
    pub tls: bool,
    /// With `tls`: the CA file the backend's certificate chains to (default: the system's roots).
    #[serde(default)]
    pub ca_file: Option<Spanned<String>>,
    /// With `tls`: the name to verify and send as SNI (default: the address's IP).
    #[serde(default)]
    pub server_name: Option<Spanned<String>>,
    /// The variable holding the backend's password (for redlink's own checks).
    #[serde(default)]
    pub password_env: Option<Spanned<String>>,
    /// With `address`: a Unix socket of the same server, the proxy's hop.
    #[serde(default)]
    pub socket: Option<Spanned<String>>,
}

impl BackendSpec {
    /// The model's backend (`None` when the table is invalid: validation reports that first).
    pub fn to_backend(&self) -> Option<Backend> {
        let upstream = match (&self.address, &self.command, &self.cluster) {
            (Some(a), None, None) => Upstream::Address(a.get_ref().parse().ok()?),
            (None, Some(c), None) => Upstream::Command(c.get_ref().clone()),
            (None, None, Some(seeds)) => Upstream::Cluster(
                seeds
                    .get_ref()
                    .iter()
                    .map(|s| s.parse().ok())
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => return None,
        };
        Some(Backend {
            upstream,
            tls: self.tls,
            ca_file: self.ca_file.as_ref().map(|p| p.get_ref().clone()),
            server_name: self.server_name.as_ref().map(|p| p.get_ref().clone()),
            password_env: self.password_env.as_ref().map(|p| p.get_ref().clone()),
            socket: self.socket.as_ref().map(|p| p.get_ref().clone()),
        })
    }
}

/// A `[[cache.user]]` table: an ACL user of the cache's engine.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// User name (no spaces).
    pub name: Spanned<String>,
    /// A password (`>password`).
    #[serde(default)]
    pub password: Option<String>,
    /// ACL SETUSER rules separated by spaces.
    #[serde(default)]
    pub rules: Option<Spanned<String>>,
}

/// A `[[private_endpoint]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateEndpointSpec {
    /// Unique name.
    pub name: Spanned<String>,
    /// Its network.
    pub network: Spanned<String>,
    /// Its cache.
    pub cache: Spanned<String>,
    /// Group id (default from the cache's flavour).
    #[serde(default)]
    pub group_id: Option<Spanned<String>>,
    /// Connection state.
    #[serde(default)]
    pub state: ConnectionState,
    /// Pinned address.
    #[serde(default)]
    pub address: Option<Spanned<Ipv4Addr>>,
}

/// An A record in a `[[dns_zone]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Name relative to the zone (or the full name ending in the zone's name); `@` is the apex.
    pub name: Spanned<String>,
    /// A literal address (or `endpoint`).
    #[serde(default)]
    pub address: Option<Spanned<Ipv4Addr>>,
    /// The address of this private endpoint (or `address`).
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// TTL (default [`crate::ttl::PRIVATE_RECORD`]).
    #[serde(default)]
    pub ttl: Option<u32>,
}

/// A link in a `[[dns_zone]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The linked network.
    pub network: Spanned<String>,
    /// Link name (default `NETWORK-link`).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Resolution policy.
    #[serde(default)]
    pub resolution_policy: ResolutionPolicy,
}

/// A `[[dns_zone]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsZoneSpec {
    /// Zone name.
    pub name: Spanned<String>,
    /// The resource group, to tell several zones of one name apart (steps name such a zone
    /// `RESOURCE_GROUP/NAME`).
    #[serde(default)]
    pub resource_group: Option<Spanned<String>>,
    /// Register the A records of private endpoints whose flavour uses this zone (default true).
    #[serde(default = "yes")]
    pub auto_register: bool,
    /// A records.
    #[serde(default)]
    pub records: Vec<RecordSpec>,
    /// Links to networks.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

/// A `[[network_rule]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRuleSpec {
    /// Unique name.
    pub name: Spanned<String>,
    /// Priority, 100–4096.
    pub priority: Spanned<u16>,
    /// Source network.
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// Destination endpoint or cache.
    #[serde(default)]
    pub destination: Option<Spanned<String>>,
    /// Destination port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Allow or deny.
    pub action: RuleAction,
    /// How a deny fails (default drop).
    #[serde(default)]
    pub deny_as: Option<Spanned<DenyAs>>,
}
